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
 *
 * The nested-marks walk allocates at four levels (small, over-aligned and dedicated blocks, a
 * cleanup) and checks after each rewind that what lies below the mark is intact and what lay
 * above it is no longer the arena's; marks taken before a reset or release are stale. Those
 * tests assert the chunk layout throughout and skip in the heap flavor (chunk_layout_test).
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

/* ---- item 5: give-back never crosses a live mark ----------------------------------------- */

/* Freeing the newest block from before a mark (after freeing what came after it) used to move
 * the cursor below the mark: the rewind then said AR_ESTALE, and its cleanups never ran. */
static void test_free_before_mark_keeps_mark(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  cleanup_calls = 0;
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
  assert_int_equal(cleanup_calls, 1);
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
  cleanup_calls = 0;
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  ar_mark_t m2 = ar_mark(a);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_int_equal(cleanup_calls, 1);
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(cleanup_calls, 1);
  assert_int_equal(stats_of(a).cleanups, 1);
  ar_arena_destroy(a);
  assert_int_equal(cleanup_calls, 2);
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
  ar_mark_t m2 = ar_mark(a);  /* same position and save point as m1, but later */
  ar_mark_t m2b = ar_mark(a); /* nothing between: one save point with m2 */
  assert_non_null(ar_alloc(a, 32));
  assert_int_equal(ar_rewind(a, &m2b), AR_OK);
  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  assert_non_null(ar_alloc(a, 32));
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  char *z = (char *)ar_alloc(a, 32);
  assert_non_null(z);
  fill(z, 32, 0x5A);
  cleanup_calls = 0;
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  ar_stats_t before = stats_of(a);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m2b), AR_ESTALE);
  ar_stats_t after = stats_of(a);
  assert_int_equal(cleanup_calls, 0);
  assert_true(ar_owns(a, z));
  assert_true(intact(z, 32, 0x5A));
  assert_int_equal(after.used, before.used);
  assert_int_equal(after.cleanups, 1);
  assert_int_equal(a->ndepth, 1);
  assert_int_equal(ar_rewind(a, &m1), AR_OK); /* m1 itself stays valid */
  assert_int_equal(cleanup_calls, 1);
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

/* ---- nested marks, marks across reset --------------------------------------------------- */

typedef struct block {
  unsigned char *p;
  size_t size;
  unsigned char byte;
} block_t;

typedef struct level {
  block_t blocks[128];
  size_t n;
} level_t;

static void level_alloc(ar_arena_t *a, level_t *l, size_t size, size_t align, unsigned char byte) {
  assert_true(l->n < 128);
  unsigned char *p = (unsigned char *)ar_alloc_aligned(a, size, align);
  assert_non_null(p);
  memset(p, byte, size);
  l->blocks[l->n].p = p;
  l->blocks[l->n].size = size;
  l->blocks[l->n].byte = byte;
  l->n++;
}

static void level_verify(ar_arena_t *a, const level_t *l) {
  for (size_t i = 0; i < l->n; i++) {
    assert_true(ar_owns(a, l->blocks[i].p));
    assert_true(intact(l->blocks[i].p, l->blocks[i].size, l->blocks[i].byte));
  }
}

static void level_gone(ar_arena_t *a, level_t *l) {
  for (size_t i = 0; i < l->n; i++) assert_false(ar_owns(a, l->blocks[i].p));
  l->n = 0;
}

/* used, chunks, large_chunks and cleanups name the position; allocs and peak only grow. */
static void assert_position(ar_arena_t *a, const ar_stats_t *want) {
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.used, want->used);
  assert_int_equal(s.chunks, want->chunks);
  assert_int_equal(s.large_chunks, want->large_chunks);
  assert_int_equal(s.cleanups, want->cleanups);
  assert_true(s.peak >= want->peak);
  assert_true(s.allocs >= want->allocs);
  assert_int_equal(ar_arena_check(a), AR_OK);
}

static void test_nested_marks(void **state) {
  ar_arena_t *a = unit_arena(0, 64 * CHUNK, 0, NULL);
  static level_t lv[4];
  memset(lv, 0, sizeof lv);
  cleanup_calls = 0;

  for (int i = 0; i < 5; i++) level_alloc(a, &lv[0], 300, 16, (unsigned char)(1 + i));
  ar_mark_t m1 = ar_mark(a);
  ar_stats_t s1 = stats_of(a);

  for (int i = 0; i < 20; i++) level_alloc(a, &lv[1], 300, 16, 0x20);
  level_alloc(a, &lv[1], 5000, 16, 0x21);
  for (int i = 0; i < 5; i++) level_alloc(a, &lv[1], 200, 64, 0x22);
  ar_mark_t m2 = ar_mark(a);
  ar_stats_t s2 = stats_of(a);
  assert_true(s2.chunks > s1.chunks);

  level_alloc(a, &lv[2], 6000, 16, 0x30);
  for (int i = 0; i < 15; i++) level_alloc(a, &lv[2], 300, 16, 0x31);
  level_alloc(a, &lv[2], 64, 8192, 0x32);
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  ar_mark_t m3 = ar_mark(a);
  ar_stats_t s3 = stats_of(a);
  assert_true(s3.chunks > s2.chunks);
  assert_int_equal(s3.large_chunks, 3);

  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 30; i++) level_alloc(a, &lv[3], 300, 16, 0x40);
    level_alloc(a, &lv[3], 7000, 16, 0x41);
    assert_true(stats_of(a).chunks > s3.chunks);
    /* Rewinding to the same mark again works: it stays valid. */
    assert_int_equal(ar_rewind(a, &m3), AR_OK);
    assert_position(a, &s3);
    level_gone(a, &lv[3]);
    for (int l = 0; l < 3; l++) level_verify(a, &lv[l]);
  }
  assert_int_equal(ar_rewind(a, &m3), AR_OK);
  assert_position(a, &s3);
  assert_int_equal(cleanup_calls, 0);

  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  assert_position(a, &s2);
  assert_int_equal(cleanup_calls, 1);
  level_gone(a, &lv[2]);
  level_verify(a, &lv[0]);
  level_verify(a, &lv[1]);

  /* m3 named a chunk that the rewind to m2 took away. */
  ar_stats_t before = stats_of(a);
  ar_clear_error();
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  assert_int_equal(ar_last_error(), AR_ESTALE);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);

  /* Even after the arena has grown past that point again with reused chunks. */
  for (int i = 0; i < 40; i++) level_alloc(a, &lv[2], 300, 16, 0x50);
  level_alloc(a, &lv[2], 6000, 16, 0x51);
  before = stats_of(a);
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  after = stats_of(a);
  assert_stats_equal(before, after);
  level_verify(a, &lv[2]);

  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_position(a, &s1);
  level_gone(a, &lv[2]);
  level_gone(a, &lv[1]);
  level_verify(a, &lv[0]);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_position(a, &s1);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  level_verify(a, &lv[0]);
  ar_arena_destroy(a);
}

static void test_mark_before_reset_is_stale(void **state) {
  for (int use_release = 0; use_release < 2; use_release++) {
    ar_arena_t *a = unit_arena(0, 8 * CHUNK, 0, NULL);
    assert_non_null(ar_alloc(a, 100));
    ar_mark_t m = ar_mark(a);
    ar_mark_t fresh_mark;
    assert_non_null(ar_alloc(a, 100));
    if (use_release) ar_release(a);
    else ar_reset(a);
    /* Same amount again, so the mark's position looks plausible in the new memory. */
    unsigned char *p = (unsigned char *)ar_alloc(a, 100);
    assert_non_null(p);
    memset(p, 0x66, 100);
    fresh_mark = ar_mark(a);
    assert_non_null(ar_alloc(a, 100));
    ar_stats_t before = stats_of(a);
    ar_clear_error();
    assert_int_equal(ar_rewind(a, &m), AR_ESTALE);
    assert_int_equal(ar_last_error(), AR_ESTALE);
    ar_stats_t after = stats_of(a);
    assert_stats_equal(before, after);
    assert_true(intact(p, 100, 0x66));
    assert_int_equal(ar_arena_check(a), AR_OK);
    assert_int_equal(ar_rewind(a, &fresh_mark), AR_OK);
    assert_int_equal(stats_of(a).used, cost(0, 100));
    ar_arena_destroy(a);
  }
}

static void test_mark_in_same_chunk_invalidated(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  assert_non_null(ar_alloc(a, 100));
  ar_mark_t m1 = ar_mark(a);
  assert_non_null(ar_alloc(a, 100));
  ar_mark_t m2 = ar_mark(a);
  assert_non_null(ar_alloc(a, 100));
  assert_int_equal(stats_of(a).chunks, 1);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  ar_stats_t before = stats_of(a);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_int_equal(ar_arena_check(a), AR_OK);

  /* A mark on an empty arena rewinds everything, dedicated chunks included. */
  ar_release(a);
  ar_mark_t empty = ar_mark(a);
  fill_chunks(a, 3);
  assert_non_null(ar_alloc(a, 3 * CHUNK));
  assert_int_equal(ar_rewind(a, &empty), AR_OK);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.used, 0);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.large_chunks, 0);
  assert_int_equal(s.capacity, 0); /* retain_bytes 0: the freed chunks went back */
  assert_int_equal(ar_arena_check(a), AR_OK);
  assert_non_null(ar_alloc(a, 10));
  ar_arena_destroy(a);
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
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
      chunk_layout_test(test_nested_marks),
      chunk_layout_test(test_mark_before_reset_is_stale),
      chunk_layout_test(test_mark_in_same_chunk_invalidated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
