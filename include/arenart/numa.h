/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief NUMA placement: per-node chunk pools, node-bound memory, per-node arenas,
 * placement verification and trimming (library //numa, built on hwloc).
 *
 * After ar_numa_init() (with route_default, the default), every arena that takes its chunks
 * from the runtime's default source (serial arenas from ar_arena_create(), per-thread arenas,
 * arenas of an arena pool, and ConcurrentArenas, created without a source and with the default
 * chunk size) gets them from the pool of the NUMA node that the thread needing a chunk runs
 * on; an arena can also name one node's source, ar_numa_source(node).
 * There is one lock-free, ABA-safe chunk pool per node (arenart/chunkpool.h); a pool miss maps new
 * memory and binds it to the node with hwloc. A chunk always goes back to the pool of the node
 * it was placed on, whichever thread gives it back.
 *
 * The topology is discovered once, at init, and published as an immutable snapshot that
 * ar_numa_reload() replaces (after a cpuset or cgroup change) while other threads keep
 * allocating: readers use RCU (liburcu, QSBR flavour) and never block. Each thread caches its
 * node and re-checks it only when one of its arenas needs a new chunk (one sched_getcpu() per
 * chunk), never per allocation; a pooled chunk costs no lock and no RCU section.
 *
 * Binding modes (ar_numa_bind_t), applied when a chunk (or a dedicated block) is mapped:
 *   - `NONE` maps without a policy; the kernel places each page where it is first touched.
 *     Nothing is populated or located, and hand-outs count neither as local nor as remote.
 *   - `PREFERRED` binds to the node with a preferred policy (MPOL_PREFERRED, or
 *     MPOL_PREFERRED_MANY with the one node where hwloc and the kernel use it), populates every
 *     page at once (MADV_POPULATE_WRITE, or a write per page on kernels before 5.14), then asks
 *     the kernel where the pages are (move_pages(2)): pages that landed on another node because
 *     the node was short of memory are counted in ar_numa_node_stats_t.spilled_bytes. When
 *     binding itself fails the memory is kept unbound and counted as a fallback. If populating
 *     fails (madvise reports no memory on any node), the block is unmapped and the acquisition
 *     fails with AR_ENOMEM, in both modes.
 *   - `STRICT` does the same, and if any page landed elsewhere it unmaps the block and fails
 *     the acquisition: the arena returns NULL with AR_ENOMEM, `refused` counts it and
 *     ar_numa_last_failure() says "could not supply". Otherwise it re-binds the block with
 *     MPOL_BIND (hwloc passes MPOL_MF_MOVE | MPOL_MF_STRICT: the kernel would move a page
 *     found elsewhere and fails only if that move fails; none is, since every page was just
 *     located on the node). If that re-bind fails, the block is unmapped and refused too.
 *     STRICT only ever hands out blocks mapped that way: a pooled chunk mapped under NONE or
 *     PREFERRED is unmapped (and counted in `trimmed`) instead of reused. Because pages are
 *     allocated under MPOL_PREFERRED, which falls back to other nodes rather than invoking the
 *     OOM killer, an exhausted node yields AR_ENOMEM at acquisition and the process lives
 *     (measured on Linux 6.1 by tools/numa-vm.sh). Limits: when the whole machine (every
 *     node) is out of memory, populating can still invoke the OOM killer, as any page fault
 *     can; the kernel keeps a reserve on each node, so STRICT refuses somewhat before the
 *     node's last free page; and the check holds at acquisition only. Once a block carries
 *     MPOL_BIND, any later fault in it that needs a new page on a full node can meet the OOM
 *     killer instead of an error: a page swapped out and faulted back in, a copy-on-write
 *     fault after fork(). Pages that something later moves (migrate_pages(2)) are not
 *     re-checked. A STRICT chunk released after ar_numa_shutdown() is unmapped rather than
 *     handed to the process-wide pool, so its MPOL_BIND does not follow it to other users.
 * Populating costs the page faults that the first writes would have caused anyway, all at
 * once, plus one move_pages call per 256 pages; a large dedicated block becomes resident at
 * once, in full, under PREFERRED and STRICT.
 *
 * A node with CPUs and no memory (ar_numa_memory_node) keeps its own pool and counters, and its
 * threads and per-node arena work as on any node, but its memory is bound to the nearest node
 * with memory; ar_numa_node_stats_t.redirected counts it. A node with memory and no CPUs
 * serves ar_node_arena() and ar_numa_source() like any node.
 *
 * Node numbers are the operating system's (the N of /sys/devices/system/node/nodeN), below
 * AR_NUMA_MAX_NODES.
 *
 * Synthetic topologies (ar_numa_options_t.synthetic or .xml) describe a machine other than
 * this one: CPU-to-node mapping, pool selection, counters and reload work as on real hardware,
 * but no memory is bound (binding counts as failed: PREFERRED counts fallbacks, STRICT
 * refuses) and pages cannot be located (the verification calls return AR_EINVAL).
 *
 * Synchronization:
 *   | call                                | may run concurrently with                      |
 *   |-------------------------------------|------------------------------------------------|
 *   | ar_numa_init, ar_numa_shutdown      | anything (serialized internally); shutdown     |
 *   |                                     | needs quiescence on the per-node arenas        |
 *   | ar_numa_reload, ar_numa_set_bind    | anything (allocating threads keep running)     |
 *   | node queries, ar_numa_memory_node,  | anything                                       |
 *   | ar_numa_stats, ar_trim              |                                                |
 *   | ar_node_arena, ar_numa_source       | anything                                       |
 *   | ar_numa_arena_pages                 | nothing on that arena (call it from its owner) |
 *   | ar_numa_concurrent_pages            | nothing that allocates from, resets or         |
 *   |                                     | destroys that arena                            |
 *   | ar_numa_node_arena_pages            | anything but shutdown or a reset of that arena |
 *   | ar_numa_area_pages                  | anything that keeps the range mapped           |
 *   | ar_numa_last_failure                | anything (each thread has its own)             |
 */
#ifndef ARENART_NUMA_H
#define ARENART_NUMA_H

#include <stdbool.h>

#include "arenart/arena.h"
#include "arenart/common.h"
#include "arenart/concurrent.h"
#include "arenart/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Node numbers range over [0, AR_NUMA_MAX_NODES). */
#define AR_NUMA_MAX_NODES 64

/** How new chunks are bound to their node. */
typedef enum ar_numa_bind {
  AR_NUMA_BIND_NONE = 0,      /**< no policy: the kernel places pages on first touch */
  AR_NUMA_BIND_PREFERRED = 1, /**< bind preferably, populate, count spilled bytes; if binding
                                   fails keep unbound memory and count a fallback */
  AR_NUMA_BIND_STRICT = 2,    /**< bind, populate, verify every page: if the node cannot supply
                                   them (or binding fails) the acquisition fails (AR_ENOMEM) */
} ar_numa_bind_t;

/** How to initialise NUMA placement; start from ar_numa_options_init() or
 * AR_NUMA_OPTIONS_INIT. Extensible: `size`, set by both, follows ar_options_t's rules (0: a
 * zero-initialised struct of the 0.1.0 layout; shorter: missing fields take their defaults;
 * longer: only with zero bytes past what the library knows). */
typedef struct ar_numa_options {
  size_t size;           /**< sizeof(ar_numa_options_t) as the caller compiled it */
  ar_numa_bind_t bind;   /**< binding mode (default AR_NUMA_BIND_PREFERRED) */
  size_t pool_chunks;    /**< most free chunks each node's pool keeps, at most 2^24
                                 (0 or default: 256) */
  bool route_default;    /**< serve the default source from the node pools (default true) */
  uint64_t decay_ns;     /**< idle decay: a pool unused this long is trimmed (0: off) */
  size_t decay_keep;     /**< chunks an idle pool keeps when it decays (default 0) */
  const char *synthetic; /**< hwloc synthetic description, e.g. "pack:2 numa:1 core:2
                                 pu:1", instead of this machine (copied; NULL: this machine) */
  const char *xml;       /**< path of an hwloc XML topology to use instead (copied; NULL) */
} ar_numa_options_t;

/** Static initializer with the defaults; ar_numa_options_init() does the same at run time. */
#define AR_NUMA_OPTIONS_INIT \
  { sizeof(ar_numa_options_t), AR_NUMA_BIND_PREFERRED, 256, true, 0, 0, NULL, NULL }

/** Fills *opts with the defaults (AR_NUMA_OPTIONS_INIT), `size` included. NULL is a no-op. */
AR_API void ar_numa_options_init(ar_numa_options_t *opts);

/**
 * Discovers the topology and creates one chunk pool per node; with route_default, arenas
 * created afterwards with the default source use the node pools. Any thread; once (a second
 * call before ar_numa_shutdown fails with AR_EBUSY). NULL opts: the defaults.
 * Errors: AR_EINVAL (a `size` the library does not accept (see ar_numa_options_t), an option
 * out of range, a topology hwloc rejects, a node number at or above AR_NUMA_MAX_NODES),
 * AR_ENOMEM, AR_EBUSY. ar_numa_last_failure() has the details.
 */
AR_API int ar_numa_init(const ar_numa_options_t *opts);

/** True between a successful ar_numa_init() and ar_numa_shutdown(). Any thread. */
AR_API bool ar_numa_active(void);

/**
 * Rediscovers the topology (same source: this machine, or the same synthetic description or
 * XML file unless `synthetic`/`xml` name new ones; pass NULL for both to keep them) and
 * publishes it; threads see the new CPU-to-node map at their next chunk refill. Nodes that
 * disappear keep their pools until shutdown. Any thread, concurrently with allocation.
 * Errors: AR_EINVAL (not initialised, or the new topology is rejected; the old one stays),
 * AR_ENOMEM.
 */
AR_API int ar_numa_reload(const char *synthetic, const char *xml);

/**
 * Destroys the per-node arenas (quiescence required on them), gives every pooled chunk back
 * to the OS, and stops routing the default source. Arenas that still hold chunks placed by
 * NUMA keep working; those chunks go to the process-wide pool or the OS when released. The
 * per-node bookkeeping (a few KiB per node) stays for a later ar_numa_init(). Not
 * initialised: no-op.
 */
AR_API void ar_numa_shutdown(void);

/** Changes the binding mode for chunks mapped from now on. AR_EINVAL if `mode` is not one of
 * ar_numa_bind_t or NUMA is not initialised. Any thread. */
AR_API int ar_numa_set_bind(ar_numa_bind_t mode);

/** Number of NUMA nodes in the current topology (0 if not initialised). */
AR_API int ar_numa_node_count(void);

/** Fills nodes[0..n) with the node numbers of the current topology, ascending, for n up to
 * `max`; returns how many there are (which may exceed `max`), or -1 with AR_EINVAL if not
 * initialised or `nodes` is NULL with a non-zero `max`. */
AR_API int ar_numa_nodes(int *nodes, int max);

/** The node of CPU `cpu` (OS numbering) in the current topology, or -1 (AR_EINVAL) if the
 * CPU is unknown or NUMA is not initialised. */
AR_API int ar_numa_node_of_cpu(int cpu);

/**
 * The node whose memory serves `node`: `node` itself if it has memory; for a node with CPUs
 * and no memory, the nearest node with memory by the topology's distance matrix (the lowest
 * numbered one when there is no matrix; ties go to the lowest number). The matrix used is
 * hwloc's latency matrix (whatever its origin); a matrix of another kind, such as bandwidth,
 * is ignored. The kernel, too, takes such a node's memory from its nearest node by the
 * firmware's distances; that the two agree is measured only on a machine where one node has
 * memory (tools/numa-vm.sh, 2nmemless), not for ties or competing distances. Its threads keep
 * `node` as their node (its pool, its counters), but under PREFERRED and STRICT their chunks,
 * and those of ar_node_arena(node) and ar_numa_source(node), are bound to the memory node, and
 * each one counts in ar_numa_node_stats_t.redirected.
 * Synthetic and XML topologies: every node is taken to have memory.
 * Errors: -1 with AR_EINVAL if NUMA is not initialised, `node` is not in the current topology,
 * or no node has memory.
 */
AR_API int ar_numa_memory_node(int node);

/** The node the calling thread runs on now (what its next chunk refill will use), or -1 with
 * AR_EINVAL if NUMA is not initialised. Refreshes the thread's cached node. */
AR_API int ar_numa_current_node(void);

/**
 * A memory source whose chunks are placed on `node` for whichever thread uses it: default-size
 * blocks come from and return to the node's pool, others are mapped and bound directly. The
 * pointer is static (it outlives shutdown; after shutdown it behaves like the runtime's default
 * source). NULL with AR_EINVAL if NUMA is not initialised or `node` is not in the current
 * topology.
 */
AR_API const ar_source_t *ar_numa_source(int node);

/**
 * The per-node ConcurrentArena for `node`: created on first call (thread-safe), its chunks on
 * that node, for data shared by the threads of one node. Listed in the registry as
 * AR_KIND_NODE. Lives until ar_numa_shutdown(); reset it with ar_concurrent_reset() under the
 * usual quiescence rule, never destroy it. NULL with AR_EINVAL (bad node, not initialised) or
 * AR_ENOMEM.
 */
AR_API ar_concurrent_t *ar_node_arena(int node);

/** Per-node placement counters and pool state (a relaxed snapshot). */
typedef struct ar_numa_node_stats {
  int node;               /**< the node these figures are for */
  int cpus;               /**< CPUs of the node in the current topology (0 if it disappeared) */
  uint64_t local;         /**< chunks handed to a thread running on this node (PREFERRED and
                              STRICT; under NONE nothing is placed and nothing is counted) */
  uint64_t remote;        /**< chunks of this node handed to a thread on another node (idem) */
  uint64_t fallback;      /**< chunks kept although binding, or locating their pages, failed
                              (PREFERRED) */
  uint64_t refused;       /**< STRICT acquisitions that failed after mapping: binding failed,
                              the node could not supply every page, populating or locating
                              the pages failed, or the MPOL_BIND re-bind failed (the block is
                              unmapped; mapping failures and other modes are not counted) */
  uint64_t unbound;       /**< chunks mapped without binding because the mode was NONE */
  uint64_t mapped;        /**< chunks mapped from the OS for this node (all modes) */
  uint64_t pool_hits;     /**< chunks served from the node's pool */
  uint64_t pool_misses;   /**< default-size acquisitions the pool could not serve */
  uint64_t trimmed;       /**< pooled chunks given back to the OS (ar_trim, decay, and those
                              STRICT finds in the pool mapped under a laxer mode and unmaps) */
  uint64_t located_bytes; /**< bytes mapped for this node whose pages were populated and
                               located at acquisition (PREFERRED and STRICT; 0 under NONE) */
  uint64_t spilled_bytes; /**< of located_bytes, those found on another node (PREFERRED) */
  uint64_t redirected;    /**< blocks mapped for this memory-less node on the node that
                               ar_numa_memory_node() names (PREFERRED and STRICT) */
  size_t pooled;          /**< free chunks in the node's pool now */
  size_t max_pooled;      /**< the pool's bound (ar_numa_options_t.pool_chunks) */
} ar_numa_node_stats_t;

/** Fills *out with `node`'s counters. AR_EINVAL for NULL, an unknown node, or when NUMA is
 * not initialised. Any thread. */
AR_API int ar_numa_stats(int node, ar_numa_node_stats_t *out);

/**
 * Gives pooled chunks beyond `keep` per pool back to the OS, in every node pool and in the
 * process-wide default pool (arenart/chunkpool.h), and unmaps every mapping in the cache that
 * default arenas give chunks back to (arena.h, ar_arena_create), so resident memory drops.
 * Returns how many pooled chunks were trimmed (the cache's mappings are not counted). Any
 * thread, concurrently with allocation; works without ar_numa_init (then only the default
 * pool and the cache are trimmed).
 */
AR_API size_t ar_trim(size_t keep);

/** Where the pages of an arena or an address range sit (see ar_numa_arena_pages). */
typedef struct ar_numa_pages {
  size_t pages;                      /**< pages examined */
  size_t unplaced;                   /**< pages not yet touched (no physical page) */
  size_t on_node[AR_NUMA_MAX_NODES]; /**< resident pages per node number */
} ar_numa_pages_t;

/**
 * Counts the pages of [p, p + len) per node (hwloc's area memory location, page by page).
 * Errors: AR_EINVAL (NULL argument, not initialised, or a synthetic topology, whose pages
 * cannot be located).
 */
AR_API int ar_numa_area_pages(const void *p, size_t len, ar_numa_pages_t *out);

/** ar_numa_area_pages over every chunk a serial arena holds (current, full, dedicated and
 * spare chunks). Call from the arena's owner thread. Errors: those of ar_numa_area_pages. */
AR_API int ar_numa_arena_pages(ar_arena_t *arena, ar_numa_pages_t *out);

/**
 * ar_numa_area_pages over every chunk a ConcurrentArena holds (shared and dedicated chunks; in
 * the heap flavor, every malloc'd block, where a page shared by two blocks counts twice), for
 * any ConcurrentArena, whatever its source: a per-node arena, one created on the routed default
 * source, or one on ar_numa_source(). No thread may allocate from the arena, reset it or
 * destroy it meanwhile (join its workers or pass a barrier first).
 * Errors: AR_EINVAL (NULL argument), AR_ENOMEM, and those of ar_numa_area_pages.
 */
AR_API int ar_numa_concurrent_pages(ar_concurrent_t *arena, ar_numa_pages_t *out);

/** ar_numa_area_pages over every chunk of the per-node arena of `node` (which is created if
 * needed). Any thread, even while others allocate from that arena (its source keeps a list of
 * its chunks). Errors: those of ar_numa_area_pages and ar_node_arena. */
AR_API int ar_numa_node_arena_pages(int node, ar_numa_pages_t *out);

/** The fraction of the resident pages in *pages that sit on `node` (1.0 when none are
 * resident, 0.0 for a NULL argument or a node out of range). */
AR_API double ar_numa_local_fraction(const ar_numa_pages_t *pages, int node);

/** A description of the calling thread's most recent NUMA failure (binding refused, topology
 * rejected, ...), or "" if there was none. Valid until the thread's next NUMA call. */
AR_API const char *ar_numa_last_failure(void);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_NUMA_H */
