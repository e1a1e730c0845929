/* SPDX-License-Identifier: MIT */
/*
 * tests/child.h - runs a piece of a test in a forked child and captures its stderr.
 *
 * Tests that expect a process to die (an abort with a message, a sanitizer report) or that
 * must change process-wide state (an RLIMIT_AS, a planted misuse) do it in a child, so the
 * test binary itself survives to report. The child's stderr goes to a pipe that the parent
 * drains while it waits, so a chatty child cannot block on a full pipe.
 */
#ifndef ARENART_TESTS_CHILD_H
#define ARENART_TESTS_CHILD_H

#include <stdbool.h>
#include <stddef.h>

/* Runs fn(arg) in a forked child with stderr redirected; the child exits with status 0 if fn
 * returns. Fills `err` (NUL-terminated, truncated to errsize - 1 bytes) with what the child
 * wrote to stderr and returns its wait status, or -1 if the pipe or the fork failed (then
 * `err` holds the reason). errsize must be at least 1. */
int child_run(void (*fn)(void *), void *arg, char *err, size_t errsize);

/* True if a wait status says the process died of SIGABRT (ar_fatal_, assert, abort). */
bool child_aborted(int status);

/* True if a wait status says the process exited normally with `code`. */
bool child_exited(int status, int code);

#endif /* ARENART_TESTS_CHILD_H */
