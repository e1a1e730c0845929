/*
 * tests/fuzz/api_fuzzer.c - the libFuzzer entry point for the API walk (clang only):
 *   bazel build --config=fuzz //tests/fuzz:api_fuzzer
 *   mkdir -p /tmp/api-corpus
 *   $(bazel info --config=fuzz bazel-bin)/tests/fuzz/api_fuzzer -max_total_time=60 \
 *       /tmp/api-corpus tests/fuzz/corpus
 * (new inputs go to the first directory; the checked-in corpus is only read).
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/api_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return api_fuzz_one(data, size); }
