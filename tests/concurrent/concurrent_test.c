/* SPDX-License-Identifier: MIT */
/*
 * tests/concurrent/concurrent_test.c - a ConcurrentArena holds what was asked of it, plus a
 * fixed slack per thread, whatever else the thread allocates from.
 *
 * The contract (arenart/concurrent.h): bytes carved (stats `used`) are at most the bytes requested,
 * rounded up to 16, plus one span tail per thread that allocated from the arena: at most the first
 * span (16 KiB with the default 64 KiB chunk) plus half the bytes of the thread's earlier spans,
 * and at most 256 KiB; capacity adds per chunk its header and the tail that a span could not use,
 * and, as chunks grow, a newest chunk as large as the ordinary ones before it together (at most
 * 1 MiB). Every test allocates 16-byte blocks, which fill spans exactly, so these bounds are exact
 * and need no tolerance. They hold in every build: in the heap flavor used == requested and
 * capacity == used.
 *
 * A design in which arenas share a thread's span cache fails them: a thread that switches
 * between arenas whose cache entries collide gives up a span at every switch. Seventeen
 * arenas always contain such a pair in a 16-entry cache (pigeonhole), so the pair test and the
 * round-robin tests do not depend on which arenas happen to collide.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/test_sources.h"
#include "tests/test_util.h"

enum {
  CHUNK = 64 * 1024,           /* AR_DEFAULT_CHUNK_SIZE */
  SPAN = 16 * 1024,            /* a quarter of the chunk: a thread's first span */
  SPAN_MAX = 256 * 1024,       /* the longest span, however long the chunk */
  GROWN_MAX = 4 * 1024 * 1024, /* AR_GROWN_CHUNK_MAX: the largest grown chunk */
  CHUNK_LOSS = 256, /* header (128) and at most one 64-byte tail no span could use, rounded up */
  BLOCK = 16,
};

static ar_concurrent_t *make(size_t limit) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.limit_bytes = limit;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  return ca;
}

/* used <= requested + one span tail per thread (each at most SPAN plus half of what the
 * thread's earlier spans hold, which is at most what it requested, and at most SPAN_MAX);
 * capacity <= the chunks that needs (each spent but for its loss) plus the newest chunk: at
 * most as large as the chunks before it together, or CHUNK, and at most GROWN_MAX. */
static void check_bound(ar_concurrent_t *ca, size_t requested, size_t threads, const char *what) {
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  size_t extra = threads * (SPAN_MAX - SPAN);
  size_t used_max = requested + threads * SPAN + (requested / 2 < extra ? requested / 2 : extra);
  size_t spent = used_max + st.chunks * CHUNK_LOSS;
  size_t newest = spent < CHUNK ? CHUNK : spent;
  if (newest > GROWN_MAX) newest = GROWN_MAX;
  size_t cap_max = spent + newest;
  if (st.used < requested || st.used > used_max || st.capacity > cap_max)
    print_error("%s: requested %zu, %zu thread(s): used %zu (max %zu), capacity %zu (max %zu)\n",
                what, requested, threads, st.used, used_max, st.capacity, cap_max);
  assert_true(st.used >= requested);
  assert_true(st.used <= used_max);
  assert_true(st.capacity <= cap_max);
}

static void *alloc_ok(ar_concurrent_t *ca) {
  char *p = (char *)ar_concurrent_alloc(ca, BLOCK);
  assert_non_null(p);
  p[0] = p[BLOCK - 1] = 1;
  return p;
}

/* One thread, every pair of 17 arenas in turn, 300 switches each; no reset in between (a
 * reset may change what collides with what). Each arena ends up asked for 16 * 300 blocks. */
static void test_pairs(void **state) {
  (void)state;
  enum { N = 17, SWITCHES = 300 };
  ar_concurrent_t *a[N];
  for (int i = 0; i < N; i++) a[i] = make(0);
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      for (int k = 0; k < SWITCHES; k++) {
        void *p = alloc_ok(a[i]);
        void *q = alloc_ok(a[j]);
        if (k % 64 == 0) assert_true(ar_concurrent_owns(a[i], p) && ar_concurrent_owns(a[j], q));
      }
  for (int i = 0; i < N; i++) {
    check_bound(a[i], (size_t)(N - 1) * SWITCHES * BLOCK, 1, "pairs");
    ar_concurrent_destroy(a[i]);
  }
}

/* Round-robin over n arenas from the calling thread. */
static void round_robin(ar_concurrent_t **a, int n, int rounds) {
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < n; i++) (void)alloc_ok(a[i]);
}

static void check_round_robin(int n, int rounds) {
  ar_concurrent_t **a = (ar_concurrent_t **)calloc((size_t)n, sizeof *a);
  assert_non_null(a);
  for (int i = 0; i < n; i++) a[i] = make(0);
  round_robin(a, n, rounds);
  for (int i = 0; i < n; i++) {
    check_bound(a[i], (size_t)rounds * BLOCK, 1, "round-robin");
    ar_concurrent_destroy(a[i]);
  }
  free(a);
}

static void test_round_robin_2(void **state) {
  (void)state;
  check_round_robin(2, 5000);
}

static void test_round_robin_17(void **state) {
  (void)state;
  check_round_robin(17, 2000);
}

static void test_round_robin_64(void **state) {
  (void)state;
  check_round_robin(64, 1000);
}

/* The numbers: alternating 16-byte blocks between arenas capped at 1 MiB must not hit
 * the cap long before 1 MiB has been asked for. 17 arenas, so two of them would collide in a
 * 16-entry cache; 40000 rounds ask each for 640 KB. */
static void test_limit_not_hit(void **state) {
  (void)state;
  enum { N = 17, ROUNDS = 40000 };
  ar_concurrent_t *a[N];
  for (int i = 0; i < N; i++) a[i] = make((size_t)1 << 20);
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < N; i++) {
      void *p = ar_concurrent_alloc(a[i], BLOCK);
      if (p == NULL) print_error("arena %d, round %d: %s\n", i, r, ar_strerror(ar_last_error()));
      assert_non_null(p);
    }
  for (int i = 0; i < N; i++) {
    check_bound(a[i], (size_t)ROUNDS * BLOCK, 1, "limit");
    ar_concurrent_destroy(a[i]);
  }
}

/* Several threads, each round-robin over the same arenas at once. */
typedef struct rr_job {
  ar_concurrent_t **a;
  int n, rounds;
} rr_job_t;

static void *rr_thread(void *arg) {
  rr_job_t *j = (rr_job_t *)arg;
  for (int r = 0; r < j->rounds; r++)
    for (int i = 0; i < j->n; i++) {
      char *p = (char *)ar_concurrent_alloc(j->a[i], BLOCK);
      if (p == NULL) return (void *)1;
      p[0] = 1;
    }
  return NULL;
}

static void check_threads(int n, int threads, int rounds) {
  ar_concurrent_t **a = (ar_concurrent_t **)calloc((size_t)n, sizeof *a);
  pthread_t *t = (pthread_t *)calloc((size_t)threads, sizeof *t);
  assert_true(a != NULL && t != NULL);
  for (int i = 0; i < n; i++) a[i] = make(0);
  rr_job_t job = {a, n, rounds};
  for (int i = 0; i < threads; i++)
    assert_int_equal(pthread_create(&t[i], NULL, rr_thread, &job), 0);
  for (int i = 0; i < threads; i++) {
    void *rc;
    assert_int_equal(pthread_join(t[i], &rc), 0);
    assert_null(rc);
  }
  for (int i = 0; i < n; i++) {
    check_bound(a[i], (size_t)threads * (size_t)rounds * BLOCK, (size_t)threads, "threads");
    ar_concurrent_destroy(a[i]);
  }
  free(a);
  free(t);
}

static void test_threads_2(void **state) {
  (void)state;
  check_threads(2, 4, 3000);
}

static void test_threads_17(void **state) {
  (void)state;
  check_threads(17, 4, 600);
}

static void test_threads_64(void **state) {
  (void)state;
  check_threads(64, 4, 200);
}

/* Threads that come and go one after another: an exited thread's index, and the span it left
 * in each arena, go to the next thread, so 3000 short-lived threads hold no more than one. Each
 * thread's second block follows its first (it bumps in a span, which in the chunk flavor
 * a thread that found no free index would not have: it gets exact 64-byte pieces). */
typedef struct seq_job {
  ar_concurrent_t *a, *b;
  bool contiguous;
} seq_job_t;

static void *seq_thread(void *arg) {
  seq_job_t *j = (seq_job_t *)arg;
  char *p = (char *)ar_concurrent_alloc(j->a, BLOCK);
  char *q = (char *)ar_concurrent_alloc(j->a, BLOCK);
  char *r = (char *)ar_concurrent_alloc(j->b, BLOCK);
  j->contiguous = p != NULL && q == p + BLOCK && r != NULL;
  return NULL;
}

static void test_sequential_threads(void **state) {
  (void)state;
  enum { THREADS = 3000 };
  seq_job_t job = {make(0), make(0), false};
  int contiguous = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, seq_thread, &job), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    contiguous += job.contiguous;
  }
#if !TEST_HEAP
  assert_int_equal(contiguous, THREADS);
#endif
  /* The main thread has not allocated: only indices of exited threads were ever in use, and a
   * joined thread's index is free before the next one starts. Allow two in case a thread's
   * destructor had not run when join returned. */
  check_bound(job.a, (size_t)THREADS * 2 * BLOCK, 2, "sequential threads, a");
  check_bound(job.b, (size_t)THREADS * BLOCK, 2, "sequential threads, b");
  ar_concurrent_destroy(job.a);
  ar_concurrent_destroy(job.b);
}

/* More threads alive at once than there are thread indices: the ones without an index get no
 * span; each of their allocations is an exact 64-byte piece (so their two blocks are not
 * adjacent), and the arena still holds only what was asked plus one span per indexed thread. */
enum { CROWD = AR_CTHREADS_ + 76 };
typedef struct crowd {
  ar_concurrent_t *ca;
  pthread_barrier_t hold;
  char *first[CROWD], *second[CROWD];
} crowd_t;
static crowd_t crowd;

static void *crowd_thread(void *arg) {
  int i = (int)(intptr_t)arg;
  crowd.first[i] = (char *)ar_concurrent_alloc(crowd.ca, BLOCK);
  crowd.second[i] = (char *)ar_concurrent_alloc(crowd.ca, BLOCK);
  pthread_barrier_wait(&crowd.hold); /* nobody exits, so nobody gives an index back */
  return NULL;
}

static void test_more_threads_than_indices(void **state) {
  (void)state;
  crowd.ca = make(0);
  assert_int_equal(pthread_barrier_init(&crowd.hold, NULL, CROWD), 0);
  pthread_attr_t attr;
  assert_int_equal(pthread_attr_init(&attr), 0);
  assert_int_equal(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
  static pthread_t t[CROWD];
  for (int i = 0; i < CROWD; i++)
    assert_int_equal(pthread_create(&t[i], &attr, crowd_thread, (void *)(intptr_t)i), 0);
  for (int i = 0; i < CROWD; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
  pthread_attr_destroy(&attr);
  pthread_barrier_destroy(&crowd.hold);
  size_t adjacent = 0;
  for (int i = 0; i < CROWD; i++) {
    assert_non_null(crowd.first[i]);
    assert_non_null(crowd.second[i]);
    assert_true(ar_concurrent_owns(crowd.ca, crowd.first[i]));
    assert_true(ar_concurrent_owns(crowd.ca, crowd.second[i]));
    adjacent += crowd.second[i] == crowd.first[i] + BLOCK;
  }
#if !TEST_HEAP
  /* At most AR_CTHREADS_ - 1 indices exist, and this thread may hold one. */
  assert_true(adjacent <= AR_CTHREADS_ - 1);
  size_t pieces = CROWD - adjacent;
  assert_true(pieces >= CROWD - (AR_CTHREADS_ - 1));
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(crowd.ca, &st), AR_OK);
  if (st.used > adjacent * SPAN + pieces * 2 * 64)
    print_error("used %zu: %zu threads with a span, %zu without\n", st.used, adjacent, pieces);
  assert_true(st.used <= adjacent * SPAN + pieces * 2 * 64);
#endif
  ar_concurrent_destroy(crowd.ca);
}

/* ---- retain_bytes: what reset keeps ------------------------------------------------------ */

enum { SMALL_CHUNK = 4096, KEEP = 5 };

static test_source_t tsrc; /* one thread at a time: the source is not thread-safe */

static ar_concurrent_t *make_kept(size_t retain, size_t limit) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = SMALL_CHUNK;
  o.retain_bytes = retain;
  o.limit_bytes = limit;
  o.source = test_source_init(&tsrc);
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  return ca;
}

static ar_stats_t stats_of(ar_concurrent_t *ca) {
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  return st;
}

/* Allocates 16-byte blocks until the arena holds `chunks` ordinary chunks; returns one. */
static char *fill_chunks(ar_concurrent_t *ca, size_t chunks) {
  char *p = NULL;
  while (stats_of(ca).chunks < chunks) p = (char *)alloc_ok(ca);
  return p;
}

/* Reset keeps exactly the whole chunks retain_bytes allows, reuses them with no source call,
 * gives every other chunk back (dedicated ones always), and destroy returns them all. */
static void test_reset_keeps_retain_bytes(void **state) {
  (void)state;
  ar_concurrent_t *ca = make_kept(KEEP * SMALL_CHUNK + SMALL_CHUNK / 2, 0); /* 5.5 chunks */
  for (int round = 0; round < 3; round++) {
    (void)fill_chunks(ca, 2 * KEEP);
    assert_non_null(ar_concurrent_alloc(ca, 3000)); /* dedicated: over a quarter chunk */
    ar_stats_t st = stats_of(ca);
    if (!TEST_HEAP) {
      assert_int_equal(st.large_chunks, 1);
      assert_int_equal(st.spare_chunks, 0); /* every kept chunk was used first */
      assert_int_equal(st.capacity, tsrc.live_bytes);
    }
    size_t releases = tsrc.releases;
    ar_concurrent_reset(ca);
    st = stats_of(ca);
    assert_int_equal(st.used, 0);
    assert_int_equal(st.chunks, 0);
    assert_int_equal(st.large_chunks, 0);
    if (TEST_HEAP) {
      assert_int_equal(st.capacity, 0);
      assert_int_equal(tsrc.attempts, 0); /* the heap flavor never calls the source */
      continue;
    }
    assert_int_equal(st.spare_chunks, KEEP);
    assert_int_equal(st.capacity, KEEP * SMALL_CHUNK);
    assert_int_equal(tsrc.live_bytes, KEEP * SMALL_CHUNK);
    assert_int_equal(tsrc.releases - releases, KEEP + 1); /* 10 - 5 ordinary, 1 dedicated */
    /* The next round's first KEEP chunks are the kept ones: no source call. */
    size_t attempts = tsrc.attempts;
    char *p = (char *)alloc_ok(ca);
    assert_true(ar_concurrent_owns(ca, p));
    (void)fill_chunks(ca, KEEP);
    assert_int_equal(tsrc.attempts, attempts);
    st = stats_of(ca);
    assert_int_equal(st.capacity, KEEP * SMALL_CHUNK);
    assert_int_equal(st.spare_chunks, 0);
    /* one chunk more comes from the source */
    (void)fill_chunks(ca, KEEP + 1);
    assert_int_equal(tsrc.attempts, attempts + 1);
  }
  ar_concurrent_destroy(ca);
  assert_int_equal(tsrc.live_blocks, 0);
  assert_true(test_source_balanced(&tsrc));
}

/* retain_bytes 0 (and under one chunk): reset gives every chunk back, as before. */
static void test_reset_keeps_nothing(void **state) {
  (void)state;
  size_t retains[] = {0, SMALL_CHUNK - 1};
  for (size_t i = 0; i < sizeof retains / sizeof retains[0]; i++) {
    ar_concurrent_t *ca = make_kept(retains[i], 0);
    (void)fill_chunks(ca, 3);
    ar_concurrent_reset(ca);
    assert_int_equal(tsrc.live_bytes, 0);
    assert_int_equal(stats_of(ca).capacity, 0);
    assert_int_equal(stats_of(ca).spare_chunks, 0);
    (void)fill_chunks(ca, 1);
    ar_concurrent_destroy(ca);
    assert_true(test_source_balanced(&tsrc));
  }
}

/* The default, AR_RETAIN_AUTO, keeps AR_CONCURRENT_AUTO_RETAIN (not everything), and memory a
 * reset took back is not "owned" while it sits in a kept chunk. */
static void test_reset_auto_keeps_fixed_amount(void **state) {
  (void)state;
  if (TEST_HEAP) skip(); /* the heap flavor keeps nothing */
  ar_concurrent_t *ca = make_kept(AR_RETAIN_AUTO, 0);
  enum { CHUNKS = 2 * (AR_CONCURRENT_AUTO_RETAIN / SMALL_CHUNK) };
  char *p = fill_chunks(ca, CHUNKS);
  assert_true(ar_concurrent_owns(ca, p));
  ar_concurrent_reset(ca);
  ar_stats_t st = stats_of(ca);
  assert_int_equal(st.capacity, AR_CONCURRENT_AUTO_RETAIN);
  assert_int_equal(tsrc.live_bytes, AR_CONCURRENT_AUTO_RETAIN);
  assert_false(ar_concurrent_owns(ca, p));
  ar_concurrent_destroy(ca);
  assert_true(test_source_balanced(&tsrc));
}

/* A failing source after a reset: the kept chunks still serve, then AR_ENOMEM with the arena
 * unchanged; once the source recovers, allocation goes on. */
static void test_kept_then_failing_source(void **state) {
  (void)state;
  if (TEST_HEAP) return; /* the heap flavor never calls the source */
  ar_concurrent_t *ca = make_kept(KEEP * SMALL_CHUNK, 0);
  (void)fill_chunks(ca, KEEP + 2);
  ar_concurrent_reset(ca);
  tsrc.fail_from = tsrc.attempts + 1;
  (void)fill_chunks(ca, KEEP); /* no source call */
  ar_stats_t before = stats_of(ca);
  void *p;
  do {
    p = ar_concurrent_alloc(ca, BLOCK);
  } while (p != NULL);
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  ar_stats_t after = stats_of(ca);
  assert_int_equal(after.capacity, before.capacity);
  assert_int_equal(after.chunks, KEEP);
  assert_null(ar_concurrent_alloc(ca, 3000)); /* a dedicated chunk fails the same way */
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  tsrc.fail_from = 0;
  assert_non_null(ar_concurrent_alloc(ca, BLOCK));
  ar_concurrent_reset(ca);
  assert_int_equal(stats_of(ca).spare_chunks, KEEP);
  ar_concurrent_destroy(ca);
  assert_true(test_source_balanced(&tsrc));
}

/* The limit counts kept chunks (they are held), and they give way to a dedicated request that
 * would otherwise not fit, one at a time; a request no give-back can fit leaves them. */
static void test_kept_under_limit(void **state) {
  (void)state;
  if (TEST_HEAP) return;
  ar_concurrent_t *ca = make_kept(KEEP * SMALL_CHUNK, (KEEP + 1) * SMALL_CHUNK);
  (void)fill_chunks(ca, KEEP + 1);
  ar_concurrent_reset(ca);
  assert_int_equal(stats_of(ca).spare_chunks, KEEP);
  /* over the limit itself: AR_ELIMIT, nothing given back */
  assert_null(ar_concurrent_alloc(ca, (KEEP + 1) * SMALL_CHUNK));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_int_equal(stats_of(ca).spare_chunks, KEEP);
  /* 6000 bytes need a dedicated chunk of 6192 (header and alignment slack): one kept chunk
   * goes back (5 * 4096 + 6192 > 6 * 4096 >= 4 * 4096 + 6192) */
  char *big = (char *)ar_concurrent_alloc(ca, 6000);
  assert_non_null(big);
  memset(big, 1, 6000);
  ar_stats_t st = stats_of(ca);
  assert_int_equal(st.spare_chunks, KEEP - 1);
  assert_true(st.capacity <= (KEEP + 1) * SMALL_CHUNK);
  assert_int_equal(st.capacity, tsrc.live_bytes);
  /* ordinary allocation uses the remaining kept chunks, then hits the limit */
  void *p;
  size_t n = 0;
  while ((p = ar_concurrent_alloc(ca, BLOCK)) != NULL) n++;
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_true(n >= (KEEP - 1) * (SMALL_CHUNK - 256) / BLOCK);
  assert_true(stats_of(ca).capacity <= (KEEP + 1) * SMALL_CHUNK);
  ar_concurrent_reset(ca);
  ar_concurrent_destroy(ca);
  assert_true(test_source_balanced(&tsrc));
}

/* Threads refill from the kept chain at once: each kept chunk is installed once, none is
 * lost, and no source call is made while they last. */
typedef struct kept_job {
  ar_concurrent_t *ca;
  pthread_barrier_t *go;
  int n;
} kept_job_t;

static void *kept_thread(void *arg) {
  kept_job_t *j = (kept_job_t *)arg;
  pthread_barrier_wait(j->go);
  for (int i = 0; i < j->n; i++) {
    char *p = (char *)ar_concurrent_alloc(j->ca, 64);
    if (p == NULL) return (void *)1;
    memset(p, i, 64);
  }
  return NULL;
}

static _Atomic(size_t) mt_acquires;
static void *mt_acquire(void *ctx, size_t n) {
  (void)ctx;
  atomic_fetch_add(&mt_acquires, 1);
  return ar_source_malloc()->acquire(NULL, n);
}
static void mt_release(void *ctx, void *p, size_t n) {
  (void)ctx;
  ar_source_malloc()->release(NULL, p, n);
}

static void test_threads_share_kept(void **state) {
  (void)state;
  enum { T = 4, KEPT = 64 };
  ar_source_t src = {mt_acquire, mt_release, NULL, "mt-counting"};
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = SMALL_CHUNK;
  o.retain_bytes = KEPT * SMALL_CHUNK;
  o.source = &src;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  pthread_barrier_t go;
  /* Each thread asks for a quarter of the kept bytes, less the slack of its spans. */
  kept_job_t job = {ca, &go, (KEPT / T - 3) * (SMALL_CHUNK - 256) / 64};
  for (int round = 0; round < 20; round++) {
    if (round == 1) (void)fill_chunks(ca, KEPT);
    if (round >= 1) ar_concurrent_reset(ca);
    size_t acquires = atomic_load(&mt_acquires);
    assert_int_equal(pthread_barrier_init(&go, NULL, T), 0);
    pthread_t t[T];
    for (int i = 0; i < T; i++) assert_int_equal(pthread_create(&t[i], NULL, kept_thread, &job), 0);
    for (int i = 0; i < T; i++) {
      void *rc;
      assert_int_equal(pthread_join(t[i], &rc), 0);
      assert_null(rc);
    }
    pthread_barrier_destroy(&go);
    if (round >= 2 && !TEST_HEAP) {
      assert_int_equal(atomic_load(&mt_acquires), acquires);
      ar_stats_t st = stats_of(ca);
      assert_int_equal(st.capacity, KEPT * SMALL_CHUNK);
      assert_int_equal(st.chunks + st.spare_chunks, KEPT);
    }
  }
  ar_concurrent_destroy(ca);
}

/* ---- what the header promises: alignment, errors, the limit ----------------------------- */

/* Memory bound with over-aligned requests: each request costs its size rounded up to 16 plus
 * at most its alignment less 16 of padding in the span. 16-byte requests aligned to 64 take
 * 64 bytes each (the bound's padding term; without it, used would be ~4x the bound), and
 * both sizes fill a span exactly, so no span tail is given up: the bound is tight. */
static void check_aligned_bound(size_t align, size_t count) {
  ar_concurrent_t *ca = make(0);
  for (size_t i = 0; i < count; i++) {
    char *p = (char *)ar_concurrent_alloc_aligned(ca, BLOCK, align);
    assert_non_null(p);
    assert_true(((uintptr_t)p & (align - 1)) == 0);
    p[0] = p[BLOCK - 1] = 1;
  }
  ar_stats_t st = stats_of(ca);
  size_t handed = count * (BLOCK + (align - 16));
  /* one span tail, of one thread: its first span plus half what its earlier spans took */
  size_t bound = handed + SPAN + (handed / 2 < SPAN_MAX - SPAN ? handed / 2 : SPAN_MAX - SPAN);
  if (st.used > bound) print_error("align %zu: used %zu, bound %zu\n", align, st.used, bound);
  assert_true(st.used <= bound);
  assert_true(st.used >= count * BLOCK);
  ar_concurrent_destroy(ca);
}

static void test_aligned_bound(void **state) {
  (void)state;
  check_aligned_bound(32, 100000);
  check_aligned_bound(64, 100000);
}

/* Aligned beyond 64: carved from the thread's current span when it fits there, padding
 * included; else a dedicated chunk, and the span stays where it was. */
static void test_overaligned_from_span(void **state) {
  (void)state;
  ar_concurrent_t *ca = make(0);
  char *first = (char *)ar_concurrent_alloc(ca, BLOCK);
  assert_non_null(first);
  size_t used = stats_of(ca).used;
  char *p = (char *)ar_concurrent_alloc_aligned(ca, 39, 128);
  assert_non_null(p);
  assert_true(((uintptr_t)p & 127) == 0);
  memset(p, 1, 39);
  if (!TEST_HEAP) {
    assert_int_equal(stats_of(ca).large_chunks, 0); /* from the span, not a dedicated chunk */
    assert_int_equal(stats_of(ca).used, used);      /* the span was already counted */
    assert_true(p > first && p < first + SPAN);
  }
  /* does not fit in the rest of the span: a dedicated chunk */
  char *big = (char *)ar_concurrent_alloc_aligned(ca, 16200, 128);
  assert_non_null(big);
  assert_true(((uintptr_t)big & 127) == 0);
  memset(big, 2, 16200);
  char *next = (char *)ar_concurrent_alloc(ca, BLOCK);
  assert_non_null(next);
  if (!TEST_HEAP) {
    assert_int_equal(stats_of(ca).large_chunks, 1);
    assert_ptr_equal(next, p + 48); /* the span goes on after the 39 bytes, rounded to 16 */
  }
  ar_concurrent_destroy(ca);
}

/* A source that is slow to hand out a chunk, so that threads racing to refill all reach the
 * limit check while the winner is still inside the source. */
static void *slow_acquire(void *ctx, size_t n) {
  (void)ctx;
  for (int i = 0; i < 50; i++) sched_yield();
  struct timespec ts = {0, 2 * 1000 * 1000};
  nanosleep(&ts, NULL);
  return ar_source_malloc()->acquire(NULL, n);
}
static void slow_release(void *ctx, void *p, size_t n) {
  (void)ctx;
  ar_source_malloc()->release(NULL, p, n);
}

enum { RACERS = 4, MIB = 1 << 20 };
typedef struct race_job {
  ar_concurrent_t *ca;
  pthread_barrier_t *go;
  int until_null; /* 0: one allocation; 1: until one fails */
  int err;        /* first failure's error, or AR_OK */
  size_t n;
} race_job_t;

static void *race_thread(void *arg) {
  race_job_t *j = (race_job_t *)arg;
  pthread_barrier_wait(j->go);
  j->err = AR_OK;
  j->n = 0;
  do {
    char *p = (char *)ar_concurrent_alloc(j->ca, 64);
    if (p == NULL) {
      j->err = (int)ar_last_error();
      break;
    }
    p[0] = p[63] = 1;
    j->n++;
  } while (j->until_null);
  return NULL;
}

static ar_concurrent_t *make_limited_race(void) {
  static ar_source_t src = {slow_acquire, slow_release, NULL, "slow"};
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = MIB;
  o.limit_bytes = MIB;
  o.source = &src;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  return ca;
}

static void run_race(ar_concurrent_t *ca, int until_null, race_job_t *jobs) {
  pthread_barrier_t go;
  assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
  pthread_t t[RACERS];
  for (int i = 0; i < RACERS; i++) {
    jobs[i] = (race_job_t){ca, &go, until_null, AR_OK, 0};
    assert_int_equal(pthread_create(&t[i], NULL, race_thread, &jobs[i]), 0);
  }
  for (int i = 0; i < RACERS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
  pthread_barrier_destroy(&go);
}

/* Threads racing to install the first chunk under a limit of one chunk: the ones whose
 * reservation fails while the winner is in the source wait for its chunk, and never report
 * AR_ELIMIT for 64 bytes. Then, at the real limit, every thread gets AR_ELIMIT (no hang). */
static void test_limit_refill_race(void **state) {
  (void)state;
  for (int round = 0; round < 30; round++) {
    ar_concurrent_t *ca = make_limited_race();
    race_job_t jobs[RACERS];
    run_race(ca, 0, jobs);
    for (int i = 0; i < RACERS; i++) {
      if (jobs[i].err != AR_OK) print_error("round %d: %s\n", round, ar_strerror(jobs[i].err));
      assert_int_equal(jobs[i].err, AR_OK);
    }
    if (!TEST_HEAP) assert_int_equal(stats_of(ca).capacity, MIB);
    if (round % 10 == 0) {
      run_race(ca, 1, jobs);
      size_t n = 0;
      for (int i = 0; i < RACERS; i++) {
        assert_int_equal(jobs[i].err, AR_ELIMIT);
        n += jobs[i].n;
      }
      assert_true(n * 64 >= MIB - 256 - RACERS * SPAN - 64 * 4 * RACERS);
      assert_true(stats_of(ca).capacity <= MIB);
    }
    ar_concurrent_destroy(ca);
  }
}

static int stats_equal(ar_stats_t a, ar_stats_t b) {
  return a.used == b.used && a.capacity == b.capacity && a.chunks == b.chunks &&
         a.large_chunks == b.large_chunks && a.spare_chunks == b.spare_chunks &&
         a.allocs == b.allocs;
}

/* A failed allocation leaves the arena as it was: the tail of the chunk that a failed 9000-byte
 * request could not use still serves 1000 bytes, stats do not move, and allocs counts
 * successful (out-of-line) allocations only. Once through the limit, once through a source
 * that fails after its first chunk. */
static void check_failure_unchanged(bool by_limit) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.limit_bytes = by_limit ? CHUNK : 0;
  o.source = test_source_init(&tsrc);
  if (!by_limit) tsrc.fail_from = 2;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  for (int i = 0; i < 7; i++) assert_non_null(ar_concurrent_alloc(ca, 9000));
  ar_stats_t before = stats_of(ca);
  assert_int_equal(before.allocs, 7);
  if (!(TEST_HEAP && !by_limit)) { /* the heap flavor never calls the source */
    assert_null(ar_concurrent_alloc(ca, 9000));
    assert_int_equal(ar_last_error(), by_limit ? AR_ELIMIT : AR_ENOMEM);
    ar_stats_t after = stats_of(ca);
    if (!stats_equal(before, after))
      print_error("used %zu/%zu capacity %zu/%zu chunks %zu/%zu allocs %llu/%llu\n",
                  (size_t)before.used, (size_t)after.used, (size_t)before.capacity,
                  (size_t)after.capacity, (size_t)before.chunks, (size_t)after.chunks,
                  (unsigned long long)before.allocs, (unsigned long long)after.allocs);
    assert_true(stats_equal(before, after));
  }
  char *p = (char *)ar_concurrent_alloc(ca, 1000); /* 2240 bytes are left in the chunk */
  assert_non_null(p);
  memset(p, 3, 1000);
  assert_int_equal(stats_of(ca).allocs, 8);
  if (!TEST_HEAP) assert_int_equal(stats_of(ca).chunks, 1);
  ar_concurrent_destroy(ca);
  assert_true(test_source_balanced(&tsrc));
}

static void test_failure_leaves_arena(void **state) {
  (void)state;
  check_failure_unchanged(true);
  check_failure_unchanged(false);
}

/* A dedicated request that giving back every kept chunk would not make room for fails with
 * AR_ELIMIT and gives none back; one that would fit but whose source fails gives none back
 * either (the chunk is acquired before they go). */
static void test_failed_dedicated_keeps_kept(void **state) {
  (void)state;
  if (TEST_HEAP) return;
  ar_concurrent_t *ca = make_kept(KEEP * SMALL_CHUNK, (KEEP + 1) * SMALL_CHUNK);
  (void)fill_chunks(ca, KEEP + 1);
  ar_concurrent_reset(ca);
  (void)fill_chunks(ca, 2); /* two kept chunks in use, three wait */
  ar_stats_t before = stats_of(ca);
  assert_int_equal(before.spare_chunks, KEEP - 2);
  /* needs a dedicated chunk of over 4 * 4096 bytes: 2 * 4096 + that > 6 * 4096 */
  assert_null(ar_concurrent_alloc(ca, 4 * SMALL_CHUNK));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_true(stats_equal(before, stats_of(ca)));
  /* one that fits once they are all given back, but whose chunk the source fails to give:
   * AR_ENOMEM, and they are all still kept */
  tsrc.fail_from = tsrc.attempts + 1;
  assert_null(ar_concurrent_alloc(ca, 3 * SMALL_CHUNK));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_true(stats_equal(before, stats_of(ca)));
  tsrc.fail_from = 0;
  /* and with a source that gives it, it gets its chunk */
  assert_non_null(ar_concurrent_alloc(ca, 3 * SMALL_CHUNK));
  assert_true(stats_of(ca).spare_chunks < KEEP - 2);
  ar_concurrent_destroy(ca);
  assert_true(test_source_balanced(&tsrc));
}

/* The documented ranges: chunk_size 0 or 1024 .. 1 GiB; an alignment above AR_MAX_ALLOC_SIZE
 * is AR_EOVERFLOW, a smaller huge one asks for a dedicated chunk (here: over the limit). */
static void test_documented_ranges(void **state) {
  (void)state;
  size_t bad[] = {256, 1023, ((size_t)1 << 30) + 1};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.chunk_size = bad[i];
    ar_clear_error();
    assert_null(ar_concurrent_create(&o));
    assert_int_equal(ar_last_error(), AR_EINVAL);
  }
  size_t good[] = {1024, (size_t)1 << 30};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.chunk_size = good[i];
    ar_concurrent_t *ca = ar_concurrent_create(&o);
    assert_non_null(ca);
    ar_concurrent_destroy(ca);
  }
  ar_concurrent_t *ca = make(MIB);
  assert_null(ar_concurrent_alloc_aligned(ca, 8, (size_t)1 << 63));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  assert_null(ar_concurrent_alloc_aligned(ca, 8, (size_t)1 << 62));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  assert_null(ar_concurrent_alloc_aligned(ca, 8, 3));
  assert_int_equal(ar_last_error(), AR_EALIGN);
  assert_null(ar_concurrent_alloc_aligned(ca, 8, 0));
  assert_int_equal(ar_last_error(), AR_EALIGN);
  if (!TEST_HEAP) { /* the heap flavor asks posix_memalign, which ASan builds abort in, not fail */
    assert_null(ar_concurrent_alloc_aligned(ca, 8, (size_t)1 << 61));
    assert_int_equal(ar_last_error(), AR_ELIMIT);
  }
  ar_concurrent_destroy(ca);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pairs),
      cmocka_unit_test(test_round_robin_2),
      cmocka_unit_test(test_round_robin_17),
      cmocka_unit_test(test_round_robin_64),
      cmocka_unit_test(test_limit_not_hit),
      cmocka_unit_test(test_threads_2),
      cmocka_unit_test(test_threads_17),
      cmocka_unit_test(test_threads_64),
      cmocka_unit_test(test_sequential_threads),
      cmocka_unit_test(test_more_threads_than_indices),
      cmocka_unit_test(test_reset_keeps_retain_bytes),
      cmocka_unit_test(test_reset_keeps_nothing),
      cmocka_unit_test(test_reset_auto_keeps_fixed_amount),
      cmocka_unit_test(test_kept_then_failing_source),
      cmocka_unit_test(test_kept_under_limit),
      cmocka_unit_test(test_threads_share_kept),
      cmocka_unit_test(test_aligned_bound),
      cmocka_unit_test(test_overaligned_from_span),
      cmocka_unit_test(test_limit_refill_race),
      cmocka_unit_test(test_failure_leaves_arena),
      cmocka_unit_test(test_failed_dedicated_keeps_kept),
      cmocka_unit_test(test_documented_ranges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
