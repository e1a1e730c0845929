/* SPDX-License-Identifier: MIT */
/*
 * tests/registry/stats_test.c - the calls of stats.h one at a time: ar_registry_foreach (what a
 * listed arena's entry says, an early stop) and ar_stats_global (how its counters move when an
 * arena is created, used and destroyed).
 *
 * registry_test.c next door pins the registry's read side against concurrent writers with
 * handshakes; this file is the plain contract on one thread, which every flavour must keep,
 * the heap flavour included (there an arena holds exactly the bytes malloc'd, not a chunk, and
 * nothing goes to a chunk pool).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <arenart.h>

#include "tests/test_util.h" /* TEST_HEAP: the heap flavor, no chunks */

typedef struct find {
  const char *name;
  int found;
  size_t capacity;
} find_t;

static int find_named(const ar_arena_info_t *info, void *ctx) {
  find_t *f = (find_t *)ctx;
  if (strcmp(info->name, f->name) == 0) {
    f->found++;
    f->capacity = info->capacity;
    assert_int_equal(info->kind, AR_KIND_CONCURRENT);
    assert_int_equal(info->node, -1);
  }
  return 0;
}

static int stop_at_first(const ar_arena_info_t *info, void *ctx) {
  (void)info;
  (*(int *)ctx)++;
  return 7;
}

static void test_registry(void **state) {
  (void)state;
  assert_int_equal(ar_registry_foreach(NULL, NULL), -(int)AR_EINVAL);
  assert_int_equal(ar_stats_global(NULL), AR_EINVAL);
  ar_global_stats_t g0, g1;
  ar_stats_global(&g0);
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "listed-one";
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  assert_non_null(ar_concurrent_alloc(ca, 100));
  find_t f = {"listed-one", 0, 0};
  assert_int_equal(ar_registry_foreach(find_named, &f), 0);
  assert_int_equal(f.found, 1);
  /* one chunk, or in the heap flavor exactly the bytes malloc'd */
  const size_t held = TEST_HEAP ? 100 : AR_DEFAULT_CHUNK_SIZE;
  assert_int_equal(f.capacity, held);
  int calls = 0;
  assert_int_equal(ar_registry_foreach(stop_at_first, &calls), 7);
  assert_int_equal(calls, 1);
  ar_stats_global(&g1);
  assert_int_equal(g1.registered, g0.registered + 1);
  assert_int_equal(g1.arenas_live, g0.arenas_live + 1);
  assert_true(g1.bytes_acquired >= g0.bytes_acquired + held);
  assert_true(g1.registered_bytes >= held);
  ar_concurrent_destroy(ca);
  f.found = 0;
  ar_registry_foreach(find_named, &f);
  assert_int_equal(f.found, 0);
  ar_stats_global(&g1);
  assert_int_equal(g1.registered, g0.registered);
  assert_int_equal(g1.arenas_live, g0.arenas_live);
  assert_int_equal(g1.chunks_in_use, g0.chunks_in_use);
  /* the chunk went back to the process-wide pool, not to the OS (the heap flavor has none) */
  if (!TEST_HEAP) assert_true(g1.chunks_pooled >= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
