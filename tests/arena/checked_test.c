/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/checked_test.c - checked mode (AR_ARENA_CHECKED): what its record headers and
 * guard bytes cost, and that ar_arena_check finds a write one byte past a block.
 *
 * ASan builds ignore the flag and use red zones instead, so there the accounting follows the
 * red zones (cost() knows which) and the overflow test skips: ASan reports the overflow
 * itself. The overflow is repaired before the arena is destroyed, since destroy would abort on
 * the damaged guard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "arenart.h"
#include "tests/arena/arena_unit.h"

static void test_stats_exact_checked(void **state) {
  /* Explicitly checked arenas account their headers and guards (ASan builds ignore the flag
   * and use red zones instead). */
  const unsigned f = AR_ARENA_CHECKED;
  ar_arena_t *a = unit_arena(f, 0, 0, NULL);
  size_t used = 0;
  const size_t sizes[] = {1, 15, 16, 17, 100, 0, 333};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    assert_non_null(ar_alloc(a, sizes[i]));
    used += cost(f, sizes[i]);
    assert_int_equal(stats_of(a).used, used);
  }
  assert_non_null(ar_alloc(a, 2 * CHUNK));
  used += cost(f, 2 * CHUNK);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.used, used);
  assert_int_equal(s.capacity, CHUNK + large_bytes(f, 2 * CHUNK));
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* ---- checked mode ---------------------------------------------------------------------- */

static void test_checked_mode_detects_overflow(void **state) {
#if AR_ASAN
  skip(); /* checked mode is off under ASan, whose red zones report the overflow themselves */
#else
  ar_arena_t *a = unit_arena(AR_ARENA_CHECKED, 0, 0, NULL);
  const size_t sizes[] = {13, 32, 2 * CHUNK};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char *p = (char *)ar_alloc(a, sizes[i]);
    assert_non_null(p);
    memset(p, 0x42, sizes[i]);
    assert_int_equal(ar_arena_check(a), AR_OK);
    volatile char *v = p;
    char saved = v[sizes[i]];
    v[sizes[i]] = 'X'; /* one byte past the end */
    ar_clear_error();
    assert_int_equal(ar_arena_check(a), AR_ECORRUPT);
    assert_int_equal(ar_last_error(), AR_ECORRUPT);
    v[sizes[i]] = saved; /* repaired, or destroy would abort on the damaged guard */
    assert_int_equal(ar_arena_check(a), AR_OK);
  }
  /* Writing to the last byte is fine. */
  char *p = (char *)ar_alloc(a, 7);
  assert_non_null(p);
  volatile char *v = p;
  v[6] = 'Y';
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
#endif
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_stats_exact_checked),
      chunk_layout_test(test_checked_mode_detects_overflow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
