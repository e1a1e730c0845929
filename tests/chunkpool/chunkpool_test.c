/* SPDX-License-Identifier: MIT */
/*
 * tests/chunkpool/chunkpool_test.c - the chunk pool (runtime/chunkpool.c) seen through the
 * source it hands out.
 *
 * A chunk pool sits between arenas and a backing source: blocks of its chunk size are kept
 * (up to max_chunks) and handed out again, last in first out, and everything else passes
 * through. The test drives the pool's source directly, with the backing source a counting one
 * (tests/test_sources.h), so every byte the pool holds or gives back is visible, and checks
 * the counters chunkpool.h documents (pooled, hits, misses, overflows) against what it did.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arenart.h>

#include "tests/test_sources.h"

static test_source_t ts; /* the backing source; one thread */

/* Creation checks; misses, overflows and sizes that bypass the pool; LIFO reuse; trim; the
 * default pool is one process-wide object. */
static void test_chunk_pool(void **state) {
  (void)state;
  assert_null(ar_chunk_pool_create(100, 4, NULL));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_null(ar_chunk_pool_create(4096, 0, NULL));
  ar_chunk_pool_t *p = ar_chunk_pool_create(4096, 2, test_source_init(&ts));
  assert_non_null(p);
  assert_null(ar_chunk_pool_get(p));
  const ar_source_t *src = ar_chunk_pool_source(p);
  void *a = src->acquire(src->ctx, 4096); /* miss: from the backing source */
  void *b = src->acquire(src->ctx, 4096);
  void *c = src->acquire(src->ctx, 4096);
  void *odd = src->acquire(src->ctx, 5000); /* other sizes bypass the pool */
  assert_int_equal(ts.live_bytes, 3 * 4096 + 5000);
  src->release(src->ctx, a, 4096);
  src->release(src->ctx, b, 4096);
  src->release(src->ctx, c, 4096); /* pool full (2): goes back */
  src->release(src->ctx, odd, 5000);
  assert_int_equal(ts.live_bytes, 2 * 4096);
  ar_chunk_pool_stats_t st;
  assert_int_equal(ar_chunk_pool_stats(p, &st), AR_OK);
  assert_int_equal(st.pooled, 2);
  assert_int_equal(st.misses, 3);
  assert_int_equal(st.overflows, 1);
  /* LIFO: the last chunk put is the first one out */
  void *again = src->acquire(src->ctx, 4096);
  assert_ptr_equal(again, b);
  ar_chunk_pool_stats(p, &st);
  assert_int_equal(st.hits, 1);
  src->release(src->ctx, again, 4096);
  assert_int_equal(ar_chunk_pool_trim(p, 1), 1);
  assert_int_equal(ts.live_bytes, 4096);
  ar_chunk_pool_destroy(p);
  assert_int_equal(ts.live_bytes, 0);
  assert_non_null(ar_chunk_pool_default());
  assert_ptr_equal(ar_chunk_pool_default(), ar_chunk_pool_default());
}

/* The default pool is never destroyed: ar_chunk_pool_destroy ignores it, and it keeps serving
 * (a chunk put back before the call is still there after it). */
static void test_default_pool_survives_destroy(void **state) {
  (void)state;
  ar_chunk_pool_t *d = ar_chunk_pool_default();
  const ar_source_t *src = ar_chunk_pool_source(d);
  void *c = src->acquire(src->ctx, AR_DEFAULT_CHUNK_SIZE);
  assert_non_null(c);
  src->release(src->ctx, c, AR_DEFAULT_CHUNK_SIZE);
  ar_chunk_pool_stats_t before, after;
  assert_int_equal(ar_chunk_pool_stats(d, &before), AR_OK);
  assert_true(before.pooled >= 1);
  ar_chunk_pool_destroy(d);
  assert_ptr_equal(ar_chunk_pool_default(), d);
  assert_int_equal(ar_chunk_pool_stats(d, &after), AR_OK);
  assert_int_equal(after.pooled, before.pooled);
  assert_int_equal(after.max_chunks, 256);
  void *again = src->acquire(src->ctx, AR_DEFAULT_CHUNK_SIZE);
  assert_non_null(again);
  src->release(src->ctx, again, AR_DEFAULT_CHUNK_SIZE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chunk_pool),
      cmocka_unit_test(test_default_pool_survives_destroy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
