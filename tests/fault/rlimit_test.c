/* SPDX-License-Identifier: MIT */
/*
 * tests/fault/rlimit_test.c - running out of address space for real.
 *
 * For each kind of arena a forked child lowers its RLIMIT_AS to what it already maps plus 48 MiB
 * and then drives the arena until the kernel (mmap) or malloc refuses: the failing call must return its
 * documented error (AR_ENOMEM), the arena must stay consistent, and once memory is given back
 * the same arena must allocate again. The child reports the first broken promise on stderr and
 * exits non-zero; the parent expects exit 0.
 *
 * Sanitizers reserve terabytes of shadow address space, so this target is tagged no_asan and
 * no_tsan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arenart.h"
#include "tests/child.h"
#include "tests/test_util.h"

#define HEADROOM ((size_t)48 << 20)

#define CHILD_CHECK(cond)                                                                     \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      fprintf(stderr, "rlimit child: %s:%d: %s (last error %s)\n", __FILE__, __LINE__, #cond, \
              ar_strerror(ar_last_error()));                                                  \
      _exit(1);                                                                               \
    }                                                                                         \
  } while (0)

static size_t mapped_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (f != NULL) {
    if (fscanf(f, "%lu", &pages) != 1) pages = 0;
    fclose(f);
  }
  return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Allocates `size` at a time until the arena refuses; returns how many succeeded. */
static size_t fill_serial(ar_arena_t *a, size_t size) {
  size_t n = 0;
  for (;;) {
    ar_clear_error();
    void *p = ar_alloc(a, size);
    if (p == NULL) break;
    n++;
    CHILD_CHECK(n < ((size_t)1 << 24));
  }
  CHILD_CHECK(ar_last_error() == AR_ENOMEM);
  CHILD_CHECK(ar_arena_check(a) == AR_OK);
  return n;
}

static void serial_arenas(const ar_source_t *src) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.source = src;
  ar_arena_t *a = ar_arena_create(&o);
  CHILD_CHECK(a != NULL);
  /* One impossible request fails cleanly and changes nothing. */
  ar_stats_t before, after;
  CHILD_CHECK(ar_arena_stats(a, &before) == AR_OK);
  CHILD_CHECK(ar_alloc(a, (size_t)1 << 40) == NULL && ar_last_error() == AR_ENOMEM);
  CHILD_CHECK(ar_arena_stats(a, &after) == AR_OK);
  CHILD_CHECK(after.capacity == before.capacity && after.used == before.used);
  /* Small and large requests until the address space runs out, twice: the arena recovers. */
  for (int round = 0; round < 2; round++) {
    size_t n = fill_serial(a, 1000);
    CHILD_CHECK(n > 1000);
    ar_stats_t s;
    CHILD_CHECK(ar_arena_stats(a, &s) == AR_OK);
    CHILD_CHECK(s.capacity <= HEADROOM);
    ar_release(a);
    n = fill_serial(a, 200000);
    CHILD_CHECK(n > 10);
    ar_release(a);
  }
  ar_mark_t m = ar_mark(a);
  CHILD_CHECK(fill_serial(a, 5000) > 10);
  CHILD_CHECK(ar_rewind(a, &m) == AR_OK);
  ar_arena_destroy(a);
}

static void thread_scopes(void) {
  for (int round = 0; round < 2; round++) {
    ar_scope_t s = ar_scope_begin();
    CHILD_CHECK(s.arena != NULL);
    CHILD_CHECK(fill_serial(s.arena, 4000) > 100);
    CHILD_CHECK(ar_scope_end(&s) == AR_OK);
    ar_release(ar_thread_arena()); /* everything back, then fill again */
  }
}

static void concurrent(void) {
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  CHILD_CHECK(ca != NULL);
  for (int round = 0; round < 2; round++) {
    size_t n = 0;
    for (;;) {
      ar_clear_error();
      if (ar_concurrent_alloc(ca, round == 0 ? 700 : 100000) == NULL) break;
      n++;
    }
    CHILD_CHECK(ar_last_error() == AR_ENOMEM);
    CHILD_CHECK(n > 10);
    ar_concurrent_reset(ca);
  }
  ar_concurrent_destroy(ca);
}

static void containers(void) {
  ar_arena_t *a = ar_arena_create(NULL);
  CHILD_CHECK(a != NULL);
  ar_vec_t v;
  CHILD_CHECK(ar_vec_init(&v, a, 64) == AR_OK);
  char elem[64];
  memset(elem, 7, sizeof elem);
  size_t len = 0;
  for (;;) {
    int rc = ar_vec_push(&v, elem);
    if (rc != AR_OK) {
      CHILD_CHECK(rc == AR_ENOMEM);
      break;
    }
    len++;
  }
  CHILD_CHECK(ar_vec_len(&v) == len && len > 1000);
  CHILD_CHECK(memcmp(ar_vec_at(&v, len - 1), elem, sizeof elem) == 0);
  ar_arena_destroy(a);
}

/* Runs `phase` in a forked child whose address space is limited to what it maps now plus
 * HEADROOM. One child per phase: memory a phase gave back to malloc may stay in malloc's hands
 * (glibc keeps what it had to mmap when brk hit the limit), which would starve the next one. */
static void limited_child(void (*phase)(void)) {
  /* What the phase uses later exists before the limit: the thread arena, the default chunk
   * pool, the registry, stdio's buffers. */
  ar_scope_t warm = ar_scope_begin();
  CHILD_CHECK(ar_alloc(warm.arena, 10) != NULL);
  ar_scope_end(&warm);
  (void)ar_chunk_pool_default();
  fprintf(stderr, "rlimit child: %zu MiB mapped; limiting the address space to %zu MiB more\n",
          mapped_bytes() >> 20, HEADROOM >> 20);
  struct rlimit rl;
  CHILD_CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
  rl.rlim_cur = (rlim_t)(mapped_bytes() + HEADROOM);
  CHILD_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
  phase();
  fprintf(stderr, "rlimit child: failed cleanly and recovered\n");
  _exit(0);
}

static void limited_child_arg(void *phase) { limited_child(*(void (**)(void))phase); }

/* Runs fn(arg) in a forked child, which must exit 0 saying it failed cleanly and recovered. */
static void expect_recovered(void (*fn)(void *), void *arg) {
  char err[4096];
  int status = child_run(fn, arg, err, sizeof err);
  bool ok = child_exited(status, 0) && strstr(err, "failed cleanly and recovered") != NULL;
  if (!ok) print_error("child status %#x, stderr:\n%s\n", status, err);
  assert_true(ok);
}

static void run_limited(void (*phase)(void)) { expect_recovered(limited_child_arg, &phase); }

static void serial_os(void) { serial_arenas(ar_source_os()); }
static void serial_malloc(void) { serial_arenas(ar_source_malloc()); }

static void test_serial_os_source(void **state) {
  (void)state;
  run_limited(serial_os);
}

static void test_serial_malloc_source(void **state) {
  (void)state;
  run_limited(serial_malloc);
}

static void test_thread_scopes(void **state) {
  (void)state;
  run_limited(thread_scopes);
}

static void test_concurrent(void **state) {
  (void)state;
  run_limited(concurrent);
}

static void test_containers(void **state) {
  (void)state;
  run_limited(containers);
}

/* The first arena of a process that is out of memory: nothing of arenart exists yet (no
 * default chunk pool, no registry), malloc is exhausted, and ar_arena_create(NULL) must say
 * AR_ENOMEM instead of aborting; once memory is back, it works. */
static void first_arena_child(void *unused) {
  (void)unused;
  struct rlimit rl;
  CHILD_CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
  rl.rlim_cur = (rlim_t)(mapped_bytes() + HEADROOM);
  CHILD_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
  void *hoard = NULL; /* a list of every block malloc will still give */
  for (size_t sz = (size_t)1 << 20; sz >= 16;) {
    void *p = malloc(sz);
    if (p == NULL) {
      sz /= 2;
      continue;
    }
    *(void **)p = hoard;
    hoard = p;
  }
  ar_clear_error();
  ar_arena_t *a = ar_arena_create(NULL);
  CHILD_CHECK(a == NULL && ar_last_error() == AR_ENOMEM);
  while (hoard != NULL) {
    void *next = *(void **)hoard;
    free(hoard);
    hoard = next;
  }
  a = ar_arena_create(NULL);
  CHILD_CHECK(a != NULL && ar_alloc(a, 100) != NULL);
  ar_arena_destroy(a);
  fprintf(stderr, "rlimit child: failed cleanly and recovered\n");
  _exit(0);
}

static void test_first_arena_out_of_memory(void **state) {
  (void)state;
  expect_recovered(first_arena_child, NULL);
}

/* A growing arena whose next chunk (4 MiB) the OS cannot map falls back to a chunk_size one,
 * which the process-wide pool still holds (arena.h, ar_options_t.chunk_size; concurrent.h,
 * ar_concurrent_create): it reports AR_ENOMEM only once the pool is empty too. The same child
 * drives a serial arena and a ConcurrentArena through these calls. */
typedef struct arena_kind {
  void *(*create)(const ar_options_t *o);
  void *(*alloc)(void *a, size_t n);
  void (*destroy)(void *a);
  int (*check)(void *a); /* NULL: nothing to check */
} arena_kind_t;

static void *serial_create(const ar_options_t *o) { return ar_arena_create(o); }
static void *serial_alloc(void *a, size_t n) { return ar_alloc((ar_arena_t *)a, n); }
static void serial_destroy(void *a) { ar_arena_destroy((ar_arena_t *)a); }
static int serial_check(void *a) { return ar_arena_check((ar_arena_t *)a); }
static void *conc_create(const ar_options_t *o) { return ar_concurrent_create(o); }
static void *conc_alloc(void *a, size_t n) { return ar_concurrent_alloc((ar_concurrent_t *)a, n); }
static void conc_destroy(void *a) { ar_concurrent_destroy((ar_concurrent_t *)a); }

static const arena_kind_t serial_kind = {serial_create, serial_alloc, serial_destroy, serial_check};
static const arena_kind_t concurrent_kind = {conc_create, conc_alloc, conc_destroy, NULL};

static void pool_fallback_child(void *arg) {
  const arena_kind_t *k = (const arena_kind_t *)arg;
  ar_options_t o = AR_OPTIONS_INIT;
  o.flags = AR_ARENA_FIXED_CHUNKS; /* 4 MiB of chunk_size chunks, back to the pool at destroy */
  void *fixed = k->create(&o);
  CHILD_CHECK(fixed != NULL);
  for (size_t n = 0; n < ((size_t)4 << 20) / 64; n++) CHILD_CHECK(k->alloc(fixed, 64) != NULL);
  k->destroy(fixed);
  void *a = k->create(NULL);
  CHILD_CHECK(a != NULL);
  /* 2.5 MiB: the current chunk is 2 MiB, and the next one would be 4 MiB. */
  for (size_t n = 0; n < ((size_t)5 << 19) / 64; n++) CHILD_CHECK(k->alloc(a, 64) != NULL);
  struct rlimit rl;
  CHILD_CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
  rl.rlim_cur = (rlim_t)(mapped_bytes() + ((size_t)256 << 10));
  CHILD_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
  size_t got = 0;
  ar_clear_error();
  while (k->alloc(a, 64) != NULL) {
    got += 64;
    CHILD_CHECK(got < ((size_t)64 << 20));
  }
  CHILD_CHECK(ar_last_error() == AR_ENOMEM);
  CHILD_CHECK(k->check == NULL || k->check(a) == AR_OK);
  fprintf(stderr, "rlimit child: %zu KiB after the limit\n", got >> 10);
  CHILD_CHECK(got >= ((size_t)3 << 20)); /* the pool's chunks, not a few hundred KiB */
  k->destroy(a);
  fprintf(stderr, "rlimit child: failed cleanly and recovered\n");
  _exit(0);
}

static void test_serial_grown_falls_back(void **state) {
  (void)state;
  if (TEST_HEAP) skip(); /* no chunks, no pool: every allocation is a malloc */
  expect_recovered(pool_fallback_child, (void *)&serial_kind);
}

static void test_concurrent_grown_falls_back(void **state) {
  (void)state;
  if (TEST_HEAP) skip();
  expect_recovered(pool_fallback_child, (void *)&concurrent_kind);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_serial_os_source),
      cmocka_unit_test(test_serial_malloc_source),
      cmocka_unit_test(test_thread_scopes),
      cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_containers),
      cmocka_unit_test(test_first_arena_out_of_memory),
      cmocka_unit_test(test_concurrent_grown_falls_back),
      cmocka_unit_test(test_serial_grown_falls_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
