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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pairs),          cmocka_unit_test(test_round_robin_2),
      cmocka_unit_test(test_round_robin_17), cmocka_unit_test(test_round_robin_64),
      cmocka_unit_test(test_limit_not_hit),  cmocka_unit_test(test_threads_2),
      cmocka_unit_test(test_threads_17),     cmocka_unit_test(test_threads_64),
      cmocka_unit_test(test_sequential_threads), cmocka_unit_test(test_more_threads_than_indices),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
