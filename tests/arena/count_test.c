/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/count_test.c - ar_stats_t.allocs as a user's code sees it: compiled WITHOUT
 * AR_COUNT_INLINE_ALLOCS (BUILD filters it out of this target's copts; every other test
 * counts, and stats_test checks that count exactly).
 *
 * arena.h promises that without the define an inline fast-path bump goes uncounted while
 * every other successful allocation counts (the library's own functions, and inline calls
 * that went out of line), and that nothing else depends on the count: marks still tell a
 * position that something was allocated at from the one before it, and the scope
 * statistics still see bytes allocated outside any scope. Arenas that run every call out of
 * line (checked mode, sanitizers, AR_DEBUG >= 2, the heap flavour) count everything.
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

#ifdef AR_COUNT_INLINE_ALLOCS
#error "count_test must be compiled as user code is, without AR_COUNT_INLINE_ALLOCS"
#endif

/* True when this arena's ar_alloc calls can be served inline. */
static bool inline_path(const ar_arena_t *a) { return !a->slow_only && !AR_HEAP; }

static void test_inline_bumps_uncounted(void **state) {
  (void)state;
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  const bool fast = inline_path(a);
  ar_stats_t s;
  /* The first call finds no chunk and goes out of line: counted. */
  assert_non_null(ar_alloc(a, 24));
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  assert_int_equal(s.allocs, 1);
  for (int i = 0; i < 10; i++) assert_non_null(ar_alloc(a, 32));
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  assert_int_equal(s.allocs, fast ? 1u : 11u);
  /* Still counted: the library's own functions... */
  assert_non_null(ar_strdup(a, "counted"));
  assert_non_null(ar_memdup(a, "abc", 3));
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  assert_int_equal(s.allocs, fast ? 3u : 13u);
  /* ...and an inline call that goes out of line (a dedicated chunk). */
  assert_non_null(ar_alloc(a, (size_t)4 << 20));
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  assert_int_equal(s.allocs, fast ? 4u : 14u);
  /* Failures never count. */
  assert_null(ar_alloc(a, SIZE_MAX));
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  assert_int_equal(s.allocs, fast ? 4u : 14u);
  ar_arena_destroy(a);
}

/* ar_mark reuses the top save point only when nothing happened since it; an uncounted bump
 * must still count as something. */
/* lease.h: without the define a lease's inline bumps go uncounted too; the ones that went out
 * of line (the first, which takes a chunk; a new chunk; a 64-aligned request) count. */
static void test_lease_bumps_uncounted(void **state) {
  (void)state;
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  const bool fast = inline_path(a);
  ar_stats_t s;
  ar_lease_t l = ar_lease_begin(a);
  assert_non_null(ar_lease_alloc(&l, 16)); /* out of line: no chunk yet */
  for (int i = 0; i < 10; i++) assert_non_null(ar_lease_alloc(&l, 16));
  assert_non_null(ar_lease_alloc_aligned(&l, 16, 64)); /* out of line */
  ar_lease_end(&l);
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  assert_int_equal(s.allocs, fast ? 2 : 12);
  ar_arena_destroy(a);
}

static void test_marks_see_uncounted_bumps(void **state) {
  (void)state;
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  assert_non_null(ar_alloc(a, 16)); /* a chunk exists: what follows stays inline */
  ar_mark_t m1 = ar_mark(a);
  char *p = (char *)ar_alloc(a, 16);
  assert_non_null(p);
  ar_mark_t m2 = ar_mark(a);
  ar_mark_t m2b = ar_mark(a); /* nothing in between: the same save point as m2 */
  assert_int_equal(ar_rewind(a, &m2b), AR_OK);
  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  /* The rewind took the bump back: the next allocation lands where p was, so m2's position
   * exists again, with another allocation in it. m2 was taken after a bump that nothing
   * counted, and is stale all the same. */
  char *q = (char *)ar_alloc(a, 16);
  assert_non_null(q);
  if (inline_path(a)) assert_ptr_equal(q, p);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  ar_arena_destroy(a);
}

/* The scope statistics count allocations as allocs does, and bytes exactly: a thread that
 * allocates outside any scope is seen by its bytes even where its bumps go uncounted. */
static void test_scope_stats_see_bytes(void **state) {
  (void)state;
  ar_arena_t *t = ar_thread_arena();
  assert_non_null(t);
  ar_scope_t warm = ar_scope_begin(); /* the thread arena gets a chunk */
  assert_non_null(ar_alloc(warm.arena, 16));
  ar_scope_end(&warm);
  assert_non_null(ar_alloc(t, 16)); /* a chunk is current outside scopes too */
  ar_scope_stats_t s0, s1;
  assert_int_equal(ar_scope_stats(&s0), AR_OK);
  assert_int_equal(s0.depth, 0);
  for (int i = 0; i < 4; i++) assert_non_null(ar_alloc(t, 64));
  assert_int_equal(ar_scope_stats(&s1), AR_OK);
  assert_true(s1.outside_bytes - s0.outside_bytes >= 4 * 64);
  assert_int_equal(s1.outside_allocs - s0.outside_allocs, inline_path(t) ? 0u : 4u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inline_bumps_uncounted),
      cmocka_unit_test(test_lease_bumps_uncounted),
      cmocka_unit_test(test_marks_see_uncounted_bumps),
      cmocka_unit_test(test_scope_stats_see_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
