/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/arena_test.c - the serial arena itself (arena.h, common.h): creation
 * and its options, sizes and alignments, the NULL arena, a failing source, large requests,
 * reset/release/destroy and the inline fast path (the owner thread: owner_test.c).
 *
 * Every expected byte count goes through cost() and large_bytes() (arena_unit.h), which turn a
 * request into what it takes from a chunk in the build mode in force, so the assertions hold
 * exactly in every config instead of being loosened to inequalities. A counting source
 * (tests/test_sources.h) checks that what the arena reports is what the source holds.
 *
 * Most tests assert the chunk layout (chunk counts, addresses, the source's calls), which the
 * heap flavor does not have: there every test here is listed and reported skipped
 * (chunk_layout_test in arena_unit.h), as none of them ran in that flavor before the split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/arena/arena_unit.h"
#include "tests/child.h"
#include "tests/test_sources.h"

/* ---- options and creation -------------------------------------------------------------- */

static void test_options_init_matches_static(void **state) {
  ar_options_t dyn;
  memset(&dyn, 0xA5, sizeof dyn);
  ar_options_init(&dyn);
  ar_options_t sta = AR_OPTIONS_INIT;
  assert_int_equal(dyn.chunk_size, sta.chunk_size);
  assert_int_equal(dyn.prealloc_chunks, sta.prealloc_chunks);
  assert_int_equal(dyn.retain_bytes, sta.retain_bytes);
  assert_int_equal(dyn.limit_bytes, sta.limit_bytes);
  assert_ptr_equal(dyn.source, sta.source);
  assert_int_equal(dyn.flags, sta.flags);
  assert_ptr_equal(dyn.name, sta.name);
  assert_int_equal(sta.chunk_size, AR_DEFAULT_CHUNK_SIZE);
  assert_int_equal(sta.retain_bytes, AR_DEFAULT_RETAIN_BYTES);
  assert_int_equal(sta.prealloc_chunks, 0);
  assert_int_equal(sta.limit_bytes, 0);
  assert_null(sta.source);
  assert_int_equal(sta.flags, 0);
  ar_options_init(NULL); /* documented as harmless */
}

static void test_create_null_opts(void **state) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.used, 0);
  assert_int_equal(s.capacity, 0);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.allocs, 0);
  assert_string_equal(ar_arena_name(a), "");
  void *p = ar_alloc(a, 100);
  assert_non_null(p);
  s = stats_of(a);
  assert_int_equal(s.capacity, AR_DEFAULT_CHUNK_SIZE);
  assert_int_equal(s.chunks, 1);
  assert_int_equal(s.used, cost(0, 100));
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

static void test_create_invalid_chunk_size(void **state) {
  const size_t bad[] = {1, AR_MIN_CHUNK_SIZE - 1, ((size_t)1 << 30) + 1, (size_t)1 << 40, SIZE_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.chunk_size = bad[i];
    ar_clear_error();
    assert_null(ar_arena_create(&o));
    assert_int_equal(ar_last_error(), AR_EINVAL);
  }
  /* The bounds themselves are accepted; 0 means the default. */
  const size_t good[] = {0, AR_MIN_CHUNK_SIZE, (size_t)1 << 30};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.chunk_size = good[i];
    ar_arena_t *a = ar_arena_create(&o);
    assert_non_null(a);
    assert_int_equal(ar_arena_check(a), AR_OK);
    ar_arena_destroy(a);
  }
}

static void *never_acquire(void *ctx, size_t size) {
  (void)ctx;
  (void)size;
  return NULL;
}

static void never_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  (void)p;
  (void)size;
}

static void test_create_source_without_callbacks(void **state) {
  ar_source_t no_acquire = {NULL, never_release, NULL, "no-acquire"};
  ar_source_t no_release = {never_acquire, NULL, NULL, "no-release"};
  const ar_source_t *bad[] = {&no_acquire, &no_release};
  for (size_t i = 0; i < 2; i++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.source = bad[i];
    ar_clear_error();
    assert_null(ar_arena_create(&o));
    assert_int_equal(ar_last_error(), AR_EINVAL);
  }
}

/* arena.h, chunk_size: rounded up to a multiple of 64, and limit_bytes and chunk pools see
 * the rounded size: three 1000-byte chunks are three 1024-byte ones. */
static void test_chunk_size_rounded(void **state) {
  (void)state;
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 1000;
  o.prealloc_chunks = 3;
  o.limit_bytes = 3000;
  ar_clear_error();
  assert_null(ar_arena_create(&o));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  o.limit_bytes = 3 * 1024;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  assert_int_equal(stats_of(a).capacity, 3 * 1024);
  ar_arena_destroy(a);

  /* A pool of 1024-byte chunks serves an arena asked for 1000-byte ones. */
  ar_chunk_pool_t *pool = ar_chunk_pool_create(1024, 16, NULL);
  assert_non_null(pool);
  ar_options_t po = AR_OPTIONS_INIT;
  po.chunk_size = 1000;
  po.source = ar_chunk_pool_source(pool);
  for (int round = 0; round < 2; round++) {
    a = ar_arena_create(&po);
    assert_non_null(a);
    for (int i = 0; i < 20; i++) assert_non_null(ar_alloc(a, 100));
    ar_arena_destroy(a);
  }
  ar_chunk_pool_stats_t ps;
  assert_int_equal(ar_chunk_pool_stats(pool, &ps), AR_OK);
  assert_true(ps.hits > 0); /* the second round reused the first round's chunks */
  ar_chunk_pool_destroy(pool);
}

static void test_create_prealloc_over_limit(void **state) {
  test_source_t ts;
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = test_source_init(&ts);
  o.chunk_size = CHUNK;
  o.limit_bytes = 4 * CHUNK;
  o.prealloc_chunks = 5;
  ar_clear_error();
  assert_null(ar_arena_create(&o));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_int_equal(ts.attempts, 0);

  o.prealloc_chunks = 4; /* exactly at the limit is fine */
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.capacity, 4 * CHUNK);
  assert_int_equal(s.spare_chunks, 4);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.used, 0);
  assert_int_equal(ts.acquires, 4);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));
}

static void test_create_prealloc_failing_source(void **state) {
  test_source_t ts;
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = test_source_init(&ts);
  o.chunk_size = CHUNK;
  o.prealloc_chunks = 5;
  ts.fail_at = 3;
  ar_clear_error();
  assert_null(ar_arena_create(&o));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_int_equal(ts.attempts, 3);
  assert_int_equal(ts.acquires, 2);
  assert_true(test_source_balanced(&ts));

  test_source_init(&ts);
  ts.fail_from = 1;
  ar_clear_error();
  assert_null(ar_arena_create(&o));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_int_equal(ts.acquires, 0);
  assert_true(test_source_balanced(&ts));
}

static void test_arena_name(void **state) {
  char name[64] = "request-pool";
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = name;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  name[0] = 'X'; /* the arena keeps its own copy */
  assert_string_equal(ar_arena_name(a), "request-pool");
  ar_arena_destroy(a);

  const char *longname = "a-name-that-is-much-longer-than-thirty-one-bytes";
  o.name = longname;
  a = ar_arena_create(&o);
  assert_non_null(a);
  assert_int_equal(strlen(ar_arena_name(a)), 31);
  assert_memory_equal(ar_arena_name(a), longname, 31);
  ar_arena_destroy(a);
}

static void test_version(void **state) {
  assert_non_null(ar_version());
  assert_string_equal(ar_version(), AR_VERSION_STRING);
  char expect[32];
  snprintf(expect, sizeof expect, "%d.%d.%d", AR_VERSION_MAJOR, AR_VERSION_MINOR, AR_VERSION_PATCH);
  assert_string_equal(ar_version(), expect);
}

/* ---- alignment and sizes --------------------------------------------------------------- */

static void test_every_alignment(void **state) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  for (size_t align = 1; align <= ((size_t)1 << 16); align <<= 1) {
    for (size_t size = 1; size <= 100; size += 33) {
      char *p = (char *)ar_alloc_aligned(a, size, align);
      assert_non_null(p);
      assert_int_equal(addr(p) & (align - 1), 0);
      memset(p, 0x5A, size);
      assert_true(ar_owns(a, p));
      assert_true(ar_owns(a, p + size - 1));
      unsigned char *z = (unsigned char *)ar_calloc_aligned(a, 3, size, align);
      assert_non_null(z);
      assert_int_equal(addr(z) & (align - 1), 0);
      assert_true(intact(z, 3 * size, 0));
      assert_true(intact(p, size, 0x5A)); /* the second block did not overlap the first */
    }
  }
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

static void test_bad_alignments(void **state) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  void *keep = ar_alloc(a, 32);
  assert_non_null(keep);
  ar_stats_t before = stats_of(a);
  const size_t bad[] = {0, 3, 24, 48, 100, SIZE_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ar_clear_error();
    assert_null(ar_alloc_aligned(a, 16, opaque(bad[i])));
    assert_int_equal(ar_last_error(), AR_EALIGN);
    ar_clear_error();
    assert_null(ar_calloc_aligned(a, 2, 8, opaque(bad[i])));
    assert_int_equal(ar_last_error(), AR_EALIGN);
  }
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

static void test_zero_size_unique(void **state) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  void *p[16];
  for (size_t i = 0; i < 16; i++) {
    p[i] = i % 2 ? ar_alloc(a, 0) : ar_alloc_aligned(a, 0, 64);
    assert_non_null(p[i]);
    assert_true(ar_owns(a, p[i]));
    for (size_t j = 0; j < i; j++) assert_true(addr(p[i]) != addr(p[j]));
  }
  void *z = ar_alloc_zeroed(a, 0);
  assert_non_null(z);
  void *m = ar_memdup(a, NULL, 0);
  assert_non_null(m);
  assert_true(addr(m) != addr(z));
  assert_int_equal(stats_of(a).allocs, 18);
  ar_arena_destroy(a);
}

static void test_huge_sizes_overflow(void **state) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  void *keep = ar_alloc(a, 32);
  assert_non_null(keep);
  ar_stats_t before = stats_of(a);
  const size_t huge[] = {AR_MAX_ALLOC_SIZE + 1, SIZE_MAX / 2, SIZE_MAX - 15, SIZE_MAX};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    size_t n = opaque(huge[i]);
    ar_clear_error();
    assert_null(ar_alloc(a, n));
    assert_int_equal(ar_last_error(), AR_EOVERFLOW);
    ar_clear_error();
    assert_null(ar_alloc_aligned(a, n, 64));
    assert_int_equal(ar_last_error(), AR_EOVERFLOW);
    ar_clear_error();
    assert_null(ar_alloc_zeroed(a, n));
    assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  }
  /* count * size wraps */
  size_t half = opaque(SIZE_MAX / 2 + 2);
  ar_clear_error();
  assert_null(ar_alloc_array(a, half, 2));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  ar_clear_error();
  assert_null(ar_calloc(a, opaque((size_t)1 << 40), (size_t)1 << 40));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  ar_clear_error();
  assert_null(ar_calloc_aligned(a, half, 4, 256));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  ar_clear_error();
  assert_null(AR_NEW_ARRAY(a, double, opaque(SIZE_MAX / 4)));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  /* count * size fits in size_t but exceeds the largest request */
  ar_clear_error();
  assert_null(ar_alloc_array(a, opaque(AR_MAX_ALLOC_SIZE / 8 + 1), 8));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);

  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_int_equal(ar_arena_check(a), AR_OK);

  /* The non-overflowing neighbours work. */
  long *arr = (long *)ar_alloc_array(a, 10, sizeof(long));
  assert_non_null(arr);
  for (int i = 0; i < 10; i++) arr[i] = i;
  assert_int_equal(stats_of(a).allocs, before.allocs + 1);
  ar_arena_destroy(a);
}

static void test_largest_request_hits_limit(void **state) {
  /* AR_MAX_ALLOC_SIZE itself is a valid size: with a limit it is refused by the limit, not
   * by a wrapped size computation. */
  ar_arena_t *a = unit_arena(0, 0, 16 * CHUNK, NULL);
  ar_clear_error();
  assert_null(ar_alloc(a, opaque(AR_MAX_ALLOC_SIZE)));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_clear_error();
  assert_null(ar_alloc_aligned(a, opaque(AR_MAX_ALLOC_SIZE), 1 << 16));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_int_equal(stats_of(a).capacity, 0);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

typedef struct pod {
  double d;
  int i;
  char c[13];
} pod_t;

static void test_zeroed_variants_really_zero(void **state) {
  ar_arena_t *a = unit_arena(0, 4 * CHUNK, 0, NULL);
  const size_t sizes[] = {1, 16, 100, 500, 1000};
  enum { N = sizeof sizes / sizeof sizes[0] };
  unsigned char *first = NULL;
  for (size_t i = 0; i < N; i++) {
    unsigned char *p = (unsigned char *)ar_alloc(a, sizes[i]);
    assert_non_null(p);
    if (i == 0) first = p;
    memset(p, 0xFF, sizes[i]);
  }
  unsigned char *big = (unsigned char *)ar_alloc(a, 3 * CHUNK);
  assert_non_null(big);
  memset(big, 0xFF, 3 * CHUNK);
  uintptr_t first_addr = addr(first);
  ar_reset(a);

  /* The retained chunk is reused from its start, so these land on the dirtied bytes. */
  unsigned char *z = (unsigned char *)ar_alloc_zeroed(a, 1);
  assert_non_null(z);
  assert_int_equal(addr(z), first_addr);
  assert_int_equal(z[0], 0);
  for (size_t i = 1; i < N; i++) {
    unsigned char *q = (unsigned char *)ar_alloc_zeroed(a, sizes[i]);
    assert_non_null(q);
    assert_true(intact(q, sizes[i], 0));
    memset(q, 0xFF, sizes[i]);
  }
  ar_reset(a);
  unsigned char *c = (unsigned char *)ar_calloc(a, 100, 7);
  assert_non_null(c);
  assert_int_equal(addr(c), first_addr);
  assert_true(intact(c, 700, 0));
  memset(c, 0xFF, 700);
  ar_reset(a);
  pod_t *pd = AR_NEW(a, pod_t);
  assert_non_null(pd);
  assert_int_equal(addr(pd), first_addr);
  assert_true(intact(pd, sizeof *pd, 0));
  pod_t *arr = AR_NEW_ARRAY(a, pod_t, 20);
  assert_non_null(arr);
  assert_int_equal(addr(arr) % AR_ALIGNOF(pod_t), 0);
  assert_true(intact(arr, 20 * sizeof *arr, 0));
  unsigned char *ca = (unsigned char *)ar_calloc_aligned(a, 5, 50, 128);
  assert_non_null(ca);
  assert_int_equal(addr(ca) % 128, 0);
  assert_true(intact(ca, 250, 0));
  unsigned char *zb = (unsigned char *)ar_alloc_zeroed(a, 3 * CHUNK);
  assert_non_null(zb);
  assert_true(intact(zb, 3 * CHUNK, 0));
  ar_arena_destroy(a);
}

/* ---- NULL arena ------------------------------------------------------------------------ */

static void expect_null_einval(void *p) {
  assert_null(p);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
}

static void test_null_arena_everywhere(void **state) {
  ar_arena_t *n = NULL;
  ar_clear_error();
  expect_null_einval(ar_alloc(n, 16));
  expect_null_einval(ar_alloc(n, 0));
  expect_null_einval(ar_alloc_aligned(n, 16, 64));
  expect_null_einval(ar_alloc_zeroed(n, 16));
  expect_null_einval(ar_alloc_array(n, 4, 4));
  expect_null_einval(ar_calloc(n, 4, 4));
  expect_null_einval(ar_calloc_aligned(n, 4, 4, 32));
  expect_null_einval(AR_NEW(n, pod_t));
  expect_null_einval(AR_NEW_ARRAY(n, pod_t, 3));
  expect_null_einval(ar_memdup(n, "abc", 3));
  expect_null_einval(ar_strdup(n, "abc"));
  expect_null_einval(ar_strndup(n, "abc", 2));
  expect_null_einval(ar_sprintf(n, "%d", 1));
  expect_null_einval(vsprintf_wrap(n, "%d", 1));
  expect_null_einval(ar_realloc(n, NULL, 0, 16));

  assert_int_equal(ar_free(n, NULL, 0), AR_EINVAL);
  assert_int_equal(ar_defer(n, count_cleanup, NULL), AR_EINVAL);
  ar_stats_t s;
  assert_int_equal(ar_arena_stats(n, &s), AR_EINVAL);
  assert_int_equal(ar_arena_check(n), AR_EINVAL);
  assert_false(ar_owns(n, &s));
  assert_string_equal(ar_arena_name(n), "");

  ar_clear_error();
  ar_mark_t m = ar_mark(n);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_int_equal(ar_rewind(n, &m), AR_EINVAL);

  /* void functions: nothing happens and nothing crashes */
  ar_reset(n);
  ar_release(n);
  ar_arena_adopt(n);
  ar_arena_destroy(n);

  /* A mark from a NULL arena is rejected by a real arena too, which stays as it was. */
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  void *p = ar_alloc(a, 64);
  assert_non_null(p);
  ar_stats_t before = stats_of(a);
  assert_int_equal(ar_rewind(a, &m), AR_ESTALE);
  assert_int_equal(ar_rewind(a, NULL), AR_EINVAL);
  assert_int_equal(ar_arena_stats(a, NULL), AR_EINVAL);
  assert_false(ar_owns(a, NULL));
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_true(ar_owns(a, p));
  ar_arena_destroy(a);
  assert_int_equal(cleanup_calls, 0);
}

/* ---- failing source -------------------------------------------------------------------- */

static void test_failing_source_nth_acquire(void **state) {
  test_source_t ts;
  ar_arena_t *a = unit_arena(0, 0, 0, test_source_init(&ts));
  unsigned char *first = (unsigned char *)ar_alloc(a, 256);
  assert_non_null(first);
  memset(first, 0x77, 256);
  while (stats_of(a).chunks < 2) assert_non_null(ar_alloc(a, 256));
  assert_int_equal(ts.acquires, 2);

  ts.fail_at = ts.attempts + 1;
  size_t ok = 0;
  for (;;) {
    ar_stats_t before = stats_of(a);
    ar_clear_error();
    void *p = ar_alloc(a, 256);
    if (p == NULL) {
      assert_int_equal(ar_last_error(), AR_ENOMEM);
      ar_stats_t after = stats_of(a);
      assert_stats_equal(before, after);
      break;
    }
    ok++;
    assert_true(ok < USABLE(CHUNK) / 256);
  }
  assert_int_equal(ts.attempts, ts.fail_at);
  assert_int_equal(ar_arena_check(a), AR_OK);
  assert_true(intact(first, 256, 0x77));

  /* The one failure is over: the next request gets its chunk. */
  assert_non_null(ar_alloc(a, 256));
  assert_int_equal(stats_of(a).chunks, 3);

  /* A dedicated chunk failing leaves everything as it was as well. */
  ts.fail_at = ts.attempts + 1;
  ar_stats_t before = stats_of(a);
  ar_clear_error();
  assert_null(ar_alloc(a, 3 * CHUNK));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_non_null(ar_alloc(a, 3 * CHUNK));
  assert_int_equal(stats_of(a).large_chunks, 1);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));
}

static void test_failing_source_from_n(void **state) {
  test_source_t ts;
  ar_arena_t *a = unit_arena(0, 0, 0, test_source_init(&ts));
  cleanup_calls = 0;
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  ts.fail_from = ts.attempts + 1;
  /* Use up the current chunk; after that every request needs the failing source. */
  while (ar_alloc(a, 16) != NULL) {
  }
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  ar_stats_t before = stats_of(a);
  for (int i = 0; i < 5; i++) {
    ar_clear_error();
    assert_null(ar_alloc(a, 16));
    assert_int_equal(ar_last_error(), AR_ENOMEM);
    ar_clear_error();
    assert_null(ar_alloc(a, 10 * CHUNK));
    assert_int_equal(ar_last_error(), AR_ENOMEM);
    ar_clear_error();
    assert_null(ar_strdup(a, "x"));
    assert_int_equal(ar_last_error(), AR_ENOMEM);
    assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_ENOMEM);
  }
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_int_equal(after.cleanups, 1);
  assert_int_equal(ar_arena_check(a), AR_OK);
  assert_int_equal(ts.acquires, 1);
  assert_true(ts.attempts >= 21);

  ts.fail_from = 0; /* the source recovers */
  assert_non_null(ar_alloc(a, 16));
  assert_non_null(ar_alloc(a, 10 * CHUNK));
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.chunks, 2);
  assert_int_equal(s.large_chunks, 1);
  assert_int_equal(s.cleanups, 2);
  ar_arena_destroy(a);
  assert_int_equal(cleanup_calls, 2); /* the refused registrations never run */
  assert_true(test_source_balanced(&ts));
}

/* ---- large requests -------------------------------------------------------------------- */

static void test_large_request_keeps_current_chunk(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  const size_t big = 2000; /* over a quarter of a chunk, under a whole one */
  assert_true(big > THRESHOLD(CHUNK) && cost(0, big) < USABLE(CHUNK));
  /* Fill the current chunk until the big request no longer fits in its tail, though a small
   * one does: starting a new ordinary chunk for it would throw that tail away. */
  char *prev = NULL;
  size_t used = 0;
  while (USABLE(CHUNK) - used >= cost(0, big) || USABLE(CHUNK) - used < 2 * cost(0, 100)) {
    prev = (char *)ar_alloc(a, 100);
    assert_non_null(prev);
    used += cost(0, 100);
    assert_int_equal(stats_of(a).chunks, 1);
  }
  char *p = (char *)ar_alloc(a, big);
  assert_non_null(p);
  memset(p, 0x3C, big);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.large_chunks, 1);
  assert_int_equal(s.chunks, 1);
  assert_int_equal(s.capacity, CHUNK + large_bytes(0, big));
  assert_int_equal(s.used, used + cost(0, big));

  char *next = (char *)ar_alloc(a, 100);
  assert_non_null(next);
  assert_int_equal(addr(next), addr(prev) + cost(0, 100));
  assert_int_equal(stats_of(a).chunks, 1);

  /* Bigger than a whole chunk: dedicated as well. */
  char *huge = (char *)ar_alloc(a, 3 * CHUNK);
  assert_non_null(huge);
  memset(huge, 0x4D, 3 * CHUNK);
  assert_true(ar_owns(a, huge) && ar_owns(a, huge + 3 * CHUNK - 1));
  s = stats_of(a);
  assert_int_equal(s.large_chunks, 2);
  assert_int_equal(s.chunks, 1);
  assert_true(intact(p, big, 0x3C));
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

static void test_overaligned_request_dedicated(void **state) {
  ar_arena_t *a = ar_arena_create(NULL); /* 64 KiB chunks: room to spare for every request */
  char *prev = (char *)ar_alloc(a, 48);
  assert_non_null(prev);
  size_t large = 0;
  for (size_t align = 8192; align <= ((size_t)1 << 16); align <<= 1) {
    char *p = (char *)ar_alloc_aligned(a, 100, align);
    assert_non_null(p);
    assert_int_equal(addr(p) % align, 0);
    memset(p, 0x11, 100);
    assert_int_equal(stats_of(a).large_chunks, ++large);
    char *next = (char *)ar_alloc(a, 48);
    assert_non_null(next);
    assert_int_equal(addr(next), addr(prev) + cost(0, 48));
    prev = next;
  }
  assert_int_equal(stats_of(a).chunks, 1);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* ---- reset, release, destroy ----------------------------------------------------------- */

static void test_reset_retains_exact_multiple(void **state) {
  test_source_t ts;
  ar_arena_t *a = unit_arena(0, 3 * CHUNK, 0, test_source_init(&ts));
  fill_chunks(a, 5);
  assert_non_null(ar_alloc(a, 3 * CHUNK));
  assert_non_null(ar_alloc_aligned(a, 16, 8192));
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.large_chunks, 2);
  ar_reset(a);
  s = stats_of(a);
  assert_int_equal(s.capacity, 3 * CHUNK);
  assert_int_equal(s.spare_chunks, 3);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.large_chunks, 0);
  assert_int_equal(s.used, 0);
  assert_int_equal(ts.live_blocks, 3);
  assert_int_equal(ts.live_bytes, 3 * CHUNK);
  assert_int_equal(ar_arena_check(a), AR_OK);

  /* The spares serve the next three chunks without the source. */
  size_t attempts = ts.attempts;
  fill_chunks(a, 3);
  assert_int_equal(ts.attempts, attempts);
  fill_chunks(a, 4);
  assert_int_equal(ts.attempts, attempts + 1);
  ar_reset(a);
  assert_int_equal(stats_of(a).capacity, 3 * CHUNK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));
}

static void test_reset_retains_floor_of_non_multiple(void **state) {
  test_source_t ts;
  ar_arena_t *a = unit_arena(0, 2 * CHUNK + 1000, 0, test_source_init(&ts));
  fill_chunks(a, 4);
  ar_reset(a);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.capacity, 2 * CHUNK);
  assert_int_equal(s.spare_chunks, 2);
  assert_int_equal(ts.live_blocks, 2);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));

  /* Fewer chunks than the cap: all are kept, and a dedicated chunk still goes back. */
  a = unit_arena(0, 10 * CHUNK, 0, test_source_init(&ts));
  fill_chunks(a, 2);
  assert_non_null(ar_alloc(a, 2 * CHUNK));
  ar_reset(a);
  s = stats_of(a);
  assert_int_equal(s.capacity, 2 * CHUNK);
  assert_int_equal(s.large_chunks, 0);
  assert_int_equal(ts.live_blocks, 2);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));

  /* retain_bytes 0 keeps nothing. */
  a = unit_arena(0, 0, 0, test_source_init(&ts));
  fill_chunks(a, 3);
  ar_reset(a);
  assert_int_equal(stats_of(a).capacity, 0);
  assert_int_equal(ts.live_blocks, 0);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));
}

static void test_release_returns_everything(void **state) {
  test_source_t ts;
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = test_source_init(&ts);
  o.chunk_size = CHUNK;
  o.prealloc_chunks = 2;
  o.retain_bytes = 100 * CHUNK;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  fill_chunks(a, 4);
  assert_non_null(ar_alloc(a, 4 * CHUNK));
  ar_reset(a); /* leaves four spares behind */
  assert_int_equal(stats_of(a).spare_chunks, 4);
  fill_chunks(a, 2);
  assert_non_null(ar_alloc(a, 4 * CHUNK));
  ar_release(a);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.capacity, 0);
  assert_int_equal(s.spare_chunks, 0);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.large_chunks, 0);
  assert_int_equal(s.used, 0);
  assert_true(test_source_balanced(&ts));
  assert_int_equal(ar_arena_check(a), AR_OK);

  /* Still usable. */
  char *p = ar_strdup(a, "alive");
  assert_non_null(p);
  assert_string_equal(p, "alive");
  assert_int_equal(stats_of(a).capacity, CHUNK);
  ar_release(a);
  ar_release(a); /* twice is harmless */
  assert_true(test_source_balanced(&ts));
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));
}

static void test_destroy_returns_everything(void **state) {
  test_source_t ts;
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = test_source_init(&ts);
  o.chunk_size = CHUNK;
  o.prealloc_chunks = 3;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  fill_chunks(a, 6);
  assert_non_null(ar_alloc(a, 5 * CHUNK));
  assert_non_null(ar_alloc_aligned(a, 64, 1 << 14));
  ar_mark_t m = ar_mark(a);
  fill_chunks(a, 8);
  assert_int_equal(ar_rewind(a, &m), AR_OK); /* spares from a rewind too */
  assert_true(ts.live_blocks >= 9);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));
  assert_true(ts.acquires >= 9);
}

/* ---- the inline fast path -------------------------------------------------------------- */

static void test_fast_path_contiguous(void **state) {
#if AR_ASAN || AR_DEBUG >= 2
  skip(); /* every allocation goes out of line, with red zones or guards between */
#else
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  char *p = (char *)ar_alloc(a, 1); /* the first one brings in a chunk, out of line */
  assert_non_null(p);
  char *first = p;
  const struct ar_arena_hot_ *hot = (const struct ar_arena_hot_ *)(const void *)a;
  assert_true(hot->end_ > hot->cur_); /* the inline path is on */
  const size_t sizes[] = {24, 1, 16, 17, 100, 8, 4000, 3};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t prev = i == 0 ? 1 : sizes[i - 1];
    char *q = (char *)ar_alloc(a, sizes[i]);
    assert_non_null(q);
    assert_int_equal(addr(q), addr(p) + align16(prev));
    assert_int_equal(addr(q) % AR_ALIGN_DEFAULT, 0);
    p = q;
  }
  char *z = (char *)ar_alloc_zeroed(a, 40);
  assert_int_equal(addr(z), addr(p) + align16(3));
  long *arr = (long *)ar_alloc_array(a, 3, sizeof(long));
  assert_int_equal(addr(arr), addr(z) + 48);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.allocs, 11);
  /* One chunk, filled from its start without gaps: used is the distance covered. */
  assert_int_equal(s.used, addr(arr) + 32 - addr(first));
  assert_int_equal(addr(ar_mark(a).cur_), addr(arr) + 32);
  ar_arena_destroy(a);
#endif
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_options_init_matches_static),
      chunk_layout_test(test_create_null_opts),
      chunk_layout_test(test_create_invalid_chunk_size),
      chunk_layout_test(test_create_source_without_callbacks),
      chunk_layout_test(test_chunk_size_rounded),
      chunk_layout_test(test_create_prealloc_over_limit),
      chunk_layout_test(test_create_prealloc_failing_source),
      chunk_layout_test(test_arena_name),
      chunk_layout_test(test_version),
      chunk_layout_test(test_every_alignment),
      chunk_layout_test(test_bad_alignments),
      chunk_layout_test(test_zero_size_unique),
      chunk_layout_test(test_huge_sizes_overflow),
      chunk_layout_test(test_largest_request_hits_limit),
      chunk_layout_test(test_zeroed_variants_really_zero),
      chunk_layout_test(test_null_arena_everywhere),
      chunk_layout_test(test_failing_source_nth_acquire),
      chunk_layout_test(test_failing_source_from_n),
      chunk_layout_test(test_large_request_keeps_current_chunk),
      chunk_layout_test(test_overaligned_request_dedicated),
      chunk_layout_test(test_reset_retains_exact_multiple),
      chunk_layout_test(test_reset_retains_floor_of_non_multiple),
      chunk_layout_test(test_release_returns_everything),
      chunk_layout_test(test_destroy_returns_everything),
      chunk_layout_test(test_fast_path_contiguous),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
