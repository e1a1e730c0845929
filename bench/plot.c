/* SPDX-License-Identifier: MIT */
/*
 * bench/plot.c - bench.png: four panels drawn by gnuplot from data files the driver writes.
 *
 * The panels are the figures a reader looks at first: per-request cost (a bar per
 * allocator), thread scaling, the hot path across the cache levels, and the memory the
 * bimodal workload keeps between requests over time. The data files and the script stay
 * next to the picture, so that a plot can be redrawn or restyled without measuring again,
 * and so that a machine without gnuplot still gets the data. Each allocator keeps its color
 * (catalog.c) in every panel, and arenart is drawn thickest.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arenart.h>

#include "bench/driver.h"

/* One `plot` command: column c+2 of `file` is allocator cols[c], in its own color; arenart
 * drawn thickest. A line per allocator rather than gnuplot's `for` so colors stay fixed. */
static void plot_lines(FILE *f, const char *file, const char *xcol, const int *cols, int n,
                       const char *style) {
  fprintf(f, "plot");
  for (int c = 0; c < n; c++) {
    int pi = cols[c];
    fprintf(f, "%s \"%s/%s\" using %s:%d%s with %s lw %d lc rgb \"%s\" title \"%s\"", c ? "," : "",
            opt.out, file, xcol, c + 2, strcmp(xcol, "0") == 0 ? ":xtic(1)" : "", style,
            pi == P_ARENART ? 3 : 2, colors[pi], peers[pi].name);
  }
  fprintf(f, "\n");
}

/* One gnuplot data column: a figure, or NaN where a peer has none (gnuplot skips it). */
static void put_datum(FILE *f, double v) {
  if (isnan(v)) fprintf(f, " NaN");
  else fprintf(f, " %.4f", v);
}

/* Writes the data files and the gnuplot script under opt.out and runs gnuplot. Returns true
 * if bench.png was written. */
bool write_plot(char *note, size_t note_size) {
  char path[4200];
  FILE *f;
  /* 1. per-request: one bar per allocator */
  snprintf(path, sizeof path, "%s/request.dat", opt.out);
  if ((f = fopen(path, "w")) == NULL) return false;
  fprintf(f, "# allocator ns/alloc (median)\n");
  for (int pi = 0; pi < NPEERS; pi++) {
    double v = fig(W_REQUEST, "ns/alloc", pi);
    if (!isnan(v))
      fprintf(f, "\"%s\" %.4f %ld\n", peers[pi].name, v, strtol(colors[pi] + 1, NULL, 16));
  }
  fclose(f);
  /* 2. scaling: threads down, allocators across */
  snprintf(path, sizeof path, "%s/scaling.dat", opt.out);
  if ((f = fopen(path, "w")) == NULL) return false;
  int ncols = 0, cols[NPEERS];
  for (int pi = 0; pi < NPEERS; pi++)
    if (!isnan(fig(W_SCALING, "t=1", pi))) cols[ncols++] = pi;
  fprintf(f, "# threads");
  for (int c = 0; c < ncols; c++) fprintf(f, " \"%s\"", peers[cols[c]].name);
  fprintf(f, "\n");
  const wres_t *r = &res[W_SCALING];
  for (int k = 0; k < r->nkeys; k++) {
    int t;
    if (sscanf(r->keys[k], "t=%d", &t) != 1) continue;
    fprintf(f, "%d", t);
    for (int c = 0; c < ncols; c++) {
      put_datum(f, median(&r->fig[k][cols[c]]));
    }
    fprintf(f, "\n");
  }
  fclose(f);
  /* 3. hot path at 256 B across the cache levels */
  snprintf(path, sizeof path, "%s/hot.dat", opt.out);
  if ((f = fopen(path, "w")) == NULL) return false;
  static const char *const lv[4] = {"L1", "L2", "L3", "DRAM"};
  int hcols = 0, hc[NPEERS];
  for (int pi = 0; pi < NPEERS; pi++)
    if (!isnan(fig(W_HOT, "256B/L1", pi))) hc[hcols++] = pi;
  fprintf(f, "# region");
  for (int c = 0; c < hcols; c++) fprintf(f, " \"%s\"", peers[hc[c]].name);
  fprintf(f, "\n");
  for (int l = 0; l < 4; l++) {
    char key[KEY_LEN];
    snprintf(key, sizeof key, "256B/%s", lv[l]);
    fprintf(f, "%s", lv[l]);
    for (int c = 0; c < hcols; c++) {
      put_datum(f, fig(W_HOT, key, hc[c]));
    }
    fprintf(f, "\n");
  }
  fclose(f);
  /* 4. bimodal: RSS kept between requests, over time (first repeat) */
  snprintf(path, sizeof path, "%s/bimodal.dat", opt.out);
  if ((f = fopen(path, "w")) == NULL) return false;
  int bcols = 0, bc[NPEERS], rows = 0;
  for (int pi = 0; pi < NPEERS; pi++)
    if (res[W_BIMODAL].ser[pi].n > 0) {
      bc[bcols++] = pi;
      if (res[W_BIMODAL].ser[pi].n > rows) rows = res[W_BIMODAL].ser[pi].n;
    }
  fprintf(f, "# request");
  for (int c = 0; c < bcols; c++) fprintf(f, " \"%s\"", peers[bc[c]].name);
  fprintf(f, "\n");
  for (int i = 0; i < rows; i++) {
    const series_t *s0 = &res[W_BIMODAL].ser[bc[0]];
    fprintf(f, "%.0f", i < s0->n ? s0->x[i] : (double)i * 5);
    for (int c = 0; c < bcols; c++) {
      const series_t *s = &res[W_BIMODAL].ser[bc[c]];
      if (i < s->n) fprintf(f, " %.3f", s->y[i]);
      else fprintf(f, " NaN");
    }
    fprintf(f, "\n");
  }
  fclose(f);

  char gp[4096];
  if (!find_in_path("gnuplot", gp, sizeof gp)) {
    snprintf(note, note_size, "gnuplot not found in PATH; data and script left in %s", opt.out);
    return false;
  }
  snprintf(path, sizeof path, "%s/bench.gp", opt.out);
  if ((f = fopen(path, "w")) == NULL) return false;
  fprintf(f,
          "# Generated by //bench. Re-plot with: gnuplot %s/bench.gp\n"
          "set terminal pngcairo size 1600,1100 font \",10\"\n"
          "set output \"%s/bench.png\"\n"
          "set datafile missing \"NaN\"\n"
          "set key outside right top\n"
          "set grid ytics\n"
          "set multiplot layout 2,2 title \"arenart %s benchmark (%s, median of %d) - %s\"\n",
          opt.out, opt.out, ar_version(), opt.quick ? "quick" : "full", reps_done, machine);
  fprintf(f,
          "set title \"Per-request: 1000 allocs of 16..271 B + free-all (lower is better)\"\n"
          "set ylabel \"ns per allocation\"\n"
          "set logscale y\n"
          "set style fill solid 0.7 border -1\n"
          "set boxwidth 0.7\n"
          "set xtics rotate by -35 nomirror\n"
          "unset key\n"
          "plot \"%s/request.dat\" using 0:2:3:xtic(1) with boxes lc rgb variable, "
          "'' using 0:2:(sprintf(\"%%.1f\",$2)) with labels offset 0,0.7 notitle\n",
          opt.out);
  fprintf(f, "set title \"Thread scaling: per-request loop in t threads (flat = scales)\"\n"
             "set key outside right top\n"
             "set xtics norotate 1\n"
             "set xlabel \"threads\"\n"
             "set ylabel \"ns per allocation per thread\"\n");
  plot_lines(f, "scaling.dat", "1", cols, ncols, "linespoints");
  fprintf(f, "set title \"Hot path, 256 B objects: region filled per batch\"\n"
             "set xlabel \"region\"\n"
             "set ylabel \"ns per allocation\"\n");
  plot_lines(f, "hot.dat", "0", hc, hcols, "linespoints");
  fprintf(f, "set title \"Bimodal: RSS kept between requests (1 in 50 asks for 8 MiB)\"\n"
             "unset logscale y\n"
             "set xlabel \"request\"\n"
             "set ylabel \"MiB above the start\"\n");
  plot_lines(f, "bimodal.dat", "1", bc, bcols, "steps");
  fprintf(f, "unset multiplot\n");
  fclose(f);
  char *argv[] = {gp, path, NULL};
  int status = 0;
  long maxrss;
  char errpath[4300];
  snprintf(errpath, sizeof errpath, "%s/gnuplot.log", opt.out);
  int errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  char *out = run_capture(argv, errfd, &status, &maxrss);
  free(out);
  if (errfd >= 0) close(errfd);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    snprintf(note, note_size, "gnuplot failed (see %s)", errpath);
    return false;
  }
  return true;
}
