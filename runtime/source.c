/* SPDX-License-Identifier: MIT */
/*
 * runtime/source.c - the built-in memory sources: OS pages and the C heap.
 *
 * Both are stateless and thread-safe (mmap/munmap and posix_memalign/free are), so a single
 * static instance of each is shared by every arena (the cached OS source below keeps its
 * state in oscache.c). Sizes are passed back on release, which
 * munmap needs and which lets a user source keep no per-block bookkeeping.
 *
 * Growing in place. A dedicated chunk of the OS source can grow with mremap(MREMAP_MAYMOVE):
 * the kernel moves page table entries instead of the arena copying the bytes, which is what
 * ar_realloc of a big vector wants. It is not part of ar_source_t: a new callback there would
 * change the struct's size, and a source built against the old header (or one whose fields
 * are assigned one by one on the stack) would hand the arena garbage for it. So the arena
 * asks ar_source_resize_, which recognises this file's OS sources by their callbacks and says
 * no for every other source.
 *
 * Two OS sources. ar_source_os() maps and unmaps, and its blocks are zero when new, as its
 * header promises. ar_source_os_cached_() gives the same pages through the process-wide cache
 * of given-back mappings (oscache.c), whose blocks hold what their last arena left: it is what
 * a default arena takes its dedicated and grown chunks from (arena.c, "Source"), never what a
 * caller who names ar_source_os() gets.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "arenart/source.h"
#include "runtime/arena_internal.h"
#include "runtime/internal.h"

/* Blocks from this size up ask for transparent huge pages (where THP is "madvise", nothing
 * else gets them): a block this big is a dedicated chunk for one big request, which mostly
 * touches it whole, or an arena's grown chunk of the largest size, which the arena bumps
 * through to within a quarter of its end before it takes the next (all but the newest): 2 MiB
 * pages cost at most the untouched rest of one such page per block, and save a TLB miss per
 * 4 KiB page. */
#define AR_OS_HUGE_FROM ((size_t)4 << 20)

static void *os_acquire(void *ctx, size_t size) {
  (void)ctx;
  void *p = ar_oscache_map_(size); /* mmap, which the cache never crowds out */
  if (p == NULL) return NULL;
#ifdef MADV_HUGEPAGE
  if (size >= AR_OS_HUGE_FROM) (void)madvise(p, size, MADV_HUGEPAGE); /* advice only */
#endif
  return p;
}

static void os_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  munmap(p, size);
}

/* The same pages through the process-wide cache of given-back mappings (oscache.c): for
 * callers that never relied on zeroed blocks (the serial arena's dedicated and grown chunks),
 * never for ar_source_os(), which promises them. */
static void *os_cached_acquire(void *ctx, size_t size) {
  void *p = ar_oscache_take_(size, AR_OSCACHE_PLAIN);
  return p != NULL ? p : os_acquire(ctx, size);
}

static void os_cached_release(void *ctx, void *p, size_t size) {
  if (!ar_oscache_put_(p, size, AR_OSCACHE_PLAIN)) os_release(ctx, p, size);
}

void *ar_source_resize_(const ar_source_t *src, void *p, size_t old_size, size_t new_size) {
  bool plain = src->acquire == os_acquire && src->release == os_release;
  bool cached = src->acquire == os_cached_acquire && src->release == os_cached_release;
  if (!plain && !cached) return NULL;
  /* MAYMOVE keeps the offset in the page (zero: mmap gave page-aligned blocks), and the
   * contents, which is all the arena's chunk header needs. */
  void *q = ar_oscache_remap_(p, old_size, new_size);
  if (q == NULL) return NULL;
#ifdef MADV_HUGEPAGE
  if (new_size >= AR_OS_HUGE_FROM && old_size < AR_OS_HUGE_FROM)
    (void)madvise(q, new_size, MADV_HUGEPAGE); /* grown into the size os_acquire advises */
#endif
  return q;
}

static void *heap_acquire(void *ctx, size_t size) {
  (void)ctx;
  void *p = NULL;
  /* 64-byte alignment: chunk headers and concurrent spans start on their own cache line. */
  return posix_memalign(&p, 64, size) == 0 ? p : NULL;
}

static void heap_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  (void)size;
  free(p);
}

static const ar_source_t os_source = {os_acquire, os_release, NULL, "os"};
static const ar_source_t os_cached_source = {os_cached_acquire, os_cached_release, NULL, "os"};
static const ar_source_t heap_source = {heap_acquire, heap_release, NULL, "malloc"};

const ar_source_t *ar_source_os(void) { return &os_source; }
const ar_source_t *ar_source_os_cached_(void) { return &os_cached_source; }
const ar_source_t *ar_source_malloc(void) { return &heap_source; }
