/* SPDX-License-Identifier: MIT */
/*
 * numa/topology.c - discovering the NUMA topology, publishing it, and knowing where a thread
 * runs.
 *
 * Discovery is hwloc's: a full topology load (this machine, or a synthetic description / XML
 * file for tests and what-if runs) reduced to what allocation needs, a CPU -> node table and
 * each node's nodeset, in an immutable snapshot. Readers find the snapshot through an
 * RCU-published pointer (urcu-qsbr via runtime/sync.h): reading costs no lock and no shared
 * write, and a reload (after the process's cpuset or cgroup changed) builds a complete new
 * snapshot, swaps the pointer, waits for a grace period and only then destroys the old one, so
 * allocating threads never block on it and never see a half-built map.
 *
 * A thread's node is cached in thread-local storage, per CPU it has run on (a few slots), with
 * the snapshot's generation. Only chunk refills ask (per-allocation paths never come here);
 * each asks sched_getcpu() (a vDSO read, no syscall) and uses the cache, without entering an
 * RCU section, when the CPU's slot carries the current generation; so a migrated thread's
 * next chunk comes from its new node and a reload is noticed at the next refill.
 *
 * Nodes are taken as the kernel shows them, including the uneven ones. A node with memory and
 * no CPUs is an ordinary node that no thread maps to. A node with CPUs and no memory keeps
 * its threads (they map to it, so their counters and pool are its own), but binding to it
 * fails with EINVAL, so the snapshot also records which node serves its memory: the nearest
 * node with memory in hwloc's distance matrix, which is where the kernel's own allocations
 * for those CPUs go. The choice is made once per snapshot, so a reload that brings memory to
 * the node (hot-plug) changes it.
 *
 * This file is the bottom of //numa (only hooks.c is below it): it loads, publishes and reads
 * snapshots, and never decides when. Loading and publishing are called by numa/lifecycle.c
 * (init, reload, shutdown), under its admin mutex; every read here is lock-free and may run
 * concurrently with them (see numa_internal.h for lifetimes).
 */
#include <errno.h>
#include <stddef.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "arenart/stats.h"
#include "numa/numa_internal.h"

ar_numa_view_t ar_numa_view_;

/* Process-wide, so that a cache filled under one init can never match a later one. */
static ar_atomic(uint64_t) next_gen = 1;

/* The pretend CPU of the calling thread (ar_numa_test_set_cpu_); -1: ask sched_getcpu(). */
static _Thread_local int tls_test_cpu = -1;

void ar_numa_test_set_cpu_(int cpu) { tls_test_cpu = cpu; }

/* ---- snapshots -------------------------------------------------------------------------- */

void ar_numa_topo_free_(ar_numa_topo_t *t) {
  if (t == NULL) return;
  if (t->topo != NULL) hwloc_topology_destroy(t->topo);
  free(t->cpu_node);
  free(t);
}

static void topo_free_deferred(ar_rcu_head_t *head) {
  ar_numa_topo_free_((ar_numa_topo_t *)(void *)((char *)head - offsetof(ar_numa_topo_t, rcu)));
}

/* A snapshot that publishing replaced: readers may still hold it, so it is freed after a grace
 * period by the reclaimer thread (sync.h), and the writer never waits for readers. Waiting
 * here instead would make reload/shutdown wait for every registry walk in progress, hold the
 * admin mutex meanwhile, and deadlock a walk's callback that calls either (or ar_numa_init). */
void ar_numa_topo_retire_(ar_numa_topo_t *old) {
  if (old != NULL) ar_rcu_defer_(&old->rcu, topo_free_deferred);
}

/* The node whose memory serves each node: itself if it has memory; for a node with CPUs and no
 * memory, the nearest node with memory by hwloc's latency matrix (a matrix of another kind,
 * such as bandwidth, where larger is better, is not used), ties to the lower number; with no
 * latency matrix, the lowest-numbered node with memory. This is meant to match the kernel's own
 * choice for such a node's allocations (its nearest node by the same SLIT distances), but the
 * kernel's tie-breaking is not verified. -1 if no node has memory. */
static void redirect_memoryless(ar_numa_topo_t *t) {
  struct hwloc_distances_s *d = NULL;
  unsigned nr = 1;
  if (hwloc_distances_get_by_type(t->topo, HWLOC_OBJ_NUMANODE, &nr, &d,
                                  HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) != 0 ||
      nr == 0)
    d = NULL;
  for (int i = 0; i < t->nnodes; i++) {
    int node = t->nodes[i];
    t->mem_node[node] = -1;
    if (t->has_memory[node]) {
      t->mem_node[node] = node;
      continue;
    }
    hwloc_uint64_t best = 0;
    for (int j = 0; j < t->nnodes; j++) {
      int cand = t->nodes[j];
      if (!t->has_memory[cand]) continue;
      hwloc_uint64_t dist = 0;
      if (d != NULL) {
        int a = -1, b = -1;
        for (unsigned k = 0; k < d->nbobjs; k++) {
          if ((int)d->objs[k]->os_index == node) a = (int)k;
          if ((int)d->objs[k]->os_index == cand) b = (int)k;
        }
        if (a >= 0 && b >= 0) dist = d->values[(unsigned)a * d->nbobjs + (unsigned)b];
      }
      if (t->mem_node[node] < 0 || dist < best) {
        t->mem_node[node] = cand;
        best = dist;
      }
    }
  }
  if (d != NULL) hwloc_distances_release(t->topo, d);
}

ar_numa_topo_t *ar_numa_topo_load_(const char *synthetic, const char *xml, ar_error_t *err) {
  *err = AR_ENOMEM;
  ar_numa_topo_t *t = (ar_numa_topo_t *)calloc(1, sizeof *t);
  if (t == NULL) {
    ar_numa_fail_("out of memory for the topology snapshot");
    return NULL;
  }
  *err = AR_EINVAL;
  if (ar_numa_fault_(AR_NUMA_FAULT_TOPOLOGY)) {
    ar_numa_fail_("hwloc topology discovery failed (injected fault)");
    free(t);
    return NULL;
  }
  if (hwloc_topology_init(&t->topo) != 0) {
    ar_numa_fail_("hwloc_topology_init failed: %s", strerror(errno));
    t->topo = NULL;
    ar_numa_topo_free_(t);
    return NULL;
  }
  int rc = 0;
  if (synthetic != NULL) rc = hwloc_topology_set_synthetic(t->topo, synthetic);
  else if (xml != NULL) rc = hwloc_topology_set_xml(t->topo, xml);
  if (rc != 0) {
    ar_numa_fail_("hwloc rejected the %s topology '%s'", synthetic ? "synthetic" : "XML",
                  synthetic ? synthetic : xml);
    ar_numa_topo_free_(t);
    return NULL;
  }
  if (hwloc_topology_load(t->topo) != 0) {
    ar_numa_fail_("hwloc_topology_load failed: %s", strerror(errno));
    ar_numa_topo_free_(t);
    return NULL;
  }
  /* hwloc gives non-native topologies dummy binding hooks that "succeed" without binding;
   * we must know, so as never to count such memory as bound. */
  t->thissystem = synthetic == NULL && xml == NULL && hwloc_topology_is_thissystem(t->topo);

  int n = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_NUMANODE);
  int maxcpu = -1;
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(t->topo);
  if (all != NULL && !hwloc_bitmap_iszero(all)) maxcpu = hwloc_bitmap_last(all);
  if (n <= 0 || maxcpu < 0 || maxcpu > (1 << 20)) {
    ar_numa_fail_("the topology has %d NUMA nodes and CPUs up to %d", n, maxcpu);
    ar_numa_topo_free_(t);
    return NULL;
  }
  t->ncpus = maxcpu + 1;
  t->cpu_node = (int *)malloc((size_t)t->ncpus * sizeof *t->cpu_node);
  if (t->cpu_node == NULL) {
    *err = AR_ENOMEM;
    ar_numa_fail_("out of memory for the CPU map");
    ar_numa_topo_free_(t);
    return NULL;
  }
  for (int c = 0; c < t->ncpus; c++) t->cpu_node[c] = -1;
  for (int i = 0; i < n; i++) {
    hwloc_obj_t o = hwloc_get_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, (unsigned)i);
    if (o->os_index >= AR_NUMA_MAX_NODES) {
      ar_numa_fail_("NUMA node %u is beyond AR_NUMA_MAX_NODES (%d)", o->os_index,
                    AR_NUMA_MAX_NODES);
      ar_numa_topo_free_(t);
      return NULL;
    }
    int node = (int)o->os_index;
    t->nodeset[node] = o->nodeset;
    /* A synthetic or XML topology describes another machine: take its nodes as they are. */
    t->has_memory[node] = !t->thissystem || o->attr->numanode.local_memory > 0;
    int cpu;
    hwloc_bitmap_foreach_begin(cpu, o->cpuset) {
      if (cpu < t->ncpus && t->cpu_node[cpu] < 0) t->cpu_node[cpu] = node;
      t->node_cpus[node]++;
    }
    hwloc_bitmap_foreach_end();
  }
  for (int node = 0; node < AR_NUMA_MAX_NODES; node++)
    if (t->nodeset[node] != NULL) t->nodes[t->nnodes++] = node;
  redirect_memoryless(t);
  t->gen = ar_fetch_add_relaxed(&next_gen, 1); /* relaxed: uniqueness only */
  *err = AR_OK;
  return t;
}

ar_numa_topo_t *ar_numa_topo_publish_(ar_numa_topo_t *t) {
  ar_numa_view_t *v = &ar_numa_view_;
  ar_numa_topo_t *old = ar_load_relaxed(&v->topo); /* relaxed: only writers, under the mutex */
  ar_rcu_assign(&v->topo, t);
  /* release: a thread that sees the new generation and misses its cache finds `t` (or a
   * later snapshot) in v->topo */
  ar_store_release(&v->gen, t != NULL ? t->gen : 0);
  return old;
}

/* ---- public: the map ------------------------------------------------------------------- */

int ar_numa_node_count(void) {
  int n = 0;
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
  if (t != NULL) n = t->nnodes;
  ar_rcu_read_end();
  return n;
}

int ar_numa_nodes(int *nodes, int max) {
  if (nodes == NULL && max > 0) {
    ar_set_error_(AR_EINVAL);
    return -1;
  }
  int n = -1;
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
  if (t != NULL) {
    n = t->nnodes;
    for (int i = 0; i < n && i < max; i++) nodes[i] = t->nodes[i];
  }
  ar_rcu_read_end();
  if (n < 0) ar_set_error_(AR_EINVAL);
  return n;
}

int ar_numa_node_of_cpu(int cpu) {
  int node = -1;
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
  if (t != NULL) {
    if (cpu >= 0 && cpu < t->ncpus) node = t->cpu_node[cpu];
  }
  ar_rcu_read_end();
  if (node < 0) ar_set_error_(AR_EINVAL);
  return node;
}

int ar_numa_memory_node(int node) {
  int mem = -1;
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
  if (t != NULL) mem = ar_numa_memory_node_(t, node);
  ar_rcu_read_end();
  if (mem < 0) ar_set_error_(AR_EINVAL);
  return mem;
}

/* The calling thread's cached placement: a few slots, one per CPU it ran on recently (a
 * thread bouncing between two CPUs of a node does not miss every time). */
#define NODE_CACHE_SLOTS 8

typedef struct node_cache {
  uint64_t gen; /* 0: empty */
  int cpu;
  int node;
} node_cache_t;

static _Thread_local node_cache_t tls_node[NODE_CACHE_SLOTS];

static int current_cpu(void) { return tls_test_cpu >= 0 ? tls_test_cpu : sched_getcpu(); }

int ar_numa_thread_node_in_(ar_numa_topo_t *t) {
  int cpu = current_cpu();
  node_cache_t *c = &tls_node[(unsigned)cpu % NODE_CACHE_SLOTS];
  if (c->gen == t->gen && c->cpu == cpu) return c->node;
  int node = cpu >= 0 && cpu < t->ncpus ? t->cpu_node[cpu] : -1;
  /* A CPU outside the map (offline when we loaded, or sched_getcpu failed): the first node,
   * which always exists, rather than failing the allocation. */
  if (node < 0) node = t->nodes[0];
  c->gen = t->gen;
  c->cpu = cpu;
  c->node = node;
  return node;
}

int ar_numa_thread_node_(void) {
  int cpu = current_cpu();
  node_cache_t *c = &tls_node[(unsigned)cpu % NODE_CACHE_SLOTS];
  /* acquire: pairs with ar_numa_topo_publish_; on a match the cached node came from this very
   * snapshot */
  uint64_t gen = ar_load_acquire(&ar_numa_view_.gen);
  if (AR_LIKELY(gen != 0 && c->gen == gen && c->cpu == cpu)) return c->node;
  int node = -1;
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
  if (t != NULL) node = ar_numa_thread_node_in_(t);
  ar_rcu_read_end();
  return node;
}

int ar_numa_current_node(void) {
  int node = ar_numa_thread_node_();
  if (node < 0) ar_set_error_(AR_EINVAL);
  return node;
}
