/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/arenart_hooks.c - the word before each block, and the per-thread stack
 * of live scopes it is checked against.
 *
 * The word (64 bits, stored XORed with addr_key(p)):
 *   bits  0..23  size asked for (arena blocks); SIZE_BIG for a big block (size in its header)
 *   bits 24..28  slot: index of the scope on this thread's stack (0..30); 31 = malloc block
 *   bits 29..63  generation: low 35 bits of the scope's process-wide number; for malloc blocks
 *                the constant MALLOC_GEN, with size 0
 * Three layouts:
 *   arena block (under AR_HOOKS_BIG_BYTES, in a scope): base from ar_alloc (16-aligned),
 *     p = base + 8, so p is 8 mod 16 like glibc's and costs what glibc's header costs;
 *   big block (AR_HOOKS_BIG_BYTES or more, in a scope): malloc(n + 32) (or a spare) holding
 *     {prev, next, size, word}, p = base + 32, on its scope's list; the scope's end frees
 *     whatever is still listed or keeps it as a spare (why malloc: see "Big blocks" in the
 *     header);
 *   malloc block (no scope): malloc(n + 8), p = base + 8.
 *
 * Generations come from one process-wide counter (one relaxed fetch-and-add per scope in which
 * the hooks allocate, never per block), so two threads do not share a live generation (short
 * of 2^35 scopes passing while one stays open; see the header) and a block freed on the wrong
 * thread does not match the freeing thread's stack. The stack holds
 * the full 64-bit numbers, in increasing order (a scope is pushed only when no deeper one of
 * ours is live, and the counter only grows); the cleanup registered for generation g pops g
 * and anything above it, which covers "ending an outer scope ends the inner ones" too.
 *
 * The fast paths are a few loads and compares on top of ar_alloc's inline bump: the scope
 * depth (one call), the top of the stack, the word. No atomics, no locks. They are separate
 * from the slow paths (noinline) because a single function with both saved registers and
 * checked every case on every call: 84 instructions per jansson allocation under callgrind,
 * against about 50 now and mimalloc's 23 (docs/integrations.md, "Where the time goes").
 */
#include "integrations/jansson/arenart_hooks.h"

#include <arenart.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(NDEBUG) || (defined(AR_DEBUG) && AR_DEBUG >= 1)
#define HK_REPORT 1
#else
#define HK_REPORT 0
#endif

#define SIZE_BITS 24
#define SIZE_MASK ((UINT64_C(1) << SIZE_BITS) - 1)
#define SIZE_BIG SIZE_MASK /* a big block: the size lives in its header */
#define SLOT_SHIFT 24
#define SLOT_MASK UINT64_C(31)
#define SLOT_MALLOC 31u
#define GEN_SHIFT 29
#define GEN_MASK ((UINT64_C(1) << 35) - 1)
#define MALLOC_GEN UINT64_C(0x5A3C96E1B) /* any fixed 35-bit value */
#define WORD 8u
/* Small-block cache (see "Recycling" in the header): footprints 16..512 by 16. Off under ASan,
 * where every freed block goes to ar_free, which poisons it until the scope ends. */
#define CACHE_CLASSES 32
#define CACHE_MAX_FP 512
#if defined(__SANITIZE_ADDRESS__)
#define HK_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HK_CACHE 0
#endif
#endif
#ifndef HK_CACHE
#define HK_CACHE 1
#endif
/* Spare big blocks (see "Big blocks" in the header): at most this many, of these many bytes in
 * all, kept per thread after their scope ended. */
#define SPARE_MAX 4
#define SPARE_BYTES ((size_t)1 << 20)
#define SPARE_MIN ((size_t)32 << 10)

_Static_assert(AR_HOOKS_MAX_SCOPES == SLOT_MALLOC, "slots 0..30 are scopes, 31 is malloc");
_Static_assert(AR_HOOKS_BIG_BYTES < SIZE_BIG, "arena block sizes fit the size field");

/* The header of a big block, just below it; `word` is the usual word (at p - 8). */
typedef struct big {
  struct big *prev, *next; /* the scope's list */
  size_t size;
  uint64_t word;
} big_t;
_Static_assert(sizeof(big_t) == 32, "big blocks stay 16-aligned");

static atomic_uint_fast64_t g_next_gen = 1;

typedef struct ended {
  uint64_t gen; /* full generation of a scope that ended (0: empty slot) */
  bool reported;
} ended_t;

typedef struct hk_tls {
  unsigned nlive;                         /* live scopes with hook blocks */
  unsigned depth_at[AR_HOOKS_MAX_SCOPES]; /* ar_scope_depth() when each was pushed */
  uint64_t gen[AR_HOOKS_MAX_SCOPES];      /* their full generations, increasing */
  uint64_t tag[AR_HOOKS_MAX_SCOPES];      /* pack(gen, slot, 0): a block's word less its size */
  big_t *big[AR_HOOKS_MAX_SCOPES];        /* each scope's big blocks not yet freed */
  ar_arena_t *arena;                      /* the thread arena (set at the first push) */
  ended_t ended[AR_HOOKS_ENDED_RING];     /* recently ended scopes, for late-free reports */
  void *cache[CACHE_CLASSES];             /* freed small blocks of scope cache_slot, by size */
  unsigned cache_slot;                    /* the slot they belong to (valid if cache_live) */
  bool cache_live;
  ar_arena_t *probed; /* the arena `fast` was measured on */
  bool fast;          /* it packs blocks back to back (see probe_fast) */
  unsigned ended_pos;
  big_t *spare[SPARE_MAX]; /* big blocks kept for the next scope (see spare_put) */
  unsigned nspare;
  size_t spare_bytes; /* their sizes, added */
  ar_hooks_stats_t st;
} hk_tls_t;

static __thread hk_tls_t tls;

static inline uint64_t addr_key(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15);
  return (x ^ (x >> 31)) ^ UINT64_C(0xC2B2AE3D27D4EB4F);
}

static inline uint64_t pack(uint64_t gen, unsigned slot, uint64_t size) {
  return ((gen & GEN_MASK) << GEN_SHIFT) | ((uint64_t)slot << SLOT_SHIFT) | size;
}

static inline void put_word(char *p, uint64_t w) {
  w ^= addr_key(p);
  memcpy(p - WORD, &w, sizeof w);
}

static inline uint64_t get_word(const char *p) {
  uint64_t w;
  memcpy(&w, p - WORD, sizeof w);
  return w ^ addr_key(p);
}

static inline unsigned w_slot(uint64_t w) { return (unsigned)((w >> SLOT_SHIFT) & SLOT_MASK); }
static inline uint64_t w_gen(uint64_t w) { return w >> GEN_SHIFT; }

static inline bool w_big(uint64_t w) { return (w & SIZE_MASK) == SIZE_BIG; }
static inline big_t *big_of(char *p) { return (big_t *)(void *)(p - sizeof(big_t)); }

/* The size asked for, of a scope block (arena or big). */
static inline size_t block_size(char *p, uint64_t w) {
  return w_big(w) ? big_of(p)->size : (size_t)(w & SIZE_MASK);
}

static void big_link(unsigned slot, big_t *b) {
  b->prev = NULL;
  b->next = tls.big[slot];
  if (b->next != NULL) b->next->prev = b;
  tls.big[slot] = b;
}

static void big_unlink(unsigned slot, big_t *b) {
  if (b->prev != NULL) b->prev->next = b->next;
  else tls.big[slot] = b->next;
  if (b->next != NULL) b->next->prev = b->prev;
}

/* ---- the scope stack ------------------------------------------------------------------- */

static void remember_ended(uint64_t gen) {
  tls.ended[tls.ended_pos].gen = gen;
  tls.ended[tls.ended_pos].reported = false;
  tls.ended_pos = (tls.ended_pos + 1) % AR_HOOKS_ENDED_RING;
}

static void cache_drop(void) {
  memset(tls.cache, 0, sizeof tls.cache);
  tls.cache_live = false;
}

/* ---- spare big blocks ------------------------------------------------------------------ */

/* Why spares: a scope's end used to free() its big blocks, and glibc then gave the top of its
 * heap back to the OS (its trim threshold), so the next document faulted the same pages in
 * again: 66 faults per libxml2 benchmark document, 16% of its time (docs/integrations.md,
 * "Where the time goes"). A few blocks are kept for the next big requests of this thread
 * instead, the way malloc keeps freed memory; they are malloc blocks, so they are freed at
 * thread exit (a pthread key's destructor). Only blocks of SPARE_MIN or more: the faults came
 * from the big ones, and keeping small ones too made jansson's peak memory at 16 KiB documents
 * vary more (5 runs in 24 124 KiB above the usual figure, against 1 in 24 without spares).
 * Not under ASan, checked mode or the other arenas that check (tls.fast false), where a
 * scope's end frees its big blocks so that a use after the scope is caught. */
static pthread_key_t g_spare_key;
static pthread_once_t g_spare_once = PTHREAD_ONCE_INIT;
static bool g_spare_key_ok;

static void spare_free_all(void *unused) {
  (void)unused;
  for (unsigned i = 0; i < tls.nspare; i++) free(tls.spare[i]);
  tls.nspare = 0;
  tls.spare_bytes = 0;
}

static void spare_key_make(void) {
  g_spare_key_ok = pthread_key_create(&g_spare_key, spare_free_all) == 0;
}

/* Keeps b (its scope has ended) as a spare if there is room, else frees it. */
static void spare_put(big_t *b) {
  if (HK_CACHE && tls.fast && tls.nspare < SPARE_MAX && b->size >= SPARE_MIN &&
      b->size <= SPARE_BYTES - tls.spare_bytes) {
    (void)pthread_once(&g_spare_once, spare_key_make);
    /* Set again whenever it reads NULL: after the destructor ran at thread exit, a later
     * scope end (the thread arena's own destruction) gets the destructor called once more. */
    if (g_spare_key_ok &&
        (pthread_getspecific(g_spare_key) != NULL || pthread_setspecific(g_spare_key, &tls) == 0)) {
      tls.spare[tls.nspare++] = b;
      tls.spare_bytes += b->size;
      return;
    }
  }
  free(b);
}

/* The smallest spare that holds n bytes (each holds at least its last size) and is at most
 * twice that, taken off the list; NULL if none fits. Why the upper bound: a library that grows
 * a buffer by doubling asks for small sizes first, and handing it a spare many times that big
 * only to free it at the next doubling would keep the spare's pages resident for nothing
 * (jansson's dump buffer: the peak memory grew by 3-5% until this bound). */
static big_t *spare_take(size_t n) {
  unsigned best = SPARE_MAX;
  for (unsigned i = 0; i < tls.nspare; i++)
    if (tls.spare[i]->size >= n && tls.spare[i]->size / 2 <= n &&
        (best == SPARE_MAX || tls.spare[i]->size < tls.spare[best]->size))
      best = i;
  if (best == SPARE_MAX) return NULL;
  big_t *b = tls.spare[best];
  tls.spare_bytes -= b->size;
  tls.spare[best] = tls.spare[--tls.nspare];
  return b;
}

static void pop_from(uint64_t gen) {
  while (tls.nlive > 0 && tls.gen[tls.nlive - 1] >= gen) {
    tls.nlive--;
    remember_ended(tls.gen[tls.nlive]);
    for (big_t *b = tls.big[tls.nlive], *next; b != NULL; b = next) {
      next = b->next;
      spare_put(b);
      tls.st.big_frees++;
    }
    tls.big[tls.nlive] = NULL;
    if (tls.cache_live && tls.cache_slot >= tls.nlive) cache_drop();
  }
  /* With no scope of ours live, look the arena up afresh next time (a thread arena destroyed
   * at thread exit may be created again by a later call). */
  if (tls.nlive == 0) tls.arena = NULL;
}

static _Atomic(ar_hooks_scope_end_fn) g_end_fns[AR_HOOKS_MAX_SCOPE_END_FNS];

int ar_hooks_add_scope_end_fn(ar_hooks_scope_end_fn fn) {
  if (fn == NULL) return -1;
  for (unsigned i = 0; i < AR_HOOKS_MAX_SCOPE_END_FNS; i++) {
    ar_hooks_scope_end_fn cur = atomic_load_explicit(&g_end_fns[i], memory_order_acquire);
    if (cur == fn) return 0;
    if (cur == NULL) {
      ar_hooks_scope_end_fn expected = NULL;
      if (atomic_compare_exchange_strong_explicit(&g_end_fns[i], &expected, fn,
                                                  memory_order_acq_rel, memory_order_acquire))
        return 0;
      if (expected == fn) return 0;
    }
  }
  return -1;
}

/* The cleanup: runs when the scope's memory is taken back (scope end, or any rewind past it,
 * reset, release, thread exit). The adapters' functions run first, while the scope is still
 * on the stack, so what they free is recognised as the scope's own. */
static void on_scope_end(void *arg) {
  for (unsigned i = 0; i < AR_HOOKS_MAX_SCOPE_END_FNS; i++) {
    ar_hooks_scope_end_fn fn = atomic_load_explicit(&g_end_fns[i], memory_order_acquire);
    if (fn == NULL) break;
    fn();
  }
  pop_from((uint64_t)(uintptr_t)arg);
}

/* Whether arena a hands out blocks back to back, with no red zone, guard bytes or record in
 * between: then a freed block's whole footprint is the caller's to reuse, and the small-block
 * lists may hand it out again for any request of that footprint. Arenas that check (ASan,
 * checked mode, AR_DEBUG >= 2, the heap flavor) do not: their guards sit right after the size
 * asked for, and they never reuse freed blocks themselves. Two 1-byte allocations tell: 16
 * bytes apart, or not. Measured once per arena (again while the answer is no, which also
 * covers an inconclusive probe at the end of a chunk); the probes go straight back. */
static void probe_fast(ar_arena_t *a) {
  if (tls.probed == a && tls.fast) return;
  tls.probed = a;
  char *p1 = ar_alloc(a, 1), *p2 = ar_alloc(a, 1);
  tls.fast = p1 != NULL && p2 == p1 + 16;
  if (p2 != NULL) ar_free(a, p2, 1);
  if (p1 != NULL) ar_free(a, p1, 1);
}

/* The slot to allocate from at depth d (> 0), pushing a new scope if needed; -1: use malloc;
 * -2: the arena failed. */
static int current_slot(unsigned d) {
  /* A scope whose depth is gone but whose cleanup did not run (its end was refused): treat it
   * as ended, so nothing of it is given back. */
  while (tls.nlive > 0 && tls.depth_at[tls.nlive - 1] > d) pop_from(tls.gen[tls.nlive - 1]);
  if (tls.nlive > 0 && tls.depth_at[tls.nlive - 1] == d) return (int)tls.nlive - 1;
  if (tls.nlive == AR_HOOKS_MAX_SCOPES) return -1;
  ar_arena_t *a = tls.arena != NULL ? tls.arena : ar_thread_arena();
  if (a == NULL) return -2;
  tls.arena = a;
  uint64_t g = atomic_fetch_add_explicit(&g_next_gen, 1, memory_order_relaxed);
  if ((g & GEN_MASK) == 0) g = atomic_fetch_add_explicit(&g_next_gen, 1, memory_order_relaxed);
  if (ar_defer(a, on_scope_end, (void *)(uintptr_t)g) != AR_OK) return -2;
  if (HK_CACHE) probe_fast(a);
  tls.depth_at[tls.nlive] = d;
  tls.gen[tls.nlive] = g;
  tls.tag[tls.nlive] = pack(g, tls.nlive, 0);
  tls.big[tls.nlive] = NULL;
  /* The outer scope's cached blocks stay allocated in it (until it ends); the cache now
   * serves the new scope only, so no block of one scope is handed out in another. */
  cache_drop();
  tls.cache_slot = tls.nlive;
  tls.cache_live = true;
  return (int)tls.nlive++;
}

/* ---- blocks ------------------------------------------------------------------------------ */

static void *malloc_block(size_t n) {
  if (n > SIZE_MAX - 2 * WORD) {
    errno = ENOMEM;
    return NULL;
  }
  char *base = malloc(n + WORD);
  if (base == NULL) return NULL;
  char *p = base + WORD;
  put_word(p, pack(MALLOC_GEN, SLOT_MALLOC, 0));
  tls.st.malloc_allocs++;
  return p;
}

/* Writes the word of an arena block whose allocation starts at base. */
static char *tag_arena(char *base, unsigned slot, size_t n) {
  char *p = base + WORD;
  put_word(p, pack(tls.gen[slot], slot, n));
  return p;
}

/* Fills in, links and tags a big block at b (already sized for n). */
static char *tag_big(big_t *b, unsigned slot, size_t n) {
  char *p = (char *)(b + 1);
  b->size = n;
  big_link(slot, b);
  put_word(p, pack(tls.gen[slot], slot, SIZE_BIG));
  return p;
}

static void *scope_block(unsigned slot, size_t n) {
  if (n >= AR_HOOKS_BIG_BYTES) {
    if (n > SIZE_MAX - sizeof(big_t)) {
      errno = ENOMEM;
      return NULL;
    }
    big_t *b = spare_take(n);
    if (b == NULL) b = malloc(sizeof(big_t) + n);
    if (b == NULL) return NULL;
    tls.st.big_allocs++;
    return tag_big(b, slot, n);
  }
  char *base;
  size_t fp = (n + WORD + 15) & ~(size_t)15;
  if (HK_CACHE && tls.fast && fp <= CACHE_MAX_FP && tls.cache_live && tls.cache_slot == slot &&
      tls.cache[fp / 16 - 1] != NULL) {
    base = tls.cache[fp / 16 - 1];
    memcpy(&tls.cache[fp / 16 - 1], base, sizeof(void *));
    tls.st.arena_allocs++;
    return tag_arena(base, slot, n);
  }
  base = ar_alloc(tls.arena, n + WORD);
  if (base == NULL) return NULL;
  tls.st.arena_allocs++;
  return tag_arena(base, slot, n);
}

/* Everything but the fast path of ar_hooks_malloc: no scope, a scope the hooks have not seen
 * yet (or one of theirs that ended without its cleanup), a big block, a full chunk. */
static __attribute__((noinline)) void *malloc_slow(size_t n) {
  unsigned d = ar_scope_depth();
  if (d == 0) return malloc_block(n);
  int s = current_slot(d);
  if (s == -1) return malloc_block(n);
  if (s < 0) return NULL;
  return scope_block((unsigned)s, n);
}

/* The fast path: a small block in the innermost scope the hooks already know, from the
 * small-block list of its footprint or from the arena's inline bump. It is kept free of calls
 * other than the scope depth and the bump's own slow path, so the compiler saves only two
 * registers for it (see "Where the time goes" in docs/integrations.md). The depth_at check
 * also covers current_slot's pop: depths on the stack increase, so a top equal to d leaves
 * nothing deeper to pop. A non-NULL list head exists only for the innermost live scope, on an
 * arena that packs blocks (cache_drop runs whenever either changes), so the slot test is all
 * the list needs. */
void *ar_hooks_malloc(size_t n) {
  unsigned d = ar_scope_depth();
  unsigned top = tls.nlive - 1; /* wraps when nlive == 0, failing the bound below */
  if (AR_LIKELY(d != 0 && top < AR_HOOKS_MAX_SCOPES && tls.depth_at[top] == d &&
                n < AR_HOOKS_BIG_BYTES)) {
    size_t fp = (n + WORD + 15) & ~(size_t)15;
    char *base;
    if (HK_CACHE && fp <= CACHE_MAX_FP && tls.cache[fp / 16 - 1] != NULL && tls.cache_slot == top) {
      base = tls.cache[fp / 16 - 1];
      memcpy(&tls.cache[fp / 16 - 1], base, sizeof(void *));
    } else {
      base = ar_alloc(tls.arena, n + WORD);
      if (AR_UNLIKELY(base == NULL)) return NULL;
    }
    tls.st.arena_allocs++;
    char *p = base + WORD;
    put_word(p, tls.tag[top] | n);
    return p;
  }
  return malloc_slow(n);
}

char *ar_hooks_strdup(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *p = ar_hooks_malloc(n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}

/* ---- classifying a block ---------------------------------------------------------------- */

typedef enum { K_MALLOC, K_CURRENT, K_OUTER, K_FOREIGN, K_LATE, K_UNKNOWN } kind_t;

static bool is_malloc_word(uint64_t w) {
  return w_slot(w) == SLOT_MALLOC && w_gen(w) == MALLOC_GEN && (w & SIZE_MASK) == 0;
}

static kind_t classify(uint64_t w, unsigned d) {
  unsigned slot = w_slot(w);
  uint64_t gen = w_gen(w);
  if (slot == SLOT_MALLOC) return is_malloc_word(w) ? K_MALLOC : K_UNKNOWN;
  if (slot < tls.nlive && (tls.gen[slot] & GEN_MASK) == gen) {
    if (slot == tls.nlive - 1 && tls.depth_at[slot] == d) return K_CURRENT;
    return K_OUTER;
  }
  for (unsigned i = 0; i < AR_HOOKS_ENDED_RING; i++)
    if (tls.ended[i].gen != 0 && (tls.ended[i].gen & GEN_MASK) == gen) return K_LATE;
  uint64_t next = atomic_load_explicit(&g_next_gen, memory_order_relaxed);
  /* Issued generations are 1..next-1 (mod 2^35 once the counter wraps). */
  if (gen != 0 && (next > GEN_MASK || gen < next)) return K_FOREIGN;
  return K_UNKNOWN;
}

#if HK_REPORT
static void report_late(uint64_t gen, size_t n) {
  for (unsigned i = 0; i < AR_HOOKS_ENDED_RING; i++) {
    ended_t *e = &tls.ended[i];
    if (e->gen != 0 && (e->gen & GEN_MASK) == gen) {
      if (e->reported) return;
      e->reported = true;
      fprintf(stderr,
              AR_HOOKS_LATE_PREFIX
              ": a block of %zu bytes allocated in scope #%llu was freed "
              "after that scope ended; ignored (further late frees from this scope are "
              "counted, not printed)\n",
              n, (unsigned long long)e->gen);
      return;
    }
  }
}
static void report_unknown(const void *p) {
  fprintf(stderr,
          AR_HOOKS_UNKNOWN_PREFIX ": %p was not allocated by these hooks, or its "
                                  "header was overwritten; ignored\n",
          p);
}
#else
static void report_late(uint64_t gen, size_t n) {
  (void)gen;
  (void)n;
}
static void report_unknown(const void *p) { (void)p; }
#endif

/* Counts (and reports) a block that is left alone. */
static void leave_alone(kind_t k, const char *p, uint64_t w) {
  switch (k) {
    case K_OUTER: tls.st.abandoned++; break;
    case K_FOREIGN: tls.st.foreign++; break;
    case K_LATE:
      tls.st.late++;
      report_late(w_gen(w), w_big(w) ? 0 : (size_t)(w & SIZE_MASK));
      break;
    default:
      tls.st.unknown++;
      report_unknown(p);
      break;
  }
}

/* Everything but the fast paths of ar_hooks_free. */
static __attribute__((noinline)) void free_slow(char *p, uint64_t w) {
  kind_t k = classify(w, ar_scope_depth());
  if (w_big(w) && (k == K_CURRENT || k == K_OUTER)) { /* this thread's list: free it now */
    big_t *b = big_of(p);
    big_unlink(w_slot(w), b);
    free(b);
    tls.st.big_frees++;
    return;
  }
  if (k == K_CURRENT) {
    size_t n = (size_t)(w & SIZE_MASK);
    size_t fp = (n + WORD + 15) & ~(size_t)15;
    /* after a deeper scope ended */
    if (HK_CACHE && tls.fast && fp <= CACHE_MAX_FP && !tls.cache_live) {
      tls.cache_live = true;
      tls.cache_slot = w_slot(w); /* the innermost live scope: k == K_CURRENT */
    }
    if (HK_CACHE && tls.fast && tls.cache_live && fp <= CACHE_MAX_FP &&
        tls.cache_slot == w_slot(w)) {
      char *base = p - WORD;
      memcpy(base, &tls.cache[fp / 16 - 1], sizeof(void *));
      tls.cache[fp / 16 - 1] = base;
      tls.st.arena_frees++;
      return;
    }
    if (ar_free(tls.arena, p - WORD, n + WORD) == AR_OK) tls.st.arena_frees++;
    return;
  }
  leave_alone(k, p, w);
}

/* The fast paths: a malloc block, and a small block of the innermost scope (its word less the
 * size equals that scope's tag, which checks slot and generation at once) going onto a live
 * small-block list. The depth is read last, only for a block that passed the rest. */
void ar_hooks_free(void *ptr) {
  if (ptr == NULL) return;
  char *p = ptr;
  uint64_t w = get_word(p);
  if (is_malloc_word(w)) {
    tls.st.malloc_frees++;
    free(p - WORD);
    return;
  }
  unsigned top = tls.nlive - 1; /* wraps when nlive == 0, failing the bound below */
  size_t n = (size_t)(w & SIZE_MASK);
  size_t fp = (n + WORD + 15) & ~(size_t)15;
  if (HK_CACHE && top < AR_HOOKS_MAX_SCOPES && (w & ~SIZE_MASK) == tls.tag[top] &&
      fp <= CACHE_MAX_FP && tls.fast && tls.cache_live && tls.cache_slot == top &&
      tls.depth_at[top] == ar_scope_depth()) {
    char *base = p - WORD;
    memcpy(base, &tls.cache[fp / 16 - 1], sizeof(void *));
    tls.cache[fp / 16 - 1] = base;
    tls.st.arena_frees++;
    return;
  }
  free_slow(p, w);
}

void *ar_hooks_realloc(void *ptr, size_t n) {
  if (ptr == NULL) return ar_hooks_malloc(n);
  char *p = ptr;
  uint64_t w = get_word(p);
  if (is_malloc_word(w)) {
    if (n > SIZE_MAX - 2 * WORD) return NULL;
    char *base = realloc(p - WORD, n + WORD);
    if (base == NULL) return NULL;
    char *q = base + WORD;
    put_word(q, pack(MALLOC_GEN, SLOT_MALLOC, 0));
    return q;
  }
  unsigned d = ar_scope_depth();
  kind_t k = classify(w, d);
  if (k == K_LATE || k == K_UNKNOWN) {
    leave_alone(k, p, w);
    return NULL;
  }
  size_t old = block_size(p, w);
  unsigned slot = w_slot(w);
  if (w_big(w) && (k == K_CURRENT || k == K_OUTER)) { /* stays big, in its own scope */
    if (n > SIZE_MAX - sizeof(big_t)) return NULL;
    big_t *b = big_of(p);
    big_unlink(slot, b);
    big_t *nb = realloc(b, sizeof(big_t) + n);
    if (nb == NULL) {
      big_link(slot, b);
      return NULL;
    }
    if (nb == b) tls.st.in_place++;
    return tag_big(nb, slot, n);
  }
  if (k == K_CURRENT && n < AR_HOOKS_BIG_BYTES) {
    char *base = ar_realloc(tls.arena, p - WORD, old + WORD, n + WORD);
    if (base == NULL) return NULL;
    if (base + WORD == p) tls.st.in_place++;
    else tls.st.arena_allocs++, tls.st.arena_frees++;
    return tag_arena(base, slot, n);
  }
  /* Another scope's block, or a change of header size: a fresh block, then the old one goes
   * wherever ar_hooks_free sends it. */
  char *q = ar_hooks_malloc(n);
  if (q == NULL) return NULL;
  memcpy(q, p, old < n ? old : n);
  ar_hooks_free(p);
  return q;
}

int ar_hooks_thread_stats(ar_hooks_stats_t *out) {
  if (out == NULL) return -1;
  *out = tls.st;
  out->live_scopes = tls.nlive;
  out->small_lists = HK_CACHE && tls.fast;
  return 0;
}
