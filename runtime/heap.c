/* SPDX-License-Identifier: MIT */
/*
 * runtime/heap.c - the heap flavor of the serial arena (AR_HEAP=1, `--config=heap`).
 *
 * Every allocation is a malloc (posix_memalign above 16-byte alignment) of exactly its size
 * (plus a 16-byte guard in checked mode), recorded in a growable array in allocation order;
 * rewind frees the entries after the mark, reset/release/destroy free all. No chunks: the
 * source is never called, `capacity` == `used` == bytes malloc'd for live allocations,
 * `chunks` counts them, `retain_bytes` keeps nothing and `limit_bytes` caps the same sum.
 * Marks, cleanups, ar_owns, ar_free/ar_realloc (slow-only quarantine) and ar_arena_check work
 * as documented. The point is that ASan, Valgrind and any malloc-level tool then see each
 * object's exact boundaries.
 *
 * The table is the flavor's only record of where blocks start, so the single-block checks of
 * ar_free/ar_realloc (free.c) ask it here. Guards and junk are the tracking vocabulary's
 * (track.c), as in the chunked flavor; this file only allocates, frees and counts.
 *
 * Calls downward only: track.c and the process-wide accounting (registry.c).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/arena_internal.h"
#include "runtime/heap.h"
#include "runtime/internal.h"
#include "runtime/track.h"

void *ar_heap_alloc(ar_arena_t *a, size_t size, size_t align) {
  if (a->nhblocks == a->hcap) {
    size_t cap = a->hcap ? a->hcap * 2 : 16;
    ar_hblock_t *nb = (ar_hblock_t *)realloc(a->hblocks, cap * sizeof *nb);
    if (nb == NULL) return ar_fail_null_(AR_ENOMEM);
    a->hblocks = nb;
    a->hcap = cap;
  }
  size_t bytes = size + (a->checked ? AR_REDZONE : 0); /* size <= 2^62: no wrap */
  if (a->limit_bytes != 0 && (bytes > a->limit_bytes || a->capacity > a->limit_bytes - bytes))
    return ar_fail_null_(AR_ELIMIT);
  void *p = NULL;
  if (align <= AR_ALIGN_DEFAULT) {
    p = malloc(bytes);
  } else if (posix_memalign(&p, align, bytes) != 0) {
    p = NULL;
  }
  if (p == NULL) return ar_fail_null_(AR_ENOMEM);
  if (a->checked) memset((char *)p + size, AR_GUARD_BYTE, AR_REDZONE);
  ar_hblock_t *b = &a->hblocks[a->nhblocks++];
  b->p = (char *)p;
  b->size = size;
  b->bytes = bytes;
  b->seq = ++a->seq;
  b->site = a->site;
  b->freed = false;
  a->capacity += bytes;
  a->used_retired += bytes;
  a->nchunks++;
  a->hot.nalloc_++;
  update_peak(a);
  ar_global_chunk_acquired_(a->reg, bytes);
  return p;
}

void ar_heap_free_from(ar_arena_t *a, size_t keep) {
  while (a->nhblocks > keep) {
    ar_hblock_t *b = &a->hblocks[a->nhblocks - 1];
    if (!ar_track_heap_guard_ok(a, b, true))
      ar_fatal_("arena '%s' (%p): guard check failed when memory was taken back (see above)",
                a->name, (const void *)a);
    ar_track_junk(a, b->p, b->size);
    free(b->p);
    a->capacity -= b->bytes;
    a->used_retired -= b->bytes;
    a->nchunks--;
    ar_global_chunk_released_(a->reg, b->bytes);
    a->nhblocks--;
  }
}

/* Entries are in seq order, and a valid mark's allocations are all still there. */
size_t ar_heap_mark_count(const ar_arena_t *a, uint64_t mark_seq) {
  size_t lo = 0, hi = a->nhblocks;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a->hblocks[mid].seq <= mark_seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static ar_hblock_t *hblock_at(const ar_arena_t *a, const char *p) {
  for (size_t i = a->nhblocks; i-- > 0;)
    if (a->hblocks[i].p == p) return &a->hblocks[i];
  return NULL;
}

bool ar_heap_block_ok(const ar_arena_t *a, const char *p, size_t n) {
  const ar_hblock_t *b = hblock_at(a, p);
  return b != NULL && !b->freed && n <= b->size;
}

void ar_heap_block_freed(ar_arena_t *a, const char *p) {
  ar_hblock_t *b = hblock_at(a, p);
  if (b != NULL) b->freed = true;
}

/* Exactly as if allocated with `keep` bytes: the guard moves to the new end and everything
 * after it is poisoned, so ASan reports a write past the new end. */
void ar_heap_block_shrunk(ar_arena_t *a, char *p, size_t keep) {
  ar_hblock_t *b = hblock_at(a, p);
  if (b == NULL) return;
  if (a->checked) memset(p + keep, AR_GUARD_BYTE, AR_REDZONE);
  b->size = keep;
  ar_track_hide(a, p + keep, b->bytes - keep);
}
