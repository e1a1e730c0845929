/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/error_test.c - error reporting (common.h): ar_strerror and the per-thread
 * ar_last_error.
 *
 * Every code has its own non-empty message, and an unknown code gets one that is none of
 * theirs. The last error belongs to the thread that caused it and survives a later success
 * until ar_clear_error, so a second thread's failures and clears never show through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "arenart.h"
#include "tests/arena/arena_unit.h"

/* ---- errors ---------------------------------------------------------------------------- */

static void test_strerror_all_codes(void **state) {
  const ar_error_t codes[] = {AR_OK,     AR_EINVAL, AR_EALIGN, AR_EOVERFLOW, AR_ELIMIT,
                              AR_ENOMEM, AR_EBUSY,  AR_ESTALE, AR_ECORRUPT};
  enum { N = sizeof codes / sizeof codes[0] };
  const char *msg[N];
  for (size_t i = 0; i < N; i++) {
    msg[i] = ar_strerror(codes[i]);
    assert_non_null(msg[i]);
    assert_true(strlen(msg[i]) > 0);
    for (size_t j = 0; j < i; j++) assert_true(strcmp(msg[i], msg[j]) != 0);
  }
  const int unknown[] = {9, 99, -1, 1 << 20};
  for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
    const char *m = ar_strerror((ar_error_t)unknown[u]);
    assert_non_null(m);
    for (size_t j = 0; j < N; j++) assert_true(strcmp(m, msg[j]) != 0);
  }
}

typedef struct thread_errors {
  ar_error_t at_start, after_fail, after_success, after_clear;
} thread_errors_t;

static void *error_thread(void *arg) {
  thread_errors_t *t = (thread_errors_t *)arg;
  t->at_start = ar_last_error();
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL) return NULL;
  void *bad = ar_alloc_aligned(a, 8, 3);
  (void)bad;
  t->after_fail = ar_last_error();
  void *good = ar_alloc(a, 8);
  (void)good;
  t->after_success = ar_last_error();
  ar_clear_error();
  t->after_clear = ar_last_error();
  ar_arena_destroy(a);
  return NULL;
}

static void test_last_error_per_thread(void **state) {
  ar_clear_error();
  assert_int_equal(ar_last_error(), AR_OK);
  assert_null(ar_alloc(NULL, 1));
  assert_int_equal(ar_last_error(), AR_EINVAL);

  thread_errors_t t;
  memset(&t, 0xFF, sizeof t);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, error_thread, &t), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(t.at_start, AR_OK);
  assert_int_equal(t.after_fail, AR_EALIGN);
  assert_int_equal(t.after_success, AR_EALIGN); /* success does not clear */
  assert_int_equal(t.after_clear, AR_OK);

  /* The other thread's errors and clear did not touch ours. */
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(ar_last_error(), AR_OK);
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_strerror_all_codes),
      chunk_layout_test(test_last_error_per_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
