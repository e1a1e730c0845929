/* SPDX-License-Identifier: MIT */
/*
 * runtime/bins.h - size-class lists of freed blocks (runtime/bins.c). A leaf: it knows blocks
 * and footprints, not arenas. The serial arena embeds one ar_bins_t; free.c fills it,
 * the arena's slow path takes from it and forgets it at rewind and reset.
 */
#ifndef ARENART_BINS_H
#define ARENART_BINS_H

#include <stddef.h>

#include "arenart/arena.h"
#include "runtime/internal.h"

/* 0..31 hold footprints 16 .. 512 exactly; 32..47 one power of two each (bins.c). */
#define AR_BINS_CLASSES 48

typedef struct ar_bins {
  void *head[AR_BINS_CLASSES]; /* each a list threaded through the freed blocks themselves */
  size_t bytes;                /* footprints of every listed block together */
} ar_bins_t;

/* What the bump path consumed after the start of a block of `size` bytes: align16(max(size,
 * 1)). Alignment padding before the block is not part of it. */
static inline size_t ar_bins_footprint(size_t size) {
  return ar_align_up_(size == 0 ? 1 : size, AR_ALIGN_DEFAULT);
}

/* Lists the free block p (16-aligned) of footprint fp (a multiple of 16, >= 16). */
AR_INTERNAL void ar_bins_push(ar_bins_t *b, char *p, size_t fp);
/* Unlinks a listed block of footprint >= fp and returns it, the part beyond fp listed again;
 * NULL if none fits. */
AR_INTERNAL char *ar_bins_pop(ar_bins_t *b, size_t fp);
/* Forgets every listed block (their memory is being taken back some other way). */
AR_INTERNAL void ar_bins_forget(ar_bins_t *b);

#endif /* ARENART_BINS_H */
