/* SPDX-License-Identifier: MIT */
/*
 * runtime/buf.c - ar_buf, a growable byte buffer / string builder in an arena.
 *
 * Design. Storage is one arena block of cap + 1 bytes; the extra byte holds the terminator
 * that keeps data[len] == '\0' after every call, so ar_buf_cstr() is free. The read cursor
 * only moves forward over [0, len); reading never shifts bytes (ar_buf_compact does, when the
 * caller asks). Growth goes through ar_realloc (see vec.c for why that recycles well).
 *
 * Failure atomicity: the storage is secured before len changes.
 *
 * Arguments that point into the buffer itself (ar_buf_append(&b, b.data, n), appendf with
 * ar_buf_cstr(&b) for a %s, peek/read into the buffer's own bytes) must work: callers build
 * strings out of what they have built. Two things break them. Growth moves the storage, and
 * ar_realloc gives the old block back (poisoned under ASan, recyclable otherwise) before the
 * bytes are copied out of it; and appendf writing its output at data + len overwrites the
 * terminator of a %s argument that is the buffer's own string, so vsnprintf would read its own
 * output. append knows its one pointer, so it turns it into an offset and re-bases it after
 * growth. appendf cannot see its arguments, so its output never goes where an argument may
 * still be read: it formats into a stack scratch first (the common case: short output, then a
 * plain append of the scratch); longer output is formatted into a fresh arena block while the
 * old storage is still intact: the new storage itself when the buffer must grow (the old
 * block is given back only after formatting), else a temporary block that is copied in and
 * given back. The price is that long appendf output never grows the storage in place.
 * Overlapping copies (peek/read into the buffer, compact) use memmove.
 *
 * Appends that fit the capacity (append, append_char) are also written inline in buf.h: a
 * string builder is called once per small piece, and the call cost more than the copy. The
 * inline parts do exactly what these functions do when nothing grows, and fall back to them
 * for everything else, so a change to the in-capacity case here must be made there too.
 *
 * Thread contract: externally synchronized (see buf.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arenart/buf.h"
#include "runtime/internal.h"

#define AR_BUF_MIN_CAP 32

/* appendf's first attempt formats here; output shorter than this never touches the arena
 * twice. */
#define AR_BUF_FMT_SCRATCH 256

/* The capacity to grow to when len + n = need bytes must fit (need < AR_MAX_ALLOC_SIZE). */
static size_t grown_cap(const ar_buf_t *b, size_t need) {
  size_t new_cap = b->cap < AR_BUF_MIN_CAP / 2 ? AR_BUF_MIN_CAP / 2 : b->cap;
  new_cap *= 2; /* cap < AR_MAX_ALLOC_SIZE = SIZE_MAX / 4: cannot wrap */
  if (new_cap < need) new_cap = need;
  if (new_cap >= AR_MAX_ALLOC_SIZE) new_cap = need; /* doubling past the limit: exact fit */
  return new_cap;
}

/* Makes room for n more bytes (plus the terminator). */
static int grow_by(ar_buf_t *b, size_t n) {
  size_t need;
  if (__builtin_add_overflow(b->len, n, &need) || need >= AR_MAX_ALLOC_SIZE)
    return ar_set_error_(AR_EOVERFLOW);
  if (need <= b->cap && b->data != NULL) return AR_OK;
  size_t new_cap = grown_cap(b, need);
  char *p = (char *)ar_realloc(b->arena, b->data, b->data ? b->cap + 1 : 0, new_cap + 1);
  if (p == NULL) return (int)ar_last_error();
  if (b->data == NULL) p[0] = '\0';
  b->data = p;
  b->cap = new_cap;
  return AR_OK;
}

int ar_buf_init(ar_buf_t *b, ar_arena_t *arena) {
  ar_lease_forbid_(arena); /* lease.h: every call naming a leased arena aborts */
  if (b == NULL || arena == NULL) return ar_set_error_(AR_EINVAL);
  b->arena = arena;
  b->data = NULL;
  b->len = b->cap = b->rpos = 0;
  return AR_OK;
}

void ar_buf_destroy(ar_buf_t *b) {
  if (b == NULL) return;
  if (b->data != NULL) ar_free(b->arena, b->data, b->cap + 1);
  b->data = NULL;
  b->len = b->cap = b->rpos = 0;
}

int ar_buf_reserve(ar_buf_t *b, size_t n) {
  if (b == NULL) return ar_set_error_(AR_EINVAL);
  size_t need;
  if (__builtin_add_overflow(b->len, n, &need) || need >= AR_MAX_ALLOC_SIZE)
    return ar_set_error_(AR_EOVERFLOW);
  if (need <= b->cap && b->data != NULL) return AR_OK;
  /* Exactly what was asked: the caller knows the size. */
  char *p = (char *)ar_realloc(b->arena, b->data, b->data ? b->cap + 1 : 0, need + 1);
  if (p == NULL) return (int)ar_last_error();
  if (b->data == NULL) p[0] = '\0';
  b->data = p;
  b->cap = need;
  return AR_OK;
}

/* The names in parentheses here and below: buf.h defines function-like macros ar_buf_append
 * and ar_buf_append_char (the inline parts, which fall back to these functions). */
int(ar_buf_append)(ar_buf_t *b, const void *src, size_t n) {
  if (b == NULL || (src == NULL && n > 0)) return ar_set_error_(AR_EINVAL);
  if (n == 0) return AR_OK;
  /* src may lie inside our storage (the terminator and spare capacity included), which
   * growth may move. */
  uintptr_t s = (uintptr_t)src, lo = (uintptr_t)b->data;
  bool inside = b->data != NULL && s >= lo && s - lo <= b->cap;
  size_t off = inside ? (size_t)(s - lo) : 0;
  int err = grow_by(b, n);
  if (err != AR_OK) return err;
  if (inside) src = b->data + off;
  memmove(b->data + b->len, src, n);
  b->len += n;
  b->data[b->len] = '\0';
  return AR_OK;
}

int ar_buf_append_str(ar_buf_t *b, const char *s) {
  if (s == NULL) return ar_set_error_(AR_EINVAL);
  return ar_buf_append(b, s, strlen(s));
}

int(ar_buf_append_char)(ar_buf_t *b, int c) {
  unsigned char ch = (unsigned char)c;
  return ar_buf_append(b, &ch, 1);
}

/* Appends the n-byte (n >= AR_BUF_FMT_SCRATCH) output of fmt/ap without writing where an
 * argument may still be read (see the essay). */
__attribute__((format(printf, 3, 0))) static int append_long_format(ar_buf_t *b, size_t n,
                                                                    const char *fmt, va_list ap) {
  size_t need;
  if (__builtin_add_overflow(b->len, n, &need) || need >= AR_MAX_ALLOC_SIZE)
    return ar_set_error_(AR_EOVERFLOW);
  if (need <= b->cap && b->data != NULL) { /* fits: format aside, then copy in */
    char *t = (char *)ar_alloc(b->arena, n + 1);
    if (t == NULL) return (int)ar_last_error();
    vsnprintf(t, n + 1, fmt, ap);
    memcpy(b->data + b->len, t, n);
    ar_free(b->arena, t, n + 1);
  } else { /* grows: format into the new storage while the old is intact */
    size_t new_cap = grown_cap(b, need);
    char *p = (char *)ar_alloc(b->arena, new_cap + 1);
    if (p == NULL) return (int)ar_last_error();
    if (b->data != NULL) memcpy(p, b->data, b->len);
    vsnprintf(p + b->len, n + 1, fmt, ap);
    if (b->data != NULL) ar_free(b->arena, b->data, b->cap + 1);
    b->data = p;
    b->cap = new_cap;
  }
  b->len += n;
  b->data[b->len] = '\0';
  return AR_OK;
}

int ar_buf_vappendf(ar_buf_t *b, const char *fmt, va_list ap) {
  if (b == NULL || fmt == NULL) return ar_set_error_(AR_EINVAL);
  va_list again;
  va_copy(again, ap);
  char tmp[AR_BUF_FMT_SCRATCH];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  int err;
  if (n < 0) {
    err = ar_set_error_(AR_EINVAL);
  } else if ((size_t)n < sizeof tmp) { /* all of it is in tmp: the arguments are done with */
    err = grow_by(b, (size_t)n);
    if (err == AR_OK) {
      memcpy(b->data + b->len, tmp, (size_t)n);
      b->len += (size_t)n;
      b->data[b->len] = '\0';
    }
  } else {
    err = append_long_format(b, (size_t)n, fmt, again);
  }
  va_end(again);
  return err;
}

int ar_buf_appendf(ar_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int err = ar_buf_vappendf(b, fmt, ap);
  va_end(ap);
  return err;
}

size_t ar_buf_len(const ar_buf_t *b) { return b ? b->len : 0; }
size_t ar_buf_capacity(const ar_buf_t *b) { return b ? b->cap : 0; }
char *ar_buf_data(const ar_buf_t *b) { return b ? b->data : NULL; }

const char *ar_buf_cstr(const ar_buf_t *b) { return b != NULL && b->data != NULL ? b->data : ""; }

size_t ar_buf_remaining(const ar_buf_t *b) { return b ? b->len - b->rpos : 0; }

const char *ar_buf_rdata(const ar_buf_t *b) {
  return b != NULL && b->data != NULL ? b->data + b->rpos : NULL;
}

size_t ar_buf_peek(const ar_buf_t *b, void *dst, size_t n) {
  if (b == NULL || (dst == NULL && n > 0)) {
    ar_set_error_(AR_EINVAL);
    return 0;
  }
  size_t avail = b->len - b->rpos;
  if (n > avail) n = avail;
  if (n > 0) memmove(dst, b->data + b->rpos, n); /* dst may lie in the buffer itself */
  return n;
}

size_t ar_buf_read(ar_buf_t *b, void *dst, size_t n) {
  n = ar_buf_peek(b, dst, n);
  if (b != NULL) b->rpos += n;
  return n;
}

int ar_buf_consume(ar_buf_t *b, size_t n) {
  if (b == NULL || n > b->len - b->rpos) return ar_set_error_(AR_EINVAL);
  b->rpos += n;
  return AR_OK;
}

void ar_buf_compact(ar_buf_t *b) {
  if (b == NULL || b->rpos == 0) return;
  memmove(b->data, b->data + b->rpos, b->len - b->rpos);
  b->len -= b->rpos;
  b->rpos = 0;
  b->data[b->len] = '\0';
}

int ar_buf_truncate(ar_buf_t *b, size_t n) {
  if (b == NULL || n > b->len) return ar_set_error_(AR_EINVAL);
  b->len = n;
  if (b->rpos > n) b->rpos = n;
  if (b->data != NULL) b->data[n] = '\0';
  return AR_OK;
}

void ar_buf_clear(ar_buf_t *b) {
  if (b == NULL) return;
  b->len = b->rpos = 0;
  if (b->data != NULL) b->data[0] = '\0';
}
