/* SPDX-License-Identifier: MIT */
/*
 * bench/concurrent_bench.c - ConcurrentArena against per-thread arenas, 1..N threads.
 *
 * Each thread allocates objects of 16..128 bytes (touching each) either from its
 * own thread arena (the lower bound: an inline bump, no sharing) or from one ConcurrentArena
 * shared by all threads (a call, a thread-local span lookup, a bump; one fetch-and-add per
 * span). Threads start at a barrier; the figure is wall time over total allocations, median
 * of repeats. The goal printed (not asserted) is the issue's: ConcurrentArena at 2 threads
 * within 1.5x of a per-thread arena's ns/alloc.
 *
 * Usage: concurrent_bench [--quick] [--threads N]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arenart.h>

static inline void escape(void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct job {
  int concurrent;
  int threads;
  long rounds;
  long per_round;
  ar_concurrent_t *ca;
  pthread_barrier_t *barrier;
} job_t;

/* Rounds of `per_round` allocations, then a reset at a barrier (thread 0 resets the shared
 * arena; each thread rewinds its own): chunks return to the pool warm, so after the first
 * round no page is faulted in and the figure is the allocator's, not the kernel's. */
static void *run(void *arg) {
  job_t *j = (job_t *)arg;
  static _Atomic(int) next_id;
  int id = atomic_fetch_add(&next_id, 1) % j->threads;
  ar_arena_t *mine = ar_thread_arena();
  ar_mark_t m = ar_mark(mine);
  pthread_barrier_wait(j->barrier);
  size_t size = 16;
  for (long r = 0; r < j->rounds; r++) {
    for (long i = 0; i < j->per_round; i++) {
      char *p = j->concurrent ? (char *)ar_concurrent_alloc(j->ca, size)
                              : (char *)ar_alloc(mine, size);
      if (p == NULL) abort();
      p[0] = (char)i;
      escape(p);
      size = size >= 128 ? 16 : size + 16;
    }
    pthread_barrier_wait(j->barrier);
    if (j->concurrent) {
      if (id == 0) ar_concurrent_reset(j->ca);
    } else {
      ar_rewind(mine, &m);
    }
    pthread_barrier_wait(j->barrier);
  }
  return NULL;
}

static double once(int threads, int concurrent, long rounds, long per_round) {
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
  pthread_t th[64];
  job_t job = {concurrent, threads, rounds, per_round, ca, &barrier};
  for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, run, &job);
  pthread_barrier_wait(&barrier);
  double t0 = now_ns();
  for (long r = 0; r < rounds; r++) {
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
  }
  double t = now_ns() - t0;
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&barrier);
  ar_concurrent_destroy(ca);
  return t / (double)(rounds * per_round); /* wall ns per allocation of one thread */
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median_of(int reps, int threads, int concurrent, long rounds, long per_round) {
  double v[32];
  for (int r = 0; r < reps; r++) v[r] = once(threads, concurrent, rounds, per_round);
  qsort(v, (size_t)reps, sizeof v[0], cmp);
  return v[reps / 2];
}

int main(int argc, char **argv) {
  int quick = 0, max_threads = 2;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) max_threads = atoi(argv[++i]);
  }
  if (max_threads < 1 || max_threads > 64) max_threads = 2;
  long rounds = quick ? 40 : 200, per_round = 50000;
  int reps = quick ? 5 : 9;
  printf("ConcurrentArena vs per-thread arenas (ns per allocation per thread, median of %d; "
         "sizes 16..128 B, touched)\n",
         reps);
  printf("%-8s %14s %14s %8s\n", "threads", "per-thread", "concurrent", "ratio");
  double ratio2 = 0;
  for (int t = 1; t <= max_threads; t *= 2) {
    double a = median_of(reps, t, 0, rounds, per_round);
    double c = median_of(reps, t, 1, rounds, per_round);
    printf("%-8d %14.2f %14.2f %7.2fx\n", t, a, c, c / a);
    if (t == 2) ratio2 = c / a;
  }
  if (ratio2 > 0)
    printf("goal: ConcurrentArena at 2 threads within 1.5x of per-thread: %.2fx (%s)\n", ratio2,
           ratio2 <= 1.5 ? "met" : "not met");
  return 0;
}
