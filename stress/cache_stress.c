/* SPDX-License-Identifier: MIT */
/*
 * stress/cache_stress.c - mappings passing between arenas and threads through the cache of
 * given-back mappings (runtime/oscache.c).
 *
 * Default ConcurrentArenas give their dedicated chunks to the cache at reset and take them
 * back at the next round's requests of the same length, from whichever thread asks first;
 * default serial arenas, created and destroyed by each thread between rounds, take and give
 * the same lengths. So one mapping is written by several threads of several arenas in turn,
 * and two requests must never get the same one. Each round the threads meet at a barrier,
 * allocate blocks of a few lengths from the shared ConcurrentArena of that round (two
 * alternate), fill each with a pattern of its own, meet again, and verify every block of
 * every thread: a mapping handed out twice shows as an overwritten pattern. Then one thread
 * resets the arena while the others wait (quiescence). Under ThreadSanitizer (the race gate)
 * this must be silent: the barrier orders the rounds, and the cache's mutex orders a give-back
 * before the take of the same mapping in another thread. At the end, some block must have come
 * back with an earlier block's bytes in it, which fresh pages from the kernel (zero) never
 * have, or the cache was never exercised (not checked in the heap flavor, which mallocs every
 * allocation).
 */
#include <arenart.h>

#include "stress/stress.h"

#ifndef AR_HEAP
#define AR_HEAP 0
#endif

#define THREADS 4
#define BLOCKS 6 /* per thread and round */

/* Over a quarter of chunk_size, and nothing small installs a chunk: each a dedicated chunk. */
static const size_t lengths[] = {270000, 300000, 400000};

static pthread_barrier_t bar;
static ar_concurrent_t *arenas[2];
static char *blocks[THREADS][BLOCKS];
static size_t sizes[THREADS][BLOCKS];
static atomic_bool stop;
static atomic_long came_back; /* blocks that arrived holding an earlier block's bytes */

static uint64_t tag_of(long round, uintptr_t id, int k) {
  return (uint64_t)round * 1000003u + id * 101u + (uint64_t)k;
}

static void *worker(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  uint64_t seed = id * 0x9E3779B97F4A7C15ull + 7;
  long iters = stress_iters(40);
  for (long round = 0;; round++) {
    /* Thread 0 decides for everyone, so all leave the loop after the same round. */
    if (id == 0 && (round >= iters || !stress_time_left())) atomic_store(&stop, true);
    pthread_barrier_wait(&bar);
    if (atomic_load(&stop)) break;
    ar_concurrent_t *ca = arenas[round & 1];
    for (int k = 0; k < BLOCKS; k++) {
      size_t n = lengths[stress_rand(&seed) % 3];
      char *p = (char *)ar_concurrent_alloc(ca, n);
      CHECK(p != NULL, "concurrent alloc %zu: %s", n, ar_strerror(ar_last_error()));
      if (p[0] != 0 || p[n / 2] != 0) atomic_fetch_add(&came_back, 1);
      stress_fill(p, n, tag_of(round, id, k));
      blocks[id][k] = p;
      sizes[id][k] = n;
    }
    pthread_barrier_wait(&bar);
    for (uintptr_t t = 0; t < THREADS; t++)
      for (int k = 0; k < BLOCKS; k++)
        CHECK(stress_verify(blocks[t][k], sizes[t][k], tag_of(round, t, k)),
              "round %ld: thread %lu's block %d (%zu bytes) was overwritten", round,
              (unsigned long)t, k, sizes[t][k]);
    pthread_barrier_wait(&bar);
    if (id == 0) ar_concurrent_reset(ca); /* the others wait at the next barrier */
    /* A private serial arena takes and gives the same lengths meanwhile. */
    ar_arena_t *a = ar_arena_create(NULL);
    CHECK(a != NULL, "create: %s", ar_strerror(ar_last_error()));
    size_t n = lengths[stress_rand(&seed) % 3];
    char *q = ar_alloc(a, n);
    CHECK(q != NULL, "serial alloc %zu: %s", n, ar_strerror(ar_last_error()));
    stress_fill(q, n, ~tag_of(round, id, 0));
    CHECK(stress_verify(q, n, ~tag_of(round, id, 0)), "serial block overwritten");
    ar_arena_destroy(a);
  }
  return NULL;
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 3.0);
  CHECK(pthread_barrier_init(&bar, NULL, THREADS) == 0, "barrier");
  for (int i = 0; i < 2; i++) {
    arenas[i] = ar_concurrent_create(NULL);
    CHECK(arenas[i] != NULL, "concurrent create: %s", ar_strerror(ar_last_error()));
  }
  pthread_t t[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0, "pthread_create");
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 2; i++) ar_concurrent_destroy(arenas[i]);
  pthread_barrier_destroy(&bar);
  long back = atomic_load(&came_back);
  CHECK(AR_HEAP || back > 0, "no block ever came back from the cache");
  printf("cache_stress: OK, %ld blocks came back written\n", back);
  return 0;
}
