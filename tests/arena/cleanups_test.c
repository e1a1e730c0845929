/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/cleanups_test.c - cleanups registered with ar_defer (arena.h).
 *
 * Cleanups run newest first, exactly once, from whichever of reset, release, destroy or a
 * rewind past their registration comes first; while they run the arena refuses allocation,
 * ar_defer and ar_rewind (AR_EBUSY), whichever of the three triggered them, and works again
 * once they are done. A NULL function is refused (AR_EINVAL) without changing the arena. The
 * order is recorded in a log rather than inferred from side effects, so a cleanup that runs
 * twice or out of turn shows up as a wrong entry, not as a crash.
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

/* ---- cleanups -------------------------------------------------------------------------- */

static int order_log[16];
static int order_len;

static void log_cleanup(void *arg) {
  if (order_len < 16) order_log[order_len++] = (int)(intptr_t)arg;
}

static void register_123(ar_arena_t *a) {
  order_len = 0;
  for (intptr_t i = 1; i <= 3; i++) {
    assert_int_equal(ar_defer(a, log_cleanup, (void *)i), AR_OK);
    assert_non_null(ar_alloc(a, 1500)); /* spread them over several chunks */
  }
  assert_int_equal(stats_of(a).cleanups, 3);
  assert_int_equal(order_len, 0);
}

static void expect_321(void) {
  assert_int_equal(order_len, 3);
  assert_int_equal(order_log[0], 3);
  assert_int_equal(order_log[1], 2);
  assert_int_equal(order_log[2], 1);
}

static void test_cleanups_reverse_order(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  register_123(a);
  ar_reset(a);
  expect_321();
  assert_int_equal(stats_of(a).cleanups, 0);
  ar_reset(a);
  assert_int_equal(order_len, 3); /* each runs once */

  register_123(a);
  ar_release(a);
  expect_321();
  assert_int_equal(stats_of(a).cleanups, 0);

  register_123(a);
  ar_arena_destroy(a);
  expect_321();
}

static void test_cleanups_on_rewind(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  order_len = 0;
  assert_int_equal(ar_defer(a, log_cleanup, (void *)(intptr_t)10), AR_OK);
  ar_mark_t outer = ar_mark(a);
  assert_int_equal(ar_defer(a, log_cleanup, (void *)(intptr_t)20), AR_OK);
  fill_chunks(a, 3);
  ar_mark_t inner = ar_mark(a);
  assert_int_equal(ar_defer(a, log_cleanup, (void *)(intptr_t)30), AR_OK);
  assert_int_equal(ar_defer(a, log_cleanup, (void *)(intptr_t)40), AR_OK);
  assert_int_equal(stats_of(a).cleanups, 4);

  assert_int_equal(ar_rewind(a, &inner), AR_OK);
  assert_int_equal(order_len, 2);
  assert_int_equal(order_log[0], 40);
  assert_int_equal(order_log[1], 30);
  assert_int_equal(stats_of(a).cleanups, 2);
  assert_int_equal(ar_rewind(a, &inner), AR_OK); /* nothing newer: nothing runs */
  assert_int_equal(order_len, 2);

  assert_int_equal(ar_rewind(a, &outer), AR_OK);
  assert_int_equal(order_len, 3);
  assert_int_equal(order_log[2], 20);
  assert_int_equal(stats_of(a).cleanups, 1);
  ar_arena_destroy(a);
  assert_int_equal(order_len, 4);
  assert_int_equal(order_log[3], 10);
}

typedef struct busy_probe {
  ar_arena_t *arena;
  int runs;
  void *alloc_small, *alloc_aligned, *alloc_large, *dup;
  ar_error_t err_small, err_aligned, err_large, err_dup;
  int defer_rc, rewind_rc;
} busy_probe_t;

static void probing_cleanup(void *arg) {
  busy_probe_t *b = (busy_probe_t *)arg;
  b->runs++;
  ar_clear_error();
  b->alloc_small = ar_alloc(b->arena, 16);
  b->err_small = ar_last_error();
  ar_clear_error();
  b->alloc_aligned = ar_alloc_aligned(b->arena, 16, 256);
  b->err_aligned = ar_last_error();
  ar_clear_error();
  b->alloc_large = ar_alloc(b->arena, 4 * CHUNK);
  b->err_large = ar_last_error();
  ar_clear_error();
  b->dup = ar_strdup(b->arena, "no");
  b->err_dup = ar_last_error();
  b->defer_rc = ar_defer(b->arena, count_cleanup, NULL);
  ar_mark_t m = ar_mark(b->arena);
  b->rewind_rc = ar_rewind(b->arena, &m);
}

static void check_busy(const busy_probe_t *b) {
  assert_int_equal(b->runs, 1);
  assert_null(b->alloc_small);
  assert_int_equal(b->err_small, AR_EBUSY);
  assert_null(b->alloc_aligned);
  assert_int_equal(b->err_aligned, AR_EBUSY);
  assert_null(b->alloc_large);
  assert_int_equal(b->err_large, AR_EBUSY);
  assert_null(b->dup);
  assert_int_equal(b->err_dup, AR_EBUSY);
  assert_int_equal(b->defer_rc, AR_EBUSY);
  assert_int_equal(b->rewind_rc, AR_EBUSY);
}

static void test_cleanup_cannot_allocate(void **state) {
  /* One fresh arena per trigger: the probe must see the same refusals whether the cleanup runs
   * from reset, rewind or destroy, with room left in the current chunk or not. */
  for (int how = 0; how < 3; how++) {
    ar_arena_t *a = unit_arena(0, CHUNK, 0, NULL);
    busy_probe_t b;
    memset(&b, 0, sizeof b);
    b.arena = a;
    cleanup_calls = 0;
    ar_mark_t m = ar_mark(a);
    assert_non_null(ar_alloc(a, 32));
    assert_int_equal(ar_defer(a, probing_cleanup, &b), AR_OK);
    if (how == 0) ar_reset(a);
    if (how == 1) assert_int_equal(ar_rewind(a, &m), AR_OK);
    if (how == 2) {
      ar_arena_destroy(a);
      a = NULL;
    }
    check_busy(&b);
    assert_int_equal(cleanup_calls, 0);
    if (a != NULL) {
      /* Back to normal once the cleanups are done. */
      assert_non_null(ar_alloc(a, 16));
      assert_int_equal(ar_arena_check(a), AR_OK);
      assert_int_equal(stats_of(a).cleanups, 0);
      ar_arena_destroy(a);
    }
    assert_int_equal(cleanup_calls, 0);
  }
}

static void test_defer_null_fn(void **state) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  ar_stats_t before = stats_of(a);
  ar_clear_error();
  assert_int_equal(ar_defer(a, NULL, NULL), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  ar_arena_destroy(a);
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_cleanups_reverse_order),
      chunk_layout_test(test_cleanups_on_rewind),
      chunk_layout_test(test_cleanup_cannot_allocate),
      chunk_layout_test(test_defer_null_fn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
