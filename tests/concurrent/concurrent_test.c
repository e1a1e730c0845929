/*
 * tests/concurrent/concurrent_test.c - a ConcurrentArena holds what was asked of it, plus a
 * fixed slack per thread, whatever else the thread allocates from.
 *
 * The contract (arenart/concurrent.h): bytes carved (stats `used`) are at most the bytes
 * requested, rounded up to 16, plus one span (16 KiB with the default 64 KiB chunk) per thread
 * that allocated from the arena; capacity adds per chunk its header and the tail that a span
 * could not use. Every test allocates 16-byte blocks, which fill spans exactly, so these
 * bounds are exact and need no tolerance. They hold in every build: in the heap flavor
 * used == requested and capacity == used.
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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/test_sources.h"

#if defined(AR_HEAP) && AR_HEAP
#define HEAP 1
#else
#define HEAP 0
#endif

enum {
  CHUNK = 64 * 1024, /* AR_DEFAULT_CHUNK_SIZE */
  SPAN = 16 * 1024,  /* a quarter of the chunk */
  CHUNK_LOSS = 256,  /* header (128) and at most one 64-byte tail no span could use, rounded up */
  BLOCK = 16,
};

static ar_concurrent_t *make(size_t limit) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.limit_bytes = limit;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  return ca;
}

/* used <= requested + one span per thread; capacity <= the chunks that needs. */
static void check_bound(ar_concurrent_t *ca, size_t requested, size_t threads, const char *what) {
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  size_t used_max = requested + threads * SPAN;
  size_t cap_max = (used_max / (CHUNK - CHUNK_LOSS) + 1) * CHUNK;
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
      if (p == NULL)
        print_error("arena %d, round %d: %s\n", i, r, ar_strerror(ar_last_error()));
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
#if !defined(AR_HEAP) || !AR_HEAP
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
#if !defined(AR_HEAP) || !AR_HEAP
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
    if (!HEAP) {
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
    if (HEAP) {
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

/* A failing source after a reset: the kept chunks still serve, then AR_ENOMEM with the arena
 * unchanged; once the source recovers, allocation goes on. */
static void test_kept_then_failing_source(void **state) {
  (void)state;
  if (HEAP) return; /* the heap flavor never calls the source */
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
  if (HEAP) return;
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
    if (round >= 2 && !HEAP) {
      assert_int_equal(atomic_load(&mt_acquires), acquires);
      ar_stats_t st = stats_of(ca);
      assert_int_equal(st.capacity, KEPT * SMALL_CHUNK);
      assert_int_equal(st.chunks + st.spare_chunks, KEPT);
    }
  }
  ar_concurrent_destroy(ca);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pairs),          cmocka_unit_test(test_round_robin_2),
      cmocka_unit_test(test_round_robin_17), cmocka_unit_test(test_round_robin_64),
      cmocka_unit_test(test_limit_not_hit),  cmocka_unit_test(test_threads_2),
      cmocka_unit_test(test_threads_17),     cmocka_unit_test(test_threads_64),
      cmocka_unit_test(test_sequential_threads), cmocka_unit_test(test_more_threads_than_indices),
      cmocka_unit_test(test_reset_keeps_retain_bytes), cmocka_unit_test(test_reset_keeps_nothing),
      cmocka_unit_test(test_kept_then_failing_source), cmocka_unit_test(test_kept_under_limit),
      cmocka_unit_test(test_threads_share_kept),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
