/* SPDX-License-Identifier: MIT */
/* tests/numa/numa_header_test.c - runs the two self-contained compiles of arenart/numa.h and
 * checks that every function it declares links (against //numa). Includes no arenart header. */
#include <stdio.h>

int numa_header_c(void);
int numa_header_cxx(void);

int main(void) {
  int c = numa_header_c(), cxx = numa_header_cxx();
  printf("numa.h: C: %d functions linked; C++: %s\n", c, cxx == 1 ? "ok" : "FAILED");
  return c >= 19 && cxx == 1 ? 0 : 1;
}
