/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/owner_test.c - the serial arena's owner thread (arena.h: "Thread safety",
 * ar_arena_adopt): builds with AR_DEBUG >= 1 abort when a thread other than the owner uses an
 * arena, and ar_arena_adopt hands an arena to another thread.
 *
 * The abort ends the process, so it is observed in a forked child (tests/child.h), whose
 * stderr must name the violation. Release builds do not check the owner: those tests skip.
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

/* ---- owner thread ---------------------------------------------------------------------- */

typedef struct foreign {
  ar_arena_t *arena;
  int adopt;
  int how;
  bool ok;
} foreign_t;

static void *foreign_thread(void *arg) {
  foreign_t *f = (foreign_t *)arg;
  if (f->adopt) ar_arena_adopt(f->arena);
  if (f->how == 0) {
    ar_mark_t m = ar_mark(f->arena);
    void *p = ar_alloc_aligned(f->arena, 100, 64); /* always out of line */
    char *s = ar_sprintf(f->arena, "%d", 7);
    f->ok = p != NULL && s != NULL && strcmp(s, "7") == 0 && ar_rewind(f->arena, &m) == AR_OK &&
            ar_arena_check(f->arena) == AR_OK;
  } else if (f->how == 1) {
    void *p = ar_alloc_aligned(f->arena, 100, 64);
    f->ok = p != NULL;
  } else if (f->how == 2) {
    ar_reset(f->arena);
    f->ok = true;
  } else {
    void *p = ar_alloc(f->arena, 16); /* inline unless the arena is slow-only */
    f->ok = p != NULL;
  }
  return NULL;
}

#if AR_DEBUG >= 1 /* the owner check exists only there */
static void foreign_child(void *arg) {
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL) _exit(3);
  void *p = ar_alloc(a, 16);
  (void)p;
  foreign_t f = {a, 0, *(int *)arg, false};
  pthread_t th;
  if (pthread_create(&th, NULL, foreign_thread, &f) != 0) _exit(4);
  pthread_join(th, NULL);
  _exit(f.ok ? 0 : 5);
}

/* Runs `how` on a fresh arena from a second thread in a child process; returns the child's
 * wait status and what it wrote to stderr. */
static int run_foreign_in_child(int how, char *err, size_t errsize) {
  int status = child_run(foreign_child, &how, err, errsize);
  assert_int_not_equal(status, -1);
  return status;
}
#endif

static void test_owner_thread_checked(void **state) {
#if AR_DEBUG < 1
  skip(); /* release builds do not check the owner */
#else
  /* how 3 is a plain ar_alloc: checked where it goes out of line, which is every call of a
   * slow-only arena (checked mode, ASan, Valgrind, debug level 2: arena.h, "Thread contract");
   * the inline bump of other arenas is not checked, so there it must simply succeed. */
  ar_arena_t *probe = ar_arena_create(NULL);
  assert_non_null(probe);
  bool slow_only = probe->slow_only;
  ar_arena_destroy(probe);
  for (int how = 0; how < 4; how++) {
    char err[4096];
    if (how == 3 && !slow_only) {
      assert_true(child_exited(run_foreign_in_child(how, err, sizeof err), 0));
      continue;
    }
    int status = run_foreign_in_child(how, err, sizeof err);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
      print_error("how=%d status=%#x stderr:\n%s\n", how, status, err);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(err, "used from a thread that does not own it"));
    assert_non_null(strstr(err, "ar_arena_adopt"));
  }
#endif
}

static void test_adopt_hands_off(void **state) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "handed-off";
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  char *mine = ar_strdup(a, "before");
  assert_non_null(mine);
  foreign_t f = {a, 1, 0, false};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, foreign_thread, &f), 0);
  assert_int_equal(pthread_join(th, NULL), 0); /* the join is the happens-before edge */
  assert_true(f.ok);
  ar_arena_adopt(a); /* and back */
  assert_string_equal(mine, "before");
  assert_non_null(ar_alloc_aligned(a, 10, 64));
  ar_reset(a);
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);
}

/* Thread arenas and pooled arenas are serial arenas that belong to one thread at a time
 * (arena.h: hand one off with ar_arena_adopt), so this one check covers them too: a named
 * arena used from a second thread on the out-of-line path aborts, naming the arena, in every
 * build with assertions (moved here from tests/thread/thread_test.c). */
#ifndef NDEBUG /* see test_debug_detects_foreign_thread */
static ar_arena_t *owned_arena;
static void *use_owned_arena(void *arg) {
  (void)arg;
  (void)!ar_alloc(owned_arena, 100000); /* out-of-line path: owner checked */
  return NULL;
}
static void serial_from_other_thread(void *arg) {
  (void)arg;
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = "owned";
  owned_arena = ar_arena_create(&o);
  pthread_t t;
  pthread_create(&t, NULL, use_owned_arena, NULL);
  pthread_join(t, NULL);
}
#endif

static void test_debug_detects_foreign_thread(void **state) {
  (void)state;
#ifdef NDEBUG
  skip();
#else
  char err[2048];
  int status = child_run(serial_from_other_thread, NULL, err, sizeof err);
  assert_int_not_equal(status, -1);
  assert_true(child_aborted(status));
  assert_non_null(strstr(err, "serial arena 'owned'"));
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      chunk_layout_test(test_owner_thread_checked),
      chunk_layout_test(test_adopt_hands_off),
      cmocka_unit_test(test_debug_detects_foreign_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
