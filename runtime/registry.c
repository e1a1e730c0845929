/* SPDX-License-Identifier: MIT */
/*
 * runtime/registry.c - the registry of live arenas and the process-wide counters.
 *
 * The registry is a singly linked list of nodes, newest first. Writers (arena creation and
 * destruction: rare) serialize on a ck spinlock, publish a node with a release store of the
 * pointer that links it, unlink with a release store that skips it, and hand the unlinked
 * node to the deferred reclaimer (rcu.c), which frees it after a grace period. Readers (stats,
 * foreach) run inside an RCU read section, load each link with acquire, and read only the
 * node's immutable fields and its relaxed atomic mirrors. A reader that sits on an unlinked
 * node still sees a valid `next` (unlinking never changes the unlinked node's own link) and
 * the node is not freed until it has left its read section. Read sections nest and never make
 * a writer wait (rcu.c), so a foreach callback may query, create and destroy arenas, even the
 * one whose entry it is looking at. The list lock is held across fork() by rcu.c's handlers
 * (ar_rcu_fork_hold_), after the reclaimer is stopped, so a child never inherits it held.
 *
 * Counters are relaxed atomics: each is an independent statistic, nothing is published through
 * them, and a snapshot that is a few operations stale is all a stats reader is promised. The
 * chunk counters move at every chunk acquire and release, from every thread (a ConcurrentArena
 * refills from all of its threads at once), so they are sharded: each thread adds to one of
 * AR_COUNTER_SHARDS cache lines, picked round-robin at its first chunk, and a reader sums them.
 *
 * Layering: the registry serves the arenas (and numa/'s per-node arenas) and calls only what
 * lies below them: rcu.c, clock.c, and the default chunk pool (chunkpool.c), whose count of
 * pooled chunks ar_stats_global reports. Nothing below the arenas calls the registry.
 */
#include <pthread.h>
#include <string.h>

#include "arenart/chunkpool.h"
#include "arenart/stats.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"
#include "runtime/sync.h"

typedef struct ar_reg_node {
  ar_rcu_head_t rcu; /* first: a node waiting for reclamation is reachable through its start */
  ar_atomic(struct ar_reg_node *) next;
  ar_atomic(int) kind; /* atomic: ar_registry_set_kind_ may change it while readers look */
  ar_atomic(int) node;
  uint64_t id;
  uint64_t created_ns;
  const void *arena;
  ar_atomic(size_t) capacity;
  char name[32];
} ar_reg_node_t;

static ar_atomic(ar_reg_node_t *) reg_head;
static ar_spinlock_t reg_lock = AR_SPINLOCK_INIT;
static pthread_once_t reg_fork_once = PTHREAD_ONCE_INIT;
static ar_atomic(uint64_t) reg_count;
static ar_atomic(uint64_t) next_id = 1;

static ar_atomic(uint64_t) g_created, g_destroyed, g_lifetime_sum;
#define AR_COUNTER_SHARDS 16
typedef struct __attribute__((aligned(64))) ar_chunk_counters {
  ar_atomic(uint64_t) bytes_acq, bytes_rel, chunks_acq, chunks_rel;
} ar_chunk_counters_t;
static ar_chunk_counters_t g_chunk[AR_COUNTER_SHARDS];
static ar_atomic(unsigned) g_next_shard;
/* This thread's shard + 1 (0: none yet). Initial-exec: no __tls_get_addr call per chunk. */
static __thread unsigned my_shard __attribute__((tls_model("initial-exec")));

/* ---- registry ------------------------------------------------------------------------ */

static void reg_node_free(ar_rcu_head_t *h) { free((ar_reg_node_t *)h); }

static void reg_fork_setup(void) { ar_rcu_fork_hold_(&reg_lock); }

ar_reg_node_t *ar_registry_add_(int kind, const void *arena, const char *name, int node) {
  ar_reg_node_t *r = (ar_reg_node_t *)calloc(1, sizeof *r);
  if (r == NULL) {
    ar_set_error_(AR_ENOMEM);
    return NULL;
  }
  ar_store_relaxed(&r->kind, kind); /* relaxed: published by the release store of the link */
  ar_store_relaxed(&r->node, node);
  r->arena = arena;
  r->id = ar_fetch_add_relaxed(&next_id, 1); /* relaxed: uniqueness is all we need */
  r->created_ns = ar_now_ns_();
  if (name != NULL) strncpy(r->name, name, sizeof r->name - 1);
  pthread_once(&reg_fork_once, reg_fork_setup); /* fork handlers hold reg_lock from now on */
  ar_spin_lock(&reg_lock);
  ar_store_relaxed(&r->next, ar_load_relaxed(&reg_head)); /* the lock orders writers */
  AR_STRESS_POINT();
  ar_store_release(&reg_head, r); /* release: readers that see r see its fields */
  ar_spin_unlock(&reg_lock);
  ar_fetch_add_relaxed(&reg_count, 1);
  return r;
}

void ar_registry_remove_(ar_reg_node_t *r) {
  if (r == NULL) return;
  ar_spin_lock(&reg_lock);
  ar_atomic(ar_reg_node_t *) *link = &reg_head;
  ar_reg_node_t *cur;
  while ((cur = ar_load_relaxed(link)) != NULL && cur != r) link = &cur->next;
  if (cur == r) {
    AR_STRESS_POINT();
    /* release: a reader that follows the new link sees the successor's initialized fields
     * (already published, but the chain of custody stays explicit). */
    ar_store_release(link, ar_load_relaxed(&r->next));
  }
  ar_spin_unlock(&reg_lock);
  if (cur != r) ar_fatal_("registry node %p not found on removal", (void *)r);
  ar_fetch_sub_relaxed(&reg_count, 1);
  /* Readers may still hold r. It is freed after a grace period by the reclaimer, never here:
   * waiting here would make every destroy (and thread exit, and pool trim) wait for the
   * slowest reader, and deadlock a destroy called from a foreach callback. */
  ar_rcu_defer_(&r->rcu, reg_node_free);
}

void ar_registry_set_kind_(const void *arena, int kind, int node) {
  ar_spin_lock(&reg_lock); /* writers only; holds the list still while we search it */
  for (ar_reg_node_t *r = ar_load_relaxed(&reg_head); r != NULL; r = ar_load_relaxed(&r->next)) {
    if (r->arena == arena) {
      ar_store_relaxed(&r->kind, kind); /* relaxed: see ar_registry_foreach */
      ar_store_relaxed(&r->node, node);
      break;
    }
  }
  ar_spin_unlock(&reg_lock);
}

void ar_registry_mirror_(ar_reg_node_t *r, size_t bytes) {
  if (r != NULL) ar_fetch_add_relaxed(&r->capacity, bytes);
}

int ar_registry_foreach(int (*fn)(const ar_arena_info_t *info, void *ctx), void *ctx) {
  if (fn == NULL) return -(int)ar_set_error_(AR_EINVAL);
  int rc = 0;
  uint64_t now = ar_now_ns_();
  ar_rcu_read_begin();
  for (ar_reg_node_t *r = ar_load_acquire(&reg_head); r != NULL; r = ar_load_acquire(&r->next)) {
    ar_arena_info_t info;
    /* relaxed: a retag is a label change; a reader may see the old or the new label */
    info.kind = (ar_arena_kind_t)ar_load_relaxed(&r->kind);
    info.id = r->id;
    info.name = r->name;
    info.age_ns = now > r->created_ns ? now - r->created_ns : 0;
    info.capacity = ar_load_relaxed(&r->capacity);
    info.node = ar_load_relaxed(&r->node);
    if ((rc = fn(&info, ctx)) != 0) break;
  }
  ar_rcu_read_end();
  return rc;
}

/* ---- counters ------------------------------------------------------------------------ */

void ar_global_arena_created_(void) { ar_fetch_add_relaxed(&g_created, 1); }

void ar_global_arena_destroyed_(uint64_t created_ns) {
  uint64_t now = ar_now_ns_();
  ar_fetch_add_relaxed(&g_lifetime_sum, now > created_ns ? now - created_ns : 0);
  ar_fetch_add_relaxed(&g_destroyed, 1);
}

static ar_chunk_counters_t *my_counters(void) {
  if (AR_UNLIKELY(my_shard == 0)) /* relaxed: any spread will do, nothing is published */
    my_shard = ar_fetch_add_relaxed(&g_next_shard, 1) % AR_COUNTER_SHARDS + 1;
  return &g_chunk[my_shard - 1];
}

void ar_global_chunk_acquired_(ar_reg_node_t *reg, size_t bytes) {
  ar_chunk_counters_t *g = my_counters();
  ar_fetch_add_relaxed(&g->bytes_acq, bytes);
  ar_fetch_add_relaxed(&g->chunks_acq, 1);
  if (reg != NULL) ar_fetch_add_relaxed(&reg->capacity, bytes);
}

void ar_global_chunk_released_(ar_reg_node_t *reg, size_t bytes) {
  ar_chunk_counters_t *g = my_counters();
  ar_fetch_add_relaxed(&g->bytes_rel, bytes);
  ar_fetch_add_relaxed(&g->chunks_rel, 1);
  if (reg != NULL) ar_fetch_sub_relaxed(&reg->capacity, bytes);
}

int ar_stats_global(ar_global_stats_t *out) {
  if (out == NULL) return ar_set_error_(AR_EINVAL);
  memset(out, 0, sizeof *out);
  /* Destroyed is read before created so live never underflows in a torn snapshot. */
  uint64_t destroyed = ar_load_relaxed(&g_destroyed);
  uint64_t lifetime = ar_load_relaxed(&g_lifetime_sum);
  out->arenas_created = ar_load_relaxed(&g_created);
  out->arenas_live = out->arenas_created > destroyed ? out->arenas_created - destroyed : 0;
  out->avg_lifetime_ns = destroyed ? lifetime / destroyed : 0;
  /* Releases before acquires, as destroyed before created above. */
  uint64_t rel = 0, crel = 0, acq = 0, cacq = 0;
  for (unsigned i = 0; i < AR_COUNTER_SHARDS; i++) {
    rel += ar_load_relaxed(&g_chunk[i].bytes_rel);
    crel += ar_load_relaxed(&g_chunk[i].chunks_rel);
  }
  for (unsigned i = 0; i < AR_COUNTER_SHARDS; i++) {
    acq += ar_load_relaxed(&g_chunk[i].bytes_acq);
    cacq += ar_load_relaxed(&g_chunk[i].chunks_acq);
  }
  out->bytes_released = rel;
  out->bytes_acquired = acq;
  out->chunks_in_use = cacq > crel ? cacq - crel : 0;
  ar_chunk_pool_stats_t ps;
  if (ar_chunk_pool_stats(ar_chunk_pool_default(), &ps) == AR_OK) out->chunks_pooled = ps.pooled;
  ar_rcu_read_begin();
  for (ar_reg_node_t *r = ar_load_acquire(&reg_head); r != NULL; r = ar_load_acquire(&r->next)) {
    out->registered++;
    out->registered_bytes += ar_load_relaxed(&r->capacity);
  }
  ar_rcu_read_end();
  return AR_OK;
}
