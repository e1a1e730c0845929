/* SPDX-License-Identifier: MIT */
/*
 * tests/concurrent/giveback_test.c - threads that give kept chunks back at the same time.
 *
 * Under limit_bytes, a dedicated request gives waiting kept chunks back one by one until it
 * fits (arenart/concurrent.h, ar_concurrent_create), from any number of threads at once
 * (the synchronization table). Kept chunks of 4 KiB come from OS pages, so a chunk given back
 * is unmapped at once: a thread that still read its header (the kept chain once was walked
 * through them) faults, ASan reports it, TSan sees the race with the unmapping free. Every
 * thread must instead end with AR_ELIMIT, the arena under its limit with nothing left kept.
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

enum { CHUNK = 4096, KEPT = 1024, THREADS = 8, ROUNDS = 10, BIG = 8000 };

typedef struct job {
  ar_concurrent_t *ca;
  pthread_barrier_t *go;
  size_t got;
  ar_error_t err;
} job_t;

static void *taker(void *arg) {
  job_t *j = (job_t *)arg;
  pthread_barrier_wait(j->go);
  for (;;) {
    char *p = (char *)ar_concurrent_alloc(j->ca, BIG); /* a dedicated chunk each */
    if (p == NULL) break;
    p[0] = p[BIG - 1] = 1;
    j->got++;
  }
  j->err = ar_last_error();
  return NULL;
}

static void test_threads_give_back_at_once(void **state) {
  (void)state;
  if (TEST_HEAP) skip(); /* the heap flavor keeps nothing */
  for (int round = 0; round < ROUNDS; round++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.chunk_size = CHUNK; /* not the default size: OS pages, unmapped when given back */
    o.limit_bytes = (size_t)KEPT * CHUNK;
    o.retain_bytes = (size_t)KEPT * CHUNK;
    ar_concurrent_t *ca = ar_concurrent_create(&o);
    assert_non_null(ca);
    while (ar_concurrent_alloc(ca, 512) != NULL) {
    }
    assert_int_equal(ar_last_error(), AR_ELIMIT);
    ar_concurrent_reset(ca);
    ar_stats_t st;
    assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
    assert_int_equal(st.spare_chunks, KEPT);
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, THREADS), 0);
    pthread_t t[THREADS];
    job_t jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
      jobs[i] = (job_t){ca, &go, 0, AR_OK};
      assert_int_equal(pthread_create(&t[i], NULL, taker, &jobs[i]), 0);
    }
    size_t got = 0;
    for (int i = 0; i < THREADS; i++) {
      assert_int_equal(pthread_join(t[i], NULL), 0);
      assert_int_equal(jobs[i].err, AR_ELIMIT);
      got += jobs[i].got;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
    assert_int_equal(st.spare_chunks, 0); /* every kept chunk gave way */
    assert_true(st.capacity <= o.limit_bytes);
    assert_int_equal(st.large_chunks, got);
    assert_true(got >= 1);
    ar_concurrent_destroy(ca);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_give_back_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
