/*
 * arenart/buf.h - a growable byte buffer and string builder in an arena.
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
 * at least doubles (minimum 32 bytes), plus one byte for the terminator. Everything goes away
 * with the arena (rewind past it, reset, release, destroy).
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
 *   | call                                           | may run concurrently with            |
 *   |------------------------------------------------|--------------------------------------|
 *   | read-only calls on B: len, capacity, data,     | other read-only calls on B           |
 *   |   cstr (once B has storage), remaining, rdata, |                                      |
 *   |   peek                                         |                                      |
 *   | every other call on B (read and consume move   | nothing else on B                    |
 *   |   the cursor, so they are mutations)           |                                      |
 *   | calls on distinct buffers                      | each other, if their arenas are      |
 *   |                                                | distinct (or only read-only calls)   |
 */
#ifndef ARENART_BUF_H
#define ARENART_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "arenart/arena.h"
#include "arenart/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fields are readable; write them only through the API. */
typedef struct ar_buf {
  ar_arena_t *arena;
  char *data;  /* NULL until the first growth; then data[len] == '\0' always */
  size_t len;  /* bytes written */
  size_t cap;  /* bytes that fit before growth, terminator excluded */
  size_t rpos; /* read cursor, <= len */
} ar_buf_t;

/* Static initializer for an empty buffer in `arena` (no allocation). */
#define AR_BUF_INIT(arena) \
  { (arena), NULL, 0, 0, 0 }

/* Makes *b an empty buffer in `arena`; allocates nothing. Errors: AR_EINVAL (NULL b/arena). */
AR_API int ar_buf_init(ar_buf_t *b, ar_arena_t *arena);

/* Gives the storage back to the arena (ar_free) and leaves *b empty and usable. NULL: no-op. */
AR_API void ar_buf_destroy(ar_buf_t *b);

/* Ensures `n` more bytes can be appended without growth. Errors: AR_EINVAL, AR_EOVERFLOW, the
 * arena's. */
AR_API int ar_buf_reserve(ar_buf_t *b, size_t n);

/* Appends n bytes from p (p may point into the buffer; p may be NULL when n == 0). Errors: as
 * ar_buf_reserve, and AR_EINVAL for a NULL p with n > 0. */
AR_API int ar_buf_append(ar_buf_t *b, const void *p, size_t n);

/* Appends a NUL-terminated string (without its NUL). Errors: as ar_buf_append. */
AR_API int ar_buf_append_str(ar_buf_t *b, const char *s);

/* Appends one byte (c converted to unsigned char; 0 is allowed and stored). */
AR_API int ar_buf_append_char(ar_buf_t *b, int c);

/* printf-style append. Errors: AR_EINVAL (NULL b or fmt, encoding error), as ar_buf_append. */
AR_API int ar_buf_appendf(ar_buf_t *b, const char *fmt, ...) AR_PRINTF(2, 3);
AR_API int ar_buf_vappendf(ar_buf_t *b, const char *fmt, va_list ap) AR_PRINTF(2, 0);

/* Bytes written, capacity (terminator excluded); 0 for NULL. */
AR_API size_t ar_buf_len(const ar_buf_t *b);
AR_API size_t ar_buf_capacity(const ar_buf_t *b);

/* The bytes (NULL before the first growth, or for NULL b). */
AR_API char *ar_buf_data(const ar_buf_t *b);

/* The contents as a C string: never NULL ("" for an empty or NULL buffer). */
AR_API const char *ar_buf_cstr(const ar_buf_t *b);

/* Unread bytes (len - rpos), and a pointer to the first of them (NULL if none were ever
 * stored). */
AR_API size_t ar_buf_remaining(const ar_buf_t *b);
AR_API const char *ar_buf_rdata(const ar_buf_t *b);

/* Copies up to n unread bytes to dst; read advances the cursor past them, peek does not.
 * Return the number copied (0 for NULL b, or NULL dst with n > 0, with last error AR_EINVAL). */
AR_API size_t ar_buf_read(ar_buf_t *b, void *dst, size_t n);
AR_API size_t ar_buf_peek(const ar_buf_t *b, void *dst, size_t n);

/* Advances the cursor by n. Errors: AR_EINVAL (NULL b, n > remaining; cursor unchanged). */
AR_API int ar_buf_consume(ar_buf_t *b, size_t n);

/* Moves the unread bytes to the front (len -= rpos, rpos = 0); never allocates. NULL: no-op. */
AR_API void ar_buf_compact(ar_buf_t *b);

/* Keeps the first n bytes (n <= len, else AR_EINVAL); the cursor is clamped to n. */
AR_API int ar_buf_truncate(ar_buf_t *b, size_t n);

/* len = rpos = 0; keeps the storage. NULL is a no-op. */
AR_API void ar_buf_clear(ar_buf_t *b);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_BUF_H */
