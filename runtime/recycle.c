/*
 * runtime/recycle.c - giving single blocks back to a serial arena (ar_free, ar_realloc).
 *
 * Placeholder while the containers work lands: no block is kept for reuse yet; rewind and
 * reset reclaim everything as before.
 */
#include <string.h>

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

int ar_free(ar_arena_t *a, void *p, size_t size) {
  (void)size;
  if (a == NULL) return ar_set_error_(AR_EINVAL);
  (void)p;
  return AR_OK;
}

void *ar_realloc(ar_arena_t *a, void *p, size_t old_size, size_t new_size) {
  void *q = ar_alloc(a, new_size);
  if (q != NULL && p != NULL) memcpy(q, p, old_size < new_size ? old_size : new_size);
  return q;
}
