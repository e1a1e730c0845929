/*
 * tests/containers/buf_test.c - ar_buf: appends, printf, the read cursor, truncate/clear,
 * the always-terminated C string, overflow, self-appends and allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/buf.h"
#include "tests/containers/ctest_util.h"

static void test_args_and_empty(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_buf_t b;
  assert_int_equal(ar_buf_init(NULL, a), AR_EINVAL);
  assert_int_equal(ar_buf_init(&b, NULL), AR_EINVAL);
  assert_int_equal(ar_buf_init(&b, a), AR_OK);
  assert_string_equal(ar_buf_cstr(&b), "");
  assert_string_equal(ar_buf_cstr(NULL), "");
  assert_null(ar_buf_data(&b));
  assert_null(ar_buf_rdata(&b));
  assert_int_equal(ar_buf_len(&b), 0);
  assert_int_equal(ar_buf_remaining(&b), 0);
  assert_int_equal(ar_buf_append(&b, NULL, 1), AR_EINVAL);
  assert_int_equal(ar_buf_append(&b, NULL, 0), AR_OK);
  assert_int_equal(ar_buf_append_str(&b, NULL), AR_EINVAL);
  assert_int_equal(ar_buf_append_str(NULL, "x"), AR_EINVAL);
  assert_int_equal(ar_buf_appendf(&b, NULL), AR_EINVAL);
  assert_int_equal(ar_buf_consume(&b, 1), AR_EINVAL);
  assert_int_equal(ar_buf_consume(&b, 0), AR_OK);
  assert_int_equal(ar_buf_truncate(&b, 1), AR_EINVAL);
  char c;
  assert_int_equal(ar_buf_read(&b, &c, 1), 0);
  assert_int_equal(ar_buf_read(NULL, &c, 1), 0);
  assert_int_equal(ar_buf_peek(&b, NULL, 1), 0);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_buf_compact(&b);
  ar_buf_clear(&b);
  ar_buf_clear(NULL);
  ar_buf_destroy(NULL);
  /* appendf of an empty result still gives storage and a terminator. */
  assert_int_equal(ar_buf_appendf(&b, "%s", ""), AR_OK);
  assert_string_equal(ar_buf_cstr(&b), "");
  ar_buf_destroy(&b);
  ar_buf_t s = AR_BUF_INIT(a);
  assert_int_equal(ar_buf_append_char(&s, 'z'), AR_OK);
  assert_string_equal(ar_buf_cstr(&s), "z");
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_build_string(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_buf_t b = AR_BUF_INIT(a);
  char want[20000];
  size_t wl = 0;
  for (int i = 0; i < 1500; i++) {
    assert_int_equal(ar_buf_appendf(&b, "%d,", i), AR_OK);
    wl += (size_t)snprintf(want + wl, sizeof want - wl, "%d,", i);
    assert_int_equal(ar_buf_len(&b), wl);
    assert_int_equal(ar_buf_cstr(&b)[wl], '\0');
  }
  assert_string_equal(ar_buf_cstr(&b), want);
  assert_int_equal(ar_buf_append_str(&b, "end"), AR_OK);
  assert_int_equal(ar_buf_append_char(&b, '!'), AR_OK);
  assert_int_equal(ar_buf_append(&b, "xyz", 2), AR_OK);
  memcpy(want + wl, "end!xy", 7);
  assert_string_equal(ar_buf_cstr(&b), want);
  /* A format longer than the spare room: formatted twice, result exact. */
  char big[5000];
  memset(big, 'B', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  ar_buf_clear(&b);
  assert_int_equal(ar_buf_appendf(&b, "<%s>", big), AR_OK);
  assert_int_equal(ar_buf_len(&b), sizeof big + 1);
  assert_int_equal(ar_buf_cstr(&b)[0], '<');
  assert_int_equal(ar_buf_cstr(&b)[sizeof big], '>');
  /* Appending the buffer's own bytes across a growth. */
  ar_buf_clear(&b);
  assert_int_equal(ar_buf_append_str(&b, "ab"), AR_OK);
  for (int i = 0; i < 12; i++)
    assert_int_equal(ar_buf_append(&b, ar_buf_data(&b), ar_buf_len(&b)), AR_OK);
  assert_int_equal(ar_buf_len(&b), 2u << 12);
  for (size_t i = 0; i < ar_buf_len(&b); i++) assert_int_equal(ar_buf_data(&b)[i], "ab"[i % 2]);
  /* Binary data with NULs. */
  ar_buf_clear(&b);
  assert_int_equal(ar_buf_append(&b, "a\0b", 3), AR_OK);
  assert_int_equal(ar_buf_len(&b), 3);
  assert_string_equal(ar_buf_cstr(&b), "a");
  CHECK_ARENA(a);
  ar_buf_destroy(&b);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_read_cursor(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_buf_t b = AR_BUF_INIT(a);
  assert_int_equal(ar_buf_append_str(&b, "hello, world"), AR_OK);
  char out[16] = {0};
  assert_int_equal(ar_buf_peek(&b, out, 5), 5);
  assert_memory_equal(out, "hello", 5);
  assert_int_equal(ar_buf_remaining(&b), 12);
  assert_int_equal(ar_buf_read(&b, out, 5), 5);
  assert_int_equal(ar_buf_remaining(&b), 7);
  assert_int_equal(ar_buf_consume(&b, 2), AR_OK);
  assert_string_equal(ar_buf_rdata(&b), "world");
  const char *before = ar_buf_data(&b);
  assert_int_equal(ar_buf_consume(&b, 6), AR_EINVAL); /* more than remains: unchanged */
  assert_int_equal(ar_buf_remaining(&b), 5);
  memset(out, 0, sizeof out);
  assert_int_equal(ar_buf_read(&b, out, sizeof out), 5); /* short read */
  assert_string_equal(out, "world");
  assert_int_equal(ar_buf_remaining(&b), 0);
  assert_int_equal(ar_buf_read(&b, out, 1), 0);
  assert_ptr_equal(ar_buf_data(&b), before); /* reading never moved bytes */
  assert_int_equal(ar_buf_len(&b), 12);
  /* Compact drops what was read. */
  assert_int_equal(ar_buf_append_str(&b, "!more"), AR_OK);
  assert_int_equal(ar_buf_consume(&b, 1), AR_OK);
  ar_buf_compact(&b);
  assert_string_equal(ar_buf_cstr(&b), "more");
  assert_int_equal(ar_buf_remaining(&b), 4);
  /* Truncate clamps the cursor. */
  assert_int_equal(ar_buf_consume(&b, 3), AR_OK);
  assert_int_equal(ar_buf_truncate(&b, 2), AR_OK);
  assert_string_equal(ar_buf_cstr(&b), "mo");
  assert_int_equal(ar_buf_remaining(&b), 0);
  ar_buf_clear(&b);
  assert_string_equal(ar_buf_cstr(&b), "");
  assert_int_equal(ar_buf_remaining(&b), 0);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_reserve_overflow(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_buf_t b = AR_BUF_INIT(a);
  assert_int_equal(ar_buf_reserve(&b, 100), AR_OK);
  assert_int_equal(ar_buf_capacity(&b), 100);
  assert_string_equal(ar_buf_cstr(&b), "");
  const char *d = ar_buf_data(&b);
  for (int i = 0; i < 100; i++) assert_int_equal(ar_buf_append_char(&b, 'x'), AR_OK);
  assert_ptr_equal(ar_buf_data(&b), d);
  assert_int_equal(ar_buf_reserve(&b, SIZE_MAX), AR_EOVERFLOW);
  assert_int_equal(ar_buf_reserve(&b, AR_MAX_ALLOC_SIZE), AR_EOVERFLOW);
  assert_int_equal(ar_buf_append(&b, "x", SIZE_MAX - 10), AR_EOVERFLOW);
  assert_int_equal(ar_buf_len(&b), 100);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_alloc_failure_unchanged(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(4096, 8192, 0);
  ar_buf_t b = AR_BUF_INIT(a);
  int err;
  size_t n = 0;
  while ((err = ar_buf_appendf(&b, "%05zu|", n)) == AR_OK) n++;
  assert_true(err == AR_ELIMIT || err == AR_ENOMEM);
  assert_int_equal(ar_buf_len(&b), n * 6);
  size_t cap = ar_buf_capacity(&b);
  /* Fill the spare room exactly, then every growing call fails and changes nothing. */
  while (ar_buf_len(&b) < cap) assert_int_equal(ar_buf_append_char(&b, '.'), AR_OK);
  size_t len = ar_buf_len(&b);
  assert_int_equal(ar_buf_consume(&b, 6), AR_OK);
  assert_int_equal(ar_buf_append_str(&b, "more"), err);
  assert_int_equal(ar_buf_append_char(&b, 'x'), err);
  assert_int_equal(ar_buf_appendf(&b, "%d", 12345), err);
  assert_int_equal(ar_buf_reserve(&b, 8192), err);
  assert_int_equal(ar_buf_len(&b), len);
  assert_int_equal(ar_buf_remaining(&b), len - 6);
  assert_int_equal(ar_buf_cstr(&b)[len], '\0');
  char want[32];
  for (size_t i = 0; i < n; i++) {
    snprintf(want, sizeof want, "%05zu|", i);
    assert_memory_equal(ar_buf_data(&b) + 6 * i, want, 6);
  }
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_args_and_empty),
      cmocka_unit_test(test_build_string),
      cmocka_unit_test(test_read_cursor),
      cmocka_unit_test(test_reserve_overflow),
      cmocka_unit_test(test_alloc_failure_unchanged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
