/* SPDX-License-Identifier: MIT */
/*
 * tests/headers_test.c - runs the generated header slots (see tests/BUILD): each public header
 * was compiled on its own, as C for headers_test and as C++ for headers_cxx_test (which sets
 * AR_HDR_LANG), and each slot calls into the library through an extern "C" table.
 *
 * This file includes no arenart header on purpose, so that it cannot supply a declaration or
 * a macro that a header under test forgot.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

size_t ar_hdr_count(void);
const char *ar_hdr_name(size_t i);
int ar_hdr_run(size_t i);

#ifndef AR_HDR_LANG
#define AR_HDR_LANG "C"
#endif

/* The headers that must exist whatever else is added. */
static const char *const required[] = {
    "arenart.h",
    "arenart/common.h",
    "arenart/source.h",
    "arenart/arena.h",
};

int main(void) {
  int failures = 0;
  size_t n = ar_hdr_count();
  for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
    size_t i = 0;
    while (i < n && strcmp(ar_hdr_name(i), required[r]) != 0) i++;
    if (i == n) {
      fprintf(stderr, "headers_test: %s is not among the public headers\n", required[r]);
      failures++;
    }
  }
  for (size_t i = 0; i < n; i++) {
    int live = ar_hdr_run(i);
    /* At least ar_version plus one function of the header's own, except for headers that
     * only aggregate or define types. */
    if (live < 1) {
      fprintf(stderr, "headers_test: %s: slot returned %d\n", ar_hdr_name(i), live);
      failures++;
    } else {
      printf("ok  %-24s " AR_HDR_LANG ", %d function(s) linked\n", ar_hdr_name(i), live);
    }
  }
  return failures == 0 ? 0 : 1;
}
