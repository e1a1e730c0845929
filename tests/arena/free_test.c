/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/free_test.c - giving blocks back: ar_free and ar_realloc, and the size-class
 * bins that hold what was given back (arena.h).
 *
 * Covered: the argument checks, un-bumping (freeing or resizing the most recent block moves
 * the cursor back or extends it in place), size-class reuse and splitting, large-chunk
 * release, growing a dedicated chunk without a copy (mremap of OS pages, or the slack of a
 * kept chunk), quarantine in slow-only arenas, failure paths that leave the old block alone,
 * and a random sequence checked against shadow copies with ar_arena_check after every step.
 * Whether freed memory is reused at all depends on the build (slow-only arenas quarantine it;
 * reuses() in arena_unit.h says which), so address assertions ask instead of assuming; cases
 * a build cannot have (no chunks in the heap flavor, no checked mode under ASan) skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"
#include "runtime/internal.h"
#include "tests/arena/arena_unit.h"

static size_t used_of(ar_arena_t *a) { return stats_of(a).used; }

static size_t recycled_of(ar_arena_t *a) { return stats_of(a).recycled; }

/* A block that is not the arena's most recent allocation (a guard block follows it). */
static char *nontop(ar_arena_t *a, size_t n) {
  char *p = ar_alloc(a, n);
  assert_non_null(p);
  assert_non_null(ar_alloc(a, 16));
  return p;
}

static void test_free_args(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  assert_int_equal(ar_free(NULL, NULL, 0), AR_EINVAL);
  assert_int_equal(ar_free(a, NULL, 10), AR_OK);
  char *p = ar_alloc(a, 32);
  assert_non_null(p);
  assert_int_equal(ar_free(a, p + 1, 8), AR_EINVAL); /* misaligned: never a block start */
  assert_int_equal(ar_free(a, p, SIZE_MAX), AR_EINVAL);
#if AR_DEBUG >= 1
  char local[32] __attribute__((aligned(16)));
  assert_int_equal(ar_free(a, local, sizeof local), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
#endif
  assert_null(ar_realloc(NULL, p, 32, 64));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_unbump(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  char *p = ar_alloc(a, 100);
  char *q = ar_alloc(a, 50);
  assert_non_null(p);
  assert_non_null(q);
  size_t u0 = used_of(a);
  assert_int_equal(ar_free(a, q, 50), AR_OK);
  CHECK_ARENA(a);
  if (reuses(a)) {
    assert_int_equal(used_of(a), u0 - 64);
    assert_int_equal(ar_free(a, p, 100), AR_OK);
    assert_int_equal(used_of(a), u0 - 64 - 112);
    assert_int_equal(recycled_of(a), 0);
    /* The cursor is back: the next allocation lands where p was. */
    char *r = ar_alloc(a, 16);
    assert_ptr_equal(r, p);
    /* Size 0 frees what a 0-byte allocation took (16 bytes). */
    char *z = ar_alloc(a, 0);
    assert_int_equal(ar_free(a, z, 0), AR_OK);
    assert_ptr_equal(ar_alloc(a, 1), z);
  } else {
    assert_int_equal(used_of(a), u0); /* quarantined: nothing moves */
    assert_int_equal(ar_free(a, p, 100), AR_OK);
    assert_int_equal(recycled_of(a), 0);
  }
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_class_reuse_and_split(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  char *big = ar_alloc(a, 1000); /* footprint 1008 */
  char *b = ar_alloc(a, 16);
  char *mid = ar_alloc(a, 100); /* footprint 112 */
  char *c = ar_alloc(a, 16);    /* keeps everything above non-top */
  assert_non_null(c);
  assert_int_equal(ar_free(a, mid, 100), AR_OK);
  CHECK_ARENA(a);
  if (!reuses(a)) {
    assert_int_equal(recycled_of(a), 0);
    char *n = ar_realloc(a, b, 16, 100);
    assert_non_null(n);
    assert_ptr_not_equal(n, mid); /* quarantined blocks are never handed out again */
    CHECK_ARENA(a);
    ar_arena_destroy(a);
    return;
  }
  assert_int_equal(recycled_of(a), 112);
  memset(b, 0x5A, 16);
  /* b is not the top: growing it moves it into the recycled block of its class. */
  char *n = ar_realloc(a, b, 16, 100);
  assert_ptr_equal(n, mid);
  for (int i = 0; i < 16; i++) assert_int_equal((unsigned char)n[i], 0x5A);
  assert_int_equal(recycled_of(a), 16); /* b went on the 16-byte list */
  CHECK_ARENA(a);
  /* A 1008-byte block serves a 200-byte request and the rest (800) is listed again. */
  assert_int_equal(ar_free(a, big, 1000), AR_OK);
  assert_int_equal(recycled_of(a), 16 + 1008);
  char *d = ar_realloc(a, nontop(a, 16), 16, 200);
  assert_ptr_equal(d, big);
  CHECK_ARENA(a);
  /* 16 (old b) + 800 (split off) + 16 (the block realloc moved away from) */
  assert_int_equal(recycled_of(a), 16 + 800 + 16);
  /* The split-off 800-byte block serves a 500-byte request from its class. */
  char *e = ar_realloc(a, nontop(a, 16), 16, 500);
  assert_ptr_equal(e, big + 208);
  assert_int_equal(recycled_of(a), 16 + 288 + 16 + 16);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* When the current chunk is full, the out-of-line path takes a recycled block instead of a
 * new chunk. */
static void test_slow_path_takes_recycled(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(4096, 0, 0);
  if (!reuses(a)) {
    ar_arena_destroy(a);
    skip();
  }
  char *blocks[64];
  size_t n = 0;
  ar_stats_t st;
  do {
    blocks[n] = ar_alloc(a, 256);
    assert_non_null(blocks[n]);
    n++;
    assert_int_equal(ar_arena_stats(a, &st), AR_OK);
  } while (st.chunks == 1 && n < 64);
  /* The last block opened a second chunk; free one from the first chunk's middle. */
  assert_int_equal(ar_free(a, blocks[3], 256), AR_OK);
  /* Fill the second chunk, then the next request must come from the list. */
  size_t chunks_before;
  for (;;) {
    assert_int_equal(ar_arena_stats(a, &st), AR_OK);
    chunks_before = st.chunks;
    struct ar_arena_hot_ *h = (struct ar_arena_hot_ *)(void *)a;
    if ((size_t)(a->limit - h->cur_) < 256) break;
    assert_non_null(ar_alloc(a, 256));
  }
  char *r = ar_alloc(a, 256);
  assert_ptr_equal(r, blocks[3]);
  assert_int_equal(ar_arena_stats(a, &st), AR_OK);
  assert_int_equal(st.chunks, chunks_before);
  assert_int_equal(st.recycled, 0);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_large_release(void **state) {
  (void)state;
  if (AR_HEAP) { /* asserts the chunk layout, which the heap flavor does not have */
    skip();
    return;
  }
  ar_arena_t *a = mk_arena(4096, 0, 0);
  char *big = ar_alloc(a, 100000);
  char *small = ar_alloc(a, 16);
  assert_non_null(big);
  assert_non_null(small);
  ar_stats_t st0, st1;
  assert_int_equal(ar_arena_stats(a, &st0), AR_OK);
  assert_int_equal(st0.large_chunks, 1);
  assert_int_equal(ar_free(a, big, 100000), AR_OK);
  assert_int_equal(ar_arena_stats(a, &st1), AR_OK);
  CHECK_ARENA(a);
  if (reuses(a)) {
    assert_int_equal(st1.large_chunks, 0);
    assert_true(st1.capacity < st0.capacity);
    assert_true(st1.used < st0.used);
    assert_true(st1.peak >= st0.used); /* the peak was taken before the drop */
  } else {
    assert_int_equal(st1.large_chunks, 1); /* quarantined */
  }
  ar_arena_destroy(a);
}

static void test_realloc_in_place(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  assert_non_null(ar_realloc(a, NULL, 0, 10)); /* NULL p: plain allocation */
  char *p = ar_alloc(a, 32);
  memset(p, 7, 32);
  char *q = ar_realloc(a, p, 32, 64);
  assert_non_null(q);
  if (reuses(a)) assert_ptr_equal(q, p); /* the top block grows in place */
  for (int i = 0; i < 32; i++) assert_int_equal(q[i], 7);
  CHECK_ARENA(a);
  /* Shrinking keeps the pointer in every mode. */
  char *s = ar_realloc(a, q, 64, 8);
  assert_ptr_equal(s, q);
  for (int i = 0; i < 8; i++) assert_int_equal(s[i], 7);
  CHECK_ARENA(a);
  if (reuses(a)) {
    size_t u = used_of(a);
    /* s is the top: shrinking it moved the cursor, growing again extends in place. */
    char *g = ar_realloc(a, s, 8, 48);
    assert_ptr_equal(g, s);
    assert_int_equal(used_of(a), u + 32);
    /* A shrink of a non-top block keeps its tail with it until rewind/reset (arena.h,
     * ar_realloc): nothing is listed. */
    char *t = ar_alloc(a, 512);
    assert_non_null(ar_alloc(a, 16));
    size_t r0 = recycled_of(a);
    assert_ptr_equal(ar_realloc(a, t, 512, 100), t);
    assert_int_equal(recycled_of(a), r0);
  }
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_realloc_failure(void **state) {
  (void)state;
  /* Two chunks at most: a request that needs a third one fails with AR_ELIMIT. */
  ar_arena_t *a = mk_arena(4096, 8192, 0);
  char *p = ar_alloc(a, 300);
  assert_non_null(p);
  memset(p, 0x33, 300);
  assert_non_null(ar_alloc(a, 16));
  assert_null(ar_realloc(a, p, 300, 1 << 20));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  for (int i = 0; i < 300; i++) assert_int_equal((unsigned char)p[i], 0x33);
  CHECK_ARENA(a);
  assert_null(ar_realloc(a, p, 300, SIZE_MAX));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  assert_null(ar_realloc(a, p, 300, AR_MAX_ALLOC_SIZE + 1));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  for (int i = 0; i < 300; i++) assert_int_equal((unsigned char)p[i], 0x33);
  CHECK_ARENA(a);
  /* The old block is still usable and can be freed normally. */
  assert_int_equal(ar_free(a, p, 300), AR_OK);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_rewind_forgets(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_mark_t m = ar_mark(a);
  char *p = ar_alloc(a, 200);
  assert_non_null(ar_alloc(a, 16));
  assert_int_equal(ar_free(a, p, 200), AR_OK);
  assert_int_equal(recycled_of(a), reuses(a) ? 208 : 0);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(recycled_of(a), 0);
  CHECK_ARENA(a);
  /* After the rewind the old block is below the cursor's reach again, not on a list. */
  char *q = ar_alloc(a, 200);
  if (!AR_HEAP) assert_ptr_equal(q, p); /* the heap flavor mallocs each block afresh */
  assert_int_equal(ar_free(a, q, 200), AR_OK);
  ar_reset(a);
  assert_int_equal(recycled_of(a), 0);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* Checked mode (without ASan) junk-fills freed blocks and never reuses them. */
static void test_checked_quarantine(void **state) {
  (void)state;
#if AR_ASAN
  skip();
#else
  ar_arena_t *a = mk_arena(0, 0, AR_ARENA_CHECKED);
  char *p = ar_alloc(a, 40);
  memset(p, 1, 40);
  assert_non_null(ar_alloc(a, 16));
  assert_int_equal(ar_free(a, p, 40), AR_OK);
  for (int i = 0; i < 40; i++) assert_int_equal((unsigned char)p[i], 0xDD);
  assert_int_equal(recycled_of(a), 0);
  char *q = ar_realloc(a, ar_alloc(a, 8), 8, 40);
  assert_ptr_not_equal(q, p);
  CHECK_ARENA(a); /* guards intact: free wrote only the block itself */
  ar_arena_destroy(a);
#endif
}

/* Random allocate / free / realloc with shadow copies; invariants after every step. */
static void test_random_sequence(void **state) {
  (void)state;
  enum { SLOTS = 64, STEPS = 4000 };
  ar_arena_t *a = mk_arena(4096, 0, 0);
  char *ptr[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  unsigned char tag[SLOTS] = {0};
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (int step = 0; step < STEPS; step++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t i = (size_t)(x % SLOTS);
    size_t n = (size_t)((x >> 8) % 3000);
    if ((x >> 40) % 8 == 0) n = (size_t)((x >> 8) % 40000); /* some large blocks */
    int op = (int)((x >> 32) % 3);
    if (ptr[i] == NULL || op == 0) {
      if (ptr[i] != NULL) assert_int_equal(ar_free(a, ptr[i], len[i]), AR_OK);
      ptr[i] = ar_alloc(a, n);
      assert_non_null(ptr[i]);
      len[i] = n;
      tag[i] = (unsigned char)step;
      memset(ptr[i], tag[i], n);
    } else if (op == 1) {
      char *q = ar_realloc(a, ptr[i], len[i], n);
      assert_non_null(q);
      size_t keep = len[i] < n ? len[i] : n;
      for (size_t k = 0; k < keep; k++) assert_int_equal((unsigned char)q[k], tag[i]);
      memset(q, tag[i], n);
      ptr[i] = q;
      len[i] = n;
    } else {
      assert_int_equal(ar_free(a, ptr[i], len[i]), AR_OK);
      ptr[i] = NULL;
    }
    CHECK_ARENA(a);
    /* Every live block still holds its own tag: nothing overlaps. */
    if (step % 64 == 0) {
      for (size_t s = 0; s < SLOTS; s++)
        for (size_t k = 0; ptr[s] != NULL && k < len[s]; k++)
          assert_int_equal((unsigned char)ptr[s][k], tag[s]);
    }
  }
  ar_arena_destroy(a);
}

static size_t capacity_of(ar_arena_t *a) { return stats_of(a).capacity; }

/* A big block of OS pages grows by resizing its chunk: contents kept, stats exact, and the
 * block is still the one allocation of its chunk (ar_free takes it, interior pointers not). */
static void test_realloc_grows_dedicated_chunk(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0); /* ar_source_os() */
  assert_non_null(a);
  size_t n = (size_t)1 << 20;
  char *p = ar_alloc(a, n);
  assert_non_null(p);
  for (size_t i = 0; i < n; i += 4096) p[i] = (char)(i >> 12);
  p[n - 1] = 0x5A;
  char *small = ar_alloc(a, 100); /* an ordinary allocation after it, untouched by the growth */
  assert_non_null(small);
  memset(small, 0x33, 100);
  for (int k = 0; k < 4; k++) {
    size_t m = n * 2;
    char *q = ar_realloc(a, p, n, m);
    assert_non_null(q);
    for (size_t i = 0; i < n; i += 4096) assert_int_equal(q[i], (char)(i >> 12));
    assert_int_equal(q[n - 1], 0x5A);
    q[n - 1] = 0x11;
    for (size_t i = n; i < m; i += 4096) q[i] = (char)(i >> 12);
    q[m - 1] = 0x5A;
    p = q;
    n = m;
    CHECK_ARENA(a);
    ar_stats_t st;
    assert_int_equal(ar_arena_stats(a, &st), AR_OK);
    if (reuses(a)) assert_int_equal(st.large_chunks, 1); /* slow-only modes copy and quarantine */
    assert_true(st.capacity >= n);
    assert_true(st.used >= n);
    assert_true(ar_owns(a, p + n - 1));
  }
  for (size_t i = 0; i < 100; i++) assert_int_equal((unsigned char)small[i], 0x33);
  if (reuses(a)) assert_int_equal(ar_free(a, p + 4096, 16), AR_EINVAL);
  assert_int_equal(ar_free(a, p, n), AR_OK);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* Under a limit, a growth that would exceed it fails like any allocation: AR_ELIMIT, the old
 * block intact and still valid, the arena unchanged. */
static void test_realloc_grow_respects_limit(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, (size_t)4 << 20, 0);
  assert_non_null(a);
  size_t n = (size_t)1 << 20;
  char *p = ar_alloc(a, n);
  assert_non_null(p);
  memset(p, 0x44, n);
  size_t cap = capacity_of(a);
  assert_null(ar_realloc(a, p, n, (size_t)4 << 20));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_int_equal(capacity_of(a), cap);
  for (size_t i = 0; i < n; i += 512) assert_int_equal((unsigned char)p[i], 0x44);
  char *q = ar_realloc(a, p, n, 2 * n); /* within the limit: works */
  assert_non_null(q);
  assert_int_equal((unsigned char)q[n - 1], 0x44);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* A kept dedicated chunk reused for a smaller request has slack: growing into it needs no
 * source at all (AR_RETAIN_AUTO keeps the chunk across the reset). */
static void test_realloc_grows_into_kept_slack(void **state) {
  (void)state;
  ar_options_t o;
  ar_options_init(&o);
  o.source = ar_source_malloc(); /* cannot resize: only the slack can serve */
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  size_t big = (size_t)300 << 10;
  char *p = ar_alloc(a, big);
  assert_non_null(p);
  ar_reset(a);
  size_t cap = capacity_of(a);
  char *q = ar_alloc(a, big * 2 / 3);
  assert_non_null(q);
  memset(q, 0x66, big * 2 / 3);
  char *r = ar_realloc(a, q, big * 2 / 3, big);
  assert_non_null(r);
  if (reuses(a)) {
    assert_ptr_equal(q, p);
    assert_ptr_equal(r, q);
    assert_int_equal(capacity_of(a), cap);
  }
  assert_int_equal((unsigned char)r[big * 2 / 3 - 1], 0x66);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* ---- giving blocks back ---------------------------------------------------------------- */

static void test_free_and_realloc(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
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
  assert_true(intact(s2, 50, 0x2B));
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
    assert_true(intact(g2, 40, 0x61));
    assert_int_equal(stats_of(a).used, used0 + 400);
    assert_int_equal(ar_arena_check(a), AR_OK);
  }
  ar_arena_destroy(a);
}

/* arena.h, ar_realloc: "Shrinking keeps p", and "a block grown in place or by mremap keeps its
 * age, so a rewind to a mark taken between its allocation and the realloc does not free it".
 * A dedicated block shrunk after a mark, then grown back into its own chunk, is still the
 * allocation made before the mark: the rewind keeps it, its bytes and its chunk. (The serial
 * model once re-aged it at each realloc and forgot it at the rewind: seed 12373, step 641.) */
static void test_realloc_in_place_keeps_age(void **state) {
  (void)state;
  if (AR_HEAP) { /* asserts dedicated chunks, which the heap flavor does not have */
    skip();
    return;
  }
  ar_arena_t *a = mk_arena(4096, 0, 0);
  unsigned char *p = (unsigned char *)ar_alloc(a, 94324); /* a dedicated chunk */
  assert_non_null(p);
  memset(p, 0x5A, 94324);
  ar_mark_t m = ar_mark(a);
  assert_ptr_equal(ar_realloc(a, p, 94324, 31441), p); /* shrinking keeps p, in every build */
  ar_stats_t st0 = stats_of(a);
  assert_int_equal(ar_rewind(a, &m), AR_OK); /* only the shrink since the mark: nothing freed */
  assert_true(ar_owns(a, p) && ar_owns(a, p + 31440));
  assert_true(intact(p, 31441, 0x5A));
  assert_int_equal(stats_of(a).large_chunks, st0.large_chunks);
  assert_int_equal(stats_of(a).capacity, st0.capacity);
  unsigned char *g = (unsigned char *)ar_realloc(a, p, 31441, 31457);
  assert_non_null(g);
  memset(g + 31441, 0x5A, 16);
  st0 = stats_of(a);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  ar_stats_t st1 = stats_of(a);
  if (addr(g) == addr(p)) { /* grown in place, into the chunk it already had */
    assert_true(reuses(a));
    assert_true(ar_owns(a, g) && ar_owns(a, g + 31456));
    assert_true(intact(g, 31457, 0x5A));
    assert_int_equal(st1.used, st0.used);
    assert_int_equal(st1.capacity, st0.capacity);
    assert_int_equal(st1.large_chunks, 1);
  } else { /* copied (slow-only arenas always copy): a new block, which the rewind frees */
    assert_false(reuses(a));
    assert_false(ar_owns(a, g));
  }
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_free_args),
      cmocka_unit_test(test_unbump),
      cmocka_unit_test(test_class_reuse_and_split),
      cmocka_unit_test(test_slow_path_takes_recycled),
      cmocka_unit_test(test_large_release),
      cmocka_unit_test(test_realloc_in_place),
      cmocka_unit_test(test_realloc_failure),
      cmocka_unit_test(test_realloc_in_place_keeps_age),
      cmocka_unit_test(test_rewind_forgets),
      cmocka_unit_test(test_checked_quarantine),
      cmocka_unit_test(test_random_sequence),
      cmocka_unit_test(test_realloc_grows_dedicated_chunk),
      cmocka_unit_test(test_realloc_grow_respects_limit),
      cmocka_unit_test(test_realloc_grows_into_kept_slack),
      chunk_layout_test(test_free_and_realloc),
      chunk_layout_test(test_realloc_shrink_and_top),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
