/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/growth_test.c - chunk growth (arena.h, ar_options_t.chunk_size; chunks.c,
 * "Growing"): an arena with the default chunk size and source takes its ordinary chunks larger
 * as its footprint grows, so that a request of megabytes bumps through a few big chunks
 * instead of pushing a 64 KiB chunk (or a dedicated one) every few blocks.
 *
 *   - the sizes: two chunks of chunk_size, then each the largest chunk_size << k that is at
 *     most the chunk bytes in use, up to AR_GROWN_CHUNK_MAX;
 *   - the dedicated-chunk threshold is a quarter of the chunk a refill would bump;
 *   - AR_ARENA_FIXED_CHUNKS, a chunk_size of one's own or a source of one's own: fixed chunks;
 *   - limit_bytes: growth shrinks to what the limit allows (here, for small blocks, the arena
 *     serves as much as fixed chunks would); a refusal leaves the arena unchanged;
 *   - marks and rewinds across grown chunks; reset keeping grown chunks (reused in the order
 *     they were used) for the next request, which then needs no new chunk; a reset after a
 *     request that fits in one grown chunk keeping just that one chunk, so the next such
 *     request bumps inline.
 * ar_arena_check must pass after every step. The chunk list is read white-box
 * (arena_internal.h), since the public stats count chunks but do not size them.
 *
 * Heap flavor (AR_HEAP): there are no chunks; the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/test_sources.h"
#include "tests/arena/arena_unit.h"

#define KIB ((size_t)1024)
#define DEF AR_DEFAULT_CHUNK_SIZE
#define SMALL ((size_t)1000) /* far below any threshold: always bumps in an ordinary chunk */

/* An arena with the default options but for `flags` and `limit`. */
static ar_arena_t *default_arena(unsigned flags, size_t limit) {
  ar_options_t o;
  ar_options_init(&o);
  o.flags = flags;
  o.limit_bytes = limit;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  return a;
}

/* Small blocks until the arena holds `n` ordinary chunks. */
static void fill_to(ar_arena_t *a, size_t n) {
  while (a->nchunks < n) {
    char *p = (char *)ar_alloc(a, SMALL);
    assert_non_null(p);
    p[0] = 1;
  }
  CHECK_ARENA(a);
}

/* The sizes of the ordinary chunks, oldest first; returns how many. */
static size_t chunk_sizes(const ar_arena_t *a, size_t *out, size_t max) {
  size_t n = 0;
  for (const ar_chunk_t *c = a->chunks; c != NULL; c = c->next) n++;
  assert_true(n <= max);
  size_t i = n;
  for (const ar_chunk_t *c = a->chunks; c != NULL; c = c->next) out[--i] = c->size;
  return n;
}

static void test_sizes_double(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  fill_to(a, 14);
  size_t got[32];
  size_t n = chunk_sizes(a, got, 32);
  /* Need before each chunk: 0, 64, 128, 256, 512, 1024, 2048, 4096 (the cap), ... KiB. */
  static const size_t want[14] = {64,   64,   128,  256,  512,  1024, 2048,
                                  4096, 4096, 4096, 4096, 4096, 4096, 4096};
  assert_int_equal(AR_GROWN_CHUNK_MAX, 4096 * KIB);
  assert_int_equal(n, 14);
  size_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(got[i], want[i] * KIB);
    sum += got[i];
  }
  ar_stats_t st = stats_of(a);
  assert_int_equal(st.capacity, sum);
  assert_int_equal(st.chunks, 14);
  assert_int_equal(st.large_chunks, 0);
  ar_arena_destroy(a);
}

static void test_cap(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  fill_to(a, 24);
  size_t got[32];
  size_t n = chunk_sizes(a, got, 32);
  size_t first = 1; /* the index of the first chunk of the cap: two of DEF, then doubling */
  for (size_t s = DEF; s < AR_GROWN_CHUNK_MAX; s <<= 1) first++;
  for (size_t i = 0; i < n; i++) assert_true(got[i] <= AR_GROWN_CHUNK_MAX);
  for (size_t i = first; i < n; i++) assert_int_equal(got[i], AR_GROWN_CHUNK_MAX);
  ar_arena_destroy(a);
}

/* A quarter of the chunk a refill would bump: 16 KiB-ish for a fresh arena, a quarter of a
 * mebibyte once the chunks have grown to the cap. */
static void test_threshold_follows(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  size_t mid = 40 * KIB; /* over a quarter of 64 KiB, under a quarter of 256 KiB */
  assert_non_null(ar_alloc(a, mid));
  assert_int_equal(a->nlarge, 1); /* nothing grown yet: a dedicated chunk */
  fill_to(a, 11);                 /* the current chunk is now of the cap */
  assert_int_equal(a->chunks->size, AR_GROWN_CHUNK_MAX);
  size_t nlarge = a->nlarge, nchunks = a->nchunks;
  for (int i = 0; i < 4; i++) {
    char *p = (char *)ar_alloc(a, mid);
    assert_non_null(p);
    memset(p, 2, mid);
  }
  assert_int_equal(a->nlarge, nlarge); /* bumped inline (or in a new grown chunk) */
  assert_true(a->nchunks <= nchunks + 1);
  /* Up to a quarter of the cap: still ordinary, a new chunk of the cap when this one is
   * full; a block that no chunk of the cap could hold: dedicated. */
  for (int i = 0; i < 8; i++) assert_non_null(ar_alloc(a, 200 * KIB));
  assert_int_equal(a->nlarge, nlarge);
  assert_int_equal(a->chunks->size, AR_GROWN_CHUNK_MAX);
  assert_non_null(ar_alloc(a, AR_GROWN_CHUNK_MAX));
  assert_int_equal(a->nlarge, nlarge + 1);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* A buffer that ar_realloc doubles, in an arena whose chunks have grown, with other
 * allocations in between (so it is never the newest block, which would simply extend at the
 * cursor): once past a quarter of chunk_size it moves to a dedicated chunk of its own and
 * grows there (in place or by mremap), instead of being copied into the grown chunks at every
 * doubling and leaving each old copy behind. The arena then holds about what the buffer
 * needs, not twice as much. */
static void test_realloc_growth_goes_dedicated(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  fill_to(a, 11); /* the current chunk is of the cap: mid-size blocks would bump inline */
  assert_int_equal(a->chunks->size, AR_GROWN_CHUNK_MAX);
  size_t nlarge = a->nlarge;
  ar_stats_t before;
  assert_int_equal(ar_arena_stats(a, &before), AR_OK);
  size_t n = 1024;
  char *p = (char *)ar_alloc(a, n);
  assert_non_null(p);
  memset(p, 7, n);
  while (n < AR_GROWN_CHUNK_MAX) {
    char *q = (char *)ar_realloc(a, p, n, 2 * n);
    assert_non_null(q);
    assert_true(intact(q, n, 7));
    memset(q + n, 7, n);
    assert_non_null(ar_alloc(a, 16)); /* another allocation after it */
    p = q;
    n *= 2;
    /* Slow-only arenas (checked, ASan, debug level 2) copy every growth on purpose. */
    if (!a->slow_only && n > THRESHOLD(DEF)) assert_int_equal(a->nlarge, nlarge + 1);
  }
  ar_stats_t after;
  assert_int_equal(ar_arena_stats(a, &after), AR_OK);
  /* What the doubling added: the dedicated chunk (its final size plus a header and page
   * rounding) and the small copies made before it went dedicated (under 32 KiB in all). */
  if (!a->slow_only) assert_true(after.capacity - before.capacity <= AR_GROWN_CHUNK_MAX + 64 * KIB);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* arena.h, chunk_size: a value that rounds up to the default one is the default (its chunks
 * grow); one that rounds to anything else gives fixed chunks. */
static void test_rounds_to_default(void **state) {
  (void)state;
  size_t sizes[2] = {DEF - 36, DEF + 64};
  for (int k = 0; k < 2; k++) {
    ar_options_t o;
    ar_options_init(&o);
    o.chunk_size = sizes[k];
    ar_arena_t *a = ar_arena_create(&o);
    assert_non_null(a);
    fill_to(a, 4);
    size_t got[8];
    size_t n = chunk_sizes(a, got, 8);
    assert_int_equal(n, 4);
    size_t want[2][4] = {{DEF, DEF, 2 * DEF, 4 * DEF}, {DEF + 64, DEF + 64, DEF + 64, DEF + 64}};
    for (size_t i = 0; i < n; i++) assert_int_equal(got[i], want[k][i]);
    ar_arena_destroy(a);
  }
}

static void assert_all_sized(const ar_arena_t *a, size_t size) {
  for (const ar_chunk_t *c = a->chunks; c != NULL; c = c->next) assert_int_equal(c->size, size);
}

/* The opt-outs: a flag, a chunk size of one's own, a source of one's own. */
static void test_fixed(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(AR_ARENA_FIXED_CHUNKS, 0);
  fill_to(a, 14);
  assert_all_sized(a, DEF);
  fill_to(a, 15);
  while (a->limit - a->hot.cur_ >= (ptrdiff_t)(40 * KIB)) assert_non_null(ar_alloc(a, SMALL));
  assert_non_null(ar_alloc(a, 40 * KIB)); /* the current chunk cannot hold it: dedicated */
  assert_int_equal(a->nlarge, 1);
  ar_arena_destroy(a);

  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = 128 * KIB;
  a = ar_arena_create(&o);
  assert_non_null(a);
  fill_to(a, 14);
  assert_all_sized(a, 128 * KIB);
  ar_arena_destroy(a);

  test_source_t ts;
  ar_options_init(&o);
  o.source = test_source_init(&ts);
  a = ar_arena_create(&o);
  assert_non_null(a);
  fill_to(a, 14);
  assert_all_sized(a, DEF);
  assert_int_equal(ts.live_bytes, 14 * DEF); /* the source was asked for DEF only */
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&ts));
}

/* Under a limit: growth shrinks to fit and fills the limit exactly, as fixed chunks would;
 * refusals leave the arena unchanged. */
static void test_limit(void **state) {
  (void)state;
  size_t limit = 10 * DEF;
  ar_arena_t *a = default_arena(0, limit);
  char *p;
  while ((p = (char *)ar_alloc(a, SMALL)) != NULL) {
    p[0] = 1;
    assert_true(a->capacity <= limit);
  }
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  CHECK_ARENA(a);
  /* 64, 64, 128, 256, then 512 and 256 would not fit: 128. */
  size_t got[16];
  size_t n = chunk_sizes(a, got, 16);
  static const size_t want[5] = {64, 64, 128, 256, 128};
  assert_int_equal(n, 5);
  for (size_t i = 0; i < n; i++) assert_int_equal(got[i], want[i] * KIB);
  assert_int_equal(a->capacity, limit);
  ar_stats_t before = stats_of(a);
  assert_null(ar_alloc(a, SMALL));
  assert_null(ar_alloc(a, 100 * KIB));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_stats_t after = stats_of(a);
  assert_stats_equal(before, after);
  CHECK_ARENA(a);
  /* After a reset the kept chunks (idle) make room again. */
  ar_reset(a);
  CHECK_ARENA(a);
  fill_to(a, 5);
  assert_true(a->capacity <= limit);
  ar_arena_destroy(a);
}

/* A rewind pops exactly the chunks pushed after the mark, grown or not; they become spares,
 * and the next refill takes the oldest of them. */
static void test_marks(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  fill_to(a, 7); /* 64, 64, 128, ... 2048 KiB: the next chunk is the first of the cap */
  ar_mark_t m = ar_mark(a);
  ar_chunk_t *at = a->chunks;
  char *cur = a->hot.cur_;
  fill_to(a, 13);
  ar_mark_t m2 = ar_mark(a);
  fill_to(a, 15);
  assert_int_equal(ar_rewind(a, &m2), AR_OK);
  CHECK_ARENA(a);
  assert_int_equal(a->nchunks, 13);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  CHECK_ARENA(a);
  assert_int_equal(a->nchunks, 7);
  assert_ptr_equal(a->chunks, at);
  assert_ptr_equal(a->hot.cur_, cur);
  assert_int_equal(a->nspare, 8); /* all of the cap */
  assert_int_equal(a->spare->size, AR_GROWN_CHUNK_MAX);
  fill_to(a, 8);
  assert_int_equal(a->chunks->size, AR_GROWN_CHUNK_MAX);
  assert_int_equal(a->nspare, 7);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  CHECK_ARENA(a);
  assert_int_equal(a->nchunks, 7);
  ar_arena_destroy(a);
}

/* AR_RETAIN_AUTO keeps the grown chunks; the same request again needs no new chunk. */
static void test_reset_keeps_grown(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  size_t total = 3 * AR_GROWN_CHUNK_MAX;
  for (size_t s = 0; s < total; s += SMALL) assert_non_null(ar_alloc(a, SMALL));
  /* The second request is smaller by a little, so that the tails the first one left in its
   * chunks (under SMALL each) cannot make it need one more. */
  total -= total / 8;
  size_t cap = a->capacity;
  size_t before[32];
  size_t n = chunk_sizes(a, before, 32);
  ar_reset(a);
  CHECK_ARENA(a);
  assert_int_equal(a->capacity, cap);
  /* Above the cap, no chunk is made current (arena.c, clear), and the spares are in the
   * order they were used. */
  assert_null(a->chunks);
  assert_int_equal(a->nspare, n);
  size_t i = 0;
  for (const ar_chunk_t *c = a->spare; c != NULL; c = c->next)
    assert_int_equal(c->size, before[i++]);
  for (size_t s = 0; s < total; s += SMALL) assert_non_null(ar_alloc(a, SMALL));
  assert_int_equal(a->capacity, cap); /* nothing new from the source */
  CHECK_ARENA(a);
  ar_reset(a);
  CHECK_ARENA(a);
  assert_int_equal(a->capacity, cap);
  ar_release(a);
  assert_int_equal(a->capacity, 0);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* A request that fits in one grown chunk: the reset keeps one chunk that holds it all, and
 * the same request again bumps through it alone, its 40 KiB blocks included. */
static void test_reset_fits_one(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  size_t sizes[] = {40 * KIB, SMALL, 30 * KIB, SMALL, 60 * KIB, 20 * KIB, SMALL, 50 * KIB};
  size_t n = sizeof sizes / sizeof sizes[0];
  for (int round = 0; round < 3; round++) {
    for (int rep = 0; rep < 4; rep++)
      for (size_t i = 0; i < n; i++) assert_non_null(ar_alloc(a, sizes[i]));
    if (round > 0) { /* one chunk, no dedicated ones, nothing new from the source */
      assert_int_equal(a->nchunks, 1);
      assert_int_equal(a->nlarge, 0);
      assert_int_equal(a->chunks->size, 1024 * KIB);
    }
    ar_stats_t st = stats_of(a);
    assert_true(st.used + CHUNK_OVERHEAD <= 1024 * KIB);
    CHECK_ARENA(a);
    ar_reset(a);
    CHECK_ARENA(a);
    /* Kept: one chunk that holds what the request handed out; it is current. */
    assert_int_equal(a->capacity, 1024 * KIB);
    assert_int_equal(a->nspare, 0);
    assert_int_equal(a->nkept, 0);
    assert_int_equal(a->chunks->size, 1024 * KIB);
  }
  ar_arena_destroy(a);
  /* One pass (about 200 KiB handed out) fits in a 256 KiB chunk: under a limit that allows
   * it, the reset keeps just that chunk; under one that does not, what it kept before. */
  a = default_arena(0, 512 * KIB);
  for (size_t i = 0; i < n; i++) assert_non_null(ar_alloc(a, sizes[i]));
  ar_reset(a);
  CHECK_ARENA(a);
  assert_int_equal(a->capacity, 256 * KIB);
  ar_arena_destroy(a);
  a = default_arena(0, 240 * KIB);
  for (size_t i = 0; i < n; i++) assert_non_null(ar_alloc(a, sizes[i]));
  size_t cap = a->capacity;
  ar_reset(a);
  CHECK_ARENA(a);
  assert_int_equal(a->capacity, cap);
  assert_true(a->nkept > 0); /* the dedicated chunks, kept as before */
  ar_arena_destroy(a);
}

/* Over 1 MiB handed out, the reset replaces nothing (arena.h, ar_reset), though a chunk of the
 * growth cap (4 MiB) would hold it: such a chunk is advised huge pages and would be resident
 * whole, twice what a request of 2 MiB wrote. The request's chunks stay as they were, none of
 * them current. */
static void test_reset_over_a_mebibyte_keeps_the_chunks(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  size_t total = 2 * 1024 * KIB + 16 * KIB;
  for (size_t s = 0; s < total; s += SMALL) assert_non_null(ar_alloc(a, SMALL));
  size_t before[32];
  size_t n = chunk_sizes(a, before, 32), cap = a->capacity;
  assert_true(n >= 7); /* 64 KiB, 64 KiB, ... 2 MiB */
  ar_reset(a);
  CHECK_ARENA(a);
  assert_int_equal(a->capacity, cap); /* nothing acquired, nothing given back */
  assert_int_equal(a->nspare, n);
  assert_null(a->chunks);
  for (const ar_chunk_t *c = a->spare; c != NULL; c = c->next)
    assert_true(c->size < AR_GROWN_CHUNK_MAX);
  ar_arena_destroy(a);
}

/* Once the requests are small again, the grown chunk goes back as the peak decays (arena.h,
 * ar_reset: the excess is gone 1.8 s after the need fell, at a fourth reset). */
static void test_grown_chunk_decays(void **state) {
  (void)state;
  ar_arena_t *a = default_arena(0, 0);
  for (int i = 0; i < 20; i++) assert_non_null(ar_alloc(a, 40 * KIB));
  ar_reset(a);
  CHECK_ARENA(a);
  assert_int_equal(a->chunks->size, 1024 * KIB);
  struct timespec ts = {0, 100 * 1000 * 1000};
  for (int i = 0; i < 30; i++) {
    assert_non_null(ar_alloc(a, SMALL));
    ar_reset(a);
    CHECK_ARENA(a);
    nanosleep(&ts, NULL);
  }
  assert_non_null(ar_alloc(a, SMALL));
  ar_reset(a);
  CHECK_ARENA(a);
  assert_true(a->capacity <= DEF);
  ar_arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_sizes_double),
      chunk_layout_test(test_cap),
      chunk_layout_test(test_threshold_follows),
      chunk_layout_test(test_realloc_growth_goes_dedicated),
      chunk_layout_test(test_rounds_to_default),
      chunk_layout_test(test_fixed),
      chunk_layout_test(test_limit),
      chunk_layout_test(test_marks),
      chunk_layout_test(test_reset_keeps_grown),
      chunk_layout_test(test_reset_fits_one),
      chunk_layout_test(test_reset_over_a_mebibyte_keeps_the_chunks),
      chunk_layout_test(test_grown_chunk_decays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
