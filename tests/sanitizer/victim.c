/* SPDX-License-Identifier: MIT */
/*
 * tests/sanitizer/victim.c - a program that misuses arena memory on purpose, one way per
 * command-line case, so that detect_test and valgrind_test can check that the misuse is
 * reported where it happens.
 *
 *   victim CASE
 *
 * Before the faulting statement each case prints "FAULT_LINE <n>" (the statement's line) on
 * stdout, flushed, so the test can look for "victim.c:<n>" in the tool's report. Arenas are
 * created with AR_ARENA_CHECKED: in ASan builds that flag is off (ASan's poisoning reports the
 * access itself), otherwise guard bytes, junk fill and the use-after-destroy graveyard give the
 * checked-mode outcome, which the read cases print as "READ 0x.." before exiting 0.
 *
 * Cases: use_after_reset, use_after_rewind, use_after_release, redzone_overflow,
 * scope_after_end, use_after_free, use_after_destroy, double_destroy, concurrent_after_reset,
 * concurrent_after_destroy (a read of ConcurrentArena memory after it was given back, from the
 * default source: the process-wide chunk pool), clean (no misuse: the tools must stay silent).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"

#define NOINLINE __attribute__((noinline))

/* Reads through a volatile pointer so the compiler keeps the faulting load. */
static NOINLINE int peek(const char *p) { return *(const volatile char *)p; }

static ar_arena_t *make(const char *name) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.flags = AR_ARENA_CHECKED;
  o.name = name;
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) {
    fprintf(stderr, "victim: arena creation failed\n");
    exit(3);
  }
  return a;
}

static char *filled(ar_arena_t *a, size_t n) {
  char *p = (char *)ar_alloc(a, n);
  if (p == NULL) exit(4);
  memset(p, 'x', n);
  return p;
}

#define FAULT_LINE() (printf("FAULT_LINE %d\n", __LINE__ + 1), fflush(stdout))

static NOINLINE int fault_use_after_reset(void) {
  ar_arena_t *a = make("victim-reset");
  char *p = filled(a, 64);
  ar_reset(a);
  FAULT_LINE();
  int v = *(volatile char *)(p + 8);
  ar_arena_destroy(a);
  return v;
}

static NOINLINE int fault_use_after_rewind(void) {
  ar_arena_t *a = make("victim-rewind");
  (void)filled(a, 32);
  ar_mark_t m = ar_mark(a);
  char *p = filled(a, 48);
  ar_rewind(a, &m);
  FAULT_LINE();
  int v = *(volatile char *)(p + 40);
  ar_arena_destroy(a);
  return v;
}

static NOINLINE int fault_use_after_release(void) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.flags = AR_ARENA_CHECKED;
  o.name = "victim-release";
  o.source = ar_source_malloc(); /* freed chunks go back to malloc, which ASan watches too */
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) exit(3);
  char *p = filled(a, 64);
  ar_release(a);
  FAULT_LINE();
  int v = *(volatile char *)(p + 8);
  ar_arena_destroy(a);
  return v;
}

static NOINLINE int fault_redzone_overflow(void) {
  ar_arena_t *a = make("victim-overflow");
  char *p = filled(a, 24);
  FAULT_LINE();
  ((volatile char *)p)[24] = 'X'; /* one byte past the end */
  ar_reset(a);                    /* checked mode finds the damaged guard here */
  ar_arena_destroy(a);
  return 0;
}

static NOINLINE int fault_scope_after_end(void) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.flags = AR_ARENA_CHECKED;
  ar_thread_arena_configure(&o);
  char *saved;
  {
    ar_scope_t s = ar_scope_begin();
    saved = filled(s.arena, 100);
    ar_scope_end(&s);
  }
  FAULT_LINE();
  int v = *(volatile char *)(saved + 50);
  return v;
}

static NOINLINE int fault_use_after_free(void) {
  ar_arena_t *a = make("victim-free");
  char *p = filled(a, 40);
  (void)filled(a, 16); /* p is not the newest block */
  ar_free(a, p, 40);
  FAULT_LINE();
  int v = *(volatile char *)(p + 4);
  ar_arena_destroy(a);
  return v;
}

static NOINLINE int fault_use_after_destroy(void) {
  ar_arena_t *a = make("victim-destroyed");
  (void)filled(a, 16);
  ar_arena_destroy(a);
  FAULT_LINE();
  void *p = ar_alloc(a, 16);
  return p != NULL;
}

static NOINLINE int fault_double_destroy(void) {
  ar_arena_t *a = make("victim-twice");
  ar_arena_destroy(a);
  FAULT_LINE();
  ar_arena_destroy(a);
  return 0;
}

static char *concurrent_filled(ar_concurrent_t *ca, size_t n) {
  char *p = (char *)ar_concurrent_alloc(ca, n);
  if (p == NULL) exit(4);
  memset(p, 'x', n);
  return p;
}

static NOINLINE int fault_concurrent_after_reset(void) {
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  if (ca == NULL) exit(3);
  char *p = concurrent_filled(ca, 64);
  ar_concurrent_reset(ca);
  FAULT_LINE();
  int v = *(volatile char *)(p + 8);
  ar_concurrent_destroy(ca);
  return v;
}

static NOINLINE int fault_concurrent_after_destroy(void) {
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  if (ca == NULL) exit(3);
  char *p = concurrent_filled(ca, 64);
  ar_concurrent_destroy(ca);
  FAULT_LINE();
  int v = *(volatile char *)(p + 8);
  return v;
}

/* Everything legal, with the same operations: a tool must report nothing. */
static NOINLINE int clean(void) {
  ar_arena_t *a = make("victim-clean");
  int sum = 0;
  for (int round = 0; round < 3; round++) {
    ar_mark_t m = ar_mark(a);
    for (int i = 0; i < 200; i++) {
      char *p = filled(a, (size_t)(1 + i * 7 % 300));
      sum += peek(p);
    }
    char *big = filled(a, 20000);
    sum += peek(big + 19999);
    char *s = ar_strdup(a, "clean");
    sum += peek(s);
    ar_rewind(a, &m);
    if (ar_arena_check(a) != AR_OK) exit(5);
  }
  ar_reset(a);
  ar_arena_destroy(a);
  ar_scope_t sc = ar_scope_begin();
  sum += peek(filled(sc.arena, 10));
  ar_scope_end(&sc);
  /* A ConcurrentArena that takes back, after a reset, the pooled chunk it gave up. */
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  if (ca == NULL) exit(3);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 300; i++) sum += peek(concurrent_filled(ca, (size_t)(1 + i * 13 % 200)));
    sum += peek(concurrent_filled(ca, 30000) + 29999);
    ar_concurrent_reset(ca);
  }
  ar_concurrent_destroy(ca);
  return sum == 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: victim CASE\n");
    return 2;
  }
  static const struct {
    const char *name;
    int (*fn)(void);
  } cases[] = {
      {"use_after_reset", fault_use_after_reset},
      {"use_after_rewind", fault_use_after_rewind},
      {"use_after_release", fault_use_after_release},
      {"redzone_overflow", fault_redzone_overflow},
      {"scope_after_end", fault_scope_after_end},
      {"use_after_free", fault_use_after_free},
      {"use_after_destroy", fault_use_after_destroy},
      {"double_destroy", fault_double_destroy},
      {"concurrent_after_reset", fault_concurrent_after_reset},
      {"concurrent_after_destroy", fault_concurrent_after_destroy},
      {"clean", clean},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (strcmp(argv[1], cases[i].name) == 0) {
      int v = cases[i].fn();
      printf("READ 0x%02x\n", (unsigned)(unsigned char)v);
      return 0;
    }
  }
  fprintf(stderr, "victim: unknown case '%s'\n", argv[1]);
  return 2;
}
