/* SPDX-License-Identifier: MIT */
/*
 * runtime/recycle.c - giving single blocks back to a serial arena (ar_free, ar_realloc).
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
 *      once (a large chunk never holds anything else, so nothing can still point into it).
 *      The pointer must be that allocation's start: the chunk records it, so an interior
 *      pointer is refused in every build;
 *   3. anything else: the block goes on a size-class free list, threaded through the freed
 *      memory itself ({next, size} in its first 16 bytes, which every block has because
 *      footprints are multiples of 16 and at least 16).
 * Footprints are align16(max(size, 1)): exactly what the bump path consumed after the block's
 * start (any alignment padding before the block stays lost; it is a few bytes at most).
 *
 * Classes (AR_RECYCLE_CLASSES = 48): 0..31 hold footprints 16, 32, ..., 512 exactly; 32..47
 * hold [1 KiB, 2 KiB), [2 KiB, 4 KiB), ..., the last one everything from 32 MiB up. A block
 * goes in the largest class <= its footprint. A request looks first in the largest class <=
 * its footprint (a bounded first-fit scan, since a power-of-two class mixes sizes), then takes
 * the head of the first non-empty larger class, whose every block fits. The part of a block
 * beyond the request is split off and goes back on a list, so a big freed vector buffer feeds
 * many small requests instead of being wasted. There is no coalescing: neighbouring free
 * blocks stay separate until a rewind or reset takes everything back.
 *
 * The lists are consulted by ar_realloc before it bumps, and by the out-of-line allocation
 * path only when the current chunk is full (arena.c: ar_alloc_slow_), never by the inline
 * fast path. Rewind and reset forget them (ar_recycle_forget_): a listed block may lie above
 * a mark, and after a rewind its memory belongs to the cursor again.
 *
 * Accounting. `used` is used_retired + the cursor offset; a listed block still counts as used
 * (it lies below some chunk's top) and is reported separately in `recycled`. Un-bumping and
 * releasing a large chunk make `used` shrink, so both take the peak first (arena.c computes
 * the peak lazily, assuming `used` only grows between out-of-line events).
 *
 * Slow-only arenas (checked mode, ASan builds, AR_DEBUG >= 2) exist to catch misuse, so they
 * never reuse: a freed block is quarantined (ASan-poisoned, or junk-filled with 0xDD in checked
 * mode) and stays dead until rewind/reset; ar_realloc always allocates, copies and frees.
 *
 * Checking the pointer. Whether p is the start of a live block can only be answered where
 * the arena records block starts (arena.c, ar_block_ok_): checked mode walks its records
 * (and marks a freed one, so a second free is refused), ASan builds read the shadow (a block's
 * first byte is addressable, the byte before it is red zone or padding), the heap flavor
 * looks in its table. Elsewhere the inline path leaves no trace of where blocks start, so
 * AR_DEBUG >= 1 checks only that the bytes lie in live arena memory, and release builds check
 * alignment and dedicated chunks only. Every check runs before anything changes.
 *
 * Thread contract: like every call on a serial arena, owner thread only, nothing concurrent.
 * Calls made from a cleanup callback: ar_free does nothing (the memory is going away anyway,
 * and moving the cursor would re-open the inline path that run_cleanups closed); ar_realloc
 * fails with AR_EBUSY like any allocation.
 */
#include <stdint.h>
#include <string.h>

#include "runtime/arena_internal.h"
#include "runtime/internal.h"

#define AR_RECYCLE_EXACT 32          /* classes with one footprint each: 16 .. 512 */
#define AR_RECYCLE_EXACT_MAX 512     /* largest exact footprint */
#define AR_RECYCLE_POW2_MIN_LOG 10   /* class AR_RECYCLE_EXACT holds [1 KiB, 2 KiB) */
#define AR_RECYCLE_SCAN 8            /* first-fit probes in a mixed class before moving up */
#define AR_CHECKED_JUNK 0xDD

/* Lives in the first 16 bytes of a free block. */
typedef struct ar_free_block {
  struct ar_free_block *next;
  size_t size; /* footprint: a multiple of 16, >= 16 */
} ar_free_block_t;

static size_t footprint_of(size_t size) {
  return ar_align_up_(size == 0 ? 1 : size, AR_ALIGN_DEFAULT);
}

static unsigned floor_log2(size_t x) { return (unsigned)(63 - __builtin_clzll((unsigned long long)x)); }

/* The largest class whose lower bound is <= fp (fp >= 16, a multiple of 16). */
static unsigned class_floor(size_t fp) {
  if (fp <= AR_RECYCLE_EXACT_MAX) return (unsigned)(fp / 16 - 1);
  if (fp < ((size_t)1 << AR_RECYCLE_POW2_MIN_LOG)) return AR_RECYCLE_EXACT - 1;
  unsigned k = AR_RECYCLE_EXACT + floor_log2(fp) - AR_RECYCLE_POW2_MIN_LOG;
  return k < AR_RECYCLE_CLASSES ? k : AR_RECYCLE_CLASSES - 1;
}

/* Exact classes hold one footprint, so any block there fits a request of that footprint. */
static bool class_is_exact(unsigned k) { return k < AR_RECYCLE_EXACT; }

static void push_block(ar_arena_t *a, char *p, size_t fp) {
  ar_assert_internal(fp >= 16 && fp % 16 == 0 && ((uintptr_t)p & 15) == 0);
  ar_free_block_t *b = (ar_free_block_t *)(void *)p;
  unsigned k = class_floor(fp);
  b->size = fp;
  b->next = (ar_free_block_t *)a->recycle[k];
  a->recycle[k] = b;
  a->recycled_bytes += fp;
}

/* Unlinks and returns a block with footprint >= fp, splitting off and re-listing the rest. */
static char *pop_block(ar_arena_t *a, size_t fp) {
  if (a->recycled_bytes < fp) return NULL; /* cheap exit: nothing listed can fit */
  unsigned k = class_floor(fp);
  ar_free_block_t *b = NULL;
  ar_free_block_t **link = (ar_free_block_t **)&a->recycle[k];
  if (class_is_exact(k) && fp <= AR_RECYCLE_EXACT_MAX) {
    b = *link;
  } else {
    unsigned probes = 0;
    for (ar_free_block_t *c = *link; c != NULL && probes < AR_RECYCLE_SCAN;
         link = &c->next, c = c->next, probes++) {
      if (c->size >= fp) {
        b = c;
        break;
      }
    }
  }
  if (b == NULL) {
    /* Every block in a class above k is at least that class's bound, which exceeds fp. */
    for (k = k + 1; k < AR_RECYCLE_CLASSES; k++) {
      if (a->recycle[k] != NULL) {
        link = (ar_free_block_t **)&a->recycle[k];
        b = *link;
        break;
      }
    }
    if (b == NULL) return NULL;
  }
  *link = b->next;
  size_t have = b->size;
  a->recycled_bytes -= have;
  char *p = (char *)b;
  if (have > fp) push_block(a, p + fp, have - fp);
  return p;
}

void ar_recycle_forget_(ar_arena_t *a) {
  for (size_t i = 0; i < AR_RECYCLE_CLASSES; i++) a->recycle[i] = NULL;
  a->recycled_bytes = 0;
}

void *ar_recycle_take_(ar_arena_t *a, size_t size) {
  if (a->slow_only || size > AR_MAX_ALLOC_SIZE) return NULL;
  char *p = pop_block(a, footprint_of(size));
  if (p != NULL) {
    ar_unpoison_(p, size);
    a->hot.nalloc_++;
  }
  return p;
}

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

/* Gives a dedicated chunk back to its source. Mirrors arena.c's chunk_release, process-wide
 * accounting included, so the arena's and the registry's byte counts stay exact. */
static void release_large(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c) {
  update_peak(a);
  *link = c->next;
  a->nlarge--;
  a->used_retired -= (size_t)(c->top - c->data);
  ar_assert(a->capacity >= c->size);
  a->capacity -= c->size;
  void *base = c->base;
  size_t bytes = c->size;
  ar_global_chunk_released_(a->reg, bytes);
  ar_unpoison_(base, bytes);
  a->source.release(a->source.ctx, base, bytes);
}

static void quarantine(ar_arena_t *a, char *p, size_t size) {
  if (a->checked) memset(p, AR_CHECKED_JUNK, size); /* first: under memcheck it ends here */
  ar_block_freed_(a, p);
  ar_poison_(p, footprint_of(size));
}

/* ar_free after argument checks. */
static void free_block(ar_arena_t *a, char *p, size_t size) {
  size_t fp = footprint_of(size);
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
    release_large(a, link, c);
    return;
  }
  push_block(a, p, fp);
}

/* What this build can check of a block handed to ar_free/ar_realloc (arena.h, ar_free). */
static bool plausible(const ar_arena_t *a, const char *p, size_t size) {
  if (((uintptr_t)p & (AR_ALIGN_DEFAULT - 1)) != 0) return false;
  /* Every build: a block in the current chunk ends at or below the cursor (O(1)). */
  if (a->chunks != NULL && p >= a->chunks->data && p < (char *)a->chunks->base + a->chunks->size &&
      (p >= a->hot.cur_ || footprint_of(size) > (size_t)(a->hot.cur_ - p)))
    return false;
  return ar_block_ok_(a, p, size);
}

int ar_free(ar_arena_t *a, void *p, size_t size) {
  if (a == NULL) return ar_set_error_(AR_EINVAL);
  if (p == NULL) return AR_OK;
  check_owner(a);
  if (size > AR_MAX_ALLOC_SIZE || !plausible(a, (const char *)p, size))
    return ar_set_error_(AR_EINVAL);
  if (a->in_cleanup) return AR_OK;
  free_block(a, (char *)p, size);
  a->mutations++; /* a mark after this is a new save point (arena.c, "Marks") */
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
  return AR_OK;
}

static void *fail_null(ar_error_t err) {
  ar_set_error_(err);
  return NULL;
}

static void *realloc_block(ar_arena_t *a, void *p, size_t old_size, size_t new_size);

void *ar_realloc(ar_arena_t *a, void *p, size_t old_size, size_t new_size) {
  if (a == NULL) return fail_null(AR_EINVAL);
  if (p == NULL) return ar_alloc(a, new_size);
  void *q = realloc_block(a, p, old_size, new_size);
  if (q != NULL) a->mutations++; /* a mark after this is a new save point */
  return q;
}

/* ar_realloc of a non-NULL block. Growing tries, in order: the footprint it already has, the
 * cursor (the most recent allocation), the block's dedicated chunk (its slack, or a resize
 * of the chunk by its source: mremap for OS pages, so a big vector doubles without a copy),
 * a recycled block, and last a new allocation with a copy. */
static void *realloc_block(ar_arena_t *a, void *p, size_t old_size, size_t new_size) {
  check_owner(a);
  if (a->in_cleanup) return fail_null(AR_EBUSY);
  if (new_size > AR_MAX_ALLOC_SIZE) return fail_null(AR_EOVERFLOW);
  if (old_size > AR_MAX_ALLOC_SIZE || !plausible(a, (const char *)p, old_size))
    return fail_null(AR_EINVAL);
  char *old = (char *)p;
  size_t old_fp = footprint_of(old_size), new_fp = footprint_of(new_size);

  if (new_size <= old_size) {
    /* Shrinking keeps p in every mode; the cursor moves back when p is the top block. */
    if (a->slow_only) {
      if (a->checked) memset(old + new_size, AR_CHECKED_JUNK, old_size - new_size);
      ar_block_shrunk_(a, old, old_size, new_size); /* its guard/red zone follow the new end */
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
  if (!a->slow_only) {
    /* The only allocation of a dedicated chunk grows with its chunk, without a copy
     * (arena.c, ar_large_grow_), when the chunk has room or its source can resize it. */
    ar_chunk_t **link;
    ar_chunk_t *c = find_large(a, old, &link);
    void *q = c != NULL ? ar_large_grow_(a, link, c, new_size) : NULL;
    if (q != NULL) {
      ar_assert_expensive(ar_arena_check(a) == AR_OK);
      return q;
    }
  }
  void *q = NULL;
  if (!a->slow_only && new_fp <= a->large_threshold) {
    q = pop_block(a, new_fp);
    if (q != NULL) a->hot.nalloc_++;
  }
  if (q == NULL) q = ar_alloc(a, new_size);
  if (q == NULL) return NULL; /* ar_alloc set the error; the old block is untouched */
  memcpy(q, old, old_size);
  free_block(a, old, old_size);
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
  return q;
}
