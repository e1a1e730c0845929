/* SPDX-License-Identifier: MIT */
/*
 * integrations/protobuf-c/trace_bench.c - decode + free of an OTLP-like trace batch through
 * protobuf-c, on arenart's allocators and on every peer, at 1 and 2 threads.
 *
 * Why this workload: it is the one the adapter exists for. A collector decodes a batch (about
 * 5,000 small blocks: sub-messages, strings, byte strings, pointer arrays), looks at it, and
 * drops it. With malloc that is 5,000 mallocs and a tree walk of 5,000 frees; with an arena it
 * is 5,000 bumps and one reset. The decode's own parsing work is the same for everyone, so
 * the ratios below are diluted by it: they are what a user would see, not an allocator
 * microbenchmark (//bench has those).
 *
 * Peers: glibc malloc, jemalloc, tcmalloc (gperftools, minimal) and mimalloc each replace
 * malloc for their whole process, so each runs in its own binary (trace_bench_<name>, built
 * from this file with -DTB_MALLOC_NAME) with its library defaults; protobuf-c's default
 * allocator (NULL) calls malloc/free, and protobuf_c_message_free_unpacked frees the tree.
 * APR 1.7 pools run with a ProtobufCAllocator over apr_palloc (free a no-op), one unmanaged
 * pool over its own apr_allocator per thread, apr_pool_clear after each batch. arenart runs
 * with ar_protobuf_c_arena_allocator over a per-thread arena (ar_reset after each batch) and
 * with ar_protobuf_c_thread_allocator inside an ar_scope per batch.
 *
 * Method: this binary is the driver. For each repeat it runs every (allocator, threads) pair
 * once, in rotated order, each in a fresh worker process (itself or a sibling binary, found
 * next to /proc/self/exe), which decodes a few warm-up batches per thread and then times
 * `batches` decodes per thread between two barriers; the figure is wall time per batch per
 * thread. Medians over repeats are printed with ratios, and the goal (arenart at least 1.5x
 * the fastest malloc and ahead of APR, per thread count) is printed as met or not met from
 * the medians of per-repeat ratios (in each repeat, the fastest malloc of that repeat and APR
 * over arenart's arena allocator). Nothing is asserted.
 *
 * Each worker also reports its peak RSS growth (ru_maxrss over the resident size at its start:
 * the encoded batches, the threads' stacks and what the allocator kept), which only the JSON
 * file carries.
 *
 *   bazel run --config=opt //integrations/protobuf-c:trace_bench [-- --quick] [--callgrind]
 *                                                                 [--json FILE]
 * --callgrind adds instructions per batch at 1 thread for every allocator, counted by
 * callgrind (a few minutes), which do not move with the machine's load as times do.
 * --json FILE also writes the medians (us per batch per thread, peak RSS growth, ratio to the
 * arena) and the goals with their value, target and printed verdict, for
 * integrations/report.py; the printed output is the same with or without it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "arenart.h"
#include "integrations/protobuf-c/arenart_protobuf_c.h"
#include "integrations/protobuf-c/trace_batch.h"

#ifndef TB_MALLOC_NAME
#define TB_DRIVER 1
#define TB_MALLOC_NAME "glibc"
#include <apr-1.0/apr_allocator.h>
#include <apr-1.0/apr_general.h>
#include <apr-1.0/apr_pools.h>
#else
#define TB_DRIVER 0
#endif

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Resident size now, in KiB (the baseline the peak RSS growth is measured from). */
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
  fclose(f);
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- worker ---------------------------------------------------------------------------- */

typedef enum { K_MALLOC, K_ARENA, K_SCOPE, K_APR } kind_t;

typedef struct worker {
  kind_t kind;
  int batches;
  unsigned seed;
  pthread_barrier_t *start, *stop;
  const char *error;
} worker_t;

#if TB_DRIVER
static void *apr_cb_alloc(void *data, size_t size) { return apr_palloc((apr_pool_t *)data, size); }
static void apr_cb_free(void *data, void *p) {
  (void)data;
  (void)p;
}
#endif

static void *worker_main(void *arg) {
  worker_t *w = arg;
  uint8_t *wire;
  trace_shape_t shape = TRACE_SHAPE_DEFAULT;
  size_t len = trace_batch_encode(w->seed, shape, &wire);
  ProtobufCAllocator alloc, *use = NULL;
  ar_arena_t *arena = NULL;
#if TB_DRIVER
  apr_allocator_t *al = NULL;
  apr_pool_t *pool = NULL;
#endif
  if (len == 0) w->error = "encode failed";
  if (w->kind == K_ARENA) {
    arena = ar_arena_create(NULL);
    if (arena == NULL || ar_protobuf_c_arena_allocator(&alloc, arena) != AR_OK) w->error = "arena";
    use = &alloc;
  } else if (w->kind == K_SCOPE) {
    use = ar_protobuf_c_thread_allocator();
  } else if (w->kind == K_APR) {
#if TB_DRIVER
    if (apr_allocator_create(&al) != APR_SUCCESS ||
        apr_pool_create_unmanaged_ex(&pool, NULL, al) != APR_SUCCESS) {
      w->error = "apr pool";
    } else {
      apr_allocator_owner_set(al, pool);
      alloc.alloc = apr_cb_alloc;
      alloc.free = apr_cb_free;
      alloc.allocator_data = pool;
      use = &alloc;
    }
#else
    w->error = "APR runs in the driver binary only";
#endif
  }
  /* Warm-up batches (also checks that the decode is right), then the timed ones. */
  for (int round = 0; round < 2; round++) {
    int n = round == 0 ? 20 : w->batches;
    if (round == 1) pthread_barrier_wait(w->start);
    for (int i = 0; i < n && w->error == NULL; i++) {
      ar_scope_t s;
      memset(&s, 0, sizeof s);
      if (w->kind == K_SCOPE) s = ar_scope_begin();
      Arenart__Demo__TracesData *msg = arenart__demo__traces_data__unpack(use, len, wire);
      if (msg == NULL) {
        w->error = "unpack failed";
        break;
      }
      if (round == 0 && i == 0 && trace_batch_check(msg, w->seed, shape) != NULL)
        w->error = "decoded batch differs";
      switch (w->kind) {
        case K_MALLOC: arenart__demo__traces_data__free_unpacked(msg, NULL); break;
        case K_ARENA: ar_reset(arena); break;
        case K_SCOPE: ar_scope_end(&s); break;
        case K_APR:
#if TB_DRIVER
          apr_pool_clear(pool);
#endif
          break;
      }
    }
    if (round == 1) pthread_barrier_wait(w->stop);
  }
  ar_arena_destroy(arena);
#if TB_DRIVER
  if (pool != NULL) apr_pool_destroy(pool);
#endif
  free(wire);
  return NULL;
}

/* Runs `threads` workers of `kind` and prints "RESULT <ns per batch per thread> <peak RSS
 * growth KiB>". */
static int run_worker(kind_t kind, int threads, int batches) {
  long base = rss_kib();
  pthread_barrier_t start, stop;
  worker_t w[8];
  pthread_t t[8];
  if (threads < 1 || threads > 8) return 2;
  pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
  pthread_barrier_init(&stop, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++) {
    w[i] = (worker_t){kind, batches, 40u + (unsigned)i, &start, &stop, NULL};
    if (pthread_create(&t[i], NULL, worker_main, &w[i]) != 0) return 2;
  }
  pthread_barrier_wait(&start);
  double t0 = now_ns();
  pthread_barrier_wait(&stop);
  double elapsed = now_ns() - t0;
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < threads; i++)
    if (w[i].error != NULL) {
      fprintf(stderr, "trace_bench worker (%s): %s\n", TB_MALLOC_NAME, w[i].error);
      return 1;
    }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("RESULT %.1f %ld\n", elapsed / batches, ru.ru_maxrss - base);
  return 0;
}

/* ---- driver ---------------------------------------------------------------------------- */

#if TB_DRIVER
typedef struct peer {
  const char *name; /* as printed */
  const char *bin;  /* NULL = this binary */
  const char *kind; /* worker kind argument */
  int is_malloc;
} peer_t;

static const peer_t kPeers[] = {
    {"arenart arena (ar_reset)", NULL, "arena", 0},
    {"arenart scope (thread arena)", NULL, "scope", 0},
    {"APR pools", NULL, "apr", 0},
    {"glibc malloc", NULL, "malloc", 1},
    {"jemalloc", "trace_bench_jemalloc", "malloc", 1},
    {"tcmalloc", "trace_bench_tcmalloc", "malloc", 1},
    {"mimalloc", "trace_bench_mimalloc", "malloc", 1},
};
enum { NPEERS = sizeof kPeers / sizeof kPeers[0], MAXREP = 31 };

static char g_dir[4096];

/* Counts what one decode asks for, through malloc. */
typedef struct counting {
  size_t blocks, bytes;
} counting_t;
static void *count_alloc(void *data, size_t size) {
  counting_t *c = data;
  c->blocks++;
  c->bytes += size;
  return malloc(size);
}
static void count_free(void *data, void *p) {
  (void)data;
  free(p);
}

/* Runs a worker (under callgrind when `callgrind`) and returns its RESULT figure, or with
 * callgrind the instructions it executed; -1 on failure. `peak` (NULL = not wanted) gets the
 * worker's peak RSS growth in KiB. */
static double run_peer(const peer_t *p, int threads, int batches, int callgrind, long *peak) {
  char cmd[8400];
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return -1;
  self[n] = '\0';
  snprintf(cmd, sizeof cmd, "%s'%s%s' --worker %s %d %d%s",
           callgrind ? "valgrind --tool=callgrind --callgrind-out-file=/dev/null " : "",
           p->bin != NULL ? g_dir : "", p->bin != NULL ? p->bin : self, p->kind, threads, batches,
           callgrind ? " 2>&1" : "");
  FILE *f = popen(cmd, "r");
  if (f == NULL) return -1;
  char line[512];
  double v = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    const char *c = strstr(line, "Collected : ");
    long kib = 0;
    if (!callgrind && sscanf(line, "RESULT %lf %ld", &v, &kib) == 2 && peak != NULL) *peak = kib;
    if (callgrind && c != NULL) v = atof(c + 12);
  }
  if (pclose(f) != 0) return -1;
  return v;
}

static double spawn(const peer_t *p, int threads, int batches, long *peak) {
  return run_peer(p, threads, batches, 0, peak);
}

/* A goal's value as printed: 2 decimals, or more where 2 would round it across the target
 * (`cmp` is ">=", ">" or "<="), so the printed value always agrees with the verdict next to
 * it: 1.002x against "> 1.0" prints as 1.002x, not as a "1.00x" next to "met". */
static const char *shown(char *buf, size_t n, double v, const char *cmp, double target) {
  int gt = strcmp(cmp, ">") == 0, le = strcmp(cmp, "<=") == 0;
  int ok = gt ? v > target : le ? v <= target : v >= target;
  for (int d = 2; d <= 6; d++) {
    snprintf(buf, n, "%.*f", d, v);
    double p = atof(buf);
    if ((gt ? p > target : le ? p <= target : p >= target) == ok) break;
  }
  return buf;
}

/* Instructions per batch at 1 thread, from callgrind: the slope between runs of 50 and 100
 * timed batches, so start-up, encoding and warm-up cancel out. Deterministic, unlike the
 * times on a shared machine. */
static void callgrind_table(void) {
  double ins[NPEERS];
  printf("\ncallgrind, 1 thread: instructions per batch (slope between 50 and 100 batches)\n");
  for (int p = 0; p < NPEERS; p++) {
    double a = run_peer(&kPeers[p], 1, 50, 1, NULL), b = run_peer(&kPeers[p], 1, 100, 1, NULL);
    ins[p] = a > 0 && b > a ? (b - a) / 50 : -1;
  }
  double best = -1;
  for (int p = 0; p < NPEERS; p++) {
    if (ins[p] <= 0) {
      printf("  %-30s %12s\n", kPeers[p].name, "failed (is valgrind installed?)");
      continue;
    }
    printf("  %-30s %12.0f  %5.2fx\n", kPeers[p].name, ins[p], ins[0] > 0 ? ins[p] / ins[0] : 0.0);
    if (kPeers[p].is_malloc && (best < 0 || ins[p] < best)) best = ins[p];
  }
  char a[32], b[32];
  if (ins[0] > 0 && ins[2] > 0 && best > 0)
    printf("by instructions: arenart vs the fewest-instruction malloc %sx (goal >= 1.5): %s; "
           "vs APR %sx (goal > 1.0): %s\n",
           shown(a, sizeof a, best / ins[0], ">=", 1.5), best / ins[0] >= 1.5 ? "met" : "not met",
           shown(b, sizeof b, ins[2] / ins[0], ">", 1.0),
           ins[2] / ins[0] > 1.0 ? "met" : "not met");
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One goal row of the JSON file; `verdict` is the one printed. */
static void json_goal(FILE *f, const char *sep, const char *name, double value, const char *cmp,
                      double target, const char *verdict) {
  fprintf(f,
          "%s\n      {\"name\": \"%s\", \"value\": %.6f, \"cmp\": \"%s\", \"target\": %.2f, "
          "\"verdict\": \"%s\"}",
          sep, name, value, cmp, target, verdict);
}

static int driver(int quick, int callgrind, const char *json) {
  const int repeats = quick ? 5 : 11, batches = quick ? 100 : 300;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';
  snprintf(g_dir, sizeof g_dir, "%s", self);
  char *slash = strrchr(g_dir, '/');
  if (slash != NULL) slash[1] = '\0';

  uint8_t *wire;
  trace_shape_t shape = TRACE_SHAPE_DEFAULT;
  size_t len = trace_batch_encode(40, shape, &wire);
  counting_t cnt = {0, 0};
  ProtobufCAllocator counter = {count_alloc, count_free, &cnt};
  Arenart__Demo__TracesData *msg = arenart__demo__traces_data__unpack(&counter, len, wire);
  if (msg == NULL) return 1;
  arenart__demo__traces_data__free_unpacked(msg, &counter);
  free(wire);
  printf("trace_bench: decode + free of one batch (%u resources x %u scopes x %u spans, %zu "
         "bytes on the wire, %zu blocks, %zu bytes allocated per decode), %d batches per "
         "thread, %d repeats\n",
         shape.resources, shape.scopes, shape.spans, len, cnt.blocks, cnt.bytes, batches, repeats);

  static double res[2][NPEERS][MAXREP], peaks[2][NPEERS][MAXREP];
  /* Per repeat: the fastest malloc's and APR's time over arenart arena's, from the same
   * repeat (neighbours in time share the machine's state); the goals use their medians. */
  static double pair_malloc[2][MAXREP], pair_apr[2][MAXREP];
  int nres[2][NPEERS] = {{0}}, npair[2] = {0, 0};
  for (int r = 0; r < repeats; r++)
    for (int ti = 0; ti < 2; ti++) {
      double v[NPEERS];
      for (int k = 0; k < NPEERS; k++) {
        int p = (k + r) % NPEERS;
        long peak = 0;
        v[p] = spawn(&kPeers[p], ti + 1, batches, &peak);
        if (v[p] > 0) {
          peaks[ti][p][nres[ti][p]] = (double)peak;
          res[ti][p][nres[ti][p]++] = v[p];
        }
      }
      double best = -1;
      int complete = v[0] > 0 && v[2] > 0;
      for (int p = 0; p < NPEERS; p++)
        if (kPeers[p].is_malloc) {
          if (v[p] <= 0) complete = 0;
          else if (best < 0 || v[p] < best) best = v[p];
        }
      if (complete) {
        pair_malloc[ti][npair[ti]] = best / v[0];
        pair_apr[ti][npair[ti]++] = v[2] / v[0];
      }
    }

  /* Opened after the measurements, so an unwritable path costs no run; a failure to write it
   * is reported and makes the exit status 1, the printed figures stand. */
  FILE *jf = NULL;
  int status = 0;
  if (json != NULL && (jf = fopen(json, "w")) == NULL) {
    fprintf(stderr, "trace_bench: cannot write %s\n", json);
    status = 1;
  }
  if (jf != NULL)
    fprintf(jf,
            "{\"benchmark\": \"protobuf-c decode+free\", \"resources\": %u, \"scopes\": %u, "
            "\"spans\": %u, \"wire_bytes\": %zu, \"blocks\": %zu, \"batches\": %d, "
            "\"repeats\": %d,\n  \"unit\": \"wall ns per batch per thread; peak RSS growth KiB\", "
            "\"threads\": [",
            shape.resources, shape.scopes, shape.spans, len, cnt.blocks, batches, repeats);
  for (int ti = 0; ti < 2; ti++) {
    double med[NPEERS], peak[NPEERS];
    int fastest_malloc = -1;
    const int arena = 0, apr = 2;
    printf("\n%d thread%s: us per batch per thread, median (ratio = peer / arenart arena)\n",
           ti + 1, ti ? "s" : "");
    for (int p = 0; p < NPEERS; p++) {
      med[p] = -1;
      if (nres[ti][p] > 0) {
        qsort(res[ti][p], (size_t)nres[ti][p], sizeof(double), cmp_double);
        med[p] = res[ti][p][nres[ti][p] / 2];
        qsort(peaks[ti][p], (size_t)nres[ti][p], sizeof(double), cmp_double);
        peak[p] = peaks[ti][p][nres[ti][p] / 2];
      }
      if (kPeers[p].is_malloc && med[p] > 0 && (fastest_malloc < 0 || med[p] < med[fastest_malloc]))
        fastest_malloc = p;
    }
    if (jf != NULL)
      fprintf(jf, "%s\n    {\"threads\": %d, \"allocators\": [", ti ? "," : "", ti + 1);
    const char *sep = "";
    for (int p = 0; p < NPEERS; p++) {
      if (med[p] <= 0) printf("  %-30s %10s\n", kPeers[p].name, "failed");
      else printf("  %-30s %10.1f  %5.2fx\n", kPeers[p].name, med[p] / 1000, med[p] / med[arena]);
      if (jf == NULL || med[p] <= 0) continue;
      fprintf(jf,
              "%s\n      {\"name\": \"%s\", \"kind\": \"%s\", \"malloc\": %s, \"ns\": %.1f, "
              "\"peak_kib\": %.0f, \"x_arena\": %.6f}",
              sep, kPeers[p].name, kPeers[p].kind, kPeers[p].is_malloc ? "true" : "false", med[p],
              peak[p], med[arena] > 0 ? med[p] / med[arena] : 0);
      sep = ",";
    }
    if (jf != NULL) fprintf(jf, "],\n     \"goals\": [");
    if (fastest_malloc < 0 || med[arena] <= 0 || med[apr] <= 0 || npair[ti] == 0) {
      printf("goal (%d thread%s): not measured (a worker failed): not met\n", ti + 1,
             ti ? "s" : "");
      if (jf != NULL) fprintf(jf, "]}");
      continue;
    }
    qsort(pair_malloc[ti], (size_t)npair[ti], sizeof(double), cmp_double);
    qsort(pair_apr[ti], (size_t)npair[ti], sizeof(double), cmp_double);
    double vs_malloc = pair_malloc[ti][npair[ti] / 2], vs_apr = pair_apr[ti][npair[ti] / 2];
    char a[32], b[32];
    printf("goal (%d thread%s, median of %d per-repeat ratios): arenart vs the fastest malloc "
           "%sx (goal >= 1.5): %s; vs APR %sx (goal > 1.0): %s\n",
           ti + 1, ti ? "s" : "", npair[ti], shown(a, sizeof a, vs_malloc, ">=", 1.5),
           vs_malloc >= 1.5 ? "met" : "not met", shown(b, sizeof b, vs_apr, ">", 1.0),
           vs_apr > 1.0 ? "met" : "not met");
    if (jf != NULL) {
      json_goal(jf, "", "fastest malloc / arenart arena", vs_malloc, ">=", 1.5,
                vs_malloc >= 1.5 ? "met" : "not met");
      json_goal(jf, ",", "APR pools / arenart arena", vs_apr, ">", 1.0,
                vs_apr > 1.0 ? "met" : "not met");
      fprintf(jf, "], \"fastest_malloc\": \"%s\"}", kPeers[fastest_malloc].name);
    }
  }
  if (jf != NULL) {
    fprintf(jf, "]}\n");
    if (fclose(jf) != 0) {
      fprintf(stderr, "trace_bench: cannot write %s\n", json);
      status = 1;
    }
  }
  if (callgrind) callgrind_table();
  return status;
}
#endif

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "--worker") == 0) {
    kind_t kind;
    if (strcmp(argv[2], "malloc") == 0) kind = K_MALLOC;
    else if (strcmp(argv[2], "arena") == 0) kind = K_ARENA;
    else if (strcmp(argv[2], "scope") == 0) kind = K_SCOPE;
    else if (strcmp(argv[2], "apr") == 0) kind = K_APR;
    else return 2;
#if TB_DRIVER
    if (kind == K_APR && apr_initialize() != APR_SUCCESS) return 2;
#endif
    return run_worker(kind, atoi(argv[3]), atoi(argv[4]));
  }
#if TB_DRIVER
  int quick = 0, callgrind = 0;
  const char *json = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else if (strcmp(argv[i], "--callgrind") == 0) callgrind = 1;
    else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--quick] [--callgrind] [--json FILE]\n", argv[0]);
      return 2;
    }
  }
  return driver(quick, callgrind, json);
#else
  fprintf(stderr, "usage: %s --worker malloc THREADS BATCHES (run trace_bench instead)\n", argv[0]);
  return 2;
#endif
}
