/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/marks_test.c - save points of the serial arena (arena.h, ar_mark/ar_rewind).
 *
 * Two promises are checked here in every build mode:
 *   - a mark stays valid whatever is given back: ar_free, a shrinking or growing ar_realloc
 *     and container destruction of blocks from before the mark neither move the cursor below
 *     the mark nor let a rewind take back bytes of a live block;
 *   - staleness is exact: a mark taken after the save point a rewind went back to is
 *     rejected (AR_ESTALE, nothing changed) even when the cursor has grown back over its
 *     position, or when only dedicated chunks or cleanups lay between.
 * The give-back cases only bite where blocks are really given back (release and
 * AR_DEBUG = 1 builds, not slow-only modes, which quarantine freed blocks); they are
 * asserted in every build all the same, since the contract is the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/arena/arena_unit.h"

#define LARGE ((size_t)5000) /* over a whole CHUNK: always a dedicated chunk */
/* The heap flavor has no chunks: each allocation is its own malloc, counted in `chunks`. */
#define LARGE_CHUNKS(n) (AR_HEAP ? (size_t)0 : (size_t)(n))

static ar_arena_t *make_arena(unsigned flags) {
  return unit_arena(flags, AR_DEFAULT_RETAIN_BYTES, 0, NULL);
}

static void fill(void *p, size_t n, unsigned char tag) { memset(p, tag, n); }

static int cleanup_runs;
static void count_cleanup(void *arg) {
  (void)arg;
  cleanup_runs++;
}

/* ---- item 5: give-back never crosses a live mark ----------------------------------------- */

/* Freeing the newest block from before a mark (after freeing what came after it) used to move
 * the cursor below the mark: the rewind then said AR_ESTALE, and its cleanups never ran. */
static void test_free_before_mark_keeps_mark(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  cleanup_runs = 0;
  ar_mark_t outer = ar_mark(a);
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  char *p = (char *)ar_alloc(a, 64);
  assert_non_null(p);
  ar_mark_t m = ar_mark(a);
  char *q = (char *)ar_alloc(a, 32);
  assert_non_null(q);
  assert_int_equal(ar_free(a, q, 32), AR_OK); /* after the mark: may go back to the cursor */
  assert_int_equal(ar_free(a, p, 64), AR_OK); /* before it: must not */
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(ar_arena_check(a), AR_OK);
  assert_int_equal(ar_rewind(a, &outer), AR_OK);
  assert_int_equal(cleanup_runs, 1);
  assert_int_equal(stats_of(a).cleanups, 0);
  ar_arena_destroy(a);
}

/* The same through a shrinking ar_realloc of the block just before the mark. */
static void test_shrink_before_mark_keeps_mark(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  char *p = (char *)ar_alloc(a, 256);
  assert_non_null(p);
  fill(p, 256, 0x5A);
  ar_mark_t m = ar_mark(a);
  assert_ptr_equal(ar_realloc(a, p, 256, 16), p);
  char *after = (char *)ar_alloc(a, 64);
  assert_non_null(after);
  fill(after, 64, 0x11);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_true(intact(p, 16, 0x5A));
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* Growing the block just before the mark in place would put bytes of a live block above the
 * mark: the rewind would hand them to the next allocation. */
static void test_grow_before_mark_is_not_in_place(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  char *p = (char *)ar_alloc(a, 32);
  assert_non_null(p);
  ar_mark_t m = ar_mark(a);
  char *g = (char *)ar_realloc(a, p, 32, 128);
  assert_non_null(g);
  fill(g, 128, 0x77);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  /* A block that moved was allocated after the mark and the rewind took it back; one grown
   * in place is p, from before the mark, and must come through the rewind whole. */
  if (g == p) {
    char *x = (char *)ar_alloc(a, 96);
    assert_non_null(x);
    fill(x, 96, 0x00);
    assert_true(intact(g, 128, 0x77));
  }
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* A vector created before a scope and destroyed inside it gives its buffer back with ar_free;
 * the scope's end must still work. */
static void test_vec_destroyed_inside_mark(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, a, sizeof(uint64_t)), AR_OK);
  for (uint64_t i = 0; i < 20; i++) assert_int_equal(ar_vec_push(&v, &i), AR_OK);
  ar_mark_t m = ar_mark(a);
  ar_vec_destroy(&v); /* its buffer is the newest block: the cursor must stay put */
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* Thread-arena scopes are marks: ar_scope_end after freeing an older block. */
static void test_scope_end_after_free(void **state) {
  (void)state;
  ar_arena_t *t = ar_thread_arena();
  assert_non_null(t);
  ar_reset(t);
  char *p = (char *)ar_alloc(t, 48);
  assert_non_null(p);
  ar_scope_t s = ar_scope_begin();
  assert_int_equal(ar_free(t, p, 48), AR_OK);
  assert_int_equal(ar_scope_end(&s), AR_OK);
  assert_int_equal(ar_arena_check(t), AR_OK);
  ar_reset(t);
}

/* ---- item 13: stale marks are detected exactly ------------------------------------------- */

/* m2 is taken after small allocations that the rewind to m1 removes; the cursor then grows
 * back past m2's position. Accepting m2 would free `y`, which is live. */
static void test_stale_mark_same_chunk(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  assert_non_null(ar_alloc(a, 16)); /* the marks share a chunk */
  ar_mark_t m1 = ar_mark(a);
  assert_non_null(ar_alloc(a, 32));
  ar_mark_t m2 = ar_mark(a);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  char *y = (char *)ar_alloc(a, 64);
  assert_non_null(y);
  fill(y, 64, 0x3C);
  ar_stats_t before = stats_of(a);
  ar_clear_error();
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_last_error(), AR_ESTALE);
  ar_stats_t after = stats_of(a);
  assert_int_equal(after.used, before.used);
  assert_int_equal(after.chunks, before.chunks);
  assert_true(ar_owns(a, y));
  assert_true(intact(y, 64, 0x3C));
  /* m1 stays valid. */
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_false(ar_owns(a, y));
  ar_arena_destroy(a);
}

/* Only dedicated chunks between the marks: the ordinary cursor never moved. */
static void test_stale_mark_after_large_only(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  assert_non_null(ar_alloc(a, 16)); /* an ordinary chunk, so the marks name a position */
  ar_mark_t m1 = ar_mark(a);
  assert_non_null(ar_alloc(a, LARGE));
  ar_mark_t m2 = ar_mark(a);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  char *big = (char *)ar_alloc(a, LARGE);
  assert_non_null(big);
  fill(big, LARGE, 0x42);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(stats_of(a).large_chunks, LARGE_CHUNKS(1));
  assert_true(intact(big, LARGE, 0x42));
  ar_arena_destroy(a);
}

/* Only a cleanup between the marks: a stale m2 accepted would skip or run the wrong one. */
static void test_stale_mark_after_cleanup(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  assert_non_null(ar_alloc(a, 16)); /* the marks share a chunk */
  ar_mark_t m1 = ar_mark(a);
  cleanup_runs = 0;
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  ar_mark_t m2 = ar_mark(a);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_int_equal(cleanup_runs, 1);
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(cleanup_runs, 1);
  assert_int_equal(stats_of(a).cleanups, 1);
  ar_arena_destroy(a);
  assert_int_equal(cleanup_runs, 2);
}

/* Nested marks: each rewind invalidates exactly the marks taken after its target. */
static void test_nested_marks_exact(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  ar_mark_t m1 = ar_mark(a);
  assert_non_null(ar_alloc(a, 16));
  ar_mark_t m2 = ar_mark(a);
  assert_non_null(ar_alloc(a, 16));
  ar_mark_t m3 = ar_mark(a);
  assert_non_null(ar_alloc(a, 16));
  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m2), AR_OK); /* the target stays valid */
  /* Allocations regrow past m3's old position: m3 must stay stale. */
  assert_non_null(ar_alloc(a, 16));
  assert_non_null(ar_alloc(a, 16));
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  ar_mark_t m4 = ar_mark(a);
  assert_non_null(ar_alloc(a, 16));
  assert_int_equal(ar_rewind(a, &m4), AR_OK);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m4), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  /* Reset invalidates every mark, m1 included. */
  ar_reset(a);
  assert_int_equal(ar_rewind(a, &m1), AR_ESTALE);
  ar_arena_destroy(a);
}

/* Two marks with nothing allocated between them are one save point (arena.h): a rewind to
 * either leaves the other valid. */
static void test_marks_without_allocation_between_are_one(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  assert_non_null(ar_alloc(a, 16));
  ar_mark_t m1 = ar_mark(a);
  ar_mark_t m2 = ar_mark(a);
  assert_non_null(ar_alloc(a, 16));
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  ar_arena_destroy(a);
}

/* Any ar_free or ar_realloc between two marks makes them two save points, even one that
 * leaves the cursor where it was (the block goes on a list). */
static void test_free_between_marks_separates_them(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  char *p = (char *)ar_alloc(a, 64);
  char *q = (char *)ar_alloc(a, 64);
  assert_non_null(p);
  assert_non_null(q);
  ar_mark_t m1 = ar_mark(a);
  assert_int_equal(ar_free(a, p, 64), AR_OK);
  ar_mark_t m2 = ar_mark(a);
  assert_ptr_equal(ar_realloc(a, q, 64, 32), q);
  ar_mark_t m3 = ar_mark(a);
  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  ar_arena_destroy(a);
}

/* A mark/rewind loop (every request scope) keeps the save-point stack one deep, so marks cost
 * no memory however long the loop runs. White-box: ndepth is private. */
static void test_mark_loop_does_not_grow(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  for (int i = 0; i < 10000; i++) {
    ar_mark_t m = ar_mark(a);
    assert_non_null(ar_alloc(a, 40));
    assert_int_equal(ar_rewind(a, &m), AR_OK);
  }
  assert_int_equal(a->ndepth, 1);
  ar_arena_destroy(a);
}

/* A mark taken right after a rewind to m1 (so at m1's position, on m1's save point) was
 * still taken after m1: the next rewind to m1 invalidates it (arena.h, ar_rewind), and a
 * rewind to it is then refused without freeing anything or running cleanups. The mark/rewind
 * loop still keeps the stack one deep. Both plain and checked arenas. */
static void mark_after_rewind_case(unsigned flags) {
  ar_arena_t *a = make_arena(flags);
  ar_mark_t m1 = ar_mark(a);
  assert_non_null(ar_alloc(a, 32));
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  ar_mark_t m2 = ar_mark(a); /* same position and save point as m1, but later */
  ar_mark_t m2b = ar_mark(a); /* nothing between: one save point with m2 */
  assert_non_null(ar_alloc(a, 32));
  assert_int_equal(ar_rewind(a, &m2b), AR_OK);
  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  assert_non_null(ar_alloc(a, 32));
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  char *z = (char *)ar_alloc(a, 32);
  assert_non_null(z);
  fill(z, 32, 0x5A);
  cleanup_runs = 0;
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  ar_stats_t before = stats_of(a);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m2b), AR_ESTALE);
  ar_stats_t after = stats_of(a);
  assert_int_equal(cleanup_runs, 0);
  assert_true(ar_owns(a, z));
  assert_true(intact(z, 32, 0x5A));
  assert_int_equal(after.used, before.used);
  assert_int_equal(after.cleanups, 1);
  assert_int_equal(a->ndepth, 1);
  assert_int_equal(ar_rewind(a, &m1), AR_OK); /* m1 itself stays valid */
  assert_int_equal(cleanup_runs, 1);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

static void test_mark_after_rewind_is_later(void **state) {
  (void)state;
  mark_after_rewind_case(0);
  mark_after_rewind_case(AR_ARENA_CHECKED);
}

/* Checked mode too (every build): the same exactness through the slow-only paths. */
static void test_stale_mark_checked(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(AR_ARENA_CHECKED);
  assert_non_null(ar_alloc(a, 16)); /* the marks share a chunk */
  ar_mark_t m1 = ar_mark(a);
  assert_non_null(ar_alloc(a, 32));
  ar_mark_t m2 = ar_mark(a);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_non_null(ar_alloc(a, 32));
  assert_non_null(ar_alloc(a, 32));
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_free_before_mark_keeps_mark),
      cmocka_unit_test(test_shrink_before_mark_keeps_mark),
      cmocka_unit_test(test_grow_before_mark_is_not_in_place),
      cmocka_unit_test(test_vec_destroyed_inside_mark),
      cmocka_unit_test(test_scope_end_after_free),
      cmocka_unit_test(test_stale_mark_same_chunk),
      cmocka_unit_test(test_stale_mark_after_large_only),
      cmocka_unit_test(test_stale_mark_after_cleanup),
      cmocka_unit_test(test_nested_marks_exact),
      cmocka_unit_test(test_marks_without_allocation_between_are_one),
      cmocka_unit_test(test_free_between_marks_separates_them),
      cmocka_unit_test(test_mark_loop_does_not_grow),
      cmocka_unit_test(test_stale_mark_checked),
      cmocka_unit_test(test_mark_after_rewind_is_later),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
