/**
 * @file
 * @brief Process-wide statistics and the registry of live arenas.
 *
 * Every per-thread, pooled, concurrent and per-node arena is listed in a registry that is
 * read often (stats, /stats endpoints, debuggers) and changed rarely (arena creation and
 * destruction). Readers walk it without locks and without blocking writers: it is an RCU list
 * (liburcu, QSBR flavour), and the figures each entry shows are relaxed atomic mirrors that
 * the owning arena updates at chunk granularity, never per allocation. The counters below
 * cover every arena, listed or not (plain ar_arena_create arenas are counted, not listed).
 *
 * Synchronization:
 *   | call                  | may run concurrently with                                   |
 *   |-----------------------|-------------------------------------------------------------|
 *   | ar_stats_global       | anything, from any thread                                   |
 *   | ar_registry_foreach   | anything; the callback must not create or destroy arenas    |
 */
#ifndef ARENART_STATS_H
#define ARENART_STATS_H

#include "arenart/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Process-wide counters, filled by ar_stats_global(); each is a relaxed snapshot. */
typedef struct ar_global_stats {
  uint64_t arenas_created;   /**< every kind, since start */
  uint64_t arenas_live;      /**< arenas created and not yet destroyed */
  uint64_t bytes_acquired;   /**< chunk bytes arenas took from their sources, since start */
  uint64_t bytes_released;   /**< chunk bytes arenas gave back, since start */
  uint64_t chunks_in_use;    /**< chunks held by arenas now */
  uint64_t chunks_pooled;    /**< free chunks in the process-wide chunk pool */
  uint64_t avg_lifetime_ns;  /**< mean lifetime of destroyed arenas (0 if none yet) */
  uint64_t registered;       /**< arenas in the registry now */
  uint64_t registered_bytes; /**< chunk bytes held by registered arenas */
} ar_global_stats_t;

/** Fills *out with the process-wide counters; any thread, any time. Returns AR_OK, or
 * AR_EINVAL for NULL. */
AR_API int ar_stats_global(ar_global_stats_t *out);

/** What kind of arena a registry entry is. */
typedef enum ar_arena_kind {
  AR_KIND_THREAD = 1,     /**< a per-thread arena (ar_thread_arena) */
  AR_KIND_POOLED = 2,     /**< an arena of an arena pool (ar_arena_pool_take) */
  AR_KIND_CONCURRENT = 3, /**< a ConcurrentArena (ar_concurrent_create) */
  AR_KIND_NODE = 4,       /**< a per-NUMA-node arena */
} ar_arena_kind_t;

/** One registered arena, as ar_registry_foreach() shows it to its callback. */
typedef struct ar_arena_info {
  ar_arena_kind_t kind;  /**< the arena's kind */
  uint64_t id;           /**< unique for the process's lifetime */
  const char *name;      /**< valid during the callback only */
  uint64_t age_ns;       /**< nanoseconds since the arena was created */
  size_t capacity;       /**< chunk bytes held (relaxed snapshot) */
  int node;              /**< NUMA node, or -1 */
} ar_arena_info_t;

/** Calls fn(info, ctx) for each registered arena; stops early if fn returns non-zero and
 * returns that value, else 0. AR_EINVAL (as a negative value) for NULL fn. Any thread, without
 * locks; `fn` must not create or destroy arenas, and `info` is valid during the call only. */
AR_API int ar_registry_foreach(int (*fn)(const ar_arena_info_t *info, void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_STATS_H */
