/* SPDX-License-Identifier: MIT */
/*
 * runtime/clock.c - the runtime's one clock.
 *
 * Arena ages, lifetimes and the NUMA layer's idle decay all measure intervals, never dates, so
 * they read CLOCK_MONOTONIC: it never jumps back when the wall clock is set, and a reading is a
 * vDSO call, no system call. One function in its own file, because every layer uses it
 * (arenas, the registry, numa/) and none of them should have to reach another for the time.
 */
#include <time.h>

#include "runtime/internal.h"

uint64_t ar_now_ns_(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
