/* SPDX-License-Identifier: MIT */
/*
 * tests/containers/vec_test.c - ar_vec: every call, the typed macros, overflow, allocation
 * failure leaving the vector unchanged, remove-with-limit, aliasing arguments, and the inline
 * fast paths of ar_vec_append and ar_vec_push against the library functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/vec.h"
#include "tests/arena/arena_unit.h"

typedef struct pt {
  int x, y;
} pt_t;

static void expect_ints(const ar_vec_t *v, const int *want, size_t n) {
  assert_int_equal(ar_vec_len(v), n);
  for (size_t i = 0; i < n; i++) assert_int_equal(AR_VEC_AT(v, int, i), want[i]);
}

static void test_init_and_args(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(NULL, a, 4), AR_EINVAL);
  assert_int_equal(ar_vec_init(&v, NULL, 4), AR_EINVAL);
  assert_int_equal(ar_vec_init(&v, a, 0), AR_EINVAL);
  assert_int_equal(ar_vec_init(&v, a, SIZE_MAX), AR_EINVAL);
  assert_int_equal(ar_vec_init(&v, a, sizeof(int)), AR_OK);
  assert_int_equal(ar_vec_len(&v), 0);
  assert_int_equal(ar_vec_capacity(&v), 0);
  assert_int_equal(ar_vec_elem_size(&v), sizeof(int));
  assert_null(ar_vec_data(&v));
  assert_int_equal(ar_vec_len(NULL), 0);
  assert_null(ar_vec_data(NULL));
  assert_int_equal(ar_vec_push(NULL, &v), AR_EINVAL);
  assert_int_equal(ar_vec_push(&v, NULL), AR_EINVAL);
  assert_int_equal(ar_vec_append(&v, NULL, 3), AR_EINVAL);
  assert_int_equal(ar_vec_append(&v, NULL, 0), AR_OK);
  assert_null(ar_vec_at(&v, 0));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  int x;
  assert_int_equal(ar_vec_get(&v, 0, &x), AR_EINVAL);
  assert_int_equal(ar_vec_set(&v, 0, &x), AR_EINVAL);
  assert_int_equal(ar_vec_pop(&v, &x), AR_EINVAL);
  assert_int_equal(ar_vec_remove(&v, 0, 1, NULL), AR_EINVAL);
  assert_int_equal(ar_vec_remove(&v, 0, 0, NULL), AR_OK);
  assert_int_equal(ar_vec_swap_remove(&v, 0, NULL), AR_EINVAL);
  assert_int_equal(ar_vec_truncate(&v, 1), AR_EINVAL);
  assert_int_equal(ar_vec_insert(&v, 1, &x, 1), AR_EINVAL);
  assert_int_equal(ar_vec_index_of(&v, &x), AR_VEC_NPOS);
  assert_int_equal(ar_vec_index_of(NULL, &x), AR_VEC_NPOS);
  assert_int_equal(ar_vec_remove_value(NULL, &x, 1), 0);
  assert_int_equal(ar_vec_remove_if(&v, NULL, NULL, 1), 0);
  assert_int_equal(ar_vec_foreach(&v, NULL, NULL), AR_EINVAL);
  assert_int_equal(ar_vec_shrink_to_fit(&v), AR_OK);
  /* Wrong-size typed push is rejected. */
  assert_int_equal(AR_VEC_PUSH(&v, char, 'c'), AR_EINVAL);
  ar_vec_clear(NULL);
  ar_vec_destroy(NULL);
  ar_vec_destroy(&v);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_push_at_static_init(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v = AR_VEC_INIT(a, pt_t);
  for (int i = 0; i < 1000; i++) {
    pt_t p = {i, -i};
    assert_int_equal(AR_VEC_PUSH(&v, pt_t, p), AR_OK);
  }
  assert_int_equal(ar_vec_len(&v), 1000);
  assert_true(ar_vec_capacity(&v) >= 1000);
  for (int i = 0; i < 1000; i++) {
    assert_int_equal(AR_VEC_AT(&v, pt_t, i).x, i);
    assert_int_equal(((pt_t *)ar_vec_at(&v, (size_t)i))->y, -i);
  }
  AR_VEC_AT(&v, pt_t, 5).x = 55;
  pt_t got;
  assert_int_equal(ar_vec_get(&v, 5, &got), AR_OK);
  assert_int_equal(got.x, 55);
  pt_t s = {1, 2};
  assert_int_equal(ar_vec_set(&v, 6, &s), AR_OK);
  assert_int_equal(AR_VEC_DATA(&v, pt_t)[6].y, 2);
  int sum = 0;
  AR_VEC_FOREACH(&v, pt_t, it) sum += it->y;
  assert_int_equal(sum, -(999 * 1000 / 2) + 6 + 2);
  CHECK_ARENA(a);
  ar_vec_destroy(&v);
  assert_int_equal(ar_vec_len(&v), 0);
  assert_null(ar_vec_data(&v));
  /* An empty vector's FOREACH runs zero times. */
  AR_VEC_FOREACH(&v, pt_t, it) fail();
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_append_insert_remove(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, a, sizeof(int)), AR_OK);
  int base[] = {0, 1, 2, 3, 4};
  assert_int_equal(ar_vec_append(&v, base, 5), AR_OK);
  int mid[] = {10, 11};
  assert_int_equal(ar_vec_insert(&v, 2, mid, 2), AR_OK);
  expect_ints(&v, (int[]){0, 1, 10, 11, 2, 3, 4}, 7);
  assert_int_equal(ar_vec_insert(&v, 7, mid, 1), AR_OK); /* at len: append */
  assert_int_equal(ar_vec_insert(&v, 0, mid + 1, 1), AR_OK);
  expect_ints(&v, (int[]){11, 0, 1, 10, 11, 2, 3, 4, 10}, 9);
  int out[3];
  assert_int_equal(ar_vec_remove(&v, 1, 3, out), AR_OK);
  assert_int_equal(out[0], 0);
  assert_int_equal(out[2], 10);
  expect_ints(&v, (int[]){11, 11, 2, 3, 4, 10}, 6);
  assert_int_equal(ar_vec_remove(&v, 5, 2, NULL), AR_EINVAL);
  assert_int_equal(ar_vec_remove(&v, SIZE_MAX, 1, NULL), AR_EINVAL);
  assert_int_equal(ar_vec_swap_remove(&v, 0, out), AR_OK);
  assert_int_equal(out[0], 11);
  expect_ints(&v, (int[]){10, 11, 2, 3, 4}, 5);
  assert_int_equal(ar_vec_pop(&v, out), AR_OK);
  assert_int_equal(out[0], 4);
  assert_int_equal(ar_vec_pop(&v, NULL), AR_OK);
  expect_ints(&v, (int[]){10, 11, 2}, 3);
  static const int pattern[3] = {10, 11, 2};
  /* Append from the vector's own storage, across a growth. */
  for (int i = 0; i < 6; i++)
    assert_int_equal(ar_vec_append(&v, ar_vec_data(&v), ar_vec_len(&v)), AR_OK);
  assert_int_equal(ar_vec_len(&v), 3 * 64);
  for (size_t i = 0; i < ar_vec_len(&v); i++)
    assert_int_equal(AR_VEC_AT(&v, int, i), pattern[i % 3]);
  int *z = ar_vec_push_zeroed(&v, 4);
  assert_non_null(z);
  assert_int_equal(z[3], 0);
  assert_int_equal(ar_vec_len(&v), 3 * 64 + 4);
  assert_int_equal(ar_vec_truncate(&v, 2), AR_OK);
  expect_ints(&v, (int[]){10, 11}, 2);
  ar_vec_clear(&v);
  assert_int_equal(ar_vec_len(&v), 0);
  assert_true(ar_vec_capacity(&v) > 0);
  assert_int_equal(ar_vec_shrink_to_fit(&v), AR_OK);
  assert_int_equal(ar_vec_capacity(&v), 0);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static bool is_odd(const void *e, void *ctx) {
  int *calls = (int *)ctx;
  (*calls)++;
  return (*(const int *)e & 1) != 0;
}

static void test_remove_value_and_if(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, a, sizeof(int)), AR_OK);
  int src[] = {1, 7, 2, 7, 3, 7, 7, 4};
  assert_int_equal(ar_vec_append(&v, src, 8), AR_OK);
  int seven = 7, nine = 9;
  assert_int_equal(ar_vec_index_of(&v, &seven), 1);
  assert_int_equal(ar_vec_last_index_of(&v, &seven), 6);
  assert_int_equal(ar_vec_index_of(&v, &nine), AR_VEC_NPOS);
  assert_int_equal(ar_vec_last_index_of(&v, &nine), AR_VEC_NPOS);
  assert_int_equal(ar_vec_remove_value(&v, &seven, 0), 0);
  assert_int_equal(ar_vec_remove_value(&v, &seven, 2), 2);
  expect_ints(&v, (int[]){1, 2, 3, 7, 7, 4}, 6);
  assert_int_equal(ar_vec_remove_value(&v, &nine, AR_VEC_ALL), 0);
  /* elem pointing into the vector: the value is copied before slots move. */
  assert_int_equal(ar_vec_remove_value(&v, ar_vec_at(&v, 3), AR_VEC_ALL), 2);
  expect_ints(&v, (int[]){1, 2, 3, 4}, 4);
  int more[] = {5, 6, 7, 9, 11};
  assert_int_equal(ar_vec_append(&v, more, 5), AR_OK);
  int calls = 0;
  assert_int_equal(ar_vec_remove_if(&v, is_odd, &calls, 3), 3);
  expect_ints(&v, (int[]){2, 4, 6, 7, 9, 11}, 6);
  assert_int_equal(calls, 5); /* stopped consulting the predicate after the third hit */
  calls = 0;
  assert_int_equal(ar_vec_remove_if(&v, is_odd, &calls, AR_VEC_ALL), 3);
  expect_ints(&v, (int[]){2, 4, 6}, 3);
  assert_int_equal(ar_vec_remove_if(&v, is_odd, &calls, 0), 0);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static int visit_sum(void *e, size_t i, void *ctx) {
  long *acc = (long *)ctx;
  *acc += *(int *)e * (long)(i + 1);
  return *(int *)e == 1000 ? 42 : 0;
}

static void test_foreach_reserve_shrink(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, a, sizeof(int)), AR_OK);
  assert_int_equal(ar_vec_reserve(&v, 100), AR_OK);
  assert_int_equal(ar_vec_capacity(&v), 100);
  void *d = ar_vec_data(&v);
  for (int i = 0; i < 100; i++) assert_int_equal(AR_VEC_PUSH(&v, int, i), AR_OK);
  assert_ptr_equal(ar_vec_data(&v), d); /* no growth within the reservation */
  assert_int_equal(ar_vec_reserve(&v, 10), AR_OK);
  assert_int_equal(ar_vec_capacity(&v), 100);
  long acc = 0;
  assert_int_equal(ar_vec_foreach(&v, visit_sum, &acc), 0);
  long want = 0;
  for (int i = 0; i < 100; i++) want += (long)i * (i + 1);
  assert_int_equal(acc, want);
  AR_VEC_AT(&v, int, 10) = 1000;
  assert_int_equal(ar_vec_foreach(&v, visit_sum, &acc), 42);
  assert_int_equal(ar_vec_truncate(&v, 30), AR_OK);
  assert_int_equal(ar_vec_shrink_to_fit(&v), AR_OK);
  assert_int_equal(ar_vec_capacity(&v), 30);
  assert_int_equal(AR_VEC_AT(&v, int, 29), 29);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* ar_vec_append is a variadic macro over an inline fast path for appends that fit the
 * capacity (vec.h); everything else goes to the library function of the same name. These pin
 * down that the macro takes any argument the function takes, that the fast path copies to the
 * right place and counts the elements (with a source inside the vector, at the exact end of
 * the capacity), that it never takes bad arguments for a fast copy, and that the function
 * reached by its address agrees with the macro step for step. */
static void test_append_inline_path(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, a, sizeof(int)), AR_OK);
  /* The commas of a compound literal stay inside one macro argument. */
  assert_int_equal(ar_vec_append(&v, (int[]){1, 2, 3}, 3), AR_OK);
  expect_ints(&v, (int[]){1, 2, 3}, 3);

  /* Within a reservation, from the vector's own storage: no growth, the old elements copied. */
  assert_int_equal(ar_vec_reserve(&v, 12), AR_OK);
  assert_int_equal(ar_vec_capacity(&v), 12);
  void *d = ar_vec_data(&v);
  assert_int_equal(ar_vec_append(&v, ar_vec_data(&v), 3), AR_OK);
  expect_ints(&v, (int[]){1, 2, 3, 1, 2, 3}, 6);
  assert_int_equal(ar_vec_append(&v, (const int *)ar_vec_data(&v) + 1, 4), AR_OK);
  expect_ints(&v, (int[]){1, 2, 3, 1, 2, 3, 2, 3, 1, 2}, 10);
  assert_int_equal(ar_vec_append(&v, (const int *)ar_vec_data(&v) + 7, 2), AR_OK); /* to cap */
  expect_ints(&v, (int[]){1, 2, 3, 1, 2, 3, 2, 3, 1, 2, 3, 1}, 12);
  assert_ptr_equal(ar_vec_data(&v), d);
  assert_int_equal(ar_vec_capacity(&v), 12);
  /* One past the capacity: the library grows, still reading the source in the old storage. */
  assert_int_equal(ar_vec_append(&v, ar_vec_data(&v), 12), AR_OK);
  assert_int_equal(ar_vec_len(&v), 24);
  for (size_t i = 0; i < 12; i++)
    assert_int_equal(AR_VEC_AT(&v, int, i + 12), AR_VEC_AT(&v, int, i));

  /* Bad arguments, with room to spare so that only the argument checks stand between them and
   * a fast-path copy: refused, last error set, nothing appended. */
  assert_int_equal(ar_vec_reserve(&v, 30), AR_OK);
  ar_clear_error();
  assert_int_equal(ar_vec_append(NULL, (int[]){7}, 1), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(ar_vec_append(&v, NULL, 1), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_int_equal(ar_vec_len(&v), 24);
  assert_int_equal(ar_vec_append(&v, NULL, 0), AR_OK);
  assert_int_equal(ar_vec_len(&v), 24);

  /* The library function by its address and by its parenthesised name, against the macro:
   * the same results, lengths, capacities and contents after each step. */
  int (*fn)(ar_vec_t *, const void *, size_t) = &ar_vec_append;
  ar_vec_t w, u;
  assert_int_equal(ar_vec_init(&w, a, sizeof(int)), AR_OK);
  assert_int_equal(ar_vec_init(&u, a, sizeof(int)), AR_OK);
  int src[40];
  for (int i = 0; i < 40; i++) src[i] = 100 + i;
  const size_t counts[] = {3, 0, 1, 5, 20, 2, 9};
  size_t off = 0;
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    const int *from = counts[i] == 0 ? NULL : src + off % 20;
    assert_int_equal(fn(&w, from, counts[i]), AR_OK);
    assert_int_equal((ar_vec_append)(&u, from, counts[i]), AR_OK);
    assert_int_equal(ar_vec_append(&v, from, counts[i]), AR_OK);
    assert_int_equal(ar_vec_len(&w), ar_vec_len(&u));
    assert_int_equal(ar_vec_capacity(&w), ar_vec_capacity(&u));
    assert_int_equal(ar_vec_len(&v), 24 + ar_vec_len(&w));
    assert_memory_equal(ar_vec_data(&w), ar_vec_data(&u), ar_vec_len(&w) * sizeof(int));
    assert_memory_equal((const int *)ar_vec_data(&v) + 24, ar_vec_data(&w),
                        ar_vec_len(&w) * sizeof(int));
    off += counts[i];
  }
  assert_int_equal(ar_vec_len(&w), off);
  ar_clear_error();
  assert_int_equal(fn(NULL, src, 1), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(fn(&w, NULL, 1), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_int_equal(ar_vec_len(&w), off);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* ar_vec_push is, like ar_vec_append, a variadic macro over an inline fast path for a push
 * that fits the capacity (vec.h). These pin down the same things for it: an element written
 * as a compound literal with commas, the element copied to index len (with an element size
 * that is not a power of two) and counted, an `elem` inside the vector, the push that exactly
 * fills the capacity (no growth, same storage) and the next one (growth), bad arguments with
 * room to spare refused with the last error set, and the library function reached by its
 * address and by its parenthesised name agreeing with the macro step for step. */
typedef struct tri {
  unsigned char b[3];
} tri_t;

static void test_push_inline_path(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, a, sizeof(pt_t)), AR_OK);
  assert_int_equal(ar_vec_push(&v, &(pt_t){0, 0}), AR_OK); /* grows: the library */
  assert_int_equal(ar_vec_len(&v), 1);
  ar_vec_destroy(&v);
  assert_int_equal(ar_vec_reserve(&v, 5), AR_OK);
  assert_int_equal(ar_vec_capacity(&v), 5);
  void *d = ar_vec_data(&v);
  assert_int_equal(ar_vec_push(&v, &(pt_t){1, -1}), AR_OK);
  assert_int_equal(ar_vec_push(&v, &(pt_t){2, -2}), AR_OK);
  assert_int_equal(ar_vec_push(&v, &(pt_t){3, -3}), AR_OK);
  /* From the vector's own storage, within the capacity. */
  assert_int_equal(ar_vec_push(&v, ar_vec_at(&v, 1)), AR_OK);
  /* Exactly to the capacity, again from inside: no growth, the same storage. */
  assert_int_equal(ar_vec_push(&v, ar_vec_at(&v, 0)), AR_OK);
  assert_int_equal(ar_vec_len(&v), 5);
  assert_int_equal(ar_vec_capacity(&v), 5);
  assert_ptr_equal(ar_vec_data(&v), d);
  const int want[][2] = {{1, -1}, {2, -2}, {3, -3}, {2, -2}, {1, -1}};
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(AR_VEC_AT(&v, pt_t, i).x, want[i][0]);
    assert_int_equal(AR_VEC_AT(&v, pt_t, i).y, want[i][1]);
  }
  /* One more: the library grows, reading the element from the old storage. */
  assert_int_equal(ar_vec_push(&v, ar_vec_at(&v, 2)), AR_OK);
  assert_int_equal(ar_vec_len(&v), 6);
  assert_true(ar_vec_capacity(&v) > 5);
  assert_int_equal(AR_VEC_AT(&v, pt_t, 5).x, 3);
  assert_int_equal(AR_VEC_AT(&v, pt_t, 5).y, -3);
  for (size_t i = 0; i < 5; i++) assert_int_equal(AR_VEC_AT(&v, pt_t, i).x, want[i][0]);

  /* Bad arguments with room to spare: refused, last error set, nothing pushed. */
  assert_true(ar_vec_capacity(&v) > ar_vec_len(&v));
  ar_clear_error();
  assert_int_equal(ar_vec_push(NULL, &(pt_t){7, 7}), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(ar_vec_push(&v, NULL), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_int_equal(ar_vec_len(&v), 6);

  /* The library function by its address and by its parenthesised name, against the macro, on
   * 3-byte elements: the same results, lengths, capacities and contents after each push
   * (growths and in-capacity pushes alike). */
  int (*fn)(ar_vec_t *, const void *) = &ar_vec_push;
  ar_vec_t m, w, u;
  assert_int_equal(ar_vec_init(&m, a, sizeof(tri_t)), AR_OK);
  assert_int_equal(ar_vec_init(&w, a, sizeof(tri_t)), AR_OK);
  assert_int_equal(ar_vec_init(&u, a, sizeof(tri_t)), AR_OK);
  for (unsigned i = 0; i < 40; i++) {
    tri_t t = {{(unsigned char)i, (unsigned char)(i * 7), (unsigned char)~i}};
    assert_int_equal(ar_vec_push(&m, &t), AR_OK);
    assert_int_equal(fn(&w, &t), AR_OK);
    assert_int_equal((ar_vec_push)(&u, &t), AR_OK);
    assert_int_equal(ar_vec_len(&m), i + 1);
    assert_int_equal(ar_vec_len(&w), i + 1);
    assert_int_equal(ar_vec_len(&u), i + 1);
    assert_int_equal(ar_vec_capacity(&m), ar_vec_capacity(&w));
    assert_int_equal(ar_vec_capacity(&u), ar_vec_capacity(&w));
    assert_memory_equal(ar_vec_data(&m), ar_vec_data(&w), (i + 1) * sizeof(tri_t));
    assert_memory_equal(ar_vec_data(&u), ar_vec_data(&w), (i + 1) * sizeof(tri_t));
    assert_memory_equal(ar_vec_at(&m, i), &t, sizeof t);
  }
  ar_clear_error();
  assert_int_equal(fn(NULL, &m), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_int_equal(fn(&w, NULL), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_int_equal(ar_vec_len(&w), 40);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_overflow(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, a, 1024), AR_OK);
  assert_int_equal(ar_vec_reserve(&v, SIZE_MAX / 512), AR_EOVERFLOW);
  assert_int_equal(ar_vec_reserve(&v, AR_MAX_ALLOC_SIZE / 1024 + 1), AR_EOVERFLOW);
  char e[1024] = {0};
  assert_int_equal(ar_vec_push(&v, e), AR_OK);
  assert_null(ar_vec_push_zeroed(&v, SIZE_MAX));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  assert_int_equal(ar_vec_insert(&v, 0, e, SIZE_MAX), AR_EOVERFLOW);
  assert_int_equal(ar_vec_len(&v), 1);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* An arena capped at two small chunks: growth eventually fails and must change nothing. */
static void test_alloc_failure_unchanged(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(4096, 8192, 0);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, a, sizeof(int)), AR_OK);
  int err = AR_OK;
  int i = 0;
  while ((err = AR_VEC_PUSH(&v, int, i)) == AR_OK) i++;
  assert_true(err == AR_ELIMIT || err == AR_ENOMEM);
  assert_int_equal(ar_vec_len(&v), (size_t)i);
  for (int k = 0; k < i; k++) assert_int_equal(AR_VEC_AT(&v, int, k), k);
  size_t cap = ar_vec_capacity(&v);
  void *data = ar_vec_data(&v);
  int many[64] = {0};
  /* Any call that needs to grow fails the same way and leaves everything as it was. */
  while (ar_vec_len(&v) < cap) assert_int_equal(AR_VEC_PUSH(&v, int, 7), AR_OK);
  size_t len = ar_vec_len(&v);
  assert_int_equal(ar_vec_append(&v, many, 64), err);
  assert_int_equal(ar_vec_insert(&v, 0, many, 64), err);
  assert_null(ar_vec_push_zeroed(&v, 64));
  assert_int_equal(ar_vec_reserve(&v, cap * 4), err);
  assert_int_equal(ar_vec_len(&v), len);
  assert_int_equal(ar_vec_capacity(&v), cap);
  assert_ptr_equal(ar_vec_data(&v), data);
  for (int k = 0; k < i; k++) assert_int_equal(AR_VEC_AT(&v, int, k), k);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* Vectors growing side by side recycle each other's old storage. */
static void test_growth_recycles(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_vec_t v1, v2;
  assert_int_equal(ar_vec_init(&v1, a, 8), AR_OK);
  assert_int_equal(ar_vec_init(&v2, a, 8), AR_OK);
  for (uint64_t i = 0; i < 3000; i++) {
    assert_int_equal(AR_VEC_PUSH(&v1, uint64_t, i), AR_OK);
    assert_int_equal(AR_VEC_PUSH(&v2, uint64_t, ~i), AR_OK);
    if (i % 97 == 0) CHECK_ARENA(a);
  }
  for (uint64_t i = 0; i < 3000; i++) {
    assert_true(AR_VEC_AT(&v1, uint64_t, i) == i);
    assert_true(AR_VEC_AT(&v2, uint64_t, i) == ~i);
  }
  ar_stats_t st;
  assert_int_equal(ar_arena_stats(a, &st), AR_OK);
  size_t live = (ar_vec_capacity(&v1) + ar_vec_capacity(&v2)) * 8;
  if (reuses(a)) assert_true(st.used < 2 * live);
  ar_vec_destroy(&v1);
  ar_vec_destroy(&v2);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_and_args),           cmocka_unit_test(test_push_at_static_init),
      cmocka_unit_test(test_append_insert_remove),    cmocka_unit_test(test_remove_value_and_if),
      cmocka_unit_test(test_foreach_reserve_shrink),  cmocka_unit_test(test_append_inline_path),
      cmocka_unit_test(test_push_inline_path),        cmocka_unit_test(test_overflow),
      cmocka_unit_test(test_alloc_failure_unchanged), cmocka_unit_test(test_growth_recycles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
