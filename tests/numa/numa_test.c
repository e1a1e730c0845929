/* SPDX-License-Identifier: MIT */
/*
 * tests/numa/numa_test.c - NUMA placement on this machine's real topology (one node on the
 * build machine; nothing here assumes a count): binding, verification of where pages landed,
 * strict mode, trimming with a resident-set measurement, idle decay, fault injection, and the
 * lifecycle (errors before init, shutdown with live arenas). Synthetic multi-node topologies
 * are in numa_synthetic_test.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sched.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <arenart.h>
#include <arenart/numa.h>

#include "runtime/internal.h" /* ar_oscache_bytes_ (a static link reaches it) */
#include "tests/child.h"
#include "tests/test_util.h"
#include "tests/numa/numa_util.h"

static int init_mode(ar_numa_bind_t mode) {
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.bind = mode;
  return ar_numa_init(&o);
}

static ar_arena_t *arena_on(int node) {
  ar_options_t o;
  ar_options_init(&o);
  o.source = ar_numa_source(node);
  return o.source != NULL ? ar_arena_create(&o) : NULL;
}

/* After every test, pass or fail: a failed assertion leaves NUMA initialised (and faults or a
 * pretend CPU set), and the next test's init would then fail with AR_EBUSY for no fault of its
 * own. */
static int teardown(void **state) {
  (void)state;
  ar_numa_test_fault_(0, 0);
  ar_numa_test_set_cpu_(-1);
  ar_numa_shutdown();
  return 0;
}

/* ---- lifecycle and errors ----------------------------------------------------------------- */

static void test_errors_before_init(void **state) {
  (void)state;
  assert_false(ar_numa_active());
  assert_int_equal(ar_numa_node_count(), 0);
  int nodes[4];
  assert_int_equal(ar_numa_nodes(nodes, 4), -1);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_int_equal(ar_numa_node_of_cpu(0), -1);
  assert_int_equal(ar_numa_current_node(), -1);
  assert_null(ar_numa_source(0));
  assert_null(ar_node_arena(0));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_numa_node_stats_t st;
  assert_int_equal(ar_numa_stats(0, &st), AR_EINVAL);
  assert_int_equal(ar_numa_set_bind(AR_NUMA_BIND_STRICT), AR_EINVAL);
  assert_int_equal(ar_numa_reload(NULL, NULL), AR_EINVAL);
  ar_numa_pages_t pg;
  char byte = 0;
  assert_int_equal(ar_numa_area_pages(&byte, 1, &pg), AR_EINVAL);
  assert_true(strstr(ar_numa_last_failure(), "not initialised") != NULL);
  (void)ar_trim(0);   /* works without init: trims the default pool only */
  ar_numa_shutdown(); /* no-op */

  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.bind = (ar_numa_bind_t)7;
  assert_int_equal(ar_numa_init(&o), AR_EINVAL);
  ar_numa_options_init(&o);
  o.pool_chunks = ((size_t)1 << 24) + 1;
  assert_int_equal(ar_numa_init(&o), AR_EINVAL);
  ar_numa_options_init(&o);
  o.synthetic = "pack:2 numa:1 pu:1";
  o.xml = "x.xml";
  assert_int_equal(ar_numa_init(&o), AR_EINVAL);
  ar_numa_options_init(&o);
  o.synthetic = "this is not a topology";
  assert_int_equal(ar_numa_init(&o), AR_EINVAL);
  assert_true(strstr(ar_numa_last_failure(), "rejected") != NULL);
  assert_false(ar_numa_active());
}

static void test_init_twice(void **state) {
  (void)state;
  assert_int_equal(ar_numa_init(NULL), AR_OK);
  assert_true(ar_numa_active());
  assert_int_equal(ar_numa_init(NULL), AR_EBUSY);
  int n = ar_numa_node_count();
  assert_true(n >= 1);
  int nodes[AR_NUMA_MAX_NODES];
  assert_int_equal(ar_numa_nodes(nodes, AR_NUMA_MAX_NODES), n);
  int me = ar_numa_current_node();
  assert_true(me >= 0);
  assert_int_equal(ar_numa_node_of_cpu(sched_getcpu()), me);
  assert_int_equal(ar_numa_node_of_cpu(-1), -1);
  assert_null(ar_numa_source(AR_NUMA_MAX_NODES));
  assert_null(ar_node_arena(-1));
  assert_int_equal(ar_numa_set_bind((ar_numa_bind_t)3), AR_EINVAL);
  ar_numa_shutdown();
  assert_false(ar_numa_active());
  ar_numa_shutdown();
}

/* ---- placement verification on this machine ------------------------------------------------ */

typedef struct placement {
  int node;
  ar_numa_pages_t pages;
  int rc;
} placement_t;

static void print_pages(const char *what, const ar_numa_pages_t *pg, int node) {
  size_t resident = pg->pages - pg->unplaced;
  printf("placement: %s: %zu pages, %zu resident, %zu not yet touched\n", what, pg->pages, resident,
         pg->unplaced);
  for (int n = 0; n < AR_NUMA_MAX_NODES; n++)
    if (pg->on_node[n] != 0)
      printf("placement:   node %d: %zu pages%s\n", n, pg->on_node[n], n == node ? " (local)" : "");
  printf("placement:   local fraction %.4f\n", ar_numa_local_fraction(pg, node));
}

static void print_stats(int node) {
  ar_numa_node_stats_t s = node_stats(node);
  printf("stats: node %d: cpus=%d local=%llu remote=%llu fallback=%llu refused=%llu "
         "unbound=%llu mapped=%llu pool_hits=%llu pool_misses=%llu pooled=%zu/%zu "
         "trimmed=%llu located=%llu spilled=%llu redirected=%llu\n",
         s.node, s.cpus, (unsigned long long)s.local, (unsigned long long)s.remote,
         (unsigned long long)s.fallback, (unsigned long long)s.refused,
         (unsigned long long)s.unbound, (unsigned long long)s.mapped,
         (unsigned long long)s.pool_hits, (unsigned long long)s.pool_misses, s.pooled, s.max_pooled,
         (unsigned long long)s.trimmed, (unsigned long long)s.located_bytes,
         (unsigned long long)s.spilled_bytes, (unsigned long long)s.redirected);
}

/* A worker thread fills 4 MiB of its thread arena and asks where the pages are. */
static void fill_thread_arena(void *arg) {
  placement_t *pl = (placement_t *)arg;
  pl->node = ar_numa_current_node();
  ar_arena_t *a = ar_thread_arena();
  if (a == NULL) return;
  for (int i = 0; i < 1024; i++) {
    char *p = (char *)ar_alloc(a, 4096);
    if (p == NULL) return;
    touch(p, i, 4096);
  }
  pl->rc = ar_numa_arena_pages(a, &pl->pages);
}

/* The first node of the topology that has memory and a CPU this process may run on, and that
 * CPU (a memory-less node's chunks live on another node: see ar_numa_memory_node). */
static int pick_node(int *cpu) {
  int nodes[AR_NUMA_MAX_NODES];
  int n = ar_numa_nodes(nodes, AR_NUMA_MAX_NODES);
  for (int i = 0; i < n && i < AR_NUMA_MAX_NODES; i++) {
    *cpu = cpu_of_node(nodes[i]);
    if (*cpu >= 0 && ar_numa_memory_node(nodes[i]) == nodes[i]) return nodes[i];
  }
  return -1;
}

static void test_thread_arena_placement(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  uint64_t binds = ar_numa_test_bind_calls_();
  int cpu = -1;
  int node = pick_node(&cpu);
  assert_true(node >= 0);
  placement_t pl;
  memset(&pl, 0, sizeof pl);
  pl.rc = -1;
  /* Pinned for the whole fill: on a multi-node machine a migration halfway would place the
   * later chunks on another node and break the locality check below. */
  assert_int_equal(run_pinned(cpu, fill_thread_arena, &pl), 0);
  assert_int_equal(pl.rc, AR_OK);
  assert_int_equal(pl.node, node);
  print_pages("thread arena, 4 MiB written, preferred", &pl.pages, pl.node);
  print_stats(pl.node);
  /* 4 MiB written = 1024 pages at least, and at least 99% of the resident ones local. */
  assert_true(pl.pages.pages - pl.pages.unplaced >= 1024);
  assert_true(ar_numa_local_fraction(&pl.pages, pl.node) >= 0.99);
  /* The chunks were really bound (this machine supports it) and counted as local. */
  assert_true(ar_numa_test_bind_calls_() > binds);
  ar_numa_node_stats_t s = node_stats(pl.node);
  assert_true(s.local >= 64);
  assert_int_equal(s.fallback, 0);
  assert_int_equal(s.refused, 0);
  /* The thread exited: its arena's chunks are back in the node's pool. */
  assert_true(s.pooled >= 64);
  ar_numa_shutdown();
}

/* numa.h: after ar_numa_init, a plain ar_arena_create() arena with the default source takes
 * its default-size chunks from the pool of the node its thread runs on, and gives them back
 * there. */
static void fill_plain_arena(void *arg) {
  int *ok = (int *)arg;
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL) return;
  for (int i = 0; i < 100; i++) { /* 100 KB of small blocks: two 64 KiB chunks */
    char *p = (char *)ar_alloc(a, 1000);
    if (p == NULL) return;
    memset(p, i, 1000);
  }
  ar_arena_destroy(a);
  *ok = 1;
}

static void test_plain_arena_routed(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int cpu = -1;
  int node = pick_node(&cpu);
  assert_true(node >= 0);
  ar_numa_node_stats_t s0 = node_stats(node);
  int ok = 0;
  assert_int_equal(run_pinned(cpu, fill_plain_arena, &ok), 0);
  assert_true(ok);
  ar_numa_node_stats_t s1 = node_stats(node);
  assert_true(s1.local >= s0.local + 2); /* two chunks placed for this node */
  assert_true(s1.pool_hits + s1.pool_misses >= s0.pool_hits + s0.pool_misses + 2);
  assert_true(s1.pooled >= 2); /* and back in its pool after destroy */
  ar_numa_shutdown();
}

static int find_node_arena(const ar_arena_info_t *info, void *ctx) {
  int *node = (int *)ctx;
  if (info->kind == AR_KIND_NODE && info->node == *node && strncmp(info->name, "node-", 5) == 0)
    return 1;
  return 0;
}

static void test_strict_node_arena(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_STRICT), AR_OK);
  /* Whatever node this unpinned thread is on; its memory comes from `mem` (itself unless it is
   * a memory-less node). */
  int node = ar_numa_current_node();
  int mem = ar_numa_memory_node(node);
  assert_true(mem >= 0);
  ar_concurrent_t *ca = ar_node_arena(node);
  assert_non_null(ca);
  assert_ptr_equal(ar_node_arena(node), ca); /* one per node */
  for (int i = 0; i < 512; i++) {
    char *p = (char *)ar_concurrent_alloc(ca, 4096);
    assert_non_null(p);
    memset(p, 0x5a, 4096);
  }
  ar_numa_pages_t pg;
  assert_int_equal(ar_numa_node_arena_pages(node, &pg), AR_OK);
  print_pages("per-node arena, 2 MiB written, strict", &pg, mem);
  assert_true(pg.pages - pg.unplaced >= 512);
  assert_true(ar_numa_local_fraction(&pg, mem) >= 0.99);
  ar_numa_node_stats_t s = node_stats(node);
  assert_int_equal(s.refused, 0);
  assert_int_equal(s.fallback, 0);
  assert_true(s.local + s.remote >= 8); /* remote if this thread migrated meanwhile */
  if (mem != node)
    assert_true(s.redirected >= 8); /* a memory-less node: every chunk came from `mem` */
  else assert_int_equal(s.redirected, 0);
  assert_int_equal(ar_registry_foreach(find_node_arena, &node), 1);

  /* A serial arena on the node through ar_numa_source, in strict mode too. */
  ar_arena_t *a = arena_on(node);
  assert_non_null(a);
  char *big = (char *)ar_alloc(a, 1 << 20); /* a dedicated, directly bound chunk */
  assert_non_null(big);
  memset(big, 1, 1 << 20);
  assert_int_equal(ar_numa_arena_pages(a, &pg), AR_OK);
  assert_true(ar_numa_local_fraction(&pg, mem) >= 0.99);
  assert_true(pg.on_node[mem] >= 256);
  ar_numa_test_fault_(AR_NUMA_FAULT_LOCATE, 1);
  assert_int_equal(ar_numa_arena_pages(a, &pg), AR_EINVAL);
  ar_numa_test_fault_(0, 0);
  ar_arena_destroy(a);
  ar_numa_shutdown();
  assert_int_equal(ar_registry_foreach(find_node_arena, &node), 0);
}

/* STRICT never receives a pooled chunk mapped under a laxer mode: a PREFERRED chunk's pages may
 * have spilled to another node and stay bound only preferably. Such chunks used to be handed
 * out as soon as their binding had succeeded. */
static void test_strict_skips_preferred_chunks(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int cpu = -1;
  int node = pick_node(&cpu);
  assert_true(node >= 0);
  ar_arena_t *a = arena_on(node);
  assert_non_null(a);
  for (int i = 0; i < 256; i++) assert_non_null(ar_alloc(a, 4000)); /* ~16 chunks */
  ar_arena_destroy(a);                                              /* they go to node's pool */
  ar_numa_node_stats_t before = node_stats(node);
  assert_true(before.pooled >= 15);

  assert_int_equal(ar_numa_set_bind(AR_NUMA_BIND_STRICT), AR_OK);
  a = arena_on(node);
  assert_non_null(a);
  assert_non_null(ar_alloc(a, 4000));
  ar_numa_node_stats_t after = node_stats(node);
  assert_int_equal(after.pool_hits, before.pool_hits); /* not one PREFERRED chunk reused */
  assert_int_equal(after.mapped, before.mapped + 1);   /* a fresh, strictly bound one */
  assert_int_equal(after.pooled, 0);                   /* the weak ones were unmapped */
  assert_int_equal(after.trimmed, before.trimmed + before.pooled); /* ...and counted */
  ar_arena_destroy(a); /* the strict chunk is pooled... */
  a = arena_on(node);
  assert_non_null(ar_alloc(a, 4000));
  assert_int_equal(node_stats(node).pool_hits, before.pool_hits + 1); /* ...and reused */
  ar_arena_destroy(a);
  ar_numa_shutdown();
}

/* Every chunk mapped under PREFERRED or STRICT is populated and located when it is mapped:
 * PREFERRED counts the bytes that landed on another node (spilled_bytes), STRICT refuses the
 * chunk (AR_ENOMEM; nothing leaks, the process lives). A full node is simulated with a fault
 * that makes the location check see every page elsewhere; tools/numa-vm.sh exhausts a real
 * node. */
static void test_spill_counted_strict_refused(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int cpu = -1;
  int node = pick_node(&cpu);
  assert_true(node >= 0);
  size_t base = ar_numa_test_mapped_bytes_();
  ar_arena_t *a = arena_on(node);
  assert_non_null(a);
  for (int i = 0; i < 64; i++) assert_non_null(ar_alloc(a, 4000)); /* ~4 chunks */
  ar_numa_node_stats_t s = node_stats(node);
  assert_int_equal(s.located_bytes, s.mapped * AR_DEFAULT_CHUNK_SIZE);
  assert_int_equal(s.spilled_bytes, 0); /* an idle node has room */
  ar_numa_pages_t pg;                   /* populated: every page of every chunk is resident */
  assert_int_equal(ar_numa_arena_pages(a, &pg), AR_OK);
  assert_int_equal(pg.unplaced, 0);

  ar_numa_test_fault_(AR_NUMA_FAULT_SPILL, 1);
  char *big = (char *)ar_alloc(a, 1 << 20); /* a dedicated block, located when mapped */
  assert_non_null(big);
  ar_numa_test_fault_(0, 0);
  s = node_stats(node);
  assert_int_equal(s.spilled_bytes, 1 << 20);
  assert_int_equal(s.fallback, 0); /* binding worked; the node was short of memory */
  assert_true(strstr(ar_numa_last_failure(), "spilled_bytes") != NULL);

  /* No memory anywhere (populating fails): the block is given back, AR_ENOMEM, even under
   * PREFERRED, and nothing is counted as a fallback. */
  size_t before_fail = ar_numa_test_mapped_bytes_();
  ar_numa_test_fault_(AR_NUMA_FAULT_POPULATE, 1);
  assert_null(ar_alloc(a, 1 << 20));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_true(strstr(ar_numa_last_failure(), "populating") != NULL);
  ar_numa_test_fault_(0, 0);
  assert_int_equal(node_stats(node).fallback, 0);
  assert_int_equal(ar_numa_test_mapped_bytes_(), before_fail);

  assert_int_equal(ar_numa_set_bind(AR_NUMA_BIND_STRICT), AR_OK);
  ar_arena_t *b = arena_on(node);
  assert_non_null(b);
  ar_numa_test_fault_(AR_NUMA_FAULT_SPILL, -1);
  assert_null(ar_alloc(b, 100));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_true(strstr(ar_numa_last_failure(), "could not supply") != NULL);
  assert_null(ar_alloc(b, 1 << 20));
  ar_numa_test_fault_(0, 0);
  assert_int_equal(node_stats(node).refused, 2);
  assert_int_equal(ar_arena_check(b), AR_OK);
  assert_non_null(ar_alloc(b, 100)); /* room again: served */
  /* Every page on the node, but the MPOL_BIND re-bind fails: refused too, and the block
   * counts neither as located nor as redirected, nor stays mapped. */
  ar_numa_node_stats_t r0 = node_stats(node);
  size_t mb = ar_numa_test_mapped_bytes_();
  ar_numa_test_fault_(AR_NUMA_FAULT_REBIND, 1);
  assert_null(ar_alloc(b, 1 << 20));
  ar_numa_test_fault_(0, 0);
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_true(strstr(ar_numa_last_failure(), "MPOL_BIND") != NULL);
  ar_numa_node_stats_t r1 = node_stats(node);
  assert_int_equal(r1.refused, r0.refused + 1);
  assert_int_equal(r1.located_bytes, r0.located_bytes);
  assert_int_equal(r1.redirected, r0.redirected);
  assert_int_equal(ar_numa_test_mapped_bytes_(), mb);
  ar_arena_destroy(b);
  ar_arena_destroy(a);
  ar_numa_shutdown();
  assert_int_equal(ar_numa_test_mapped_bytes_(), base); /* the refused chunks were unmapped */
}

/* ---- trimming ------------------------------------------------------------------------------ */

static void test_trim_rss(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int node = ar_numa_current_node();
  size_t base_mapped = ar_numa_test_mapped_bytes_();
  ar_arena_t *a = arena_on(node);
  assert_non_null(a);
  for (int i = 0; i < 16 * 1024; i++) { /* 16 MiB in 1 KiB blocks: ~260 chunks */
    char *p = (char *)ar_alloc(a, 1024);
    assert_non_null(p);
    memset(p, 7, 1024);
  }
  ar_arena_destroy(a); /* the chunks go to the node's pool (up to 256) and stay resident */
  ar_numa_node_stats_t s = node_stats(node);
  assert_true(s.pooled >= 200);
  size_t before = rss_bytes();
  size_t trimmed = ar_trim(0);
  size_t after = rss_bytes();
  printf("trim: %zu chunks trimmed; RSS %zu KiB -> %zu KiB\n", trimmed, before / 1024,
         after / 1024);
  assert_true(trimmed >= s.pooled);
  assert_int_equal(node_stats(node).pooled, 0);
  assert_true(node_stats(node).trimmed >= s.pooled);
  /* At least three quarters of the pooled bytes really left the process. */
  assert_true(before > after);
  assert_true(before - after >= s.pooled * AR_DEFAULT_CHUNK_SIZE * 3 / 4);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base_mapped);
  ar_numa_shutdown();
}

static void test_idle_decay(void **state) {
  (void)state;
  const uint64_t t0 = 1000000000u;
  ar_numa_test_set_clock_(t0);
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.decay_ns = 1000;
  o.decay_keep = 2;
  assert_int_equal(ar_numa_init(&o), AR_OK);
  int node = ar_numa_current_node();
  ar_arena_t *a = arena_on(node);
  assert_non_null(a);
  for (int i = 0; i < 80; i++) assert_non_null(ar_alloc(a, 15000)); /* ~20 chunks */
  ar_arena_destroy(a);
  size_t pooled = node_stats(node).pooled;
  assert_true(pooled >= 10);
  const ar_source_t *src = ar_numa_source(node);
  ar_numa_test_set_clock_(t0 + 500); /* within the period: no decay */
  void *c = src->acquire(src->ctx, AR_DEFAULT_CHUNK_SIZE);
  assert_non_null(c);
  src->release(src->ctx, c, AR_DEFAULT_CHUNK_SIZE);
  assert_int_equal(node_stats(node).pooled, pooled);
  c = src->acquire(src->ctx, AR_DEFAULT_CHUNK_SIZE); /* the pool was used at t0 + 500 */
  ar_numa_test_set_clock_(t0 + 5000);                /* then stays idle for 4500 ns */
  src->release(src->ctx, c, AR_DEFAULT_CHUNK_SIZE);  /* traffic that runs the decay check */
  ar_numa_node_stats_t s = node_stats(node);
  assert_int_equal(s.pooled, 2);
  assert_int_equal(s.trimmed, pooled - 2);
  ar_numa_shutdown();
  ar_numa_test_set_clock_(0);
}

/* ---- fault injection ------------------------------------------------------------------------ */

static void test_fault_bind(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int node = ar_numa_current_node();
  size_t base_mapped = ar_numa_test_mapped_bytes_();

  /* PREFERRED: binding fails, the chunk is kept unbound and the fallback counted. */
  ar_arena_t *a = arena_on(node);
  assert_non_null(a);
  ar_numa_test_fault_(AR_NUMA_FAULT_BIND, 1);
  assert_non_null(ar_alloc(a, 100));
  assert_int_equal(node_stats(node).fallback, 1);
  assert_true(strstr(ar_numa_last_failure(), "injected") != NULL);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a); /* its unbound chunk goes to the pool... */
  assert_int_equal(node_stats(node).pooled, 1);

  /* STRICT: binding fails, the allocation fails cleanly. */
  assert_int_equal(ar_numa_set_bind(AR_NUMA_BIND_STRICT), AR_OK);
  ar_numa_test_fault_(AR_NUMA_FAULT_BIND, -1);
  ar_arena_t *b = arena_on(node);
  assert_non_null(b);
  ar_clear_error();
  assert_null(ar_alloc(b, 100));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_true(strstr(ar_numa_last_failure(), "strict NUMA binding") != NULL);
  ar_numa_node_stats_t s = node_stats(node);
  assert_int_equal(s.refused, 1);
  /* ...and STRICT did not hand out that unbound pooled chunk: it was unmapped instead. */
  assert_int_equal(s.pooled, 0);
  assert_int_equal(s.pool_hits, 0);
  assert_int_equal(ar_arena_check(b), AR_OK);
  ar_stats_t as;
  assert_int_equal(ar_arena_stats(b, &as), AR_OK);
  assert_int_equal(as.capacity, 0);
  /* The per-node arena fails the same way and stays usable. */
  ar_concurrent_t *ca = ar_node_arena(node);
  assert_non_null(ca);
  assert_null(ar_concurrent_alloc(ca, 64));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  ar_numa_test_fault_(0, 0);
  assert_non_null(ar_alloc(b, 100));
  assert_non_null(ar_concurrent_alloc(ca, 64));
  assert_int_equal(node_stats(node).refused, 2);
  ar_arena_destroy(b);
  ar_concurrent_reset(ca);
  ar_trim(0);
  /* nothing leaked: the node arena's reset keeps its chunks up to retain_bytes (default 1 MiB),
   * still counted in its capacity; everything else went back */
  ar_stats_t cst;
  assert_int_equal(ar_concurrent_stats(ca, &cst), AR_OK);
  assert_int_equal(cst.used, 0);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base_mapped + cst.capacity);
  ar_numa_shutdown();
}

static void alloc_fails_enomem(void *arg) {
  int *ok = (int *)arg;
  ar_arena_t *a = ar_thread_arena();
  *ok = a != NULL && ar_alloc(a, 64) == NULL && ar_last_error() == AR_ENOMEM &&
        ar_arena_check(a) == AR_OK;
}

static void test_fault_map(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int node = ar_numa_current_node();
  ar_numa_test_fault_(AR_NUMA_FAULT_MAP, -1);
  ar_concurrent_t *ca = ar_node_arena(node);
  assert_non_null(ca);
  assert_null(ar_concurrent_alloc(ca, 64));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  int ok = 0;
  run_on_cpu(-1, alloc_fails_enomem, &ok); /* the routed default source fails the same way */
  assert_true(ok);
  assert_true(strstr(ar_numa_last_failure(), "mapping") != NULL);
  ar_numa_test_fault_(0, 0);
  assert_non_null(ar_concurrent_alloc(ca, 64));
  ar_numa_shutdown();
}

static void test_fault_topology(void **state) {
  (void)state;
  ar_numa_test_fault_(AR_NUMA_FAULT_TOPOLOGY, 1);
  assert_int_equal(ar_numa_init(NULL), AR_EINVAL);
  assert_false(ar_numa_active());
  assert_true(strstr(ar_numa_last_failure(), "discovery failed") != NULL);
  assert_int_equal(ar_numa_init(NULL), AR_OK);
  int n = ar_numa_node_count();
  ar_numa_test_fault_(AR_NUMA_FAULT_TOPOLOGY, 1);
  assert_int_equal(ar_numa_reload(NULL, NULL), AR_EINVAL);
  assert_int_equal(ar_numa_node_count(), n); /* the old topology stays */
  assert_int_equal(ar_numa_reload(NULL, NULL), AR_OK);
  assert_int_equal(ar_numa_node_count(), n);
  assert_true(ar_numa_current_node() >= 0);
  ar_numa_shutdown();
}

/* ---- any ConcurrentArena's pages ------------------------------------------------------------ */

typedef struct cfill {
  ar_concurrent_t *ca;
  int node;
  int ok;
} cfill_t;

/* Writes 2 MiB in 4 KiB pieces plus a 256 KiB dedicated chunk into `ca`. */
static int fill_concurrent(ar_concurrent_t *ca) {
  for (int i = 0; i < 512; i++) {
    char *p = (char *)ar_concurrent_alloc(ca, 4096);
    if (p == NULL) return 0;
    touch(p, i, 4096);
  }
  char *big = (char *)ar_concurrent_alloc(ca, 256 * 1024);
  if (big == NULL) return 0;
  touch(big, 3, 256 * 1024);
  return 1;
}

static void fill_concurrent_thread(void *arg) {
  cfill_t *f = (cfill_t *)arg;
  f->node = ar_numa_current_node();
  f->ok = fill_concurrent(f->ca);
}

static void test_concurrent_pages(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int cpu = -1;
  int node = pick_node(&cpu);
  assert_true(node >= 0);
  ar_numa_pages_t pg;

  /* A ConcurrentArena on the routed default source, filled by a thread pinned to `node`;
   * counted after the join (no allocation may race with the walk). */
  ar_concurrent_t *routed = ar_concurrent_create(NULL);
  assert_non_null(routed);
  cfill_t f = {routed, -1, 0};
  assert_int_equal(run_pinned(cpu, fill_concurrent_thread, &f), 0);
  assert_true(f.ok);
  assert_int_equal(f.node, node);
  assert_int_equal(ar_numa_concurrent_pages(routed, &pg), AR_OK);
  print_pages("ConcurrentArena on the routed default source, 2.25 MiB written", &pg, node);
  assert_true(pg.pages - pg.unplaced >= 512 + 64);
  assert_true(ar_numa_local_fraction(&pg, node) >= 0.99);

  /* One on ar_numa_source(node), filled from here. */
  ar_options_t o;
  ar_options_init(&o);
  o.source = ar_numa_source(node);
  assert_non_null(o.source);
  ar_concurrent_t *placed = ar_concurrent_create(&o);
  assert_non_null(placed);
  assert_int_equal(ar_numa_concurrent_pages(placed, &pg), AR_OK); /* no chunk yet */
  assert_int_equal(pg.pages, 0);
  assert_true(fill_concurrent(placed));
  assert_int_equal(ar_numa_concurrent_pages(placed, &pg), AR_OK);
  print_pages("ConcurrentArena on ar_numa_source, 2.25 MiB written", &pg, node);
  assert_true(pg.pages - pg.unplaced >= 512 + 64);
  assert_true(ar_numa_local_fraction(&pg, node) >= 0.99);
  assert_true(pg.on_node[node] >= 512 + 64);

  /* The per-node arena: the enumerator and the source's ledger see the same chunks. */
  ar_concurrent_t *na = ar_node_arena(node);
  assert_non_null(na);
  assert_true(fill_concurrent(na));
  ar_numa_pages_t by_ledger;
  assert_int_equal(ar_numa_concurrent_pages(na, &pg), AR_OK);
  assert_int_equal(ar_numa_node_arena_pages(node, &by_ledger), AR_OK);
  assert_int_equal(pg.pages, by_ledger.pages);
  assert_int_equal(pg.on_node[node], by_ledger.on_node[node]);
  assert_true(ar_numa_local_fraction(&pg, node) >= 0.99);

  /* Errors. */
  assert_int_equal(ar_numa_concurrent_pages(NULL, &pg), AR_EINVAL);
  assert_int_equal(ar_numa_concurrent_pages(placed, NULL), AR_EINVAL);
  ar_numa_test_fault_(AR_NUMA_FAULT_LOCATE, 1);
  assert_int_equal(ar_numa_concurrent_pages(placed, &pg), AR_EINVAL);
  assert_true(strstr(ar_numa_last_failure(), "hwloc_get_area_memlocation") != NULL);
  ar_numa_test_fault_(0, 0);
  ar_numa_shutdown();
  assert_int_equal(ar_numa_concurrent_pages(placed, &pg), AR_EINVAL); /* not initialised */
  assert_true(strstr(ar_numa_last_failure(), "not initialised") != NULL);
  ar_concurrent_destroy(placed);
  ar_concurrent_destroy(routed);
}

/* ---- page-map entries never outlive NUMA's ownership of a chunk ------------------------------ */

#define CHUNK AR_DEFAULT_CHUNK_SIZE

/* A chunk NUMA placed (and bound) leaves NUMA while it is off; the same address later holds a
 * block that NUMA never mapped, first through the default pool, then through the OS. After a
 * re-init in STRICT mode, releasing that block through a NUMA source must not file it under
 * the old node with the old "bound" bit (STRICT would hand it out as bound), nor take its
 * bytes off the mapped-bytes counter. */
static void test_stale_entry_after_reinit(void **state) {
  (void)state;
  /* 1. Via the default pool. */
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int node = ar_numa_current_node();
  const ar_source_t *src = ar_numa_source(node);
  assert_non_null(src);
  size_t mapped0 = ar_numa_test_mapped_bytes_();
  uint64_t binds = ar_numa_test_bind_calls_();
  void *c = src->acquire(src->ctx, CHUNK);
  assert_non_null(c);
  assert_true(ar_numa_test_bind_calls_() > binds); /* really bound: the entry says "bound" */
  assert_int_equal(ar_numa_test_chunk_node_(c), node);
  assert_int_equal(ar_numa_test_mapped_bytes_(), mapped0 + CHUNK);
  ar_numa_shutdown();
  src->release(src->ctx, c, CHUNK); /* NUMA off: to the default pool */
  assert_int_equal(ar_numa_test_chunk_node_(c), -1);
  assert_int_equal(ar_numa_test_mapped_bytes_(), mapped0);

  assert_int_equal(init_mode(AR_NUMA_BIND_STRICT), AR_OK);
  src = ar_numa_source(node);
  assert_non_null(src);
  size_t mapped1 = ar_numa_test_mapped_bytes_();
  void *g = ar_chunk_pool_get(ar_chunk_pool_default()); /* LIFO: the same chunk */
  assert_ptr_equal(g, c);
  memset(g, 1, CHUNK);
  src->release(src->ctx, g, CHUNK); /* not NUMA's: unmapped, not pooled */
  ar_numa_node_stats_t s = node_stats(node);
  assert_int_equal(s.pooled, 0);
  assert_int_equal(ar_numa_test_mapped_bytes_(), mapped1);
  ar_numa_shutdown();

  /* 2. Via the OS: the chunk goes to the default pool, which trims it, and a new mapping is
   * made at the very same address. */
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  src = ar_numa_source(node);
  assert_non_null(src);
  mapped0 = ar_numa_test_mapped_bytes_();
  c = src->acquire(src->ctx, CHUNK);
  assert_non_null(c);
  assert_int_equal(ar_numa_test_chunk_node_(c), node);
  ar_numa_shutdown();
  src->release(src->ctx, c, CHUNK);
  assert_int_equal(ar_numa_test_chunk_node_(c), -1);
  assert_int_equal(ar_numa_test_mapped_bytes_(), mapped0);
  assert_true(ar_trim(0) >= 1); /* the default pool gives it back to the OS */
  void *m = mmap(c, CHUNK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  assert_ptr_equal(m, c);
  memset(m, 2, CHUNK);

  assert_int_equal(init_mode(AR_NUMA_BIND_STRICT), AR_OK);
  src = ar_numa_source(node);
  assert_non_null(src);
  mapped1 = ar_numa_test_mapped_bytes_();
  assert_int_equal(ar_numa_test_chunk_node_(m), -1);
  src->release(src->ctx, m, CHUNK); /* not NUMA's: unmapped */
  s = node_stats(node);
  assert_int_equal(s.pooled, 0);
  assert_int_equal(ar_numa_test_mapped_bytes_(), mapped1);
  /* STRICT's next chunk is freshly mapped and bound, never the foreign block. */
  void *d = src->acquire(src->ctx, CHUNK);
  assert_non_null(d);
  s = node_stats(node);
  assert_int_equal(s.pool_hits, 0);
  assert_int_equal(s.mapped, 1);
  assert_int_equal(ar_numa_test_chunk_node_(d), node);
  src->release(src->ctx, d, CHUNK);
  assert_int_equal(node_stats(node).pooled, 1);
  ar_numa_shutdown();
  assert_int_equal(ar_numa_test_mapped_bytes_(), mapped0); /* shutdown trimmed it */
}

/* The mapped-bytes counter moves only for blocks NUMA mapped itself. */
/* A chunk mapped under STRICT carries MPOL_BIND: released after shutdown, it is unmapped
 * rather than handed to the process-wide pool, whose next user could meet the OOM killer on a
 * later fault in it. */
static void test_strict_chunk_not_to_default_pool(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_STRICT), AR_OK);
  int cpu = -1;
  int node = pick_node(&cpu);
  assert_true(node >= 0);
  const ar_source_t *src = ar_numa_source(node);
  assert_non_null(src);
  size_t mapped0 = ar_numa_test_mapped_bytes_();
  void *c = src->acquire(src->ctx, CHUNK);
  assert_non_null(c);
  assert_int_equal(ar_numa_test_mapped_bytes_(), mapped0 + CHUNK);
  ar_numa_shutdown();
  ar_chunk_pool_stats_t ps0, ps1;
  assert_int_equal(ar_chunk_pool_stats(ar_chunk_pool_default(), &ps0), AR_OK);
  src->release(src->ctx, c, CHUNK);
  assert_int_equal(ar_chunk_pool_stats(ar_chunk_pool_default(), &ps1), AR_OK);
  assert_int_equal(ps1.pooled, ps0.pooled); /* not pooled: unmapped */
  assert_int_equal(ar_numa_test_chunk_node_(c), -1);
  assert_int_equal(ar_numa_test_mapped_bytes_(), mapped0);
}

static void test_mapped_bytes_foreign(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int node = ar_numa_current_node();
  const ar_source_t *src = ar_numa_source(node);
  assert_non_null(src);
  const ar_source_t *os = ar_source_os();
  size_t base = ar_numa_test_mapped_bytes_();
  /* Foreign blocks released through a NUMA source are unmapped without touching it. */
  void *f = os->acquire(os->ctx, 1 << 20);
  assert_non_null(f);
  src->release(src->ctx, f, 1 << 20);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base);
  f = os->acquire(os->ctx, CHUNK);
  assert_non_null(f);
  src->release(src->ctx, f, CHUNK);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base);
  assert_int_equal(node_stats(node).pooled, 0);
  /* NUMA's own dedicated block counts while it lives. */
  void *big = src->acquire(src->ctx, 1 << 20);
  assert_non_null(big);
  assert_int_equal(ar_numa_test_chunk_node_(big), node);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base + (1 << 20));
  src->release(src->ctx, big, 1 << 20);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base);
  /* Blocks below 64 KiB (a small chunk_size) are bound but never recorded nor counted. */
  void *small = src->acquire(src->ctx, 4096);
  assert_non_null(small);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base);
  src->release(src->ctx, small, 4096);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base);
  /* A dedicated block that leaves while NUMA is off leaves the counter too. */
  big = src->acquire(src->ctx, 1 << 20);
  assert_non_null(big);
  ar_numa_shutdown();
  src->release(src->ctx, big, 1 << 20);
  assert_int_equal(ar_numa_test_chunk_node_(big), -1);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base);
}

/* ---- shutdown with arenas still holding placed chunks ---------------------------------------- */

static void thread_alloc(void *arg) {
  int *ok = (int *)arg;
  ar_arena_t *a = ar_thread_arena();
  *ok = a != NULL && ar_alloc(a, 1000) != NULL;
}

/* Chunks handed out, local or remote, over every node: an unpinned thread may run on any node
 * (and the main thread may migrate between two calls), so only the total is certain. */
static uint64_t handed_out_everywhere(void) {
  int nodes[AR_NUMA_MAX_NODES];
  int n = ar_numa_nodes(nodes, AR_NUMA_MAX_NODES);
  uint64_t sum = 0;
  for (int i = 0; i < n && i < AR_NUMA_MAX_NODES; i++) {
    ar_numa_node_stats_t s = node_stats(nodes[i]);
    sum += s.local + s.remote;
  }
  return sum;
}

static void test_shutdown_with_live_arena(void **state) {
  (void)state;
  assert_int_equal(init_mode(AR_NUMA_BIND_PREFERRED), AR_OK);
  int node = ar_numa_current_node();
  ar_arena_t *a = arena_on(node);
  assert_non_null(a);
  char *p = ar_strdup(a, "placed before shutdown");
  assert_non_null(p);
  int ok = 0;
  run_on_cpu(-1, thread_alloc, &ok); /* a routed thread arena, on whichever node it runs */
  assert_true(ok);
  assert_true(handed_out_everywhere() >= 2);
  ar_numa_shutdown();
  /* The arena's copied source keeps working (as the default source) and takes back the
   * chunks placed before shutdown. */
  for (int i = 0; i < 100; i++) assert_non_null(ar_alloc(a, 4000));
  assert_string_equal(p, "placed before shutdown");
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
  ok = 0;
  run_on_cpu(-1, thread_alloc, &ok); /* thread arenas use the default pool again */
  assert_true(ok);
  /* And NUMA can start again. */
  assert_int_equal(init_mode(AR_NUMA_BIND_NONE), AR_OK);
  a = arena_on(node);
  assert_non_null(ar_alloc(a, 10));
  assert_int_equal(node_stats(node).unbound, 1);
  ar_arena_destroy(a);
  ar_numa_shutdown();
}

/* ar_trim also empties the cache of mappings that default arenas gave back (numa.h). */
static void test_trim_empties_the_mapping_cache(void **state) {
  (void)state;
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  assert_non_null(ar_alloc(a, 1 << 20)); /* a dedicated chunk */
  ar_arena_destroy(a);
  assert_true(ar_oscache_bytes_() > 0);
  (void)ar_trim(0);
  assert_int_equal(ar_oscache_bytes_(), 0);
}

/* A ConcurrentArena keeps the choice made at its creation (concurrent.h, ar_concurrent_create):
 * one created before ar_numa_init still gives its dedicated chunks to the cache after it; one
 * created after, whose default source is the NUMA routing and not the pool, never does. */
static void test_concurrent_cache_choice_at_creation(void **state) {
  (void)state;
  if (AR_HEAP) skip(); /* no chunks */
  (void)ar_trim(0);
  ar_concurrent_t *before = ar_concurrent_create(NULL);
  assert_non_null(before);
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  assert_int_equal(ar_numa_init(&o), AR_OK);
  ar_concurrent_t *after = ar_concurrent_create(NULL);
  assert_non_null(after);
  assert_non_null(ar_concurrent_alloc(after, 256 * 1024 + 64)); /* dedicated */
  ar_concurrent_reset(after);
  assert_int_equal(ar_oscache_bytes_(), 0);
  assert_non_null(ar_concurrent_alloc(before, 256 * 1024 + 64));
  ar_concurrent_reset(before);
  assert_true(ar_oscache_bytes_() >= 256 * 1024);
  ar_concurrent_destroy(after);
  ar_concurrent_destroy(before);
  (void)ar_trim(0);
}

#if !AR_ASAN && !AR_TSAN /* their shadow memory does not live under an RLIMIT_AS */

static void node_map_tight_child(void *arg) {
  (void)arg;
  enum { N = 7 };
  ar_arena_t *a[N];
  for (int i = 0; i < N; i++) { /* 56 MiB into the cache of given-back mappings */
    a[i] = ar_arena_create(NULL);
    char *p = a[i] != NULL ? (char *)ar_alloc(a[i], 8 << 20) : NULL;
    if (p == NULL) _exit(3);
    memset(p, 1, 8 << 20);
  }
  for (int i = 0; i < N; i++) ar_arena_destroy(a[i]);
  if (ar_oscache_bytes_() < (48u << 20)) _exit(4);
  if (ar_numa_init(NULL) != AR_OK) _exit(5);
  struct rlimit rl = {test_vm_bytes(), RLIM_INFINITY};
  if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(6);
  ar_arena_t *b = arena_on(0); /* node memory, mapped by the placement layer */
  if (b == NULL || ar_alloc(b, 1 << 20) == NULL) _exit(7);
  _exit(0);
}

/* Node memory mapped under RLIMIT_AS empties the cache of given-back mappings and tries again
 * when the mapping fails (arena.h, ar_arena_create: the cache never makes arenart's own
 * mappings fail). */
static void test_node_memory_gives_the_cache_way(void **state) {
  (void)state;
  char err[4096];
  int status = child_run(node_map_tight_child, NULL, err, sizeof err);
  if (!child_exited(status, 0)) fail_msg("status %#x: %s", status, err);
}
#endif

static void pages_of_leased_child(void *arg) {
  (void)arg;
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL) _exit(3);
  ar_lease_t l = ar_lease_begin(a);
  if (ar_lease_alloc(&l, 64) == NULL) _exit(4);
  ar_numa_pages_t pg;
  (void)ar_numa_arena_pages(a, &pg);
  _exit(0);
}

/* lease.h: ar_numa_arena_pages names the arena, so on a leased one it aborts (NUMA or not). */
static void test_pages_of_a_leased_arena_abort(void **state) {
  (void)state;
  char err[4096];
  int status = child_run(pages_of_leased_child, NULL, err, sizeof err);
  assert_true(child_aborted(status));
  assert_non_null(strstr(err, "while a lease holds"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_errors_before_init, teardown),
    cmocka_unit_test(test_pages_of_a_leased_arena_abort),
    cmocka_unit_test(test_trim_empties_the_mapping_cache),
    cmocka_unit_test_teardown(test_concurrent_cache_choice_at_creation, teardown),
#if !AR_ASAN && !AR_TSAN
    cmocka_unit_test(test_node_memory_gives_the_cache_way),
#endif
    cmocka_unit_test_teardown(test_init_twice, teardown),
    cmocka_unit_test_teardown(test_thread_arena_placement, teardown),
    cmocka_unit_test_teardown(test_plain_arena_routed, teardown),
    cmocka_unit_test_teardown(test_strict_node_arena, teardown),
    cmocka_unit_test_teardown(test_strict_skips_preferred_chunks, teardown),
    cmocka_unit_test_teardown(test_spill_counted_strict_refused, teardown),
    cmocka_unit_test_teardown(test_trim_rss, teardown),
    cmocka_unit_test_teardown(test_idle_decay, teardown),
    cmocka_unit_test_teardown(test_fault_bind, teardown),
    cmocka_unit_test_teardown(test_fault_map, teardown),
    cmocka_unit_test_teardown(test_fault_topology, teardown),
    cmocka_unit_test_teardown(test_concurrent_pages, teardown),
    cmocka_unit_test_teardown(test_stale_entry_after_reinit, teardown),
    cmocka_unit_test_teardown(test_strict_chunk_not_to_default_pool, teardown),
    cmocka_unit_test_teardown(test_mapped_bytes_foreign, teardown),
    cmocka_unit_test_teardown(test_shutdown_with_live_arena, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
