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
 * Thread contract: init, reload and shutdown serialize on `admin`; everything else is
 * lock-free and may run concurrently with them (see numa_internal.h for lifetimes).
 */
#include <errno.h>
#include <stddef.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arenart/stats.h"
#include "numa/numa_internal.h"

ar_numa_rt_t ar_numa_rt_;

static pthread_mutex_t admin = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t *ar_numa_admin_(void) { return &admin; }

/* Process-wide, so that a cache filled under one init can never match a later one. */
static ar_atomic(uint64_t) next_gen = 1;

/* ---- failure messages, test hooks ----------------------------------------------------- */

static _Thread_local char tls_failure[192];

void ar_numa_fail_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tls_failure, sizeof tls_failure, fmt, ap);
  va_end(ap);
}

const char *ar_numa_last_failure(void) { return tls_failure; }

/* Test controls: relaxed, because a test sets them before the operations it wants to affect
 * on the same thread, or does not care which concurrent operation a fault hits. */
static ar_atomic(unsigned) fault_mask;
static ar_atomic(int) fault_count;
static ar_atomic(uint64_t) test_clock;
static _Thread_local int tls_test_cpu = -1;

void ar_numa_test_fault_(unsigned mask, int count) {
  ar_store_relaxed(&fault_count, count);
  ar_store_relaxed(&fault_mask, mask);
}

bool ar_numa_fault_(unsigned kind) {
  if (AR_LIKELY((ar_load_relaxed(&fault_mask) & kind) == 0)) return false;
  int c = ar_load_relaxed(&fault_count);
  for (;;) {
    if (c < 0) return true;
    if (c == 0) return false;
    /* relaxed: the count is its own only datum */
    if (ar_cas_weak_relaxed(&fault_count, &c, c - 1)) return true;
  }
}

void ar_numa_test_set_cpu_(int cpu) { tls_test_cpu = cpu; }

void ar_numa_test_set_clock_(uint64_t ns) { ar_store_relaxed(&test_clock, ns); }

uint64_t ar_numa_now_(void) {
  uint64_t t = ar_load_relaxed(&test_clock);
  return t != 0 ? t : ar_now_ns_();
}

/* ---- snapshots -------------------------------------------------------------------------- */

static void topo_free(ar_numa_topo_t *t) {
  if (t == NULL) return;
  if (t->topo != NULL) hwloc_topology_destroy(t->topo);
  free(t->cpu_node);
  free(t);
}

static void topo_free_deferred(ar_rcu_head_t *head) {
  topo_free((ar_numa_topo_t *)(void *)((char *)head - offsetof(ar_numa_topo_t, rcu)));
}

/* A snapshot that publish() replaced: readers may still hold it, so it is freed after a grace
 * period by the reclaimer thread (sync.h), and the writer never waits for readers. Waiting
 * here instead would make reload/shutdown wait for every registry walk in progress, hold the
 * admin mutex meanwhile, and deadlock a walk's callback that calls either (or ar_numa_init). */
static void topo_retire(ar_numa_topo_t *old) {
  if (old != NULL) ar_rcu_defer_(&old->rcu, topo_free_deferred);
}

/* Loads a topology from this machine, a synthetic description or an XML file, and builds a
 * snapshot of it. NULL (with a failure message and *err) if hwloc refuses it. */

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
                                  HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) != 0 || nr == 0)
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

static ar_numa_topo_t *topo_load(const char *synthetic, const char *xml, ar_error_t *err) {
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
    topo_free(t);
    return NULL;
  }
  int rc = 0;
  if (synthetic != NULL) rc = hwloc_topology_set_synthetic(t->topo, synthetic);
  else if (xml != NULL) rc = hwloc_topology_set_xml(t->topo, xml);
  if (rc != 0) {
    ar_numa_fail_("hwloc rejected the %s topology '%s'", synthetic ? "synthetic" : "XML",
                  synthetic ? synthetic : xml);
    topo_free(t);
    return NULL;
  }
  if (hwloc_topology_load(t->topo) != 0) {
    ar_numa_fail_("hwloc_topology_load failed: %s", strerror(errno));
    topo_free(t);
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
    topo_free(t);
    return NULL;
  }
  t->ncpus = maxcpu + 1;
  t->cpu_node = (int *)malloc((size_t)t->ncpus * sizeof *t->cpu_node);
  if (t->cpu_node == NULL) {
    *err = AR_ENOMEM;
    ar_numa_fail_("out of memory for the CPU map");
    topo_free(t);
    return NULL;
  }
  for (int c = 0; c < t->ncpus; c++) t->cpu_node[c] = -1;
  for (int i = 0; i < n; i++) {
    hwloc_obj_t o = hwloc_get_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, (unsigned)i);
    if (o->os_index >= AR_NUMA_MAX_NODES) {
      ar_numa_fail_("NUMA node %u is beyond AR_NUMA_MAX_NODES (%d)", o->os_index,
                    AR_NUMA_MAX_NODES);
      topo_free(t);
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

/* Gives every node of `t` its state (pool and counters). Under the admin mutex. */
static ar_error_t prepare_nodes(const ar_numa_topo_t *t, size_t pool_chunks, bool reset) {
  for (int i = 0; i < t->nnodes; i++) {
    if (ar_numa_node_prepare_(t->nodes[i], pool_chunks, reset) == NULL) {
      ar_numa_fail_("out of memory for the pool of node %d", t->nodes[i]);
      return AR_ENOMEM;
    }
  }
  return AR_OK;
}

static char *dup_or_null(const char *s, bool *oom) {
  if (s == NULL) return NULL;
  char *d = strdup(s);
  if (d == NULL) *oom = true;
  return d;
}

/* Publishes snapshot `t` (NULL: none) and returns the one it replaces, which readers may still
 * hold until the next grace period. Under the admin mutex. */
static ar_numa_topo_t *publish(ar_numa_topo_t *t) {
  ar_numa_rt_t *rt = &ar_numa_rt_;
  ar_numa_topo_t *old = ar_load_relaxed(&rt->topo); /* relaxed: only writers, under the mutex */
  ar_rcu_assign(&rt->topo, t);
  /* release: a thread that sees the new generation and misses its cache finds `t` (or a
   * later snapshot) in rt->topo */
  ar_store_release(&rt->gen, t != NULL ? t->gen : 0);
  return old;
}

/* ---- public: lifecycle ------------------------------------------------------------------ */

void ar_numa_options_init(ar_numa_options_t *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  o->bind = AR_NUMA_BIND_PREFERRED;
  o->pool_chunks = 256;
  o->route_default = true;
}

int ar_numa_init(const ar_numa_options_t *opts) {
  ar_numa_options_t o; /* runtime/options.c reads the caller's struct by its size */
  ar_error_t unread = ar_numa_options_read_(opts, &o);
  tls_failure[0] = '\0';
  if (unread != AR_OK || (unsigned)o.bind > AR_NUMA_BIND_STRICT || o.pool_chunks == 0 ||
      o.pool_chunks > ((size_t)1 << 24) || (o.synthetic != NULL && o.xml != NULL)) {
    ar_numa_fail_("invalid NUMA options (size, bind mode, pool_chunks in 1..2^24, at most one "
                  "of synthetic and xml)");
    return ar_set_error_(AR_EINVAL);
  }
  ar_numa_rt_t *rt = &ar_numa_rt_;
  pthread_mutex_lock(&admin);
  if (ar_load_relaxed(&rt->active)) { /* relaxed: the mutex orders writers */
    pthread_mutex_unlock(&admin);
    ar_numa_fail_("NUMA placement is already initialised");
    return ar_set_error_(AR_EBUSY);
  }
  ar_error_t err = AR_ENOMEM;
  bool oom = false;
  char *syn = dup_or_null(o.synthetic, &oom);
  char *xml = dup_or_null(o.xml, &oom);
  ar_numa_topo_t *t = NULL;
  if (oom) {
    ar_numa_fail_("out of memory initialising NUMA placement");
    goto fail;
  }
  if ((t = topo_load(syn, xml, &err)) == NULL) goto fail;
  if ((err = prepare_nodes(t, o.pool_chunks, true)) != AR_OK) goto fail;
  free(rt->synthetic);
  free(rt->xml);
  rt->synthetic = syn;
  rt->xml = xml;
  rt->pool_chunks = o.pool_chunks;
  /* relaxed: published by the release store of `active` below */
  ar_store_relaxed(&rt->bind, (int)o.bind);
  ar_store_relaxed(&rt->decay_ns, o.decay_ns);
  ar_store_relaxed(&rt->decay_keep, o.decay_keep);
  ar_store_relaxed(&rt->next_decay_ns, ar_numa_now_() + o.decay_ns);
  topo_free(publish(t)); /* inactive: no snapshot was published, none is replaced */
  ar_store_release(&rt->active, true);
  if (o.route_default) ar_set_default_source_override_(ar_numa_routing_source_());
  pthread_mutex_unlock(&admin);
  return AR_OK;

fail:
  topo_free(t);
  free(syn);
  free(xml);
  pthread_mutex_unlock(&admin);
  return ar_set_error_(err);
}

bool ar_numa_active(void) { return ar_numa_on_(); }

int ar_numa_reload(const char *synthetic, const char *xml) {
  tls_failure[0] = '\0';
  if (synthetic != NULL && xml != NULL) {
    ar_numa_fail_("reload: give at most one of synthetic and xml");
    return ar_set_error_(AR_EINVAL);
  }
  ar_numa_rt_t *rt = &ar_numa_rt_;
  pthread_mutex_lock(&admin);
  if (!ar_load_relaxed(&rt->active)) { /* relaxed: the mutex orders writers */
    pthread_mutex_unlock(&admin);
    ar_numa_fail_("reload: NUMA placement is not initialised");
    return ar_set_error_(AR_EINVAL);
  }
  bool oom = false;
  bool replace = synthetic != NULL || xml != NULL;
  char *syn = rt->synthetic, *x = rt->xml;
  char *new_syn = NULL, *new_xml = NULL;
  if (replace) {
    syn = new_syn = dup_or_null(synthetic, &oom);
    x = new_xml = dup_or_null(xml, &oom);
  }
  ar_error_t err = AR_ENOMEM;
  ar_numa_topo_t *t = oom ? NULL : topo_load(syn, x, &err);
  if (t == NULL || (err = prepare_nodes(t, rt->pool_chunks, false)) != AR_OK) {
    topo_free(t);
    free(new_syn);
    free(new_xml);
    pthread_mutex_unlock(&admin);
    return ar_set_error_(err);
  }
  if (replace) {
    free(rt->synthetic);
    free(rt->xml);
    rt->synthetic = new_syn;
    rt->xml = new_xml;
  }
  topo_retire(publish(t));
  pthread_mutex_unlock(&admin);
  return AR_OK;
}

void ar_numa_shutdown(void) {
  ar_numa_rt_t *rt = &ar_numa_rt_;
  pthread_mutex_lock(&admin);
  if (!ar_load_relaxed(&rt->active)) { /* relaxed: the mutex orders writers */
    pthread_mutex_unlock(&admin);
    return;
  }
  /* Per-node arenas first, while their chunks can still go back to the node pools (the
   * caller guarantees quiescence on them). Relaxed loads and stores: node states and arenas
   * are written only under this mutex. */
  for (int node = 0; node < AR_NUMA_MAX_NODES; node++) {
    ar_numa_node_t *nd = ar_load_relaxed(&rt->nodes[node]);
    ar_concurrent_t *a = nd != NULL ? ar_load_relaxed(&nd->arena) : NULL;
    if (a == NULL) continue;
    ar_concurrent_destroy(a);
    ar_store_relaxed(&nd->arena, NULL);
  }
  ar_set_default_source_override_(NULL);
  ar_store_release(&rt->active, false);
  topo_retire(publish(NULL));
  /* Everything pooled goes back to the OS. A thread that saw `active` just before the store
   * above may still put a chunk into a pool; ar_trim() returns it later. */
  (void)ar_trim(0);
  pthread_mutex_unlock(&admin);
}

int ar_numa_set_bind(ar_numa_bind_t mode) {
  if ((unsigned)mode > AR_NUMA_BIND_STRICT || !ar_numa_on_()) {
    ar_numa_fail_("set_bind: bad mode, or NUMA placement is not initialised");
    return ar_set_error_(AR_EINVAL);
  }
  /* relaxed: the mode is read once per chunk mapping and guards no other data */
  ar_store_relaxed(&ar_numa_rt_.bind, (int)mode);
  return AR_OK;
}

/* ---- public: the map ------------------------------------------------------------------- */

int ar_numa_node_count(void) {
  int n = 0;
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_rt_.topo);
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
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_rt_.topo);
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
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_rt_.topo);
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
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_rt_.topo);
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
  /* acquire: pairs with publish(); on a match the cached node came from this very snapshot */
  uint64_t gen = ar_load_acquire(&ar_numa_rt_.gen);
  if (AR_LIKELY(gen != 0 && c->gen == gen && c->cpu == cpu)) return c->node;
  int node = -1;
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_rt_.topo);
  if (t != NULL) node = ar_numa_thread_node_in_(t);
  ar_rcu_read_end();
  return node;
}

int ar_numa_current_node(void) {
  int node = ar_numa_thread_node_();
  if (node < 0) ar_set_error_(AR_EINVAL);
  return node;
}
