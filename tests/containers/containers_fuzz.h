/* SPDX-License-Identifier: MIT */
/*
 * tests/containers/containers_fuzz.h - the differential fuzz harness for ar_vec, ar_map and
 * ar_buf (containers_fuzz.c). The same body runs under libFuzzer (containers_fuzzer) and from a
 * fixed-seed driver (containers_fuzz_main.c, the containers_fuzz_test cc_test).
 */
#ifndef ARENART_TESTS_CONTAINERS_FUZZ_H
#define ARENART_TESTS_CONTAINERS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Interprets `data` as an arena shape followed by a sequence of operations on one vector,
 * two maps and one buffer, mirrors each on plain malloc'd reference structures, and aborts
 * with a message at the first difference or failed arena invariant. Returns 0. */
int containers_fuzz_one(const uint8_t *data, size_t size);

#endif /* ARENART_TESTS_CONTAINERS_FUZZ_H */
