/* SPDX-License-Identifier: MIT */
/*
 * tests/containers/containers_fuzz_main.c - drives the differential fuzz harness with a
 * fixed-seed PRNG, so it runs as an ordinary test in every config and with any compiler.
 *
 * The inputs are a deterministic sequence; the run stops after AR_FUZZ_ITERS inputs or about
 * two seconds, whichever comes first (sanitizer builds get through fewer inputs). Set
 * AR_FUZZ_SECONDS / AR_FUZZ_ITERS in the environment for a longer soak. A failure aborts inside
 * the harness with a message; rerunning reproduces it because the sequence is fixed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/containers/containers_fuzz.h"

static uint64_t next(uint64_t *s) {
  /* xorshift64*: fast, full period, good enough to produce operation streams. */
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

int main(void) {
  const char *e = getenv("AR_FUZZ_SECONDS");
  double budget = e ? atof(e) : 2.0;
  e = getenv("AR_FUZZ_ITERS");
  long max_iters = e ? atol(e) : 20000;
  static uint8_t input[8192];
  uint64_t seed = UINT64_C(0x2545F4914F6CDD1D);
  double start = now();
  long i;
  for (i = 0; i < max_iters && (i < 20 || now() - start < budget); i++) {
    size_t n = 2 + (size_t)(next(&seed) % (i % 10 == 0 ? sizeof input - 2 : 600));
    for (size_t k = 0; k < n; k++) input[k] = (uint8_t)(next(&seed) >> 32);
    containers_fuzz_one(input, n);
  }
  printf("containers_fuzz: %ld inputs in %.2f s, no differences\n", i, now() - start);
  return 0;
}
