/* SPDX-License-Identifier: MIT */
/*
 * tests/thread/thread_test.c - thread arenas and scopes: what ar_thread_arena_configure
 * accepts, the scope depth, the counters of allocation outside any scope, and its report; a
 * thread arena's life from first use to thread exit, nested scopes and stale ends. (The debug
 * check that a serial arena is used only from the thread that owns it is the serial arena's:
 * tests/arena/arena_test.c, "owner thread".)
 *
 * Each case that needs a fresh thread arena runs its body on a new thread (a thread arena is
 * created on first use and lives until its thread exits). Reports go to stderr, so those
 * cases run in a forked child whose stderr the test reads (tests/child.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "runtime/arena_internal.h" /* AR_DEBUG and AR_HEAP as the library sees them; the
                                       * chunk size an arena was made with */
#include "tests/bad_options.h"
#include "tests/child.h"

/* Runs fn(arg) on a new thread and returns what it returned. */
static void *on_new_thread(void *(*fn)(void *), void *arg) {
  pthread_t t;
  void *ret = NULL;
  assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
  assert_int_equal(pthread_join(t, &ret), 0);
  return ret;
}

/* ---- configure ------------------------------------------------------------------------ */

typedef struct probe {
  ar_arena_t *arena;
  ar_error_t err;
  size_t chunk_size; /* the thread arena's (white-box: the heap flavor holds no chunks) */
  bool pool_source;  /* its source is the process-wide chunk pool's (white-box) */
  unsigned depth;
  ar_scope_t scope;     /* what ar_scope_begin returned */
  ar_error_t scope_err; /* the last error right after it */
} probe_t;

static void *probe_body(void *arg) {
  probe_t *pr = (probe_t *)arg;
  ar_clear_error();
  pr->arena = ar_thread_arena();
  pr->err = ar_last_error();
  if (pr->arena != NULL) {
    const ar_source_t *pool = ar_chunk_pool_source(ar_chunk_pool_default());
    pr->chunk_size = pr->arena->chunk_size;
    pr->pool_source = pr->arena->source.acquire == pool->acquire &&
                      pr->arena->source.ctx == pool->ctx;
  }
  ar_clear_error();
  ar_scope_t s = ar_scope_begin();
  pr->scope = s;
  pr->scope_err = ar_last_error();
  pr->depth = ar_scope_depth();
  if (s.arena != NULL) ar_scope_end(&s);
  return NULL;
}

static probe_t probe(void) {
  probe_t pr;
  memset(&pr, 0, sizeof pr);
  on_new_thread(probe_body, &pr);
  return pr;
}

/* configure refuses what ar_arena_create refuses, with its code, and keeps the old options. */
static void expect_configure_refused(const ar_options_t *o) {
  ar_clear_error();
  assert_null(ar_arena_create(o));
  ar_error_t want = ar_last_error();
  assert_true(want == AR_EINVAL || want == AR_ELIMIT);
  ar_clear_error();
  assert_int_equal(ar_thread_arena_configure(o), want);
  assert_int_equal(ar_last_error(), want);
  probe_t pr = probe(); /* the configuration in force (8 KiB chunks) still makes arenas */
  assert_non_null(pr.arena);
  assert_int_equal(pr.chunk_size, 8192);
}

static void test_configure_validates(void **state) {
  (void)state;
  ar_options_t good = AR_OPTIONS_INIT;
  good.chunk_size = 8192;
  assert_int_equal(ar_thread_arena_configure(&good), AR_OK);
  assert_int_equal(probe().chunk_size, 8192);

  for_each_bad_option(expect_configure_refused);

  /* The source struct is copied: the caller may free it. */
  ar_source_t *src = malloc(sizeof *src);
  assert_non_null(src);
  *src = *ar_source_malloc();
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = src;
  o.chunk_size = 4096;
  o.prealloc_chunks = 1;
  assert_int_equal(ar_thread_arena_configure(&o), AR_OK);
  memset(src, 0, sizeof *src);
  free(src);
  probe_t pr = probe();
  assert_non_null(pr.arena);
  assert_int_equal(pr.chunk_size, 4096);
  assert_int_equal(pr.depth, 1);

  /* A chunk_size that rounds up to the default one (to 64 bytes, as ar_arena_create rounds)
   * gets default-size chunks, so it gets the default source too: the chunk pool. */
  ar_options_t near = AR_OPTIONS_INIT;
  near.chunk_size = AR_DEFAULT_CHUNK_SIZE - 40;
  assert_int_equal(ar_thread_arena_configure(&near), AR_OK);
  pr = probe();
  assert_int_equal(pr.chunk_size, AR_DEFAULT_CHUNK_SIZE);
  assert_true(pr.pool_source);

  assert_int_equal(ar_thread_arena_configure(NULL), AR_OK);
  pr = probe();
  assert_int_equal(pr.chunk_size, AR_DEFAULT_CHUNK_SIZE);
  assert_true(pr.pool_source);
}

static void *refuse(void *ctx, size_t size) {
  (void)ctx;
  (void)size;
  return NULL;
}
static void never_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  (void)p;
  (void)size;
}

/* With valid options, a thread arena that cannot be made fails with AR_ENOMEM (as documented),
 * and a scope begun then is no scope: depth 0. */
static void test_thread_arena_enomem(void **state) {
  (void)state;
  if (AR_HEAP) skip(); /* the heap flavor never calls the source: nothing can fail */
  ar_source_t none = {refuse, never_release, NULL, "refuses"};
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = &none;
  o.prealloc_chunks = 1;
  assert_int_equal(ar_thread_arena_configure(&o), AR_OK);
  probe_t pr = probe();
  ar_thread_arena_configure(NULL);
  assert_null(pr.arena);
  assert_int_equal(pr.err, AR_ENOMEM);
  assert_int_equal(pr.depth, 0);
  /* thread.h: the scope's arena is NULL, and the reason stays the creation's. */
  assert_null(pr.scope.arena);
  assert_int_equal(pr.scope_err, AR_ENOMEM);
  assert_int_equal(ar_scope_end(&pr.scope), AR_EINVAL);
}

/* ---- scope depth and the outside-scope counters --------------------------------------- */

static void expect_stats(unsigned depth, uint64_t allocs, size_t bytes) {
  ar_scope_stats_t st;
  assert_int_equal(ar_scope_stats(&st), AR_OK);
  assert_int_equal(st.depth, depth);
  assert_int_equal(ar_scope_depth(), depth);
  assert_int_equal(st.outside_allocs, allocs);
  assert_int_equal(st.outside_bytes, bytes);
}

static size_t used_now(void) {
  ar_stats_t st;
  assert_int_equal(ar_arena_stats(ar_thread_arena(), &st), AR_OK);
  return st.used;
}

static void *depth_body(void *arg) {
  (void)arg;
  /* No thread arena yet: everything zero, and asking does not create one. */
  expect_stats(0, 0, 0);
  assert_int_equal(ar_scope_stats(NULL), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);

  ar_arena_t *a = ar_thread_arena();
  assert_non_null(a);
  expect_stats(0, 0, 0);
  for (int i = 0; i < 3; i++) assert_non_null(ar_alloc(a, 100));
  size_t held = used_now();
  assert_true(held >= 300);
  expect_stats(0, 3, held);

  ar_scope_t outer = ar_scope_begin();
  assert_int_equal(outer.level_, 1);
  expect_stats(1, 3, held);
  for (int i = 0; i < 5; i++) assert_non_null(ar_alloc(a, 1000));
  ar_scope_t inner = ar_scope_begin();
  expect_stats(2, 3, held);
  assert_non_null(ar_alloc(a, 70000)); /* a new chunk inside the inner scope */
  assert_int_equal(ar_scope_end(&inner), AR_OK);
  expect_stats(1, 3, held);
  assert_int_equal(ar_scope_end(&outer), AR_OK);
  expect_stats(0, 3, held); /* the scopes freed their memory; the outside part stays */
  assert_int_equal(used_now(), held);

  assert_non_null(ar_alloc(a, 50));
  assert_non_null(ar_alloc(a, 50));
  size_t held2 = used_now();
  expect_stats(0, 5, held2);

  /* Ending the outer scope closes the inner one; a late end of the inner one and a second
   * end of the outer one are stale and leave the depth at 0. */
  outer = ar_scope_begin();
  assert_non_null(ar_alloc(a, 10));
  inner = ar_scope_begin();
  assert_non_null(ar_alloc(a, 10));
  expect_stats(2, 5, held2);
  assert_int_equal(ar_scope_end(&outer), AR_OK);
  expect_stats(0, 5, held2);
  assert_int_equal(ar_scope_end(&inner), AR_ESTALE);
  expect_stats(0, 5, held2);
  assert_int_equal(ar_scope_end(&outer), AR_ESTALE); /* ended twice */
  expect_stats(0, 5, held2);
  assert_int_equal(ar_scope_end(NULL), AR_EINVAL);
  expect_stats(0, 5, held2);

  /* Depth counts every open scope, deeply nested. */
  ar_scope_t s[10];
  for (unsigned i = 0; i < 10; i++) {
    s[i] = ar_scope_begin();
    assert_int_equal(ar_scope_depth(), i + 1);
  }
  for (unsigned i = 10; i-- > 0;) {
    assert_int_equal(ar_scope_end(&s[i]), AR_OK);
    assert_int_equal(ar_scope_depth(), i);
  }
  expect_stats(0, 5, held2);
  return NULL;
}

static void test_scope_depth_and_outside_stats(void **state) {
  (void)state;
  assert_null(on_new_thread(depth_body, NULL));
}

/* ---- the report ----------------------------------------------------------------------- */

typedef struct report_case {
  size_t threshold;
  size_t outside;   /* bytes to allocate outside any scope */
  bool open_scopes; /* begin and end scopes afterwards (three times) */
} report_case_t;

static void *report_body(void *arg) {
  const report_case_t *c = (const report_case_t *)arg;
  ar_arena_t *a = ar_thread_arena();
  if (a == NULL || (c->outside > 0 && ar_alloc(a, c->outside) == NULL)) abort();
  for (int i = 0; c->open_scopes && i < 3; i++) {
    ar_scope_t s = ar_scope_begin();
    if (ar_alloc(s.arena, 10) == NULL || ar_scope_end(&s) != AR_OK) abort();
  }
  return NULL;
}

static void child_report(void *arg) {
  const report_case_t *c = (const report_case_t *)arg;
  size_t old = ar_scope_report_threshold(c->threshold);
  fprintf(stderr, "default=%zu\n", old);
  pthread_t t;
  if (pthread_create(&t, NULL, report_body, arg) != 0 || pthread_join(t, NULL) != 0) abort();
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

static void run_report(report_case_t c, char *err, size_t errsize) {
  int status = child_run(child_report, &c, err, errsize);
  assert_true(child_exited(status, 0));
  char want[64];
  snprintf(want, sizeof want, "default=%zu\n", AR_DEBUG >= 1 ? AR_SCOPE_REPORT_DEFAULT_BYTES : 0);
  if (strstr(err, want) == NULL) fail_msg("default threshold: want %s, child said: %s", want, err);
}

static void test_report(void **state) {
  (void)state;
  char err[4096];
  /* Past the threshold when a scope begins: one line, not one per scope. */
  run_report((report_case_t){1000, 5000, true}, err, sizeof err);
  assert_int_equal(count(err, "arenart: thread arena '"), 1);
  assert_int_equal(count(err, "outside any scope (seen when a scope began)"), 1);
  assert_int_equal(count(err, " allocations as ar_stats_t.allocs counts them;"), 1);
  /* Past the threshold with no scope ever opened: reported at thread exit. */
  run_report((report_case_t){1000, 5000, false}, err, sizeof err);
  assert_int_equal(count(err, "arenart: thread arena '"), 1);
  assert_int_equal(count(err, "outside any scope (at thread exit)"), 1);
  /* Below the threshold, or reporting off: nothing. */
  run_report((report_case_t){100000, 5000, true}, err, sizeof err);
  assert_int_equal(count(err, "arenart:"), 0);
  run_report((report_case_t){0, 5000, true}, err, sizeof err);
  assert_int_equal(count(err, "arenart:"), 0);
  /* The setter returns the previous value. */
  size_t old = ar_scope_report_threshold(123);
  assert_int_equal(ar_scope_report_threshold(old), 123);
}

/* A scope closed by its outer scope's end must stay closed: ending it late is AR_ESTALE and
 * frees nothing, even when a newer scope has begun since at the same level and (with nothing
 * allocated in between) at the same position, so that the two marks name one save point. */
static void test_late_end_of_a_closed_scope(void **state) {
  (void)state;
  ar_scope_t s1 = ar_scope_begin();
  ar_scope_t s2 = ar_scope_begin();
  assert_non_null(s1.arena);
  assert_int_equal(ar_scope_end(&s1), AR_OK); /* closes s2 too */
  assert_int_equal(ar_scope_depth(), 0);
  ar_scope_t s3 = ar_scope_begin();
  ar_scope_t s4 = ar_scope_begin();
  char *msg = (char *)ar_alloc(s4.arena, 64);
  assert_non_null(msg);
  strcpy(msg, "s4 data");
  assert_int_equal(ar_scope_end(&s2), AR_ESTALE);
  assert_int_equal(ar_last_error(), AR_ESTALE);
  assert_int_equal(ar_scope_depth(), 2);
  assert_true(ar_owns(s4.arena, msg));
  char *other = (char *)ar_alloc(s4.arena, 64);
  assert_non_null(other);
  assert_ptr_not_equal(other, msg);
  assert_string_equal(msg, "s4 data");
  assert_int_equal(ar_scope_end(&s4), AR_OK);
  assert_int_equal(ar_scope_end(&s4), AR_ESTALE); /* twice */
  assert_int_equal(ar_scope_depth(), 1);
  assert_int_equal(ar_scope_end(&s3), AR_OK);
  assert_int_equal(ar_scope_end(&s1), AR_ESTALE); /* a closed outermost scope, too */
  assert_int_equal(ar_scope_depth(), 0);
}

/* ---- lifecycle and scopes ------------------------------------------------------------- */

/* A thread arena is made on first use, is the same arena for the rest of the thread, and is
 * destroyed (unregistered, its chunks given back) when the thread exits. */
static void *thread_arena_body(void *arg) {
  ar_arena_t **out = (ar_arena_t **)arg;
  ar_arena_t *a = ar_thread_arena();
  if (a == NULL || ar_thread_arena() != a) return (void *)1;
  if (ar_alloc(a, 1000) == NULL) return (void *)2;
  *out = a;
  return NULL;
}

static int count_kind(const ar_arena_info_t *info, void *ctx) {
  if (info->kind == AR_KIND_THREAD) (*(int *)ctx)++;
  return 0;
}

static void test_thread_arena_lifecycle(void **state) {
  (void)state;
  ar_global_stats_t g0, g1;
  ar_stats_global(&g0);
  int threads_before = 0;
  ar_registry_foreach(count_kind, &threads_before);
  ar_arena_t *seen[2] = {NULL, NULL};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, thread_arena_body, &seen[i]);
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(t[i], &r);
    assert_null(r);
  }
  assert_non_null(seen[0]);
  assert_non_null(seen[1]);
  ar_stats_global(&g1);
  /* both thread arenas were created and destroyed at thread exit */
  assert_int_equal(g1.arenas_created, g0.arenas_created + 2);
  assert_int_equal(g1.arenas_live, g0.arenas_live);
  assert_int_equal(g1.chunks_in_use, g0.chunks_in_use);
  assert_true(g1.avg_lifetime_ns > 0);
  int threads_after = 0;
  ar_registry_foreach(count_kind, &threads_after);
  assert_int_equal(threads_after, threads_before);
}

static void test_scopes(void **state) {
  (void)state;
  ar_scope_t outer = ar_scope_begin();
  assert_non_null(outer.arena);
  assert_ptr_equal(outer.arena, ar_thread_arena());
  ar_stats_t s0, s1;
  ar_arena_stats(outer.arena, &s0);
  assert_non_null(ar_alloc(outer.arena, 100));
  ar_scope_t inner = ar_scope_begin();
  for (int i = 0; i < 100; i++) assert_non_null(ar_alloc(inner.arena, 5000));
  assert_int_equal(ar_scope_end(&inner), AR_OK);
  assert_int_equal(ar_scope_end(&outer), AR_OK);
  ar_arena_stats(outer.arena, &s1);
  assert_int_equal(s1.used, s0.used);
  /* ending the outer scope ended the inner one: its mark is stale now */
  ar_scope_t outer2 = ar_scope_begin();
  assert_non_null(ar_alloc(outer2.arena, 64)); /* inner2 starts past outer2's position */
  ar_scope_t inner2 = ar_scope_begin();
  assert_non_null(ar_alloc(inner2.arena, 70000));
  assert_int_equal(ar_scope_end(&outer2), AR_OK);
  assert_int_equal(ar_scope_end(&inner2), AR_ESTALE);
  assert_int_equal(ar_scope_end(NULL), AR_EINVAL);
  ar_options_t bad = AR_OPTIONS_INIT;
  bad.chunk_size = 10;
  assert_int_equal(ar_thread_arena_configure(&bad), AR_EINVAL);
  assert_int_equal(ar_thread_arena_configure(NULL), AR_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_configure_validates),
      cmocka_unit_test(test_thread_arena_enomem),
      cmocka_unit_test(test_scope_depth_and_outside_stats),
      cmocka_unit_test(test_report),
      cmocka_unit_test(test_late_end_of_a_closed_scope),
      cmocka_unit_test(test_thread_arena_lifecycle),
      cmocka_unit_test(test_scopes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
