/* SPDX-License-Identifier: MIT */
/*
 * runtime/concurrent_internal.h - the ConcurrentArena's layout and the calls between its files:
 *   concurrent.c        the allocation path (the three levels) and the public calls;
 *   concurrent_chunks.c chunks under the limit and the chain of kept chunks;
 *   concurrent_slots.c  thread indices and the per-arena table of span slots.
 * Calls go one way: concurrent.c uses the other two, which use neither each other nor it.
 */
#ifndef ARENART_CONCURRENT_INTERNAL_H
#define ARENART_CONCURRENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arenart/concurrent.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"

/* Kept chunks are hidden from the program between reset and reuse (ar_hide_/ar_show_ of
 * runtime/internal.h), as the chunk pool hides the chunks it holds; each carved piece is shown
 * again. */

#define AR_SLOT_BLOCK 16 /* slots per lazily allocated block: 1 KiB */
#define AR_SLOT_BLOCKS (AR_CTHREADS_ / AR_SLOT_BLOCK)
#define AR_CHUNK_HEADER 128 /* header rounded so data starts 64-byte aligned */
#define AR_MAX_CCHUNK ((size_t)1 << 30)
#define AR_CSPAN_MAX ((size_t)256 << 10) /* a span grows up to this (concurrent.c) */

typedef struct ar_cchunk {
  ar_atomic(size_t) cursor; /* offset of the next free byte in data */
  char pad[64 - sizeof(size_t)];
  struct ar_cchunk *next_all;
  void *base;
  size_t size; /* bytes from the source */
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
  ar_cchunk_t *kept;            /* chain of kept chunks, built by reset; NULL: none */
  ar_cchunk_t **kept_at;        /* the same chunks by kept_idx (written by reset only) */
  uint32_t kept_room;           /* entries kept_at can hold */
  /* (installed << 32) | available: kept chunks [0, installed) were installed as current, and
   * [installed, available) wait; a dedicated request under the limit gives back the last. */
  ar_atomic(uint64_t) kept_state;
  ar_atomic(struct ar_hnode *) heap; /* heap flavor: every live allocation */
  ar_atomic(size_t) capacity;
  ar_atomic(size_t) carved;
  ar_atomic(size_t) nchunks;
  ar_atomic(size_t) installed; /* bytes of the ordinary chunks installed this round */
  ar_atomic(size_t) nlarge;
  ar_atomic(uint64_t) nalloc_slow;
  ar_atomic(int) inflight;
  ar_atomic(int) resetting;
  /* At the limit (level 3): threads that may hold a reservation not yet settled (kept as a
   * chunk, or given back), and how many reservations were ever given back. */
  ar_atomic(size_t) reserving;
  ar_atomic(uint64_t) given_back;
  ar_source_t source;       /* chunks of chunk_size */
  ar_source_t large_source; /* dedicated chunks, ordinary ones of other sizes (source_for) */
  size_t chunk_size;
  size_t span_size; /* a thread's first span in a round; each next one doubles (concurrent.c) */
  bool grows;       /* new chunks from the source grow with capacity (concurrent.c) */
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

_Static_assert(offsetof(struct ar_concurrent, hot) == 0, "the fast path reads the table at 0");
_Static_assert(sizeof(ar_slot_t) == 64, "one slot per cache line");
_Static_assert(AR_CTHREADS_ % 64 == 0, "whole bitmap words");

/* ---- concurrent_slots.c ------------------------------------------------------------------- */

/* Gives the calling thread an index (also stored in ar_cthread_), or 0 if every index is taken
 * or the thread-exit key could not be made: the thread then has no spans, and every allocation
 * is an exact piece. Call only when ar_cthread_ is 0. */
AR_INTERNAL unsigned ar_cthread_take_(void);
/* Points every entry of a new arena's table at the shared empty slot. */
AR_INTERNAL void ar_cslots_init_(ar_concurrent_t *ca);
/* The slot of index i in this arena, its block allocated on first use; NULL when out of
 * memory (the caller then carves exact pieces, as for a thread with no index). */
AR_INTERNAL ar_slot_t *ar_cslot_of_(ar_concurrent_t *ca, unsigned i);
/* Quiescent: empties every slot (reset; the table keeps pointing at them). */
AR_INTERNAL void ar_cslots_empty_(ar_concurrent_t *ca);
/* Quiescent: frees the slot blocks (destroy). */
AR_INTERNAL void ar_cslots_free_(ar_concurrent_t *ca);

/* ---- concurrent_chunks.c ------------------------------------------------------------------ */

/* What ar_cc_reserve_ found. */
typedef enum { RESERVED, MOVED, OVER_LIMIT } reserve_t;

/* Reserves `bytes` of capacity under the limit. RESERVED: the caller holds the bytes and,
 * under a limit, is counted in `reserving` until it calls ar_cc_settle_. OVER_LIMIT: the limit
 * would be exceeded with no reservation in flight and nothing given back meanwhile. MOVED
 * (refills only): `current` moved on from `seen`, so the caller need not refill. */
AR_INTERNAL reserve_t ar_cc_reserve_(ar_concurrent_t *ca, size_t bytes, bool refilling,
                                     ar_cchunk_t *seen);
/* The caller's reservation is settled: kept as a chunk, or given back. */
AR_INTERNAL void ar_cc_settle_(ar_concurrent_t *ca);
/* Gives `bytes` of capacity back (and tells waiters, under a limit). */
AR_INTERNAL void ar_cc_unreserve_(ar_concurrent_t *ca, size_t bytes);
/* A chunk of `bytes` from the source, reserved under the limit: the caller settles it. NULL
 * with *err set: AR_ELIMIT, AR_ENOMEM, or AR_OK when `current` moved on from `seen` (refills
 * only; reserve's MOVED). */
AR_INTERNAL ar_cchunk_t *ar_cc_chunk_new_(ar_concurrent_t *ca, size_t bytes, bool refilling,
                                          ar_cchunk_t *seen, ar_error_t *err);
/* Unreserves chunk c and gives it back to the source, shown again if it was hidden. */
AR_INTERNAL void ar_cc_chunk_free_(ar_concurrent_t *ca, ar_cchunk_t *c);
/* Pushes c on the arena's list of all chunks and counts it in the global figures. */
AR_INTERNAL void ar_cc_push_all_(ar_concurrent_t *ca, ar_cchunk_t *c);
/* Claims kept chunk k, the successor of the current chunk a refiller saw, for installation.
 * True also when another thread claimed it first (the caller then helps install it, *mine
 * false); false when k was given back or does not exist. */
AR_INTERNAL bool ar_cc_kept_claim_(ar_concurrent_t *ca, uint32_t k, bool *mine);
/* Would giving back every waiting kept chunk make room for `bytes` under the limit? */
AR_INTERNAL bool ar_cc_kept_make_room_(ar_concurrent_t *ca, size_t bytes);
/* Over the limit while kept chunks wait: a chunk of `bytes` from the source, for which kept
 * chunks give way one by one. Returns the chunk reserved (the caller settles it), or NULL with
 * *err (AR_ENOMEM, AR_ELIMIT). */
AR_INTERNAL ar_cchunk_t *ar_cc_chunk_by_give_back_(ar_concurrent_t *ca, size_t bytes,
                                                   ar_error_t *err);
/* Quiescent: keeps up to `keep` bytes of ordinary chunks as the new kept chain (the chunks
 * kept before first, then this round's from the source), gives every other chunk back, and
 * empties the arena's chunk state (current, the list of all chunks, the counters). */
AR_INTERNAL void ar_cc_keep_chunks_(ar_concurrent_t *ca, size_t keep);

#endif /* ARENART_CONCURRENT_INTERNAL_H */
