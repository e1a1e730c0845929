/*
 * runtime/recycle.c - giving single blocks back to a serial arena (ar_free, ar_realloc).
 *
 * Placeholder while the containers work lands: no block is kept for reuse yet; rewind and
 * reset reclaim everything as before.
 */
#include "runtime/arena_internal.h"

void ar_recycle_forget_(ar_arena_t *a) {
  for (size_t i = 0; i < AR_RECYCLE_CLASSES; i++) a->recycle[i] = NULL;
  a->recycled_bytes = 0;
}

void *ar_recycle_take_(ar_arena_t *a, size_t size) {
  (void)a;
  (void)size;
  return NULL;
}
