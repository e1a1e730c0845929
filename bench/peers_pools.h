/* SPDX-License-Identifier: MIT */
/*
 * bench/peers_pools.h - the region allocators that live beside glibc malloc (see peers.h for
 * the interface). All from Debian packages; how each is reached:
 *   apr      APR 1.7 pools (libapr1-dev): apr_palloc from a pool over a per-thread
 *            apr_allocator (no mutex; the allocator's owner is the pool), apr_pool_clear
 *            between requests. Larson: one allocator shared by all threads behind an
 *            apr_thread_mutex (APR's own way to let pools move between threads), one
 *            unmanaged pool per batch, destroyed by the consumer.
 *   talloc   talloc 2.4 (libtalloc-dev): talloc_size under a talloc_pool of 1 MiB (objects
 *            beyond the pool fall back to malloc, as talloc does), talloc_free_children to
 *            reset. Larson: a 512 KiB pool per batch, talloc_free'd by the consumer.
 *   obstack  glibc's obstack with 64 KiB chunks (the size arenart uses) from malloc;
 *            obstack_alloc (an inline macro), obstack_free back to a mark object to reset.
 * APR hands out 8-byte aligned blocks; every other allocator here aligns to 16.
 * Their identifiers here are aprp, tall and obs: apr_*, talloc_* and obstack_* names belong
 * to the libraries (talloc_init and obstack_init are theirs already).
 */
#ifndef AR_BENCH_PEERS_POOLS_H
#define AR_BENCH_PEERS_POOLS_H

#include <obstack.h>
#include <talloc.h>

/* The APR headers include each other with quotes, so reaching them through their directory
 * under /usr/include needs no extra -I flag. */
#include <apr-1.0/apr_allocator.h>
#include <apr-1.0/apr_general.h>
#include <apr-1.0/apr_pools.h>
#include <apr-1.0/apr_thread_mutex.h>

#include "bench/peers.h"

/* ---- APR pools ---------------------------------------------------------------------- */

typedef struct aprp_t {
  apr_allocator_t *al;
  apr_pool_t *pool;
} aprp_t;
enum { aprp_frees_each = 0 };
static apr_pool_t *aprp_root;        /* owns the Larson mutex */
static apr_allocator_t *aprp_shared; /* Larson: one allocator, behind a mutex */

static inline const char *aprp_na(workload_t w) {
  (void)w;
  return NULL;
}
static inline int aprp_global_init(workload_t w, int threads) {
  (void)threads;
  if (apr_initialize() != APR_SUCCESS) return -1;
  if (w == W_LARSON) {
    apr_thread_mutex_t *m;
    if (apr_pool_create(&aprp_root, NULL) != APR_SUCCESS) return -1;
    if (apr_allocator_create(&aprp_shared) != APR_SUCCESS) return -1;
    if (apr_thread_mutex_create(&m, APR_THREAD_MUTEX_DEFAULT, aprp_root) != APR_SUCCESS) return -1;
    apr_allocator_mutex_set(aprp_shared, m);
  }
  return 0;
}
static inline void aprp_global_fini(void) {
  if (aprp_shared != NULL) apr_allocator_destroy(aprp_shared);
  if (aprp_root != NULL) apr_pool_destroy(aprp_root);
  aprp_shared = NULL;
  aprp_root = NULL;
  apr_terminate();
}
static inline int aprp_init(aprp_t *c, const ctx_opt_t *o) {
  (void)o;
  if (apr_allocator_create(&c->al) != APR_SUCCESS) return -1;
  if (apr_pool_create_unmanaged_ex(&c->pool, NULL, c->al) != APR_SUCCESS) return -1;
  apr_allocator_owner_set(c->al, c->pool); /* destroying the pool destroys the allocator */
  return 0;
}
static inline void aprp_fini(aprp_t *c) { apr_pool_destroy(c->pool); }
static inline void *aprp_alloc(aprp_t *c, size_t n) { return apr_palloc(c->pool, n); }
static inline void aprp_reset(aprp_t *c, void *last) {
  (void)last;
  apr_pool_clear(c->pool);
}
static inline void aprp_round_reset(void) {}
static inline void *aprp_grow(aprp_t *c, void *p, size_t old, size_t n) {
  void *q = apr_palloc(c->pool, n); /* pools cannot resize; the old block stays until clear */
  if (q != NULL && p != NULL) memcpy(q, p, old);
  return q;
}
static inline int aprp_lbegin(lbatch_t *b) {
  apr_pool_t *p;
  if (apr_pool_create_unmanaged_ex(&p, NULL, aprp_shared) != APR_SUCCESS) return -1;
  b->h = p;
  return 0;
}
static inline void *aprp_lalloc(lbatch_t *b, size_t n) { return apr_palloc((apr_pool_t *)b->h, n); }
static inline void aprp_lend(lbatch_t *b) { apr_pool_destroy((apr_pool_t *)b->h); }

/* ---- talloc pools ------------------------------------------------------------------- */

enum { TALLOC_POOL_BYTES = 1 << 20, TALLOC_LARSON_POOL_BYTES = 512 << 10 };
typedef struct tall_t {
  void *pool;
} tall_t;
enum { tall_frees_each = 0 };

static inline const char *tall_na(workload_t w) {
  (void)w;
  return NULL;
}
static inline int tall_global_init(workload_t w, int threads) {
  (void)w, (void)threads;
  return 0;
}
static inline void tall_global_fini(void) {}
static inline int tall_init(tall_t *c, const ctx_opt_t *o) {
  (void)o;
  c->pool = talloc_pool(NULL, TALLOC_POOL_BYTES);
  return c->pool != NULL ? 0 : -1;
}
static inline void tall_fini(tall_t *c) { talloc_free(c->pool); }
static inline void *tall_alloc(tall_t *c, size_t n) { return talloc_size(c->pool, n); }
static inline void tall_reset(tall_t *c, void *last) {
  (void)last;
  talloc_free_children(c->pool);
}
static inline void tall_round_reset(void) {}
static inline void *tall_grow(tall_t *c, void *p, size_t old, size_t n) {
  (void)old;
  return talloc_realloc_size(c->pool, p, n);
}
static inline int tall_lbegin(lbatch_t *b) {
  b->h = talloc_pool(NULL, TALLOC_LARSON_POOL_BYTES);
  return b->h != NULL ? 0 : -1;
}
static inline void *tall_lalloc(lbatch_t *b, size_t n) { return talloc_size(b->h, n); }
static inline void tall_lend(lbatch_t *b) { talloc_free(b->h); }

/* ---- glibc obstack ------------------------------------------------------------------ */

enum { OBSTACK_CHUNK = 64 << 10 };
typedef struct obs_t {
  struct obstack ob;
  void *mark; /* a 1-byte object at the bottom: obstack_free to it frees everything above */
} obs_t;
enum { obs_frees_each = 0 };
_Static_assert(sizeof(struct obstack) <= sizeof(((lbatch_t *)0)->hs), "obstack handle size");

static inline const char *obs_na(workload_t w) {
  (void)w;
  return NULL;
}
static inline int obs_global_init(workload_t w, int threads) {
  (void)w, (void)threads;
  return 0;
}
static inline void obs_global_fini(void) {}
static inline int obs_begin(struct obstack *ob) {
  return obstack_specify_allocation(ob, OBSTACK_CHUNK, 0, malloc, free) ? 0 : -1;
}
static inline int obs_init(obs_t *c, const ctx_opt_t *o) {
  (void)o;
  if (obs_begin(&c->ob) != 0) return -1;
  c->mark = obstack_alloc(&c->ob, 1);
  return 0;
}
static inline void obs_fini(obs_t *c) { obstack_free(&c->ob, NULL); }
static inline void *obs_alloc(obs_t *c, size_t n) { return obstack_alloc(&c->ob, n); }
static inline void obs_reset(obs_t *c, void *last) {
  (void)last;
  obstack_free(&c->ob, c->mark);
  c->mark = obstack_alloc(&c->ob, 1);
}
static inline void obs_round_reset(void) {}
static inline void *obs_grow(obs_t *c, void *p, size_t old, size_t n) {
  /* An obstack can only grow its newest, unfinished object; a finished one is copied. */
  void *q = obstack_alloc(&c->ob, n);
  if (q != NULL && p != NULL) memcpy(q, p, old);
  return q;
}
static inline int obs_lbegin(lbatch_t *b) {
  b->h = b->hs;
  return obs_begin((struct obstack *)b->h);
}
static inline void *obs_lalloc(lbatch_t *b, size_t n) {
  return obstack_alloc((struct obstack *)b->h, n);
}
static inline void obs_lend(lbatch_t *b) { obstack_free((struct obstack *)b->h, NULL); }

#endif /* AR_BENCH_PEERS_POOLS_H */
