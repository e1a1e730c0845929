/* SPDX-License-Identifier: MIT */
/*
 * stress/stress.h - what every stress program shares: run length, checks, a start barrier.
 *
 * Quick mode (default, what CI runs) is bounded by both an iteration count and a time
 * budget, so a slow sanitizer build finishes in seconds. Long mode (AR_STRESS_LONG=1, or
 * `--long`) runs for AR_STRESS_SECONDS (default 60) seconds per program: the soak mode.
 * A failed CHECK prints where and why, then aborts; the test fails.
 */
#ifndef ARENART_STRESS_H
#define ARENART_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond, ...)                                                         \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "CHECK failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
      abort();                                                                   \
    }                                                                            \
  } while (0)

static inline double stress_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool stress_long_mode;
static double stress_deadline;

/* runtime/stress.c, exported for this suite only: yield injection at CAS and publish points. */
void ar_stress_set_yield_(unsigned permille);

/* Parses --long, --yield=N (per-mille chance of a yield at each runtime stress point) and the
 * environment; sets the time budget (quick: `quick_seconds`). */
static inline void stress_init(int argc, char **argv, double quick_seconds) {
  const char *e = getenv("AR_STRESS_LONG");
  stress_long_mode = e != NULL && *e != '\0' && *e != '0';
  unsigned yield = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--long") == 0) stress_long_mode = true;
    if (strncmp(argv[i], "--yield=", 8) == 0) yield = (unsigned)atoi(argv[i] + 8);
  }
  ar_stress_set_yield_(yield);
  double secs = quick_seconds;
  if (stress_long_mode) {
    const char *s = getenv("AR_STRESS_SECONDS");
    secs = s ? atof(s) : 60.0;
  }
  stress_deadline = stress_now() + secs;
  printf("%s: %s mode, %.0f s budget\n", argv[0], stress_long_mode ? "long" : "quick", secs);
}

static inline bool stress_time_left(void) { return stress_now() < stress_deadline; }

/* Iterations for a loop: `quick` in quick mode, effectively unbounded in long mode (the time
 * budget stops it). */
static inline long stress_iters(long quick) { return stress_long_mode ? 1L << 40 : quick; }

static inline uint64_t stress_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Fills p with a pattern derived from `tag`; stress_verify checks it. */
static inline void stress_fill(void *p, size_t n, uint64_t tag) {
  unsigned char *b = (unsigned char *)p;
  for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(tag * 31 + i * 7 + (tag >> 8));
}

static inline bool stress_verify(const void *p, size_t n, uint64_t tag) {
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != (unsigned char)(tag * 31 + i * 7 + (tag >> 8))) return false;
  return true;
}

/* Resident set size of this process in bytes (from /proc/self/statm). */
static inline size_t stress_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f != NULL) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return (size_t)res * 4096;
}

#endif /* ARENART_STRESS_H */
