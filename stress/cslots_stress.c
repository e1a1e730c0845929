/* SPDX-License-Identifier: MIT */
/*
 * stress/cslots_stress.c - ConcurrentArena span slots under thread churn.
 *
 * Waves of short-lived threads allocate round-robin from several ConcurrentArenas at once.
 * Each thread takes a thread index on its first allocation and gives it back when it exits;
 * the next wave's threads take those indices again and, with them, the spans the exited
 * threads left in every arena. What must hold: every allocation's pattern is intact after its
 * wave (no span was handed to two live threads, and an inherited span continues where its
 * old owner stopped), every block lies in the arena it came from, and each arena's `used`
 * stays within the bytes requested plus one span per thread index that ever touched it (small
 * blocks of one size: nothing else is lost). Some arenas are reset between waves (all threads
 * joined: quiescent), which empties every slot. Under ThreadSanitizer this checks that the
 * index hand-over orders the old owner's slot writes before the new owner's.
 */
#include <arenart.h>

#include "stress/stress.h"

#define ARENAS 5
#define THREADS 8
#define PER_THREAD 600
#define BLOCK 32
#define SPAN (16 * 1024)

typedef struct rec {
  char *p;
  uint64_t tag;
} rec_t;

static ar_concurrent_t *arenas[ARENAS];
static size_t requested[ARENAS];
static rec_t recs[THREADS][PER_THREAD];
static pthread_barrier_t start;
static unsigned wave;

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  pthread_barrier_wait(&start);
  for (int i = 0; i < PER_THREAD; i++) {
    int a = (i + t) % ARENAS;
    char *p = (char *)ar_concurrent_alloc(arenas[a], BLOCK);
    CHECK(p != NULL, "allocation failed: %s", ar_strerror(ar_last_error()));
    uint64_t tag = ((uint64_t)wave << 40) | ((uint64_t)t << 20) | (uint64_t)i;
    stress_fill(p, BLOCK, tag);
    recs[t][i] = (rec_t){p, tag};
  }
  return NULL;
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 2.0);
  for (int a = 0; a < ARENAS; a++) {
    arenas[a] = ar_concurrent_create(NULL);
    CHECK(arenas[a] != NULL, "create failed");
  }
  /* Thread indices that have touched arena a since its last reset: at most this many spans. */
  size_t spans_max[ARENAS] = {0};
  long waves = stress_iters(40);
  for (wave = 0; wave < waves && stress_time_left(); wave++) {
    pthread_t th[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int t = 0; t < THREADS; t++)
      CHECK(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) == 0, "pthread_create");
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < THREADS; t++)
      for (int i = 0; i < PER_THREAD; i++) {
        int a = (i + t) % ARENAS;
        CHECK(stress_verify(recs[t][i].p, BLOCK, recs[t][i].tag),
              "wave %u thread %d block %d overwritten", wave, t, i);
        CHECK(ar_concurrent_owns(arenas[a], recs[t][i].p), "block not in its arena");
      }
    for (int a = 0; a < ARENAS; a++) {
      requested[a] += (size_t)THREADS * PER_THREAD / ARENAS * BLOCK;
      /* A joined thread's index may not be free yet (its destructor runs after it has
       * returned to pthread), so a wave may use fresh indices: grant THREADS per wave, but
       * never more than the process can have at once. */
      spans_max[a] += THREADS;
      if (spans_max[a] > 1023) spans_max[a] = 1023;
      ar_stats_t st;
      CHECK(ar_concurrent_stats(arenas[a], &st) == AR_OK, "stats");
      CHECK(st.used >= requested[a] && st.used <= requested[a] + spans_max[a] * SPAN,
            "arena %d: used %zu for %zu requested (at most %zu spans)", a, st.used, requested[a],
            spans_max[a]);
    }
    int r = (int)(wave % ARENAS);
    ar_concurrent_reset(arenas[r]);
    requested[r] = 0;
    spans_max[r] = 0;
  }
  for (int a = 0; a < ARENAS; a++) ar_concurrent_destroy(arenas[a]);
  printf("cslots_stress: %u waves of %d threads over %d arenas\n", wave, THREADS, ARENAS);
  return 0;
}
