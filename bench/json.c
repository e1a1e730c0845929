/* SPDX-License-Identifier: MIT */
/*
 * bench/json.c - bench.json: every figure of the run, for machines to read.
 *
 * The printed table keeps medians; the JSON keeps every sample too, with the medians, the
 * ratios to arenart, the peak RSS, the reasons a peer could not run, the callgrind figures
 * and the goals, plus enough about the run (mode, repeats, machine, commit, load) to compare
 * two files later. Each goal carries a stable "id", its value both raw and as printed, and the
 * verdict taken on the printed one: bench/history.py matches goals of two runs by id. It is written by hand rather than through a library: the structure is
 * fixed and flat, and the bench binary should depend on nothing a worker does not need.
 * NaN and infinities, which JSON cannot hold, are written as null.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <arenart.h>

#include "bench/driver.h"

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s != '\0'; s++) {
    if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
    else fputc(*s, f);
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v) {
  if (isnan(v) || isinf(v)) fprintf(f, "null");
  else fprintf(f, "%.6g", v);
}

/* {"peer": figure, ...} for the peers with a figure (>= 0) in v. */
static void json_peer_figures(FILE *f, const double *v) {
  bool first = true;
  fputc('{', f);
  for (int pi = 0; pi < NPEERS; pi++) {
    if (v[pi] < 0) continue;
    fprintf(f, "%s\"%s\": ", first ? "" : ", ", peers[pi].name);
    first = false;
    json_num(f, v[pi]);
  }
  fputc('}', f);
}

int write_json(const char *path, double elapsed) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f, "{\n  \"benchmark\": \"arenart //bench\",\n  \"arenart_version\": ");
  json_str(f, ar_version());
  fprintf(f, ",\n  \"mode\": \"%s\",\n  \"repeats\": %d,\n  \"repeats_requested\": %d,\n",
          opt.quick ? "quick" : "full", reps_done, opt.repeats);
  fprintf(f, "  \"statistic\": \"median\",\n  \"threads\": %d,\n  \"machine\": ", opt.threads);
  json_str(f, machine);
  fprintf(f, ",\n  \"commit\": ");
  json_str(f, commit);
  fprintf(f, ",\n  \"loadavg_at_start\": ");
  json_str(f, loadavg);
  fprintf(f, ",\n  \"elapsed_s\": %.1f,\n  \"allocators\": [\n", elapsed);
  for (int i = 0; i < NPEERS; i++) {
    fprintf(f, "    {\"name\": ");
    json_str(f, peers[i].name);
    fprintf(f, ", \"how\": ");
    json_str(f, peers[i].how);
    fprintf(f, "}%s\n", i + 1 < NPEERS ? "," : "");
  }
  fprintf(f, "  ],\n  \"workloads\": [\n");
  bool firstw = true;
  for (int w = 0; w < W_COUNT; w++) {
    if (!opt.run_w[w]) continue;
    const wres_t *r = &res[w];
    fprintf(f, "%s    {\"name\": \"%s\", \"title\": ", firstw ? "" : ",\n", wnames[w]);
    firstw = false;
    json_str(f, wtitles[w]);
    fprintf(f, ",\n      \"figures\": [");
    bool first = true;
    for (int k = 0; k < r->nkeys; k++)
      for (int pi = 0; pi < NPEERS; pi++) {
        const cell_t *c = &r->fig[k][pi];
        if (c->n == 0) continue;
        double m = median(c), a = median(&r->fig[k][P_ARENART]);
        fprintf(f,
                "%s\n        {\"allocator\": \"%s\", \"case\": \"%s\", \"timed\": %s, "
                "\"median\": ",
                first ? "" : ",", peers[pi].name, r->keys[k], r->timed[k] ? "true" : "false");
        first = false;
        json_num(f, m);
        fprintf(f, ", \"ratio_to_arenart\": ");
        json_num(f, r->timed[k] && a > 0 ? m / a : NAN);
        fprintf(f, ", \"samples\": [");
        for (int s = 0; s < c->n; s++) {
          if (s) fprintf(f, ", ");
          json_num(f, c->v[s]);
        }
        fprintf(f, "]}");
      }
    fprintf(f, "\n      ],\n      \"summary_ratio_to_arenart\": {");
    first = true;
    for (int pi = 0; pi < NPEERS; pi++) {
      double q = summary_ratio(r, pi);
      if (isnan(q)) continue;
      fprintf(f, "%s\"%s\": ", first ? "" : ", ", peers[pi].name);
      first = false;
      json_num(f, q);
    }
    fprintf(f, "},\n      \"peak_rss_mib\": {");
    first = true;
    for (int pi = 0; pi < NPEERS; pi++) {
      if (r->rss[pi].n == 0) continue;
      fprintf(f, "%s\"%s\": ", first ? "" : ", ", peers[pi].name);
      first = false;
      json_num(f, median(&r->rss[pi]));
    }
    fprintf(f, "},\n      \"not_applicable\": {");
    first = true;
    for (int pi = 0; pi < NPEERS; pi++) {
      if (r->na[pi][0] == '\0' && !r->failed[pi]) continue;
      fprintf(f, "%s\"%s\": ", first ? "" : ", ", peers[pi].name);
      first = false;
      json_str(f, r->na[pi][0] != '\0' ? r->na[pi] : "worker failed");
    }
    fprintf(f, "}}");
  }
  fprintf(f, "\n  ],\n  \"instructions_per_alloc\": ");
  json_peer_figures(f, cg_instr);
  fprintf(f, ",\n  \"instructions_per_alloc_checked_handle\": ");
  json_peer_figures(f, cg_instr_checked);
  fprintf(f, ",\n  \"goals\": [\n");
  for (int i = 0; i < ngoals; i++) {
    const goal_t *g = &goals[i];
    fprintf(f, "    {\"id\": \"%s\", \"goal\": ", g->id);
    json_str(f, g->what);
    fprintf(f, ", \"value\": ");
    json_num(f, g->value < 0 ? NAN : g->value);
    fprintf(f, ", \"printed\": ");
    json_num(f, goal_printed(g));
    fprintf(f, ", \"unit\": ");
    json_str(f, g->unit);
    fprintf(f, ", \"reference\": ");
    json_str(f, g->ref);
    int met = goal_met(g);
    fprintf(f, ", \"cmp\": \"%s\", \"target\": %g, \"met\": %s}%s\n", g->cmp, g->target,
            met < 0 ? "null"
            : met   ? "true"
                    : "false",
            i + 1 < ngoals ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
  if (fclose(f) != 0) {
    fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}
