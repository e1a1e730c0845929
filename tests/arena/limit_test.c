/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/limit_test.c - limit_bytes and failing sources on a serial arena.
 *
 *   - After ar_reset, chunks that hold nothing (the spares, and the chunk reset keeps current)
 *     are given back to make room for a request that fits the limit; it is not refused.
 *   - A request that fails (AR_ELIMIT, or AR_ENOMEM from the source) leaves the arena exactly
 *     as it was: same stats, same chunks held, nothing given back on the way.
 *   - Filling up to the limit: small allocations stop exactly when the limit's chunks are
 *     full, a dedicated chunk gets room by giving spares back, and a request that would not
 *     fit even then fails without giving any back.
 * The counting source checks that what the arena reports is what the source holds.
 *
 * Heap flavor (AR_HEAP): there are no chunks; reset frees everything and the source is never
 * called, so neither situation can arise there and the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/test_sources.h"
#include "tests/arena/arena_unit.h"

/* A dedicated chunk of between one and two ordinary chunks' bytes. */
#define BIG ((size_t)6000)

static test_source_t src;

static ar_arena_t *make_arena(size_t retain, size_t limit) {
  return unit_arena(0, retain, limit, test_source_init(&src));
}

/* Item 6: the chunk reset keeps current counted against the limit but never given back. */
static void test_reset_then_request_that_fits(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip(); /* no chunks: reset keeps nothing */
    return;
  }
  ar_arena_t *a = make_arena(CHUNK, 2 * CHUNK);
  fill_chunks_with(a, 1, 500);
  ar_reset(a);
  assert_int_equal(stats_of(a).capacity, CHUNK); /* kept, and current */
  char *p = (char *)ar_alloc(a, opaque(BIG));
  assert_non_null(p);
  memset(p, 1, BIG);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.large_chunks, 1);
  assert_true(s.capacity <= 2 * CHUNK);
  assert_int_equal(s.capacity, src.live_bytes);
  assert_int_equal(ar_arena_check(a), AR_OK);
  /* The arena goes on working: an ordinary chunk comes back when it fits. */
  ar_reset(a);
  assert_non_null(ar_alloc(a, 64));
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

/* Item 6 with a spare as well as the kept current chunk: both go. */
static void test_reset_spare_and_current_both_released(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip(); /* no chunks: reset keeps nothing */
    return;
  }
  ar_arena_t *a = make_arena(2 * CHUNK, 2 * CHUNK);
  fill_chunks_with(a, 2, 500);
  ar_reset(a);
  assert_int_equal(stats_of(a).capacity, 2 * CHUNK);
  assert_int_equal(stats_of(a).spare_chunks, 2);
  assert_non_null(ar_alloc(a, opaque(BIG)));
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.spare_chunks, 0);
  assert_int_equal(s.chunks, 0);
  assert_int_equal(s.capacity, src.live_bytes);
  assert_true(s.capacity <= 2 * CHUNK);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

/* A mark taken on the empty current chunk survives that chunk being given back. */
static void test_mark_on_released_current_chunk(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip(); /* no chunks: reset keeps nothing */
    return;
  }
  ar_arena_t *a = make_arena(CHUNK, 2 * CHUNK);
  fill_chunks_with(a, 1, 500);
  ar_reset(a);
  ar_mark_t m = ar_mark(a);
  assert_non_null(ar_alloc(a, opaque(BIG))); /* gives the empty current chunk back */
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  ar_stats_t s = stats_of(a);
  assert_int_equal(s.used, 0);
  assert_int_equal(s.large_chunks, 0);
  assert_non_null(ar_alloc(a, 64));
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(stats_of(a).used, 0);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

/* The empty current chunk a mark names is given back to make room for a dedicated chunk:
 * later small allocations used to land in the tail of the chunk below, where the rewind left
 * them allocated. Now that tail is sealed while the chunk lives (a small request needs a new
 * chunk, AR_ELIMIT if there is no room for one), and the rewind frees whatever came after. */
static void test_rewind_after_marked_chunk_dropped(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip(); /* no chunks */
    return;
  }
  ar_arena_t *a = make_arena(0, 2 * CHUNK + BIG - 1); /* both chunks and BIG do not fit */
  if (a->slow_only) {
    /* Freed blocks are quarantined there: the current chunk cannot be emptied this way. */
    ar_arena_destroy(a);
    skip();
    return;
  }
  for (int i = 0; i < 4; i++) assert_non_null(ar_alloc(a, 900)); /* chunk 1, a tail left */
  char *h = (char *)ar_alloc(a, 900);                            /* chunk 2 */
  assert_non_null(h);
  assert_int_equal(ar_free(a, h, 900), AR_OK); /* chunk 2 is an empty current chunk */
  size_t used_at_mark = stats_of(a).used;
  ar_mark_t m = ar_mark(a);
  char *big = (char *)ar_alloc(a, opaque(BIG)); /* gives chunk 2 back */
  assert_non_null(big);
  ar_clear_error();
  char *x = (char *)ar_alloc(a, opaque(100));
  if (x == NULL) {
    assert_int_equal(ar_last_error(), AR_ELIMIT); /* no room for a chunk beside BIG */
    assert_int_equal(ar_free(a, big, BIG), AR_OK);
    x = (char *)ar_alloc(a, opaque(100));
    assert_non_null(x);
  }
  memset(x, 0x3C, 100);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(stats_of(a).used, used_at_mark);
  assert_false(ar_owns(a, x));
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

/* A creation that fails (the source refuses a preallocated chunk) creates no arena: the
 * process-wide counts of created and destroyed arenas do not move, and every chunk it got
 * goes back. */
static void test_failed_create_not_counted(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip(); /* preallocation never calls the source */
    return;
  }
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = CHUNK;
  o.prealloc_chunks = 3;
  o.source = test_source_init(&src);
  src.fail_at = 2;
  ar_global_stats_t g0, g1;
  assert_int_equal(ar_stats_global(&g0), AR_OK);
  ar_clear_error();
  assert_null(ar_arena_create(&o));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_int_equal(ar_stats_global(&g1), AR_OK);
  assert_int_equal(g1.arenas_created, g0.arenas_created);
  assert_int_equal(g1.arenas_live, g0.arenas_live);
  assert_int_equal(g1.avg_lifetime_ns, g0.avg_lifetime_ns);
  assert_true(test_source_balanced(&src));
}

/* Item 7: a request that would have to give spares back, and whose source then fails, used to
 * come back AR_ENOMEM with the spares gone. */
static void test_failing_source_after_making_room(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip(); /* the source is never called */
    return;
  }
  ar_arena_t *a = make_arena(2 * CHUNK, 3 * CHUNK);
  fill_chunks_with(a, 2, 500);
  ar_reset(a);
  ar_stats_t before = stats_of(a);
  assert_int_equal(before.capacity, 2 * CHUNK);
  size_t live = src.live_blocks;
  src.fail_from = src.attempts + 1;
  ar_clear_error();
  assert_null(ar_alloc(a, opaque(BIG)));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(after, before);
  assert_int_equal(src.live_blocks, live);
  assert_int_equal(src.releases, 0);
  assert_int_equal(ar_arena_check(a), AR_OK);
  /* A large ar_realloc fails the same way, the old block kept. */
  char *p = (char *)ar_alloc(a, 64);
  assert_non_null(p);
  before = stats_of(a);
  ar_clear_error();
  assert_null(ar_realloc(a, p, 64, opaque(BIG)));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  after = stats_of(a);
  assert_stats_equal(after, before);
  /* With the source healthy again the same request succeeds, within the limit. */
  src.fail_from = 0;
  assert_non_null(ar_alloc(a, opaque(BIG)));
  assert_true(stats_of(a).capacity <= 3 * CHUNK);
  assert_int_equal(stats_of(a).capacity, src.live_bytes);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

/* AR_ELIMIT leaves the arena unchanged too: nothing is given back when giving back all that
 * could go would not be enough. */
static void test_limit_refusal_changes_nothing(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip(); /* no spares to keep */
    return;
  }
  ar_arena_t *a = make_arena(2 * CHUNK, 3 * CHUNK);
  fill_chunks_with(a, 2, 500);
  ar_reset(a);
  ar_stats_t before = stats_of(a);
  ar_clear_error();
  assert_null(ar_alloc(a, opaque(4 * CHUNK)));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(after, before);
  assert_int_equal(src.releases, 0);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src));
}

/* ---- filling up to the limit ---------------------------------------------------------- */

static void test_limit_small_allocations(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 4 * CHUNK, NULL);
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

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reset_then_request_that_fits),
      cmocka_unit_test(test_reset_spare_and_current_both_released),
      cmocka_unit_test(test_mark_on_released_current_chunk),
      cmocka_unit_test(test_failing_source_after_making_room),
      cmocka_unit_test(test_limit_refusal_changes_nothing),
      cmocka_unit_test(test_rewind_after_marked_chunk_dropped),
      cmocka_unit_test(test_failed_create_not_counted),
      chunk_layout_test(test_limit_small_allocations),
      chunk_layout_test(test_limit_releases_spares_for_large),
      chunk_layout_test(test_limit_failure_keeps_spares),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
