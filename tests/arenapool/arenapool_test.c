/* SPDX-License-Identifier: MIT */
/*
 * tests/arenapool/arenapool_test.c - the arena pool (runtime/arenapool.c): its create-time option
 * checks, its stats snapshot, and take/give/trim.
 *
 * Options: ar_arena_pool_create must refuse, with ar_arena_create's code, every option that
 * ar_arena_create refuses (before the fix it accepted them and every take failed), and must
 * copy the source struct. Snapshot: a source whose acquire blocks holds a take in the middle
 * of creating its arena (prealloc_chunks = 1 makes creation call the source) while the test
 * thread reads the stats; the invariants of arenapool.h must hold there, for a take that will
 * succeed and for one that will fail. No timing: the test waits on a condition variable until
 * the taker is inside acquire (or, in the heap flavor, which never calls the source, has
 * finished).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/bad_options.h"

static void check_invariants(const ar_arena_pool_stats_t *st, size_t max_idle) {
  assert_true(st->reclaimed <= st->created);
  assert_int_equal((uint64_t)st->idle + st->taken, st->created - st->reclaimed);
  assert_true(st->idle <= max_idle);
}

/* ---- options ----------------------------------------------------------------------- */

static void expect_refused(const ar_options_t *o) {
  ar_clear_error();
  assert_null(ar_arena_create(o));
  ar_error_t want = ar_last_error();
  assert_true(want == AR_EINVAL || want == AR_ELIMIT);
  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.arena = *o;
  ar_clear_error();
  assert_null(ar_arena_pool_create(&po));
  assert_int_equal(ar_last_error(), want);
}

static void test_create_refuses_what_arena_create_refuses(void **state) {
  (void)state;
  for_each_bad_option(expect_refused);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = ((size_t)1 << 30) + 1;
  expect_refused(&o);
  /* A chunk size that rounds up to 64 bytes counts rounded against the limit. */
  o.chunk_size = 4000;
  o.limit_bytes = 3 * 4000;
  o.prealloc_chunks = 3;
  expect_refused(&o);
  /* The largest accepted values are accepted, and a take then works. */
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.limit_bytes = 8192;
  o.prealloc_chunks = 2;
  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.arena = o;
  ar_arena_pool_t *p = ar_arena_pool_create(&po);
  assert_non_null(p);
  ar_arena_t *a = ar_arena_pool_take(p);
  assert_non_null(a);
  assert_int_equal(ar_arena_pool_give(p, a), AR_OK);
  ar_arena_pool_destroy(p);
}

/* The caller's source struct and name need not outlive ar_arena_pool_create. */
static void test_create_copies_source(void **state) {
  (void)state;
  ar_source_t *src = malloc(sizeof *src);
  assert_non_null(src);
  *src = *ar_source_malloc();
  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.arena.source = src;
  po.arena.chunk_size = 4096;
  po.arena.prealloc_chunks = 1;
  ar_arena_pool_t *p = ar_arena_pool_create(&po);
  assert_non_null(p);
  memset(src, 0, sizeof *src);
  free(src);
  ar_arena_t *a = ar_arena_pool_take(p);
  assert_non_null(a);
  assert_non_null(ar_alloc(a, 100));
  assert_int_equal(ar_arena_pool_give(p, a), AR_OK);
  ar_arena_pool_destroy(p);
}

/* ---- the snapshot in the middle of a take ------------------------------------------- */

typedef struct gate {
  pthread_mutex_t m;
  pthread_cond_t cv;
  bool block; /* acquire waits for `open` */
  bool fail;  /* acquire then returns NULL */
  bool inside, open, done;
  ar_arena_pool_t *pool;
  ar_arena_t *taken;
  ar_error_t err;
} gate_t;

static void *gate_acquire(void *ctx, size_t size) {
  gate_t *g = (gate_t *)ctx;
  pthread_mutex_lock(&g->m);
  bool fail = g->fail;
  if (g->block) {
    g->inside = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) pthread_cond_wait(&g->cv, &g->m);
  }
  pthread_mutex_unlock(&g->m);
  if (fail) return NULL;
  return ar_source_malloc()->acquire(ar_source_malloc()->ctx, size);
}

static void gate_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  ar_source_malloc()->release(ar_source_malloc()->ctx, p, size);
}

static void *taker(void *arg) {
  gate_t *g = (gate_t *)arg;
  ar_arena_t *a = ar_arena_pool_take(g->pool);
  ar_error_t err = a == NULL ? ar_last_error() : AR_OK;
  pthread_mutex_lock(&g->m);
  g->taken = a;
  g->err = err;
  g->done = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->m);
  return NULL;
}

/* Starts a take that blocks in the source, samples the stats while it is blocked, lets it go
 * and returns what it took. `during` gets the blocked snapshot. */
static ar_arena_t *blocked_take(gate_t *g, bool fail, ar_arena_pool_stats_t *during,
                                bool *was_inside, ar_error_t *err) {
  pthread_mutex_lock(&g->m);
  g->block = true;
  g->fail = fail;
  g->inside = g->open = g->done = false;
  pthread_mutex_unlock(&g->m);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, taker, g), 0);
  pthread_mutex_lock(&g->m);
  while (!g->inside && !g->done) pthread_cond_wait(&g->cv, &g->m);
  *was_inside = g->inside;
  pthread_mutex_unlock(&g->m);
  assert_int_equal(ar_arena_pool_stats(g->pool, during), AR_OK);
  pthread_mutex_lock(&g->m);
  g->open = true;
  g->block = false;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->m);
  assert_int_equal(pthread_join(t, NULL), 0);
  *err = g->err;
  if (g->taken != NULL) ar_arena_adopt(g->taken); /* the join ordered the take before us */
  return g->taken;
}

static void test_stats_during_take(void **state) {
  (void)state;
  gate_t g;
  memset(&g, 0, sizeof g);
  pthread_mutex_init(&g.m, NULL);
  pthread_cond_init(&g.cv, NULL);
  ar_source_t src = {gate_acquire, gate_release, &g, "gate"};
  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.arena.source = &src;
  po.arena.chunk_size = 4096;
  po.arena.prealloc_chunks = 1; /* creation calls the source */
  po.max_idle = 4;
  g.pool = ar_arena_pool_create(&po);
  assert_non_null(g.pool);
  ar_arena_pool_stats_t during, after;
  bool inside;
  ar_error_t err;

  /* A take that creates an arena: while it is inside the source nothing is taken yet. */
  ar_arena_t *a = blocked_take(&g, false, &during, &inside, &err);
  assert_non_null(a);
  if (inside) {
    check_invariants(&during, po.max_idle);
    assert_int_equal(during.taken, 0);
    assert_int_equal(during.created, 0);
  }
  assert_int_equal(ar_arena_pool_stats(g.pool, &after), AR_OK);
  check_invariants(&after, po.max_idle);
  assert_int_equal(after.taken, 1);
  assert_int_equal(after.created, 1);

  /* A take whose creation fails: no counter moves, before or after. */
  ar_arena_t *b = blocked_take(&g, true, &during, &inside, &err);
  if (inside) {
    assert_null(b);
    assert_int_equal(err, AR_ENOMEM);
    check_invariants(&during, po.max_idle);
    assert_int_equal(during.taken, 1);
    assert_int_equal(during.created, 1);
    assert_int_equal(ar_arena_pool_stats(g.pool, &after), AR_OK);
    check_invariants(&after, po.max_idle);
    assert_int_equal(after.taken, 1);
    assert_int_equal(after.created, 1);
  } else { /* heap flavor: the source is never called, so the take succeeded */
    assert_non_null(b);
    assert_int_equal(ar_arena_pool_give(g.pool, b), AR_OK);
  }

  /* Give and take again: the idle arena moves back to taken. */
  assert_int_equal(ar_arena_pool_give(g.pool, a), AR_OK);
  assert_int_equal(ar_arena_pool_stats(g.pool, &after), AR_OK);
  check_invariants(&after, po.max_idle);
  assert_int_equal(after.taken, 0);
  a = ar_arena_pool_take(g.pool);
  assert_non_null(a);
  assert_int_equal(ar_arena_pool_stats(g.pool, &after), AR_OK);
  check_invariants(&after, po.max_idle);
  assert_int_equal(after.taken, 1);
  assert_true(after.reused >= 1);
  assert_int_equal(ar_arena_pool_give(g.pool, a), AR_OK);
  assert_int_equal(ar_arena_pool_trim(g.pool, true), after.idle + 1);
  assert_int_equal(ar_arena_pool_stats(g.pool, &after), AR_OK);
  check_invariants(&after, po.max_idle);
  assert_int_equal(after.idle, 0);
  assert_int_equal(after.taken, 0);
  ar_arena_pool_destroy(g.pool);
  pthread_cond_destroy(&g.cv);
  pthread_mutex_destroy(&g.m);
}

/* Givers race for the pool's lock. An arena is reclaimed for age only when it has been idle
 * longer than idle_ns (an hour here), so however the givers interleave, nothing may be
 * reclaimed, and no more arenas may ever exist than threads hold at once. (The clock used to
 * be read before the lock: a giver that lost the race pushed an older time than the arena
 * above it, the unsigned age wrapped, and arenas idle for microseconds were destroyed and
 * created again, hundreds of times a second.) */
enum { CHURN_THREADS = 4, CHURN_ROUNDS = 100000 };

static void *churn(void *arg) {
  ar_arena_pool_t *pool = (ar_arena_pool_t *)arg;
  for (int i = 0; i < CHURN_ROUNDS; i++) {
    ar_arena_t *a = ar_arena_pool_take(pool);
    if (a == NULL || ar_alloc(a, 64) == NULL || ar_arena_pool_give(pool, a) != AR_OK)
      return (void *)1;
  }
  return NULL;
}

static void test_give_never_reclaims_young_arenas(void **state) {
  (void)state;
  ar_arena_pool_options_t po;
  ar_arena_pool_options_init(&po);
  po.idle_ns = 3600ull * 1000000000ull;
  assert_true(po.max_idle >= CHURN_THREADS);
  ar_arena_pool_t *pool = ar_arena_pool_create(&po);
  assert_non_null(pool);
  pthread_t t[CHURN_THREADS];
  for (int i = 0; i < CHURN_THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, churn, pool), 0);
  for (int i = 0; i < CHURN_THREADS; i++) {
    void *rc;
    assert_int_equal(pthread_join(t[i], &rc), 0);
    assert_null(rc);
  }
  ar_arena_pool_stats_t st;
  assert_int_equal(ar_arena_pool_stats(pool, &st), AR_OK);
  assert_int_equal(st.reclaimed, 0);
  assert_true(st.created <= CHURN_THREADS);
  assert_int_equal(st.taken, 0);
  assert_int_equal(st.idle, st.created);
  ar_arena_pool_destroy(pool);
}

/* ---- take, give, trim ------------------------------------------------------------------ */

/* LIFO reuse, max_idle, the retain target following a moving average, trim; and the
 * create-time refusal in its simplest form (the full set is above). */
static void test_arena_pool(void **state) {
  (void)state;
  assert_null(ar_arena_pool_take(NULL));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_arena_pool_options_t po;
  ar_arena_pool_options_init(&po);
  po.max_idle = 2;
  po.arena.retain_bytes = 8 * AR_DEFAULT_CHUNK_SIZE;
  ar_arena_pool_t *p = ar_arena_pool_create(&po);
  assert_non_null(p);
  ar_arena_t *a = ar_arena_pool_take(p);
  ar_arena_t *b = ar_arena_pool_take(p);
  ar_arena_t *c = ar_arena_pool_take(p);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  assert_int_equal(ar_arena_pool_give(p, a), AR_OK);
  assert_int_equal(ar_arena_pool_give(p, b), AR_OK);
  assert_int_equal(ar_arena_pool_give(p, c), AR_OK); /* over max_idle: the oldest goes */
  ar_arena_pool_stats_t st;
  ar_arena_pool_stats(p, &st);
  assert_int_equal(st.idle, 2);
  assert_int_equal(st.taken, 0);
  assert_int_equal(st.created, 3);
  assert_int_equal(st.reclaimed, 1);
  /* LIFO: the most recently given comes back, empty */
  ar_arena_t *d = ar_arena_pool_take(p);
  assert_ptr_equal(d, c);
  ar_stats_t as;
  ar_arena_stats(d, &as);
  assert_int_equal(as.used, 0);
  /* one huge request does not pin its memory: retain follows the moving average */
  for (int i = 0; i < 30; i++) {
    assert_non_null(ar_alloc(d, 1000));
    assert_int_equal(ar_arena_pool_give(p, d), AR_OK);
    d = ar_arena_pool_take(p);
  }
  for (int i = 0; i < 6; i++) assert_non_null(ar_alloc(d, 60000)); /* ~6 chunks */
  assert_int_equal(ar_arena_pool_give(p, d), AR_OK);
  ar_arena_pool_stats(p, &st);
  assert_true(st.retain_target < 4 * AR_DEFAULT_CHUNK_SIZE);
  d = ar_arena_pool_take(p);
  ar_arena_stats(d, &as);
  assert_true(as.capacity <= st.retain_target + AR_DEFAULT_CHUNK_SIZE);
  assert_int_equal(ar_arena_pool_give(p, d), AR_OK);
  assert_int_equal(ar_arena_pool_trim(p, true), 2);
  ar_arena_pool_stats(p, &st);
  assert_int_equal(st.idle, 0);
  assert_int_equal(ar_arena_pool_give(NULL, NULL), AR_EINVAL);
  ar_arena_pool_destroy(p);

  /* options ar_arena_create would refuse are refused at pool creation, with its code (a
   * pool that accepted them would fail every take); the full set is in
   * test_create_refuses_what_arena_create_refuses */
  ar_arena_pool_options_init(&po);
  po.arena.prealloc_chunks = 2;
  po.arena.limit_bytes = AR_DEFAULT_CHUNK_SIZE;
  assert_null(ar_arena_pool_create(&po));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_give_never_reclaims_young_arenas),
      cmocka_unit_test(test_create_refuses_what_arena_create_refuses),
      cmocka_unit_test(test_create_copies_source),
      cmocka_unit_test(test_stats_during_take),
      cmocka_unit_test(test_arena_pool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
