/* SPDX-License-Identifier: MIT */
/*
 * numa/placement.c - per-node chunk pools, node-bound memory, the sources arenas use, the
 * per-node arenas, counters and trimming.
 *
 * Every node has a chunk pool (runtime/chunkpool.c: a lock-free LIFO of free chunks whose
 * head carries a generation tag, so it is ABA-safe; hot chunks are reused first). A chunk
 * request for node N is served from N's pool with one CAS; on a miss we map fresh pages and,
 * before anything touches them, bind them under the runtime's mode. NONE skips binding.
 * PREFERRED and STRICT bind to N (or, for a node without memory, to the node that serves it)
 * with hwloc_set_area_membind() without HWLOC_MEMBIND_STRICT, which is a preferred policy
 * (hwloc 2.9 on Linux 6.1 sets MPOL_PREFERRED_MANY, get_mempolicy shows; with one node it acts
 * as MPOL_PREFERRED; "MPOL_PREFERRED" below means either), then populate every page and ask
 * move_pages(2) where each one landed.
 *
 * Why populate at acquisition: a binding is only a request that the kernel honours at fault
 * time, long after we could react. Measured on Linux 6.1 guests (tools/numa-vm.sh): pages
 * faulted in under MPOL_PREFERRED on a full node quietly land elsewhere (half of them, in the
 * exhaustion test), and under MPOL_BIND the fault on a full node invokes the OOM killer, which
 * kills the process instead of letting us return AR_ENOMEM. Faulting the pages in ourselves,
 * under MPOL_PREFERRED (which falls back instead of killing), turns both into facts we can
 * count or refuse: PREFERRED adds the misplaced bytes to spilled_bytes and keeps the chunk;
 * STRICT unmaps the chunk and fails the request unless every page is on the node, and then
 * re-binds it with MPOL_BIND (hwloc passes MPOL_MF_MOVE | MPOL_MF_STRICT: the kernel would
 * move a misplaced page, and fails only if such a move fails; none is misplaced by then). The
 * faults are the ones the arena's first writes would have taken anyway.
 * When binding itself fails, PREFERRED keeps the memory unbound and counts a fallback, STRICT
 * refuses. We map and unmap ourselves (mmap/munmap) rather than use hwloc_alloc_membind/
 * hwloc_free, so that freeing never depends on which topology (possibly a since-replaced one)
 * allocated.
 *
 * Where a chunk goes back: to the pool of the node it was placed for, whichever thread
 * releases it (threads migrate; per-node arenas are shared). The node is looked up in a
 * two-level page map keyed by the chunk's address (numa_internal.h), written when the chunk
 * is mapped and cleared whenever it leaves our hands: when we unmap it, and when a release
 * while NUMA is off hands it to the default pool or the OS. An entry therefore always
 * describes memory we mapped and still own, never a stale block whose address the kernel has
 * since reused: trusting a stale entry would file a foreign chunk under an old node and, worse,
 * let its old "strict" bit make unverified memory look verified to STRICT mode. A chunk with
 * no entry (not ours: the default pool's, the OS source's, or one whose entry could not be
 * recorded) is simply unmapped, and counts as unbound. Blocks of at least 64 KiB (chunks,
 * dedicated blocks) have entries; smaller ones (an arena with a small chunk_size on
 * ar_numa_source) cannot, since two of them may share an index, and are neither recorded nor
 * counted in mapped_bytes.
 *
 * Three kinds of source, all static objects so that arenas may copy them and outlive init:
 *   - the routing source, installed as the runtime's default source: places each chunk on
 *     the node the requesting thread runs on now (numa/topology.c caches it per thread);
 *   - ar_numa_source(node): places every chunk on `node`;
 *   - the per-node arenas' sources: as ar_numa_source, plus a ledger of the chunks the arena
 *     holds, for placement verification.
 * A pool hit and a release into a pool take no lock and enter no RCU section: the node states
 * and the page map live as long as the process (numa_internal.h), and only the topology
 * snapshot, needed to bind fresh memory, is read under RCU. When NUMA is not active (after
 * ar_numa_shutdown), the sources behave like the runtime's default source, whose chunks are
 * mmap'd exactly like ours, so a chunk of either origin can be released through either.
 *
 * Counters are relaxed atomics (statistics; nothing is published through them).
 *
 * Placement owns the runtime state of //numa (`ar_numa_rt_`: whether NUMA is active, the node
 * states, the binding mode, idle decay, the page map), which numa/lifecycle.c sets up and tears
 * down under its admin mutex. Of //numa it calls only numa/topology.c (the snapshot, a thread's
 * node) and numa/hooks.c, both below it, and never calls back up. The per-node arenas are created and
 * destroyed by lifecycle.c too (they are admin operations); their sources are here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arenart/stats.h"
#include "numa/numa_internal.h"

ar_numa_rt_t ar_numa_rt_;

/* Test figures: relaxed like the counters. mapped_bytes counts the blocks with a page-map
 * entry, from the entry's creation to its removal, so it moves only for memory we own. */
static ar_atomic(size_t) mapped_bytes;
static ar_atomic(uint64_t) bind_calls;

size_t ar_numa_test_mapped_bytes_(void) { return ar_load_relaxed(&mapped_bytes); }
uint64_t ar_numa_test_bind_calls_(void) { return ar_load_relaxed(&bind_calls); }

/* ---- the page map ---------------------------------------------------------------------- */

static ar_atomic(uint8_t) *pm_slot(const void *p, bool create) {
  ar_numa_rt_t *rt = &ar_numa_rt_;
  uintptr_t idx = (uintptr_t)p >> AR_PM_SHIFT;
  uintptr_t top = idx >> AR_PM_LEAF_BITS;
  if (top >= ((uintptr_t)1 << AR_PM_TOP_BITS)) return NULL; /* beyond 47-bit addresses */
  /* acquire: pairs with the CAS that installed the (zeroed) leaf */
  ar_atomic(uint8_t) *leaf = ar_load_acquire(&rt->pagemap[top]);
  if (leaf == NULL) {
    if (!create) return NULL;
    ar_atomic(uint8_t) *fresh =
        (ar_atomic(uint8_t) *)calloc((size_t)1 << AR_PM_LEAF_BITS, sizeof *fresh);
    if (fresh == NULL) return NULL;
    ar_atomic(uint8_t) *expected = NULL;
    if (ar_cas_strong_acq_rel(&rt->pagemap[top], &expected, fresh)) {
      leaf = fresh;
    } else {
      free(fresh); /* another thread installed this leaf first */
      leaf = expected;
    }
  }
  return &leaf[idx & (((uintptr_t)1 << AR_PM_LEAF_BITS) - 1)];
}

/* An entry is node + 1 (0: unknown), plus PM_WEAK unless the chunk was mapped under STRICT
 * (populated, every page verified on the node, then bound with MPOL_BIND): a chunk mapped
 * under NONE, a PREFERRED fallback, and any PREFERRED chunk too, since its pages may have
 * spilled and are bound only preferably; STRICT mode never hands such a chunk out. Only blocks
 * of at least PM_MIN bytes have entries: two of them never share an index.
 * Entries are relaxed: an entry is written before its chunk is handed out and read when the
 * chunk comes back, and every hand-off of a chunk between threads already synchronizes (the
 * pool's release/acquire CAS, or the arena's own hand-off rules). */
#define PM_WEAK 0x80
#define PM_MIN ((size_t)1 << AR_PM_SHIFT)

/* Records a block we just mapped; false if its leaf could not be allocated (the block then
 * stays unknown: released, it is unmapped, and STRICT never reuses it). */
static bool pm_set(const void *p, int node, bool weak) {
  ar_atomic(uint8_t) *s = pm_slot(p, true);
  if (s != NULL) ar_store_relaxed(s, (uint8_t)((node + 1) | (weak ? PM_WEAK : 0)));
  return s != NULL;
}

/* The node chunk `p` was placed for, or -1. */
static int pm_get(const void *p) {
  ar_atomic(uint8_t) *s = pm_slot(p, false);
  return s != NULL ? (int)(ar_load_relaxed(s) & ~PM_WEAK) - 1 : -1;
}

/* Whether chunk `p` may not be handed out in STRICT mode: only a chunk we mapped under STRICT
 * (an entry without PM_WEAK) is known to have all its pages on its node. */
static bool pm_weak(const void *p) {
  ar_atomic(uint8_t) *s = pm_slot(p, false);
  uint8_t e = s != NULL ? ar_load_relaxed(s) : 0;
  return e == 0 || (e & PM_WEAK) != 0;
}

/* Whether block `p` is ours and was mapped under STRICT (so it carries MPOL_BIND). */
static bool pm_strict(const void *p) {
  ar_atomic(uint8_t) *s = pm_slot(p, false);
  uint8_t e = s != NULL ? ar_load_relaxed(s) : 0;
  return e != 0 && (e & PM_WEAK) == 0;
}

int ar_numa_test_chunk_node_(const void *chunk) { return pm_get(chunk); }

/* The block [p, p + size) leaves our hands (unmapped, or given to another owner): its entry
 * goes, and if it had one (we mapped it), its bytes leave mapped_bytes. Only the block's
 * owner calls this, so the load and the store need not be one atomic exchange. */
static void disown(const void *p, size_t size) {
  if (size < PM_MIN) return;
  ar_atomic(uint8_t) *s = pm_slot(p, false);
  if (s == NULL || ar_load_relaxed(s) == 0) return;
  ar_store_relaxed(s, 0);
  ar_fetch_sub_relaxed(&mapped_bytes, size);
}

/* ---- mapping and binding ---------------------------------------------------------------- */

static void unmap(void *p, size_t size) {
  disown(p, size);
  munmap(p, size);
}

static const char *mode_name(int mode) {
  return mode == AR_NUMA_BIND_STRICT      ? "strict"
         : mode == AR_NUMA_BIND_PREFERRED ? "preferred"
                                          : "none";
}

/* madvise(2)'s MADV_POPULATE_WRITE (Linux 5.14), for C libraries whose headers predate it. */
#define AR_MADV_POPULATE_WRITE 23

/* Faults in every page of [p, p + size) for writing, under the area's policy. MADV_POPULATE_WRITE
 * (Linux 5.14) does it in one call; older kernels reject it with EINVAL and we touch each page
 * (an anonymous private page is allocated by its first write). 0 or an errno. */
static int populate(void *p, size_t size) {
  if (ar_numa_fault_(AR_NUMA_FAULT_POPULATE)) return ENOMEM;
  for (;;) {
    if (madvise(p, size, AR_MADV_POPULATE_WRITE) == 0) return 0;
    if (errno == EINTR || errno == EAGAIN) continue;
    if (errno != EINVAL) return errno;
    break;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (size_t off = 0; off < size; off += page) ((volatile char *)p)[off] = 0;
  return 0;
}

/* How many pages of the populated [p, p + size) sit on a node other than `node`, asked of the
 * kernel with move_pages(2) in query mode (nodes NULL), in batches; a page the kernel cannot
 * place (status < 0) counts as elsewhere. -1 (errno set) if the call itself fails. */
static long pages_elsewhere(void *p, size_t size, int node) {
  enum { BATCH = 256 };
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t n = (size + page - 1) / page;
  long off = 0;
  void *addr[BATCH];
  int status[BATCH];
  for (size_t i = 0; i < n; i += BATCH) {
    size_t k = n - i < BATCH ? n - i : BATCH;
    for (size_t j = 0; j < k; j++) addr[j] = (char *)p + (i + j) * page;
    if (ar_numa_fault_(AR_NUMA_FAULT_LOCATE)) {
      errno = EIO;
      return -1;
    }
    if (syscall(SYS_move_pages, 0, (unsigned long)k, addr, NULL, status, 0) != 0) return -1;
    bool spill = ar_numa_fault_(AR_NUMA_FAULT_SPILL);
    for (size_t j = 0; j < k; j++) off += spill || status[j] != node;
  }
  return off;
}

/* Maps `size` bytes for node `nd` under the runtime's binding mode (see the essay above). NULL
 * on failure, with a failure message and the node's counters updated. The snapshot is read
 * under RCU. */
static void *map_for_node(ar_numa_node_t *nd, size_t size) {
  ar_numa_rt_t *rt = &ar_numa_rt_;
  void *p = NULL;
  if (!ar_numa_fault_(AR_NUMA_FAULT_MAP)) p = ar_oscache_map_(size); /* runtime/oscache.c */
  if (p == NULL) {
    ar_numa_fail_("mapping %zu bytes for node %d failed", size, nd->node);
    return NULL;
  }
  int mode = ar_load_relaxed(&rt->bind); /* relaxed: see ar_numa_set_bind */
  bool strict_grade = false; /* populated, every page verified on the node, bound MPOL_BIND */
  if (mode == AR_NUMA_BIND_NONE) {
    ar_fetch_add_relaxed(&nd->unbound, 1);
  } else {
    const char *why = NULL;
    char buf[160];
    int err = 0;
    bool unpopulated = false; /* populating failed: no memory anywhere */
    ar_rcu_read_begin();
    ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
    int target = t != NULL ? ar_numa_memory_node_(t, nd->node) : -1;
    if (ar_numa_fault_(AR_NUMA_FAULT_BIND)) {
      why = "injected fault";
      err = EIO;
    } else if (t == NULL) {
      why = "NUMA placement was shut down";
      err = ENODEV;
    } else if (!t->thissystem) {
      why = "the topology is synthetic, binding is not possible";
      err = ENOSYS;
    } else if (target < 0) {
      why = "the node is no longer in the topology, or no node has memory";
      err = ENODEV;
    } else if (hwloc_set_area_membind(t->topo, p, size, t->nodeset[target], HWLOC_MEMBIND_BIND,
                                      HWLOC_MEMBIND_BYNODESET) != 0) {
      /* BIND without HWLOC_MEMBIND_STRICT is MPOL_PREFERRED(_MANY): a fault never fails or kills
       * for want of memory on the node, it takes a page elsewhere. */
      err = errno;
      why = strerror(err);
    } else {
      ar_fetch_add_relaxed(&bind_calls, 1);
      int perr = populate(p, size);
      long off = perr == 0 ? pages_elsewhere(p, size, target) : -1;
      unpopulated = perr != 0;
      if (perr != 0 || off < 0) {
        err = perr != 0 ? perr : errno;
        snprintf(buf, sizeof buf, "%s the pages failed: %s", perr != 0 ? "populating" : "locating",
                 strerror(err));
        why = buf;
      } else {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        if (mode == AR_NUMA_BIND_STRICT) {
          if (off > 0) {
            err = ENOMEM;
            snprintf(buf, sizeof buf,
                     "node %d could not supply the memory (%ld of %zu pages "
                     "landed elsewhere)",
                     target, off, size / page);
            why = buf;
          } else if (ar_numa_fault_(AR_NUMA_FAULT_REBIND)) {
            err = EIO;
            why = "re-binding with MPOL_BIND failed (injected fault)";
          } else if (hwloc_set_area_membind(t->topo, p, size, t->nodeset[target],
                                            HWLOC_MEMBIND_BIND,
                                            HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT |
                                                HWLOC_MEMBIND_MIGRATE) != 0) {
            /* MPOL_BIND from now on. hwloc passes MPOL_MF_STRICT only with MIGRATE, as
             * MPOL_MF_MOVE | MPOL_MF_STRICT: the kernel would move a page found on another
             * node, and fails the call (EIO) only if such a move fails. Every page was just
             * found on the node, so nothing is expected to move; this is no second check. */
            err = errno;
            why = strerror(err);
          } else {
            strict_grade = true;
          }
        } else if (off > 0) {
          ar_numa_fail_("%ld of %zu pages for node %d landed on other nodes (the node is short "
                        "of memory); counted in spilled_bytes",
                        off, size / page, target);
        }
        /* Counted only for the memory we keep, after the last step that can refuse it: a block
         * STRICT refuses (pages elsewhere, or the MPOL_BIND re-bind failing) is given back
         * uncounted. */
        if (mode == AR_NUMA_BIND_PREFERRED || strict_grade) {
          if (target != nd->node) ar_fetch_add_relaxed(&nd->redirected, 1);
          ar_fetch_add_relaxed(&nd->located_bytes, size);
          ar_fetch_add_relaxed(&nd->spilled_bytes, (uint64_t)off * page);
        }
      }
    }
    ar_rcu_read_end();
    if (unpopulated) {
      /* Not even MPOL_PREFERRED found the pages: the machine is out of memory, and memory we
       * could not fault in now would fail its user later. */
      munmap(p, size); /* never recorded */
      if (mode == AR_NUMA_BIND_STRICT) ar_fetch_add_relaxed(&nd->refused, 1);
      ar_numa_fail_("%s NUMA placement of %zu bytes for node %d failed: %s", mode_name(mode), size,
                    nd->node, why);
      return NULL;
    }
    if (err != 0) {
      if (mode == AR_NUMA_BIND_STRICT) {
        munmap(p, size); /* never recorded */
        ar_fetch_add_relaxed(&nd->refused, 1);
        ar_numa_fail_("strict NUMA binding of %zu bytes to node %d failed: %s", size, nd->node,
                      why);
        return NULL;
      }
      ar_fetch_add_relaxed(&nd->fallback, 1);
      ar_numa_fail_("%s NUMA binding of %zu bytes to node %d failed (%s); using unbound memory",
                    mode_name(mode), size, nd->node, why);
    }
  }
  ar_fetch_add_relaxed(&nd->mapped, 1);
  /* The entry is 0 here: whoever last had this address cleared it when the block left us. */
  if (size >= PM_MIN && pm_set(p, nd->node, !strict_grade))
    ar_fetch_add_relaxed(&mapped_bytes, size);
  return p;
}

/* ---- node states ------------------------------------------------------------------------- */

/* The pools' backing source: only its release is used (trim, overflow, destroy). */
static void *backing_acquire(void *ctx, size_t size) {
  return map_for_node((ar_numa_node_t *)ctx, size);
}

static void backing_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  unmap(p, size);
}

ar_numa_node_t *ar_numa_node_prepare_(int node, size_t pool_chunks, bool reset) {
  ar_numa_rt_t *rt = &ar_numa_rt_;
  ar_numa_node_t *nd = ar_load_relaxed(&rt->nodes[node]); /* relaxed: under the mutex */
  bool fresh = nd == NULL;
  if (fresh) {
    nd = (ar_numa_node_t *)calloc(1, sizeof *nd);
    if (nd == NULL) return NULL;
    nd->node = node;
    nd->ledger_lock = (ar_spinlock_t)AR_SPINLOCK_INIT;
  }
  ar_chunk_pool_t *pool = ar_load_relaxed(&nd->pool); /* relaxed: under the mutex */
  ar_chunk_pool_stats_t ps;
  if (pool == NULL || (ar_chunk_pool_stats(pool, &ps) == AR_OK && ps.max_chunks != pool_chunks)) {
    ar_source_t backing = {backing_acquire, backing_release, nd, "numa-node"};
    ar_chunk_pool_t *np = ar_chunk_pool_create(AR_NUMA_CHUNK, pool_chunks, &backing);
    ar_numa_retired_t *r = pool != NULL ? (ar_numa_retired_t *)malloc(sizeof *r) : NULL;
    if (np == NULL || (pool != NULL && r == NULL)) {
      ar_chunk_pool_destroy(np);
      free(r);
      if (fresh) free(nd);
      return NULL;
    }
    if (r != NULL) { /* a late thread may still hold the old pool: keep it, trimmed */
      ar_chunk_pool_trim(pool, 0);
      r->pool = pool;
      r->next = ar_load_relaxed(&nd->retired); /* relaxed: pushed only under the mutex */
      ar_store_release(&nd->retired, r);       /* release: ar_trim walks it without the mutex */
    }
    ar_store_release(&nd->pool, np); /* release: users see an initialised pool */
  }
  if (reset || fresh) {
    /* A new runtime's figures start at zero (relaxed: statistics). */
    ar_atomic(uint64_t) *counters[] = {&nd->local,         &nd->remote,        &nd->fallback,
                                       &nd->refused,       &nd->unbound,       &nd->mapped,
                                       &nd->hits,          &nd->misses,        &nd->trimmed,
                                       &nd->located_bytes, &nd->spilled_bytes, &nd->redirected};
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
      ar_store_relaxed(counters[i], 0);
    ar_store_relaxed(&nd->last_get_ns, ar_numa_now_()); /* relaxed: a heuristic timestamp */
  }
  if (fresh) ar_store_release(&rt->nodes[node], nd); /* release: readers see it initialised */
  return nd;
}

/* ---- acquiring and releasing ------------------------------------------------------------- */

/* Idle decay, run from chunk traffic (no background thread): at most once per decay period,
 * the thread that wins the CAS on next_decay_ns trims the pools that served nothing for a
 * whole period. Relaxed throughout: the CAS only elects one trimmer, the timestamps are
 * heuristics, and the pools synchronize themselves. */
static void maybe_decay(void) {
  ar_numa_rt_t *rt = &ar_numa_rt_;
  uint64_t period = ar_load_relaxed(&rt->decay_ns);
  if (period == 0) return;
  uint64_t now = ar_numa_now_();
  uint64_t next = ar_load_relaxed(&rt->next_decay_ns);
  if (now < next || !ar_cas_weak_relaxed(&rt->next_decay_ns, &next, now + period)) return;
  size_t keep = ar_load_relaxed(&rt->decay_keep);
  for (int node = 0; node < AR_NUMA_MAX_NODES; node++) {
    ar_numa_node_t *nd = ar_numa_node_(node);
    if (nd == NULL) continue;
    uint64_t last = ar_load_relaxed(&nd->last_get_ns);
    if (now >= last && now - last >= period) {
      size_t n = ar_chunk_pool_trim(ar_load_acquire(&nd->pool), keep);
      ar_fetch_add_relaxed(&nd->trimmed, n);
    }
  }
}

/* A block of `size` bytes placed on node `nd` for a thread on node `requester`. */
static void *node_acquire(ar_numa_node_t *nd, size_t size, int requester) {
  ar_numa_rt_t *rt = &ar_numa_rt_;
  void *p = NULL;
  if (size == AR_NUMA_CHUNK) {
    ar_chunk_pool_t *pool = ar_load_acquire(&nd->pool); /* acquire: an initialised pool */
    p = ar_chunk_pool_get(pool);
    /* STRICT never hands out a chunk that was mapped unbound under a laxer mode (the mode is
     * read relaxed: see ar_numa_set_bind). */
    while (p != NULL && ar_load_relaxed(&rt->bind) == AR_NUMA_BIND_STRICT && pm_weak(p)) {
      unmap(p, size);
      ar_fetch_add_relaxed(&nd->trimmed, 1); /* a pooled chunk given back to the OS */
      p = ar_chunk_pool_get(pool);
    }
    if (p != NULL) {
      ar_fetch_add_relaxed(&nd->hits, 1);
      /* relaxed: a heuristic timestamp, read only by the decay check */
      if (ar_load_relaxed(&rt->decay_ns) != 0) ar_store_relaxed(&nd->last_get_ns, ar_numa_now_());
    } else {
      ar_fetch_add_relaxed(&nd->misses, 1);
    }
  }
  if (p == NULL) p = map_for_node(nd, size);
  /* Under NONE nothing is placed (the pages go wherever the user first touches them, normally
   * its own node), so a hand-out is neither local nor remote memory of this node. The mode is
   * read relaxed: see ar_numa_set_bind. */
  if (p != NULL && ar_load_relaxed(&rt->bind) != AR_NUMA_BIND_NONE)
    ar_fetch_add_relaxed(requester == nd->node ? &nd->local : &nd->remote, 1);
  maybe_decay();
  return p;
}

static void *fallback_acquire(size_t size) {
  const ar_source_t *s = size == AR_DEFAULT_CHUNK_SIZE
                             ? ar_chunk_pool_source(ar_chunk_pool_default())
                             : ar_source_os();
  return s->acquire(s->ctx, size);
}

/* NUMA is off: the block goes to the default pool or the OS, whoever mapped it. If it was
 * ours, its entry must go with it, or a later init would trust it for whatever block the
 * default pool or the kernel puts at that address. A block we mapped under STRICT carries
 * MPOL_BIND: in the default pool its next user could meet the OOM killer on a fault (after
 * a swap-out, or copy-on-write after fork()), so it is unmapped instead. */
static void fallback_release(void *p, size_t size) {
  if (size >= PM_MIN && pm_strict(p)) {
    unmap(p, size);
    return;
  }
  disown(p, size);
  const ar_source_t *s = size == AR_DEFAULT_CHUNK_SIZE
                             ? ar_chunk_pool_source(ar_chunk_pool_default())
                             : ar_source_os();
  s->release(s->ctx, p, size);
}

/* Release for every source of ours: back to the pool of the node the chunk was placed for. */
static void numa_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  if (!ar_numa_on_()) {
    fallback_release(p, size);
    return;
  }
  ar_numa_node_t *nd = size == AR_NUMA_CHUNK ? ar_numa_node_(pm_get(p)) : NULL;
  if (nd == NULL || !ar_chunk_pool_put(ar_load_acquire(&nd->pool), p)) unmap(p, size);
  maybe_decay();
}

static void *routing_acquire(void *ctx, size_t size) {
  (void)ctx;
  int node = ar_numa_on_() ? ar_numa_thread_node_() : -1;
  ar_numa_node_t *nd = ar_numa_node_(node); /* exists for every node of every topology */
  return nd != NULL ? node_acquire(nd, size, node) : fallback_acquire(size);
}

static const ar_source_t routing_source = {routing_acquire, numa_release, NULL, "numa"};

const ar_source_t *ar_numa_routing_source_(void) { return &routing_source; }

static const int node_ids[AR_NUMA_MAX_NODES] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};

/* The state of `node` if NUMA is active and the node was ever seen; NULL (failure recorded)
 * otherwise. */
ar_numa_node_t *ar_numa_node_state_(int node) {
  if (!ar_numa_on_()) {
    ar_numa_fail_("NUMA placement is not initialised");
    return NULL;
  }
  ar_numa_node_t *nd = ar_numa_node_(node);
  if (nd == NULL) ar_numa_fail_("node %d is not a NUMA node of this topology", node);
  return nd;
}

static void *fixed_acquire(void *ctx, size_t size) {
  int node = *(const int *)ctx;
  if (!ar_numa_on_()) return fallback_acquire(size);
  ar_numa_node_t *nd = ar_numa_node_state_(node);
  return nd != NULL ? node_acquire(nd, size, ar_numa_thread_node_()) : NULL;
}

#define SOURCE_ROW(i) \
  { fixed_acquire, numa_release, (void *)&node_ids[i], "numa-node" }
#define SOURCE_ROW8(i)                                                                       \
  SOURCE_ROW(i), SOURCE_ROW(i + 1), SOURCE_ROW(i + 2), SOURCE_ROW(i + 3), SOURCE_ROW(i + 4), \
      SOURCE_ROW(i + 5), SOURCE_ROW(i + 6), SOURCE_ROW(i + 7)
static const ar_source_t fixed_sources[AR_NUMA_MAX_NODES] = {
    SOURCE_ROW8(0),  SOURCE_ROW8(8),  SOURCE_ROW8(16), SOURCE_ROW8(24),
    SOURCE_ROW8(32), SOURCE_ROW8(40), SOURCE_ROW8(48), SOURCE_ROW8(56)};
#undef SOURCE_ROW

const ar_source_t *ar_numa_source(int node) {
  const ar_source_t *s = NULL;
  if (ar_numa_node_state_(node) != NULL) {
    ar_rcu_read_begin();
    ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
    if (t != NULL && t->nodeset[node] != NULL) s = &fixed_sources[node];
    ar_rcu_read_end();
    if (s == NULL) ar_numa_fail_("node %d is not in the current topology", node);
  }
  if (s == NULL) ar_set_error_(AR_EINVAL);
  return s;
}

/* ---- the per-node arenas' sources and their chunk ledgers ------------------------------ */

static bool ledger_add(ar_numa_node_t *nd, void *p, size_t size) {
  bool ok = true;
  ar_spin_lock(&nd->ledger_lock);
  if (nd->nledger == nd->cap_ledger) {
    size_t cap = nd->cap_ledger ? nd->cap_ledger * 2 : 64;
    ar_numa_span_t *l = (ar_numa_span_t *)realloc(nd->ledger, cap * sizeof *l);
    if (l == NULL) {
      ok = false;
    } else {
      nd->ledger = l;
      nd->cap_ledger = cap;
    }
  }
  if (ok) nd->ledger[nd->nledger++] = (ar_numa_span_t){p, size};
  ar_spin_unlock(&nd->ledger_lock);
  return ok;
}

static void ledger_remove(ar_numa_node_t *nd, void *p) {
  ar_spin_lock(&nd->ledger_lock);
  for (size_t i = 0; i < nd->nledger; i++) {
    if (nd->ledger[i].p == p) {
      nd->ledger[i] = nd->ledger[--nd->nledger];
      break;
    }
  }
  ar_spin_unlock(&nd->ledger_lock);
}

static void *ledger_acquire(void *ctx, size_t size) {
  int node = *(const int *)ctx;
  ar_numa_node_t *nd = ar_numa_node_state_(node);
  if (nd == NULL) return NULL;
  void *p = node_acquire(nd, size, ar_numa_thread_node_());
  if (p != NULL && !ledger_add(nd, p, size)) {
    numa_release(NULL, p, size); /* nothing leaks: the chunk goes back */
    ar_numa_fail_("out of memory for the chunk ledger of node %d", node);
    return NULL;
  }
  return p;
}

static void ledger_release(void *ctx, void *p, size_t size) {
  ar_numa_node_t *nd = ar_numa_node_(*(const int *)ctx);
  if (nd != NULL) ledger_remove(nd, p);
  numa_release(NULL, p, size);
}

#define SOURCE_ROW(i) \
  { ledger_acquire, ledger_release, (void *)&node_ids[i], "numa-node-arena" }
static const ar_source_t ledger_sources[AR_NUMA_MAX_NODES] = {
    SOURCE_ROW8(0),  SOURCE_ROW8(8),  SOURCE_ROW8(16), SOURCE_ROW8(24),
    SOURCE_ROW8(32), SOURCE_ROW8(40), SOURCE_ROW8(48), SOURCE_ROW8(56)};
#undef SOURCE_ROW
#undef SOURCE_ROW8

const ar_source_t *ar_numa_ledger_source_(int node) { return &ledger_sources[node]; }

int ar_numa_node_ledger_(int node, ar_numa_span_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  ar_numa_node_t *nd = ar_numa_node_state_(node);
  if (nd == NULL) return AR_EINVAL;
  int rc = AR_OK;
  ar_spin_lock(&nd->ledger_lock);
  if (nd->nledger > 0) {
    *out = (ar_numa_span_t *)malloc(nd->nledger * sizeof **out);
    if (*out == NULL) {
      rc = AR_ENOMEM;
    } else {
      memcpy(*out, nd->ledger, nd->nledger * sizeof **out);
      *n = nd->nledger;
    }
  }
  ar_spin_unlock(&nd->ledger_lock);
  return rc;
}

/* ---- stats and trimming ------------------------------------------------------------------ */

int ar_numa_stats(int node, ar_numa_node_stats_t *out) {
  if (out == NULL) return ar_set_error_(AR_EINVAL);
  ar_numa_node_t *nd = ar_numa_node_state_(node);
  if (nd == NULL) return ar_set_error_(AR_EINVAL);
  memset(out, 0, sizeof *out);
  out->node = node;
  ar_rcu_read_begin();
  ar_numa_topo_t *t = ar_rcu_deref(&ar_numa_view_.topo);
  out->cpus = t != NULL && t->nodeset[node] != NULL ? t->node_cpus[node] : 0;
  ar_rcu_read_end();
  out->local = ar_load_relaxed(&nd->local);
  out->remote = ar_load_relaxed(&nd->remote);
  out->fallback = ar_load_relaxed(&nd->fallback);
  out->refused = ar_load_relaxed(&nd->refused);
  out->unbound = ar_load_relaxed(&nd->unbound);
  out->mapped = ar_load_relaxed(&nd->mapped);
  out->pool_hits = ar_load_relaxed(&nd->hits);
  out->pool_misses = ar_load_relaxed(&nd->misses);
  out->trimmed = ar_load_relaxed(&nd->trimmed);
  out->located_bytes = ar_load_relaxed(&nd->located_bytes);
  out->spilled_bytes = ar_load_relaxed(&nd->spilled_bytes);
  out->redirected = ar_load_relaxed(&nd->redirected);
  ar_chunk_pool_stats_t ps;
  if (ar_chunk_pool_stats(ar_load_acquire(&nd->pool), &ps) == AR_OK) {
    out->pooled = ps.pooled;
    out->max_pooled = ps.max_chunks;
  }
  return AR_OK;
}

size_t ar_trim(size_t keep) {
  size_t n = 0;
  for (int node = 0; node < AR_NUMA_MAX_NODES; node++) {
    ar_numa_node_t *nd = ar_numa_node_(node);
    if (nd == NULL) continue;
    size_t k = ar_chunk_pool_trim(ar_load_acquire(&nd->pool), keep);
    ar_fetch_add_relaxed(&nd->trimmed, k);
    n += k;
    /* Retired pools keep nothing (a late thread may have put a chunk there). */
    for (ar_numa_retired_t *r = ar_load_acquire(&nd->retired); r != NULL; r = r->next)
      n += ar_chunk_pool_trim(r->pool, 0);
  }
  (void)ar_oscache_trim_(); /* the default arenas' given-back mappings (oscache.c) */
  return n + ar_chunk_pool_trim(ar_chunk_pool_default(), keep);
}
