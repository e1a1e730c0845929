/*
 * numa/numa_internal.h - state shared by the files of //numa (the test hooks are in
 * numa_testing.h).
 *
 * Lifetimes, from longest to shortest:
 *   - the sources handed out (routing source, ar_numa_source, the per-node arenas' sources)
 *     are static: arenas copy them and may outlive everything below;
 *   - the runtime state `ar_numa_rt_` (one per init..shutdown), published under RCU: every
 *     path that uses it runs inside ar_rcu_read_begin/end and loads it with ar_rcu_deref;
 *     shutdown unpublishes it, waits for a grace period, then frees it;
 *   - per-node states, created by init or by a reload that finds a new node, never freed
 *     before shutdown (so a thread whose cached node has left the topology still finds its
 *     pool);
 *   - topology snapshots: immutable once published; reload publishes a new one and frees the
 *     old one after a grace period.
 * Admin operations (init, reload, shutdown, creating a per-node arena) serialize on a mutex
 * in topology.c; they are rare and may block (hwloc discovery, grace periods).
 */
#ifndef ARENART_NUMA_INTERNAL_H
#define ARENART_NUMA_INTERNAL_H

#include <hwloc.h>
#include <pthread.h>

#include "arenart/numa.h"
#include "arenart/pool.h"
#include "numa/numa_testing.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"
#include "runtime/sync.h"

/* The pooled chunk size: the default one, the only size ar_default_source_ routes to us. */
#define AR_NUMA_CHUNK AR_DEFAULT_CHUNK_SIZE

/* An immutable view of the topology (see the lifetimes above). */
typedef struct ar_numa_topo {
  uint64_t gen;              /* process-wide unique; threads' node caches compare it */
  hwloc_topology_t topo;
  bool thissystem;           /* false for synthetic/XML topologies: no binding, no locating */
  int nnodes;
  int nodes[AR_NUMA_MAX_NODES];                       /* node numbers, ascending */
  hwloc_const_nodeset_t nodeset[AR_NUMA_MAX_NODES];   /* by node number; NULL if absent */
  int node_cpus[AR_NUMA_MAX_NODES];                   /* by node number */
  int ncpus;                 /* entries in cpu_node */
  int *cpu_node;             /* OS CPU number -> node number, -1 if none */
} ar_numa_topo_t;

typedef struct ar_numa_span {
  void *p;
  size_t size;
} ar_numa_span_t;

/* One node: its pool, counters, per-node arena and that arena's chunk ledger. */
typedef struct ar_numa_node {
  int node;
  struct ar_numa_rt *rt;
  ar_chunk_pool_t *pool;
  /* Counters: relaxed, statistics only (see ar_numa_node_stats_t). */
  ar_atomic(uint64_t) local, remote, fallback, refused, unbound, mapped, hits, misses, trimmed;
  ar_atomic(uint64_t) last_get_ns; /* idle decay: when the pool last served a chunk */
  ar_atomic(ar_concurrent_t *) arena; /* per-node arena, created on demand */
  /* The chunks the per-node arena holds, for ar_numa_node_arena_pages. Touched once per chunk
   * acquired or released by that arena, so a spinlock (annotated in sync.h) is cheap enough. */
  ar_spinlock_t ledger_lock;
  ar_numa_span_t *ledger;
  size_t nledger, cap_ledger;
} ar_numa_node_t;

/* Which node each default-size chunk we mapped was placed for, so that a chunk goes back to
 * its own node's pool whoever releases it. Indexed by address >> 16: chunks are at least
 * 64 KiB and do not overlap, so two live chunks never share an index. Two levels (top: bits
 * 32..46, leaf: bits 16..31); leaves are installed once with a CAS and never freed before
 * shutdown. Entries are node + 1 (0: not ours or not known). */
#define AR_PM_SHIFT 16
#define AR_PM_LEAF_BITS 16
#define AR_PM_TOP_BITS 15

typedef struct ar_numa_rt {
  ar_atomic(ar_numa_topo_t *) topo;                      /* RCU-published */
  ar_atomic(ar_numa_node_t *) nodes[AR_NUMA_MAX_NODES];  /* set once each, under the mutex */
  ar_atomic(int) bind;                                   /* ar_numa_bind_t */
  size_t pool_chunks;
  uint64_t decay_ns;
  size_t decay_keep;
  ar_atomic(uint64_t) next_decay_ns;
  bool route_default;
  char *synthetic; /* guarded by the admin mutex */
  char *xml;
  ar_atomic(ar_atomic(uint8_t) *) *pagemap; /* AR_PM_TOP_BITS entries of leaves */
} ar_numa_rt_t;

/* topology.c */
extern AR_INTERNAL ar_atomic(ar_numa_rt_t *) ar_numa_rt_;
AR_INTERNAL pthread_mutex_t *ar_numa_admin_(void);
/* The node the calling thread runs on (cached; see topology.c). Inside an RCU section. */
AR_INTERNAL int ar_numa_thread_node_(ar_numa_topo_t *t);
/* Records a failure description for ar_numa_last_failure(). */
AR_INTERNAL void ar_numa_fail_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
AR_INTERNAL uint64_t ar_numa_now_(void);

/* placement.c */
AR_INTERNAL ar_numa_node_t *ar_numa_node_new_(ar_numa_rt_t *rt, int node);
AR_INTERNAL void ar_numa_node_free_(ar_numa_node_t *nd);
AR_INTERNAL const ar_source_t *ar_numa_routing_source_(void);
AR_INTERNAL void ar_numa_pagemap_free_(ar_numa_rt_t *rt);
/* A malloc'd copy of the chunk ledger of `node`'s arena in *out (NULL when empty; the caller
 * frees it), its length in *n. AR_OK, AR_EINVAL (no such node), AR_ENOMEM. */
AR_INTERNAL int ar_numa_node_ledger_(int node, ar_numa_span_t **out, size_t *n);

#endif /* ARENART_NUMA_INTERNAL_H */
