/* SPDX-License-Identifier: MIT */
/*
 * tests/containers/buf_test.c - ar_buf: appends, printf, the read cursor, truncate/clear,
 * the always-terminated C string, overflow, self-appends, arguments that point into the
 * buffer itself, allocation failure, and the inline fast paths of ar_buf_append and
 * ar_buf_append_char against the library functions.
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
#include "tests/arena/arena_unit.h"

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

/* ---- arguments that point into the buffer itself -------------------------------------- */

/* A buffer holding `content` with exactly `spare` bytes of spare capacity, followed in its
 * arena by another allocation, so that growth cannot extend the storage in place. */
static void aliased_setup(ar_buf_t *b, ar_arena_t *a, const char *content, size_t spare) {
  size_t n = strlen(content);
  assert_int_equal(ar_buf_init(b, a), AR_OK);
  assert_int_equal(ar_buf_reserve(b, n + spare), AR_OK);
  assert_int_equal(ar_buf_capacity(b), n + spare);
  assert_int_equal(ar_buf_append(b, content, n), AR_OK);
  assert_non_null(ar_alloc(a, 8)); /* the blocker */
}

static void expect_contents(const ar_buf_t *b, const char *want, size_t n) {
  assert_int_equal(ar_buf_len(b), n);
  assert_memory_equal(ar_buf_data(b), want, n);
  assert_int_equal(ar_buf_data(b)[n], '\0');
}

static int vappendf_wrap(ar_buf_t *b, const char *fmt, ...) AR_PRINTF(2, 3);
static int vappendf_wrap(ar_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int err = ar_buf_vappendf(b, fmt, ap);
  va_end(ap);
  return err;
}

/* Every pointer-taking call with arguments inside the buffer, short and long output, growing
 * and not, in a plain and a checked arena (whose freed blocks are junk-filled, so reading the
 * old storage after growth shows in release builds too; ASan builds poison it instead). */
static void test_self_aliasing(void **state) {
  (void)state;
  static char small[40], big[700], want[4096];
  memset(small, 's', sizeof small - 1);
  small[sizeof small - 1] = '\0';
  for (size_t i = 0; i < sizeof big - 1; i++) big[i] = (char)('a' + i % 26);
  big[sizeof big - 1] = '\0';
  const unsigned flag_sets[] = {0, AR_ARENA_CHECKED};
  for (size_t f = 0; f < 2; f++) {
    ar_arena_t *a = mk_arena(4096, 0, flag_sets[f]);
    assert_non_null(a);
    ar_buf_t b;
    int wl;
    const char *src[] = {small, big};
    for (size_t k = 0; k < 2; k++) {
      const char *c = src[k];
      size_t cl = strlen(c);
      size_t spares[] = {0, 3000}; /* grows; fits */
      for (size_t sp = 0; sp < 2; sp++) {
        /* appendf with the whole string twice (short output for `small`, long for `big`). */
        aliased_setup(&b, a, c, spares[sp]);
        assert_int_equal(ar_buf_appendf(&b, "<%s|%s>", ar_buf_cstr(&b), ar_buf_cstr(&b)), AR_OK);
        wl = snprintf(want, sizeof want, "%s<%s|%s>", c, c, c);
        expect_contents(&b, want, (size_t)wl);
        ar_buf_destroy(&b);
        /* vappendf with a piece from the middle, through the read cursor. */
        aliased_setup(&b, a, c, spares[sp]);
        assert_int_equal(ar_buf_consume(&b, 3), AR_OK);
        assert_int_equal(
            vappendf_wrap(&b, "[%.*s]%s", (int)(cl - 5), ar_buf_rdata(&b), ar_buf_cstr(&b)), AR_OK);
        wl = snprintf(want, sizeof want, "%s[%.*s]%s", c, (int)(cl - 5), c + 3, c);
        expect_contents(&b, want, (size_t)wl);
        assert_int_equal(ar_buf_remaining(&b), (size_t)wl - 3);
        ar_buf_destroy(&b);
        /* append and append_str of the buffer's own bytes. */
        aliased_setup(&b, a, c, spares[sp]);
        assert_int_equal(ar_buf_append(&b, ar_buf_data(&b) + 1, cl - 1), AR_OK);
        assert_int_equal(ar_buf_append_str(&b, ar_buf_cstr(&b)), AR_OK);
        wl = snprintf(want, sizeof want, "%s%s", c, c + 1);
        memcpy(want + wl, want, (size_t)wl);
        expect_contents(&b, want, 2 * (size_t)wl);
        ar_buf_destroy(&b);
      }
      /* append of the terminator itself (a pointer at data + len) across a growth. */
      aliased_setup(&b, a, c, 0);
      assert_int_equal(ar_buf_append(&b, ar_buf_data(&b) + cl, 1), AR_OK);
      memcpy(want, c, cl + 1);
      expect_contents(&b, want, cl + 1);
      ar_buf_destroy(&b);
      /* read and peek into the buffer's own bytes (overlapping copies). */
      aliased_setup(&b, a, c, 0);
      assert_int_equal(ar_buf_consume(&b, 2), AR_OK);
      assert_int_equal(ar_buf_peek(&b, ar_buf_data(&b) + 1, cl - 2), cl - 2);
      memcpy(want, c, cl);
      memmove(want + 1, c + 2, cl - 2);
      expect_contents(&b, want, cl);
      assert_int_equal(ar_buf_read(&b, ar_buf_data(&b), cl - 2), cl - 2);
      memmove(want, want + 2, cl - 2);
      expect_contents(&b, want, cl);
      assert_int_equal(ar_buf_remaining(&b), 0);
      ar_buf_destroy(&b);
    }
    CHECK_ARENA(a);
    ar_arena_destroy(a);
  }
}

/* ---- the inline fast paths ------------------------------------------------------------ */

/* ar_buf_append and ar_buf_append_char are variadic macros over inline fast paths for appends
 * that fit the capacity (buf.h); everything else goes to the library functions of the same
 * names. Each check here fails if the fast path is wrong: the bytes land at len and are
 * counted, the terminator is rewritten (the byte after the new end is made nonzero first), a
 * source inside the buffer (its bytes, and its spare capacity overlapping the destination) is
 * copied as it was, the append that exactly fills the capacity keeps the storage and the next
 * one grows it, bad arguments with room to spare are refused with the last error set, and the
 * library functions by address and by parenthesised name agree with the macros. */

/* A buffer holding `content` with `spare` bytes of spare capacity, all of them 'X' (written,
 * then truncated away), so that a missing terminator or a short copy shows. */
static void inline_setup(ar_buf_t *b, ar_arena_t *a, const char *content, size_t spare) {
  size_t n = strlen(content);
  assert_int_equal(ar_buf_init(b, a), AR_OK);
  assert_int_equal(ar_buf_reserve(b, n + spare), AR_OK);
  assert_int_equal((ar_buf_append)(b, content, n), AR_OK);
  for (size_t i = 0; i < spare; i++) assert_int_equal((ar_buf_append_char)(b, 'X'), AR_OK);
  assert_int_equal(ar_buf_truncate(b, n), AR_OK);
  assert_int_equal(ar_buf_capacity(b), n + spare);
  b->data[n] = 'X'; /* the terminator too: the fast path must write its own */
}

static void test_append_inline_paths(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_buf_t b;
  char want[64];

  /* The bytes land at len, the terminator follows, the storage stays. A brace-enclosed comma
   * stays inside one macro argument. */
  inline_setup(&b, a, "abc", 6);
  char *d = ar_buf_data(&b);
  assert_int_equal(ar_buf_append(&b, (const char[]){'d', 'e'}, 2), AR_OK);
  expect_contents(&b, "abcde", 5);
  assert_int_equal(ar_buf_append(&b, "", 0), AR_OK);
  expect_contents(&b, "abcde", 5);
  /* From the buffer's own bytes, then from bytes and spare capacity overlapping the
   * destination (data + 4 .. + 7 copied to data + 5 .. + 8: the bytes as they were, "cXYZ"). */
  assert_int_equal(ar_buf_truncate(&b, 3), AR_OK);
  assert_int_equal(ar_buf_append(&b, ar_buf_data(&b) + 1, 2), AR_OK); /* "abcbc" */
  expect_contents(&b, "abcbc", 5);
  ar_buf_data(&b)[5] = 'X';
  ar_buf_data(&b)[6] = 'Y';
  ar_buf_data(&b)[7] = 'Z';
  ar_buf_data(&b)[8] = 'W';
  assert_int_equal(ar_buf_append(&b, ar_buf_data(&b) + 4, 4), AR_OK);
  expect_contents(&b, "abcbccXYZ", 9); /* exactly to the capacity */
  assert_int_equal(ar_buf_capacity(&b), 9);
  assert_ptr_equal(ar_buf_data(&b), d);
  /* One more byte: the library grows, reading the source in the old storage. */
  assert_int_equal(ar_buf_append(&b, ar_buf_data(&b) + 8, 1), AR_OK);
  expect_contents(&b, "abcbccXYZZ", 10);
  assert_true(ar_buf_capacity(&b) > 9);

  /* Bad arguments with room to spare: refused, last error set, nothing appended. */
  assert_true(ar_buf_capacity(&b) > ar_buf_len(&b));
  ar_clear_error();
  assert_int_equal(ar_buf_append(NULL, "x", 1), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(ar_buf_append(&b, NULL, 1), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(ar_buf_append_char(NULL, 'x'), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  expect_contents(&b, "abcbccXYZZ", 10);
  ar_buf_destroy(&b);

  /* append_char: the byte converted to unsigned char (0 stored too), the terminator after it,
   * exactly to the capacity, then growth. */
  inline_setup(&b, a, "ab", 4);
  d = ar_buf_data(&b);
  assert_int_equal(ar_buf_append_char(&b, 'c'), AR_OK);
  expect_contents(&b, "abc", 3);
  assert_int_equal(ar_buf_append_char(&b, 0x100 + 0xfe), AR_OK);
  assert_int_equal(ar_buf_append_char(&b, 0), AR_OK);
  assert_int_equal(ar_buf_append_char(&b, ar_buf_data(&b)[0]), AR_OK); /* to the capacity */
  memcpy(want, "abc\xfe\0a", 6);
  expect_contents(&b, want, 6);
  assert_int_equal(ar_buf_capacity(&b), 6);
  assert_ptr_equal(ar_buf_data(&b), d);
  assert_int_equal(ar_buf_append_char(&b, -1), AR_OK); /* grows */
  want[6] = '\xff';
  expect_contents(&b, want, 7);
  assert_true(ar_buf_capacity(&b) > 6);
  ar_buf_destroy(&b);

  /* The library functions by address and by parenthesised name, against the macros: the same
   * results, lengths, capacities and contents after each step, growths and fits alike. */
  int (*fn)(ar_buf_t *, const void *, size_t) = &ar_buf_append;
  int (*fc)(ar_buf_t *, int) = &ar_buf_append_char;
  ar_buf_t m, w, u;
  assert_int_equal(ar_buf_init(&m, a), AR_OK);
  assert_int_equal(ar_buf_init(&w, a), AR_OK);
  assert_int_equal(ar_buf_init(&u, a), AR_OK);
  static const char text[] = "the quick brown fox jumps over the lazy dog";
  for (size_t i = 0; i < 60; i++) {
    size_t n = i % 7, off = (i * 5) % (sizeof text - 8);
    if (i % 3 == 0) {
      int c = (int)(i * 37);
      assert_int_equal(ar_buf_append_char(&m, c), AR_OK);
      assert_int_equal(fc(&w, c), AR_OK);
      assert_int_equal((ar_buf_append_char)(&u, c), AR_OK);
    } else {
      assert_int_equal(ar_buf_append(&m, text + off, n), AR_OK);
      assert_int_equal(fn(&w, text + off, n), AR_OK);
      assert_int_equal((ar_buf_append)(&u, text + off, n), AR_OK);
    }
    assert_int_equal(ar_buf_len(&m), ar_buf_len(&w));
    assert_int_equal(ar_buf_len(&u), ar_buf_len(&w));
    assert_int_equal(ar_buf_capacity(&m), ar_buf_capacity(&w));
    assert_int_equal(ar_buf_capacity(&u), ar_buf_capacity(&w));
    assert_memory_equal(ar_buf_data(&m), ar_buf_data(&w), ar_buf_len(&w) + 1);
    assert_memory_equal(ar_buf_data(&u), ar_buf_data(&w), ar_buf_len(&w) + 1);
  }
  size_t len = ar_buf_len(&w);
  ar_clear_error();
  assert_int_equal(fn(NULL, text, 1), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(fn(&w, NULL, 1), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(fc(NULL, 'x'), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_int_equal(ar_buf_len(&w), len);
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
      cmocka_unit_test(test_self_aliasing),
      cmocka_unit_test(test_append_inline_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
