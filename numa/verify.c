/* SPDX-License-Identifier: MIT */
/*
 * numa/verify.c - where an arena's pages really are.
 *
 * Binding is a request; the kernel decides. These calls ask it, page by page, through hwloc's
 * area memory location (move_pages(2) in query mode on Linux), and count resident pages per
 * node plus the pages that have no physical page yet (never touched). Page by page because
 * hwloc reports the union of nodes for an area, and a count is what a test or an operator
 * needs ("99.8% of this arena's pages are local"). It costs a system call per page, which is
 * fine for a diagnostic and is why nothing on an allocation path calls it.
 *
 * Serial arenas are walked through their chunk lists (runtime/arena_internal.h), so the
 * caller must own the arena; any ConcurrentArena through the runtime's chunk enumerator, which
 * must not race with allocation on it; per-node arenas through the chunk ledger their source
 * keeps, which any thread may copy at any time (so their check needs no quiescence).
 * Synthetic topologies describe another machine: their pages cannot be located (AR_EINVAL).
 */
#include <string.h>
#include <unistd.h>

#include "numa/numa_internal.h"
#include "runtime/arena_internal.h"

/* Adds the pages of [p, p + len) to *out. Inside an RCU section. */
static int count_area(ar_numa_topo_t *t, hwloc_nodeset_t ns, const void *p, size_t len,
                      ar_numa_pages_t *out) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t from = (uintptr_t)p & ~(uintptr_t)(page - 1);
  uintptr_t to = ar_align_up_((uintptr_t)p + len, page);
  for (uintptr_t a = from; a < to; a += page) {
    if (ar_numa_fault_(AR_NUMA_FAULT_LOCATE) ||
        hwloc_get_area_memlocation(t->topo, (const void *)a, page, ns, HWLOC_MEMBIND_BYNODESET) !=
            0) {
      ar_numa_fail_("hwloc_get_area_memlocation failed at %p", (void *)a);
      return AR_EINVAL;
    }
    out->pages++;
    int node = hwloc_bitmap_first(ns);
    if (node < 0) out->unplaced++;
    else if (node < AR_NUMA_MAX_NODES) out->on_node[node]++;
  }
  return AR_OK;
}

/* Counts the pages of every span, with the topology of the moment. */
static int count_spans(const ar_numa_span_t *spans, size_t n, ar_numa_pages_t *out) {
  if (out == NULL) return ar_set_error_(AR_EINVAL);
  memset(out, 0, sizeof *out);
  int rc = AR_OK;
  hwloc_nodeset_t ns = hwloc_bitmap_alloc();
  if (ns == NULL) return ar_set_error_(AR_ENOMEM);
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
  if (t == NULL) {
    ar_numa_fail_("NUMA placement is not initialised");
    rc = AR_EINVAL;
  } else {
    if (!t->thissystem) {
      ar_numa_fail_("the topology is synthetic: its pages cannot be located");
      rc = AR_EINVAL;
    }
    for (size_t i = 0; rc == AR_OK && i < n; i++)
      rc = count_area(t, ns, spans[i].p, spans[i].size, out);
  }
  ar_rcu_read_end();
  hwloc_bitmap_free(ns);
  return rc == AR_OK ? AR_OK : ar_set_error_((ar_error_t)rc);
}

int ar_numa_area_pages(const void *p, size_t len, ar_numa_pages_t *out) {
  if (p == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  ar_numa_span_t span = {(void *)(uintptr_t)p, len};
  return count_spans(&span, 1, out);
}

static size_t list_len(const ar_chunk_t *c) {
  size_t n = 0;
  for (; c != NULL; c = c->next) n++;
  return n;
}

static size_t list_copy(const ar_chunk_t *c, ar_numa_span_t *to) {
  size_t n = 0;
  for (; c != NULL; c = c->next) to[n++] = (ar_numa_span_t){c->base, c->size};
  return n;
}

int ar_numa_arena_pages(ar_arena_t *a, ar_numa_pages_t *out) {
  check_unleased_if(a);
  if (a == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  size_t n = list_len(a->chunks) + list_len(a->large) + list_len(a->spare);
  ar_numa_span_t *spans = (ar_numa_span_t *)malloc((n ? n : 1) * sizeof *spans);
  if (spans == NULL) return ar_set_error_(AR_ENOMEM);
  size_t k = list_copy(a->chunks, spans);
  k += list_copy(a->large, spans + k);
  k += list_copy(a->spare, spans + k);
  int rc = count_spans(spans, k, out);
  free(spans);
  return rc;
}

/* A growable list of spans, filled by ar_concurrent_foreach_chunk_. */
typedef struct span_list {
  ar_numa_span_t *v;
  size_t n, cap;
  bool oom;
} span_list_t;

static void add_span(void *base, size_t size, void *ctx) {
  span_list_t *l = (span_list_t *)ctx;
  if (l->oom) return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    ar_numa_span_t *v = (ar_numa_span_t *)realloc(l->v, cap * sizeof *v);
    if (v == NULL) {
      l->oom = true;
      return;
    }
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = (ar_numa_span_t){base, size};
}

int ar_numa_concurrent_pages(ar_concurrent_t *a, ar_numa_pages_t *out) {
  if (a == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  /* Copied first, counted after: the page queries (a system call each) then run with no
   * list walk in progress, and an allocation failure leaves nothing half counted. */
  span_list_t l = {NULL, 0, 0, false};
  ar_concurrent_foreach_chunk_(a, add_span, &l);
  int rc = l.oom ? (int)ar_set_error_(AR_ENOMEM) : count_spans(l.v, l.n, out);
  free(l.v);
  return rc;
}

int ar_numa_node_arena_pages(int node, ar_numa_pages_t *out) {
  if (out == NULL) return ar_set_error_(AR_EINVAL);
  if (ar_node_arena(node) == NULL) return ar_last_error();
  ar_numa_span_t *spans;
  size_t n;
  int rc = ar_numa_node_ledger_(node, &spans, &n);
  if (rc != AR_OK) return ar_set_error_((ar_error_t)rc);
  rc = count_spans(spans, n, out);
  free(spans);
  return rc;
}

double ar_numa_local_fraction(const ar_numa_pages_t *pages, int node) {
  if (pages == NULL || node < 0 || node >= AR_NUMA_MAX_NODES) return 0.0;
  size_t resident = pages->pages - pages->unplaced;
  return resident == 0 ? 1.0 : (double)pages->on_node[node] / (double)resident;
}
