/* SPDX-License-Identifier: MIT */
/*
 * bench/peers_pmr.h - std::pmr::monotonic_buffer_resource (C++17, libstdc++), through the
 * extern "C" shim in pmr_shim.cc (see peers.h for the interface and pmr_shim.cc for why it
 * runs the large-request workload only). One resource per thread, default constructed (no
 * initial buffer, operator new upstream, i.e. glibc malloc in the bench binary); release()
 * per request.
 */
#ifndef AR_BENCH_PEERS_PMR_H
#define AR_BENCH_PEERS_PMR_H

#include "bench/peers.h"

void *bench_pmr_create(void);
void bench_pmr_destroy(void *r);
void *bench_pmr_alloc(void *r, size_t n);
void bench_pmr_release(void *r);

typedef struct pmr_t {
  void *r;
} pmr_t;
enum { pmr_frees_each = 0 };

static inline const char *pmr_na(workload_t w) {
  if (w == W_LARGE) return NULL;
  return "-an out-of-line call per allocation: measured on large requests only";
}
static inline int pmr_global_init(workload_t w, int threads) {
  (void)w, (void)threads;
  return 0;
}
static inline void pmr_global_fini(void) {}
static inline int pmr_init(pmr_t *c, const ctx_opt_t *o) {
  (void)o;
  c->r = bench_pmr_create();
  return c->r != NULL ? 0 : -1;
}
static inline void pmr_fini(pmr_t *c) { bench_pmr_destroy(c->r); }
static inline void *pmr_alloc(pmr_t *c, size_t n) { return bench_pmr_alloc(c->r, n); }
static inline void pmr_reset(pmr_t *c, void *last) {
  (void)last;
  bench_pmr_release(c->r);
}
static inline void pmr_round_reset(void) {}
static inline void *pmr_grow(pmr_t *c, void *p, size_t old, size_t n) {
  void *q = bench_pmr_alloc(c->r, n);
  if (q != NULL && p != NULL) memcpy(q, p, old);
  return q;
}
static inline int pmr_lbegin(lbatch_t *b) {
  (void)b;
  return -1;
}
static inline void *pmr_lalloc(lbatch_t *b, size_t n) {
  (void)b, (void)n;
  return NULL;
}
static inline void pmr_lend(lbatch_t *b) { (void)b; }

#endif /* AR_BENCH_PEERS_PMR_H */
