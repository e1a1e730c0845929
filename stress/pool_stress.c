/* SPDX-License-Identifier: MIT */
/*
 * stress/pool_stress.c - the lock-free chunk pool under push/pop races and the ABA pattern.
 *
 * A pool with only four slots, and many threads that get a chunk, hold it briefly, and put it
 * back, so the same few slots are recycled between threads constantly: exactly the pattern
 * (pop A, pop B, push A) that breaks an untagged Treiber stack. Each chunk carries an owner
 * word claimed with an atomic exchange on get and cleared on put: a chunk handed to two
 * threads at once, or lost, fails the test. Run with yields injected at the CAS points
 * (--yield=N) to stretch the windows between reading the head and the CAS.
 */
#include <arenart.h>

#include "stress/stress.h"

#define THREADS 4
#define CHUNKS 6
#define CHUNK_SIZE 4096

static ar_chunk_pool_t *pool;
static pthread_barrier_t start;

static void *worker(void *arg) {
  long *ops = (long *)arg;
  uint64_t rng = (uint64_t)(uintptr_t)arg | 1;
  pthread_barrier_wait(&start);
  for (long i = 0; i < stress_iters(40000) && ((i & 255) || stress_time_left()); i++) {
    void *held[2] = {NULL, NULL};
    int n = 1 + (int)(stress_rand(&rng) & 1);
    for (int k = 0; k < n; k++) {
      held[k] = ar_chunk_pool_get(pool);
      if (held[k] == NULL) continue;
      _Atomic(long) *owner = (_Atomic(long) *)held[k];
      long prev = atomic_exchange(owner, (long)(uintptr_t)arg);
      CHECK(prev == 0, "chunk %p handed out twice (held by %lx)", held[k], (unsigned long)prev);
    }
    for (int k = n - 1; k >= 0; k--) {
      if (held[k] == NULL) continue;
      _Atomic(long) *owner = (_Atomic(long) *)held[k];
      CHECK(atomic_exchange(owner, 0) == (long)(uintptr_t)arg, "owner changed under us");
      CHECK(ar_chunk_pool_put(pool, held[k]), "put refused with a free slot");
    }
    (*ops)++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 2.0);
  pool = ar_chunk_pool_create(CHUNK_SIZE, CHUNKS, ar_source_malloc());
  CHECK(pool != NULL, "create");
  void *chunks[CHUNKS];
  for (int i = 0; i < CHUNKS; i++) {
    chunks[i] = ar_source_malloc()->acquire(NULL, CHUNK_SIZE);
    memset(chunks[i], 0, CHUNK_SIZE);
    CHECK(ar_chunk_pool_put(pool, chunks[i]), "fill");
  }
  void *extra = ar_source_malloc()->acquire(NULL, CHUNK_SIZE);
  CHECK(!ar_chunk_pool_put(pool, extra), "a full pool must refuse");
  ar_source_malloc()->release(NULL, extra, CHUNK_SIZE);

  pthread_barrier_init(&start, NULL, THREADS);
  pthread_t th[THREADS];
  long ops[THREADS] = {0};
  for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, worker, &ops[i]);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);

  /* Every chunk is back exactly once. */
  ar_chunk_pool_stats_t st;
  ar_chunk_pool_stats(pool, &st);
  CHECK(st.pooled == CHUNKS, "pooled %zu of %d", st.pooled, CHUNKS);
  void *seen[CHUNKS];
  for (int i = 0; i < CHUNKS; i++) {
    seen[i] = ar_chunk_pool_get(pool);
    CHECK(seen[i] != NULL, "chunk %d missing", i);
    for (int j = 0; j < i; j++) CHECK(seen[j] != seen[i], "chunk returned twice");
  }
  CHECK(ar_chunk_pool_get(pool) == NULL, "more chunks than were put");
  for (int i = 0; i < CHUNKS; i++) CHECK(ar_chunk_pool_put(pool, seen[i]), "refill");
  CHECK(ar_chunk_pool_trim(pool, 2) == CHUNKS - 2, "trim to 2");
  ar_chunk_pool_destroy(pool);
  printf("pool: %ld+%ld+%ld+%ld get/put rounds over %d slots, every chunk accounted for\n", ops[0],
         ops[1], ops[2], ops[3], CHUNKS);
  return 0;
}
