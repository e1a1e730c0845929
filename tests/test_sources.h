/* SPDX-License-Identifier: MIT */
/*
 * tests/test_sources.h - a memory source for tests: counts every block, can be told to fail,
 * and can hand out deliberately misaligned blocks, or blocks aligned to a given power of two.
 * A block takes the lowest free slot of `blocks`, so two runs that acquire and release in the
 * same order number their blocks alike.
 *
 * Leak checks compare acquires with releases rather than relying on LeakSanitizer alone, so
 * they also hold in builds without ASan and catch a chunk returned with the wrong size.
 *
 * Not thread-safe: one source per arena, used from the arena's owner thread.
 */
#ifndef ARENART_TESTS_TEST_SOURCES_H
#define ARENART_TESTS_TEST_SOURCES_H

#include <stddef.h>

#include "arenart/source.h"

#define TEST_SOURCE_MAX_BLOCKS 4096

typedef struct test_block {
  void *p;   /* what acquire returned */
  void *raw; /* what malloc returned */
  size_t size;
} test_block_t;

typedef struct test_source {
  ar_source_t src; /* ctx points back at this struct */
  size_t attempts; /* acquire calls, failed ones included */
  size_t acquires; /* successful acquires */
  size_t releases;
  size_t live_blocks;
  size_t live_bytes;
  size_t bad_releases; /* releases whose pointer or size matched no live block */
  size_t fail_at;      /* this attempt (1-based) fails; 0: none */
  size_t fail_from;    /* every attempt from this one on fails; 0: none */
  size_t misalign;     /* bytes added to malloc's pointer (below 64) */
  size_t align;        /* nonzero: blocks from posix_memalign(align) instead (misalign unused) */
  test_block_t blocks[TEST_SOURCE_MAX_BLOCKS];
} test_source_t;

/* Resets every counter and failure setting; returns the ar_source_t to pass to an arena. */
const ar_source_t *test_source_init(test_source_t *s);

/* True when every acquired block came back, with its own size. */
int test_source_balanced(const test_source_t *s);

#endif /* ARENART_TESTS_TEST_SOURCES_H */
