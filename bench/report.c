/*
 * bench/report.c - the printed report: one table per workload, then the goals.
 *
 * The table shows medians only; every sample is in the JSON. A workload's columns are its
 * keys in the order the workers first printed them, split in groups of eight so that a wide
 * workload (the hot path has 16 cases) still fits a terminal; the summary columns ("vs
 * arenart", RSS) come after the last group. A peer that could not run says why in its row,
 * rather than showing dashes that would read as "too fast to measure".
 *
 * The goals are the project's targets, printed and never asserted: a benchmark on a shared
 * machine that failed a build on a noisy minute would teach people to ignore it. A goal whose
 * figure is missing says "not measured", never "met".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/driver.h"

goal_t goals[8];
int ngoals;

static void fmt_val(char *buf, size_t size, double v, bool timed) {
  if (isnan(v))
    snprintf(buf, size, "-");
  else if (!timed)
    snprintf(buf, size, "%.2f", v);
  else if (v < 10)
    snprintf(buf, size, "%.2f", v);
  else if (v < 1000)
    snprintf(buf, size, "%.1f", v);
  else
    snprintf(buf, size, "%.0f", v);
}

void print_workload(int w) {
  const wres_t *r = &res[w];
  printf("\n%s\n", wtitles[w]);
  enum { GROUP = 8 };
  for (int k0 = 0; k0 < (r->nkeys > 0 ? r->nkeys : 1); k0 += GROUP) {
    int k1 = k0 + GROUP < r->nkeys ? k0 + GROUP : r->nkeys;
    bool last = k1 >= r->nkeys;
    printf("  %-10s", "allocator");
    for (int k = k0; k < k1; k++) printf(" %9s", r->keys[k]);
    if (last) printf(" %10s %8s", "vs arenart", "RSS MiB");
    printf("\n");
    for (int pi = 0; pi < NPEERS; pi++) {
      if (r->hidden[pi]) continue;
      printf("  %-10s", peers[pi].name);
      if (r->na[pi][0] != '\0') {
        printf(" n/a: %s\n", r->na[pi]);
        continue;
      }
      if (r->failed[pi] && r->rss[pi].n == 0) {
        printf(" failed (see the messages above)\n");
        continue;
      }
      for (int k = k0; k < k1; k++) {
        char b[32];
        fmt_val(b, sizeof b, median(&r->fig[k][pi]), r->timed[k]);
        printf(" %9s", b);
      }
      if (last) {
        double q = summary_ratio(r, pi), rss = median(&r->rss[pi]);
        char qb[32], rb[32];
        if (isnan(q))
          snprintf(qb, sizeof qb, "-");
        else
          snprintf(qb, sizeof qb, "%.2fx", q);
        fmt_val(rb, sizeof rb, rss, false);
        printf(" %10s %8s", qb, rb);
      }
      printf("\n");
    }
  }
}

static void add_goal(const char *what, double value, const char *cmp, double target,
                     const char *unit) {
  goals[ngoals++] = (goal_t){what, value, cmp, target, unit};
}

/* 1 met, 0 not met, -1 not measured (NaN, or a negative "no figure" marker such as an
 * instruction count callgrind could not take): an unmeasured goal is never reported as met. */
int goal_met(const goal_t *g) {
  if (isnan(g->value) || g->value < 0) return -1;
  return g->cmp[0] == '<' ? g->value <= g->target : g->value >= g->target;
}

void compute_goals(void) {
  add_goal("per-request: arenart vs the raw bump loop",
           paired_ratio(W_REQUEST, "ns/alloc", P_ARENART, P_BUMP), "<=", 1.2, "x slower");
  add_goal("per-request: APR pools vs arenart",
           paired_ratio(W_REQUEST, "ns/alloc", peer_index("apr"), P_ARENART), ">=", 1.8,
           "x slower");
  add_goal("per-request: mimalloc heaps vs arenart",
           paired_ratio(W_REQUEST, "ns/alloc", peer_index("mi-heap"), P_ARENART), ">=", 4.0,
           "x slower");
  add_goal("scaling: ConcurrentArena vs per-thread arenas at 2 threads",
           paired_ratio(W_SCALING, "t=2", P_CONCUR, P_ARTHREAD), "<=", 1.5, "x slower");
  add_goal("fast path: instructions per ar_alloc (callgrind)", cg_instr[P_ARENART], "<=", 12,
           " instructions");
  add_goal("fast path: instructions per ar_concurrent_alloc (same bar)", cg_instr[P_CONCUR],
           "<=", 12, " instructions");
}

void print_goals(void) {
  printf("\nGoals (printed, never asserted; ratios are medians of per-repeat pairs):\n");
  for (int i = 0; i < ngoals; i++) {
    const goal_t *g = &goals[i];
    if (goal_met(g) < 0)
      printf("  %-60s    not measured (goal %s %.1f%s)\n", g->what, g->cmp, g->target, g->unit);
    else
      printf("  %-60s %6.2f%s  (goal %s %.1f): %s\n", g->what, g->value, g->unit, g->cmp,
             g->target, goal_met(g) > 0 ? "met" : "NOT met");
  }
}
