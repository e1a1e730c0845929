/* SPDX-License-Identifier: MIT */
/*
 * tests/cpp/check.h - the C++ tests' one assertion macro.
 *
 * Why not cmocka: its API is C (setjmp, void * state) and the things worth checking here are
 * C++ ones (exceptions, destructors, moves). A failed CHECK prints the file, line and the
 * expression and aborts, which Bazel counts as a failed test in every configuration; the
 * count of passed checks is printed at the end, and a test whose checks never ran fails too
 * (finish() insists on a minimum), so a test body that was skipped by mistake cannot pass.
 */
#ifndef AR_TESTS_CPP_CHECK_H
#define AR_TESTS_CPP_CHECK_H

#include <cstdio>
#include <cstdlib>

namespace check_detail {
inline long &passed() {
  static long n = 0;
  return n;
}
}  // namespace check_detail

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
    ++check_detail::passed();                                                       \
  } while (0)

/* Expects `expr` to throw an exception of type `type`. */
#define CHECK_THROWS(type, expr)                \
  do {                                          \
    bool thrown_ = false;                       \
    try {                                       \
      (void)(expr);                             \
    } catch (const type &) {                    \
      thrown_ = true;                           \
    }                                           \
    CHECK(thrown_ && (#expr " throws " #type)); \
  } while (0)

/* Ends main: fails unless at least `min_checks` checks passed. */
inline int finish(const char *name, long min_checks) {
  long n = check_detail::passed();
  if (n < min_checks) {
    std::fprintf(stderr, "%s: only %ld checks ran, expected at least %ld\n", name, n, min_checks);
    return 1;
  }
  std::printf("%s: %ld checks passed\n", name, n);
  return 0;
}

#endif /* AR_TESTS_CPP_CHECK_H */
