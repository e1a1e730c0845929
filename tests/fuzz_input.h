/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz_input.h - what the fuzz harnesses share: a failure report that aborts (so both a
 * libFuzzer run and a plain test stop at the first difference from the model), and a reader
 * that turns the fuzzer's bytes into operations, yielding zeros once the input is spent.
 */
#ifndef ARENART_TESTS_FUZZ_INPUT_H
#define ARENART_TESTS_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FAILF(...)                                        \
  do {                                                    \
    fprintf(stderr, "fuzz: %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__);                         \
    fputc('\n', stderr);                                  \
    abort();                                              \
  } while (0)
#define REQUIRE(cond)                                    \
  do {                                                   \
    if (!(cond)) FAILF("requirement failed: %s", #cond); \
  } while (0)

typedef struct in {
  const uint8_t *p;
  size_t n;
} in_t;

static inline bool more(const in_t *in) { return in->n > 0; }

static inline uint8_t u8(in_t *in) {
  if (in->n == 0) return 0;
  in->n--;
  return *in->p++;
}

static inline uint16_t u16(in_t *in) { return (uint16_t)(u8(in) | (u8(in) << 8)); }

#endif /* ARENART_TESTS_FUZZ_INPUT_H */
