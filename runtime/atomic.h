/* SPDX-License-Identifier: MIT */
/*
 * runtime/atomic.h - our atomics: C11 <stdatomic.h> behind names that carry the memory order.
 *
 * Every lock-free structure in arenart is written against these, never against ck_pr or
 * urcu's uatomic, because ThreadSanitizer understands C11 atomics and does not understand
 * inline-asm or volatile atomics (see runtime/sync.h for how ck and urcu are annotated).
 * Spelling the order in the name makes each weaker-than-seq_cst access visible at the call
 * site, where a one-line comment must say why it is enough.
 */
#ifndef ARENART_ATOMIC_H
#define ARENART_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ar_atomic(T) _Atomic(T)

#define ar_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define ar_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define ar_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define ar_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define ar_fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define ar_fetch_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define ar_fetch_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define ar_fetch_sub_acq_rel(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)

/* Weak CAS (may fail spuriously; for loops). On failure *expected is refreshed with the
 * current value under the failure order. */
#define ar_cas_weak_acq_rel(p, expected, desired)                                         \
  atomic_compare_exchange_weak_explicit((p), (expected), (desired), memory_order_acq_rel, \
                                        memory_order_acquire)
#define ar_cas_weak_release(p, expected, desired)                                         \
  atomic_compare_exchange_weak_explicit((p), (expected), (desired), memory_order_release, \
                                        memory_order_relaxed)
#define ar_cas_weak_relaxed(p, expected, desired)                                         \
  atomic_compare_exchange_weak_explicit((p), (expected), (desired), memory_order_relaxed, \
                                        memory_order_relaxed)
/* Strong CAS, for one-shot races (chunk refill: exactly one winner). */
#define ar_cas_strong_acq_rel(p, expected, desired)                                         \
  atomic_compare_exchange_strong_explicit((p), (expected), (desired), memory_order_acq_rel, \
                                          memory_order_acquire)

#endif /* ARENART_ATOMIC_H */
