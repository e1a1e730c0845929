/* SPDX-License-Identifier: MIT */
/*
 * runtime/oscache.c - a process-wide cache of OS mappings that arenas gave back, so that the
 * next arena asking for the same length maps and faults nothing.
 *
 * Why. A default arena takes its dedicated chunks (big requests, ar_realloc's growing blocks
 * and their reserves) and its grown ordinary chunks straight from the OS, and gives them back
 * at reset (past what it keeps), release and destroy. A program that makes an arena per job
 * (a parse, a batch, a request on a pool that trims) then maps and faults the same lengths job
 * after job: in bench/'s containers workload, which builds vectors in a fresh arena each run,
 * page faults and unmaps were over half of arenart's samples while glibc reused its heap. The
 * default-size chunks never had this problem: they go back to the process-wide chunk pool.
 *
 * What. Up to AR_OSCACHE_MAX_BYTES in at most AR_OSCACHE_SLOTS mappings, each kept at most
 * AR_OSCACHE_TTL_NS after it came back, then unmapped by the next call here (or by ar_trim).
 * A take matches the length and the kind exactly (a reserve is advised MADV_NOHUGEPAGE, a
 * plain block of 4 MiB or more MADV_HUGEPAGE: kinds keep their advice), newest first, since
 * the newest is likeliest still in the caches. A put that does not fit evicts the oldest
 * entries first; a mapping longer than AR_OSCACHE_MAX_LEN is never kept. The contents of a
 * reused mapping are whatever the last arena left, so only callers that do not promise zeroed
 * memory take from here: the serial and the concurrent arena's dedicated and grown chunks,
 * through ar_source_os_cached_ (source.c; defsource.c says which arenas), and the reserves of
 * chunks.c, never ar_source_os() itself.
 *
 * Locking. One mutex. Takes and puts use trylock: a caller that finds it busy maps or unmaps
 * as if the cache were not there, which is always correct and never makes an arena wait for
 * another. Trimming waits for it, since it must not skip the cache. Fork handlers, installed
 * before any call here first takes the mutex, hold it across fork, so a child never inherits
 * it locked by a thread it does not have. The mutex also gives ThreadSanitizer the edge
 * between the arena that gave a mapping back and the one that takes it in another thread.
 *
 * Tools. A mapping in the cache belongs to no arena, so it is hidden as the chunk pool hides
 * its chunks (ar_hide_: ASan poison, Valgrind memcheck NOACCESS): a read through a pointer
 * into an arena that was released or destroyed is reported, as the fault of an unmapped page
 * reported it before the cache. A take shows it again (undefined contents, as fresh memory
 * from a source). A release build reads what the last arena left, where it used to fault.
 *
 * Budget. Lengths count in whole pages, as the kernel maps them.
 *
 * Mapping. ar_oscache_map_ and ar_oscache_remap_ are the library's mmap and mremap (source.c,
 * chunks.c, numa/placement.c): see there.
 *
 * A leaf beside the chunk sources: calls clock.c only (and the kernel).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "runtime/internal.h"

#define AR_OSCACHE_SLOTS 64
#define AR_OSCACHE_MAX_BYTES ((size_t)64 << 20)
#define AR_OSCACHE_MAX_LEN ((size_t)16 << 20)
#define AR_OSCACHE_TTL_NS UINT64_C(1000000000)

typedef struct entry {
  void *p;
  size_t length;
  int kind;
  uint64_t since; /* when it came back (ar_now_ns_) */
} entry_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t entries[AR_OSCACHE_SLOTS]; /* oldest first; guarded by lock */
static size_t count, bytes;               /* guarded by lock */

/* The budget's unit: x86-64's page (where pages are larger, the budget is a little loose). */
static size_t pages_of(size_t length) { return (length + 4095) & ~(size_t)4095; }

/* Removes entry i, keeping the rest in age order. */
static void drop(size_t i) {
  bytes -= pages_of(entries[i].length);
  for (size_t j = i + 1; j < count; j++) entries[j - 1] = entries[j];
  count--;
}

/* Unmaps the oldest entry. */
static void evict_oldest(void) {
  entry_t e = entries[0];
  drop(0);
  ar_show_(e.p, e.length); /* the range may be mapped again, by anyone */
  munmap(e.p, e.length);
}

/* Unmaps what has waited longer than the TTL (they are at the front). */
static void expire(uint64_t now) {
  while (count > 0 && now - entries[0].since > AR_OSCACHE_TTL_NS) evict_oldest();
}

static void fork_prepare(void) { pthread_mutex_lock(&lock); }
static void fork_resume(void) { pthread_mutex_unlock(&lock); }
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;
static bool handlers_ok; /* written once under handlers_once */
static void install_handlers(void) {
  handlers_ok = pthread_atfork(fork_prepare, fork_resume, fork_resume) == 0;
}

/* Every entry calls this before it first takes the mutex: see "Locking". False if the
 * handlers could not be installed; then the cache stays empty and off. */
static bool ready(void) {
  return pthread_once(&handlers_once, install_handlers) == 0 && handlers_ok;
}

void *ar_oscache_take_(size_t length, int kind) {
  if (!ready() || pthread_mutex_trylock(&lock) != 0) return NULL;
  expire(ar_now_ns_());
  void *p = NULL;
  for (size_t i = count; i-- > 0;) {
    if (entries[i].length == length && entries[i].kind == kind) {
      p = entries[i].p;
      drop(i);
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  if (p != NULL) ar_show_(p, length);
  return p;
}

bool ar_oscache_put_(void *p, size_t length, int kind) {
  if (length > AR_OSCACHE_MAX_LEN || !ready() || pthread_mutex_trylock(&lock) != 0) return false;
  uint64_t now = ar_now_ns_();
  expire(now);
  while (count > 0 &&
         (count == AR_OSCACHE_SLOTS || bytes + pages_of(length) > AR_OSCACHE_MAX_BYTES))
    evict_oldest();
  ar_hide_(p, length); /* see "Tools" */
  entries[count++] = (entry_t){p, length, kind, now};
  bytes += pages_of(length);
  pthread_mutex_unlock(&lock);
  return true;
}

size_t ar_oscache_trim_(void) {
  if (!ready()) return 0;    /* nothing was ever kept */
  pthread_mutex_lock(&lock); /* see "Locking" */
  size_t n = bytes;
  while (count > 0) evict_oldest();
  pthread_mutex_unlock(&lock);
  return n;
}

/* What the cache holds is address space and commit charge: under RLIMIT_AS or a strict
 * overcommit policy it must not make a mapping fail that fits without it. So every mapping
 * and mremap the library makes goes through these two, which empty the cache and try once
 * more on failure, whatever the trim freed (another thread may have emptied it meanwhile). */
void *ar_oscache_map_(size_t length) {
  void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    (void)ar_oscache_trim_();
    p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  return p != MAP_FAILED ? p : NULL;
}

void *ar_oscache_remap_(void *p, size_t old_length, size_t new_length) {
  void *q = mremap(p, old_length, new_length, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) {
    (void)ar_oscache_trim_();
    q = mremap(p, old_length, new_length, MREMAP_MAYMOVE);
  }
  return q != MAP_FAILED ? q : NULL;
}

size_t ar_oscache_bytes_(void) {
  if (!ready()) return 0;
  pthread_mutex_lock(&lock);
  size_t n = bytes;
  pthread_mutex_unlock(&lock);
  return n;
}
