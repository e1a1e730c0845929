/* SPDX-License-Identifier: MIT */
/*
 * runtime/arena.c - the serial arena's core: the bump, allocation, dedicated chunks, creation,
 * reset and destroy, cleanups. (Moving chunks between the lists and the source, keeping them
 * and the limit are chunks.c's.)
 *
 * Design. An arena owns three singly linked lists of chunks, each chunk carrying its own
 * header at the front of the block its source gave:
 *   chunks  ordinary chunks (`chunk_size` bytes, or a power-of-two multiple of it when chunks
 *           grow: chunks.c, "Growing"), newest first; the head is the current chunk, the one
 *           the cursor bumps through;
 *   large   dedicated chunks, one per request too big (over a quarter of the chunk it would
 *           bump) or too aligned (over a page) to share, newest first, so a big request never
 *           wastes the tail of the current chunk;
 *   spare   empty ordinary chunks kept by reset/rewind (within `retain_bytes`) for reuse,
 *           in the order they were used (chunks.c, "Growing");
 *   kept    (AR_RETAIN_AUTO only) emptied dedicated chunks kept for reuse, by size class;
 *           see "Keeping memory" in chunks.c.
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
 * Source. An arena created without one (no options, or source NULL) takes
 * ar_default_source_(chunk_size) (defsource.c), the one default that thread, pool and
 * concurrent arenas take too: the process-wide lock-free chunk pool for default-size chunks
 * (or the NUMA node routing that ar_numa_init installs in its place), OS pages for any other
 * chunk size. So the first arena a program makes reuses chunks like the rest. The pool hands
 * every request of another size straight to its backing source, the OS pages, and dedicated
 * chunks are not of its size (if one were, going to the OS directly would only skip the
 * pool's cache); so an arena that ar_arena_create gave the process-wide pool takes its
 * dedicated (and grown) chunks from OS pages itself (large_source: the same memory as through
 * the pool), where ar_realloc can grow them in place (chunks.c first, within the address space
 * it reserved behind a chunk that ar_realloc asked for; past that with mremap,
 * ar_large_grow_), as it could when ar_source_os() was this call's default. It takes them
 * through the process-wide cache of mappings such arenas gave back (ar_source_os_cached_,
 * oscache.c; the choice is ar_default_large_source_'s, which the ConcurrentArena shares), so
 * that an arena made per job does not map and fault the same lengths job after job; a caller
 * who names ar_source_os() gets the plain, zeroing source. Arenas listed in the registry (thread
 * and arena-pool arenas, ar_arena_create_listed_) name the default source explicitly, as they
 * always have, so theirs go through the pool and ar_realloc copies them: ThreadSanitizer does
 * not follow mremap, and the stress soak's pool arenas then report races on addresses that
 * another thread's chunk held before. Any other source serves both kinds.
 *
 * Watching the memory. Slow-only mode (checked records and guards, ASan, Valgrind memcheck
 * mempools, allocation sites) and the use-after-destroy graveyard are track.c's; this file
 * says what happens to memory (hidden, scrubbed, recorded, verified, back to the source) in
 * its vocabulary and never calls a tool itself. The heap flavor (AR_HEAP=1, every allocation
 * its own malloc) is heap.c's: ar_alloc_at_ and clear hand over to it, and everything about
 * chunks does not apply there.
 *
 * Around the core. Single blocks given back (ar_free, ar_realloc) are free.c's, above this
 * file: it calls the core (ar_large_free_, ar_large_grow_) and the freed-block lists
 * (bins.c), which the slow path here consults when the current chunk is full. Marks and
 * rewinds are marks.c's, strings and copies strings.c's, stats and the invariant walker
 * introspect.c's. This file calls none of those upward: only chunks.c, bins.c, heap.c,
 * track.c, the sources and the registry (and ar_arena_check, in expensive debug asserts).
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
#include "arenart/chunkpool.h"
#include "runtime/arena_internal.h"
#include "runtime/bins.h"
#include "runtime/chunks.h"
#include "runtime/heap.h"
#include "runtime/internal.h"
#include "runtime/track.h"

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

/* Makes a new ordinary chunk of `bytes` current: the first spare if there is one (then
 * `bytes` is its size, ar_chunks_next_size), else a fresh one from the source. */
static ar_error_t push_new_chunk(ar_arena_t *a, size_t bytes) {
  ar_chunk_t *c = ar_chunks_spare_pop(a);
  if (c == NULL) {
    if (!ar_chunks_room_possible(a, bytes)) return AR_ELIMIT;
    c = ar_chunks_acquire(a, bytes, false);
    if (c == NULL) return AR_ENOMEM;
    ar_chunks_shed_to_limit(a);
  }
  if (a->chunks != NULL) ar_chunks_retire_current(a);
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

/* growable: the chunk for ar_realloc's block, with room to grow where it can have it. */
static void *alloc_large(ar_arena_t *a, size_t size, size_t align, bool growable) {
  size_t fp = footprint(a, size, align);
  size_t bytes = fp + AR_CHUNK_OVERHEAD + (align > 64 ? align : 0);
  if (bytes < fp) return ar_fail_null_(AR_EOVERFLOW);
  /* A kept chunk is already counted in capacity: taking it needs no room. */
  ar_chunk_t *c = a->nkept != 0 ? ar_chunks_take_kept(a, bytes) : NULL;
  if (c == NULL) {
    if (!ar_chunks_room_possible(a, bytes)) return ar_fail_null_(AR_ELIMIT);
    c = growable ? ar_chunks_acquire_growable(a, bytes) : ar_chunks_acquire(a, bytes, true);
    if (c == NULL) return ar_fail_null_(AR_ENOMEM);
    ar_chunks_shed_to_limit(a);
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

/* A block with a chunk of its own, for ar_realloc (free.c): a block that grows past the
 * dedicated threshold of a chunk_size chunk is likely to keep growing (a vector, a buffer), and
 * in a dedicated chunk it can, in place or by mremap. With grown chunks ar_alloc would bump
 * it inline instead, and every doubling would copy it and leave the old copy behind.
 * `growable` asks for room to grow (chunks.c). The caller has checked the owner, cleanups and
 * the size. */
void *ar_alloc_dedicated_(ar_arena_t *a, size_t size, bool growable) {
  return alloc_large(a, size, AR_ALIGN_DEFAULT, growable);
}

/*
 * Growing a dedicated chunk (ar_realloc of a big block). The chunk holds one allocation,
 * so it may grow in place: into its own slack if it has some (a kept chunk reused for a
 * smaller request), else by asking the source to resize the whole block (source.c: mremap
 * for the OS source), which moves page table entries, not bytes. A chunk with address space
 * reserved behind it (chunks.c, ar_chunks_grow_reserved) grows there first, without any of
 * this; its mapping is resized here only once the reserve is used up. The chunk header lives at
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
    /* ThreadSanitizer does not follow mremap: pages moved to a range another thread's arena
     * used before would be reported as racing with it. Copy there instead. */
    if (AR_TSAN) return NULL;
    if (!ar_chunks_room_possible(a, bytes - c->size)) return NULL;
    /* After a move the old header is gone: only the new one may be read. */
    char *ob = (char *)c->base;
    size_t osize = c->size;
    char *nb = (char *)ar_source_resize_(&a->large_source, ob, osize, bytes);
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
    ar_chunks_shed_to_limit(a);
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
 * once, through the one release path (chunks.c, ar_chunks_release), so the arena's, the
 * registry's and the tools' views of it stay exact. `used` shrinks, so the peak is taken first. */
void ar_large_free_(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c) {
  update_peak(a);
  *link = c->next;
  a->nlarge--;
  a->used_retired -= (size_t)(c->top - c->data);
  ar_chunks_release(a, c, true);
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
  /* The threshold is a quarter of the chunk a refill would make current, which is larger than
   * chunk_size when chunks grow (chunks.c, "Growing"). */
  size_t next = ar_chunks_next_size(a);
  if (footprint(a, size, align) > (next - AR_CHUNK_OVERHEAD) / 4 || align > AR_PAGE_ALIGN)
    return alloc_large(a, size, align, false);
  /* A block given back with ar_free (bins.c) before a new chunk; slow-only arenas never
   * reuse (free.c quarantines instead). */
  if (align == AR_ALIGN_DEFAULT && !a->slow_only &&
      (p = ar_bins_pop(&a->bins, ar_bins_footprint(size))) != NULL) {
    ar_track_to_user(p, size);
    a->hot.nalloc_++;
    return p;
  }
  ar_error_t err = push_new_chunk(a, next);
  if (err == AR_ENOMEM && next > a->chunk_size) {
    /* The source could not give a grown chunk; a chunk_size one (the pool's) may still come,
     * and a request too big for that gets its own, smaller than the grown chunk would be. */
    if (footprint(a, size, align) > (a->chunk_size - AR_CHUNK_OVERHEAD) / 4)
      return alloc_large(a, size, align, false);
    err = push_new_chunk(a, a->chunk_size);
  }
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

/* Whether an arena made from the options `o` (validated, chunk_size 0 replaced) grows its
 * chunks: the default chunk size, no source named and no AR_ARENA_FIXED_CHUNKS (arena.h).
 * Arenas listed in the registry (thread and arena-pool arenas, ar_arena_create_listed_) name
 * the default source themselves, so they keep fixed chunks: theirs circulate through the
 * process-wide pool (or the NUMA node pools), which pool the default size only, and the
 * arena pool sizes what they keep in whole chunks (arenapool.c). */
static bool grows(const ar_options_t *o) {
  return o->chunk_size == AR_DEFAULT_CHUNK_SIZE && o->source == NULL &&
         (o->flags & AR_ARENA_FIXED_CHUNKS) == 0;
}

ar_arena_t *ar_arena_create(const ar_options_t *opts) {
  ar_options_t o;
  ar_error_t bad = ar_options_validate_(opts, &o); /* options.c: shared with pools, threads */
  if (bad != AR_OK) return (ar_arena_t *)ar_fail_null_(bad);
  const ar_source_t *src = o.source ? o.source : ar_default_source_(o.chunk_size);

  ar_arena_t *a = (ar_arena_t *)calloc(1, sizeof *a);
  if (a == NULL) return (ar_arena_t *)ar_fail_null_(AR_ENOMEM);
  a->magic = AR_ARENA_LIVE;
  a->source = *src;
  /* Dedicated chunks (see "Source"): the pool would pass them to the OS pages anyway. */
  a->large_source = *ar_default_large_source_(src, o.source != NULL);
  a->chunk_size = o.chunk_size;
  a->large_threshold = (o.chunk_size - AR_CHUNK_OVERHEAD) / 4;
  /* Chunks grow (chunks.c, "Growing") for the defaults only: a caller who names a chunk size
   * or a source gets chunks of exactly that size from it, as before growth existed. */
  a->grow_max = o.chunk_size;
  if (grows(&o)) a->grow_max = AR_GROWN_CHUNK_MAX;
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
    ar_chunk_t *c = ar_chunks_acquire(a, a->chunk_size, false);
    if (c == NULL) {
      /* Not ar_arena_destroy: an arena that was never created is not counted as destroyed
       * (stats.h: "arenas created", the lifetimes). */
      clear(a, 0);
      ar_track_detach(a);
      free(a);
      return (ar_arena_t *)ar_fail_null_(AR_ENOMEM);
    }
    ar_chunks_spare_push(a, c);
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
  /* A callback may lease the arena (its allocations fail with AR_EBUSY) but must end the
   * lease: the reset or rewind that ran it is about to set a cursor of its own. */
  if (AR_UNLIKELY(a->hot.cur_ == AR_LEASE_HELD_))
    ar_fatal_("arena '%s' (%p): a cleanup callback began a lease and did not end it", a->name,
              (const void *)a);
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
  if (keep == 0) {         /* release and destroy give back the heap flavor's tracking array too */
    free(a->hblocks);
    a->hblocks = NULL;
    a->hcap = 0;
  }
  size_t used = current_used(a);
  if (a->chunks != NULL) ar_chunks_retire_current(a);
  size_t need = a->capacity - ar_chunks_idle_bytes(a);
  /* Idle chunks from earlier cycles make way for the ones this cycle used (AR_RETAIN_AUTO
   * keeps dedicated chunks too, so both kinds compete for `keep`). */
  if (ar_chunks_retain_auto(a)) {
    while (ar_chunks_idle_bytes(a) != 0 && ar_chunks_idle_bytes(a) + need > keep)
      (void)ar_chunks_drop_one_idle(a);
  }
  ar_chunk_t *list = a->chunks;
  a->chunks = NULL;
  while (list != NULL) {
    ar_chunk_t *c = list;
    list = c->next;
    ar_track_verify_or_die(a, c->data, c->top);
    ar_track_scrub(a, c->data, c->top);
    a->nchunks--;
    ar_chunks_stash_or_release(a, c, keep);
  }
  while (a->large != NULL) {
    ar_chunk_t *c = a->large;
    a->large = c->next;
    ar_track_verify_or_die(a, c->data, c->top);
    a->nlarge--;
    ar_chunks_keep_or_release_large(a, c, keep);
  }
  /* Chunks kept from earlier may exceed a smaller `keep` (release). */
  while (ar_chunks_idle_bytes(a) > keep) (void)ar_chunks_drop_one_idle(a);
  /* A growing arena keeps one chunk that holds this whole cycle (chunks.c, "Growing"). */
  if (keep > 0) ar_chunks_fit_next(a, need, used, keep);
  a->used_retired = 0;
  a->hot.cur_ = NULL;
  a->limit = NULL;
  forget_marks(a, keep == 0);
  sync_hot_end(a);
  /* Reset (keep > 0): a kept spare becomes the current chunk at once, so the first
   * allocation of the next request is an inline bump, not a trip out of line. That trip
   * costs more than a dozen inline allocations, which is what a small request makes. Not
   * after a request that one chunk of AR_FIT_MAX could not hold, whose chunks are kept
   * as they were (chunks.c, "Growing"): with no current chunk, the next such request takes
   * the same path through them (a first big block to a kept dedicated chunk, not into the
   * first spare), so it touches the pages this one did instead of faulting in new ones; one
   * trip out of line is nothing beside the hundreds of allocations such a request makes. */
  bool big = a->grow_max > a->chunk_size && used + AR_CHUNK_OVERHEAD > AR_FIT_MAX;
  if (keep > 0 && a->spare != NULL && !big) (void)push_new_chunk(a, a->spare->size);
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
  clear(a, ar_chunks_keep_now(a));
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
  check_unleased(a);
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
  ar_options_t o = *opts; /* validated: chunk_size set and rounded (options.c) */
  if (o.source == NULL) o.source = ar_default_source_(o.chunk_size); /* see "Source" */
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
  if (a == NULL) return;
  check_unleased(a);
  a->owner = pthread_self();
}

/* ---- rewinding memory (marks.c keeps the save points) ---------------------------------- */

void ar_take_back_to_(ar_arena_t *a, const ar_mark_t *m) {
  ar_bins_forget(&a->bins);
  if (AR_HEAP) {
    ar_heap_free_from(a, ar_heap_mark_count(a, m->seq_));
    return;
  }
  size_t keep = ar_chunks_keep_now(a);
  if (a->chunks != NULL) ar_chunks_retire_current(a);
  /* Every ordinary chunk pushed since the mark has a larger seq. */
  while (a->chunks != NULL && a->chunks->seq > m->seq_) {
    ar_chunk_t *c = a->chunks;
    a->chunks = c->next;
    a->nchunks--;
    a->used_retired -= (size_t)(c->top - c->data);
    ar_track_verify_or_die(a, c->data, c->top);
    ar_track_scrub(a, c->data, c->top);
    ar_chunks_stash_or_release(a, c, keep);
  }
  ar_chunks_activate_head(a);
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
    ar_chunks_keep_or_release_large(a, c, keep);
  }
}

/* ---- cleanups ------------------------------------------------------------------------ */

int ar_defer(ar_arena_t *a, ar_cleanup_fn fn, void *arg) {
  check_unleased_if(a);
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
