/* SPDX-License-Identifier: MIT */
/*
 * tests/arena/reserve_test.c - room to grow (arena.h, ar_realloc; chunks.c, "Room to grow"):
 * a block that grows again after ar_realloc gave it a dedicated chunk is moved into one mapped
 * with address space to grow into (1 MiB, then 4 MiB), so a vector that doubles from 32 KiB to
 * 512 KiB grows in place with no system call, while everything the arena counts stays the
 * chunk's own bytes.
 *
 *   - a block moved into a dedicated chunk once gets no reserve (page tables and address space
 *     are not spent on blocks that do not grow again);
 *   - growing within the reserve keeps the pointer and makes no system call on mappings; the
 *     reserve is mapped behind the block, as an ordinary mapping (not MAP_NORESERVE, which
 *     mremap would carry on and let grow unchecked: a growth to 512 GiB must fail as an
 *     ar_alloc of 512 GiB fails);
 *   - past it the mapping is resized (one mremap per step past 1 MiB and 4 MiB, and per
 *     growth from a 4 MiB chunk on), the contents follow, and a chunk of 4 MiB or more is
 *     advised MADV_HUGEPAGE (source.h) where a reserve below that is advised
 *     MADV_NOHUGEPAGE;
 *   - `capacity` and `used` grow by exactly what the block grows by, never by the reserve;
 *   - limit_bytes counts the chunk, not the reserve: a 32 KiB block grows in an arena whose
 *     limit is far below 1 MiB, and a growth past the limit fails with AR_ELIMIT, the block and
 *     the arena unchanged;
 *   - the whole mapping, reserve included, goes back on ar_free, reset, rewind, release and
 *     destroy (read in /proc/self/maps, without allocating in between): to the OS, or to the
 *     process-wide cache of given-back mappings that default arenas use (runtime/oscache.c),
 *     which then holds exactly that many more bytes and unmaps it when trimmed.
 * Grown ordinary chunks of 4 MiB (AR_GROWN_CHUNK_MAX) are advised MADV_HUGEPAGE as well, in
 * serial and concurrent arenas.
 * Every test starts with the cache trimmed, so that the mappings it counts are fresh ones.
 * System calls are counted by defining mmap, mremap, munmap and madvise here, which the
 * library's calls reach first (not in sanitizer builds, whose runtimes intercept them: there
 * the counts are not checked).
 * Slow-only arenas (checked, ASan, AR_DEBUG >= 2) always copy, and ThreadSanitizer builds copy
 * past the reserve (arena.h): the tests check what those promise instead. The heap flavor has
 * no chunks; the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arenart.h"
#include "runtime/arena_internal.h"
#include "tests/arena/arena_unit.h"

#define KIB ((size_t)1024)
#define MIB ((size_t)1 << 20)

/* ---- counting system calls on mappings ----------------------------------------------------- */

/* The library's calls to these reach the definitions here first; each counts and makes the
 * system call itself. */
#define COUNTS (!TEST_ASAN && !TEST_TSAN)
static int n_mremap, n_map_calls; /* mremap; all four */
static size_t max_mmap_len;       /* the longest mmap since it was last set to 0 */
#if COUNTS
void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...);
void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  void *fixed = va_arg(ap, void *); /* read whatever the flags say: unused without FIXED */
  va_end(ap);
  n_mremap++;
  n_map_calls++;
  return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, fixed);
}
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  n_map_calls++;
  if (len > max_mmap_len) max_mmap_len = len;
  return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
int munmap(void *addr, size_t len) {
  n_map_calls++;
  return (int)syscall(SYS_munmap, addr, len);
}
int madvise(void *addr, size_t len, int advice) {
  n_map_calls++;
  return (int)syscall(SYS_madvise, addr, len, advice);
}
#endif

/* ---- /proc/self/maps, read without allocating --------------------------------------------- */

static char maps_buf[1 << 20];

static const char *read_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  size_t n = 0;
  for (;;) {
    assert_true(n < sizeof maps_buf - 1);
    ssize_t r = read(fd, maps_buf + n, sizeof maps_buf - 1 - n);
    assert_true(r >= 0);
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  maps_buf[n] = '\0';
  return maps_buf;
}

/* Whether any mapping overlaps [lo, hi). */
static bool any_mapped(uintptr_t lo, uintptr_t hi) {
  const char *s = read_file("/proc/self/maps");
  while (*s != '\0') {
    unsigned long a, b;
    if (sscanf(s, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo) return true;
    const char *nl = strchr(s, '\n');
    if (nl == NULL) break;
    s = nl + 1;
  }
  return false;
}

/* Whether [lo, hi) is mapped throughout (by one mapping or adjacent ones). */
static bool all_mapped(uintptr_t lo, uintptr_t hi) {
  for (bool again = true; again && lo < hi;) {
    again = false;
    const char *s = read_file("/proc/self/maps");
    while (*s != '\0') {
      unsigned long a, b;
      if (sscanf(s, "%lx-%lx", &a, &b) == 2 && a <= lo && b > lo) {
        lo = b;
        again = true;
        break;
      }
      const char *nl = strchr(s, '\n');
      if (nl == NULL) break;
      s = nl + 1;
    }
  }
  return lo >= hi;
}

/* Whether the VmFlags of the mapping holding p (/proc/self/smaps) include `flag`. */
static bool vm_flag(const void *p, const char *flag) {
  const char *s = read_file("/proc/self/smaps");
  bool in = false;
  while (*s != '\0') {
    unsigned long a, b;
    if (sscanf(s, "%lx-%lx ", &a, &b) == 2 && strchr(s, '-') < strchr(s, ' ')) {
      in = a <= (uintptr_t)p && (uintptr_t)p < b;
    } else if (in && strncmp(s, "VmFlags:", 8) == 0) {
      const char *nl = strchr(s, '\n');
      size_t len = nl != NULL ? (size_t)(nl - s) : strlen(s), fl = strlen(flag);
      for (size_t i = 8; i + fl <= len; i++)
        if (s[i - 1] == ' ' && strncmp(s + i, flag, fl) == 0 && (i + fl == len || s[i + fl] == ' '))
          return true;
      return false;
    }
    const char *nl = strchr(s, '\n');
    if (nl == NULL) break;
    s = nl + 1;
  }
  return false;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static ar_arena_t *arena_with(size_t retain, size_t limit) {
  ar_options_t o;
  ar_options_init(&o);
  o.retain_bytes = retain;
  o.limit_bytes = limit;
  ar_arena_t *a = ar_arena_create(&o);
  assert_non_null(a);
  return a;
}

/* A block of 1 KiB, not the newest one, grown by ar_realloc to `n` - 4 KiB (past a quarter of
 * a default chunk: a dedicated chunk of its own, exact) and then to `n` (growing again: moved
 * into a chunk with room to grow). Filled with `tag`. */
static char *grown_block(ar_arena_t *a, size_t n, unsigned char tag) {
  char *p = (char *)ar_alloc(a, KIB);
  assert_non_null(p);
  memset(p, tag, KIB);
  assert_non_null(ar_alloc(a, 16)); /* so p is not the top block */
  char *q = (char *)ar_realloc(a, p, KIB, n - 4 * KIB);
  assert_non_null(q);
  assert_true(intact(q, KIB, tag));
  q = (char *)ar_realloc(a, q, n - 4 * KIB, n);
  assert_non_null(q);
  assert_true(intact(q, KIB, tag));
  memset(q, tag, n);
  return q;
}

/* Doubles the block q of n bytes; returns the new pointer. */
static char *grow(ar_arena_t *a, char *q, size_t n, size_t to, unsigned char tag) {
  char *g = (char *)ar_realloc(a, q, n, to);
  assert_non_null(g);
  assert_true(intact(g, n, tag));
  memset(g + n, tag, to - n);
  CHECK_ARENA(a);
  return g;
}

/* Whether the kernel has transparent huge pages (else madvise cannot set their flags). */
static bool have_thp(void) {
  return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
}

static uintptr_t page_of(const void *p) { return (uintptr_t)p & ~(uintptr_t)4095; }

/* ---- tests --------------------------------------------------------------------------------- */

/* Within the reserve: the pointer stays, no system call, and the reserve is mapped behind it. */
static void test_grows_in_place(void **state) {
  (void)state;
  ar_arena_t *a = arena_with(AR_RETAIN_AUTO, 0);
  size_t n = 32 * KIB;
  char *q = grown_block(a, n, 0x11);
  if (!reuses(a)) { /* slow-only: copies, no reserve is promised */
    ar_arena_destroy(a);
    return;
  }
  assert_int_equal(a->nlarge, 1);
  /* The mapping reaches 1 MiB past the chunk's start (the block starts within its first
   * page). */
  assert_true(all_mapped(page_of(q), page_of(q) + MIB));
  assert_false(vm_flag(q, "nr")); /* charged and checked like any mapping */
  n_map_calls = 0;
  for (; n < 512 * KIB; n *= 2) {
    char *g = grow(a, q, n, 2 * n, 0x11);
    assert_ptr_equal(g, q);
  }
  if (COUNTS) assert_int_equal(n_map_calls, 0);
  assert_int_equal(a->nlarge, 1);
  ar_arena_destroy(a);
}

/* capacity and used grow by the block's growth exactly; past the reserve the mapping is
 * resized once per step, and from 4 MiB on it is advised huge pages. */
static void test_counts_and_past_the_reserve(void **state) {
  (void)state;
  ar_arena_t *a = arena_with(AR_RETAIN_AUTO, 0);
  size_t n = 32 * KIB;
  char *q = grown_block(a, n, 0x22);
  if (!reuses(a)) {
    ar_arena_destroy(a);
    return;
  }
  if (have_thp()) assert_true(vm_flag(q, "nh")); /* the reserve: no huge pages */
  /* Each step doubles the block, and the two stats must follow it byte for byte. Steps:
   * within 1 MiB; to 1 MiB + (one mremap, to the 4 MiB reserve); within 4 MiB; 4 MiB - 128 +
   * the header, and 8 MiB + (one mremap each, exact, advised huge pages). */
  const size_t to[] = {64 * KIB, 128 * KIB,     256 * KIB, 512 * KIB, MIB,
                       2 * MIB,  4 * MIB - 128, 4 * MIB,   8 * MIB};
  const int moves[] = {0, 0, 0, 0, 1, 0, 1, 1, 1};
  bool copied = false; /* ThreadSanitizer: from the first step past a reserve on */
  for (size_t i = 0; i < sizeof to / sizeof to[0]; i++) {
    ar_stats_t s0 = stats_of(a);
    n_mremap = 0;
    char *g = grow(a, q, n, to[i], 0x22);
    ar_stats_t s1 = stats_of(a);
    if (TEST_TSAN && (copied || moves[i] != 0)) { /* past the reserve: copied into a new chunk */
      copied = true;
      q = g;
      n = to[i];
      continue;
    }
    if (COUNTS) assert_int_equal(n_mremap, moves[i]);
    if (moves[i] == 0) assert_ptr_equal(g, q);
    /* The first growth also drops the slack a new chunk is given for its header's alignment
     * (AR_CHUNK_OVERHEAD): from then on the chunk is the block's offset plus its size. */
    if (i == 0) assert_true(s1.capacity - s0.capacity <= to[i] - n);
    else assert_int_equal(s1.capacity - s0.capacity, to[i] - n);
    assert_int_equal(s1.used - s0.used, to[i] - n);
    assert_int_equal(s1.large_chunks, 1);
    q = g;
    n = to[i];
    /* A chunk of 4 MiB (here from a block of 4 MiB - 128: the chunk adds its header) or more
     * has no reserve left and is advised huge pages, as the OS source advises such blocks;
     * below that the reserve is advised against them. */
    if (have_thp()) assert_true(vm_flag(q, n >= 4 * MIB - 128 ? "hg" : "nh"));
  }
  assert_true(intact(q, n, 0x22));
  ar_arena_destroy(a);
}

/* limit_bytes counts the chunk's bytes, not the reserve; growing past it fails, exactly. */
static void test_limit(void **state) {
  (void)state;
  /* Far below the 1 MiB reserve: the first chunk (64 KiB), the 32 KiB block's chunk, and its
   * growth to 128 KiB fit; 256 KiB does not. */
  ar_arena_t *a = arena_with(AR_RETAIN_AUTO, 320 * KIB);
  size_t n = 32 * KIB;
  char *q = grown_block(a, n, 0x33);
  q = grow(a, q, n, 64 * KIB, 0x33);
  q = grow(a, q, 64 * KIB, 128 * KIB, 0x33);
  n = 128 * KIB;
  ar_stats_t s0 = stats_of(a);
  assert_true(s0.capacity <= 320 * KIB);
  assert_null(ar_realloc(a, q, n, 256 * KIB));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_stats_t s1 = stats_of(a);
  assert_memory_equal(&s0, &s1, sizeof s0);
  assert_true(intact(q, n, 0x33));
  CHECK_ARENA(a);
  /* Still usable, and still growing in place within the limit (slow-only arenas copy, and
   * the copy would not fit). */
  if (reuses(a)) {
    char *g = (char *)ar_realloc(a, q, n, n + 16 * KIB);
    assert_ptr_equal(g, q);
    assert_true(intact(g, n, 0x33));
    assert_int_equal(stats_of(a).capacity, s0.capacity + 16 * KIB);
    CHECK_ARENA(a);
  }
  ar_arena_destroy(a);
}

/* [lo, hi) went back: unmapped, or held by the cache of mappings (`cached` bytes before), which
 * then unmaps it when trimmed. */
static void assert_given_back(uintptr_t lo, uintptr_t hi, size_t cached) {
  if (any_mapped(lo, hi)) assert_true(ar_oscache_bytes_() >= cached + (hi - lo));
  (void)ar_oscache_trim_();
  assert_false(any_mapped(lo, hi));
}

/* Setup of every test: the cache empty (see the header). */
static int trim_cache(void **state) {
  (void)state;
  (void)ar_oscache_trim_();
  return 0;
}

enum { BY_FREE, BY_RESET, BY_REWIND, BY_RELEASE, BY_DESTROY, BY_COUNT };

/* The whole mapping goes back with the chunk, however the chunk goes. */
static void test_address_space_given_back(void **state) {
  (void)state;
  for (int how = 0; how < BY_COUNT; how++) {
    ar_arena_t *a = arena_with(0, 0); /* retain nothing: reset gives the chunk back */
    ar_mark_t m = ar_mark(a);
    size_t n = 32 * KIB;
    char *q = grown_block(a, n, 0x44);
    q = grow(a, q, n, 256 * KIB, 0x44);
    n = 256 * KIB;
    bool reserved = reuses(a);
    uintptr_t lo = page_of(q), hi = lo + (reserved ? MIB : n);
    assert_true(all_mapped(lo, hi));
    size_t cached = ar_oscache_bytes_();
    switch (how) {
      case BY_FREE: assert_int_equal(ar_free(a, q, n), AR_OK); break;
      case BY_RESET: ar_reset(a); break;
      case BY_REWIND: assert_int_equal(ar_rewind(a, &m), AR_OK); break;
      case BY_RELEASE: ar_release(a); break;
      default:
        ar_arena_destroy(a);
        a = NULL;
        break;
    }
    /* Slow-only arenas quarantine a freed block: its chunk stays until reset. */
    if (how != BY_FREE || reserved) assert_given_back(lo, hi, cached);
    if (a != NULL) {
      CHECK_ARENA(a);
      ar_arena_destroy(a);
    }
  }
}

/* AR_RETAIN_AUTO keeps an emptied reserved chunk like any dedicated chunk (counted at its
 * size, not its mapping's), and destroy then gives its whole mapping back. The block grows
 * past 1 MiB, so the reset keeps the chunks as they are (arena.h, ar_reset). */
static void test_kept_then_destroyed(void **state) {
  (void)state;
  ar_arena_t *a = arena_with(AR_RETAIN_AUTO, 0);
  size_t n = 32 * KIB;
  char *q = grown_block(a, n, 0x55);
  q = grow(a, q, n, 2 * MIB, 0x55);
  uintptr_t lo = page_of(q), hi = lo + (reuses(a) ? 4 * MIB : 2 * MIB);
  ar_stats_t s0 = stats_of(a);
  ar_reset(a);
  ar_stats_t s1 = stats_of(a);
  if (reuses(a)) {
    assert_int_equal(s1.capacity, s0.capacity); /* kept, and still counted at its size */
    assert_true(all_mapped(lo, hi));
  }
  assert_int_equal(s1.used, 0);
  CHECK_ARENA(a);
  size_t cached = ar_oscache_bytes_();
  ar_arena_destroy(a);
  assert_given_back(lo, hi, cached);
}

/* A block that ar_realloc moves into a dedicated chunk once gets an exact one: no reserve's
 * address space and page tables for a block that may never grow again. Growing again, it is
 * moved into a chunk with room to grow. */
static void test_no_reserve_until_it_grows_again(void **state) {
  (void)state;
  ar_arena_t *a = arena_with(AR_RETAIN_AUTO, 0);
  char *p = (char *)ar_alloc(a, KIB);
  assert_non_null(p);
  assert_non_null(ar_alloc(a, 16)); /* so p is not the top block */
  max_mmap_len = 0;
  char *q = (char *)ar_realloc(a, p, KIB, 17 * KIB);
  assert_non_null(q);
  if (reuses(a) && COUNTS) assert_true(max_mmap_len < 64 * KIB); /* the chunk, exact */
  max_mmap_len = 0;
  char *g = (char *)ar_realloc(a, q, 17 * KIB, 20 * KIB);
  assert_non_null(g);
  if (reuses(a)) {
    if (COUNTS) assert_int_equal(max_mmap_len, MIB); /* moved into a reserve */
    assert_true(all_mapped(page_of(g), page_of(g) + MIB));
    char *h = (char *)ar_realloc(a, g, 20 * KIB, 40 * KIB);
    assert_ptr_equal(h, g); /* and grows in place from there */
  }
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* A move into a chunk with room to grow needs the old and the new chunk at once; where
 * limit_bytes cannot hold both, the block's chunk is resized instead, which needs only the
 * added bytes (an outside tester found AR_ELIMIT here for a growth that fit). And a block too
 * big to leave room in a 1 MiB reserve is resized, not copied into one. */
static void test_regrow_resizes_when_a_copy_cannot(void **state) {
  (void)state;
  ar_arena_t *a = arena_with(AR_RETAIN_AUTO, 120 * KIB);
  char *x = (char *)ar_alloc(a, 40 * KIB); /* a dedicated chunk, exact */
  assert_non_null(x);
  memset(x, 0x77, 40 * KIB);
  char *g = (char *)ar_realloc(a, x, 40 * KIB, 80 * KIB);
  /* Slow-only arenas always copy, and ThreadSanitizer builds copy where a mapping would be
   * resized: the copy does not fit. */
  if (reuses(a) && !TEST_TSAN) {
    assert_non_null(g);
    assert_true(intact(g, 40 * KIB, 0x77));
    assert_true(stats_of(a).capacity <= 120 * KIB);
  }
  CHECK_ARENA(a);
  ar_arena_destroy(a);
  a = arena_with(AR_RETAIN_AUTO, 0);
  x = (char *)ar_alloc(a, 600 * KIB);
  assert_non_null(x);
  memset(x, 0x78, 600 * KIB);
  max_mmap_len = 0;
  n_mremap = 0;
  g = (char *)ar_realloc(a, x, 600 * KIB, 1000 * KIB);
  assert_non_null(g);
  assert_true(intact(g, 600 * KIB, 0x78));
  if (reuses(a) && COUNTS && !TEST_TSAN) {
    assert_int_equal(max_mmap_len, 0); /* no new mapping: */
    assert_int_equal(n_mremap, 1);     /* the chunk was resized */
  }
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* A growth past 4 MiB is checked by the kernel like any mapping: a block grown to 8 MiB (its
 * mapping exact, made from a reserve) cannot then grow to 512 GiB where ar_alloc of 512 GiB
 * fails; both fail alike (AR_ENOMEM) or, under an "always overcommit" policy, both succeed. */
static void test_huge_growth_checked(void **state) {
  (void)state;
  const size_t huge = (size_t)512 << 30;
  ar_arena_t *ref = arena_with(AR_RETAIN_AUTO, 0);
  void *r = ar_alloc(ref, huge);
  int ref_err = ar_last_error();
  ar_arena_destroy(ref);
  ar_arena_t *a = arena_with(AR_RETAIN_AUTO, 0);
  size_t n = 32 * KIB;
  char *q = grown_block(a, n, 0x66);
  q = grow(a, q, n, 2 * MIB, 0x66);
  q = grow(a, q, 2 * MIB, 8 * MIB, 0x66);
  n = 8 * MIB;
  ar_stats_t s0 = stats_of(a);
  char *g = (char *)ar_realloc(a, q, n, huge);
  if (r == NULL) {
    assert_int_equal(ref_err, AR_ENOMEM);
    assert_null(g);
    assert_int_equal(ar_last_error(), AR_ENOMEM);
    ar_stats_t s1 = stats_of(a);
    assert_memory_equal(&s0, &s1, sizeof s0);
    assert_true(intact(q, n, 0x66));
  } else {
    assert_non_null(g); /* the policy lets both through: nothing is touched */
  }
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* arena.h, AR_GROWN_CHUNK_MAX: ordinary chunks of a default arena grow to 4 MiB, and one that
 * large is an OS block advised MADV_HUGEPAGE, as the mapping cache's blocks of that size are;
 * a ConcurrentArena's grown chunks likewise (concurrent.h). */
static void test_grown_chunks_of_the_cap_get_huge_pages(void **state) {
  (void)state;
  assert_int_equal(AR_GROWN_CHUNK_MAX, 4 * MIB);
  ar_arena_t *a = arena_with(AR_RETAIN_AUTO, 0);
  char *p = NULL;
  for (int i = 0; i < 64 && (a->chunks == NULL || a->chunks->size < AR_GROWN_CHUNK_MAX); i++)
    for (int k = 0; k < 1024; k++) assert_non_null(p = (char *)ar_alloc(a, 1000));
  assert_int_equal(a->chunks->size, AR_GROWN_CHUNK_MAX);
  p[0] = 1;
  if (have_thp()) assert_true(vm_flag(p, "hg"));
  CHECK_ARENA(a);
  ar_arena_destroy(a);

  ar_concurrent_t *ca = ar_concurrent_create(NULL);
  assert_non_null(ca);
  for (int k = 0; k < 12 * 1024; k++) assert_non_null(p = (char *)ar_concurrent_alloc(ca, 1000));
  p[0] = 1; /* ~12 MiB: past 64 KiB, 64 KiB, 128 KiB, ... 2 MiB, then in a 4 MiB chunk */
  if (have_thp()) assert_true(vm_flag(p, "hg"));
  ar_concurrent_destroy(ca);
}

int main(void) {
  /* chunk_layout_test: skipped in the heap flavor, which has no chunks (arena_unit.h). */
  const struct CMUnitTest tests[] = {
      chunk_layout_setup(test_grows_in_place, trim_cache),
      chunk_layout_setup(test_counts_and_past_the_reserve, trim_cache),
      chunk_layout_setup(test_limit, trim_cache),
      chunk_layout_setup(test_address_space_given_back, trim_cache),
      chunk_layout_setup(test_kept_then_destroyed, trim_cache),
      chunk_layout_setup(test_huge_growth_checked, trim_cache),
      chunk_layout_setup(test_no_reserve_until_it_grows_again, trim_cache),
      chunk_layout_setup(test_regrow_resizes_when_a_copy_cannot, trim_cache),
      chunk_layout_setup(test_grown_chunks_of_the_cap_get_huge_pages, trim_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
