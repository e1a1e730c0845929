/*
 * bench/driver.c - //bench: every workload against every peer, in one run, one table.
 *
 *   bazel run --config=opt //bench -- [--quick] [--repeats N] [--threads N] [--json FILE]
 *                                     [--out DIR] [--workloads a,b] [--no-callgrind]
 *                                     [--no-plot]
 *
 * The driver measures nothing itself. For each repeat, each workload and each allocator it
 * starts one worker process (worker.c; see bench.h for why processes), reads its figures,
 * and takes its peak RSS from wait4. Allocators are interleaved within a repeat (and their
 * order rotated between repeats), so a burst of noise on a shared machine lands on one
 * sample of many allocators rather than on every sample of one; the table reports medians.
 * --quick keeps within about 60 s by stopping early (fewer repeats, said in the output) if
 * the machine is so slow that another repeat would overrun.
 *
 * Then: the fast path's instruction count under callgrind (deterministic, unlike time), the
 * goals of the project as printed ratios (never asserted), a JSON file with every figure,
 * and a gnuplot PNG, both under --out (default: build/bench in the workspace).
 *
 * This file is the driver's top: the arguments, and the order of the jobs (the repeats, the
 * tables, callgrind, the goals, the files). Each job is a file of its own, named after it;
 * driver.h says which file writes which shared global and which may call which.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arenart.h>

#include "bench/driver.h"

int bench_worker_main(int argc, char **argv);

options_t opt;
int reps_done;

static double now_s(void) { return bench_now_ns() * 1e-9; }

static void usage(FILE *to) {
  fprintf(to,
          "usage: bench [--quick] [--repeats N] [--threads N] [--json FILE] [--out DIR]\n"
          "             [--workloads hot,request,scaling,larson,bimodal,containers]\n"
          "             [--no-callgrind] [--no-plot]\n"
          "  --quick         short runs, 5 repeats, stops early to stay under a minute\n"
          "  --repeats N     runs per figure (median reported; default 5 quick, 9 full)\n"
          "  --threads N     scaling and Larson thread count (default: online CPUs, >= 2)\n"
          "  --json FILE     also write every figure and ratio to FILE\n"
          "  --out DIR       where bench.json, bench.png and the plot data go\n"
          "                  (default: <workspace>/build/bench under bazel run)\n");
}

static void resolve(const char *in, char *buf, size_t size) {
  const char *wd = getenv("BUILD_WORKING_DIRECTORY");
  if (in[0] == '/' || wd == NULL || wd[0] == '\0')
    snprintf(buf, size, "%s", in);
  else
    snprintf(buf, size, "%s/%s", wd, in);
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

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--worker") == 0) return bench_worker_main(argc, argv);

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

#if !defined(__OPTIMIZE__)
  fprintf(stderr, "bench: warning: built without optimization; use --config=opt\n");
#endif
  describe_machine();
  describe_commit();
  printf("arenart %s benchmark, %s mode: median of %d repeats, each allocator in its own "
         "process\n",
         ar_version(), opt.quick ? "quick" : "full", opt.repeats);
  printf("machine: %s (load average at start: %s); commit %s\n", machine, loadavg, commit);
  fflush(stdout);

  /* Quick mode must end within a minute even on a loaded machine: the measurement gets
   * 42 s, then callgrind and gnuplot. A repeat is only started if the previous one suggests
   * it will fit. */
  double budget = opt.quick ? 42 : 480, t_start = now_s(), last_rep = 0;
  for (int rep = 0; rep < opt.repeats; rep++) {
    double t_rep = now_s();
    if (rep > 0 && t_rep - t_start + last_rep > budget) {
      fprintf(stderr, "bench: stopping after %d repeats to stay within %.0f s\n", rep, budget);
      break;
    }
    fprintf(stderr, "bench: repeat %d/%d (%.0f s so far)\n", rep + 1, opt.repeats,
            t_rep - t_start);
    for (int w = 0; w < W_COUNT; w++) {
      if (!opt.run_w[w]) continue;
      for (int j = 0; j < NPEERS; j++) {
        /* A different order each repeat, by rotation, so neighbours stay neighbours. */
        int pi = (j + rep * 5) % NPEERS;
        run_worker(w, pi, rep, rep == 0 && w == W_BIMODAL);
      }
    }
    reps_done = rep + 1;
    last_rep = now_s() - t_rep;
  }
  double t_measured = now_s() - t_start;

  printf("Each figure: the median over %d worker processes, each reporting its fastest "
         "sub-run (noise only adds time).\n'vs arenart' = geometric mean over the timed columns "
         "of allocator/arenart (above 1: slower than arenart).\nRSS = the worker process's "
         "peak resident set in MiB (binary and libraries included, ~3-7 MiB).\n",
         reps_done);
  for (int w = 0; w < W_COUNT; w++)
    if (opt.run_w[w]) print_workload(w);

  callgrind_report();

  compute_goals();
  print_goals();

  printf("\nHow each allocator is reached:\n");
  for (int pi = 0; pi < NPEERS; pi++) printf("  %-10s %s\n", peers[pi].name, peers[pi].how);

  double elapsed = now_s() - t_start;
  char path[4200];
  snprintf(path, sizeof path, "%s/bench.json", opt.out);
  int rc = 0;
  printf("\n");
  if (write_json(path, elapsed) == 0)
    printf("wrote %s\n", path);
  else
    rc = 1;
  if (opt.json != NULL) {
    char jp[4200];
    resolve(opt.json, jp, sizeof jp);
    if (write_json(jp, elapsed) == 0)
      printf("wrote %s\n", jp);
    else
      rc = 1;
  }
  if (opt.plot) {
    char note[4400] = "";
    if (write_plot(note, sizeof note))
      printf("plot: %s/bench.png\n", opt.out);
    else
      printf("plot: not drawn: %s\n", note[0] ? note : "could not write the data files");
  }
  printf("measured in %.1f s, %.1f s in all\n", t_measured, now_s() - t_start);
  return rc;
}
