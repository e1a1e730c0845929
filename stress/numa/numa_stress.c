/* SPDX-License-Identifier: MIT */
/*
 * stress/numa/numa_stress.c - the per-node chunk pools under races, on a synthetic 4-node
 * topology (memory binding is not exercised: see tests/numa/numa_synthetic_test.c), while the
 * topology is reloaded, the pools are trimmed and the binding mode changes underneath.
 *
 * Workers pretend to run on CPUs that change as they go (migration), and each round:
 *   - takes a chunk from a random node's source (ar_numa_source), checks that it was placed
 *     for that node (chunks go home whoever releases them), writes its token into it and
 *     checks it later (a chunk handed to two threads at once is a clobbered token, and a data
 *     race that ThreadSanitizer reports), and either releases it or
 *     swaps it through a shared exchange slot, so that another thread, likely on another
 *     node, releases it: the ABA pattern (pop A, pop B, push A) on pools shared by all;
 *   - allocates, fills and checks a few blocks in a scope of its thread arena (routed to the
 *     node it runs on now) and in a per-node arena shared with the other workers.
 * One thread reloads between a 2-node and a 4-node map; another trims the pools, reads the
 * counters and toggles the binding mode. At the end everything is given back and //numa
 * must have unmapped every byte it mapped.
 *
 * Flags: --yield=N (per-mille chance of sched_yield at the runtime's CAS points), --long.
 * Environment: AR_STRESS_LONG=1, AR_STRESS_SECONDS (default 60) for the soak mode.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arenart.h>
#include <arenart/numa.h>

#include "numa/numa_testing.h"
#include "stress/stress.h"

#define WORKERS 4
#define SLOTS 3
#define TWO_NODES "pack:2 numa:1 core:2 pu:1"
#define FOUR_NODES "pack:4 numa:1 core:1 pu:1"

/* runtime/stress.c, exported for the stress suite only. */
void ar_stress_set_yield_(unsigned permille);

static bool long_mode;
static double deadline;
static atomic_bool stop;
static _Atomic(void *) slots[SLOTS];
static pthread_barrier_t start;

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* While a worker holds a chunk, its first two words carry the holder's token; a chunk
 * handed to two threads at once shows up as a clobbered token here, and as a data race on
 * those words under ThreadSanitizer. The chunk must also come from the right pool: one served
 * by node n's pool was placed for node n (the page map says so), whoever released it. */
typedef struct chunk_head {
  long owner;
  unsigned long seq;
} chunk_head_t;

static void claim(void *chunk, long me, unsigned long seq, int node) {
  if (node >= 0) {
    int home = ar_numa_test_chunk_node_(chunk);
    CHECK(home == node, "chunk %p placed for node %d served by node %d's pool", chunk, home, node);
  }
  chunk_head_t *h = (chunk_head_t *)chunk;
  h->owner = me;
  h->seq = seq;
}

static void unclaim(void *chunk, long me, unsigned long seq) {
  chunk_head_t *h = (chunk_head_t *)chunk;
  CHECK(h->owner == me && h->seq == seq, "chunk %p changed hands while held (owner %ld)", chunk,
        h->owner);
}

static void fill(unsigned char *p, size_t n, unsigned tag) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(tag + i * 7);
}

static bool verify(const unsigned char *p, size_t n, unsigned tag) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(tag + i * 7)) return false;
  return true;
}

static void *worker(void *arg) {
  long me = (long)(intptr_t)arg;
  uint64_t rng = 0x9e3779b97f4a7c15u * (uint64_t)me | 1;
  long rounds = long_mode ? 1L << 40 : 6000;
  pthread_barrier_wait(&start);
  for (long i = 0; i < rounds && !atomic_load(&stop); i++) {
    if ((i & 63) == 0) {
      ar_numa_test_set_cpu_((int)(rnd(&rng) % 4)); /* migrate */
      if (stress_now() > deadline) break;
    }
    /* Pool traffic, with chunks recycled between threads. */
    int nodes[AR_NUMA_MAX_NODES];
    int n = ar_numa_nodes(nodes, AR_NUMA_MAX_NODES);
    CHECK(n == 2 || n == 4, "node count %d", n);
    int node = nodes[rnd(&rng) % (uint64_t)(n < AR_NUMA_MAX_NODES ? n : AR_NUMA_MAX_NODES)];
    const ar_source_t *src = ar_numa_source(node); /* NULL if a reload just removed it */
    void *c = src != NULL ? src->acquire(src->ctx, AR_DEFAULT_CHUNK_SIZE) : NULL;
    if (c != NULL) {
      unsigned long seq = (unsigned long)i;
      claim(c, me, seq, node);
      if ((rnd(&rng) & 7) == 0) sched_yield(); /* hold it a while */
      unclaim(c, me, seq);
      if (rnd(&rng) & 1) {
        /* Swap through a slot: the exchange hands ownership over (acq_rel). */
        void *other = atomic_exchange(&slots[rnd(&rng) % SLOTS], c);
        if (other != NULL) {
          claim(other, me, seq, -1);
          unclaim(other, me, seq);
          src->release(src->ctx, other, AR_DEFAULT_CHUNK_SIZE); /* maybe another node's */
        }
      } else {
        src->release(src->ctx, c, AR_DEFAULT_CHUNK_SIZE);
      }
    }
    /* Thread arena (routed to the node we run on now), in a scope. */
    ar_scope_t s = ar_scope_begin();
    CHECK(s.arena != NULL, "thread arena");
    unsigned char *blocks[4];
    size_t sizes[4];
    for (int k = 0; k < 4; k++) {
      sizes[k] = 64 + rnd(&rng) % 6000;
      blocks[k] = (unsigned char *)ar_alloc(s.arena, sizes[k]);
      CHECK(blocks[k] != NULL, "thread arena alloc: %s", ar_strerror(ar_last_error()));
      fill(blocks[k], sizes[k], (unsigned)(me * 31 + k));
    }
    for (int k = 0; k < 4; k++)
      CHECK(verify(blocks[k], sizes[k], (unsigned)(me * 31 + k)), "thread arena block clobbered");
    CHECK(ar_scope_end(&s) == AR_OK, "scope end");
    /* A per-node arena shared with the other workers. */
    ar_concurrent_t *na = ar_node_arena(nodes[0]);
    CHECK(na != NULL, "node arena");
    unsigned char *p = (unsigned char *)ar_concurrent_alloc(na, 48);
    CHECK(p != NULL, "node arena alloc");
    fill(p, 48, (unsigned)me);
    CHECK(verify(p, 48, (unsigned)me), "node arena block clobbered");
  }
  return NULL;
}

static void *reloader(void *arg) {
  (void)arg;
  pthread_barrier_wait(&start);
  for (int i = 0; !atomic_load(&stop); i++) {
    CHECK(ar_numa_reload((i & 1) ? TWO_NODES : FOUR_NODES, NULL) == AR_OK, "reload: %s",
          ar_numa_last_failure());
    sched_yield();
  }
  return NULL;
}

static void *trimmer(void *arg) {
  (void)arg;
  uint64_t rng = 77;
  pthread_barrier_wait(&start);
  for (int i = 0; !atomic_load(&stop); i++) {
    (void)ar_trim((size_t)(rnd(&rng) % 3));
    ar_numa_node_stats_t st;
    CHECK(ar_numa_stats(0, &st) == AR_OK, "stats");
    CHECK(st.pooled <= st.max_pooled, "pool over its bound");
    CHECK(ar_numa_set_bind((i & 1) ? AR_NUMA_BIND_PREFERRED : AR_NUMA_BIND_NONE) == AR_OK,
          "set_bind");
    sched_yield();
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *e = getenv("AR_STRESS_LONG");
  long_mode = e != NULL && *e != '\0' && *e != '0';
  unsigned yield = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--long") == 0) long_mode = true;
    if (strncmp(argv[i], "--yield=", 8) == 0) yield = (unsigned)atoi(argv[i] + 8);
  }
  ar_stress_set_yield_(yield);
  double secs = 3.0;
  if (long_mode) {
    const char *s = getenv("AR_STRESS_SECONDS");
    secs = s ? atof(s) : 60.0;
  }
  deadline = stress_now() + secs;
  printf("%s: %s mode, %.0f s budget, yield %u/1000; synthetic topology, binding not "
         "exercised\n",
         argv[0], long_mode ? "long" : "quick", secs, yield);

  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.synthetic = FOUR_NODES;
  o.bind = AR_NUMA_BIND_NONE;
  o.pool_chunks = 8; /* small pools: overflow and refill all the time */
  CHECK(ar_numa_init(&o) == AR_OK, "init: %s", ar_numa_last_failure());

  pthread_barrier_init(&start, NULL, WORKERS + 2);
  pthread_t th[WORKERS + 2];
  for (long i = 0; i < WORKERS; i++)
    pthread_create(&th[i], NULL, worker, (void *)(intptr_t)(i + 1));
  pthread_create(&th[WORKERS], NULL, reloader, NULL);
  pthread_create(&th[WORKERS + 1], NULL, trimmer, NULL);
  for (int i = 0; i < WORKERS; i++) pthread_join(th[i], NULL);
  atomic_store(&stop, true);
  pthread_join(th[WORKERS], NULL);
  pthread_join(th[WORKERS + 1], NULL);

  /* Give everything back: chunks left in the exchange slots, then the pools. */
  const ar_source_t *src = ar_numa_source(0);
  for (int i = 0; i < SLOTS; i++) {
    void *c = atomic_exchange(&slots[i], NULL);
    if (c != NULL) src->release(src->ctx, c, AR_DEFAULT_CHUNK_SIZE);
  }
  uint64_t local = 0, remote = 0, hits = 0, mapped = 0;
  for (int node = 0; node < 4; node++) {
    ar_numa_node_stats_t st;
    CHECK(ar_numa_stats(node, &st) == AR_OK, "stats %d", node);
    local += st.local;
    remote += st.remote;
    hits += st.pool_hits;
    mapped += st.mapped;
  }
  (void)ar_trim(0);
  for (int node = 0; node < 4; node++) {
    ar_numa_node_stats_t st;
    CHECK(ar_numa_stats(node, &st) == AR_OK && st.pooled == 0, "node %d pool not empty", node);
  }
  ar_numa_shutdown(); /* destroys the per-node arenas: their chunks were the last ones */
  size_t left = ar_numa_test_mapped_bytes_();
  CHECK(left == 0, "%zu bytes mapped by numa were never unmapped", left);
  printf("numa_stress: ok: %llu local, %llu remote, %llu pool hits, %llu chunks mapped\n",
         (unsigned long long)local, (unsigned long long)remote, (unsigned long long)hits,
         (unsigned long long)mapped);
  return 0;
}
