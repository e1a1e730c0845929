/* SPDX-License-Identifier: MIT */
/*
 * tests/concurrent/span_test.c - how long a ConcurrentArena's spans and chunks are
 * (arenart/concurrent.h, "Span lengths", and ar_concurrent_create): a thread's spans grow from
 * a quarter of chunk_size by half what its earlier spans took, up to 256 KiB and a quarter of
 * the chunk they come from, and start again at each reset; chunks grow from chunk_size to
 * AR_GROWN_CHUNK_MAX with the ordinary chunks installed, only where nothing fixes their size,
 * and fall back to chunk_size when the source cannot give more; a reset keeps whole chunks of
 * mixed sizes, passing over one that does not fit.
 *
 * One thread allocates 16-byte blocks and reads the stats after each: `used` moves only when
 * a span is carved (by the span's length) and `capacity` only when a chunk is added (by its
 * size), so the two series of jumps are the spans and the chunks, in order. The heap flavor
 * has neither: every test is skipped there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/test_util.h"

enum {
  KIB = 1024,
  CHUNK = 64 * KIB,       /* AR_DEFAULT_CHUNK_SIZE */
  SPAN = 16 * KIB,        /* a quarter of it: a thread's first span */
  SPAN_MAX = 256 * KIB,   /* however long the chunk */
  GROWN_MAX = 4096 * KIB, /* AR_GROWN_CHUNK_MAX */
  BLOCK = 16,
  MAX_JUMPS = 4096,
};

typedef struct trace {
  size_t span[MAX_JUMPS], nspan;
  size_t chunk[MAX_JUMPS], nchunk;
} trace_t;

static trace_t tr; /* large: static */

static ar_stats_t stats_of(ar_concurrent_t *ca) {
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  return st;
}

/* Allocates `bytes` in 16-byte blocks and records the spans and chunks that took. */
static void run(ar_concurrent_t *ca, size_t bytes) {
  memset(&tr, 0, sizeof tr);
  ar_stats_t st = stats_of(ca);
  size_t used = st.used, cap = st.capacity;
  for (size_t done = 0; done < bytes; done += BLOCK) {
    char *p = (char *)ar_concurrent_alloc(ca, BLOCK);
    assert_non_null(p);
    p[0] = p[BLOCK - 1] = 1;
    st = stats_of(ca);
    if (st.used != used) {
      assert_true(tr.nspan < MAX_JUMPS);
      tr.span[tr.nspan++] = st.used - used;
      used = st.used;
    }
    if (st.capacity != cap) {
      assert_true(st.capacity > cap && tr.nchunk < MAX_JUMPS);
      tr.chunk[tr.nchunk++] = st.capacity - cap;
      cap = st.capacity;
    }
  }
}

/* Every span: at most the first length plus half the spans before it (rounded down to 64), at
 * most SPAN_MAX (when the first length is below it) and a quarter of the largest chunk so far;
 * returns the longest. */
static size_t check_spans(size_t first, size_t quarter_cap) {
  assert_true(tr.nspan > 0);
  assert_int_equal(tr.span[0], first);
  size_t before = 0, longest = 0;
  for (size_t k = 0; k < tr.nspan; k++) {
    size_t s = tr.span[k], cap = first + (before / 2 / 64 * 64);
    if (cap > SPAN_MAX) cap = SPAN_MAX > first ? SPAN_MAX : first;
    if (cap > quarter_cap && quarter_cap >= first) cap = quarter_cap;
    if (s > cap) print_error("span %zu: %zu bytes, %zu before it, cap %zu\n", k, s, before, cap);
    assert_true(s <= cap);
    assert_int_equal(s % 64, 0);
    before += s;
    if (s > longest) longest = s;
  }
  return longest;
}

/* The documented size of a grown chunk: the largest CHUNK << k at most the ordinary chunks
 * installed (CHUNK when that is less), at most GROWN_MAX. */
static size_t grown_size(size_t held) {
  size_t s = CHUNK;
  while (s * 2 <= held && s * 2 <= GROWN_MAX) s *= 2;
  return s;
}

/* Defaults: chunks grow 64 KiB, 64 KiB, 128 KiB, ... to 4 MiB and stay there; spans grow from
 * 16 KiB to 256 KiB, so 8 MiB take a few dozen refills instead of 512. A dedicated chunk held
 * first does not make the ordinary ones grow. */
static void test_default_arena_grows(void **state) {
  (void)state;
  if (TEST_HEAP) skip();
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  assert_non_null(ca);
  assert_non_null(ar_concurrent_alloc(ca, (size_t)4 << 20)); /* dedicated: not counted */
  assert_int_equal(stats_of(ca).large_chunks, 1);
  run(ca, (size_t)8 << 20);
  size_t held = 0;
  for (size_t k = 0; k < tr.nchunk; k++) {
    if (tr.chunk[k] != grown_size(held))
      print_error("chunk %zu: %zu bytes after %zu held, expected %zu\n", k, tr.chunk[k], held,
                  grown_size(held));
    assert_int_equal(tr.chunk[k], grown_size(held));
    held += tr.chunk[k];
  }
  assert_int_equal(tr.chunk[tr.nchunk - 1], GROWN_MAX);
  assert_int_equal(check_spans(SPAN, GROWN_MAX / 4), SPAN_MAX);
  assert_true(tr.nspan < 80);
  /* A reset starts the spans at the first length again. */
  ar_concurrent_reset(ca);
  run(ca, 64 * KIB);
  assert_int_equal(tr.span[0], SPAN);
  ar_concurrent_destroy(ca);
}

struct big_arg {
  ar_concurrent_t *ca;
  size_t n;
  char *p;
};

static void *alloc_big(void *arg) {
  struct big_arg *a = (struct big_arg *)arg;
  a->p = (char *)ar_concurrent_alloc(a->ca, a->n);
  if (a->p != NULL) memset(a->p, 1, a->n);
  return NULL;
}

/* Big blocks (arenart/concurrent.h): over a quarter of chunk_size, a block is carved from the
 * current chunk when chunks grow and it is at most a quarter of that chunk, and takes a
 * dedicated chunk otherwise: with no current chunk, over a quarter of it, or where chunks do
 * not grow. No refill either way. */
static void test_big_blocks_follow_the_chunk(void **state) {
  (void)state;
  if (TEST_HEAP) skip();
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  assert_non_null(ca);
  assert_non_null(ar_concurrent_alloc(ca, 100 * KIB)); /* no current chunk yet */
  assert_int_equal(stats_of(ca).large_chunks, 1);
  assert_int_equal(stats_of(ca).chunks, 0); /* and none installed for it */
  run(ca, (size_t)8 << 20);                 /* the current chunk is now 4 MiB */
  assert_int_equal(tr.chunk[tr.nchunk - 1], GROWN_MAX);
  /* From another thread, which has no span here that could hold it. */
  ar_stats_t before = stats_of(ca);
  pthread_t th;
  struct big_arg arg = {ca, 100 * KIB, NULL};
  assert_int_equal(pthread_create(&th, NULL, alloc_big, &arg), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_non_null(arg.p);
  ar_stats_t after = stats_of(ca);
  assert_int_equal(after.large_chunks, 1);                      /* carved, */
  assert_int_equal(after.capacity, before.capacity);            /* from the chunk there was */
  assert_int_equal(after.used, before.used + 100 * KIB);        /* exactly (a multiple of 64) */
  assert_non_null(ar_concurrent_alloc(ca, GROWN_MAX / 4 + 64)); /* over a quarter of it */
  assert_int_equal(stats_of(ca).large_chunks, 2);
  ar_concurrent_destroy(ca);

  ar_options_t o;
  ar_options_init(&o);
  o.flags = AR_ARENA_FIXED_CHUNKS;
  ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  run(ca, (size_t)1 << 20);
  assert_non_null(ar_concurrent_alloc(ca, 20 * KIB)); /* chunks stay 64 KiB: dedicated */
  assert_int_equal(stats_of(ca).large_chunks, 1);
  ar_concurrent_destroy(ca);
}

/* Anything that fixes the chunk size keeps every chunk at chunk_size: the flag, a limit, a
 * source, another chunk_size. Spans still grow, within a quarter of the chunk: not at all with
 * 64 KiB chunks, up to 256 KiB with 4 MiB ones. */
static void check_fixed(ar_options_t *o, size_t chunk) {
  ar_concurrent_t *ca = ar_concurrent_create(o);
  assert_non_null(ca);
  run(ca, (size_t)4 << 20);
  for (size_t k = 0; k < tr.nchunk; k++) assert_int_equal(tr.chunk[k], chunk);
  size_t first = chunk / 4 < SPAN ? chunk / 4 : SPAN;
  size_t longest = check_spans(first, chunk / 4);
  assert_int_equal(longest, chunk / 4 < SPAN_MAX ? chunk / 4 : SPAN_MAX);
  ar_concurrent_destroy(ca);
}

static void test_fixed_chunks_do_not_grow(void **state) {
  (void)state;
  if (TEST_HEAP) skip();
  ar_options_t o = AR_OPTIONS_INIT;
  o.flags = AR_ARENA_FIXED_CHUNKS;
  check_fixed(&o, CHUNK);
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.limit_bytes = (size_t)64 << 20;
  check_fixed(&o, CHUNK);
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.source = ar_source_os();
  check_fixed(&o, CHUNK);
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.chunk_size = GROWN_MAX;
  check_fixed(&o, GROWN_MAX);
}

/* A reset keeps whole chunks, the newest first, passing over one that would not fit: after
 * 6 MiB (chunks ..., 512 KiB, 1 MiB, 2 MiB, then a 4 MiB one), 6 MiB keeps the 4 MiB and the
 * 2 MiB chunks, and the default (1 MiB) passes over both and keeps the 1 MiB one; the next
 * round reuses them. */
static void check_keeps(size_t retain, size_t kept, size_t spares) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.retain_bytes = retain;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  run(ca, (size_t)6 << 20);
  ar_concurrent_reset(ca);
  ar_stats_t st = stats_of(ca);
  assert_int_equal(st.capacity, kept);
  assert_int_equal(st.spare_chunks, spares);
  run(ca, kept / 2); /* from the kept chunks: no chunk added */
  assert_int_equal(tr.nchunk, 0);
  assert_int_equal(stats_of(ca).capacity, kept);
  ar_concurrent_destroy(ca);
}

static void test_reset_keeps_mixed_sizes(void **state) {
  (void)state;
  if (TEST_HEAP) skip();
  check_keeps(GROWN_MAX + GROWN_MAX / 2, GROWN_MAX + GROWN_MAX / 2, 2);
  check_keeps(AR_RETAIN_AUTO, AR_CONCURRENT_AUTO_RETAIN, 1);
}

/* A source whose blocks start one byte past malloc's 16-byte alignment: the worst alignment a
 * source may hand out. */
static void *odd_acquire(void *ctx, size_t n) {
  (void)ctx;
  char *p = (char *)malloc(n + 1);
  return p != NULL ? p + 1 : NULL;
}
static void odd_release(void *ctx, void *p, size_t n) {
  (void)ctx, (void)n;
  free((char *)p - 1);
}

/* Requests of 16, 32 or 64 bytes never leave a tail, whatever the source's alignment: each
 * time `used` moves (a new span or piece), the blocks handed out so far filled every byte
 * carved before. */
static void check_no_tail(const ar_source_t *src, size_t chunk, size_t size) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = src;
  o.chunk_size = chunk;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  size_t handed = 0, used = 0;
  for (int i = 0; i < 20000; i++) {
    char *p = (char *)ar_concurrent_alloc(ca, size);
    assert_non_null(p);
    p[0] = p[size - 1] = 1;
    ar_stats_t st = stats_of(ca);
    if (st.used != used) {
      if (handed != used)
        print_error("chunk %zu, %zu-byte requests: %zu handed out, %zu carved before\n", chunk,
                    size, handed, used);
      assert_int_equal(handed, used);
      used = st.used;
    }
    handed += size;
  }
  ar_concurrent_destroy(ca);
}

static void test_no_tail_whatever_the_source(void **state) {
  (void)state;
  if (TEST_HEAP) skip();
  static const ar_source_t odd = {odd_acquire, odd_release, NULL, "odd"};
  static const size_t chunks[] = {1024, 4160, CHUNK}, sizes[] = {16, 32, 64};
  for (size_t c = 0; c < 3; c++)
    for (size_t k = 0; k < 3; k++) {
      check_no_tail(&odd, chunks[c], sizes[k]);
      check_no_tail(ar_source_malloc(), chunks[c], sizes[k]);
    }
  check_no_tail(NULL, CHUNK, 16);
}

/* Threads that race to refill size their chunks by the chunks installed, not by a capacity
 * that holds the racers' reservations: sixteen threads' first allocations on a fresh arena
 * need 256 KiB of spans and get chunks within twice that plus one chunk_size chunk (a 1 MiB
 * chunk for them was the bug). */
enum { RACERS = 16 };
typedef struct racer {
  ar_concurrent_t *ca;
  pthread_barrier_t *go, *done;
} racer_t;

static void *racer(void *arg) {
  racer_t *r = (racer_t *)arg;
  pthread_barrier_wait(r->go);
  char *p = (char *)ar_concurrent_alloc(r->ca, 64);
  if (p != NULL) p[0] = 1;
  pthread_barrier_wait(r->done); /* every span stays its thread's until all are counted */
  return p;
}

static void test_racing_refills_stay_small(void **state) {
  (void)state;
  if (TEST_HEAP) skip();
  for (int trial = 0; trial < 40; trial++) {
    ar_concurrent_t *ca = ar_concurrent_create(NULL);
    assert_non_null(ca);
    pthread_barrier_t go, done;
    assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
    assert_int_equal(pthread_barrier_init(&done, NULL, RACERS + 1), 0);
    pthread_t t[RACERS];
    racer_t r = {ca, &go, &done};
    for (int i = 0; i < RACERS; i++) assert_int_equal(pthread_create(&t[i], NULL, racer, &r), 0);
    pthread_barrier_wait(&done);
    ar_stats_t st = stats_of(ca);
    size_t bound = 2 * (st.used + st.chunks * 256) + CHUNK;
    if (st.capacity > bound)
      print_error("trial %d: used %zu, %zu chunks, capacity %zu > %zu\n", trial, (size_t)st.used,
                  (size_t)st.chunks, (size_t)st.capacity, bound);
    assert_true(st.capacity <= bound);
    for (int i = 0; i < RACERS; i++) {
      void *p;
      assert_int_equal(pthread_join(t[i], &p), 0);
      assert_non_null(p);
    }
    pthread_barrier_destroy(&go);
    pthread_barrier_destroy(&done);
    ar_concurrent_destroy(ca);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_arena_grows),
      cmocka_unit_test(test_big_blocks_follow_the_chunk),
      cmocka_unit_test(test_fixed_chunks_do_not_grow),
      cmocka_unit_test(test_reset_keeps_mixed_sizes),
      cmocka_unit_test(test_racing_refills_stay_small),
      cmocka_unit_test(test_no_tail_whatever_the_source),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
