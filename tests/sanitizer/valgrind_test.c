/* SPDX-License-Identifier: MIT */
/*
 * tests/sanitizer/valgrind_test.c - memcheck reports misuse of arena memory at the faulting
 * line.
 *
 * Runs the victim (victim.c) under /usr/bin/valgrind with --error-exitcode. In the chunk
 * flavor an arena created under Valgrind is a memcheck mempool (runtime/track.c): a read after
 * reset, rewind or scope end is an "Invalid read" at the victim's FAULT_LINE, and a write into
 * the guard after an allocation an "Invalid write". In the heap flavor memcheck sees the
 * mallocs themselves: the reads are reads of freed blocks, which it reports the same way, while
 * the checked-mode guard inside each block is the arena's own business (detect_test). After
 * the reported write into a guard the victim goes on to reset, where checked mode (which
 * Valgrind turns on) finds the damage and aborts. A ConcurrentArena's memory read after its
 * reset or destroy lies in a chunk that the default chunk pool holds and has marked NOACCESS
 * (runtime/chunkpool.c): an "Invalid read" too.
 * The "clean" case must produce no error at all: the mempool bookkeeping raises no false alarm.
 *
 * Valgrind cannot run ASan or TSan binaries, so this target is tagged no_asan and no_tsan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/arena_internal.h"
#include "tests/sanitizer/spawn.h"

#define VALGRIND "/usr/bin/valgrind"
#define ERROR_EXIT 97

static const char *g_argv0;

static int run_under_valgrind(const char *name, char *out, size_t outsize) {
  char *argv[] = {VALGRIND,
                  "--tool=memcheck",
                  "--error-exitcode=97",
                  "--leak-check=no",
                  "--track-origins=no",
                  "--num-callers=12",
                  (char *)victim_path(g_argv0),
                  (char *)name,
                  NULL};
  return spawn_capture(argv, out, outsize);
}

/* `dies`: the victim aborts after the report (checked mode also finds the damaged guard). */
static void expect_report(const char *name, const char *kind, bool dies) {
  static char out[1 << 17];
  if (access(VALGRIND, X_OK) != 0)
    fail_msg("%s is not installed (tools/setup.sh installs it); cannot run this test", VALGRIND);
  int status = run_under_valgrind(name, out, sizeof out);
  int line = fault_line(out);
  char want_line[64], want_fn[64];
  snprintf(want_line, sizeof want_line, "victim.c:%d)", line);
  snprintf(want_fn, sizeof want_fn, "fault_%s", name);
  bool exited_right = dies ? WIFSIGNALED(status) && strstr(out, "guard check failed") != NULL
                           : WIFEXITED(status) && WEXITSTATUS(status) == ERROR_EXIT;
  bool ok = exited_right && line > 0 && strstr(out, kind) != NULL &&
            strstr(out, want_line) != NULL && strstr(out, want_fn) != NULL;
  if (!ok)
    print_error("%s: %s; wanted exit %d, '%s', '%s' and '%s' in:\n%s\n", name,
                describe_status(status), ERROR_EXIT, kind, want_line, want_fn, out);
  assert_true(ok);
}

static void test_use_after_reset(void **state) {
  (void)state;
  expect_report("use_after_reset", "Invalid read of size 1", false);
}

static void test_use_after_rewind(void **state) {
  (void)state;
  expect_report("use_after_rewind", "Invalid read of size 1", false);
}

/* A block given back with ar_free in a chunk arena (memcheck arenas run checked, so it is
 * quarantined): memcheck is told it is gone. The heap flavor keeps the malloc until rewind. */
static void test_use_after_free(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip();
    return;
  }
  expect_report("use_after_free", "Invalid read of size 1", false);
}

static void test_scope_after_end(void **state) {
  (void)state;
  expect_report("scope_after_end", "Invalid read of size 1", false);
}

/* The ConcurrentArena's chunk is back in the default chunk pool, which marks what it holds
 * NOACCESS; in the heap flavor the block was freed. */
static void test_concurrent_after_reset(void **state) {
  (void)state;
  expect_report("concurrent_after_reset", "Invalid read of size 1", false);
}

static void test_concurrent_after_destroy(void **state) {
  (void)state;
  expect_report("concurrent_after_destroy", "Invalid read of size 1", false);
}

static void test_redzone_overflow(void **state) {
  (void)state;
  if (AR_HEAP) {
    skip(); /* the guard is inside the malloc'd block: detect_test covers the heap flavor */
    return;
  }
  expect_report("redzone_overflow", "Invalid write of size 1", true);
}

static void test_clean(void **state) {
  (void)state;
  static char out[1 << 17];
  if (access(VALGRIND, X_OK) != 0) fail_msg("%s is not installed", VALGRIND);
  int status = run_under_valgrind("clean", out, sizeof out);
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
            strstr(out, "ERROR SUMMARY: 0 errors") != NULL;
  if (!ok) print_error("clean: %s; output:\n%s\n", describe_status(status), out);
  assert_true(ok);
}

int main(int argc, char **argv) {
  (void)argc;
  g_argv0 = argv[0];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_use_after_reset),
      cmocka_unit_test(test_use_after_rewind),
      cmocka_unit_test(test_scope_after_end),
      cmocka_unit_test(test_redzone_overflow),
      cmocka_unit_test(test_use_after_free),
      cmocka_unit_test(test_concurrent_after_reset),
      cmocka_unit_test(test_concurrent_after_destroy),
      cmocka_unit_test(test_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
