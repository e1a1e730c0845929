/* SPDX-License-Identifier: MIT */
/*
 * runtime/chunks.h - a serial arena's chunks (runtime/chunks.c): acquire and release, the
 * memory kept across resets (spares and kept dedicated chunks), and the limit.
 */
#ifndef ARENART_CHUNKS_H
#define ARENART_CHUNKS_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/arena_internal.h"

/* Slack for the chunk header: up to 15 bytes to 16-align it, the header, and up to 63 bytes
 * to 64-align the data. */
#define AR_CHUNK_OVERHEAD ((size_t)(15 + sizeof(ar_chunk_t) + 63))
#define AR_PAGE_ALIGN ((size_t)4096)
/* The largest chunk a reset keeps in place of a request's smaller ones (chunks.c, "Growing"):
 * 1 MiB, below the growth cap, whose 4 MiB chunks are huge pages and resident whole. */
#define AR_FIT_MAX ((size_t)1 << 20)

/* A new chunk of `bytes` (a dedicated one, or an ordinary one of chunk_size or grown), hidden
 * and counted in capacity; NULL if the source has none (nothing changed). */
AR_INTERNAL ar_chunk_t *ar_chunks_acquire(ar_arena_t *a, size_t bytes, bool dedicated);
/* A dedicated chunk of `bytes` mapped with room to grow where it can be (chunks.c, "Room to
 * grow"), else as ar_chunks_acquire makes one; NULL as there. For ar_realloc's blocks. */
AR_INTERNAL ar_chunk_t *ar_chunks_acquire_growable(ar_arena_t *a, size_t bytes);
/* Whether a dedicated chunk of about `bytes` that ar_realloc asks for would get a reserve
 * with at least as much room as it holds (512 KiB or less: free.c moves a block that grows
 * again into one rather than resizing it). */
AR_INTERNAL bool ar_chunks_would_reserve(const ar_arena_t *a, size_t bytes);
/* Whether dedicated chunk c was mapped with room to grow. */
AR_INTERNAL bool ar_chunks_reserved(const ar_arena_t *a, const ar_chunk_t *c);
/* Grows reserved dedicated chunk c (linked at *link) to `bytes` (more than its size): into its
 * reserve, else by moving the mapping; counted and under the limit. Returns the chunk (moved:
 * *link updated) or NULL, nothing changed, if the limit or the OS refuses (or, in TSan builds,
 * if the reserve is too small). */
AR_INTERNAL ar_chunk_t *ar_chunks_grow_reserved(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c,
                                                size_t bytes);
/* Gives chunk c (unlinked by the caller) back to the source it came from and uncounts it
 * (a reserved chunk's whole mapping goes back). */
AR_INTERNAL void ar_chunks_release(ar_arena_t *a, ar_chunk_t *c, bool dedicated);
/* A kept dedicated chunk of at least `bytes` (and at most about twice that), or NULL. */
AR_INTERNAL ar_chunk_t *ar_chunks_take_kept(ar_arena_t *a, size_t bytes);
/* Lists the empty ordinary chunk c as the first spare. */
AR_INTERNAL void ar_chunks_spare_push(ar_arena_t *a, ar_chunk_t *c);
/* Unlinks the first spare; NULL if there is none. */
AR_INTERNAL ar_chunk_t *ar_chunks_spare_pop(ar_arena_t *a);
/* The size of the ordinary chunk a refill would make current now: the first spare's, else
 * chunk_size or, when chunks grow, a larger size that the limit allows (see "Growing"). */
AR_INTERNAL size_t ar_chunks_next_size(const ar_arena_t *a);
/* Reset, after every chunk went idle: `need` chunk bytes were in use, `used` bytes handed
 * out; when chunks grow, one chunk that holds them all replaces the idle ones (chunks.c,
 * "Growing"). */
AR_INTERNAL void ar_chunks_fit_next(ar_arena_t *a, size_t need, size_t used, size_t keep);
/* Gives back one idle chunk that is not current; false if there is none. */
AR_INTERNAL bool ar_chunks_drop_one_idle(ar_arena_t *a);
/* AR_RETAIN_AUTO: folds the current need into the decaying peak; what a reset may keep. */
AR_INTERNAL size_t ar_chunks_keep_target(ar_arena_t *a);
/* An emptied dedicated chunk (verified): kept if the arena adapts and `keep` allows, else
 * released. */
AR_INTERNAL void ar_chunks_keep_or_release_large(ar_arena_t *a, ar_chunk_t *c, size_t keep);
/* An emptied ordinary chunk: a spare if `keep_bytes` allows, else released. */
AR_INTERNAL void ar_chunks_stash_or_release(ar_arena_t *a, ar_chunk_t *c, size_t keep_bytes);
/* Whether `need` more bytes could be had under limit_bytes by giving back idle chunks. */
AR_INTERNAL bool ar_chunks_room_possible(const ar_arena_t *a, size_t need);
/* After a chunk was acquired: idle chunks go back until the arena is under its limit. */
AR_INTERNAL void ar_chunks_shed_to_limit(ar_arena_t *a);

static inline bool ar_chunks_retain_auto(const ar_arena_t *a) {
  return a->retain_bytes == AR_RETAIN_AUTO;
}

static inline size_t ar_chunks_idle_bytes(const ar_arena_t *a) {
  return a->spare_bytes + a->kept_bytes;
}

static inline void ar_chunks_retire_current(ar_arena_t *a) {
  ar_chunk_t *c = a->chunks;
  c->top = a->hot.cur_;
  a->used_retired += (size_t)(c->top - c->data);
}

/* Makes the head of `chunks` current again, with the cursor at its recorded top. */
static inline void ar_chunks_activate_head(ar_arena_t *a) {
  ar_chunk_t *c = a->chunks;
  if (c == NULL) {
    a->hot.cur_ = NULL;
    a->limit = NULL;
    return;
  }
  a->used_retired -= (size_t)(c->top - c->data);
  a->hot.cur_ = c->top;
  a->limit = c->limit;
}

/* What a reset or rewind may keep now: retain_bytes, or the adaptive target. */
static inline size_t ar_chunks_keep_now(ar_arena_t *a) {
  return ar_chunks_retain_auto(a) ? ar_chunks_keep_target(a) : a->retain_bytes;
}

#endif /* ARENART_CHUNKS_H */
