/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/source_test.c - memory sources (source.h): the built-in OS and malloc sources
 * used directly and under an arena, and a user source that hands out misaligned blocks.
 *
 * The same workload (small, over-aligned and large requests, a rewind, a reset) runs on every
 * source, and the arena must get its alignments right whatever the source's blocks look like;
 * the counting source (tests/test_sources.h) checks that every block goes back.
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
#include "tests/test_sources.h"

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

/* arena.h, ar_arena_create: without a source, default-size chunks come from the process-wide
 * chunk pool (chunkpool.h) and go back to it, dedicated chunks come from OS pages (the pool is
 * not asked), and any other chunk_size gets OS pages. */
static void test_default_source(void **state) {
  (void)state;
  ar_chunk_pool_t *pool = ar_chunk_pool_default();
  ar_chunk_pool_stats_t p0, p1, p2, p3;
  assert_int_equal(ar_chunk_pool_stats(pool, &p0), AR_OK);
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  while (stats_of(a).chunks < 2) assert_non_null(ar_alloc(a, 1000)); /* two 64 KiB chunks */
  assert_int_equal(ar_chunk_pool_stats(pool, &p1), AR_OK);
  assert_int_equal((p1.hits + p1.misses) - (p0.hits + p0.misses), 2);
  char *big = (char *)ar_alloc(a, 300 * 1024); /* a dedicated chunk */
  assert_non_null(big);
  memset(big, 1, 300 * 1024);
  assert_int_equal(stats_of(a).large_chunks, 1);
  assert_int_equal(ar_chunk_pool_stats(pool, &p2), AR_OK);
  assert_int_equal(p2.hits + p2.misses, p1.hits + p1.misses);
  ar_arena_destroy(a);
  assert_int_equal(ar_chunk_pool_stats(pool, &p3), AR_OK);
  assert_int_equal(p3.pooled, p2.pooled + 2); /* both chunks back in the pool */

  ar_options_t o = AR_OPTIONS_INIT; /* another chunk size: OS pages, the pool untouched */
  o.chunk_size = 8192;
  a = ar_arena_create(&o);
  assert_non_null(a);
  for (int i = 0; i < 20; i++) assert_non_null(ar_alloc(a, 1000));
  ar_arena_destroy(a);
  ar_chunk_pool_stats_t p4;
  assert_int_equal(ar_chunk_pool_stats(pool, &p4), AR_OK);
  assert_int_equal(p4.hits + p4.misses, p3.hits + p3.misses);
  assert_int_equal(p4.pooled, p3.pooled);
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
  assert_true(intact(b, 10000, 0));
  os->release(os->ctx, b, 10000);
  b = heap->acquire(heap->ctx, 1000);
  assert_non_null(b);
  assert_int_equal(addr(b) % 64, 0);
  memset(b, 3, 1000);
  heap->release(heap->ctx, b, 1000);

  const ar_source_t *srcs[] = {os, heap};
  for (int i = 0; i < 2; i++) {
    ar_arena_t *a = unit_arena(0, 2 * CHUNK, 0, srcs[i]);
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
    ar_arena_t *a = unit_arena(0, 2 * CHUNK, 0, src);
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

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_default_source),
      chunk_layout_test(test_builtin_sources),
      chunk_layout_test(test_misaligned_user_source),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
