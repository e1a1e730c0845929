/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/api_fuzz.h - a random walk over the arena API checked against a model
 * (api_fuzz.c). The same body runs under libFuzzer (api_fuzzer) and from the replay test
 * (api_fuzz_test: the checked-in corpus plus fixed-seed walks).
 */
#ifndef ARENART_TESTS_FUZZ_API_FUZZ_H
#define ARENART_TESTS_FUZZ_API_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Interprets `data` as an arena shape followed by operations; aborts with a message on the
 * first difference from the model or failed invariant. Returns 0. */
int api_fuzz_one(const uint8_t *data, size_t size);

#endif /* ARENART_TESTS_FUZZ_API_FUZZ_H */
