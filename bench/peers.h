/* SPDX-License-Identifier: MIT */
/*
 * bench/peers.h - every allocator under test behind the same small set of inline functions,
 * so that workloads.inc can be stamped out once per allocator with its calls inlined (an
 * indirect call per allocation would cost more than arenart's whole fast path and flatten
 * every ratio).
 *
 * For an allocator X (a C identifier), this header defines:
 *   X_t                     per-thread state (an arena, a pool, a heap, ...)
 *   X_na(w)                 NULL if X runs workload w; else why not ("-..." = omit silently)
 *   X_global_init(w, thr)   process-wide state for workload w (shared arenas, allocators)
 *   X_init(c, opt)/X_fini   per-thread state; opt->cap bounds what one reset cycle holds
 *   X_alloc(c, n)           one allocation (the fast path under test)
 *   X_reset(c, last)        free everything since the last reset; `last` heads the chain
 *                           the workload threads through the objects (each object's first
 *                           word points at the previous one), which is how the malloc family
 *                           finds what to free without a side array
 *   X_round_reset()         scaling workload: thread 0, all others parked at a barrier
 *   X_grow(c, p, old, new)  realloc-like growth for the container workload
 *   X_lbegin/X_lalloc/X_lend  a Larson batch: begun and filled on one thread, ended (all of
 *                           it freed) on another
 *
 * Which binary holds which allocator (the driver picks the binary):
 *   bench           arenart, arthread, arconcur, bump, libc (glibc), apr, talloc, obstack
 *   bench_jemalloc  libc (= jemalloc: the binary links -ljemalloc, whose malloc wins)
 *   bench_tcmalloc  libc (= tcmalloc_minimal)
 *   bench_mimalloc  libc (= mimalloc), miheap (mi_heap_new/malloc/destroy)
 */
#ifndef AR_BENCH_PEERS_H
#define AR_BENCH_PEERS_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/bench.h"

typedef struct ctx_opt {
  size_t cap;   /* most bytes one reset cycle of one thread holds (bump buffer size) */
  int prefault; /* bump: touch the buffer up front (the "physical limit" has no faults) */
  size_t keep;  /* arenart: retain_bytes when nonzero (hot path: keep the whole region, as
                   the malloc family keeps freed memory, so batches measure allocation and
                   not page faults); 0 = the defaults */
} ctx_opt_t;

/* A Larson batch: a producer thread fills it, a consumer thread reads and frees it. */
enum { LARSON_K = 1000 };
typedef struct lbatch {
  void *h;                            /* the batch's own arena / pool (NULL for malloc) */
  _Alignas(16) unsigned char hs[128]; /* in-place handle storage (an obstack) */
  int n;
  void *obj[LARSON_K];
  uint16_t size[LARSON_K];
  char *ref_base, *ref_cur; /* the Larson reference's region (worker.c, ref_larson_thread) */
} lbatch_t;

/* Out of line and cold, always: inlined into a timed loop, its fprintf and exit changed how
 * the compiler laid out the bump loop that the per-request goals divide by (0.74 ns per
 * allocation became 0.98-1.02 when a new caller tipped the inliner). */
__attribute__((noinline, cold, noreturn, unused)) static void bench_oom(const char *who) {
  fprintf(stderr, "bench worker: %s: allocation failed\n", who);
  exit(3);
}

/* Frees a chain built by the workloads: each object's first word points to the previous. */
#define FREE_CHAIN(last, freefn)  \
  do {                            \
    void *p_ = (last);            \
    while (p_ != NULL) {          \
      void *prev_ = *(void **)p_; \
      freefn(p_);                 \
      p_ = prev_;                 \
    }                             \
  } while (0)

/* ---- the malloc family: glibc, jemalloc, tcmalloc or mimalloc, whichever this binary's
 *      malloc is. Every object is freed one by one; cross-thread frees in Larson. ---------- */

typedef struct libc_t {
  int unused;
} libc_t;
enum { libc_frees_each = 1 };
static inline const char *libc_na(workload_t w) {
  (void)w;
  return NULL;
}
static inline int libc_global_init(workload_t w, int threads) {
  (void)w, (void)threads;
  return 0;
}
static inline void libc_global_fini(void) {}
static inline int libc_init(libc_t *c, const ctx_opt_t *o) {
  (void)c, (void)o;
  return 0;
}
static inline void libc_fini(libc_t *c) { (void)c; }
static inline void *libc_alloc(libc_t *c, size_t n) {
  (void)c;
  return malloc(n);
}
static inline void libc_reset(libc_t *c, void *last) {
  (void)c;
  FREE_CHAIN(last, free);
}
static inline void libc_round_reset(void) {}
static inline void *libc_grow(libc_t *c, void *p, size_t old, size_t n) {
  (void)c, (void)old;
  return realloc(p, n);
}
static inline int libc_lbegin(lbatch_t *b) {
  b->h = NULL;
  return 0;
}
static inline void *libc_lalloc(lbatch_t *b, size_t n) {
  (void)b;
  return malloc(n);
}
static inline void libc_lend(lbatch_t *b) {
  for (int i = 0; i < b->n; i++) free(b->obj[i]);
}

/* ---- the bump pointer: the limit of allocation code (its buffer is in 4 KiB pages; huge pages
 *      run faster beyond the caches). One mmap'd buffer per thread, a cursor, no
 *      chunks, no bookkeeping, no way to hand memory to another thread. ------------------- */

typedef struct bump_t {
  char *base, *cur, *end;
  size_t cap;
} bump_t;
enum { bump_frees_each = 0 };
static inline const char *bump_na(workload_t w) {
  if (w == W_LARSON) return "a bare bump pointer cannot hand a batch to another thread";
  return NULL;
}
static inline int bump_global_init(workload_t w, int threads) {
  (void)w, (void)threads;
  return 0;
}
static inline void bump_global_fini(void) {}
static inline int bump_init(bump_t *c, const ctx_opt_t *o) {
  c->cap = o->cap;
  void *m = mmap(NULL, c->cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (m == MAP_FAILED) return -1;
  c->base = c->cur = (char *)m;
  c->end = c->base + c->cap;
  if (o->prefault) memset(c->base, 0, c->cap);
  return 0;
}
static inline void bump_fini(bump_t *c) { munmap(c->base, c->cap); }
static inline void *bump_alloc(bump_t *c, size_t n) {
  n = (n + 15) & ~(size_t)15; /* the same 16-byte rounding and alignment as ar_alloc */
  if ((size_t)(c->end - c->cur) < n) return NULL;
  char *p = c->cur;
  c->cur = p + n;
  return p;
}
static inline void bump_reset(bump_t *c, void *last) {
  (void)last;
  c->cur = c->base;
}
static inline void bump_round_reset(void) {}
static inline void *bump_grow(bump_t *c, void *p, size_t old, size_t n) {
  void *q = bump_alloc(c, n);
  if (q != NULL && p != NULL) memcpy(q, p, old);
  return q;
}
static inline int bump_lbegin(lbatch_t *b) {
  (void)b;
  return -1;
}
static inline void *bump_lalloc(lbatch_t *b, size_t n) {
  (void)b, (void)n;
  return NULL;
}
static inline void bump_lend(lbatch_t *b) { (void)b; }

#endif /* AR_BENCH_PEERS_H */
