/* SPDX-License-Identifier: MIT */
/*
 * tools/numa_vm/placement_check.c - where arena memory really lands, measured against what the
 * library says, on a real multi-node kernel (tools/numa-vm.sh runs it inside QEMU guests).
 *
 * Why a separate program and not another unit test: the question is quantitative (what
 * fraction of the pages sits on the intended node, how many bytes the library admits were
 * spilled) and the answer is a table across topologies, so this prints one machine-readable
 * line per measurement and leaves the verdict to the harness's gates. It uses the public API
 * only, and measures with the kernel's own interfaces, independently of the library's
 * verification code: move_pages(2) with nodes = NULL (where each page is now) over every page
 * the program itself allocated, and get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR) page by page as a
 * second opinion.
 *
 * Placement run (default), per binding mode: one thread pinned to a CPU of each node that has
 * CPUs fills its thread arena, and the per-node arena of the next node in the list; all
 * threads hold their memory until the main thread has measured (a barrier), so no chunk goes
 * back to a pool and gets counted twice. Per node, the "intended" bytes are those of the
 * thread arenas whose threads the library routes there plus the node arena of that node.
 *
 * Exhaustion run (--exhaust NODE MIB): an arena on ar_numa_source(NODE) takes MIB MiB under
 * PREFERRED (more than the node has), then, with that memory still held, another arena on the
 * same node asks for more under STRICT until an allocation fails. A kill by the OOM killer
 * shows as a missing "EXHAUST" line, which the harness reports as the outcome "killed".
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <arenart.h>
#include <arenart/numa.h>

#define PAGE 4096UL
#define PIECE 4096UL /* allocation size: small, so every page is an arena page */
#define MPOL_F_NODE_ (1 << 0)
#define MPOL_F_ADDR_ (1 << 1)

typedef struct pages {
  uintptr_t *v;
  size_t n, cap;
} pages_t;

static void pages_add(pages_t *p, const void *ptr, size_t len) {
  uintptr_t first = (uintptr_t)ptr & ~(PAGE - 1), last = ((uintptr_t)ptr + len - 1) & ~(PAGE - 1);
  for (uintptr_t a = first; a <= last; a += PAGE) {
    if (p->n > 0 && p->v[p->n - 1] == a) continue; /* consecutive pieces share pages */
    if (p->n == p->cap) {
      p->cap = p->cap ? p->cap * 2 : 4096;
      p->v = realloc(p->v, p->cap * sizeof *p->v);
      if (p->v == NULL) abort();
    }
    p->v[p->n++] = a;
  }
}

/* Counts the pages of *p per node with move_pages(2) (nodes NULL: query only). */
typedef struct count {
  size_t pages, absent, on[AR_NUMA_MAX_NODES];
} count_t;

static void count_move_pages(const pages_t *p, count_t *c) {
  memset(c, 0, sizeof *c);
  enum { BATCH = 1024 };
  void *addr[BATCH];
  int status[BATCH];
  for (size_t i = 0; i < p->n; i += BATCH) {
    size_t k = p->n - i < BATCH ? p->n - i : BATCH;
    for (size_t j = 0; j < k; j++) addr[j] = (void *)p->v[i + j];
    if (syscall(SYS_move_pages, 0, (unsigned long)k, addr, NULL, status, 0) != 0) {
      fprintf(stderr, "move_pages: %s\n", strerror(errno));
      exit(3);
    }
    for (size_t j = 0; j < k; j++) {
      c->pages++;
      if (status[j] >= 0 && status[j] < AR_NUMA_MAX_NODES) c->on[status[j]]++;
      else c->absent++;
    }
  }
}

/* The same with get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR), page by page. */
static void count_get_mempolicy(const pages_t *p, count_t *c) {
  memset(c, 0, sizeof *c);
  for (size_t i = 0; i < p->n; i++) {
    int node = -1;
    c->pages++;
    if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, (void *)p->v[i],
                (unsigned long)(MPOL_F_NODE_ | MPOL_F_ADDR_)) == 0 &&
        node >= 0 && node < AR_NUMA_MAX_NODES)
      c->on[node]++;
    else c->absent++;
  }
}

/* part/whole in percent; -1 when `whole` is 0, so that "nothing measured" never passes a gate
 * that asks for a high percentage. */
static double pct(size_t part, size_t whole) {
  return whole ? 100.0 * (double)part / (double)whole : -1.0;
}

/* The share of *c's resident pages not on `node`, in percent; -1 when none is resident. */
static double pct_elsewhere(const count_t *c, int node) {
  size_t res = c->pages - c->absent;
  return res ? 100.0 - pct(c->on[node], res) : -1.0;
}

/* How many pages of *p do not carry MPOL_BIND (get_mempolicy(MPOL_F_ADDR), page by page: every
 * chunk, not one page per node). *first gets the policy of the first page (-1: none). */
static size_t count_not_bind(const pages_t *p, int *first) {
  size_t bad = 0;
  *first = -1;
  for (size_t i = 0; i < p->n; i++) {
    int policy = -1;
    if (syscall(SYS_get_mempolicy, &policy, NULL, 0UL, (void *)p->v[i],
                (unsigned long)MPOL_F_ADDR_) != 0)
      policy = -1;
    if (i == 0) *first = policy;
    bad += policy != 2 /* MPOL_BIND */;
  }
  return bad;
}

static int cpu_of_node(int node) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &allowed) && ar_numa_node_of_cpu(c) == node) return c;
  return -1;
}

static int pin(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

static const char *mode_name(ar_numa_bind_t m) {
  return m == AR_NUMA_BIND_STRICT ? "strict" : m == AR_NUMA_BIND_PREFERRED ? "preferred" : "none";
}

/* ---- placement run ------------------------------------------------------------------------ */

static size_t fill_mib = 16;
static const char *topo_name = "?";
static pthread_barrier_t filled, measured;

typedef struct worker {
  int node, cpu, other; /* runs on `node` (pinned to `cpu`), fills node arena `other` */
  int thread_node;      /* the node the library routes this thread to */
  pages_t mine, theirs; /* thread-arena pages, node-arena pages */
  size_t fail_mine, fail_theirs;
} worker_t;

static void fill(pages_t *pg, size_t *fails, void *(*alloc)(void *, size_t), void *arena,
                 size_t bytes) {
  for (size_t done = 0; done < bytes; done += PIECE) {
    char *p = alloc(arena, PIECE);
    if (p == NULL) {
      (*fails)++;
      continue;
    }
    memset(p, 0x6b, PIECE);
    pages_add(pg, p, PIECE);
  }
}

static void *alloc_serial(void *a, size_t n) { return ar_alloc((ar_arena_t *)a, n); }
static void *alloc_conc(void *a, size_t n) { return ar_concurrent_alloc((ar_concurrent_t *)a, n); }

static void *worker_main(void *arg) {
  worker_t *w = arg;
  if (pin(w->cpu) != 0) {
    fprintf(stderr, "cannot pin to CPU %d\n", w->cpu);
    exit(3);
  }
  w->thread_node = ar_numa_current_node();
  ar_arena_t *ta = ar_thread_arena();
  if (ta != NULL) fill(&w->mine, &w->fail_mine, alloc_serial, ta, fill_mib << 20);
  ar_concurrent_t *na = ar_node_arena(w->other);
  if (na != NULL) fill(&w->theirs, &w->fail_theirs, alloc_conc, na, (fill_mib / 2) << 20);
  else w->fail_theirs = 1;
  pthread_barrier_wait(&filled);
  pthread_barrier_wait(&measured); /* hold the memory until the main thread has looked */
  return NULL;
}

static void placement_run(ar_numa_bind_t mode) {
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.bind = mode;
  if (ar_numa_init(&o) != AR_OK) {
    printf("ERROR topo=%s mode=%s init: %s\n", topo_name, mode_name(mode), ar_numa_last_failure());
    return;
  }
  int nodes[AR_NUMA_MAX_NODES];
  int nn = ar_numa_nodes(nodes, AR_NUMA_MAX_NODES);
  worker_t w[AR_NUMA_MAX_NODES];
  memset(w, 0, sizeof w);
  int nw = 0;
  for (int i = 0; i < nn; i++) {
    int cpu = cpu_of_node(nodes[i]);
    if (cpu < 0) continue; /* a node without CPUs gets no thread; it still gets a node arena */
    w[nw].node = nodes[i];
    w[nw].cpu = cpu;
    nw++;
  }
  /* Each worker fills the node arena of the next node in the list (all nodes, with or without
   * CPUs, are some worker's "other" as long as there are at least as many workers). */
  for (int i = 0; i < nw; i++) w[i].other = nodes[(i + 1) % nn];
  pthread_barrier_init(&filled, NULL, (unsigned)nw + 1);
  pthread_barrier_init(&measured, NULL, (unsigned)nw + 1);
  pthread_t th[AR_NUMA_MAX_NODES];
  for (int i = 0; i < nw; i++) pthread_create(&th[i], NULL, worker_main, &w[i]);
  pthread_barrier_wait(&filled);

  for (int i = 0; i < nn; i++) {
    int node = nodes[i];
    pages_t all = {0};
    size_t fails = 0;
    for (int j = 0; j < nw; j++) {
      if (w[j].thread_node == node) {
        for (size_t k = 0; k < w[j].mine.n; k++) pages_add(&all, (void *)w[j].mine.v[k], PAGE);
        fails += w[j].fail_mine;
      }
      if (w[j].other == node) {
        for (size_t k = 0; k < w[j].theirs.n; k++) pages_add(&all, (void *)w[j].theirs.v[k], PAGE);
        fails += w[j].fail_theirs;
      }
    }
    /* The kernel's policy on every page of the node's memory (MPOL_DEFAULT 0, PREFERRED 1,
     * BIND 2, PREFERRED_MANY 5): what the library really asked for. `policy` is the first
     * page's, `not_bind` the number of pages without MPOL_BIND. */
    int policy = -1;
    size_t not_bind = count_not_bind(&all, &policy);
    /* The node that serves this one's memory, by the library; for a memory-less node the
     * harness checks that the kernel put the pages there (in NONE mode that is the kernel's own
     * choice for the node's threads, in the other modes the library's binding). */
    int serving = ar_numa_memory_node(node);
    count_t mp, gm;
    count_move_pages(&all, &mp);
    count_get_mempolicy(&all, &gm);
    ar_numa_node_stats_t s;
    memset(&s, 0, sizeof s);
    ar_numa_stats(node, &s);
    size_t resident = mp.pages - mp.absent;
    size_t remote_bytes = (resident - mp.on[node]) * PAGE;
    /* The library's own claim: of the bytes it located at acquisition for this node, the share
     * not spilled elsewhere ("-" when it located nothing, as in NONE mode). */
    char lib[32] = "-";
    if (s.located_bytes > 0)
      snprintf(lib, sizeof lib, "%.2f",
               100.0 * (double)(s.located_bytes - s.spilled_bytes) / (double)s.located_bytes);
    int here = 0;
    for (int j = 0; j < nw; j++) here += w[j].thread_node == node;
    printf("RESULT topo=%s mode=%s node=%d cpus=%d threads_here=%d pages=%zu resident=%zu "
           "mp_pct=%.2f gm_pct=%.2f lib_pct=%s located_bytes=%llu spilled_bytes=%llu "
           "mp_remote_bytes=%zu fallback=%llu refused=%llu alloc_fail=%zu local=%llu "
           "remote=%llu unbound=%llu redirected=%llu policy=%d not_bind=%zu serving=%d "
           "serving_mp_pct=%.2f serving_gm_pct=%.2f\n",
           topo_name, mode_name(mode), node, s.cpus, here, mp.pages, resident,
           pct(mp.on[node], resident), pct(gm.on[node], gm.pages - gm.absent), lib,
           (unsigned long long)s.located_bytes, (unsigned long long)s.spilled_bytes, remote_bytes,
           (unsigned long long)s.fallback, (unsigned long long)s.refused, fails,
           (unsigned long long)s.local, (unsigned long long)s.remote, (unsigned long long)s.unbound,
           (unsigned long long)s.redirected, policy, not_bind, serving,
           serving >= 0 ? pct(mp.on[serving], resident) : -1.0,
           serving >= 0 ? pct(gm.on[serving], gm.pages - gm.absent) : -1.0);
    fflush(stdout);
    free(all.v);
  }
  pthread_barrier_wait(&measured);
  for (int i = 0; i < nw; i++) {
    pthread_join(th[i], NULL);
    free(w[i].mine.v);
    free(w[i].theirs.v);
  }
  pthread_barrier_destroy(&filled);
  pthread_barrier_destroy(&measured);
  ar_numa_shutdown();
}

/* ---- exhaustion run ----------------------------------------------------------------------- */

/* Fills an arena on ar_numa_source(node) with up to `mib` MiB; returns the MiB obtained. */
static size_t fill_source(ar_arena_t *a, size_t mib, pages_t *pg, int *err) {
  size_t got = 0;
  *err = AR_OK;
  for (size_t done = 0; done < (mib << 20); done += PIECE) {
    char *p = ar_alloc(a, PIECE);
    if (p == NULL) {
      *err = ar_last_error();
      break;
    }
    memset(p, 0x3c, PIECE);
    pages_add(pg, p, PIECE);
    got += PIECE;
  }
  return got >> 20;
}

/* MemFree of `node` in MiB, from sysfs (0 if unreadable). */
static size_t node_free_mib(int node) {
  char path[96], line[256];
  snprintf(path, sizeof path, "/sys/devices/system/node/node%d/meminfo", node);
  FILE *f = fopen(path, "r");
  size_t kb = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char *m = strstr(line, "MemFree:");
    if (m != NULL) kb = strtoul(m + 8, NULL, 10);
  }
  if (f != NULL) fclose(f);
  return kb >> 10;
}

static void exhaust_run(int node, size_t mib) {
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  o.bind = AR_NUMA_BIND_PREFERRED;
  if (ar_numa_init(&o) != AR_OK) {
    printf("ERROR topo=%s exhaust init: %s\n", topo_name, ar_numa_last_failure());
    return;
  }
  ar_options_t ao;
  ar_options_init(&ao);
  ao.source = ar_numa_source(node);
  ar_arena_t *pa = ao.source != NULL ? ar_arena_create(&ao) : NULL;
  ar_arena_t *sa = ao.source != NULL ? ar_arena_create(&ao) : NULL;
  ar_arena_t *pb = ao.source != NULL ? ar_arena_create(&ao) : NULL;
  if (pa == NULL || sa == NULL || pb == NULL) {
    printf("ERROR topo=%s exhaust: no arena on node %d: %s\n", topo_name, node,
           ar_numa_last_failure());
    return;
  }
  /* 1. PREFERRED takes most of the node; 2. STRICT takes what is left, until the node cannot
   * supply a chunk (held: the node stays full); 3. PREFERRED asks for more, which must spill,
   * and the library's spilled_bytes is compared with move_pages over all PREFERRED pages. */
  pages_t pp = {0}, sp = {0}, bp = {0}; /* PREFERRED 1st fill, STRICT, PREFERRED 2nd fill */
  int err, serr;
  /* The node's size as the guest kernel sees it varies from boot to boot: take at most half of
   * what is free, so that STRICT has something left to serve before it must refuse. */
  size_t free_mib = node_free_mib(node);
  if (free_mib > 0 && mib > free_mib / 2) mib = free_mib / 2;
  size_t got1 = fill_source(pa, mib, &pp, &err);
  ar_numa_node_stats_t s0, s1;
  ar_numa_stats(node, &s0);
  ar_numa_set_bind(AR_NUMA_BIND_STRICT);
  size_t sgot = fill_source(sa, 1024, &sp, &serr);
  char why[256];
  snprintf(why, sizeof why, "%s", ar_numa_last_failure());
  ar_numa_stats(node, &s1);
  uint64_t refused = s1.refused;
  count_t smp;
  count_move_pages(&sp, &smp);
  size_t sres = smp.pages - smp.absent;
  ar_numa_set_bind(AR_NUMA_BIND_PREFERRED);
  size_t got2 = fill_source(pb, 128, &bp, &err);
  count_t mp, bmp;
  count_move_pages(&pp, &mp);
  count_move_pages(&bp, &bmp);
  for (int i = 0; i < AR_NUMA_MAX_NODES; i++) mp.on[i] += bmp.on[i];
  mp.pages += bmp.pages;
  mp.absent += bmp.absent;
  ar_numa_node_stats_t s;
  ar_numa_stats(node, &s);
  size_t resident = mp.pages - mp.absent;
  /* The library's PREFERRED figures: what it located and found spilled during the two
   * PREFERRED fills (the STRICT fill between them is left out; refused blocks are not counted
   * by the library at all). */
  uint64_t located = s0.located_bytes + (s.located_bytes - s1.located_bytes);
  uint64_t spilled = s0.spilled_bytes + (s.spilled_bytes - s1.spilled_bytes);
  double mp_remote = pct_elsewhere(&mp, node);
  double lib_spill = located ? 100.0 * (double)spilled / (double)located : -1.0;
  printf("EXHAUST_PREFERRED topo=%s node=%d free_mib=%zu asked_mib=%zu got_mib=%zu "
         "mp_remote_pct=%.2f "
         "lib_spill_pct=%.2f mp_remote_bytes=%zu spilled_bytes=%llu located_bytes=%llu "
         "fallback=%llu\n",
         topo_name, node, free_mib, mib + 128, got1 + got2, mp_remote, lib_spill,
         (resident - mp.on[node]) * PAGE, (unsigned long long)spilled, (unsigned long long)located,
         (unsigned long long)s.fallback);
  int spolicy;
  size_t snot_bind = count_not_bind(&sp, &spolicy);
  printf("EXHAUST topo=%s node=%d strict_got_mib=%zu outcome=%s strict_pct=%.2f "
         "strict_resident=%zu strict_elsewhere=%zu strict_not_bind=%zu refused=%llu "
         "refused_delta=%llu failure=\"%s\"\n",
         topo_name, node, sgot,
         serr == AR_ENOMEM ? "ENOMEM"
         : serr == AR_OK   ? "no-failure"
                           : "other-error",
         pct(smp.on[node], sres), sres, sres - smp.on[node], snot_bind, (unsigned long long)refused,
         (unsigned long long)(s1.refused - s0.refused), why);
  fflush(stdout);

  /* 4. The spilled PREFERRED chunks (the second fill, mostly on other nodes: pooled_remote_pct,
   * by move_pages before they go back) fill the node's pool; then the first PREFERRED fill is
   * given back too, which overflows the pool and is unmapped, so node NODE has free memory
   * again. A STRICT arena must now be served, and not from the pooled chunks (the 0.44% case of
   * issue 15): every page it gets must be on the node (move_pages) and bound MPOL_BIND. Had it
   * reused a pooled chunk, move_pages would see that chunk's pages elsewhere. */
  double pooled_remote = pct_elsewhere(&bmp, node);
  ar_arena_destroy(pb);
  ar_numa_node_stats_t s2;
  ar_numa_stats(node, &s2);
  ar_arena_destroy(pa);
  pa = NULL;
  size_t free_before = node_free_mib(node);
  ar_numa_set_bind(AR_NUMA_BIND_STRICT);
  ar_arena_t *sb = ar_arena_create(&ao);
  pages_t rp = {0};
  serr = -1; /* "other-error" if the arena could not even be created */
  size_t rgot = sb != NULL ? fill_source(sb, 8, &rp, &serr) : 0;
  count_t rmp;
  count_move_pages(&rp, &rmp);
  size_t rres = rmp.pages - rmp.absent;
  int rpolicy;
  size_t rnot_bind = count_not_bind(&rp, &rpolicy);
  ar_numa_node_stats_t s3;
  ar_numa_stats(node, &s3);
  printf("EXHAUST_REUSE topo=%s node=%d pooled_before=%zu pooled_remote_pct=%.2f "
         "free_mib_before=%zu strict_got_mib=%zu strict_pct=%.2f strict_resident=%zu "
         "strict_elsewhere=%zu strict_not_bind=%zu pool_hits=%llu trimmed_delta=%llu "
         "outcome=%s\n",
         topo_name, node, s2.pooled, pooled_remote, free_before, rgot, pct(rmp.on[node], rres),
         rres, rres - rmp.on[node], rnot_bind, (unsigned long long)(s3.pool_hits - s2.pool_hits),
         (unsigned long long)(s3.trimmed - s2.trimmed),
         serr == AR_ENOMEM ? "ENOMEM"
         : serr == AR_OK   ? "served"
                           : "other-error");
  fflush(stdout);
  if (sb != NULL) ar_arena_destroy(sb);
  ar_arena_destroy(sa);
  free(pp.v);
  free(sp.v);
  free(bp.v);
  free(rp.v);
  ar_numa_shutdown();
}

/* ---- the alternative that was measured and rejected ------------------------------------------ */

/* Fills `node` through the library (PREFERRED), then maps 64 MiB, binds it MPOL_BIND to the
 * full node and populates it with MADV_POPULATE_WRITE: does the kernel return an error, or
 * does the OOM killer end the process? Prints PROBE lines; a kill shows as a missing
 * "PROBE ... result" line and exit status 137 in the harness's log. */
static void probe_bind_populate(int node) {
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  ar_numa_init(&o);
  ar_options_t ao;
  ar_options_init(&ao);
  ao.source = ar_numa_source(node);
  ar_arena_t *a = ao.source != NULL ? ar_arena_create(&ao) : NULL;
  pages_t pg = {0};
  int err;
  size_t got = a != NULL ? fill_source(a, 384, &pg, &err) : 0;
  printf("PROBE topo=%s node=%d filled_mib=%zu (preferred)\n", topo_name, node, got);
  fflush(stdout);
  size_t len = (size_t)64 << 20;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned long mask = 1UL << node;
  long rc = syscall(SYS_mbind, p, len, 2 /* MPOL_BIND */, &mask, 64UL, 0U);
  int rc2 = rc == 0 ? madvise(p, len, 23 /* MADV_POPULATE_WRITE */) : -1;
  printf("PROBE topo=%s node=%d mbind=%ld populate_write=%d errno=%s result\n", topo_name, node, rc,
         rc2, rc2 != 0 ? strerror(errno) : "-");
  fflush(stdout);
  munmap(p, len);
  if (a != NULL) ar_arena_destroy(a);
  free(pg.v);
  ar_numa_shutdown();
}

int main(int argc, char **argv) {
  int exhaust_node = -1, probe_node = -1;
  size_t exhaust_mib = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--topo") == 0 && i + 1 < argc) {
      topo_name = argv[++i];
    } else if (strcmp(argv[i], "--fill") == 0 && i + 1 < argc) {
      fill_mib = strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--probe-bind-populate") == 0 && i + 1 < argc) {
      probe_node = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--exhaust") == 0 && i + 2 < argc) {
      exhaust_node = atoi(argv[++i]);
      exhaust_mib = strtoul(argv[++i], NULL, 10);
    } else {
      fprintf(stderr,
              "usage: %s [--topo NAME] [--fill MIB] [--exhaust NODE MIB] "
              "[--probe-bind-populate NODE]\n",
              argv[0]);
      return 2;
    }
  }
  if (probe_node >= 0) {
    probe_bind_populate(probe_node);
  } else if (exhaust_node >= 0) {
    exhaust_run(exhaust_node, exhaust_mib);
  } else {
    placement_run(AR_NUMA_BIND_NONE);
    placement_run(AR_NUMA_BIND_PREFERRED);
    placement_run(AR_NUMA_BIND_STRICT);
  }
  printf("DONE topo=%s\n", topo_name);
  return 0;
}
