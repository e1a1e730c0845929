/* SPDX-License-Identifier: MIT */
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
 * --quick keeps within about 90 s by stopping early (fewer repeats, said in the output) if
 * the machine is so slow that another repeat would overrun.
 *
 * Then: the fast path's instruction count under callgrind (deterministic, unlike time), the
 * goals of the project as printed ratios (never asserted), a JSON file with every figure,
 * and a gnuplot PNG, both under --out (default: build/bench in the workspace).
 *
 * This file is the driver's top: the order of the jobs (the arguments, the repeats, the
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

static double now_s(void) { return bench_now_ns() * 1e-9; }

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--worker") == 0) return bench_worker_main(argc, argv);

  int rc_opt = options_parse(argc, argv);
  if (rc_opt >= 0) return rc_opt;

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

  /* Quick mode must end within a minute and a half even on a loaded machine: the
   * measurement gets 42 s (67 s with the large-request workload), then callgrind and gnuplot. A repeat is only started if the previous one suggests
   * it will fit. */
  double budget = opt.quick ? 42 : 480, t_start = now_s(), last_rep = 0;
  if (opt.run_w[W_LARGE]) budget += opt.quick ? 25 : 60; /* page faults take their time */
  for (int rep = 0; rep < opt.repeats; rep++) {
    double t_rep = now_s();
    if (rep > 0 && t_rep - t_start + last_rep > budget) {
      fprintf(stderr, "bench: stopping after %d repeats to stay within %.0f s\n", rep, budget);
      break;
    }
    fprintf(stderr, "bench: repeat %d/%d (%.0f s so far)\n", rep + 1, opt.repeats, t_rep - t_start);
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
  if (write_json(path, elapsed) == 0) printf("wrote %s\n", path);
  else rc = 1;
  if (opt.json != NULL) {
    char jp[4200];
    resolve(opt.json, jp, sizeof jp);
    if (write_json(jp, elapsed) == 0) printf("wrote %s\n", jp);
    else rc = 1;
  }
  if (opt.plot) {
    char note[4400] = "";
    if (write_plot(note, sizeof note)) printf("plot: %s/bench.png\n", opt.out);
    else printf("plot: not drawn: %s\n", note[0] ? note : "could not write the data files");
  }
  printf("measured in %.1f s, %.1f s in all\n", t_measured, now_s() - t_start);
  return rc;
}
