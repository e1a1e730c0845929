/* SPDX-License-Identifier: MIT */
/*
 * stress/churn_stress.c - scenario 2: thread churn and arenas handed between threads.
 *
 * Waves of short-lived threads use their per-thread arena (scopes and plain allocations,
 * every object pattern-checked) and exit mid-stream, so thread-arena destructors return chunks
 * to the shared chunk pool while other threads take chunks from it. At the same time a
 * producer/consumer pipeline hands request arenas from thread to thread: the producer takes an
 * arena from an ar_arena_pool_t, builds a "request" in it and queues it; a consumer adopts the
 * arena, verifies the request and gives the arena back. At the end the number of live arenas
 * and of chunks in use must be back where they started: nothing leaked across threads.
 */
#include <arenart.h>

#include "stress/stress.h"

#define WAVE 6
#define QCAP 16

typedef struct req {
  ar_arena_t *arena;
  char *body;
  size_t n;
  uint64_t tag;
} req_t;

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static req_t queue[QCAP];
static int qhead, qlen;
static bool producing = true;
static ar_arena_pool_t *pool;

static void *short_lived(void *arg) {
  uint64_t rng = (uint64_t)(uintptr_t)arg * 0x2545F4914F6CDD1Dull + 1;
  ar_arena_t *a = ar_thread_arena();
  CHECK(a != NULL, "thread arena");
  for (int r = 0; r < 20; r++) {
    ar_scope_t s = ar_scope_begin();
    CHECK(s.arena == a, "scope on another arena");
    char *ptrs[64];
    size_t sizes[64];
    for (int i = 0; i < 64; i++) {
      sizes[i] = 1 + stress_rand(&rng) % 3000;
      ptrs[i] = (char *)ar_alloc(s.arena, sizes[i]);
      CHECK(ptrs[i] != NULL, "alloc");
      stress_fill(ptrs[i], sizes[i], (uint64_t)i + 1000 * (uint64_t)r);
    }
    for (int i = 0; i < 64; i++)
      CHECK(stress_verify(ptrs[i], sizes[i], (uint64_t)i + 1000 * (uint64_t)r), "corrupt");
    CHECK(ar_scope_end(&s) == AR_OK, "scope end");
  }
  /* leave something allocated: the destructor must free it */
  CHECK(ar_alloc(a, 5000) != NULL, "alloc before exit");
  return NULL;
}

static void *producer(void *arg) {
  (void)arg;
  uint64_t rng = 42;
  for (long i = 0; i < stress_iters(3000) && stress_time_left(); i++) {
    ar_arena_t *a = ar_arena_pool_take(pool);
    CHECK(a != NULL, "take: %s", ar_strerror(ar_last_error()));
    size_t n = 16 + stress_rand(&rng) % (i % 50 == 0 ? 200000 : 2000); /* rare huge ones */
    char *body = (char *)ar_alloc(a, n);
    CHECK(body != NULL, "alloc body");
    stress_fill(body, n, (uint64_t)i);
    pthread_mutex_lock(&qlock);
    while (qlen == QCAP) pthread_cond_wait(&qcond, &qlock);
    queue[(qhead + qlen) % QCAP] = (req_t){a, body, n, (uint64_t)i};
    qlen++;
    pthread_cond_broadcast(&qcond);
    pthread_mutex_unlock(&qlock);
  }
  pthread_mutex_lock(&qlock);
  producing = false;
  pthread_cond_broadcast(&qcond);
  pthread_mutex_unlock(&qlock);
  return NULL;
}

static void *consumer(void *arg) {
  long *handled = (long *)arg;
  for (;;) {
    pthread_mutex_lock(&qlock);
    while (qlen == 0 && producing) pthread_cond_wait(&qcond, &qlock);
    if (qlen == 0) {
      pthread_mutex_unlock(&qlock);
      return NULL;
    }
    req_t r = queue[qhead];
    qhead = (qhead + 1) % QCAP;
    qlen--;
    pthread_cond_broadcast(&qcond);
    pthread_mutex_unlock(&qlock);
    ar_arena_adopt(r.arena);
    CHECK(stress_verify(r.body, r.n, r.tag), "request %llu corrupted in hand-off",
          (unsigned long long)r.tag);
    CHECK(ar_owns(r.arena, r.body), "body not in its arena");
    CHECK(ar_arena_pool_give(pool, r.arena) == AR_OK, "give");
    (*handled)++;
  }
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 2.0);
  ar_global_stats_t before, after;
  ar_stats_global(&before);
  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.max_idle = 4;
  pool = ar_arena_pool_create(&po);
  CHECK(pool != NULL, "pool");

  pthread_t prod, cons;
  long handled = 0;
  pthread_create(&prod, NULL, producer, NULL);
  pthread_create(&cons, NULL, consumer, &handled);
  long threads = 0;
  do {
    pthread_t th[WAVE];
    for (int i = 0; i < WAVE; i++)
      pthread_create(&th[i], NULL, short_lived, (void *)(intptr_t)(threads + i));
    for (int i = 0; i < WAVE; i++) pthread_join(th[i], NULL);
    threads += WAVE;
  } while (threads < stress_iters(60) && stress_time_left());
  pthread_join(prod, NULL);
  pthread_join(cons, NULL);

  ar_arena_pool_stats_t ps;
  ar_arena_pool_stats(pool, &ps);
  CHECK(ps.taken == 0, "%zu arenas still taken", ps.taken);
  CHECK(ps.idle <= 4, "idle %zu above max_idle", ps.idle);
  CHECK(ps.created <= 1 + (uint64_t)QCAP + 2 + ps.reclaimed, "pool created %llu arenas",
        (unsigned long long)ps.created);
  ar_arena_pool_destroy(pool);
  ar_stats_global(&after);
  CHECK(after.arenas_live == before.arenas_live, "live arenas %llu -> %llu",
        (unsigned long long)before.arenas_live, (unsigned long long)after.arenas_live);
  CHECK(after.chunks_in_use == before.chunks_in_use, "chunks in use %llu -> %llu",
        (unsigned long long)before.chunks_in_use, (unsigned long long)after.chunks_in_use);
  CHECK(after.registered == before.registered, "registry %llu -> %llu",
        (unsigned long long)before.registered, (unsigned long long)after.registered);
  printf("churn: %ld short-lived threads, %ld requests handed off, pool created %llu reused "
         "%llu reclaimed %llu; live arenas and chunks back to baseline\n",
         threads, handled, (unsigned long long)ps.created, (unsigned long long)ps.reused,
         (unsigned long long)ps.reclaimed);
  return 0;
}
