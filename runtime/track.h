/* SPDX-License-Identifier: MIT */
/*
 * runtime/track.h - the serial arena's debugging vocabulary (runtime/track.c): checked-mode
 * records and guards, ASan poisoning, Valgrind memcheck mempools, and the graveyard of
 * destroyed checked arenas. Every file of the serial arena says what happens to memory in
 * these words (ar_track_*) and never calls ASan or Valgrind itself. A leaf: it calls nothing
 * of the arena.
 *
 * The chunk pool and the ConcurrentArena (chunkpool.c, concurrent.c, concurrent_chunks.c) need
 * less: they hide memory that no arena has handed out and show it again, with internal.h's
 * ar_hide_ / ar_show_.
 */
#ifndef ARENART_TRACK_H
#define ARENART_TRACK_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/arena_internal.h"
#include "runtime/internal.h"

/* Checked mode: each allocation is a record [header AR_TRACK_HEADER][data][guard]; the guard
 * (AR_REDZONE bytes at least) is also the red zone that ASan builds leave poisoned after
 * every allocation. */
#define AR_TRACK_HEADER ((size_t)16)
#define AR_REDZONE ((size_t)16)
/* Fills a guard (checked mode and the heap flavor's checked arenas). */
#define AR_GUARD_BYTE 0xAB
/* Fills memory a checked arena takes back (freed blocks, scrubbed chunks, the tail of a block
 * shrunk in place), so a stale pointer reads garbage that looks like garbage. */
#define AR_JUNK_BYTE 0xDD

/* ---- modes and lifetime ----------------------------------------------------------------- */

/* Chooses how a new arena is watched: sets a->checked (asked for with `checked`, or at debug
 * level 2; forced on under memcheck, off under ASan), a->vg and a->slow_only, and opens the
 * arena's Valgrind mempool when it has one. */
AR_INTERNAL void ar_track_attach(ar_arena_t *a, bool checked);
/* Closes the arena's Valgrind mempool (if any). */
AR_INTERNAL void ar_track_detach(ar_arena_t *a);
/* Frees a destroyed arena's header, or parks it in the graveyard if it is checked (a later call
 * then reports the use after destroy; see track.c). */
AR_INTERNAL void ar_track_bury(ar_arena_t *a);
/* (ar_arena_dead_, the report of a use after destroy, is here too: arena_internal.h.) */

/* ---- memory changing hands -------------------------------------------------------------- */

/* [p, p + n) now belongs to the arena but holds no allocation (a fresh chunk, the tail cut off
 * a block): poisoned, NOACCESS. */
AR_INTERNAL void ar_track_hide(const ar_arena_t *a, void *p, size_t n);
/* [p, p + n) goes back to its source, which may write into it (a pool's free list):
 * unpoisoned, UNDEFINED. */
AR_INTERNAL void ar_track_to_source(const ar_arena_t *a, void *p, size_t n);
/* [p, p + n) is handed to the user again (a recycled block): unpoisoned. Inline: it is on the
 * path of every reuse and does nothing outside ASan builds. */
static inline void ar_track_to_user(void *p, size_t n) { ar_unpoison_(p, n); }
/* [from, to) no longer holds live allocations: junk-filled in checked mode, then hidden. */
AR_INTERNAL void ar_track_scrub(const ar_arena_t *a, char *from, char *to);
/* Junk-fills [p, p + n) in checked mode (a block given back or cut short); nothing otherwise.
 * Under memcheck this must come before the block's allocation is ended. */
AR_INTERNAL void ar_track_junk(const ar_arena_t *a, void *p, size_t n);

/* ---- checked-mode records ---------------------------------------------------------------- */

/* Checked mode: writes the record of an allocation of `size` bytes at p, laid out by the
 * caller in [from, end): a padding record if p - AR_TRACK_HEADER > from, the header, the
 * guard and the allocation site (a->site); under memcheck, the allocation begins. */
AR_INTERNAL void ar_track_record(const ar_arena_t *a, char *from, char *p, char *end, size_t size);
/* Memory in [from, to) is being taken back: checked mode verifies its guards (fatal with a
 * message naming the arena and the allocation site on damage) and ends its allocations for
 * Valgrind. The caller scrubs or releases it afterwards. Nothing outside checked mode. */
AR_INTERNAL void ar_track_verify_or_die(const ar_arena_t *a, char *from, char *to);
/* Checked mode: true if the records in [from, to) are intact; prints what is not. */
AR_INTERNAL bool ar_track_records_ok(const ar_arena_t *a, char *from, char *to);
/* Heap flavor, checked arena: true if the guard after block b is intact; prints (loud) what
 * is not. Always true in an unchecked arena. */
AR_INTERNAL bool ar_track_heap_guard_ok(const ar_arena_t *a, const ar_hblock_t *b, bool loud);

/* ---- single blocks (free.c) ------------------------------------------------------------- */

/* Whether p, with n >= 1 bytes, lying in the live region [from, to) of a chunk, starts a live
 * allocation, as far as the mode can tell: checked mode reads its records; ASan builds read
 * the shadow (a block's first byte is addressable and the byte before it, unless p == from,
 * is not); other builds cannot tell and say true. */
AR_INTERNAL bool ar_track_block_live(const ar_arena_t *a, char *from, char *to, const char *p,
                                     size_t n);
/* Checked mode: the live block p in [from, to) is quarantined: its record says so (a second
 * free is refused) and, under memcheck, its allocation ends (a use is reported). */
AR_INTERNAL void ar_track_block_freed(const ar_arena_t *a, char *from, char *to, char *p);
/* Checked mode: the live block p in [from, to) now has keep < old_size bytes: its record, guard
 * and site move to the new end, a padding record covers the rest of the old record. */
AR_INTERNAL void ar_track_block_shrunk(const ar_arena_t *a, char *from, char *to, char *p,
                                       size_t old_size, size_t keep);

#endif /* ARENART_TRACK_H */
