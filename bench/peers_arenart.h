/* SPDX-License-Identifier: MIT */
/*
 * bench/peers_arenart.h - arenart itself, three ways (see peers.h for the interface):
 *   arenart   a serial arena from ar_arena_create (default options: chunks from 64 KiB growing
 *             to 4 MiB, adaptive retention across resets (AR_RETAIN_AUTO); the hot-path workload
 *             alone sets retain_bytes to its region); ar_alloc, ar_reset. Larson: arenas taken from
 *             an ar_arena_pool, handed over, adopted and given back by the consumer.
 *   arthread  the calling thread's arena (ar_thread_arena), one ar_scope per request.
 *   arconcur  one ConcurrentArena shared by every thread (public API only, so the bench
 *             follows whatever the runtime's fast path is); reset between scaling rounds,
 *             when every thread is parked at a barrier, as its contract requires. The hot-path
 *             workload alone gives it its own arena with retain_bytes = its region, as arenart;
 *             the scaling workload gives the shared arena retain_bytes = 16 MiB, as ar-keep16.
 *   arkeep    a serial arena tuned to keep what it had: retain_bytes = 16 MiB, the size of
 *             the ConcurrentArena's process-wide chunk pool. It is the reference of two
 *             goals: in the scaling workload, one per thread, reset once per round rather than
 *             per request (worker.c stamps it with P_ROUND_LIFETIMES), so its objects live as
 *             long as the shared ConcurrentArena's and the ratio between the two is the cost
 *             of sharing alone; in the large-requests workload, reset per request, it is what
 *             the default options should come close to. Hidden everywhere else.
 *   arlease   the arenart serial arena through a lease (lease.h): one ar_lease_begin, the
 *             request's (or batch's) ar_lease_alloc calls, ar_lease_end, ar_reset. The
 *             per-request workload, where its cursor stays in registers as the raw bump
 *             loop's does, and the hot path, where every stamp reaches its handle through
 *             memory (workloads.inc, PF(hot_run)): there it shows what ar_alloc's arena
 *             pointer and NULL test cost beside a bare cursor.
 */
#ifndef AR_BENCH_PEERS_ARENART_H
#define AR_BENCH_PEERS_ARENART_H

#include <arenart.h>

#include "bench/peers.h"

/* ---- arenart: the serial arena ------------------------------------------------------ */

typedef struct arenart_t {
  ar_arena_t *a;
} arenart_t;
enum { arenart_frees_each = 0 };
static ar_arena_pool_t *arenart_pool; /* Larson only */

static inline const char *arenart_na(workload_t w) {
  (void)w;
  return NULL;
}
static inline int arenart_global_init(workload_t w, int threads) {
  (void)threads;
  if (w == W_LARSON) {
    arenart_pool = ar_arena_pool_create(NULL);
    if (arenart_pool == NULL) return -1;
  }
  return 0;
}
static inline void arenart_global_fini(void) {
  ar_arena_pool_destroy(arenart_pool);
  arenart_pool = NULL;
}
static inline int arenart_init(arenart_t *c, const ctx_opt_t *o) {
  ar_options_t ao;
  ar_options_init(&ao);
  if (o->keep != 0) ao.retain_bytes = o->keep; /* peers.h: keep is retain_bytes when nonzero */
  c->a = ar_arena_create(&ao);
  return c->a != NULL ? 0 : -1;
}
static inline void arenart_fini(arenart_t *c) { ar_arena_destroy(c->a); }
static inline void *arenart_alloc(arenart_t *c, size_t n) { return ar_alloc(c->a, n); }
static inline void arenart_reset(arenart_t *c, void *last) {
  (void)last;
  ar_reset(c->a);
}
static inline void arenart_round_reset(void) {}
static inline void *arenart_grow(arenart_t *c, void *p, size_t old, size_t n) {
  return ar_realloc(c->a, p, old, n);
}
static inline int arenart_lbegin(lbatch_t *b) {
  b->h = ar_arena_pool_take(arenart_pool);
  return b->h != NULL ? 0 : -1;
}
static inline void *arenart_lalloc(lbatch_t *b, size_t n) {
  return ar_alloc((ar_arena_t *)b->h, n);
}
static inline void arenart_lend(lbatch_t *b) {
  /* The batch came through a mutex-protected queue: that is the happens-before edge
   * ar_arena_adopt asks for. */
  ar_arena_adopt((ar_arena_t *)b->h);
  ar_arena_pool_give(arenart_pool, (ar_arena_t *)b->h);
}

/* ---- arthread: per-thread arenas and scopes ----------------------------------------- */

typedef struct arthread_t {
  ar_scope_t s;
} arthread_t;
enum { arthread_frees_each = 0 };

static inline const char *arthread_na(workload_t w) {
  switch (w) {
    case W_REQUEST:
    case W_SCALING: return NULL;
    case W_LARSON:
      return "a thread arena never leaves its thread (the arenart row uses ar_arena_pool)";
    default: return "-same ar_alloc fast path as arenart";
  }
}
static inline int arthread_global_init(workload_t w, int threads) {
  (void)w, (void)threads;
  return 0;
}
static inline void arthread_global_fini(void) {}
static inline int arthread_init(arthread_t *c, const ctx_opt_t *o) {
  (void)o;
  c->s = ar_scope_begin();
  return c->s.arena != NULL ? 0 : -1;
}
static inline void arthread_fini(arthread_t *c) { ar_scope_end(&c->s); }
static inline void *arthread_alloc(arthread_t *c, size_t n) { return ar_alloc(c->s.arena, n); }
static inline void arthread_reset(arthread_t *c, void *last) {
  (void)last;
  ar_scope_end(&c->s);
  c->s = ar_scope_begin();
}
static inline void arthread_round_reset(void) {}
static inline void *arthread_grow(arthread_t *c, void *p, size_t old, size_t n) {
  return ar_realloc(c->s.arena, p, old, n);
}
static inline int arthread_lbegin(lbatch_t *b) {
  (void)b;
  return -1;
}
static inline void *arthread_lalloc(lbatch_t *b, size_t n) {
  (void)b, (void)n;
  return NULL;
}
static inline void arthread_lend(lbatch_t *b) { (void)b; }

/* ---- arconcur: one ConcurrentArena for all threads ---------------------------------- */

typedef struct arconcur_t {
  ar_concurrent_t *ca;
  int own; /* hot path: an arena of its own, keeping the region as arenart does */
} arconcur_t;
enum { arconcur_frees_each = 0 };
static ar_concurrent_t *arconcur_shared;
static int arconcur_threaded; /* scaling: resets only between rounds, all threads parked */

static inline const char *arconcur_na(workload_t w) {
  if (w == W_LARSON)
    return "a ConcurrentArena is shared rather than handed off; its reset needs every user "
           "quiescent";
  return NULL;
}
static inline int arconcur_global_init(workload_t w, int threads) {
  (void)threads;
  arconcur_threaded = w == W_SCALING || w == W_LARGE;
  ar_options_t ao;
  ar_options_init(&ao);
  /* scaling: keep what ar-keep16, its reference, keeps (a round is a few MiB) */
  if (w == W_SCALING) ao.retain_bytes = (size_t)16 << 20;
  arconcur_shared = ar_concurrent_create(&ao);
  return arconcur_shared != NULL ? 0 : -1;
}
static inline void arconcur_global_fini(void) {
  ar_concurrent_destroy(arconcur_shared);
  arconcur_shared = NULL;
}
static inline int arconcur_init(arconcur_t *c, const ctx_opt_t *o) {
  ar_options_t ao;
  ar_options_init(&ao);
  c->own = !arconcur_threaded && o->keep != 0;
  if (!c->own) {
    c->ca = arconcur_shared;
    return 0;
  }
  ao.retain_bytes = o->keep;
  c->ca = ar_concurrent_create(&ao);
  return c->ca != NULL ? 0 : -1;
}
static inline void arconcur_fini(arconcur_t *c) {
  if (c->own) ar_concurrent_destroy(c->ca);
}
static inline void *arconcur_alloc(arconcur_t *c, size_t n) {
  return ar_concurrent_alloc(c->ca, n);
}
static inline void arconcur_reset(arconcur_t *c, void *last) {
  (void)last;
  if (!arconcur_threaded) ar_concurrent_reset(c->ca);
}
static inline void arconcur_round_reset(void) { ar_concurrent_reset(arconcur_shared); }
static inline void *arconcur_grow(arconcur_t *c, void *p, size_t old, size_t n) {
  /* No realloc in the ConcurrentArena API: a new block and a copy; the old one stays until
   * the reset. */
  void *q = ar_concurrent_alloc(c->ca, n);
  if (q != NULL && p != NULL) memcpy(q, p, old);
  return q;
}
static inline int arconcur_lbegin(lbatch_t *b) {
  (void)b;
  return -1;
}
static inline void *arconcur_lalloc(lbatch_t *b, size_t n) {
  (void)b, (void)n;
  return NULL;
}
static inline void arconcur_lend(lbatch_t *b) { (void)b; }

/* ---- arkeep: a serial arena that keeps 16 MiB across resets --------------------------- */

#define ARKEEP_RETAIN ((size_t)16 << 20)
#define ARKEEP_LARGE_CHUNK ((size_t)1 << 20)
typedef arenart_t arkeep_t;
enum { arkeep_frees_each = 0 };
static int arkeep_large; /* the large-request workload: 1 MiB chunks as well */

static inline const char *arkeep_na(workload_t w) {
  if (w == W_SCALING || w == W_LARGE) return NULL;
  return "-the reference of the scaling and large-request goals only";
}
static inline int arkeep_global_init(workload_t w, int threads) {
  (void)threads;
  arkeep_large = w == W_LARGE;
  return 0;
}
static inline void arkeep_global_fini(void) {}
static inline int arkeep_init(arkeep_t *c, const ctx_opt_t *o) {
  (void)o;
  ar_options_t ao;
  ar_options_init(&ao);
  ao.retain_bytes = ARKEEP_RETAIN;
  if (arkeep_large) ao.chunk_size = ARKEEP_LARGE_CHUNK;
  c->a = ar_arena_create(&ao);
  return c->a != NULL ? 0 : -1;
}
static inline void arkeep_fini(arkeep_t *c) { ar_arena_destroy(c->a); }
static inline void *arkeep_alloc(arkeep_t *c, size_t n) { return ar_alloc(c->a, n); }
static inline void arkeep_reset(arkeep_t *c, void *last) {
  (void)last;
  ar_reset(c->a);
}
static inline void arkeep_round_reset(void) {}
static inline void *arkeep_grow(arkeep_t *c, void *p, size_t old, size_t n) {
  return ar_realloc(c->a, p, old, n);
}
static inline int arkeep_lbegin(lbatch_t *b) {
  (void)b;
  return -1;
}
static inline void *arkeep_lalloc(lbatch_t *b, size_t n) {
  (void)b, (void)n;
  return NULL;
}
static inline void arkeep_lend(lbatch_t *b) { (void)b; }

/* ---- arlease: the serial arena through a lease ----------------------------------------- */

/* The lease travels inside the handle. PF(request_run) copies the handle into a local and
 * back (a move: the stored one is not used meanwhile), so the lease's cursor lives in
 * registers for the timed loop, as a request handler's local lease would. */
typedef struct arlease_t {
  ar_arena_t *a;
  ar_lease_t l;
} arlease_t;
enum { arlease_frees_each = 0 };

static inline const char *arlease_na(workload_t w) {
  if (w == W_REQUEST || w == W_HOT) return NULL;
  return "-the per-request and hot-path workloads only";
}
static inline int arlease_global_init(workload_t w, int threads) {
  (void)w, (void)threads;
  return 0;
}
static inline void arlease_global_fini(void) {}
static inline int arlease_init(arlease_t *c, const ctx_opt_t *o) {
  ar_options_t ao;
  ar_options_init(&ao);
  if (o->keep != 0) ao.retain_bytes = o->keep;
  c->a = ar_arena_create(&ao);
  if (c->a == NULL) return -1;
  c->l = ar_lease_begin(c->a);
  return 0;
}
static inline void arlease_fini(arlease_t *c) {
  ar_lease_end(&c->l);
  ar_arena_destroy(c->a);
}
static inline void *arlease_alloc(arlease_t *c, size_t n) { return ar_lease_alloc(&c->l, n); }
static inline void arlease_reset(arlease_t *c, void *last) {
  (void)last;
  ar_lease_end(&c->l);
  ar_reset(c->a);
  c->l = ar_lease_begin(c->a);
}
static inline void arlease_round_reset(void) {}
static inline void *arlease_grow(arlease_t *c, void *p, size_t old, size_t n) {
  void *q = ar_lease_alloc(&c->l, n); /* not reached: the per-request workload does not grow */
  if (q != NULL && p != NULL) memcpy(q, p, old);
  return q;
}
static inline int arlease_lbegin(lbatch_t *b) {
  (void)b;
  return -1;
}
static inline void *arlease_lalloc(lbatch_t *b, size_t n) {
  (void)b, (void)n;
  return NULL;
}
static inline void arlease_lend(lbatch_t *b) { (void)b; }

#endif /* AR_BENCH_PEERS_ARENART_H */
