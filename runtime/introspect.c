/* SPDX-License-Identifier: MIT */
/*
 * runtime/introspect.c - looking at a serial arena without changing it: ar_arena_stats,
 * ar_owns, ar_arena_name, and the invariant walker ar_arena_check.
 *
 * Stats. `used` is never counted on the fast path (arena.c): it is used_retired plus the
 * cursor's offset in the current chunk, and it only grows between out-of-line events, so the
 * peak is taken at every point where it can shrink and at every query, here included. An
 * empty current chunk is reported as a spare, so the figures do not depend on which empty
 * chunk the cursor happens to sit in.
 *
 * The walker checks every invariant that arena_internal.h lists, and in checked mode every
 * record's guard (through track.c, quietly towards Valgrind). It is what the expensive debug
 * asserts (AR_DEBUG >= 2) run after every mutation, so the other files of the arena call it;
 * it calls none of them, only track.c, so those asserts never make a cycle. A violation is
 * printed (which invariant, which arena) and returned as AR_ECORRUPT.
 *
 * Thread contract: owner thread only, like every call on a serial arena; ar_owns and
 * ar_arena_name read only.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"
#include "runtime/internal.h"
#include "runtime/track.h"

int ar_arena_stats(ar_arena_t *a, ar_stats_t *out) {
  check_unleased_if(a);
  if (a == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  if (AR_UNLIKELY(a->magic != AR_ARENA_LIVE)) ar_arena_dead_(a);
  update_peak(a);
  out->used = current_used(a);
  out->capacity = a->capacity;
  out->peak = a->peak;
  /* An empty current chunk (kept current by reset, or emptied by a rewind) holds nothing:
   * it is reported as a spare, so that the figures do not depend on which empty chunk the
   * cursor happens to sit in. */
  size_t idle = a->chunks != NULL && a->hot.cur_ == a->chunks->data;
  out->chunks = a->nchunks - idle;
  out->large_chunks = a->nlarge;
  out->spare_chunks = a->nspare + idle + a->nkept;
  out->allocs = a->hot.nalloc_;
  out->cleanups = a->ncleanups;
  out->recycled = a->bins.bytes;
  return AR_OK;
}

bool ar_owns(const ar_arena_t *a, const void *p) {
  check_unleased_if(a);
  if (a == NULL || p == NULL) return false;
  const char *q = (const char *)p;
  for (size_t i = a->nhblocks; i-- > 0;) { /* heap flavor only; empty otherwise */
    const ar_hblock_t *b = &a->hblocks[i];
    if (q >= b->p && q < b->p + b->size) return true;
  }
  for (const ar_chunk_t *c = a->chunks; c != NULL; c = c->next) {
    const char *top = c == a->chunks ? a->hot.cur_ : c->top;
    if (q >= c->data && q < top) return true;
  }
  for (const ar_chunk_t *c = a->large; c != NULL; c = c->next)
    if (q >= c->data && q < c->top) return true;
  return false;
}

const char *ar_arena_name(const ar_arena_t *a) { return a != NULL ? a->name : ""; }

static int corrupt(const ar_arena_t *a, const char *what) {
  fprintf(stderr, "arenart: arena '%s' (%p): invariant violated: %s\n", a->name, (const void *)a,
          what);
  return ar_set_error_(AR_ECORRUPT);
}

static int cleanups_ok(const ar_arena_t *a) {
  size_t n = 0;
  for (ar_cleanup_t *c = a->cleanups; c != NULL; c = c->next) n++;
  if (n != a->ncleanups) return corrupt(a, "cleanup count");
  return AR_OK;
}

/* The heap flavor's invariants: no chunks, and a table of blocks in seq order. */
static int heap_check(ar_arena_t *a) {
  if (a->chunks != NULL || a->large != NULL || a->spare != NULL) return corrupt(a, "chunks");
  if (a->nhblocks > a->hcap || a->nhblocks != a->nchunks) return corrupt(a, "block count");
  size_t cap = 0;
  uint64_t prev = 0;
  for (size_t i = 0; i < a->nhblocks; i++) {
    const ar_hblock_t *b = &a->hblocks[i];
    if (b->seq <= prev || b->seq > a->seq) return corrupt(a, "block order");
    prev = b->seq;
    /* ar_realloc may have shrunk the block in place (free.c): size only drops. */
    if (b->bytes < b->size + (a->checked ? AR_REDZONE : 0)) return corrupt(a, "block size");
    if (!ar_track_heap_guard_ok(a, b, true)) return corrupt(a, "guards");
    cap += b->bytes;
  }
  if (cap != a->capacity || cap != a->used_retired) return corrupt(a, "capacity");
  if (a->limit_bytes != 0 && a->capacity > a->limit_bytes) return corrupt(a, "limit");
  return cleanups_ok(a);
}

/* An ordinary chunk is chunk_size << k, at most grow_max (chunks.c, "Growing"). */
static bool ordinary_size_ok(const ar_arena_t *a, size_t size) {
  size_t s = a->chunk_size;
  while (s < size && s < a->grow_max) s <<= 1;
  return s == size;
}

int ar_arena_check(ar_arena_t *a) {
  if (a == NULL) return ar_set_error_(AR_EINVAL);
  if (AR_UNLIKELY(a->magic != AR_ARENA_LIVE)) ar_arena_dead_(a);
  check_unleased(a);
  size_t cap = 0, used = 0, n = 0;
  uint64_t prev = UINT64_MAX;
  if ((a->chunks == NULL) != (a->limit == NULL)) return corrupt(a, "current chunk vs limit");
  if (a->chunks == NULL && a->hot.cur_ != NULL) return corrupt(a, "cursor without a chunk");
  if (a->hot.end_ != (a->slow_only || a->in_cleanup ? a->hot.cur_ : a->limit))
    return corrupt(a, "inline bound");
  if (AR_HEAP) return heap_check(a);
  for (ar_chunk_t *c = a->chunks; c != NULL; c = c->next, n++) {
    char *top = c == a->chunks ? a->hot.cur_ : c->top;
    if (c->seq == 0 || c->seq >= prev) return corrupt(a, "chunk order");
    prev = c->seq;
    if (top < c->data || top > c->limit || c->limit > (char *)c->base + c->size)
      return corrupt(a, "chunk bounds");
    if (c != a->chunks) used += (size_t)(c->top - c->data);
    if (a->checked && !ar_track_records_ok(a, c->data, top)) return corrupt(a, "guards");
    if (!ordinary_size_ok(a, c->size)) return corrupt(a, "chunk size");
    cap += c->size;
  }
  if (n != a->nchunks) return corrupt(a, "chunk count");
  prev = UINT64_MAX;
  n = 0;
  for (ar_chunk_t *c = a->large; c != NULL; c = c->next, n++) {
    if (c->seq == 0 || c->seq >= prev || c->seq > a->seq) return corrupt(a, "large order");
    prev = c->seq;
    if (c->top < c->data || c->top > c->limit) return corrupt(a, "large bounds");
    if (a->checked && !ar_track_records_ok(a, c->data, c->top)) return corrupt(a, "guards");
    used += (size_t)(c->top - c->data);
    cap += c->size;
  }
  if (n != a->nlarge) return corrupt(a, "large count");
  n = 0;
  size_t spare = 0;
  for (ar_chunk_t *c = a->spare; c != NULL; c = c->next, n++) {
    if (!ordinary_size_ok(a, c->size)) return corrupt(a, "spare size");
    spare += c->size;
  }
  if (n != a->nspare || spare != a->spare_bytes) return corrupt(a, "spare count");
  cap += spare;
  size_t kept = 0;
  n = 0;
  for (unsigned k = 0; a->kept != NULL && k < AR_KEPT_CLASSES; k++) {
    for (ar_chunk_t *c = a->kept[k]; c != NULL; c = c->next, n++) {
      if (ar_kept_class_(c->size) != k || c->seq != 0 || c->top != c->data)
        return corrupt(a, "kept chunk");
      kept += c->size;
    }
  }
  if (n != a->nkept || kept != a->kept_bytes) return corrupt(a, "kept count");
  cap += kept;
  if (a->ndepth > 0 && a->floor_chunk == a->chunks && a->chunks != NULL &&
      a->hot.cur_ < a->floor_cur)
    return corrupt(a, "cursor below the newest mark");
  if (cap != a->capacity) return corrupt(a, "capacity");
  if (used != a->used_retired) return corrupt(a, "used bytes");
  if (a->limit_bytes != 0 && a->capacity > a->limit_bytes) return corrupt(a, "limit");
  return cleanups_ok(a);
}
