/* SPDX-License-Identifier: MIT */
/*
 * tests/sanitizer/detect_test.c - misuse of arena memory is reported at the faulting line.
 *
 * Each case runs the victim program (victim.c) in a child process and reads what it printed.
 *   - ASan builds (--config=asan, also with --config=heap): the child must die with an
 *     AddressSanitizer report of the expected kind whose stack names the victim's faulting
 *     function and the exact line it printed as FAULT_LINE. In the chunk flavor arena memory
 *     that is not handed out is poisoned by the arena (use-after-poison); in the heap flavor
 *     every allocation is a malloc, so ASan's own heap reports apply.
 *   - Other builds: the victim's arenas run in checked mode, so reads after reset, rewind,
 *     scope end and ar_free see the 0xDD junk fill, a write past the end is reported at reset
 *     (naming the arena and the allocation site), and a use after destroy is reported by the
 *     graveyard. Reads of memory the heap flavor has already freed are undefined behaviour
 *     without ASan, so that flavor runs only the cases that do not read freed memory.
 * The "clean" case does everything legally and must exit 0 with no report in every build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "runtime/arena_internal.h"
#include "tests/sanitizer/spawn.h"

static const char *g_argv0;

enum expect {
  JUNK_READ, /* exit 0, printed READ 0xdd */
  ABORT_MSG, /* killed by SIGABRT, output contains `msg` */
  SKIP_HERE, /* not meaningful in this build */
};

typedef struct vcase {
  const char *name;
  const char *asan_kind;      /* the report's bug type, chunk flavor */
  const char *asan_kind_heap; /* ... heap flavor */
  enum expect checked;        /* non-ASan builds, chunk flavor */
  enum expect checked_heap;   /* non-ASan builds, heap flavor */
  const char *msg;            /* for ABORT_MSG */
} vcase_t;

static const vcase_t cases[] = {
    {"use_after_reset", "use-after-poison", "heap-use-after-free", JUNK_READ, SKIP_HERE, NULL},
    {"use_after_rewind", "use-after-poison", "heap-use-after-free", JUNK_READ, SKIP_HERE, NULL},
    /* Without ASan the released chunk is back in malloc's hands: reading it is undefined. */
    {"use_after_release", "heap-use-after-free", "heap-use-after-free", SKIP_HERE, SKIP_HERE, NULL},
    {"redzone_overflow", "use-after-poison", "heap-buffer-overflow", ABORT_MSG, ABORT_MSG,
     "arena 'victim-overflow'"},
    {"scope_after_end", "use-after-poison", "heap-use-after-free", JUNK_READ, SKIP_HERE, NULL},
    /* ar_free'd blocks are quarantined until reset in every sanitizing mode. */
    {"use_after_free", "use-after-poison", "use-after-poison", JUNK_READ, JUNK_READ, NULL},
    {"use_after_destroy", "heap-use-after-free", "heap-use-after-free", ABORT_MSG, ABORT_MSG,
     "used after ar_arena_destroy (it was named 'victim-destroyed')"},
    {"double_destroy", "heap-use-after-free", "heap-use-after-free", ABORT_MSG, ABORT_MSG,
     "used after ar_arena_destroy (it was named 'victim-twice')"},
    /* The chunk went back to the default chunk pool, which poisons what it holds; the heap
     * flavor freed the block. Without ASan nothing marks the memory (reading freed memory is
     * undefined in the heap flavor). valgrind_test covers the other builds. */
    {"concurrent_after_reset", "use-after-poison", "heap-use-after-free", SKIP_HERE, SKIP_HERE,
     NULL},
    {"concurrent_after_destroy", "use-after-poison", "heap-use-after-free", SKIP_HERE, SKIP_HERE,
     NULL},
};

static int run_victim(const char *name, char *out, size_t outsize) {
  char *argv[] = {(char *)victim_path(g_argv0), (char *)name, NULL};
  return spawn_capture(argv, out, outsize);
}

static void test_case(void **state) {
  const vcase_t *c = (const vcase_t *)*state;
  static char out[1 << 16];
#if AR_ASAN
  int status = run_victim(c->name, out, sizeof out);
  int line = fault_line(out);
  char want_kind[128], want_line[64], want_fn[64];
  snprintf(want_kind, sizeof want_kind, "ERROR: AddressSanitizer: %s",
           AR_HEAP ? c->asan_kind_heap : c->asan_kind);
  snprintf(want_line, sizeof want_line, "victim.c:%d", line);
  snprintf(want_fn, sizeof want_fn, "fault_%s", c->name);
  bool ok = status != -1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && line > 0 &&
            strstr(out, want_kind) != NULL && strstr(out, want_line) != NULL &&
            strstr(out, want_fn) != NULL;
  if (!ok)
    print_error("case %s: %s; wanted '%s', '%s' and '%s' in:\n%s\n", c->name,
                describe_status(status), want_kind, want_line, want_fn, out);
  assert_true(ok);
#else
  enum expect e = AR_HEAP ? c->checked_heap : c->checked;
  if (e == SKIP_HERE) {
    skip();
    return;
  }
  int status = run_victim(c->name, out, sizeof out);
  bool ok;
  if (e == JUNK_READ) {
    ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(out, "READ 0xdd") != NULL;
  } else {
    ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(out, c->msg) != NULL;
    /* A damaged guard names the allocation site too. */
    if (ok && strcmp(c->name, "redzone_overflow") == 0)
      ok = strstr(out, "overwritten guard byte") != NULL &&
           strstr(out, "allocated from 0x") != NULL;
  }
  if (!ok) print_error("case %s: %s; output:\n%s\n", c->name, describe_status(status), out);
  assert_true(ok);
#endif
}

/* No misuse, no report, exit 0: the poisoning, records and guards raise no false alarm. */
static void test_clean(void **state) {
  (void)state;
  static char out[1 << 16];
  int status = run_victim("clean", out, sizeof out);
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(out, "READ 0x00") != NULL &&
            strstr(out, "AddressSanitizer") == NULL && strstr(out, "arenart:") == NULL;
  if (!ok) print_error("clean: %s; output:\n%s\n", describe_status(status), out);
  assert_true(ok);
}

int main(int argc, char **argv) {
  (void)argc;
  g_argv0 = argv[0];
  struct CMUnitTest tests[sizeof cases / sizeof cases[0] + 1];
  size_t n = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct CMUnitTest t = {cases[i].name, test_case, NULL, NULL, (void *)&cases[i]};
    tests[n++] = t;
  }
  struct CMUnitTest clean = {"clean", test_clean, NULL, NULL, NULL};
  tests[n++] = clean;
  return _cmocka_run_group_tests("detect_test", tests, n, NULL, NULL);
}
