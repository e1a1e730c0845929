/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/arena_unit.h - what the serial-arena unit tests (tests/arena) and the container
 * tests (tests/containers) share: arenas made one way, their stats read one way, one
 * comparison of two stats snapshots field by field, and what a request costs in the build
 * mode in force.
 *
 * Small chunks (4 KiB) make the chunk-level behaviour each test is about (a new chunk, a
 * dedicated one, a spare given back) happen after a handful of allocations. The comparison
 * covers every field of ar_stats_t, so "the arena is unchanged" means all of it.
 *
 * The expected byte counts depend on the build: ASan builds follow every allocation with a
 * 16-byte red zone, checked mode (AR_ARENA_CHECKED, or AR_DEBUG >= 2 without ASan) puts a
 * 16-byte record header before it and at least 16 guard bytes after it. cost() turns a request
 * into what it takes from a chunk in the mode in force, so the same assertions hold exactly in
 * every config instead of being loosened to inequalities. The chunk header size and the
 * large-request threshold are private; they come from arena_internal.h so that the tests
 * follow the layout rather than hard-coding it.
 *
 * Include after <cmocka.h>; every helper is static inline (the one counter is marked unused),
 * so a test uses what it needs and the rest costs nothing.
 */
#ifndef ARENART_TESTS_ARENA_ARENA_UNIT_H
#define ARENART_TESTS_ARENA_ARENA_UNIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/test_util.h" /* opaque() */

#define CHUNK ((size_t)4096)

/* ---- arenas ------------------------------------------------------------------------------ */

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

/* An arena of `chunk`-byte chunks (0 = the default size) and the default retain, as the
 * container tests and the ar_free tests make them; NULL if refused (the caller asserts). */
static inline ar_arena_t *mk_arena(size_t chunk, size_t limit, unsigned flags) {
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = chunk;
  o.limit_bytes = limit;
  o.flags = flags;
  o.name = "containers-test";
  return ar_arena_create(&o);
}

/* True if freed blocks are reused and the cursor moves back: slow-only arenas (ASan builds,
 * AR_DEBUG >= 2, checked mode) quarantine freed blocks instead, so tests that look at
 * addresses ask this instead of assuming. */
static inline bool reuses(const ar_arena_t *a) { return !a->slow_only; }

#define CHECK_ARENA(a) assert_int_equal(ar_arena_check(a), AR_OK)

/* ---- stats ------------------------------------------------------------------------------- */

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

/* Small allocations of `each` bytes until `nchunks` ordinary chunks hold some. */
static inline void fill_chunks_with(ar_arena_t *a, size_t nchunks, size_t each) {
  while (stats_of(a).chunks < nchunks) assert_non_null(ar_alloc(a, each));
}

static inline void fill_chunks(ar_arena_t *a, size_t nchunks) { fill_chunks_with(a, nchunks, 512); }

/* ---- expectations per build mode --------------------------------------------------------- */

/* Chunk header slack, as runtime/chunks.h defines it (AR_CHUNK_OVERHEAD): 16-alignment, the
 * header, 64-alignment. */
#define CHUNK_OVERHEAD ((size_t)(15 + sizeof(ar_chunk_t) + 63))
/* Where data starts in a chunk whose base is 64-byte aligned (os and malloc sources). */
#define DATA_OFFSET ((sizeof(ar_chunk_t) + 63) & ~(size_t)63)
/* clang-format 14 reads `(cs) - X` as a cast of `-X`: */
// clang-format off
#define USABLE(cs) ((cs) - DATA_OFFSET)
#define THRESHOLD(cs) (((cs) - CHUNK_OVERHEAD) / 4)
// clang-format on

static inline size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static inline bool mode_checked(unsigned flags) {
  return !AR_ASAN && ((flags & AR_ARENA_CHECKED) != 0 || AR_DEBUG >= 2);
}

/* Bytes after the data that belong to an allocation: red zone or guard. */
static inline size_t tail_bytes(unsigned flags) { return AR_ASAN || mode_checked(flags) ? 16 : 0; }

/* Bytes a request of `size` (alignment <= 16) takes from a chunk. */
static inline size_t cost(unsigned flags, size_t size) {
  size_t n = align16(size == 0 ? 1 : size);
  if (mode_checked(flags)) return 16 + n + 16;
  return n + tail_bytes(flags);
}

/* Bytes of a dedicated chunk for `size` at alignment <= 64. */
static inline size_t large_bytes(unsigned flags, size_t size) {
  return cost(flags, size) + CHUNK_OVERHEAD;
}

/* A test whose every step asserts the chunk layout (chunk counts, addresses, the source's
 * calls, exact byte counts). The heap flavor has no chunks (each allocation is its own malloc),
 * so there it is listed under its own name and reported skipped, with its body untouched;
 * everywhere else it is an ordinary cmocka_unit_test. Use in the tests[] array of main(). */
static inline void skip_without_chunks(void **state) {
  (void)state;
  skip();
}
#define chunk_layout_test(f) \
  { #f, AR_HEAP ? skip_without_chunks : (f), NULL, NULL, NULL }
#define chunk_layout_setup(f, setup) \
  { #f, AR_HEAP ? skip_without_chunks : (f), (setup), NULL, NULL }

/* ---- small tools ------------------------------------------------------------------------- */

/* An address the optimizer cannot reason about: the allocators are declared malloc-like, so
 * comparing two of their results directly could be folded to "different". */
static inline uintptr_t addr(const void *p) {
  uintptr_t u = (uintptr_t)p;
  __asm__ volatile("" : "+r"(u));
  return u;
}

/* Whether the n bytes at p all still hold `tag`. */
static inline bool intact(const void *p, size_t n, unsigned char tag) {
  const unsigned char *q = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (q[i] != tag) return false;
  return true;
}

/* ar_vsprintf reached through a variadic call, as a caller with its own va_list would. */
static inline char *vsprintf_wrap(ar_arena_t *a, const char *fmt, ...) AR_PRINTF(2, 3);
static inline char *vsprintf_wrap(ar_arena_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = ar_vsprintf(a, fmt, ap);
  va_end(ap);
  return s;
}

/* A cleanup that counts its runs; each test file has its own counter. */
__attribute__((unused)) static int cleanup_calls;
static inline void count_cleanup(void *arg) {
  (void)arg;
  cleanup_calls++;
}

#endif /* ARENART_TESTS_ARENA_ARENA_UNIT_H */
