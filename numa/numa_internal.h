/* SPDX-License-Identifier: MIT */
/*
 * numa/numa_internal.h - the types and calls shared by the files of //numa, grouped by the
 * file that defines them (the test hooks are in numa_testing.h). Calls go one way, top down:
 *   verify.c  ->  lifecycle.c  ->  placement.c  ->  topology.c  ->  hooks.c
 * A file may skip levels (verify.c reads the snapshot and the ledgers itself) but never calls
 * one above it.
 *
 * Lifetimes, chosen so that the chunk fast paths (a pool hit, a release into a pool) take no
 * lock and enter no RCU read section (one costs ~100 ns on the build machine, several times
 * a pool operation):
 *   - the sources handed out (routing source, ar_numa_source, the per-node arenas' sources)
 *     are static: arenas copy them and may outlive init;
 *   - the runtime state `ar_numa_rt_` (placement.c) is one static object; `active` says
 *     whether NUMA is initialised. Per-node states (pool, counters, ledger) and the page map
 *     are created on first need and live as long as the process (they are small), so a
 *     thread that saw `active` just before a shutdown still works on valid memory. Shutdown
 *     trims every pool, and ar_trim trims them whenever called, so nothing stays resident for
 *     long;
 *   - topology snapshots (`ar_numa_view_`, topology.c) are immutable once published,
 *     RCU-protected: every reader of `topo` runs inside ar_rcu_read_begin/end (slow paths
 *     only: a thread's CPU or the topology changed, a pool miss that binds new memory,
 *     queries); reload publishes a new one and frees the old one after a grace period;
 *     shutdown unpublishes it (NULL).
 * Admin operations (init, reload, shutdown, creating a per-node arena) serialize on a mutex
 * in lifecycle.c; they are rare and may block (hwloc discovery, creating an arena).
 */
#ifndef ARENART_NUMA_INTERNAL_H
#define ARENART_NUMA_INTERNAL_H

#include <hwloc.h>
#include <pthread.h>

#include "arenart/numa.h"
#include "arenart/chunkpool.h"
#include "numa/numa_testing.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"
#include "runtime/sync.h"

/* The pooled chunk size: the default one, the only size ar_default_source_ routes to us. */
#define AR_NUMA_CHUNK AR_DEFAULT_CHUNK_SIZE

/* An immutable view of the topology (see the lifetimes above). */
typedef struct ar_numa_topo {
  uint64_t gen; /* process-wide unique; threads' node caches compare it */
  hwloc_topology_t topo;
  bool thissystem; /* false for synthetic/XML topologies: no binding, no locating */
  int nnodes;
  int nodes[AR_NUMA_MAX_NODES];                     /* node numbers, ascending */
  hwloc_const_nodeset_t nodeset[AR_NUMA_MAX_NODES]; /* by node number; NULL if absent */
  int node_cpus[AR_NUMA_MAX_NODES];                 /* by node number */
  bool has_memory[AR_NUMA_MAX_NODES];               /* by node number */
  int mem_node[AR_NUMA_MAX_NODES]; /* whose memory serves the node: itself, or for a memory-less
                                      node the nearest node with memory; -1: none */
  int ncpus;                       /* entries in cpu_node */
  int *cpu_node;                   /* OS CPU number -> node number, -1 if none */
  ar_rcu_head_t rcu;               /* a replaced snapshot is freed through ar_rcu_defer_ */
} ar_numa_topo_t;

typedef struct ar_numa_span {
  void *p;
  size_t size;
} ar_numa_span_t;

/* A pool replaced by a re-init with another pool_chunks bound: kept (a thread may still be
 * using it) and trimmed with the live ones. */
typedef struct ar_numa_retired {
  ar_chunk_pool_t *pool;
  struct ar_numa_retired *next;
} ar_numa_retired_t;

/* One node: its pool, counters, per-node arena and that arena's chunk ledger. */
typedef struct ar_numa_node {
  int node;
  ar_atomic(ar_chunk_pool_t *) pool;      /* replaced only by init, under the mutex */
  ar_atomic(ar_numa_retired_t *) retired; /* pushed under the mutex; nodes immutable */
  /* Counters: relaxed, statistics only (see ar_numa_node_stats_t); zeroed by each init. */
  ar_atomic(uint64_t) local, remote, fallback, refused, unbound, mapped, hits, misses, trimmed;
  ar_atomic(uint64_t) located_bytes, spilled_bytes, redirected;
  ar_atomic(uint64_t) last_get_ns;    /* idle decay: when the pool last served a chunk */
  ar_atomic(ar_concurrent_t *) arena; /* per-node arena, created on demand */
  /* The chunks the per-node arena holds, for ar_numa_node_arena_pages. Touched once per chunk
   * acquired or released by that arena, so a spinlock (annotated in sync.h) is cheap enough. */
  ar_spinlock_t ledger_lock;
  ar_numa_span_t *ledger;
  size_t nledger, cap_ledger;
} ar_numa_node_t;

/* Which node each chunk (and each dedicated block of 64 KiB or more) we mapped and still own
 * was placed for, so that a chunk goes back to its own node's pool whoever releases it; an
 * entry is cleared whenever its block leaves our hands (placement.c). Indexed by address
 * >> 16: recorded blocks are at least 64 KiB and do not overlap, so two live ones never share
 * an index. Two levels (top: bits
 * 32..46, a static array; leaf: bits 16..31, 64 KiB each, installed once with a CAS and kept).
 * Entries are node + 1 (0: not ours or not known), see placement.c. */
#define AR_PM_SHIFT 16
#define AR_PM_LEAF_BITS 16
#define AR_PM_TOP_BITS 15

/* ---- hooks.c: failure messages, injected faults, the clock -------------------------------- */

/* Records a failure description for ar_numa_last_failure(); clears it (init and reload do,
 * so that a success leaves no stale message). */
AR_INTERNAL void ar_numa_fail_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
AR_INTERNAL void ar_numa_fail_clear_(void);
/* The clock idle decay reads: monotonic nanoseconds, or the test clock when one is set.
 * (ar_numa_fault_ is declared in numa_testing.h.) */
AR_INTERNAL uint64_t ar_numa_now_(void);

/* ---- topology.c: snapshots, a thread's node ---------------------------------------------- */

/* The published snapshot. Written only by ar_numa_topo_publish_ (under lifecycle.c's admin
 * mutex); read lock-free, `topo` inside an RCU read section. */
typedef struct ar_numa_view {
  ar_atomic(uint64_t) gen;          /* the published snapshot's generation; 0: none */
  ar_atomic(ar_numa_topo_t *) topo; /* RCU-published; NULL when inactive */
} ar_numa_view_t;
extern AR_INTERNAL ar_numa_view_t ar_numa_view_;

/* Loads a topology from this machine, a synthetic description or an XML file (at most one of
 * them non-NULL), and builds a snapshot of it with a fresh generation. NULL (with a failure
 * message, and *err AR_EINVAL or AR_ENOMEM) if hwloc refuses it or memory runs out. */
AR_INTERNAL ar_numa_topo_t *ar_numa_topo_load_(const char *synthetic, const char *xml,
                                               ar_error_t *err);
/* Frees a snapshot that no reader can hold (never published, or replaced before any reader
 * could see it). NULL is a no-op. */
AR_INTERNAL void ar_numa_topo_free_(ar_numa_topo_t *t);
/* Publishes snapshot `t` (NULL: none) and returns the one it replaces, which readers may still
 * hold until the next grace period. Under the admin mutex. */
AR_INTERNAL ar_numa_topo_t *ar_numa_topo_publish_(ar_numa_topo_t *t);
/* Frees a replaced snapshot after a grace period, without waiting for it (ar_rcu_defer_).
 * NULL is a no-op. */
AR_INTERNAL void ar_numa_topo_retire_(ar_numa_topo_t *old);
/* The node the calling thread runs on, from its cache (no RCU) or, when its CPU or the
 * topology changed, from the current snapshot. -1 if NUMA was shut down meanwhile. */
AR_INTERNAL int ar_numa_thread_node_(void);
/* The same, inside an RCU section that already holds snapshot `t`. */
AR_INTERNAL int ar_numa_thread_node_in_(ar_numa_topo_t *t);

/* The node whose memory serves `node` in snapshot `t` (itself unless it has no memory), or -1
 * if `node` is not in `t` or no node has memory. */
static inline int ar_numa_memory_node_(const ar_numa_topo_t *t, int node) {
  return node >= 0 && node < AR_NUMA_MAX_NODES && t->nodeset[node] != NULL ? t->mem_node[node] : -1;
}

/* ---- placement.c: node states, pools, sources -------------------------------------------- */

typedef struct ar_numa_rt {
  ar_atomic(bool) active; /* release at init / acquire by users: the fields below are set */
  ar_atomic(ar_numa_node_t *) nodes[AR_NUMA_MAX_NODES]; /* set once each, under the mutex */
  ar_atomic(int) bind;                                  /* ar_numa_bind_t */
  ar_atomic(uint64_t) decay_ns;
  ar_atomic(size_t) decay_keep;
  ar_atomic(uint64_t) next_decay_ns;
  ar_atomic(ar_atomic(uint8_t) *) pagemap[(size_t)1 << AR_PM_TOP_BITS];
} ar_numa_rt_t;

/* `active`, `bind` and the decay options are written by lifecycle.c (under its admin mutex,
 * except ar_numa_set_bind's relaxed store), `nodes` by ar_numa_node_prepare_ under the same
 * mutex, next_decay_ns and the page map by placement's lock-free paths; all read lock-free. */
extern AR_INTERNAL ar_numa_rt_t ar_numa_rt_;
/* True while NUMA is initialised; acquire, so the options and node states are visible. */
static inline bool ar_numa_on_(void) { return ar_load_acquire(&ar_numa_rt_.active); }

/* Creates node `node`'s state, or makes sure an existing one has a pool bounded by
 * `pool_chunks` (replacing the pool happens only at init, while NUMA is inactive); `reset`
 * zeroes its counters (init, not reload). Under the admin mutex. NULL: out of memory. */
AR_INTERNAL ar_numa_node_t *ar_numa_node_prepare_(int node, size_t pool_chunks, bool reset);
AR_INTERNAL const ar_source_t *ar_numa_routing_source_(void);
/* The source of `node`'s per-node arena: as ar_numa_source(node), plus the chunk ledger.
 * `node` in 0..AR_NUMA_MAX_NODES-1. */
AR_INTERNAL const ar_source_t *ar_numa_ledger_source_(int node);
/* The state of `node` if NUMA is active and the node was ever seen; NULL (failure recorded,
 * no last error set) otherwise. */
AR_INTERNAL ar_numa_node_t *ar_numa_node_state_(int node);
/* A malloc'd copy of the chunk ledger of `node`'s arena in *out (NULL when empty; the caller
 * frees it), its length in *n. AR_OK, AR_EINVAL (no such node), AR_ENOMEM. */
AR_INTERNAL int ar_numa_node_ledger_(int node, ar_numa_span_t **out, size_t *n);
/* The node state for a node number, or NULL (out of range or never seen). */
static inline ar_numa_node_t *ar_numa_node_(int node) {
  return node >= 0 && node < AR_NUMA_MAX_NODES ? ar_load_acquire(&ar_numa_rt_.nodes[node]) : NULL;
}

/* lifecycle.c defines only the public calls (init, reload, shutdown, ar_numa_set_bind,
 * ar_node_arena) and keeps its admin state to itself. */

#endif /* ARENART_NUMA_INTERNAL_H */
