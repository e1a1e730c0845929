/* SPDX-License-Identifier: MIT */
/*
 * bench/machine.c - where and what was measured: the CPU, the memory, the kernel, the load,
 * the commit.
 *
 * Figures from two runs can only be compared knowing both machines, and a shared machine's
 * load at the start explains many a bad run, so the report's first line and the JSON carry
 * them. The commit (git describe --dirty, in the workspace bazel run came from) tells JSON
 * files from different commits apart; without git it stays "unknown".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/driver.h"

char machine[512], loadavg[64], commit[64] = "unknown";

/* The commit measured, so that JSON files from different commits can be told apart. */
void describe_commit(void) {
  const char *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
  char git[4096];
  if (ws == NULL || ws[0] == '\0') ws = "."; /* run by hand: from inside the checkout */
  if (!find_in_path("git", git, sizeof git)) return;
  char *argv[] = {
      git, (char *)"-C", (char *)ws, (char *)"describe", (char *)"--always", (char *)"--dirty",
      NULL};
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), status = 0;
  long maxrss;
  char *out = run_capture(argv, devnull, &status, &maxrss);
  if (devnull >= 0) close(devnull);
  if (out != NULL && WIFEXITED(status) && WEXITSTATUS(status) == 0 && out[0] != '\0') {
    out[strcspn(out, "\n")] = '\0';
    snprintf(commit, sizeof commit, "%.63s", out);
  }
  free(out);
}

void describe_machine(void) {
  char cpu[256] = "unknown CPU", line[512];
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f != NULL) {
    while (fgets(line, sizeof line, f) != NULL) {
      char *c = strchr(line, ':');
      if (strncmp(line, "model name", 10) == 0 && c != NULL) {
        snprintf(cpu, sizeof cpu, "%s", c + 2);
        cpu[strcspn(cpu, "\n")] = '\0';
        break;
      }
    }
    fclose(f);
  }
  long mem_kib = 0;
  f = fopen("/proc/meminfo", "r");
  if (f != NULL) {
    while (fgets(line, sizeof line, f) != NULL)
      if (sscanf(line, "MemTotal: %ld kB", &mem_kib) == 1) break;
    fclose(f);
  }
  struct utsname u;
  if (uname(&u) != 0) snprintf(u.release, sizeof u.release, "?");
  snprintf(machine, sizeof machine, "%s, %ld CPUs, %.0f GiB RAM, Linux %s", cpu,
           sysconf(_SC_NPROCESSORS_ONLN), (double)mem_kib / 1048576.0, u.release);
  f = fopen("/proc/loadavg", "r");
  snprintf(loadavg, sizeof loadavg, "?");
  if (f != NULL) {
    if (fgets(loadavg, sizeof loadavg, f) != NULL) {
      char *sp = strchr(loadavg, ' ');
      if (sp != NULL) sp = strchr(sp + 1, ' ');
      if (sp != NULL) sp = strchr(sp + 1, ' ');
      if (sp != NULL) *sp = '\0';
    }
    fclose(f);
  }
}
