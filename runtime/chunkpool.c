/* SPDX-License-Identifier: MIT */
/*
 * runtime/chunkpool.c - lock-free, ABA-safe pools of free chunks.
 *
 * A pool is two stacks over one array of slots: `full` holds slots that carry a free chunk,
 * `empty` holds unused slots. put = pop an empty slot, store the chunk in it, push it on full;
 * get = the reverse. Each stack's head is one 64-bit word: the top slot's index + 1 in the low
 * 32 bits (0 = empty stack) and a generation tag in the high 32 bits that every successful CAS
 * increments. That tag is what makes the stacks ABA-safe: a thread that read head = (A, t),
 * stalled while A was popped, B popped and A pushed again, finds (A, t+3) and its CAS fails.
 * Slots are never freed while the pool lives, so reading a stale slot's `next` is harmless
 * (it is an atomic, and the CAS that would use it fails).
 *
 * Memory orders: a push publishes the slot's contents (the chunk pointer in it) with a release
 * CAS; a pop's acquire load/CAS synchronizes with it. Pops are acq_rel RMWs, so they extend the
 * release sequence of the push they expose: a popper that reads a head written by another pop
 * still synchronizes with the push that wrote the slot it now owns. The counters are relaxed
 * (statistics only).
 *
 * A pooled chunk belongs to nobody, so the pool hides it from the program: ASan-poisoned, and
 * NOACCESS under Valgrind memcheck, from put until get, which hands it out accessible again
 * (undefined). A use of arena memory after its arena gave the chunk back (a ConcurrentArena's
 * reset or destroy, for one) is then reported where it happens. Only a chunk the pool keeps is
 * hidden: one it refuses, or trims, goes to its owner or the backing source as it came.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/chunkpool.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"

typedef struct ar_slot {
  ar_atomic(uint32_t) next; /* index + 1 of the slot below, 0 at the bottom */
  void *chunk;              /* owned by whoever popped the slot */
} ar_slot_t;

typedef struct ar_istack {
  ar_atomic(uint64_t) head;
} ar_istack_t;

struct ar_chunk_pool {
  ar_istack_t full;
  char pad1[64 - sizeof(ar_istack_t)]; /* keep the two hot heads on separate lines */
  ar_istack_t empty;
  char pad2[64 - sizeof(ar_istack_t)];
  ar_atomic(size_t) pooled;
  ar_atomic(uint64_t) hits, misses, overflows, trimmed;
  size_t chunk_size;
  size_t max_chunks;
  ar_source_t backing;
  ar_source_t as_source;
  ar_slot_t *slots;
};

static void istack_push(ar_istack_t *s, ar_slot_t *slots, uint32_t idx) {
  uint64_t old = ar_load_relaxed(&s->head);
  uint64_t desired;
  do {
    /* relaxed: published by the release CAS below */
    ar_store_relaxed(&slots[idx].next, (uint32_t)old);
    desired = (((old >> 32) + 1) << 32) | (uint64_t)(idx + 1);
    AR_STRESS_POINT();
  } while (!ar_cas_weak_release(&s->head, &old, desired));
}

/* Returns a slot index, or UINT32_MAX if the stack is empty. */
static uint32_t istack_pop(ar_istack_t *s, ar_slot_t *slots) {
  uint64_t old = ar_load_acquire(&s->head);
  uint64_t desired;
  uint32_t top;
  do {
    top = (uint32_t)old;
    if (top == 0) return UINT32_MAX;
    /* relaxed: the acquire on `old` ordered the write of this link; if the slot moved since,
     * the tag differs and the CAS fails */
    uint32_t next = ar_load_relaxed(&slots[top - 1].next);
    desired = (((old >> 32) + 1) << 32) | next;
    AR_STRESS_POINT();
  } while (!ar_cas_weak_acq_rel(&s->head, &old, desired));
  return top - 1;
}

static void *pool_acquire(void *ctx, size_t size);
static void pool_release(void *ctx, void *chunk, size_t size);

/* The process-wide default pool (ar_chunk_pool_default, at the end of this file). */
static ar_chunk_pool_t default_pool;

/* Fills a zeroed pool whose slot array holds max_chunks zeroed slots. */
static void pool_init(ar_chunk_pool_t *p, ar_slot_t *slots, size_t chunk_size, size_t max_chunks,
                      const ar_source_t *backing) {
  p->slots = slots;
  p->chunk_size = chunk_size;
  p->max_chunks = max_chunks;
  p->backing = *backing;
  p->as_source = (ar_source_t){pool_acquire, pool_release, p, "chunk-pool"};
  for (uint32_t i = 0; i < (uint32_t)max_chunks; i++) istack_push(&p->empty, slots, i);
}

ar_chunk_pool_t *ar_chunk_pool_create(size_t chunk_size, size_t max_chunks,
                                      const ar_source_t *backing) {
  if (backing == NULL) backing = ar_source_os();
  if (chunk_size < AR_MIN_CHUNK_SIZE || max_chunks == 0 || max_chunks > ((size_t)1 << 24) ||
      backing->acquire == NULL || backing->release == NULL) {
    ar_set_error_(AR_EINVAL);
    return NULL;
  }
  ar_chunk_pool_t *p = (ar_chunk_pool_t *)calloc(1, sizeof *p);
  ar_slot_t *slots = (ar_slot_t *)calloc(max_chunks, sizeof *slots);
  if (p == NULL || slots == NULL) {
    free(p);
    free(slots);
    ar_set_error_(AR_ENOMEM);
    return NULL;
  }
  pool_init(p, slots, chunk_size, max_chunks, backing);
  return p;
}

void *ar_chunk_pool_get(ar_chunk_pool_t *p) {
  if (p == NULL) return NULL;
  uint32_t i = istack_pop(&p->full, p->slots);
  if (i == UINT32_MAX) return NULL;
  void *chunk = p->slots[i].chunk;
  p->slots[i].chunk = NULL;
  /* Counted out before the slot is free again: a put can only fill it after popping it from
   * `empty`, which synchronizes with this push, so its increment follows this decrement and
   * `pooled` never exceeds max_chunks, even for a moment (put counts in before it publishes,
   * so it never goes below 0 either). */
  ar_fetch_sub_relaxed(&p->pooled, 1);
  istack_push(&p->empty, p->slots, i);
  ar_show_(chunk, p->chunk_size);
  return chunk;
}

bool ar_chunk_pool_put(ar_chunk_pool_t *p, void *chunk) {
  if (p == NULL || chunk == NULL) return false;
  uint32_t i = istack_pop(&p->empty, p->slots);
  if (i == UINT32_MAX) {
    ar_fetch_add_relaxed(&p->overflows, 1);
    return false;
  }
  ar_hide_(chunk, p->chunk_size); /* before the push publishes it: see the top */
  p->slots[i].chunk = chunk;
  ar_fetch_add_relaxed(&p->pooled, 1);
  istack_push(&p->full, p->slots, i);
  return true;
}

size_t ar_chunk_pool_trim(ar_chunk_pool_t *p, size_t keep) {
  if (p == NULL) return 0;
  size_t n = 0;
  while (ar_load_relaxed(&p->pooled) > keep) {
    void *chunk = ar_chunk_pool_get(p);
    if (chunk == NULL) break;
    p->backing.release(p->backing.ctx, chunk, p->chunk_size);
    n++;
  }
  ar_fetch_add_relaxed(&p->trimmed, n);
  return n;
}

void ar_chunk_pool_destroy(ar_chunk_pool_t *p) {
  if (p == NULL || p == &default_pool) return; /* the default pool is never destroyed */
  ar_chunk_pool_trim(p, 0);
  free(p->slots);
  free(p);
}

int ar_chunk_pool_stats(const ar_chunk_pool_t *p, ar_chunk_pool_stats_t *out) {
  if (p == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  ar_chunk_pool_t *q = (ar_chunk_pool_t *)(uintptr_t)p; /* atomics loads need non-const */
  out->chunk_size = q->chunk_size;
  out->max_chunks = q->max_chunks;
  out->pooled = ar_load_relaxed(&q->pooled);
  out->hits = ar_load_relaxed(&q->hits);
  out->misses = ar_load_relaxed(&q->misses);
  out->overflows = ar_load_relaxed(&q->overflows);
  out->trimmed = ar_load_relaxed(&q->trimmed);
  return AR_OK;
}

/* ---- the pool as a memory source ----------------------------------------------------- */

static void *pool_acquire(void *ctx, size_t size) {
  ar_chunk_pool_t *p = (ar_chunk_pool_t *)ctx;
  if (size == p->chunk_size) {
    void *chunk = ar_chunk_pool_get(p);
    if (chunk != NULL) {
      ar_fetch_add_relaxed(&p->hits, 1);
      return chunk;
    }
    ar_fetch_add_relaxed(&p->misses, 1);
  }
  return p->backing.acquire(p->backing.ctx, size);
}

static void pool_release(void *ctx, void *chunk, size_t size) {
  ar_chunk_pool_t *p = (ar_chunk_pool_t *)ctx;
  if (size == p->chunk_size && ar_chunk_pool_put(p, chunk)) return;
  p->backing.release(p->backing.ctx, chunk, size);
}

const ar_source_t *ar_chunk_pool_source(ar_chunk_pool_t *p) {
  return p != NULL ? &p->as_source : NULL;
}

/* The default pool lives in static storage: making it allocates nothing, so the first arena
 * of a process that is out of memory gets AR_ENOMEM from its own allocation, not an abort
 * here. 256 slots are 4 KiB of .bss. */
#define AR_DEFAULT_POOL_CHUNKS 256
static ar_slot_t default_slots[AR_DEFAULT_POOL_CHUNKS];
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void make_default_pool(void) {
  pool_init(&default_pool, default_slots, AR_DEFAULT_CHUNK_SIZE, AR_DEFAULT_POOL_CHUNKS,
            ar_source_os());
}

ar_chunk_pool_t *ar_chunk_pool_default(void) {
  pthread_once(&default_once, make_default_pool);
  return &default_pool;
}
