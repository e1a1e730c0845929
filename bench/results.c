/* SPDX-License-Identifier: MIT */
/*
 * bench/results.c - the samples of a run and the statistics taken over them.
 *
 * A worker reports figures by key ("ns/alloc", "t=2", "256B/L1"); the driver does not know
 * the keys in advance, so each workload's table grows its columns as keys first appear, in
 * the order the workers print them. Every sample is kept with the repeat it came from: the
 * table shows medians (noise on a shared machine only adds time, and a median ignores a few
 * bad repeats), and the goals pair the samples of one repeat (see paired_ratio), which needs
 * to know which two ran close together.
 *
 * This file only stores and summarizes: it runs nothing and prints nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/driver.h"

wres_t res[W_COUNT];
int reps_done;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double median(const cell_t *c) {
  if (c->n == 0) return NAN;
  double v[MAX_REP];
  memcpy(v, c->v, sizeof(double) * (size_t)c->n);
  qsort(v, (size_t)c->n, sizeof v[0], cmp_double);
  return c->n % 2 ? v[c->n / 2] : (v[c->n / 2 - 1] + v[c->n / 2]) / 2.0;
}

int key_index(wres_t *r, const char *key, bool timed) {
  for (int k = 0; k < r->nkeys; k++)
    if (strcmp(r->keys[k], key) == 0) return k;
  if (r->nkeys == MAX_KEYS) return -1;
  snprintf(r->keys[r->nkeys], KEY_LEN, "%.15s", key);
  r->timed[r->nkeys] = timed;
  return r->nkeys++;
}

void series_add(series_t *s, double x, double y) {
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 256;
    double *nx = realloc(s->x, sizeof(double) * (size_t)cap);
    if (nx == NULL) return;
    s->x = nx;
    double *ny = realloc(s->y, sizeof(double) * (size_t)cap);
    if (ny == NULL) return;
    s->y = ny;
    s->cap = cap;
  }
  s->x[s->n] = x;
  s->y[s->n++] = y;
}

double fig(int w, const char *key, int pi) {
  const wres_t *r = &res[w];
  for (int k = 0; k < r->nkeys; k++)
    if (strcmp(r->keys[k], key) == 0) return median(&r->fig[k][pi]);
  return NAN;
}

/* The median over repeats of a/b for one figure, pairing the samples of the same repeat:
 * load on a shared machine comes and goes, and within a repeat the two ran close together,
 * so the ratio of a pair is steadier than the ratio of two medians. */
double paired_ratio(int w, const char *key, int pa, int pb) {
  const wres_t *r = &res[w];
  for (int k = 0; k < r->nkeys; k++) {
    if (strcmp(r->keys[k], key) != 0) continue;
    cell_t q;
    q.n = 0;
    const cell_t *a = &r->fig[k][pa], *b = &r->fig[k][pb];
    for (int i = 0; i < a->n; i++)
      for (int j = 0; j < b->n; j++)
        if (a->rep[i] == b->rep[j] && b->v[j] > 0) q.v[q.n++] = a->v[i] / b->v[j];
    return median(&q);
  }
  return NAN;
}

/* Like paired_ratio, against the fastest of `set` in each repeat (a repeat counts only if
 * every peer of the set that has samples has one from it, so "the best" is never a peer that
 * happened to be missing). `invert`: the median of best/a instead of a/best. */
double paired_ratio_best(int w, const char *key, int pa, const int *set, int nset, bool invert) {
  const wres_t *r = &res[w];
  for (int k = 0; k < r->nkeys; k++) {
    if (strcmp(r->keys[k], key) != 0) continue;
    cell_t q;
    q.n = 0;
    const cell_t *a = &r->fig[k][pa];
    for (int i = 0; i < a->n; i++) {
      double best = INFINITY;
      bool whole = true;
      for (int s = 0; s < nset; s++) {
        const cell_t *b = &r->fig[k][set[s]];
        if (b->n == 0) continue;
        bool found = false;
        for (int j = 0; j < b->n; j++)
          if (b->rep[j] == a->rep[i] && b->v[j] > 0) {
            found = true;
            if (b->v[j] < best) best = b->v[j];
          }
        if (!found) whole = false;
      }
      if (whole && best < INFINITY && a->v[i] > 0)
        q.v[q.n++] = invert ? best / a->v[i] : a->v[i] / best;
    }
    return median(&q);
  }
  return NAN;
}

/* Geometric mean over the timed columns of (allocator / arenart). */
double summary_ratio(const wres_t *r, int pi) {
  double logsum = 0;
  int n = 0;
  for (int k = 0; k < r->nkeys; k++) {
    if (!r->timed[k]) continue;
    double a = median(&r->fig[k][P_ARENART]), v = median(&r->fig[k][pi]);
    if (isnan(a) || isnan(v) || a <= 0 || v <= 0) continue;
    logsum += log(v / a);
    n++;
  }
  return n > 0 ? exp(logsum / n) : NAN;
}
