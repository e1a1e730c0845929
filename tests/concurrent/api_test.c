/* SPDX-License-Identifier: MIT */
/*
 * tests/concurrent/api_test.c - the calls of concurrent.h one at a time: what each returns and
 * hands out, its errors, the inline fast path, several threads on one arena, and the debug
 * detector for a reset that races an allocation.
 *
 * concurrent_test.c next door holds the arena to its memory bound under many interleavings;
 * this file pins down the contract of each call in the simplest setting that shows it, mostly
 * on one thread and a counting source (tests/test_sources.h), so that a broken promise points
 * at one call. The races themselves are exercised by //stress. Expectations differ by build in
 * two places, both named below: slow-only builds (ASan, AR_DEBUG >= 2, the heap flavour) route
 * every call out of line, and the heap flavour has no chunks and never calls the source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arenart.h>

#include "tests/child.h"
#include "tests/test_sources.h"
#include "tests/test_util.h"

static test_source_t ts; /* one arena at a time, used from the test thread only */

/* Library builds that route every ConcurrentArena call out of line (see concurrent.c): ASan,
 * AR_DEBUG >= 2, and the heap flavor (TEST_HEAP: every allocation its own malloc, no chunks,
 * the memory source never called; chunk-layout assertions do not apply there). */
#if TEST_ASAN || TEST_HEAP || (defined(AR_DEBUG) && AR_DEBUG >= 2)
#define SLOW_ONLY 1
#else
#define SLOW_ONLY 0
#endif

static void test_concurrent_basics(void **state) {
  (void)state;
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.source = test_source_init(&ts);
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  char *a = (char *)ar_concurrent_alloc(ca, 10);
  char *b = (char *)ar_concurrent_alloc(ca, 10);
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal((uintptr_t)a % 16, 0);
  if (!TEST_HEAP) assert_ptr_equal(b, a + 16); /* same thread, same span: a plain bump */
  assert_true(ar_concurrent_owns(ca, a));
  int local;
  assert_false(ar_concurrent_owns(ca, &local));
  for (size_t al = 1; al <= 8192; al *= 2) {
    void *p = ar_concurrent_alloc_aligned(ca, 24, al);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % al, 0);
  }
  void *z = ar_concurrent_alloc(ca, 0);
  void *z2 = ar_concurrent_alloc(ca, 0);
  assert_non_null(z);
  assert_ptr_not_equal(z, z2);
  unsigned char *cz = (unsigned char *)ar_concurrent_calloc(ca, 100, 3);
  assert_non_null(cz);
  for (int i = 0; i < 300; i++) assert_int_equal(cz[i], 0);
  void *big = ar_concurrent_alloc(ca, 100000); /* dedicated chunk */
  assert_non_null(big);
  memset(big, 1, 100000);
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  if (TEST_HEAP) {
    assert_int_equal(st.capacity, st.used); /* exactly the bytes malloc'd */
    assert_true(st.used >= 100000 + 300 + 10 + 10);
    assert_true(ar_concurrent_owns(ca, (char *)big + 99999));
    assert_false(ar_concurrent_owns(ca, (char *)big + 100000));
  } else {
    assert_true(st.large_chunks >= 1);
    assert_int_equal(st.capacity, ts.live_bytes);
  }
  ar_concurrent_reset(ca);
  /* reset keeps the ordinary chunks (retain_bytes: 1 MiB) and gives back the dedicated one */
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  assert_int_equal(st.capacity, ts.live_bytes);
  assert_int_equal(st.capacity, st.spare_chunks * 4096);
  assert_int_equal(st.used, 0);
  /* a span cached before reset is not reused */
  char *c = (char *)ar_concurrent_alloc(ca, 10);
  assert_non_null(c);
  assert_true(ar_concurrent_owns(ca, c));
  ar_concurrent_destroy(ca);
  assert_int_equal(ts.live_bytes, 0);
}

static uint64_t allocs_out_of_line(ar_concurrent_t *ca) {
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  return st.allocs;
}

/* The inline fast path: after the first allocation fills the thread's span, later ones bump
 * inline (the out-of-line counter does not move) except in slow-only builds, where every call
 * is counted; either way the blocks are contiguous. A reset empties the span. */
static void test_concurrent_inline_path(void **state) {
  (void)state;
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = test_source_init(&ts);
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  char *first = (char *)ar_concurrent_alloc(ca, 16);
  assert_non_null(first);
  assert_int_equal(allocs_out_of_line(ca), 1);
  for (int i = 1; i < 100; i++) {
    char *p = (char *)ar_concurrent_alloc(ca, 9 + (size_t)i % 8); /* rounds up to 16 */
    if (TEST_HEAP) assert_non_null(p);
    else assert_ptr_equal(p, first + 16 * i);
  }
  assert_int_equal(allocs_out_of_line(ca), SLOW_ONLY ? 100 : 1);
  ar_concurrent_reset(ca);
  uint64_t before = allocs_out_of_line(ca);
  char *after = (char *)ar_concurrent_alloc(ca, 16);
  assert_non_null(after);
  assert_true(ar_concurrent_owns(ca, after));
  assert_int_equal(allocs_out_of_line(ca), before + 1); /* emptied span: out of line */

  /* Interleaved arenas keep their own spans; neither ever hands out memory from the other's
   * chunks. */
  ar_concurrent_t *others[1];
  int n = 0;
  ar_concurrent_t *twin = ar_concurrent_create(&o);
  assert_non_null(twin);
  others[n++] = twin;
  for (int i = 0; i < 50; i++) {
    void *a = ar_concurrent_alloc(ca, 32);
    void *b = ar_concurrent_alloc(twin, 32);
    assert_true(ar_concurrent_owns(ca, a) && !ar_concurrent_owns(twin, a));
    assert_true(ar_concurrent_owns(twin, b) && !ar_concurrent_owns(ca, b));
  }
  for (int i = 0; i < n; i++) ar_concurrent_destroy(others[i]);
  ar_concurrent_destroy(ca);
  assert_int_equal(ts.live_bytes, 0);
}

static void test_concurrent_errors(void **state) {
  (void)state;
  assert_null(ar_concurrent_alloc(NULL, 8));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_concurrent_reset(NULL);
  ar_concurrent_destroy(NULL);
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(NULL, &st), AR_EINVAL);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 100;
  assert_null(ar_concurrent_create(&o));
  assert_int_equal(ar_last_error(), AR_EINVAL);

  o = (ar_options_t)AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.source = test_source_init(&ts);
  o.limit_bytes = 3 * 4096;
  o.retain_bytes = 0; /* the failing source below must be reached right after the reset */
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  assert_null(ar_concurrent_alloc_aligned(ca, 8, 3));
  assert_int_equal(ar_last_error(), AR_EALIGN);
  assert_null(ar_concurrent_alloc(ca, opaque(SIZE_MAX)));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  assert_null(ar_concurrent_calloc(ca, SIZE_MAX / 2, 3));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  int ok = 0;
  while (ar_concurrent_alloc(ca, 200) != NULL) ok++;
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_true(ok > 10);
  ar_stats_t before, after;
  ar_concurrent_stats(ca, &before);
  assert_true(before.capacity <= o.limit_bytes);
  assert_null(ar_concurrent_alloc(ca, 200));
  ar_concurrent_stats(ca, &after);
  assert_int_equal(before.capacity, after.capacity);
  ar_concurrent_reset(ca);
  /* a failing source: AR_ENOMEM, nothing leaked, recovers (the heap flavor never calls the
   * source, so there the request succeeds) */
  ts.fail_from = ts.attempts + 1; /* this attempt and every later one */
  if (TEST_HEAP) {
    assert_non_null(ar_concurrent_alloc(ca, 64));
  } else {
    assert_null(ar_concurrent_alloc(ca, 64));
    assert_int_equal(ar_last_error(), AR_ENOMEM);
  }
  assert_int_equal(ts.live_bytes, 0);
  ts.fail_from = 0;
  assert_non_null(ar_concurrent_alloc(ca, 64));
  ar_concurrent_destroy(ca);
  assert_int_equal(ts.live_bytes, 0);
}

static ar_concurrent_t *shared_ca;
static void *mt_alloc(void *arg) {
  long sum = 0;
  for (int i = 0; i < 20000; i++) {
    char *p = (char *)ar_concurrent_alloc(shared_ca, 1 + (size_t)(i % 100));
    if (p == NULL) return (void *)-1;
    p[0] = (char)i;
    sum += p[0];
  }
  (void)arg;
  return (void *)(intptr_t)(sum == 0 ? -1 : 0); /* blocks must keep what was written */
}

static void test_concurrent_threads(void **state) {
  (void)state;
  shared_ca = ar_concurrent_create(NULL);
  assert_non_null(shared_ca);
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, mt_alloc, NULL);
  for (int i = 0; i < 3; i++) {
    void *r;
    pthread_join(t[i], &r);
    assert_null(r);
  }
  ar_stats_t st;
  ar_concurrent_stats(shared_ca, &st);
  assert_true(st.used >= 3 * 20000 * 16 / 2);
  assert_true(st.used <= st.capacity);
  ar_concurrent_destroy(shared_ca);
}

#if !(defined(NDEBUG) || TEST_HEAP) /* see test_debug_detects_reset_race */
/* A source whose acquire blocks until released: holds an allocating thread inside the
 * out-of-line path, so a reset from another thread races it deterministically. */
static _Atomic(int) gate_open, gate_entered;
static void *gate_acquire(void *ctx, size_t size) {
  (void)ctx;
  atomic_store(&gate_entered, 1);
  while (!atomic_load(&gate_open)) usleep(1000);
  return malloc(size);
}
static void gate_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  (void)size;
  free(p);
}
static ar_concurrent_t *racy;
static void *racy_alloc(void *arg) {
  (void)arg;
  (void)!ar_concurrent_alloc(racy, 32);
  return NULL;
}
static void reset_while_allocating(void *arg) {
  (void)arg;
  static ar_source_t gate = {gate_acquire, gate_release, NULL, "gate"};
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = &gate;
  o.name = "racy";
  racy = ar_concurrent_create(&o);
  pthread_t t;
  pthread_create(&t, NULL, racy_alloc, NULL);
  while (!atomic_load(&gate_entered)) usleep(1000);
  ar_concurrent_reset(racy); /* must abort: the other thread is inside an allocation */
  atomic_store(&gate_open, 1);
  pthread_join(t, NULL);
}
#endif

static void test_debug_detects_reset_race(void **state) {
  (void)state;
#if defined(NDEBUG) || TEST_HEAP
  skip(); /* the heap flavor never calls the gating source that holds the allocation open */
#else
  char err[2048];
  int status = child_run(reset_while_allocating, NULL, err, sizeof err);
  assert_int_not_equal(status, -1);
  assert_true(child_aborted(status));
  assert_non_null(strstr(err, "ConcurrentArena 'racy'"));
  assert_non_null(strstr(err, "quiescence"));
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concurrent_basics),
      cmocka_unit_test(test_concurrent_inline_path),
      cmocka_unit_test(test_concurrent_errors),
      cmocka_unit_test(test_concurrent_threads),
      cmocka_unit_test(test_debug_detects_reset_race),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
