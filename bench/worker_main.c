/* SPDX-License-Identifier: MIT */
/*
 * bench/worker_main.c - main() of the sibling worker binaries (bench_jemalloc, bench_tcmalloc,
 * bench_mimalloc). They exist only so that each malloc replacement gets a process of its own;
 * the driver (//bench) starts them. See worker.c.
 */
#include <stdio.h>
#include <string.h>

int bench_worker_main(int argc, char **argv);

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--worker") == 0) return bench_worker_main(argc, argv);
  fprintf(stderr, "%s is a worker of //bench; run `bazel run --config=opt //bench` instead\n",
          argv[0]);
  return 2;
}
