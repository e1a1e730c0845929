/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.h - what the benchmark driver and its workers share: the workload list, the
 * line protocol a worker speaks on stdout, and small measuring helpers.
 *
 * Why workers at all: jemalloc, tcmalloc and mimalloc each replace malloc for the whole process
 * they are linked into, so no single process can hold all of them. The driver (//bench) runs
 * every (workload, allocator, repeat) in a fresh child process: itself re-executed for the
 * allocators that coexist with glibc malloc (arenart, APR, talloc, obstack, the bump pointer,
 * glibc), and one sibling binary per malloc replacement, each linked against that library so
 * that plain malloc/free is the replacement's. One child per measurement also gives each
 * allocator its own peak RSS (wait4's ru_maxrss), untouched by the others.
 *
 * Protocol, one record per line on the worker's stdout (the driver parses nothing else):
 *   V <case> <value>         a timed figure (ns per allocation or per operation; <case> has
 *                            no spaces: "16M/t=2", not "16M t=2"); the driver
 *                            takes the median over repeats and the ratio to arenart's
 *   X <case> <value>         any other figure (bytes, ratios); median over repeats, no ratio
 *   S <series> <x> <y>       one point of a series for the plot (only with --series)
 *   NA <reason...>           this allocator cannot run this workload, and why ("-..." means
 *                            the row is simply left out: an arenart variant with nothing new)
 *   PEER <name>              (callgrind mode, allocator "all") the records that follow are
 *                            this allocator's
 *   INFO <key> <value...>    informational (which library provides malloc, ...)
 */
#ifndef AR_BENCH_H
#define AR_BENCH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The workloads, in the order the report prints them. */
typedef enum {
  W_HOT,        /* 1. ns/alloc, sizes 8..512 B, regions sized for L1, L2, L3 and DRAM */
  W_REQUEST,    /* 2. K mixed-size allocations, touched, then free-all; repeated */
  W_SCALING,    /* 3. the request loop in 1..N threads at once */
  W_LARSON,     /* 4. batches built on one thread, freed on another; threads replaced */
  W_BIMODAL,    /* 5. mostly small requests, a rare huge one; RSS kept between requests */
  W_CONTAINERS, /* 6. append-heavy growable arrays; peak RSS over live bytes */
  W_LARGE,      /* 7. requests of 64 KiB..16 MiB of 256 B..64 KiB blocks, reset each time */
  W_COUNT
} workload_t;

/* Knobs a worker needs; the driver passes them on the command line. */
typedef struct bench_params {
  int quick;       /* shorter runs (--quick) */
  int max_threads; /* scaling workload: 1..max_threads */
  int series;      /* emit S records (the driver asks for them on the first repeat only) */
} bench_params_t;

/* Requests are K allocations of 16..271 B: the sizes a parser or a router hands out. */
enum { REQUEST_K = 1000 };

/* The callgrind loop: CG_N, then 2 * CG_N allocations of 16..64 B, both well inside one
 * 64 KiB arena chunk, so only the fast path runs. The driver takes the slope: the extra
 * instructions of the longer loop over the extra CG_N allocations, less the same slope of an
 * allocation-free loop. Fixed costs (the loop function's prologue, the toggles) cancel. */
enum { CG_N = 512 };

/* Keeps `p` (and what it points to) alive in the compiler's eyes, so neither the allocation
 * nor the stores that touch it can be optimised away. */
static inline void bench_escape(const void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

static inline double bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The same fixed size sequence for every allocator and every run (xorshift64). */
static inline uint64_t bench_rng(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static inline void bench_fill_sizes(size_t *sizes, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) sizes[i] = 16 + (size_t)(bench_rng(&seed) % 256);
}

#endif /* AR_BENCH_H */
