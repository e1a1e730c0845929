/* SPDX-License-Identifier: MIT */
/*
 * runtime/vec.c - ar_vec, a growable array in an arena.
 *
 * Design. The vector is (data, len, cap, elem_size) and nothing else; every byte count is
 * computed as count * elem_size with an overflow check, and capped at AR_MAX_ALLOC_SIZE so
 * that the arena never sees a request it must reject for size. Growth goes through ar_realloc,
 * which extends the block in place when it is the arena's most recent allocation and
 * otherwise moves it and recycles the old block (free.c); so a vector that grows while
 * nothing else allocates never copies, and one that grows among others leaves behind blocks
 * that the next growth (of any container in the arena) reuses.
 *
 * Failure atomicity: every mutating call computes its new size and secures the storage first;
 * only when that succeeded does it touch len or the elements, so an error leaves the vector
 * byte-for-byte as it was (ar_realloc keeps the old block intact on failure).
 *
 * Pushes and appends that fit the capacity are also written inline in vec.h (the call cost
 * more than the copy); the inline parts do exactly what these functions do when nothing grows
 * and fall back to them for everything else, so the two must change together.
 *
 * Thread contract: externally synchronized (see vec.h); the arena's owner-thread rule applies
 * to every call that may allocate or free.
 */
#include <stdint.h>
#include <string.h>

#include "arenart/vec.h"
#include "runtime/internal.h"

#define AR_VEC_MIN_CAP 4
#define AR_VEC_ALIAS_MAX 256 /* remove_value copies an aliasing elem into a buffer this big */

static bool bytes_for(size_t count, size_t elem_size, size_t *out) {
  return !__builtin_mul_overflow(count, elem_size, out) && *out <= AR_MAX_ALLOC_SIZE;
}

static char *elem_ptr(const ar_vec_t *v, size_t i) { return (char *)v->data + i * v->elem_size; }

/* Grows the storage so that at least `need` elements fit. */
static int grow(ar_vec_t *v, size_t need) {
  if (need <= v->cap) return AR_OK;
  size_t new_cap = v->cap < AR_VEC_MIN_CAP ? AR_VEC_MIN_CAP : v->cap;
  if (__builtin_mul_overflow(new_cap, (size_t)2, &new_cap) || new_cap < need) new_cap = need;
  size_t bytes;
  if (!bytes_for(new_cap, v->elem_size, &bytes)) {
    /* Doubling overflowed the byte limit; the exact need may still be representable. */
    new_cap = need;
    if (!bytes_for(new_cap, v->elem_size, &bytes)) return ar_set_error_(AR_EOVERFLOW);
  }
  void *p = ar_realloc(v->arena, v->data, v->cap * v->elem_size, bytes);
  if (p == NULL) return (int)ar_last_error();
  v->data = p;
  v->cap = new_cap;
  return AR_OK;
}

/* len + n, or AR_EOVERFLOW. */
static int grow_by(ar_vec_t *v, size_t n) {
  size_t need;
  if (__builtin_add_overflow(v->len, n, &need)) return ar_set_error_(AR_EOVERFLOW);
  return grow(v, need);
}

int ar_vec_init(ar_vec_t *v, ar_arena_t *arena, size_t elem_size) {
  ar_lease_forbid_(arena); /* lease.h: every call naming a leased arena aborts */
  if (v == NULL || arena == NULL || elem_size == 0 || elem_size > AR_MAX_ALLOC_SIZE)
    return ar_set_error_(AR_EINVAL);
  v->arena = arena;
  v->data = NULL;
  v->len = 0;
  v->cap = 0;
  v->elem_size = elem_size;
  return AR_OK;
}

void ar_vec_destroy(ar_vec_t *v) {
  if (v == NULL) return;
  if (v->data != NULL) ar_free(v->arena, v->data, v->cap * v->elem_size);
  v->data = NULL;
  v->len = 0;
  v->cap = 0;
}

size_t ar_vec_len(const ar_vec_t *v) { return v ? v->len : 0; }
size_t ar_vec_capacity(const ar_vec_t *v) { return v ? v->cap : 0; }
size_t ar_vec_elem_size(const ar_vec_t *v) { return v ? v->elem_size : 0; }
void *ar_vec_data(const ar_vec_t *v) { return v ? v->data : NULL; }

int ar_vec_reserve(ar_vec_t *v, size_t n) {
  if (v == NULL) return ar_set_error_(AR_EINVAL);
  if (n <= v->cap) return AR_OK;
  size_t bytes;
  if (!bytes_for(n, v->elem_size, &bytes)) return ar_set_error_(AR_EOVERFLOW);
  /* Exactly n: a caller that reserves knows the size it needs. */
  void *p = ar_realloc(v->arena, v->data, v->cap * v->elem_size, bytes);
  if (p == NULL) return (int)ar_last_error();
  v->data = p;
  v->cap = n;
  return AR_OK;
}

int ar_vec_shrink_to_fit(ar_vec_t *v) {
  if (v == NULL) return ar_set_error_(AR_EINVAL);
  if (v->len == v->cap) return AR_OK;
  if (v->len == 0) {
    ar_vec_destroy(v);
    return AR_OK;
  }
  /* A shrinking ar_realloc keeps the block and cannot fail for valid arguments. */
  void *p = ar_realloc(v->arena, v->data, v->cap * v->elem_size, v->len * v->elem_size);
  if (p == NULL) return (int)ar_last_error();
  v->data = p;
  v->cap = v->len;
  return AR_OK;
}

/* The names in parentheses here and in ar_vec_push: vec.h defines function-like macros
 * ar_vec_append and ar_vec_push (the inline parts, which fall back to these functions). */
int(ar_vec_append)(ar_vec_t *v, const void *elems, size_t n) {
  if (v == NULL || (elems == NULL && n > 0)) return ar_set_error_(AR_EINVAL);
  if (n == 0) return AR_OK;
  /* `elems` may lie in our own storage, which growth may move: remember it as an offset. */
  uintptr_t src = (uintptr_t)elems, lo = (uintptr_t)v->data;
  bool inside = v->data != NULL && src >= lo && src < lo + v->len * v->elem_size;
  size_t off = inside ? (size_t)(src - lo) : 0;
  int err = grow_by(v, n);
  if (err != AR_OK) return err;
  if (inside) elems = (const char *)v->data + off;
  /* Source and destination cannot overlap: the source is within [0, len), the target after. */
  memcpy(elem_ptr(v, v->len), elems, n * v->elem_size);
  v->len += n;
  return AR_OK;
}

int(ar_vec_push)(ar_vec_t *v, const void *elem) {
  if (elem == NULL) return ar_set_error_(AR_EINVAL);
  return ar_vec_append(v, elem, 1);
}

int ar_vec_push_sized_(ar_vec_t *v, const void *elem, size_t size) {
  if (v == NULL || size != v->elem_size) return ar_set_error_(AR_EINVAL);
  return ar_vec_append(v, elem, 1);
}

void *ar_vec_push_zeroed(ar_vec_t *v, size_t n) {
  if (v == NULL) {
    ar_set_error_(AR_EINVAL);
    return NULL;
  }
  if (grow_by(v, n) != AR_OK) return NULL;
  if (v->data == NULL) return NULL; /* n == 0 on a never-grown vector */
  char *p = elem_ptr(v, v->len);
  memset(p, 0, n * v->elem_size);
  v->len += n;
  return p;
}

int ar_vec_insert(ar_vec_t *v, size_t i, const void *elems, size_t n) {
  if (v == NULL || i > v->len || (elems == NULL && n > 0)) return ar_set_error_(AR_EINVAL);
  if (n == 0) return AR_OK;
  int err = grow_by(v, n);
  if (err != AR_OK) return err;
  memmove(elem_ptr(v, i + n), elem_ptr(v, i), (v->len - i) * v->elem_size);
  memcpy(elem_ptr(v, i), elems, n * v->elem_size);
  v->len += n;
  return AR_OK;
}

int ar_vec_remove(ar_vec_t *v, size_t i, size_t n, void *out) {
  if (v == NULL || i > v->len || n > v->len - i) return ar_set_error_(AR_EINVAL);
  if (n == 0) return AR_OK;
  if (out != NULL) memcpy(out, elem_ptr(v, i), n * v->elem_size);
  memmove(elem_ptr(v, i), elem_ptr(v, i + n), (v->len - i - n) * v->elem_size);
  v->len -= n;
  return AR_OK;
}

int ar_vec_swap_remove(ar_vec_t *v, size_t i, void *out) {
  if (v == NULL || i >= v->len) return ar_set_error_(AR_EINVAL);
  if (out != NULL) memcpy(out, elem_ptr(v, i), v->elem_size);
  if (i != v->len - 1) memcpy(elem_ptr(v, i), elem_ptr(v, v->len - 1), v->elem_size);
  v->len--;
  return AR_OK;
}

int ar_vec_pop(ar_vec_t *v, void *out) {
  if (v == NULL || v->len == 0) return ar_set_error_(AR_EINVAL);
  return ar_vec_swap_remove(v, v->len - 1, out);
}

/* One pass that keeps order: survivors are copied down over removed slots. `match` is either
 * a memcmp against `elem` (pred == NULL) or the predicate. */
static size_t compact(ar_vec_t *v, const void *elem, ar_vec_pred_fn pred, void *ctx, size_t limit) {
  size_t es = v->elem_size, w = 0, removed = 0;
  for (size_t r = 0; r < v->len; r++) {
    char *e = elem_ptr(v, r);
    if (removed < limit && (pred ? pred(e, ctx) : memcmp(e, elem, es) == 0)) {
      removed++;
      continue;
    }
    if (w != r) memcpy(elem_ptr(v, w), e, es); /* w < r: distinct, non-overlapping slots */
    w++;
  }
  v->len = w;
  return removed;
}

size_t ar_vec_remove_value(ar_vec_t *v, const void *elem, size_t limit) {
  if (v == NULL || elem == NULL) {
    ar_set_error_(AR_EINVAL);
    return 0;
  }
  if (limit == 0 || v->len == 0) return 0;
  /* Compaction overwrites slots, so an `elem` inside the vector must be copied first. */
  unsigned char copy[AR_VEC_ALIAS_MAX];
  uintptr_t e = (uintptr_t)elem, lo = (uintptr_t)v->data;
  if (e + v->elem_size > lo && e < lo + v->len * v->elem_size) {
    if (v->elem_size > sizeof copy) {
      ar_set_error_(AR_EINVAL);
      return 0;
    }
    memcpy(copy, elem, v->elem_size);
    elem = copy;
  }
  return compact(v, elem, NULL, NULL, limit);
}

size_t ar_vec_remove_if(ar_vec_t *v, ar_vec_pred_fn pred, void *ctx, size_t limit) {
  if (v == NULL || pred == NULL) {
    ar_set_error_(AR_EINVAL);
    return 0;
  }
  if (limit == 0 || v->len == 0) return 0;
  return compact(v, NULL, pred, ctx, limit);
}

size_t ar_vec_index_of(const ar_vec_t *v, const void *elem) {
  if (v == NULL || elem == NULL) {
    ar_set_error_(AR_EINVAL);
    return AR_VEC_NPOS;
  }
  for (size_t i = 0; i < v->len; i++)
    if (memcmp(elem_ptr(v, i), elem, v->elem_size) == 0) return i;
  return AR_VEC_NPOS;
}

size_t ar_vec_last_index_of(const ar_vec_t *v, const void *elem) {
  if (v == NULL || elem == NULL) {
    ar_set_error_(AR_EINVAL);
    return AR_VEC_NPOS;
  }
  for (size_t i = v->len; i-- > 0;)
    if (memcmp(elem_ptr(v, i), elem, v->elem_size) == 0) return i;
  return AR_VEC_NPOS;
}

void *ar_vec_at(const ar_vec_t *v, size_t i) {
  if (v == NULL || i >= v->len) {
    ar_set_error_(AR_EINVAL);
    return NULL;
  }
  return elem_ptr(v, i);
}

void *ar_vec_at_sized_(const ar_vec_t *v, size_t i, size_t size) {
  if (v == NULL || size != v->elem_size || i >= v->len)
    ar_fatal_("AR_VEC_AT: %s (index %zu, length %zu, element size %zu, type size %zu)",
              v == NULL     ? "NULL vector"
              : i >= v->len ? "index out of range"
                            : "wrong type size",
              i, v ? v->len : 0, v ? v->elem_size : 0, size);
  return elem_ptr(v, i);
}

int ar_vec_get(const ar_vec_t *v, size_t i, void *out) {
  if (v == NULL || out == NULL || i >= v->len) return ar_set_error_(AR_EINVAL);
  memcpy(out, elem_ptr(v, i), v->elem_size);
  return AR_OK;
}

int ar_vec_set(ar_vec_t *v, size_t i, const void *elem) {
  if (v == NULL || elem == NULL || i >= v->len) return ar_set_error_(AR_EINVAL);
  memmove(elem_ptr(v, i), elem, v->elem_size); /* elem may be another element */
  return AR_OK;
}

void ar_vec_clear(ar_vec_t *v) {
  if (v != NULL) v->len = 0;
}

int ar_vec_truncate(ar_vec_t *v, size_t n) {
  if (v == NULL || n > v->len) return ar_set_error_(AR_EINVAL);
  v->len = n;
  return AR_OK;
}

int ar_vec_foreach(const ar_vec_t *v, ar_vec_visit_fn fn, void *ctx) {
  if (v == NULL || fn == NULL) return ar_set_error_(AR_EINVAL);
  for (size_t i = 0; i < v->len; i++) {
    int rc = fn(elem_ptr(v, i), i, ctx);
    if (rc != 0) return rc;
  }
  return 0;
}
