/* SPDX-License-Identifier: MIT */
/*
 * tests/containers/ctest_util.h - helpers shared by the container tests: arenas of a chosen
 * shape and an invariant check to run after every step.
 *
 * Whether the arena reuses memory depends on the build (slow-only arenas in ASan builds, at
 * AR_DEBUG >= 2, and in checked mode quarantine freed blocks instead), so tests that look at
 * addresses ask reuses() instead of assuming.
 */
#ifndef ARENART_TESTS_CONTAINERS_CTEST_UTIL_H
#define ARENART_TESTS_CONTAINERS_CTEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"

static inline ar_arena_t *mk_arena(size_t chunk, size_t limit, unsigned flags) {
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = chunk;
  o.limit_bytes = limit;
  o.flags = flags;
  o.name = "containers-test";
  return ar_arena_create(&o);
}

/* True if freed blocks are reused and the cursor moves back (no quarantine). */
static inline bool reuses(const ar_arena_t *a) { return !a->slow_only; }

#define CHECK_ARENA(a) assert_int_equal(ar_arena_check(a), AR_OK)

#endif /* ARENART_TESTS_CONTAINERS_CTEST_UTIL_H */
