/* SPDX-License-Identifier: MIT */
/*
 * runtime/track.c - watching a serial arena's memory: checked-mode records and guards, ASan
 * poisoning, Valgrind memcheck mempools, and the graveyard of destroyed checked arenas.
 *
 * Slow-only mode. When the arena must see every allocation (checked mode, ASan builds, debug
 * level 2) it keeps hot.end_ == hot.cur_, so the inline test always fails and the call comes
 * to arena.c's slow path, where the true bound `limit` is. This works whatever flags the
 * caller was compiled with, because the decision is data, not code (ar_track_attach makes it,
 * once per arena).
 *   - ASan: chunk memory not handed out is poisoned; each allocation is unpoisoned for
 *     exactly its size and followed by a poisoned 16-byte red zone; rewind/reset/release
 *     poison again, so a use after reset is reported where it happens.
 *   - checked (no ASan): each allocation is a record [header 16][data][guard >= 16]; the
 *     guard bytes are verified when the memory is taken back, and freed memory is junked.
 *
 *   - Valgrind (when <valgrind/memcheck.h> exists and neither ASan nor TSan is on): an arena
 *     created while running under memcheck is a mempool and runs checked and slow-only. Other
 *     tools (callgrind, cachegrind, ...) get the plain arena, so that they measure the real
 *     fast path: valgrind preloads vgpreload_memcheck only for memcheck.
 *     Fresh chunk memory, record headers and guards are NOACCESS; each allocation is a
 *     MEMPOOL_ALLOC of exactly its size; taking memory back walks the records and
 *     MEMPOOL_FREEs each allocation, so a use after rewind/reset is an "Invalid read" at the
 *     faulting line. Outside Valgrind the one cached test at creation is all it costs; the
 *     inline path never sees any of it.
 *   - Allocation sites: slow-only modes note the allocating call's return address
 *     (ar_alloc_slow_'s caller, or the caller of ar_strdup & co.); checked mode keeps it in
 *     the last 8 guard bytes and names it (module+offset, for addr2line) when a guard is
 *     found damaged.
 *
 * One vocabulary. The rest of the serial arena says what happens to memory (hidden, handed
 * to the user, scrubbed, given back to the source, recorded, verified) and this file decides
 * what each tool is told; ASan's and Valgrind's calls appear nowhere else in the serial arena.
 * The record walks read headers and guards that are NOACCESS to the program, so they run with
 * memcheck's error reporting off (quiet/loud below).
 *
 * Use after destroy. Destroy overwrites `magic`; every out-of-line entry checks it. A checked
 * arena's header is not freed but parked in a graveyard of the last AR_GRAVEYARD destroyed
 * checked arenas (hot.cur_ == hot.end_ == NULL, so even the inline path comes out of line),
 * which turns a use after destroy into a clear message instead of undefined behaviour.
 *
 * A leaf: this file calls nothing of the arena (error.c's ar_fatal_ only).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/arena_internal.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"
#include "runtime/track.h"

#if !AR_ASAN && !AR_TSAN && !AR_HEAP && defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define AR_VALGRIND 1
#endif
#endif
#ifndef AR_VALGRIND
#define AR_VALGRIND 0
#endif

#if AR_VALGRIND
/* Statements, not expressions: some client requests are do/while blocks. */
#define vg_noaccess(a, p, n)                                 \
  do {                                                       \
    if ((a)->vg) (void)VALGRIND_MAKE_MEM_NOACCESS((p), (n)); \
  } while (0)
#define vg_undefined(a, p, n)                                 \
  do {                                                        \
    if ((a)->vg) (void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)); \
  } while (0)
#define vg_quiet(a)                                \
  do {                                             \
    if ((a)->vg) VALGRIND_DISABLE_ERROR_REPORTING; \
  } while (0)
#define vg_loud(a)                                \
  do {                                            \
    if ((a)->vg) VALGRIND_ENABLE_ERROR_REPORTING; \
  } while (0)
#else
#define vg_noaccess(a, p, n) ((void)(a), (void)(p), (void)(n))
#define vg_undefined(a, p, n) ((void)(a), (void)(p), (void)(n))
#define vg_quiet(a) ((void)(a))
#define vg_loud(a) ((void)(a))
#endif

/* Checked-mode record headers. */
#define AR_REC_ALLOC UINT64_C(0xA110CA7EDA110CA7)
#define AR_REC_SKIP UINT64_C(0x5C1B5C1B5C1B5C1B)
/* An allocation given back with ar_free: walked and guard-checked like AR_REC_ALLOC, but no
 * longer a block that ar_free or ar_realloc accepts. */
#define AR_REC_FREED UINT64_C(0xF4EEDF4EEDF4EED0)
/* The last bytes of a checked allocation's guard hold its site (a return address). The guard
 * is at least 16 bytes, so at least 8 real guard bytes come first: a linear overflow always
 * hits them before it reaches the site. */
#define AR_SITE_BYTES sizeof(void *)
/* Destroyed checked arenas whose headers are kept to report a use after destroy. */
#define AR_GRAVEYARD 64

typedef struct ar_record {
  uint64_t magic;
  uint64_t size; /* ALLOC: the requested size; SKIP: bytes to skip, this header included */
} ar_record_t;
_Static_assert(sizeof(ar_record_t) == AR_TRACK_HEADER, "record header size");

/* ---- modes and lifetime ------------------------------------------------------------- */

#if AR_VALGRIND
/* Memcheck is the only tool that reads mempool requests; under callgrind or cachegrind the
 * arena must keep its inline fast path, or they would count the slow one. Valgrind puts its
 * tool's preload library in LD_PRELOAD (vgpreload_memcheck-<arch>.so for memcheck). The
 * answer cannot change while the process runs, so it is computed once; racing first callers
 * compute the same value, so relaxed is enough. */
static bool running_on_memcheck(void) {
  static ar_atomic(int) cached; /* 0 unknown, 1 no, 2 yes */
  int v = ar_load_relaxed(&cached);
  if (v == 0) {
    const char *pre = getenv("LD_PRELOAD");
    v = (RUNNING_ON_VALGRIND != 0 && pre != NULL && strstr(pre, "vgpreload_memcheck") != NULL) ? 2
                                                                                               : 1;
    ar_store_relaxed(&cached, v);
  }
  return v == 2;
}
#endif

void ar_track_attach(ar_arena_t *a, bool checked) {
  a->checked = checked || AR_DEBUG >= 2;
#if AR_VALGRIND
  /* One check per arena, here: every later decision reads the flag. */
  a->vg = running_on_memcheck();
  if (a->vg) {
    a->checked = true; /* the records tell which allocations a rewind ends */
    VALGRIND_CREATE_MEMPOOL(a, 0, 0);
  }
#endif
#if AR_ASAN
  a->checked = false; /* ASan's shadow memory is the better guard */
#endif
  a->slow_only = a->checked || a->vg || AR_ASAN || AR_DEBUG >= 2 || AR_HEAP;
}

void ar_track_detach(ar_arena_t *a) {
#if AR_VALGRIND
  if (a->vg) VALGRIND_DESTROY_MEMPOOL(a);
#else
  (void)a;
#endif
}

void ar_arena_dead_(const ar_arena_t *a) {
  ar_fatal_("serial arena %p used after ar_arena_destroy (it was named '%.31s'); with "
            "AR_ARENA_CHECKED the last %d destroyed checked arenas are recognised",
            (const void *)a, a->magic == AR_ARENA_DEAD ? a->name : "?", AR_GRAVEYARD);
}

/* Headers of destroyed checked arenas, oldest evicted (and freed) first. Reachable from here,
 * so LeakSanitizer does not count them. */
static pthread_mutex_t graveyard_lock = PTHREAD_MUTEX_INITIALIZER;
static ar_arena_t *graveyard[AR_GRAVEYARD];
static size_t graveyard_next;

void ar_track_bury(ar_arena_t *a) {
  if (!a->checked) {
    free(a);
    return;
  }
  /* cur_ == end_ == NULL: the inline path's room test fails, so every call comes out of line
   * and meets the magic check. */
  a->hot.cur_ = NULL;
  a->hot.end_ = NULL;
  pthread_mutex_lock(&graveyard_lock);
  ar_arena_t *evicted = graveyard[graveyard_next];
  graveyard[graveyard_next] = a;
  graveyard_next = (graveyard_next + 1) % AR_GRAVEYARD;
  pthread_mutex_unlock(&graveyard_lock);
  free(evicted);
}

/* ---- memory changing hands ---------------------------------------------------------- */

void ar_track_hide(const ar_arena_t *a, void *p, size_t n) {
  ar_poison_(p, n);
  vg_noaccess(a, p, n);
}

void ar_track_to_source(const ar_arena_t *a, void *p, size_t n) {
  ar_unpoison_(p, n);
  vg_undefined(a, p, n); /* the source may write into it (a pool's free list) */
}

void ar_track_junk(const ar_arena_t *a, void *p, size_t n) {
  if (a->checked) memset(p, AR_JUNK_BYTE, n);
}

void ar_track_scrub(const ar_arena_t *a, char *from, char *to) {
  if (to <= from) return;
  if (a->checked) {
    vg_undefined(a, from, (size_t)(to - from));
    memset(from, AR_JUNK_BYTE, (size_t)(to - from));
  }
  ar_track_hide(a, from, (size_t)(to - from));
}

/* ---- checked-mode records ----------------------------------------------------------- */

void ar_track_record(const ar_arena_t *a, char *from, char *p, char *end, size_t size) {
  vg_undefined(a, from, (size_t)(end - from));
  char *h = p - sizeof(ar_record_t);
  if (h > from) {
    ar_record_t skip = {AR_REC_SKIP, (uint64_t)(h - from)};
    memcpy(from, &skip, sizeof skip);
  }
  ar_record_t rec = {AR_REC_ALLOC, (uint64_t)size};
  memcpy(h, &rec, sizeof rec);
  memset(p + size, AR_GUARD_BYTE, (size_t)(end - p - size - AR_SITE_BYTES));
  memcpy(end - AR_SITE_BYTES, &a->site, AR_SITE_BYTES);
  vg_noaccess(a, from, (size_t)(end - from));
#if AR_VALGRIND
  if (a->vg) VALGRIND_MEMPOOL_ALLOC(a, p, size);
#endif
}

/* Prints where `site` is: the module and offset that addr2line takes, and the symbol when
 * the dynamic symbol table has one. */
static void print_site(const void *site) {
  if (site == NULL) return;
  Dl_info info;
  memset(&info, 0, sizeof info);
  if (dladdr(site, &info) != 0 && info.dli_fname != NULL) {
    fprintf(stderr,
            "arenart:   allocated from %p (%s+%#lx%s%s; resolve with addr2line -f -e %s %#lx)\n",
            site, info.dli_fname, (unsigned long)((uintptr_t)site - (uintptr_t)info.dli_fbase),
            info.dli_sname ? ", in " : "", info.dli_sname ? info.dli_sname : "", info.dli_fname,
            (unsigned long)((uintptr_t)site - (uintptr_t)info.dli_fbase));
  } else {
    fprintf(stderr, "arenart:   allocated from %p\n", site);
  }
}

static void report_corruption(const ar_arena_t *a, const char *what, const void *at,
                              const void *data, uint64_t size, const void *site) {
  fprintf(stderr,
          "arenart: arena '%s' (%p): %s at %p (allocation of %llu bytes at %p); memory was "
          "written past the end of an allocation or after it was freed\n",
          a->name, (const void *)a, what, at, (unsigned long long)size, data);
  print_site(site);
}

/* Walks the records in [from, to) and checks every guard. Returns false on damage. */
static bool verify_records(const ar_arena_t *a, char *from, char *to, bool loud) {
  char *q = from;
  while (q < to) {
    if ((size_t)(to - q) < sizeof(ar_record_t)) {
      if (loud) report_corruption(a, "truncated record", q, NULL, 0, NULL);
      return false;
    }
    ar_record_t rec;
    memcpy(&rec, q, sizeof rec);
    if (rec.magic == AR_REC_SKIP) {
      if (rec.size < sizeof rec || rec.size > (uint64_t)(to - q)) {
        if (loud) report_corruption(a, "damaged padding record", q, NULL, rec.size, NULL);
        return false;
      }
      q += rec.size;
      continue;
    }
    if (rec.magic != AR_REC_ALLOC && rec.magic != AR_REC_FREED) {
      if (loud) report_corruption(a, "damaged allocation header", q, NULL, 0, NULL);
      return false;
    }
    char *data = q + sizeof rec;
    size_t n = ar_align_up_((size_t)rec.size, AR_ALIGN_DEFAULT);
    char *end = data + n + AR_REDZONE;
    if (rec.size > AR_MAX_ALLOC_SIZE || end > to) {
      if (loud) report_corruption(a, "damaged allocation header", q, data, rec.size, NULL);
      return false;
    }
    for (char *g = data + rec.size; g < end - AR_SITE_BYTES; g++) {
      if ((unsigned char)*g != AR_GUARD_BYTE) {
        if (loud) {
          const void *site;
          memcpy(&site, end - AR_SITE_BYTES, sizeof site);
          report_corruption(a, "overwritten guard byte", g, data, rec.size, site);
        }
        return false;
      }
    }
    q = end;
  }
  return true;
}

/* Walks the (verified) records in [from, to) and tells memcheck each allocation is gone. */
static void vg_free_records(const ar_arena_t *a, char *from, char *to) {
#if AR_VALGRIND
  if (!a->vg) return;
  char *q = from;
  while (q < to) {
    ar_record_t rec;
    memcpy(&rec, q, sizeof rec);
    if (rec.magic == AR_REC_SKIP) {
      q += rec.size;
      continue;
    }
    char *data = q + sizeof rec;
    if (rec.magic != AR_REC_FREED) VALGRIND_MEMPOOL_FREE(a, data); /* freed: ended already */
    q = data + ar_align_up_((size_t)rec.size, AR_ALIGN_DEFAULT) + AR_REDZONE;
  }
#else
  (void)a;
  (void)from;
  (void)to;
#endif
}

void ar_track_verify_or_die(const ar_arena_t *a, char *from, char *to) {
  if (!a->checked || to <= from) return;
  vg_quiet(a); /* record headers and guards are NOACCESS to the program, not to us */
  bool ok = verify_records(a, from, to, true);
  if (ok) vg_free_records(a, from, to);
  vg_loud(a);
  if (!ok)
    ar_fatal_("arena '%s' (%p): guard check failed when memory was taken back (see above)", a->name,
              (const void *)a);
}

/* For ar_arena_check: quiet towards Valgrind, which would otherwise report our reads of
 * NOACCESS headers and guards. */
bool ar_track_records_ok(const ar_arena_t *a, char *from, char *to) {
  vg_quiet(a);
  bool ok = verify_records(a, from, to, true);
  vg_loud(a);
  return ok;
}

/* Called in the heap flavor only (heap.c, introspect.c), but compiled in every flavor: the
 * callers test AR_HEAP with a plain `if`, so both sides are type-checked in every build. */
bool ar_track_heap_guard_ok(const ar_arena_t *a, const ar_hblock_t *b, bool loud) {
  if (!a->checked) return true;
  for (size_t i = 0; i < AR_REDZONE; i++) {
    if ((unsigned char)b->p[b->size + i] != AR_GUARD_BYTE) {
      if (loud)
        report_corruption(a, "overwritten guard byte", b->p + b->size + i, b->p, b->size, b->site);
      return false;
    }
  }
  return true;
}

/* ---- single blocks ------------------------------------------------------------------ */

/* Checked mode: the header of the record whose allocation starts at p in [from, to), or NULL
 * (p is inside an allocation, in padding, or past the last one). */
static char *record_at(const ar_arena_t *a, char *from, char *to, const char *p) {
  vg_quiet(a); /* headers are NOACCESS to the program */
  char *q = from, *found = NULL;
  while (q + sizeof(ar_record_t) <= to) {
    ar_record_t rec;
    memcpy(&rec, q, sizeof rec);
    if (rec.magic == AR_REC_SKIP) {
      if (rec.size < sizeof rec) break;
      q += rec.size;
      continue;
    }
    char *data = q + sizeof rec;
    if (data >= p) {
      if (data == p) found = q;
      break;
    }
    q = data + ar_align_up_((size_t)rec.size, AR_ALIGN_DEFAULT) + AR_REDZONE;
  }
  vg_loud(a);
  return found;
}

bool ar_track_block_live(const ar_arena_t *a, char *from, char *to, const char *p, size_t n) {
  if (a->checked) {
    char *h = record_at(a, from, to, p);
    if (h == NULL) return false;
    ar_record_t rec;
    vg_quiet(a);
    memcpy(&rec, h, sizeof rec);
    vg_loud(a);
    return rec.magic == AR_REC_ALLOC && n <= rec.size;
  }
#if AR_ASAN
  if (__asan_address_is_poisoned(p)) return false;
  if (p != from && !__asan_address_is_poisoned(p - 1)) return false;
  if (__asan_region_is_poisoned((void *)(uintptr_t)p, n) != NULL) return false;
#else
  (void)from;
  (void)to;
  (void)p;
  (void)n;
#endif
  return true;
}

void ar_track_block_freed(const ar_arena_t *a, char *from, char *to, char *p) {
  if (!a->checked) return;
  char *h = record_at(a, from, to, p);
  if (h == NULL) return;
  uint64_t freed = AR_REC_FREED;
  vg_quiet(a);
  memcpy(h, &freed, sizeof freed);
  vg_loud(a);
#if AR_VALGRIND
  if (a->vg) VALGRIND_MEMPOOL_FREE(a, p); /* a use of it is reported now */
#endif
}

void ar_track_block_shrunk(const ar_arena_t *a, char *from, char *to, char *p, size_t old_size,
                           size_t keep) {
  if (!a->checked) return;
  char *h = record_at(a, from, to, p);
  if (h == NULL) return;
  char *end = p + ar_align_up_(keep, AR_ALIGN_DEFAULT) + AR_REDZONE;
  char *old_end = p + ar_align_up_(old_size, AR_ALIGN_DEFAULT) + AR_REDZONE;
  vg_quiet(a);
  const void *site;
  memcpy(&site, old_end - AR_SITE_BYTES, sizeof site);
  ar_record_t rec = {AR_REC_ALLOC, (uint64_t)keep};
  memcpy(h, &rec, sizeof rec);
  memset(p + keep, AR_GUARD_BYTE, (size_t)(end - AR_SITE_BYTES - (p + keep)));
  memcpy(end - AR_SITE_BYTES, &site, AR_SITE_BYTES);
  if (old_end > end) { /* a multiple of 16, so at least a record header */
    ar_record_t skip = {AR_REC_SKIP, (uint64_t)(old_end - end)};
    memcpy(end, &skip, sizeof skip);
  }
  vg_loud(a);
  vg_noaccess(a, p + keep, (size_t)(old_end - (p + keep)));
#if AR_VALGRIND
  if (a->vg) VALGRIND_MEMPOOL_CHANGE(a, p, p, keep);
#endif
}
