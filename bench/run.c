/* SPDX-License-Identifier: MIT */
/*
 * bench/run.c - one measurement: a worker process for one (workload, allocator, repeat).
 *
 * Why processes at all is bench.h's essay (malloc replacements cannot share one). This file
 * builds the worker's command line, runs it through spawn.c, and turns the line protocol of
 * bench.h into samples in results.c's table: V and X records become samples of their key, S
 * records points of the plot's series, NA a reason printed instead of a row. A peer found not
 * applicable, or hidden, on one repeat is not run again on the later ones. A worker that
 * crashes or fails costs its sample only; the report says so, the run goes on.
 *
 * The check that the malloc replacement really is the process's malloc lives here too: a
 * worker reports which library serves malloc (INFO malloc), and a peer whose binary was
 * linked against the wrong one gets "n/a" rather than a figure that would be glibc's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/driver.h"

void binary_path(const peer_t *p, char *buf, size_t size) {
  if (p->binary == NULL) snprintf(buf, size, "%s", opt.self);
  else snprintf(buf, size, "%s/%s", opt.dir, p->binary);
}

void run_worker(int w, int pi, int rep, bool series) {
  const peer_t *p = &peers[pi];
  wres_t *r = &res[w];
  if (r->na[pi][0] != '\0' || r->hidden[pi]) return; /* decided on an earlier repeat */
  char path[4200], threads[16];
  binary_path(p, path, sizeof path);
  snprintf(threads, sizeof threads, "%d", opt.threads);
  char *argv[12];
  int a = 0;
  argv[a++] = path;
  argv[a++] = (char *)"--worker";
  argv[a++] = (char *)p->wname;
  argv[a++] = (char *)wnames[w];
  argv[a++] = (char *)"--threads";
  argv[a++] = threads;
  if (opt.quick) argv[a++] = (char *)"--quick";
  if (series) argv[a++] = (char *)"--series";
  argv[a] = NULL;
  if (access(path, X_OK) != 0) {
    snprintf(r->na[pi], sizeof r->na[pi], "worker %.120s not found (build //bench)", path);
    return;
  }
  int status = 0;
  long maxrss = 0;
  char *out = run_capture(argv, -1, &status, &maxrss);
  if (out == NULL || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status))
      fprintf(stderr, "bench: %s/%s worker killed by signal %d\n", p->name, wnames[w],
              WTERMSIG(status));
    else
      fprintf(stderr, "bench: %s/%s worker failed (exit %d)\n", p->name, wnames[w],
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    r->failed[pi] = true;
    free(out);
    return;
  }
  bool got = false;
  for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    char key[64];
    double v, x, y;
    if (strncmp(line, "INFO malloc ", 12) == 0) {
      if (p->expect != NULL && strstr(line + 12, p->expect) == NULL) {
        snprintf(r->na[pi], sizeof r->na[pi], "malloc in %.40s is %.60s, not %s",
                 p->binary ? p->binary : "bench", line + 12, p->expect);
        free(out);
        return;
      }
    } else if (strncmp(line, "NA ", 3) == 0) {
      if (line[3] == '-') r->hidden[pi] = true;
      else snprintf(r->na[pi], sizeof r->na[pi], "%s", line + 3);
      free(out);
      return;
    } else if ((line[0] == 'V' || line[0] == 'X') && sscanf(line + 2, "%63s %lf", key, &v) == 2) {
      int k = key_index(r, key, line[0] == 'V');
      cell_t *c = k >= 0 ? &r->fig[k][pi] : NULL;
      if (c != NULL && c->n < MAX_REP) {
        c->rep[c->n] = rep;
        c->v[c->n++] = v;
      }
      got = true;
    } else if (line[0] == 'S' && sscanf(line + 2, "%63s %lf %lf", key, &x, &y) == 3) {
      series_add(&r->ser[pi], x, y);
    }
  }
  if (got && r->rss[pi].n < MAX_REP) r->rss[pi].v[r->rss[pi].n++] = (double)maxrss / 1024.0;
  free(out);
}
