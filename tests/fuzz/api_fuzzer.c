/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/api_fuzzer.c - the libFuzzer entry point for the API walk (clang only). CI runs
 * it deterministically (tools/test.sh: corpus replay, then a fixed -seed and -runs); for
 * open-ended fuzzing, with crashers collected and the way back into the corpus explained:
 *   tools/fuzz.sh --seconds=600
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/api_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return api_fuzz_one(data, size); }
