/* SPDX-License-Identifier: MIT */
/*
 * stress/scope_stress.c - scenario 5: per-request scopes in a simulated thread pool.
 *
 * A dispatcher queues requests; a fixed pool of workers takes them and serves each in a
 * scope on the worker's own arena: it builds a linked structure of mixed-size nodes, opens a
 * nested scope for scratch work (with a cleanup callback that must run exactly once when the
 * inner scope ends), checks everything, and ends the scope. After each request the worker's
 * arena must be back to exactly the bytes it had before the request, and cleanups must have
 * run once per request. Memory stays bounded: resident size at the end may not exceed a
 * fixed margin over resident size after warm-up.
 */
#include <sched.h>

#include <arenart.h>

#include "stress/stress.h"

#define WORKERS 3
#define QCAP 64

typedef struct node {
  struct node *next;
  size_t n;
  uint64_t tag;
  char payload[];
} node_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static uint64_t queue[QCAP];
static int qhead, qlen;
static bool done;
static _Atomic(long) cleanups_run, served;

static void on_cleanup(void *arg) {
  *(int *)arg += 1;
  atomic_fetch_add(&cleanups_run, 1);
}

static void serve(uint64_t req) {
  uint64_t rng = req * 0x9E3779B97F4A7C15ull + 7;
  ar_scope_t s = ar_scope_begin();
  CHECK(s.arena != NULL, "scope");
  ar_stats_t before;
  ar_arena_stats(s.arena, &before);
  node_t *head = NULL;
  int count = 20 + (int)(stress_rand(&rng) % 200);
  for (int i = 0; i < count; i++) {
    size_t n = 16 + stress_rand(&rng) % 256;
    if (i == 0 && req % 97 == 0) n = 300000; /* an occasional big request */
    node_t *nd = (node_t *)ar_alloc(s.arena, sizeof(node_t) + n);
    CHECK(nd != NULL, "alloc");
    nd->n = n;
    nd->tag = req * 1000 + (uint64_t)i;
    stress_fill(nd->payload, n, nd->tag);
    nd->next = head;
    head = nd;
  }
  /* nested scratch scope with a cleanup */
  int *ran = AR_NEW(s.arena, int);
  CHECK(ran != NULL, "AR_NEW");
  ar_scope_t inner = ar_scope_begin();
  CHECK(ar_defer(inner.arena, on_cleanup, ran) == AR_OK, "defer");
  char *scratch = ar_sprintf(inner.arena, "request %llu scratch", (unsigned long long)req);
  CHECK(scratch != NULL, "sprintf");
  CHECK(ar_scope_end(&inner) == AR_OK, "inner end");
  CHECK(*ran == 1, "cleanup ran %d times", *ran);
  for (node_t *nd = head; nd != NULL; nd = nd->next)
    CHECK(stress_verify(nd->payload, nd->n, nd->tag), "node corrupted");
  CHECK(ar_scope_end(&s) == AR_OK, "scope end");
  ar_stats_t after;
  ar_arena_stats(s.arena, &after);
  CHECK(after.used == before.used, "used %zu after request, %zu before", after.used, before.used);
  atomic_fetch_add(&served, 1);
}

static void *worker(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (qlen == 0 && !done) pthread_cond_wait(&cond, &lock);
    if (qlen == 0) {
      pthread_mutex_unlock(&lock);
      return NULL;
    }
    uint64_t req = queue[qhead];
    qhead = (qhead + 1) % QCAP;
    qlen--;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    serve(req);
  }
}

static void dispatch(uint64_t first, uint64_t count) {
  for (uint64_t r = first; r < first + count; r++) {
    pthread_mutex_lock(&lock);
    while (qlen == QCAP) pthread_cond_wait(&cond, &lock);
    queue[(qhead + qlen) % QCAP] = r;
    qlen++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
  }
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 2.0);
  pthread_t th[WORKERS];
  for (int i = 0; i < WORKERS; i++) pthread_create(&th[i], NULL, worker, NULL);
  dispatch(0, 500); /* warm-up */
  while (atomic_load(&served) < 500) sched_yield();
  size_t rss_warm = stress_rss();
  uint64_t next = 500;
  do {
    dispatch(next, 500);
    next += 500;
  } while ((long)next < stress_iters(4000) && stress_time_left());
  pthread_mutex_lock(&lock);
  done = true;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < WORKERS; i++) pthread_join(th[i], NULL);
  size_t rss_end = stress_rss();
  CHECK(atomic_load(&served) == (long)next, "served %ld of %llu", atomic_load(&served),
        (unsigned long long)next);
  CHECK(atomic_load(&cleanups_run) == (long)next, "cleanups %ld", atomic_load(&cleanups_run));
  /* Bounded memory: at most 16 MiB of growth after warm-up, however long it runs. */
  CHECK(rss_end <= rss_warm + ((size_t)16 << 20), "RSS grew from %zu to %zu", rss_warm, rss_end);
  printf("scope: %llu requests on %d workers, cleanups exact, RSS %zu KiB after warm-up, "
         "%zu KiB at end\n",
         (unsigned long long)next, WORKERS, rss_warm >> 10, rss_end >> 10);
  return 0;
}
