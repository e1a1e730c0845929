/* SPDX-License-Identifier: MIT */
/*
 * tests/options/options_test.c - the `size` rule of the extensible options structs
 * (ar_options_t, ar_arena_pool_options_t, ar_map_options_t, ar_numa_options_t; see
 * arenart/arena.h and docs/abi.md), through every public entry point that takes one.
 *
 * A program built against another version of the headers is simulated with structs declared
 * here: an "old caller" passes a prefix of today's struct (the fields a shorter, older version
 * had, with its smaller size), a "new caller" passes today's struct followed by a field this
 * library does not know. The old caller's struct is copied into a malloc'd block of exactly
 * its size, so a library that read past the declared size would read outside the block (ASan
 * and Valgrind report it as a heap-buffer-overflow or an invalid read; run this test under
 * --config=asan). What the old caller did set must take effect (the limit rule proves
 * chunk_size, prealloc_chunks and limit_bytes were read from the right offsets; the pool's
 * max_idle is observed through its stats) and what it lacks must take the defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/concurrent.h"
#include "arenart/map.h"
#include "arenart/numa.h"
#include "arenart/arenapool.h"
#include "arenart/thread.h"

/* ---- the simulated callers ------------------------------------------------------------- */

/* An older ar_options_t: it ended after limit_bytes (no source, flags, name). */
typedef struct old_options {
  size_t size;
  size_t chunk_size;
  size_t prealloc_chunks;
  size_t retain_bytes;
  size_t limit_bytes;
} old_options_t;

/* A newer ar_options_t: today's fields and one more. */
typedef struct new_options {
  ar_options_t now;
  size_t future;
} new_options_t;

/* An older pool options struct, embedding the older ar_options_t: max_idle lies 24 bytes
 * earlier than in today's layout. */
typedef struct old_pool_options {
  size_t size;
  old_options_t arena;
  size_t max_idle;
  uint64_t idle_ns;
} old_pool_options_t;

/* A newer pool options struct: a newer ar_options_t inside, one more pool field at the end. */
typedef struct new_pool_options {
  size_t size;
  new_options_t arena;
  size_t max_idle;
  uint64_t idle_ns;
  size_t future;
} new_pool_options_t;

/* Older map and NUMA options: their first fields only. */
typedef struct old_map_options {
  size_t size;
  ar_map_key_kind_t key_kind;
  size_t value_size;
} old_map_options_t;

typedef struct old_numa_options {
  size_t size;
  ar_numa_bind_t bind;
  size_t pool_chunks;
} old_numa_options_t;

/* A copy of the `len` bytes at `src` in a heap block of exactly that size (free it with
 * free_tight). */
static void *tight(const void *src, size_t len) {
  void *p = malloc(len);
  assert_non_null(p);
  memcpy(p, src, len);
  return p;
}
static void free_tight(void *p) { free(p); }

/* ---- every entry point that takes an ar_options_t -------------------------------------- */

/* Runs `opts` through ar_arena_create, ar_concurrent_create, ar_thread_arena_configure and
 * ar_arena_pool_create (embedded, with today's pool layout around a copy of the first
 * sizeof(ar_options_t) bytes when the caller's struct is today's) and checks the outcome of
 * the serial-arena calls against `want` and the concurrent one against `want_concurrent`. */
static void expect_options(const void *opts, ar_error_t want, ar_error_t want_concurrent) {
  ar_clear_error();
  ar_arena_t *a = ar_arena_create((const ar_options_t *)opts);
  if (want == AR_OK) {
    assert_non_null(a);
    assert_true(ar_alloc(a, 100) != NULL);
    assert_int_equal(ar_arena_check(a), AR_OK);
    ar_arena_destroy(a);
  } else {
    assert_null(a);
    assert_int_equal(ar_last_error(), want);
  }

  ar_clear_error();
  ar_concurrent_t *c = ar_concurrent_create((const ar_options_t *)opts);
  if (want_concurrent == AR_OK) {
    assert_non_null(c);
    assert_true(ar_concurrent_alloc(c, 100) != NULL);
    ar_concurrent_destroy(c);
  } else {
    assert_null(c);
    assert_int_equal(ar_last_error(), want_concurrent);
  }

  assert_int_equal(ar_thread_arena_configure((const ar_options_t *)opts), want);
  assert_int_equal(ar_thread_arena_configure(NULL), AR_OK);
}

static void test_current_size(void **state) {
  (void)state;
  ar_options_t o;
  memset(&o, 0xAB, sizeof o);
  ar_options_init(&o);
  assert_int_equal(o.size, sizeof(ar_options_t));
  ar_options_t m = AR_OPTIONS_INIT;
  assert_int_equal(m.size, sizeof(ar_options_t));
  expect_options(&o, AR_OK, AR_OK);
  /* Validation after the size check is unchanged. */
  o.chunk_size = 1;
  expect_options(&o, AR_EINVAL, AR_EINVAL);
}

/* size 0: a zero-initialised struct (or designated initializers) of the 0.1.0 layout. */
static void test_zero_initialised(void **state) {
  (void)state;
  ar_options_t zero = {0};
  expect_options(&zero, AR_OK, AR_OK);
  ar_options_t named = {.chunk_size = 4096, .name = "designated"};
  ar_arena_t *a = ar_arena_create(&named);
  assert_non_null(a);
  assert_string_equal(ar_arena_name(a), "designated");
  ar_arena_destroy(a);
  /* The fields are read as given: the limit rule still sees them. */
  ar_options_t over = {.chunk_size = 4096, .prealloc_chunks = 3, .limit_bytes = 8192};
  expect_options(&over, AR_ELIMIT, AR_OK); /* the ConcurrentArena ignores prealloc_chunks */
}

/* An older, shorter struct: its fields are read, the rest take the defaults, and nothing past
 * its size is read. */
static void test_old_caller(void **state) {
  (void)state;
  old_options_t old = {sizeof(old_options_t), 4096, 2, 0, 8192};
  void *p = tight(&old, sizeof old);
  expect_options(p, AR_OK, AR_OK);
  ar_arena_t *a = ar_arena_create(p);
  assert_non_null(a);
  assert_string_equal(ar_arena_name(a), ""); /* name: the default, not the junk after it */
  ar_arena_destroy(a);
  free_tight(p);

  old.prealloc_chunks = 3; /* 3 chunks of 4096 bytes exceed 8192: all three fields were read */
  p = tight(&old, sizeof old);
  expect_options(p, AR_ELIMIT, AR_OK);
  free_tight(p);

  /* The shortest struct there is: the size member alone, everything else the defaults. */
  size_t only_size = sizeof(size_t);
  p = tight(&only_size, sizeof only_size);
  expect_options(p, AR_OK, AR_OK);
  free_tight(p);
}

/* A newer, longer struct: accepted only with zero bytes past what the library knows. */
static void test_new_caller(void **state) {
  (void)state;
  new_options_t n;
  memset(&n, 0, sizeof n);
  ar_options_init(&n.now);
  n.now.size = sizeof n;
  n.now.name = "newer";
  expect_options(&n, AR_OK, AR_OK);
  ar_arena_t *a = ar_arena_create(&n.now);
  assert_non_null(a);
  assert_string_equal(ar_arena_name(a), "newer");
  ar_arena_destroy(a);

  n.future = 1; /* a feature this library lacks */
  expect_options(&n, AR_EINVAL, AR_EINVAL);
  n.future = (size_t)1 << 63; /* a nonzero byte anywhere in the tail */
  expect_options(&n, AR_EINVAL, AR_EINVAL);

  /* The largest size accepted, all zero past today's fields. */
  unsigned char *big = calloc(1, AR_OPTIONS_MAX_SIZE);
  assert_non_null(big);
  ar_options_t cur = AR_OPTIONS_INIT;
  cur.size = AR_OPTIONS_MAX_SIZE;
  memcpy(big, &cur, sizeof cur);
  expect_options(big, AR_OK, AR_OK);
  big[AR_OPTIONS_MAX_SIZE - 1] = 1;
  expect_options(big, AR_EINVAL, AR_EINVAL);
  free(big);
}

/* Sizes that are no version of the struct: not a multiple of 8, or above AR_OPTIONS_MAX_SIZE. */
static void test_bad_sizes(void **state) {
  (void)state;
  const size_t bad[] = {
      1, 4, 7, 12, sizeof(ar_options_t) + 4, AR_OPTIONS_MAX_SIZE + 8, (size_t)1 << 40, SIZE_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.size = bad[i];
    expect_options(&o, AR_EINVAL, AR_EINVAL);
  }
  /* The size is checked first: a bad size with an otherwise valid limit violation is
   * AR_EINVAL, not AR_ELIMIT. */
  ar_options_t o = AR_OPTIONS_INIT;
  o.size = 12;
  o.chunk_size = 4096;
  o.prealloc_chunks = 3;
  o.limit_bytes = 8192;
  expect_options(&o, AR_EINVAL, AR_EINVAL);
}

/* ---- ar_arena_pool_options_t --------------------------------------------------------------- */

/* Creates a pool from `opts` and reports how many idle arenas it keeps after three arenas
 * come back (its max_idle, capped at 3), or -1 with the error in ar_last_error(). */
static int pool_keeps(const void *opts) {
  ar_clear_error();
  ar_arena_pool_t *pool = ar_arena_pool_create((const ar_arena_pool_options_t *)opts);
  if (pool == NULL) return -1;
  ar_arena_t *a[3];
  for (int i = 0; i < 3; i++) {
    a[i] = ar_arena_pool_take(pool);
    assert_non_null(a[i]);
    assert_true(ar_alloc(a[i], 64) != NULL);
  }
  for (int i = 0; i < 3; i++) assert_int_equal(ar_arena_pool_give(pool, a[i]), AR_OK);
  ar_arena_pool_stats_t st;
  assert_int_equal(ar_arena_pool_stats(pool, &st), AR_OK);
  ar_arena_pool_destroy(pool);
  return (int)st.idle;
}

static void test_pool_options(void **state) {
  (void)state;
  ar_arena_pool_options_t po;
  ar_arena_pool_options_init(&po);
  assert_int_equal(po.size, sizeof(ar_arena_pool_options_t));
  assert_int_equal(po.arena.size, sizeof(ar_options_t));
  po.max_idle = 2;
  assert_int_equal(pool_keeps(&po), 2);

  /* Zero-initialised: max_idle 0 means 64. */
  ar_arena_pool_options_t zero = {0};
  assert_int_equal(pool_keeps(&zero), 3);
  ar_arena_pool_options_t designated = {.max_idle = 1};
  assert_int_equal(pool_keeps(&designated), 1);

  /* A bad embedded struct is refused by its own rule. */
  po.arena.size = 12;
  assert_int_equal(pool_keeps(&po), -1);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  /* The pool struct must hold its embedded struct. */
  ar_arena_pool_options_init(&po);
  po.size = sizeof(size_t) + sizeof(ar_options_t) - 8;
  assert_int_equal(pool_keeps(&po), -1);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_arena_pool_options_init(&po);
  po.size = 4;
  assert_int_equal(pool_keeps(&po), -1);
  assert_int_equal(ar_last_error(), AR_EINVAL);
}

/* An older pool struct around an older ar_options_t: max_idle is found behind the caller's
 * shorter arena options, not at today's offset. */
static void test_pool_old_caller(void **state) {
  (void)state;
  old_pool_options_t old = {
      sizeof(old_pool_options_t), {sizeof(old_options_t), 4096, 2, 0, 8192}, 1, 5000000000ull};
  void *p = tight(&old, sizeof old);
  assert_int_equal(pool_keeps(p), 1);
  free_tight(p);

  old.arena.prealloc_chunks = 3; /* the embedded options were read: the limit rule fires */
  p = tight(&old, sizeof old);
  assert_int_equal(pool_keeps(p), -1);
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  free_tight(p);

  /* An older pool struct that ended after its arena options: max_idle takes its default. */
  struct {
    size_t size;
    old_options_t arena;
  } shorter = {sizeof shorter, {sizeof(old_options_t), 0, 0, 0, 0}};
  p = tight(&shorter, sizeof shorter);
  assert_int_equal(pool_keeps(p), 3);
  free_tight(p);
}

static void test_pool_new_caller(void **state) {
  (void)state;
  new_pool_options_t n;
  memset(&n, 0, sizeof n);
  n.size = sizeof n;
  ar_options_init(&n.arena.now);
  n.arena.now.size = sizeof n.arena;
  n.max_idle = 1;
  assert_int_equal(pool_keeps(&n), 1);

  n.future = 7; /* a pool field this library lacks */
  assert_int_equal(pool_keeps(&n), -1);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  n.future = 0;
  n.arena.future = 7; /* an arena field this library lacks */
  assert_int_equal(pool_keeps(&n), -1);
  assert_int_equal(ar_last_error(), AR_EINVAL);
}

/* ---- ar_map_options_t ------------------------------------------------------------------- */

static int map_with(const void *opts, size_t value_size) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  ar_map_t m;
  ar_clear_error();
  int rc = ar_map_init(&m, a, (const ar_map_options_t *)opts);
  if (rc == AR_OK) {
    unsigned char v[64] = {1, 2, 3};
    assert_int_equal(ar_map_put(&m, "k", 1, v), AR_OK);
    if (value_size == 0) {
      assert_true(ar_map_contains(&m, "k", 1));
    } else {
      const unsigned char *got = ar_map_get(&m, "k", 1);
      assert_non_null(got);
      assert_memory_equal(got, v, value_size);
    }
    ar_map_destroy(&m);
  }
  ar_arena_destroy(a);
  return rc;
}

static void test_map_options(void **state) {
  (void)state;
  ar_map_options_t mo;
  memset(&mo, 0xAB, sizeof mo);
  ar_map_options_init(&mo);
  assert_int_equal(mo.size, sizeof(ar_map_options_t));
  ar_map_options_t mi = AR_MAP_OPTIONS_INIT;
  assert_int_equal(mi.size, mo.size);
  assert_int_equal(mi.key_kind, mo.key_kind);
  assert_int_equal(mi.value_size, mo.value_size);
  assert_true(mi.hash == mo.hash && mi.eq == mo.eq && mi.ctx == mo.ctx);
  assert_int_equal(mi.seed, mo.seed);
  assert_int_equal(map_with(&mo, sizeof(void *)), AR_OK);

  ar_map_options_t zero = {0}; /* byte keys, value_size 0: a set */
  assert_int_equal(map_with(&zero, 0), AR_OK);

  old_map_options_t old = {sizeof(old_map_options_t), AR_MAP_KEY_BYTES, 32};
  void *p = tight(&old, sizeof old);
  assert_int_equal(map_with(p, 32), AR_OK); /* hash, eq, seed: the defaults */
  free_tight(p);

  struct {
    ar_map_options_t now;
    uint64_t future;
  } n;
  memset(&n, 0, sizeof n);
  ar_map_options_init(&n.now);
  n.now.size = sizeof n;
  assert_int_equal(map_with(&n, sizeof(void *)), AR_OK);
  n.future = 1;
  assert_int_equal(map_with(&n, sizeof(void *)), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);

  mo.size = 20;
  assert_int_equal(map_with(&mo, sizeof(void *)), AR_EINVAL);
  mo.size = AR_OPTIONS_MAX_SIZE + 8;
  assert_int_equal(map_with(&mo, sizeof(void *)), AR_EINVAL);
}

/* ---- ar_numa_options_t ------------------------------------------------------------------ */

static int numa_with(const void *opts) {
  ar_clear_error();
  int rc = ar_numa_init((const ar_numa_options_t *)opts);
  if (rc == AR_OK) {
    assert_true(ar_numa_active());
    ar_numa_shutdown();
  }
  return rc;
}

static void test_numa_options(void **state) {
  (void)state;
  ar_numa_options_t no;
  memset(&no, 0xAB, sizeof no);
  ar_numa_options_init(&no);
  assert_int_equal(no.size, sizeof(ar_numa_options_t));
  ar_numa_options_t ni = AR_NUMA_OPTIONS_INIT;
  assert_int_equal(ni.size, no.size);
  assert_int_equal(ni.bind, no.bind);
  assert_int_equal(ni.pool_chunks, no.pool_chunks);
  assert_int_equal(ni.route_default, no.route_default);
  assert_int_equal(numa_with(&no), AR_OK);
  assert_int_equal(numa_with(&ni), AR_OK);
  /* A zero-initialised or designated struct is the defaults with its zero fields as given:
   * pool_chunks 0 is the default 256, so it is accepted (it used to be refused). */
  ar_numa_options_t zero = {0};
  assert_int_equal(numa_with(&zero), AR_OK);
  assert_int_equal(ar_numa_init(&zero), AR_OK); /* and 0 means 256 (numa.h) */
  int nodes[AR_NUMA_MAX_NODES];
  assert_true(ar_numa_nodes(nodes, AR_NUMA_MAX_NODES) >= 1);
  ar_numa_node_stats_t ns;
  assert_int_equal(ar_numa_stats(nodes[0], &ns), AR_OK);
  assert_int_equal(ns.max_pooled, 256);
  ar_numa_shutdown();
  ar_numa_options_t designated = {.bind = AR_NUMA_BIND_PREFERRED, .route_default = true};
  assert_int_equal(numa_with(&designated), AR_OK);

  old_numa_options_t old = {sizeof(old_numa_options_t), AR_NUMA_BIND_NONE, 16};
  void *p = tight(&old, sizeof old);
  assert_int_equal(numa_with(p), AR_OK); /* synthetic and xml: NULL, this machine */
  free_tight(p);
  old.pool_chunks = ((size_t)1 << 24) + 1; /* read, and refused by the range check */
  p = tight(&old, sizeof old);
  assert_int_equal(numa_with(p), AR_EINVAL);
  free_tight(p);

  struct {
    ar_numa_options_t now;
    uint64_t future;
  } n;
  memset(&n, 0, sizeof n);
  ar_numa_options_init(&n.now);
  n.now.size = sizeof n;
  assert_int_equal(numa_with(&n), AR_OK);
  n.future = 1;
  assert_int_equal(numa_with(&n), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  no.size = 9;
  assert_int_equal(numa_with(&no), AR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_current_size),    cmocka_unit_test(test_zero_initialised),
      cmocka_unit_test(test_old_caller),      cmocka_unit_test(test_new_caller),
      cmocka_unit_test(test_bad_sizes),       cmocka_unit_test(test_pool_options),
      cmocka_unit_test(test_pool_old_caller), cmocka_unit_test(test_pool_new_caller),
      cmocka_unit_test(test_map_options),     cmocka_unit_test(test_numa_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
