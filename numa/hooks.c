/* SPDX-License-Identifier: MIT */
/*
 * numa/hooks.c - the side channels every file of //numa uses: the calling thread's failure
 * message, injected faults, and the clock that idle decay reads.
 *
 * Each is a seam between the NUMA code and what it reports to or asks of the outside: a
 * failure message explains an error code to a person (ar_numa_last_failure), and tests replace
 * the world through the other two, making hwloc, mmap or the kernel fail on demand and moving
 * time forward without sleeping (numa_testing.h). They live in a leaf, calling nothing of
 * //numa, so that lifecycle, topology, placement and verification may all use them and none
 * of those has to call another for them.
 *
 * The message is thread-local, like the runtime's last error: it describes the caller's own
 * last failure and needs no synchronization. The test controls are relaxed atomics: a test
 * sets them before the operations it wants to affect on the same thread, or does not care
 * which concurrent operation a fault hits; the fault count is its own only datum.
 */
#include <stdarg.h>
#include <stdio.h>

#include "numa/numa_internal.h"

static _Thread_local char tls_failure[192];

void ar_numa_fail_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tls_failure, sizeof tls_failure, fmt, ap);
  va_end(ap);
}

void ar_numa_fail_clear_(void) { tls_failure[0] = '\0'; }

const char *ar_numa_last_failure(void) { return tls_failure; }

static ar_atomic(unsigned) fault_mask;
static ar_atomic(int) fault_count;
static ar_atomic(uint64_t) test_clock;

void ar_numa_test_fault_(unsigned mask, int count) {
  ar_store_relaxed(&fault_count, count);
  ar_store_relaxed(&fault_mask, mask);
}

bool ar_numa_fault_(unsigned kind) {
  if (AR_LIKELY((ar_load_relaxed(&fault_mask) & kind) == 0)) return false;
  int c = ar_load_relaxed(&fault_count);
  for (;;) {
    if (c < 0) return true;
    if (c == 0) return false;
    /* relaxed: the count is its own only datum */
    if (ar_cas_weak_relaxed(&fault_count, &c, c - 1)) return true;
  }
}

void ar_numa_test_set_clock_(uint64_t ns) { ar_store_relaxed(&test_clock, ns); }

uint64_t ar_numa_now_(void) {
  uint64_t t = ar_load_relaxed(&test_clock);
  return t != 0 ? t : ar_now_ns_();
}
