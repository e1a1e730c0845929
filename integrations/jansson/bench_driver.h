/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/bench_driver.h - the driver and worker protocol shared by the jansson
 * and libxml2 adapter benchmarks (header-only; each bench.c includes it once).
 *
 * Why processes: mimalloc, jemalloc and tcmalloc each replace malloc for the whole process
 * they are linked into, so each peer is its own binary (bench_<peer>, next to the driver),
 * and every measurement runs in a fresh child process, which also gives each allocator its
 * own peak RSS. The driver re-executes itself for the flavors that live with glibc malloc
 * ("malloc", "arena", "arena+free"). Rounds rotate the order of the flavors, and every goal
 * ratio is the median over rounds of the ratio within the round, so a slow phase of a shared
 * machine hits both sides of a ratio alike. Nothing here asserts a figure; "met" is printed
 * only when the printed value meets the goal.
 *
 * Worker protocol: `<exe> --worker FLAVOR --kib K --iters N` prints one line
 *   RESULT <ns per document> <peak RSS growth in KiB> <malloc provider>
 * where the time is the worker's CPU time (CLOCK_PROCESS_CPUTIME_ID: time spent waiting for
 * a CPU on a shared machine is not counted; the page faults' kernel time is) over N documents
 * after two warm-up ones
 * and the growth is ru_maxrss minus the resident size measured after the input document was
 * generated, before the first iteration.
 *
 * `--json FILE` also writes the figures and goals as one JSON object (read by
 * integrations/report.py, which tools/main.sh runs): per flavor the median CPU ns per document,
 * the median peak RSS growth in KiB and the ratio to the arena; per goal its value, target,
 * comparison and the verdict printed. The printed output is the same with or without it.
 *
 * The including file defines:
 *   static const char *bench_name;                       e.g. "jansson parse+build"
 *   static void *bench_make_input(size_t kib, size_t *len);
 *   static void bench_run(const char *flavor, const void *input, size_t len);  one document
 *   static const char *bench_arena_flavors[];             NULL-terminated, run in the driver
 */
#ifndef ARENART_BENCH_DRIVER_H
#define ARENART_BENCH_DRIVER_H

#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_PEER
#define BENCH_PEER ((const char *)0) /* the driver: glibc malloc, and the arena flavors */
#endif

static double bd_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long bd_rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
  fclose(f);
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static const char *bd_malloc_provider(void) {
  Dl_info info;
  void *m = dlsym(RTLD_DEFAULT, "malloc");
  if (m == NULL || dladdr(m, &info) == 0 || info.dli_fname == NULL) return "unknown";
  const char *base = strrchr(info.dli_fname, '/');
  return base ? base + 1 : info.dli_fname;
}

static void *bench_make_input(size_t kib, size_t *len);
static void bench_run(const char *flavor, const void *input, size_t len);

static int bd_worker(const char *flavor, size_t kib, int iters) {
  size_t len = 0;
  void *input = bench_make_input(kib, &len);
  long base = bd_rss_kib();
  for (int i = 0; i < 2; i++) bench_run(flavor, input, len); /* warm-up */
  double t0 = bd_now_ns();
  for (int i = 0; i < iters; i++) bench_run(flavor, input, len);
  double ns = (bd_now_ns() - t0) / iters;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("RESULT %.0f %ld %s\n", ns, ru.ru_maxrss - base, bd_malloc_provider());
  return 0;
}

typedef struct {
  const char *name; /* flavor, as the worker knows it */
  const char *exe;  /* binary to run */
  const char *wflavor;
  double ns[64];
  long peak[64];
  char provider[64];
  int ok;
} bd_flavor_t;

static int bd_run_child(bd_flavor_t *f, size_t kib, int iters, int round) {
  char cmd[PATH_MAX + 128];
  snprintf(cmd, sizeof cmd, "'%s' --worker %s --kib %zu --iters %d", f->exe, f->wflavor, kib,
           iters);
  FILE *p = popen(cmd, "r");
  if (p == NULL) return -1;
  char line[512];
  int got = 0;
  while (fgets(line, sizeof line, p) != NULL) {
    double ns;
    long peak;
    char prov[64];
    if (sscanf(line, "RESULT %lf %ld %63s", &ns, &peak, prov) == 3) {
      f->ns[round] = ns;
      f->peak[round] = peak;
      snprintf(f->provider, sizeof f->provider, "%s", prov);
      got = 1;
    }
  }
  int st = pclose(p);
  return got && st == 0 ? 0 : -1;
}

static int bd_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double bd_median(const double *v, int n) {
  double t[64];
  memcpy(t, v, sizeof(double) * (size_t)n);
  qsort(t, (size_t)n, sizeof(double), bd_cmp);
  return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double bd_median_l(const long *v, int n) {
  double t[64];
  for (int i = 0; i < n; i++) t[i] = (double)v[i];
  return bd_median(t, n);
}

/* A JSON string: names and library file names, escaped so any byte stays valid JSON. */
static void bd_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

/* One goal row of the JSON file; `verdict` is the one printed. */
static void bd_json_goal(FILE *f, const char *sep, const char *name, const char *against,
                         double value, const char *cmp, double target, const char *verdict) {
  fprintf(f, "%s\n    {\"name\": ", sep);
  bd_json_str(f, name);
  fprintf(f, ", \"against\": ");
  bd_json_str(f, against != NULL ? against : "");
  fprintf(f, ", \"value\": %.6f, \"cmp\": \"%s\", \"target\": %.2f, \"verdict\": \"%s\"}", value,
          cmp, target, verdict);
}

/* A goal's value as printed: 2 decimals, or more where 2 would round it across the target
 * (`cmp` is ">=", ">" or "<="), so the printed value always agrees with the verdict next to
 * it: 1.002x against "> 1.0" prints as 1.002x, not as a "1.00x" next to "met". */
static const char *bd_shown(char *buf, size_t n, double v, const char *cmp, double target) {
  int gt = strcmp(cmp, ">") == 0, le = strcmp(cmp, "<=") == 0;
  int ok = gt ? v > target : le ? v <= target : v >= target;
  for (int d = 2; d <= 6; d++) {
    snprintf(buf, n, "%.*f", d, v);
    double p = atof(buf);
    if ((gt ? p > target : le ? p <= target : p >= target) == ok) break;
  }
  return buf;
}

/* Runs every flavor `rounds` times and prints the table and the goals. `arena` names the
 * flavor the goals are about; `time_goal` and `mem_goal` (0 = none) are the targets. With
 * `json` (NULL = none), writes the same figures there. */
static int bd_driver(const char *self, const char *const *arena_flavors, const char *arena,
                     size_t kib, int iters, int rounds, double time_goal, double mem_goal,
                     const char *json) {
  static char dir[PATH_MAX], peer_exe[3][PATH_MAX];
  snprintf(dir, sizeof dir, "%s", self);
  char *d = dirname(dir);
  bd_flavor_t fl[8];
  int nf = 0;
  memset(fl, 0, sizeof fl);
  fl[nf++] = (bd_flavor_t){.name = "glibc malloc", .exe = self, .wflavor = "malloc"};
  for (const char *const *a = arena_flavors; *a != NULL; a++)
    fl[nf++] = (bd_flavor_t){.name = *a, .exe = self, .wflavor = *a};
  static const char *peers[3] = {"mimalloc", "jemalloc", "tcmalloc"};
  for (int i = 0; i < 3; i++) {
    snprintf(peer_exe[i], PATH_MAX, "%s/bench_%s", d, peers[i]);
    if (access(peer_exe[i], X_OK) == 0)
      fl[nf++] = (bd_flavor_t){.name = peers[i], .exe = peer_exe[i], .wflavor = "malloc"};
    else printf("(%s: %s not found; left out)\n", peers[i], peer_exe[i]);
  }
  if (rounds > 64) rounds = 64;
  for (int i = 0; i < nf; i++) fl[i].ok = 1;
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < nf; k++) {
      bd_flavor_t *f = &fl[(k + r) % nf];
      if (f->ok && bd_run_child(f, kib, iters, r) != 0) {
        printf("(%s: worker failed; left out)\n", f->name);
        f->ok = 0;
      }
    }
  }
  /* Opened after the measurements, so an unwritable path costs no run; a failure to write it
   * is reported and makes the exit status 1, the printed figures stand. */
  FILE *jf = NULL;
  int status = 0;
  if (json != NULL && (jf = fopen(json, "w")) == NULL) {
    fprintf(stderr, "bench: cannot write %s\n", json);
    status = 1;
  }
  int ia = -1;
  for (int i = 0; i < nf; i++)
    if (strcmp(fl[i].wflavor, arena) == 0) ia = i;
  printf("\n%s, %zu KiB document, %d documents per process, %d rounds (medians)\n", bench_name, kib,
         iters, rounds);
  printf("%-14s %12s %10s %14s  %s\n", "flavor", "CPU us/doc", "x arena", "peak RSS KiB",
         "malloc from");
  if (jf != NULL) {
    fprintf(jf, "{\"benchmark\": ");
    bd_json_str(jf, bench_name);
    fprintf(jf, ", \"kib\": %zu, \"docs_per_process\": %d, \"rounds\": %d, \"arena\": ", kib, iters,
            rounds);
    bd_json_str(jf, arena);
    fprintf(jf, ",\n  \"unit\": \"CPU ns per document; peak RSS growth KiB\", \"flavors\": [");
  }
  double arena_ns = ia >= 0 && fl[ia].ok ? bd_median(fl[ia].ns, rounds) : 0;
  const char *sep = "";
  for (int i = 0; i < nf; i++) {
    if (!fl[i].ok) continue;
    double ns = bd_median(fl[i].ns, rounds), peak = bd_median_l(fl[i].peak, rounds);
    printf("%-14s %12.1f %9.2fx %14.0f  %s\n", fl[i].name, ns / 1000,
           arena_ns > 0 ? ns / arena_ns : 0, peak, fl[i].provider);
    if (jf == NULL) continue;
    fprintf(jf, "%s\n    {\"name\": ", sep);
    bd_json_str(jf, fl[i].name);
    fprintf(jf,
            ", \"malloc\": %s, \"ns\": %.1f, \"peak_kib\": %.0f, \"x_arena\": %.6f, "
            "\"malloc_from\": ",
            strcmp(fl[i].wflavor, "malloc") == 0 ? "true" : "false", ns, peak,
            arena_ns > 0 ? ns / arena_ns : 0);
    bd_json_str(jf, fl[i].provider);
    fputc('}', jf);
    sep = ",";
  }
  if (jf != NULL) fprintf(jf, "],\n  \"goals\": [");
  sep = "";
  if (ia < 0 || !fl[ia].ok || !fl[0].ok) {
    printf("goals: not measured (the arena or glibc worker failed)\n");
    status = 1;
  } else {
    /* Time: per round, the fastest malloc of that round over the arena; median over rounds. */
    double ratio[64], memr[64];
    const char *fastest = NULL;
    for (int r = 0; r < rounds; r++) {
      double best = 0;
      for (int i = 0; i < nf; i++) {
        if (!fl[i].ok || strcmp(fl[i].wflavor, "malloc") != 0) continue;
        if (best == 0 || fl[i].ns[r] < best) best = fl[i].ns[r];
      }
      ratio[r] = best / fl[ia].ns[r];
      memr[r] = fl[0].peak[r] > 0 ? (double)fl[ia].peak[r] / (double)fl[0].peak[r] : 0;
    }
    double bestmed = 0;
    for (int i = 0; i < nf; i++) {
      if (!fl[i].ok || strcmp(fl[i].wflavor, "malloc") != 0) continue;
      double m = bd_median(fl[i].ns, rounds);
      if (bestmed == 0 || m < bestmed) bestmed = m, fastest = fl[i].name;
    }
    double tr = bd_median(ratio, rounds);
    const char *tv = tr >= time_goal ? "met" : "NOT met";
    printf("\ngoals (%s):\n", arena);
    char shown[32];
    printf("  time: fastest malloc (%s by median) / arena, median of per-round ratios  %sx"
           "  (goal >= %.2f): %s\n",
           fastest, bd_shown(shown, sizeof shown, tr, ">=", time_goal), time_goal, tv);
    if (jf != NULL) {
      bd_json_goal(jf, sep, "time: fastest malloc / arena", fastest, tr, ">=", time_goal, tv);
      sep = ",";
    }
    if (mem_goal > 0) {
      double mr = bd_median(memr, rounds);
      const char *mv = mr > 0 && mr <= mem_goal ? "met" : "NOT met";
      printf("  memory: arena peak RSS growth / glibc malloc's, median of per-round ratios    "
             "%sx  (goal <= %.2f): %s\n",
             bd_shown(shown, sizeof shown, mr, "<=", mem_goal), mem_goal, mv);
      if (jf != NULL)
        bd_json_goal(jf, sep, "memory: arena / glibc malloc peak RSS", "glibc malloc", mr,
                     "<=", mem_goal, mv);
    }
  }
  if (jf != NULL) {
    fprintf(jf, "]}\n");
    if (fclose(jf) != 0) {
      fprintf(stderr, "bench: cannot write %s\n", json);
      status = 1;
    }
  }
  return status;
}

static int bd_main(int argc, char **argv, const char *const *arena_flavors, const char *arena,
                   double time_goal, double mem_goal) {
  const char *worker = NULL, *json = NULL;
  size_t kib = 256;
  int iters = 0, rounds = 5;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--worker") == 0 && i + 1 < argc) worker = argv[++i];
    else if (strcmp(argv[i], "--kib") == 0 && i + 1 < argc) kib = (size_t)atol(argv[++i]);
    else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) iters = atoi(argv[++i]);
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
    else if (strcmp(argv[i], "--quick") == 0) rounds = 3;
    else {
      fprintf(stderr, "usage: %s [--kib K] [--iters N] [--rounds R] [--quick] [--json FILE]\n",
              argv[0]);
      return 2;
    }
  }
  if (kib == 0) kib = 1;
  if (iters <= 0) iters = (int)(8192 / kib) + 5; /* about 8 MiB of input per process */
  if (rounds < 1) rounds = 1;
  if (worker != NULL) return bd_worker(worker, kib, iters);
  if (BENCH_PEER != NULL) {
    fprintf(stderr, "%s is a worker (malloc from %s); run the driver, bench\n", argv[0],
            BENCH_PEER);
    return 2;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';
  return bd_driver(self, arena_flavors, arena, kib, iters, rounds, time_goal, mem_goal, json);
}

#endif /* ARENART_BENCH_DRIVER_H */
