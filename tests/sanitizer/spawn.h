/* SPDX-License-Identifier: MIT */
/*
 * tests/sanitizer/spawn.h - runs a program (the victim, or valgrind on it) with its stdout and
 * stderr captured together, for the tests that expect a tool's report.
 */
#ifndef ARENART_TESTS_SANITIZER_SPAWN_H
#define ARENART_TESTS_SANITIZER_SPAWN_H

#include <stddef.h>

/* Runs argv[0] (a path) with `argv`; fills `out` (NUL-terminated, truncated to outsize - 1)
 * with what it wrote to stdout and stderr; returns its wait status, or -1 if it could not be
 * started. */
int spawn_capture(char *const argv[], char *out, size_t outsize);

/* The victim program next to this test binary (both live in tests/sanitizer/ of the runfiles
 * tree, or of bazel-bin when run by hand). `argv0` is the test's argv[0]. */
const char *victim_path(const char *argv0);

/* The line number printed by the victim as "FAULT_LINE <n>", or -1. */
int fault_line(const char *out);

/* Human-readable wait status, for failure messages. */
const char *describe_status(int status);

#endif /* ARENART_TESTS_SANITIZER_SPAWN_H */
