/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/oscache_test.c - the process-wide cache of mappings that default arenas give
 * back (runtime/oscache.c; arena.h, ar_arena_create): what a default arena gives back, the
 * next one takes without mapping; what it holds stays within its bounds (bytes, length, age);
 * ar_source_os() never sees it, so its blocks stay zero when new; a forked child can use it;
 * a default ConcurrentArena's dedicated and grown chunks go through it too (concurrent.h).
 *
 * Every test starts from an empty cache (trim_cache), and reads what it holds through the
 * internal counter, which a static link reaches (BUILD). The heap flavor has no chunks; its
 * arenas never reach the cache, and the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "runtime/concurrent_internal.h" /* AR_CHUNK_HEADER */
#include "tests/arena/arena_unit.h"
#include "tests/child.h"

#define MIB ((size_t)1 << 20)

static int trim_cache(void **state) {
  (void)state;
  (void)ar_oscache_trim_();
  assert_int_equal(ar_oscache_bytes_(), 0);
  return 0;
}

/* Whether any page of [p, p + n) is mapped (mincore fails with ENOMEM on unmapped ones). */
static bool any_mapped(const void *p, size_t n) {
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page - 1);
  for (uintptr_t a = lo; a < (uintptr_t)p + n; a += (uintptr_t)page) {
    unsigned char v;
    if (mincore((void *)a, (size_t)page, &v) == 0) return true;
  }
  return false;
}

/* Slow-only arenas (ASan, checked, AR_DEBUG >= 2) always copy and never reserve (arena.h). */
static bool a_slow_only_build(void) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  bool slow = !reuses(a); /* arena_unit.h: slow-only arenas never reuse */
  ar_arena_destroy(a);
  return slow;
}

/* A default arena (no options) with one dedicated chunk for `size` bytes, written. */
static ar_arena_t *arena_with_block(size_t size, char **out) {
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  char *p = (char *)ar_alloc(a, size);
  assert_non_null(p);
  memset(p, 0x5A, size);
  assert_int_equal(stats_of(a).large_chunks, 1);
  *out = p;
  return a;
}

/* What one arena's destroy gives back, the next arena's same request takes: the same mapping,
 * and the cache is empty again. */
static void test_next_arena_reuses_the_mapping(void **state) {
  char *p, *q;
  ar_arena_t *a = arena_with_block(MIB, &p);
  ar_arena_destroy(a);
  size_t held = ar_oscache_bytes_();
  assert_true(held >= MIB);
  assert_true(any_mapped(p, MIB)); /* kept, not unmapped */
  ar_arena_t *b = arena_with_block(MIB, &q);
  assert_ptr_equal((char *)((uintptr_t)q & ~(uintptr_t)4095),
                   (char *)((uintptr_t)p & ~(uintptr_t)4095));
  assert_int_equal(ar_oscache_bytes_(), 0);
  ar_arena_destroy(b);
}

/* An arena that names ar_source_os() gets exactly that: its blocks go back to the OS, and a
 * block from ar_source_os() is zero even while the cache holds written ones of its size. */
static void test_named_os_source_bypasses_the_cache(void **state) {
  ar_options_t o;
  ar_options_init(&o);
  o.source = ar_source_os();
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  char *p = (char *)ar_alloc(a, MIB);
  assert_non_null(p);
  memset(p, 0x5A, MIB);
  size_t length = stats_of(a).capacity;
  ar_arena_destroy(a);
  assert_int_equal(ar_oscache_bytes_(), 0);
  assert_false(any_mapped(p, MIB));

  char *d;
  ar_arena_t *b = arena_with_block(MIB, &d); /* a written mapping goes into the cache */
  ar_arena_destroy(b);
  assert_true(ar_oscache_bytes_() > 0);
  const ar_source_t *os = ar_source_os();
  for (size_t len = MIB; len <= length + 64 * 1024; len += 4096) { /* every nearby length */
    unsigned char *z = (unsigned char *)os->acquire(os->ctx, len);
    assert_non_null(z);
    for (size_t i = 0; i < len; i += 512) assert_int_equal(z[i], 0);
    os->release(os->ctx, z, len);
  }
  assert_true(ar_oscache_bytes_() > 0); /* untouched by the OS source */

  /* Naming the default pool itself is naming a source too (thread and pool arenas do): its
   * dedicated chunks pass through the pool to the OS, not to the cache. */
  (void)ar_oscache_trim_();
  ar_options_init(&o);
  o.source = ar_chunk_pool_source(ar_chunk_pool_default());
  a = ar_arena_create(&o);
  assert_non_null(a);
  assert_non_null(ar_alloc(a, MIB));
  ar_arena_destroy(a);
  assert_int_equal(ar_oscache_bytes_(), 0);
}

/* At most 64 MiB: past that the oldest go, unmapped. */
static void test_bytes_are_bounded(void **state) {
  enum { N = 12 };
  char *p[N];
  ar_arena_t *a[N];
  for (int i = 0; i < N; i++) a[i] = arena_with_block(8 * MIB, &p[i]); /* all live at once */
  for (int i = 0; i < N; i++) {
    ar_arena_destroy(a[i]);
    assert_true(ar_oscache_bytes_() <= 64 * MIB);
  }
  assert_true(ar_oscache_bytes_() > 48 * MIB);
  assert_false(any_mapped(p[0], 8 * MIB)); /* the oldest went first */
  assert_true(any_mapped(p[N - 1], 8 * MIB));
}

/* A mapping over 16 MiB is never kept. */
static void test_long_mappings_are_not_kept(void **state) {
  char *p;
  ar_arena_t *a = arena_with_block(24 * MIB, &p);
  ar_arena_destroy(a);
  assert_int_equal(ar_oscache_bytes_(), 0);
  assert_false(any_mapped(p, 24 * MIB));
}

/* A mapping waits at most a second: the next call into the cache after that unmaps it. */
static void test_mappings_expire(void **state) {
  char *p, *q;
  ar_arena_t *a = arena_with_block(MIB, &p);
  ar_arena_destroy(a);
  assert_true(ar_oscache_bytes_() > 0);
  struct timespec ts = {1, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  ar_arena_t *b = arena_with_block(2 * MIB, &q); /* another length: a miss, and a call */
  assert_int_equal(ar_oscache_bytes_(), 0);      /* (the new block may reuse the address) */
  ar_arena_destroy(b);
}

#if !AR_ASAN && !AR_TSAN /* their shadow memory does not live under an RLIMIT_AS */

enum {
  TIGHT_NEW_LENGTH,  /* a dedicated chunk of a length the cache does not hold */
  TIGHT_VECTOR,      /* a vector growing through its reserve and past it */
  TIGHT_POOL,        /* the default chunk pool's refill (ar_source_os()) */
  TIGHT_NAMED_OS,    /* an arena that names ar_source_os() */
  TIGHT_RESERVE,     /* a reserve's mremap: the block must keep its age (grown, not copied) */
  TIGHT_RESIZE,      /* a plain dedicated chunk's mremap: likewise */
  TIGHT_RESERVE_MAP, /* a reserve's own mapping: the block must get its 1 MiB, not an exact chunk */
  N_TIGHT
};

/* Fills the cache (56 MiB), then sets RLIMIT_AS to what the process maps plus `headroom`. */
static void tighten(size_t headroom) {
  enum { N = 7 };
  ar_arena_t *a[N];
  char *p;
  for (int i = 0; i < N; i++) a[i] = arena_with_block(8 * MIB, &p);
  for (int i = 0; i < N; i++) ar_arena_destroy(a[i]);
  if (ar_oscache_bytes_() < 48 * MIB) _exit(11);
  struct rlimit rl = {test_vm_bytes() + headroom, RLIM_INFINITY};
  if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(12);
}

/* A block grown in place or by mremap keeps its age, so a rewind to a mark taken before its
 * growth leaves it; a copy is newer than the mark and goes (arena.h, ar_realloc). So the
 * block still being the arena's after the rewind says the mapping grew, not a fallback. */
static void grow_keeping_age(ar_arena_t *c, char *v, size_t from, size_t to) {
  ar_mark_t m = ar_mark(c);
  char *g = (char *)ar_realloc(c, v, from, to);
  if (g == NULL) _exit(21);
  if (ar_rewind(c, &m) != AR_OK) _exit(22);
  if (!ar_owns(c, g)) _exit(23);
}

/* The length of the mapping that holds p (/proc/self/maps), 0 if none. */
static size_t mapping_length(const void *p) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) _exit(17);
  char line[512];
  size_t len = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi)
      len = (size_t)(hi - lo);
  }
  fclose(f);
  return len;
}

static void tight_child(void *arg) {
  int how = *(int *)arg;
  ar_arena_t *c = NULL;
  char *v = NULL;
  if (how == TIGHT_RESERVE) { /* into a reserve (the second move), up to half of it */
    c = ar_arena_create(NULL);
    v = (char *)ar_alloc(c, 32 * 1024);
    if (ar_alloc(c, 16) == NULL) _exit(14); /* so v is not the newest block */
    for (size_t n = 32 * 1024; n < 512 * 1024; n *= 2)
      if ((v = (char *)ar_realloc(c, v, n, 2 * n)) == NULL) _exit(13);
  } else if (how == TIGHT_RESIZE) {
    c = ar_arena_create(NULL);
    v = (char *)ar_alloc(c, 2 * MIB);    /* an exact dedicated chunk: no reserve */
  } else if (how == TIGHT_RESERVE_MAP) { /* the first move: an exact dedicated chunk */
    c = ar_arena_create(NULL);
    v = (char *)ar_alloc(c, 1024);
    if (ar_alloc(c, 16) == NULL) _exit(14);
    if ((v = (char *)ar_realloc(c, v, 1024, 28 * 1024)) == NULL) _exit(13);
  }
  if (how == TIGHT_POOL) ar_chunk_pool_trim(ar_chunk_pool_default(), 0);
  tighten(how == TIGHT_NAMED_OS ? 256 * 1024 : 0);
  switch (how) {
    case TIGHT_NEW_LENGTH: {
      char *q;
      ar_arena_t *b = arena_with_block(12 * MIB, &q);
      ar_arena_destroy(b);
      break;
    }
    case TIGHT_VECTOR: {
      ar_arena_t *b = ar_arena_create(NULL);
      char *w = (char *)ar_alloc(b, 32 * 1024);
      for (size_t n = 32 * 1024; n < 4 * MIB; n *= 2)
        if ((w = (char *)ar_realloc(b, w, n, 2 * n)) == NULL) _exit(13);
      ar_arena_destroy(b);
      break;
    }
    case TIGHT_POOL: {
      ar_arena_t *b = ar_arena_create(NULL);
      if (b == NULL || ar_alloc(b, 100) == NULL) _exit(15); /* the pool maps a chunk */
      ar_arena_destroy(b);
      break;
    }
    case TIGHT_NAMED_OS: {
      ar_options_t o;
      ar_options_init(&o);
      o.source = ar_source_os();
      ar_arena_t *b = ar_arena_create(&o);
      if (b == NULL || ar_alloc(b, 2 * MIB) == NULL) _exit(16);
      ar_arena_destroy(b);
      break;
    }
    case TIGHT_RESERVE: grow_keeping_age(c, v, 512 * 1024, 2 * MIB); break;
    case TIGHT_RESIZE: grow_keeping_age(c, v, 2 * MIB, 6 * MIB); break;
    case TIGHT_RESERVE_MAP: /* the second move maps a reserve (arena.h, "Room to grow") */
      if ((v = (char *)ar_realloc(c, v, 28 * 1024, 64 * 1024)) == NULL) _exit(13);
      if (mapping_length(v) < MIB) _exit(24); /* an exact chunk: the reserve was refused */
      break;
    default: _exit(6);
  }
  _exit(0);
}

/* The cache's mappings hold address space; they must not make arenart's own mappings fail
 * under RLIMIT_AS where those fit once it is empty: a failed mapping or mremap empties the
 * cache and tries again (arena.h, ar_arena_create). Builds that always copy (slow-only ones)
 * have no mremap to check. */
static void test_cache_gives_way_under_rlimit(void **state) {
  bool copies = a_slow_only_build();
  for (int how = 0; how < N_TIGHT; how++) {
    if (copies && (how == TIGHT_RESERVE || how == TIGHT_RESIZE || how == TIGHT_RESERVE_MAP))
      continue;
    char err[4096];
    int status = child_run(tight_child, &how, err, sizeof err);
    if (!child_exited(status, 0)) fail_msg("case %d: status %#x: %s", how, status, err);
  }
}
#endif

/* A forked child (one thread, the cache's lock free) takes from the cache and trims it. */
static void test_fork_child_uses_the_cache(void **state) {
  char *p;
  ar_arena_t *a = arena_with_block(MIB, &p);
  ar_arena_destroy(a);
  assert_true(ar_oscache_bytes_() > 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char *q;
    ar_arena_t *b = ar_arena_create(NULL);
    if (b == NULL || (q = (char *)ar_alloc(b, MIB)) == NULL) _exit(3);
    if (ar_oscache_bytes_() != 0) _exit(4); /* taken from the cache */
    ar_arena_destroy(b);
    if (ar_oscache_trim_() == 0 || ar_oscache_bytes_() != 0) _exit(5);
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* The fork handlers are in before any call first takes the cache's lock, trims included: with
 * nothing ever kept, a thread trimming in a loop while the process forks must not leave a
 * child with the lock held (it would hang in its own trim). Runs first, before anything else
 * in this process has used the cache. A smoke test, not a proof: the lock is held for a few
 * nanoseconds per trim, and with the handlers left out (trim not calling ready()) 3000 forks
 * here did not catch it, where an outside probe's thread calling ar_trim hung a child within
 * 2-36 forks. */
static atomic_int trimming = 1;
static void *trim_loop(void *arg) {
  (void)arg;
  while (atomic_load(&trimming)) (void)ar_oscache_trim_();
  return NULL;
}

static void test_fork_while_trimming(void **state) {
#if AR_TSAN
  skip(); /* ThreadSanitizer's own runtime is not safe in a child of a threaded fork */
#endif
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, trim_loop, NULL), 0);
  int hung = 0;
  for (int i = 0; i < 300 && hung == 0; i++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      alarm(5);
      (void)ar_oscache_trim_();
      _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) hung = i + 1;
  }
  atomic_store(&trimming, 0);
  pthread_join(th, NULL);
  assert_int_equal(hung, 0);
}

/* Per-thread and pooled arenas name the default pool as their source (README, "Where the
 * chunks come from"): a dedicated chunk they give back never reaches the cache. */
static void test_listed_arenas_stay_off_the_cache(void **state) {
  ar_scope_t sc = ar_scope_begin();
  assert_non_null(sc.arena);
  char *p = (char *)ar_alloc(sc.arena, MIB);
  assert_non_null(p);
  memset(p, 1, MIB);
  assert_int_equal(ar_scope_end(&sc), AR_OK); /* the rewind gives the dedicated chunk back */
  assert_int_equal(ar_oscache_bytes_(), 0);

  ar_arena_pool_t *pool = ar_arena_pool_create(NULL);
  assert_non_null(pool);
  ar_arena_t *a = ar_arena_pool_take(pool);
  assert_non_null(a);
  assert_non_null(ar_alloc(a, MIB));
  assert_int_equal(ar_arena_pool_give(pool, a), AR_OK);
  ar_arena_pool_destroy(pool);
  assert_int_equal(ar_oscache_bytes_(), 0);
}

/* ---- ConcurrentArena (arenart/concurrent.h, ar_concurrent_create) ---------------------- */

enum { CBLOCK = 256 * 1024 }; /* the first block, no chunk current yet: a dedicated chunk */

static ar_concurrent_t *concurrent_with_block(const ar_options_t *o, char **out) {
  ar_concurrent_t *ca = ar_concurrent_create(o);
  assert_non_null(ca);
  char *p = (char *)ar_concurrent_alloc(ca, CBLOCK);
  assert_non_null(p);
  memset(p, 0x5A, CBLOCK);
  *out = p;
  return ca;
}

/* What a reset gives back, the next round takes: the same mapping, and the cache is empty
 * again; destroy gives it back once more. Every round used to map and fault it afresh. */
static void test_concurrent_dedicated_chunks_reuse(void **state) {
  char *p, *q;
  ar_concurrent_t *ca = concurrent_with_block(NULL, &p);
  ar_concurrent_reset(ca);
  assert_true(ar_oscache_bytes_() >= CBLOCK);
  assert_true(any_mapped(p, CBLOCK)); /* kept, not unmapped */
  q = (char *)ar_concurrent_alloc(ca, CBLOCK);
  assert_non_null(q);
  assert_ptr_equal((char *)((uintptr_t)q & ~(uintptr_t)4095),
                   (char *)((uintptr_t)p & ~(uintptr_t)4095));
  assert_int_equal(ar_oscache_bytes_(), 0);
  ar_concurrent_destroy(ca);
  assert_true(ar_oscache_bytes_() >= CBLOCK);
  /* and another arena takes the same length from it */
  ar_concurrent_t *cb = concurrent_with_block(NULL, &q);
  assert_ptr_equal((char *)((uintptr_t)q & ~(uintptr_t)4095),
                   (char *)((uintptr_t)p & ~(uintptr_t)4095));
  ar_concurrent_destroy(cb);
}

/* A dedicated chunk of exactly the pool's size (a request of chunk_size less the header and
 * the 64 bytes of slack, or less its alignment too) is still a dedicated chunk: through the
 * cache, as the serial arena's, not the pool. */
static void test_concurrent_pool_sized_dedicated_chunk(void **state) {
  const size_t exact = AR_DEFAULT_CHUNK_SIZE - AR_CHUNK_HEADER - 64;
  for (int aligned = 0; aligned < 2; aligned++) {
    ar_concurrent_t *ca = ar_concurrent_create(NULL);
    assert_non_null(ca);
    char *p = aligned ? (char *)ar_concurrent_alloc_aligned(ca, exact - 8192, 8192)
                      : (char *)ar_concurrent_alloc(ca, exact);
    assert_non_null(p);
    ar_stats_t st;
    assert_int_equal(ar_concurrent_stats(ca, &st), AR_OK);
    assert_int_equal(st.large_chunks, 1);
    ar_concurrent_reset(ca);
    assert_int_equal(ar_oscache_bytes_(), AR_DEFAULT_CHUNK_SIZE);
    ar_concurrent_destroy(ca);
    (void)ar_oscache_trim_();
  }
}

/* A dedicated chunk longer than the cache keeps goes back to the OS at reset: a read of it
 * faults (concurrent.h, "Tools"), as for the serial arena (test_long_mappings_are_not_kept). */
static void test_concurrent_long_chunk_is_unmapped(void **state) {
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  assert_non_null(ca);
  size_t n = 20 * MIB;
  char *p = (char *)ar_concurrent_alloc(ca, n);
  assert_non_null(p);
  memset(p, 1, n);
  ar_concurrent_reset(ca);
  assert_int_equal(ar_oscache_bytes_(), 0);
  assert_false(any_mapped(p, n));
  ar_concurrent_destroy(ca);
}

/* Grown ordinary chunks (128 KiB to 4 MiB) that a reset does not keep go to the cache; the
 * default-size ones go to the chunk pool, never to the cache. */
static void test_concurrent_grown_chunks_go_to_the_cache(void **state) {
  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  assert_non_null(ca);
  for (int i = 0; i < 8 * 1024; i++) assert_non_null(ar_concurrent_alloc(ca, 1000)); /* ~8 MiB */
  ar_concurrent_reset(ca); /* keeps AR_CONCURRENT_AUTO_RETAIN (1 MiB) */
  size_t held = ar_oscache_bytes_();
  assert_true(held >= 4 * MIB);
  for (int i = 0; i < 8 * 1024; i++) assert_non_null(ar_concurrent_alloc(ca, 1000));
  assert_true(ar_oscache_bytes_() < held); /* the second round took them back */
  ar_concurrent_destroy(ca);
}

/* A ConcurrentArena that names a source, ar_source_os() or the default pool included, never
 * uses the cache, and one made with a non-default chunk size (OS pages for every chunk) does
 * not either. */
static void test_concurrent_named_source_bypasses_the_cache(void **state) {
  char *p;
  ar_options_t o;
  ar_options_init(&o);
  o.source = ar_source_os();
  ar_concurrent_t *ca = concurrent_with_block(&o, &p);
  ar_concurrent_reset(ca);
  assert_int_equal(ar_oscache_bytes_(), 0);
  ar_concurrent_destroy(ca);
  assert_int_equal(ar_oscache_bytes_(), 0);
  ar_options_init(&o);
  o.chunk_size = 128 * 1024;
  ca = concurrent_with_block(&o, &p);
  ar_concurrent_destroy(ca);
  assert_int_equal(ar_oscache_bytes_(), 0);
  ar_options_init(&o);
  o.source = ar_chunk_pool_source(ar_chunk_pool_default()); /* named, though the default */
  ca = concurrent_with_block(&o, &p);
  ar_concurrent_destroy(ca);
  assert_int_equal(ar_oscache_bytes_(), 0);
}

/* A mapping in the cache is hidden from ASan: a read through a pointer into an arena that was
 * destroyed is reported, as the fault of an unmapped page was before the cache. */
#if AR_ASAN
static void read_after_destroy(void *arg) {
  (void)arg;
  char *p;
  ar_arena_t *a = arena_with_block(MIB, &p);
  ar_arena_destroy(a);
  if (ar_oscache_bytes_() == 0) _exit(3); /* it must be in the cache for this to mean much */
  volatile char c = p[100];
  (void)c;
  _exit(0);
}

/* The same for a ConcurrentArena's dedicated chunk after a reset. */
static void read_after_concurrent_reset(void *arg) {
  (void)arg;
  char *p;
  ar_concurrent_t *ca = concurrent_with_block(NULL, &p);
  ar_concurrent_reset(ca);
  if (ar_oscache_bytes_() == 0) _exit(3);
  volatile char c = p[100];
  (void)c;
  _exit(0);
}
#endif

static void test_cached_mapping_is_hidden(void **state) {
#if !AR_ASAN
  skip(); /* release builds read what the last arena left (arena.h, ar_arena_create) */
#else
  char err[8192];
  int status = child_run(read_after_destroy, NULL, err, sizeof err);
  assert_false(child_exited(status, 0));
  assert_non_null(strstr(err, "use-after-poison"));
  status = child_run(read_after_concurrent_reset, NULL, err, sizeof err);
  assert_false(child_exited(status, 0));
  assert_false(child_exited(status, 3));
  assert_non_null(strstr(err, "use-after-poison"));
#endif
}

/* A reserve that grew past its 1 MiB by mremap has a length nobody asks for: it goes back to
 * the OS, not into the cache. A 1 MiB one is kept (whole: the reserve's length, not the
 * block's). */
static void test_only_plain_reserves_are_kept(void **state) {
  for (int big = 0; big < 2; big++) {
    ar_arena_t *a = ar_arena_create(NULL);
    assert_non_null(a);
    size_t top = big ? 4 * MIB : 512 * 1024;
    char *v = (char *)ar_alloc(a, 32 * 1024);
    assert_non_null(v);
    for (size_t n = 32 * 1024; n < top; n *= 2) {
      v = (char *)ar_realloc(a, v, n, 2 * n);
      assert_non_null(v);
      memset(v, 1, 2 * n);
    }
    (void)ar_oscache_trim_();
    ar_arena_destroy(a);
    size_t held = ar_oscache_bytes_();
    /* Builds that copy instead (slow-only ones always, ThreadSanitizer past the reserve) end
     * with plain dedicated chunks, which the cache keeps like any other. */
    if (a_slow_only_build() || (big && AR_TSAN)) continue;
    assert_int_equal(held, big ? 0 : MIB); /* the grown reserve unmapped; the 1 MiB one kept */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fork_while_trimming), /* first: see there */
    chunk_layout_setup(test_next_arena_reuses_the_mapping, trim_cache),
    chunk_layout_setup(test_cached_mapping_is_hidden, trim_cache),
    chunk_layout_setup(test_only_plain_reserves_are_kept, trim_cache),
    chunk_layout_setup(test_named_os_source_bypasses_the_cache, trim_cache),
    chunk_layout_setup(test_bytes_are_bounded, trim_cache),
    chunk_layout_setup(test_long_mappings_are_not_kept, trim_cache),
    chunk_layout_setup(test_mappings_expire, trim_cache),
    chunk_layout_setup(test_fork_child_uses_the_cache, trim_cache),
    chunk_layout_setup(test_listed_arenas_stay_off_the_cache, trim_cache),
    chunk_layout_setup(test_concurrent_dedicated_chunks_reuse, trim_cache),
    chunk_layout_setup(test_concurrent_grown_chunks_go_to_the_cache, trim_cache),
    chunk_layout_setup(test_concurrent_pool_sized_dedicated_chunk, trim_cache),
    chunk_layout_setup(test_concurrent_long_chunk_is_unmapped, trim_cache),
    chunk_layout_setup(test_concurrent_named_source_bypasses_the_cache, trim_cache),
#if !AR_ASAN && !AR_TSAN
    chunk_layout_setup(test_cache_gives_way_under_rlimit, trim_cache),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
