/* SPDX-License-Identifier: MIT */
/*
 * tests/model/model.h - what the two model walks share: a seeded generator, a failure report
 * that names the seed and step, the run-length knobs, and THE SWITCH TABLE of checks that are
 * known to trip today.
 *
 * Why a table. The model turns every promise in the public headers and docs/bad_input.md into
 * a check. Some promises are broken on this branch by defects whose fixes are being made
 * elsewhere (the numbered items of issue 14). A model that fails on them would be useless as a
 * gate, and a model with those checks deleted would forget them. So each such check is written
 * out in full and guarded by one line of the table below; merging a fix means flipping its
 * line to 1 (or, to try a fix before editing the table, running with AR_MODEL_ITEMS=all or
 * AR_MODEL_ITEMS=3,5). Nothing else in the model is switched off.
 *
 * Why seeds and steps. A serial walk is a pure function of (seed, steps): the same pair replays
 * the same operations with the same outcomes, so the two numbers printed with a failure are a
 * complete reproducer. Nothing in it may depend on an address: the test's memory sources hand
 * out chunks at a fixed offset from an 8 KiB boundary (padding for over-aligned requests, and
 * so which acquire fails, would otherwise follow malloc's layout), and no draw of the
 * generator may depend on an outcome that could. AR_MODEL_TRACE=1 prints one line per step
 * (arena, op, live blocks, marks, used, capacity): two runs of a seed give the same lines.
 */
#ifndef ARENART_TESTS_MODEL_MODEL_H
#define ARENART_TESTS_MODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== THE SWITCH TABLE ======================================================================
 * One line per known defect (issue 14's items). 0: the check that trips on it is off on this
 * branch; set it to 1 once the item's fix is merged. Items that have no line here are not
 * modelled (see tests/model/README.md for why).                                               */
#define MODEL_CHECK_ITEM_1 1  /* registry walk with nested queries vs concurrent destroy (mt) */
#define MODEL_CHECK_ITEM_2 1  /* destroy of a registered arena waits for registry readers (mt) */
#define MODEL_CHECK_ITEM_3 1  /* ConcurrentArenas used alternately evict each other's span (mt) */
#define MODEL_CHECK_ITEM_4 1  /* ConcurrentArena memory poisoned after reset (ASan, mt) */
#define MODEL_CHECK_ITEM_5 1  /* free/shrink of the newest block from before a mark (release) */
#define MODEL_CHECK_ITEM_6 1  /* after ar_reset a limited arena refuses a request that fits */
#define MODEL_CHECK_ITEM_7 1  /* a failed large request on a limited arena released spares */
#define MODEL_CHECK_ITEM_8 1  /* interior 16-aligned pointer refused where ar_free is exact */
#define MODEL_CHECK_ITEM_9 1  /* arena pool stats snapshot: taken counted before created (mt) */
#define MODEL_CHECK_ITEM_10 1 /* pool create / thread configure accept options create rejects */
#define MODEL_CHECK_ITEM_11 1 /* ar_buf_appendf(&b, "%s", ar_buf_cstr(&b)) that grows */
#define MODEL_CHECK_ITEM_13 1 /* stale marks exact (by save point); late scope ends AR_ESTALE */
/* New findings of this model (not among the 13 items; see the report in README.md): */
#define MODEL_CHECK_NEW_A \
  1 /* exact builds (checked, ASan, heap, AR_DEBUG 2) refuse a double free */
/* NEW_B: a real bug in runtime/recycle.c, now free.c (realloc_block's slow-only shrink
 * junk-fills and poisons from the new size rounded up to 16, but the checked record, its guard
 * and the heap block keep the old size). The fix is tests/model/finding_b.diff (against the old
 * arena.c and recycle.c; today free.c's block_shrunk, track.c's ar_track_block_shrunk and
 * heap.c's ar_heap_block_shrunk); merged: on. */
#define MODEL_CHECK_NEW_B \
  1 /* checked mode: a write past a block shrunk by ar_realloc is not seen */
/* NEW_C: concurrent.h said requests "aligned beyond 64 bytes, get a dedicated chunk" while the
 * code served them from the live span when they fit. Resolved by correcting the sentence (a
 * request that fits in the rest of the span is carved there whatever its alignment); the mt
 * walk checks what the sentence now says, so this switch no longer guards anything. */
#define MODEL_CHECK_NEW_C 0 /* (resolved: see above) */
/* ============================================================================================ */

/* The table, plus the AR_MODEL_ITEMS override ("all" or a comma list like "3,5,13,A"). */
static inline bool model_item_on(int item, int compiled) {
  if (compiled) return true;
  const char *e = getenv("AR_MODEL_ITEMS");
  if (e == NULL) return false;
  if (strcmp(e, "all") == 0) return true;
  char want[16];
  if (item >= 100) snprintf(want, sizeof want, "%c", 'A' + (item - 100));
  else snprintf(want, sizeof want, "%d", item);
  for (const char *p = e; *p;) {
    size_t n = strcspn(p, ",");
    if (n == strlen(want) && strncmp(p, want, n) == 0) return true;
    p += n;
    if (*p == ',') p++;
  }
  return false;
}
#define ITEM_ON(n) model_item_on((n), MODEL_CHECK_ITEM_##n)
#define NEW_ON(letter) model_item_on(100 + (#letter[0] - 'A'), MODEL_CHECK_NEW_##letter)

/* ---- build facts the expectations depend on ------------------------------------------- */

#include "tests/test_util.h"
#define MODEL_ASAN TEST_ASAN
#define MODEL_TSAN TEST_TSAN
#define MODEL_HEAP TEST_HEAP /* every allocation its own malloc (--config=heap) */
#if MODEL_ASAN
#include <sanitizer/asan_interface.h>
#endif
/* The library's own default (runtime/internal.h): every config compiles tests and library with
 * the same flags, so this is the level the library was built at. */
#ifndef AR_DEBUG
#ifdef NDEBUG
#define AR_DEBUG 0
#else
#define AR_DEBUG 1
#endif
#endif

/* ---- reproducible randomness ---------------------------------------------------------- */

typedef struct rng {
  uint64_t s;
} rng_t;

static inline uint64_t rnd(rng_t *r) { /* splitmix64: every seed, 0 included, is good */
  uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}
static inline size_t below(rng_t *r, size_t n) { return n ? (size_t)(rnd(r) % n) : 0; }
static inline bool chance(rng_t *r, unsigned pct) { return below(r, 100) < pct; }

/* ---- failure report ------------------------------------------------------------------- */

/* Where the walk is; printed with every failure so that it reproduces. */
extern const char *model_prog;
extern uint64_t model_seed;
extern uint64_t model_step;
extern __thread const char *model_op; /* per thread: workers name their own step */

#define MFAIL(...)                                                                            \
  do {                                                                                        \
    fprintf(stderr, "%s: %s:%d: seed %llu step %llu op %s: ", model_prog, __FILE__, __LINE__, \
            (unsigned long long)model_seed, (unsigned long long)model_step, model_op);        \
    fprintf(stderr, __VA_ARGS__);                                                             \
    fprintf(stderr, "\n  reproduce: %s --seed=%llu --steps=%llu --walks=1\n", model_prog,     \
            (unsigned long long)model_seed, (unsigned long long)(model_step + 1));            \
    fflush(stderr);                                                                           \
    abort();                                                                                  \
  } while (0)
#define MCHECK(cond)                                     \
  do {                                                   \
    if (!(cond)) MFAIL("model check failed: %s", #cond); \
  } while (0)

/* A crash (SIGSEGV, SIGBUS) says which walk it was in, too. Sanitizer builds keep their own
 * handlers, which print more. */
#include <signal.h>
#include <unistd.h>
static inline void model_crash_handler(int sig) {
  char msg[160];
  int n = snprintf(msg, sizeof msg, "%s: crashed with signal %d in seed %llu step %llu\n",
                   model_prog, sig, (unsigned long long)model_seed, (unsigned long long)model_step);
  if (n > 0) (void)!write(2, msg, (size_t)n);
  signal(sig, SIG_DFL);
  raise(sig);
}
static inline void model_on_crash(void) {
#if !MODEL_ASAN && !MODEL_TSAN
  signal(SIGSEGV, model_crash_handler);
  signal(SIGBUS, model_crash_handler);
#endif
}

/* Run length: --seed=N (first seed), --steps=N (per walk), --walks=N, or the environment
 * variables AR_MODEL_SEED, AR_MODEL_STEPS, AR_MODEL_WALKS. Arguments win. */
typedef struct model_args {
  uint64_t seed;
  uint64_t steps;
  uint64_t walks;
} model_args_t;

static inline void model_parse(model_args_t *a, int argc, char **argv) {
  const char *e;
  if ((e = getenv("AR_MODEL_SEED")) != NULL) a->seed = strtoull(e, NULL, 0);
  if ((e = getenv("AR_MODEL_STEPS")) != NULL) a->steps = strtoull(e, NULL, 0);
  if ((e = getenv("AR_MODEL_WALKS")) != NULL) a->walks = strtoull(e, NULL, 0);
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--seed=", 7) == 0) a->seed = strtoull(argv[i] + 7, NULL, 0);
    else if (strncmp(argv[i], "--steps=", 8) == 0) a->steps = strtoull(argv[i] + 8, NULL, 0);
    else if (strncmp(argv[i], "--walks=", 8) == 0) a->walks = strtoull(argv[i] + 8, NULL, 0);
    else {
      fprintf(stderr, "usage: %s [--seed=N] [--steps=N] [--walks=N]\n", argv[0]);
      exit(2);
    }
  }
  model_on_crash();
}

#endif /* ARENART_TESTS_MODEL_MODEL_H */
