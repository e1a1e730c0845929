/* SPDX-License-Identifier: MIT */
/*
 * tests/mt/mt_test.c - unit tests for the multithreaded runtime: ConcurrentArena, chunk pools,
 * per-thread arenas and scopes, the arena pool, the registry and global stats, and the debug
 * detectors (a reset racing with allocation, a serial arena used off its owner thread).
 * The races themselves are exercised by //stress; these pin down contracts and error paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arenart.h>

#include "tests/child.h"

/* ---- helpers ------------------------------------------------------------------------- */

typedef struct counting {
  _Atomic(size_t) bytes;
  _Atomic(int) fail_from; /* acquires numbered from 1; fail this one and all later (0: never) */
  _Atomic(int) n;
  ar_source_t src;
} counting_t;

static void *c_acquire(void *ctx, size_t size) {
  counting_t *c = (counting_t *)ctx;
  int k = atomic_fetch_add(&c->n, 1) + 1;
  int f = atomic_load(&c->fail_from);
  if (f != 0 && k >= f) return NULL;
  void *p = malloc(size);
  if (p != NULL) atomic_fetch_add(&c->bytes, size);
  return p;
}

static void c_release(void *ctx, void *p, size_t size) {
  counting_t *c = (counting_t *)ctx;
  atomic_fetch_sub(&c->bytes, size);
  free(p);
}

static void counting_init(counting_t *c) {
  memset(c, 0, sizeof *c);
  c->src = (ar_source_t){c_acquire, c_release, c, "counting"};
}

/* Runs fn in a forked child; returns its stderr and whether it died of SIGABRT. */
static void call_void(void *fn) { (*(void (**)(void))fn)(); }

static bool child_aborts(void (*fn)(void), char *err, size_t errlen) {
  int status = child_run(call_void, &fn, err, errlen);
  assert_int_not_equal(status, -1);
  return child_aborted(status);
}

/* ---- ConcurrentArena ----------------------------------------------------------------- */

/* Hides a constant from the compiler, which would otherwise warn (alloc_size) about the
 * deliberately oversized requests that the error tests make. */
static size_t opaque_size(size_t v) {
  volatile size_t x = v;
  return x;
}

/* Library builds that route every ConcurrentArena call out of line (see concurrent.c). */
#if defined(__SANITIZE_ADDRESS__)
#define MT_SLOW_ONLY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MT_SLOW_ONLY 1
#endif
#endif
#if !defined(MT_SLOW_ONLY) && defined(AR_DEBUG) && AR_DEBUG >= 2
#define MT_SLOW_ONLY 1
#endif
/* The heap flavor (--config=heap): every allocation its own malloc, no chunks, the memory
 * source never called; chunk-layout assertions do not apply there. */
#if defined(AR_HEAP) && AR_HEAP
#define MT_HEAP 1
#define MT_SLOW_ONLY 1
#else
#define MT_HEAP 0
#endif
#ifndef MT_SLOW_ONLY
#define MT_SLOW_ONLY 0
#endif

static void test_concurrent_basics(void **state) {
  (void)state;
  counting_t cs;
  counting_init(&cs);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.source = &cs.src;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  char *a = (char *)ar_concurrent_alloc(ca, 10);
  char *b = (char *)ar_concurrent_alloc(ca, 10);
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal((uintptr_t)a % 16, 0);
  if (!MT_HEAP) assert_ptr_equal(b, a + 16); /* same thread, same span: a plain bump */
  assert_true(ar_concurrent_owns(ca, a));
  int local;
  assert_false(ar_concurrent_owns(ca, &local));
  for (size_t al = 1; al <= 8192; al *= 2) {
    void *p = ar_concurrent_alloc_aligned(ca, 24, al);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % al, 0);
  }
  void *z = ar_concurrent_alloc(ca, 0);
  void *z2 = ar_concurrent_alloc(ca, 0);
  assert_non_null(z);
  assert_ptr_not_equal(z, z2);
  unsigned char *cz = (unsigned char *)ar_concurrent_calloc(ca, 100, 3);
  assert_non_null(cz);
  for (int i = 0; i < 300; i++) assert_int_equal(cz[i], 0);
  void *big = ar_concurrent_alloc(ca, 100000); /* dedicated chunk */
  assert_non_null(big);
  memset(big, 1, 100000);
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  if (MT_HEAP) {
    assert_int_equal(st.capacity, st.used); /* exactly the bytes malloc'd */
    assert_true(st.used >= 100000 + 300 + 10 + 10);
    assert_true(ar_concurrent_owns(ca, (char *)big + 99999));
    assert_false(ar_concurrent_owns(ca, (char *)big + 100000));
  } else {
    assert_true(st.large_chunks >= 1);
    assert_int_equal(st.capacity, atomic_load(&cs.bytes));
  }
  ar_concurrent_reset(ca);
  /* reset keeps the ordinary chunks (retain_bytes: 1 MiB) and gives back the dedicated one */
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  assert_int_equal(st.capacity, atomic_load(&cs.bytes));
  assert_int_equal(st.capacity, st.spare_chunks * 4096);
  assert_int_equal(st.used, 0);
  /* a span cached before reset is not reused */
  char *c = (char *)ar_concurrent_alloc(ca, 10);
  assert_non_null(c);
  assert_true(ar_concurrent_owns(ca, c));
  ar_concurrent_destroy(ca);
  assert_int_equal(atomic_load(&cs.bytes), 0);
}

static uint64_t allocs_out_of_line(ar_concurrent_t *ca) {
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
  return st.allocs;
}

/* The inline fast path: after the first allocation fills the thread's span, later ones bump
 * inline (the out-of-line counter does not move) except in slow-only builds, where every call
 * is counted; either way the blocks are contiguous. A reset empties the span. */
static void test_concurrent_inline_path(void **state) {
  (void)state;
  counting_t cs;
  counting_init(&cs);
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = &cs.src;
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  char *first = (char *)ar_concurrent_alloc(ca, 16);
  assert_non_null(first);
  assert_int_equal(allocs_out_of_line(ca), 1);
  for (int i = 1; i < 100; i++) {
    char *p = (char *)ar_concurrent_alloc(ca, 9 + (size_t)i % 8); /* rounds up to 16 */
    if (MT_HEAP) assert_non_null(p);
    else assert_ptr_equal(p, first + 16 * i);
  }
  assert_int_equal(allocs_out_of_line(ca), MT_SLOW_ONLY ? 100 : 1);
  ar_concurrent_reset(ca);
  uint64_t before = allocs_out_of_line(ca);
  char *after = (char *)ar_concurrent_alloc(ca, 16);
  assert_non_null(after);
  assert_true(ar_concurrent_owns(ca, after));
  assert_int_equal(allocs_out_of_line(ca), before + 1); /* emptied span: out of line */

  /* Interleaved arenas keep their own spans; neither ever hands out memory from the other's
   * chunks. */
  ar_concurrent_t *others[1];
  int n = 0;
  ar_concurrent_t *twin = ar_concurrent_create(&o);
  assert_non_null(twin);
  others[n++] = twin;
  for (int i = 0; i < 50; i++) {
    void *a = ar_concurrent_alloc(ca, 32);
    void *b = ar_concurrent_alloc(twin, 32);
    assert_true(ar_concurrent_owns(ca, a) && !ar_concurrent_owns(twin, a));
    assert_true(ar_concurrent_owns(twin, b) && !ar_concurrent_owns(ca, b));
  }
  for (int i = 0; i < n; i++) ar_concurrent_destroy(others[i]);
  ar_concurrent_destroy(ca);
  assert_int_equal(atomic_load(&cs.bytes), 0);
}

static void test_concurrent_errors(void **state) {
  (void)state;
  assert_null(ar_concurrent_alloc(NULL, 8));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_concurrent_reset(NULL);
  ar_concurrent_destroy(NULL);
  ar_stats_t st;
  assert_int_equal(ar_concurrent_stats(NULL, &st), AR_EINVAL);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 100;
  assert_null(ar_concurrent_create(&o));
  assert_int_equal(ar_last_error(), AR_EINVAL);

  counting_t cs;
  counting_init(&cs);
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.source = &cs.src;
  o.limit_bytes = 3 * 4096;
  o.retain_bytes = 0; /* the failing source below must be reached right after the reset */
  ar_concurrent_t *ca = ar_concurrent_create(&o);
  assert_non_null(ca);
  assert_null(ar_concurrent_alloc_aligned(ca, 8, 3));
  assert_int_equal(ar_last_error(), AR_EALIGN);
  assert_null(ar_concurrent_alloc(ca, opaque_size(SIZE_MAX)));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  assert_null(ar_concurrent_calloc(ca, SIZE_MAX / 2, 3));
  assert_int_equal(ar_last_error(), AR_EOVERFLOW);
  int ok = 0;
  while (ar_concurrent_alloc(ca, 200) != NULL) ok++;
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  assert_true(ok > 10);
  ar_stats_t before, after;
  ar_concurrent_stats(ca, &before);
  assert_true(before.capacity <= o.limit_bytes);
  assert_null(ar_concurrent_alloc(ca, 200));
  ar_concurrent_stats(ca, &after);
  assert_int_equal(before.capacity, after.capacity);
  ar_concurrent_reset(ca);
  /* a failing source: AR_ENOMEM, nothing leaked, recovers (the heap flavor never calls the
   * source, so there the request succeeds) */
  atomic_store(&cs.n, 0);
  atomic_store(&cs.fail_from, 1);
  if (MT_HEAP) {
    assert_non_null(ar_concurrent_alloc(ca, 64));
  } else {
    assert_null(ar_concurrent_alloc(ca, 64));
    assert_int_equal(ar_last_error(), AR_ENOMEM);
  }
  assert_int_equal(atomic_load(&cs.bytes), 0);
  atomic_store(&cs.fail_from, 0);
  assert_non_null(ar_concurrent_alloc(ca, 64));
  ar_concurrent_destroy(ca);
  assert_int_equal(atomic_load(&cs.bytes), 0);
}

static ar_concurrent_t *shared_ca;
static void *mt_alloc(void *arg) {
  long sum = 0;
  for (int i = 0; i < 20000; i++) {
    char *p = (char *)ar_concurrent_alloc(shared_ca, 1 + (size_t)(i % 100));
    if (p == NULL) return (void *)-1;
    p[0] = (char)i;
    sum += p[0];
  }
  (void)arg;
  return (void *)(intptr_t)(sum == 0 ? -1 : 0); /* blocks must keep what was written */
}

static void test_concurrent_threads(void **state) {
  (void)state;
  shared_ca = ar_concurrent_create(NULL);
  assert_non_null(shared_ca);
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, mt_alloc, NULL);
  for (int i = 0; i < 3; i++) {
    void *r;
    pthread_join(t[i], &r);
    assert_null(r);
  }
  ar_stats_t st;
  ar_concurrent_stats(shared_ca, &st);
  assert_true(st.used >= 3 * 20000 * 16 / 2);
  assert_true(st.used <= st.capacity);
  ar_concurrent_destroy(shared_ca);
}

#if !(defined(NDEBUG) || MT_HEAP) /* see test_debug_detects_reset_race */
/* A source whose acquire blocks until released: holds an allocating thread inside the
 * out-of-line path, so a reset from another thread races it deterministically. */
static _Atomic(int) gate_open, gate_entered;
static void *gate_acquire(void *ctx, size_t size) {
  (void)ctx;
  atomic_store(&gate_entered, 1);
  while (!atomic_load(&gate_open)) usleep(1000);
  return malloc(size);
}
static void gate_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  (void)size;
  free(p);
}
static ar_concurrent_t *racy;
static void *racy_alloc(void *arg) {
  (void)arg;
  (void)!ar_concurrent_alloc(racy, 32);
  return NULL;
}
static void reset_while_allocating(void) {
  static ar_source_t gate = {gate_acquire, gate_release, NULL, "gate"};
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = &gate;
  o.name = "racy";
  racy = ar_concurrent_create(&o);
  pthread_t t;
  pthread_create(&t, NULL, racy_alloc, NULL);
  while (!atomic_load(&gate_entered)) usleep(1000);
  ar_concurrent_reset(racy); /* must abort: the other thread is inside an allocation */
  atomic_store(&gate_open, 1);
  pthread_join(t, NULL);
}
#endif

static void test_debug_detects_reset_race(void **state) {
  (void)state;
#if defined(NDEBUG) || MT_HEAP
  skip(); /* the heap flavor never calls the gating source that holds the allocation open */
#else
  char err[2048];
  assert_true(child_aborts(reset_while_allocating, err, sizeof err));
  assert_non_null(strstr(err, "ConcurrentArena 'racy'"));
  assert_non_null(strstr(err, "quiescence"));
#endif
}

static ar_arena_t *foreign;
static void *use_foreign(void *arg) {
  (void)arg;
  (void)!ar_alloc(foreign, 100000); /* out-of-line path: owner checked */
  return NULL;
}
static void serial_from_other_thread(void) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "owned";
  foreign = ar_arena_create(&o);
  pthread_t t;
  pthread_create(&t, NULL, use_foreign, NULL);
  pthread_join(t, NULL);
}

static void test_debug_detects_foreign_thread(void **state) {
  (void)state;
#ifdef NDEBUG
  skip();
#else
  char err[2048];
  assert_true(child_aborts(serial_from_other_thread, err, sizeof err));
  assert_non_null(strstr(err, "serial arena 'owned'"));
#endif
}

/* ---- chunk pool ---------------------------------------------------------------------- */

static void test_chunk_pool(void **state) {
  (void)state;
  assert_null(ar_chunk_pool_create(100, 4, NULL));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_null(ar_chunk_pool_create(4096, 0, NULL));
  counting_t cs;
  counting_init(&cs);
  ar_chunk_pool_t *p = ar_chunk_pool_create(4096, 2, &cs.src);
  assert_non_null(p);
  assert_null(ar_chunk_pool_get(p));
  const ar_source_t *src = ar_chunk_pool_source(p);
  void *a = src->acquire(src->ctx, 4096); /* miss: from the backing source */
  void *b = src->acquire(src->ctx, 4096);
  void *c = src->acquire(src->ctx, 4096);
  void *odd = src->acquire(src->ctx, 5000); /* other sizes bypass the pool */
  assert_int_equal(atomic_load(&cs.bytes), 3 * 4096 + 5000);
  src->release(src->ctx, a, 4096);
  src->release(src->ctx, b, 4096);
  src->release(src->ctx, c, 4096); /* pool full (2): goes back */
  src->release(src->ctx, odd, 5000);
  assert_int_equal(atomic_load(&cs.bytes), 2 * 4096);
  ar_chunk_pool_stats_t st;
  assert_int_equal(ar_chunk_pool_stats(p, &st), AR_OK);
  assert_int_equal(st.pooled, 2);
  assert_int_equal(st.misses, 3);
  assert_int_equal(st.overflows, 1);
  /* LIFO: the last chunk put is the first one out */
  void *again = src->acquire(src->ctx, 4096);
  assert_ptr_equal(again, b);
  ar_chunk_pool_stats(p, &st);
  assert_int_equal(st.hits, 1);
  src->release(src->ctx, again, 4096);
  assert_int_equal(ar_chunk_pool_trim(p, 1), 1);
  assert_int_equal(atomic_load(&cs.bytes), 4096);
  ar_chunk_pool_destroy(p);
  assert_int_equal(atomic_load(&cs.bytes), 0);
  assert_non_null(ar_chunk_pool_default());
  assert_ptr_equal(ar_chunk_pool_default(), ar_chunk_pool_default());
}

/* ---- thread arenas and scopes --------------------------------------------------------- */

static void *thread_arena_body(void *arg) {
  ar_arena_t **out = (ar_arena_t **)arg;
  ar_arena_t *a = ar_thread_arena();
  if (a == NULL || ar_thread_arena() != a) return (void *)1;
  if (ar_alloc(a, 1000) == NULL) return (void *)2;
  *out = a;
  return NULL;
}

static int count_kind(const ar_arena_info_t *info, void *ctx) {
  if (info->kind == AR_KIND_THREAD) (*(int *)ctx)++;
  return 0;
}

static void test_thread_arena_lifecycle(void **state) {
  (void)state;
  ar_global_stats_t g0, g1;
  ar_stats_global(&g0);
  int threads_before = 0;
  ar_registry_foreach(count_kind, &threads_before);
  ar_arena_t *seen[2] = {NULL, NULL};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, thread_arena_body, &seen[i]);
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(t[i], &r);
    assert_null(r);
  }
  assert_non_null(seen[0]);
  assert_non_null(seen[1]);
  ar_stats_global(&g1);
  /* both thread arenas were created and destroyed at thread exit */
  assert_int_equal(g1.arenas_created, g0.arenas_created + 2);
  assert_int_equal(g1.arenas_live, g0.arenas_live);
  assert_int_equal(g1.chunks_in_use, g0.chunks_in_use);
  assert_true(g1.avg_lifetime_ns > 0);
  int threads_after = 0;
  ar_registry_foreach(count_kind, &threads_after);
  assert_int_equal(threads_after, threads_before);
}

static void test_scopes(void **state) {
  (void)state;
  ar_scope_t outer = ar_scope_begin();
  assert_non_null(outer.arena);
  assert_ptr_equal(outer.arena, ar_thread_arena());
  ar_stats_t s0, s1;
  ar_arena_stats(outer.arena, &s0);
  assert_non_null(ar_alloc(outer.arena, 100));
  ar_scope_t inner = ar_scope_begin();
  for (int i = 0; i < 100; i++) assert_non_null(ar_alloc(inner.arena, 5000));
  assert_int_equal(ar_scope_end(&inner), AR_OK);
  assert_int_equal(ar_scope_end(&outer), AR_OK);
  ar_arena_stats(outer.arena, &s1);
  assert_int_equal(s1.used, s0.used);
  /* ending the outer scope ended the inner one: its mark is stale now */
  ar_scope_t outer2 = ar_scope_begin();
  assert_non_null(ar_alloc(outer2.arena, 64)); /* inner2 starts past outer2's position */
  ar_scope_t inner2 = ar_scope_begin();
  assert_non_null(ar_alloc(inner2.arena, 70000));
  assert_int_equal(ar_scope_end(&outer2), AR_OK);
  assert_int_equal(ar_scope_end(&inner2), AR_ESTALE);
  assert_int_equal(ar_scope_end(NULL), AR_EINVAL);
  ar_options_t bad = AR_OPTIONS_INIT;
  bad.chunk_size = 10;
  assert_int_equal(ar_thread_arena_configure(&bad), AR_EINVAL);
  assert_int_equal(ar_thread_arena_configure(NULL), AR_OK);
}

/* ---- arena pool ---------------------------------------------------------------------- */

static void test_arena_pool(void **state) {
  (void)state;
  assert_null(ar_arena_pool_take(NULL));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  ar_arena_pool_options_t po;
  ar_arena_pool_options_init(&po);
  po.max_idle = 2;
  po.arena.retain_bytes = 8 * AR_DEFAULT_CHUNK_SIZE;
  ar_arena_pool_t *p = ar_arena_pool_create(&po);
  assert_non_null(p);
  ar_arena_t *a = ar_arena_pool_take(p);
  ar_arena_t *b = ar_arena_pool_take(p);
  ar_arena_t *c = ar_arena_pool_take(p);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  assert_int_equal(ar_arena_pool_give(p, a), AR_OK);
  assert_int_equal(ar_arena_pool_give(p, b), AR_OK);
  assert_int_equal(ar_arena_pool_give(p, c), AR_OK); /* over max_idle: the oldest goes */
  ar_arena_pool_stats_t st;
  ar_arena_pool_stats(p, &st);
  assert_int_equal(st.idle, 2);
  assert_int_equal(st.taken, 0);
  assert_int_equal(st.created, 3);
  assert_int_equal(st.reclaimed, 1);
  /* LIFO: the most recently given comes back, empty */
  ar_arena_t *d = ar_arena_pool_take(p);
  assert_ptr_equal(d, c);
  ar_stats_t as;
  ar_arena_stats(d, &as);
  assert_int_equal(as.used, 0);
  /* one huge request does not pin its memory: retain follows the moving average */
  for (int i = 0; i < 30; i++) {
    assert_non_null(ar_alloc(d, 1000));
    assert_int_equal(ar_arena_pool_give(p, d), AR_OK);
    d = ar_arena_pool_take(p);
  }
  for (int i = 0; i < 6; i++) assert_non_null(ar_alloc(d, 60000)); /* ~6 chunks */
  assert_int_equal(ar_arena_pool_give(p, d), AR_OK);
  ar_arena_pool_stats(p, &st);
  assert_true(st.retain_target < 4 * AR_DEFAULT_CHUNK_SIZE);
  d = ar_arena_pool_take(p);
  ar_arena_stats(d, &as);
  assert_true(as.capacity <= st.retain_target + AR_DEFAULT_CHUNK_SIZE);
  assert_int_equal(ar_arena_pool_give(p, d), AR_OK);
  assert_int_equal(ar_arena_pool_trim(p, true), 2);
  ar_arena_pool_stats(p, &st);
  assert_int_equal(st.idle, 0);
  assert_int_equal(ar_arena_pool_give(NULL, NULL), AR_EINVAL);
  ar_arena_pool_destroy(p);

  /* options ar_arena_create would refuse are refused at pool creation, with its code (a
   * pool that accepted them would fail every take); tests/pool has the full set */
  ar_arena_pool_options_init(&po);
  po.arena.prealloc_chunks = 2;
  po.arena.limit_bytes = AR_DEFAULT_CHUNK_SIZE;
  assert_null(ar_arena_pool_create(&po));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
}

/* ---- registry and global stats --------------------------------------------------------- */

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
  const size_t held = MT_HEAP ? 100 : AR_DEFAULT_CHUNK_SIZE;
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
  if (!MT_HEAP) assert_true(g1.chunks_pooled >= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concurrent_basics),
      cmocka_unit_test(test_concurrent_inline_path),
      cmocka_unit_test(test_concurrent_errors),
      cmocka_unit_test(test_concurrent_threads),
      cmocka_unit_test(test_debug_detects_reset_race),
      cmocka_unit_test(test_debug_detects_foreign_thread),
      cmocka_unit_test(test_chunk_pool),
      cmocka_unit_test(test_thread_arena_lifecycle),
      cmocka_unit_test(test_scopes),
      cmocka_unit_test(test_arena_pool),
      cmocka_unit_test(test_registry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
