/* SPDX-License-Identifier: MIT */
/*
 * bench/spawn.c - starting a program and reading everything it prints.
 *
 * Every outside program the driver uses (its own workers, valgrind, git, gnuplot) is run the
 * same way: posix_spawn with stdout on a pipe, read to the end, reaped with wait4. wait4
 * rather than waitpid because its rusage is how the driver learns a worker's peak RSS without
 * the worker measuring itself. posix_spawn rather than fork: the driver may have a large
 * results table, and nothing needs to run between the fork and the exec.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/driver.h"

extern char **environ;

/* Starts argv[0] with stdout into a pipe (stderr to `errfd` if >= 0, else inherited); reads
 * everything it prints; reaps it. Returns its output (malloc'd) or NULL; *status and *maxrss
 * (KiB) from wait4. */
char *run_capture(char *const argv[], int errfd, int *status, long *maxrss) {
  int pfd[2];
  if (pipe(pfd) != 0) return NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  if (errfd >= 0) posix_spawn_file_actions_adddup2(&fa, errfd, 2);
  posix_spawn_file_actions_addclose(&fa, pfd[0]);
  posix_spawn_file_actions_addclose(&fa, pfd[1]);
  pid_t pid;
  int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (err != 0) {
    close(pfd[0]);
    fprintf(stderr, "bench: cannot start %s: %s\n", argv[0], strerror(err));
    return NULL;
  }
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  for (;;) {
    if (buf != NULL && len + 1024 > cap) {
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
      } else {
        buf = nb;
        cap *= 2;
      }
    }
    char sink[1024];
    ssize_t n = buf != NULL ? read(pfd[0], buf + len, cap - len - 1) : read(pfd[0], sink, 1024);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (buf != NULL) len += (size_t)n;
  }
  close(pfd[0]);
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  while (wait4(pid, status, 0, &ru) < 0 && errno == EINTR) {
  }
  *maxrss = ru.ru_maxrss;
  if (buf != NULL) buf[len] = '\0';
  return buf;
}

bool find_in_path(const char *prog, char *buf, size_t size) {
  const char *path = getenv("PATH");
  if (path == NULL || path[0] == '\0') path = "/usr/local/bin:/usr/bin:/bin";
  while (*path != '\0') {
    const char *end = strchr(path, ':');
    size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
    snprintf(buf, size, "%.*s/%s", (int)n, path, prog);
    if (n > 0 && access(buf, X_OK) == 0) return true;
    path += n + (end != NULL);
  }
  return false;
}
