/* SPDX-License-Identifier: MIT */
/*
 * tests/sanitizer/checked_test.c - what checked mode (AR_ARENA_CHECKED) and the sanitizer
 * builds promise about memory that is handed out and taken back.
 *
 *   - A write past an allocation is found when the memory is taken back (reset, rewind,
 *     release, destroy): the process aborts with a message that names the arena, the
 *     allocation (size, address) and its allocation site, the return address of the allocating
 *     call, which must lie in the function that made the call (ar_alloc inline or ar_strdup).
 *   - Memory taken back is junk-filled (0xDD) in checked mode; in ASan builds it is poisoned,
 *     every live allocation is unpoisoned exactly and followed by a poisoned red zone.
 *   - A call from a thread that does not own the arena aborts with a message naming it.
 * Aborting cases run in a forked child whose stderr the parent reads.
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

#define NOINLINE __attribute__((noinline))

static int in_child(void (*fn)(void *), void *arg, char *err, size_t errsize) {
  int status = child_run(fn, arg, err, errsize);
  assert_int_not_equal(status, -1);
  return status;
}

static ar_arena_t *checked_arena(const char *name) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.flags = AR_ARENA_CHECKED;
  o.name = name;
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) abort();
  return a;
}

/* ---- guard damage names the arena and the allocation site ------------------------------ */

/* Each writes one byte past a fresh allocation; the function's own address range is where
 * the recorded site must fall. */
static NOINLINE void overflow_alloc(ar_arena_t *a) {
  char *p = (char *)ar_alloc(a, 13);
  ((volatile char *)p)[13] = 'X';
}

static NOINLINE void overflow_strdup(ar_arena_t *a) {
  char *p = ar_strdup(a, "hello");
  ((volatile char *)p)[6] = 'X';
}

static NOINLINE void overflow_large(ar_arena_t *a) {
  char *p = (char *)ar_alloc(a, 3000); /* a dedicated chunk at this chunk size */
  ((volatile char *)p)[3000] = 'X';
}

typedef struct guard_case {
  void (*overflow)(ar_arena_t *);
  int how; /* 0 reset, 1 rewind, 2 destroy */
  size_t size;
} guard_case_t;

static void guard_child(void *arg) {
  const guard_case_t *g = (const guard_case_t *)arg;
  ar_arena_t *a = checked_arena("guarded");
  void *keep = ar_alloc(a, 100);
  (void)keep;
  ar_mark_t m = ar_mark(a);
  g->overflow(a);
  if (g->how == 0) ar_reset(a);
  else if (g->how == 1) ar_rewind(a, &m);
  else ar_arena_destroy(a);
  _exit(7); /* not reached: the damaged guard must abort */
}

static void expect_guard_report(void (*overflow)(ar_arena_t *), size_t size) {
  for (int how = 0; how < 3; how++) {
    guard_case_t g = {overflow, how, size};
    char err[8192];
    int status = in_child(guard_child, &g, err, sizeof err);
    char want_size[64];
    snprintf(want_size, sizeof want_size, "allocation of %zu bytes at 0x", size);
    const char *site = strstr(err, "allocated from 0x");
    uintptr_t at = site != NULL ? (uintptr_t)strtoull(site + 15, NULL, 16) : 0;
    uintptr_t fn = (uintptr_t)overflow;
    bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
              strstr(err, "arena 'guarded'") != NULL &&
              strstr(err, "overwritten guard byte") != NULL && strstr(err, want_size) != NULL &&
              strstr(err, "guard check failed when memory was taken back") != NULL &&
              site != NULL && at > fn && at < fn + 512;
    if (!ok)
      print_error("how=%d status=%#x site=%#lx fn=%#lx stderr:\n%s\n", how, status,
                  (unsigned long)at, (unsigned long)fn, err);
    assert_true(ok);
  }
}

static void test_guard_names_site_alloc(void **state) {
  (void)state;
  if (AR_ASAN) { /* checked mode is off: ASan reports the write itself (detect_test) */
    skip();
    return;
  }
  expect_guard_report(overflow_alloc, 13);
}

static void test_guard_names_site_strdup(void **state) {
  (void)state;
  if (AR_ASAN) {
    skip();
    return;
  }
  expect_guard_report(overflow_strdup, 6);
}

static void test_guard_names_site_large(void **state) {
  (void)state;
  if (AR_ASAN) {
    skip();
    return;
  }
  expect_guard_report(overflow_large, 3000);
}

/* ar_arena_check reports the damage without aborting, and the arena is fine once repaired. */
static void test_check_reports_without_abort(void **state) {
  (void)state;
  if (AR_ASAN) {
    skip();
    return;
  }
  ar_arena_t *a = checked_arena("checkable");
  char *p = (char *)ar_alloc(a, 20);
  assert_non_null(p);
  assert_int_equal(ar_arena_check(a), AR_OK);
  volatile char *v = p;
  char saved = v[20];
  v[20] = 'Y';
  ar_clear_error();
  assert_int_equal(ar_arena_check(a), AR_ECORRUPT);
  assert_int_equal(ar_last_error(), AR_ECORRUPT);
  v[20] = saved;
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* ---- memory taken back: junk (checked) or poisoned (ASan) ------------------------------ */

#if AR_ASAN
static bool poisoned(const void *p) { return __asan_address_is_poisoned(p) != 0; }
#endif

static void test_taken_back_memory(void **state) {
  (void)state;
#if AR_ASAN
  /* Live bytes are addressable, the red zone after them is not; rewound and reset memory is
   * poisoned again (heap flavor: ASan's own free poisons it). */
  ar_arena_t *a = checked_arena("poison");
  char *keep = (char *)ar_alloc(a, 10);
  ar_mark_t m = ar_mark(a);
  char *p = (char *)ar_alloc(a, 24);
  assert_non_null(p);
  for (int i = 0; i < 24; i++) assert_false(poisoned(p + i));
  assert_true(poisoned(p + 24));
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  for (int i = 0; i < 24; i++) assert_true(poisoned(p + i));
  assert_false(poisoned(keep));
  ar_reset(a);
  assert_true(poisoned(keep));
  char *q = (char *)ar_alloc(a, 40);
  assert_non_null(q);
  for (int i = 0; i < 40; i++) assert_false(poisoned(q + i));
  assert_true(poisoned(q + 40));
  ar_arena_destroy(a);
#else
  if (AR_HEAP) { /* the memory went back to malloc: reading it would be undefined */
    skip();
    return;
  }
  ar_arena_t *a = checked_arena("junk");
  char *keep = (char *)ar_alloc(a, 10);
  memset(keep, 'k', 10);
  ar_mark_t m = ar_mark(a);
  char *p = (char *)ar_alloc(a, 24);
  assert_non_null(p);
  memset(p, 'x', 24);
  assert_int_equal(ar_rewind(a, &m), AR_OK);
  /* The chunk is still the current one, so reading the old bytes is defined here. */
  for (int i = 0; i < 24; i++) assert_int_equal((unsigned char)p[i], 0xDD);
  assert_int_equal(keep[0], 'k');
  ar_reset(a); /* retain_bytes keeps the chunk */
  for (int i = 0; i < 10; i++) assert_int_equal((unsigned char)keep[i], 0xDD);
  ar_arena_destroy(a);
#endif
}

/* ---- owner thread -------------------------------------------------------------------- */

static void *foreign(void *arg) {
  void *p = ar_alloc_aligned((ar_arena_t *)arg, 64, 64);
  return p;
}

static void owner_child(void *arg) {
  (void)arg;
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "owned-by-main";
  ar_arena_t *a = ar_arena_create(&o);
  pthread_t t;
  if (a == NULL || pthread_create(&t, NULL, foreign, a) != 0) _exit(3);
  pthread_join(t, NULL);
  _exit(6); /* not reached in debug builds */
}

static void test_owner_thread_message(void **state) {
  (void)state;
  if (AR_DEBUG < 1) { /* release builds do not check the owner */
    skip();
    return;
  }
  char err[4096];
  int status = in_child(owner_child, NULL, err, sizeof err);
  bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
            strstr(err, "serial arena 'owned-by-main'") != NULL &&
            strstr(err, "used from a thread that does not own it") != NULL;
  if (!ok) print_error("status=%#x stderr:\n%s\n", status, err);
  assert_true(ok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_guard_names_site_alloc),
      cmocka_unit_test(test_guard_names_site_strdup),
      cmocka_unit_test(test_guard_names_site_large),
      cmocka_unit_test(test_check_reports_without_abort),
      cmocka_unit_test(test_taken_back_memory),
      cmocka_unit_test(test_owner_thread_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
