/* SPDX-License-Identifier: MIT */
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
 * figure is missing says "not measured", never "met". Each goal row names what it was
 * measured against in the same run, because a ratio without its reference cannot be checked
 * by a reader; and "met" is decided on the value exactly as printed (two decimals), because a
 * row that reads "12.01 (goal <= 12): met" teaches the reader that the verdict and the figure
 * may disagree, after which neither is trusted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/driver.h"

goal_t goals[MAX_GOALS];
int ngoals;

static void fmt_val(char *buf, size_t size, double v, bool timed) {
  if (isnan(v)) snprintf(buf, size, "-");
  else if (!timed) snprintf(buf, size, "%.2f", v);
  else if (v < 10) snprintf(buf, size, "%.2f", v);
  else if (v < 1000) snprintf(buf, size, "%.1f", v);
  else snprintf(buf, size, "%.0f", v);
}

/* A column is 9 wide, or as wide as its key ("vb/256B/DRAM"). */
static int colw(const char *key) {
  int n = (int)strlen(key);
  return n > 9 ? n : 9;
}

void print_workload(int w) {
  const wres_t *r = &res[w];
  printf("\n%s\n", wtitles[w]);
  enum { GROUP = 8 };
  for (int k0 = 0; k0 < (r->nkeys > 0 ? r->nkeys : 1); k0 += GROUP) {
    int k1 = k0 + GROUP < r->nkeys ? k0 + GROUP : r->nkeys;
    bool last = k1 >= r->nkeys;
    printf("  %-10s", "allocator");
    for (int k = k0; k < k1; k++) printf(" %*s", colw(r->keys[k]), r->keys[k]);
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
        printf(" %*s", colw(r->keys[k]), b);
      }
      if (last) {
        double q = summary_ratio(r, pi), rss = median(&r->rss[pi]);
        char qb[32], rb[32];
        if (isnan(q)) snprintf(qb, sizeof qb, "-");
        else snprintf(qb, sizeof qb, "%.2fx", q);
        fmt_val(rb, sizeof rb, rss, false);
        printf(" %10s %8s", qb, rb);
      }
      printf("\n");
    }
  }
}

static goal_t *add_goal(const char *id, const char *what, double value, const char *unit,
                        const char *cmp, double target) {
  if (ngoals == MAX_GOALS) return NULL;
  goal_t *g = &goals[ngoals++];
  *g = (goal_t){id, what, value, unit, "", cmp, target};
  return g;
}

double goal_printed(const goal_t *g) {
  if (isnan(g->value) || isinf(g->value) || g->value < 0) return NAN;
  char b[64];
  snprintf(b, sizeof b, "%.*f", GOAL_DECIMALS, g->value);
  return strtod(b, NULL);
}

/* 1 met, 0 not met, -1 not measured (NaN, or a negative "no figure" marker such as an
 * instruction count callgrind could not take): an unmeasured goal is never reported as met.
 * The comparison is on the printed value: see the essay. */
int goal_met(const goal_t *g) {
  double v = goal_printed(g);
  if (isnan(v)) return -1;
  return g->cmp[0] == '<' ? v <= g->target : v >= g->target;
}

/* The peers a goal may call "the best": every allocator that is not arenart itself (in any of
 * its forms) and not the bump loop, which is a physical limit rather than an allocator. */
static int other_peers(int *set) {
  int n = 0;
  for (int pi = 0; pi < NPEERS; pi++)
    if (pi != P_ARENART && pi != P_ARTHREAD && pi != P_CONCUR && pi != P_BUMP && pi != P_KEEP16 &&
        pi != P_LEASE)
      set[n++] = pi;
  return n;
}

/* The peer of `set` with the lowest median for `key` (-1 if none has one). */
static int fastest_of(int w, const char *key, const int *set, int n) {
  int best = -1;
  for (int i = 0; i < n; i++) {
    double v = fig(w, key, set[i]);
    if (!isnan(v) && (best < 0 || v < fig(w, key, best))) best = set[i];
  }
  return best;
}

static const char *const large_sizes_printed[] = {"64K", "256K", "1M", "4M", "16M"};
enum { NLARGE = sizeof large_sizes_printed / sizeof large_sizes_printed[0] };

/* On the in-process ratios (vb/<case>: each worker's figure over the bump loop timed beside
 * it, see w_hot): per repeat, arenart's over the fastest peer's. "Fastest" is by that ratio
 * too, and the raw medians are printed beside it. */
static void goal_hot_best(const char *id, const char *what, const char *key) {
  int set[NPEERS], n = other_peers(set);
  char vb[KEY_LEN];
  snprintf(vb, sizeof vb, "vb/%s", key);
  goal_t *g =
      add_goal(id, what, paired_ratio_best(W_HOT, vb, P_ARENART, set, n, false), "x", "<=", 1.0);
  int b = fastest_of(W_HOT, vb, set, n);
  if (g != NULL && b >= 0)
    snprintf(g->ref, sizeof g->ref,
             "fastest peer: %s %.2fx its bump loop (%.1f ns); arenart %.2fx (%.1f), lease %.2fx",
             peers[b].name, fig(W_HOT, vb, b), fig(W_HOT, key, b), fig(W_HOT, vb, P_ARENART),
             fig(W_HOT, key, P_ARENART), fig(W_HOT, vb, P_LEASE));
}

static void goal_large(const char *id, const char *what, int t) {
  double worst = NAN;
  const char *at = "";
  for (int i = 0; i < NLARGE; i++) {
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s/t=%d", large_sizes_printed[i], t);
    double q = paired_ratio(W_LARGE, key, P_ARENART, P_KEEP16);
    if (!isnan(q) && (isnan(worst) || q > worst)) worst = q, at = large_sizes_printed[i];
  }
  goal_t *g = add_goal(id, what, worst, "x", "<=", 1.2);
  if (g != NULL && !isnan(worst))
    snprintf(g->ref, sizeof g->ref, "ar-keep16 (16 MiB kept, 1 MiB chunks); worst at %s", at);
}

void compute_goals(void) {
  goal_t *g;
  /* The per-request goals compare figures normalised in their own process: each worker times
   * the bump loop alternately with its allocator and prints the ratio of the two fastest runs
   * (vs-bump; workloads.inc says why). Two workers' raw figures would carry the swing between
   * processes. */
  /* Judged on the lease, arenart's API for long runs of allocations: ar_alloc keeps its
   * cursor in the arena, in memory, and is printed beside it against a bump loop whose cursor
   * is in memory too, the floor of any allocator reached through a pointer. */
  g = add_goal("request_lease_vs_bump", "per-request ns/alloc: arenart lease / the raw bump loop",
               fig(W_REQUEST, "vs-bump", P_LEASE), "x", "<=", 1.15);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref,
             "bump %.2f ns beside ar-lease %.2f ns; ar_alloc %.2fx (%.2f ns), %.2fx a "
             "memory-cursor bump",
             fig(W_REQUEST, "bump", P_LEASE), fig(W_REQUEST, "ns/alloc", P_LEASE),
             fig(W_REQUEST, "vs-bump", P_ARENART), fig(W_REQUEST, "ns/alloc", P_ARENART),
             fig(W_REQUEST, "vs-bump-mem", P_ARENART));
  /* Both instruction goals judge the loop after a NULL test of the arena in the same function
   * (cg_loop_checked), where the compiler drops the inline NULL test, as in any loop where it
   * can see the arena is valid; the loop without the test is printed beside it, so both
   * costs are on the line. */
  g = add_goal("instr_ar_alloc_tested", "fast path: instructions per ar_alloc (callgrind)",
               cg_instr_checked[P_ARENART], "", "<=", 10);
  if (g != NULL && cg_instr[P_BUMP] >= 0)
    snprintf(g->ref, sizeof g->ref, "bump %.2f; without the NULL test %.2f", cg_instr[P_BUMP],
             cg_instr[P_ARENART]);
  g = add_goal("instr_concurrent_alloc_tested", "fast path: instructions per ar_concurrent_alloc",
               cg_instr_checked[P_CONCUR], "", "<=", 14);
  if (g != NULL && cg_instr[P_BUMP] >= 0)
    snprintf(g->ref, sizeof g->ref, "bump %.2f; without the NULL test %.2f", cg_instr[P_BUMP],
             cg_instr[P_CONCUR]);
  /* The scaling and hot goals likewise divide in-process ratios (vb/...: each worker's figure
   * over the bump loop its own threads ran beside it), paired by repeat: a ratio of two
   * workers' raw figures flipped these rows between met and not met from run to run. */
  g = add_goal("scaling_t2_same_lifetimes_vb",
               "scaling t=2: ConcurrentArena / serial arenas, same lifetimes",
               paired_ratio(W_SCALING, "vb/t=2", P_CONCUR, P_KEEP16), "x", "<=", 1.3);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref,
             "each / its bump loop: ar-keep16 %.2fx (%.2f ns), ar-concur "
             "%.2fx (%.2f)",
             fig(W_SCALING, "vb/t=2", P_KEEP16), fig(W_SCALING, "t=2", P_KEEP16),
             fig(W_SCALING, "vb/t=2", P_CONCUR), fig(W_SCALING, "t=2", P_CONCUR));
  g = add_goal("hot_dram_concur_vs_arenart_vb", "hot 256B/DRAM: ConcurrentArena / arenart",
               paired_ratio(W_HOT, "vb/256B/DRAM", P_CONCUR, P_ARENART), "x", "<=", 1.2);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref,
             "each / its bump loop: arenart %.2fx (%.1f ns), ar-concur "
             "%.2fx (%.1f)",
             fig(W_HOT, "vb/256B/DRAM", P_ARENART), fig(W_HOT, "256B/DRAM", P_ARENART),
             fig(W_HOT, "vb/256B/DRAM", P_CONCUR), fig(W_HOT, "256B/DRAM", P_CONCUR));
  goal_hot_best("hot_l3_best_peer_vb", "hot 256B/L3: arenart / the fastest peer", "256B/L3");
  goal_hot_best("hot_dram_best_peer_vb", "hot 256B/DRAM: arenart / the fastest peer", "256B/DRAM");
  int tc = peer_index("tcmalloc"), apr = peer_index("apr"), glibc = peer_index("glibc");
  g = add_goal("bimodal_time_vs_tcmalloc", "bimodal ns/alloc: arenart / tcmalloc",
               paired_ratio(W_BIMODAL, "ns/alloc", P_ARENART, tc), "x", "<=", 1.0);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref,
             "tcmalloc %.1f ns, arenart %.1f; arenart/APR %.2fx; first 8 MiB request (left "
             "out): tcmalloc %.1f ms, arenart %.1f",
             fig(W_BIMODAL, "ns/alloc", tc), fig(W_BIMODAL, "ns/alloc", P_ARENART),
             paired_ratio(W_BIMODAL, "ns/alloc", P_ARENART, apr),
             fig(W_BIMODAL, "first-huge.ms", tc), fig(W_BIMODAL, "first-huge.ms", P_ARENART));
  g = add_goal("bimodal_kept_vs_tcmalloc", "bimodal kept MiB (mean): arenart / tcmalloc",
               paired_ratio(W_BIMODAL, "kept.avg", P_ARENART, tc), "x", "<=", 2.0);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref, "tcmalloc %.2f MiB, arenart %.2f MiB",
             fig(W_BIMODAL, "kept.avg", tc), fig(W_BIMODAL, "kept.avg", P_ARENART));
  /* So does the containers goal: each worker's ns/op over the bump peer's grow loop timed
   * alternately beside it (vb/ns/op, see w_containers). */
  g = add_goal("containers_time_vs_glibc_vb", "containers ns/op: arenart / glibc",
               paired_ratio(W_CONTAINERS, "vb/ns/op", P_ARENART, glibc), "x", "<=", 0.9);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref,
             "each / its bump grow loop: glibc %.2fx (%.1f ns), arenart %.2fx (%.1f)",
             fig(W_CONTAINERS, "vb/ns/op", glibc), fig(W_CONTAINERS, "ns/op", glibc),
             fig(W_CONTAINERS, "vb/ns/op", P_ARENART), fig(W_CONTAINERS, "ns/op", P_ARENART));
  g = add_goal("containers_peak_live", "containers peak/live: arenart",
               fig(W_CONTAINERS, "peak/live", P_ARENART), "", "<=", 1.25);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref, "glibc %.2f", fig(W_CONTAINERS, "peak/live", glibc));
  {
    int set[NPEERS], n = other_peers(set);
    /* On busy time (the wall figure is half queue wake-ups and thread churn), each worker's
     * over the reference it ran in alternate generations (vb/busy, workloads.inc: the VM's
     * modes decided the ratio of two workers' raw figures). */
    g = add_goal("larson_busy_ahead_of_every_peer", "Larson busy: the fastest peer / arenart",
                 paired_ratio_best(W_LARSON, "vb/busy", P_ARENART, set, n, true), "x", ">=", 1.05);
    int b = fastest_of(W_LARSON, "vb/busy", set, n);
    int bw = fastest_of(W_LARSON, "ns/alloc", set, n);
    if (g != NULL && b >= 0 && bw >= 0)
      snprintf(g->ref, sizeof g->ref,
               "each / its reference: %s %.2fx (%.1f ns), arenart %.2fx (%.1f); wall: %s %.1f, "
               "arenart %.1f",
               peers[b].name, fig(W_LARSON, "vb/busy", b), fig(W_LARSON, "busy", b),
               fig(W_LARSON, "vb/busy", P_ARENART), fig(W_LARSON, "busy", P_ARENART),
               peers[bw].name, fig(W_LARSON, "ns/alloc", bw), fig(W_LARSON, "ns/alloc", P_ARENART));
  }
  goal_large("large_t1_default_vs_tuned", "large requests t=1: default / tuned, worst size", 1);
  goal_large("large_t2_default_vs_tuned", "large requests t=2: default / tuned, worst size", 2);
  g = add_goal("request_apr_vs_arenart", "per-request ns/alloc: APR pools / arenart",
               paired_ratio(W_REQUEST, "vs-bump", apr, P_ARENART), "x", ">=", 1.8);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref, "each / its bump loop: arenart %.2fx, apr %.2fx",
             fig(W_REQUEST, "vs-bump", P_ARENART), fig(W_REQUEST, "vs-bump", apr));
  int mh = peer_index("mi-heap");
  g = add_goal("request_miheap_vs_arenart", "per-request ns/alloc: mimalloc heaps / arenart",
               paired_ratio(W_REQUEST, "vs-bump", mh, P_ARENART), "x", ">=", 4.0);
  if (g != NULL)
    snprintf(g->ref, sizeof g->ref, "each / its bump loop: arenart %.2fx, mi-heap %.2fx",
             fig(W_REQUEST, "vs-bump", P_ARENART), fig(W_REQUEST, "vs-bump", mh));
}

/* What the two ratio goals above summarize, spelled out: the scaling figure split into the
 * price of longer lifetimes and the price of sharing, and the large-request ratio per size. */
static void print_breakdowns(void) {
  double a = fig(W_SCALING, "t=2", P_ARENART), k = fig(W_SCALING, "t=2", P_KEEP16);
  double c = fig(W_SCALING, "t=2", P_CONCUR), r = fig(W_SCALING, "reset/t=2", P_CONCUR);
  /* The steps are paired in-process ratios, as the goal is (see compute_goals). */
  double ka = paired_ratio(W_SCALING, "vb/t=2", P_KEEP16, P_ARENART);
  double ck = paired_ratio(W_SCALING, "vb/t=2", P_CONCUR, P_KEEP16);
  if (!isnan(c) && !isnan(k)) {
    printf("\nScaling at t=2, ns per allocation of one thread (medians; the steps are medians of "
           "per-repeat\npairs of each worker's ratio to its own bump loop):\n");
    if (!isnan(a)) printf("  arenart, reset every request          %6.2f\n", a);
    printf("  ar-keep16, reset every round          %6.2f", k);
    if (!isnan(ka)) printf("   x%.2f: objects living a round instead of a request", ka);
    printf("\n  ar-concur, one arena for both threads %6.2f   x%.2f: sharing one arena\n", c, ck);
    if (!isnan(r)) printf("    = allocation %.2f + serial reset between rounds %.2f\n", c - r, r);
  }
  bool any = false;
  for (int t = 1; t <= 2; t++) {
    char line[512];
    int len = snprintf(line, sizeof line, "  t=%d:", t);
    bool got = false;
    for (int i = 0; i < NLARGE; i++) {
      char key[KEY_LEN];
      snprintf(key, sizeof key, "%s/t=%d", large_sizes_printed[i], t);
      double q = paired_ratio(W_LARGE, key, P_ARENART, P_KEEP16);
      double qc = paired_ratio(W_LARGE, key, P_CONCUR, P_KEEP16);
      if (isnan(q)) continue;
      got = true;
      len += snprintf(line + len, sizeof line - (size_t)len, "  %s %.*fx", large_sizes_printed[i],
                      q < 10 ? 2 : 0, q);
      if (!isnan(qc) && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " (%.*fx)", qc < 10 ? 2 : 0, qc);
      if (len >= (int)sizeof line) len = (int)sizeof line - 1;
    }
    if (!got) continue;
    if (!any)
      printf("\nLarge requests by footprint: arenart with default options / ar-keep16 "
             "(retain_bytes 16 MiB, 1 MiB chunks);\nin brackets the ConcurrentArena / "
             "ar-keep16 (medians of per-repeat pairs):\n");
    any = true;
    printf("%s\n", line);
  }
}

void print_goals(void) {
  print_breakdowns();
  printf("\nGoals (printed, never asserted; ratios are medians of per-repeat pairs, the "
         "per-request, scaling and hot\nones of ratios to the bump loop timed in the same worker; "
         "met or NOT met "
         "is decided on the value as printed,\nto %d decimals):\n",
         GOAL_DECIMALS);
  printf("  %-62s %8s  %-8s %-13s %s\n", "goal", "value", "target", "verdict",
         "measured against, same run");
  for (int i = 0; i < ngoals; i++) {
    const goal_t *g = &goals[i];
    char val[32], tgt[32];
    int met = goal_met(g);
    if (met < 0) snprintf(val, sizeof val, "-");
    else snprintf(val, sizeof val, "%.*f%s", GOAL_DECIMALS, goal_printed(g), g->unit);
    snprintf(tgt, sizeof tgt, "%s %g%s", g->cmp, g->target, g->unit);
    printf("  %-62s %8s  %-8s %-13s %s\n", g->what, val, tgt,
           met < 0 ? "not measured"
           : met   ? "met"
                   : "NOT met",
           met < 0 ? "" : g->ref);
  }
}
