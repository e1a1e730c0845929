/* SPDX-License-Identifier: MIT */
/*
 * runtime/arena_internal.h - the serial arena's private layout, shared by the runtime files
 * that make it up and extend it, and by white-box tests. Users never see it: arena.h exposes
 * only the hot prefix.
 *
 * The files of the serial arena, each calling only the ones listed after it:
 *   free.c        ar_free, ar_realloc: giving single blocks back (above the arena);
 *   marks.c       ar_mark, ar_rewind: save points;
 *   strings.c     ar_memdup, ar_strdup & co.: allocations with contents;
 *   arena.c       the core: the bump, allocation, dedicated chunks, lifetime, cleanups;
 *   chunks.c      acquiring, releasing and keeping chunks; the limit;
 *   introspect.c  ar_arena_check, ar_arena_stats, ar_owns, ar_arena_name;
 *   heap.c        the heap flavor (AR_HEAP), malloc per allocation;
 *   track.c       checked records, guards, ASan poisoning, Valgrind mempools, graveyard;
 *   bins.c        size-class lists of freed blocks (a leaf that owns ar_bins_t).
 * (introspect.c is called by the others only through their expensive debug asserts.)
 *
 * Invariants (checked by ar_arena_check):
 *   - chunks != NULL  <=>  limit != NULL; the head of `chunks` is the current chunk and
 *     hot.cur_ lies in [head->data, head->limit]; a chunk's limit is its end, base + size,
 *     except while an ordinary chunk is sealed (chunks.c, drop_idle_head);
 *   - hot.end_ == (slow_only || in_cleanup ? hot.cur_ : limit);
 *   - heap flavor: no chunks at all; capacity == used_retired == sum of hblocks[].bytes and
 *     nchunks == nhblocks;
 *   - seq strictly decreases along `chunks` and along `large`;
 *   - every ordinary chunk (current, retired or spare) has a size chunk_size << k within
 *     [chunk_size, grow_max]; spare_bytes is the sum of the spares' sizes;
 *   - capacity == sum of chunk sizes over chunks, large, spare and the kept dedicated chunks
 *     (kept[], kept_bytes of them, nkept in number);
 *   - used_retired == sum over non-current ordinary chunks of (top - data) plus, over large
 *     chunks, (top - data);
 *   - with live marks (ndepth > 0) the cursor is at or above floor_cur while floor_chunk is
 *     the current chunk.
 */
#ifndef ARENART_ARENA_INTERNAL_H
#define ARENART_ARENA_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "arenart/arena.h"
#include "runtime/bins.h"
#include "runtime/internal.h"

/* Size classes of the dedicated chunks an adaptive arena keeps for reuse (chunks.c, "Keeping
 * memory"): four per power of two from 4 KiB, class 0 below that. */
#define AR_KEPT_CLASSES 64

/* AR_HEAP, the heap flavor: see internal.h. */

/* a->magic of a live arena; destroy overwrites it (checked arenas keep their header in a small
 * graveyard so that a later call is reported instead of touching freed memory). */
#define AR_ARENA_LIVE UINT64_C(0x4152454E41) /* "ARENA" */
#define AR_ARENA_DEAD UINT64_C(0xDEADA4E4)

typedef struct ar_chunk {
  struct ar_chunk *next;
  void *base;   /* what the source returned */
  size_t size;  /* what was asked of the source */
  char *data;   /* first usable byte, 64-byte aligned */
  char *limit;  /* one past the last usable byte (lowered while sealed: drop_idle_head) */
  char *top;    /* end of handed-out bytes; for the current chunk, hot.cur_ is the truth */
  uint64_t seq; /* position in allocation order (0 while spare) */
  char *start;  /* dedicated chunks: the first byte of their one allocation */
} ar_chunk_t;

/* Heap flavor: one tracked allocation. `bytes` is what malloc was asked for (the size, plus
 * the guard in checked mode). Entries are in allocation order (seq strictly increasing). */
typedef struct ar_hblock {
  char *p;
  size_t size;
  size_t bytes;
  uint64_t seq;
  const void *site; /* return address of the allocating call, for checked-mode messages */
  bool freed;       /* given back with ar_free (quarantined until rewind/reset) */
} ar_hblock_t;

typedef struct ar_cleanup {
  ar_cleanup_fn fn;
  void *arg;
  struct ar_cleanup *next;
} ar_cleanup_t;

struct ar_arena {
  struct ar_arena_hot_ hot; /* must stay first: arena.h reads it through a cast */
  char *limit;              /* true end of the current chunk; NULL when there is none */
  ar_chunk_t *chunks;
  ar_chunk_t *large;
  ar_chunk_t *spare;
  ar_cleanup_t *cleanups;
  size_t ncleanups;
  ar_source_t source;
  ar_source_t large_source; /* where dedicated chunks come from (arena.c, "Source") */
  size_t chunk_size;        /* the first (and smallest) ordinary chunk's size */
  size_t large_threshold;   /* dedicated-chunk threshold of a chunk_size chunk (free.c) */
  size_t grow_max;          /* largest ordinary chunk: chunk_size unless chunks grow (chunks.c) */
  size_t retain_bytes;
  size_t limit_bytes; /* 0: unlimited */
  size_t capacity;
  size_t used_retired;
  size_t peak;
  size_t nchunks, nlarge, nspare;
  size_t spare_bytes; /* sizes of the spares together (they differ when chunks grow) */
  uint64_t seq;
  /* Save points (marks.c): the live save point at depth d < ndepth accepts marks
   * with a generation in [stamps[2d], stamps[2d + 1]]; the top one was taken (or rewound to)
   * when nalloc/mutations/cur/ncleanups were top_*, and top_rewound says it was rewound to
   * since its last mark; no give-back
   * moves the cursor below floor_cur while floor_chunk is current. */
  uint64_t *stamps; /* stamps_inline until more are needed, then malloc'd */
  uint64_t stamps_inline[8];
  size_t ndepth, stamps_cap; /* stamps_cap: save points (pairs) */
  bool top_rewound;
  uint64_t stamp_clock;
  uint64_t top_nalloc;
  uint64_t top_mutations;
  uint64_t mutations; /* successful ar_free/ar_realloc calls (free.c) */
  char *top_cur;
  size_t top_ncleanups;
  ar_chunk_t *floor_chunk;
  char *floor_cur;
  ar_bins_t bins; /* blocks given back with ar_free (bins.c; filled by free.c) */
  bool slow_only;
  bool checked;
  bool in_cleanup;
  bool vg;              /* created under Valgrind: mempool client requests (track.c) */
  uint64_t magic;       /* AR_ARENA_LIVE until destroyed */
  const void *site;     /* slow-only modes: the allocating call's return address */
  ar_hblock_t *hblocks; /* heap flavor: live allocations, oldest first */
  size_t nhblocks, hcap;
  pthread_t owner;
  uint64_t created_ns;
  struct ar_reg_node *reg;    /* registry entry, for listed kinds (thread.c, arenapool.c) */
  struct ar_arena *pool_next; /* arenapool.c: link while idle in a pool */
  uint64_t idle_since;        /* arenapool.c: when it was given back */
  char name[32];
  /* Adaptive retention (retain_bytes == AR_RETAIN_AUTO; chunks.c, "Keeping memory"). */
  /* Emptied dedicated chunks by size class, newest first: AR_KEPT_CLASSES list heads, malloc'd
   * when the first is kept (most arenas never keep one, and the arena header stays small). */
  ar_chunk_t **kept;
  size_t kept_bytes, nkept;
  size_t keep_peak;    /* decaying peak of the chunk bytes in use at resets and rewinds */
  uint64_t keep_ns;    /* when keep_peak last rose or decayed */
  unsigned keep_ticks; /* resets below the peak since the clock was last read */
};

/* track.c: aborts with a message naming the destroyed arena. */
AR_INTERNAL void ar_arena_dead_(const ar_arena_t *a) __attribute__((noreturn, cold));

/* Every out-of-line entry but ar_arena_name: while a lease holds the cursor (lease.h) the
 * arena's own fields no longer say where it is, so any call that reads or moves it would be
 * wrong. A load and a branch, in every build. */
static inline void check_unleased(const ar_arena_t *a) {
  if (AR_UNLIKELY(a->hot.cur_ == AR_LEASE_HELD_))
    ar_fatal_("arena '%s' (%p) used while a lease holds its cursor: call ar_lease_end first",
              a->name, (const void *)a);
}

/* check_unleased for entries that take a possibly NULL arena: it runs before their argument
 * checks, so that a call naming a leased arena aborts whatever else is wrong with it. */
static inline void check_unleased_if(const ar_arena_t *a) {
  if (a != NULL) check_unleased(a);
}

/* The magic and owner halves of check_owner, for the lease's own out-of-line entries, which
 * must run on a leased arena. */
static inline void check_live_owner(const ar_arena_t *a) {
  /* A destroyed checked arena's header lives on in a graveyard (track.c), so this load is
   * defined there; for other arenas it catches some uses after destroy, never all. */
  if (AR_UNLIKELY(a->magic != AR_ARENA_LIVE)) ar_arena_dead_(a);
#if AR_DEBUG >= 1
  if (AR_UNLIKELY(!pthread_equal(a->owner, pthread_self())))
    ar_fatal_("serial arena '%s' (%p) used from a thread that does not own it; share a "
              "ConcurrentArena instead, or hand it off and call ar_arena_adopt()",
              a->name, (const void *)a);
#else
  (void)a;
#endif
}

static inline void check_owner(const ar_arena_t *a) {
  check_live_owner(a);
  check_unleased(a);
}

static inline void sync_hot_end(ar_arena_t *a) {
  a->hot.end_ = a->slow_only ? a->hot.cur_ : a->limit;
}

static inline size_t current_used(const ar_arena_t *a) {
  return a->used_retired + (a->chunks ? (size_t)(a->hot.cur_ - a->chunks->data) : 0);
}

static inline void update_peak(ar_arena_t *a) {
  size_t used = current_used(a);
  if (used > a->peak) a->peak = used;
}

/* arena.c: creates an arena listed in the registry under `kind` (ar_arena_kind_t), with
 * ar_default_source_ when opts names no source. `opts` must have passed ar_options_validate_
 * (which sets and rounds chunk_size). Errors: those of ar_arena_create, or
 * AR_ENOMEM if the registry entry cannot be made (the arena is destroyed again). */
AR_INTERNAL ar_arena_t *ar_arena_create_listed_(const ar_options_t *opts, int kind,
                                                const char *name);
/* arena.c: true if no live mark lies above p in the current chunk, so that memory from p up
 * may be given back to the cursor without crossing a save point. */
static inline bool ar_above_floor_(const ar_arena_t *a, const char *p) {
  return a->ndepth == 0 || a->floor_chunk != a->chunks || p >= a->floor_cur;
}

/* source.c: grows (or shrinks) block p of the built-in OS source from old_size to new_size
 * bytes, keeping its contents and its offset in the page; may move it. NULL (p untouched and
 * still held) if it cannot, or if src is any other source. */
AR_INTERNAL void *ar_source_resize_(const ar_source_t *src, void *p, size_t old_size,
                                    size_t new_size);
/* arena.c: ar_realloc of the allocation of dedicated chunk c (*link points at it) to
 * new_size bytes without copying: in the chunk if it has room, else by resizing the chunk
 * through its source. NULL, with nothing changed and no error set, if neither works. */
AR_INTERNAL void *ar_large_grow_(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c, size_t new_size);
/* arena.c: gives dedicated chunk c (*link points at it) back to its source at once, its one
 * allocation with it (ar_free of that allocation). */
AR_INTERNAL void ar_large_free_(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c);
/* arena.c: ar_alloc_slow_ after the NULL check, with `site` as the allocation site that
 * slow-only modes note. */
AR_INTERNAL void *ar_alloc_at_(ar_arena_t *a, size_t size, size_t align, const void *site);
/* arena.c: `size` bytes in a dedicated chunk of their own (ar_realloc's growing blocks),
 * with room to grow if `growable` (chunks.c). */
AR_INTERNAL void *ar_alloc_dedicated_(ar_arena_t *a, size_t size, bool growable);
/* ar_alloc for the out-of-line helpers (strings.c, ar_defer): the inline path when it can,
 * else the slow path with the helper's caller as the site, so checked-mode messages name the
 * user's code. */
static inline void *ar_alloc_for_(ar_arena_t *a, size_t size, const void *site) {
  if (a == NULL) return ar_fail_null_(AR_EINVAL);
  if (!a->slow_only) return ar_alloc(a, size);
  return ar_alloc_at_(a, size, AR_ALIGN_DEFAULT, site);
}
/* arena.c: runs the newest cleanups until `keep` are left (rewind and reset). */
AR_INTERNAL void ar_run_cleanups_(ar_arena_t *a, size_t keep);
/* arena.c: the memory half of a rewind to the valid mark m (marks.c keeps the save points):
 * every chunk and allocation newer than m goes (verified, scrubbed, kept or released as
 * reset would), the cursor returns to m's position and the freed-block lists are forgotten.
 * Cleanups must have run already. */
AR_INTERNAL void ar_take_back_to_(ar_arena_t *a, const ar_mark_t *m);

/* Size classes of kept dedicated chunks (chunks.c, "Keeping memory"; ar_arena_check checks
 * them): class 0 below 4 KiB, then four classes per power of two. */
static inline unsigned ar_kept_class_(size_t bytes) {
  if (bytes < 4096) return 0;
  unsigned l = (unsigned)(63 - __builtin_clzll((unsigned long long)bytes));
  unsigned k = (l - 12) * 4 + (unsigned)((bytes >> (l - 2)) & 3) + 1;
  return k < AR_KEPT_CLASSES ? k : AR_KEPT_CLASSES - 1;
}

#endif /* ARENART_ARENA_INTERNAL_H */
