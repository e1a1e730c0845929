/* SPDX-License-Identifier: MIT */
/*
 * tests/fault/fault_test.c - fault-injection sweeps over every public path that acquires
 * memory.
 *
 * Each scenario is a fixed workload whose memory comes from one counting test source
 * (tests/test_sources.h). A sweep runs it with the source failing exactly its Nth request, for
 * N = 1, 2, ... until a run completes without reaching N (so every request of the workload has
 * failed once), then again with the source failing every request from the Nth on. Throughout:
 *   - every call that fails returns its documented error (AR_ENOMEM from a failing source;
 *     creation calls NULL with AR_ENOMEM) and leaves the object as it was (same stats, same
 *     container contents, the old block of a failed realloc intact);
 *   - the arena stays consistent: ar_arena_check passes and its `capacity` equals the bytes the
 *     source holds for it (chunk pools: plus the bytes they keep);
 *   - at the end every block came back to the source with its own size (nothing leaks; under
 *     --config=asan LeakSanitizer checks the heap side too).
 * The heap flavor (AR_HEAP) never asks a source for serial-arena memory, so there the serial
 * scenarios check consistency and balance but inject nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/test_sources.h"

/* ---- the sweep ------------------------------------------------------------------------- */

typedef struct fault {
  test_source_t *ts;
  size_t failed_ops;  /* calls that failed with the injected error */
  size_t limit_fails; /* calls that failed on the arena's byte limit */
} fault_t;

typedef void (*scenario_fn)(fault_t *f);

/* The largest N any scenario needs; a sweep that gets here is runaway. */
#define MAX_STEPS 2000

/* Runs `fn` once per N; returns how many runs injected a failure. */
static size_t sweep(scenario_fn fn, bool from_mode) {
  size_t injected_runs = 0;
  for (size_t n = 1;; n++) {
    assert_true(n < MAX_STEPS);
    test_source_t *ts = (test_source_t *)malloc(sizeof *ts);
    assert_non_null(ts);
    test_source_init(ts);
    if (from_mode) ts->fail_from = n;
    else ts->fail_at = n;
    fault_t f = {ts, 0, 0};
    fn(&f);
    if (!test_source_balanced(ts))
      fail_msg("N=%zu (%s): leaked: %zu acquires, %zu releases, %zu live blocks, %zu bad", n,
               from_mode ? "from" : "at", ts->acquires, ts->releases, ts->live_blocks,
               ts->bad_releases);
    bool reached = ts->attempts >= n;
    free(ts);
    if (!reached) {
      /* This run completed with no failure injected: nothing may have failed. */
      assert_int_equal(f.failed_ops, 0);
      return injected_runs;
    }
    injected_runs++;
  }
}

/* Both sweeps; `uses_source`: the workload must reach the source at least once (not so for
 * serial arenas in the heap flavor). */
static void run_sweeps(scenario_fn fn, bool uses_source) {
  size_t at = sweep(fn, false);
  size_t from = sweep(fn, true);
  print_message("      %zu fail-at runs and %zu fail-from runs injected a failure\n", at, from);
  if (uses_source) {
    assert_true(at > 0);
    assert_true(from > 0);
  }
}

/* A call failed: its error must be the injected one (or ELIMIT where a limit is in play). */
#define failed(f, limit_ok) failed_at((f), (limit_ok), __LINE__)
static void failed_at(fault_t *f, bool limit_ok, int line) {
  ar_error_t e = ar_last_error();
  if (limit_ok && e == AR_ELIMIT) {
    f->limit_fails++;
    return;
  }
  if (e != AR_ENOMEM)
    fail_msg("line %d: a failed call set %d (%s), not AR_ENOMEM", line, (int)e, ar_strerror(e));
  f->failed_ops++;
}

static ar_stats_t stats_of(ar_arena_t *a) {
  ar_stats_t s;
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  return s;
}

/* The arena is consistent and holds exactly what the source has given it (plus `extra`). */
static void consistent(ar_arena_t *a, const test_source_t *ts, size_t extra) {
  assert_int_equal(ar_arena_check(a), AR_OK);
  if (!AR_HEAP) assert_int_equal(stats_of(a).capacity + extra, ts->live_bytes);
}

static void same_stats(ar_stats_t x, ar_stats_t y) {
  assert_int_equal(x.used, y.used);
  assert_int_equal(x.capacity, y.capacity);
  assert_int_equal(x.chunks, y.chunks);
  assert_int_equal(x.large_chunks, y.large_chunks);
  assert_int_equal(x.allocs, y.allocs);
  assert_int_equal(x.cleanups, y.cleanups);
}

/* ---- serial arena: every allocating call, marks, reset with retain --------------------- */

static int cleanups_run;
static void count_cleanup(void *arg) { cleanups_run += (int)(intptr_t)arg; }

/* Performs allocation number `i` of the walk with one of the allocating calls. */
static void *one_alloc(ar_arena_t *a, int i, size_t *size_out) {
  static const char text[] = "the quick brown fox jumps over the lazy dog";
  *size_out = 0;
  switch (i % 9) {
    case 0: *size_out = 24 + (size_t)i % 200; return ar_alloc(a, *size_out);
    case 1: *size_out = 100; return ar_alloc_aligned(a, 100, 64);
    case 2: *size_out = 10 * 8; return ar_calloc(a, 10, 8);
    case 3: *size_out = sizeof text; return ar_strdup(a, text);
    case 4: *size_out = 5; return ar_strndup(a, text, 4);
    case 5: return ar_sprintf(a, "%d-%s", i, "sprintf");
    case 6: *size_out = 16; return ar_memdup(a, text, 16);
    case 7: *size_out = 3000; return ar_alloc(a, 3000); /* dedicated chunk at 1 KiB chunks */
    default: *size_out = 512; return ar_alloc_aligned(a, 512, 8192); /* over-page aligned */
  }
}

static void scenario_serial(fault_t *f) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 1024;
  o.prealloc_chunks = 1;
  o.retain_bytes = 2048;
  o.source = &f->ts->src;
  o.name = "fault-serial";
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) {
    failed(f, false);
    return;
  }
  consistent(a, f->ts, 0);
  int registered = 0;
  cleanups_run = 0;
  for (int round = 0; round < 3; round++) {
    ar_mark_t m = ar_mark(a);
    char *grow = NULL;
    size_t grow_size = 0;
    for (int i = 0; i < 30; i++) {
      ar_stats_t before = stats_of(a);
      size_t size;
      char *p = (char *)one_alloc(a, i + round, &size);
      if (p == NULL) {
        failed(f, false);
        same_stats(before, stats_of(a));
      } else if (size > 0) {
        memset(p, 0x5A, size);
      }
      consistent(a, f->ts, 0);
      if (i % 7 == 3) { /* a cleanup record lives in the arena too */
        before = stats_of(a);
        int rc = ar_defer(a, count_cleanup, (void *)(intptr_t)1);
        if (rc == AR_OK) {
          registered++;
        } else {
          assert_int_equal(rc, ar_last_error());
          failed(f, false);
          same_stats(before, stats_of(a));
        }
      }
      if (i % 5 == 4) { /* a growing block: a failed realloc leaves it intact */
        size_t new_size = grow_size * 2 + 40;
        char *q = (char *)ar_realloc(a, grow, grow_size, new_size);
        if (q == NULL) {
          failed(f, false);
          for (size_t k = 0; k < grow_size; k++) assert_int_equal(grow[k], (char)(k & 0x7F));
        } else {
          for (size_t k = 0; k < new_size; k++) q[k] = (char)(k & 0x7F);
          grow = q;
          grow_size = new_size;
        }
        consistent(a, f->ts, 0);
      }
    }
    /* Rewinding acquires nothing and always works. */
    assert_int_equal(ar_rewind(a, &m), AR_OK);
    consistent(a, f->ts, 0);
    if (round == 1) {
      ar_reset(a); /* keeps up to retain_bytes */
      consistent(a, f->ts, 0);
      assert_true(stats_of(a).capacity <= 2048);
    }
  }
  assert_int_equal(cleanups_run, registered);
  ar_arena_destroy(a);
}

static void test_serial_arena(void **state) {
  (void)state;
  run_sweeps(scenario_serial, !AR_HEAP);
}

/* ---- a byte limit and a failing source together ---------------------------------------- */

static void scenario_limit(fault_t *f) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 1024;
  o.limit_bytes = 8 * 1024;
  o.retain_bytes = 4096;
  o.source = &f->ts->src;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a); /* no prealloc: creation acquires nothing */
  for (int i = 0; i < 60; i++) {
    ar_stats_t before = stats_of(a);
    void *p = ar_alloc(a, i % 3 == 0 ? 1500 : 200);
    if (p == NULL) {
      failed(f, true);
      same_stats(before, stats_of(a));
    }
    consistent(a, f->ts, 0);
    if (i % 20 == 19) ar_reset(a);
  }
  ar_arena_destroy(a);
}

static void test_limit_and_source(void **state) {
  (void)state;
  run_sweeps(scenario_limit, !AR_HEAP);
}

/* ---- containers: vec, map, buf growth --------------------------------------------------- */

static void scenario_containers(fault_t *f) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 2048;
  o.source = &f->ts->src;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  ar_vec_t v;
  ar_map_t m;
  ar_buf_t b;
  assert_int_equal(ar_vec_init(&v, a, sizeof(uint32_t)), AR_OK);
  ar_map_options_t mo;
  ar_map_options_init(&mo);
  mo.key_kind = AR_MAP_KEY_U64;
  mo.value_size = sizeof(uint64_t);
  assert_int_equal(ar_map_init(&m, a, &mo), AR_OK);
  assert_int_equal(ar_buf_init(&b, a), AR_OK);
  uint32_t model_len = 0;
  size_t buf_len = 0, map_len = 0;
  for (uint32_t i = 0; i < 400; i++) {
    int rc = ar_vec_push(&v, &i);
    if (rc != AR_OK) {
      assert_int_equal(rc, ar_last_error());
      failed(f, false);
      assert_int_equal(ar_vec_len(&v), model_len);
    } else {
      ((uint32_t *)ar_vec_data(&v))[model_len] = model_len; /* index-valued, checked below */
      model_len++;
    }
    if (i % 2 == 0) {
      uint64_t val = i * 3u;
      rc = ar_map_put_u64(&m, i, &val);
      if (rc != AR_OK) {
        assert_int_equal(rc, ar_last_error());
        failed(f, false);
        assert_int_equal(ar_map_len(&m), map_len);
        assert_null(ar_map_get_u64(&m, i));
      } else {
        map_len++;
      }
    }
    rc = ar_buf_appendf(&b, "<%u>", (unsigned)(i % 10));
    if (rc != AR_OK) {
      assert_int_equal(rc, ar_last_error());
      failed(f, false);
      assert_int_equal(ar_buf_len(&b), buf_len);
    } else {
      buf_len += 3;
    }
    consistent(a, f->ts, 0);
  }
  /* Whatever survived is intact. */
  assert_int_equal(ar_vec_len(&v), model_len);
  for (uint32_t k = 0; k < model_len; k++) assert_int_equal(((uint32_t *)ar_vec_data(&v))[k], k);
  assert_int_equal(ar_buf_len(&b), buf_len);
  for (size_t k = 0; k < buf_len; k += 3) {
    assert_int_equal(ar_buf_data(&b)[k], '<');
    assert_int_equal(ar_buf_data(&b)[k + 2], '>');
  }
  assert_int_equal(ar_map_len(&m), map_len);
  size_t found = 0;
  for (uint64_t k = 0; k < 400; k += 2) {
    const uint64_t *val = (const uint64_t *)ar_map_get_u64(&m, k);
    if (val != NULL) {
      assert_int_equal(*val, k * 3);
      found++;
    }
  }
  assert_int_equal(found, map_len);
  ar_arena_destroy(a);
}

static void test_containers(void **state) {
  (void)state;
  run_sweeps(scenario_containers, !AR_HEAP);
}

/* ---- ConcurrentArena --------------------------------------------------------------------- */

static void scenario_concurrent(fault_t *f) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.source = &f->ts->src;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca); /* creation acquires nothing */
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 80; i++) {
      void *p;
      size_t n = 0;
      switch (i % 4) {
        case 0:
          n = 40;
          p = ar_concurrent_alloc(ca, n);
          break;
        case 1:
          n = 100;
          p = ar_concurrent_alloc_aligned(ca, n, 128);
          break;
        case 2:
          n = 60;
          p = ar_concurrent_calloc(ca, 6, 10);
          break;
        default:
          n = 5000;
          p = ar_concurrent_alloc(ca, n);
          break; /* dedicated chunk */
      }
      if (p == NULL) failed(f, false);
      else memset(p, 0x33, n);
      ar_stats_t s;
      assert_int_equal(ar_concurrent_stats(ca, &s), AR_OK);
      if (!AR_HEAP) assert_int_equal(s.capacity, f->ts->live_bytes);
    }
    ar_concurrent_reset(ca);
    ar_stats_t s;
    assert_int_equal(ar_concurrent_stats(ca, &s), AR_OK);
    /* reset keeps ordinary chunks (retain_bytes, 1 MiB here) and gives back every other */
    assert_int_equal(s.capacity, f->ts->live_bytes);
    assert_int_equal(s.capacity, s.spare_chunks * 4096);
  }
  ar_concurrent_destroy(ca);
  assert_int_equal(f->ts->live_bytes, 0); /* destroy gives every chunk back */
}

static void test_concurrent(void **state) {
  (void)state;
  run_sweeps(scenario_concurrent, !AR_HEAP);
}

/* ---- a chunk pool as the source, backed by the failing source ---------------------------- */

static void scenario_chunk_pool(fault_t *f) {
  ar_chunk_pool_t *pool = ar_chunk_pool_create(1024, 4, &f->ts->src);
  assert_non_null(pool);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 1024;
  o.retain_bytes = 0;
  o.source = ar_chunk_pool_source(pool);
  for (int round = 0; round < 3; round++) {
    ar_arena_t *a = ar_arena_create(&o);
    assert_non_null(a);
    for (int i = 0; i < 40; i++) {
      ar_stats_t before = stats_of(a);
      void *p = ar_alloc(a, i % 10 == 9 ? 2000 : 150);
      if (p == NULL) {
        failed(f, false);
        same_stats(before, stats_of(a));
      }
      ar_chunk_pool_stats_t ps;
      assert_int_equal(ar_chunk_pool_stats(pool, &ps), AR_OK);
      consistent(a, f->ts, ps.pooled * 1024);
    }
    ar_arena_destroy(a); /* chunks go to the pool (up to 4), the rest to the source */
  }
  ar_chunk_pool_destroy(pool);
}

static void test_chunk_pool_source(void **state) {
  (void)state;
  run_sweeps(scenario_chunk_pool, !AR_HEAP);
}

/* ---- thread arenas and scopes ------------------------------------------------------------ */

typedef struct thread_run {
  fault_t *f;
} thread_run_t;

static void *scoped_thread(void *arg) {
  fault_t *f = ((thread_run_t *)arg)->f;
  for (int req = 0; req < 4; req++) {
    ar_scope_t outer = ar_scope_begin();
    assert_non_null(outer.arena); /* creation acquires nothing */
    for (int i = 0; i < 12; i++) {
      ar_scope_t inner = ar_scope_begin();
      ar_stats_t before = stats_of(inner.arena);
      char *p = (char *)ar_alloc(inner.arena, i % 4 == 3 ? 900 : 120);
      if (p == NULL) {
        failed(f, false);
        same_stats(before, stats_of(inner.arena));
      } else {
        memset(p, 1, 120);
      }
      consistent(inner.arena, f->ts, 0);
      assert_int_equal(ar_scope_end(&inner), AR_OK);
      if (ar_alloc(outer.arena, 64) == NULL) failed(f, false);
    }
    assert_int_equal(ar_scope_end(&outer), AR_OK);
    consistent(outer.arena, f->ts, 0);
  }
  return NULL; /* the thread arena is destroyed at thread exit */
}

static void scenario_thread_arena(fault_t *f) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 1024;
  o.retain_bytes = 1024;
  o.source = &f->ts->src;
  assert_int_equal(ar_thread_arena_configure(&o), AR_OK);
  thread_run_t r = {f};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, scoped_thread, &r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(ar_thread_arena_configure(NULL), AR_OK);
}

static void test_thread_arena_scopes(void **state) {
  (void)state;
  run_sweeps(scenario_thread_arena, !AR_HEAP);
}

/* ---- the arena pool ------------------------------------------------------------------------ */

static void scenario_arena_pool(fault_t *f) {
  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.arena.chunk_size = 1024;
  po.arena.prealloc_chunks = 1; /* so that take itself can fail */
  po.arena.retain_bytes = 2048;
  po.arena.source = &f->ts->src;
  po.max_idle = 2;
  ar_arena_pool_t *pool = ar_arena_pool_create(&po);
  assert_non_null(pool);
  ar_arena_t *held[3] = {NULL, NULL, NULL};
  for (int req = 0; req < 6; req++) {
    ar_arena_t *a = ar_arena_pool_take(pool);
    if (a == NULL) {
      failed(f, false);
      continue;
    }
    for (int i = 0; i < 10; i++)
      if (ar_alloc(a, i % 5 == 4 ? 1500 : 200) == NULL) failed(f, false);
    assert_int_equal(ar_arena_check(a), AR_OK);
    if (req % 2 == 0) {
      held[req / 2] = a; /* keep a few out at once */
    } else {
      assert_int_equal(ar_arena_pool_give(pool, a), AR_OK);
    }
  }
  for (int i = 0; i < 3; i++)
    if (held[i] != NULL) assert_int_equal(ar_arena_pool_give(pool, held[i]), AR_OK);
  ar_arena_pool_stats_t st;
  assert_int_equal(ar_arena_pool_stats(pool, &st), AR_OK);
  assert_int_equal(st.taken, 0);
  ar_arena_pool_destroy(pool);
}

static void test_arena_pool(void **state) {
  (void)state;
  run_sweeps(scenario_arena_pool, !AR_HEAP);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_serial_arena),      cmocka_unit_test(test_limit_and_source),
      cmocka_unit_test(test_containers),        cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_chunk_pool_source), cmocka_unit_test(test_thread_arena_scopes),
      cmocka_unit_test(test_arena_pool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
