/*
 * runtime/buf.c - ar_buf, a growable byte buffer / string builder in an arena.
 *
 * Design. Storage is one arena block of cap + 1 bytes; the extra byte holds the terminator
 * that keeps data[len] == '\0' after every call, so ar_buf_cstr() is free. The read cursor
 * only moves forward over [0, len); reading never shifts bytes (ar_buf_compact does, when the
 * caller asks). Growth goes through ar_realloc (see vec.c for why that recycles well).
 *
 * Failure atomicity: the storage is secured before len changes. appendf first formats into the
 * spare capacity; if the output did not fit, that attempt only wrote bytes past len, so the
 * terminator is restored, the exact size is reserved and the format is run again.
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

static int fail(ar_error_t err) { return (int)ar_set_error_(err); }

/* Makes room for n more bytes (plus the terminator). */
static int grow_by(ar_buf_t *b, size_t n) {
  size_t need;
  if (__builtin_add_overflow(b->len, n, &need) || need >= AR_MAX_ALLOC_SIZE)
    return fail(AR_EOVERFLOW);
  if (need <= b->cap && b->data != NULL) return AR_OK;
  size_t new_cap = b->cap < AR_BUF_MIN_CAP / 2 ? AR_BUF_MIN_CAP / 2 : b->cap;
  new_cap *= 2; /* cap < AR_MAX_ALLOC_SIZE = SIZE_MAX / 4: cannot wrap */
  if (new_cap < need) new_cap = need;
  if (new_cap >= AR_MAX_ALLOC_SIZE) new_cap = need; /* doubling past the limit: exact fit */
  char *p = (char *)ar_realloc(b->arena, b->data, b->data ? b->cap + 1 : 0, new_cap + 1);
  if (p == NULL) return (int)ar_last_error();
  if (b->data == NULL) p[0] = '\0';
  b->data = p;
  b->cap = new_cap;
  return AR_OK;
}

int ar_buf_init(ar_buf_t *b, ar_arena_t *arena) {
  if (b == NULL || arena == NULL) return fail(AR_EINVAL);
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
  if (b == NULL) return fail(AR_EINVAL);
  size_t need;
  if (__builtin_add_overflow(b->len, n, &need) || need >= AR_MAX_ALLOC_SIZE)
    return fail(AR_EOVERFLOW);
  if (need <= b->cap && b->data != NULL) return AR_OK;
  /* Exactly what was asked: the caller knows the size. */
  char *p = (char *)ar_realloc(b->arena, b->data, b->data ? b->cap + 1 : 0, need + 1);
  if (p == NULL) return (int)ar_last_error();
  if (b->data == NULL) p[0] = '\0';
  b->data = p;
  b->cap = need;
  return AR_OK;
}

int ar_buf_append(ar_buf_t *b, const void *src, size_t n) {
  if (b == NULL || (src == NULL && n > 0)) return fail(AR_EINVAL);
  if (n == 0) return AR_OK;
  /* src may lie inside our storage, which growth may move. */
  uintptr_t s = (uintptr_t)src, lo = (uintptr_t)b->data;
  bool inside = b->data != NULL && s >= lo && s < lo + b->len;
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
  if (s == NULL) return fail(AR_EINVAL);
  return ar_buf_append(b, s, strlen(s));
}

int ar_buf_append_char(ar_buf_t *b, int c) {
  unsigned char ch = (unsigned char)c;
  return ar_buf_append(b, &ch, 1);
}

int ar_buf_vappendf(ar_buf_t *b, const char *fmt, va_list ap) {
  if (b == NULL || fmt == NULL) return fail(AR_EINVAL);
  va_list again;
  va_copy(again, ap);
  size_t room = b->data != NULL ? b->cap - b->len + 1 : 0;
  int n = vsnprintf(b->data != NULL ? b->data + b->len : NULL, room, fmt, ap);
  if (n >= 0 && (size_t)n < room) {
    b->len += (size_t)n;
    va_end(again);
    return AR_OK;
  }
  if (b->data != NULL) b->data[b->len] = '\0'; /* the truncated attempt wrote past len */
  if (n < 0) {
    va_end(again);
    return fail(AR_EINVAL);
  }
  int err = grow_by(b, (size_t)n);
  if (err == AR_OK) {
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    b->len += (size_t)n;
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

const char *ar_buf_cstr(const ar_buf_t *b) {
  return b != NULL && b->data != NULL ? b->data : "";
}

size_t ar_buf_remaining(const ar_buf_t *b) { return b ? b->len - b->rpos : 0; }

const char *ar_buf_rdata(const ar_buf_t *b) {
  return b != NULL && b->data != NULL ? b->data + b->rpos : NULL;
}

size_t ar_buf_peek(const ar_buf_t *b, void *dst, size_t n) {
  if (b == NULL || (dst == NULL && n > 0)) {
    fail(AR_EINVAL);
    return 0;
  }
  size_t avail = b->len - b->rpos;
  if (n > avail) n = avail;
  if (n > 0) memcpy(dst, b->data + b->rpos, n);
  return n;
}

size_t ar_buf_read(ar_buf_t *b, void *dst, size_t n) {
  n = ar_buf_peek(b, dst, n);
  if (b != NULL) b->rpos += n;
  return n;
}

int ar_buf_consume(ar_buf_t *b, size_t n) {
  if (b == NULL || n > b->len - b->rpos) return fail(AR_EINVAL);
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
  if (b == NULL || n > b->len) return fail(AR_EINVAL);
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
