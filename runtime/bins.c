/* SPDX-License-Identifier: MIT */
/*
 * runtime/bins.c - size-class lists of freed blocks, for a serial arena's reuse.
 *
 * A block given back with ar_free that neither moves the cursor back nor empties a dedicated
 * chunk (free.c) goes on a size-class free list, threaded through the freed memory itself
 * ({next, size} in its first 16 bytes, which every block has because footprints are multiples
 * of 16 and at least 16). Footprints are align16(max(size, 1)): exactly what the bump path
 * consumed after the block's start (any alignment padding before the block stays lost; it is
 * a few bytes at most).
 *
 * Classes (AR_BINS_CLASSES = 48): 0..31 hold footprints 16, 32, ..., 512 exactly; 32..47
 * hold [1 KiB, 2 KiB), [2 KiB, 4 KiB), ..., the last one everything from 32 MiB up. A block
 * goes in the largest class <= its footprint. A request looks first in the largest class <=
 * its footprint (a bounded first-fit scan, since a power-of-two class mixes sizes), then takes
 * the head of the first non-empty larger class, whose every block fits. The part of a block
 * beyond the request is split off and goes back on a list, so a big freed vector buffer feeds
 * many small requests instead of being wasted. There is no coalescing: neighbouring free
 * blocks stay separate until a rewind or reset takes everything back.
 *
 * Who uses them. free.c lists blocks and ar_realloc takes from them before it bumps; the
 * arena's out-of-line allocation path takes from them only when the current chunk is full
 * (arena.c: ar_alloc_at_), never the inline fast path. Rewind and reset forget them
 * (ar_bins_forget): a listed block may lie above a mark, and after a rewind its memory
 * belongs to the cursor again. A listed block still counts as `used` in the arena's stats (it
 * lies below some chunk's top) and is reported separately as `recycled` (ar_bins_t.bytes).
 *
 * This file is a leaf: it calls nothing else of the runtime, and knows nothing of arenas,
 * poisoning or accounting beyond its own byte count; its callers do those.
 */
#include <stdbool.h>
#include <stdint.h>

#include "runtime/bins.h"
#include "runtime/internal.h"

#define AR_BINS_EXACT 32        /* classes with one footprint each: 16 .. 512 */
#define AR_BINS_EXACT_MAX 512   /* largest exact footprint */
#define AR_BINS_POW2_MIN_LOG 10 /* class AR_BINS_EXACT holds [1 KiB, 2 KiB) */
#define AR_BINS_SCAN 8          /* first-fit probes in a mixed class before moving up */

/* Lives in the first 16 bytes of a free block. */
typedef struct ar_free_block {
  struct ar_free_block *next;
  size_t size; /* footprint: a multiple of 16, >= 16 */
} ar_free_block_t;

static unsigned floor_log2(size_t x) {
  return (unsigned)(63 - __builtin_clzll((unsigned long long)x));
}

/* The largest class whose lower bound is <= fp (fp >= 16, a multiple of 16). */
static unsigned class_floor(size_t fp) {
  if (fp <= AR_BINS_EXACT_MAX) return (unsigned)(fp / 16 - 1);
  if (fp < ((size_t)1 << AR_BINS_POW2_MIN_LOG)) return AR_BINS_EXACT - 1;
  unsigned k = AR_BINS_EXACT + floor_log2(fp) - AR_BINS_POW2_MIN_LOG;
  return k < AR_BINS_CLASSES ? k : AR_BINS_CLASSES - 1;
}

/* Exact classes hold one footprint, so any block there fits a request of that footprint. */
static bool class_is_exact(unsigned k) { return k < AR_BINS_EXACT; }

void ar_bins_push(ar_bins_t *bins, char *p, size_t fp) {
  ar_assert_internal(fp >= 16 && fp % 16 == 0 && ((uintptr_t)p & 15) == 0);
  ar_free_block_t *b = (ar_free_block_t *)(void *)p;
  unsigned k = class_floor(fp);
  b->size = fp;
  b->next = (ar_free_block_t *)bins->head[k];
  bins->head[k] = b;
  bins->bytes += fp;
}

char *ar_bins_pop(ar_bins_t *bins, size_t fp) {
  if (bins->bytes < fp) return NULL; /* cheap exit: nothing listed can fit */
  unsigned k = class_floor(fp);
  ar_free_block_t *b = NULL;
  ar_free_block_t **link = (ar_free_block_t **)&bins->head[k];
  if (class_is_exact(k) && fp <= AR_BINS_EXACT_MAX) {
    b = *link;
  } else {
    unsigned probes = 0;
    for (ar_free_block_t *c = *link; c != NULL && probes < AR_BINS_SCAN;
         link = &c->next, c = c->next, probes++) {
      if (c->size >= fp) {
        b = c;
        break;
      }
    }
  }
  if (b == NULL) {
    /* Every block in a class above k is at least that class's bound, which exceeds fp. */
    for (k = k + 1; k < AR_BINS_CLASSES; k++) {
      if (bins->head[k] != NULL) {
        link = (ar_free_block_t **)&bins->head[k];
        b = *link;
        break;
      }
    }
    if (b == NULL) return NULL;
  }
  *link = b->next;
  size_t have = b->size;
  bins->bytes -= have;
  char *p = (char *)b;
  if (have > fp) ar_bins_push(bins, p + fp, have - fp);
  return p;
}

void ar_bins_forget(ar_bins_t *bins) {
  for (size_t i = 0; i < AR_BINS_CLASSES; i++) bins->head[i] = NULL;
  bins->bytes = 0;
}
