/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/blocks_test.c - which pointers ar_free and ar_realloc accept (arena.h, ar_free;
 * docs/bad_input.md row 14).
 *
 * Where the arena knows where its blocks start it checks exactly: a pointer that is not the
 * start of a live block (inside one, or one already given back) gets AR_EINVAL and changes
 * nothing. That is checked mode (AR_ARENA_CHECKED, or any arena at AR_DEBUG >= 2), ASan builds
 * and the heap flavor. A pointer into a dedicated chunk must be its allocation's start in every
 * build. Plain arenas in other builds keep no record of block starts (the inline path is a bare
 * bump): their tests of small interior pointers skip, saying so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
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

/* Does this build check small blocks exactly for an arena created with `flags`? */
static bool exact(unsigned flags) {
  return AR_HEAP || AR_ASAN || AR_DEBUG >= 2 || (flags & AR_ARENA_CHECKED) != 0;
}

static void expect_refused(ar_arena_t *a, char *p, size_t size) {
  ar_stats_t before = stats_of(a);
  ar_clear_error();
  assert_int_equal(ar_free(a, p, size), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_null(ar_realloc(a, p, size, size + 64));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_null(ar_realloc(a, p, size, 16)); /* shrinking checks too */
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(after, before);
  assert_int_equal(ar_arena_check(a), AR_OK);
}

/* Small blocks, interior pointers and double frees, in the modes that check them. */
static void small_blocks(unsigned flags) {
  ar_arena_t *a = make_arena(flags);
  char *before = (char *)ar_alloc(a, 32);
  char *p = (char *)ar_alloc(a, 64);
  char *after = (char *)ar_alloc(a, 32);
  assert_non_null(before);
  assert_non_null(p);
  assert_non_null(after);
  memset(p, 0x6B, 64);
  expect_refused(a, p + 16, 16); /* inside p, 16-aligned */
  expect_refused(a, p + 48, 16); /* ends where p ends */
  expect_refused(a, p, 128);     /* p, but longer than it is */
  assert_true(intact(p, 64, 0x6B));
  assert_int_equal(ar_free(a, p, 64), AR_OK);
  expect_refused(a, p, 64); /* given back already */
  /* The neighbours are untouched and still accepted. */
  assert_int_equal(ar_free(a, before, 32), AR_OK);
  assert_int_equal(ar_free(a, after, 32), AR_OK);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

static void test_small_blocks_checked(void **state) {
  (void)state;
  small_blocks(AR_ARENA_CHECKED); /* checked mode (or ASan's shadow) in every build */
}

static void test_small_blocks_plain(void **state) {
  (void)state;
  if (!exact(0)) {
    skip(); /* a plain arena at AR_DEBUG <= 1 without ASan keeps no record of block starts */
    return;
  }
  small_blocks(0);
}

/* A pointer inside a dedicated chunk's allocation used to give the whole chunk back, in every
 * build, with the live block in it. */
static void large_block(unsigned flags) {
  ar_arena_t *a = make_arena(flags);
  char *p = (char *)ar_alloc(a, LARGE);
  assert_non_null(p);
  memset(p, 0x2D, LARGE);
  assert_int_equal(stats_of(a).large_chunks, LARGE_CHUNKS(1));
  expect_refused(a, p + 1024, 64);
  expect_refused(a, p + 16, LARGE - 16);
  assert_int_equal(stats_of(a).large_chunks, LARGE_CHUNKS(1));
  assert_true(intact(p, LARGE, 0x2D));
  assert_int_equal(ar_free(a, p, LARGE), AR_OK);
  if (AR_DEBUG >= 1 || exact(flags)) expect_refused(a, p, LARGE); /* release: trusted */
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

static void test_large_block_plain(void **state) {
  (void)state;
  large_block(0);
}

static void test_large_block_checked(void **state) {
  (void)state;
  large_block(AR_ARENA_CHECKED);
}

/* Not 16-aligned: never a block start, in every build. */
static void test_misaligned_refused(void **state) {
  (void)state;
  ar_arena_t *a = make_arena(0);
  char *p = (char *)ar_alloc(a, 64);
  assert_non_null(p);
  expect_refused(a, p + 8, 8);
  ar_arena_destroy(a);
}

/* The slack after a dedicated chunk's allocation (between its top and the chunk's end) is
 * not a block either: release builds used to list it, and hand it out again after the chunk
 * was unmapped. White-box: the chunk's bounds are private. */
static void large_slack(unsigned flags) {
  ar_arena_t *a = make_arena(flags);
  char *p = (char *)ar_alloc(a, LARGE);
  assert_non_null(p);
  if (!AR_HEAP) {
    const ar_chunk_t *c = a->large;
    char *q = (char *)(((uintptr_t)c->top + 15) & ~(uintptr_t)15);
    assert_true(q + 16 <= c->limit);
    expect_refused(a, q, 16);
    assert_int_equal(stats_of(a).recycled, 0);
  }
  assert_int_equal(ar_free(a, p, LARGE), AR_OK);
  ar_arena_destroy(a);
}

static void test_large_slack_refused(void **state) {
  (void)state;
  large_slack(0);
  large_slack(AR_ARENA_CHECKED);
}

/* After a shrinking ar_realloc the block has its new size (arena.h, ar_realloc). The most
 * recent block: its tail went back to the cursor, so the old size reaches past the memory
 * handed out and is refused in every build. An older block: exact builds refuse the old size;
 * others cannot tell, but the tail was never listed, so the free gives back only what the
 * block spans (it used to list the tail twice, and later allocations overlapped). */
static void shrunk_block(unsigned flags) {
  ar_arena_t *a = make_arena(flags);
  char *t = (char *)ar_alloc(a, 64);
  assert_non_null(t);
  assert_ptr_equal(ar_realloc(a, t, 64, 16), t);
  expect_refused(a, t, 64);
  assert_int_equal(ar_free(a, t, 16), AR_OK);

  char *b = (char *)ar_alloc(a, 64);
  assert_non_null(b);
  assert_non_null(ar_alloc(a, 16)); /* b is no longer the most recent block */
  assert_ptr_equal(ar_realloc(a, b, 64, 16), b);
  if (exact(flags)) {
    expect_refused(a, b, 64);
    assert_int_equal(ar_free(a, b, 16), AR_OK);
  } else {
    assert_int_equal(stats_of(a).recycled, 0);
    assert_int_equal(ar_free(a, b, 64), AR_OK); /* a caller error these builds cannot see */
    assert_int_equal(stats_of(a).recycled, 64);
  }
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

static void test_shrunk_block_has_new_size(void **state) {
  (void)state;
  shrunk_block(0);
  shrunk_block(AR_ARENA_CHECKED);
}

/* Checked mode: a write past a block shrunk in place is a damaged guard, as for a block
 * allocated with the new size (ASan builds report the write itself, so it is not made there). */
static void test_write_past_shrunk_block_checked(void **state) {
  (void)state;
  if (AR_ASAN) {
    skip();
    return;
  }
  ar_arena_t *a = make_arena(AR_ARENA_CHECKED);
  char *b = (char *)ar_alloc(a, 64);
  assert_non_null(b);
  assert_non_null(ar_alloc(a, 16));
  assert_ptr_equal(ar_realloc(a, b, 64, 20), b);
  unsigned char saved = (unsigned char)b[20];
  b[20] = 0x11;
  assert_int_equal(ar_arena_check(a), AR_ECORRUPT);
  b[20] = (char)saved;
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* arena.h: peak is the highest `used` since creation. A dedicated block shrunk (its tail
 * kept) and then grown again inside its old footprint lowers `used`; the peak must have been
 * taken before that, whether or not the stats were read in between. */
static void test_peak_survives_shrink_and_regrow(void **state) {
  (void)state;
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  char *p = (char *)ar_alloc(a, 1 << 20);
  assert_non_null(p);
  p = (char *)ar_realloc(a, p, 1 << 20, 100 << 10);
  assert_non_null(p);
  p = (char *)ar_realloc(a, p, 100 << 10, 200 << 10);
  assert_non_null(p);
  ar_stats_t st;
  assert_int_equal(ar_arena_stats(a, &st), AR_OK);
  assert_true(st.peak >= (size_t)1 << 20);
  assert_true(st.peak >= st.used);
  ar_arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_blocks_checked),
      cmocka_unit_test(test_small_blocks_plain),
      cmocka_unit_test(test_large_block_plain),
      cmocka_unit_test(test_large_block_checked),
      cmocka_unit_test(test_misaligned_refused),
      cmocka_unit_test(test_large_slack_refused),
      cmocka_unit_test(test_shrunk_block_has_new_size),
      cmocka_unit_test(test_write_past_shrunk_block_checked),
      cmocka_unit_test(test_peak_survives_shrink_and_regrow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
