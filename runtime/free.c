/* SPDX-License-Identifier: MIT */
/*
 * runtime/free.c - giving single blocks back to a serial arena (ar_free, ar_realloc).
 *
 * An arena is a bump allocator; this file adds the one kind of reuse that keeps it one.
 * A freed block is dealt with in the cheapest way that is still exact:
 *   1. the arena's most recent allocation (it ends at the cursor of the current chunk), if no
 *      mark has been taken since: the cursor moves back, so the bytes are not merely reusable
 *      but no longer `used`. A block from before the newest mark is never given back to the
 *      cursor (nor grown in place by ar_realloc): a mark is a position, and a cursor below it
 *      would make the rewind fail, or a block spanning it would be cut in two by the rewind.
 *      Such a block goes on a list (3) like any other;
 *   2. the only allocation of a dedicated large chunk: the chunk goes back to the source at
 *      once (arena.c, ar_large_free_: a large chunk never holds anything else, so nothing can
 *      still point into it). The pointer must be that allocation's start: the chunk records
 *      it, so an interior pointer is refused in every build;
 *   3. anything else: the block goes on a size-class free list (bins.c, which owns the lists
 *      and says how they are searched and split). ar_realloc consults them before it bumps;
 *      the arena's slow path consults them when the current chunk is full.
 *
 * Layering. This file sits above the arena: it calls the core (arena.c), the bins, the
 * tracking vocabulary (track.c), the heap flavor's table (heap.c) and, for dedicated chunks
 * with room to grow, chunks.c, and none of them calls it. The pieces of a give-back that
 * belong to the arena (un-bumping aside) are asked of it: releasing or growing a dedicated
 * chunk, which also keeps the chunk accounting in one place. A chunk with room to grow is
 * chunks.c's to enlarge (its mapping is longer than the chunk, which only chunks.c knows);
 * ar_large_grow_ then finds the room and moves the block's end as for any other chunk.
 *
 * Accounting. `used` is used_retired + the cursor offset; a listed block still counts as used
 * (it lies below some chunk's top) and is reported separately in `recycled`. Un-bumping and
 * releasing a large chunk make `used` shrink, so both take the peak first (arena.c computes
 * the peak lazily, assuming `used` only grows between out-of-line events).
 *
 * Slow-only arenas (checked mode, ASan builds, AR_DEBUG >= 2) exist to catch misuse, so they
 * never reuse: a freed block is quarantined (ASan-poisoned, or junk-filled in checked mode)
 * and stays dead until rewind/reset; ar_realloc always allocates, copies and frees.
 *
 * Checking the pointer. Whether p is the start of a live block can only be answered where
 * the arena records block starts (block_ok below): checked mode walks its records and marks
 * a freed one, so a second free is refused; ASan builds read the shadow (a block's first byte
 * is addressable, the byte before it is red zone or padding); both through track.c; the heap
 * flavor looks in its table (heap.c). Elsewhere the inline path leaves no trace of where
 * blocks start, so AR_DEBUG >= 1 checks only that the bytes lie in live arena memory, and
 * release builds check alignment and dedicated chunks only. Every check runs before anything
 * changes.
 *
 * Thread contract: like every call on a serial arena, owner thread only, nothing concurrent.
 * Calls made from a cleanup callback: ar_free does nothing (the memory is going away anyway,
 * and moving the cursor would re-open the inline path that ar_run_cleanups_ closed); ar_realloc
 * fails with AR_EBUSY like any allocation.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"
#include "runtime/bins.h"
#include "runtime/chunks.h"
#include "runtime/heap.h"
#include "runtime/internal.h"
#include "runtime/track.h"

/* ---- which blocks may be given back ------------------------------------------------- */

/* The live region holding p: an ordinary chunk up to its top (the cursor for the current
 * one) or a dedicated chunk; *to is the region's end. NULL if p is in none. */
static ar_chunk_t *region_of(const ar_arena_t *a, const char *p, char **to) {
  for (ar_chunk_t *c = a->chunks; c != NULL; c = c->next) {
    char *top = c == a->chunks ? a->hot.cur_ : c->top;
    if (p >= c->data && p < top) {
      *to = top;
      return c;
    }
  }
  for (ar_chunk_t *c = a->large; c != NULL; c = c->next) {
    if (p >= c->data && p < c->top) {
      *to = c->top;
      return c;
    }
  }
  return NULL;
}

/*
 * Is p, with `size`, a live block that ar_free/ar_realloc may take? Exact where the arena
 * knows where its blocks start: the heap flavor (its table), checked mode (its records) and
 * ASan builds (a block's first byte is addressable and the byte before it is not: red zones
 * and padding stay poisoned, freed blocks are poisoned again). Elsewhere, at AR_DEBUG >= 1,
 * the block must lie within memory handed out and live; in every build, a pointer into a
 * dedicated chunk must be the start of its one allocation (cheap: free_block walks that list
 * anyway).
 */
static bool block_ok(const ar_arena_t *a, const char *p, size_t size) {
  size_t n = size == 0 ? 1 : size;
  if (AR_HEAP) return ar_heap_block_ok(a, p, n);
  if (!a->checked && !AR_ASAN && AR_DEBUG < 1) {
    /* The whole dedicated chunk, the slack after its allocation included. */
    for (const ar_chunk_t *c = a->large; c != NULL; c = c->next)
      if (p >= (const char *)c->base && p < c->limit)
        return p == c->start && n <= (size_t)(c->top - p);
    return true;
  }
  char *to;
  ar_chunk_t *c = region_of(a, p, &to);
  if (c == NULL || n > (size_t)(to - p)) return false;
  if (c->start != NULL && p != c->start) return false;
  return ar_track_block_live(a, c->data, to, p, n);
}

/* What this build can check of a block handed to ar_free/ar_realloc (arena.h, ar_free). */
static bool plausible(const ar_arena_t *a, const char *p, size_t size) {
  if (((uintptr_t)p & (AR_ALIGN_DEFAULT - 1)) != 0) return false;
  /* Every build: a block in the current chunk ends at or below the cursor (O(1)). */
  if (a->chunks != NULL && p >= a->chunks->data && p < (char *)a->chunks->base + a->chunks->size &&
      (p >= a->hot.cur_ || ar_bins_footprint(size) > (size_t)(a->hot.cur_ - p)))
    return false;
  return block_ok(a, p, size);
}

/* ---- quarantine (slow-only arenas) -------------------------------------------------- */

/* A block that block_ok accepted is quarantined: checked mode and the heap flavor remember
 * it, so that giving it back again is refused; ASan poisons it. */
static void quarantine(ar_arena_t *a, char *p, size_t size) {
  ar_track_junk(a, p, size); /* first: under memcheck its allocation ends next */
  if (AR_HEAP) {
    ar_heap_block_freed(a, p);
  } else if (a->checked) {
    char *to;
    ar_chunk_t *c = region_of(a, p, &to);
    if (c != NULL) ar_track_block_freed(a, c->data, to, p);
  }
  ar_track_hide(a, p, ar_bins_footprint(size));
}

/* The block p, accepted by block_ok with old_size, was shrunk in place by ar_realloc in a
 * slow-only arena: it is a block of new_size bytes now, exactly as if allocated so (arena.h:
 * a write past its end is caught; docs/debugging.md: unpoisoned for exactly its size). Checked
 * mode rewrites the record as one of the new size, with its guard and site after the new end,
 * and covers the rest of the old record with a padding record; ASan poisons from the new end;
 * the heap flavor records the new size and moves its guard. The tail is junk-filled first. */
static void block_shrunk(ar_arena_t *a, char *p, size_t old_size, size_t new_size) {
  ar_track_junk(a, p + new_size, old_size - new_size);
  size_t keep = new_size == 0 ? 1 : new_size; /* a zero-byte request is served as one byte */
  if (keep >= old_size) return;
  if (AR_HEAP) {
    ar_heap_block_shrunk(a, p, keep);
    return;
  }
  if (a->checked) {
    char *to;
    ar_chunk_t *c = region_of(a, p, &to);
    if (c != NULL) ar_track_block_shrunk(a, c->data, to, p, old_size, keep);
    return;
  }
  ar_track_hide(a, p + keep, ar_align_up_(old_size, AR_ALIGN_DEFAULT) - keep);
}

/* ---- giving back -------------------------------------------------------------------- */

/* True if p starts the most recent allocation of the current chunk and no live mark was taken
 * after it (non-slow mode only: in slow-only modes allocations carry red zones or records that
 * un-bumping would orphan). The cursor may then move between p and the block's end: a block
 * from before the newest mark must not give its bytes back to the cursor (a rewind to the mark
 * would find the cursor below it) nor grow over it (the rewind would take the new bytes back
 * from a live block), so it is treated like any other block. */
static bool is_top(const ar_arena_t *a, const char *p, size_t fp) {
  return !a->slow_only && a->chunks != NULL && p >= a->chunks->data &&
         (size_t)(a->hot.cur_ - p) == fp && p < a->hot.cur_ && ar_above_floor_(a, p);
}

/* The large chunk holding p, with the link that points at it; NULL if p is not in one. */
static ar_chunk_t *find_large(ar_arena_t *a, const char *p, ar_chunk_t ***link_out) {
  ar_chunk_t **link = &a->large;
  for (ar_chunk_t *c = a->large; c != NULL; link = &c->next, c = c->next) {
    if (p >= c->data && p < c->top) {
      *link_out = link;
      return c;
    }
  }
  return NULL;
}

/* ar_free after argument checks. */
static void free_block(ar_arena_t *a, char *p, size_t size) {
  size_t fp = ar_bins_footprint(size);
  if (a->slow_only) {
    quarantine(a, p, size);
    return;
  }
  if (is_top(a, p, fp)) {
    update_peak(a);
    a->hot.cur_ = p;
    sync_hot_end(a);
    return;
  }
  ar_chunk_t **link;
  ar_chunk_t *c = find_large(a, p, &link);
  if (c != NULL) {
    ar_large_free_(a, link, c);
    return;
  }
  ar_bins_push(&a->bins, p, fp);
}

int ar_free(ar_arena_t *a, void *p, size_t size) {
  if (a == NULL) return ar_set_error_(AR_EINVAL);
  check_unleased(a); /* even for NULL: the call names a leased arena (lease.h) */
  if (p == NULL) return AR_OK;
  check_owner(a);
  if (size > AR_MAX_ALLOC_SIZE || !plausible(a, (const char *)p, size))
    return ar_set_error_(AR_EINVAL);
  if (a->in_cleanup) return AR_OK;
  free_block(a, (char *)p, size);
  a->mutations++; /* a mark after this is a new save point (marks.c) */
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
  return AR_OK;
}

/* ---- resizing ----------------------------------------------------------------------- */

static void *realloc_block(ar_arena_t *a, void *p, size_t old_size, size_t new_size);

void *ar_realloc(ar_arena_t *a, void *p, size_t old_size, size_t new_size) {
  if (a == NULL) return ar_fail_null_(AR_EINVAL);
  if (p == NULL) return ar_alloc(a, new_size);
  void *q = realloc_block(a, p, old_size, new_size);
  if (q != NULL) a->mutations++; /* a mark after this is a new save point */
  return q;
}

/* ar_realloc of a non-NULL block. Growing tries, in order: the footprint it already has, the
 * cursor (the most recent allocation), the block's dedicated chunk (its slack, the reserve
 * behind it, or a resize of the chunk by its source: mremap for OS pages, so a big vector
 * doubles without a copy), a recycled block, and last a new allocation with a copy: past the
 * dedicated threshold into a chunk of its own, with room to grow (chunks.c, "Room to grow")
 * when the block already had a chunk of its own, so that the next doublings are in place. */
static void *realloc_block(ar_arena_t *a, void *p, size_t old_size, size_t new_size) {
  check_owner(a);
  if (a->in_cleanup) return ar_fail_null_(AR_EBUSY);
  if (new_size > AR_MAX_ALLOC_SIZE) return ar_fail_null_(AR_EOVERFLOW);
  if (old_size > AR_MAX_ALLOC_SIZE || !plausible(a, (const char *)p, old_size))
    return ar_fail_null_(AR_EINVAL);
  char *old = (char *)p;
  size_t old_fp = ar_bins_footprint(old_size), new_fp = ar_bins_footprint(new_size);

  if (new_size <= old_size) {
    /* Shrinking keeps p in every mode; the cursor moves back when p is the top block. */
    if (a->slow_only) {
      block_shrunk(a, old, old_size, new_size); /* its guard/red zone follow the new end */
    } else if (new_fp < old_fp) {
      if (is_top(a, old, old_fp)) {
        update_peak(a);
        a->hot.cur_ = old + new_fp;
        sync_hot_end(a);
      }
      /* Otherwise the tail stays with the block until rewind/reset: listing it would let an
       * ar_free with the old size (a caller error, arena.h) list the same bytes twice. */
    }
    ar_assert_expensive(ar_arena_check(a) == AR_OK);
    return p;
  }

  if (!a->slow_only) {
    /* The block's footprint already covers the new size (it is rounded up to 16). */
    if (new_fp <= old_fp) return p;
    /* Growing the most recent allocation: extend it if the current chunk has room. Addresses
     * are below 2^63 and new_fp below 2^62, so the sum cannot wrap. */
    if (is_top(a, old, old_fp) && new_fp <= (size_t)(a->limit - old)) {
      a->hot.cur_ = old + new_fp;
      sync_hot_end(a);
      ar_assert_expensive(ar_arena_check(a) == AR_OK);
      return p;
    }
  }
  bool regrows = false; /* the block has a dedicated chunk: a new one gets room to grow */
  if (!a->slow_only) {
    /* The only allocation of a dedicated chunk grows with its chunk, without a copy
     * (arena.c, ar_large_grow_), when the chunk has room or its source can resize it. A
     * chunk mapped with room to grow is made large enough here first (chunks.c, "Room to
     * grow"), so ar_large_grow_ finds the room and never resizes its mapping itself. A
     * dedicated chunk without one whose block grows again past its slack, to 512 KiB or less,
     * moves into a chunk with room to grow instead (below): a vector that goes on doubling. */
    ar_chunk_t **link;
    ar_chunk_t *c = find_large(a, old, &link);
    regrows = c != NULL;
    /* The chunk bytes the grown block needs, as ar_large_grow_ counts them. */
    size_t bytes = c != NULL ? (size_t)(c->start - (char *)c->base) + new_fp : 0;
    if (c != NULL && bytes > c->size) {
      if (ar_chunks_reserved(a, c)) {
        c = ar_chunks_grow_reserved(a, link, c, bytes);
      } else if (new_fp > a->large_threshold && ar_chunks_would_reserve(a, bytes) &&
                 ar_chunks_room_possible(a, bytes)) {
        /* Past its slack: a copy into a chunk with room to grow, if the block will fit there
         * with room to spare and the limit can hold both chunks for the copy; else the source
         * resizes the chunk (mremap), which needs only the added bytes. */
        c = NULL;
      }
    }
    void *q = c != NULL ? ar_large_grow_(a, link, c, new_size) : NULL;
    if (q != NULL) {
      ar_assert_expensive(ar_arena_check(a) == AR_OK);
      return q;
    }
  }
  void *q = NULL;
  if (!a->slow_only && new_fp <= a->large_threshold) {
    q = ar_bins_pop(&a->bins, new_fp);
    if (q != NULL) a->hot.nalloc_++;
  } else if (!a->slow_only) {
    /* Past a chunk_size chunk's dedicated threshold: a chunk of its own, where the next
     * growth needs no copy, even where grown chunks would take the block inline. If that
     * chunk cannot be had (the limit, the source), ar_alloc below may still fit the block
     * into a chunk the arena holds; a failed attempt changed nothing. */
    q = ar_alloc_dedicated_(a, new_size, regrows); /* room to grow if it grows again */
  }
  if (q == NULL) q = ar_alloc(a, new_size);
  if (q == NULL) return NULL; /* ar_alloc set the error; the old block is untouched */
  memcpy(q, old, old_size);
  free_block(a, old, old_size);
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
  return q;
}
