/*
 * bench/arena_bench.c - quick benchmark of the serial arena against glibc malloc and a raw bump
 * pointer.
 *
 * Workloads:
 *   hot N B   batches of BATCH allocations of N bytes, each object touched (first and last
 *             byte). Only the allocation loop is timed; the arena is reset, the malloc'd
 *             blocks freed, between batches, outside the timed region.
 *   request   one "request": K = 1000 allocations of mixed sizes 16..271 B (a fixed
 *             pseudo-random sequence), each touched, then everything freed at once
 *             (ar_reset; free() of every block for malloc; cursor back to the start for the
 *             bump pointer). The whole request, the freeing included, is timed.
 *
 * Allocators:
 *   arenart   ar_alloc on an arena with the default options (64 KiB chunks, 1 MiB retained),
 *   malloc    glibc malloc/free,
 *   bump      a cursor moved through a preallocated, pre-faulted buffer: no chunk
 *             management, no bookkeeping; the physical limit for any bump allocator.
 *
 * Each figure is the median over REPEATS runs of ns per allocation; the ratio column is that
 * figure divided by arenart's for the same workload (above 1: slower than arenart).
 *
 * Usage: bench [--quick] [--repeats N] [--json FILE]
 *
 * No figure is checked against a threshold: this program only reports.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arenart.h"

/* Makes the compiler believe `p` (and everything it points to) is read and may be written by
 * someone else, so allocations and the stores that touch them cannot be removed. */
static inline void escape(void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "bench: %s\n", what);
  exit(1);
}

/* ---- configuration ------------------------------------------------------------------- */

enum { BATCH = 1024, REQUEST_K = 1000, MAX_REPEATS = 101 };

static const size_t hot_sizes[] = {8, 16, 32, 64, 128, 256, 512};
#define NHOT (sizeof hot_sizes / sizeof hot_sizes[0])

typedef struct config {
  int repeats;     /* medians are taken over this many runs */
  int hot_batches; /* batches of BATCH allocations per run, per size */
  int requests;    /* requests per run */
} config_t;

/* ---- the allocators under test ------------------------------------------------------- */

/* Buffer for the bump allocator: big enough for one batch of the largest size or one
 * request, with room to spare. */
#define BUMP_BYTES ((size_t)1 << 20)
static char *bump_buf;

/* Rounds like ar_alloc does, so the bump pointer hands out the same layout. */
static inline size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static inline void touch(char *p, size_t size, size_t i) {
  p[0] = (char)i;
  p[size - 1] = (char)(i >> 8);
  escape(p);
}

typedef enum { A_ARENA, A_MALLOC, A_BUMP, NALLOC } alloc_kind_t;
static const char *const alloc_names[NALLOC] = {"arenart", "malloc", "bump"};

static ar_arena_t *arena;
static void *ptrs[BATCH > REQUEST_K ? BATCH : REQUEST_K];
static size_t request_sizes[REQUEST_K];

/* One hot-path batch of `size`-byte allocations; returns the ns spent allocating. */
static double hot_batch(alloc_kind_t kind, size_t size) {
  double t0, t1;
  switch (kind) {
    case A_ARENA:
      t0 = now_ns();
      for (size_t i = 0; i < BATCH; i++) {
        char *p = ar_alloc(arena, size);
        if (p == NULL) die("ar_alloc failed");
        touch(p, size, i);
      }
      t1 = now_ns();
      ar_reset(arena);
      return t1 - t0;
    case A_MALLOC:
      t0 = now_ns();
      for (size_t i = 0; i < BATCH; i++) {
        char *p = malloc(size);
        if (p == NULL) die("malloc failed");
        touch(p, size, i);
        ptrs[i] = p;
      }
      t1 = now_ns();
      for (size_t i = 0; i < BATCH; i++) free(ptrs[i]);
      return t1 - t0;
    case A_BUMP:
    default: {
      char *cur = bump_buf;
      char *end = bump_buf + BUMP_BYTES;
      t0 = now_ns();
      for (size_t i = 0; i < BATCH; i++) {
        size_t n = round16(size);
        if ((size_t)(end - cur) < n) die("bump buffer too small");
        char *p = cur;
        cur += n;
        touch(p, size, i);
      }
      t1 = now_ns();
      return t1 - t0;
    }
  }
}

/* One request of REQUEST_K mixed-size allocations, then free-all (timed by the caller). */
static void request(alloc_kind_t kind) {
  switch (kind) {
    case A_ARENA:
      for (size_t i = 0; i < REQUEST_K; i++) {
        size_t size = request_sizes[i];
        char *p = ar_alloc(arena, size);
        if (p == NULL) die("ar_alloc failed");
        touch(p, size, i);
      }
      ar_reset(arena);
      break;
    case A_MALLOC:
      for (size_t i = 0; i < REQUEST_K; i++) {
        size_t size = request_sizes[i];
        char *p = malloc(size);
        if (p == NULL) die("malloc failed");
        touch(p, size, i);
        ptrs[i] = p;
      }
      for (size_t i = 0; i < REQUEST_K; i++) free(ptrs[i]);
      break;
    case A_BUMP:
    default: {
      char *cur = bump_buf;
      char *end = bump_buf + BUMP_BYTES;
      for (size_t i = 0; i < REQUEST_K; i++) {
        size_t size = request_sizes[i];
        size_t n = round16(size);
        if ((size_t)(end - cur) < n) die("bump buffer too small");
        char *p = cur;
        cur += n;
        touch(p, size, i);
      }
      escape(cur); /* "reset": the cursor simply starts over next time */
      break;
    }
  }
}

/* ---- measurement --------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* ns per allocation, median over the repeats. */
static double measure_hot(const config_t *cfg, alloc_kind_t kind, size_t size) {
  double runs[MAX_REPEATS];
  hot_batch(kind, size); /* warm-up: the arena gets its chunks, malloc its heap */
  for (int r = 0; r < cfg->repeats; r++) {
    double ns = 0;
    for (int b = 0; b < cfg->hot_batches; b++) ns += hot_batch(kind, size);
    runs[r] = ns / ((double)cfg->hot_batches * BATCH);
  }
  return median(runs, cfg->repeats);
}

static double measure_request(const config_t *cfg, alloc_kind_t kind) {
  double runs[MAX_REPEATS];
  request(kind); /* warm-up */
  for (int r = 0; r < cfg->repeats; r++) {
    double t0 = now_ns();
    for (int q = 0; q < cfg->requests; q++) request(kind);
    double t1 = now_ns();
    runs[r] = (t1 - t0) / ((double)cfg->requests * REQUEST_K);
  }
  return median(runs, cfg->repeats);
}

/* ---- results ------------------------------------------------------------------------- */

typedef struct result {
  char workload[32];
  const char *allocator;
  double ns_per_alloc;
  double ratio; /* ns_per_alloc / arenart's ns_per_alloc for the same workload */
} result_t;

enum { MAX_RESULTS = (NHOT + 1) * NALLOC };
static result_t results[MAX_RESULTS];
static int nresults;

static void record(const char *workload, const double ns[NALLOC]) {
  for (int k = 0; k < NALLOC; k++) {
    result_t *r = &results[nresults++];
    snprintf(r->workload, sizeof r->workload, "%s", workload);
    r->allocator = alloc_names[k];
    r->ns_per_alloc = ns[k];
    r->ratio = ns[A_ARENA] > 0 ? ns[k] / ns[A_ARENA] : 0.0;
  }
}

static void print_table(void) {
  printf("%-16s %-9s %12s %14s\n", "workload", "allocator", "ns/alloc", "ratio/arenart");
  printf("%-16s %-9s %12s %14s\n", "----------------", "---------", "------------",
         "--------------");
  for (int i = 0; i < nresults; i++) {
    const result_t *r = &results[i];
    printf("%-16s %-9s %12.2f %14.2f\n", r->workload, r->allocator, r->ns_per_alloc,
           r->ratio);
  }
}

static int write_json(const char *path, const config_t *cfg, bool quick) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f, "{\n  \"benchmark\": \"arena_bench\",\n  \"arenart_version\": \"%s\",\n",
          ar_version());
  fprintf(f, "  \"quick\": %s,\n  \"repeats\": %d,\n  \"statistic\": \"median\",\n",
          quick ? "true" : "false", cfg->repeats);
  fprintf(f, "  \"unit\": \"ns/alloc\",\n  \"results\": [\n");
  for (int i = 0; i < nresults; i++) {
    const result_t *r = &results[i];
    fprintf(f,
            "    {\"workload\": \"%s\", \"allocator\": \"%s\", \"ns_per_alloc\": %.4f, "
            "\"ratio_to_arenart\": %.4f}%s\n",
            r->workload, r->allocator, r->ns_per_alloc, r->ratio,
            i + 1 < nresults ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
  if (fclose(f) != 0) {
    fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* Under `bazel run` the program runs in its runfiles tree; a relative --json path is meant
 * relative to where the user typed the command. */
static const char *resolve_path(const char *path, char *buf, size_t bufsize) {
  const char *wd = getenv("BUILD_WORKING_DIRECTORY");
  if (path[0] == '/' || wd == NULL || wd[0] == '\0') return path;
  int n = snprintf(buf, bufsize, "%s/%s", wd, path);
  if (n < 0 || (size_t)n >= bufsize) die("--json path too long");
  return buf;
}

static void usage(FILE *to) {
  fprintf(to,
          "usage: bench [--quick] [--repeats N] [--json FILE]\n"
          "  --quick       fewer iterations (a few seconds in all)\n"
          "  --repeats N   runs per figure, the median is reported (default 5 quick, 11 full)\n"
          "  --json FILE   also write the figures to FILE as JSON\n");
}

int main(int argc, char **argv) {
  bool quick = false;
  int repeats = 0;
  const char *json = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 1 || v > MAX_REPEATS) {
        fprintf(stderr, "bench: --repeats wants 1..%d\n", MAX_REPEATS);
        return 2;
      }
      repeats = (int)v;
    } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "bench: unknown or incomplete argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }

  config_t cfg;
  cfg.repeats = repeats > 0 ? repeats : (quick ? 5 : 11);
  cfg.hot_batches = quick ? 1000 : 5000;
  cfg.requests = quick ? 1000 : 5000;

#if !defined(__OPTIMIZE__)
  fprintf(stderr, "bench: warning: built without optimization; use --config=opt\n");
#endif

  arena = ar_arena_create(NULL);
  if (arena == NULL) {
    fprintf(stderr, "bench: ar_arena_create: %s\n", ar_strerror(ar_last_error()));
    return 1;
  }
  bump_buf = malloc(BUMP_BYTES);
  if (bump_buf == NULL) die("out of memory");
  memset(bump_buf, 0, BUMP_BYTES); /* fault the pages in before timing */

  /* A fixed sequence of request sizes, 16..271 B (xorshift; the same on every run). */
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (size_t i = 0; i < REQUEST_K; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    request_sizes[i] = 16 + (size_t)(x % 256);
  }

  printf("arenart %s quick benchmark (%s mode, median of %d runs)\n", ar_version(),
         quick ? "quick" : "full", cfg.repeats);
  printf("hot N B: %d x %d allocations of N bytes, each touched; request: %d allocations "
         "of 16..271 B + free-all\n\n",
         cfg.hot_batches, BATCH, REQUEST_K);

  /* Warm-up before the first figure: CPU clocks ramp up, caches and TLB fill, and each
   * allocator gets its memory, so the first workload is not penalized. */
  for (int i = 0; i < cfg.hot_batches; i++)
    for (int k = 0; k < NALLOC; k++) hot_batch((alloc_kind_t)k, 64);

  double ns[NALLOC];
  char name[32];
  for (size_t s = 0; s < NHOT; s++) {
    for (int k = 0; k < NALLOC; k++) ns[k] = measure_hot(&cfg, (alloc_kind_t)k, hot_sizes[s]);
    snprintf(name, sizeof name, "hot %zu B", hot_sizes[s]);
    record(name, ns);
  }
  for (int k = 0; k < NALLOC; k++) ns[k] = measure_request(&cfg, (alloc_kind_t)k);
  record("request 1000", ns);

  print_table();

  ar_arena_destroy(arena);
  free(bump_buf);

  if (json != NULL) {
    char buf[4096];
    const char *path = resolve_path(json, buf, sizeof buf);
    if (write_json(path, &cfg, quick) != 0) return 1;
    printf("\nwrote %s\n", path);
  }
  return 0;
}
