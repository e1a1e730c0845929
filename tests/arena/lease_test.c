/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/lease_test.c - leases (arenart/lease.h): a lease allocates exactly what ar_alloc
 * would, byte for byte and error for error; every other call on a leased arena aborts with a
 * message; a lease that has ended, or a stale copy that the refill can recognise, aborts too.
 *
 * "Exactly what ar_alloc would": one random script of requests runs twice on fresh arenas
 * over two identical test sources, once through ar_alloc_aligned and once through leases that
 * open and close at random points, and every returned pointer must sit at the same offset of
 * the same source block (blocks are numbered in the order the source handed them out), every
 * failure must carry the same error, and the stats must match at every lease boundary and at
 * the end. The script crosses chunks, takes dedicated chunks, over-aligned requests, size 0,
 * sizes that overflow, a bad alignment and the byte limit, in plain, checked and fixed-chunk
 * arenas; in sanitizer and debug-level-2 builds (where nothing bumps inline) the same test
 * shows the out-of-line path agrees too.
 *
 * Aborts end the process, so they run in a forked child (tests/child.h) whose stderr must
 * name the misuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/arena/arena_unit.h"
#include "tests/child.h"
#include "tests/test_sources.h"

/* ---- the same allocations, through ar_alloc and through leases ------------------------- */

enum { STEPS = 3000 };

typedef struct step {
  size_t size, align;
  int lease_turn; /* 1: end the lease (if one is open) before this step, then begin one */
} step_t;

typedef struct outcome {
  long block; /* index of the source block holding the pointer; -1 for NULL */
  size_t off;
  ar_error_t err;
} outcome_t;

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void make_script(step_t *s, uint64_t seed) {
  rng_state = seed;
  for (int i = 0; i < STEPS; i++) {
    uint64_t r = rnd();
    size_t size = 1 + (size_t)(r % 300);
    size_t align = AR_ALIGN_DEFAULT;
    switch ((r >> 16) % 64) {
      case 0: size = 0; break;
      case 1: size = 1500 + (size_t)(r >> 32) % 3000; break; /* a dedicated chunk */
      case 2: align = 64; break;                             /* always out of line */
      case 3: align = 8192; break;                           /* over a page */
      case 4: align = 3; break;                              /* AR_EALIGN */
      case 5: size = SIZE_MAX - 3; break;                    /* AR_EOVERFLOW */
      case 6: align = 1; break;
      case 7: size = 16; break;
      default: break;
    }
    s[i].size = size;
    s[i].align = align;
    s[i].lease_turn = (r >> 40) % 97 == 0;
  }
  s[0].lease_turn = 1;
}

/* Which block holds p, and where (its slot in the source: see test_sources.h). */
static outcome_t locate(const test_source_t *ts, const void *p) {
  outcome_t o = {-1, 0, ar_last_error()};
  if (p == NULL) return o;
  if (AR_HEAP) { /* every allocation is its own malloc: only success and errors compare */
    o.block = -2;
    o.err = AR_OK;
    return o;
  }
  for (size_t i = 0; i < TEST_SOURCE_MAX_BLOCKS; i++) {
    const char *b = (const char *)ts->blocks[i].p;
    if (b != NULL && (const char *)p >= b && (const char *)p < b + ts->blocks[i].size) {
      o.block = (long)i;
      o.off = (size_t)((const char *)p - b);
      o.err = AR_OK;
      return o;
    }
  }
  fail_msg("pointer %p is in no block of the source", p);
  return o;
}

static test_source_t src_a, src_b;
static outcome_t out_a[STEPS], out_b[STEPS];
static ar_stats_t stats_a[STEPS], stats_b[STEPS];

static ar_arena_t *script_arena(test_source_t *ts, unsigned flags, size_t limit) {
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = CHUNK;
  o.flags = flags;
  o.limit_bytes = limit;
  o.source = test_source_init(ts);
  ts->align = 16384; /* above every alignment the script asks: the layout is the same in both */
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  return a;
}

static void run_plain(const step_t *s, unsigned flags, size_t limit) {
  ar_arena_t *a = script_arena(&src_a, flags, limit);
  for (int i = 0; i < STEPS; i++) {
    if (s[i].lease_turn) stats_a[i] = stats_of(a);
    ar_clear_error();
    void *p = ar_alloc_aligned(a, s[i].size, s[i].align);
    out_a[i] = locate(&src_a, p);
    if (p != NULL) memset(p, 0xA5, s[i].size < 64 ? s[i].size : 64);
  }
  stats_a[STEPS - 1] = stats_of(a);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src_a));
}

static void run_leased(const step_t *s, unsigned flags, size_t limit) {
  ar_arena_t *a = script_arena(&src_b, flags, limit);
  ar_lease_t l;
  bool open = false;
  for (int i = 0; i < STEPS; i++) {
    if (s[i].lease_turn) {
      if (open) ar_lease_end(&l);
      stats_b[i] = stats_of(a);
      l = ar_lease_begin(a);
      open = true;
    }
    ar_clear_error();
    void *p = s[i].align == AR_ALIGN_DEFAULT ? ar_lease_alloc(&l, s[i].size)
                                             : ar_lease_alloc_aligned(&l, s[i].size, s[i].align);
    out_b[i] = locate(&src_b, p);
    if (p != NULL) memset(p, 0xA5, s[i].size < 64 ? s[i].size : 64);
  }
  ar_lease_end(&l);
  stats_b[STEPS - 1] = stats_of(a);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
  assert_true(test_source_balanced(&src_b));
}

static void compare_runs(const step_t *s, unsigned flags, size_t limit) {
  run_plain(s, flags, limit);
  run_leased(s, flags, limit);
  size_t nulls = 0;
  for (int i = 0; i < STEPS; i++) {
    if (out_a[i].block != out_b[i].block || out_a[i].off != out_b[i].off ||
        out_a[i].err != out_b[i].err)
      fail_msg("flags %u limit %zu step %d (size %zu align %zu): ar_alloc gave block %ld +%zu "
               "error %d, the lease block %ld +%zu error %d",
               flags, limit, i, s[i].size, s[i].align, out_a[i].block, out_a[i].off,
               (int)out_a[i].err, out_b[i].block, out_b[i].off, (int)out_b[i].err);
    if (s[i].lease_turn || i == STEPS - 1) assert_stats_equal(stats_a[i], stats_b[i]);
    nulls += out_a[i].block < 0;
  }
  /* The script did reach the cases it is about. */
  assert_true(nulls > 0);
  assert_true(stats_a[STEPS - 1].allocs > 0);
  assert_true(stats_a[STEPS - 1].large_chunks > 0 || limit != 0 || AR_HEAP);
}

static void test_lease_allocates_what_ar_alloc_would(void **state) {
  static step_t script[STEPS];
  const unsigned flag_sets[] = {0, AR_ARENA_CHECKED, AR_ARENA_FIXED_CHUNKS};
  for (uint64_t seed = 1; seed <= 3; seed++) {
    make_script(script, seed * 0x9E3779B97F4A7C15u);
    for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++) {
      compare_runs(script, flag_sets[f], 0);
      compare_runs(script, flag_sets[f], 64 * CHUNK); /* the limit refuses some requests */
    }
  }
}

/* ---- errors ----------------------------------------------------------------------------- */

static void test_null_leases(void **state) {
  ar_lease_t l = ar_lease_begin(NULL);
  ar_clear_error();
  assert_null(ar_lease_alloc(&l, 16));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_clear_error();
  assert_null(ar_lease_alloc_aligned(&l, 16, 64));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_lease_end(&l); /* nothing to do */
  ar_clear_error();
  assert_null(ar_lease_alloc(NULL, 16));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_lease_end(NULL);
}

/* A failed lease allocation leaves the arena as it was and the lease usable: the stats after
 * the lease are those of the same arena that never made the failing request. */
static void test_failure_leaves_arena_unchanged(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 2 * CHUNK, NULL);
  ar_arena_t *b = unit_arena(0, 0, 2 * CHUNK, NULL);
  ar_lease_t la = ar_lease_begin(a);
  ar_lease_t lb = ar_lease_begin(b);
  for (int i = 0; i < 10; i++) {
    assert_non_null(ar_lease_alloc(&la, 100));
    assert_non_null(ar_lease_alloc(&lb, 100));
  }
  const struct {
    size_t size, align;
    ar_error_t err;
  } bad[] = {
      {3 * CHUNK, 16, AR_ELIMIT},
      {SIZE_MAX, 16, AR_EOVERFLOW},
      {16, 48, AR_EALIGN},
      {16, 0, AR_EALIGN},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    ar_clear_error();
    assert_null(ar_lease_alloc_aligned(&la, bad[k].size, bad[k].align));
    assert_int_equal(ar_last_error(), bad[k].err);
  }
  void *p = ar_lease_alloc(&la, 100), *q = ar_lease_alloc(&lb, 100);
  assert_non_null(p);
  assert_non_null(q);
  assert_true(addr(p) % AR_ALIGN_DEFAULT == 0);
  ar_lease_end(&la);
  ar_lease_end(&lb);
  ar_stats_t sa = stats_of(a), sb = stats_of(b);
  assert_stats_equal(sa, sb);
  assert_true(ar_owns(a, p));
  CHECK_ARENA(a);
  ar_arena_destroy(a);
  ar_arena_destroy(b);
}

/* ---- a lease allocation is an allocation of the arena ----------------------------------- */

static void test_marks_free_and_realloc_see_lease_allocations(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  assert_non_null(ar_alloc(a, 40));
  ar_stats_t at_mark = stats_of(a);
  ar_mark_t m = ar_mark(a);
  ar_lease_t l = ar_lease_begin(a);
  char *first = NULL, *last = NULL;
  for (int i = 0; i < 200; i++) { /* several chunks */
    last = (char *)ar_lease_alloc(&l, 48);
    assert_non_null(last);
    memset(last, i, 48);
    if (first == NULL) first = last;
  }
  ar_lease_end(&l);
  assert_true(stats_of(a).used >= at_mark.used + 200 * 48);
  assert_true(ar_owns(a, first));
  assert_true(ar_owns(a, last));
  /* The newest lease allocation is the arena's newest: ar_free takes its bytes back. */
  size_t used = stats_of(a).used;
  assert_int_equal(ar_free(a, last, 48), AR_OK);
  if (reuses(a)) assert_int_equal(stats_of(a).used, used - 48);
  char *grown = (char *)ar_realloc(a, first, 48, 96);
  assert_non_null(grown);
  assert_true(intact(grown, 48, 0));
  /* The mark taken before the lease covers it. */
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  assert_int_equal(stats_of(a).used, at_mark.used);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_thread_arena_scope_around_a_lease(void **state) {
  ar_scope_t s = ar_scope_begin();
  assert_non_null(s.arena);
  size_t before = stats_of(s.arena).used;
  ar_lease_t l = ar_lease_begin(s.arena);
  for (int i = 0; i < 100; i++) assert_non_null(ar_lease_alloc(&l, 24));
  ar_lease_end(&l);
  assert_true(stats_of(s.arena).used >= before + 100 * 24);
  assert_int_equal(ar_scope_end(&s), AR_OK);
  assert_int_equal(stats_of(ar_thread_arena()).used, before);
}

/* A lease opened inside a cleanup callback allocates as ar_alloc does there: AR_EBUSY. */
static int busy_seen;
static void lease_in_cleanup(void *arg) {
  ar_lease_t l = ar_lease_begin((ar_arena_t *)arg);
  ar_clear_error();
  busy_seen = ar_lease_alloc(&l, 16) == NULL && ar_last_error() == AR_EBUSY;
  ar_lease_end(&l);
}

static void test_lease_in_cleanup_is_busy(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  assert_non_null(ar_alloc(a, 16));
  assert_int_equal(ar_defer(a, lease_in_cleanup, a), AR_OK);
  busy_seen = 0;
  ar_reset(a);
  assert_int_equal(busy_seen, 1);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* With AR_COUNT_INLINE_ALLOCS (this file is compiled with it) every lease allocation counts,
 * inline or not; count_test covers the count without it. */
static void test_counted_allocations(void **state) {
  ar_arena_t *a = unit_arena(0, 0, 0, NULL);
  uint64_t before = stats_of(a).allocs;
  ar_lease_t l = ar_lease_begin(a);
  for (int i = 0; i < 100; i++) assert_non_null(ar_lease_alloc(&l, 100)); /* a few chunks */
  assert_null(ar_lease_alloc_aligned(&l, 16, 3)); /* failures do not count */
  ar_lease_end(&l);
  assert_int_equal(stats_of(a).allocs, before + 100);
  ar_arena_destroy(a);
}

/* ---- misuse aborts ----------------------------------------------------------------------- */

enum {
  USE_ALLOC,
  USE_ALLOC_ALIGNED,
  USE_STRDUP,
  USE_FREE,
  USE_FREE_NULL,
  USE_REALLOC,
  USE_MARK,
  USE_REWIND,
  USE_RESET,
  USE_RELEASE,
  USE_DESTROY,
  USE_DEFER,
  USE_STATS,
  USE_CHECK,
  USE_OWNS,
  USE_ADOPT,
  USE_BEGIN_AGAIN,
  USE_SCOPE_BEGIN,
  USE_SCOPE_STATS,
  USE_VEC,
  /* Calls whose other arguments are bad too: the lease check comes first. */
  USE_OWNS_NULL,
  USE_STATS_NULL,
  USE_DEFER_NULL,
  USE_REWIND_NULL,
  USE_MEMDUP_NULL,
  USE_STRDUP_NULL,
  USE_STRNDUP_NULL,
  USE_SPRINTF_NULL,
  USE_POOL_GIVE_NULL,
  USE_SCOPE_STATS_NULL,
  /* Calls that name the arena without using it yet. */
  USE_VEC_INIT,
  USE_MAP_INIT,
  USE_BUF_INIT,
  USE_SCOPE_END_STALE,
  N_USES
};

static void noop_cleanup(void *arg) { (void)arg; }
static const char *null_format; /* NULL, out of the compiler's sight */

static bool thread_arena_case(int how) {
  return how == USE_SCOPE_BEGIN || how == USE_SCOPE_STATS || how == USE_SCOPE_STATS_NULL ||
         how == USE_SCOPE_END_STALE;
}

static void use_leased_child(void *arg) {
  int how = *(int *)arg;
  ar_scope_t outer, inner;
  if (how == USE_SCOPE_END_STALE) { /* inner is stale once outer has ended */
    outer = ar_scope_begin();
    inner = ar_scope_begin();
    if (ar_scope_end(&outer) != AR_OK) _exit(7);
  }
  ar_arena_t *a = thread_arena_case(how) ? ar_thread_arena() : ar_arena_create(NULL);
  if (a == NULL) _exit(3);
  char *p = (char *)ar_alloc(a, 32);
  ar_mark_t m = ar_mark(a);
  ar_lease_t l = ar_lease_begin(a);
  if (ar_lease_alloc(&l, 16) == NULL) _exit(4);
  ar_stats_t st;
  ar_scope_stats_t ss;
  ar_vec_t v;
  ar_map_t map;
  ar_buf_t buf;
  switch (how) {
    case USE_ALLOC: (void)!ar_alloc(a, 16); break;
    case USE_ALLOC_ALIGNED: (void)!ar_alloc_aligned(a, 16, 64); break;
    case USE_STRDUP: (void)!ar_strdup(a, "x"); break;
    case USE_FREE: (void)ar_free(a, p, 32); break;
    case USE_FREE_NULL: (void)ar_free(a, NULL, 0); break;
    case USE_REALLOC: (void)!ar_realloc(a, p, 32, 64); break;
    case USE_MARK: (void)ar_mark(a); break;
    case USE_REWIND: (void)ar_rewind(a, &m); break;
    case USE_RESET: ar_reset(a); break;
    case USE_RELEASE: ar_release(a); break;
    case USE_DESTROY: ar_arena_destroy(a); break;
    case USE_DEFER: (void)ar_defer(a, noop_cleanup, NULL); break;
    case USE_STATS: (void)ar_arena_stats(a, &st); break;
    case USE_CHECK: (void)ar_arena_check(a); break;
    case USE_OWNS: (void)ar_owns(a, p); break;
    case USE_ADOPT: ar_arena_adopt(a); break;
    case USE_BEGIN_AGAIN: (void)ar_lease_begin(a); break;
    case USE_SCOPE_BEGIN: (void)ar_scope_begin(); break;
    case USE_SCOPE_STATS: (void)ar_scope_stats(&ss); break;
    case USE_VEC:
      v.arena = a; /* as ar_vec_init would set it */
      v.data = NULL;
      v.len = v.cap = 0;
      v.elem_size = sizeof(int);
      (void)ar_vec_push(&v, &how);
      break;
    case USE_OWNS_NULL: (void)ar_owns(a, NULL); break;
    case USE_STATS_NULL: (void)ar_arena_stats(a, NULL); break;
    case USE_DEFER_NULL: (void)ar_defer(a, NULL, NULL); break;
    case USE_REWIND_NULL: (void)ar_rewind(a, NULL); break;
    case USE_MEMDUP_NULL: (void)!ar_memdup(a, NULL, 5); break;
    case USE_STRDUP_NULL: (void)!ar_strdup(a, NULL); break;
    case USE_STRNDUP_NULL: (void)!ar_strndup(a, NULL, 3); break;
    case USE_SPRINTF_NULL: (void)!ar_sprintf(a, null_format, 1); break;
    case USE_POOL_GIVE_NULL: (void)ar_arena_pool_give(NULL, a); break;
    case USE_SCOPE_STATS_NULL: (void)ar_scope_stats(NULL); break;
    case USE_VEC_INIT: (void)ar_vec_init(&v, a, sizeof(int)); break;
    case USE_MAP_INIT: (void)ar_map_init(&map, a, NULL); break;
    case USE_BUF_INIT: (void)ar_buf_init(&buf, a); break;
    case USE_SCOPE_END_STALE: (void)ar_scope_end(&inner); break;
    default: _exit(6);
  }
  _exit(0); /* the call above should not have returned */
}

static void expect_abort(void (*fn)(void *), int how, const char *what) {
  char err[4096];
  int status = child_run(fn, &how, err, sizeof err);
  assert_int_not_equal(status, -1);
  if (!child_aborted(status) || strstr(err, what) == NULL)
    fail_msg("case %d: status %#x, expected an abort naming \"%s\"; stderr:\n%s", how, status, what,
             err);
}

static void test_every_other_call_aborts_while_leased(void **state) {
  for (int how = 0; how < N_USES; how++)
    expect_abort(use_leased_child, how,
                 how == USE_BEGIN_AGAIN ? "a lease already holds" : "while a lease holds");
}

static void test_name_while_leased(void **state) {
  ar_options_t o;
  ar_options_init(&o);
  o.name = "leased-one";
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  ar_lease_t l = ar_lease_begin(a);
  assert_string_equal(ar_arena_name(a), "leased-one");
  ar_lease_end(&l);
  ar_arena_destroy(a);
}

enum {
  STALE_AFTER_END,
  STALE_END_TWICE,
  STALE_COPY_UNLEASED,
  STALE_COPY_END_UNLEASED,
  STALE_COPY_OLD_CHUNK, /* last: the heap flavor skips it */
  N_STALE
};

static void stale_child(void *arg) {
  int how = *(int *)arg;
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = CHUNK;
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) _exit(3);
  ar_lease_t l = ar_lease_begin(a);
  if (ar_lease_alloc(&l, 16) == NULL) _exit(4);
  ar_lease_t copy = l;
  switch (how) {
    case STALE_AFTER_END:
      ar_lease_end(&l);
      (void)!ar_lease_alloc(&l, 16);
      break;
    case STALE_END_TWICE:
      ar_lease_end(&l);
      ar_lease_end(&l);
      break;
    case STALE_COPY_UNLEASED:
      ar_lease_end(&l);
      (void)!ar_lease_alloc_aligned(&copy, 16, 64); /* out of line: the arena is not leased */
      break;
    case STALE_COPY_END_UNLEASED:
      ar_lease_end(&l);
      ar_lease_end(&copy); /* the arena holds its cursor again */
      break;
    case STALE_COPY_OLD_CHUNK: {
      for (int i = 0; i < 200; i++) /* the arena moves on to other chunks */
        if (ar_lease_alloc(&l, 100) == NULL) _exit(5);
      ar_lease_end(&l);
      ar_lease_t again = ar_lease_begin(a);
      (void)again;
      (void)!ar_lease_alloc_aligned(&copy, 16, 64); /* its cursor is in a retired chunk */
      break;
    }
    default: _exit(6);
  }
  _exit(0);
}

static void test_stale_leases_abort(void **state) {
  const char *what[N_STALE] = {"after its ar_lease_end", "after its ar_lease_end",
                               "its arena is not leased", "its arena is not leased",
                               "not in its arena's current chunk"};
  /* The heap flavor has no chunks, so no cursor to tell a stale copy by (lease.h: a copy is
   * not caught every time). */
  int n = AR_HEAP ? STALE_COPY_OLD_CHUNK : N_STALE;
  for (int how = 0; how < n; how++) expect_abort(stale_child, how, what[how]);
}

/* ---- misuse beyond the leased arena's own calls -------------------------------------------- */

enum { OPEN_RESET, OPEN_REWIND, OPEN_RELEASE, OPEN_DESTROY, N_OPEN };

static void leave_lease_open(void *arg) {
  /* Outlives the callback: the lease is still open when it returns. */
  static ar_lease_t kept __attribute__((unused));
  kept = ar_lease_begin((ar_arena_t *)arg);
}

static void open_in_cleanup_child(void *arg) {
  int how = *(int *)arg;
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL || ar_alloc(a, 16) == NULL) _exit(3);
  ar_mark_t m = ar_mark(a);
  if (ar_defer(a, leave_lease_open, a) != AR_OK) _exit(4);
  switch (how) {
    case OPEN_RESET: ar_reset(a); break;
    case OPEN_REWIND: (void)ar_rewind(a, &m); break;
    case OPEN_RELEASE: ar_release(a); break;
    case OPEN_DESTROY: ar_arena_destroy(a); break;
    default: _exit(6);
  }
  _exit(0);
}

/* A cleanup callback that leaves a lease open would have its lease overwritten by the reset or
 * rewind that ran it: the arena aborts instead, in every build. */
static void test_lease_left_open_by_a_cleanup_aborts(void **state) {
  for (int how = 0; how < N_OPEN; how++)
    expect_abort(open_in_cleanup_child, how, "began a lease and did not end it");
}

static void *exit_leased(void *arg) {
  (void)arg;
  ar_scope_report_threshold(1); /* the exit report would read the cursor */
  ar_arena_t *a = ar_thread_arena();
  if (a == NULL) _exit(3);
  ar_lease_t l = ar_lease_begin(a);
  if (ar_lease_alloc(&l, 64) == NULL) _exit(4);
  return NULL; /* exits with the lease open */
}

static void exit_leased_child(void *arg) {
  (void)arg;
  pthread_t th;
  if (pthread_create(&th, NULL, exit_leased, NULL) != 0) _exit(5);
  pthread_join(th, NULL);
  _exit(0);
}

/* A thread that exits while it leases its thread arena: the arena's destructor aborts, and says
 * why, before anything reads the cursor the lease holds. */
static void test_thread_exit_with_a_lease_aborts(void **state) {
  char err[4096];
  int status = child_run(exit_leased_child, NULL, err, sizeof err);
  assert_true(child_aborted(status));
  assert_non_null(strstr(err, "while a lease holds"));
  assert_null(strstr(err, "outside any scope"));
}

static void *foreign_begin(void *arg) {
  ar_lease_t l = ar_lease_begin((ar_arena_t *)arg);
  ar_lease_end(&l);
  return NULL;
}

static void foreign_child(void *arg) {
  (void)arg;
  ar_options_t o;
  ar_options_init(&o);
  o.flags = AR_ARENA_CHECKED; /* slow-only: begin and end go out of line, where calls are checked */
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) _exit(3);
  pthread_t th;
  if (pthread_create(&th, NULL, foreign_begin, a) != 0) _exit(5);
  pthread_join(th, NULL);
  _exit(0);
}

static void dead_child(void *arg) {
  (void)arg;
  ar_options_t o;
  ar_options_init(&o);
  o.flags = AR_ARENA_CHECKED; /* its header stays in the graveyard */
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) _exit(3);
  ar_arena_destroy(a);
  ar_lease_t l = ar_lease_begin(a);
  ar_lease_end(&l);
  _exit(0);
}

/* Where the arena's calls are checked (slow-only arenas: checked mode here), ar_lease_begin and
 * ar_lease_end are too: the owner thread at AR_DEBUG >= 1, use after destroy always (ASan
 * reports that one itself). */
static void test_begin_is_checked_where_calls_are(void **state) {
  char err[4096];
  int status;
#if AR_DEBUG >= 1
  status = child_run(foreign_child, NULL, err, sizeof err);
  assert_true(child_aborted(status));
  assert_non_null(strstr(err, "does not own it"));
#endif
  status = child_run(dead_child, NULL, err, sizeof err);
#if AR_ASAN /* checked mode gives way to ASan there, whose report names the freed header */
  assert_false(child_exited(status, 0));
  assert_non_null(strstr(err, "heap-use-after-free"));
#else
  assert_true(child_aborted(status));
  assert_non_null(strstr(err, "used after ar_arena_destroy"));
#endif
}

enum { NULL_ALLOC_AFTER_END, NULL_END_TWICE, N_NULL_ENDED };

static void null_ended_child(void *arg) {
  int how = *(int *)arg;
  ar_lease_t l = ar_lease_begin(NULL);
  ar_lease_end(&l);
  if (how == NULL_ALLOC_AFTER_END) (void)!ar_lease_alloc(&l, 16);
  else ar_lease_end(&l);
  _exit(0);
}

/* A lease of a NULL arena ends like any other. */
static void test_null_arena_lease_ends(void **state) {
  for (int how = 0; how < N_NULL_ENDED; how++)
    expect_abort(null_ended_child, how, "after its ar_lease_end");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lease_allocates_what_ar_alloc_would),
      cmocka_unit_test(test_null_leases),
      cmocka_unit_test(test_failure_leaves_arena_unchanged),
      cmocka_unit_test(test_marks_free_and_realloc_see_lease_allocations),
      cmocka_unit_test(test_thread_arena_scope_around_a_lease),
      cmocka_unit_test(test_lease_in_cleanup_is_busy),
      cmocka_unit_test(test_counted_allocations),
      cmocka_unit_test(test_every_other_call_aborts_while_leased),
      cmocka_unit_test(test_name_while_leased),
      cmocka_unit_test(test_stale_leases_abort),
      cmocka_unit_test(test_lease_left_open_by_a_cleanup_aborts),
      cmocka_unit_test(test_thread_exit_with_a_lease_aborts),
      cmocka_unit_test(test_begin_is_checked_where_calls_are),
      cmocka_unit_test(test_null_arena_lease_ends),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
