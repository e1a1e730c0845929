/* SPDX-License-Identifier: MIT */
/*
 * tests/numa/numa_synthetic_test.c - NUMA placement on synthetic topologies of 2 and 4 nodes
 * (hwloc synthetic descriptions, and an hwloc XML file), on a machine that has one node.
 *
 * BINDING IS NOT EXERCISED HERE. A synthetic topology describes another machine, so no memory
 * can be bound to its nodes and no page can be located on them: the library knows this and
 * treats every binding attempt as failed (PREFERRED counts a fallback, STRICT refuses).
 * What these tests do check, as specified: the CPU-to-node map, which node's pool a thread's
 * chunks come from and go back to (threads are told which CPU to pretend to run on), local /
 * remote / fallback / refused counting, and reload (the map changes under running threads,
 * chunks placed before it still go home). Real binding and page location are checked on this
 * machine's own topology in numa_test.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <arenart.h>
#include <arenart/numa.h>

#include "tests/numa/numa_util.h"

/* 2 packages x 1 node x 2 cores: CPUs 0,1 on node 0 and 2,3 on node 1. */
#define TWO_NODES "pack:2 numa:1 core:2 pu:1"
/* 4 nodes of one CPU each: CPU i on node i. */
#define FOUR_NODES "pack:4 numa:1 core:1 pu:1"
/* The same 4 x 2 CPUs as the XML file: CPUs 2i, 2i+1 on node i. */
#define FOUR_NODES_XML "tests/numa/testdata/four_nodes.xml"

static int init_synthetic(const char *desc, const char *xml, ar_numa_bind_t mode) {
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.synthetic = desc;
  o.xml = xml;
  o.bind = mode;
  return ar_numa_init(&o);
}

static int teardown(void **state) {
  (void)state;
  ar_numa_test_fault_(0, 0);
  ar_numa_test_set_cpu_(-1);
  ar_numa_shutdown();
  return 0;
}

/* ---- the CPU-to-node map --------------------------------------------------------------------- */

static void test_map_two_nodes(void **state) {
  (void)state;
  assert_int_equal(init_synthetic(TWO_NODES, NULL, AR_NUMA_BIND_NONE), AR_OK);
  assert_int_equal(ar_numa_node_count(), 2);
  int nodes[2] = {-1, -1};
  assert_int_equal(ar_numa_nodes(nodes, 2), 2);
  assert_int_equal(nodes[0], 0);
  assert_int_equal(nodes[1], 1);
  assert_int_equal(ar_numa_nodes(nodes, 1), 2); /* the count even when it does not fit */
  const int want[4] = {0, 0, 1, 1};
  for (int cpu = 0; cpu < 4; cpu++) {
    assert_int_equal(ar_numa_node_of_cpu(cpu), want[cpu]);
    ar_numa_test_set_cpu_(cpu);
    assert_int_equal(ar_numa_current_node(), want[cpu]);
  }
  assert_int_equal(ar_numa_node_of_cpu(4), -1);
  ar_numa_test_set_cpu_(9); /* a CPU the topology does not know: the first node */
  assert_int_equal(ar_numa_current_node(), 0);
  ar_numa_node_stats_t s = node_stats(1);
  assert_int_equal(s.node, 1);
  assert_int_equal(s.cpus, 2);
  assert_int_equal(s.max_pooled, 256);
  assert_null(ar_numa_source(2));
}

static void test_map_four_nodes_xml(void **state) {
  (void)state;
  assert_int_equal(init_synthetic(NULL, FOUR_NODES_XML, AR_NUMA_BIND_NONE), AR_OK);
  assert_int_equal(ar_numa_node_count(), 4);
  for (int cpu = 0; cpu < 8; cpu++) assert_int_equal(ar_numa_node_of_cpu(cpu), cpu / 2);
  assert_int_equal(node_stats(3).cpus, 2);
  /* Pages cannot be located on a topology that is not this machine's. */
  ar_numa_pages_t pg;
  char byte = 1;
  assert_int_equal(ar_numa_area_pages(&byte, 1, &pg), AR_EINVAL);
  assert_true(strstr(ar_numa_last_failure(), "synthetic") != NULL);
  teardown(NULL);
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.xml = "tests/numa/testdata/no_such_file.xml";
  assert_int_equal(ar_numa_init(&o), AR_EINVAL);
}

/* ---- pool selection ---------------------------------------------------------------------------- */

/* Fills ~1 MiB of the calling thread's arena (routed to its node's pool) and exits. */
static void fill_thread_arena(void *arg) {
  (void)arg;
  ar_arena_t *a = ar_thread_arena();
  for (int i = 0; a != NULL && i < 256; i++) {
    char *p = (char *)ar_alloc(a, 4000);
    if (p != NULL) memset(p, 3, 4000);
  }
}

static void test_pool_selection(void **state) {
  (void)state;
  assert_int_equal(init_synthetic(TWO_NODES, NULL, AR_NUMA_BIND_PREFERRED), AR_OK);
  run_on_cpu(3, fill_thread_arena, NULL); /* a thread on node 1 */
  ar_numa_node_stats_t n0 = node_stats(0), n1 = node_stats(1);
  assert_true(n1.local >= 16);
  assert_int_equal(n1.local, n1.mapped);    /* a fresh pool: every chunk mapped for node 1 */
  assert_int_equal(n1.fallback, n1.mapped); /* synthetic: binding "fails", PREFERRED falls back */
  assert_int_equal(n0.local + n0.mapped + n0.remote, 0);
  assert_int_equal(n1.pooled, n1.mapped); /* the thread exited; its chunks went home */

  run_on_cpu(0, fill_thread_arena, NULL); /* node 0 maps its own; it never takes node 1's */
  n0 = node_stats(0);
  assert_true(n0.mapped >= 16);
  assert_int_equal(n0.pool_hits, 0);
  assert_int_equal(node_stats(1).pooled, n1.pooled);

  run_on_cpu(2, fill_thread_arena, NULL); /* node 1 again: served from its pool */
  ar_numa_node_stats_t again = node_stats(1);
  assert_true(again.pool_hits >= 16);
  assert_int_equal(again.mapped, n1.mapped);
}

/* A chunk placed for node 1 and released by a thread on node 0 goes back to node 1's pool. */
typedef struct handoff {
  void *chunk;
} handoff_t;

static void take_from_node1(void *arg) {
  handoff_t *h = (handoff_t *)arg;
  const ar_source_t *s = ar_numa_source(1);
  h->chunk = s != NULL ? s->acquire(s->ctx, AR_DEFAULT_CHUNK_SIZE) : NULL;
}

static void give_back(void *arg) {
  handoff_t *h = (handoff_t *)arg;
  const ar_source_t *s = ar_numa_source(0); /* any of our sources: the chunk knows its node */
  s->release(s->ctx, h->chunk, AR_DEFAULT_CHUNK_SIZE);
}

static void test_chunks_go_home(void **state) {
  (void)state;
  assert_int_equal(init_synthetic(TWO_NODES, NULL, AR_NUMA_BIND_PREFERRED), AR_OK);
  handoff_t h = {NULL};
  run_on_cpu(0, take_from_node1, &h); /* a node-0 thread takes node-1 memory: remote */
  assert_non_null(h.chunk);
  assert_int_equal(node_stats(1).remote, 1);
  assert_int_equal(node_stats(1).local, 0);
  run_on_cpu(1, give_back, &h); /* released by another node-0 thread */
  assert_int_equal(node_stats(1).pooled, 1);
  assert_int_equal(node_stats(0).pooled, 0);
  void *first = h.chunk;
  run_on_cpu(3, take_from_node1, &h); /* LIFO: the same chunk, now local */
  assert_ptr_equal(h.chunk, first);
  assert_int_equal(node_stats(1).local, 1);
  assert_int_equal(node_stats(1).pool_hits, 1);
  run_on_cpu(0, give_back, &h);
  assert_int_equal(node_stats(1).pooled, 1);
}

/* 64 pages from node 1's arena; *arg counts the successful allocations. */
static void node1_arena_alloc(void *arg) {
  int *ok = (int *)arg;
  ar_concurrent_t *ca = ar_node_arena(1);
  for (int i = 0; ca != NULL && i < 64; i++) *ok += ar_concurrent_alloc(ca, 4096) != NULL;
}

static void test_node_arena_remote_and_local(void **state) {
  (void)state;
  assert_int_equal(init_synthetic(TWO_NODES, NULL, AR_NUMA_BIND_PREFERRED), AR_OK);
  int ok = 0;
  run_on_cpu(0, node1_arena_alloc, &ok); /* node 0 refills node 1's arena: remote chunks */
  assert_int_equal(ok, 64);
  ar_numa_node_stats_t s = node_stats(1);
  assert_true(s.remote >= 4);
  assert_int_equal(s.local, 0);
  run_on_cpu(2, node1_arena_alloc, &ok); /* node 1 itself: local */
  assert_int_equal(ok, 128);
  assert_true(node_stats(1).local >= 4);
  assert_int_equal(node_stats(0).mapped, 0); /* node 0's pool never served node 1's arena */
  ar_numa_pages_t pg;
  assert_int_equal(ar_numa_node_arena_pages(1, &pg), AR_EINVAL); /* synthetic: not locatable */
}

/* Under NONE nothing is placed: chunks of node 1's arena handed to a node-0 thread land where
 * that thread touches them, so they are counted neither remote nor local for node 1 (they used
 * to be counted remote). */
static void test_none_counts_nothing_remote(void **state) {
  (void)state;
  assert_int_equal(init_synthetic(TWO_NODES, NULL, AR_NUMA_BIND_NONE), AR_OK);
  int ok = 0;
  run_on_cpu(0, node1_arena_alloc, &ok);
  assert_int_equal(ok, 64);
  ar_numa_node_stats_t s = node_stats(1);
  assert_true(s.unbound >= 4); /* the chunks were mapped, without a policy */
  assert_int_equal(s.remote, 0);
  assert_int_equal(s.local, 0);
  run_on_cpu(2, fill_thread_arena, NULL); /* a node-1 thread arena: not counted either */
  assert_int_equal(node_stats(1).local, 0);
  assert_int_equal(node_stats(1).located_bytes, 0); /* NONE locates nothing */
}

/* ---- fallback counting and strict refusal ------------------------------------------------------ */

static void test_fallback_and_strict(void **state) {
  (void)state;
  assert_int_equal(init_synthetic(TWO_NODES, NULL, AR_NUMA_BIND_PREFERRED), AR_OK);
  uint64_t binds = ar_numa_test_bind_calls_();
  size_t base_mapped = ar_numa_test_mapped_bytes_();
  ar_numa_test_set_cpu_(2);
  ar_options_t o;
  ar_options_init(&o);
  o.source = ar_numa_source(1);
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  for (int i = 0; i < 100; i++) assert_non_null(ar_alloc(a, 4000)); /* ~7 chunks */
  ar_numa_node_stats_t s = node_stats(1);
  assert_true(s.fallback >= 6);
  assert_int_equal(s.fallback, s.mapped); /* every fresh chunk fell back */
  assert_int_equal(s.unbound, 0);
  assert_int_equal(s.refused, 0);
  assert_true(strstr(ar_numa_last_failure(), "synthetic") != NULL);
  assert_int_equal(ar_numa_test_bind_calls_(), binds); /* hwloc was never asked to bind */

  assert_int_equal(ar_numa_set_bind(AR_NUMA_BIND_STRICT), AR_OK);
  ar_arena_t *b = ar_arena_create(&o);
  assert_non_null(b);
  assert_null(ar_alloc(b, 10));
  assert_int_equal(ar_last_error(), AR_ENOMEM);
  assert_true(strstr(ar_numa_last_failure(), "strict NUMA binding") != NULL);
  assert_int_equal(node_stats(1).refused, 1);
  assert_int_equal(ar_arena_check(b), AR_OK);
  ar_arena_destroy(b);
  ar_arena_destroy(a); /* unbound chunks: STRICT will not reuse them */
  b = ar_arena_create(&o);
  assert_null(ar_alloc(b, 10));
  assert_int_equal(node_stats(1).pool_hits, 0);
  ar_arena_destroy(b);
  ar_trim(0);
  assert_int_equal(ar_numa_test_mapped_bytes_(), base_mapped);
}

/* ---- reload ------------------------------------------------------------------------------------- */

static void test_reload(void **state) {
  (void)state;
  assert_int_equal(init_synthetic(TWO_NODES, NULL, AR_NUMA_BIND_PREFERRED), AR_OK);
  ar_numa_test_set_cpu_(3);
  assert_int_equal(ar_numa_current_node(), 1);
  /* A chunk placed for node 1 under the 2-node map... */
  ar_concurrent_t *ca = ar_concurrent_create(NULL); /* default source: routed */
  assert_non_null(ca);
  assert_non_null(ar_concurrent_alloc(ca, 64));
  assert_int_equal(node_stats(1).local, 1);

  assert_int_equal(ar_numa_reload(FOUR_NODES, NULL), AR_OK);
  assert_int_equal(ar_numa_node_count(), 4);
  /* ...the same thread, same CPU, now maps to node 3 at its next refill. */
  assert_int_equal(ar_numa_current_node(), 3);
  ar_concurrent_t *cb = ar_concurrent_create(NULL);
  assert_non_null(ar_concurrent_alloc(cb, 64));
  assert_int_equal(node_stats(3).local, 1);
  assert_int_equal(node_stats(3).cpus, 1);
  /* Chunks placed before the reload still go back to node 1. */
  ar_concurrent_destroy(ca);
  assert_int_equal(node_stats(1).pooled, 1);
  ar_concurrent_destroy(cb);
  assert_int_equal(node_stats(3).pooled, 1);

  /* A rejected topology leaves the current one in place. */
  assert_int_equal(ar_numa_reload("not a topology", NULL), AR_EINVAL);
  assert_int_equal(ar_numa_node_count(), 4);
  ar_numa_test_fault_(AR_NUMA_FAULT_TOPOLOGY, 1);
  assert_int_equal(ar_numa_reload(NULL, NULL), AR_EINVAL);
  assert_int_equal(ar_numa_node_count(), 4);
  assert_int_equal(ar_numa_current_node(), 3);

  /* Back to 2 nodes: nodes 2 and 3 leave the map but keep their pools and figures. */
  assert_int_equal(ar_numa_reload(TWO_NODES, NULL), AR_OK);
  assert_int_equal(ar_numa_current_node(), 1);
  ar_numa_node_stats_t s3 = node_stats(3);
  assert_int_equal(s3.node, 3);
  assert_int_equal(s3.cpus, 0);
  assert_int_equal(s3.pooled, 1);
  assert_null(ar_numa_source(3));
  /* Reload without arguments keeps the description. */
  assert_int_equal(ar_numa_reload(NULL, NULL), AR_OK);
  assert_int_equal(ar_numa_node_count(), 2);
  assert_int_equal(ar_numa_reload("x", "y"), AR_EINVAL);
}

int main(void) {
  printf("numa_synthetic_test: synthetic topologies; memory binding is NOT exercised here "
         "(see numa_test for real binding on this machine)\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_map_two_nodes, teardown),
      cmocka_unit_test_teardown(test_map_four_nodes_xml, teardown),
      cmocka_unit_test_teardown(test_pool_selection, teardown),
      cmocka_unit_test_teardown(test_chunks_go_home, teardown),
      cmocka_unit_test_teardown(test_node_arena_remote_and_local, teardown),
      cmocka_unit_test_teardown(test_none_counts_nothing_remote, teardown),
      cmocka_unit_test_teardown(test_fallback_and_strict, teardown),
      cmocka_unit_test_teardown(test_reload, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
