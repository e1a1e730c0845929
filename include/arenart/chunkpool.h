/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief Lock-free pools of free chunks, and the memory source built on them.
 *
 * Arenas that come and go (per-thread arenas, pooled request arenas, ConcurrentArenas being
 * reset) would otherwise mmap and munmap a chunk each time. A chunk pool keeps up to
 * `max_chunks` free chunks of one size in a lock-free LIFO stack (hot chunks, still in cache
 * and in the TLB, are reused first) and hands them out without a syscall. The stack is
 * ABA-safe: its nodes are slots in an array owned by the pool (never freed while the pool
 * lives) and its head carries a generation tag, so a thread that stalls between reading the
 * head and its CAS can neither crash nor corrupt the stack.
 *
 * ar_chunk_pool_source() turns a pool into an ar_source_t: blocks of the pool's chunk size come
 * from and go back to the pool (falling back to the backing source when the pool is empty or
 * full), other sizes go straight to the backing source.
 *
 * Synchronization:
 *   | call                       | may run concurrently with                          |
 *   |----------------------------|----------------------------------------------------|
 *   | ar_chunk_pool_get/put      | each other and trim/stats, from any thread         |
 *   | ar_chunk_pool_trim         | get/put/stats                                      |
 *   | ar_chunk_pool_stats        | anything (a snapshot of relaxed counters)          |
 *   | ar_chunk_pool_create       | anything                                           |
 *   | ar_chunk_pool_destroy      | nothing on that pool; arenas using its source must |
 *   |                            | be destroyed first                                 |
 */
#ifndef ARENART_CHUNKPOOL_H
#define ARENART_CHUNKPOOL_H

#include <stdbool.h>

#include "arenart/common.h"
#include "arenart/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A pool of free chunks of one size (opaque). */
typedef struct ar_chunk_pool ar_chunk_pool_t;

/** A snapshot of a chunk pool's configuration and counters (see ar_chunk_pool_stats). */
typedef struct ar_chunk_pool_stats {
  size_t chunk_size;  /**< bytes per chunk, as created */
  size_t max_chunks;  /**< most free chunks the pool keeps, as created */
  size_t pooled;      /**< free chunks in the pool now */
  uint64_t hits;      /**< gets served from the pool */
  uint64_t misses;    /**< gets that went to the backing source */
  uint64_t overflows; /**< puts refused because the pool was full (block went back) */
  uint64_t trimmed;   /**< chunks given back to the backing source by trim */
} ar_chunk_pool_stats_t;

/**
 * A pool of up to `max_chunks` chunks of `chunk_size` bytes over `backing` (NULL = OS pages).
 * Errors (NULL): AR_EINVAL (chunk_size below AR_MIN_CHUNK_SIZE, max_chunks 0 or above 2^24,
 * backing without callbacks), AR_ENOMEM.
 */
AR_API ar_chunk_pool_t *ar_chunk_pool_create(size_t chunk_size, size_t max_chunks,
                                             const ar_source_t *backing);

/** Gives every pooled chunk back to the backing source and frees the pool. Nothing else may
 * use the pool, or an arena whose source it is, at the same time or afterwards. NULL and the
 * default pool (ar_chunk_pool_default) are no-ops. */
AR_API void ar_chunk_pool_destroy(ar_chunk_pool_t *pool);

/** A free chunk of the pool's size, or NULL if the pool is empty (no backing call made) or
 * NULL. Lock-free; any thread. */
AR_API void *ar_chunk_pool_get(ar_chunk_pool_t *pool);

/** Puts a chunk of the pool's size back. False (and the caller keeps it) if the pool is full
 * or an argument is NULL. Lock-free; any thread. A kept chunk is hidden until a get hands it
 * out again (ASan-poisoned; NOACCESS under Valgrind memcheck), so a use of it meanwhile is
 * reported where it happens. */
AR_API bool ar_chunk_pool_put(ar_chunk_pool_t *pool, void *chunk);

/** Gives pooled chunks beyond `keep` back to the backing source; returns how many (0 for a
 * NULL pool). Any thread, concurrently with get/put. */
AR_API size_t ar_chunk_pool_trim(ar_chunk_pool_t *pool, size_t keep);

/** Fills *out with a snapshot of relaxed counters; any thread. Returns AR_OK, or AR_EINVAL
 * for a NULL argument. */
AR_API int ar_chunk_pool_stats(const ar_chunk_pool_t *pool, ar_chunk_pool_stats_t *out);

/** The pool as a memory source (see above); NULL for a NULL pool. The pointer lives as long
 * as the pool. The source is thread-safe. */
AR_API const ar_source_t *ar_chunk_pool_source(ar_chunk_pool_t *pool);

/** The process-wide pool of AR_DEFAULT_CHUNK_SIZE chunks (256 of them at most) that serial,
 * per-thread, pooled and concurrent arenas use by default (without ar_numa_init routing).
 * Set up on first use (thread-safe) in static storage, so it cannot fail: never NULL, never
 * destroyed (ar_chunk_pool_destroy ignores it). */
AR_API ar_chunk_pool_t *ar_chunk_pool_default(void);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_CHUNKPOOL_H */
