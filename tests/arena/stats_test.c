/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/stats_test.c - introspection of a serial arena: ar_arena_stats, ar_owns and
 * ar_arena_check (arena.h).
 *
 * Every field of ar_stats_t is checked against what the calls so far must have produced,
 * byte for byte (cost() turns each request into what it takes in the build mode in force),
 * after allocation, a failed call, a rewind, reset and release. The peak gets its own test
 * because the inline fast path never updates it: what it handed out must still show up at
 * the next query or reset. Ownership follows the same life cycle: a block is owned until the
 * rewind or reset that takes its memory back, and never by another arena.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/arena/arena_unit.h"

/* ---- statistics ------------------------------------------------------------------------ */

static void test_stats_exact(void **state) {
  const unsigned f = 0;
  const size_t tail = tail_bytes(f);
  /* An explicit retain (1 MiB): dedicated chunks go back at reset. AR_RETAIN_AUTO, which
   * keeps them, has its own tests (tests/arena/keep_test.c). */
  ar_arena_t *a = unit_arena(f, (size_t)1 << 20, 0, NULL);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.used, 0);
  assert_int_equal(s.capacity, 0);
  assert_int_equal(s.peak, 0);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.large_chunks, 0);
  assert_int_equal(s.spare_chunks, 0);
  assert_int_equal(s.allocs, 0);
  assert_int_equal(s.cleanups, 0);
  assert_int_equal(s.recycled, 0);

  char *p1 = (char *)ar_alloc(a, 10);
  assert_non_null(p1);
  size_t used = cost(f, 10);
  s = stats_of(a);
  assert_int_equal(s.used, used);
  assert_int_equal(s.capacity, CHUNK);
  assert_int_equal(s.peak, used);
  assert_int_equal(s.chunks, 1);
  assert_int_equal(s.allocs, 1);

  char *p2 = (char *)ar_alloc(a, 100);
  assert_non_null(p2);
  used += cost(f, 100);
  s = stats_of(a);
  assert_int_equal(s.used, used);
  assert_int_equal(s.peak, used);
  assert_int_equal(s.allocs, 2);

  char *pl = (char *)ar_alloc(a, 5000);
  assert_non_null(pl);
  used += cost(f, 5000);
  s = stats_of(a);
  assert_int_equal(s.used, used);
  assert_int_equal(s.capacity, CHUNK + large_bytes(f, 5000));
  assert_int_equal(s.large_chunks, 1);
  assert_int_equal(s.chunks, 1);
  assert_int_equal(s.allocs, 3);

  /* Padding for alignment counts as used. */
  uintptr_t cursor = addr(p2) + align16(100) + tail;
  char *pa = (char *)ar_alloc_aligned(a, 8, 256);
  assert_non_null(pa);
  assert_int_equal(addr(pa) % 256, 0);
  size_t pad = (size_t)(addr(pa) - cursor);
  assert_true(pad < 256 + (mode_checked(f) ? 16 : 0));
  if (mode_checked(f)) assert_true(pad >= 16);
  used += pad + align16(8) + tail;
  s = stats_of(a);
  assert_int_equal(s.used, used);
  assert_int_equal(s.allocs, 4);

  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  used += cost(f, sizeof(ar_cleanup_t));
  s = stats_of(a);
  assert_int_equal(s.used, used);
  assert_int_equal(s.cleanups, 1);
  assert_int_equal(s.allocs, 5);

  /* A failed call changes nothing. */
  assert_null(ar_alloc_aligned(a, 8, 3));
  ar_stats_t same = stats_of(a);
  assert_stats_equal(s, same);

  ar_mark_t m = ar_mark(a);
  assert_non_null(ar_alloc(a, 300));
  s = stats_of(a);
  assert_int_equal(s.used, used + cost(f, 300));
  assert_int_equal(s.allocs, 6);
  size_t peak = used + cost(f, 300);
  assert_int_equal(s.peak, peak);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  s = stats_of(a);
  assert_int_equal(s.used, used);
  assert_int_equal(s.peak, peak);
  assert_int_equal(s.allocs, 6);
  assert_int_equal(s.capacity, CHUNK + large_bytes(f, 5000));

  cleanup_calls = 0;
  ar_reset(a);
  assert_int_equal(cleanup_calls, 1);
  s = stats_of(a);
  assert_int_equal(s.used, 0);
  assert_int_equal(s.capacity, CHUNK);
  assert_int_equal(s.peak, peak);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.large_chunks, 0);
  assert_int_equal(s.spare_chunks, 1);
  assert_int_equal(s.allocs, 6);
  assert_int_equal(s.cleanups, 0);

  assert_non_null(ar_alloc(a, 64));
  s = stats_of(a);
  assert_int_equal(s.used, cost(f, 64));
  assert_int_equal(s.spare_chunks, 0);
  assert_int_equal(s.chunks, 1);
  assert_int_equal(s.capacity, CHUNK);
  assert_int_equal(s.allocs, 7);

  ar_release(a);
  s = stats_of(a);
  assert_int_equal(s.used, 0);
  assert_int_equal(s.capacity, 0);
  assert_int_equal(s.spare_chunks, 0);
  assert_int_equal(s.peak, peak);
  ar_arena_destroy(a);
}

static void test_peak_survives_rewind_and_reset(void **state) {
  ar_arena_t *a = unit_arena(0, 8 * CHUNK, 0, NULL);
  ar_mark_t m = ar_mark(a);
  fill_chunks(a, 3);
  assert_non_null(ar_alloc(a, 3 * CHUNK));
  size_t high = stats_of(a).used;
  assert_int_equal(stats_of(a).peak, high);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(stats_of(a).used, 0);
  assert_int_equal(stats_of(a).peak, high);
  assert_non_null(ar_alloc(a, 1000));
  assert_int_equal(stats_of(a).peak, high);
  ar_reset(a);
  assert_int_equal(stats_of(a).peak, high);

  /* The fast path never updates the peak itself: what it handed out between two queries
   * must still show up, even if a reset comes first. */
  fill_chunks(a, 2);
  while (stats_of(a).used + cost(0, 100) <= high) assert_non_null(ar_alloc(a, 100));
  for (int i = 0; i < 200; i++) assert_non_null(ar_alloc(a, 100));
  size_t higher = stats_of(a).used;
  assert_true(higher > high);
  for (int i = 0; i < 10; i++) assert_non_null(ar_alloc(a, 16));
  ar_reset(a); /* no query in between */
  assert_int_equal(stats_of(a).peak, higher + 10 * cost(0, 16));
  ar_arena_destroy(a);
}

/* ---- ownership ------------------------------------------------------------------------- */

static void test_owns(void **state) {
  ar_arena_t *a = unit_arena(0, 2 * CHUNK, 0, NULL);
  ar_arena_t *other = unit_arena(0, 0, 0, NULL);
  int on_stack = 0;
  char *on_heap = (char *)malloc(64);
  assert_non_null(on_heap);

  char *p = (char *)ar_alloc(a, 40);
  assert_non_null(p);
  assert_true(ar_owns(a, p));
  assert_true(ar_owns(a, p + 39));
  assert_false(ar_owns(other, p));
  assert_false(ar_owns(a, &on_stack));
  assert_false(ar_owns(a, on_heap));
  assert_false(ar_owns(a, a));

  ar_mark_t m = ar_mark(a);
  char *q = (char *)ar_alloc(a, 40);
  char *big = (char *)ar_alloc(a, 3 * CHUNK);
  assert_non_null(q);
  assert_non_null(big);
  assert_true(ar_owns(a, q));
  assert_true(ar_owns(a, big));
  assert_true(ar_owns(a, big + 3 * CHUNK - 1));
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_false(ar_owns(a, q));
  assert_false(ar_owns(a, big));
  assert_true(ar_owns(a, p));
  ar_reset(a);
  assert_false(ar_owns(a, p));
  assert_false(ar_owns(a, q));
  free(on_heap);
  ar_arena_destroy(other);
  ar_arena_destroy(a);
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_stats_exact),
      chunk_layout_test(test_peak_survives_rewind_and_reset),
      chunk_layout_test(test_owns),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
