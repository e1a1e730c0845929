/* SPDX-License-Identifier: MIT */
/*
 * tests/arena_test.c - unit tests for the serial arena (arena.h, common.h, source.h).
 *
 * The expected byte counts depend on the build: ASan builds follow every allocation with a
 * 16-byte red zone, checked mode (AR_ARENA_CHECKED, or AR_DEBUG >= 2 without ASan) puts a
 * 16-byte record header before it and at least 16 guard bytes after it. cost() turns a request
 * into what it takes from a chunk in the mode in force, so the same assertions hold exactly in
 * every config instead of being loosened to inequalities.
 *
 * The chunk header size and the large-request threshold are private; they come from
 * arena_internal.h so that the tests follow the layout rather than hard-coding it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/child.h"
#include "tests/arena/arena_unit.h"
#include "tests/test_sources.h"

/* ---- expectations per build mode ------------------------------------------------------- */

/* Chunk header slack, as arena.c computes it: 16-alignment, the header, 64-alignment. */
#define CHUNK_OVERHEAD ((size_t)(15 + sizeof(ar_chunk_t) + 63))
/* Where data starts in a chunk whose base is 64-byte aligned (os and malloc sources). */
#define DATA_OFFSET ((sizeof(ar_chunk_t) + 63) & ~(size_t)63)
#define USABLE(cs) ((cs) - DATA_OFFSET)
#define THRESHOLD(cs) (((cs) - CHUNK_OVERHEAD) / 4)

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static bool mode_checked(unsigned flags) {
  return !AR_ASAN && ((flags & AR_ARENA_CHECKED) != 0 || AR_DEBUG >= 2);
}

/* Bytes after the data that belong to an allocation: red zone or guard. */
static size_t tail_bytes(unsigned flags) { return AR_ASAN || mode_checked(flags) ? 16 : 0; }

/* Bytes a request of `size` (alignment <= 16) takes from a chunk. */
static size_t cost(unsigned flags, size_t size) {
  size_t n = align16(size == 0 ? 1 : size);
  if (mode_checked(flags)) return 16 + n + 16;
  return n + tail_bytes(flags);
}

/* Bytes of a dedicated chunk for `size` at alignment <= 64. */
static size_t large_bytes(unsigned flags, size_t size) {
  return cost(flags, size) + CHUNK_OVERHEAD;
}

/* An address the optimizer cannot reason about: the allocators are declared malloc-like, so
 * comparing two of their results directly could be folded to "different". */
static uintptr_t addr(const void *p) {
  uintptr_t u = (uintptr_t)p;
  __asm__ volatile("" : "+r"(u));
  return u;
}

static ar_arena_t *make_arena(size_t chunk, size_t retain, size_t limit, unsigned flags,
                              const ar_source_t *src) {
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = chunk;
  o.retain_bytes = retain;
  o.limit_bytes = limit;
  o.flags = flags;
  o.source = src;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  return a;
}


/* Sizes kept out of the compiler's sight, so gcc does not warn about (or fold) requests that
 * are meant to fail. */
static size_t opaque(size_t n) {
  volatile size_t v = n;
  return v;
}

static bool all_bytes(const void *p, int byte, size_t n) {
  const unsigned char *q = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (q[i] != (unsigned char)byte) return false;
  return true;
}

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
  const size_t bad[] = {1, AR_MIN_CHUNK_SIZE - 1, ((size_t)1 << 30) + 1, (size_t)1 << 40,
                        SIZE_MAX};
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
  snprintf(expect, sizeof expect, "%d.%d.%d", AR_VERSION_MAJOR, AR_VERSION_MINOR,
           AR_VERSION_PATCH);
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
      assert_true(all_bytes(z, 0, 3 * size));
      assert_true(all_bytes(p, 0x5A, size)); /* the second block did not overlap the first */
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
  ar_arena_t *a = make_arena(CHUNK, 0, 16 * CHUNK, 0, NULL);
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
  ar_arena_t *a = make_arena(CHUNK, 4 * CHUNK, 0, 0, NULL);
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
    assert_true(all_bytes(q, 0, sizes[i]));
    memset(q, 0xFF, sizes[i]);
  }
  ar_reset(a);
  unsigned char *c = (unsigned char *)ar_calloc(a, 100, 7);
  assert_non_null(c);
  assert_int_equal(addr(c), first_addr);
  assert_true(all_bytes(c, 0, 700));
  memset(c, 0xFF, 700);
  ar_reset(a);
  pod_t *pd = AR_NEW(a, pod_t);
  assert_non_null(pd);
  assert_int_equal(addr(pd), first_addr);
  assert_true(all_bytes(pd, 0, sizeof *pd));
  pod_t *arr = AR_NEW_ARRAY(a, pod_t, 20);
  assert_non_null(arr);
  assert_int_equal(addr(arr) % AR_ALIGNOF(pod_t), 0);
  assert_true(all_bytes(arr, 0, 20 * sizeof *arr));
  unsigned char *ca = (unsigned char *)ar_calloc_aligned(a, 5, 50, 128);
  assert_non_null(ca);
  assert_int_equal(addr(ca) % 128, 0);
  assert_true(all_bytes(ca, 0, 250));
  unsigned char *zb = (unsigned char *)ar_alloc_zeroed(a, 3 * CHUNK);
  assert_non_null(zb);
  assert_true(all_bytes(zb, 0, 3 * CHUNK));
  ar_arena_destroy(a);
}

/* ---- NULL arena ------------------------------------------------------------------------ */

static void expect_null_einval(void *p) {
  assert_null(p);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
}

static char *vsprintf_wrap(ar_arena_t *a, const char *fmt, ...) AR_PRINTF(2, 3);
static char *vsprintf_wrap(ar_arena_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = ar_vsprintf(a, fmt, ap);
  va_end(ap);
  return s;
}

static int cleanup_calls;
static void count_cleanup(void *arg) {
  (void)arg;
  cleanup_calls++;
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

/* ---- byte limit ------------------------------------------------------------------------ */

static void test_limit_small_allocations(void **state) {
  ar_arena_t *a = make_arena(CHUNK, 0, 4 * CHUNK, 0, NULL);
  const size_t per_chunk = USABLE(CHUNK) / cost(0, 256);
  size_t n = 0;
  ar_stats_t before;
  for (;;) {
    before = stats_of(a);
    ar_clear_error();
    void *p = ar_alloc(a, 256);
    if (p == NULL) break;
    memset(p, (int)n, 256);
    n++;
    assert_true(n <= 4 * per_chunk);
  }
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_int_equal(n, 4 * per_chunk);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_int_equal(after.capacity, 4 * CHUNK);
  assert_int_equal(after.chunks, 4);
  assert_int_equal(after.used, n * cost(0, 256));
  assert_int_equal(ar_arena_check(a), AR_OK);

  /* A dedicated chunk cannot be had either, and fails the same way. */
  ar_clear_error();
  assert_null(ar_alloc(a, 2 * CHUNK));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_clear_error();
  assert_null(ar_alloc_aligned(a, 16, 8192));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_clear_error();
  assert_int_equal(ar_defer(a, count_cleanup, NULL),
                   USABLE(CHUNK) - per_chunk * cost(0, 256) >= cost(0, sizeof(ar_cleanup_t))
                       ? AR_OK
                       : AR_ELIMIT);
  assert_int_equal(ar_arena_check(a), AR_OK);

  /* Whatever still fits in the current chunk's tail is handed out. */
  size_t left = USABLE(CHUNK) - (stats_of(a).used - 3 * per_chunk * cost(0, 256));
  if (left >= cost(0, 16)) {
    assert_non_null(ar_alloc(a, 16));
  } else {
    assert_null(ar_alloc(a, 16));
    assert_int_equal(ar_last_error(), AR_ELIMIT);
  }

  /* reset makes room again (nothing is retained: retain_bytes is 0) */
  cleanup_calls = 0;
  ar_reset(a);
  assert_int_equal(stats_of(a).capacity, 0);
  assert_non_null(ar_alloc(a, 2 * CHUNK));
  ar_arena_destroy(a);
}

static void test_limit_releases_spares_for_large(void **state) {
  test_source_t ts;
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = test_source_init(&ts);
  o.chunk_size = CHUNK;
  o.limit_bytes = 4 * CHUNK;
  o.prealloc_chunks = 4;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  assert_int_equal(stats_of(a).capacity, 4 * CHUNK);

  /* Bigger than a chunk: a dedicated chunk, which only fits once a spare is given back. */
  char *big = (char *)ar_alloc(a, 5000);
  assert_non_null(big);
  memset(big, 1, 5000);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.large_chunks, 1);
  assert_int_equal(s.spare_chunks, 2);
  assert_int_equal(s.capacity, 2 * CHUNK + large_bytes(0, 5000));
  assert_true(s.capacity <= 4 * CHUNK);
  assert_int_equal(ts.live_blocks, 3);
  assert_int_equal(ar_arena_check(a), AR_OK);

  /* Ordinary chunks come from the spares without asking the source. */
  size_t acquires = ts.acquires;
  assert_non_null(ar_alloc(a, 100));
  assert_int_equal(ts.acquires, acquires);
  s = stats_of(a);
  assert_int_equal(s.chunks, 1);
  assert_int_equal(s.spare_chunks, 1);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));
}

static void test_limit_failure_keeps_spares(void **state) {
  /* A request that would not fit even after every spare is given back must fail without
   * giving any back: a failed call leaves the arena unchanged. */
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = CHUNK;
  o.limit_bytes = 4 * CHUNK;
  o.prealloc_chunks = 2;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  char *big = (char *)ar_alloc(a, 8000);
  assert_non_null(big);
  ar_stats_t before = stats_of(a);
  assert_int_equal(before.spare_chunks, 2);
  assert_int_equal(before.capacity, 2 * CHUNK + large_bytes(0, 8000));
  ar_clear_error();
  assert_null(ar_alloc(a, 9000));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_int_equal(ar_arena_check(a), AR_OK);
  /* One that fits once the spares are gone still gets them released. */
  assert_non_null(ar_alloc(a, 7000));
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.spare_chunks, 0);
  assert_int_equal(s.large_chunks, 2);
  assert_int_equal(s.capacity, large_bytes(0, 8000) + large_bytes(0, 7000));
  ar_arena_destroy(a);
}

/* ---- failing source -------------------------------------------------------------------- */

static void test_failing_source_nth_acquire(void **state) {
  test_source_t ts;
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, test_source_init(&ts));
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
  assert_true(all_bytes(first, 0x77, 256));

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
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, test_source_init(&ts));
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
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, NULL);
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
  assert_true(all_bytes(p, 0x3C, big));
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

static void fill_chunks(ar_arena_t *a, size_t nchunks) {
  while (stats_of(a).chunks < nchunks) assert_non_null(ar_alloc(a, 512));
}

static void test_reset_retains_exact_multiple(void **state) {
  test_source_t ts;
  ar_arena_t *a = make_arena(CHUNK, 3 * CHUNK, 0, 0, test_source_init(&ts));
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
  ar_arena_t *a = make_arena(CHUNK, 2 * CHUNK + 1000, 0, 0, test_source_init(&ts));
  fill_chunks(a, 4);
  ar_reset(a);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.capacity, 2 * CHUNK);
  assert_int_equal(s.spare_chunks, 2);
  assert_int_equal(ts.live_blocks, 2);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));

  /* Fewer chunks than the cap: all are kept, and a dedicated chunk still goes back. */
  a = make_arena(CHUNK, 10 * CHUNK, 0, 0, test_source_init(&ts));
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
  a = make_arena(CHUNK, 0, 0, 0, test_source_init(&ts));
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
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, NULL);
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
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, NULL);
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
    ar_arena_t *a = make_arena(CHUNK, CHUNK, 0, 0, NULL);
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

/* ---- marks ----------------------------------------------------------------------------- */

typedef struct block {
  unsigned char *p;
  size_t size;
  unsigned char byte;
} block_t;

typedef struct level {
  block_t blocks[128];
  size_t n;
} level_t;

static void level_alloc(ar_arena_t *a, level_t *l, size_t size, size_t align,
                        unsigned char byte) {
  assert_true(l->n < 128);
  unsigned char *p = (unsigned char *)ar_alloc_aligned(a, size, align);
  assert_non_null(p);
  memset(p, byte, size);
  l->blocks[l->n].p = p;
  l->blocks[l->n].size = size;
  l->blocks[l->n].byte = byte;
  l->n++;
}

static void level_verify(ar_arena_t *a, const level_t *l) {
  for (size_t i = 0; i < l->n; i++) {
    assert_true(ar_owns(a, l->blocks[i].p));
    assert_true(all_bytes(l->blocks[i].p, l->blocks[i].byte, l->blocks[i].size));
  }
}

static void level_gone(ar_arena_t *a, level_t *l) {
  for (size_t i = 0; i < l->n; i++) assert_false(ar_owns(a, l->blocks[i].p));
  l->n = 0;
}

/* used, chunks, large_chunks and cleanups name the position; allocs and peak only grow. */
static void assert_position(ar_arena_t *a, const ar_stats_t *want) {
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.used, want->used);
  assert_int_equal(s.chunks, want->chunks);
  assert_int_equal(s.large_chunks, want->large_chunks);
  assert_int_equal(s.cleanups, want->cleanups);
  assert_true(s.peak >= want->peak);
  assert_true(s.allocs >= want->allocs);
  assert_int_equal(ar_arena_check(a), AR_OK);
}

static void test_nested_marks(void **state) {
  ar_arena_t *a = make_arena(CHUNK, 64 * CHUNK, 0, 0, NULL);
  static level_t lv[4];
  memset(lv, 0, sizeof lv);
  cleanup_calls = 0;

  for (int i = 0; i < 5; i++) level_alloc(a, &lv[0], 300, 16, (unsigned char)(1 + i));
  ar_mark_t m1 = ar_mark(a);
  ar_stats_t s1 = stats_of(a);

  for (int i = 0; i < 20; i++) level_alloc(a, &lv[1], 300, 16, 0x20);
  level_alloc(a, &lv[1], 5000, 16, 0x21);
  for (int i = 0; i < 5; i++) level_alloc(a, &lv[1], 200, 64, 0x22);
  ar_mark_t m2 = ar_mark(a);
  ar_stats_t s2 = stats_of(a);
  assert_true(s2.chunks > s1.chunks);

  level_alloc(a, &lv[2], 6000, 16, 0x30);
  for (int i = 0; i < 15; i++) level_alloc(a, &lv[2], 300, 16, 0x31);
  level_alloc(a, &lv[2], 64, 8192, 0x32);
  assert_int_equal(ar_defer(a, count_cleanup, NULL), AR_OK);
  ar_mark_t m3 = ar_mark(a);
  ar_stats_t s3 = stats_of(a);
  assert_true(s3.chunks > s2.chunks);
  assert_int_equal(s3.large_chunks, 3);

  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 30; i++) level_alloc(a, &lv[3], 300, 16, 0x40);
    level_alloc(a, &lv[3], 7000, 16, 0x41);
    assert_true(stats_of(a).chunks > s3.chunks);
    /* Rewinding to the same mark again works: it stays valid. */
    assert_int_equal(ar_rewind(a, &m3), AR_OK);
    assert_position(a, &s3);
    level_gone(a, &lv[3]);
    for (int l = 0; l < 3; l++) level_verify(a, &lv[l]);
  }
  assert_int_equal(ar_rewind(a, &m3), AR_OK);
  assert_position(a, &s3);
  assert_int_equal(cleanup_calls, 0);

  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  assert_position(a, &s2);
  assert_int_equal(cleanup_calls, 1);
  level_gone(a, &lv[2]);
  level_verify(a, &lv[0]);
  level_verify(a, &lv[1]);

  /* m3 named a chunk that the rewind to m2 took away. */
  ar_stats_t before = stats_of(a);
  ar_clear_error();
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  assert_int_equal(ar_last_error(), AR_ESTALE);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);

  /* Even after the arena has grown past that point again with reused chunks. */
  for (int i = 0; i < 40; i++) level_alloc(a, &lv[2], 300, 16, 0x50);
  level_alloc(a, &lv[2], 6000, 16, 0x51);
  before = stats_of(a);
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  after = stats_of(a);
  assert_stats_equal(before, after);
  level_verify(a, &lv[2]);

  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_position(a, &s1);
  level_gone(a, &lv[2]);
  level_gone(a, &lv[1]);
  level_verify(a, &lv[0]);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  assert_position(a, &s1);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_rewind(a, &m3), AR_ESTALE);
  level_verify(a, &lv[0]);
  ar_arena_destroy(a);
}

static void test_mark_before_reset_is_stale(void **state) {
  for (int use_release = 0; use_release < 2; use_release++) {
    ar_arena_t *a = make_arena(CHUNK, 8 * CHUNK, 0, 0, NULL);
    assert_non_null(ar_alloc(a, 100));
    ar_mark_t m = ar_mark(a);
    ar_mark_t fresh_mark;
    assert_non_null(ar_alloc(a, 100));
    if (use_release)
      ar_release(a);
    else
      ar_reset(a);
    /* Same amount again, so the mark's position looks plausible in the new memory. */
    unsigned char *p = (unsigned char *)ar_alloc(a, 100);
    assert_non_null(p);
    memset(p, 0x66, 100);
    fresh_mark = ar_mark(a);
    assert_non_null(ar_alloc(a, 100));
    ar_stats_t before = stats_of(a);
    ar_clear_error();
    assert_int_equal(ar_rewind(a, &m), AR_ESTALE);
    assert_int_equal(ar_last_error(), AR_ESTALE);
    ar_stats_t after = stats_of(a);
    assert_stats_equal(before, after);
    assert_true(all_bytes(p, 0x66, 100));
    assert_int_equal(ar_arena_check(a), AR_OK);
    assert_int_equal(ar_rewind(a, &fresh_mark), AR_OK);
    assert_int_equal(stats_of(a).used, cost(0, 100));
    ar_arena_destroy(a);
  }
}

static void test_mark_in_same_chunk_invalidated(void **state) {
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, NULL);
  assert_non_null(ar_alloc(a, 100));
  ar_mark_t m1 = ar_mark(a);
  assert_non_null(ar_alloc(a, 100));
  ar_mark_t m2 = ar_mark(a);
  assert_non_null(ar_alloc(a, 100));
  assert_int_equal(stats_of(a).chunks, 1);
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  ar_stats_t before = stats_of(a);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  assert_int_equal(ar_arena_check(a), AR_OK);

  /* A mark on an empty arena rewinds everything, dedicated chunks included. */
  ar_release(a);
  ar_mark_t empty = ar_mark(a);
  fill_chunks(a, 3);
  assert_non_null(ar_alloc(a, 3 * CHUNK));
  assert_int_equal(ar_rewind(a, &empty), AR_OK);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.used, 0);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.large_chunks, 0);
  assert_int_equal(s.capacity, 0); /* retain_bytes 0: the freed chunks went back */
  assert_int_equal(ar_arena_check(a), AR_OK);
  assert_non_null(ar_alloc(a, 10));
  ar_arena_destroy(a);
}

/* ---- statistics ------------------------------------------------------------------------ */

static void test_stats_exact(void **state) {
  const unsigned f = 0;
  const size_t tail = tail_bytes(f);
  /* An explicit retain (1 MiB): dedicated chunks go back at reset. AR_RETAIN_AUTO, which
   * keeps them, has its own tests (tests/arena/keep_test.c). */
  ar_arena_t *a = make_arena(CHUNK, (size_t)1 << 20, 0, f, NULL);
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

static void test_stats_exact_checked(void **state) {
  /* Explicitly checked arenas account their headers and guards (ASan builds ignore the flag
   * and use red zones instead). */
  const unsigned f = AR_ARENA_CHECKED;
  ar_arena_t *a = make_arena(CHUNK, 0, 0, f, NULL);
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

static void test_peak_survives_rewind_and_reset(void **state) {
  ar_arena_t *a = make_arena(CHUNK, 8 * CHUNK, 0, 0, NULL);
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
  ar_arena_t *a = make_arena(CHUNK, 2 * CHUNK, 0, 0, NULL);
  ar_arena_t *other = make_arena(CHUNK, 0, 0, 0, NULL);
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

/* ---- copies and formatting ------------------------------------------------------------- */

static void test_memdup(void **state) {
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, NULL);
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
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, NULL);
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
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, NULL);
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

/* ---- giving blocks back ---------------------------------------------------------------- */

static void test_free_and_realloc(void **state) {
  ar_arena_t *a = make_arena(CHUNK, 0, 0, 0, NULL);
  assert_int_equal(ar_free(a, NULL, 0), AR_OK);
  assert_int_equal(ar_free(a, NULL, 100), AR_OK);

  char *p = (char *)ar_realloc(a, NULL, 0, 40);
  assert_non_null(p);
  assert_true(ar_owns(a, p));
  for (int i = 0; i < 40; i++) p[i] = (char)i;
  char *q = (char *)ar_realloc(a, p, 40, 1000);
  assert_non_null(q);
  for (int i = 0; i < 40; i++) assert_int_equal(q[i], (char)i);
  memset(q + 40, 0x5F, 960);
  char *r = (char *)ar_realloc(a, q, 1000, 20);
  assert_non_null(r);
  for (int i = 0; i < 20; i++) assert_int_equal(r[i], (char)i);
  char *big = (char *)ar_realloc(a, r, 20, 3 * CHUNK);
  assert_non_null(big);
  for (int i = 0; i < 20; i++) assert_int_equal(big[i], (char)i);
  memset(big + 20, 1, 3 * CHUNK - 20);

  /* A failed resize leaves the old block alone. */
  ar_clear_error();
  assert_null(ar_realloc(a, big, 3 * CHUNK, opaque(SIZE_MAX)));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  for (int i = 0; i < 20; i++) assert_int_equal(big[i], (char)i);

  char *last = (char *)ar_alloc(a, 64);
  assert_non_null(last);
  assert_int_equal(ar_free(a, last, 64), AR_OK);
  assert_int_equal(ar_free(a, big, 3 * CHUNK), AR_OK);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_stats_t s = stats_of(a);
  assert_true(s.used <= s.capacity);
  ar_reset(a);
  assert_int_equal(stats_of(a).recycled, 0);
  assert_int_equal(stats_of(a).used, 0);
  ar_arena_destroy(a);
}

static void test_realloc_shrink_and_top(void **state) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  /* Shrinking keeps p, in every mode. */
  char *s1 = (char *)ar_alloc(a, 200);
  assert_non_null(s1);
  memset(s1, 0x2B, 200);
  assert_non_null(ar_alloc(a, 16)); /* s1 is no longer the most recent block */
  char *s2 = (char *)ar_realloc(a, s1, 200, 50);
  assert_int_equal(addr(s2), addr(s1));
  assert_true(all_bytes(s2, 0x2B, 50));
  char *s3 = (char *)ar_realloc(a, s2, 50, 50);
  assert_int_equal(addr(s3), addr(s1));
  assert_int_equal(ar_arena_check(a), AR_OK);

#if AR_DEBUG >= 1
  /* Debug builds refuse a block that is not the arena's. */
  _Alignas(16) char foreign[64];
  ar_clear_error();
  assert_int_equal(ar_free(a, foreign, 16), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_null(ar_realloc(a, foreign, 16, 32));
  assert_int_equal(ar_last_error(), AR_EINVAL);
#endif

  const ar_arena_t *view = a;
  if (!view->slow_only) {
    /* The most recent allocation: freeing moves the cursor back, growing extends in place. */
    size_t used0 = stats_of(a).used;
    char *t = (char *)ar_alloc(a, 100);
    assert_non_null(t);
    assert_int_equal(stats_of(a).used, used0 + 112);
    assert_int_equal(ar_free(a, t, 100), AR_OK);
    assert_int_equal(stats_of(a).used, used0);
    char *g = (char *)ar_alloc(a, 40);
    assert_int_equal(addr(g), addr(t));
    memset(g, 0x61, 40);
    char *g2 = (char *)ar_realloc(a, g, 40, 400);
    assert_int_equal(addr(g2), addr(g));
    assert_true(all_bytes(g2, 0x61, 40));
    assert_int_equal(stats_of(a).used, used0 + 400);
    assert_int_equal(ar_arena_check(a), AR_OK);
  }
  ar_arena_destroy(a);
}

/* ---- errors ---------------------------------------------------------------------------- */

static void test_strerror_all_codes(void **state) {
  const ar_error_t codes[] = {AR_OK,    AR_EINVAL, AR_EALIGN,  AR_EOVERFLOW, AR_ELIMIT,
                              AR_ENOMEM, AR_EBUSY, AR_ESTALE, AR_ECORRUPT};
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

/* ---- checked mode ---------------------------------------------------------------------- */

static void test_checked_mode_detects_overflow(void **state) {
#if AR_ASAN
  skip(); /* checked mode is off under ASan, whose red zones report the overflow themselves */
#else
  ar_arena_t *a = make_arena(CHUNK, 0, 0, AR_ARENA_CHECKED, NULL);
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

/* ---- sources --------------------------------------------------------------------------- */

static void exercise(ar_arena_t *a) {
  ar_mark_t m = ar_mark(a);
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 100; i++) {
      unsigned char *p = (unsigned char *)ar_alloc(a, 200);
      assert_non_null(p);
      memset(p, i, 200);
    }
    for (size_t align = 1; align <= 8192; align <<= 1) {
      char *p = (char *)ar_alloc_aligned(a, 100, align);
      assert_non_null(p);
      assert_int_equal(addr(p) % align, 0);
      memset(p, 1, 100);
    }
    char *big = (char *)ar_alloc(a, 10000);
    assert_non_null(big);
    memset(big, 2, 10000);
    assert_true(ar_owns(a, big + 9999));
    assert_int_equal(ar_arena_check(a), AR_OK);
    if (round == 0) assert_int_equal(ar_rewind(a, &m), AR_OK);
  }
  assert_true(stats_of(a).chunks >= 5);
  ar_reset(a);
  assert_int_equal(ar_arena_check(a), AR_OK);
}

static void test_builtin_sources(void **state) {
  const ar_source_t *os = ar_source_os();
  const ar_source_t *heap = ar_source_malloc();
  assert_non_null(os);
  assert_non_null(heap);
  assert_ptr_equal(os, ar_source_os());
  assert_true(os != heap);
  assert_non_null(os->acquire);
  assert_non_null(os->release);
  assert_non_null(heap->acquire);
  assert_non_null(heap->release);

  /* Direct use: the documented alignments. */
  void *b = os->acquire(os->ctx, 10000);
  assert_non_null(b);
  assert_int_equal(addr(b) % 4096, 0);
  assert_true(all_bytes(b, 0, 10000));
  os->release(os->ctx, b, 10000);
  b = heap->acquire(heap->ctx, 1000);
  assert_non_null(b);
  assert_int_equal(addr(b) % 64, 0);
  memset(b, 3, 1000);
  heap->release(heap->ctx, b, 1000);

  const ar_source_t *srcs[] = {os, heap};
  for (int i = 0; i < 2; i++) {
    ar_arena_t *a = make_arena(CHUNK, 2 * CHUNK, 0, 0, srcs[i]);
    exercise(a);
    ar_arena_destroy(a);
  }
}

static void test_misaligned_user_source(void **state) {
  const size_t offsets[] = {8, 1, 24, 40, 63};
  for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    test_source_t ts;
    const ar_source_t *src = test_source_init(&ts);
    ts.misalign = offsets[i];
    ar_arena_t *a = make_arena(CHUNK, 2 * CHUNK, 0, 0, src);
    exercise(a);
    assert_non_null(ar_alloc(a, 1));
    /* The setup really is misaligned: every live block is off a 64-byte boundary. */
    size_t live = 0;
    for (size_t b = 0; b < TEST_SOURCE_MAX_BLOCKS; b++) {
      if (ts.blocks[b].p == NULL) continue;
      live++;
      assert_true(addr(ts.blocks[b].p) % 64 != 0);
    }
    assert_int_equal(live, ts.live_blocks);
    assert_true(live >= 1);
    ar_arena_destroy(a);
    assert_true(test_source_balanced(&ts));
    assert_true(ts.acquires >= 5);
  }
}

/* ---- owner thread ---------------------------------------------------------------------- */

typedef struct foreign {
  ar_arena_t *arena;
  int adopt;
  int how;
  bool ok;
} foreign_t;

static void *foreign_thread(void *arg) {
  foreign_t *f = (foreign_t *)arg;
  if (f->adopt) ar_arena_adopt(f->arena);
  if (f->how == 0) {
    ar_mark_t m = ar_mark(f->arena);
    void *p = ar_alloc_aligned(f->arena, 100, 64); /* always out of line */
    char *s = ar_sprintf(f->arena, "%d", 7);
    f->ok = p != NULL && s != NULL && strcmp(s, "7") == 0 &&
            ar_rewind(f->arena, &m) == AR_OK && ar_arena_check(f->arena) == AR_OK;
  } else if (f->how == 1) {
    void *p = ar_alloc_aligned(f->arena, 100, 64);
    f->ok = p != NULL;
  } else {
    ar_reset(f->arena);
    f->ok = true;
  }
  return NULL;
}

static void foreign_child(void *arg) {
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL) _exit(3);
  void *p = ar_alloc(a, 16);
  (void)p;
  foreign_t f = {a, 0, *(int *)arg, false};
  pthread_t th;
  if (pthread_create(&th, NULL, foreign_thread, &f) != 0) _exit(4);
  pthread_join(th, NULL);
  _exit(f.ok ? 0 : 5);
}

/* Runs `how` on a fresh arena from a second thread in a child process; returns the child's
 * wait status and what it wrote to stderr. */
static int run_foreign_in_child(int how, char *err, size_t errsize) {
  int status = child_run(foreign_child, &how, err, errsize);
  assert_int_not_equal(status, -1);
  return status;
}

static void test_owner_thread_checked(void **state) {
#if AR_DEBUG < 1
  skip(); /* release builds do not check the owner */
#else
  for (int how = 0; how < 3; how++) {
    char err[4096];
    int status = run_foreign_in_child(how, err, sizeof err);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
      print_error("how=%d status=%#x stderr:\n%s\n", how, status, err);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(err, "used from a thread that does not own it"));
    assert_non_null(strstr(err, "ar_arena_adopt"));
  }
#endif
}

static void test_adopt_hands_off(void **state) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "handed-off";
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  char *mine = ar_strdup(a, "before");
  assert_non_null(mine);
  foreign_t f = {a, 1, 0, false};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, foreign_thread, &f), 0);
  assert_int_equal(pthread_join(th, NULL), 0); /* the join is the happens-before edge */
  assert_true(f.ok);
  ar_arena_adopt(a); /* and back */
  assert_string_equal(mine, "before");
  assert_non_null(ar_alloc_aligned(a, 10, 64));
  ar_reset(a);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
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
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_init_matches_static),
      cmocka_unit_test(test_create_null_opts),
      cmocka_unit_test(test_create_invalid_chunk_size),
      cmocka_unit_test(test_create_source_without_callbacks),
      cmocka_unit_test(test_create_prealloc_over_limit),
      cmocka_unit_test(test_create_prealloc_failing_source),
      cmocka_unit_test(test_arena_name),
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_every_alignment),
      cmocka_unit_test(test_bad_alignments),
      cmocka_unit_test(test_zero_size_unique),
      cmocka_unit_test(test_huge_sizes_overflow),
      cmocka_unit_test(test_largest_request_hits_limit),
      cmocka_unit_test(test_zeroed_variants_really_zero),
      cmocka_unit_test(test_null_arena_everywhere),
      cmocka_unit_test(test_limit_small_allocations),
      cmocka_unit_test(test_limit_releases_spares_for_large),
      cmocka_unit_test(test_limit_failure_keeps_spares),
      cmocka_unit_test(test_failing_source_nth_acquire),
      cmocka_unit_test(test_failing_source_from_n),
      cmocka_unit_test(test_large_request_keeps_current_chunk),
      cmocka_unit_test(test_overaligned_request_dedicated),
      cmocka_unit_test(test_reset_retains_exact_multiple),
      cmocka_unit_test(test_reset_retains_floor_of_non_multiple),
      cmocka_unit_test(test_release_returns_everything),
      cmocka_unit_test(test_destroy_returns_everything),
      cmocka_unit_test(test_cleanups_reverse_order),
      cmocka_unit_test(test_cleanups_on_rewind),
      cmocka_unit_test(test_cleanup_cannot_allocate),
      cmocka_unit_test(test_defer_null_fn),
      cmocka_unit_test(test_nested_marks),
      cmocka_unit_test(test_mark_before_reset_is_stale),
      cmocka_unit_test(test_mark_in_same_chunk_invalidated),
      cmocka_unit_test(test_stats_exact),
      cmocka_unit_test(test_stats_exact_checked),
      cmocka_unit_test(test_peak_survives_rewind_and_reset),
      cmocka_unit_test(test_owns),
      cmocka_unit_test(test_memdup),
      cmocka_unit_test(test_strdup_strndup),
      cmocka_unit_test(test_sprintf_vsprintf),
      cmocka_unit_test(test_free_and_realloc),
      cmocka_unit_test(test_realloc_shrink_and_top),
      cmocka_unit_test(test_strerror_all_codes),
      cmocka_unit_test(test_last_error_per_thread),
      cmocka_unit_test(test_checked_mode_detects_overflow),
      cmocka_unit_test(test_builtin_sources),
      cmocka_unit_test(test_misaligned_user_source),
      cmocka_unit_test(test_owner_thread_checked),
      cmocka_unit_test(test_adopt_hands_off),
      cmocka_unit_test(test_fast_path_contiguous),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
