/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/strings_test.c - copies and formatting into a serial arena: ar_memdup,
 * ar_strdup, ar_strndup, ar_sprintf and ar_vsprintf (arena.h).
 *
 * A copy takes exactly what its length needs (the next allocation follows the terminator's
 * 16-byte slot), never reads past the n it was given, and goes to a dedicated chunk when it
 * is large, including a formatted string whose length is only known after formatting. NULL
 * arguments fail with AR_EINVAL, and so does an encoding error, which leaves the arena as it
 * was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/arena/arena_unit.h"

/* White-box: bytes left in the current chunk. */
static size_t room_left(const ar_arena_t *a) {
  return a->chunks != NULL ? (size_t)(a->limit - a->hot.cur_) : 0;
}

/* Small allocations until the current chunk has fewer than `below` bytes left. */
static void fill_tail(ar_arena_t *a, size_t below) {
  size_t chunks = stats_of(a).chunks;
  while (room_left(a) >= below) assert_non_null(ar_alloc(a, 16));
  assert_int_equal(stats_of(a).chunks, chunks);
}

/* ---- copies and formatting ------------------------------------------------------------- */

static void test_memdup(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  unsigned char src[777];
  for (size_t i = 0; i < sizeof src; i++) src[i] = (unsigned char)(i * 7);
  unsigned char *d = (unsigned char *)ar_memdup(a, src, sizeof src);
  assert_non_null(d);
  assert_true(addr(d) != addr(src));
  assert_memory_equal(d, src, sizeof src);
  assert_true(ar_owns(a, d));
  unsigned char *big = (unsigned char *)malloc(3 * CHUNK);
  assert_non_null(big);
  memset(big, 0x9C, 3 * CHUNK);
  unsigned char *dbig = (unsigned char *)ar_memdup(a, big, 3 * CHUNK);
  assert_non_null(dbig);
  assert_memory_equal(dbig, big, 3 * CHUNK);
  assert_int_equal(stats_of(a).large_chunks, 1);
  free(big);
  ar_clear_error();
  assert_null(ar_memdup(a, NULL, 5));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_non_null(ar_memdup(a, NULL, 0));
  ar_arena_destroy(a);
}

static void test_strdup_strndup(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  const char *s = "hello, arena";
  char *d = ar_strdup(a, s);
  assert_non_null(d);
  assert_true(addr(d) != addr(s));
  assert_string_equal(d, s);
  assert_int_equal(stats_of(a).used, cost(0, strlen(s) + 1));
  char *e = ar_strdup(a, "");
  assert_non_null(e);
  assert_string_equal(e, "");

  char *shorter = ar_strndup(a, s, 5);
  assert_non_null(shorter);
  assert_string_equal(shorter, "hello");
  char *longer = ar_strndup(a, s, 100);
  assert_non_null(longer);
  assert_string_equal(longer, s);
  char *exact = ar_strndup(a, s, strlen(s));
  assert_non_null(exact);
  assert_string_equal(exact, s);
  char *none = ar_strndup(a, s, 0);
  assert_non_null(none);
  assert_string_equal(none, "");
  /* strndup must not read past n: a buffer without a terminator. */
  char unterminated[4] = {'a', 'b', 'c', 'd'};
  char *ut = ar_strndup(a, unterminated, sizeof unterminated);
  assert_non_null(ut);
  assert_string_equal(ut, "abcd");

  ar_clear_error();
  assert_null(ar_strdup(a, NULL));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_null(ar_strndup(a, NULL, 3));
  assert_int_equal(ar_last_error(), AR_EINVAL);

  /* Longer than a chunk. */
  char *text = (char *)malloc(3 * CHUNK + 1);
  assert_non_null(text);
  memset(text, 'q', 3 * CHUNK);
  text[3 * CHUNK] = '\0';
  char *dt = ar_strdup(a, text);
  assert_non_null(dt);
  assert_string_equal(dt, text);
  free(text);
  ar_arena_destroy(a);
}

static void test_sprintf_vsprintf(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  char *s = ar_sprintf(a, "%s-%d-%05.1f-%c", "abc", -42, 3.25, 'z');
  assert_non_null(s);
  assert_string_equal(s, "abc--42-003.2-z");
  /* Exactly as long as needed: the next allocation follows the terminator's 16-byte slot. */
  assert_int_equal(stats_of(a).used, cost(0, strlen(s) + 1));
  char *v = vsprintf_wrap(a, "[%x|%lu]", 255u, (unsigned long)ULONG_MAX);
  assert_non_null(v);
  char expect[64];
  snprintf(expect, sizeof expect, "[ff|%lu]", (unsigned long)ULONG_MAX);
  assert_string_equal(v, expect);
  char *empty = ar_sprintf(a, "%s", "");
  assert_non_null(empty);
  assert_string_equal(empty, "");

  /* Over a quarter of a chunk, and over a whole chunk: dedicated chunks. */
  const size_t lens[] = {THRESHOLD(CHUNK) + 10, 3 * CHUNK};
  for (size_t i = 0; i < 2; i++) {
    char *piece = (char *)malloc(lens[i] + 1);
    assert_non_null(piece);
    memset(piece, (int)('a' + i), lens[i]);
    piece[lens[i]] = '\0';
    ar_mark_t m = ar_mark(a);
    fill_tail(a, lens[i]); /* too little room for it in the current chunk's tail */
    size_t large = stats_of(a).large_chunks;
    char *out = i == 0 ? ar_sprintf(a, "<%s>%zu", piece, lens[i])
                       : vsprintf_wrap(a, "<%s>%zu", piece, lens[i]);
    assert_non_null(out);
    char digits[32];
    assert_true(snprintf(digits, sizeof digits, "%zu", lens[i]) > 0);
    assert_int_equal(strlen(out), lens[i] + 2 + strlen(digits));
    assert_int_equal(out[0], '<');
    assert_memory_equal(out + 1, piece, lens[i]);
    assert_int_equal(out[lens[i] + 1], '>');
    assert_int_equal(stats_of(a).large_chunks, large + 1);
    assert_int_equal(ar_rewind(a, &m), AR_OK);
    free(piece);
  }

  const char *volatile nofmt = NULL;
  ar_clear_error();
  assert_null(ar_sprintf(a, nofmt, 1)); /* an argument, so -Wformat-security stays quiet */
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_null(vsprintf_wrap(a, nofmt, 1));
  assert_int_equal(ar_last_error(), AR_EINVAL);

  /* An encoding error (a wide character the "C" locale cannot represent). */
  const wchar_t wide[] = {0xE9, 0};
  ar_stats_t before = stats_of(a);
  ar_clear_error();
  assert_null(ar_sprintf(a, "%ls", wide));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  ar_arena_destroy(a);
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_memdup),
      chunk_layout_test(test_strdup_strndup),
      chunk_layout_test(test_sprintf_vsprintf),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
