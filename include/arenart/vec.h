/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief A growable array whose storage lives in an arena.
 *
 * An ar_vec_t is a small struct (embed it by value) holding a pointer into its arena, the
 * element size chosen at run time, a length and a capacity. Elements are plain bytes to the
 * vector: they are copied in and out with memcpy and compared with memcmp; nothing is
 * constructed or destroyed. Storage is aligned to 16 bytes, so any element type whose
 * alignment divides 16 (and whose size is a multiple of its alignment, as C guarantees) is
 * correctly aligned at every index.
 *
 * Memory behaviour. The storage grows through ar_realloc: when it is the arena's most recent
 * allocation it is extended in place (no copy); otherwise a new block is taken (a recycled one
 * if the arena has one of that size class) and the old one is given back with ar_free, so the
 * space a growing vector leaves behind is reused by later growth. Capacity doubles (at least 4
 * elements, at least what the call needs). Nothing shrinks the storage except
 * ar_vec_shrink_to_fit and ar_vec_destroy. Everything the vector holds goes away with the arena
 * (rewind past the vector's storage, reset, release, destroy): after that the vector must be
 * re-initialized, never used.
 *
 * Pointers into the storage (ar_vec_at, ar_vec_data, AR_VEC_FOREACH) stay valid until the next
 * call that may grow or shrink it (push, append, insert, reserve, shrink_to_fit, destroy).
 *
 * Errors: int-returning calls give AR_OK or an ar_error_t (also recorded as the thread's last
 * error): AR_EINVAL for a NULL vector or a bad argument, AR_EOVERFLOW when a byte count would
 * overflow (count * elem_size, capacity doubling) or exceed AR_MAX_ALLOC_SIZE, and AR_ELIMIT,
 * AR_ENOMEM, AR_EBUSY from the arena. A failed call leaves the vector exactly as it was.
 *
 * Synchronization (the vector is externally synchronized; its arena is a serial arena, so all
 * mutating calls must also come from the arena's owner thread):
 *   | call                      | may run concurrently with                                 |
 *   |---------------------------|-----------------------------------------------------------|
 *   | read-only calls on V      | other read-only calls on V                                |
 *   | every other call on V     | nothing else on V                                         |
 *   | calls on distinct vectors | each other, if their arenas differ (or all are read-only) |
 *
 * The read-only calls are ar_vec_len, ar_vec_capacity, ar_vec_elem_size, ar_vec_data,
 * ar_vec_at, ar_vec_get, ar_vec_index_of, ar_vec_last_index_of, ar_vec_foreach, and AR_VEC_AT
 * used as an rvalue.
 */
#ifndef ARENART_VEC_H
#define ARENART_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A growable array in an arena; embed it by value. Fields are readable (len and data are what
 * they say) but write them only through the API. */
typedef struct ar_vec {
  ar_arena_t *arena; /**< the arena that holds the storage */
  void *data;        /**< NULL until the first growth */
  size_t len;        /**< elements in use */
  size_t cap;        /**< elements the storage holds */
  size_t elem_size;  /**< bytes per element, >= 1 */
} ar_vec_t;

/** Returned by the index searches when nothing matches. */
#define AR_VEC_NPOS ((size_t)-1)
/** A `limit` that removes every match. */
#define AR_VEC_ALL ((size_t)-1)

/** Static initializer for an empty vector of T in `arena` (no allocation). */
#define AR_VEC_INIT(arena, T) \
  { (arena), NULL, 0, 0, sizeof(T) }

/** Makes *v an empty vector of `elem_size`-byte elements in `arena`; allocates nothing.
 * Errors: AR_EINVAL (NULL v or arena, elem_size 0 or above AR_MAX_ALLOC_SIZE); *v untouched. */
AR_API int ar_vec_init(ar_vec_t *v, ar_arena_t *arena, size_t elem_size);

/** Gives the storage back to the arena (ar_free) and leaves *v empty, still usable with the
 * same arena and element size. NULL is a no-op. */
AR_API void ar_vec_destroy(ar_vec_t *v);

/** Element count; 0 for NULL. */
AR_API size_t ar_vec_len(const ar_vec_t *v);
/** Capacity in elements; 0 for NULL. */
AR_API size_t ar_vec_capacity(const ar_vec_t *v);
/** Element size in bytes; 0 for NULL. */
AR_API size_t ar_vec_elem_size(const ar_vec_t *v);

/** The first element, or NULL when nothing was ever allocated (or v is NULL). */
AR_API void *ar_vec_data(const ar_vec_t *v);

/** Ensures room for `n` elements in total (not n more) without further growth; never shrinks.
 * Errors: AR_EINVAL, AR_EOVERFLOW, and the arena's. */
AR_API int ar_vec_reserve(ar_vec_t *v, size_t n);

/** Gives back the capacity beyond len (in place: ar_realloc shrinks keep the block, handing the
 * tail to the arena's free lists). Errors: AR_EINVAL. */
AR_API int ar_vec_shrink_to_fit(ar_vec_t *v);

/** Appends one element copied from `elem` (which may point into the vector itself). Errors:
 * AR_EINVAL (NULL v or elem), AR_EOVERFLOW, the arena's.
 *
 * A push that fits the capacity is inlined into the caller, as for ar_vec_append (below);
 * `&ar_vec_push` and `(ar_vec_push)(...)` still name the library function, which behaves the
 * same. */
AR_API int ar_vec_push(ar_vec_t *v, const void *elem);

/* Private: the inline part of ar_vec_push. len < cap is the whole test: one element then fits
 * storage the vector already holds, so nothing moves (an `elem` inside the vector stays valid)
 * and no error is possible. The library function does nothing more in any build (no checks of
 * its own in debug or sanitizer builds; the arena is only involved when the vector grows). */
static inline int ar_vec_push_inline_(ar_vec_t *v, const void *elem) {
  if (AR_LIKELY(v != NULL && elem != NULL && v->len < v->cap)) {
    memcpy((char *)v->data + v->len * v->elem_size, elem, v->elem_size);
    v->len++;
    return AR_OK;
  }
  return (ar_vec_push)(v, elem);
}
/** ar_vec_push with its in-capacity case inlined (same arguments, result and errors).
 * Variadic so that an element written as a compound literal with commas stays one argument. */
#define ar_vec_push(v, ...) ar_vec_push_inline_((v), __VA_ARGS__)

/** Appends `n` elements copied from `elems` (which may point into the vector itself). n == 0
 * is a successful no-op (elems may then be NULL). Errors: as ar_vec_push.
 *
 * An append that fits the capacity is inlined into the caller (a macro of the same name
 * calls the inline part, which calls the library function for everything else: growth,
 * n == 0, bad arguments); `&ar_vec_append` and `(ar_vec_append)(...)` still name the library
 * function, which behaves the same. */
AR_API int ar_vec_append(ar_vec_t *v, const void *elems, size_t n);

/* Private: the inline part of ar_vec_append. 1 <= n <= cap - len is the whole test: the bytes
 * n * elem_size then fit storage the vector already holds, so the product cannot overflow,
 * nothing moves (an `elems` inside the vector stays valid), and no error is possible. As for
 * ar_vec_push_inline_, the library function does nothing more in any build. */
static inline int ar_vec_append_inline_(ar_vec_t *v, const void *elems, size_t n) {
  if (AR_LIKELY(v != NULL && elems != NULL && n - 1 < v->cap - v->len)) {
    memcpy((char *)v->data + v->len * v->elem_size, elems, n * v->elem_size);
    v->len += n;
    return AR_OK;
  }
  return (ar_vec_append)(v, elems, n);
}
/** ar_vec_append with its in-capacity case inlined (same arguments, result and errors).
 * Variadic so that an argument with a brace-enclosed comma ((int[]){1, 2}) stays one. */
#define ar_vec_append(v, ...) ar_vec_append_inline_((v), __VA_ARGS__)

/** Appends `n` zero-filled elements and returns a pointer to the first (or to where it would be
 * for n == 0; may then be NULL for a never-grown vector). NULL on error (last error set):
 * AR_EINVAL, AR_EOVERFLOW, the arena's. */
AR_API void *ar_vec_push_zeroed(ar_vec_t *v, size_t n);

/** Inserts `n` elements copied from `elems` before index `i` (i == len appends); later elements
 * move up. `elems` must not point into the vector. Errors: AR_EINVAL (NULL v, i > len, NULL
 * elems with n > 0), AR_EOVERFLOW, the arena's. */
AR_API int ar_vec_insert(ar_vec_t *v, size_t i, const void *elems, size_t n);

/** Removes the `n` elements at [i, i + n), copying them to `out` first unless out is NULL;
 * later elements move down (order kept). Errors: AR_EINVAL (NULL v, range beyond len). */
AR_API int ar_vec_remove(ar_vec_t *v, size_t i, size_t n, void *out);

/** Removes the element at i by moving the last element into its place (O(1), order not kept).
 * Copies the removed element to `out` unless out is NULL. Errors: AR_EINVAL (NULL v, i >= len). */
AR_API int ar_vec_swap_remove(ar_vec_t *v, size_t i, void *out);

/** Removes the last element, copying it to `out` unless NULL.
 * Errors: AR_EINVAL (NULL or empty). */
AR_API int ar_vec_pop(ar_vec_t *v, void *out);

/** Removes the first `limit` elements equal (memcmp over elem_size bytes) to `elem`, keeping
 * the order of the rest; AR_VEC_ALL removes every match, 0 removes none. `elem` may point into
 * the vector if elem_size <= 256. Returns how many were removed; 0 with last error AR_EINVAL
 * for a NULL v or elem (or a larger aliasing elem). Never allocates. */
AR_API size_t ar_vec_remove_value(ar_vec_t *v, const void *elem, size_t limit);

/** Predicate for ar_vec_remove_if: true removes the element. It must not touch the vector. */
typedef bool (*ar_vec_pred_fn)(const void *elem, void *ctx);

/** As ar_vec_remove_value, with `pred(elem, ctx)` deciding. The predicate runs on elements in
 * order from the front and is not called again once `limit` removals were made. */
AR_API size_t ar_vec_remove_if(ar_vec_t *v, ar_vec_pred_fn pred, void *ctx, size_t limit);

/** Index of the first element equal (memcmp) to `elem`, or AR_VEC_NPOS (also for a NULL v or
 * elem, with last error AR_EINVAL). */
AR_API size_t ar_vec_index_of(const ar_vec_t *v, const void *elem);
/** Index of the last element equal (memcmp) to `elem`, or AR_VEC_NPOS (also for a NULL v or
 * elem, with last error AR_EINVAL). */
AR_API size_t ar_vec_last_index_of(const ar_vec_t *v, const void *elem);

/** Pointer to element i, or NULL (last error AR_EINVAL) for a NULL v or i >= len. */
AR_API void *ar_vec_at(const ar_vec_t *v, size_t i);

/** Copies element i to `out`. Errors: AR_EINVAL (NULL v or out, i >= len). */
AR_API int ar_vec_get(const ar_vec_t *v, size_t i, void *out);

/** Overwrites element i with a copy of `elem`. Errors: AR_EINVAL (NULL v or elem, i >= len). */
AR_API int ar_vec_set(ar_vec_t *v, size_t i, const void *elem);

/** Sets len to 0; keeps the storage. NULL is a no-op. */
AR_API void ar_vec_clear(ar_vec_t *v);

/** Drops elements from index n on (n > len is AR_EINVAL); keeps the storage. */
AR_API int ar_vec_truncate(ar_vec_t *v, size_t n);

/** Callback for ar_vec_foreach: a nonzero return stops the walk and is returned. The callback
 * may modify the element in place but must not grow or shrink the vector. */
typedef int (*ar_vec_visit_fn)(void *elem, size_t index, void *ctx);

/** Calls fn on every element in index order. Returns 0 after a full walk, the callback's
 * nonzero value if it stopped early, or AR_EINVAL (last error set) for a NULL v or fn. */
AR_API int ar_vec_foreach(const ar_vec_t *v, ar_vec_visit_fn fn, void *ctx);

/* Private helpers behind the typed macros: they check that sizeof(T) matches elem_size. */
AR_API int ar_vec_push_sized_(ar_vec_t *v, const void *elem, size_t size);
AR_API void *ar_vec_at_sized_(const ar_vec_t *v, size_t i, size_t size);

/* ---- typed helpers --------------------------------------------------------------------- */

/** Appends `value` (converted to T). Returns AR_OK or an error; AR_EINVAL if sizeof(T) is not
 * the vector's element size. */
#define AR_VEC_PUSH(v, T, value) ar_vec_push_sized_((v), (T[1]){(value)}, sizeof(T))

/** Element i as an lvalue of type T. Bounds- and size-checked: a bad index or a T of the wrong
 * size is a programming error and aborts with a message (in every build). */
#define AR_VEC_AT(v, T, i) (*(T *)ar_vec_at_sized_((v), (i), sizeof(T)))

/** The storage as a T pointer (unchecked; NULL before the first growth). */
#define AR_VEC_DATA(v, T) ((T *)(v)->data)

/** `for (T *it = first; it != end; it++)`: declares `it` in the loop. Do not grow or shrink the
 * vector inside the loop. */
#define AR_VEC_FOREACH(v, T, it)                                                       \
  for (T *it = (T *)(v)->data, *it##_end_ = (v)->len ? (T *)(v)->data + (v)->len : it; \
       it != it##_end_; it++)

#ifdef __cplusplus
}
#endif

#endif /* ARENART_VEC_H */
