/* SPDX-License-Identifier: MIT */
/*
 * runtime/concurrent_slots.c - where a ConcurrentArena keeps each thread's span.
 *
 * Each arena owns one 64-byte slot per thread that has allocated from it, so arenas never compete
 * for a thread's cache of spans: a thread may interleave any number of arenas and holds at most one
 * span in each. (An earlier design kept 16 spans per thread in TLS, picked by a per-arena stamp;
 * two arenas that picked the same slot evicted each other at every switch, abandoning a span each
 * time.) The thread is known by a dense index, taken from a process-wide bitmap at its first
 * out-of-line call and given back by a pthread key destructor when it exits, so the arena can find
 * the slot by plain indexing: the public prefix of the arena is a table from index to slot, which
 * the inline path reads with one load. Entries of threads that have no slot here point at a shared
 * all-NULL slot, in which nothing fits, so the inline path needs no test for it and can never write
 * it. Slots come in blocks of 16, allocated when the first thread of a block needs one and
 * installed with a CAS (the loser frees its own). A thread that takes over an exited thread's index
 * takes over its spans too: they are still this arena's memory, and the bitmap's release/acquire
 * pair orders the old owner's writes before the new owner's. When all AR_CTHREADS_ - 1 indices are
 * taken, a thread has no span and every allocation carves an exact piece from the shared chunk:
 * slower, never unbounded. Reset empties every slot (the table keeps pointing at them); destroy
 * frees the blocks. Builds that must see every call never write the table.
 *
 * This file calls nothing else of the arena; concurrent.c asks it for a thread's index and slot
 * and has it empty or free the table at reset and destroy.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/concurrent_internal.h"

/* The thread's index, which the inline fast path reads. initial-exec: general-dynamic TLS
 * would cost a __tls_get_addr call per allocation; one word fits the static TLS surplus even
 * when the library is a shared object. */
__thread unsigned ar_cthread_ __attribute__((tls_model("initial-exec")));

/* Every entry of a table starts here. Nothing fits in it (end_ - cur_ == 0), so the inline path
 * never writes it: const, so that a write would fault. */
static const ar_slot_t empty_slot;

/* Bit i set: index i is taken. Index 0 means "none" and is never handed out. */
static ar_atomic(uint64_t) index_bits[AR_CTHREADS_ / 64] = {1};
static pthread_key_t index_key;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static bool index_key_made; /* written once, inside pthread_once */

/* The key's destructor: the thread is exiting, its index is free again. */
static void index_put(void *v) {
  unsigned i = (unsigned)(uintptr_t)v;
  ar_cthread_ = 0; /* a later destructor that allocates takes a fresh index */
  /* release: the spans this thread leaves in its slots pass, with the index, to whoever takes
   * it next (that CAS acquires) */
  atomic_fetch_and_explicit(&index_bits[i / 64], ~((uint64_t)1 << (i % 64)), memory_order_release);
}

static void make_index_key(void) {
  index_key_made = pthread_key_create(&index_key, index_put) == 0;
}

unsigned ar_cthread_take_(void) {
  pthread_once(&index_once, make_index_key);
  if (!index_key_made) return 0;
  for (unsigned w = 0; w < AR_CTHREADS_ / 64; w++) {
    /* relaxed: a guess at the free bits; the CAS below checks it */
    uint64_t bits = ar_load_relaxed(&index_bits[w]);
    while (bits != UINT64_MAX) {
      unsigned b = (unsigned)__builtin_ctzll(~bits);
      /* acquire: the previous holder's writes to this index's slots (see index_put) */
      if (ar_cas_weak_acq_rel(&index_bits[w], &bits, bits | ((uint64_t)1 << b))) {
        unsigned i = w * 64 + b;
        if (pthread_setspecific(index_key, (void *)(uintptr_t)i) != 0) {
          index_put((void *)(uintptr_t)i);
          return 0;
        }
        ar_cthread_ = i;
        return i;
      }
    }
  }
  return 0;
}

ar_slot_t *ar_cslot_of_(ar_concurrent_t *ca, unsigned i) {
  ar_atomic(ar_slot_t *) *bp = &ca->blocks[i / AR_SLOT_BLOCK];
  /* acquire: pairs with the installing CAS, so the block's zeroed slots are visible */
  ar_slot_t *b = ar_load_acquire(bp);
  if (b == NULL) {
    ar_slot_t *fresh = (ar_slot_t *)aligned_alloc(64, sizeof(ar_slot_t) * AR_SLOT_BLOCK);
    if (fresh == NULL) return NULL;
    memset(fresh, 0, sizeof(ar_slot_t) * AR_SLOT_BLOCK);
    ar_slot_t *expected = NULL;
    if (ar_cas_strong_acq_rel(bp, &expected, fresh)) {
      b = fresh;
    } else {
      free(fresh); /* another thread of the block installed one first */
      b = expected;
    }
  }
  return &b[i % AR_SLOT_BLOCK];
}

void ar_cslots_init_(ar_concurrent_t *ca) {
  for (unsigned i = 0; i < AR_CTHREADS_; i++)
    ca->hot.slot_[i] = (ar_slot_t *)(uintptr_t)&empty_slot;
}

void ar_cslots_empty_(ar_concurrent_t *ca) {
  /* Every span pointed into a chunk just given back: empty the slots (the table keeps
   * pointing at them). Relaxed: quiescence orders this before any later allocation. */
  for (unsigned k = 0; k < AR_SLOT_BLOCKS; k++) {
    ar_slot_t *b = ar_load_relaxed(&ca->blocks[k]);
    for (unsigned j = 0; b != NULL && j < AR_SLOT_BLOCK; j++) {
      b[j].cur_ = b[j].end_ = NULL;
      b[j].spanned_ = 0; /* spans start small again each round */
    }
  }
}

void ar_cslots_free_(ar_concurrent_t *ca) {
  for (unsigned k = 0; k < AR_SLOT_BLOCKS; k++) free(ar_load_relaxed(&ca->blocks[k]));
}
