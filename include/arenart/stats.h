/* SPDX-License-Identifier: MIT */
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
 *   | ar_stats_global       | anything, from any thread, inside a foreach callback too    |
 *   | ar_registry_foreach   | anything, from any thread, inside a foreach callback too    |
 *
 * What blocks and what never does:
 *   - ar_stats_global and ar_registry_foreach never wait for writers or other readers (the
 *     walk takes no lock; a foreach lasts as long as its callbacks).
 *   - Readers never make a writer wait: destroying a listed arena (ar_concurrent_destroy,
 *     ar_arena_destroy of a pooled arena, ar_arena_pool_trim/give/destroy, a thread's exit
 *     with its thread arena) unlinks the entry and returns; the entry's memory is freed
 *     later, once no walk that could have seen it is still running, by a background thread
 *     that the first such destroy starts (one per process, every signal blocked). Entries
 *     still waiting at exit stay reachable (LeakSanitizer does not report them).
 *     ar_numa_reload and ar_numa_shutdown likewise hand the replaced topology snapshot to
 *     that thread instead of waiting for walks.
 *   - What does wait for every walk in progress: fork() while the background thread is in a
 *     grace period (fork stops that thread and restarts it afterwards, so that the child
 *     inherits no lock held by it and a process with no threads of its own forks
 *     single-threaded).
 *   - A child forked while another thread was inside a walk (or while the forking thread
 *     was, with the background thread busy) can never tell that walk has ended: there,
 *     destroyed arenas' entries are never freed (a few dozen bytes each); destroys, walks
 *     and further forks still return at once.
 *
 * Callbacks: a foreach callback may call every read-only public function (ar_stats_global, a
 * nested foreach, the ar_numa_* queries, the *_stats calls) and allocate, also from a node
 * arena that refills; it may create and destroy arenas, the one whose entry it is looking at
 * included: `info` and info->name stay valid for the rest of the call, and the walk goes on
 * to the remaining entries. Arenas created after a walk began are not visited by it (new
 * entries go in front). ar_numa_init, ar_numa_reload and ar_numa_shutdown may be called from
 * a callback too (shutdown's own contract still holds: no thread may be using a node arena).
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

/** Fills *out with the process-wide counters; any thread, any time, inside a foreach
 * callback too; never waits for writers or other readers. Returns AR_OK.
 * Errors: AR_EINVAL (NULL out). */
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
  ar_arena_kind_t kind; /**< the arena's kind */
  uint64_t id;          /**< unique for the process's lifetime */
  const char *name;     /**< valid during the callback only */
  uint64_t age_ns;      /**< nanoseconds since the arena was created */
  size_t capacity;      /**< chunk bytes held (relaxed snapshot) */
  int node;             /**< NUMA node, or -1 */
} ar_arena_info_t;

/** Calls fn(info, ctx) for each registered arena, newest first; stops early if fn returns
 * non-zero and returns that value, else 0. Any thread, without locks, nested in another
 * foreach's callback too. `info` and info->name are valid during the call, even if the
 * arena is destroyed meanwhile. What fn may call: see "Callbacks" above (every read-only
 * function, allocation, arena creation and destruction, the ar_numa_* life-cycle calls).
 * Errors: AR_EINVAL, returned as -AR_EINVAL (NULL fn). */
AR_API int ar_registry_foreach(int (*fn)(const ar_arena_info_t *info, void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_STATS_H */
