/* SPDX-License-Identifier: MIT */
/*
 * runtime/heap.h - the heap flavor of the serial arena (runtime/heap.c, AR_HEAP=1): every
 * allocation its own malloc, tracked in the arena's hblocks[] table. Compiled in every flavor
 * (callers test AR_HEAP with a plain `if`, so both sides are type-checked in every build);
 * outside the heap flavor these functions are linked in and never called.
 */
#ifndef ARENART_HEAP_H
#define ARENART_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/arena_internal.h"

/* An allocation of `size` bytes at `align` (both already normalised by the caller: size >= 1,
 * align a power of two >= 16); NULL with AR_ENOMEM or AR_ELIMIT set on failure. */
AR_INTERNAL void *ar_heap_alloc(ar_arena_t *a, size_t size, size_t align);
/* Frees every tracked allocation from index `keep` on, newest first, checking guards. */
AR_INTERNAL void ar_heap_free_from(ar_arena_t *a, size_t keep);
/* The number of allocations a valid mark saw: those with a seq up to `mark_seq`. */
AR_INTERNAL size_t ar_heap_mark_count(const ar_arena_t *a, uint64_t mark_seq);
/* Whether p, with n >= 1 bytes, is a live (not freed) tracked block at least n bytes long. */
AR_INTERNAL bool ar_heap_block_ok(const ar_arena_t *a, const char *p, size_t n);
/* The accepted block p is quarantined: a second give-back is refused. */
AR_INTERNAL void ar_heap_block_freed(ar_arena_t *a, const char *p);
/* The accepted block p is now keep bytes long (keep < its size): guard and poison follow. */
AR_INTERNAL void ar_heap_block_shrunk(ar_arena_t *a, char *p, size_t keep);

#endif /* ARENART_HEAP_H */
