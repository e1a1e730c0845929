/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/late_check.h - what the adapters' tests (jansson_test, libxml2_test)
 * share: the hooks' counters and the arena's use, and about a late free: which sanitizer the build has, whether the thread arena packs
 * blocks (so freed blocks reach the hooks' lists), and the outcome a child that freed a
 * block after its scope ended must show. One check, so the two libraries are held to the
 * same report.
 *
 * Include after <cmocka.h> and arenart_hooks.h; everything is static.
 */
#ifndef ARENART_INTEGRATIONS_LATE_CHECK_H
#define ARENART_INTEGRATIONS_LATE_CHECK_H

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "integrations/jansson/arenart_hooks.h"

#include "tests/test_util.h"

#define UNDER_ASAN TEST_ASAN
#define UNDER_TSAN TEST_TSAN

/* The calling thread's hook counters. */
static inline ar_hooks_stats_t stats(void) {
  ar_hooks_stats_t s;
  assert_int_equal(ar_hooks_thread_stats(&s), 0);
  return s;
}

/* Bytes the calling thread's arena has handed out. */
static inline size_t arena_used(void) {
  ar_stats_t st;
  assert_int_equal(ar_arena_stats(ar_thread_arena(), &st), AR_OK);
  return st.used;
}

/* Whether this thread's arena packs blocks back to back (not a checking arena: ASan, checked
 * mode, AR_DEBUG >= 2, the heap flavor); the hooks find out at their first block in a scope. */
static inline int arena_packs(void) {
  ar_scope_t sc = ar_scope_begin();
  ar_hooks_free(ar_hooks_malloc(8));
  ar_hooks_stats_t s;
  ar_hooks_thread_stats(&s);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  return s.small_lists != 0;
}

/* The report a late free must produce in a child (status and stderr `buf`, from child_run):
 * under ASan, a use of poisoned memory (the scope's memory is poisoned when the scope ends)
 * naming `frame`; under TSan possibly its own report after the hooks' line; otherwise the
 * child's "late=... unknown=... lists=..." line, and in AR_DEBUG builds one
 * AR_HOOKS_LATE_PREFIX line for the scope. */
static inline void expect_late_outcome(int status, const char *buf, const char *frame) {
  if (UNDER_ASAN) {
    if (strstr(buf, frame) == NULL) fprintf(stderr, "child's stderr:\n%s\n", buf);
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
    /* poisoned arena memory; or freed heap memory: a big block, or any block in the heap
     * flavor (--config=heap), where each arena allocation is its own malloc */
    assert_true(strstr(buf, "AddressSanitizer: use-after-poison") != NULL ||
                strstr(buf, "AddressSanitizer: heap-use-after-free") != NULL);
    assert_non_null(strstr(buf, frame));
    return;
  }
  if (UNDER_TSAN && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    /* ThreadSanitizer also sees a late read of a big block, which the scope's end gave back
     * to malloc, and stops the child there; the hooks' line came first */
    assert_non_null(strstr(buf, "ThreadSanitizer: heap-use-after-free"));
    assert_non_null(strstr(buf, AR_HOOKS_LATE_PREFIX));
    return;
  }
  if (strstr(buf, "late=") == NULL) fprintf(stderr, "child's stderr:\n%s\n", buf);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  unsigned long long late = 0, unknown = 0;
  unsigned lists = 0;
  const char *line = strstr(buf, "late=");
  assert_non_null(line);
  assert_int_equal(sscanf(line, "late=%llu unknown=%llu lists=%u", &late, &unknown, &lists), 3);
  if (lists == 0) {
    /* a checking arena (checked mode, the heap flavor): the scope's memory was junk-filled
     * or freed at its end, so the words read as unknown, or as late where they survived */
    assert_true(late + unknown > 0);
#ifndef NDEBUG
    assert_true(strstr(buf, AR_HOOKS_LATE_PREFIX) != NULL ||
                strstr(buf, AR_HOOKS_UNKNOWN_PREFIX) != NULL);
#endif
    return;
  }
  assert_true(late > 0);
#ifndef NDEBUG
  const char *first = strstr(buf, AR_HOOKS_LATE_PREFIX);
  assert_non_null(first);
  assert_null(strstr(first + 1, AR_HOOKS_LATE_PREFIX)); /* one line per scope, not per block */
#endif
}

#endif /* ARENART_INTEGRATIONS_LATE_CHECK_H */
