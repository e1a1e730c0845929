/* SPDX-License-Identifier: MIT */
/*
 * stress/limit_stress.c - ConcurrentArena at its byte limit.
 *
 * Threads start together at a barrier. Phase A: a fresh arena whose limit is one chunk; each
 * thread asks for 64 bytes, which the one chunk holds for all of them, so none may fail: the
 * threads that lose the race to reserve that chunk must wait for the winner's, not report
 * AR_ELIMIT. Phase B: the same arena; each thread allocates random sizes (spans, exact pieces,
 * dedicated chunks) until a call fails. Every failure must be AR_ELIMIT and real: when all
 * are done, what the arena holds (capacity, which only grows here) plus the chunk the failed
 * request needed exceeds the limit. Capacity never exceeds the limit and equals what a
 * counting source says is outstanding; every allocation's pattern is intact. With --yield=N
 * (the limit_yield_stress target) the runtime yields at its stress points (reservation
 * waits, CASes) with probability N/1000.
 */
#include <arenart.h>

#include "stress/counting_source.h"
#include "stress/stress.h"

#define THREADS 4
#define CHUNK 1024
#define LIMIT (8 * CHUNK)
#define MAX_RECS 4096

typedef struct rec {
  char *p;
  size_t n;
  uint64_t tag;
} rec_t;

static ar_concurrent_t *arena;
static pthread_barrier_t start;
static rec_t recs[THREADS][MAX_RECS];
static size_t nrecs[THREADS];
static size_t failed_size[THREADS];
static int failed_err[THREADS];
static int phase_a_err[THREADS];
static uint64_t seed_round;

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1) + seed_round;
  pthread_barrier_wait(&start);
  char *a = (char *)ar_concurrent_alloc(arena, 64);
  phase_a_err[t] = a == NULL ? (int)ar_last_error() : AR_OK;
  if (a != NULL) memset(a, t, 64);
  pthread_barrier_wait(&start);
  size_t i = 0;
  for (;;) {
    uint64_t r = stress_rand(&rng);
    size_t n = r % 100 < 80 ? 1 + r % 96 : r % 100 < 92 ? 129 + r % 90 : 240 + r % 600;
    size_t align = (r >> 20) % 8 == 0 ? 64 : 16;
    char *p = (char *)ar_concurrent_alloc_aligned(arena, n, align);
    if (p == NULL) {
      failed_err[t] = (int)ar_last_error();
      failed_size[t] = n;
      break;
    }
    CHECK(i < MAX_RECS, "thread %d: more allocations than the limit allows", t);
    CHECK(((uintptr_t)p & (align - 1)) == 0, "misaligned %p for %zu", (void *)p, align);
    uint64_t tag = ((uint64_t)t << 32) | i;
    stress_fill(p, n, tag);
    recs[t][i++] = (rec_t){p, n, tag};
  }
  nrecs[t] = i;
  return NULL;
}

/* The bytes the failed request of n bytes needed from the source: its dedicated chunk, or a
 * new ordinary chunk (concurrent.c: over a quarter of the chunk's data is dedicated). */
static size_t needed(size_t n) {
  size_t nn = (n + 15) & ~(size_t)15;
  return nn > (CHUNK - 128) / 4 ? nn + 128 + 64 : CHUNK;
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 2.0);
  counting_source_t cs;
  counting_source_init(&cs);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = CHUNK;
  o.source = &cs.source;
  o.name = "limit";
  long rounds = 0;
  long iters = stress_iters(400);
  do {
    o.limit_bytes = CHUNK; /* phase A: one chunk */
    arena = ar_concurrent_create(&o);
    CHECK(arena != NULL, "create: %s", ar_strerror(ar_last_error()));
    seed_round = (uint64_t)rounds * 0x2545F4914F6CDD1Dull;
    pthread_barrier_init(&start, NULL, THREADS + 1);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    pthread_barrier_wait(&start); /* go: phase A */
    pthread_barrier_wait(&start); /* phase A done */
    for (int t = 0; t < THREADS; t++)
      CHECK(phase_a_err[t] == AR_OK, "round %ld, thread %d: 64 bytes under a one-chunk limit: %s",
            rounds, t, ar_strerror((ar_error_t)phase_a_err[t]));
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    ar_stats_t st;
    CHECK(ar_concurrent_stats(arena, &st) == AR_OK, "stats");
    CHECK(st.capacity == atomic_load(&cs.bytes), "capacity %zu, source holds %zu",
          (size_t)st.capacity, atomic_load(&cs.bytes));
    pthread_barrier_destroy(&start);
    ar_concurrent_destroy(arena);
    CHECK(atomic_load(&cs.bytes) == 0, "leak: %zu bytes", atomic_load(&cs.bytes));

    /* phase B: a fresh arena with room for eight chunks, filled to the limit */
    o.limit_bytes = LIMIT;
    arena = ar_concurrent_create(&o);
    CHECK(arena != NULL, "create: %s", ar_strerror(ar_last_error()));
    pthread_barrier_init(&start, NULL, THREADS + 1);
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    pthread_barrier_wait(&start);
    pthread_barrier_wait(&start);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start);
    CHECK(ar_concurrent_stats(arena, &st) == AR_OK, "stats");
    CHECK(st.capacity <= LIMIT, "capacity %zu over the limit", (size_t)st.capacity);
    CHECK(st.capacity == atomic_load(&cs.bytes), "capacity %zu, source holds %zu",
          (size_t)st.capacity, atomic_load(&cs.bytes));
    for (int t = 0; t < THREADS; t++) {
      CHECK(failed_err[t] == AR_ELIMIT, "thread %d failed with %s", t,
            ar_strerror((ar_error_t)failed_err[t]));
      CHECK(st.capacity + needed(failed_size[t]) > LIMIT,
            "thread %d: AR_ELIMIT for %zu bytes, but capacity %zu leaves room under %d", t,
            failed_size[t], (size_t)st.capacity, LIMIT);
      for (size_t i = 0; i < nrecs[t]; i++)
        CHECK(stress_verify(recs[t][i].p, recs[t][i].n, recs[t][i].tag),
              "thread %d, allocation %zu overwritten", t, i);
    }
    ar_concurrent_destroy(arena);
    CHECK(atomic_load(&cs.bytes) == 0, "leak: %zu bytes", atomic_load(&cs.bytes));
    rounds++;
  } while (rounds < iters && stress_time_left());
  printf("limit_stress: %ld rounds\n", rounds);
  return 0;
}
