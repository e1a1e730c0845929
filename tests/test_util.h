/* SPDX-License-Identifier: MIT */
/*
 * tests/test_util.h - small things many test files need, kept in one place so that they cannot
 * drift apart: a size the compiler cannot see, what the build under test is (ASan, TSan, the
 * heap flavor), and the address space the process maps (for RLIMIT_AS tests).
 *
 * opaque() exists because the allocators carry alloc_size attributes: a test that asks for
 * SIZE_MAX bytes on purpose would otherwise get a compile-time warning (an error under -Werror)
 * or have the request folded away. A volatile round trip hides the value at no real cost.
 *
 * The build facts come from the compiler's own flags (-fsanitize=address, -DAR_HEAP=1), not
 * from runtime/internal.h, so a test of the public API alone can use them without reaching
 * into the library's private headers. They are named TEST_* so that they never clash with the
 * library's AR_ASAN/AR_HEAP in a test that includes both.
 *
 * Every definition is static inline or a macro: a test uses what it needs and the rest costs
 * nothing.
 */
#ifndef ARENART_TESTS_TEST_UTIL_H
#define ARENART_TESTS_TEST_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

/* n, out of the optimizer's sight (see above). */
static inline size_t opaque(size_t n) {
  volatile size_t v = n;
  return v;
}

/* 1 in AddressSanitizer builds: gcc says so with __SANITIZE_ADDRESS__, clang with
 * __has_feature (which gcc before 14 does not have, hence the nesting). */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

/* 1 in ThreadSanitizer builds (same two spellings). */
#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#ifndef TEST_TSAN
#define TEST_TSAN 0
#endif

/* 1 in the heap flavor (--config=heap, -DAR_HEAP=1): every arena allocation is its own malloc,
 * there are no chunks, and the arena never calls its memory source. */
#if defined(AR_HEAP) && AR_HEAP
#define TEST_HEAP 1
#else
#define TEST_HEAP 0
#endif

/* The address space the process maps now, in bytes (/proc/self/statm, first field), for tests
 * that set an RLIMIT_AS just above it; exits the process with status 10 if it cannot tell
 * (they run it in a forked child). */
static inline size_t test_vm_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (f == NULL || fscanf(f, "%lu", &pages) != 1) _exit(10);
  fclose(f);
  return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

#endif /* ARENART_TESTS_TEST_UTIL_H */
