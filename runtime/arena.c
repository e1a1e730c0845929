/* SPDX-License-Identifier: MIT */
/*
 * runtime/arena.c - the serial arena's core: chunks, the bump, limits, keeping memory,
 * lifetime and cleanups.
 *
 * Design. An arena owns three singly linked lists of chunks, each chunk carrying its own
 * header at the front of the block its source gave:
 *   chunks  ordinary chunks (all `chunk_size` bytes), newest first; the head is the current
 *           chunk, the one the cursor bumps through;
 *   large   dedicated chunks, one per request too big (over a quarter of a chunk) or too
 *           aligned (over a page) to share, newest first, so a big request never wastes the
 *           tail of the current chunk;
 *   spare   empty ordinary chunks kept by reset/rewind (within `retain_bytes`) for reuse;
 *   kept    (AR_RETAIN_AUTO only) emptied dedicated chunks kept for reuse, by size class;
 *           see "Keeping memory" below.
 * Every chunk that enters `chunks` or `large` takes the next value of one sequence counter, so
 * both lists are in allocation order and a mark's position is just (current chunk, cursor,
 * counter): rewinding pops what is newer on each list (ar_take_back_to_). Whether a mark may
 * still be rewound to is a separate question, answered by a stack of save points (marks.c),
 * because a position can exist again after a rewind with other allocations in it.
 *
 * The fast path is inline in arena.h and touches only `hot` (cursor, bound, count): no
 * atomics, no call. Everything else (new chunks, alignment above 16, accounting that must be
 * exact) lives here, out of line. `used` is never counted on the fast path: it is
 * used_retired (bytes below the top of every non-current chunk) plus the cursor's offset in
 * the current chunk. It only grows between out-of-line events, so taking the peak at every
 * point where it can shrink (rewind, reset) and at every query keeps the peak exact.
 *
 * Source. An arena created without one takes ar_default_source_(chunk_size) (chunkpool.c):
 * the process-wide lock-free chunk pool for default-size chunks (or the NUMA node routing that
 * ar_numa_init installs in its place), the OS pages for any other chunk size. Thread, pool and
 * concurrent arenas take the same default, so the first arena a program makes reuses chunks
 * like the rest. Dedicated chunks are never the pool's size in practice, so they still come
 * from the OS pages, and ar_realloc can still grow them with mremap (ar_large_grow_).
 *
 * Watching the memory. Slow-only mode (checked records and guards, ASan, Valgrind memcheck
 * mempools, allocation sites) and the use-after-destroy graveyard are track.c's; this file
 * says what happens to memory (hidden, scrubbed, recorded, verified, back to the source) in
 * its vocabulary and never calls a tool itself. The heap flavor (AR_HEAP=1, every allocation
 * its own malloc) is heap.c's: alloc_at and clear hand over to it, and everything below about
 * chunks does not apply there.
 *
 * Around the core. Single blocks given back (ar_free, ar_realloc) are free.c's, above this
 * file: it calls the core (ar_large_free_, ar_large_grow_) and the freed-block lists
 * (bins.c), which the slow path here consults when the current chunk is full. Marks and
 * rewinds are marks.c's, strings and copies strings.c's, stats and the invariant walker
 * introspect.c's. This file calls none of those upward: only bins.c, heap.c, track.c, the
 * sources and the registry (and ar_arena_check, in expensive debug asserts).
 *
 * Thread contract: owner thread only (see arena.h). The owner check costs a pthread_self()
 * per out-of-line call at debug level >= 1 and nothing at level 0.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"
#include "runtime/bins.h"
#include "runtime/heap.h"
#include "runtime/internal.h"
#include "runtime/track.h"

/* Slack for the chunk header: up to 15 bytes to 16-align it, the header, and up to 63 bytes
 * to 64-align the data. */
#define AR_CHUNK_OVERHEAD ((size_t)(15 + sizeof(ar_chunk_t) + 63))
#define AR_PAGE_ALIGN ((size_t)4096)

/* ---- chunks -------------------------------------------------------------------------- */

static ar_chunk_t *chunk_acquire(ar_arena_t *a, size_t bytes) {
  void *base = a->source.acquire(a->source.ctx, bytes);
  if (base == NULL) return NULL;
  ar_chunk_t *c = (ar_chunk_t *)(void *)ar_align_up_((uintptr_t)base, 16);
  c->next = NULL;
  c->base = base;
  c->size = bytes;
  c->data = (char *)ar_align_up_((uintptr_t)(c + 1), 64);
  c->limit = (char *)base + bytes;
  c->top = c->data;
  c->seq = 0;
  c->start = NULL;
  ar_assert(c->data < c->limit);
  ar_track_hide(a, c->data, (size_t)(c->limit - c->data));
  a->capacity += bytes;
  ar_global_chunk_acquired_(a->reg, bytes);
  return c;
}

static void chunk_release(ar_arena_t *a, ar_chunk_t *c) {
  void *base = c->base;
  size_t size = c->size;
  ar_assert(a->capacity >= size);
  a->capacity -= size;
  ar_global_chunk_released_(a->reg, size);
  ar_track_to_source(a, base, size);
  a->source.release(a->source.ctx, base, size);
}


/*
 * Keeping memory. A reset that gives chunks back makes the next request map and fault them
 * again: for a request that needs megabytes that is most of its cost (a thousand times a bump
 * through warm memory). With an explicit `retain_bytes` the user has sized what to keep; the
 * default, AR_RETAIN_AUTO, sizes it from use:
 *   - the need is the chunk bytes in use when a reset or rewind begins (capacity minus what
 *     sits idle: spares and kept dedicated chunks);
 *   - keep_peak follows the need (capped at AR_RETAIN_AUTO_MAX) up at once and decays
 *     towards it: the excess halves for every AR_KEEP_HALF_LIFE_NS elapsed, and goes once it
 *     is a page or less. Time, not a count of resets, because "one request in fifty needs
 *     8 MiB" must keep its 8 MiB while "a burst of big requests an hour ago" must not. The
 *     clock is read when the need rises above the peak, and when it is below, at every
 *     AR_KEEP_CLOCK_EVERY-th such event, so a steady arena (need == peak) never reads it and a
 *     per-request reset stays a handful of stores;
 *   - a reset keeps at most keep_peak bytes, ordinary chunks and dedicated chunks alike. Idle chunks from earlier resets go back first, down to what
 *     leaves room for the chunks this cycle used: recent use is the better guess;
 *   - an emptied dedicated chunk goes on a list by size class (four per power of two), and a
 *     dedicated request takes one that fits from its class, or the head of one of the next
 *     three classes (whose every chunk fits and is at most twice the chunk the request would
 *     get; below 4 KiB, where class 0 mixes sizes, at most 7 KiB), before asking
 *     the source. Its header moves nowhere: the chunk is reused as it is.
 * Kept chunks count in `capacity` and as spares in the stats, and under `limit_bytes` they
 * are idle like spares: given back when a request needs their room.
 */
#define AR_KEEP_HALF_LIFE_NS ((uint64_t)128 * 1000 * 1000)
#define AR_KEEP_CLOCK_EVERY 4u

static bool retain_auto(const ar_arena_t *a) { return a->retain_bytes == AR_RETAIN_AUTO; }

static size_t idle_bytes(const ar_arena_t *a) {
  return a->nspare * a->chunk_size + a->kept_bytes;
}

/* False (c untouched) if the list heads cannot be had. */
static bool kept_push(ar_arena_t *a, ar_chunk_t *c) {
  if (a->kept == NULL) {
    a->kept = (ar_chunk_t **)calloc(AR_KEPT_CLASSES, sizeof *a->kept);
    if (a->kept == NULL) return false;
  }
  unsigned k = ar_kept_class_(c->size);
  c->seq = 0;
  c->top = c->data;
  c->start = NULL;
  c->next = a->kept[k];
  a->kept[k] = c;
  a->kept_bytes += c->size;
  a->nkept++;
  return true;
}

static ar_chunk_t *kept_unlink(ar_arena_t *a, ar_chunk_t **link) {
  ar_chunk_t *c = *link;
  *link = c->next;
  c->next = NULL;
  a->kept_bytes -= c->size;
  a->nkept--;
  return c;
}

/* A kept dedicated chunk of at least `bytes` (and at most about twice that), or NULL. */
static ar_chunk_t *kept_take(ar_arena_t *a, size_t bytes) {
  if (a->nkept == 0 || a->kept_bytes < bytes) return NULL;
  unsigned k = ar_kept_class_(bytes), probes = 0;
  for (ar_chunk_t **link = &a->kept[k]; *link != NULL && probes < 4;
       link = &(*link)->next, probes++)
    if ((*link)->size >= bytes) return kept_unlink(a, link);
  for (unsigned j = k + 1; j < AR_KEPT_CLASSES && j <= k + 3; j++)
    if (a->kept[j] != NULL) return kept_unlink(a, &a->kept[j]);
  return NULL;
}

/* Gives back one idle chunk that is not current: a spare, else the largest kept chunk.
 * Returns false if there is none. */
static bool drop_one_idle(ar_arena_t *a) {
  if (a->spare != NULL) {
    ar_chunk_t *c = a->spare;
    a->spare = c->next;
    a->nspare--;
    chunk_release(a, c);
    return true;
  }
  for (unsigned k = AR_KEPT_CLASSES; a->nkept != 0 && k-- > 0;) {
    if (a->kept[k] != NULL) {
      chunk_release(a, kept_unlink(a, &a->kept[k]));
      return true;
    }
  }
  return false;
}

/* AR_RETAIN_AUTO: folds the current need into the decaying peak and returns what may be
 * kept now. */
static size_t keep_target(ar_arena_t *a) {
  size_t need = a->capacity - idle_bytes(a);
  /* The peak never exceeds what may be kept, so an excess is at most AR_RETAIN_AUTO_MAX and
   * fourteen halvings (1.8 s) end it. */
  if (need > AR_RETAIN_AUTO_MAX) need = AR_RETAIN_AUTO_MAX;
  if (need > a->keep_peak) {
    a->keep_peak = need;
    a->keep_ns = ar_now_ns_();
    a->keep_ticks = 0;
  } else if (need < a->keep_peak && ++a->keep_ticks >= AR_KEEP_CLOCK_EVERY) {
    a->keep_ticks = 0;
    /* One halving per half-life elapsed, however few resets came in between. */
    uint64_t halvings = (ar_now_ns_() - a->keep_ns) / AR_KEEP_HALF_LIFE_NS;
    if (halvings > 0) {
      size_t excess = a->keep_peak - need;
      excess = halvings >= 63 ? 0 : excess >> halvings;
      a->keep_peak = need + (excess <= AR_PAGE_ALIGN ? 0 : excess);
      a->keep_ns += halvings * AR_KEEP_HALF_LIFE_NS;
    }
  }
  return a->keep_peak;
}

/* An emptied dedicated chunk (already verified): kept when the arena adapts and `keep`
 * allows, else given back. */
static void keep_or_release_large(ar_arena_t *a, ar_chunk_t *c, size_t keep) {
  if (retain_auto(a) && c->size <= AR_RETAIN_AUTO_MAX && idle_bytes(a) + c->size <= keep) {
    ar_track_scrub(a, c->data, c->top);
    if (kept_push(a, c)) return;
  }
  chunk_release(a, c);
}

/* Keeps an emptied ordinary chunk as a spare if `keep_bytes` allows, else returns it. */
static void stash_or_release(ar_arena_t *a, ar_chunk_t *c, size_t keep_bytes) {
  if (idle_bytes(a) + a->chunk_size <= keep_bytes) {
    c->seq = 0;
    c->top = c->data;
    c->limit = (char *)c->base + c->size; /* no longer sealed */
    c->next = a->spare;
    a->spare = c;
    a->nspare++;
  } else {
    chunk_release(a, c);
  }
}

static void retire_current(ar_arena_t *a) {
  ar_chunk_t *c = a->chunks;
  c->top = a->hot.cur_;
  a->used_retired += (size_t)(c->top - c->data);
}

/* Makes the head of `chunks` current again, with the cursor at its recorded top. */
static void activate_head(ar_arena_t *a) {
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

/*
 * Places one allocation in [cur, limit). Returns the user pointer and sets *end to the new
 * cursor, or returns NULL if it does not fit. All arithmetic is on addresses below 2^63 and
 * sizes below 2^62, so it cannot wrap. The layout is decided here (a checked record's header
 * before the allocation, a guard or red zone after it); what is written into it, and what the
 * tools are told, is track.c's.
 */
static char *place(const ar_arena_t *a, char *cur, char *limit, size_t size, size_t align,
                   char **end) {
  size_t n = ar_align_up_(size, AR_ALIGN_DEFAULT);
  uintptr_t c = (uintptr_t)cur;
  uintptr_t p, e;
  if (a->checked) {
    p = ar_align_up_(c + AR_TRACK_HEADER, align);
    e = p + n + AR_REDZONE;
  } else {
    p = ar_align_up_(c, align);
    e = p + n + (AR_ASAN ? AR_REDZONE : 0);
  }
  if (e > (uintptr_t)limit) return NULL;
  if (a->checked) ar_track_record(a, cur, (char *)p, (char *)e, size);
  ar_track_to_user((void *)p, size);
  *end = (char *)e;
  return (char *)p;
}

/* Worst-case bytes that a request of `size`/`align` takes in a chunk. */
static size_t footprint(const ar_arena_t *a, size_t size, size_t align) {
  size_t n = ar_align_up_(size, AR_ALIGN_DEFAULT);
  size_t extra = align > AR_ALIGN_DEFAULT ? align - AR_ALIGN_DEFAULT : 0;
  if (a->checked) extra += AR_TRACK_HEADER + AR_REDZONE;
  else if (AR_ASAN) extra += AR_REDZONE;
  return n + extra; /* size <= 2^62 and align <= 2^62 here: no wrap */
}

static void *bump_current(ar_arena_t *a, size_t size, size_t align) {
  if (a->chunks == NULL) return NULL;
  char *end;
  char *p = place(a, a->hot.cur_, a->limit, size, align, &end);
  if (p == NULL) return NULL;
  a->hot.cur_ = end;
  a->hot.nalloc_++;
  sync_hot_end(a);
  return p;
}

/*
 * Limits. Chunks that hold nothing can be given back to make room under `limit_bytes`: the
 * spares, and a current chunk with nothing in it (reset keeps one current; a rewind can empty
 * one). A request that needs a new chunk first checks that giving all of them back would be
 * enough (else AR_ELIMIT), then acquires the chunk, and only then gives back what the limit
 * requires: a source that fails (AR_ENOMEM) leaves the arena exactly as it was. The price is
 * that the source holds the new chunk and the idle ones at the same time, for the length of
 * the call.
 */
static bool head_idle(const ar_arena_t *a) {
  return a->chunks != NULL && a->hot.cur_ == a->chunks->data;
}

static bool room_possible(const ar_arena_t *a, size_t need) {
  if (a->limit_bytes == 0) return true;
  size_t idle = idle_bytes(a) + (head_idle(a) ? a->chunks->size : 0);
  return need <= a->limit_bytes && a->capacity - idle <= a->limit_bytes - need;
}

/* Gives back the empty current chunk; the chunk below it (if any) becomes current. A mark
 * that names the dropped chunk names the same place as the top of the one below (nothing lay
 * in it), which is what ar_rewind finds when it no longer sees the chunk. So that this stays
 * true, the chunk below is sealed at that top (its limit lowered) until it goes back to the
 * spares or the source, when a live mark may name the dropped one (then it is the newest save
 * point's chunk): later allocations go to a new chunk, which the rewind pops, instead of into
 * its tail, which the rewind could not tell from what lay there before the mark. */
static void drop_idle_head(ar_arena_t *a) {
  ar_chunk_t *c = a->chunks;
  a->chunks = c->next;
  a->nchunks--;
  activate_head(a);
  if (a->floor_chunk == c && a->ndepth > 0 && a->chunks != NULL) {
    a->chunks->limit = a->hot.cur_;
    a->limit = a->hot.cur_;
  }
  sync_hot_end(a);
  if (a->floor_chunk == c) {
    a->floor_chunk = a->chunks;
    a->floor_cur = a->hot.cur_;
  }
  chunk_release(a, c);
}

/* After a new chunk was acquired (counted in capacity): idle chunks go back until the arena
 * is under its limit again; room_possible promised that they suffice. */
static void shed_to_limit(ar_arena_t *a) {
  if (a->limit_bytes == 0) return;
  while (a->capacity > a->limit_bytes) {
    if (!drop_one_idle(a)) {
      ar_assert(head_idle(a));
      drop_idle_head(a);
    }
  }
}

static ar_error_t push_new_chunk(ar_arena_t *a) {
  ar_chunk_t *c = a->spare;
  if (c != NULL) {
    a->spare = c->next;
    a->nspare--;
  } else {
    if (!room_possible(a, a->chunk_size)) return AR_ELIMIT;
    c = chunk_acquire(a, a->chunk_size);
    if (c == NULL) return AR_ENOMEM;
    shed_to_limit(a);
  }
  if (a->chunks != NULL) retire_current(a);
  c->seq = ++a->seq;
  c->top = c->data;
  c->next = a->chunks;
  a->chunks = c;
  a->nchunks++;
  a->hot.cur_ = c->data;
  a->limit = c->limit;
  sync_hot_end(a);
  return AR_OK;
}

static void *alloc_large(ar_arena_t *a, size_t size, size_t align) {
  size_t fp = footprint(a, size, align);
  size_t bytes = fp + AR_CHUNK_OVERHEAD + (align > 64 ? align : 0);
  if (bytes < fp) return ar_fail_null_(AR_EOVERFLOW);
  /* A kept chunk is already counted in capacity: taking it needs no room. */
  ar_chunk_t *c = a->nkept != 0 ? kept_take(a, bytes) : NULL;
  if (c == NULL) {
    if (!room_possible(a, bytes)) return ar_fail_null_(AR_ELIMIT);
    c = chunk_acquire(a, bytes);
    if (c == NULL) return ar_fail_null_(AR_ENOMEM);
    shed_to_limit(a);
  }
  char *end = NULL; /* set by place(), which cannot fail here */
  char *p = place(a, c->data, c->limit, size, align, &end);
  ar_assert(p != NULL);
  c->start = p;
  c->top = end;
  c->seq = ++a->seq;
  c->next = a->large;
  a->large = c;
  a->nlarge++;
  a->used_retired += (size_t)(end - c->data);
  a->hot.nalloc_++;
  return p;
}

/*
 * Growing a dedicated chunk (ar_realloc of a big block). The chunk holds one allocation,
 * so it may grow in place: into its own slack if it has some (a kept chunk reused for a
 * smaller request), else by asking the source to resize the whole block (source.c: mremap
 * for the OS source), which moves page table entries, not bytes. The chunk header lives at
 * the front of the block and moves with it; every pointer in it moves by the same offset,
 * and the link that pointed at it is updated. The global stats see the old size released and
 * the new one acquired, so their chunk counts stay balanced.
 */
void *ar_large_grow_(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c, size_t new_size) {
  if (a->slow_only || c->start == NULL) return NULL;
  size_t fp = footprint(a, new_size, AR_ALIGN_DEFAULT);
  size_t off = (size_t)(c->start - (char *)c->base);
  size_t bytes = off + fp; /* off < one page plus the header; fp < 2^62: no wrap */
  if (bytes > c->size) {
    if (!room_possible(a, bytes - c->size)) return NULL;
    /* After a move the old header is gone: only the new one may be read. */
    char *ob = (char *)c->base;
    size_t osize = c->size;
    char *nb = (char *)ar_source_resize_(&a->source, ob, osize, bytes);
    if (nb == NULL) return NULL;
    ptrdiff_t d = nb - ob;
    ar_assert(((uintptr_t)nb & 63) == ((uintptr_t)ob & 63));
    ar_chunk_t *nc = (ar_chunk_t *)(void *)((char *)c + d);
    ar_global_chunk_released_(a->reg, osize);
    ar_global_chunk_acquired_(a->reg, bytes);
    a->capacity += bytes - osize;
    nc->base = nb;
    nc->size = bytes;
    nc->data += d;
    nc->limit = nb + bytes;
    nc->top += d;
    nc->start += d;
    *link = nc;
    c = nc;
    shed_to_limit(a);
  }
  char *end = c->start + fp;
  /* The block may sit inside an older, larger footprint (a shrink that kept its tail): then
   * `used` falls here, so the peak is taken first (see "used" in the essay). */
  if (end < c->top) update_peak(a);
  a->used_retired += (size_t)(end - c->top);
  c->top = end;
  return c->start;
}

/* ar_free of the one allocation of dedicated chunk c: the chunk goes back to its source at
 * once, through the one release path (chunk_release), so the arena's, the registry's and the
 * tools' views of it stay exact. `used` shrinks, so the peak is taken first. */
void ar_large_free_(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c) {
  update_peak(a);
  *link = c->next;
  a->nlarge--;
  a->used_retired -= (size_t)(c->top - c->data);
  chunk_release(a, c);
}

/* ---- allocation ---------------------------------------------------------------------- */

void *ar_alloc_at_(ar_arena_t *a, size_t size, size_t align, const void *site) {
  check_owner(a);
  if (AR_UNLIKELY(a->in_cleanup)) return ar_fail_null_(AR_EBUSY);
  if (AR_UNLIKELY(!ar_is_pow2_(align))) return ar_fail_null_(AR_EALIGN);
  if (AR_UNLIKELY(size > AR_MAX_ALLOC_SIZE || align > AR_MAX_ALLOC_SIZE))
    return ar_fail_null_(AR_EOVERFLOW);
  if (size == 0) size = 1;
  if (align < AR_ALIGN_DEFAULT) align = AR_ALIGN_DEFAULT;
  if (a->slow_only) a->site = site;
  if (AR_HEAP) return ar_heap_alloc(a, size, align);
  /* Over-page alignments always get a dedicated chunk (arena.h), even when the current chunk
   * could take them: padding to such a boundary could throw away most of the chunk. */
  void *p = align <= AR_PAGE_ALIGN ? bump_current(a, size, align) : NULL;
  if (p != NULL) return p;
  if (footprint(a, size, align) > a->large_threshold || align > AR_PAGE_ALIGN)
    return alloc_large(a, size, align);
  /* A block given back with ar_free (bins.c) before a new chunk; slow-only arenas never
   * reuse (free.c quarantines instead). */
  if (align == AR_ALIGN_DEFAULT && !a->slow_only &&
      (p = ar_bins_pop(&a->bins, ar_bins_footprint(size))) != NULL) {
    ar_track_to_user(p, size);
    a->hot.nalloc_++;
    return p;
  }
  ar_error_t err = push_new_chunk(a);
  if (err != AR_OK) return ar_fail_null_(err);
  p = bump_current(a, size, align);
  ar_assert(p != NULL); /* footprint <= a quarter of a fresh chunk */
  return p;
}

void *ar_alloc_slow_(ar_arena_t *a, size_t size, size_t align) {
  if (AR_UNLIKELY(a == NULL)) return ar_fail_null_(AR_EINVAL);
  return ar_alloc_at_(a, size, align, __builtin_return_address(0));
}

/* ---- lifetime ------------------------------------------------------------------------ */

void ar_options_init(ar_options_t *opts) {
  if (opts != NULL) {
    ar_options_t d = AR_OPTIONS_INIT;
    *opts = d;
  }
}

static void init_marks(ar_arena_t *a);
static void clear(ar_arena_t *a, size_t keep);

ar_arena_t *ar_arena_create(const ar_options_t *opts) {
  ar_options_t o;
  ar_error_t bad = ar_options_validate_(opts, &o); /* options.c: shared with pools, threads */
  if (bad != AR_OK) return (ar_arena_t *)ar_fail_null_(bad);
  o.chunk_size = ar_align_up_(o.chunk_size, 64);
  const ar_source_t *src = o.source ? o.source : ar_source_os();

  ar_arena_t *a = (ar_arena_t *)calloc(1, sizeof *a);
  if (a == NULL) return (ar_arena_t *)ar_fail_null_(AR_ENOMEM);
  a->magic = AR_ARENA_LIVE;
  a->source = *src;
  a->chunk_size = o.chunk_size;
  a->large_threshold = (o.chunk_size - AR_CHUNK_OVERHEAD) / 4;
  a->retain_bytes = o.retain_bytes;
  a->limit_bytes = o.limit_bytes;
  ar_track_attach(a, (o.flags & AR_ARENA_CHECKED) != 0); /* checked, vg, slow_only */
  a->owner = pthread_self();
  init_marks(a);
  a->created_ns = ar_now_ns_();
  if (o.name != NULL) {
    strncpy(a->name, o.name, sizeof a->name - 1);
    a->name[sizeof a->name - 1] = '\0';
  }
  /* The heap flavor holds no chunks: preallocation has nothing to do. */
  for (size_t i = 0; i < (AR_HEAP ? 0 : o.prealloc_chunks); i++) {
    ar_chunk_t *c = chunk_acquire(a, a->chunk_size);
    if (c == NULL) {
      /* Not ar_arena_destroy: an arena that was never created is not counted as destroyed
       * (stats.h: "arenas created", the lifetimes). */
      clear(a, 0);
      ar_track_detach(a);
      free(a);
      return (ar_arena_t *)ar_fail_null_(AR_ENOMEM);
    }
    c->next = a->spare;
    a->spare = c;
    a->nspare++;
  }
  ar_global_arena_created_();
  return a;
}

/* The save-point record (marks.c) starts inline (the first few depths never need malloc, so
 * ar_mark on a new or reset arena cannot run out of memory), and its stamps start at a value
 * no other arena's do, so a mark from another arena does not match by accident. Here rather
 * than in marks.c because creation and release set it up: the core calls nothing upward. */

static void init_marks(ar_arena_t *a) {
  static uint64_t arenas_seen;
  if (a->stamps != NULL && a->stamps != a->stamps_inline) free(a->stamps);
  a->stamps = a->stamps_inline;
  a->stamps_cap = sizeof a->stamps_inline / sizeof a->stamps_inline[0] / 2;
  if (a->stamp_clock == 0)
    a->stamp_clock = __atomic_add_fetch(&arenas_seen, 1, __ATOMIC_RELAXED) << 32;
}

/* Reset, release and destroy invalidate every mark; release and destroy free the record. */
static void forget_marks(ar_arena_t *a, bool free_record) {
  a->ndepth = 0;
  a->floor_chunk = NULL;
  a->floor_cur = NULL;
  if (free_record) init_marks(a);
}

void ar_run_cleanups_(ar_arena_t *a, size_t keep) {
  if (a->ncleanups <= keep) return;
  a->in_cleanup = true;
  a->hot.end_ = a->hot.cur_; /* a cleanup that allocates must reach the slow path's EBUSY */
  while (a->ncleanups > keep) {
    ar_cleanup_t *c = a->cleanups;
    a->cleanups = c->next;
    a->ncleanups--;
    c->fn(c->arg);
  }
  a->in_cleanup = false;
  sync_hot_end(a);
}

/* The body of reset, release and destroy: everything goes; `keep` bytes of ordinary chunks
 * stay as spares. */
static void clear(ar_arena_t *a, size_t keep) {
  update_peak(a);
  ar_run_cleanups_(a, 0);
  ar_bins_forget(&a->bins);
  ar_heap_free_from(a, 0); /* nothing to do outside the heap flavor */
  if (keep == 0) { /* release and destroy give back the heap flavor's tracking array too */
    free(a->hblocks);
    a->hblocks = NULL;
    a->hcap = 0;
  }
  if (a->chunks != NULL) retire_current(a);
  /* Idle chunks from earlier cycles make way for the ones this cycle used (AR_RETAIN_AUTO
   * keeps dedicated chunks too, so both kinds compete for `keep`). */
  if (retain_auto(a)) {
    size_t need = a->capacity - idle_bytes(a);
    while (idle_bytes(a) != 0 && idle_bytes(a) + need > keep) (void)drop_one_idle(a);
  }
  ar_chunk_t *list = a->chunks;
  a->chunks = NULL;
  while (list != NULL) {
    ar_chunk_t *c = list;
    list = c->next;
    ar_track_verify_or_die(a, c->data, c->top);
    ar_track_scrub(a, c->data, c->top);
    a->nchunks--;
    stash_or_release(a, c, keep);
  }
  while (a->large != NULL) {
    ar_chunk_t *c = a->large;
    a->large = c->next;
    ar_track_verify_or_die(a, c->data, c->top);
    a->nlarge--;
    keep_or_release_large(a, c, keep);
  }
  /* Chunks kept from earlier may exceed a smaller `keep` (release). */
  while (idle_bytes(a) > keep) (void)drop_one_idle(a);
  a->used_retired = 0;
  a->hot.cur_ = NULL;
  a->limit = NULL;
  forget_marks(a, keep == 0);
  sync_hot_end(a);
  /* Reset (keep > 0): a kept spare becomes the current chunk at once, so the first
   * allocation of the next request is an inline bump, not a trip out of line. That trip
   * costs more than a dozen inline allocations, which is what a small request makes. */
  if (keep > 0 && a->spare != NULL) (void)push_new_chunk(a);
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
}

/* Reset, release and destroy from inside a cleanup would free the memory the running cleanup
 * chain lives in: a programming error, reported loudly at every debug level. */
static void forbid_in_cleanup(const ar_arena_t *a) {
  if (AR_UNLIKELY(a->in_cleanup))
    ar_fatal_("arena '%s': reset, release or destroy called from a cleanup callback", a->name);
}

void ar_reset(ar_arena_t *a) {
  if (a == NULL) return;
  check_owner(a);
  forbid_in_cleanup(a);
  clear(a, retain_auto(a) ? keep_target(a) : a->retain_bytes);
}

void ar_release(ar_arena_t *a) {
  if (a == NULL) return;
  check_owner(a);
  forbid_in_cleanup(a);
  clear(a, 0);
}

void ar_arena_destroy(ar_arena_t *a) {
  if (a == NULL) return;
  /* No owner check: destroying after the owner has been joined is the normal pattern. */
  if (AR_UNLIKELY(a->magic != AR_ARENA_LIVE)) ar_arena_dead_(a);
  forbid_in_cleanup(a);
  clear(a, 0);
  ar_track_detach(a);
  free(a->kept); /* clear(a, 0) emptied it */
  a->kept = NULL;
  ar_registry_remove_(a->reg);
  a->reg = NULL;
  ar_global_arena_destroyed_(a->created_ns);
  a->magic = AR_ARENA_DEAD;
  ar_track_bury(a); /* freed, or parked in the graveyard if checked */
}

ar_arena_t *ar_arena_create_listed_(const ar_options_t *opts, int kind, const char *name) {
  ar_options_t o = *opts;
  if (o.chunk_size == 0) o.chunk_size = AR_DEFAULT_CHUNK_SIZE;
  if (o.source == NULL) o.source = ar_default_source_(o.chunk_size);
  o.name = name;
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) return NULL;
  a->reg = ar_registry_add_(kind, a, name, -1);
  if (a->reg == NULL) {
    ar_arena_destroy(a);
    ar_set_error_(AR_ENOMEM);
    return NULL;
  }
  /* Chunks acquired before the entry existed (prealloc) show in its mirror too. */
  ar_registry_mirror_(a->reg, a->capacity);
  return a;
}

void ar_arena_adopt(ar_arena_t *a) {
  if (a != NULL) a->owner = pthread_self();
}

/* ---- rewinding memory (marks.c keeps the save points) ---------------------------------- */

void ar_take_back_to_(ar_arena_t *a, const ar_mark_t *m) {
  ar_bins_forget(&a->bins);
  if (AR_HEAP) {
    ar_heap_free_from(a, ar_heap_mark_count(a, m->seq_));
    return;
  }
  size_t keep = retain_auto(a) ? keep_target(a) : a->retain_bytes;
  if (a->chunks != NULL) retire_current(a);
  /* Every ordinary chunk pushed since the mark has a larger seq. */
  while (a->chunks != NULL && a->chunks->seq > m->seq_) {
    ar_chunk_t *c = a->chunks;
    a->chunks = c->next;
    a->nchunks--;
    a->used_retired -= (size_t)(c->top - c->data);
    ar_track_verify_or_die(a, c->data, c->top);
    ar_track_scrub(a, c->data, c->top);
    stash_or_release(a, c, keep);
  }
  activate_head(a);
  /* If the mark's chunk is gone (given back while empty), the mark named the top of the
   * chunk now current, which is where activate_head left the cursor. */
  if (a->chunks != NULL && a->chunks == m->chunk_) {
    ar_track_verify_or_die(a, m->cur_, a->hot.cur_);
    ar_track_scrub(a, m->cur_, a->hot.cur_);
    a->hot.cur_ = m->cur_;
  }
  while (a->large != NULL && a->large->seq > m->seq_) {
    ar_chunk_t *c = a->large;
    a->large = c->next;
    a->nlarge--;
    a->used_retired -= (size_t)(c->top - c->data);
    ar_track_verify_or_die(a, c->data, c->top);
    keep_or_release_large(a, c, keep);
  }
}

/* ---- cleanups ------------------------------------------------------------------------ */

int ar_defer(ar_arena_t *a, ar_cleanup_fn fn, void *arg) {
  if (a == NULL || fn == NULL) return ar_set_error_(AR_EINVAL);
  ar_cleanup_t *c = (ar_cleanup_t *)ar_alloc_for_(a, sizeof *c, __builtin_return_address(0));
  if (c == NULL) return ar_last_error();
  c->fn = fn;
  c->arg = arg;
  c->next = a->cleanups;
  a->cleanups = c;
  a->ncleanups++;
  return AR_OK;
}
