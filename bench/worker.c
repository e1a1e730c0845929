/* SPDX-License-Identifier: MIT */
/*
 * bench/worker.c - one measurement in one process: `<binary> --worker ALLOCATOR WORKLOAD
 * [--quick] [--threads N] [--series]` runs WORKLOAD once with ALLOCATOR and prints its figures
 * in the protocol of bench.h. The driver (driver.c) starts one of these per allocator, workload
 * and repeat, and takes medians; a worker never prints a table, compares, or judges.
 *
 * The same file is compiled into every worker binary; macros choose the allocators it holds:
 *   BENCH_WITH_ARENART   arenart, arthread, arconcur, arkeep, arlease (links //runtime)
 *   BENCH_WITH_POOLS     APR, talloc, obstack
 *   BENCH_WITH_MIHEAP    mimalloc heaps (the binary links mimalloc)
 *   BENCH_WITH_PMR       std::pmr::monotonic_buffer_resource (links pmr_shim.cc)
 * plus, always, the bump pointer and "malloc": plain malloc/free, which is whatever library the
 * binary was linked with (glibc, jemalloc, tcmalloc or mimalloc). The worker reports which
 * library really provides malloc (INFO malloc ...), so a link-order mistake cannot pass one
 * allocator off as another.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include "bench/bench.h"
#include "bench/peers.h"
#if defined(BENCH_WITH_ARENART)
#include "bench/peers_arenart.h"
#endif
#if defined(BENCH_WITH_POOLS)
#include "bench/peers_pools.h"
#endif
#if defined(BENCH_WITH_MIHEAP)
#include "bench/peers_mimalloc.h"
#endif
#if defined(BENCH_WITH_PMR)
#include "bench/peers_pmr.h"
#endif

int bench_worker_main(int argc, char **argv);

/* ---- output ------------------------------------------------------------------------- */

static void out_v(const char *key, double v) { printf("V %s %.6g\n", key, v); }
static void out_x(const char *key, double v) { printf("X %s %.6g\n", key, v); }
static void out_s(const char *series, double x, double y) {
  printf("S %s %.6g %.6g\n", series, x, y);
}

/* ---- shared by the workloads -------------------------------------------------------- */

static double clock_overhead_ns; /* one bench_now_ns() pair, subtracted from short timings */
static size_t request_sizes[8 * REQUEST_K];

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The fastest of a worker's sub-runs. Steady-state loops have one true cost; on a shared
 * machine everything else (preemption, another process's cache traffic) only adds to it. The
 * driver then takes the median over worker processes. */
static double min_of(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++)
    if (v[i] < m) m = v[i];
  return m;
}

static inline void touch(void *p, size_t size, void *prev) {
  *(void **)p = prev;
  if (size > sizeof(void *)) ((char *)p)[size - 1] = (char)size;
  bench_escape(p);
}

static double rss_bytes(void) {
  static int fd = -1;
  char buf[128];
  if (fd < 0) fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long size, resident;
  if (sscanf(buf, "%lu %lu", &size, &resident) != 2) return 0;
  return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static double hwm_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kib = 0;
  if (f == NULL) return 0;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmHWM: %lf kB", &kib) == 1) break;
  fclose(f);
  return kib * 1024.0;
}

/* Cache sizes from sysfs (sysconf's answer is wrong on some virtual machines). */
static size_t cache_size(int level, const char *type, size_t fallback) {
  for (int i = 0; i < 8; i++) {
    char path[96], buf[64];
    int lv = 0;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    FILE *f = fopen(path, "r");
    if (f == NULL) break;
    int ok = fscanf(f, "%d", &lv) == 1;
    fclose(f);
    if (!ok || lv != level) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
    f = fopen(path, "r");
    if (f == NULL) continue;
    ok = fscanf(f, "%63s", buf) == 1 && strcmp(buf, type) == 0;
    fclose(f);
    if (!ok) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    f = fopen(path, "r");
    if (f == NULL) continue;
    unsigned long v = 0;
    char unit = 'K';
    int got = fscanf(f, "%lu%c", &v, &unit);
    fclose(f);
    if (got >= 1 && v > 0) return v * (unit == 'M' ? 1048576ul : unit == 'K' ? 1024ul : 1ul);
  }
  return fallback;
}

/* ---- 1. hot path cases ---------------------------------------------------------------- */

enum { HOT_MAX_CASES = 24, HOT_GROUPS = 9 };
typedef struct hot_case {
  size_t size, region;
  size_t warm;   /* untimed batches before each timed run (see HOT_L3_WARM) */
  size_t groups; /* at most this many timed runs of each loop (see w_hot) */
  char label[16];
} hot_case_t;

/* Warm-up batches before each timed run at L3. With a region of half the L3 one pass did not
 * make it resident: arenart's batch time fell from 7.7 to 1.7 ns over about ten batches (a
 * quick run timed four in all, so its "L3" figure was mostly the memory behind it). The
 * region is now a quarter of the L3, so that the allocator's and the bump loop's regions fit
 * in it together, and each run starts with HOT_L3_WARM untimed batches that bring its own
 * region back (measured on the build VM, 256 B: arenart 1.2-1.3 ns after 10, 1.2-2.5 after
 * 2). Only L3 runs are few and long (HOT_L3_GROUPS), so the warm-up stays a small part of
 * the workload. L1 and L2 are refilled by one batch. DRAM cannot hold the region in any
 * cache, so the run before leaves nothing to warm up: none there. */
enum { HOT_L3_WARM = 6, HOT_L3_GROUPS = 4 };

/* Regions: half of L1d, half of L2, a quarter of L3 (the data stays in that level, beside the
 * bump loop's region of the same size: see HOT_L3_WARM), and twice L3 (it cannot). Quick:
 * 8..512 B in L1, 256 B in the outer levels; full: every power of two from 8 to 512 B in L1,
 * 16, 64 and 256 B in the outer levels. */
static int hot_cases(const bench_params_t *prm, hot_case_t *c) {
  size_t l1 = cache_size(1, "Data", 32 << 10), l2 = cache_size(2, "Unified", 1 << 20);
  size_t l3 = cache_size(3, "Unified", 32 << 20);
  size_t region[4] = {l1 / 2, l2 / 2, l3 / 4, l3 * 2};
  if (region[3] < ((size_t)64 << 20)) region[3] = (size_t)64 << 20;
  static const char *const lv[4] = {"L1", "L2", "L3", "DRAM"};
  static const size_t l1_quick[] = {8, 64, 256, 512}, l1_full[] = {8, 16, 32, 64, 128, 256, 512};
  static const size_t out_quick[] = {256}, out_full[] = {16, 64, 256};
  const size_t *l1s = prm->quick ? l1_quick : l1_full;
  size_t nl1 = prm->quick ? 4 : 7;
  const size_t *outs = prm->quick ? out_quick : out_full;
  size_t nout = prm->quick ? 1 : 3;
  int n = 0;
  for (size_t i = 0; i < nl1; i++) {
    c[n] = (hot_case_t){l1s[i], region[0], 1, HOT_GROUPS, ""};
    snprintf(c[n].label, sizeof c[n].label, "%zuB/L1", l1s[i]);
    n++;
  }
  for (int lvl = 1; lvl < 4; lvl++)
    for (size_t i = 0; i < nout; i++) {
      hot_case_t h = {outs[i], region[lvl], 1, HOT_GROUPS, ""};
      if (lvl == 2) h.warm = HOT_L3_WARM, h.groups = HOT_L3_GROUPS;
      if (lvl == 3) h.warm = 0, h.groups = HOT_L3_GROUPS;
      c[n] = h;
      snprintf(c[n].label, sizeof c[n].label, "%zuB/%s", outs[i], lv[lvl]);
      n++;
    }
  return n;
}

/* Enough batches for about 2^18 (quick) or 2^21 allocations, at least four. */
static size_t hot_batches(const bench_params_t *prm, size_t n) {
  size_t want = prm->quick ? (size_t)1 << 18 : (size_t)1 << 21;
  size_t b = want / n;
  return b < 4 ? 4 : b;
}

/* ---- 3. scaling ------------------------------------------------------------------------- */

enum { SCALING_MAX_THREADS = 64 };
enum { SCALING_MAX_ROUNDS = 256 };
typedef struct scaling_arg {
  pthread_barrier_t *bar;
  int id, rounds, per_round, err;
  double busy[SCALING_MAX_ROUNDS];  /* ns this thread spent in its requests, per round */
  double reset[SCALING_MAX_ROUNDS]; /* thread 0 only: ns of the serial between-rounds reset */
  double ref[SCALING_MAX_ROUNDS];   /* ns this thread spent in the bump loop's round */
} scaling_arg_t;

/* The bump buffer of one thread's reference round: per_round requests kept until the round
 * ends, each allocation at most 271 B rounded up to 16. */
static size_t scaling_ref_cap(int per_round) { return (size_t)per_round * REQUEST_K * 288 + 4096; }

/* 1, 2, 4, ... up to max, and max itself. */
static int thread_counts(int max, int *out) {
  int n = 0;
  for (int t = 1; t < max && n < 14; t *= 2) out[n++] = t;
  out[n++] = max;
  return n;
}

/* ---- 4. Larson: a queue per thread, the previous thread its only producer ---------- */

enum { LQ_CAP = 4 };
typedef struct lq {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  lbatch_t *ring[LQ_CAP];
  int head, count;
} lq_t;

/* Each thread pushes one batch, then pops one, so no queue ever holds more than one batch
 * per iteration in flight: the ring cannot overflow. */
static void lq_push(lq_t *q, lbatch_t *b) {
  pthread_mutex_lock(&q->mu);
  if (q->count == LQ_CAP) abort();
  q->ring[(q->head + q->count++) % LQ_CAP] = b;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

static lbatch_t *lq_pop(lq_t *q) {
  pthread_mutex_lock(&q->mu);
  while (q->count == 0) pthread_cond_wait(&q->cv, &q->mu);
  lbatch_t *b = q->ring[q->head];
  q->head = (q->head + 1) % LQ_CAP;
  q->count--;
  pthread_mutex_unlock(&q->mu);
  return b;
}

typedef struct larson_shared {
  int threads;
  lq_t q[SCALING_MAX_THREADS];
  lbatch_t *spare[SCALING_MAX_THREADS]; /* each thread index owns one free batch record */
} larson_shared_t;

enum { LARSON_MAX_GENS = 64 };
typedef struct larson_arg {
  larson_shared_t *shared;
  int id, iters;
  double busy;
} larson_arg_t;

/* The batch region of the Larson reference: LARSON_K allocations of at most 271 B, rounded up
 * to 16. */
enum { LARSON_REF_BYTES = LARSON_K * 272 };

/* One thread of a Larson generation, for any allocator: `begin`, `alloc` and `end` are constant
 * at every call site, so once this is inlined they are direct calls, inlined in turn, and each
 * allocator's loop is the one it had when it was written out per allocator. */
typedef int (*lbegin_fn)(lbatch_t *);
typedef void *(*lalloc_fn)(lbatch_t *, size_t);
typedef void (*lend_fn)(lbatch_t *);
static inline __attribute__((always_inline)) void larson_loop(larson_arg_t *a, lbegin_fn begin,
                                                              lalloc_fn alloc, lend_fn end,
                                                              const char *who) {
  lbatch_t *spare = a->shared->spare[a->id];
  int t = a->shared->threads;
  /* Busy time: the loop less the waits for the previous thread's batch (see w_larson). */
  double t0 = bench_now_ns(), waited = 0;
  for (int it = 0; it < a->iters; it++) {
    /* Produce: a batch of objects in the batch's own region, passed to the next thread. */
    if (begin(spare) != 0) bench_oom(who);
    const size_t *sizes = request_sizes + (size_t)((it + a->id) % 8) * REQUEST_K;
    for (int k = 0; k < LARSON_K; k++) {
      void *p = alloc(spare, sizes[k]);
      if (p == NULL) bench_oom(who);
      touch(p, sizes[k], NULL);
      spare->obj[k] = p;
      spare->size[k] = (uint16_t)sizes[k];
    }
    spare->n = LARSON_K;
    lq_push(&a->shared->q[(a->id + 1) % t], spare);
    /* Consume: read what the previous thread built, then free all of it here. */
    double tw = bench_now_ns();
    lbatch_t *b = lq_pop(&a->shared->q[a->id]);
    waited += bench_now_ns() - tw;
    uintptr_t sum = 0;
    for (int k = 0; k < b->n; k++) sum += (uintptr_t) * (void **)b->obj[k] + b->size[k];
    bench_escape((void *)sum);
    end(b);
    spare = b;
  }
  a->shared->spare[a->id] = spare;
  a->busy = bench_now_ns() - t0 - waited;
}

/* The Larson reference, an allocator with no bookkeeping: every batch record carries its own
 * pre-faulted region, allocation bumps a cursor through it, and the free-all is the next
 * batch's rewind. It hands memory between threads exactly as the batch does. Each worker runs
 * it in alternate generations with its allocator (w_larson). Not a hard limit: see there. */
static inline int ref_lbegin(lbatch_t *b) {
  b->ref_cur = b->ref_base;
  return 0;
}
static inline void *ref_lalloc(lbatch_t *b, size_t n) {
  char *p = b->ref_cur;
  b->ref_cur = p + ((n + 15) & ~(size_t)15);
  return p;
}
static inline void ref_lend(lbatch_t *b) { (void)b; }
static void *ref_larson_thread(void *arg) {
  larson_loop((larson_arg_t *)arg, ref_lbegin, ref_lalloc, ref_lend, "larson reference");
  return NULL;
}

static larson_shared_t *larson_setup(const bench_params_t *prm) {
  larson_shared_t *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->threads = prm->max_threads < 2 ? 2 : prm->max_threads;
  for (int i = 0; i < s->threads; i++) {
    pthread_mutex_init(&s->q[i].mu, NULL);
    pthread_cond_init(&s->q[i].cv, NULL);
    s->spare[i] = calloc(1, sizeof(lbatch_t));
    if (s->spare[i] == NULL) return NULL;
    s->spare[i]->ref_base = (char *)mmap(NULL, LARSON_REF_BYTES, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->spare[i]->ref_base == (char *)MAP_FAILED) return NULL;
    memset(s->spare[i]->ref_base, 0, LARSON_REF_BYTES); /* pre-faulted, as the bump peer's */
  }
  return s;
}

static void larson_teardown(larson_shared_t *s) {
  for (int i = 0; i < s->threads; i++) {
    pthread_mutex_destroy(&s->q[i].mu);
    pthread_cond_destroy(&s->q[i].cv);
    munmap(s->spare[i]->ref_base, LARSON_REF_BYTES);
    free(s->spare[i]);
  }
  free(s);
}

/* ---- 5. bimodal, 6. containers, callgrind --------------------------------------------- */

#define BIMODAL_HUGE ((size_t)8 << 20) /* one request in BIMODAL_EVERY asks for this */
enum { BIMODAL_SMALL = 200, BIMODAL_EVERY = 50 };

enum { CONT_VECS = 64 };
typedef struct cvec {
  char *p;
  size_t len, cap;
} cvec_t;

static const size_t cg_sizes[4] = {16, 32, 48, 64};

/* The loop of PF(cg_loop) without the allocation: subtracted, so only the allocator's own
 * instructions remain. */
__attribute__((noinline)) static void cg_base_loop(void **out, int n) {
  for (int i = 0; i < n; i++) {
    void *p = (void *)cg_sizes[i & 3];
    out[i] = p;
    bench_escape(p);
  }
}

/* ---- 7. large requests ------------------------------------------------------------------ */

/* A request that allocates a lot: a footprint of 64 KiB to 16 MiB made of blocks of 256 B to
 * 64 KiB (a size class picked uniformly among 256 B, 512 B, ... 64 KiB, then a random size up
 * to twice it, capped at 64 KiB), every page of each block touched, everything freed at the
 * end of the request. An arena that gives chunks back at each reset pays munmap, mmap and a
 * page fault per page on every request; one that keeps them reuses warm memory. The sweep
 * over footprints shows where a retention policy stops covering the request.
 *
 * Rounds are budgeted by time, not by bytes: after one of warm-up, at least LARGE_MIN_ROUNDS
 * (quick; full: 8), then more while the case has measured for under large_budget_ns (6 ms
 * quick, 60 ms full), up to LARGE_MAX_ROUNDS. The earlier budget, about 8 MiB of requests per
 * case, gave an arena that keeps its memory two rounds at 4 MiB, the first of them one where
 * an adaptive arena still faults (it learns the footprint from the warm-up): its figure was
 * one round of about 5 us, and default / tuned at t=2 read anything from 1.0x to 2.4x. An
 * allocator that maps and faults every request (about 20 ms a round at 16 MiB) stops after
 * the minimum, which keeps quick mode quick. */
enum { LARGE_NFOOT = 5, LARGE_SEQ = 4096, LARGE_MAX_ROUNDS = 160, LARGE_MIN_ROUNDS = 3 };
static double large_budget_ns(const bench_params_t *prm) { return prm->quick ? 6e6 : 60e6; }
static int large_min_rounds(const bench_params_t *prm) { return prm->quick ? LARGE_MIN_ROUNDS : 8; }
static const size_t large_foot[LARGE_NFOOT] = {(size_t)64 << 10, (size_t)256 << 10, (size_t)1 << 20,
                                               (size_t)4 << 20, (size_t)16 << 20};
static const char *const large_label[LARGE_NFOOT] = {"64K", "256K", "1M", "4M", "16M"};
static size_t large_sizes[LARGE_SEQ];

static void large_fill_sizes(void) {
  uint64_t s = 0xD1B54A32D192ED03u;
  for (int i = 0; i < LARGE_SEQ; i++) {
    uint64_t r = bench_rng(&s);
    size_t base = (size_t)256 << (r % 9), size = base + (size_t)((r >> 8) % base);
    large_sizes[i] = size > ((size_t)64 << 10) ? (size_t)64 << 10 : size;
  }
}

/* How many blocks of the sequence make up `foot` bytes, and how many bytes they are. */
static int large_count(size_t foot, size_t *bytes) {
  size_t sum = 0;
  int n = 0;
  while (sum < foot && n < LARGE_SEQ) sum += large_sizes[n++];
  *bytes = sum;
  return n;
}

/* Requests per round. A round of one 64 KiB or 256 KiB request lasts well under a microsecond
 * for an arena that keeps its memory, as long as the wake-up from the barrier before it and a
 * few clock reads: such rounds timed mostly those, and the figure swung by 30% from one worker
 * to the next. So a round holds as many requests as fill about LARGE_ROUND_NS, judged from the
 * round before it (the warm-up round is one request), and never more than make
 * LARGE_ROUND_BLOCKS blocks; an allocator that maps and faults every request stays at one or a
 * few requests a round, so quick mode stays quick. */
enum { LARGE_ROUND_BLOCKS = 1024 };
#define LARGE_ROUND_NS 100e3
static int large_reqs(int n, double ns_per_req) {
  int most = (LARGE_ROUND_BLOCKS + n - 1) / n;
  double want = ns_per_req > 0 ? LARGE_ROUND_NS / ns_per_req : most;
  return want < 1 ? 1 : want > most ? most : (int)want;
}

/* Writes the chain link, one byte per page and the last byte: every page is faulted in. */
static inline void touch_pages(void *p, size_t size, void *prev) {
  *(void **)p = prev;
  for (size_t off = 4096; off < size; off += 4096) ((char *)p)[off] = (char)off;
  ((char *)p)[size - 1] = (char)size;
  bench_escape(p);
}

typedef struct large_arg {
  pthread_barrier_t *bar;
  int id, n;
  size_t cap;
  /* The main thread's word, written before each round's second barrier: whether another
   * round follows, and of how many requests. */
  const int *more, *reqs;
  int nreq[LARGE_MAX_ROUNDS]; /* requests per thread in each round */
  double busy[LARGE_MAX_ROUNDS], reset[LARGE_MAX_ROUNDS];
} large_arg_t;

/* ---- every allocator's workloads ------------------------------------------------------ */

typedef int (*workload_fn)(const bench_params_t *);
typedef struct peer_entry {
  const char *name;
  const char *(*na)(workload_t);
  int (*global_init)(workload_t, int);
  void (*global_fini)(void);
  workload_fn fn[W_COUNT + 1]; /* the last is the callgrind loop */
} peer_entry_t;

#define PEER_ENTRY(p, name)                                                                   \
  {                                                                                           \
    name, p##_na, p##_global_init, p##_global_fini, {                                         \
      p##_w_hot, p##_w_request, p##_w_scaling, p##_w_larson, p##_w_bimodal, p##_w_containers, \
          p##_w_large, p##_w_callgrind                                                        \
    }                                                                                         \
  }

#define P bump
#include "bench/workloads.inc"
#undef P
#define P libc
#include "bench/workloads.inc"
#undef P
#if defined(BENCH_WITH_ARENART)
/* P_HANDLE_OK: how a caller tests the handle once (workloads.inc, the checked callgrind loop). */
#define P arenart
#define P_HANDLE_OK(c) ((c).a != NULL)
#include "bench/workloads.inc"
#undef P_HANDLE_OK
#undef P
#define P arthread
#define P_HANDLE_OK(c) ((c).s.arena != NULL)
#include "bench/workloads.inc"
#undef P_HANDLE_OK
#undef P
#define P arconcur
#define P_SHARED_RESET /* one arena for all threads: reset between rounds, timed apart */
#define P_HANDLE_OK(c) ((c).ca != NULL)
#include "bench/workloads.inc"
#undef P_HANDLE_OK
#undef P_SHARED_RESET
#undef P
#define P arlease
#define P_HANDLE_OK(c) ((c).a != NULL)
#include "bench/workloads.inc"
#undef P_HANDLE_OK
#undef P
#define P arkeep
#define P_ROUND_LIFETIMES /* scaling: reset once per round, as the shared ConcurrentArena */
#include "bench/workloads.inc"
#undef P_ROUND_LIFETIMES
#undef P
#endif
#if defined(BENCH_WITH_POOLS)
#define P aprp
#include "bench/workloads.inc"
#undef P
#define P tall
#include "bench/workloads.inc"
#undef P
#define P obs
#include "bench/workloads.inc"
#undef P
#endif
#if defined(BENCH_WITH_MIHEAP)
#define P miheap
#include "bench/workloads.inc"
#undef P
#endif
#if defined(BENCH_WITH_PMR)
#define P pmr
#include "bench/workloads.inc"
#undef P
#endif

static const peer_entry_t peers[] = {
    PEER_ENTRY(libc, "malloc"),       PEER_ENTRY(bump, "bump"),
#if defined(BENCH_WITH_ARENART)
    PEER_ENTRY(arenart, "arenart"),   PEER_ENTRY(arthread, "arthread"),
    PEER_ENTRY(arconcur, "arconcur"), PEER_ENTRY(arkeep, "arkeep"),
    PEER_ENTRY(arlease, "arlease"),
#endif
#if defined(BENCH_WITH_POOLS)
    PEER_ENTRY(aprp, "apr"),          PEER_ENTRY(tall, "talloc"),
    PEER_ENTRY(obs, "obstack"),
#endif
#if defined(BENCH_WITH_MIHEAP)
    PEER_ENTRY(miheap, "miheap"),
#endif
#if defined(BENCH_WITH_PMR)
    PEER_ENTRY(pmr, "pmr"),
#endif
};
enum { NPEERS = sizeof peers / sizeof peers[0] };

static const char *const workload_names[W_COUNT + 1] = {
    "hot", "request", "scaling", "larson", "bimodal", "containers", "large", "callgrind"};

static void calibrate_clock(void) {
  double v[257];
  for (int i = 0; i < 257; i++) {
    double t0 = bench_now_ns();
    v[i] = bench_now_ns() - t0;
  }
  qsort(v, 257, sizeof v[0], cmp_double);
  clock_overhead_ns = v[128];
}

/* The hot path frees whole batches of up to 64 MiB and allocates them again. arenart keeps
 * them (retain_bytes = twice the region); so that no row measures page faults the others
 * avoid, every malloc is told to keep freed memory too, for this workload only (bimodal and
 * containers measure retention with the defaults). What is set is printed as INFO.
 *   glibc (and APR, talloc, obstack, which get their blocks from it in the bench binary):
 *     no trimming of the heap top (M_TRIM_THRESHOLD) and no mmap below 32 MiB, the most
 *     M_MMAP_THRESHOLD takes (a munmap'd block would be faulted in again);
 *   jemalloc: no purging (dirty and muzzy decay -1) on this thread's arena;
 *   tcmalloc: release rate 0 (TCMALLOC_RELEASE_RATE, read at start-up: hence the re-exec);
 *   mimalloc: no decommit, no page reset.
 * Returns nonzero only if the re-exec failed. */
static int hot_keep_memory(char **argv) {
#if defined(BENCH_MALLOC_JEMALLOC)
  (void)argv;
  int (*ctl)(const char *, void *, size_t *, void *, size_t) =
      (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
  unsigned ar = 0;
  size_t sz = sizeof ar;
  ssize_t never = -1;
  char dirty[64], muzzy[64];
  if (ctl == NULL || ctl("thread.arena", &ar, &sz, NULL, 0) != 0) {
    printf("INFO hot-config jemalloc: mallctl unavailable, defaults\n");
    return 0;
  }
  snprintf(dirty, sizeof dirty, "arena.%u.dirty_decay_ms", ar);
  snprintf(muzzy, sizeof muzzy, "arena.%u.muzzy_decay_ms", ar);
  int e1 = ctl(dirty, NULL, NULL, &never, sizeof never);
  int e2 = ctl(muzzy, NULL, NULL, &never, sizeof never);
  printf("INFO hot-config jemalloc arena %u: dirty_decay_ms -1 (%s), muzzy_decay_ms -1 (%s)\n", ar,
         e1 == 0 ? "set" : "refused", e2 == 0 ? "set" : "refused");
#elif defined(BENCH_MALLOC_TCMALLOC)
  const char *rate = getenv("TCMALLOC_RELEASE_RATE");
  if (rate == NULL || strcmp(rate, "0") != 0) {
    setenv("TCMALLOC_RELEASE_RATE", "0", 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "bench worker: re-exec with TCMALLOC_RELEASE_RATE=0: %s\n", strerror(errno));
    return 1;
  }
  printf("INFO hot-config tcmalloc: TCMALLOC_RELEASE_RATE=0\n");
#elif defined(BENCH_MALLOC_MIMALLOC)
  (void)argv;
  mi_option_set(mi_option_allow_decommit, 0);
  mi_option_set(mi_option_page_reset, 0);
  printf("INFO hot-config mimalloc: allow_decommit 0, page_reset 0\n");
#else
  (void)argv;
  int e1 = mallopt(M_TRIM_THRESHOLD, INT_MAX), e2 = mallopt(M_MMAP_THRESHOLD, 32 << 20);
  printf("INFO hot-config glibc: M_TRIM_THRESHOLD INT_MAX (%s), M_MMAP_THRESHOLD 32 MiB (%s)\n",
         e1 ? "set" : "refused", e2 ? "set" : "refused");
#endif
  return 0;
}

static int run_one(const peer_entry_t *pe, int w, const bench_params_t *prm) {
  const char *why = pe->na(w == W_COUNT ? W_REQUEST : (workload_t)w);
  if (why != NULL && w != W_COUNT) {
    printf("NA %s\n", why);
    return 0;
  }
  if (pe->global_init(w == W_COUNT ? W_REQUEST : (workload_t)w, prm->max_threads) != 0) {
    fprintf(stderr, "bench worker: %s: setup failed\n", pe->name);
    return 1;
  }
  int rc = pe->fn[w](prm);
  pe->global_fini();
  if (rc != 0) fprintf(stderr, "bench worker: %s %s failed\n", pe->name, workload_names[w]);
  return rc != 0;
}

int bench_worker_main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr,
            "usage: %s --worker ALLOCATOR|all WORKLOAD [--quick] [--threads N] "
            "[--series]\n",
            argv[0]);
    return 2;
  }
  const char *peer = argv[2], *wname = argv[3];
  bench_params_t prm = {0, 2, 0};
  for (int i = 4; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) prm.quick = 1;
    else if (strcmp(argv[i], "--series") == 0) prm.series = 1;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) prm.max_threads = atoi(argv[++i]);
  }
  if (prm.max_threads < 1 || prm.max_threads > SCALING_MAX_THREADS) prm.max_threads = 2;
  int w = -1;
  for (int i = 0; i <= W_COUNT; i++)
    if (strcmp(wname, workload_names[i]) == 0) w = i;
  if (w < 0) {
    fprintf(stderr, "bench worker: unknown workload '%s'\n", wname);
    return 2;
  }
  if (w == W_HOT && hot_keep_memory(argv) != 0) return 1; /* first: it may re-exec */
  /* A wedged worker must not wedge the whole run: the driver reports it as failed. */
  alarm(prm.quick ? 90 : 400);

  Dl_info di;
  void *m = dlsym(RTLD_DEFAULT, "malloc");
  if (m != NULL && dladdr(m, &di) != 0 && di.dli_fname != NULL) {
    const char *base = strrchr(di.dli_fname, '/');
    printf("INFO malloc %s\n", base != NULL ? base + 1 : di.dli_fname);
  }
  calibrate_clock();
  bench_fill_sizes(request_sizes, 8 * REQUEST_K, 0x9E3779B97F4A7C15u);
  large_fill_sizes();

  int rc = 0, found = 0;
  for (int i = 0; i < NPEERS; i++) {
    if (strcmp(peer, "all") != 0 && strcmp(peer, peers[i].name) != 0) continue;
    found = 1;
    if (strcmp(peer, "all") == 0) printf("PEER %s\n", peers[i].name);
    rc |= run_one(&peers[i], w, &prm);
  }
  if (!found) {
    printf("NA this binary does not hold allocator '%s'\n", peer);
    return 0;
  }
  fflush(stdout);
  return rc;
}
