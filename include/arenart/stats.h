/*
 * arenart/stats.h - process-wide statistics and the registry of live arenas.
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

typedef struct ar_global_stats {
  uint64_t arenas_created;   /* every kind, since start */
  uint64_t arenas_live;
  uint64_t bytes_acquired;   /* chunk bytes arenas took from their sources, since start */
  uint64_t bytes_released;   /* chunk bytes arenas gave back, since start */
  uint64_t chunks_in_use;    /* chunks held by arenas now */
  uint64_t chunks_pooled;    /* free chunks in the process-wide chunk pool */
  uint64_t avg_lifetime_ns;  /* mean lifetime of destroyed arenas (0 if none yet) */
  uint64_t registered;       /* arenas in the registry now */
  uint64_t registered_bytes; /* chunk bytes held by registered arenas */
} ar_global_stats_t;

/* Fills *out. AR_EINVAL for NULL. */
AR_API int ar_stats_global(ar_global_stats_t *out);

typedef enum ar_arena_kind {
  AR_KIND_THREAD = 1,
  AR_KIND_POOLED = 2,
  AR_KIND_CONCURRENT = 3,
  AR_KIND_NODE = 4,
} ar_arena_kind_t;

typedef struct ar_arena_info {
  ar_arena_kind_t kind;
  uint64_t id;           /* unique for the process's lifetime */
  const char *name;      /* valid during the callback only */
  uint64_t age_ns;
  size_t capacity;       /* chunk bytes held (relaxed snapshot) */
  int node;              /* NUMA node, or -1 */
} ar_arena_info_t;

/* Calls fn for each registered arena; stops early if fn returns non-zero and returns that
 * value, else 0. AR_EINVAL (as a negative value) for NULL fn. */
AR_API int ar_registry_foreach(int (*fn)(const ar_arena_info_t *info, void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_STATS_H */
