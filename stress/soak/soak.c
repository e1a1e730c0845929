/* SPDX-License-Identifier: MIT */
/*
 * stress/soak/soak.c - the soak: every kind of arena at once, for minutes, with resident
 * memory bounded.
 *
 *   soak_stress [--minutes=N | --seconds=N] [--threads=N] [--long]
 *
 * Quick mode (the default, what CI runs) lasts 3 seconds. --minutes/--seconds set the length;
 * --long or AR_STRESS_LONG=1 (the stress suite's long mode, `--config=long`) makes it
 * AR_STRESS_SECONDS seconds, 600 by default.
 *
 * Each worker thread repeats, until the time is up: a request on its thread arena (nested
 * scopes, allocations filled with a pattern and verified before the scope ends), a request on
 * an arena taken from a shared arena pool (a vector, a byte buffer and a map built in it and
 * checked, then the arena given back), and allocations from one shared ConcurrentArena, each
 * filled with the thread's pattern and verified later. The run is cut into phases by a barrier;
 * between phases, with every worker parked (the quiescence reset needs), one thread resets the
 * ConcurrentArena, checks nothing was corrupted and samples the resident set.
 *
 * Memory bound: the largest RSS seen during warm-up (the first quarter of the run, at least
 * two phases) is the baseline; every later sample must stay under baseline + max(32 MiB,
 * baseline / 2). Arenas that keep growing (a leak, chunks never returned to a pool, a registry
 * that never shrinks) fail the run with the samples printed. Corruption aborts at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arenart.h"
#include "stress/stress.h"

#define MAX_THREADS 16
#define PHASE_SECONDS 0.25
#define MAX_SAMPLES 100000
#define CA_SLOTS 256

static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f != NULL) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return (size_t)res * 4096;
}

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static unsigned char pat(uint64_t tag, size_t i) { return (unsigned char)(tag * 29 + i * 13); }

static void fill(void *p, size_t n, uint64_t tag) {
  unsigned char *b = (unsigned char *)p;
  for (size_t i = 0; i < n; i++) b[i] = pat(tag, i);
}

static bool intact(const void *p, size_t n, uint64_t tag) {
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != pat(tag, i)) return false;
  return true;
}

/* ---- shared state ------------------------------------------------------------------------ */

static ar_arena_pool_t *pool;
static ar_concurrent_t *shared;
static pthread_barrier_t phase_barrier;
static atomic_bool stop_flag;
static double deadline;

typedef struct worker {
  int id;
  uint64_t seed;
  long requests;
  /* this phase's ConcurrentArena allocations, verified at the phase end */
  void *ca_p[CA_SLOTS];
  size_t ca_n[CA_SLOTS];
  uint64_t ca_tag[CA_SLOTS];
  int nca;
} worker_t;

/* ---- one request of each kind ---------------------------------------------------------------- */

static void scope_request(worker_t *w) {
  ar_scope_t outer = ar_scope_begin();
  CHECK(outer.arena != NULL, "no thread arena");
  void *p[32];
  size_t n[32];
  int count = 1 + (int)(rnd(&w->seed) % 32);
  uint64_t tag = rnd(&w->seed);
  for (int i = 0; i < count; i++) {
    n[i] = 16 + rnd(&w->seed) % (i % 8 == 7 ? 40000 : 2000);
    p[i] = ar_alloc(outer.arena, n[i]);
    CHECK(p[i] != NULL, "scope allocation: %s", ar_strerror(ar_last_error()));
    fill(p[i], n[i], tag + (uint64_t)i);
  }
  if (rnd(&w->seed) % 2) {
    ar_scope_t inner = ar_scope_begin();
    for (int i = 0; i < 20; i++) {
      char *s = ar_sprintf(inner.arena, "inner-%d-%d", w->id, i);
      CHECK(s != NULL, "inner scope allocation");
    }
    CHECK(ar_scope_end(&inner) == AR_OK, "inner scope end");
  }
  for (int i = 0; i < count; i++)
    CHECK(intact(p[i], n[i], tag + (uint64_t)i), "scope allocation %d corrupted", i);
  CHECK(ar_scope_end(&outer) == AR_OK, "scope end");
}

static void pool_request(worker_t *w) {
  ar_arena_t *a = ar_arena_pool_take(pool);
  CHECK(a != NULL, "pool take: %s", ar_strerror(ar_last_error()));
  ar_vec_t v;
  ar_buf_t b;
  ar_map_t m;
  ar_map_options_t mo;
  ar_map_options_init(&mo);
  mo.key_kind = AR_MAP_KEY_U64;
  mo.value_size = sizeof(uint64_t);
  CHECK(ar_vec_init(&v, a, sizeof(uint64_t)) == AR_OK, "vec init");
  CHECK(ar_buf_init(&b, a) == AR_OK, "buf init");
  CHECK(ar_map_init(&m, a, &mo) == AR_OK, "map init");
  uint64_t n = 50 + rnd(&w->seed) % (rnd(&w->seed) % 16 == 0 ? 20000 : 500);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t x = i * 7919;
    CHECK(ar_vec_push(&v, &x) == AR_OK, "vec push");
    CHECK(ar_buf_appendf(&b, "%llu,", (unsigned long long)(i % 10)) == AR_OK, "buf append");
    CHECK(ar_map_put_u64(&m, i, &x) == AR_OK, "map put");
  }
  CHECK(ar_vec_len(&v) == n && ar_map_len(&m) == n && ar_buf_len(&b) == 2 * n, "lengths");
  for (uint64_t i = 0; i < n; i += 1 + n / 64) {
    const uint64_t *x = (const uint64_t *)ar_map_get_u64(&m, i);
    CHECK(x != NULL && *x == i * 7919, "map value %llu", (unsigned long long)i);
    CHECK(((uint64_t *)ar_vec_data(&v))[i] == i * 7919, "vec value");
    CHECK(ar_buf_data(&b)[2 * i] == (char)('0' + i % 10), "buf byte");
  }
  CHECK(ar_arena_pool_give(pool, a) == AR_OK, "pool give");
}

static void concurrent_request(worker_t *w) {
  if (w->nca == CA_SLOTS) return;
  size_t n = 8 + rnd(&w->seed) % (rnd(&w->seed) % 32 == 0 ? 100000 : 700);
  void *p = ar_concurrent_alloc(shared, n);
  CHECK(p != NULL, "concurrent allocation: %s", ar_strerror(ar_last_error()));
  uint64_t tag = ((uint64_t)w->id << 32) | (uint64_t)w->nca;
  fill(p, n, tag);
  w->ca_p[w->nca] = p;
  w->ca_n[w->nca] = n;
  w->ca_tag[w->nca] = tag;
  w->nca++;
}

/* ---- phases ------------------------------------------------------------------------------------- */

static size_t samples[MAX_SAMPLES];
static double sample_at[MAX_SAMPLES];
static size_t nsamples;

static void *worker_main(void *arg) {
  worker_t *w = (worker_t *)arg;
  for (;;) {
    double phase_end = stress_now() + PHASE_SECONDS;
    do {
      scope_request(w);
      pool_request(w);
      for (int i = 0; i < 4; i++) concurrent_request(w);
      w->requests++;
    } while (stress_now() < phase_end);
    /* Every allocation of this phase is still intact: nobody else wrote into it. */
    for (int i = 0; i < w->nca; i++)
      CHECK(intact(w->ca_p[i], w->ca_n[i], w->ca_tag[i]), "ConcurrentArena block corrupted");
    w->nca = 0;
    int serial = pthread_barrier_wait(&phase_barrier);
    if (serial == PTHREAD_BARRIER_SERIAL_THREAD) {
      /* Everyone is parked at the second barrier below: the arena is quiescent. */
      ar_concurrent_reset(shared);
      ar_arena_pool_trim(pool, false);
      if (nsamples < MAX_SAMPLES) {
        sample_at[nsamples] = stress_now();
        samples[nsamples++] = rss_bytes();
      }
      if (stress_now() >= deadline) atomic_store(&stop_flag, true);
    }
    pthread_barrier_wait(&phase_barrier);
    if (atomic_load(&stop_flag)) break;
  }
  return NULL;
}

int main(int argc, char **argv) {
  double seconds = 3.0;
  int threads = 4;
  const char *e = getenv("AR_STRESS_LONG");
  bool long_mode = e != NULL && *e != '\0' && *e != '0';
  bool explicit_length = false;
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--minutes=", 10) == 0) {
      seconds = atof(argv[i] + 10) * 60.0;
      explicit_length = true;
    } else if (strncmp(argv[i], "--seconds=", 10) == 0) {
      seconds = atof(argv[i] + 10);
      explicit_length = true;
    } else if (strncmp(argv[i], "--threads=", 10) == 0) {
      threads = atoi(argv[i] + 10);
    } else if (strcmp(argv[i], "--long") == 0) {
      long_mode = true;
    } else {
      fprintf(stderr, "usage: %s [--minutes=N | --seconds=N] [--threads=N] [--long]\n", argv[0]);
      return 2;
    }
  }
  if (long_mode && !explicit_length) {
    e = getenv("AR_STRESS_SECONDS");
    seconds = e ? atof(e) : 600.0;
  }
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  printf("soak: %d threads for %.0f s (%s)\n", threads, seconds,
         long_mode || explicit_length ? "long" : "quick");
  fflush(stdout);

  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.idle_ns = 500000000ull; /* idle arenas go after half a second, so the pool turns over */
  po.max_idle = 8;
  pool = ar_arena_pool_create(&po);
  ar_options_t co = AR_OPTIONS_INIT;
  co.name = "soak-shared";
  shared = ar_concurrent_create(&co);
  CHECK(pool != NULL && shared != NULL, "setup");
  CHECK(pthread_barrier_init(&phase_barrier, NULL, (unsigned)threads) == 0, "barrier");

  double start = stress_now();
  deadline = start + seconds;
  static worker_t workers[MAX_THREADS];
  pthread_t tids[MAX_THREADS];
  for (int i = 0; i < threads; i++) {
    workers[i].id = i;
    workers[i].seed = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
    CHECK(pthread_create(&tids[i], NULL, worker_main, &workers[i]) == 0, "thread");
  }
  long requests = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tids[i], NULL);
    requests += workers[i].requests;
  }
  pthread_barrier_destroy(&phase_barrier);

  /* Warm-up: the first quarter of the run, and at least two phases. */
  size_t baseline = 0, peak_after = 0, first_after = 0;
  double warm_end = start + seconds / 4;
  size_t i = 0;
  for (; i < nsamples && (i < 2 || sample_at[i] < warm_end); i++)
    if (samples[i] > baseline) baseline = samples[i];
  first_after = i;
  for (; i < nsamples; i++)
    if (samples[i] > peak_after) peak_after = samples[i];
  size_t bound = baseline + (baseline / 2 > ((size_t)32 << 20) ? baseline / 2 : (size_t)32 << 20);
  printf("soak: %ld requests, %zu phases; RSS baseline %.1f MiB, highest after warm-up %.1f MiB, "
         "bound %.1f MiB\n",
         requests, nsamples, baseline / 1048576.0, peak_after / 1048576.0, bound / 1048576.0);
  if (nsamples > first_after && peak_after > bound) {
    fprintf(stderr, "soak: resident memory grew past the bound; samples (MiB):");
    for (size_t k = 0; k < nsamples; k++) fprintf(stderr, " %.1f", samples[k] / 1048576.0);
    fputc('\n', stderr);
    return 1;
  }
  ar_arena_pool_destroy(pool);
  ar_concurrent_destroy(shared);
  printf("soak: PASS\n");
  return 0;
}
