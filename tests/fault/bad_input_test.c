/* SPDX-License-Identifier: MIT */
/*
 * tests/fault/bad_input_test.c - the bad-input table: one test per row of docs/bad_input.md.
 *
 * Each row is something a caller can get wrong, what the call returns and what state it leaves.
 * Rows that end the process (misuse that cannot be reported as an error code) run in a forked
 * child and expect its abort message. Keep the table and these tests in the same order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
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
#include "tests/child.h"
#include "tests/test_sources.h"
#include "tests/test_util.h" /* opaque() */

static ar_arena_t *arena(size_t limit, const ar_source_t *src) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.limit_bytes = limit;
  o.source = src;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  return a;
}

static ar_stats_t stats_of(ar_arena_t *a) {
  ar_stats_t s;
  assert_int_equal(ar_arena_stats(a, &s), AR_OK);
  return s;
}

#define EXPECT_NULL_WITH(expr, err)           \
  do {                                        \
    ar_clear_error();                         \
    assert_null(expr);                        \
    assert_int_equal(ar_last_error(), (err)); \
  } while (0)

/* child_run takes fn(void *); the bad-input cases are plain void(void). */
static void call_void(void *fn) { (*(void (**)(void))fn)(); }

static int in_child(void (*fn)(void), char *err, size_t errsize) {
  int status = child_run(call_void, &fn, err, errsize);
  assert_int_not_equal(status, -1);
  return status;
}

static void expect_abort(void (*fn)(void), const char *msg) {
  char err[4096];
  int status = in_child(fn, err, sizeof err);
  bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(err, msg) != NULL;
  if (!ok) print_error("status %#x, wanted '%s' in stderr:\n%s\n", status, msg, err);
  assert_true(ok);
}

/* 1. NULL arena to an allocating call. */
static void test_null_arena_alloc(void **state) {
  (void)state;
  EXPECT_NULL_WITH(ar_alloc(NULL, 8), AR_EINVAL);
  EXPECT_NULL_WITH(ar_alloc_aligned(NULL, 8, 64), AR_EINVAL);
  EXPECT_NULL_WITH(ar_calloc(NULL, 2, 8), AR_EINVAL);
  EXPECT_NULL_WITH(ar_strdup(NULL, "x"), AR_EINVAL);
  EXPECT_NULL_WITH(ar_sprintf(NULL, "%d", 1), AR_EINVAL);
  EXPECT_NULL_WITH(ar_memdup(NULL, "x", 1), AR_EINVAL);
  EXPECT_NULL_WITH(ar_realloc(NULL, NULL, 0, 8), AR_EINVAL);
  EXPECT_NULL_WITH(ar_concurrent_alloc(NULL, 8), AR_EINVAL);
}

/* 2. NULL arena to a void lifetime call: nothing happens. */
static void test_null_arena_lifetime(void **state) {
  (void)state;
  ar_reset(NULL);
  ar_release(NULL);
  ar_arena_destroy(NULL);
  ar_arena_adopt(NULL);
  ar_concurrent_reset(NULL);
  ar_concurrent_destroy(NULL);
  assert_string_equal(ar_arena_name(NULL), "");
  assert_false(ar_owns(NULL, "x"));
}

/* 3. NULL arena or out-pointer to int-returning calls. */
static void test_null_arena_int_calls(void **state) {
  (void)state;
  ar_stats_t s;
  ar_mark_t m = ar_mark(NULL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_int_equal(ar_rewind(NULL, &m), AR_EINVAL);
  assert_int_equal(ar_arena_stats(NULL, &s), AR_EINVAL);
  assert_int_equal(ar_arena_check(NULL), AR_EINVAL);
  assert_int_equal(ar_free(NULL, NULL, 0), AR_EINVAL);
  assert_int_equal(ar_defer(NULL, free, NULL), AR_EINVAL);
  ar_arena_t *a = arena(0, NULL);
  assert_int_equal(ar_arena_stats(a, NULL), AR_EINVAL);
  assert_int_equal(ar_rewind(a, NULL), AR_EINVAL);
  /* A mark taken from NULL is rejected by every arena. */
  assert_int_equal(ar_rewind(a, &m), AR_ESTALE);
  ar_arena_destroy(a);
}

/* 4. Zero-byte requests. */
static void test_zero_size(void **state) {
  (void)state;
  ar_arena_t *a = arena(0, NULL);
  void *p = ar_alloc(a, opaque(0));
  void *q = ar_alloc(a, opaque(0));
  assert_non_null(p);
  assert_non_null(q);
  assert_true(p != q);
  assert_non_null(ar_calloc(a, 0, 8));
  assert_non_null(ar_memdup(a, NULL, 0));
  ar_arena_destroy(a);
}

/* 5. Sizes above AR_MAX_ALLOC_SIZE, SIZE_MAX, and count * size overflowing. */
static void test_huge_and_overflowing_sizes(void **state) {
  (void)state;
  ar_arena_t *a = arena(0, NULL);
  ar_stats_t before = stats_of(a);
  EXPECT_NULL_WITH(ar_alloc(a, opaque(AR_MAX_ALLOC_SIZE + 1)), AR_EOVERFLOW);
  EXPECT_NULL_WITH(ar_alloc(a, opaque(SIZE_MAX)), AR_EOVERFLOW);
  EXPECT_NULL_WITH(ar_alloc_array(a, opaque(SIZE_MAX / 2), 3), AR_EOVERFLOW);
  EXPECT_NULL_WITH(ar_calloc(a, opaque(SIZE_MAX / 8 + 1), 8), AR_EOVERFLOW);
  EXPECT_NULL_WITH(ar_alloc_aligned(a, 8, opaque((size_t)1 << 63)), AR_EOVERFLOW);
  EXPECT_NULL_WITH(ar_concurrent_calloc(NULL, SIZE_MAX, 2), AR_EINVAL);
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  assert_non_null(ca);
  EXPECT_NULL_WITH(ar_concurrent_alloc(ca, opaque(SIZE_MAX)), AR_EOVERFLOW);
  EXPECT_NULL_WITH(ar_concurrent_calloc(ca, opaque(SIZE_MAX / 2), 3), AR_EOVERFLOW);
  ar_concurrent_destroy(ca);
  ar_stats_t after = stats_of(a);
  assert_int_equal(after.used, before.used);
  assert_int_equal(after.capacity, before.capacity);
  ar_arena_destroy(a);
}

/* 6. Alignment zero or not a power of two. */
static void test_bad_alignment(void **state) {
  (void)state;
  ar_arena_t *a = arena(0, NULL);
  const size_t bad[] = {0, 3, 24, 48, 1000};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    EXPECT_NULL_WITH(ar_alloc_aligned(a, 16, opaque(bad[i])), AR_EALIGN);
    EXPECT_NULL_WITH(ar_calloc_aligned(a, 1, 16, opaque(bad[i])), AR_EALIGN);
  }
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  EXPECT_NULL_WITH(ar_concurrent_alloc_aligned(ca, 16, opaque(24)), AR_EALIGN);
  ar_concurrent_destroy(ca);
  ar_arena_destroy(a);
}

/* 7. The arena's byte limit exhausted: AR_ELIMIT, the arena unchanged and still usable. */
static void test_limit_exhausted(void **state) {
  (void)state;
  ar_arena_t *a = arena(16 * 1024, NULL);
  void *p;
  size_t n = 0;
  do {
    ar_clear_error();
    p = ar_alloc(a, 700);
    n++;
    assert_true(n < 10000);
  } while (p != NULL);
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_stats_t s = stats_of(a);
  assert_true(s.capacity <= 16 * 1024);
  EXPECT_NULL_WITH(ar_alloc(a, 100000), AR_ELIMIT);
  assert_int_equal(stats_of(a).capacity, s.capacity);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_reset(a);
  assert_non_null(ar_alloc(a, 700));
  ar_arena_destroy(a);
  /* The same for a ConcurrentArena. */
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.limit_bytes = 8192;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  do {
    ar_clear_error();
    p = ar_concurrent_alloc(ca, 500);
  } while (p != NULL);
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_concurrent_destroy(ca);
}

/* 8. A memory source that fails: AR_ENOMEM, nothing leaked. */
static void test_failing_source(void **state) {
  (void)state;
  test_source_t *ts = (test_source_t *)malloc(sizeof *ts);
  assert_non_null(ts);
  const ar_source_t *src = test_source_init(ts);
  ts->fail_from = 1;
  ar_arena_t *a = arena(0, src);
  if (AR_HEAP) {
    assert_non_null(ar_alloc(a, 100)); /* the heap flavor does not use the source */
  } else {
    EXPECT_NULL_WITH(ar_alloc(a, 100), AR_ENOMEM);
    EXPECT_NULL_WITH(ar_alloc(a, 100000), AR_ENOMEM);
  }
  ar_arena_destroy(a);
  if (!AR_HEAP) { /* the heap flavor preallocates nothing */
    ar_options_t o = AR_OPTIONS_INIT;
    o.source = src;
    o.prealloc_chunks = 2;
    EXPECT_NULL_WITH(ar_arena_create(&o), AR_ENOMEM);
  }
  assert_true(test_source_balanced(ts));
  free(ts);
}

/* 9. Bad creation options. */
static void test_bad_options(void **state) {
  (void)state;
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = AR_MIN_CHUNK_SIZE - 1;
  EXPECT_NULL_WITH(ar_arena_create(&o), AR_EINVAL);
  o.chunk_size = ((size_t)1 << 30) + 1;
  EXPECT_NULL_WITH(ar_arena_create(&o), AR_EINVAL);
  ar_source_t broken = {NULL, NULL, NULL, "broken"};
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.source = &broken;
  EXPECT_NULL_WITH(ar_arena_create(&o), AR_EINVAL);
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.limit_bytes = 8192;
  o.prealloc_chunks = 3;
  EXPECT_NULL_WITH(ar_arena_create(&o), AR_ELIMIT);
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.chunk_size = 100;
  EXPECT_NULL_WITH(ar_concurrent_create(&o), AR_EINVAL);
  EXPECT_NULL_WITH(ar_chunk_pool_create(100, 4, NULL), AR_EINVAL);
}

/* 10. A mark from before a reset, or taken after the mark a rewind went back to. */
static void test_stale_marks(void **state) {
  (void)state;
  ar_arena_t *a = arena(0, NULL);
  ar_mark_t before_reset = ar_mark(a);
  assert_non_null(ar_alloc(a, 10));
  ar_reset(a);
  assert_int_equal(ar_rewind(a, &before_reset), AR_ESTALE);
  ar_mark_t m1 = ar_mark(a);
  assert_non_null(ar_alloc(a, 10));
  ar_mark_t m2 = ar_mark(a);
  assert_non_null(ar_alloc(a, 5000)); /* past the mark, on another chunk */
  assert_int_equal(ar_rewind(a, &m1), AR_OK);
  ar_stats_t s = stats_of(a);
  assert_int_equal(ar_rewind(a, &m2), AR_ESTALE);
  assert_int_equal(ar_last_error(), AR_ESTALE);
  assert_int_equal(stats_of(a).used, s.used); /* unchanged by the rejected rewind */
  assert_int_equal(ar_rewind(a, &m1), AR_OK); /* the surviving mark stays valid */
  /* Stale even once the cursor has grown back past its position in the same chunk. */
  ar_mark_t m3 = ar_mark(a);
  assert_non_null(ar_alloc(a, 16));
  ar_mark_t m4 = ar_mark(a);
  assert_int_equal(ar_rewind(a, &m3), AR_OK);
  char *live = (char *)ar_alloc(a, 64);
  assert_non_null(live);
  s = stats_of(a);
  ar_clear_error();
  assert_int_equal(ar_rewind(a, &m4), AR_ESTALE);
  assert_int_equal(ar_last_error(), AR_ESTALE);
  assert_int_equal(stats_of(a).used, s.used);
  assert_true(ar_owns(a, live));
  ar_arena_destroy(a);
}

/* 11. Allocating, rewinding or registering from inside a cleanup callback. */
static ar_arena_t *cleanup_arena;
static int cleanup_results[3];
static void misbehaving_cleanup(void *arg) {
  (void)arg;
  ar_mark_t m = ar_mark(cleanup_arena);
  cleanup_results[0] = ar_alloc(cleanup_arena, 8) == NULL ? (int)ar_last_error() : 0;
  cleanup_results[1] = ar_rewind(cleanup_arena, &m);
  cleanup_results[2] = ar_realloc(cleanup_arena, NULL, 0, 8) == NULL ? (int)ar_last_error() : 0;
}

static void test_alloc_in_cleanup(void **state) {
  (void)state;
  cleanup_arena = arena(0, NULL);
  assert_int_equal(ar_defer(cleanup_arena, misbehaving_cleanup, NULL), AR_OK);
  ar_reset(cleanup_arena);
  assert_int_equal(cleanup_results[0], AR_EBUSY);
  assert_int_equal(cleanup_results[1], AR_EBUSY);
  assert_int_equal(cleanup_results[2], AR_EBUSY);
  assert_non_null(ar_alloc(cleanup_arena, 8)); /* usable again afterwards */
  ar_arena_destroy(cleanup_arena);
}

/* 12. Resetting (or destroying) an arena from inside its own cleanup: abort. */
static void reset_from_cleanup(void *arg) { ar_reset((ar_arena_t *)arg); }
static void child_reset_in_cleanup(void) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "cleanup-reset";
  ar_arena_t *a = ar_arena_create(&o);
  ar_defer(a, reset_from_cleanup, a);
  ar_reset(a);
}

static void test_reset_in_cleanup(void **state) {
  (void)state;
  expect_abort(child_reset_in_cleanup,
               "arena 'cleanup-reset': reset, release or destroy called from a cleanup");
}

/* 13. NULL pointers where the call needs one. */
static void test_null_pointer_arguments(void **state) {
  (void)state;
  ar_arena_t *a = arena(0, NULL);
  EXPECT_NULL_WITH(ar_strdup(a, NULL), AR_EINVAL);
  EXPECT_NULL_WITH(ar_strndup(a, NULL, 3), AR_EINVAL);
  EXPECT_NULL_WITH(ar_memdup(a, NULL, 4), AR_EINVAL);
  EXPECT_NULL_WITH(ar_sprintf(a, NULL), AR_EINVAL);
  assert_int_equal(ar_defer(a, NULL, NULL), AR_EINVAL);
  assert_int_equal(stats_of(a).cleanups, 0);
  assert_int_equal(ar_scope_end(NULL), AR_EINVAL);
  ar_arena_destroy(a);
}

/* 14. Giving back what is not the start of a live block. Every build: misaligned pointers and
 * pointers inside a dedicated chunk's allocation. Checked arenas (every build): pointers
 * inside a block and blocks given back twice. AR_DEBUG >= 1: memory the arena does not hold. */
static void expect_free_refused(ar_arena_t *a, char *p, size_t size) {
  ar_stats_t s = stats_of(a);
  ar_clear_error();
  assert_int_equal(ar_free(a, p, size), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  EXPECT_NULL_WITH(ar_realloc(a, p, size, size * 2), AR_EINVAL);
  ar_stats_t t = stats_of(a);
  assert_int_equal(t.used, s.used);
  assert_int_equal(t.large_chunks, s.large_chunks);
  assert_int_equal(t.recycled, s.recycled);
}

static void test_free_foreign_block(void **state) {
  (void)state;
  ar_arena_t *c = arena(0, NULL);
  char *big = (char *)ar_alloc(c, 5000); /* a dedicated chunk */
  assert_non_null(big);
  expect_free_refused(c, big + 1024, 64);
  expect_free_refused(c, big + 8, 8);
  assert_int_equal(ar_free(c, big, 5000), AR_OK);
  ar_arena_destroy(c);

  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.flags = AR_ARENA_CHECKED;
  ar_arena_t *k = ar_arena_create(&o);
  assert_non_null(k);
  char *blk = (char *)ar_alloc(k, 64);
  assert_non_null(blk);
  assert_non_null(ar_alloc(k, 16));
  expect_free_refused(k, blk + 16, 16); /* inside a live block */
  assert_int_equal(ar_free(k, blk, 64), AR_OK);
  expect_free_refused(k, blk, 64); /* given back already */
  ar_arena_destroy(k);

  if (AR_DEBUG < 1) {
    skip(); /* release builds check no more than the above */
    return;
  }
  ar_arena_t *a = arena(0, NULL);
  ar_arena_t *b = arena(0, NULL);
  char *p = (char *)ar_alloc(b, 64);
  assert_non_null(p);
  static char outside[64] __attribute__((aligned(16)));
  assert_int_equal(ar_free(a, p, 64), AR_EINVAL);
  assert_int_equal(ar_free(a, outside, 64), AR_EINVAL);
  assert_int_equal(ar_free(b, p + 1, 8), AR_EINVAL); /* not 16-aligned: not a block start */
  EXPECT_NULL_WITH(ar_realloc(a, p, 64, 128), AR_EINVAL);
  ar_arena_destroy(a);
  ar_arena_destroy(b);
}

/* 15. A serial arena used from a thread that does not own it (debug builds): abort. */
static void *foreign_alloc(void *arg) { return ar_alloc_aligned((ar_arena_t *)arg, 8, 64); }
static void child_foreign_thread(void) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "not-yours";
  ar_arena_t *a = ar_arena_create(&o);
  pthread_t t;
  if (pthread_create(&t, NULL, foreign_alloc, a) != 0) _exit(3);
  pthread_join(t, NULL);
}

static void test_foreign_thread(void **state) {
  (void)state;
  if (AR_DEBUG < 1) {
    skip();
    return;
  }
  expect_abort(child_foreign_thread, "serial arena 'not-yours' (0x");
}

/* 16. Use after destroy and double destroy, in checking mode: abort naming the arena. (In
 * ASan builds checked mode is off and ASan reports the freed header: tests/sanitizer.) */
static void child_use_after_destroy(void) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.flags = AR_ARENA_CHECKED;
  o.name = "gone";
  ar_arena_t *a = ar_arena_create(&o);
  ar_arena_destroy(a);
  void *p = ar_alloc(a, 8);
  (void)p;
}

static void child_double_destroy(void) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.flags = AR_ARENA_CHECKED;
  o.name = "gone-twice";
  ar_arena_t *a = ar_arena_create(&o);
  ar_arena_destroy(a);
  ar_arena_destroy(a);
}

static void test_use_after_destroy_checked(void **state) {
  (void)state;
  if (AR_ASAN) {
    skip();
    return;
  }
  expect_abort(child_use_after_destroy, "used after ar_arena_destroy (it was named 'gone')");
  expect_abort(child_double_destroy, "used after ar_arena_destroy (it was named 'gone-twice')");
}

/* 17. Writing past an allocation in checking mode: ar_arena_check says AR_ECORRUPT; taking
 * the memory back aborts naming the arena and the allocation site (tests/sanitizer). */
static void test_guard_damage_checked(void **state) {
  (void)state;
  if (AR_ASAN) {
    skip(); /* ASan reports the write itself */
    return;
  }
  ar_options_t o = AR_OPTIONS_INIT;
  o.flags = AR_ARENA_CHECKED;
  ar_arena_t *a = ar_arena_create(&o);
  char *p = (char *)ar_alloc(a, 10);
  volatile char *v = p;
  char saved = v[10];
  v[10] = 1;
  assert_int_equal(ar_arena_check(a), AR_ECORRUPT);
  v[10] = saved;
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* 18. Containers: NULL container or arena, zero element size, out-of-range index. */
static void test_container_arguments(void **state) {
  (void)state;
  ar_arena_t *a = arena(0, NULL);
  ar_vec_t v;
  assert_int_equal(ar_vec_init(&v, NULL, 4), AR_EINVAL);
  assert_int_equal(ar_vec_init(&v, a, 0), AR_EINVAL);
  assert_int_equal(ar_vec_init(NULL, a, 4), AR_EINVAL);
  assert_int_equal(ar_vec_init(&v, a, 4), AR_OK);
  int x = 1;
  assert_int_equal(ar_vec_get(&v, 0, &x), AR_EINVAL);
  assert_int_equal(ar_vec_push(NULL, &x), AR_EINVAL);
  ar_map_t m;
  assert_int_equal(ar_map_init(&m, NULL, NULL), AR_EINVAL);
  ar_buf_t b;
  assert_int_equal(ar_buf_init(&b, NULL), AR_EINVAL);
  assert_int_equal(ar_buf_init(&b, a), AR_OK);
  assert_int_equal(ar_buf_consume(&b, 1), AR_EINVAL);
  assert_int_equal(ar_buf_append(&b, NULL, 3), AR_EINVAL);
  ar_arena_destroy(a);
}

/* 19. Pools: NULL pool, giving back NULL (chunk pools: NULL/false, no error code). */
static void test_pool_arguments(void **state) {
  (void)state;
  EXPECT_NULL_WITH(ar_arena_pool_take(NULL), AR_EINVAL);
  assert_int_equal(ar_arena_pool_give(NULL, NULL), AR_EINVAL);
  ar_arena_pool_t *p = ar_arena_pool_create(NULL);
  assert_non_null(p);
  assert_int_equal(ar_arena_pool_give(p, NULL), AR_EINVAL);
  assert_int_equal(ar_arena_pool_trim(NULL, true), 0);
  ar_arena_pool_destroy(p);
  assert_null(ar_chunk_pool_get(NULL));
  assert_false(ar_chunk_pool_put(NULL, p));
}

/* 20. Row 9's serial-arena options given to an arena pool or the thread-arena configuration:
 * refused at once, with ar_arena_create's code. */
static void test_pool_and_thread_options(void **state) {
  (void)state;
  ar_source_t broken = {NULL, NULL, NULL, "broken"};
  ar_options_t bad[4];
  for (int i = 0; i < 4; i++) bad[i] = (ar_options_t)AR_OPTIONS_INIT;
  bad[0].chunk_size = AR_MIN_CHUNK_SIZE - 1;
  bad[1].chunk_size = ((size_t)1 << 30) + 1;
  bad[2].source = &broken;
  bad[3].chunk_size = 4096;
  bad[3].limit_bytes = 8192;
  bad[3].prealloc_chunks = 3;
  const ar_error_t want[4] = {AR_EINVAL, AR_EINVAL, AR_EINVAL, AR_ELIMIT};
  for (int i = 0; i < 4; i++) {
    ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
    po.arena = bad[i];
    EXPECT_NULL_WITH(ar_arena_pool_create(&po), want[i]);
    assert_int_equal(ar_thread_arena_configure(&bad[i]), want[i]);
  }
}

/* 21. An options `size` the library does not accept: not a multiple of 8, above
 * AR_OPTIONS_MAX_SIZE, or a nonzero byte past the library's struct. AR_EINVAL from every call
 * that takes options, before any other option is looked at, and nothing is created: the
 * source is never asked for memory (each valid struct here would have it preallocate a chunk),
 * the thread-arena configuration and the map are untouched. */
enum { BAD_SIZE_KINDS = 3 };

/* Room for the largest options struct and the byte past it that kind 2 sets. */
typedef union {
  uint64_t words[64];
  ar_arena_pool_options_t pool;
} options_buf_t;

/* Copies the `len`-byte options struct at `init` into *buf, zeroes the rest, and gives it a
 * size of the given kind (0: not a multiple of 8, 1: above AR_OPTIONS_MAX_SIZE, 2: a longer
 * struct whose tail holds a nonzero byte). The size member comes first in every struct. */
static void *with_bad_size(options_buf_t *buf, const void *init, size_t len, int kind) {
  assert_true(len % 8 == 0 && len + 8 <= sizeof *buf);
  memset(buf, 0, sizeof *buf);
  memcpy(buf, init, len);
  size_t size = kind == 0 ? len - 4 : kind == 1 ? AR_OPTIONS_MAX_SIZE + 8 : len + 8;
  if (kind == 2) ((unsigned char *)buf)[len + 3] = 1;
  memcpy(buf, &size, sizeof size);
  return buf;
}

/* The chunk size of a new thread's thread arena (white-box: it shows the configuration in
 * force when that arena was made). */
static void *thread_chunk_size(void *arg) {
  ar_arena_t *a = ar_thread_arena();
  *(size_t *)arg = a != NULL ? a->chunk_size : 0;
  return NULL;
}
static size_t new_thread_chunk_size(void) {
  size_t cs = 0;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, thread_chunk_size, &cs), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  return cs;
}

static void test_bad_options_size(void **state) {
  (void)state;
  test_source_t *ts = (test_source_t *)malloc(sizeof *ts);
  assert_non_null(ts);
  const ar_source_t *src = test_source_init(ts);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.prealloc_chunks = 1;
  o.source = src;
  ar_arena_pool_options_t po = AR_ARENA_POOL_OPTIONS_INIT;
  po.arena = o;
  ar_map_options_t mo = AR_MAP_OPTIONS_INIT;
  mo.key_kind = AR_MAP_KEY_U64;

  /* The configuration in force while the bad ones are refused: 8 KiB chunks. */
  ar_options_t good = AR_OPTIONS_INIT;
  good.chunk_size = 8192;
  assert_int_equal(ar_thread_arena_configure(&good), AR_OK);
  ar_arena_t *a = arena(0, NULL);
  ar_stats_t before = stats_of(a);

  options_buf_t buf;
  for (int kind = 0; kind < BAD_SIZE_KINDS; kind++) {
    const ar_options_t *bo = with_bad_size(&buf, &o, sizeof o, kind);
    EXPECT_NULL_WITH(ar_arena_create(bo), AR_EINVAL);
    EXPECT_NULL_WITH(ar_concurrent_create(bo), AR_EINVAL);
    ar_clear_error();
    assert_int_equal(ar_thread_arena_configure(bo), AR_EINVAL);
    assert_int_equal(ar_last_error(), AR_EINVAL);

    EXPECT_NULL_WITH(ar_arena_pool_create(with_bad_size(&buf, &po, sizeof po, kind)), AR_EINVAL);
    if (kind < 2) { /* the embedded arena options, by their own size */
      ar_arena_pool_options_t pb = po;
      pb.arena.size = kind == 0 ? sizeof(ar_options_t) - 4 : AR_OPTIONS_MAX_SIZE + 8;
      EXPECT_NULL_WITH(ar_arena_pool_create(&pb), AR_EINVAL);
    }

    ar_map_t m;
    memset(&m, 0xA5, sizeof m);
    ar_map_t untouched = m;
    ar_clear_error();
    assert_int_equal(ar_map_init(&m, a, with_bad_size(&buf, &mo, sizeof mo, kind)), AR_EINVAL);
    assert_int_equal(ar_last_error(), AR_EINVAL);
    assert_memory_equal(&m, &untouched, sizeof m);
  }
  /* Checked before the other options: a limit violation behind a bad size is AR_EINVAL. */
  ar_options_t over = o;
  over.limit_bytes = 4096;
  over.prealloc_chunks = 2;
  EXPECT_NULL_WITH(ar_arena_create(with_bad_size(&buf, &over, sizeof over, 0)), AR_EINVAL);

  assert_int_equal(ts->attempts, 0); /* nothing was created, not even a chunk */
  assert_true(test_source_balanced(ts));
  assert_int_equal(new_thread_chunk_size(), 8192);
  ar_stats_t after = stats_of(a);
  assert_int_equal(after.used, before.used);
  assert_int_equal(after.allocs, before.allocs);
  ar_arena_destroy(a);
  /* The same struct with its size intact is taken: the source is what gets called. */
  ar_arena_t *ok = ar_arena_create(&o);
  assert_non_null(ok);
  ar_arena_destroy(ok);
  if (!AR_HEAP) assert_true(ts->attempts > 0);
  assert_int_equal(ar_thread_arena_configure(NULL), AR_OK);
  assert_true(test_source_balanced(ts));
  free(ts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_null_arena_alloc),
      cmocka_unit_test(test_null_arena_lifetime),
      cmocka_unit_test(test_null_arena_int_calls),
      cmocka_unit_test(test_zero_size),
      cmocka_unit_test(test_huge_and_overflowing_sizes),
      cmocka_unit_test(test_bad_alignment),
      cmocka_unit_test(test_limit_exhausted),
      cmocka_unit_test(test_failing_source),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_stale_marks),
      cmocka_unit_test(test_alloc_in_cleanup),
      cmocka_unit_test(test_reset_in_cleanup),
      cmocka_unit_test(test_null_pointer_arguments),
      cmocka_unit_test(test_free_foreign_block),
      cmocka_unit_test(test_foreign_thread),
      cmocka_unit_test(test_use_after_destroy_checked),
      cmocka_unit_test(test_guard_damage_checked),
      cmocka_unit_test(test_container_arguments),
      cmocka_unit_test(test_pool_arguments),
      cmocka_unit_test(test_pool_and_thread_options),
      cmocka_unit_test(test_bad_options_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
