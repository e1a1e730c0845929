/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief Where arenas get their memory: a two-call vtable.
 *
 * An arena never calls mmap or malloc itself; it asks its source for whole chunks and gives
 * them back whole. That one seam is how an arena lives in shared memory, on huge pages or on a
 * NUMA node's pool, and how tests inject failures.
 *
 * Contract for a source implementation:
 *   - `acquire(ctx, size)` returns at least `size` bytes, or NULL on failure. Any alignment is
 *     accepted (the arena aligns inside the chunk), but a 64-byte aligned block wastes
 *     nothing. A failure must leave the source consistent.
 *   - `release(ctx, p, size)` takes back a block that acquire returned, with the same size.
 *
 * The arena copies the ar_source_t by value at creation; `ctx` must outlive the arena.
 *
 * Synchronization:
 *   | call                         | may run concurrently with                              |
 *   |------------------------------|--------------------------------------------------------|
 *   | ar_source_os()               | anything (returns a static source)                     |
 *   | ar_source_malloc()           | anything (returns a static source)                     |
 *   | acquire/release of a source  | each other only if the source's contract says so; a    |
 *   |                              | source shared by several threads' arenas must be       |
 *   |                              | thread-safe (the built-ins are)                        |
 */
#ifndef ARENART_SOURCE_H
#define ARENART_SOURCE_H

#include "arenart/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A memory source: two callbacks and their context (see the contract above). */
typedef struct ar_source {
  /** Returns a block of at least `size` bytes, or NULL on failure. */
  void *(*acquire)(void *ctx, size_t size);
  /** Takes back block `p` that acquire returned for the same `size`. */
  void (*release)(void *ctx, void *p, size_t size);
  void *ctx;        /**< passed to both callbacks; must outlive every arena using the source */
  const char *name; /**< for messages and stats; may be NULL */
} ar_source_t;

/** Anonymous private mmap pages. What an arena created without a source gets when its chunk
 * size is not AR_DEFAULT_CHUNK_SIZE (default-size chunks come from the process-wide chunk pool,
 * which maps these pages, or after ar_numa_init from the NUMA node pools; see ar_arena_create).
 * Blocks are page-aligned and zero when new; blocks of 4 MiB or more are advised MADV_HUGEPAGE
 * (transparent huge pages where the system allows them on request). Serial arenas grow a
 * dedicated chunk of this source in place: within address space reserved behind it when
 * ar_realloc made it, else with mremap (see ar_realloc). Arenas on the process-wide pool by
 * default (created without a source, with the default chunk size, before ar_numa_init) reach
 * OS pages for their dedicated and grown chunks through a cache of given-back mappings (see
 * ar_arena_create, ar_concurrent_create); this source never takes from it. Thread-safe; the
 * returned source is static and never NULL. */
AR_API const ar_source_t *ar_source_os(void);

/** The C heap (64-byte aligned blocks via posix_memalign). Thread-safe; the returned source
 * is static and never NULL. */
AR_API const ar_source_t *ar_source_malloc(void);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_SOURCE_H */
