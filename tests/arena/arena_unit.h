/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/arena_unit.h - what the serial-arena unit tests share: a small-chunk arena made
 * one way, its stats read one way, and one comparison of two stats snapshots field by field.
 *
 * Small chunks (4 KiB) make the chunk-level behaviour each test is about (a new chunk, a
 * dedicated one, a spare given back) happen after a handful of allocations. The comparison
 * covers every field of ar_stats_t, so "the arena is unchanged" means all of it.
 *
 * Include after <cmocka.h>; every helper is static inline, so a test uses what it needs.
 */
#ifndef ARENART_TESTS_ARENA_ARENA_UNIT_H
#define ARENART_TESTS_ARENA_ARENA_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "arenart.h"

#define CHUNK ((size_t)4096)

/* An arena of CHUNK-byte chunks; src NULL = the default source. Fails the test if refused. */
static inline ar_arena_t *unit_arena(unsigned flags, size_t retain, size_t limit,
                                     const ar_source_t *src) {
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = CHUNK;
  o.flags = flags;
  o.retain_bytes = retain;
  o.limit_bytes = limit;
  o.source = src;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  return a;
}

/* The snapshot starts as junk, so a field the library forgot to fill shows up as a mismatch. */
static inline ar_stats_t stats_of(ar_arena_t *a) {
  ar_stats_t s;
  memset(&s, 0xEE, sizeof s);
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  return s;
}

#define assert_stats_equal(x, y)                          \
  do {                                                    \
    assert_int_equal((x).used, (y).used);                 \
    assert_int_equal((x).capacity, (y).capacity);         \
    assert_int_equal((x).peak, (y).peak);                 \
    assert_int_equal((x).chunks, (y).chunks);             \
    assert_int_equal((x).large_chunks, (y).large_chunks); \
    assert_int_equal((x).spare_chunks, (y).spare_chunks); \
    assert_int_equal((x).allocs, (y).allocs);             \
    assert_int_equal((x).cleanups, (y).cleanups);         \
    assert_int_equal((x).recycled, (y).recycled);         \
  } while (0)

/* Whether the n bytes at p all still hold `tag`. */
static inline bool intact(const void *p, size_t n, unsigned char tag) {
  const unsigned char *q = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (q[i] != tag) return false;
  return true;
}

#endif /* ARENART_TESTS_ARENA_ARENA_UNIT_H */
