/* SPDX-License-Identifier: MIT */
/*
 * tests/arenapool/arenapool_churn_test.c - the arena pool's stats invariants under concurrent
 * churn.
 *
 * Worker threads take, allocate, give and trim in a loop (some takes create an arena, some
 * reuse one, some fail because the source refuses every seventh chunk; max_idle 2 and a
 * 1 ns idle_ns make gives and trims reclaim constantly) while a sampler thread reads the stats
 * and checks the invariants promised in arenapool.h on every snapshot. Bounded by round counts,
 * never by time; the sampler runs until the workers finish. Meant for --config=tsan (races)
 * and --config=opt (the interleavings a release build makes) as well as the default build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arenart.h"

#define WORKERS 4
#define ROUNDS 4000
#define MAX_IDLE 2

static atomic_uint_fast64_t acquires;
static atomic_bool stop, sampling;
static atomic_uint_fast64_t bad_snapshots, snapshots;

/* Every seventh chunk request fails: some takes fail while creating their arena. */
static void *flaky_acquire(void *ctx, size_t size) {
  (void)ctx;
  /* Relaxed: a counter that decides failures; it orders nothing. */
  if (atomic_fetch_add_explicit(&acquires, 1, memory_order_relaxed) % 7 == 6) return NULL;
  return ar_source_malloc()->acquire(ar_source_malloc()->ctx, size);
}

static void flaky_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  ar_source_malloc()->release(ar_source_malloc()->ctx, p, size);
}

static const ar_source_t flaky = {flaky_acquire, flaky_release, NULL, "flaky"};

typedef struct worker {
  ar_arena_pool_t *pool;
  unsigned id;
  uint64_t takes, failures;
} worker_t;

static void *work(void *arg) {
  worker_t *w = (worker_t *)arg;
  uint64_t x = 0x9E3779B97F4A7C15ull * (w->id + 1);
  while (!atomic_load_explicit(&sampling, memory_order_relaxed)) sched_yield();
  for (unsigned r = 0; r < ROUNDS; r++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ar_arena_t *held[2] = {NULL, NULL};
    unsigned n = 1 + (unsigned)(x & 1);
    for (unsigned i = 0; i < n; i++) {
      held[i] = ar_arena_pool_take(w->pool);
      if (held[i] == NULL) {
        if (ar_last_error() != AR_ENOMEM)
          return (void *)"take failed with a code other than AR_ENOMEM";
        w->failures++;
        continue;
      }
      w->takes++;
      if (ar_alloc(held[i], 64 + (size_t)(x >> 8) % 6000) == NULL && ar_last_error() != AR_ENOMEM)
        return (void *)"allocation failed with a code other than AR_ENOMEM";
    }
    for (unsigned i = 0; i < n; i++)
      if (held[i] != NULL && ar_arena_pool_give(w->pool, held[i]) != AR_OK)
        return (void *)"give failed";
    if ((x >> 20) % 16 == 0) ar_arena_pool_trim(w->pool, (x >> 24) % 2 == 0);
  }
  return NULL;
}

static bool consistent(const ar_arena_pool_stats_t *st) {
  return st->reclaimed <= st->created &&
         (uint64_t)st->idle + st->taken == st->created - st->reclaimed && st->idle <= MAX_IDLE &&
         st->taken <= 2 * WORKERS;
}

static void *sample(void *arg) {
  ar_arena_pool_t *p = (ar_arena_pool_t *)arg;
  /* Relaxed: `stop` only ends the loop and `sampling` only starts the workers; the joins
   * order everything after them. At least one snapshot is taken. */
  do {
    ar_arena_pool_stats_t st;
    if (ar_arena_pool_stats(p, &st) != AR_OK || !consistent(&st)) {
      if (atomic_fetch_add_explicit(&bad_snapshots, 1, memory_order_relaxed) == 0)
        fprintf(stderr, "inconsistent snapshot: idle %zu taken %zu created %llu reclaimed %llu\n",
                st.idle, st.taken, (unsigned long long)st.created,
                (unsigned long long)st.reclaimed);
    }
    atomic_fetch_add_explicit(&snapshots, 1, memory_order_relaxed);
    atomic_store_explicit(&sampling, true, memory_order_relaxed);
  } while (!atomic_load_explicit(&stop, memory_order_relaxed));
  return NULL;
}

static void test_stats_under_churn(void **state) {
  (void)state;
  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.arena.source = &flaky;
  po.arena.chunk_size = 4096;
  po.arena.prealloc_chunks = 1;
  po.max_idle = MAX_IDLE;
  po.idle_ns = 1;
  ar_arena_pool_t *p = ar_arena_pool_create(&po);
  assert_non_null(p);
  pthread_t sampler, t[WORKERS];
  worker_t w[WORKERS];
  assert_int_equal(pthread_create(&sampler, NULL, sample, p), 0);
  for (unsigned i = 0; i < WORKERS; i++) {
    w[i] = (worker_t){p, i, 0, 0};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  uint64_t takes = 0;
  for (unsigned i = 0; i < WORKERS; i++) {
    void *why = NULL;
    assert_int_equal(pthread_join(t[i], &why), 0);
    if (why != NULL) fail_msg("worker %u: %s", i, (const char *)why);
    takes += w[i].takes;
  }
  atomic_store_explicit(&stop, true, memory_order_relaxed);
  assert_int_equal(pthread_join(sampler, NULL), 0);
  assert_int_equal(atomic_load(&bad_snapshots), 0);
  assert_true(atomic_load(&snapshots) > 0);
  ar_arena_pool_stats_t st;
  assert_int_equal(ar_arena_pool_stats(p, &st), AR_OK);
  assert_true(consistent(&st));
  assert_int_equal(st.taken, 0);
  assert_int_equal(st.created + st.reused, takes);
  ar_arena_pool_destroy(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stats_under_churn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
