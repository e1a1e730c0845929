/* SPDX-License-Identifier: MIT */
/*
 * runtime/stress.c - yield injection at the runtime's CAS and publish points.
 *
 * The stress suite widens race windows by making threads give up the CPU right before and
 * after the places where they publish or race (chunk refill CAS, pool push/pop, registry
 * publish). Off by default: the check is one relaxed load of a global on slow paths only.
 * The random source is a per-thread xorshift, so enabling it adds no shared state.
 */
#include <sched.h>

#include "runtime/atomic.h"
#include "runtime/internal.h"

ar_atomic(unsigned) ar_stress_yield_permille_ = 0;

void ar_stress_set_yield_(unsigned permille) {
  /* relaxed: a hint; threads pick it up whenever they next look */
  ar_store_relaxed(&ar_stress_yield_permille_, permille > 1000 ? 1000 : permille);
}

void ar_stress_point_slow_(void) {
  static _Thread_local uint64_t rng;
  if (rng == 0) rng = (uint64_t)(uintptr_t)&rng | 1;
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  if (rng % 1000 < ar_load_relaxed(&ar_stress_yield_permille_)) sched_yield();
}
