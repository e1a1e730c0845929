/* SPDX-License-Identifier: MIT */
/*
 * stress/refill_stress.c - scenarios 1 and 3: ConcurrentArena refill races.
 *
 * Threads start together at a barrier and allocate from one ConcurrentArena with tiny chunks
 * (1 KiB: three spans each), so almost every span carve races a refill. Sizes cover all three
 * paths: in-span bumps, exact medium pieces and dedicated chunks. Every allocation is filled
 * with a pattern unique to it; afterwards every pattern must be intact (no two allocations
 * overlapped), the ranges sorted must be disjoint, and the arena's capacity must equal, to the
 * byte, what a counting source says is outstanding. The arena lives several rounds, reset in
 * between, and keeps 16 chunks (retain_bytes): every round after the first races its first
 * refills over the kept chain, then goes on to fresh chunks. After reset the source holds
 * exactly the kept chunks; after destroy it must be back to zero: losers of refill races
 * returned their chunks. With --yield=N (the yield_stress target)
 * the runtime yields at its CAS and publish points with probability N/1000.
 */
#include <arenart.h>

#include "stress/counting_source.h"
#include "stress/stress.h"

#define THREADS 4
#define PER_THREAD 4000

typedef struct rec {
  char *p;
  size_t n;
  uint64_t tag;
} rec_t;

static ar_concurrent_t *arena;
static pthread_barrier_t start;
static rec_t recs[THREADS][PER_THREAD];
static size_t nrecs[THREADS];

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
  pthread_barrier_wait(&start);
  for (size_t i = 0; i < PER_THREAD; i++) {
    uint64_t r = stress_rand(&rng);
    /* mostly small (in-span), some medium (exact pieces), a few over a quarter chunk */
    size_t n = r % 100 < 85 ? 1 + r % 96 : r % 100 < 97 ? 129 + r % 90 : 300 + r % 700;
    size_t align = (r >> 20) % 8 == 0 ? 64 : 16;
    char *p = (char *)ar_concurrent_alloc_aligned(arena, n, align);
    CHECK(p != NULL, "allocation failed: %s", ar_strerror(ar_last_error()));
    CHECK(((uintptr_t)p & (align - 1)) == 0, "misaligned %p for %zu", (void *)p, align);
    uint64_t tag = ((uint64_t)t << 32) | i;
    stress_fill(p, n, tag);
    recs[t][i] = (rec_t){p, n, tag};
  }
  nrecs[t] = PER_THREAD;
  return NULL;
}

static int cmp_rec(const void *a, const void *b) {
  const rec_t *x = (const rec_t *)a, *y = (const rec_t *)b;
  return x->p < y->p ? -1 : x->p > y->p;
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 2.0);

  counting_source_t cs;
  counting_source_init(&cs);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 1024;
  o.retain_bytes = 16 * 1024 + 1000; /* 16 chunks: the rest of a round goes back */
  o.source = &cs.source;
  o.name = "refill";
  static rec_t all[THREADS * PER_THREAD];
  long rounds = 0;
  bool more;
  do {
    if (rounds % 4 == 0) {
      arena = ar_concurrent_create(&o);
      CHECK(arena != NULL, "create: %s", ar_strerror(ar_last_error()));
    }
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start);

    size_t total = 0, bytes = 0;
    for (int t = 0; t < THREADS; t++)
      for (size_t i = 0; i < nrecs[t]; i++) {
        rec_t *r = &recs[t][i];
        CHECK(stress_verify(r->p, r->n, r->tag), "allocation %p (%zu bytes) was overwritten",
              (void *)r->p, r->n);
        CHECK(ar_concurrent_owns(arena, r->p), "not owned");
        all[total++] = *r;
        bytes += r->n;
      }
    qsort(all, total, sizeof all[0], cmp_rec);
    for (size_t i = 1; i < total; i++)
      CHECK(all[i - 1].p + all[i - 1].n <= all[i].p, "overlap at %p", (void *)all[i].p);

    ar_stats_t st;
    CHECK(ar_concurrent_stats(arena, &st) == AR_OK, "stats");
    CHECK(st.capacity == atomic_load(&cs.bytes), "capacity %zu != outstanding %zu", st.capacity,
          atomic_load(&cs.bytes));
    CHECK(st.used >= bytes, "used %zu < requested %zu", st.used, bytes);
    CHECK(st.used <= st.capacity, "used %zu > capacity %zu", st.used, st.capacity);
    /* reset keeps 16 ordinary chunks, returns everything else, and the arena works again */
    ar_concurrent_reset(arena);
    CHECK(ar_concurrent_stats(arena, &st) == AR_OK, "stats");
    CHECK(st.used == 0 && st.chunks == 0 && st.spare_chunks == 16,
          "after reset: used %zu, "
          "chunks %zu, kept %zu",
          st.used, st.chunks, st.spare_chunks);
    CHECK(st.capacity == 16 * 1024 && atomic_load(&cs.bytes) == st.capacity,
          "after reset: capacity %zu, outstanding %zu", st.capacity, atomic_load(&cs.bytes));
    size_t acquires = atomic_load(&cs.acquires);
    CHECK(ar_concurrent_alloc(arena, 10) != NULL, "alloc after reset");
    CHECK(atomic_load(&cs.acquires) == acquires, "a kept chunk was not reused");
    ar_concurrent_reset(arena);
    rounds++;
    more = rounds < stress_iters(3) && stress_time_left();
    if (rounds % 4 == 0 || !more) {
      ar_concurrent_destroy(arena);
      CHECK(atomic_load(&cs.bytes) == 0 && atomic_load(&cs.blocks) == 0,
            "destroy leaked %zu bytes in %zu blocks", atomic_load(&cs.bytes),
            atomic_load(&cs.blocks));
    }
  } while (more);
  printf("refill: %ld rounds x %d threads x %d allocations, %zu source acquires, no overlap, "
         "exact accounting\n",
         rounds, THREADS, PER_THREAD, atomic_load(&cs.acquires));
  return 0;
}
