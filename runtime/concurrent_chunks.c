/* SPDX-License-Identifier: MIT */
/*
 * runtime/concurrent_chunks.c - a ConcurrentArena's chunks: taken under the limit, kept by
 * reset for the next round, given back.
 *
 * Level 3 of the allocation path (concurrent.c) installs a new current chunk; this file says
 * where that chunk comes from and what happens to chunks afterwards, so that the path itself
 * stays one straight line. It calls nothing of concurrent.c.
 *
 * At the limit. Each refiller reserves its chunk's bytes under limit_bytes before it calls the
 * source, so with room for one chunk only the first of the racers gets a reservation; the
 * others must not report AR_ELIMIT, because the winner's chunk will serve them. A refiller
 * whose reservation fails therefore waits (yielding) until `current` moves on from the chunk
 * it saw, or until no reservation is in flight; then, if nothing was given back meanwhile, the
 * limit is truly reached. Two words make that exact: `reserving` counts the threads that may
 * hold a reservation not yet settled (kept as a chunk, or given back), each counted before it
 * reserves, so a thread that sees its bytes sees it counted; `given_back` counts give-backs,
 * so a waiter knows whether bytes it was refused were freed while it waited. A thread is
 * counted only while it reserves or holds a reservation, never while it waits, so waiters do
 * not wait for one another, and a waiter retries only when someone installed a chunk or gave
 * bytes back. This is the only wait in allocation, and only at the limit: the alternatives
 * were a spurious AR_ELIMIT, or racers reserving more than the limit for a moment. Dedicated
 * chunks (and the heap flavor) reserve the same way, and wait the same way, for a racer that
 * may give its bytes back.
 *
 * Kept chunks. Reset keeps up to retain_bytes of ordinary chunks, as the serial arena does, so
 * that an arena reset every round allocates from memory it already has instead of faulting in
 * fresh pages (with the default source a 64 MiB round overflowed the 16 MiB process-wide pool
 * and went back to munmap every time). Reset is quiescent, so it simply builds a chain of them,
 * each header holding its successor and its place; the chain is read-only until the next
 * reset. The chunk to install in place of an exhausted `seen` is always seen's successor (the
 * first kept chunk in place of NULL), so every refiller that saw the same chunk proposes the
 * same one: one CAS wins, a loser holds nothing to give back, and a stale `seen` just fails.
 * There is no ABA: a kept chunk is installed only in place of its predecessor, `current` moves
 * forward along the chain, and no installed chunk is freed before the next reset, so `current`
 * never holds the same chunk twice between resets (and nothing is ever pushed on the chain
 * between them). One word, kept_state = (installed, available), orders installations against
 * give-backs: a refiller claims kept chunk k by moving `installed` from k to k + 1 (if it is
 * already past k, another thread claimed it and this one only helps with the CAS on
 * `current`), and a dedicated request over the limit (once the source has given its chunk, so
 * that a failed request gives nothing back) gives back the last waiting chunk by moving
 * `available` down, then finds it in a table by index that the reset built beside the chain.
 * Not by walking the chain: chunks below `available` are never given back, but only until
 * another dedicated request moves `available` below them, and a walker passing through a chunk
 * whose give-back has begun reads an unmapped header (a probe crashed so). A chunk is
 * installed only if claimed below `available` and given back only at or above it, never both.
 * Relaxed is enough for that word: it decides ownership, and what the chunks hold was written
 * by the reset, which quiescence orders before every refill. When the chain is used up, or its
 * rest was given back, refills go to the source (concurrent.c, level 3). Kept chunks stay in
 * capacity and in the registry's figures (the arena holds them), never on the list of all
 * chunks.
 *
 * Tools. While a chunk is in use, all of it is usable (ASan builds send every call out of
 * line anyway, and the heap flavor mallocs each allocation). What makes a read after reset or
 * destroy visible is that the chunk is hidden. A chunk reset keeps, the arena hides itself:
 * poisoned (ASan) and NOACCESS (memcheck) from the reset until a carve shows the piece it
 * takes (each carved piece is exclusively its carver's, so showing it races with nobody; a
 * whole-chunk show at installation could mark data another thread already wrote undefined).
 * Every other chunk goes back to its source, and a chunk pool, the default source, hides each
 * chunk it keeps until it hands it out again (chunkpool.c), as the cache of given-back mappings
 * does with the dedicated and grown chunks that a default arena gives it (oscache.c). The
 * arena does not hide what it gives back, because it does not know what the source does
 * next: a source may unmap the chunk (shadow left poisoned would then fault whatever is mapped
 * there later) or hand it to a consumer that does not unpoison; so a kept chunk is shown again
 * before it goes back.
 */
#include <sched.h>
#include <stdlib.h>

#include "arenart/stats.h"
#include "runtime/concurrent_internal.h"

/* Reserves `bytes` of capacity under the limit (see "At the limit" above). RESERVED: the
 * caller holds the bytes and, under a limit, is counted in `reserving` until it calls
 * ar_cc_settle_(). OVER_LIMIT: the limit would be exceeded with no reservation in flight and
 * nothing given back meanwhile. MOVED (refills only): `current` moved on from `seen`, so the caller
 * need not refill. */
reserve_t ar_cc_reserve_(ar_concurrent_t *ca, size_t bytes, bool refilling, ar_cchunk_t *seen) {
  if (ca->limit_bytes == 0) {
    ar_fetch_add_relaxed(&ca->capacity, bytes); /* relaxed: a quantity, it publishes nothing */
    return RESERVED;
  }
  for (;;) {
    /* acquire: pairs with unreserve's bump, read before the capacity it may have lowered */
    uint64_t given = ar_load_acquire(&ca->given_back);
    /* Counted before reserving: a thread that sees our bytes in `capacity` sees us here. */
    ar_fetch_add_acq_rel(&ca->reserving, 1);
    /* acquire (and the CAS's): a reserver's count, made before its bytes, becomes visible */
    size_t cap = ar_load_acquire(&ca->capacity);
    bool fits;
    while ((fits = cap + bytes <= ca->limit_bytes && cap + bytes >= cap) &&
           !ar_cas_weak_acq_rel(&ca->capacity, &cap, cap + bytes)) {
    }
    if (fits) return RESERVED;
    ar_fetch_sub_acq_rel(&ca->reserving, 1);
    /* Over the limit, but perhaps only because of reservations in flight: a refill racing
     * ours (its chunk will serve us) or a request that will give its bytes back. Wait until
     * none is in flight (the waiting is the one place allocation is not lock-free). */
    for (;;) {
      /* acquire: a settled reserver's CAS on `current` and its give-back are visible */
      if (refilling && ar_load_acquire(&ca->current) != seen) return MOVED;
      if (ar_load_acquire(&ca->reserving) == 0) break;
      AR_STRESS_POINT();
      sched_yield();
    }
    if (refilling && ar_load_acquire(&ca->current) != seen) return MOVED;
    if (ar_load_acquire(&ca->given_back) == given) return OVER_LIMIT;
    /* bytes were given back since we looked: try again */
  }
}

/* The caller's reservation is settled: kept as a chunk, or given back. */
void ar_cc_settle_(ar_concurrent_t *ca) {
  /* acq_rel: our CAS on `current`, or our give-back, comes before a waiter's zero */
  if (ca->limit_bytes != 0) ar_fetch_sub_acq_rel(&ca->reserving, 1);
}

void ar_cc_unreserve_(ar_concurrent_t *ca, size_t bytes) {
  ar_fetch_sub_relaxed(&ca->capacity, bytes);
  /* acq_rel: after the bytes; a waiter that sees the bump tries again (see reserve) */
  if (ca->limit_bytes != 0) ar_fetch_add_acq_rel(&ca->given_back, 1);
}

static ar_cchunk_t *chunk_init(void *base, size_t bytes, bool ordinary);

/* Where a chunk comes from and goes back to, decided the same way at both ends and as the
 * serial arena decides (chunks.c): dedicated chunks, whatever their size (one may be exactly
 * chunk_size), and ordinary chunks of any other size from large_source; ordinary chunks of
 * chunk_size from the source. */
static const ar_source_t *source_for(const ar_concurrent_t *ca, size_t bytes, bool dedicated) {
  return dedicated || bytes != ca->chunk_size ? &ca->large_source : &ca->source;
}

/* A chunk of `bytes` from the source, reserved under the limit: the caller settles it. NULL
 * with *err set: AR_ELIMIT, AR_ENOMEM, or AR_OK when `current` moved on from `seen` (refills
 * only; reserve's MOVED). */
ar_cchunk_t *ar_cc_chunk_new_(ar_concurrent_t *ca, size_t bytes, bool refilling, ar_cchunk_t *seen,
                              ar_error_t *err) {
  reserve_t r = ar_cc_reserve_(ca, bytes, refilling, seen);
  if (r != RESERVED) {
    *err = r == MOVED ? AR_OK : AR_ELIMIT;
    return NULL;
  }
  const ar_source_t *src = source_for(ca, bytes, !refilling);
  void *base = src->acquire(src->ctx, bytes);
  if (base == NULL) {
    ar_cc_unreserve_(ca, bytes);
    ar_cc_settle_(ca);
    *err = AR_ENOMEM;
    return NULL;
  }
  return chunk_init(base, bytes, refilling); /* refills make ordinary chunks */
}

/* The header of a chunk of `bytes` at base, fresh from the source. */
static ar_cchunk_t *chunk_init(void *base, size_t bytes, bool ordinary) {
  ar_cchunk_t *c = (ar_cchunk_t *)(void *)ar_align_up_((uintptr_t)base, 64);
  ar_store_relaxed(&c->cursor, 0);
  c->next_all = NULL;
  c->base = base;
  c->size = bytes;
  c->data = (char *)c + AR_CHUNK_HEADER;
  c->usable = (size_t)((char *)base + bytes - c->data);
  /* An ordinary chunk's usable bytes are a multiple of 64 whatever the source's alignment, so
   * that every span and piece is one (concurrent.h: requests of 16, 32 or 64 bytes never leave
   * a tail). A dedicated chunk keeps all of them: its request was sized for that. */
  if (ordinary) c->usable &= ~(size_t)63;
  ar_store_relaxed(&c->tail, c->usable); /* no left tail yet */
  c->next_kept = NULL;
  c->kept_idx = 0;
  c->dedicated = !ordinary; /* which source it goes back to (source_for) */
  /* ASan only: its shadow of a range unmapped and mapped again may still say poisoned, while
   * memcheck learns of fresh pages from the source's own mmap (or the pool's ar_show_). */
  ar_unpoison_(c->data, c->usable);
  return c;
}

void ar_cc_chunk_free_(ar_concurrent_t *ca, ar_cchunk_t *c) {
  void *base = c->base;
  size_t size = c->size;
  /* Read before the show below, which makes the header's bytes undefined for memcheck too. */
  const ar_source_t *src = source_for(ca, size, c->dedicated);
  ar_cc_unreserve_(ca, size);
  /* A kept chunk is hidden: give it back as it came (the source may unmap it, or write in it) */
  ar_show_(base, size);
  src->release(src->ctx, base, size);
}

/* Gives the last waiting kept chunk back to the source, if one waits; any thread. */
static bool kept_give_back(ar_concurrent_t *ca) {
  /* relaxed: the chain was written at reset, which quiescence orders before us */
  uint64_t st = ar_load_relaxed(&ca->kept_state);
  do {
    if ((uint32_t)(st >> 32) >= (uint32_t)st) return false;
    /* relaxed: the CAS only decides who owns the chunk; it publishes nothing */
  } while (!ar_cas_weak_relaxed(&ca->kept_state, &st, st - 1));
  /* By index, not by walking the chain: a thread that claimed the chunk below ours may be
   * giving it back (unmapping it) while we would pass through its header (an outside probe
   * crashed that way with 4 KiB chunks from the OS). The table is written at reset only. */
  ar_cchunk_t *c = ca->kept_at[(uint32_t)st - 1];
  ar_global_chunk_released_(ca->reg, c->size);
  ar_cc_chunk_free_(ca, c);
  return true;
}

/* Claims kept chunk k, the successor of the current chunk a refiller saw, for installation.
 * True also when another thread claimed it first (the caller then helps install it); false
 * when k was given back or does not exist. */
bool ar_cc_kept_claim_(ar_concurrent_t *ca, uint32_t k, bool *mine) {
  *mine = false;
  uint64_t st = ar_load_relaxed(&ca->kept_state);
  for (;;) {
    uint32_t installed = (uint32_t)(st >> 32), avail = (uint32_t)st;
    if (installed > k) return true;
    if (k >= avail) return false;
    /* relaxed: the CAS only orders claims against give-backs; it publishes nothing */
    if (ar_cas_weak_relaxed(&ca->kept_state, &st, st + ((uint64_t)1 << 32))) {
      *mine = true;
      return true;
    }
  }
}

void ar_cc_push_all_(ar_concurrent_t *ca, ar_cchunk_t *c) {
  ar_cchunk_t *head = ar_load_relaxed(&ca->all);
  do {
    c->next_all = head; /* read only at reset, after quiescence */
  } while (!ar_cas_weak_release(&ca->all, &head, c));
  ar_global_chunk_acquired_(ca->reg, c->size);
}

/* Would giving back every waiting kept chunk make room for `bytes` under the limit? */
bool ar_cc_kept_make_room_(ar_concurrent_t *ca, size_t bytes) {
  /* relaxed: an estimate; the reservation after each give-back decides */
  uint64_t st = ar_load_relaxed(&ca->kept_state);
  uint32_t installed = (uint32_t)(st >> 32), avail = (uint32_t)st;
  size_t waiting = avail > installed ? (size_t)(avail - installed) * ca->chunk_size : 0;
  size_t cap = ar_load_relaxed(&ca->capacity);
  size_t rest = cap > waiting ? cap - waiting : 0;
  return rest <= ca->limit_bytes && bytes <= ca->limit_bytes - rest;
}

/* Over the limit while kept chunks wait: they give way, one by one, as in the serial arena
 * (chunks.c, "Limits"), once the source has given the new chunk, so that a source that fails
 * leaves them; until then the source holds both. Not called when giving all of them back would
 * not make room. Returns the chunk reserved (the caller settles it), or NULL with *err. */
ar_cchunk_t *ar_cc_chunk_by_give_back_(ar_concurrent_t *ca, size_t bytes, ar_error_t *err) {
  const ar_source_t *src = source_for(ca, bytes, true); /* only dedicated requests come here */
  void *base = src->acquire(src->ctx, bytes);
  if (base == NULL) {
    *err = AR_ENOMEM;
    return NULL;
  }
  while (ar_cc_reserve_(ca, bytes, false, NULL) != RESERVED) {
    if (!kept_give_back(ca)) { /* others took the room meanwhile */
      src->release(src->ctx, base, bytes);
      *err = AR_ELIMIT;
      return NULL;
    }
  }
  return chunk_init(base, bytes, false);
}

/* Quiescent: appends x to the new kept chain if the `room` left of the bytes to keep holds it
 * (chunks of a growing arena differ in size: a larger one may be passed over for smaller ones
 * after it), else gives it back to the source. */
static void keep_or_free(ar_concurrent_t *ca, ar_cchunk_t *x, size_t *room, uint32_t *nkept,
                         ar_cchunk_t ***tail) {
  if (!x->dedicated && *nkept < ca->kept_room && x->size <= *room) {
    *room -= x->size;
    ca->kept_at[*nkept] = x;
    ar_store_relaxed(&x->cursor, 0); /* relaxed: quiescence orders it before the next carve */
    ar_store_relaxed(&x->tail, x->usable);
    x->next_kept = NULL;
    x->kept_idx = (*nkept)++;
    **tail = x;
    *tail = &x->next_kept;
    ar_hide_(x->data, x->usable); /* hidden until carved again (see Tools above) */
  } else {
    ar_global_chunk_released_(ca->reg, x->size);
    ar_cc_chunk_free_(ca, x);
  }
}

/* Quiescent: keeps up to `keep` bytes of ordinary chunks as the new kept chain (the chunks
 * kept before first, then this round's from the source) and gives every other chunk back. */
void ar_cc_keep_chunks_(ar_concurrent_t *ca, size_t keep) {
  uint32_t nold = (uint32_t)ar_load_relaxed(&ca->kept_state); /* given back ones lie past it */
  /* The table of kept chunks by index (kept_give_back) holds every chunk that may be kept;
   * if it cannot grow, the reset keeps fewer chunks ("up to retain_bytes"), never fails. */
  size_t cand = nold;
  for (ar_cchunk_t *y = ar_load_acquire(&ca->all); y != NULL; y = y->next_all) cand++;
  if (keep == 0) cand = 0;
  if (cand > UINT32_MAX - 1) cand = UINT32_MAX - 1;
  if (cand > ca->kept_room) {
    ar_cchunk_t **t = (ar_cchunk_t **)realloc(ca->kept_at, cand * sizeof *t);
    if (t != NULL) {
      ca->kept_at = t;
      ca->kept_room = (uint32_t)cand;
    }
  }
  uint32_t nkept = 0;
  size_t room = keep;
  ar_cchunk_t *head = NULL, **tail = &head;
  ar_cchunk_t *x = ca->kept;
  for (uint32_t i = 0; i < nold; i++) {
    ar_cchunk_t *next = x->next_kept;
    keep_or_free(ca, x, &room, &nkept, &tail);
    x = next;
  }
  for (x = ar_load_acquire(&ca->all); x != NULL;) {
    ar_cchunk_t *next = x->next_all;
    keep_or_free(ca, x, &room, &nkept, &tail);
    x = next;
  }
  ca->kept = head;
  if (nkept == 0) { /* nothing kept (destroy, retain 0): the table goes too */
    free(ca->kept_at);
    ca->kept_at = NULL;
    ca->kept_room = 0;
  }
  ar_store_relaxed(&ca->kept_state, (uint64_t)nkept);
  ar_store_relaxed(&ca->all, NULL);
  ar_store_relaxed(&ca->current, NULL);
  ar_store_relaxed(&ca->carved, 0);
  ar_store_relaxed(&ca->nchunks, 0);
  ar_store_relaxed(&ca->installed, 0);
  ar_store_relaxed(&ca->nlarge, 0);
}
