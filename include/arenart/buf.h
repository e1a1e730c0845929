/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief A growable byte buffer and string builder in an arena.
 *
 * An ar_buf_t (embed it by value) holds `len` bytes followed by a NUL terminator that is kept
 * in place after every call, so ar_buf_cstr() is always a valid C string (it stops at the first
 * NUL if binary data contains one). A read cursor `rpos` (0 <= rpos <= len) lets the buffer be
 * consumed front to back without moving bytes: read/peek/consume advance or look at the unread
 * part [rpos, len); ar_buf_compact() moves the unread bytes down when the caller wants the
 * space back.
 *
 * Memory behaviour: like ar_vec (see vec.h), storage grows through ar_realloc (in place when it
 * is the arena's most recent allocation, otherwise moved with the old block recycled); capacity
 * at least doubles (minimum 32 bytes), plus one byte for the terminator. Exception: printf
 * output of 256 bytes or more is formatted into a fresh block, never in place: the new
 * storage when the buffer must grow (the old block is then given back with ar_free), else a
 * temporary block of the output's size, copied in and given back. Everything goes away with
 * the arena (rewind past it, reset, release, destroy).
 *
 * Pointer arguments may point into the buffer's own storage (its bytes, terminator or spare
 * capacity), also when the call grows it: ar_buf_append(&b, ar_buf_data(&b), n),
 * ar_buf_appendf(&b, "%s", ar_buf_cstr(&b)), ar_buf_read/peek into the buffer's own bytes.
 *
 * Pointers from ar_buf_data / ar_buf_cstr / ar_buf_rdata stay valid until the next call that
 * may grow the buffer (append*, appendf, reserve) or ar_buf_destroy.
 *
 * Errors: int-returning calls give AR_OK or an ar_error_t (also the thread's last error):
 * AR_EINVAL (NULL buffer or pointer, out-of-range length, printf encoding error), AR_EOVERFLOW
 * (len + n would overflow or exceed AR_MAX_ALLOC_SIZE), AR_ELIMIT / AR_ENOMEM / AR_EBUSY from
 * the arena. A failed call leaves the buffer's contents, length and cursor as they were.
 *
 * Synchronization (externally synchronized; mutating calls also follow the arena's owner-thread
 * rule):
 *   | call                      | may run concurrently with                                 |
 *   |---------------------------|-----------------------------------------------------------|
 *   | read-only calls on B      | other read-only calls on B                                |
 *   | every other call on B     | nothing else on B                                         |
 *   | calls on distinct buffers | each other, if their arenas differ (or all are read-only) |
 *
 * The read-only calls are ar_buf_len, ar_buf_capacity, ar_buf_data, ar_buf_cstr (once B has
 * storage), ar_buf_remaining, ar_buf_rdata and ar_buf_peek. ar_buf_read and ar_buf_consume
 * move the cursor, so they are mutations.
 */
#ifndef ARENART_BUF_H
#define ARENART_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A byte buffer in an arena; embed it by value. Fields are readable; write them only through
 * the API. */
typedef struct ar_buf {
  ar_arena_t *arena; /**< the arena that holds the storage */
  char *data;        /**< NULL until the first growth; then ``data[len] == '\0'`` always */
  size_t len;        /**< bytes written */
  size_t cap;        /**< bytes that fit before growth, terminator excluded */
  size_t rpos;       /**< read cursor, <= len */
} ar_buf_t;

/** Static initializer for an empty buffer in `arena` (no allocation). */
#define AR_BUF_INIT(arena) \
  { (arena), NULL, 0, 0, 0 }

/** Makes *b an empty buffer in `arena`; allocates nothing. Errors: AR_EINVAL (NULL b/arena). */
AR_API int ar_buf_init(ar_buf_t *b, ar_arena_t *arena);

/** Gives the storage back to the arena (ar_free) and leaves *b empty and usable. NULL: no-op. */
AR_API void ar_buf_destroy(ar_buf_t *b);

/** Ensures `n` more bytes can be appended without growth. Errors: AR_EINVAL, AR_EOVERFLOW, the
 * arena's. */
AR_API int ar_buf_reserve(ar_buf_t *b, size_t n);

/** Appends n bytes from p (p may point into the buffer, even when the append grows it; p may
 * be NULL when n == 0). Errors: as ar_buf_reserve, and AR_EINVAL for a NULL p with n > 0.
 *
 * An append that fits the capacity is inlined into the caller (a macro of the same name calls
 * the inline part, which calls the library function for everything else: growth, n == 0, bad
 * arguments); `&ar_buf_append` and `(ar_buf_append)(...)` still name the library function,
 * which behaves the same. */
AR_API int ar_buf_append(ar_buf_t *b, const void *p, size_t n);

/* Private: the inline part of ar_buf_append. 1 <= n <= cap - len is the whole test: the n bytes
 * and the terminator after them then fit the storage the buffer already has (cap > 0 means
 * data is not NULL), so nothing moves and no error is possible. memmove, as in the library:
 * p may point anywhere in the storage, its spare capacity and terminator included, so source
 * and destination may overlap. The library function does nothing more in any build (no checks
 * of its own in debug or sanitizer builds; the arena is only involved when the buffer grows). */
static inline int ar_buf_append_inline_(ar_buf_t *b, const void *p, size_t n) {
  if (AR_LIKELY(b != NULL && p != NULL && n - 1 < b->cap - b->len)) {
    memmove(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return AR_OK;
  }
  return (ar_buf_append)(b, p, n);
}
/** ar_buf_append with its in-capacity case inlined (same arguments, result and errors).
 * Variadic so that an argument with a brace-enclosed comma stays one. */
#define ar_buf_append(b, ...) ar_buf_append_inline_((b), __VA_ARGS__)

/** Appends a NUL-terminated string (without its NUL). Errors: as ar_buf_append. */
AR_API int ar_buf_append_str(ar_buf_t *b, const char *s);

/** Appends one byte (c converted to unsigned char; 0 is allowed and stored). Errors: as
 * ar_buf_append (AR_EINVAL for a NULL b).
 *
 * An append that fits the capacity is inlined into the caller, as for ar_buf_append;
 * `&ar_buf_append_char` and `(ar_buf_append_char)(...)` still name the library function,
 * which behaves the same. */
AR_API int ar_buf_append_char(ar_buf_t *b, int c);

/* Private: the inline part of ar_buf_append_char. len < cap is the whole test: the byte and
 * the terminator after it then fit the storage the buffer already has. */
static inline int ar_buf_append_char_inline_(ar_buf_t *b, int c) {
  if (AR_LIKELY(b != NULL && b->len < b->cap)) {
    ((unsigned char *)b->data)[b->len] = (unsigned char)c;
    b->len++;
    b->data[b->len] = '\0';
    return AR_OK;
  }
  return (ar_buf_append_char)(b, c);
}
/** ar_buf_append_char with its in-capacity case inlined (same arguments, result and errors). */
#define ar_buf_append_char(b, ...) ar_buf_append_char_inline_((b), __VA_ARGS__)

/** printf-style append; arguments may point into the buffer (see above). Output of 256 bytes
 * or more needs an arena block of its size even when it fits the capacity (see above), so
 * AR_ELIMIT / AR_ENOMEM can arise then too. Errors: AR_EINVAL (NULL b or fmt, encoding
 * error), as ar_buf_append. */
AR_API int ar_buf_appendf(ar_buf_t *b, const char *fmt, ...) AR_PRINTF(2, 3);
/** ar_buf_appendf with a va_list. Same errors. */
AR_API int ar_buf_vappendf(ar_buf_t *b, const char *fmt, va_list ap) AR_PRINTF(2, 0);

/** Bytes written; 0 for NULL. */
AR_API size_t ar_buf_len(const ar_buf_t *b);
/** Capacity in bytes (terminator excluded); 0 for NULL. */
AR_API size_t ar_buf_capacity(const ar_buf_t *b);

/** The bytes (NULL before the first growth, or for NULL b). */
AR_API char *ar_buf_data(const ar_buf_t *b);

/** The contents as a C string: never NULL ("" for an empty or NULL buffer). */
AR_API const char *ar_buf_cstr(const ar_buf_t *b);

/** Unread bytes (len - rpos); 0 for NULL. */
AR_API size_t ar_buf_remaining(const ar_buf_t *b);
/** A pointer to the first unread byte (NULL if no bytes were ever stored, or for NULL b). */
AR_API const char *ar_buf_rdata(const ar_buf_t *b);

/** Copies up to n unread bytes to dst and advances the cursor past them. Returns the number
 * copied (0 for NULL b, or NULL dst with n > 0, with last error AR_EINVAL). */
AR_API size_t ar_buf_read(ar_buf_t *b, void *dst, size_t n);
/** Like ar_buf_read but leaves the cursor where it is. Returns the number copied (0 for NULL
 * b, or NULL dst with n > 0, with last error AR_EINVAL). */
AR_API size_t ar_buf_peek(const ar_buf_t *b, void *dst, size_t n);

/** Advances the cursor by n. Errors: AR_EINVAL (NULL b, n > remaining; cursor unchanged). */
AR_API int ar_buf_consume(ar_buf_t *b, size_t n);

/** Moves the unread bytes to the front (len -= rpos, rpos = 0); never allocates. NULL: no-op. */
AR_API void ar_buf_compact(ar_buf_t *b);

/** Keeps the first n bytes (n <= len, else AR_EINVAL); the cursor is clamped to n. */
AR_API int ar_buf_truncate(ar_buf_t *b, size_t n);

/** len = rpos = 0; keeps the storage. NULL is a no-op. */
AR_API void ar_buf_clear(ar_buf_t *b);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_BUF_H */
