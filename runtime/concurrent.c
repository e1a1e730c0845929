/* SPDX-License-Identifier: MIT */
/*
 * runtime/concurrent.c - ConcurrentArena: many threads, one arena, no locks.
 *
 * Three levels, each with the least synchronization that keeps it correct:
 *   1. A thread bumps through its own span, kept in the arena's slot for the thread's index.
 *      No shared write at all and, since the bump is inline in concurrent.h, no call: this is
 *      the common case.
 *   2. When its span is spent, a thread carves the next one from the shared current chunk with
 *      one relaxed fetch-and-add on the chunk's cursor. Spans are disjoint by the atomicity of
 *      that add alone; nothing is published through it, so relaxed is enough. The thread whose
 *      add straddles the end keeps the partial tail if it is big enough, else leaves it in the
 *      chunk's `tail` word, where a carver that finds the chunk spent looks, before refilling,
 *      for the bytes it needs (taken with a CAS). So a chunk loses at most one small tail, and
 *      a call that then fails to refill has used nothing up: a failed call leaves the arena
 *      as it found it.
 *   3. When the chunk is spent, threads race to install a new one. If the last reset kept
 *      chunks, the new one is the next kept chunk (below). Otherwise each acquires a chunk from
 *      the source and tries one strong CAS on `current` from the exhausted chunk it saw. The
 *      winner's chunk is published by that CAS (release: its header fields are visible to any
 *      thread that loads `current` with acquire) and pushed on the arena's list of all chunks;
 *      every loser hands its chunk straight back to the source and carves from the winner's.
 *      Nothing leaks, whoever wins.
 *
 * At the limit. Each refiller reserves its chunk's bytes under limit_bytes before it calls the
 * source, so with room for one chunk only the first of the racers gets a reservation; the
 * others must not report AR_ELIMIT, because the winner's chunk will serve them. A refiller
 * whose reservation fails therefore waits (yielding) until `current` moves on from the chunk
 * it saw, or until no reservation is in flight; then, if nothing was given back meanwhile, the
 * limit is truly reached. Two words make that exact: `reserving` counts the threads that may
 * hold a reservation not yet settled (kept as a chunk, or given back), each counted before it
 * reserves, so a thread that sees its bytes sees it counted; `given_back` counts give-backs,
 * so a waiter knows whether bytes it was refused were freed while it waited. A thread is
 * counted only while it reserves or holds a reservation, never while it waits, so waiters do
 * not wait for one another, and a waiter retries only when someone installed a chunk or gave
 * bytes back. This is the only wait in allocation, and only at the limit: the alternatives
 * were a spurious AR_ELIMIT, or racers reserving more than the limit for a moment. Dedicated
 * chunks (and the heap flavor) reserve the same way, and wait the same way, for a racer that
 * may give its bytes back.
 *
 * Kept chunks. Reset keeps up to retain_bytes of ordinary chunks, as the serial arena does, so
 * that an arena reset every round allocates from memory it already has instead of faulting in
 * fresh pages (with the default source a 64 MiB round overflowed the 16 MiB process-wide pool
 * and went back to munmap every time). Reset is quiescent, so it simply builds a chain of them,
 * each header holding its successor and its place; the chain is read-only until the next
 * reset. The chunk to install in place of an exhausted `seen` is always seen's successor (the
 * first kept chunk in place of NULL), so every refiller that saw the same chunk proposes the
 * same one: one CAS wins, a loser holds nothing to give back, and a stale `seen` just fails.
 * There is no ABA: a kept chunk is installed only in place of its predecessor, `current` moves
 * forward along the chain, and no installed chunk is freed before the next reset, so `current`
 * never holds the same chunk twice between resets (and nothing is ever pushed on the chain
 * between them). One word, kept_state = (installed, available), orders installations against
 * give-backs: a refiller claims kept chunk k by moving `installed` from k to k + 1 (if it is
 * already past k, another thread claimed it and this one only helps with the CAS on
 * `current`), and a dedicated request over the limit (once the source has given its chunk, so
 * that a failed request gives nothing back) gives back the last waiting chunk by moving
 * `available` down, then finds it by walking the chain (chunks below `available` are never
 * given back, so the walk touches only live ones; rare, so O(kept) is fine). A chunk is
 * installed only if claimed below `available` and given back only at or above it, never both.
 * Relaxed is enough for that word: it decides ownership, and what the chunks hold was written
 * by the reset, which quiescence orders before every refill. When the chain is used up, or its
 * rest was given back, refills go to the source as above. Kept chunks stay in capacity and in
 * the registry's figures (the arena holds them), never on the list of all chunks.
 *
 * Where a thread's span lives. Each arena owns one 64-byte slot per thread that has allocated
 * from it, so arenas never compete for a thread's cache of spans: a thread may interleave any
 * number of arenas and holds at most one span in each. (An earlier design kept 16 spans per
 * thread in TLS, picked by a per-arena stamp; two arenas that picked the same slot evicted each
 * other at every switch, abandoning a span each time.) The thread is known by a dense index,
 * taken from a process-wide bitmap at its first out-of-line call and given back by a pthread
 * key destructor when it exits, so the arena can find the slot by plain indexing: the public
 * prefix of the arena is a table from index to slot, which the inline path reads with one
 * load. Entries of threads that have no slot here point at a shared all-NULL slot, in which
 * nothing fits, so the inline path needs no test for it and can never write it. Slots come in
 * blocks of 16, allocated when the first thread of a block needs one and installed with a CAS
 * (the loser frees its own). A thread that takes over an exited thread's index takes over its
 * spans too: they are still this arena's memory, and the bitmap's release/acquire pair orders
 * the old owner's writes before the new owner's. When all AR_CTHREADS_ - 1 indices are taken,
 * a thread has no span and every allocation carves an exact piece from the shared chunk:
 * slower, never unbounded. Reset empties every slot (the table keeps pointing at them);
 * destroy frees the blocks. Builds that must see every call never write the table.
 *
 * Tools. While a chunk is in use, all of it is usable (ASan builds send every call here
 * anyway, and the heap flavor mallocs each allocation). What makes a read after reset or
 * destroy visible is that the chunk is hidden. A chunk reset keeps, the arena hides itself:
 * poisoned (ASan) and NOACCESS (memcheck) from the reset until a carve shows the piece it
 * takes (each carved piece is exclusively its carver's, so showing it races with nobody; a
 * whole-chunk show at installation could mark data another thread already wrote undefined).
 * Every other chunk goes back to the source, and a chunk pool, the default source, hides each
 * chunk it keeps until it hands it out again (chunkpool.c). The arena does not hide what it
 * gives back, because it does not know what the source does next: a source may unmap the
 * chunk (shadow left poisoned would then fault whatever is mapped there later) or hand it to a
 * consumer that does not unpoison; so a kept chunk is shown again before it goes back.
 *
 * Reset and destroy need quiescence (see concurrent.h). At AR_DEBUG >= 1 the out-of-line path
 * counts itself in and out of `inflight`, and reset aborts if it finds anyone inside or if
 * someone enters while it runs.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/concurrent.h"
#include "arenart/stats.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"

/* Kept chunks are hidden from the program between reset and reuse, as the chunk pool hides
 * the chunks it holds (chunkpool.c); each carved piece is shown again. */
#if !AR_ASAN && !AR_TSAN && defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define kept_vg_hide(p, n) (void)VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define kept_vg_show(p, n) (void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#endif
#endif
#ifndef kept_vg_hide
#define kept_vg_hide(p, n) ((void)(p), (void)(n))
#define kept_vg_show(p, n) ((void)(p), (void)(n))
#endif

#define AR_SLOT_BLOCK 16 /* slots per lazily allocated block: 1 KiB */
#define AR_SLOT_BLOCKS (AR_CTHREADS_ / AR_SLOT_BLOCK)
#define AR_CHUNK_HEADER 128 /* header rounded so data starts 64-byte aligned */
#define AR_MAX_CCHUNK ((size_t)1 << 30)

typedef struct ar_cchunk {
  ar_atomic(size_t) cursor; /* offset of the next free byte in data */
  char pad[64 - sizeof(size_t)];
  struct ar_cchunk *next_all;
  void *base;
  size_t size;   /* bytes from the source */
  char *data;
  size_t usable; /* bytes in data */
  /* Kept chunks (level 3, kept): written only at reset, read-only until the next one. */
  struct ar_cchunk *next_kept; /* the kept chunk installed after this one; NULL: none */
  uint32_t kept_idx;           /* this chunk's place in the kept chain */
  bool dedicated;              /* a dedicated chunk: never kept */
  /* Offset of the left tail (level 2): usable until the carve that straddles the end leaves
   * the tail it could not use here; later carvers take from it with a CAS. */
  ar_atomic(size_t) tail;
} ar_cchunk_t;
_Static_assert(sizeof(ar_cchunk_t) <= AR_CHUNK_HEADER, "the header fits before the data");

struct ar_concurrent {
  struct ar_concurrent_hot_ hot; /* first: the inline fast path reads its table from here */
  _Alignas(64) ar_atomic(ar_cchunk_t *) current;
  char pad[64 - sizeof(void *)]; /* read by every refill: away from the counters below */
  ar_atomic(struct ar_cslot_ *) blocks[AR_SLOT_BLOCKS]; /* slots of indices 16k .. 16k+15 */
  ar_atomic(ar_cchunk_t *) all; /* chunks from the source this round (kept ones are not here) */
  ar_cchunk_t *kept;             /* chain of kept chunks, built by reset; NULL: none */
  /* (installed << 32) | available: kept chunks [0, installed) were installed as current, and
   * [installed, available) wait; a dedicated request under the limit gives back the last. */
  ar_atomic(uint64_t) kept_state;
  ar_atomic(struct ar_hnode *) heap; /* heap flavor: every live allocation */
  ar_atomic(size_t) capacity;
  ar_atomic(size_t) carved;
  ar_atomic(size_t) nchunks;
  ar_atomic(size_t) nlarge;
  ar_atomic(uint64_t) nalloc_slow;
  ar_atomic(int) inflight;
  ar_atomic(int) resetting;
  /* At the limit (level 3): threads that may hold a reservation not yet settled (kept as a
   * chunk, or given back), and how many reservations were ever given back. */
  ar_atomic(size_t) reserving;
  ar_atomic(uint64_t) given_back;
  ar_source_t source;
  size_t chunk_size;
  size_t span_size;
  size_t limit_bytes;
  size_t retain_bytes;
  struct ar_reg_node *reg;
  uint64_t created_ns;
  char name[32];
};

typedef struct ar_cslot_ ar_slot_t;

/* Heap flavor: one record per allocation, kept apart from the block so that a tool sees the
 * block's exact malloc'd boundaries. */
typedef struct ar_hnode {
  struct ar_hnode *next;
  void *p;
  size_t size;
} ar_hnode_t;

/* The thread's index, which the inline fast path reads. initial-exec: general-dynamic TLS
 * would cost a __tls_get_addr call per allocation; one word fits the static TLS surplus even
 * when the library is a shared object. */
__thread unsigned ar_cthread_ __attribute__((tls_model("initial-exec")));

/* Builds that must see every allocation (debug level 2, ASan, the heap flavor) never point a
 * table entry at a real slot, so the inline test always fails and every call comes here. */
#if AR_DEBUG >= 2 || AR_ASAN || AR_HEAP
#define AR_CONCURRENT_SLOW_ONLY 1
#else
#define AR_CONCURRENT_SLOW_ONLY 0
#endif

_Static_assert(offsetof(struct ar_concurrent, hot) == 0, "the fast path reads the table at 0");
_Static_assert(sizeof(ar_slot_t) == 64, "one slot per cache line");
_Static_assert(AR_CTHREADS_ % 64 == 0, "whole bitmap words");

/* Every entry of a table starts here. Nothing fits in it (end_ - cur_ == 0), so the inline path
 * never writes it: const, so that a write would fault. */
static const ar_slot_t empty_slot;

/* ---- thread indices ------------------------------------------------------------------ */

/* Bit i set: index i is taken. Index 0 means "none" and is never handed out. */
static ar_atomic(uint64_t) index_bits[AR_CTHREADS_ / 64] = {1};
static pthread_key_t index_key;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static bool index_key_made; /* written once, inside pthread_once */

/* The key's destructor: the thread is exiting, its index is free again. */
static void index_put(void *v) {
  unsigned i = (unsigned)(uintptr_t)v;
  ar_cthread_ = 0; /* a later destructor that allocates takes a fresh index */
  /* release: the spans this thread leaves in its slots pass, with the index, to whoever takes
   * it next (that CAS acquires) */
  atomic_fetch_and_explicit(&index_bits[i / 64], ~((uint64_t)1 << (i % 64)),
                            memory_order_release);
}

static void make_index_key(void) {
  index_key_made = pthread_key_create(&index_key, index_put) == 0;
}

/* Gives the calling thread an index, or 0 if every index is taken (or the key could not be
 * made): the thread then has no spans, and every allocation is an exact piece. */
static unsigned index_take(void) {
  pthread_once(&index_once, make_index_key);
  if (!index_key_made) return 0;
  for (unsigned w = 0; w < AR_CTHREADS_ / 64; w++) {
    /* relaxed: a guess at the free bits; the CAS below checks it */
    uint64_t bits = ar_load_relaxed(&index_bits[w]);
    while (bits != UINT64_MAX) {
      unsigned b = (unsigned)__builtin_ctzll(~bits);
      /* acquire: the previous holder's writes to this index's slots (see index_put) */
      if (ar_cas_weak_acq_rel(&index_bits[w], &bits, bits | ((uint64_t)1 << b))) {
        unsigned i = w * 64 + b;
        if (pthread_setspecific(index_key, (void *)(uintptr_t)i) != 0) {
          index_put((void *)(uintptr_t)i);
          return 0;
        }
        ar_cthread_ = i;
        return i;
      }
    }
  }
  return 0;
}

/* The slot of index i in this arena, its block allocated on first use; NULL when out of
 * memory (the caller then carves exact pieces, as for a thread with no index). */
static ar_slot_t *slot_of(ar_concurrent_t *ca, unsigned i) {
  ar_atomic(ar_slot_t *) *bp = &ca->blocks[i / AR_SLOT_BLOCK];
  /* acquire: pairs with the installing CAS, so the block's zeroed slots are visible */
  ar_slot_t *b = ar_load_acquire(bp);
  if (b == NULL) {
    ar_slot_t *fresh = (ar_slot_t *)aligned_alloc(64, sizeof(ar_slot_t) * AR_SLOT_BLOCK);
    if (fresh == NULL) return NULL;
    memset(fresh, 0, sizeof(ar_slot_t) * AR_SLOT_BLOCK);
    ar_slot_t *expected = NULL;
    if (ar_cas_strong_acq_rel(bp, &expected, fresh)) {
      b = fresh;
    } else {
      free(fresh); /* another thread of the block installed one first */
      b = expected;
    }
  }
  return &b[i % AR_SLOT_BLOCK];
}

/* ---- chunks ---------------------------------------------------------------------------- */

static void *fail(ar_error_t err) {
  ar_set_error_(err);
  return NULL;
}

/* What reserve() found. */
typedef enum { RESERVED, MOVED, OVER_LIMIT } reserve_t;

/* Reserves `bytes` of capacity under the limit (see "At the limit" above). RESERVED: the
 * caller holds the bytes and, under a limit, is counted in `reserving` until it calls
 * settle(). OVER_LIMIT: the limit would be exceeded with no reservation in flight and nothing
 * given back meanwhile. MOVED (refills only): `current` moved on from `seen`, so the caller
 * need not refill. */
static reserve_t reserve(ar_concurrent_t *ca, size_t bytes, bool refilling, ar_cchunk_t *seen) {
  if (ca->limit_bytes == 0) {
    ar_fetch_add_relaxed(&ca->capacity, bytes); /* relaxed: a quantity, it publishes nothing */
    return RESERVED;
  }
  for (;;) {
    /* acquire: pairs with unreserve's bump, read before the capacity it may have lowered */
    uint64_t given = ar_load_acquire(&ca->given_back);
    /* Counted before reserving: a thread that sees our bytes in `capacity` sees us here. */
    ar_fetch_add_acq_rel(&ca->reserving, 1);
    /* acquire (and the CAS's): a reserver's count, made before its bytes, becomes visible */
    size_t cap = ar_load_acquire(&ca->capacity);
    bool fits;
    while ((fits = cap + bytes <= ca->limit_bytes && cap + bytes >= cap) &&
           !ar_cas_weak_acq_rel(&ca->capacity, &cap, cap + bytes)) {
    }
    if (fits) return RESERVED;
    ar_fetch_sub_acq_rel(&ca->reserving, 1);
    /* Over the limit, but perhaps only because of reservations in flight: a refill racing
     * ours (its chunk will serve us) or a request that will give its bytes back. Wait until
     * none is in flight (the waiting is the one place allocation is not lock-free). */
    for (;;) {
      /* acquire: a settled reserver's CAS on `current` and its give-back are visible */
      if (refilling && ar_load_acquire(&ca->current) != seen) return MOVED;
      if (ar_load_acquire(&ca->reserving) == 0) break;
      AR_STRESS_POINT();
      sched_yield();
    }
    if (refilling && ar_load_acquire(&ca->current) != seen) return MOVED;
    if (ar_load_acquire(&ca->given_back) == given) return OVER_LIMIT;
    /* bytes were given back since we looked: try again */
  }
}

/* The caller's reservation is settled: kept as a chunk, or given back. */
static void settle(ar_concurrent_t *ca) {
  /* acq_rel: our CAS on `current`, or our give-back, comes before a waiter's zero */
  if (ca->limit_bytes != 0) ar_fetch_sub_acq_rel(&ca->reserving, 1);
}

static void unreserve(ar_concurrent_t *ca, size_t bytes) {
  ar_fetch_sub_relaxed(&ca->capacity, bytes);
  /* acq_rel: after the bytes; a waiter that sees the bump tries again (see reserve) */
  if (ca->limit_bytes != 0) ar_fetch_add_acq_rel(&ca->given_back, 1);
}

static ar_cchunk_t *chunk_init(void *base, size_t bytes);

/* A chunk of `bytes` from the source, reserved under the limit: the caller settles it. NULL
 * with *err set: AR_ELIMIT, AR_ENOMEM, or AR_OK when `current` moved on from `seen` (refills
 * only; reserve's MOVED). */
static ar_cchunk_t *chunk_new(ar_concurrent_t *ca, size_t bytes, bool refilling,
                              ar_cchunk_t *seen, ar_error_t *err) {
  reserve_t r = reserve(ca, bytes, refilling, seen);
  if (r != RESERVED) {
    *err = r == MOVED ? AR_OK : AR_ELIMIT;
    return NULL;
  }
  void *base = ca->source.acquire(ca->source.ctx, bytes);
  if (base == NULL) {
    unreserve(ca, bytes);
    settle(ca);
    *err = AR_ENOMEM;
    return NULL;
  }
  return chunk_init(base, bytes);
}

/* The header of a chunk of `bytes` at base, fresh from the source. */
static ar_cchunk_t *chunk_init(void *base, size_t bytes) {
  ar_cchunk_t *c = (ar_cchunk_t *)(void *)ar_align_up_((uintptr_t)base, 64);
  ar_store_relaxed(&c->cursor, 0);
  c->next_all = NULL;
  c->base = base;
  c->size = bytes;
  c->data = (char *)c + AR_CHUNK_HEADER;
  c->usable = (size_t)((char *)base + bytes - c->data);
  ar_store_relaxed(&c->tail, c->usable); /* no left tail yet */
  c->next_kept = NULL;
  c->kept_idx = 0;
  c->dedicated = false;
  ar_unpoison_(c->data, c->usable);
  return c;
}

static void chunk_free(ar_concurrent_t *ca, ar_cchunk_t *c) {
  void *base = c->base;
  size_t size = c->size;
  unreserve(ca, size);
  /* A kept chunk is hidden: give it back as it came (the source may unmap it, or write in it) */
  ar_unpoison_(base, size);
  kept_vg_show(base, size);
  ca->source.release(ca->source.ctx, base, size);
}

/* Gives the last waiting kept chunk back to the source, if one waits; any thread. */
static bool kept_give_back(ar_concurrent_t *ca) {
  /* relaxed: the chain was written at reset, which quiescence orders before us */
  uint64_t st = ar_load_relaxed(&ca->kept_state);
  do {
    if ((uint32_t)(st >> 32) >= (uint32_t)st) return false;
    /* relaxed: the CAS only decides who owns the chunk; it publishes nothing */
  } while (!ar_cas_weak_relaxed(&ca->kept_state, &st, st - 1));
  uint32_t last = (uint32_t)st - 1;
  ar_cchunk_t *c = ca->kept; /* chunks before `last` are never given back this round */
  while (c->kept_idx != last) c = c->next_kept;
  ar_global_chunk_released_(ca->reg, c->size);
  chunk_free(ca, c);
  return true;
}

/* Claims kept chunk k, the successor of the current chunk a refiller saw, for installation.
 * True also when another thread claimed it first (the caller then helps install it); false
 * when k was given back or does not exist. */
static bool kept_claim(ar_concurrent_t *ca, uint32_t k, bool *mine) {
  *mine = false;
  uint64_t st = ar_load_relaxed(&ca->kept_state);
  for (;;) {
    uint32_t installed = (uint32_t)(st >> 32), avail = (uint32_t)st;
    if (installed > k) return true;
    if (k >= avail) return false;
    /* relaxed: the CAS only orders claims against give-backs; it publishes nothing */
    if (ar_cas_weak_relaxed(&ca->kept_state, &st, st + ((uint64_t)1 << 32))) {
      *mine = true;
      return true;
    }
  }
}

static void push_all(ar_concurrent_t *ca, ar_cchunk_t *c) {
  ar_cchunk_t *head = ar_load_relaxed(&ca->all);
  do {
    c->next_all = head; /* read only at reset, after quiescence */
  } while (!ar_cas_weak_release(&ca->all, &head, c));
  ar_global_chunk_acquired_(ca->reg, c->size);
}

/* Installs a new current chunk in place of `seen` (NULL or exhausted). */
static ar_error_t refill(ar_concurrent_t *ca, ar_cchunk_t *seen) {
  /* A kept chunk first: the successor of `seen` in the chain (the first one after a reset).
   * Plain reads: `seen` stays alive until reset, and its link was written at the last one. */
  ar_cchunk_t *k = seen != NULL ? seen->next_kept : ca->kept;
  bool mine;
  if (k != NULL && kept_claim(ca, seen != NULL ? seen->kept_idx + 1 : 0, &mine)) {
    ar_cchunk_t *expected = seen;
    /* Fails only when another thread installed k first (or `seen` is stale): k is in. */
    (void)ar_cas_strong_acq_rel(&ca->current, &expected, k);
    if (mine) ar_fetch_add_relaxed(&ca->nchunks, 1);
    return AR_OK;
  }
  ar_error_t err;
  ar_cchunk_t *c = chunk_new(ca, ca->chunk_size, true, seen, &err);
  if (c == NULL) {
    /* Out of memory or limit, but someone else may have refilled meanwhile. */
    if (err == AR_OK || ar_load_acquire(&ca->current) != seen) return AR_OK;
    return err;
  }
  AR_STRESS_POINT();
  ar_cchunk_t *expected = seen;
  if (ar_cas_strong_acq_rel(&ca->current, &expected, c)) {
    AR_STRESS_POINT();
    push_all(ca, c);
    ar_fetch_add_relaxed(&ca->nchunks, 1);
  } else {
    chunk_free(ca, c); /* lost the race: the winner's chunk serves us too */
  }
  settle(ca);
  return AR_OK;
}

/* Shows a carved piece: a kept chunk is hidden until carved. */
static char *shown(ar_cchunk_t *c, size_t off, size_t n) {
  ar_unpoison_(c->data + off, n);
  kept_vg_show(c->data + off, n);
  return c->data + off;
}

/* Takes between `need` and `want` bytes from chunk c's left tail, if it holds `need`. */
static char *tail_take(ar_cchunk_t *c, size_t need, size_t want, size_t *got) {
  /* relaxed: the CAS decides who owns which bytes; nothing was written in them to publish */
  size_t off = ar_load_relaxed(&c->tail);
  for (;;) {
    size_t n = c->usable - off;
    if (n < need) return NULL;
    if (n > want) n = want;
    if (ar_cas_weak_relaxed(&c->tail, &off, off + n)) {
      *got = n;
      return shown(c, off, n);
    }
  }
}

/* Carves between `need` and `want` bytes (multiples of 64) from the shared chunk. */
static char *carve(ar_concurrent_t *ca, size_t need, size_t want, size_t *got) {
  for (;;) {
    /* acquire: pairs with the installing CAS, so the chunk's header fields are visible */
    ar_cchunk_t *c = ar_load_acquire(&ca->current);
    if (c != NULL) {
      size_t off = ar_fetch_add_relaxed(&c->cursor, want);
      size_t n = off + want <= c->usable ? want : off < c->usable ? c->usable - off : 0;
      if (n >= need) { /* n < want: we straddle the end and keep the tail */
        *got = n;
        return shown(c, off, n);
      }
      /* The straddler (one per chunk) leaves a tail too small for it; anyone else may find
       * what it needs there. relaxed: before this store the tail is empty, so no CAS on it
       * races the store; the CAS decides ownership. */
      if (n > 0) ar_store_relaxed(&c->tail, off);
      else {
        char *p = tail_take(c, need, want, got);
        if (p != NULL) return p;
      }
    }
    ar_error_t err = refill(ca, c);
    if (err != AR_OK) return (char *)fail(err);
  }
}

/* Would giving back every waiting kept chunk make room for `bytes` under the limit? */
static bool kept_make_room(ar_concurrent_t *ca, size_t bytes) {
  /* relaxed: an estimate; the reservation after each give-back decides */
  uint64_t st = ar_load_relaxed(&ca->kept_state);
  uint32_t installed = (uint32_t)(st >> 32), avail = (uint32_t)st;
  size_t waiting = avail > installed ? (size_t)(avail - installed) * ca->chunk_size : 0;
  size_t cap = ar_load_relaxed(&ca->capacity);
  size_t rest = cap > waiting ? cap - waiting : 0;
  return rest <= ca->limit_bytes && bytes <= ca->limit_bytes - rest;
}

/* Over the limit while kept chunks wait: they give way, one by one, as in the serial arena
 * (arena.c, "Limits"), once the source has given the new chunk, so that a source that fails
 * leaves them; until then the source holds both. Not called when giving all of them back would
 * not make room. Returns the chunk reserved (the caller settles it), or NULL with *err. */
static ar_cchunk_t *chunk_by_give_back(ar_concurrent_t *ca, size_t bytes, ar_error_t *err) {
  void *base = ca->source.acquire(ca->source.ctx, bytes);
  if (base == NULL) {
    *err = AR_ENOMEM;
    return NULL;
  }
  while (reserve(ca, bytes, false, NULL) != RESERVED) {
    if (!kept_give_back(ca)) { /* others took the room meanwhile */
      ca->source.release(ca->source.ctx, base, bytes);
      *err = AR_ELIMIT;
      return NULL;
    }
  }
  return chunk_init(base, bytes);
}

static void *alloc_dedicated(ar_concurrent_t *ca, size_t n, size_t align) {
  size_t bytes = n + AR_CHUNK_HEADER + 64 + (align > 64 ? align : 0);
  if (bytes < n) return fail(AR_EOVERFLOW);
  ar_error_t err;
  ar_cchunk_t *c = chunk_new(ca, bytes, false, NULL, &err);
  if (c == NULL && err == AR_ELIMIT && kept_make_room(ca, bytes))
    c = chunk_by_give_back(ca, bytes, &err);
  if (c == NULL) return fail(err);
  c->dedicated = true;
  char *p = (char *)ar_align_up_((uintptr_t)c->data, align);
  ar_store_relaxed(&c->cursor, c->usable); /* nothing else carves from a dedicated chunk */
  push_all(ca, c);
  settle(ca);
  ar_fetch_add_relaxed(&ca->nlarge, 1);
  ar_fetch_add_relaxed(&ca->carved, n);
  return p;
}

/* Heap flavor: a malloc of exactly `size` bytes (posix_memalign when over-aligned), its record
 * pushed on the arena's list with a release CAS (a Treiber push: allocations stay lock-free;
 * only reset/destroy, which are quiescent, pop). Capacity and used are the bytes malloc'd for
 * live allocations, under the same limit; chunks counts them; the source is never called. */
static void *heap_alloc(ar_concurrent_t *ca, size_t size, size_t align) {
  if (size == 0) size = 1; /* a unique pointer, as in the chunked flavor */
  if (reserve(ca, size, false, NULL) != RESERVED) return fail(AR_ELIMIT);
  ar_hnode_t *h = (ar_hnode_t *)malloc(sizeof *h);
  void *p = NULL;
  if (h != NULL) {
    if (align <= AR_ALIGN_DEFAULT) p = malloc(size);
    else if (posix_memalign(&p, align, size) != 0) p = NULL;
  }
  if (p == NULL) {
    free(h);
    unreserve(ca, size);
    settle(ca);
    return fail(AR_ENOMEM);
  }
  settle(ca);
  h->p = p;
  h->size = size;
  ar_hnode_t *head = ar_load_relaxed(&ca->heap);
  do {
    h->next = head; /* read only by reset/destroy/owns, which the caller orders after us */
  } while (!ar_cas_weak_release(&ca->heap, &head, h));
  ar_fetch_add_relaxed(&ca->carved, size);
  ar_fetch_add_relaxed(&ca->nchunks, 1);
  ar_global_chunk_acquired_(ca->reg, size);
  return p;
}

static void heap_free_all(ar_concurrent_t *ca) {
  ar_hnode_t *h = ar_load_acquire(&ca->heap);
  while (h != NULL) {
    ar_hnode_t *next = h->next;
    ar_global_chunk_released_(ca->reg, h->size);
    unreserve(ca, h->size);
    free(h->p);
    free(h);
    h = next;
  }
  ar_store_relaxed(&ca->heap, NULL);
}

static void *alloc_slow(ar_concurrent_t *ca, size_t size, size_t align) {
  if (!ar_is_pow2_(align)) return fail(AR_EALIGN);
  if (size > AR_MAX_ALLOC_SIZE || align > AR_MAX_ALLOC_SIZE) return fail(AR_EOVERFLOW);
  if (size == 0) size = 1;
  if (align < AR_ALIGN_DEFAULT) align = AR_ALIGN_DEFAULT;
  size_t n = ar_align_up_(size, AR_ALIGN_DEFAULT);
  if (AR_HEAP) return heap_alloc(ca, size, align);

  unsigned i = ar_cthread_;
  if (i == 0) i = index_take();
  ar_slot_t *s = i != 0 ? slot_of(ca, i) : NULL;
  /* Plain accesses: only this thread (the index's holder) reads its entry, and reset and
   * destroy are ordered after it by quiescence. From now on the inline path finds the span.
   * Written once, not at every refill: neighbours' entries share the cache line. */
  if (s != NULL && !AR_CONCURRENT_SLOW_ONLY && ca->hot.slot_[i] != s) ca->hot.slot_[i] = s;

  /* Room in the current span after aligning? Over-aligned requests get here with a live span
   * that may still have space, and so does every request in slow-only builds. */
  if (s != NULL && s->cur_ != NULL) {
    uintptr_t p = ar_align_up_((uintptr_t)s->cur_, align);
    if (p + n <= (uintptr_t)s->end_) {
      s->cur_ = (char *)(p + n);
      return (void *)p;
    }
  }
  size_t chunk_usable = ca->chunk_size - AR_CHUNK_HEADER;
  if (align > 64 || n > chunk_usable / 4) return alloc_dedicated(ca, n, align);
  size_t got;
  if (s == NULL || n > ca->span_size / 2) {
    /* Medium, or a thread with no slot: an exact piece, leaving any span as it is. */
    size_t want = ar_align_up_(n, 64);
    char *p = carve(ca, want, want, &got);
    if (p != NULL) ar_fetch_add_relaxed(&ca->carved, got);
    return p;
  }
  char *span = carve(ca, ar_align_up_(n, 64), ca->span_size, &got);
  if (span == NULL) return NULL;
  ar_fetch_add_relaxed(&ca->carved, got);
  s->cur_ = span + n; /* the old span's tail, smaller than n, is given up */
  s->end_ = span + got;
  return span;
}

/* Everything the inline fast path in concurrent.h does not handle: a NULL arena, no span here
 * yet (first use, after a reset), a spent span, over-alignment, and every call in slow-only
 * builds, which repeat the bump here against slots the table does not show. */
void *ar_concurrent_alloc_slow_(ar_concurrent_t *ca, size_t size, size_t align) {
  if (AR_UNLIKELY(ca == NULL)) return fail(AR_EINVAL);
#if AR_DEBUG >= 1
  ar_fetch_add_acq_rel(&ca->inflight, 1);
  if (AR_UNLIKELY(ar_load_acquire(&ca->resetting)))
    ar_fatal_("ConcurrentArena '%s' (%p): allocation while it is being reset or destroyed; "
              "reset requires quiescence (see arenart/concurrent.h)",
              ca->name, (void *)ca);
#endif
  void *p = alloc_slow(ca, size, align);
  if (AR_LIKELY(p != NULL)) ar_fetch_add_relaxed(&ca->nalloc_slow, 1); /* successes only */
#if AR_DEBUG >= 1
  ar_fetch_sub_acq_rel(&ca->inflight, 1);
#endif
  return p;
}

void *ar_concurrent_calloc(ar_concurrent_t *ca, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return fail(ca ? AR_EOVERFLOW : AR_EINVAL);
  void *p = ar_concurrent_alloc(ca, total);
  if (p != NULL) memset(p, 0, total);
  return p;
}

ar_concurrent_t *ar_concurrent_create(const ar_options_t *opts) {
  ar_options_t o; /* options.c reads the caller's struct by its size */
  if (ar_options_read_(opts, &o) != AR_OK) return (ar_concurrent_t *)fail(AR_EINVAL);
  if (o.chunk_size == 0) o.chunk_size = AR_DEFAULT_CHUNK_SIZE;
  if (o.chunk_size < AR_MIN_CHUNK_SIZE * 4 || o.chunk_size > AR_MAX_CCHUNK)
    return (ar_concurrent_t *)fail(AR_EINVAL);
  o.chunk_size = ar_align_up_(o.chunk_size, 64);
  const ar_source_t *src = o.source ? o.source : ar_default_source_(o.chunk_size);
  if (src->acquire == NULL || src->release == NULL) return (ar_concurrent_t *)fail(AR_EINVAL);
  /* 64-aligned, so that `current` has its cache line to itself (sizeof is a multiple of 64) */
  ar_concurrent_t *ca = (ar_concurrent_t *)aligned_alloc(64, sizeof *ca);
  if (ca == NULL) return (ar_concurrent_t *)fail(AR_ENOMEM);
  memset(ca, 0, sizeof *ca);
  for (unsigned i = 0; i < AR_CTHREADS_; i++)
    ca->hot.slot_[i] = (ar_slot_t *)(uintptr_t)&empty_slot;
  ca->source = *src;
  ca->chunk_size = o.chunk_size;
  /* A span is a quarter of a chunk (16 KiB by default, and at most): one fetch-and-add buys
   * hundreds of small allocations, so the shared cursor's cache line moves rarely; a 1/16
   * span measured 1.96x a per-thread arena at 2 threads against 1.84x for this size. */
  size_t span = ar_align_up_(o.chunk_size / 4, 64);
  ca->span_size = span < 256 ? 256 : span > 16384 ? 16384 : span;
  ca->limit_bytes = o.limit_bytes;
  /* AR_RETAIN_AUTO (the default): the serial arena's decaying peak is not built here yet, so
   * a fixed AR_CONCURRENT_AUTO_RETAIN; keeping "everything" would pin a burst's memory. */
  size_t keep = o.retain_bytes == AR_RETAIN_AUTO ? AR_CONCURRENT_AUTO_RETAIN : o.retain_bytes;
  ca->retain_bytes = AR_HEAP ? 0 : keep;
  ca->created_ns = ar_now_ns_();
  if (o.name != NULL) strncpy(ca->name, o.name, sizeof ca->name - 1);
  ca->reg = ar_registry_add_(AR_KIND_CONCURRENT, ca, ca->name, -1);
  if (ca->reg == NULL) {
    free(ca);
    return (ar_concurrent_t *)fail(AR_ENOMEM);
  }
  ar_global_arena_created_();
  return ca;
}

/* Quiescent: appends x to the new kept chain if `keep` bytes of ordinary chunks allow, else
 * gives it back to the source. */
static void keep_or_free(ar_concurrent_t *ca, ar_cchunk_t *x, size_t keep, uint32_t *nkept,
                         ar_cchunk_t ***tail) {
  if (!x->dedicated && *nkept < UINT32_MAX && keep / ca->chunk_size > *nkept) {
    ar_store_relaxed(&x->cursor, 0); /* relaxed: quiescence orders it before the next carve */
    ar_store_relaxed(&x->tail, x->usable);
    x->next_kept = NULL;
    x->kept_idx = (*nkept)++;
    **tail = x;
    *tail = &x->next_kept;
    ar_poison_(x->data, x->usable); /* hidden until carved again (see Tools above) */
    kept_vg_hide(x->data, x->usable);
  } else {
    ar_global_chunk_released_(ca->reg, x->size);
    chunk_free(ca, x);
  }
}

/* Quiescent: keeps up to `keep` bytes of ordinary chunks as the new kept chain (the chunks
 * kept before first, then this round's from the source) and gives every other chunk back. */
static void release_all(ar_concurrent_t *ca, size_t keep) {
  heap_free_all(ca);
  uint32_t nold = (uint32_t)ar_load_relaxed(&ca->kept_state); /* given back ones lie past it */
  uint32_t nkept = 0;
  ar_cchunk_t *head = NULL, **tail = &head;
  ar_cchunk_t *x = ca->kept;
  for (uint32_t i = 0; i < nold; i++) {
    ar_cchunk_t *next = x->next_kept;
    keep_or_free(ca, x, keep, &nkept, &tail);
    x = next;
  }
  for (x = ar_load_acquire(&ca->all); x != NULL;) {
    ar_cchunk_t *next = x->next_all;
    keep_or_free(ca, x, keep, &nkept, &tail);
    x = next;
  }
  ca->kept = head;
  ar_store_relaxed(&ca->kept_state, (uint64_t)nkept);
  ar_store_relaxed(&ca->all, NULL);
  ar_store_relaxed(&ca->current, NULL);
  ar_store_relaxed(&ca->carved, 0);
  ar_store_relaxed(&ca->nchunks, 0);
  ar_store_relaxed(&ca->nlarge, 0);
}

static void begin_exclusive(ar_concurrent_t *ca, const char *what) {
#if AR_DEBUG >= 1
  ar_store_release(&ca->resetting, 1);
  if (ar_load_acquire(&ca->inflight) != 0)
    ar_fatal_("ConcurrentArena '%s' (%p): %s while another thread is allocating; it requires "
              "quiescence (see arenart/concurrent.h)",
              ca->name, (void *)ca, what);
#else
  (void)ca;
  (void)what;
#endif
}

static void end_exclusive(ar_concurrent_t *ca) {
#if AR_DEBUG >= 1
  ar_store_release(&ca->resetting, 0);
#else
  (void)ca;
#endif
}

void ar_concurrent_reset(ar_concurrent_t *ca) {
  if (ca == NULL) return;
  begin_exclusive(ca, "reset");
  release_all(ca, ca->retain_bytes);
  /* Every span pointed into a chunk just given back: empty the slots (the table keeps
   * pointing at them). Relaxed: quiescence orders this before any later allocation. */
  for (unsigned k = 0; k < AR_SLOT_BLOCKS; k++) {
    ar_slot_t *b = ar_load_relaxed(&ca->blocks[k]);
    for (unsigned j = 0; b != NULL && j < AR_SLOT_BLOCK; j++) b[j].cur_ = b[j].end_ = NULL;
  }
  end_exclusive(ca);
}

void ar_concurrent_destroy(ar_concurrent_t *ca) {
  if (ca == NULL) return;
  begin_exclusive(ca, "destroy");
  release_all(ca, 0);
  for (unsigned k = 0; k < AR_SLOT_BLOCKS; k++) free(ar_load_relaxed(&ca->blocks[k]));
  ar_registry_remove_(ca->reg);
  ar_global_arena_destroyed_(ca->created_ns);
  free(ca);
}

int ar_concurrent_stats(ar_concurrent_t *ca, ar_stats_t *out) {
  if (ca == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  memset(out, 0, sizeof *out);
  out->used = ar_load_relaxed(&ca->carved);
  out->capacity = ar_load_relaxed(&ca->capacity);
  out->peak = out->used;
  out->chunks = ar_load_relaxed(&ca->nchunks);
  out->large_chunks = ar_load_relaxed(&ca->nlarge);
  uint64_t st = ar_load_relaxed(&ca->kept_state);
  uint32_t installed = (uint32_t)(st >> 32), avail = (uint32_t)st;
  out->spare_chunks = avail > installed ? avail - installed : 0;
  out->allocs = ar_load_relaxed(&ca->nalloc_slow);
  return AR_OK;
}

bool ar_concurrent_owns(ar_concurrent_t *ca, const void *p) {
  if (ca == NULL || p == NULL) return false;
  const char *q = (const char *)p;
  for (ar_cchunk_t *c = ar_load_acquire(&ca->all); c != NULL; c = c->next_all)
    if (q >= c->data && q < c->data + c->usable) return true;
  /* Kept chunks count once installed: those not yet reused hold nothing handed out. Relaxed:
   * the caller orders owns after the allocations it asks about (no race, see the header). */
  uint64_t ks = ar_load_relaxed(&ca->kept_state);
  uint32_t installed = (uint32_t)(ks >> 32), available = (uint32_t)ks;
  uint32_t n = installed < available ? installed : available;
  ar_cchunk_t *c = ca->kept;
  for (uint32_t i = 0; i < n && c != NULL; i++, c = c->next_kept)
    if (q >= c->data && q < c->data + c->usable) return true;
  for (ar_hnode_t *h = ar_load_acquire(&ca->heap); h != NULL; h = h->next)
    if (q >= (const char *)h->p && q < (const char *)h->p + h->size) return true;
  return false;
}

void ar_concurrent_foreach_chunk_(ar_concurrent_t *ca, void (*fn)(void *, size_t, void *),
                                  void *ctx) {
  if (ca == NULL || fn == NULL) return;
  for (ar_cchunk_t *c = ar_load_acquire(&ca->all); c != NULL; c = c->next_all)
    fn(c->base, c->size, ctx);
  uint32_t n = (uint32_t)ar_load_relaxed(&ca->kept_state);
  ar_cchunk_t *c = ca->kept;
  for (uint32_t i = 0; i < n; i++, c = c->next_kept) fn(c->base, c->size, ctx);
  for (ar_hnode_t *h = ar_load_acquire(&ca->heap); h != NULL; h = h->next) fn(h->p, h->size, ctx);
}
