/* SPDX-License-Identifier: MIT */
/*
 * runtime/chunks.c - a serial arena's chunks: acquiring and releasing them, keeping emptied
 * ones for reuse, and staying under `limit_bytes`.
 *
 * The lists (chunks, large, spare, kept) and their order are described in arena.c; this file
 * moves chunks between them and the source. Every chunk comes from ar_chunks_acquire and goes
 * back through ar_chunks_release, the one release path, which keeps the arena's `capacity`,
 * the registry's mirror and the tools' view (track.c: fresh chunk memory is hidden, memory
 * handed back to the source is made writable for it) in step. Dedicated chunks given back by
 * ar_free take the same path (arena.c, ar_large_free_).
 *
 * Calls downward only: track.c, the registry's accounting and clock, the source itself, and
 * source.c's ar_source_os() (to recognise OS pages, "Room to grow" below). The arena core
 * (arena.c) and free.c call it; it calls nothing of either.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "arenart/arena.h"
#include "arenart/source.h"
#include "runtime/arena_internal.h"
#include "runtime/chunks.h"
#include "runtime/internal.h"
#include "runtime/track.h"

/* Ordinary chunks of chunk_size come from the arena's source; dedicated chunks and grown
 * ordinary ones (any other size) from large_source: the same source, except that an arena on
 * the process-wide chunk pool takes them from the OS pages directly, as the pool itself would
 * for a size it does not pool (arena.c, "Source"). Both are chosen at creation, and the size
 * a chunk was acquired with never changes while it is ordinary, so a chunk goes back to the
 * one it came from. */
static const ar_source_t *source_for(const ar_arena_t *a, bool dedicated, size_t bytes) {
  return dedicated || bytes != a->chunk_size ? &a->large_source : &a->source;
}

/*
 * Room to grow. ar_realloc moves a block that grows past a quarter of a chunk_size chunk into
 * a dedicated chunk (free.c), because such a block is usually a vector or a buffer that goes
 * on doubling. Growing that chunk with mremap costs a system call per doubling, and most of
 * them move the mapping: dedicated chunks are mapped one after another, so the pages after a
 * chunk are usually the next chunk, and the kernel must move the page tables and flush the
 * TLB. Measured on the bench's append-heavy containers (64 vectors doubling from 32 KiB to
 * 512 KiB), those mremap calls were a tenth of the run's time.
 * So a dedicated chunk that ar_realloc asks for (ar_chunks_acquire_growable), from OS pages
 * (ar_source_os(), or the cached OS source of a default arena), in an arena that is not
 * slow-only, is mapped with room to grow: the
 * mapping is AR_RESERVE_SMALL (1 MiB) long, or AR_RESERVE_LARGE (4 MiB) for chunks above
 * 1 MiB, and the chunk uses its front. Growing into the rest is a few stores
 * (ar_chunks_grow_reserved); past it the whole mapping is resized with mremap to the next
 * reserve (4 MiB), and from 4 MiB on to exactly the chunk (which is then advised
 * MADV_HUGEPAGE like any 4 MiB block of the OS source: a block grown that large is mostly
 * written, while a huge page in a reserve would make memory of address space). Smaller reserves are
 * advised MADV_NOHUGEPAGE, so that where THP is "always" a first touch cannot fault in 2 MiB
 * of a reserve. Nothing of a reserve is resident until written, but it is not free: its
 * address space, and the page tables behind it (a page-table page covers 2 MiB of address
 * space, so each touched 1 MiB reserve needs half of one, 2 KiB). Behind every block that
 * ar_realloc moved into a chunk of its own that was 40 MiB of page tables for 20,000 blocks
 * of 17 KiB grown once (an outside tester's count; 0.8 MiB without reserves), and a 1 MiB
 * reserve per block that most such programs never use. So free.c asks for a reserve only
 * when a block that already has a dedicated chunk grows again (ar_chunks_would_reserve): the
 * first move gives it an exact chunk, the second, which shows a vector that keeps doubling,
 * copies it into a reserved one (the block is still small then: one copy of tens of KiB),
 * and from there it grows in place to 1 MiB (only a block of 512 KiB or less, which leaves the
 * reserve as much room as it takes, and only where limit_bytes holds both chunks for the copy;
 * any other is resized as before). Page tables then cost at most 2 KiB per block of 32 KiB or
 * more that grew twice. The mapping is an ordinary one, not MAP_NORESERVE: the kernel charges
 * its length like any other (a strict overcommit policy may then refuse it, and the chunk is
 * made without a reserve), and checks every mremap that grows it. A MAP_NORESERVE mapping keeps
 * that flag through mremap, and the kernel then grew it unchecked: ar_realloc to 512 GiB
 * succeeded where ar_alloc of the same size fails with AR_ENOMEM.
 * The reserve is not part of the chunk: `size` (and so `capacity`, the registry's totals,
 * limit_bytes, the kept-chunk classes and retention) stays what the chunk was asked for, and
 * grows only by what the block grows into, under the limit as an mremap would. Only the
 * mapping's length differs, and it is kept in a record at the front of the mapping: the
 * chunk header follows it at offset AR_RESERVE_HEAD, which is how such a chunk is recognised
 * (an OS page is page-aligned, so every other chunk of that source has its header at
 * offset 0). AR_CHUNK_OVERHEAD already has room for the 16 bytes. ar_chunks_release gives the
 * whole mapping back, so release, reset, rewind, ar_free and destroy give the address space
 * back with the chunk: to the OS, or, where the arena's dedicated chunks come through the
 * cache of given-back mappings (ar_source_os_cached_, a default arena's), to that cache, from
 * which the next reserve of the same length comes (oscache.c).
 * Only chunks that ar_realloc asks for get a reserve: a large ar_alloc is usually written
 * once and never grows, and spreading every dedicated chunk over a megabyte of address space
 * would cost page-table pages of its own for each. A mapping that cannot be had with its
 * reserve (a strict overcommit policy refuses address space as if it were memory) is made
 * without one, as before; an mremap that cannot reach a reserve asks for the exact size.
 * ThreadSanitizer builds, which cannot follow mremap, grow within the reserve (nothing moves)
 * and copy past it, as they copy any dedicated chunk that would have to be resized.
 */
#define AR_RESERVE_SMALL ((size_t)1 << 20)
#define AR_RESERVE_LARGE ((size_t)4 << 20)
#define AR_RESERVE_HEAD ((size_t)16)
#define AR_RESERVE_TAG ((uintptr_t)0x72657365727665UL) /* "reserve" */

/* At the front of a reserved mapping: its length, and a tag that debug builds check. */
typedef struct reserve_rec {
  size_t length;
  uintptr_t tag; /* AR_RESERVE_TAG ^ the mapping's address */
} reserve_rec_t;

static bool same_source(const ar_source_t *x, const ar_source_t *y) {
  return x->acquire == y->acquire && x->release == y->release;
}

/* Whether dedicated chunks come from OS pages (plain or through the cache), which reserves
 * and mremap need. */
static bool os_large(const ar_arena_t *a) {
  return same_source(&a->large_source, ar_source_os()) ||
         same_source(&a->large_source, ar_source_os_cached_());
}

/* Whether this arena's reserves go through the process-wide cache of mappings (oscache.c):
 * where its dedicated chunks do. */
static bool cached_large(const ar_arena_t *a) {
  return same_source(&a->large_source, ar_source_os_cached_());
}

bool ar_chunks_reserved(const ar_arena_t *a, const ar_chunk_t *c) {
  if (!os_large(a) || (const char *)c - (const char *)c->base != (ptrdiff_t)AR_RESERVE_HEAD)
    return false;
  ar_assert(((const reserve_rec_t *)c->base)->tag == (AR_RESERVE_TAG ^ (uintptr_t)c->base));
  return true;
}

/* The mapping a chunk of `bytes` gets: a reserve below 4 MiB, the exact size from there. */
static size_t reserve_length(size_t bytes) {
  if (bytes <= AR_RESERVE_SMALL) return AR_RESERVE_SMALL;
  if (bytes < AR_RESERVE_LARGE) return AR_RESERVE_LARGE;
  return ar_align_up_(bytes, AR_PAGE_ALIGN); /* bytes < 2^62: no wrap */
}

bool ar_chunks_would_reserve(const ar_arena_t *a, size_t bytes) {
  return !a->slow_only && bytes <= AR_RESERVE_SMALL / 2 && os_large(a);
}

static void reserve_note(char *base, size_t length) {
  reserve_rec_t *r = (reserve_rec_t *)(void *)base;
  r->length = length;
  r->tag = AR_RESERVE_TAG ^ (uintptr_t)base;
}

/* The header fields of a new chunk of `bytes` at c, in the block at base; counted. */
static ar_chunk_t *chunk_init(ar_arena_t *a, void *base, ar_chunk_t *c, size_t bytes) {
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

/* A dedicated chunk of `bytes` with room to grow ("Room to grow"); NULL if the mapping could
 * not be had (nothing changed). */
static ar_chunk_t *acquire_reserved(ar_arena_t *a, size_t bytes) {
  size_t length = reserve_length(bytes);
  /* Not MAP_NORESERVE ("Room to grow"): the kernel must check what mremap later adds. */
  char *base = cached_large(a) ? (char *)ar_oscache_take_(length, AR_OSCACHE_RESERVE) : NULL;
  if (base == NULL) {
    base = (char *)ar_oscache_map_(length);
    if (base == NULL) return NULL;
#ifdef MADV_NOHUGEPAGE
    (void)madvise(base, length, MADV_NOHUGEPAGE); /* advice only */
#endif
  }
  reserve_note(base, length);
  return chunk_init(a, base, (ar_chunk_t *)(void *)(base + AR_RESERVE_HEAD), bytes);
}

ar_chunk_t *ar_chunks_acquire_growable(ar_arena_t *a, size_t bytes) {
  if (!a->slow_only && bytes < AR_RESERVE_LARGE && os_large(a)) {
    ar_chunk_t *c = acquire_reserved(a, bytes);
    if (c != NULL) return c;
  }
  return ar_chunks_acquire(a, bytes, true);
}

ar_chunk_t *ar_chunks_acquire(ar_arena_t *a, size_t bytes, bool dedicated) {
  const ar_source_t *src = source_for(a, dedicated, bytes);
  void *base = src->acquire(src->ctx, bytes);
  if (base == NULL) return NULL;
  return chunk_init(a, base, (ar_chunk_t *)(void *)ar_align_up_((uintptr_t)base, 16), bytes);
}

ar_chunk_t *ar_chunks_grow_reserved(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c, size_t bytes) {
  ar_assert(ar_chunks_reserved(a, c) && bytes > c->size);
  if (!ar_chunks_room_possible(a, bytes - c->size)) return NULL;
  size_t length = ((const reserve_rec_t *)c->base)->length;
  /* Reaching 4 MiB always remaps, even within a 4 MiB reserve: the chunk then has a mapping
   * of its own size, advised huge pages, like every block that large of the OS source. */
  bool to_exact = bytes >= AR_RESERVE_LARGE && c->size < AR_RESERVE_LARGE;
  if (bytes > length || to_exact) {
    if (AR_TSAN) return NULL; /* it cannot follow mremap: the caller copies */
    /* The whole mapping moves (or grows where it is), record and header with it; after a
     * move only the new header may be read. */
    char *ob = (char *)c->base;
    size_t want = reserve_length(bytes);
    char *nb = (char *)ar_oscache_remap_(ob, length, want);
    if (nb == NULL && want > ar_align_up_(bytes, AR_PAGE_ALIGN)) {
      want = ar_align_up_(bytes, AR_PAGE_ALIGN);
      nb = (char *)ar_oscache_remap_(ob, length, want);
    }
    if (nb == NULL) return NULL;
#ifdef MADV_HUGEPAGE
    /* No reserve left (the mapping may have had one, advised otherwise): as os_acquire
     * advises a block this large. */
    if (bytes >= AR_RESERVE_LARGE) (void)madvise(nb, want, MADV_HUGEPAGE);
#endif
    ptrdiff_t d = nb - ob;
    ar_chunk_t *nc = (ar_chunk_t *)(void *)(nb + AR_RESERVE_HEAD);
    reserve_note(nb, want);
    nc->base = nb;
    nc->data += d;
    nc->top += d;
    if (nc->start != NULL) nc->start += d;
    *link = nc;
    c = nc;
  }
  /* Counted as ar_large_grow_ counts a resize: the old size released, the new one acquired,
   * so the registry's chunk counts stay balanced. */
  ar_global_chunk_released_(a->reg, c->size);
  ar_global_chunk_acquired_(a->reg, bytes);
  a->capacity += bytes - c->size;
  c->size = bytes;
  c->limit = (char *)c->base + bytes;
  ar_chunks_shed_to_limit(a);
  return c;
}

void ar_chunks_release(ar_arena_t *a, ar_chunk_t *c, bool dedicated) {
  const ar_source_t *src = source_for(a, dedicated, c->size);
  void *base = c->base;
  size_t size = c->size;
  bool reserved = dedicated && ar_chunks_reserved(a, c);
  ar_assert(a->capacity >= size);
  a->capacity -= size;
  ar_global_chunk_released_(a->reg, size);
  ar_track_to_source(a, base, size);
  if (reserved) { /* the reserve goes too */
    size_t length = ((const reserve_rec_t *)base)->length;
    /* Only the length acquire_reserved asks for (a block grows into a reserve from at most
     * half of AR_RESERVE_SMALL) is worth keeping: a mapping that grew past it by mremap has a
     * length nobody asks for, and advice of its own. */
    if (length != AR_RESERVE_SMALL || !cached_large(a) ||
        !ar_oscache_put_(base, length, AR_OSCACHE_RESERVE))
      munmap(base, length);
  } else {
    src->release(src->ctx, base, size);
  }
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
 *   - a reset keeps at most keep_peak bytes, ordinary chunks and dedicated chunks alike. Idle
 *     chunks from earlier resets go back first, down to what leaves room for the chunks this
 *     cycle used: recent use is the better guess;
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
ar_chunk_t *ar_chunks_take_kept(ar_arena_t *a, size_t bytes) {
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
bool ar_chunks_drop_one_idle(ar_arena_t *a) {
  if (a->spare != NULL) {
    ar_chunks_release(a, ar_chunks_spare_pop(a), false);
    return true;
  }
  for (unsigned k = AR_KEPT_CLASSES; a->nkept != 0 && k-- > 0;) {
    if (a->kept[k] != NULL) {
      ar_chunks_release(a, kept_unlink(a, &a->kept[k]), true);
      return true;
    }
  }
  return false;
}

/* AR_RETAIN_AUTO: folds the current need into the decaying peak and returns what may be
 * kept now. */
size_t ar_chunks_keep_target(ar_arena_t *a) {
  size_t need = a->capacity - ar_chunks_idle_bytes(a);
  /* A growing arena's one grown chunk (kept by ar_chunks_fit_next) would count whole at every
   * reset, and the peak would never decay below it however little later requests use: its
   * need is the chunk that would hold what it handed out. */
  if (!AR_HEAP && a->grow_max > a->chunk_size && a->nchunks == 1 && a->nlarge == 0 &&
      a->chunks != NULL && a->chunks->size > a->chunk_size) {
    size_t want = current_used(a) + AR_CHUNK_OVERHEAD, size = a->chunk_size;
    while (size < want && size < a->grow_max) size <<= 1;
    if (size < need) need = size;
  }
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
void ar_chunks_keep_or_release_large(ar_arena_t *a, ar_chunk_t *c, size_t keep) {
  if (ar_chunks_retain_auto(a) && c->size <= AR_RETAIN_AUTO_MAX &&
      ar_chunks_idle_bytes(a) + c->size <= keep) {
    ar_track_scrub(a, c->data, c->top);
    if (kept_push(a, c)) return;
  }
  ar_chunks_release(a, c, true);
}

/* Keeps an emptied ordinary chunk as a spare if `keep_bytes` allows, else returns it. */
void ar_chunks_stash_or_release(ar_arena_t *a, ar_chunk_t *c, size_t keep_bytes) {
  if (ar_chunks_idle_bytes(a) + c->size <= keep_bytes) {
    c->seq = 0;
    c->top = c->data;
    c->limit = (char *)c->base + c->size; /* no longer sealed */
    ar_chunks_spare_push(a, c);
  } else {
    ar_chunks_release(a, c, false);
  }
}

/*
 * Growing. With 64 KiB chunks a request that needs megabytes pushes a new chunk every 64 KiB,
 * and every block over 16 KiB (a quarter of a chunk) takes a dedicated chunk of its own: a
 * source call each, a mapping each, and a kept-chunk list to search at every reset. A user
 * can tune that away (a larger chunk_size, a retain_bytes), but the defaults must not need
 * it. So an arena whose chunks grow (a->grow_max > chunk_size: the defaults, arena.c) sizes
 * each new ordinary chunk from the chunk bytes it has in use (ordinary and dedicated, the
 * `need` of "Keeping memory"): the largest chunk_size << k that is at most that need, and at
 * most grow_max. So the first two chunks are chunk_size, and from there each new chunk about
 * doubles the footprint until the cap: a request makes O(log) refills (and source calls) up
 * to grow_max, and one per grow_max beyond.
 * The dedicated-chunk threshold is a quarter of the chunk the refill would make current
 * (arena.c), so as chunks grow, mid-size blocks bump inline instead of taking a chunk each.
 * The size follows the need, not a count of refills, so it needs no state: a rewind or reset
 * that gives the memory back makes the next chunk small again. What reset and rewind keep
 * (spares, of any size) is reused in the order the last cycle used it: a reset stashes the
 * newest chunk first onto the front of the list, so the oldest comes out first. The next
 * request of the same kind then lays its blocks out nearly as the last one did, through pages
 * that one touched; reusing the largest spares first would put the start of the request into
 * the tail of the last cycle's last chunk, which it never touched, and fault it in again.
 * Under limit_bytes the size halves (not below chunk_size) until the idle chunks could make
 * room for it, so the next chunk never fails for want of room that a chunk_size chunk would
 * have had; the size is decided before anything is acquired, so a refusal still leaves the
 * arena unchanged. Growth does change how a limit is used up: mid-size blocks that bump inline
 * in grown chunks leave those chunks' tails unused, so near the limit a growing arena can hold
 * fewer such blocks than fixed chunks would (16 instead of 17 blocks of 30000 bytes under a
 * 512 KiB limit); arena.h says so, and AR_ARENA_FIXED_CHUNKS is the choice for arenas sized
 * to their limit.
 *
 * Growing within a request still leaves its first chunks small, and a request of a few
 * hundred KiB never grows far: it pays a refill every 64 KiB and a dedicated chunk for every
 * block over 16 KiB, request after request, where an arena of 1 MiB chunks bumps everything
 * inline. So a reset (AR_RETAIN_AUTO only) that ends a request whose chunks together (the
 * need) were more than chunk_size, while what it handed out (`used`, padding included) and a
 * chunk header fit in AR_FIT_MAX (1 MiB), keeps instead one chunk that holds all it handed out (the
 * least chunk_size << k that does), unless it keeps one that large already. It acquires that
 * chunk first, then gives back the smaller spares and kept dedicated chunks (all that it
 * replaces), then, first spare first, whatever else takes what it keeps past the larger of
 * its target and that chunk (or past the limit). The next request of that size bumps through
 * one warm chunk, so a steady load settles after one reset. Above AR_FIT_MAX nothing is
 * replaced: the request's chunks are kept as they are, as replacing them would map and fault
 * fresh memory for the next request. The bound is not the growth cap: a 4 MiB chunk is advised
 * huge pages (source.c), so one kept for a request of 2.01 MiB is resident whole, twice what
 * the request wrote, where its own chunks (64 KiB to 2 MiB, none advised) hold what it wrote
 * (an outside tester measured 4.37 against 2.03 MiB per arena). A source that fails,
 * or a limit the chunk would not fit under, leaves the reset as it was. For the decaying peak
 * such a chunk counts as the chunk that would hold what the cycle handed out (not its whole
 * size), so once later requests are small again, the peak decays and a reset gives it back.
 */

void ar_chunks_spare_push(ar_arena_t *a, ar_chunk_t *c) {
  c->next = a->spare;
  a->spare = c;
  a->nspare++;
  a->spare_bytes += c->size;
}

ar_chunk_t *ar_chunks_spare_pop(ar_arena_t *a) {
  ar_chunk_t *c = a->spare;
  if (c == NULL) return NULL;
  a->spare = c->next;
  c->next = NULL;
  a->nspare--;
  a->spare_bytes -= c->size;
  return c;
}

size_t ar_chunks_next_size(const ar_arena_t *a) {
  if (a->spare != NULL) return a->spare->size;
  size_t size = a->chunk_size;
  if (a->grow_max <= size) return size;
  size_t need = a->capacity - ar_chunks_idle_bytes(a);
  while (size < a->grow_max && size <= need / 2) size <<= 1;
  while (size > a->chunk_size && !ar_chunks_room_possible(a, size)) size >>= 1;
  return size;
}

/* Gives back the smallest spare below `size`, else the largest kept dedicated chunk below it
 * (the head of its class); false if there is neither. */
static bool drop_small_idle(ar_arena_t *a, size_t size) {
  ar_chunk_t **link = &a->spare, **last = NULL;
  for (; *link != NULL; link = &(*link)->next)
    if ((*link)->size < size) last = link;
  if (last != NULL) {
    ar_chunk_t *c = *last;
    *last = c->next;
    a->nspare--;
    a->spare_bytes -= c->size;
    ar_chunks_release(a, c, false);
    return true;
  }
  for (unsigned k = AR_KEPT_CLASSES; a->nkept != 0 && k-- > 0;) {
    if (a->kept[k] != NULL && a->kept[k]->size < size) {
      ar_chunks_release(a, kept_unlink(a, &a->kept[k]), true);
      return true;
    }
  }
  return false;
}

/* A growing arena's grow_max is AR_GROWN_CHUNK_MAX (arena.c), so a chunk that AR_FIT_MAX bounds
 * is always one it could grow to. */
_Static_assert(AR_FIT_MAX <= AR_GROWN_CHUNK_MAX, "the fitted chunk is an ordinary chunk size");

void ar_chunks_fit_next(ar_arena_t *a, size_t need, size_t used, size_t keep) {
  if (AR_HEAP || a->grow_max <= a->chunk_size || !ar_chunks_retain_auto(a) || need <= a->chunk_size)
    return;
  size_t want = used + AR_CHUNK_OVERHEAD; /* used < 2^62: no wrap */
  if (want > AR_FIT_MAX) return;          /* and so within grow_max (below) */
  size_t size = a->chunk_size;
  while (size < want) size <<= 1;    /* AR_FIT_MAX is chunk_size << k: stops there at the latest */
  if (size == a->chunk_size) return; /* a chunk of the first size comes when it is needed */
  for (const ar_chunk_t *c = a->spare; c != NULL; c = c->next)
    if (c->size >= size) return;
  if (a->limit_bytes != 0 && size > a->limit_bytes) return;
  ar_chunk_t *c = ar_chunks_acquire(a, size, false);
  if (c == NULL) return; /* the reset stays as it was */
  /* The new chunk replaces every smaller idle one: all they held, it holds. */
  while (drop_small_idle(a, size)) continue;
  /* What is left is at least as large as the new chunk: a target or limit still exceeded is
   * met by giving back idle chunks as a reset would. */
  size_t room = keep > size ? keep : size;
  while (ar_chunks_idle_bytes(a) + size > room ||
         (a->limit_bytes != 0 && a->capacity > a->limit_bytes)) {
    if (!ar_chunks_drop_one_idle(a)) break;
  }
  ar_assert(a->limit_bytes == 0 || a->capacity <= a->limit_bytes);
  ar_chunks_spare_push(a, c);
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

bool ar_chunks_room_possible(const ar_arena_t *a, size_t need) {
  if (a->limit_bytes == 0) return true;
  size_t idle = ar_chunks_idle_bytes(a) + (head_idle(a) ? a->chunks->size : 0);
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
  ar_chunks_activate_head(a);
  if (a->floor_chunk == c && a->ndepth > 0 && a->chunks != NULL) {
    a->chunks->limit = a->hot.cur_;
    a->limit = a->hot.cur_;
  }
  sync_hot_end(a);
  if (a->floor_chunk == c) {
    a->floor_chunk = a->chunks;
    a->floor_cur = a->hot.cur_;
  }
  ar_chunks_release(a, c, false);
}

/* After a new chunk was acquired (counted in capacity): idle chunks go back until the arena
 * is under its limit again; room_possible promised that they suffice. */
void ar_chunks_shed_to_limit(ar_arena_t *a) {
  if (a->limit_bytes == 0) return;
  while (a->capacity > a->limit_bytes) {
    if (!ar_chunks_drop_one_idle(a)) {
      ar_assert(head_idle(a));
      drop_idle_head(a);
    }
  }
}
