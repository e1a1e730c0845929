/* SPDX-License-Identifier: MIT */
/*
 * bench/options.c - the driver's command line, read into `opt`.
 *
 * Every job of the driver reads its settings from one record, filled here once before any
 * of them runs and never written afterwards; that is what lets the jobs share it as a global
 * (driver.h). Besides the flags, the record holds what the run derives from its setting: the
 * driver's own binary and the folder of its sibling workers (found through /proc/self/exe,
 * which sees through bazel's runfiles symlink), and the output folder, created here so that
 * a bad --out fails before minutes of measuring rather than after.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/driver.h"

options_t opt;

static void usage(FILE *to) {
  fprintf(to, "usage: bench [--quick] [--repeats N] [--threads N] [--json FILE] [--out DIR]\n"
              "             [--workloads hot,request,scaling,larson,bimodal,containers,large]\n"
              "             [--no-callgrind] [--no-plot]\n"
              "  --quick         short runs, 5 repeats, stops early to stay under a minute\n"
              "  --repeats N     runs per figure (median reported; default 5 quick, 9 full)\n"
              "  --threads N     scaling and Larson thread count (default: online CPUs, >= 2)\n"
              "  --json FILE     also write every figure and ratio to FILE\n"
              "  --out DIR       where bench.json, bench.png and the plot data go\n"
              "                  (default: <workspace>/build/bench under bazel run)\n");
}

void resolve(const char *in, char *buf, size_t size) {
  const char *wd = getenv("BUILD_WORKING_DIRECTORY");
  if (in[0] == '/' || wd == NULL || wd[0] == '\0') snprintf(buf, size, "%s", in);
  else snprintf(buf, size, "%s/%s", wd, in);
}

static int mkdirs(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p != '\0'; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
      *p = '/';
    }
  return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int options_parse(int argc, char **argv) {
  opt.callgrind = opt.plot = true;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  opt.threads = ncpu < 2 ? 2 : ncpu > 16 ? 16 : (int)ncpu;
  for (int w = 0; w < W_COUNT; w++) opt.run_w[w] = true;
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (strcmp(a, "--quick") == 0) {
      opt.quick = true;
    } else if (strcmp(a, "--repeats") == 0 && has) {
      opt.repeats = atoi(argv[++i]);
      if (opt.repeats < 1 || opt.repeats > MAX_REP) {
        fprintf(stderr, "bench: --repeats wants 1..%d\n", MAX_REP);
        return 2;
      }
    } else if (strcmp(a, "--threads") == 0 && has) {
      opt.threads = atoi(argv[++i]);
      if (opt.threads < 1 || opt.threads > 64) {
        fprintf(stderr, "bench: --threads wants 1..64\n");
        return 2;
      }
    } else if (strcmp(a, "--json") == 0 && has) {
      opt.json = argv[++i];
    } else if (strcmp(a, "--out") == 0 && has) {
      out = argv[++i];
    } else if (strcmp(a, "--workloads") == 0 && has) {
      const char *list = argv[++i];
      for (int w = 0; w < W_COUNT; w++) {
        size_t n = strlen(wnames[w]);
        const char *p = list;
        opt.run_w[w] = false;
        while ((p = strstr(p, wnames[w])) != NULL) {
          if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) opt.run_w[w] = true;
          p += n;
        }
      }
    } else if (strcmp(a, "--no-callgrind") == 0) {
      opt.callgrind = false;
    } else if (strcmp(a, "--no-plot") == 0) {
      opt.plot = false;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "bench: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (opt.repeats == 0) opt.repeats = opt.quick ? 5 : 9;

  /* The workers sit next to this binary (bazel-bin/bench/); /proc/self/exe sees through the
   * runfiles symlink. */
  ssize_t n = readlink("/proc/self/exe", opt.self, sizeof opt.self - 1);
  if (n <= 0) {
    fprintf(stderr, "bench: cannot find my own binary: %s\n", strerror(errno));
    return 1;
  }
  opt.self[n] = '\0';
  snprintf(opt.dir, sizeof opt.dir, "%s", opt.self);
  char *slash = strrchr(opt.dir, '/');
  if (slash != NULL) *slash = '\0';

  if (out != NULL) {
    resolve(out, opt.out, sizeof opt.out);
  } else {
    const char *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
    snprintf(opt.out, sizeof opt.out, "%s/build/bench", ws != NULL && ws[0] ? ws : ".");
  }
  if (mkdirs(opt.out) != 0) {
    fprintf(stderr, "bench: cannot create %s: %s\n", opt.out, strerror(errno));
    return 1;
  }
  return -1;
}
