/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/keep_test.c - what a serial arena keeps across resets (arena.h, ar_reset).
 *
 *   - AR_RETAIN_AUTO (the default) keeps what the last requests used, dedicated chunks too:
 *     repeating a request costs the source nothing, and a dedicated request gets its old chunk
 *     back (or one at most about twice its size);
 *   - what it keeps decays to the steady need within about a second of resets, is never more
 *     than AR_RETAIN_AUTO_MAX, and never includes a chunk above it;
 *   - kept chunks are idle: a request under limit_bytes that needs their room gets it;
 *   - an explicit retain_bytes keeps ordinary chunks only, as before; release gives back all.
 * The counting source shows what the arena really holds and asks for.
 *
 * Heap flavor (AR_HEAP): there are no chunks to keep; the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/test_sources.h"
#include "tests/arena/arena_unit.h"

#define BIG ((size_t)100000) /* a dedicated chunk: far over a quarter of CHUNK */

static test_source_t src;

static ar_arena_t *make_arena(size_t retain, size_t limit) {
  return unit_arena(0, retain, limit, test_source_init(&src));
}

/* Ten small blocks (three ordinary chunks) and one dedicated block. */
static void *request(ar_arena_t *a, size_t big) {
  for (int i = 0; i < 10; i++) assert_non_null(ar_alloc(a, 700));
  void *p = ar_alloc(a, big);
  assert_non_null(p);
  memset(p, 1, big);
  return p;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static bool heap_flavor(void) { return AR_HEAP != 0; }

static void test_default_is_auto(void **state) {
  (void)state;
  ar_options_t o;
  ar_options_init(&o);
  assert_true(o.retain_bytes == AR_RETAIN_AUTO);
  assert_true(AR_DEFAULT_RETAIN_BYTES == AR_RETAIN_AUTO);
}

static void test_auto_keeps_what_was_used(void **state) {
  (void)state;
  if (heap_flavor()) skip();
  ar_arena_t *a = make_arena(AR_RETAIN_AUTO, 0);
  void *p = request(a, BIG);
  size_t cap = stats_of(a).capacity;
  size_t acquired = src.acquires;
  ar_reset(a);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.capacity, cap);
  assert_int_equal(s.used, 0);
  assert_int_equal(s.large_chunks, 0);
  assert_true(s.spare_chunks >= 2); /* ordinary ones and the dedicated one */
  assert_int_equal(ar_arena_check(a), AR_OK);
  for (int r = 0; r < 5; r++) {
    void *q = request(a, BIG);
    assert_ptr_equal(q, p); /* the kept dedicated chunk, reused as it was */
    assert_int_equal(stats_of(a).large_chunks, 1);
    assert_true(ar_owns(a, q));
    ar_reset(a);
    assert_false(ar_owns(a, q));
    assert_int_equal(ar_arena_check(a), AR_OK);
  }
  assert_int_equal(src.acquires, acquired);
  assert_int_equal(src.releases, 0);
  /* A smaller dedicated request reuses the chunk when it is at most about twice as big. */
  void *q = request(a, BIG * 2 / 3);
  assert_ptr_equal(q, p);
  ar_reset(a);
  assert_int_equal(src.acquires, acquired);
  /* A much smaller one does not take it (it asks the source instead). */
  for (int i = 0; i < 10; i++) assert_non_null(ar_alloc(a, 700));
  q = ar_alloc(a, BIG / 4);
  assert_non_null(q);
  assert_ptr_not_equal(q, p);
  assert_int_equal(src.acquires, acquired + 1);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_release(a);
  ar_stats_t r = stats_of(a);
  assert_int_equal(r.capacity, 0);
  assert_int_equal(r.spare_chunks, 0);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

static void test_rewind_keeps_dedicated(void **state) {
  (void)state;
  if (heap_flavor()) skip();
  ar_arena_t *a = make_arena(AR_RETAIN_AUTO, 0);
  ar_mark_t m = ar_mark(a);
  void *p = request(a, BIG);
  size_t acquired = src.acquires;
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(stats_of(a).large_chunks, 0);
  assert_int_equal(ar_arena_check(a), AR_OK);
  void *q = request(a, BIG);
  assert_ptr_equal(q, p);
  assert_int_equal(src.acquires, acquired);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

static void test_auto_decays(void **state) {
  (void)state;
  if (heap_flavor()) skip();
  ar_arena_t *a = make_arena(AR_RETAIN_AUTO, 0);
  (void)request(a, (size_t)4 << 20);
  ar_reset(a);
  size_t kept = stats_of(a).capacity;
  assert_true(kept > ((size_t)4 << 20));
  /* Small requests for a while: what is kept falls to their need. */
  for (int r = 0; r < 200 && stats_of(a).capacity > 8 * CHUNK; r++) {
    for (int i = 0; i < 10; i++) assert_non_null(ar_alloc(a, 700));
    ar_reset(a);
    sleep_ms(20);
  }
  assert_true(stats_of(a).capacity <= 8 * CHUNK);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

static void test_auto_cap(void **state) {
  (void)state;
  if (heap_flavor()) skip();
  ar_arena_t *a = make_arena(AR_RETAIN_AUTO, 0);
  /* Over the cap: never kept. The source is malloc; the pages are not touched. */
  assert_non_null(ar_alloc(a, AR_RETAIN_AUTO_MAX + 1));
  ar_reset(a);
  assert_true(stats_of(a).capacity <= AR_RETAIN_AUTO_MAX);
  assert_int_equal(stats_of(a).spare_chunks, 0);
  /* Many dedicated chunks: at most the cap is kept. */
  for (int i = 0; i < 20; i++) assert_non_null(ar_alloc(a, (size_t)4 << 20));
  ar_reset(a);
  assert_true(stats_of(a).capacity <= AR_RETAIN_AUTO_MAX);
  assert_true(stats_of(a).capacity >= AR_RETAIN_AUTO_MAX / 2);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

static void test_kept_chunks_are_idle_under_a_limit(void **state) {
  (void)state;
  if (heap_flavor()) skip();
  ar_arena_t *a = make_arena(AR_RETAIN_AUTO, 4 * BIG);
  assert_non_null(ar_alloc(a, BIG));
  assert_non_null(ar_alloc(a, BIG));
  ar_reset(a);
  assert_int_equal(stats_of(a).spare_chunks, 2);
  /* Needs the room of both kept chunks (they are too small to be reused for it). */
  void *p = ar_alloc(a, 3 * BIG);
  assert_non_null(p);
  ar_stats_t s = stats_of(a);
  assert_true(s.capacity <= 4 * BIG);
  assert_int_equal(s.large_chunks, 1);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

static void test_failing_source_with_kept_chunks(void **state) {
  (void)state;
  if (heap_flavor()) skip();
  ar_arena_t *a = make_arena(AR_RETAIN_AUTO, 0);
  assert_non_null(ar_alloc(a, BIG));
  ar_reset(a);
  ar_stats_t before = stats_of(a);
  src.fail_from = src.attempts + 1;
  assert_null(ar_alloc(a, 10 * BIG)); /* no kept chunk fits; the source fails */
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  ar_stats_t after = stats_of(a);
  assert_int_equal(after.capacity, before.capacity);
  assert_int_equal(after.spare_chunks, before.spare_chunks);
  assert_non_null(ar_alloc(a, BIG)); /* the kept one still serves, without the source */
  src.fail_from = 0;
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

static void test_explicit_retain_keeps_no_dedicated(void **state) {
  (void)state;
  if (heap_flavor()) skip();
  ar_arena_t *a = make_arena(8 * CHUNK, 0);
  (void)request(a, BIG);
  ar_reset(a);
  ar_stats_t s = stats_of(a);
  assert_true(s.capacity <= 8 * CHUNK);
  assert_int_equal(s.large_chunks, 0);
  size_t released = src.releases;
  assert_true(released >= 1);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_is_auto),
      cmocka_unit_test(test_auto_keeps_what_was_used),
      cmocka_unit_test(test_rewind_keeps_dedicated),
      cmocka_unit_test(test_auto_decays),
      cmocka_unit_test(test_auto_cap),
      cmocka_unit_test(test_kept_chunks_are_idle_under_a_limit),
      cmocka_unit_test(test_failing_source_with_kept_chunks),
      cmocka_unit_test(test_explicit_retain_keeps_no_dedicated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
