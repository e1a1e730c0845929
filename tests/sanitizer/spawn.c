/* SPDX-License-Identifier: MIT */
/*
 * tests/sanitizer/spawn.c - see spawn.h.
 */
#include "tests/sanitizer/spawn.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int spawn_capture(char *const argv[], char *out, size_t outsize) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    snprintf(out, outsize, "posix_spawn(%s): %s", argv[0], strerror(rc));
    return -1;
  }
  size_t len = 0;
  char sink[4096];
  for (;;) {
    /* Keep reading past a full buffer, so the child never blocks on the pipe. */
    char *dst = len < outsize - 1 ? out + len : sink;
    size_t room = len < outsize - 1 ? outsize - 1 - len : sizeof sink;
    ssize_t r = read(fds[0], dst, room);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (dst != sink) len += (size_t)r;
  }
  out[len] = '\0';
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

const char *victim_path(const char *argv0) {
  static char path[PATH_MAX];
  const char *slash = strrchr(argv0, '/');
  if (slash == NULL) return "./victim";
  snprintf(path, sizeof path, "%.*s/victim", (int)(slash - argv0), argv0);
  return path;
}

int fault_line(const char *out) {
  const char *p = strstr(out, "FAULT_LINE ");
  return p != NULL ? atoi(p + 11) : -1;
}

const char *describe_status(int status) {
  static char buf[64];
  if (status == -1) return "not started";
  if (WIFEXITED(status)) snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) snprintf(buf, sizeof buf, "signal %d", WTERMSIG(status));
  else snprintf(buf, sizeof buf, "status %#x", status);
  return buf;
}
