/* SPDX-License-Identifier: MIT */
/*
 * tests/model/mt_model.c - the multithreaded half of the model: seeded walks by several
 * threads over many ConcurrentArenas, an arena pool whose arenas travel between threads, and
 * the registry walked while arenas come and go.
 *
 * Why rounds. Concurrent figures are snapshots, so most promises can only be checked where
 * the program is quiescent. The walk runs in rounds: the workers act concurrently (each
 * thread's choices come from its own generator, seeded from the walk's seed and its index, so
 * the operations are reproducible even though their interleaving is not), then all meet at a
 * barrier and the main thread checks everything against the model: every allocation's
 * contents, that no two live allocations overlap, ownership, the stats identities and bounds,
 * the pool's counters; then it resets some arenas and checks what a reset promises. What can
 * be checked while threads run is checked then (contents on the allocating thread, alignment,
 * error codes, registry entries, a pool snapshot's identity).
 *
 * Why many arenas per thread. Each ConcurrentArena keeps a span slot per thread index (item 3
 * replaced a per-thread cache of 16 slots keyed by the arena's stamp, which evicted arenas used
 * alternately by one thread); alternating arenas is where such a table goes wrong. Each
 * thread uses the shared arenas and also creates and destroys private ones as it goes.
 *
 * Run under ThreadSanitizer too (tools/test.sh does): the model's own synchronization is
 * barriers and one mutex-protected hand-off queue, so any report is about the library.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/mman.h>
#include <unistd.h>

#include "arenart.h"
#include "tests/model/model.h"

#if MODEL_ASAN
/* Whether the page holding p is mapped (mincore fails with ENOMEM on an unmapped range). */
static bool mapped(const void *p) {
  long page = sysconf(_SC_PAGESIZE);
  unsigned char v;
  return mincore((void *)((uintptr_t)p & ~(uintptr_t)(page - 1)), 1, &v) == 0;
}
#endif

const char *model_prog = "mt_model";
uint64_t model_seed, model_step;
__thread const char *model_op = "setup";

#define NTHREADS 4
#define NSHARED 8 /* shared ConcurrentArenas; with the private ones a thread uses < 16 */
#define NPRIV 3   /* private ConcurrentArenas alive per thread at once */
#define MAXREC 6000
#define QCAP 16

typedef struct rec {
  unsigned char *p;
  size_t size;
  uint32_t tag;
  int arena; /* shared arena index */
} rec_t;

typedef struct shared_arena {
  ar_concurrent_t *c;
  size_t chunk_size;
  size_t limit;
} shared_arena_t;

static shared_arena_t sh[NSHARED];
static pthread_barrier_t bar;
static uint64_t steps_per_round;
static volatile int walker_stop; /* written before a barrier, read after: ordered by it */

typedef struct worker {
  pthread_t t;
  int id;
  rng_t r;
  rec_t recs[MAXREC];
  size_t nrec;
  size_t sum16[NSHARED]; /* bytes this thread asked of each shared arena, rounded to 16 */
  uint64_t elimit;
} worker_t;

static worker_t workers[NTHREADS];

/* Hand-off queue of pool arenas between threads (a mutex: the documented happens-before edge
 * before ar_arena_adopt). */
typedef struct handoff {
  ar_arena_t *a;
  unsigned char *p;
  size_t size;
  uint32_t tag;
} handoff_t;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static handoff_t queue[QCAP];
static size_t qlen;
static ar_arena_pool_t *pool;

static unsigned char pat(uint32_t tag, size_t i) {
  return (unsigned char)(tag * 151u + (uint32_t)i * 29u + (tag >> 9));
}
static void fill(unsigned char *p, size_t n, uint32_t tag) {
  for (size_t i = 0; i < n; i++) p[i] = pat(tag, i);
}
static void verify(const unsigned char *p, size_t n, uint32_t tag) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != pat(tag, i))
      MFAIL("allocation %p (%zu bytes, tag %u) changed at byte %zu", (const void *)p, n,
            (unsigned)tag, i);
}

/* What `used` counts for a request of n bytes: its 16-byte footprint; in the heap flavor "its
 * own malloc of exactly its size" (concurrent.h). */
static size_t round16(size_t n) { return MODEL_HEAP ? n : ((n ? n : 1) + 15) & ~(size_t)15; }

/* The span a thread carves: a quarter of a chunk, 16 KiB at most (concurrent.h). */
static size_t span_max(size_t chunk) { return chunk / 4 < 16384 ? chunk / 4 : 16384; }

static size_t pick_size(rng_t *r) {
  switch (below(r, 10)) {
    case 0: return 0;
    case 1:
    case 2:
    case 3:
    case 4: return below(r, 64);
    case 5:
    case 6: return below(r, 700);
    case 7:
    case 8: return below(r, 3000);
    default: return below(r, 40000); /* exact pieces and dedicated chunks */
  }
}

/* One allocation from a ConcurrentArena, judged: alignment, the error contract. */
static unsigned char *calloc_judged(ar_concurrent_t *c, size_t limit, rng_t *r, size_t *size,
                                    uint64_t *elimit) {
  size_t n = pick_size(r);
  size_t align = below(r, 4) == 0 ? (size_t)1 << below(r, 13) : 16;
  bool zero = below(r, 5) == 0;
  void *p = zero          ? ar_concurrent_calloc(c, n, 1)
            : align == 16 ? ar_concurrent_alloc(c, n)
                          : ar_concurrent_alloc_aligned(c, n, align);
  if (zero) align = 16;
  if (p == NULL) {
    ar_error_t e = ar_last_error();
    if (e != AR_ELIMIT || limit == 0)
      MFAIL("concurrent allocation of %zu failed: %s", n, ar_strerror(e));
    (*elimit)++;
    return NULL;
  }
  if (((uintptr_t)p & (align - 1)) != 0) MFAIL("%p is not %zu-aligned", p, align);
  if (zero)
    for (size_t i = 0; i < n; i++) MCHECK(((unsigned char *)p)[i] == 0);
  *size = n;
  return (unsigned char *)p;
}

/* ---- the registry, walked concurrently --------------------------------------------------- */

static int visit(const ar_arena_info_t *info, void *ctx) {
  uint64_t *n = (uint64_t *)ctx;
  if (info->kind < AR_KIND_THREAD || info->kind > AR_KIND_NODE)
    MFAIL("registry: kind %d", (int)info->kind);
  if (info->name == NULL) MFAIL("registry: NULL name");
  if (info->node < -1) MFAIL("registry: node %d", info->node);
  (void)strlen(info->name);
  /* Nested read-only queries from the callback (item 1: they crash today when another thread
   * destroys an arena meanwhile). */
  if (ITEM_ON(1)) {
    ar_global_stats_t g;
    MCHECK(ar_stats_global(&g) == AR_OK);
    MCHECK(g.arenas_created >= 1);
  }
  (*n)++;
  return 0;
}

static void *walker(void *arg) {
  (void)arg;
  model_op = "registry-walker";
  uint64_t walks = 0, seen = 0;
  while (!__atomic_load_n(&walker_stop, __ATOMIC_ACQUIRE)) {
    MCHECK(ar_registry_foreach(visit, &seen) == 0);
    ar_arena_pool_stats_t ps;
    MCHECK(ar_arena_pool_stats(pool, &ps) == AR_OK);
    /* "A consistent snapshot": every arena the pool made is idle, taken or reclaimed. */
    if (ITEM_ON(9) && ps.idle + ps.taken + ps.reclaimed != ps.created)
      MFAIL("pool snapshot: idle %zu + taken %zu + reclaimed %llu != created %llu", ps.idle,
            ps.taken, (unsigned long long)ps.reclaimed, (unsigned long long)ps.created);
    walks++;
    sched_yield(); /* two cores are shared with the workers: let them run */
  }
  MCHECK(ar_registry_foreach(NULL, NULL) < 0); /* AR_EINVAL as a negative value */
  return NULL;
}

/* Item 2: "readers walk it without locks and without blocking writers" (stats.h). A reader
 * parks inside its callback until the main thread has destroyed a registered arena; if
 * destroy waits for readers, the two wait for each other. The reader gives up after an
 * iteration count so large that only a writer that waits for it can exhaust it, and then
 * reports the wait (a count, not a clock: no timing is asserted). */
static int reader_state; /* 0 walking, 1 parked in the callback, 2 the destroy returned */

static int park(const ar_arena_info_t *info, void *ctx) {
  (void)info;
  (void)ctx;
  int st = 1;
  __atomic_store_n(&reader_state, st, __ATOMIC_RELEASE);
  for (uint64_t i = 0; __atomic_load_n(&reader_state, __ATOMIC_ACQUIRE) != 2; i++) {
    if (i == UINT64_C(200000000))
      MFAIL("destroy of a registered arena waited for a registry reader");
    sched_yield();
  }
  return 1; /* one entry is enough */
}

static void *parked_reader(void *arg) {
  (void)arg;
  model_op = "parked-reader";
  MCHECK(ar_registry_foreach(park, NULL) == 1);
  return NULL;
}

static void destroy_vs_reader(void) {
  model_op = "destroy-vs-reader";
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "model-victim";
  ar_concurrent_t *c = ar_concurrent_create(&o);
  MCHECK(c != NULL);
  void *p = ar_concurrent_alloc(c, 100);
  MCHECK(p != NULL);
  __atomic_store_n(&reader_state, 0, __ATOMIC_RELEASE);
  pthread_t t;
  MCHECK(pthread_create(&t, NULL, parked_reader, NULL) == 0);
  while (__atomic_load_n(&reader_state, __ATOMIC_ACQUIRE) != 1) sched_yield();
  ar_concurrent_destroy(c); /* must not wait for the parked reader */
  __atomic_store_n(&reader_state, 2, __ATOMIC_RELEASE);
  MCHECK(pthread_join(t, NULL) == 0);
}

/* thread.h: ar_thread_arena_configure sets the options of thread arenas created afterwards
 * (chunk_size, retain_bytes, limit_bytes, flags). A thread started after it gets an arena
 * that honours the limit and the flags. */
static size_t cfg_limit;

static void *configured_thread(void *arg) {
  (void)arg;
  model_op = "configured-thread";
  ar_arena_t *t = ar_thread_arena();
  MCHECK(t != NULL && strncmp(ar_arena_name(t), "thread-", 7) == 0);
  size_t got = 0;
  for (int k = 0; k < 10000; k++) {
    void *p = ar_alloc(t, 700);
    if (p == NULL) {
      if (ar_last_error() != AR_ELIMIT)
        MFAIL("thread arena: %s, not AR_ELIMIT", ar_strerror(ar_last_error()));
      break;
    }
    got += 700;
  }
  ar_stats_t st;
  MCHECK(ar_arena_stats(t, &st) == AR_OK);
  if (st.capacity > cfg_limit)
    MFAIL("thread arena holds %zu bytes over its limit %zu", st.capacity, cfg_limit);
  if (got >= 10000 * 700) MFAIL("thread arena never reached its configured limit %zu", cfg_limit);
  ar_reset(t);
  return NULL;
}

static void configured_thread_arena(rng_t *r) {
  model_op = "configure";
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.limit_bytes = 4096 * (4 + below(r, 8));
  o.retain_bytes = 4096;
  cfg_limit = o.limit_bytes;
  MCHECK(ar_thread_arena_configure(&o) == AR_OK);
  pthread_t t;
  MCHECK(pthread_create(&t, NULL, configured_thread, NULL) == 0);
  MCHECK(pthread_join(t, NULL) == 0);
  MCHECK(ar_thread_arena_configure(NULL) == AR_OK);
}

/* ---- workers ------------------------------------------------------------------------------ */

static uint32_t tag_of(int id, size_t n) { return (uint32_t)(id + 1) * 1000003u + (uint32_t)n; }

static void private_arenas(worker_t *w) {
  model_op = "private-arenas";
  /* Create, use, check and destroy a few private ConcurrentArenas, interleaved with each
   * other and with the shared ones: a thread with many instances. */
  ar_concurrent_t *pc[NPRIV];
  size_t sum[NPRIV] = {0};
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = (size_t)4096 << below(&w->r, 3);
  o.name = "model-private";
  for (int i = 0; i < NPRIV; i++) {
    pc[i] = ar_concurrent_create(&o);
    MCHECK(pc[i] != NULL);
  }
  unsigned char *ps[64];
  size_t pn[64];
  int pa[64];
  size_t np = 0;
  for (int k = 0; k < 64; k++) {
    int i = (int)below(&w->r, NPRIV);
    size_t n;
    uint64_t dummy = 0;
    unsigned char *p = calloc_judged(pc[i], 0, &w->r, &n, &dummy);
    fill(p, n, tag_of(w->id, 900000 + (size_t)k));
    ps[np] = p;
    pn[np] = n;
    pa[np++] = i;
    sum[i] += round16(n);
    /* Alternate with a shared arena now and then, as a real thread would. */
    if (below(&w->r, 4) == 0) {
      int s = (int)below(&w->r, NSHARED);
      size_t m;
      unsigned char *q = calloc_judged(sh[s].c, sh[s].limit, &w->r, &m, &w->elimit);
      if (q != NULL && w->nrec < MAXREC) {
        rec_t *rc = &w->recs[w->nrec];
        rc->p = q;
        rc->size = m;
        rc->tag = tag_of(w->id, w->nrec);
        rc->arena = s;
        fill(q, m, rc->tag);
        w->nrec++;
        w->sum16[s] += round16(m);
      }
    }
  }
  for (size_t k = 0; k < np; k++) {
    verify(ps[k], pn[k], tag_of(w->id, 900000 + k));
    MCHECK(ar_concurrent_owns(pc[pa[k]], ps[k]));
  }
  for (int i = 0; i < NPRIV; i++) {
    ar_stats_t st;
    MCHECK(ar_concurrent_stats(pc[i], &st) == AR_OK);
    MCHECK(st.used <= st.capacity && st.used >= sum[i]);
    /* One thread, one span per arena: the tail waste is below what triggered each refill,
     * plus the one live span (concurrent.h). */
    if (ITEM_ON(3) && st.used > 2 * sum[i] + span_max(o.chunk_size))
      MFAIL("private ConcurrentArena: used %zu for %zu bytes asked (span %zu)", st.used, sum[i],
            span_max(o.chunk_size));
    ar_concurrent_destroy(pc[i]);
  }
}

static void pool_step(worker_t *w) {
  model_op = "pool-handoff";
  if (below(&w->r, 2) == 0) {
    ar_arena_t *a = ar_arena_pool_take(pool);
    MCHECK(a != NULL);
    ar_stats_t st;
    MCHECK(ar_arena_stats(a, &st) == AR_OK);
    MCHECK(st.used == 0 && st.cleanups == 0);
    size_t n = pick_size(&w->r);
    unsigned char *p = (unsigned char *)ar_alloc(a, n);
    MCHECK(p != NULL);
    uint32_t tag = tag_of(w->id, 500000 + (size_t)below(&w->r, 100000));
    fill(p, n, tag);
    pthread_mutex_lock(&qlock);
    if (qlen < QCAP) {
      queue[qlen].a = a;
      queue[qlen].p = p;
      queue[qlen].size = n;
      queue[qlen].tag = tag;
      qlen++;
      a = NULL;
    }
    pthread_mutex_unlock(&qlock);
    if (a != NULL) MCHECK(ar_arena_pool_give(pool, a) == AR_OK);
  } else {
    handoff_t h = {NULL, NULL, 0, 0};
    pthread_mutex_lock(&qlock);
    if (qlen > 0) h = queue[--qlen];
    pthread_mutex_unlock(&qlock);
    if (h.a == NULL) return;
    ar_arena_adopt(h.a);
    verify(h.p, h.size, h.tag);
    MCHECK(ar_owns(h.a, h.p) || h.size == 0);
    MCHECK(ar_arena_pool_give(pool, h.a) == AR_OK);
  }
}

static void count_cleanup(void *arg) { (*(int *)arg)++; }

static int count_kind(const ar_arena_info_t *info, void *ctx) {
  ((uint64_t *)ctx)[info->kind]++;
  return 0;
}

static void *work(void *arg) {
  worker_t *w = (worker_t *)arg;
  model_op = "worker";
  for (;;) {
    pthread_barrier_wait(&bar); /* round start (or the end, when steps_per_round is 0) */
    if (steps_per_round == 0) break;
    for (uint64_t k = 0; k < steps_per_round; k++) {
      unsigned op = (unsigned)below(&w->r, 100);
      if (op < 80) {
        /* Shared arenas in random alternation. */
        model_op = "shared-alloc";
        int s = (int)below(&w->r, NSHARED);
        size_t n;
        unsigned char *p = calloc_judged(sh[s].c, sh[s].limit, &w->r, &n, &w->elimit);
        if (p == NULL || w->nrec == MAXREC) continue;
        rec_t *rc = &w->recs[w->nrec];
        rc->p = p;
        rc->size = n;
        rc->tag = tag_of(w->id, w->nrec);
        rc->arena = s;
        fill(p, n, rc->tag);
        w->nrec++;
        w->sum16[s] += round16(n);
      } else if (op < 83) {
        private_arenas(w);
      } else if (op < 90) {
        pool_step(w);
      } else if (op < 93) {
        /* A request scope on this thread's own arena, nested once, with a cleanup; and the
         * thread-arena configuration changed meanwhile (any thread, any time: thread.h). */
        model_op = "scope";
        MCHECK(ar_thread_arena_configure(NULL) == AR_OK);
        ar_scope_t outer = ar_scope_begin();
        MCHECK(outer.arena != NULL && outer.arena == ar_thread_arena());
        size_t n1 = pick_size(&w->r), n2 = pick_size(&w->r);
        unsigned char *p1 = (unsigned char *)ar_alloc(outer.arena, n1);
        MCHECK(p1 != NULL);
        fill(p1, n1, tag_of(w->id, 800001));
        ar_scope_t inner = ar_scope_begin();
        unsigned char *p2 = (unsigned char *)ar_alloc(inner.arena, n2);
        MCHECK(p2 != NULL);
        fill(p2, n2, tag_of(w->id, 800002));
        int ran = 0;
        MCHECK(ar_defer(inner.arena, count_cleanup, &ran) == AR_OK);
        verify(p1, n1, tag_of(w->id, 800001));
        MCHECK(ar_scope_end(&inner) == AR_OK && ran == 1);
        verify(p1, n1, tag_of(w->id, 800001));
        MCHECK(ar_scope_end(&outer) == AR_OK);
        MCHECK(ar_arena_check(outer.arena) == AR_OK);
      } else if (op < 95) {
        /* Stats may run concurrently with allocation (concurrent.h): a snapshot, so only its
         * presence is checked here; ThreadSanitizer checks the rest. */
        model_op = "concurrent-stats";
        ar_stats_t st;
        MCHECK(ar_concurrent_stats(sh[below(&w->r, NSHARED)].c, &st) == AR_OK);
        MCHECK(ar_concurrent_stats(sh[0].c, NULL) == AR_EINVAL);
      } else {
        /* One draw whatever nrec is: nrec depends on which requests the limited arena refused,
         * which depends on the interleaving, and the thread's later draws must not. */
        uint64_t pick = rnd(&w->r);
        if (w->nrec > 0) {
          const rec_t *rc = &w->recs[pick % w->nrec];
          verify(rc->p, rc->size, rc->tag);
        }
      }
    }
    pthread_barrier_wait(&bar); /* round end: the main thread checks */
    pthread_barrier_wait(&bar); /* checks done */
  }
  return NULL;
}

/* ---- the main thread's checks at quiescence ------------------------------------------------- */

static int cmp_rec(const void *x, const void *y) {
  const rec_t *a = *(const rec_t *const *)x, *b = *(const rec_t *const *)y;
  return a->p < b->p ? -1 : a->p > b->p;
}

static void check_round(rng_t *r) {
  model_op = "round-check";
  static const rec_t *all[NTHREADS * MAXREC];
  size_t n = 0;
  size_t sum16[NSHARED] = {0};
  for (int t = 0; t < NTHREADS; t++) {
    worker_t *w = &workers[t];
    for (size_t i = 0; i < w->nrec; i++) {
      const rec_t *rc = &w->recs[i];
      verify(rc->p, rc->size, rc->tag);
      MCHECK(ar_concurrent_owns(sh[rc->arena].c, rc->p));
      all[n++] = rc;
    }
    for (int s = 0; s < NSHARED; s++) sum16[s] += w->sum16[s];
  }
  /* No two live allocations overlap (zero-size ones are one byte). */
  qsort(all, n, sizeof all[0], cmp_rec);
  for (size_t i = 1; i < n; i++) {
    size_t prev = all[i - 1]->size ? all[i - 1]->size : 1;
    if (all[i - 1]->p + prev > all[i]->p)
      MFAIL("allocations overlap: %p (+%zu) and %p", (void *)all[i - 1]->p, prev,
            (void *)all[i]->p);
  }
  for (int s = 0; s < NSHARED; s++) {
    ar_stats_t st;
    MCHECK(ar_concurrent_stats(sh[s].c, &st) == AR_OK);
    MCHECK(st.used <= st.capacity);
    if (st.used < sum16[s])
      MFAIL("arena %d: used %zu below the %zu bytes handed out", s, st.used, sum16[s]);
    if (sh[s].limit) MCHECK(st.capacity <= sh[s].limit);
    /* Span tails: each refill wastes less than the request that caused it, and each thread
     * holds at most one partly used span per arena. */
    size_t bound = 2 * sum16[s] + NTHREADS * span_max(sh[s].chunk_size);
    if (ITEM_ON(3) && st.used > bound)
      MFAIL("arena %d: used %zu exceeds %zu (asked %zu, %d threads)", s, st.used, bound, sum16[s],
            NTHREADS);
    /* Chunks: at most one small tail each lost, plus headers and over-alignment padding of
     * dedicated chunks. */
    size_t cbound = 2 * st.used + 2 * sh[s].chunk_size + st.large_chunks * (256 + 2 * 4096);
    if (st.capacity > cbound) MFAIL("arena %d: capacity %zu exceeds %zu", s, st.capacity, cbound);
  }
  /* The pool at rest: queue drained here, every arena given back. */
  pthread_mutex_lock(&qlock);
  while (qlen > 0) {
    handoff_t h = queue[--qlen];
    ar_arena_adopt(h.a);
    verify(h.p, h.size, h.tag);
    MCHECK(ar_arena_pool_give(pool, h.a) == AR_OK);
  }
  pthread_mutex_unlock(&qlock);
  ar_arena_pool_stats_t ps;
  MCHECK(ar_arena_pool_stats(pool, &ps) == AR_OK);
  MCHECK(ps.taken == 0);
  if (ps.idle + ps.taken + ps.reclaimed != ps.created)
    MFAIL("pool at rest: idle %zu + taken %zu + reclaimed %llu != created %llu", ps.idle, ps.taken,
          (unsigned long long)ps.reclaimed, (unsigned long long)ps.created);
  MCHECK(ps.idle <= 4); /* max_idle */
  ar_global_stats_t g;
  MCHECK(ar_stats_global(&g) == AR_OK);
  MCHECK(g.arenas_live <= g.arenas_created && g.registered <= g.arenas_live);
  MCHECK(g.bytes_released <= g.bytes_acquired);

  /* Reset some arenas: everything goes, nothing is owned, the memory is poisoned (item 4),
   * and the arena is reusable at once. */
  for (int s = 0; s < NSHARED; s++) {
    if (below(r, 3) != 0) continue;
    model_op = "concurrent-reset";
    ar_concurrent_reset(sh[s].c);
    ar_stats_t st;
    MCHECK(ar_concurrent_stats(sh[s].c, &st) == AR_OK);
    MCHECK(st.used == 0 && st.chunks == 0 && st.large_chunks == 0);
    for (int t = 0; t < NTHREADS; t++) {
      worker_t *w = &workers[t];
      size_t keep = 0;
      for (size_t i = 0; i < w->nrec; i++) {
        rec_t *rc = &w->recs[i];
        if (rc->arena != s) {
          w->recs[keep++] = *rc;
          continue;
        }
        MCHECK(!ar_concurrent_owns(sh[s].c, rc->p));
#if MODEL_ASAN
        /* concurrent.h, "Tools": pooled chunks are poisoned; chunks of other sizes go back
         * to the OS and are unmapped, so an access faults instead. */
        if (ITEM_ON(4) && rc->size > 0 && !__asan_address_is_poisoned(rc->p) && mapped(rc->p))
          MFAIL("ConcurrentArena memory at %p is not poisoned after reset", (void *)rc->p);
#endif
      }
      w->nrec = keep;
      w->sum16[s] = 0;
    }
  }
}

/* ---- one thread, one ConcurrentArena: the error contract exactly ----------------------- */

typedef struct csrc {
  ar_source_t s;
  uint64_t calls, failures;
  unsigned fail_every;
  size_t live_bytes;
} csrc_t; /* used from the main thread only */

static void *csrc_acquire(void *ctx, size_t size) {
  csrc_t *m = (csrc_t *)ctx;
  if (++m->calls % m->fail_every == 0) {
    m->failures++;
    return NULL;
  }
  /* 128-aligned: the largest alignment asked of this source's arena, so its padding, and so
   * which acquire fails, does not depend on malloc's addresses (serial_model.c, msrc). */
  void *p = aligned_alloc(128, (size + 127) & ~(size_t)127);
  MCHECK(p != NULL);
  m->live_bytes += size;
  return p;
}
static void csrc_release(void *ctx, void *p, size_t size) {
  csrc_t *m = (csrc_t *)ctx;
  MCHECK(m->live_bytes >= size);
  m->live_bytes -= size;
  free(p);
}

static bool cstats_equal(const ar_stats_t *a, const ar_stats_t *b) {
  return a->used == b->used && a->capacity == b->capacity && a->chunks == b->chunks &&
         a->large_chunks == b->large_chunks;
}

/* bad_input rows 1, 5, 6, 7, 8, 9 for ConcurrentArena: each failure returns NULL with its code
 * as the last error and leaves the arena unchanged; a limited arena is usable again after a
 * reset; a failing source is AR_ENOMEM exactly when the source failed. */
static void concurrent_solo(rng_t *r) {
  model_op = "concurrent-solo";
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 1023 - below(r, 700);
  MCHECK(ar_concurrent_create(&o) == NULL && ar_last_error() == AR_EINVAL);
  MCHECK(ar_concurrent_alloc(NULL, 8) == NULL && ar_last_error() == AR_EINVAL);
  MCHECK(ar_concurrent_calloc(NULL, 1, 8) == NULL && ar_last_error() == AR_EINVAL);
  ar_concurrent_reset(NULL);
  ar_concurrent_destroy(NULL);

  csrc_t src = {{csrc_acquire, csrc_release, NULL, "model"}, 0, 0, 2 + (unsigned)below(r, 5), 0};
  src.s.ctx = &src;
  o.chunk_size = 4096;
  o.limit_bytes = 4096 * (4 + below(r, 8));
  o.source = &src.s;
  ar_concurrent_t *c = ar_concurrent_create(&o);
  MCHECK(c != NULL);
  for (int round = 0; round < 3; round++) {
    size_t sum = 0;
    bool limited = false;
    for (int k = 0; k < 400; k++) {
      ar_stats_t b0, b1;
      MCHECK(ar_concurrent_stats(c, &b0) == AR_OK);
      uint64_t f0 = src.failures;
      size_t n = pick_size(r) % 9000;
      void *p;
      int want = 0;
      unsigned kind = (unsigned)below(r, 8);
      switch (kind) {
        case 0:
          p = ar_concurrent_alloc_aligned(c, 8, below(r, 2) ? 0 : 48);
          want = AR_EALIGN;
          break;
        case 1:
          p = ar_concurrent_calloc(c, SIZE_MAX / 4, 8);
          want = AR_EOVERFLOW;
          break;
        case 2:
          p = ar_concurrent_alloc(c, AR_MAX_ALLOC_SIZE + 1);
          want = AR_EOVERFLOW;
          break;
        case 3: p = ar_concurrent_alloc_aligned(c, n, 128); break; /* aligned beyond 64 */
        default: p = ar_concurrent_alloc(c, n); break;
      }

      MCHECK(ar_concurrent_stats(c, &b1) == AR_OK);
      /* The heap flavor (concurrent.h): capacity == used, and the source is never called. */
      if (MODEL_HEAP) MCHECK(src.calls == 0 && b1.capacity == b1.used && b1.large_chunks == 0);
      else MCHECK(b1.capacity == src.live_bytes && b1.used <= b1.capacity);
      MCHECK(b1.capacity <= o.limit_bytes);
      if (p != NULL) {
        MCHECK(want == 0 && src.failures == f0);
        /* concurrent.h: a request that does not fit in the rest of the thread's span and is
         * over a quarter of a chunk gets a dedicated chunk (a span is at most a quarter of a
         * chunk, so such a request never fits one). One aligned beyond 64 bytes may be carved
         * from the span when it fits there, so its chunk kind is not checked (NEW_C). */
        if (!MODEL_HEAP && n > o.chunk_size / 4) {
          if (b1.large_chunks != b0.large_chunks + 1)
            MFAIL("%zu bytes aligned %d: large chunks %zu -> %zu, expected one more", n,
                  kind == 3 ? 128 : 16, b0.large_chunks, b1.large_chunks);
        }
        if (kind == 3) MCHECK(((uintptr_t)p & 127) == 0);
        MCHECK(ar_concurrent_owns(c, p));
        memset(p, 0x3C, n);
        sum += round16(n);
        MCHECK(b1.used >= sum);
        continue;
      }
      ar_error_t e = ar_last_error();
      if (want != 0) MCHECK(e == (ar_error_t)want);
      else if (src.failures != f0) MCHECK(e == AR_ENOMEM);
      else if (e == AR_ELIMIT) {
        /* Only a request that cannot fit: a fresh chunk, or a dedicated one for it. */
        size_t need = n + 256 > o.chunk_size ? n + 256 : o.chunk_size;
        if (MODEL_HEAP) need = n ? n : 1; /* its own malloc of exactly its size */
        if (b0.capacity + need <= o.limit_bytes)
          MFAIL("AR_ELIMIT for %zu bytes with %zu of %zu held", n, b0.capacity, o.limit_bytes);
        limited = true;
      } else MFAIL("concurrent allocation of %zu failed with %s", n, ar_strerror(e));
      if (!cstats_equal(&b0, &b1))
        MFAIL("a failed concurrent allocation (%s) changed the arena: used %zu->%zu capacity "
              "%zu->%zu",
              ar_strerror(e), b0.used, b1.used, b0.capacity, b1.capacity);
    }
    (void)limited;
    ar_concurrent_reset(c);
    ar_stats_t st;
    MCHECK(ar_concurrent_stats(c, &st) == AR_OK);
    MCHECK(st.used == 0 && st.chunks == 0 && st.large_chunks == 0);
    MCHECK(st.capacity == src.live_bytes);
    /* Usable again at once (a reset makes room): a small request succeeds unless the
     * source refuses it. */
    uint64_t f0 = src.failures;
    void *p = ar_concurrent_alloc(c, 64);
    MCHECK(p != NULL || (src.failures != f0 && ar_last_error() == AR_ENOMEM));
  }
  ar_concurrent_destroy(c);
  MCHECK(src.live_bytes == 0);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void walk(uint64_t seed, uint64_t rounds) {
  rng_t r = {seed};
  model_seed = seed;
  model_step = 0;
  model_op = "setup";
  for (int s = 0; s < NSHARED; s++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.chunk_size = s % 2 ? AR_DEFAULT_CHUNK_SIZE : (size_t)4096 << below(&r, 4);
    o.limit_bytes = s == 3 ? o.chunk_size * (16 + below(&r, 16)) : 0;
    o.name = "model-shared";
    sh[s].c = ar_concurrent_create(&o);
    MCHECK(sh[s].c != NULL);
    sh[s].chunk_size = o.chunk_size;
    sh[s].limit = o.limit_bytes;
  }
  concurrent_solo(&r);
  configured_thread_arena(&r);
  if (ITEM_ON(2)) destroy_vs_reader();
  ar_arena_pool_options_t po;
  ar_arena_pool_options_init(&po);
  po.arena.chunk_size = 8192;
  po.max_idle = 4;
  pool = ar_arena_pool_create(&po);
  MCHECK(pool != NULL);
  walker_stop = 0;
  for (int t = 0; t < NTHREADS; t++) {
    worker_t *w = &workers[t];
    memset(w->sum16, 0, sizeof w->sum16);
    w->nrec = 0;
    w->elimit = 0;
    w->id = t;
    w->r.s = seed * 0x9E3779B97F4A7C15ull + (uint64_t)t + 1;
  }
  pthread_t wk;
  MCHECK(pthread_barrier_init(&bar, NULL, NTHREADS + 1) == 0);
  MCHECK(pthread_create(&wk, NULL, walker, NULL) == 0);
  for (int t = 0; t < NTHREADS; t++)
    MCHECK(pthread_create(&workers[t].t, NULL, work, &workers[t]) == 0);
  uint64_t spr = steps_per_round;
  for (model_step = 0; model_step < rounds; model_step++) {
    steps_per_round = spr;
    pthread_barrier_wait(&bar); /* go */
    pthread_barrier_wait(&bar); /* workers done */
    check_round(&r);
    pthread_barrier_wait(&bar); /* resume */
  }
  steps_per_round = 0;
  pthread_barrier_wait(&bar); /* workers exit */
  for (int t = 0; t < NTHREADS; t++) MCHECK(pthread_join(workers[t].t, NULL) == 0);
  __atomic_store_n(&walker_stop, 1, __ATOMIC_RELEASE);
  MCHECK(pthread_join(wk, NULL) == 0);
  pthread_barrier_destroy(&bar);
  steps_per_round = spr;
  /* At rest, the registry lists exactly what lives: no thread arena of an exited worker
   * (thread.h: destroyed when the thread exits), the shared ConcurrentArenas, the pool's
   * idle arenas (nothing else in this process creates listed arenas). */
  model_op = "registry-at-rest";
  uint64_t kinds[5] = {0};
  MCHECK(ar_registry_foreach(count_kind, kinds) == 0);
  ar_arena_pool_stats_t ps;
  MCHECK(ar_arena_pool_stats(pool, &ps) == AR_OK);
  if (kinds[AR_KIND_THREAD] != 0 || kinds[AR_KIND_CONCURRENT] != NSHARED ||
      kinds[AR_KIND_POOLED] != ps.idle)
    MFAIL("registry at rest: %llu thread, %llu concurrent (want %d), %llu pooled (want %zu)",
          (unsigned long long)kinds[AR_KIND_THREAD], (unsigned long long)kinds[AR_KIND_CONCURRENT],
          NSHARED, (unsigned long long)kinds[AR_KIND_POOLED], ps.idle);
  model_op = "teardown";
  for (int s = 0; s < NSHARED; s++) ar_concurrent_destroy(sh[s].c);
  ar_arena_pool_destroy(pool);
}

int main(int argc, char **argv) {
  /* steps = rounds per walk; each round is 600 operations per thread. */
  model_args_t a = {1, MODEL_TSAN ? 3 : 5, MODEL_TSAN ? 2 : 4};
  model_parse(&a, argc, argv);
  steps_per_round = 600;
  double t0 = now_s();
  for (uint64_t w = 0; w < a.walks; w++) walk(a.seed + w, a.steps);
  uint64_t el = 0;
  for (int t = 0; t < NTHREADS; t++) el += workers[t].elimit;
  printf("mt_model: %llu walks of %llu rounds x %d threads x %llu ops (seeds %llu..%llu), "
         "AR_DEBUG %d, asan %d, tsan %d: no differences in %.2f s (last walk: %llu AR_ELIMIT)\n",
         (unsigned long long)a.walks, (unsigned long long)a.steps, NTHREADS,
         (unsigned long long)steps_per_round, (unsigned long long)a.seed,
         (unsigned long long)(a.seed + a.walks - 1), AR_DEBUG, MODEL_ASAN, MODEL_TSAN, now_s() - t0,
         (unsigned long long)el);
  return 0;
}
