/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/api_fuzz_test.c - the API walk as an ordinary test, in every config and with any
 * compiler: first every file named on the command line (the checked-in seed corpus), then
 * fixed-seed random walks for about two seconds or AR_FUZZ_ITERS inputs (AR_FUZZ_SECONDS and
 * AR_FUZZ_ITERS override). The sequence is fixed, so a failure reproduces on rerun; the harness
 * aborts with a message at the first difference.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/fuzz/api_fuzz.h"

static uint64_t next(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * UINT64_C(2685821657736338717);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t input[1 << 16];

int main(int argc, char **argv) {
  int files = 0;
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (f == NULL) {
      fprintf(stderr, "api_fuzz_test: cannot open %s\n", argv[i]);
      return 1;
    }
    size_t n = fread(input, 1, sizeof input, f);
    fclose(f);
    api_fuzz_one(input, n);
    files++;
  }
  if (argc > 1 && files == 0) return 1;

  const char *e = getenv("AR_FUZZ_SECONDS");
  double budget = e ? atof(e) : 2.0;
  e = getenv("AR_FUZZ_ITERS");
  long max_iters = e ? atol(e) : 20000;
  uint64_t seed = UINT64_C(0x9E3779B97F4A7C15);
  double start = now();
  long i;
  for (i = 0; i < max_iters && (i < 20 || now() - start < budget); i++) {
    size_t n = 2 + (size_t)(next(&seed) % (i % 10 == 0 ? 4000 : 600));
    for (size_t k = 0; k < n; k++) input[k] = (uint8_t)(next(&seed) >> 32);
    api_fuzz_one(input, n);
  }
  printf("api_fuzz_test: %d corpus files and %ld random walks in %.2f s, no differences\n", files,
         i, now() - start);
  return 0;
}
