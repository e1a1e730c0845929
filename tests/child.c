/* SPDX-License-Identifier: MIT */
/*
 * tests/child.c - see child.h. fflush before fork so that buffered output of the parent is
 * not written twice; the parent reads until EOF (every copy of the pipe's write end closed,
 * i.e. the child and anything it forked are gone) and only then reaps the child.
 */
#define _POSIX_C_SOURCE 200809L
#include "tests/child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int child_run(void (*fn)(void *), void *arg, char *err, size_t errsize) {
  int fds[2];
  err[0] = '\0';
  if (pipe(fds) != 0) {
    snprintf(err, errsize, "pipe: %s", strerror(errno));
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errsize, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    fn(arg);
    _exit(0);
  }
  close(fds[1]);
  size_t len = 0;
  char sink[256];
  for (;;) {
    /* Past the caller's buffer, keep draining into a sink so the child never blocks. */
    bool full = len == errsize - 1;
    ssize_t r = full ? read(fds[0], sink, sizeof sink) : read(fds[0], err + len, errsize - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (!full) len += (size_t)r;
  }
  err[len] = '\0';
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

bool child_aborted(int status) {
  return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

bool child_exited(int status, int code) {
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}
