/* SPDX-License-Identifier: MIT */
/*
 * bench/peers_mimalloc.h - mimalloc's first-class heaps (libmimalloc-dev 2.0), the closest
 * thing mimalloc has to an arena: mi_heap_malloc from a heap made with mi_heap_new, and
 * mi_heap_destroy + mi_heap_new to free everything at once (see peers.h for the interface).
 * A heap belongs to the thread that made it, and mi_heap_destroy must run there, so a heap
 * cannot be handed to another thread to be freed: no Larson figure.
 */
#ifndef AR_BENCH_PEERS_MIMALLOC_H
#define AR_BENCH_PEERS_MIMALLOC_H

#include <mimalloc.h>

#include "bench/peers.h"

typedef struct miheap_t {
  mi_heap_t *h;
} miheap_t;
enum { miheap_frees_each = 0 };

static inline const char *miheap_na(workload_t w) {
  if (w == W_LARSON)
    return "mi_heap_destroy must run on the heap's own thread: no cross-thread free-all";
  return NULL;
}
static inline int miheap_global_init(workload_t w, int threads) {
  (void)w, (void)threads;
  return 0;
}
static inline void miheap_global_fini(void) {}
static inline int miheap_init(miheap_t *c, const ctx_opt_t *o) {
  (void)o;
  c->h = mi_heap_new();
  return c->h != NULL ? 0 : -1;
}
static inline void miheap_fini(miheap_t *c) { mi_heap_destroy(c->h); }
static inline void *miheap_alloc(miheap_t *c, size_t n) { return mi_heap_malloc(c->h, n); }
static inline void miheap_reset(miheap_t *c, void *last) {
  (void)last;
  mi_heap_destroy(c->h);
  c->h = mi_heap_new();
  if (c->h == NULL) bench_oom("mi_heap_new");
}
static inline void miheap_round_reset(void) {}
static inline void *miheap_grow(miheap_t *c, void *p, size_t old, size_t n) {
  (void)old;
  return mi_heap_realloc(c->h, p, n);
}
static inline int miheap_lbegin(lbatch_t *b) {
  (void)b;
  return -1;
}
static inline void *miheap_lalloc(lbatch_t *b, size_t n) {
  (void)b, (void)n;
  return NULL;
}
static inline void miheap_lend(lbatch_t *b) { (void)b; }

#endif /* AR_BENCH_PEERS_MIMALLOC_H */
