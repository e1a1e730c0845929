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
 * --quick keeps within about 60 s by stopping early (fewer repeats, said in the output) if
 * the machine is so slow that another repeat would overrun.
 *
 * Then: the fast path's instruction count under callgrind (deterministic, unlike time), the
 * goals of the project as printed ratios (never asserted), a JSON file with every figure,
 * and a gnuplot PNG, both under --out (default: build/bench in the workspace).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arenart.h>

#include "bench/bench.h"

extern char **environ;
int bench_worker_main(int argc, char **argv);

/* ---- the allocators --------------------------------------------------------------------- */

typedef struct peer {
  const char *name;   /* as printed */
  const char *binary; /* NULL: this binary; else a sibling worker binary */
  const char *wname;  /* the allocator's name inside the worker */
  const char *cident; /* its identifier in the callgrind dumps */
  const char *expect; /* substring of the library that must provide malloc, or NULL */
  const char *how;    /* how the peer is reached, for the report */
} peer_t;

static const peer_t peers[] = {
    {"arenart", NULL, "arenart", "arenart", NULL,
     "ar_alloc on an ar_arena_create arena (defaults: 64 KiB chunks, 1 MiB kept; hot path: "
     "retain_bytes = 2x the region); ar_reset"},
    {"ar-thread", NULL, "arthread", "arthread", NULL,
     "ar_thread_arena() with one ar_scope_begin/ar_scope_end per request"},
    {"ar-concur", NULL, "arconcur", "arconcur", NULL,
     "one ConcurrentArena shared by all threads (public API); reset between rounds"},
    {"bump", NULL, "bump", "bump", NULL,
     "a cursor through a pre-faulted mmap buffer: the physical limit, no chunks"},
    {"glibc", NULL, "malloc", "libc", "libc.so",
     "glibc malloc/free (Debian libc6), in the bench binary itself; hot path: "
     "M_TRIM_THRESHOLD INT_MAX, M_MMAP_THRESHOLD 32 MiB (keeps freed memory)"},
    {"jemalloc", "bench_jemalloc", "malloc", "libc", "jemalloc",
     "malloc/free in worker bench_jemalloc, linked with -ljemalloc (libjemalloc-dev); hot "
     "path: dirty_decay_ms and muzzy_decay_ms -1 (no purging)"},
    {"tcmalloc", "bench_tcmalloc", "malloc", "libc", "tcmalloc",
     "malloc/free in worker bench_tcmalloc, linked with -ltcmalloc_minimal (gperftools); "
     "hot path: TCMALLOC_RELEASE_RATE=0 (no release)"},
    {"mimalloc", "bench_mimalloc", "malloc", "libc", "mimalloc",
     "malloc/free in worker bench_mimalloc, linked with -lmimalloc (libmimalloc-dev); hot "
     "path: allow_decommit 0, page_reset 0"},
    {"mi-heap", "bench_mimalloc", "miheap", "miheap", "mimalloc",
     "mi_heap_new + mi_heap_malloc, mi_heap_destroy per reset (bench_mimalloc); hot path: "
     "as mimalloc"},
    {"apr", NULL, "apr", "aprp", NULL,
     "apr_palloc from a pool on a per-thread apr_allocator (keeps freed blocks: max_free "
     "unlimited); apr_pool_clear (libapr1-dev); hot path: glibc settings as above"},
    {"talloc", NULL, "talloc", "tall", NULL,
     "talloc_size under a 1 MiB talloc_pool, beyond it glibc malloc; talloc_free_children "
     "(libtalloc-dev); hot path: glibc settings as above"},
    {"obstack", NULL, "obstack", "obs", NULL,
     "glibc obstack_alloc, 64 KiB chunks from glibc malloc; obstack_free back to a mark; hot "
     "path: glibc settings as above"},
};
enum { NPEERS = sizeof peers / sizeof peers[0], P_ARENART = 0, P_ARTHREAD = 1, P_CONCUR = 2,
       P_BUMP = 3 };

/* One color per allocator in every panel of the plot (gnuplot's own cycle has 8). */
static const char *const colors[NPEERS] = {"#d62728", "#ff7f0e", "#8c564b", "#7f7f7f",
                                           "#1f77b4", "#17becf", "#2ca02c", "#9467bd",
                                           "#e377c2", "#bcbd22", "#000000", "#aec7e8"};

static int peer_index(const char *name) {
  for (int i = 0; i < NPEERS; i++)
    if (strcmp(peers[i].name, name) == 0) return i;
  return -1;
}

/* ---- the workloads ------------------------------------------------------------------------ */

static const char *const wnames[W_COUNT] = {"hot",    "request", "scaling",
                                            "larson", "bimodal", "containers"};
static const char *const wtitles[W_COUNT] = {
    "1. Hot path: ns per allocation, each object touched; size / region the batch fills "
    "(L1, L2, L3: half the cache; DRAM: twice L3); freeing not timed",
    "2. Per-request: 1000 allocations of 16..271 B, touched, then free-all; ns/alloc with "
    "the free-all",
    "3. Thread scaling: the per-request loop in t threads at once; ns per allocation of one "
    "thread = (slowest thread's busy time + serial reset) per round (flat = scales)",
    "4. Larson for arenas: each thread builds a 1000-object batch, hands it to the next "
    "thread, which reads and frees it; all threads replaced every 24 batches; ns/alloc",
    "5. Bimodal: requests of 200 small allocations, 1 in 50 also 8 MiB (every page "
    "touched), reset after each; kept = RSS above the start between requests, MiB",
    "6. Append-heavy containers: 64 byte vectors grown by doubling (realloc, or copy where "
    "the allocator has none) to 16 MiB stored (full: 64); ns/op; peak/live = peak RSS "
    "growth / bytes stored",
};

/* ---- results ---------------------------------------------------------------------------- */

enum { MAX_REP = 31, MAX_KEYS = 24, KEY_LEN = 16 };

typedef struct cell {
  double v[MAX_REP];
  int rep[MAX_REP]; /* which repeat each sample came from */
  int n;
} cell_t;

typedef struct series {
  double *x, *y;
  int n, cap;
} series_t;

typedef struct wres {
  int nkeys;
  char keys[MAX_KEYS][KEY_LEN];
  bool timed[MAX_KEYS];
  cell_t fig[MAX_KEYS][NPEERS];
  cell_t rss[NPEERS]; /* MiB, peak resident of the worker process */
  char na[NPEERS][200];
  bool hidden[NPEERS];
  bool failed[NPEERS];
  series_t ser[NPEERS];
} wres_t;

static wres_t res[W_COUNT];

static struct {
  bool quick, callgrind, plot;
  int repeats, threads;
  bool run_w[W_COUNT];
  const char *json;
  char out[4096];
  char self[4096], dir[4096];
} opt;

static double cg_instr[NPEERS]; /* instructions per allocation; < 0: not measured */
static bool cg_slow[NPEERS];    /* the allocation layout showed a checked (slow-only) arena */
static char cg_note[256];
static int reps_done, cur_rep;

static double now_s(void) { return bench_now_ns() * 1e-9; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(const cell_t *c) {
  if (c->n == 0) return NAN;
  double v[MAX_REP];
  memcpy(v, c->v, sizeof(double) * (size_t)c->n);
  qsort(v, (size_t)c->n, sizeof v[0], cmp_double);
  return c->n % 2 ? v[c->n / 2] : (v[c->n / 2 - 1] + v[c->n / 2]) / 2.0;
}

static int key_index(wres_t *r, const char *key, bool timed) {
  for (int k = 0; k < r->nkeys; k++)
    if (strcmp(r->keys[k], key) == 0) return k;
  if (r->nkeys == MAX_KEYS) return -1;
  snprintf(r->keys[r->nkeys], KEY_LEN, "%.15s", key);
  r->timed[r->nkeys] = timed;
  return r->nkeys++;
}

static void series_add(series_t *s, double x, double y) {
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

/* ---- running a worker ------------------------------------------------------------------- */

static void binary_path(const peer_t *p, char *buf, size_t size) {
  if (p->binary == NULL)
    snprintf(buf, size, "%s", opt.self);
  else
    snprintf(buf, size, "%s/%s", opt.dir, p->binary);
}

/* Starts argv[0] with stdout into a pipe (stderr to `errfd` if >= 0, else inherited); reads
 * everything it prints; reaps it. Returns its output (malloc'd) or NULL; *status and *maxrss
 * (KiB) from wait4. */
static char *run_capture(char *const argv[], int errfd, int *status, long *maxrss) {
  int pfd[2];
  if (pipe(pfd) != 0) return NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  if (errfd >= 0) posix_spawn_file_actions_adddup2(&fa, errfd, 2);
  posix_spawn_file_actions_addclose(&fa, pfd[0]);
  posix_spawn_file_actions_addclose(&fa, pfd[1]);
  pid_t pid;
  int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (err != 0) {
    close(pfd[0]);
    fprintf(stderr, "bench: cannot start %s: %s\n", argv[0], strerror(err));
    return NULL;
  }
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  for (;;) {
    if (buf != NULL && len + 1024 > cap) {
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
      } else {
        buf = nb;
        cap *= 2;
      }
    }
    char sink[1024];
    ssize_t n = buf != NULL ? read(pfd[0], buf + len, cap - len - 1) : read(pfd[0], sink, 1024);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (buf != NULL) len += (size_t)n;
  }
  close(pfd[0]);
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  while (wait4(pid, status, 0, &ru) < 0 && errno == EINTR) {
  }
  *maxrss = ru.ru_maxrss;
  if (buf != NULL) buf[len] = '\0';
  return buf;
}

static void run_worker(int w, int pi, bool series) {
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
        snprintf(r->na[pi], sizeof r->na[pi], "malloc in %.40s is %.60s, not %s", p->binary ? p->binary : "bench", line + 12,
                 p->expect);
        free(out);
        return;
      }
    } else if (strncmp(line, "NA ", 3) == 0) {
      if (line[3] == '-')
        r->hidden[pi] = true;
      else
        snprintf(r->na[pi], sizeof r->na[pi], "%s", line + 3);
      free(out);
      return;
    } else if ((line[0] == 'V' || line[0] == 'X') && sscanf(line + 2, "%63s %lf", key, &v) == 2) {
      int k = key_index(r, key, line[0] == 'V');
      cell_t *c = k >= 0 ? &r->fig[k][pi] : NULL;
      if (c != NULL && c->n < MAX_REP) {
        c->rep[c->n] = cur_rep;
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

/* ---- callgrind: instructions per allocation ------------------------------------------ */

static bool find_in_path(const char *prog, char *buf, size_t size) {
  const char *path = getenv("PATH");
  if (path == NULL || path[0] == '\0') path = "/usr/local/bin:/usr/bin:/bin";
  while (*path != '\0') {
    const char *end = strchr(path, ':');
    size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
    snprintf(buf, size, "%.*s/%s", (int)n, path, prog);
    if (n > 0 && access(buf, X_OK) == 0) return true;
    path += n + (end != NULL);
  }
  return false;
}

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
    if (sscanf(line, "summary: %lf", ir) == 1 || sscanf(line, "totals: %lf", ir) == 1)
      have = true;
  }
  fclose(f);
  return have;
}

static void run_callgrind(void) {
  for (int i = 0; i < NPEERS; i++) cg_instr[i] = -1;
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
    char *argv[] = {vg, (char *)"--tool=callgrind", (char *)"--collect-atstart=no",
                    outarg, path, (char *)"--worker", (char *)"all",
                    (char *)"callgrind", NULL};
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
    double alloc_ir[NPEERS][2], base_ir[NPEERS][2];
    for (int i = 0; i < NPEERS; i++)
      alloc_ir[i][0] = alloc_ir[i][1] = base_ir[i][0] = base_ir[i][1] = -1;
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
      }
    }
    /* The slope: what CG_N more allocations cost, less what CG_N more empty iterations cost.
     * Kept to two decimals: around the counted calls the compiler may schedule a stray
     * instruction or two differently for the two lengths (seen: 2 over 512, i.e. 0.004),
     * which is the harness, not the allocator (callgrind_annotate on the dumps attributes
     * exactly 12 * N instructions to arena.h for ar_alloc). */
    for (int i = 0; i < NPEERS; i++)
      if (alloc_ir[i][0] >= 0 && alloc_ir[i][1] >= 0 && base_ir[i][0] >= 0 && base_ir[i][1] >= 0)
        cg_instr[i] = round(
            ((alloc_ir[i][1] - alloc_ir[i][0]) - (base_ir[i][1] - base_ir[i][0])) / CG_N * 100) /
            100;
  }
  if (devnull >= 0) close(devnull);
}

/* ---- printing ------------------------------------------------------------------------- */

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

/* Geometric mean over the timed columns of (allocator / arenart). */
static double summary_ratio(const wres_t *r, int pi) {
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

static void print_workload(int w) {
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

/* ---- goals ---------------------------------------------------------------------------- */

typedef struct goal {
  const char *what;
  double value;
  const char *cmp; /* "<=" or ">=" */
  double target;
  const char *unit;
} goal_t;

static goal_t goals[8];
static int ngoals;

static double fig(int w, const char *key, int pi) {
  const wres_t *r = &res[w];
  for (int k = 0; k < r->nkeys; k++)
    if (strcmp(r->keys[k], key) == 0) return median(&r->fig[k][pi]);
  return NAN;
}

/* The median over repeats of a/b for one figure, pairing the samples of the same repeat:
 * load on a shared machine comes and goes, and within a repeat the two ran close together,
 * so the ratio of a pair is steadier than the ratio of two medians. */
static double paired_ratio(int w, const char *key, int pa, int pb) {
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

static void add_goal(const char *what, double value, const char *cmp, double target,
                     const char *unit) {
  goals[ngoals++] = (goal_t){what, value, cmp, target, unit};
}

/* 1 met, 0 not met, -1 not measured (NaN, or a negative "no figure" marker such as an
 * instruction count callgrind could not take): an unmeasured goal is never reported as met. */
static int goal_met(const goal_t *g) {
  if (isnan(g->value) || g->value < 0) return -1;
  return g->cmp[0] == '<' ? g->value <= g->target : g->value >= g->target;
}

static void compute_goals(void) {
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

static void print_goals(void) {
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

/* ---- machine ---------------------------------------------------------------------------- */

static char machine[512], loadavg[64], commit[64] = "unknown";

/* The commit measured, so that JSON files from different commits can be told apart. */
static void describe_commit(void) {
  const char *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
  char git[4096];
  if (ws == NULL || ws[0] == '\0') ws = "."; /* run by hand: from inside the checkout */
  if (!find_in_path("git", git, sizeof git)) return;
  char *argv[] = {git, (char *)"-C", (char *)ws, (char *)"describe", (char *)"--always",
                  (char *)"--dirty", NULL};
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), status = 0;
  long maxrss;
  char *out = run_capture(argv, devnull, &status, &maxrss);
  if (devnull >= 0) close(devnull);
  if (out != NULL && WIFEXITED(status) && WEXITSTATUS(status) == 0 && out[0] != '\0') {
    out[strcspn(out, "\n")] = '\0';
    snprintf(commit, sizeof commit, "%.63s", out);
  }
  free(out);
}

static void describe_machine(void) {
  char cpu[256] = "unknown CPU", line[512];
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f != NULL) {
    while (fgets(line, sizeof line, f) != NULL) {
      char *c = strchr(line, ':');
      if (strncmp(line, "model name", 10) == 0 && c != NULL) {
        snprintf(cpu, sizeof cpu, "%s", c + 2);
        cpu[strcspn(cpu, "\n")] = '\0';
        break;
      }
    }
    fclose(f);
  }
  long mem_kib = 0;
  f = fopen("/proc/meminfo", "r");
  if (f != NULL) {
    while (fgets(line, sizeof line, f) != NULL)
      if (sscanf(line, "MemTotal: %ld kB", &mem_kib) == 1) break;
    fclose(f);
  }
  struct utsname u;
  if (uname(&u) != 0) snprintf(u.release, sizeof u.release, "?");
  snprintf(machine, sizeof machine, "%s, %ld CPUs, %.0f GiB RAM, Linux %s", cpu,
           sysconf(_SC_NPROCESSORS_ONLN), (double)mem_kib / 1048576.0, u.release);
  f = fopen("/proc/loadavg", "r");
  snprintf(loadavg, sizeof loadavg, "?");
  if (f != NULL) {
    if (fgets(loadavg, sizeof loadavg, f) != NULL) {
      char *sp = strchr(loadavg, ' ');
      if (sp != NULL) sp = strchr(sp + 1, ' ');
      if (sp != NULL) sp = strchr(sp + 1, ' ');
      if (sp != NULL) *sp = '\0';
    }
    fclose(f);
  }
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s != '\0'; s++) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v) {
  if (isnan(v) || isinf(v))
    fprintf(f, "null");
  else
    fprintf(f, "%.6g", v);
}

static int write_json(const char *path, double elapsed) {
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
        fprintf(f, "%s\n        {\"allocator\": \"%s\", \"case\": \"%s\", \"timed\": %s, "
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
  fprintf(f, "\n  ],\n  \"instructions_per_alloc\": {");
  bool first = true;
  for (int pi = 0; pi < NPEERS; pi++) {
    if (cg_instr[pi] < 0) continue;
    fprintf(f, "%s\"%s\": ", first ? "" : ", ", peers[pi].name);
    first = false;
    json_num(f, cg_instr[pi]);
  }
  fprintf(f, "},\n  \"goals\": [\n");
  for (int i = 0; i < ngoals; i++) {
    const goal_t *g = &goals[i];
    fprintf(f, "    {\"goal\": ");
    json_str(f, g->what);
    fprintf(f, ", \"value\": ");
    json_num(f, g->value < 0 ? NAN : g->value);
    int met = goal_met(g);
    fprintf(f, ", \"target\": \"%s %g\", \"met\": %s}%s\n", g->cmp, g->target,
            met < 0 ? "null" : met ? "true" : "false", i + 1 < ngoals ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
  if (fclose(f) != 0) {
    fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- the plot ----------------------------------------------------------------------------- */

/* One `plot` command: column c+2 of `file` is allocator cols[c], in its own color; arenart
 * drawn thickest. A line per allocator rather than gnuplot's `for` so colors stay fixed. */
static void plot_lines(FILE *f, const char *file, const char *xcol, const int *cols, int n,
                       const char *style) {
  fprintf(f, "plot");
  for (int c = 0; c < n; c++) {
    int pi = cols[c];
    fprintf(f, "%s \"%s/%s\" using %s:%d%s with %s lw %d lc rgb \"%s\" title \"%s\"",
            c ? "," : "", opt.out, file, xcol, c + 2, strcmp(xcol, "0") == 0 ? ":xtic(1)" : "",
            style, pi == P_ARENART ? 3 : 2, colors[pi], peers[pi].name);
  }
  fprintf(f, "\n");
}

/* Writes the data files and the gnuplot script under opt.out and runs gnuplot. Returns true
 * if bench.png was written. */
/* One gnuplot data column: a figure, or NaN where a peer has none (gnuplot skips it). */
static void put_datum(FILE *f, double v) {
  if (isnan(v))
    fprintf(f, " NaN");
  else
    fprintf(f, " %.4f", v);
}

static bool write_plot(char *note, size_t note_size) {
  char path[4200];
  FILE *f;
  /* 1. per-request: one bar per allocator */
  snprintf(path, sizeof path, "%s/request.dat", opt.out);
  if ((f = fopen(path, "w")) == NULL) return false;
  fprintf(f, "# allocator ns/alloc (median)\n");
  for (int pi = 0; pi < NPEERS; pi++) {
    double v = fig(W_REQUEST, "ns/alloc", pi);
    if (!isnan(v)) fprintf(f, "\"%s\" %.4f %ld\n", peers[pi].name, v, strtol(colors[pi] + 1, NULL, 16));
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
      if (i < s->n)
        fprintf(f, " %.3f", s->y[i]);
      else
        fprintf(f, " NaN");
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
  fprintf(f,
          "set title \"Thread scaling: per-request loop in t threads (flat = scales)\"\n"
          "set key outside right top\n"
          "set xtics norotate 1\n"
          "set xlabel \"threads\"\n"
          "set ylabel \"ns per allocation per thread\"\n");
  plot_lines(f, "scaling.dat", "1", cols, ncols, "linespoints");
  fprintf(f,
          "set title \"Hot path, 256 B objects: region filled per batch\"\n"
          "set xlabel \"region\"\n"
          "set ylabel \"ns per allocation\"\n");
  plot_lines(f, "hot.dat", "0", hc, hcols, "linespoints");
  fprintf(f,
          "set title \"Bimodal: RSS kept between requests (1 in 50 asks for 8 MiB)\"\n"
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

/* ---- main --------------------------------------------------------------------------------- */

static void usage(FILE *to) {
  fprintf(to,
          "usage: bench [--quick] [--repeats N] [--threads N] [--json FILE] [--out DIR]\n"
          "             [--workloads hot,request,scaling,larson,bimodal,containers]\n"
          "             [--no-callgrind] [--no-plot]\n"
          "  --quick         short runs, 5 repeats, stops early to stay under a minute\n"
          "  --repeats N     runs per figure (median reported; default 5 quick, 9 full)\n"
          "  --threads N     scaling and Larson thread count (default: online CPUs, >= 2)\n"
          "  --json FILE     also write every figure and ratio to FILE\n"
          "  --out DIR       where bench.json, bench.png and the plot data go\n"
          "                  (default: <workspace>/build/bench under bazel run)\n");
}

static void resolve(const char *in, char *buf, size_t size) {
  const char *wd = getenv("BUILD_WORKING_DIRECTORY");
  if (in[0] == '/' || wd == NULL || wd[0] == '\0')
    snprintf(buf, size, "%s", in);
  else
    snprintf(buf, size, "%s/%s", wd, in);
}

static int mkdirs(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p != '\0'; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
      *p = '/';
    }
  return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--worker") == 0) return bench_worker_main(argc, argv);

  opt.callgrind = opt.plot = true;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  opt.threads = ncpu < 2 ? 2 : ncpu > 16 ? 16 : (int)ncpu;
  for (int w = 0; w < W_COUNT; w++) opt.run_w[w] = true;
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (strcmp(a, "--quick") == 0) {
      opt.quick = true;
    } else if (strcmp(a, "--repeats") == 0 && has) {
      opt.repeats = atoi(argv[++i]);
      if (opt.repeats < 1 || opt.repeats > MAX_REP) {
        fprintf(stderr, "bench: --repeats wants 1..%d\n", MAX_REP);
        return 2;
      }
    } else if (strcmp(a, "--threads") == 0 && has) {
      opt.threads = atoi(argv[++i]);
      if (opt.threads < 1 || opt.threads > 64) {
        fprintf(stderr, "bench: --threads wants 1..64\n");
        return 2;
      }
    } else if (strcmp(a, "--json") == 0 && has) {
      opt.json = argv[++i];
    } else if (strcmp(a, "--out") == 0 && has) {
      out = argv[++i];
    } else if (strcmp(a, "--workloads") == 0 && has) {
      const char *list = argv[++i];
      for (int w = 0; w < W_COUNT; w++) {
        size_t n = strlen(wnames[w]);
        const char *p = list;
        opt.run_w[w] = false;
        while ((p = strstr(p, wnames[w])) != NULL) {
          if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) opt.run_w[w] = true;
          p += n;
        }
      }
    } else if (strcmp(a, "--no-callgrind") == 0) {
      opt.callgrind = false;
    } else if (strcmp(a, "--no-plot") == 0) {
      opt.plot = false;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "bench: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (opt.repeats == 0) opt.repeats = opt.quick ? 5 : 9;

  /* The workers sit next to this binary (bazel-bin/bench/); /proc/self/exe sees through the
   * runfiles symlink. */
  ssize_t n = readlink("/proc/self/exe", opt.self, sizeof opt.self - 1);
  if (n <= 0) {
    fprintf(stderr, "bench: cannot find my own binary: %s\n", strerror(errno));
    return 1;
  }
  opt.self[n] = '\0';
  snprintf(opt.dir, sizeof opt.dir, "%s", opt.self);
  char *slash = strrchr(opt.dir, '/');
  if (slash != NULL) *slash = '\0';

  if (out != NULL) {
    resolve(out, opt.out, sizeof opt.out);
  } else {
    const char *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
    snprintf(opt.out, sizeof opt.out, "%s/build/bench", ws != NULL && ws[0] ? ws : ".");
  }
  if (mkdirs(opt.out) != 0) {
    fprintf(stderr, "bench: cannot create %s: %s\n", opt.out, strerror(errno));
    return 1;
  }

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

  /* Quick mode must end within a minute even on a loaded machine: the measurement gets
   * 42 s, then callgrind and gnuplot. A repeat is only started if the previous one suggests
   * it will fit. */
  double budget = opt.quick ? 42 : 480, t_start = now_s(), last_rep = 0;
  for (int rep = 0; rep < opt.repeats; rep++) {
    double t_rep = now_s();
    if (rep > 0 && t_rep - t_start + last_rep > budget) {
      fprintf(stderr, "bench: stopping after %d repeats to stay within %.0f s\n", rep, budget);
      break;
    }
    fprintf(stderr, "bench: repeat %d/%d (%.0f s so far)\n", rep + 1, opt.repeats,
            t_rep - t_start);
    for (int w = 0; w < W_COUNT; w++) {
      if (!opt.run_w[w]) continue;
      for (int j = 0; j < NPEERS; j++) {
        /* A different order each repeat, by rotation, so neighbours stay neighbours. */
        int pi = (j + rep * 5) % NPEERS;
        cur_rep = rep;
        run_worker(w, pi, rep == 0 && w == W_BIMODAL);
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

  if (opt.callgrind) {
    run_callgrind();
    printf("\nFast path under callgrind (instructions per extra allocation of 16..64 B, from "
           "loops of %d and %d;\nloop overhead subtracted; deterministic):\n ",
           CG_N, 2 * CG_N);
    for (int pi = 0; pi < NPEERS; pi++)
      if (cg_instr[pi] >= 0)
        printf(" %s %.1f%s", peers[pi].name, cg_instr[pi], cg_slow[pi] ? " (checked mode)" : "");
    printf("\n");
    if (cg_instr[P_ARENART] >= 0 && cg_slow[P_ARENART]) {
      /* runtime/arena.c turns an arena into a checked Valgrind mempool only under memcheck
       * (vgpreload_memcheck in LD_PRELOAD); seeing it here means that test misfired. */
      printf("fast path: not measured: under callgrind the arena ran its checked slow-only "
             "mode\n  (allocations not adjacent; %.1f instructions/alloc is the slow path); "
             "that mode is meant for memcheck only.\n",
             cg_instr[P_ARENART]);
      cg_instr[P_ARENART] = -1;
    } else if (cg_instr[P_ARENART] >= 0) {
      printf("fast path: ar_alloc %.1f instructions/alloc (goal <= 12)", cg_instr[P_ARENART]);
      if (cg_instr[P_CONCUR] >= 0)
        printf("; ar_concurrent_alloc %.1f (same bar)", cg_instr[P_CONCUR]);
      printf("\n");
    } else
      printf("fast path: not measured: %s\n", cg_note[0] ? cg_note : "no callgrind figure");
    for (int pi = 0; pi < NPEERS; pi++)
      if (cg_slow[pi]) cg_instr[pi] = -1; /* not a fast-path figure: kept out of the JSON */
  } else {
    for (int i = 0; i < NPEERS; i++) cg_instr[i] = -1;
    printf("\nfast path: callgrind skipped (--no-callgrind)\n");
  }

  compute_goals();
  print_goals();

  printf("\nHow each allocator is reached:\n");
  for (int pi = 0; pi < NPEERS; pi++) printf("  %-10s %s\n", peers[pi].name, peers[pi].how);

  double elapsed = now_s() - t_start;
  char path[4200];
  snprintf(path, sizeof path, "%s/bench.json", opt.out);
  int rc = 0;
  printf("\n");
  if (write_json(path, elapsed) == 0)
    printf("wrote %s\n", path);
  else
    rc = 1;
  if (opt.json != NULL) {
    char jp[4200];
    resolve(opt.json, jp, sizeof jp);
    if (write_json(jp, elapsed) == 0)
      printf("wrote %s\n", jp);
    else
      rc = 1;
  }
  if (opt.plot) {
    char note[4400] = "";
    if (write_plot(note, sizeof note))
      printf("plot: %s/bench.png\n", opt.out);
    else
      printf("plot: not drawn: %s\n", note[0] ? note : "could not write the data files");
  }
  printf("measured in %.1f s, %.1f s in all\n", t_measured, now_s() - t_start);
  return rc;
}
