/* SPDX-License-Identifier: MIT */
/*
 * tests/registry/registry_numa_test.c - NUMA calls made from inside an ar_registry_foreach
 * callback (stats.h, "Callbacks"), on a synthetic two-node topology.
 *
 * The NUMA queries and a node arena's refill open RCU read sections of their own; inside a
 * callback those nest in the walk's section and must not end it. ar_numa_reload and
 * ar_numa_shutdown replace the topology snapshot and hand the old one to the reclaimer thread
 * instead of waiting for a grace period (which inside a callback would wait for the walk
 * itself), so they return from a callback and the walk goes on. Handshakes as in
 * registry_test.c (tests/registry/stage.h): bounded waits that fail rather than hang.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <urcu-qsbr.h>

#include <arenart.h>
#include <arenart/numa.h>

#include "tests/child.h"
#include "tests/registry/stage.h"

/* The runtime's RCU internals (rcu.c); the test links the runtime statically. */
#include "runtime/sync.h"

#define TWO_NODES "pack:2 numa:1 core:2 pu:1"

static stage_t st; /* the parked reader and the test thread */

static int init_two_nodes(void) {
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.synthetic = TWO_NODES;
  o.bind = AR_NUMA_BIND_PREFERRED; /* binding is tried (and fails, synthetic): under RCU */
  return ar_numa_init(&o);
}

typedef struct numa_walk {
  ar_concurrent_t *node0;
  bool parked, timed_out, queries_ok, still_reading;
  char seen[32];
} numa_walk_t;

static int numa_cb(const ar_arena_info_t *info, void *ctx) {
  numa_walk_t *w = (numa_walk_t *)ctx;
  if (w->parked || strcmp(info->name, "numa-victim") != 0) return 0;
  w->parked = true;
  int nodes[4];
  ar_numa_node_stats_t ns;
  bool ok = ar_numa_node_count() == 2 && ar_numa_nodes(nodes, 4) == 2 &&
            ar_numa_node_of_cpu(2) == 1 && ar_numa_stats(0, &ns) == AR_OK &&
            ar_numa_source(1) != NULL;
  /* Refills: each allocation is larger than what the arena has left, so it takes a chunk from
   * the node pool (a miss maps and tries to bind one, under RCU). */
  for (int i = 0; ok && i < 4; i++) ok = ar_concurrent_alloc(w->node0, 40000) != NULL;
  ar_global_stats_t g;
  ok = ok && ar_stats_global(&g) == AR_OK;
  w->queries_ok = ok;
  /* Still inside the walk's section, and liburcu still counts this thread as a reader. */
  w->still_reading = ar_rcu_in_read_section_() && rcu_read_ongoing();
  stage_set(&st, 1);
  if (!stage_wait(&st, 2)) w->timed_out = true;
  snprintf(w->seen, sizeof w->seen, "%s", info->name);
  return 0;
}

static void *numa_reader(void *arg) {
  ar_registry_foreach(numa_cb, arg);
  return NULL;
}

static ar_concurrent_t *named(const char *name) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = name;
  ar_concurrent_t *c = ar_concurrent_create(&o);
  assert_non_null(c);
  return c;
}

/* The callback runs NUMA queries and node-arena refills, then parks; the test thread destroys
 * the arena whose entry it holds and creates fresh ones. Before nesting, the queries' read
 * sections ended the walk's, and the entry was freed under it. */
static void test_numa_calls_in_callback(void **state) {
  (void)state;
  assert_int_equal(init_two_nodes(), AR_OK);
  numa_walk_t w;
  memset(&w, 0, sizeof w);
  w.node0 = ar_node_arena(0);
  assert_non_null(w.node0);
  ar_concurrent_t *older = named("numa-older");
  ar_concurrent_t *victim = named("numa-victim");
  stage_init(&st);
  pthread_t r;
  assert_int_equal(pthread_create(&r, NULL, numa_reader, &w), 0);
  bool parked = stage_wait(&st, 1);
  uint64_t pending = ar_rcu_pending_();
  ar_concurrent_destroy(victim);
  /* Give a wrongly finished grace period time to free the entry (up to 0.5 s). */
  for (int i = 0; i < 50 && ar_rcu_pending_() > pending; i++) usleep(10000);
  ar_concurrent_t *fresh[8];
  for (int i = 0; i < 8; i++) fresh[i] = named("numa-overwrite");
  stage_set(&st, 2);
  pthread_join(r, NULL);
  stage_fini(&st);
  for (int i = 0; i < 8; i++) ar_concurrent_destroy(fresh[i]);
  ar_concurrent_destroy(older);
  ar_numa_shutdown();
  assert_true(parked);
  assert_true(w.queries_ok);
  assert_true(w.still_reading);
  assert_false(w.timed_out);
  assert_string_equal(w.seen, "numa-victim");
}

static int reload_cb(const ar_arena_info_t *info, void *ctx) {
  int *calls = (int *)ctx;
  (void)info;
  if (++*calls == 1) { /* the first entry: reload, then shut down, then start again */
    if (ar_numa_reload(NULL, NULL) != AR_OK) _exit(4);
    ar_numa_shutdown();
    if (init_two_nodes() != AR_OK) _exit(5);
  }
  return 0; /* and visit the rest */
}

static void reload_in_walk(void *arg) {
  (void)arg;
  alarm(WAIT_S); /* a deadlock ends the child (SIGALRM), it does not hang the test */
  if (init_two_nodes() != AR_OK) _exit(3);
  ar_concurrent_t *c1 = named("reload-in-walk-1");
  ar_concurrent_t *c2 = named("reload-in-walk-2");
  int calls = 0;
  if (ar_registry_foreach(reload_cb, &calls) != 0) _exit(6);
  if (calls < 2) _exit(7); /* the walk went on after the reload */
  ar_concurrent_destroy(c1);
  ar_concurrent_destroy(c2);
  ar_numa_shutdown();
  _exit(0);
}

static void test_reload_in_callback_returns(void **state) {
  (void)state;
  char err[4096];
  int status = child_run(reload_in_walk, NULL, err, sizeof err);
  if (!child_exited(status, 0)) fail_msg("child status %d: %s", status, err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numa_calls_in_callback),
      cmocka_unit_test(test_reload_in_callback_returns),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
