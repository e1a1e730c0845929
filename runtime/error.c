/* SPDX-License-Identifier: MIT */
/*
 * runtime/error.c - the thread-local last error and fatal diagnostics.
 *
 * The last error is a plain _Thread_local: each thread reads only its own, so it needs no
 * synchronization. It is set on failure and never cleared on success, like errno, so a
 * caller checks it only after a call has signalled failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/internal.h"

static _Thread_local ar_error_t tls_last_error = AR_OK;

ar_error_t ar_set_error_(ar_error_t err) {
  tls_last_error = err;
  return err;
}

ar_error_t ar_last_error(void) { return tls_last_error; }

void ar_clear_error(void) { tls_last_error = AR_OK; }

const char *ar_strerror(ar_error_t err) {
  switch (err) {
    case AR_OK: return "success";
    case AR_EINVAL: return "invalid argument (NULL arena/pointer or value out of range)";
    case AR_EALIGN: return "alignment is zero or not a power of two";
    case AR_EOVERFLOW: return "size computation overflows";
    case AR_ELIMIT: return "arena byte limit reached";
    case AR_ENOMEM: return "memory source failed";
    case AR_EBUSY: return "arena is busy (allocation from a cleanup callback)";
    case AR_ESTALE: return "stale mark (taken before a reset or a rewind past it)";
    case AR_ECORRUPT: return "arena invariant violated (corruption)";
  }
  return "unknown arenart error";
}

const char *ar_version(void) { return AR_VERSION_STRING; }

void ar_assert_fail_(const char *cond, const char *file, int line) {
  fprintf(stderr, "arenart: assertion failed: %s (%s:%d)\n", cond, file, line);
  fflush(stderr);
  abort();
}

void ar_fatal_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("arenart: fatal: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr);
  abort();
}
