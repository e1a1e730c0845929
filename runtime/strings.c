/* SPDX-License-Identifier: MIT */
/*
 * runtime/strings.c - allocations that arrive with their contents: ar_memdup, ar_strdup,
 * ar_strndup, ar_sprintf, ar_vsprintf.
 *
 * Each is one allocation followed by a copy, so each takes the inline fast path when the
 * arena allows it (ar_alloc_for_). In slow-only arenas (checked mode, ASan, debug level 2) the
 * allocation goes out of line with this file's caller as its site: that is the line a
 * checked-mode guard report names (track.c, "Allocation sites"), and it should be the user's
 * code, not this file. Hence every public entry here takes __builtin_return_address(0) itself
 * and passes it down, rather than calling a sibling entry.
 *
 * Lengths are measured before anything is allocated, so a failure (a NULL string, an
 * unformattable format, a size past AR_MAX_ALLOC_SIZE) leaves the arena untouched.
 *
 * Calls the arena core only (arena.c, ar_alloc_at_).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"
#include "runtime/internal.h"

void *ar_memdup(ar_arena_t *a, const void *src, size_t size) {
  check_unleased_if(a);
  if (src == NULL && size > 0) return ar_fail_null_(AR_EINVAL);
  void *p = ar_alloc_for_(a, size, __builtin_return_address(0));
  if (p != NULL && size > 0) memcpy(p, src, size);
  return p;
}

static char *strndup_at(ar_arena_t *a, const char *s, size_t n, const void *site) {
  check_unleased_if(a);
  if (s == NULL) return (char *)ar_fail_null_(AR_EINVAL);
  size_t len = strnlen(s, n);
  if (len == SIZE_MAX) return (char *)ar_fail_null_(AR_EOVERFLOW);
  char *p = (char *)ar_alloc_for_(a, len + 1, site);
  if (p != NULL) {
    memcpy(p, s, len);
    p[len] = '\0';
  }
  return p;
}

char *ar_strndup(ar_arena_t *a, const char *s, size_t n) {
  return strndup_at(a, s, n, __builtin_return_address(0));
}

char *ar_strdup(ar_arena_t *a, const char *s) {
  return strndup_at(a, s, SIZE_MAX, __builtin_return_address(0));
}

static char *vsprintf_at(ar_arena_t *a, const void *site, const char *fmt, va_list ap)
    AR_PRINTF(3, 0);
static char *vsprintf_at(ar_arena_t *a, const void *site, const char *fmt, va_list ap) {
  check_unleased_if(a);
  if (a == NULL || fmt == NULL) return (char *)ar_fail_null_(AR_EINVAL);
  va_list measure;
  va_copy(measure, ap);
  int n = vsnprintf(NULL, 0, fmt, measure);
  va_end(measure);
  if (n < 0) return (char *)ar_fail_null_(AR_EINVAL);
  char *p = (char *)ar_alloc_for_(a, (size_t)n + 1, site);
  if (p != NULL) vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *ar_vsprintf(ar_arena_t *a, const char *fmt, va_list ap) {
  return vsprintf_at(a, __builtin_return_address(0), fmt, ap);
}

char *ar_sprintf(ar_arena_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = vsprintf_at(a, __builtin_return_address(0), fmt, ap);
  va_end(ap);
  return p;
}
