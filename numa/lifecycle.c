/* SPDX-License-Identifier: MIT */
/*
 * numa/lifecycle.c - turning NUMA placement on and off: init, reload, shutdown, the binding
 * mode, and the per-node arenas.
 *
 * These are the admin operations of //numa. They are rare, may block (hwloc discovery, a
 * node's first arena) and change what every other file reads, so they serialize on one mutex,
 * owned here, and publish what they built with release stores that the lock-free readers
 * acquire: init loads a topology snapshot (topology.c), gives every node of it a state and a
 * pool (placement.c), stores the options, publishes the snapshot and then `active`, and only
 * then routes the runtime's default source through placement (runtime/defsource.c), so a
 * thread that finds the routing source finds everything it needs. Shutdown undoes it in the
 * reverse order and trims the pools; node states, pools and the page map stay (see
 * numa_internal.h for why), so a thread that saw `active` just before still works on valid
 * memory. Reload swaps in a new snapshot and gives new nodes their state; the old snapshot is
 * retired through RCU, never waited for (topology.c).
 *
 * This file sits above the rest of //numa: it calls topology.c, placement.c and hooks.c, the
 * runtime's default source and ConcurrentArenas (the per-node arenas are ordinary ones over
 * placement's ledger sources, listed in the registry as AR_KIND_NODE), and nothing of //numa
 * calls it except numa/verify.c, through the public ar_node_arena. The per-node arenas are
 * created here, on first request, rather than in placement, because creating one must not race
 * with a shutdown that destroys them all: both hold the admin mutex.
 */
#include <stdio.h>
#include <string.h>

#include "arenart/stats.h"
#include "numa/numa_internal.h"

/* Admin state: everything here is read and written only under `mu`. */
static struct {
  pthread_mutex_t mu;
  size_t pool_chunks; /* the pools' bound, kept for reload's new nodes */
  char *synthetic;    /* the topology source reload reuses when given none */
  char *xml;
} admin = {PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL};

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
  ar_numa_fail_clear_();
  if (unread == AR_OK && o.pool_chunks == 0) o.pool_chunks = 256; /* `= {0}` means defaults */
  if (unread != AR_OK || (unsigned)o.bind > AR_NUMA_BIND_STRICT ||
      o.pool_chunks > ((size_t)1 << 24) || (o.synthetic != NULL && o.xml != NULL)) {
    ar_numa_fail_("invalid NUMA options (size, bind mode, pool_chunks above 2^24, both "
                  "synthetic and xml)");
    return ar_set_error_(AR_EINVAL);
  }
  ar_numa_rt_t *rt = &ar_numa_rt_;
  pthread_mutex_lock(&admin.mu);
  if (ar_load_relaxed(&rt->active)) { /* relaxed: the mutex orders writers */
    pthread_mutex_unlock(&admin.mu);
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
  if ((t = ar_numa_topo_load_(syn, xml, &err)) == NULL) goto fail;
  if ((err = prepare_nodes(t, o.pool_chunks, true)) != AR_OK) goto fail;
  free(admin.synthetic);
  free(admin.xml);
  admin.synthetic = syn;
  admin.xml = xml;
  admin.pool_chunks = o.pool_chunks;
  /* relaxed: published by the release store of `active` below */
  ar_store_relaxed(&rt->bind, (int)o.bind);
  ar_store_relaxed(&rt->decay_ns, o.decay_ns);
  ar_store_relaxed(&rt->decay_keep, o.decay_keep);
  ar_store_relaxed(&rt->next_decay_ns, ar_numa_now_() + o.decay_ns);
  /* inactive: no snapshot was published, none is replaced */
  ar_numa_topo_free_(ar_numa_topo_publish_(t));
  ar_store_release(&rt->active, true);
  if (o.route_default) ar_set_default_source_override_(ar_numa_routing_source_());
  pthread_mutex_unlock(&admin.mu);
  return AR_OK;

fail:
  ar_numa_topo_free_(t);
  free(syn);
  free(xml);
  pthread_mutex_unlock(&admin.mu);
  return ar_set_error_(err);
}

bool ar_numa_active(void) { return ar_numa_on_(); }

int ar_numa_reload(const char *synthetic, const char *xml) {
  ar_numa_fail_clear_();
  if (synthetic != NULL && xml != NULL) {
    ar_numa_fail_("reload: give at most one of synthetic and xml");
    return ar_set_error_(AR_EINVAL);
  }
  ar_numa_rt_t *rt = &ar_numa_rt_;
  pthread_mutex_lock(&admin.mu);
  if (!ar_load_relaxed(&rt->active)) { /* relaxed: the mutex orders writers */
    pthread_mutex_unlock(&admin.mu);
    ar_numa_fail_("reload: NUMA placement is not initialised");
    return ar_set_error_(AR_EINVAL);
  }
  bool oom = false;
  bool replace = synthetic != NULL || xml != NULL;
  char *syn = admin.synthetic, *x = admin.xml;
  char *new_syn = NULL, *new_xml = NULL;
  if (replace) {
    syn = new_syn = dup_or_null(synthetic, &oom);
    x = new_xml = dup_or_null(xml, &oom);
  }
  ar_error_t err = AR_ENOMEM;
  ar_numa_topo_t *t = oom ? NULL : ar_numa_topo_load_(syn, x, &err);
  if (t == NULL || (err = prepare_nodes(t, admin.pool_chunks, false)) != AR_OK) {
    ar_numa_topo_free_(t);
    free(new_syn);
    free(new_xml);
    pthread_mutex_unlock(&admin.mu);
    return ar_set_error_(err);
  }
  if (replace) {
    free(admin.synthetic);
    free(admin.xml);
    admin.synthetic = new_syn;
    admin.xml = new_xml;
  }
  ar_numa_topo_retire_(ar_numa_topo_publish_(t));
  pthread_mutex_unlock(&admin.mu);
  return AR_OK;
}

void ar_numa_shutdown(void) {
  ar_numa_rt_t *rt = &ar_numa_rt_;
  pthread_mutex_lock(&admin.mu);
  if (!ar_load_relaxed(&rt->active)) { /* relaxed: the mutex orders writers */
    pthread_mutex_unlock(&admin.mu);
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
  ar_numa_topo_retire_(ar_numa_topo_publish_(NULL));
  /* Everything pooled goes back to the OS. A thread that saw `active` just before the store
   * above may still put a chunk into a pool; ar_trim() returns it later. */
  (void)ar_trim(0);
  pthread_mutex_unlock(&admin.mu);
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

/* ---- per-node arenas ---------------------------------------------------------------------- */

ar_concurrent_t *ar_node_arena(int node) {
  ar_numa_node_t *nd = ar_numa_node_state_(node);
  if (nd == NULL) {
    ar_set_error_(AR_EINVAL);
    return NULL;
  }
  ar_concurrent_t *a = ar_load_acquire(&nd->arena); /* acquire: pairs with the store below */
  if (a != NULL) return a;
  /* Slow path, once per node: create it under the admin mutex, which also keeps shutdown
   * away while we work. */
  pthread_mutex_lock(&admin.mu);
  if (!ar_load_relaxed(&ar_numa_rt_.active)) { /* relaxed: the mutex orders this with shutdown */
    pthread_mutex_unlock(&admin.mu);
    ar_numa_fail_("NUMA placement was shut down");
    ar_set_error_(AR_EINVAL);
    return NULL;
  }
  a = ar_load_relaxed(&nd->arena); /* relaxed: only ever written under the mutex */
  if (a == NULL) {
    char name[32];
    snprintf(name, sizeof name, "node-%d", node);
    ar_options_t o = AR_OPTIONS_INIT;
    o.name = name;
    o.source = ar_numa_ledger_source_(node);
    a = ar_concurrent_create(&o);
    if (a != NULL) {
      ar_registry_set_kind_(a, AR_KIND_NODE, node);
      ar_store_release(&nd->arena, a); /* release: other threads see an initialised arena */
    }
  }
  pthread_mutex_unlock(&admin.mu);
  return a;
}
