/* SPDX-License-Identifier: MIT */
/*
 * runtime/concurrent.c - ConcurrentArena: many threads, one arena, no locks.
 *
 * Three levels, each with the least synchronization that keeps it correct:
 *   1. A thread bumps through its own span, kept in the arena's slot for the thread's index.
 *      No shared write at all and, since the bump is inline in concurrent.h, no call: this is
 *      the common case.
 *   2. When its span is spent, a thread carves the next one from the shared current chunk with one
 *      relaxed fetch-and-add on the chunk's cursor. Spans are disjoint by the atomicity of that add
 *      alone; nothing is published through it, so relaxed is enough. The thread whose add straddles
 *      the end keeps the partial tail if it is big enough, else leaves it in the chunk's `tail`
 *      word, where a carver that finds the chunk spent looks, before refilling, for the bytes it
 *      needs (taken with a CAS). So a chunk loses at most one small tail, and a call that then
 *      fails to refill has used nothing up: a failed call leaves the arena as it found it. A
 *      thread's spans grow with what it took this round (the first span's length plus half its
 *      earlier spans', up to 256 KiB and a quarter of the chunk): fixed 16 KiB spans cost a refill
 *      and three shared read-modify-writes every hundred or so allocations, which made two threads
 *      on one arena 1.5x as slow as two serial arenas; growing spans keep what an idle thread
 *      strands small.
 *      A block too big for a chunk_size chunk but at most a quarter of a grown current chunk
 *      is carved from it the same way, in one try that never refills: a chunk installed for it
 *      might be too small again (a kept one, or chunk_size when the source has no more).
 *   3. When the chunk is spent, threads race to install a new one. If the last reset kept chunks,
 *      the new one is the next kept chunk (concurrent_chunks.c). Otherwise each acquires a chunk
 *      from the source, reserved under the limit (concurrent_chunks.c); in an arena whose chunks
 *      grow, as large as the ordinary chunks installed this round, up to 4 MiB, so that spans can
 *      grow, a big round needs few chunks and its chunks get huge pages (the OS source advises
 *      blocks that large). Each tries one strong CAS on `current` from the
 *      exhausted chunk it saw. The winner's chunk is published by that CAS (release: its header
 *      fields are visible to any thread that loads `current` with acquire) and pushed on the
 *      arena's list of all chunks; every loser hands its chunk straight back to the source and
 *      carves from the winner's. Nothing leaks, whoever wins.
 *
 * The rest lives beside this path, so that it reads straight through: where a chunk comes
 * from under the limit, the chunks reset keeps, and how tools see them, in
 * concurrent_chunks.c; where a thread's span lives (thread indices, the table of slots), in
 * concurrent_slots.c. Both are below this file and never call it (concurrent_internal.h).
 *
 * Reset and destroy need quiescence (see concurrent.h). At AR_DEBUG >= 1 the out-of-line path
 * counts itself in and out of `inflight`, and reset aborts if it finds anyone inside or if
 * someone enters while it runs.
 */
#include <stdlib.h>
#include <string.h>

#include "arenart/concurrent.h"
#include "arenart/stats.h"
#include "runtime/concurrent_internal.h"

/* Builds that must see every allocation (debug level 2, ASan, the heap flavor) never point a
 * table entry at a real slot, so the inline test always fails and every call comes here. */
#if AR_DEBUG >= 2 || AR_ASAN || AR_HEAP
#define AR_CONCURRENT_SLOW_ONLY 1
#else
#define AR_CONCURRENT_SLOW_ONLY 0
#endif

/* The size of the next chunk from the source: in an arena that grows, the largest chunk_size
 * << k that is at most the bytes of the ordinary chunks installed this round, up to
 * AR_GROWN_CHUNK_MAX, so a round makes O(log) refills up to the cap. Installed chunks, not
 * capacity: capacity also holds the reservations of refillers racing this one (sixteen
 * threads' first allocations once made a 1 MiB chunk for 256 KiB of spans) and dedicated
 * chunks, which say nothing about how fast spans are carved. */
static size_t next_chunk_size(const ar_concurrent_t *ca) {
  size_t size = ca->chunk_size;
  if (!ca->grows) return size;
  size_t held = ar_load_relaxed(&ca->installed); /* relaxed: a hint for a size, nothing more */
  while (size < AR_GROWN_CHUNK_MAX && size <= held / 2) size <<= 1;
  return size;
}

/* Installs a new current chunk in place of `seen` (NULL or exhausted). */
static ar_error_t refill(ar_concurrent_t *ca, ar_cchunk_t *seen) {
  /* A kept chunk first: the successor of `seen` in the chain (the first one after a reset).
   * Plain reads: `seen` stays alive until reset, and its link was written at the last one. */
  ar_cchunk_t *k = seen != NULL ? seen->next_kept : ca->kept;
  bool mine;
  if (k != NULL && ar_cc_kept_claim_(ca, seen != NULL ? seen->kept_idx + 1 : 0, &mine)) {
    ar_cchunk_t *expected = seen;
    /* Fails only when another thread installed k first (or `seen` is stale): k is in. */
    (void)ar_cas_strong_acq_rel(&ca->current, &expected, k);
    if (mine) {
      ar_fetch_add_relaxed(&ca->nchunks, 1);
      ar_fetch_add_relaxed(&ca->installed, k->size);
    }
    return AR_OK;
  }
  ar_error_t err;
  size_t size = next_chunk_size(ca);
  ar_cchunk_t *c = ar_cc_chunk_new_(ca, size, true, seen, &err);
  /* A source that cannot give a grown chunk may still have chunk_size ones (a pool's). */
  if (c == NULL && err == AR_ENOMEM && size > ca->chunk_size)
    c = ar_cc_chunk_new_(ca, ca->chunk_size, true, seen, &err);
  if (c == NULL) {
    /* Out of memory or limit, but someone else may have refilled meanwhile. */
    if (err == AR_OK || ar_load_acquire(&ca->current) != seen) return AR_OK;
    return err;
  }
  AR_STRESS_POINT();
  ar_cchunk_t *expected = seen;
  if (ar_cas_strong_acq_rel(&ca->current, &expected, c)) {
    AR_STRESS_POINT();
    ar_cc_push_all_(ca, c);
    ar_fetch_add_relaxed(&ca->nchunks, 1);
    ar_fetch_add_relaxed(&ca->installed, c->size);
  } else {
    ar_cc_chunk_free_(ca, c); /* lost the race: the winner's chunk serves us too */
  }
  ar_cc_settle_(ca);
  return AR_OK;
}

/* Shows a carved piece: a kept chunk is hidden until carved. */
static char *shown(ar_cchunk_t *c, size_t off, size_t n) {
  ar_show_(c->data + off, n);
  return c->data + off;
}

/* Takes between `need` and `want` bytes from chunk c's left tail, if it holds `need`. */
static char *tail_take(ar_cchunk_t *c, size_t need, size_t want, size_t *got) {
  /* relaxed: the CAS decides who owns which bytes; nothing was written in them to publish */
  size_t off = ar_load_relaxed(&c->tail);
  for (;;) {
    size_t n = c->usable - off;
    if (n < need) return NULL;
    if (n > want) n = want;
    if (ar_cas_weak_relaxed(&c->tail, &off, off + n)) {
      *got = n;
      return shown(c, off, n);
    }
  }
}

/* The longest span chunk c gives: a quarter of it, so that a chunk serves at least four
 * carvers, and never less than the arena's first span. A multiple of 64. */
static size_t span_cap(const ar_concurrent_t *ca, const ar_cchunk_t *c) {
  size_t q = (c->size / 4) & ~(size_t)63;
  return q > ca->span_size ? q : ca->span_size;
}

/* Carves between `need` and `want` bytes (multiples of 64) from chunk c, the current one or
 * one that was; `want` is cut to the chunk's span_cap (not below `need`). NULL if neither the
 * rest of c nor its tail holds `need`. */
static char *carve_from(ar_concurrent_t *ca, ar_cchunk_t *c, size_t need, size_t want_max,
                        size_t *got) {
  size_t cap = span_cap(ca, c), want = want_max;
  if (want > cap) want = cap > need ? cap : need;
  size_t off = ar_fetch_add_relaxed(&c->cursor, want);
  size_t n = off + want <= c->usable ? want : off < c->usable ? c->usable - off : 0;
  if (n >= need) { /* n < want: we straddle the end and keep the tail */
    *got = n;
    return shown(c, off, n);
  }
  /* The straddler (one per chunk) leaves a tail too small for it; anyone else may find what it
   * needs there. relaxed: before this store the tail is empty, so no CAS on it races the
   * store; the CAS decides ownership. */
  if (n > 0) ar_store_relaxed(&c->tail, off);
  else return tail_take(c, need, want, got);
  return NULL;
}

/* Carves between `need` and `want` bytes from the shared chunk, refilling it until it holds
 * them. Only for `need` that any chunk the arena installs holds: at most a quarter of a
 * chunk_size chunk (the medium pieces and spans of alloc_slow). */
static char *carve(ar_concurrent_t *ca, size_t need, size_t want_max, size_t *got) {
  for (;;) {
    /* acquire: pairs with the installing CAS, so the chunk's header fields are visible */
    ar_cchunk_t *c = ar_load_acquire(&ca->current);
    if (c != NULL) {
      char *p = carve_from(ca, c, need, want_max, got);
      if (p != NULL) return p;
    }
    ar_error_t err = refill(ca, c);
    if (err != AR_OK) return (char *)ar_fail_null_(err);
  }
}

static void *alloc_dedicated(ar_concurrent_t *ca, size_t n, size_t align) {
  size_t bytes = n + AR_CHUNK_HEADER + 64 + (align > 64 ? align : 0);
  if (bytes < n) return ar_fail_null_(AR_EOVERFLOW);
  ar_error_t err;
  ar_cchunk_t *c = ar_cc_chunk_new_(ca, bytes, false, NULL, &err);
  if (c == NULL && err == AR_ELIMIT && ar_cc_kept_make_room_(ca, bytes))
    c = ar_cc_chunk_by_give_back_(ca, bytes, &err);
  if (c == NULL) return ar_fail_null_(err);
  char *p = (char *)ar_align_up_((uintptr_t)c->data, align);
  ar_store_relaxed(&c->cursor, c->usable); /* nothing else carves from a dedicated chunk */
  ar_cc_push_all_(ca, c);
  ar_cc_settle_(ca);
  ar_fetch_add_relaxed(&ca->nlarge, 1);
  ar_fetch_add_relaxed(&ca->carved, n);
  return p;
}

/* Heap flavor: a malloc of exactly `size` bytes (posix_memalign when over-aligned), its record
 * pushed on the arena's list with a release CAS (a Treiber push: allocations stay lock-free;
 * only reset/destroy, which are quiescent, pop). Capacity and used are the bytes malloc'd for
 * live allocations, under the same limit; chunks counts them; the source is never called. */
static void *heap_alloc(ar_concurrent_t *ca, size_t size, size_t align) {
  if (size == 0) size = 1; /* a unique pointer, as in the chunked flavor */
  if (ar_cc_reserve_(ca, size, false, NULL) != RESERVED) return ar_fail_null_(AR_ELIMIT);
  ar_hnode_t *h = (ar_hnode_t *)malloc(sizeof *h);
  void *p = NULL;
  if (h != NULL) {
    if (align <= AR_ALIGN_DEFAULT) p = malloc(size);
    else if (posix_memalign(&p, align, size) != 0) p = NULL;
  }
  if (p == NULL) {
    free(h);
    ar_cc_unreserve_(ca, size);
    ar_cc_settle_(ca);
    return ar_fail_null_(AR_ENOMEM);
  }
  ar_cc_settle_(ca);
  h->p = p;
  h->size = size;
  ar_hnode_t *head = ar_load_relaxed(&ca->heap);
  do {
    h->next = head; /* read only by reset/destroy/owns, which the caller orders after us */
  } while (!ar_cas_weak_release(&ca->heap, &head, h));
  ar_fetch_add_relaxed(&ca->carved, size);
  ar_fetch_add_relaxed(&ca->nchunks, 1);
  ar_global_chunk_acquired_(ca->reg, size);
  return p;
}

static void heap_free_all(ar_concurrent_t *ca) {
  ar_hnode_t *h = ar_load_acquire(&ca->heap);
  while (h != NULL) {
    ar_hnode_t *next = h->next;
    ar_global_chunk_released_(ca->reg, h->size);
    ar_cc_unreserve_(ca, h->size);
    free(h->p);
    free(h);
    h = next;
  }
  ar_store_relaxed(&ca->heap, NULL);
}

static void *alloc_slow(ar_concurrent_t *ca, size_t size, size_t align) {
  if (!ar_is_pow2_(align)) return ar_fail_null_(AR_EALIGN);
  if (size > AR_MAX_ALLOC_SIZE || align > AR_MAX_ALLOC_SIZE) return ar_fail_null_(AR_EOVERFLOW);
  if (size == 0) size = 1;
  if (align < AR_ALIGN_DEFAULT) align = AR_ALIGN_DEFAULT;
  size_t n = ar_align_up_(size, AR_ALIGN_DEFAULT);
  if (AR_HEAP) return heap_alloc(ca, size, align);

  unsigned i = ar_cthread_;
  if (i == 0) i = ar_cthread_take_();
  ar_slot_t *s = i != 0 ? ar_cslot_of_(ca, i) : NULL;
  /* Plain accesses: only this thread (the index's holder) reads its entry, and reset and
   * destroy are ordered after it by quiescence. From now on the inline path finds the span.
   * Written once, not at every refill: neighbours' entries share the cache line. */
  if (s != NULL && !AR_CONCURRENT_SLOW_ONLY && ca->hot.slot_[i] != s) ca->hot.slot_[i] = s;

  /* Room in the current span after aligning? Over-aligned requests get here with a live span
   * that may still have space, and so does every request in slow-only builds. */
  if (s != NULL && s->cur_ != NULL) {
    uintptr_t p = ar_align_up_((uintptr_t)s->cur_, align);
    if (p + n <= (uintptr_t)s->end_) {
      s->cur_ = (char *)(p + n);
      return (void *)p;
    }
  }
  size_t chunk_usable = ca->chunk_size - AR_CHUNK_HEADER;
  size_t got;
  if (align > 64) return alloc_dedicated(ca, n, align);
  if (n > chunk_usable / 4) {
    /* Big for a chunk_size chunk. In an arena whose chunks grow, a block of up to a quarter of
     * the current chunk is carved from it exactly, as the serial arena bumps a block of up to
     * a quarter of its current chunk: one fetch-and-add instead of a mapping per block (rounds
     * of 4 MiB in blocks of up to 64 KiB, on two threads, gave back more mappings than the
     * mapping cache keeps: 14,553 ns per allocation, 56 now in the bench's large requests).
     * Only from the chunk there is: one that cannot hold it does not make a refill, which
     * could install chunks too small for it (a kept one, or chunk_size ones when the source
     * has no grown ones) over and over; then it is a dedicated chunk, as before. acquire: as
     * in carve, the chunk's header fields. */
    ar_cchunk_t *c = ca->grows ? ar_load_acquire(&ca->current) : NULL;
    if (c != NULL && n <= c->usable / 4) {
      size_t want = ar_align_up_(n, 64);
      char *p = carve_from(ca, c, want, want, &got);
      if (p != NULL) {
        ar_fetch_add_relaxed(&ca->carved, got);
        return p;
      }
    }
    return alloc_dedicated(ca, n, align);
  }
  if (s == NULL || n > ca->span_size / 2) {
    /* Medium, or a thread with no slot: an exact piece, leaving any span as it is. */
    size_t want = ar_align_up_(n, 64);
    char *p = carve(ca, want, want, &got);
    if (p != NULL) ar_fetch_add_relaxed(&ca->carved, got);
    return p;
  }
  /* A span is the first span's length plus half the bytes of the thread's earlier spans this
   * round, up to AR_CSPAN_MAX: spans grow about 1.5x, so a thread that allocates a lot refills
   * rarely, while one that allocates little strands little (half of what it used, at most;
   * doubling left 1.8x the bytes asked carved for 200 threads of 128000 bytes each). */
  size_t want = ca->span_size + ((s->spanned_ / 2) & ~(size_t)63);
  if (want > AR_CSPAN_MAX) want = AR_CSPAN_MAX; /* above every first span (16 KiB at most) */
  char *span = carve(ca, ar_align_up_(n, 64), want, &got);
  if (span == NULL) return NULL;
  s->spanned_ += got;
  ar_fetch_add_relaxed(&ca->carved, got);
  s->cur_ = span + n; /* the old span's tail, smaller than n, is given up */
  s->end_ = span + got;
  return span;
}

/* Everything the inline fast path in concurrent.h does not handle: a NULL arena, no span here
 * yet (first use, after a reset), a spent span, over-alignment, and every call in slow-only
 * builds, which repeat the bump here against slots the table does not show. */
void *ar_concurrent_alloc_slow_(ar_concurrent_t *ca, size_t size, size_t align) {
  if (AR_UNLIKELY(ca == NULL)) return ar_fail_null_(AR_EINVAL);
#if AR_DEBUG >= 1
  ar_fetch_add_acq_rel(&ca->inflight, 1);
  if (AR_UNLIKELY(ar_load_acquire(&ca->resetting)))
    ar_fatal_("ConcurrentArena '%s' (%p): allocation while it is being reset or destroyed; "
              "reset requires quiescence (see arenart/concurrent.h)",
              ca->name, (void *)ca);
#endif
  void *p = alloc_slow(ca, size, align);
  if (AR_LIKELY(p != NULL)) ar_fetch_add_relaxed(&ca->nalloc_slow, 1); /* successes only */
#if AR_DEBUG >= 1
  ar_fetch_sub_acq_rel(&ca->inflight, 1);
#endif
  return p;
}

void *ar_concurrent_calloc(ar_concurrent_t *ca, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total))
    return ar_fail_null_(ca ? AR_EOVERFLOW : AR_EINVAL);
  void *p = ar_concurrent_alloc(ca, total);
  if (p != NULL) memset(p, 0, total);
  return p;
}

ar_concurrent_t *ar_concurrent_create(const ar_options_t *opts) {
  ar_options_t o; /* options.c reads the caller's struct by its size */
  if (ar_options_read_(opts, &o) != AR_OK) return (ar_concurrent_t *)ar_fail_null_(AR_EINVAL);
  if (o.chunk_size == 0) o.chunk_size = AR_DEFAULT_CHUNK_SIZE;
  if (o.chunk_size < AR_MIN_CHUNK_SIZE * 4 || o.chunk_size > AR_MAX_CCHUNK)
    return (ar_concurrent_t *)ar_fail_null_(AR_EINVAL);
  o.chunk_size = ar_align_up_(o.chunk_size, 64);
  const ar_source_t *src = o.source ? o.source : ar_default_source_(o.chunk_size);
  if (src->acquire == NULL || src->release == NULL)
    return (ar_concurrent_t *)ar_fail_null_(AR_EINVAL);
  /* 64-aligned, so that `current` has its cache line to itself (sizeof is a multiple of 64) */
  ar_concurrent_t *ca = (ar_concurrent_t *)aligned_alloc(64, sizeof *ca);
  if (ca == NULL) return (ar_concurrent_t *)ar_fail_null_(AR_ENOMEM);
  memset(ca, 0, sizeof *ca);
  ar_cslots_init_(ca);
  ca->source = *src;
  /* Dedicated and grown chunks (concurrent_chunks.c, source_for): the pool would hand all but
   * a dedicated one of exactly its size to the OS pages. Take them there through the cache of
   * given-back mappings, as the serial arena does (arena.c, "Source"), so that a round that
   * takes big blocks does not map and fault them again every round (8 blocks of 256 KiB a
   * round cost 50 times a serial arena's). */
  ca->large_source = *ar_default_large_source_(src, o.source != NULL);
  ca->chunk_size = o.chunk_size;
  /* A span is a quarter of a chunk (16 KiB by default, and at most): one fetch-and-add buys
   * hundreds of small allocations, so the shared cursor's cache line moves rarely; a 1/16
   * span measured 1.96x a per-thread arena at 2 threads against 1.84x for this size. */
  size_t span = ar_align_up_(o.chunk_size / 4, 64);
  ca->span_size = span < 256 ? 256 : span > 16384 ? 16384 : span;
  /* Chunks grow where nothing pins their size: the default chunk size and source (whose pool
   * passes other sizes to the OS pages), no AR_ARENA_FIXED_CHUNKS, and no limit, so that a
   * limited arena fills its limit with chunks of the one size it was given. */
  ca->grows = !AR_HEAP && o.chunk_size == AR_DEFAULT_CHUNK_SIZE && o.source == NULL &&
              (o.flags & AR_ARENA_FIXED_CHUNKS) == 0 && o.limit_bytes == 0;
  ca->limit_bytes = o.limit_bytes;
  /* AR_RETAIN_AUTO (the default): the serial arena's decaying peak is not built here yet, so
   * a fixed AR_CONCURRENT_AUTO_RETAIN; keeping "everything" would pin a burst's memory. */
  size_t keep = o.retain_bytes == AR_RETAIN_AUTO ? AR_CONCURRENT_AUTO_RETAIN : o.retain_bytes;
  ca->retain_bytes = AR_HEAP ? 0 : keep;
  ca->created_ns = ar_now_ns_();
  if (o.name != NULL) strncpy(ca->name, o.name, sizeof ca->name - 1);
  ca->reg = ar_registry_add_(AR_KIND_CONCURRENT, ca, ca->name, -1);
  if (ca->reg == NULL) {
    free(ca);
    return (ar_concurrent_t *)ar_fail_null_(AR_ENOMEM);
  }
  ar_global_arena_created_();
  return ca;
}

/* Quiescent: the heap flavor's blocks are freed; of the chunks, up to `keep` bytes stay as
 * the next round's kept chain and the rest go back (concurrent_chunks.c). */
static void release_all(ar_concurrent_t *ca, size_t keep) {
  heap_free_all(ca);
  ar_cc_keep_chunks_(ca, keep);
}

static void begin_exclusive(ar_concurrent_t *ca, const char *what) {
#if AR_DEBUG >= 1
  ar_store_release(&ca->resetting, 1);
  if (ar_load_acquire(&ca->inflight) != 0)
    ar_fatal_("ConcurrentArena '%s' (%p): %s while another thread is allocating; it requires "
              "quiescence (see arenart/concurrent.h)",
              ca->name, (void *)ca, what);
#else
  (void)ca;
  (void)what;
#endif
}

static void end_exclusive(ar_concurrent_t *ca) {
#if AR_DEBUG >= 1
  ar_store_release(&ca->resetting, 0);
#else
  (void)ca;
#endif
}

void ar_concurrent_reset(ar_concurrent_t *ca) {
  if (ca == NULL) return;
  begin_exclusive(ca, "reset");
  release_all(ca, ca->retain_bytes);
  ar_cslots_empty_(ca); /* every span pointed into a chunk just given back */
  end_exclusive(ca);
}

void ar_concurrent_destroy(ar_concurrent_t *ca) {
  if (ca == NULL) return;
  begin_exclusive(ca, "destroy");
  release_all(ca, 0);
  ar_cslots_free_(ca);
  ar_registry_remove_(ca->reg);
  ar_global_arena_destroyed_(ca->created_ns);
  free(ca);
}

int ar_concurrent_stats(ar_concurrent_t *ca, ar_stats_t *out) {
  if (ca == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  memset(out, 0, sizeof *out);
  out->used = ar_load_relaxed(&ca->carved);
  out->capacity = ar_load_relaxed(&ca->capacity);
  out->peak = out->used;
  out->chunks = ar_load_relaxed(&ca->nchunks);
  out->large_chunks = ar_load_relaxed(&ca->nlarge);
  uint64_t st = ar_load_relaxed(&ca->kept_state);
  uint32_t installed = (uint32_t)(st >> 32), avail = (uint32_t)st;
  out->spare_chunks = avail > installed ? avail - installed : 0;
  out->allocs = ar_load_relaxed(&ca->nalloc_slow);
  return AR_OK;
}

bool ar_concurrent_owns(ar_concurrent_t *ca, const void *p) {
  if (ca == NULL || p == NULL) return false;
  const char *q = (const char *)p;
  for (ar_cchunk_t *c = ar_load_acquire(&ca->all); c != NULL; c = c->next_all)
    if (q >= c->data && q < c->data + c->usable) return true;
  /* Kept chunks count once installed: those not yet reused hold nothing handed out. Relaxed:
   * the caller orders owns after the allocations it asks about (no race, see the header). */
  uint64_t ks = ar_load_relaxed(&ca->kept_state);
  uint32_t installed = (uint32_t)(ks >> 32), available = (uint32_t)ks;
  uint32_t n = installed < available ? installed : available;
  ar_cchunk_t *c = ca->kept;
  for (uint32_t i = 0; i < n && c != NULL; i++, c = c->next_kept)
    if (q >= c->data && q < c->data + c->usable) return true;
  for (ar_hnode_t *h = ar_load_acquire(&ca->heap); h != NULL; h = h->next)
    if (q >= (const char *)h->p && q < (const char *)h->p + h->size) return true;
  return false;
}

void ar_concurrent_foreach_chunk_(ar_concurrent_t *ca, void (*fn)(void *, size_t, void *),
                                  void *ctx) {
  if (ca == NULL || fn == NULL) return;
  for (ar_cchunk_t *c = ar_load_acquire(&ca->all); c != NULL; c = c->next_all)
    fn(c->base, c->size, ctx);
  uint32_t n = (uint32_t)ar_load_relaxed(&ca->kept_state);
  ar_cchunk_t *c = ca->kept;
  for (uint32_t i = 0; i < n; i++, c = c->next_kept) fn(c->base, c->size, ctx);
  for (ar_hnode_t *h = ar_load_acquire(&ca->heap); h != NULL; h = h->next) fn(h->p, h->size, ctx);
}
