/* SPDX-License-Identifier: MIT */
/*
 * runtime/arena.c - the serial arena.
 *
 * Design. An arena owns three singly linked lists of chunks, each chunk carrying its own
 * header at the front of the block its source gave:
 *   chunks  ordinary chunks (all `chunk_size` bytes), newest first; the head is the current
 *           chunk, the one the cursor bumps through;
 *   large   dedicated chunks, one per request too big (over a quarter of a chunk) or too
 *           aligned (over a page) to share, newest first, so a big request never wastes the
 *           tail of the current chunk;
 *   spare   empty ordinary chunks kept by reset/rewind (within `retain_bytes`) for reuse;
 *   kept    (AR_RETAIN_AUTO only) emptied dedicated chunks kept for reuse, by size class;
 *           see "Keeping memory" below.
 * Every chunk that enters `chunks` or `large` takes the next value of one sequence counter, so
 * both lists are in allocation order and a mark's position is just (current chunk, cursor,
 * counter): rewinding pops what is newer on each list. Whether a mark may still be rewound to
 * is a separate question, answered by a stack of save points (see "Marks" below), because a
 * position can exist again after a rewind with other allocations in it.
 *
 * The fast path is inline in arena.h and touches only `hot` (cursor, bound, count): no
 * atomics, no call. Everything else (new chunks, alignment above 16, accounting that must be
 * exact) lives here, out of line. `used` is never counted on the fast path: it is
 * used_retired (bytes below the top of every non-current chunk) plus the cursor's offset in
 * the current chunk. It only grows between out-of-line events, so taking the peak at every
 * point where it can shrink (rewind, reset) and at every query keeps the peak exact.
 *
 * Slow-only mode. When the arena must see every allocation (checked mode, ASan builds, debug
 * level 2) it keeps hot.end_ == hot.cur_, so the inline test always fails and the call comes
 * here, where the true bound `limit` is. This works whatever flags the caller was compiled
 * with, because the decision is data, not code.
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
 * Heap flavor (AR_HEAP=1, `--config=heap`). Every allocation is a malloc (posix_memalign above
 * 16-byte alignment) of exactly its size (plus a 16-byte guard in checked mode), recorded in a
 * growable array in allocation order; rewind frees the entries after the mark, reset/release/
 * destroy free all. No chunks: the source is never called, `capacity` == `used` == bytes
 * malloc'd for live allocations, `chunks` counts them, `retain_bytes` keeps nothing and
 * `limit_bytes` caps the same sum. Marks, cleanups, ar_owns, ar_free/ar_realloc (slow-only
 * quarantine) and ar_arena_check work as documented.
 *
 * Use after destroy. Destroy overwrites `magic`; every out-of-line entry checks it. A checked
 * arena's header is not freed but parked in a graveyard of the last AR_GRAVEYARD destroyed
 * checked arenas (hot.cur_ == hot.end_ == NULL, so even the inline path comes out of line),
 * which turns a use after destroy into a clear message instead of undefined behaviour.
 *
 * Thread contract: owner thread only (see arena.h). The owner check costs a pthread_self()
 * per out-of-line call at debug level >= 1 and nothing at level 0.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"

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
#define vg_noaccess(a, p, n)                                   \
  do {                                                         \
    if ((a)->vg) (void)VALGRIND_MAKE_MEM_NOACCESS((p), (n));   \
  } while (0)
#define vg_undefined(a, p, n)                                  \
  do {                                                         \
    if ((a)->vg) (void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n));  \
  } while (0)
#define vg_quiet(a)                                            \
  do {                                                         \
    if ((a)->vg) VALGRIND_DISABLE_ERROR_REPORTING;             \
  } while (0)
#define vg_loud(a)                                             \
  do {                                                         \
    if ((a)->vg) VALGRIND_ENABLE_ERROR_REPORTING;              \
  } while (0)
#else
#define vg_noaccess(a, p, n) ((void)(a), (void)(p), (void)(n))
#define vg_undefined(a, p, n) ((void)(a), (void)(p), (void)(n))
#define vg_quiet(a) ((void)(a))
#define vg_loud(a) ((void)(a))
#endif

/* Slack for the chunk header: up to 15 bytes to 16-align it, the header, and up to 63 bytes
 * to 64-align the data. */
#define AR_CHUNK_OVERHEAD ((size_t)(15 + sizeof(ar_chunk_t) + 63))
#define AR_PAGE_ALIGN ((size_t)4096)
#define AR_REDZONE ((size_t)16)
#define AR_MAX_CHUNK_SIZE ((size_t)1 << 30)

/* Checked-mode record headers. */
#define AR_REC_ALLOC UINT64_C(0xA110CA7EDA110CA7)
#define AR_REC_SKIP UINT64_C(0x5C1B5C1B5C1B5C1B)
/* An allocation given back with ar_free: walked and guard-checked like AR_REC_ALLOC, but no
 * longer a block that ar_free or ar_realloc accepts. */
#define AR_REC_FREED UINT64_C(0xF4EEDF4EEDF4EED0)
#define AR_GUARD_BYTE 0xAB
#define AR_JUNK_BYTE 0xDD
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

/* ---- small helpers ------------------------------------------------------------------- */

static void *fail(ar_error_t err) {
  ar_set_error_(err);
  return NULL;
}

/* ---- chunks -------------------------------------------------------------------------- */

static ar_chunk_t *chunk_acquire(ar_arena_t *a, size_t bytes) {
  void *base = a->source.acquire(a->source.ctx, bytes);
  if (base == NULL) return NULL;
  ar_chunk_t *c = (ar_chunk_t *)(void *)ar_align_up_((uintptr_t)base, 16);
  c->next = NULL;
  c->base = base;
  c->size = bytes;
  c->data = (char *)ar_align_up_((uintptr_t)(c + 1), 64);
  c->limit = (char *)base + bytes;
  c->top = c->data;
  c->seq = 0;
  c->start = NULL;
  ar_assert(c->data < c->limit);
  ar_poison_(c->data, (size_t)(c->limit - c->data));
  vg_noaccess(a, c->data, (size_t)(c->limit - c->data));
  a->capacity += bytes;
  ar_global_chunk_acquired_(a->reg, bytes);
  return c;
}

static void chunk_release(ar_arena_t *a, ar_chunk_t *c) {
  void *base = c->base;
  size_t size = c->size;
  ar_assert(a->capacity >= size);
  a->capacity -= size;
  ar_global_chunk_released_(a->reg, size);
  ar_unpoison_(base, size);
  vg_undefined(a, base, size); /* the source may write into it (a pool's free list) */
  a->source.release(a->source.ctx, base, size);
}

/* Memory between `from` and `to` no longer holds live allocations. */
static void scrub(const ar_arena_t *a, char *from, char *to) {
  if (to <= from) return;
  if (a->checked) {
    vg_undefined(a, from, (size_t)(to - from));
    memset(from, AR_JUNK_BYTE, (size_t)(to - from));
  }
  ar_poison_(from, (size_t)(to - from));
  vg_noaccess(a, from, (size_t)(to - from));
}

/*
 * Keeping memory. A reset that gives chunks back makes the next request map and fault them
 * again: for a request that needs megabytes that is most of its cost (a thousand times a bump
 * through warm memory). With an explicit `retain_bytes` the user has sized what to keep; the
 * default, AR_RETAIN_AUTO, sizes it from use:
 *   - the need is the chunk bytes in use when a reset or rewind begins (capacity minus what
 *     sits idle: spares and kept dedicated chunks);
 *   - keep_peak follows the need (capped at AR_RETAIN_AUTO_MAX) up at once and decays
 *     towards it: the excess halves for every AR_KEEP_HALF_LIFE_NS elapsed, and goes once it
 *     is a page or less. Time, not a count of resets, because "one request in fifty needs
 *     8 MiB" must keep its 8 MiB while "a burst of big requests an hour ago" must not. The
 *     clock is read when the need rises above the peak, and when it is below, at every
 *     AR_KEEP_CLOCK_EVERY-th such event, so a steady arena (need == peak) never reads it and a
 *     per-request reset stays a handful of stores;
 *   - a reset keeps at most keep_peak bytes, ordinary chunks and dedicated chunks alike. Idle chunks from earlier resets go back first, down to what
 *     leaves room for the chunks this cycle used: recent use is the better guess;
 *   - an emptied dedicated chunk goes on a list by size class (four per power of two), and a
 *     dedicated request takes one that fits from its class, or the head of one of the next
 *     three classes (whose every chunk fits and is at most twice the chunk the request would
 *     get; below 4 KiB, where class 0 mixes sizes, at most 7 KiB), before asking
 *     the source. Its header moves nowhere: the chunk is reused as it is.
 * Kept chunks count in `capacity` and as spares in the stats, and under `limit_bytes` they
 * are idle like spares: given back when a request needs their room.
 */
#define AR_KEEP_HALF_LIFE_NS ((uint64_t)128 * 1000 * 1000)
#define AR_KEEP_CLOCK_EVERY 4u

static bool retain_auto(const ar_arena_t *a) { return a->retain_bytes == AR_RETAIN_AUTO; }

static size_t idle_bytes(const ar_arena_t *a) {
  return a->nspare * a->chunk_size + a->kept_bytes;
}

static unsigned floor_log2_(size_t x) {
  return (unsigned)(63 - __builtin_clzll((unsigned long long)x));
}

/* Class 0: below 4 KiB; then four classes per power of two. */
static unsigned kept_class(size_t bytes) {
  if (bytes < 4096) return 0;
  unsigned l = floor_log2_(bytes);
  unsigned k = (l - 12) * 4 + (unsigned)((bytes >> (l - 2)) & 3) + 1;
  return k < AR_KEPT_CLASSES ? k : AR_KEPT_CLASSES - 1;
}

/* False (c untouched) if the list heads cannot be had. */
static bool kept_push(ar_arena_t *a, ar_chunk_t *c) {
  if (a->kept == NULL) {
    a->kept = (ar_chunk_t **)calloc(AR_KEPT_CLASSES, sizeof *a->kept);
    if (a->kept == NULL) return false;
  }
  unsigned k = kept_class(c->size);
  c->seq = 0;
  c->top = c->data;
  c->start = NULL;
  c->next = a->kept[k];
  a->kept[k] = c;
  a->kept_bytes += c->size;
  a->nkept++;
  return true;
}

static ar_chunk_t *kept_unlink(ar_arena_t *a, ar_chunk_t **link) {
  ar_chunk_t *c = *link;
  *link = c->next;
  c->next = NULL;
  a->kept_bytes -= c->size;
  a->nkept--;
  return c;
}

/* A kept dedicated chunk of at least `bytes` (and at most about twice that), or NULL. */
static ar_chunk_t *kept_take(ar_arena_t *a, size_t bytes) {
  if (a->nkept == 0 || a->kept_bytes < bytes) return NULL;
  unsigned k = kept_class(bytes), probes = 0;
  for (ar_chunk_t **link = &a->kept[k]; *link != NULL && probes < 4;
       link = &(*link)->next, probes++)
    if ((*link)->size >= bytes) return kept_unlink(a, link);
  for (unsigned j = k + 1; j < AR_KEPT_CLASSES && j <= k + 3; j++)
    if (a->kept[j] != NULL) return kept_unlink(a, &a->kept[j]);
  return NULL;
}

/* Gives back one idle chunk that is not current: a spare, else the largest kept chunk.
 * Returns false if there is none. */
static bool drop_one_idle(ar_arena_t *a) {
  if (a->spare != NULL) {
    ar_chunk_t *c = a->spare;
    a->spare = c->next;
    a->nspare--;
    chunk_release(a, c);
    return true;
  }
  for (unsigned k = AR_KEPT_CLASSES; a->nkept != 0 && k-- > 0;) {
    if (a->kept[k] != NULL) {
      chunk_release(a, kept_unlink(a, &a->kept[k]));
      return true;
    }
  }
  return false;
}

/* AR_RETAIN_AUTO: folds the current need into the decaying peak and returns what may be
 * kept now. */
static size_t keep_target(ar_arena_t *a) {
  size_t need = a->capacity - idle_bytes(a);
  /* The peak never exceeds what may be kept, so an excess is at most AR_RETAIN_AUTO_MAX and
   * fourteen halvings (1.8 s) end it. */
  if (need > AR_RETAIN_AUTO_MAX) need = AR_RETAIN_AUTO_MAX;
  if (need > a->keep_peak) {
    a->keep_peak = need;
    a->keep_ns = ar_now_ns_();
    a->keep_ticks = 0;
  } else if (need < a->keep_peak && ++a->keep_ticks >= AR_KEEP_CLOCK_EVERY) {
    a->keep_ticks = 0;
    /* One halving per half-life elapsed, however few resets came in between. */
    uint64_t halvings = (ar_now_ns_() - a->keep_ns) / AR_KEEP_HALF_LIFE_NS;
    if (halvings > 0) {
      size_t excess = a->keep_peak - need;
      excess = halvings >= 63 ? 0 : excess >> halvings;
      a->keep_peak = need + (excess <= AR_PAGE_ALIGN ? 0 : excess);
      a->keep_ns += halvings * AR_KEEP_HALF_LIFE_NS;
    }
  }
  return a->keep_peak;
}

/* An emptied dedicated chunk (already verified): kept when the arena adapts and `keep`
 * allows, else given back. */
static void keep_or_release_large(ar_arena_t *a, ar_chunk_t *c, size_t keep) {
  if (retain_auto(a) && c->size <= AR_RETAIN_AUTO_MAX && idle_bytes(a) + c->size <= keep) {
    scrub(a, c->data, c->top);
    if (kept_push(a, c)) return;
  }
  chunk_release(a, c);
}

/* Keeps an emptied ordinary chunk as a spare if `keep_bytes` allows, else returns it. */
static void stash_or_release(ar_arena_t *a, ar_chunk_t *c, size_t keep_bytes) {
  if (idle_bytes(a) + a->chunk_size <= keep_bytes) {
    c->seq = 0;
    c->top = c->data;
    c->limit = (char *)c->base + c->size; /* no longer sealed */
    c->next = a->spare;
    a->spare = c;
    a->nspare++;
  } else {
    chunk_release(a, c);
  }
}

static void retire_current(ar_arena_t *a) {
  ar_chunk_t *c = a->chunks;
  c->top = a->hot.cur_;
  a->used_retired += (size_t)(c->top - c->data);
}

/* Makes the head of `chunks` current again, with the cursor at its recorded top. */
static void activate_head(ar_arena_t *a) {
  ar_chunk_t *c = a->chunks;
  if (c == NULL) {
    a->hot.cur_ = NULL;
    a->limit = NULL;
    return;
  }
  a->used_retired -= (size_t)(c->top - c->data);
  a->hot.cur_ = c->top;
  a->limit = c->limit;
}

/* ---- checked-mode records ------------------------------------------------------------ */

/* Prints where `site` is: the module and offset that addr2line takes, and the symbol when
 * the dynamic symbol table has one. */
static void print_site(const void *site) {
  if (site == NULL) return;
  Dl_info info;
  memset(&info, 0, sizeof info);
  if (dladdr(site, &info) != 0 && info.dli_fname != NULL) {
    fprintf(stderr,
            "arenart:   allocated from %p (%s+%#lx%s%s; resolve with addr2line -f -e %s %#lx)\n",
            site, info.dli_fname,
            (unsigned long)((uintptr_t)site - (uintptr_t)info.dli_fbase),
            info.dli_sname ? ", in " : "", info.dli_sname ? info.dli_sname : "",
            info.dli_fname, (unsigned long)((uintptr_t)site - (uintptr_t)info.dli_fbase));
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

/* Memory in [from, to) is being taken back: check its guards (checked mode; fatal with a
 * message naming the arena and the allocation site on damage) and end its allocations for
 * Valgrind. The caller scrubs or releases it afterwards. */
static void verify_or_die(const ar_arena_t *a, char *from, char *to) {
  if (!a->checked || to <= from) return;
  vg_quiet(a); /* record headers and guards are NOACCESS to the program, not to us */
  bool ok = verify_records(a, from, to, true);
  if (ok) vg_free_records(a, from, to);
  vg_loud(a);
  if (!ok)
    ar_fatal_("arena '%s' (%p): guard check failed when memory was taken back (see above)",
              a->name, (const void *)a);
}

/*
 * Places one allocation in [cur, limit). Returns the user pointer and sets *end to the new
 * cursor, or returns NULL if it does not fit. All arithmetic is on addresses below 2^63 and
 * sizes below 2^62, so it cannot wrap.
 */
static char *place(const ar_arena_t *a, char *cur, char *limit, size_t size, size_t align,
                   char **end) {
  size_t n = ar_align_up_(size, AR_ALIGN_DEFAULT);
  uintptr_t c = (uintptr_t)cur;
  uintptr_t p, e;
  if (a->checked) {
    p = ar_align_up_(c + sizeof(ar_record_t), align);
    e = p + n + AR_REDZONE;
  } else {
    p = ar_align_up_(c, align);
    e = p + n + (AR_ASAN ? AR_REDZONE : 0);
  }
  if (e > (uintptr_t)limit) return NULL;
  if (a->checked) {
    vg_undefined(a, (void *)c, (size_t)(e - c));
    uintptr_t h = p - sizeof(ar_record_t);
    if (h > c) {
      ar_record_t skip = {AR_REC_SKIP, (uint64_t)(h - c)};
      memcpy((void *)c, &skip, sizeof skip);
    }
    ar_record_t rec = {AR_REC_ALLOC, (uint64_t)size};
    memcpy((void *)h, &rec, sizeof rec);
    memset((char *)p + size, AR_GUARD_BYTE, (size_t)(e - p - size - AR_SITE_BYTES));
    memcpy((char *)e - AR_SITE_BYTES, &a->site, AR_SITE_BYTES);
    vg_noaccess(a, (void *)c, (size_t)(e - c));
#if AR_VALGRIND
    if (a->vg) VALGRIND_MEMPOOL_ALLOC(a, (void *)p, size);
#endif
  }
  ar_unpoison_((void *)p, size);
  *end = (char *)e;
  return (char *)p;
}

/* Worst-case bytes that a request of `size`/`align` takes in a chunk. */
static size_t footprint(const ar_arena_t *a, size_t size, size_t align) {
  size_t n = ar_align_up_(size, AR_ALIGN_DEFAULT);
  size_t extra = align > AR_ALIGN_DEFAULT ? align - AR_ALIGN_DEFAULT : 0;
  if (a->checked) extra += sizeof(ar_record_t) + AR_REDZONE;
  else if (AR_ASAN) extra += AR_REDZONE;
  return n + extra; /* size <= 2^62 and align <= 2^62 here: no wrap */
}

static void *bump_current(ar_arena_t *a, size_t size, size_t align) {
  if (a->chunks == NULL) return NULL;
  char *end;
  char *p = place(a, a->hot.cur_, a->limit, size, align, &end);
  if (p == NULL) return NULL;
  a->hot.cur_ = end;
  a->hot.nalloc_++;
  sync_hot_end(a);
  return p;
}

/*
 * Limits. Chunks that hold nothing can be given back to make room under `limit_bytes`: the
 * spares, and a current chunk with nothing in it (reset keeps one current; a rewind can empty
 * one). A request that needs a new chunk first checks that giving all of them back would be
 * enough (else AR_ELIMIT), then acquires the chunk, and only then gives back what the limit
 * requires: a source that fails (AR_ENOMEM) leaves the arena exactly as it was. The price is
 * that the source holds the new chunk and the idle ones at the same time, for the length of
 * the call.
 */
static bool head_idle(const ar_arena_t *a) {
  return a->chunks != NULL && a->hot.cur_ == a->chunks->data;
}

static bool room_possible(const ar_arena_t *a, size_t need) {
  if (a->limit_bytes == 0) return true;
  size_t idle = idle_bytes(a) + (head_idle(a) ? a->chunks->size : 0);
  return need <= a->limit_bytes && a->capacity - idle <= a->limit_bytes - need;
}

/* Gives back the empty current chunk; the chunk below it (if any) becomes current. A mark
 * that names the dropped chunk names the same place as the top of the one below (nothing lay
 * in it), which is what ar_rewind finds when it no longer sees the chunk. So that this stays
 * true, the chunk below is sealed at that top (its limit lowered) until it goes back to the
 * spares or the source, when a live mark may name the dropped one (then it is the newest save
 * point's chunk): later allocations go to a new chunk, which the rewind pops, instead of into
 * its tail, which the rewind could not tell from what lay there before the mark. */
static void drop_idle_head(ar_arena_t *a) {
  ar_chunk_t *c = a->chunks;
  a->chunks = c->next;
  a->nchunks--;
  activate_head(a);
  if (a->floor_chunk == c && a->ndepth > 0 && a->chunks != NULL) {
    a->chunks->limit = a->hot.cur_;
    a->limit = a->hot.cur_;
  }
  sync_hot_end(a);
  if (a->floor_chunk == c) {
    a->floor_chunk = a->chunks;
    a->floor_cur = a->hot.cur_;
  }
  chunk_release(a, c);
}

/* After a new chunk was acquired (counted in capacity): idle chunks go back until the arena
 * is under its limit again; room_possible promised that they suffice. */
static void shed_to_limit(ar_arena_t *a) {
  if (a->limit_bytes == 0) return;
  while (a->capacity > a->limit_bytes) {
    if (!drop_one_idle(a)) {
      ar_assert(head_idle(a));
      drop_idle_head(a);
    }
  }
}

static ar_error_t push_new_chunk(ar_arena_t *a) {
  ar_chunk_t *c = a->spare;
  if (c != NULL) {
    a->spare = c->next;
    a->nspare--;
  } else {
    if (!room_possible(a, a->chunk_size)) return AR_ELIMIT;
    c = chunk_acquire(a, a->chunk_size);
    if (c == NULL) return AR_ENOMEM;
    shed_to_limit(a);
  }
  if (a->chunks != NULL) retire_current(a);
  c->seq = ++a->seq;
  c->top = c->data;
  c->next = a->chunks;
  a->chunks = c;
  a->nchunks++;
  a->hot.cur_ = c->data;
  a->limit = c->limit;
  sync_hot_end(a);
  return AR_OK;
}

static void *alloc_large(ar_arena_t *a, size_t size, size_t align) {
  size_t fp = footprint(a, size, align);
  size_t bytes = fp + AR_CHUNK_OVERHEAD + (align > 64 ? align : 0);
  if (bytes < fp) return fail(AR_EOVERFLOW);
  /* A kept chunk is already counted in capacity: taking it needs no room. */
  ar_chunk_t *c = a->nkept != 0 ? kept_take(a, bytes) : NULL;
  if (c == NULL) {
    if (!room_possible(a, bytes)) return fail(AR_ELIMIT);
    c = chunk_acquire(a, bytes);
    if (c == NULL) return fail(AR_ENOMEM);
    shed_to_limit(a);
  }
  char *end;
  char *p = place(a, c->data, c->limit, size, align, &end);
  ar_assert(p != NULL);
  c->start = p;
  c->top = end;
  c->seq = ++a->seq;
  c->next = a->large;
  a->large = c;
  a->nlarge++;
  a->used_retired += (size_t)(end - c->data);
  a->hot.nalloc_++;
  return p;
}

/*
 * Growing a dedicated chunk (ar_realloc of a big block). The chunk holds one allocation,
 * so it may grow in place: into its own slack if it has some (a kept chunk reused for a
 * smaller request), else by asking the source to resize the whole block (source.c: mremap
 * for the OS source), which moves page table entries, not bytes. The chunk header lives at
 * the front of the block and moves with it; every pointer in it moves by the same offset,
 * and the link that pointed at it is updated. The global stats see the old size released and
 * the new one acquired, so their chunk counts stay balanced.
 */
void *ar_large_grow_(ar_arena_t *a, ar_chunk_t **link, ar_chunk_t *c, size_t new_size) {
  if (a->slow_only || c->start == NULL) return NULL;
  size_t fp = footprint(a, new_size, AR_ALIGN_DEFAULT);
  size_t off = (size_t)(c->start - (char *)c->base);
  size_t bytes = off + fp; /* off < one page plus the header; fp < 2^62: no wrap */
  if (bytes > c->size) {
    if (!room_possible(a, bytes - c->size)) return NULL;
    /* After a move the old header is gone: only the new one may be read. */
    char *ob = (char *)c->base;
    size_t osize = c->size;
    char *nb = (char *)ar_source_resize_(&a->source, ob, osize, bytes);
    if (nb == NULL) return NULL;
    ptrdiff_t d = nb - ob;
    ar_assert(((uintptr_t)nb & 63) == ((uintptr_t)ob & 63));
    ar_chunk_t *nc = (ar_chunk_t *)(void *)((char *)c + d);
    ar_global_chunk_released_(a->reg, osize);
    ar_global_chunk_acquired_(a->reg, bytes);
    a->capacity += bytes - osize;
    nc->base = nb;
    nc->size = bytes;
    nc->data += d;
    nc->limit = nb + bytes;
    nc->top += d;
    nc->start += d;
    *link = nc;
    c = nc;
    shed_to_limit(a);
  }
  char *end = c->start + fp;
  /* The block may sit inside an older, larger footprint (a shrink that kept its tail): then
   * `used` falls here, so the peak is taken first (see "used" in the essay). */
  if (end < c->top) update_peak(a);
  a->used_retired += (size_t)(end - c->top);
  c->top = end;
  return c->start;
}

/* ---- blocks given back (recycle.c) ---------------------------------------------------- */

/* The live region holding p: an ordinary chunk up to its top (the cursor for the current
 * one) or a dedicated chunk; *to is the region's end. NULL if p is in none. */
static ar_chunk_t *region_of(const ar_arena_t *a, const char *p, char **to) {
  for (ar_chunk_t *c = a->chunks; c != NULL; c = c->next) {
    char *top = c == a->chunks ? a->hot.cur_ : c->top;
    if (p >= c->data && p < top) {
      *to = top;
      return c;
    }
  }
  for (ar_chunk_t *c = a->large; c != NULL; c = c->next) {
    if (p >= c->data && p < c->top) {
      *to = c->top;
      return c;
    }
  }
  return NULL;
}

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

static ar_hblock_t *hblock_at(const ar_arena_t *a, const char *p) {
  for (size_t i = a->nhblocks; i-- > 0;)
    if (a->hblocks[i].p == p) return &a->hblocks[i];
  return NULL;
}

/*
 * Is p, with `size`, a live block that ar_free/ar_realloc may take? Exact where the arena
 * knows where its blocks start: the heap flavor (its table), checked mode (its records) and
 * ASan builds (a block's first byte is addressable and the byte before it is not: red zones
 * and padding stay poisoned, freed blocks are poisoned again). Elsewhere, at AR_DEBUG >= 1,
 * the block must lie within memory handed out and live; in every build, a pointer into a
 * dedicated chunk must be the start of its one allocation (cheap: recycle.c walks that list
 * anyway).
 */
bool ar_block_ok_(const ar_arena_t *a, const char *p, size_t size) {
  size_t n = size == 0 ? 1 : size;
  if (AR_HEAP) {
    const ar_hblock_t *b = hblock_at(a, p);
    return b != NULL && !b->freed && n <= b->size;
  }
  if (!a->checked && !AR_ASAN && AR_DEBUG < 1) {
    /* The whole dedicated chunk, the slack after its allocation included. */
    for (const ar_chunk_t *c = a->large; c != NULL; c = c->next)
      if (p >= (const char *)c->base && p < c->limit)
        return p == c->start && n <= (size_t)(c->top - p);
    return true;
  }
  char *to;
  ar_chunk_t *c = region_of(a, p, &to);
  if (c == NULL || n > (size_t)(to - p)) return false;
  if (c->start != NULL && p != c->start) return false;
  if (a->checked) {
    char *h = record_at(a, c->data, to, p);
    if (h == NULL) return false;
    ar_record_t rec;
    vg_quiet(a);
    memcpy(&rec, h, sizeof rec);
    vg_loud(a);
    return rec.magic == AR_REC_ALLOC && n <= rec.size;
  }
#if AR_ASAN
  if (__asan_address_is_poisoned(p)) return false;
  if (p != c->data && !__asan_address_is_poisoned(p - 1)) return false;
  if (__asan_region_is_poisoned((void *)(uintptr_t)p, n) != NULL) return false;
#endif
  return true;
}

/* A block that ar_block_ok_ accepted is being quarantined: checked mode and the heap flavor
 * remember it, so that giving it back again is refused. */
void ar_block_freed_(ar_arena_t *a, const char *p) {
  if (AR_HEAP) {
    ar_hblock_t *b = hblock_at(a, p);
    if (b != NULL) b->freed = true;
    return;
  }
  if (!a->checked) return;
  char *to;
  ar_chunk_t *c = region_of(a, p, &to);
  char *h = c != NULL ? record_at(a, c->data, to, p) : NULL;
  if (h == NULL) return;
  uint64_t freed = AR_REC_FREED;
  vg_quiet(a);
  memcpy(h, &freed, sizeof freed);
  vg_loud(a);
#if AR_VALGRIND
  if (a->vg) VALGRIND_MEMPOOL_FREE(a, (void *)(uintptr_t)p); /* a use of it is reported now */
#endif
}

/* The block p, accepted by ar_block_ok_ with old_size, was shrunk in place by ar_realloc in a
 * slow-only arena: it is a block of new_size bytes now, exactly as if allocated so (arena.h:
 * a write past its end is caught; docs/debugging.md: unpoisoned for exactly its size). Checked
 * mode rewrites the record as one of the new size, with its guard and site after the new end,
 * and covers the rest of the old record with a padding record; ASan poisons from the new end;
 * the heap flavor records the new size and moves its guard. The caller junk-filled the tail. */
void ar_block_shrunk_(ar_arena_t *a, char *p, size_t old_size, size_t new_size) {
  size_t keep = new_size == 0 ? 1 : new_size; /* a zero-byte request is served as one byte */
  if (keep >= old_size) return;
  if (AR_HEAP) {
    ar_hblock_t *b = hblock_at(a, p);
    if (b == NULL) return;
    if (a->checked) memset(p + keep, AR_GUARD_BYTE, AR_REDZONE);
    b->size = keep;
    ar_poison_(p + keep, b->bytes - keep);
    return;
  }
  if (a->checked) {
    char *to;
    ar_chunk_t *c = region_of(a, p, &to);
    char *h = c != NULL ? record_at(a, c->data, to, p) : NULL;
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
    return;
  }
  ar_poison_(p + keep, ar_align_up_(old_size, AR_ALIGN_DEFAULT) - keep);
  vg_noaccess(a, p + keep, ar_align_up_(old_size, AR_ALIGN_DEFAULT) - keep);
}

/* ---- heap flavor --------------------------------------------------------------------- */

/* Compiled in every flavor (the callers test AR_HEAP with a plain `if`, so both sides are
 * type-checked in every build) and dropped by the optimizer where unused. */
static bool heap_guard_ok(const ar_arena_t *a, const ar_hblock_t *b, bool loud) {
  if (!a->checked) return true;
  for (size_t i = 0; i < AR_REDZONE; i++) {
    if ((unsigned char)b->p[b->size + i] != AR_GUARD_BYTE) {
      if (loud)
        report_corruption(a, "overwritten guard byte", b->p + b->size + i, b->p, b->size,
                          b->site);
      return false;
    }
  }
  return true;
}

static void *heap_alloc(ar_arena_t *a, size_t size, size_t align) {
  if (a->nhblocks == a->hcap) {
    size_t cap = a->hcap ? a->hcap * 2 : 16;
    ar_hblock_t *nb = (ar_hblock_t *)realloc(a->hblocks, cap * sizeof *nb);
    if (nb == NULL) return fail(AR_ENOMEM);
    a->hblocks = nb;
    a->hcap = cap;
  }
  size_t bytes = size + (a->checked ? AR_REDZONE : 0); /* size <= 2^62: no wrap */
  if (a->limit_bytes != 0 && (bytes > a->limit_bytes || a->capacity > a->limit_bytes - bytes))
    return fail(AR_ELIMIT);
  void *p = NULL;
  if (align <= AR_ALIGN_DEFAULT) {
    p = malloc(bytes);
  } else if (posix_memalign(&p, align, bytes) != 0) {
    p = NULL;
  }
  if (p == NULL) return fail(AR_ENOMEM);
  if (a->checked) memset((char *)p + size, AR_GUARD_BYTE, AR_REDZONE);
  ar_hblock_t *b = &a->hblocks[a->nhblocks++];
  b->p = (char *)p;
  b->size = size;
  b->bytes = bytes;
  b->seq = ++a->seq;
  b->site = a->site;
  b->freed = false;
  a->capacity += bytes;
  a->used_retired += bytes;
  a->nchunks++;
  a->hot.nalloc_++;
  update_peak(a);
  ar_global_chunk_acquired_(a->reg, bytes);
  return p;
}

/* Frees every tracked allocation from index `keep` on, newest first. */
static void heap_free_from(ar_arena_t *a, size_t keep) {
  while (a->nhblocks > keep) {
    ar_hblock_t *b = &a->hblocks[a->nhblocks - 1];
    if (!heap_guard_ok(a, b, true))
      ar_fatal_("arena '%s' (%p): guard check failed when memory was taken back (see above)",
                a->name, (const void *)a);
    if (a->checked) memset(b->p, AR_JUNK_BYTE, b->size);
    free(b->p);
    a->capacity -= b->bytes;
    a->used_retired -= b->bytes;
    a->nchunks--;
    ar_global_chunk_released_(a->reg, b->bytes);
    a->nhblocks--;
  }
}

/* The number of allocations a valid mark saw: those with a seq up to the arena's seq when it
 * was taken (entries are in seq order; a valid mark's allocations are all still there). */
static size_t heap_mark_count(const ar_arena_t *a, uint64_t mark_seq) {
  size_t lo = 0, hi = a->nhblocks;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a->hblocks[mid].seq <= mark_seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* ---- allocation ---------------------------------------------------------------------- */

/* ar_alloc_slow_ after the NULL check, with the allocation site for slow-only modes. */
static void *alloc_at(ar_arena_t *a, size_t size, size_t align, const void *site) {
  check_owner(a);
  if (AR_UNLIKELY(a->in_cleanup)) return fail(AR_EBUSY);
  if (AR_UNLIKELY(!ar_is_pow2_(align))) return fail(AR_EALIGN);
  if (AR_UNLIKELY(size > AR_MAX_ALLOC_SIZE || align > AR_MAX_ALLOC_SIZE))
    return fail(AR_EOVERFLOW);
  if (size == 0) size = 1;
  if (align < AR_ALIGN_DEFAULT) align = AR_ALIGN_DEFAULT;
  if (a->slow_only) a->site = site;
  if (AR_HEAP) return heap_alloc(a, size, align);
  /* Over-page alignments always get a dedicated chunk (arena.h), even when the current chunk
   * could take them: padding to such a boundary could throw away most of the chunk. */
  void *p = align <= AR_PAGE_ALIGN ? bump_current(a, size, align) : NULL;
  if (p != NULL) return p;
  if (footprint(a, size, align) > a->large_threshold || align > AR_PAGE_ALIGN)
    return alloc_large(a, size, align);
  if (align == AR_ALIGN_DEFAULT && (p = ar_recycle_take_(a, size)) != NULL) return p;
  ar_error_t err = push_new_chunk(a);
  if (err != AR_OK) return fail(err);
  p = bump_current(a, size, align);
  ar_assert(p != NULL); /* footprint <= a quarter of a fresh chunk */
  return p;
}

void *ar_alloc_slow_(ar_arena_t *a, size_t size, size_t align) {
  if (AR_UNLIKELY(a == NULL)) return fail(AR_EINVAL);
  return alloc_at(a, size, align, __builtin_return_address(0));
}

/* ar_alloc for the out-of-line helpers below: the inline path when it can, else the slow path
 * with the helper's caller as the site, so checked-mode messages name the user's code. */
static inline void *alloc_for(ar_arena_t *a, size_t size, const void *site) {
  if (a == NULL) return fail(AR_EINVAL);
  if (!a->slow_only) return ar_alloc(a, size);
  return alloc_at(a, size, AR_ALIGN_DEFAULT, site);
}

void *ar_memdup(ar_arena_t *a, const void *src, size_t size) {
  if (src == NULL && size > 0) return fail(AR_EINVAL);
  void *p = alloc_for(a, size, __builtin_return_address(0));
  if (p != NULL && size > 0) memcpy(p, src, size);
  return p;
}

static char *strndup_at(ar_arena_t *a, const char *s, size_t n, const void *site) {
  if (s == NULL) return (char *)fail(AR_EINVAL);
  size_t len = strnlen(s, n);
  if (len == SIZE_MAX) return (char *)fail(AR_EOVERFLOW);
  char *p = (char *)alloc_for(a, len + 1, site);
  if (p != NULL) {
    memcpy(p, s, len);
    p[len] = '\0';
  }
  return p;
}

char *ar_strndup(ar_arena_t *a, const char *s, size_t n) {
  return strndup_at(a, s, n, __builtin_return_address(0));
}

char *ar_strdup(ar_arena_t *a, const char *s) {
  return strndup_at(a, s, SIZE_MAX, __builtin_return_address(0));
}

static char *vsprintf_at(ar_arena_t *a, const void *site, const char *fmt, va_list ap)
    AR_PRINTF(3, 0);
static char *vsprintf_at(ar_arena_t *a, const void *site, const char *fmt, va_list ap) {
  if (a == NULL || fmt == NULL) return (char *)fail(AR_EINVAL);
  va_list measure;
  va_copy(measure, ap);
  int n = vsnprintf(NULL, 0, fmt, measure);
  va_end(measure);
  if (n < 0) return (char *)fail(AR_EINVAL);
  char *p = (char *)alloc_for(a, (size_t)n + 1, site);
  if (p != NULL) vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *ar_vsprintf(ar_arena_t *a, const char *fmt, va_list ap) {
  return vsprintf_at(a, __builtin_return_address(0), fmt, ap);
}

char *ar_sprintf(ar_arena_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = vsprintf_at(a, __builtin_return_address(0), fmt, ap);
  va_end(ap);
  return p;
}

/* ---- lifetime ------------------------------------------------------------------------ */

void ar_options_init(ar_options_t *opts) {
  if (opts != NULL) {
    ar_options_t d = AR_OPTIONS_INIT;
    *opts = d;
  }
}

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
    v = (RUNNING_ON_VALGRIND != 0 && pre != NULL && strstr(pre, "vgpreload_memcheck") != NULL)
            ? 2
            : 1;
    ar_store_relaxed(&cached, v);
  }
  return v == 2;
}
#endif

static void init_marks(ar_arena_t *a);
static void clear(ar_arena_t *a, size_t keep);

ar_arena_t *ar_arena_create(const ar_options_t *opts) {
  ar_options_t o;
  ar_error_t bad = ar_options_validate_(opts, &o); /* options.c: shared with pools, threads */
  if (bad != AR_OK) return (ar_arena_t *)fail(bad);
  o.chunk_size = ar_align_up_(o.chunk_size, 64);
  const ar_source_t *src = o.source ? o.source : ar_source_os();

  ar_arena_t *a = (ar_arena_t *)calloc(1, sizeof *a);
  if (a == NULL) return (ar_arena_t *)fail(AR_ENOMEM);
  a->magic = AR_ARENA_LIVE;
  a->source = *src;
  a->chunk_size = o.chunk_size;
  a->large_threshold = (o.chunk_size - AR_CHUNK_OVERHEAD) / 4;
  a->retain_bytes = o.retain_bytes;
  a->limit_bytes = o.limit_bytes;
  a->checked = (o.flags & AR_ARENA_CHECKED) != 0 || AR_DEBUG >= 2;
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
  a->owner = pthread_self();
  init_marks(a);
  a->created_ns = ar_now_ns_();
  if (o.name != NULL) {
    strncpy(a->name, o.name, sizeof a->name - 1);
    a->name[sizeof a->name - 1] = '\0';
  }
  /* The heap flavor holds no chunks: preallocation has nothing to do. */
  for (size_t i = 0; i < (AR_HEAP ? 0 : o.prealloc_chunks); i++) {
    ar_chunk_t *c = chunk_acquire(a, a->chunk_size);
    if (c == NULL) {
      /* Not ar_arena_destroy: an arena that was never created is not counted as destroyed
       * (stats.h: "arenas created", the lifetimes). */
      clear(a, 0);
#if AR_VALGRIND
      if (a->vg) VALGRIND_DESTROY_MEMPOOL(a);
#endif
      free(a);
      return (ar_arena_t *)fail(AR_ENOMEM);
    }
    c->next = a->spare;
    a->spare = c;
    a->nspare++;
  }
  ar_global_arena_created_();
  return a;
}

/* The save-point record starts inline (the first few depths never need malloc, so ar_mark on
 * a new or reset arena cannot run out of memory), and its stamps start at a value no other
 * arena's do, so a mark from another arena does not match by accident. */
static void init_marks(ar_arena_t *a) {
  static uint64_t arenas_seen;
  if (a->stamps != NULL && a->stamps != a->stamps_inline) free(a->stamps);
  a->stamps = a->stamps_inline;
  a->stamps_cap = sizeof a->stamps_inline / sizeof a->stamps_inline[0] / 2;
  if (a->stamp_clock == 0)
    a->stamp_clock = __atomic_add_fetch(&arenas_seen, 1, __ATOMIC_RELAXED) << 32;
}

/* Reset, release and destroy invalidate every mark; release and destroy free the record. */
static void forget_marks(ar_arena_t *a, bool free_record) {
  a->ndepth = 0;
  a->floor_chunk = NULL;
  a->floor_cur = NULL;
  if (free_record) init_marks(a);
}

static void run_cleanups(ar_arena_t *a, size_t keep) {
  if (a->ncleanups <= keep) return;
  a->in_cleanup = true;
  a->hot.end_ = a->hot.cur_; /* a cleanup that allocates must reach the slow path's EBUSY */
  while (a->ncleanups > keep) {
    ar_cleanup_t *c = a->cleanups;
    a->cleanups = c->next;
    a->ncleanups--;
    c->fn(c->arg);
  }
  a->in_cleanup = false;
  sync_hot_end(a);
}

/* The body of reset, release and destroy: everything goes; `keep` bytes of ordinary chunks
 * stay as spares. */
static void clear(ar_arena_t *a, size_t keep) {
  update_peak(a);
  run_cleanups(a, 0);
  ar_recycle_forget_(a);
  heap_free_from(a, 0); /* nothing to do outside the heap flavor */
  if (keep == 0) { /* release and destroy give back the heap flavor's tracking array too */
    free(a->hblocks);
    a->hblocks = NULL;
    a->hcap = 0;
  }
  if (a->chunks != NULL) retire_current(a);
  /* Idle chunks from earlier cycles make way for the ones this cycle used (AR_RETAIN_AUTO
   * keeps dedicated chunks too, so both kinds compete for `keep`). */
  if (retain_auto(a)) {
    size_t need = a->capacity - idle_bytes(a);
    while (idle_bytes(a) != 0 && idle_bytes(a) + need > keep) (void)drop_one_idle(a);
  }
  ar_chunk_t *list = a->chunks;
  a->chunks = NULL;
  while (list != NULL) {
    ar_chunk_t *c = list;
    list = c->next;
    verify_or_die(a, c->data, c->top);
    scrub(a, c->data, c->top);
    a->nchunks--;
    stash_or_release(a, c, keep);
  }
  while (a->large != NULL) {
    ar_chunk_t *c = a->large;
    a->large = c->next;
    verify_or_die(a, c->data, c->top);
    a->nlarge--;
    keep_or_release_large(a, c, keep);
  }
  /* Chunks kept from earlier may exceed a smaller `keep` (release). */
  while (idle_bytes(a) > keep) (void)drop_one_idle(a);
  a->used_retired = 0;
  a->hot.cur_ = NULL;
  a->limit = NULL;
  forget_marks(a, keep == 0);
  sync_hot_end(a);
  /* Reset (keep > 0): a kept spare becomes the current chunk at once, so the first
   * allocation of the next request is an inline bump, not a trip out of line. That trip
   * costs more than a dozen inline allocations, which is what a small request makes. */
  if (keep > 0 && a->spare != NULL) (void)push_new_chunk(a);
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
}

/* Reset, release and destroy from inside a cleanup would free the memory the running cleanup
 * chain lives in: a programming error, reported loudly at every debug level. */
static void forbid_in_cleanup(const ar_arena_t *a) {
  if (AR_UNLIKELY(a->in_cleanup))
    ar_fatal_("arena '%s': reset, release or destroy called from a cleanup callback", a->name);
}

void ar_reset(ar_arena_t *a) {
  if (a == NULL) return;
  check_owner(a);
  forbid_in_cleanup(a);
  clear(a, retain_auto(a) ? keep_target(a) : a->retain_bytes);
}

void ar_release(ar_arena_t *a) {
  if (a == NULL) return;
  check_owner(a);
  forbid_in_cleanup(a);
  clear(a, 0);
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

void ar_arena_destroy(ar_arena_t *a) {
  if (a == NULL) return;
  /* No owner check: destroying after the owner has been joined is the normal pattern. */
  if (AR_UNLIKELY(a->magic != AR_ARENA_LIVE)) ar_arena_dead_(a);
  forbid_in_cleanup(a);
  clear(a, 0);
#if AR_VALGRIND
  if (a->vg) VALGRIND_DESTROY_MEMPOOL(a);
#endif
  free(a->kept); /* clear(a, 0) emptied it */
  a->kept = NULL;
  ar_registry_remove_(a->reg);
  a->reg = NULL;
  ar_global_arena_destroyed_(a->created_ns);
  a->magic = AR_ARENA_DEAD;
  if (a->checked) {
    /* cur_ == end_ == NULL: the inline path's room test fails, so every call comes out of
     * line and meets the magic check. */
    a->hot.cur_ = NULL;
    a->hot.end_ = NULL;
    pthread_mutex_lock(&graveyard_lock);
    ar_arena_t *evicted = graveyard[graveyard_next];
    graveyard[graveyard_next] = a;
    graveyard_next = (graveyard_next + 1) % AR_GRAVEYARD;
    pthread_mutex_unlock(&graveyard_lock);
    free(evicted);
    return;
  }
  free(a);
}

ar_arena_t *ar_arena_create_listed_(const ar_options_t *opts, int kind, const char *name) {
  ar_options_t o = *opts;
  if (o.chunk_size == 0) o.chunk_size = AR_DEFAULT_CHUNK_SIZE;
  if (o.source == NULL) o.source = ar_default_source_(o.chunk_size);
  o.name = name;
  ar_arena_t *a = ar_arena_create(&o);
  if (a == NULL) return NULL;
  a->reg = ar_registry_add_(kind, a, name, -1);
  if (a->reg == NULL) {
    ar_arena_destroy(a);
    ar_set_error_(AR_ENOMEM);
    return NULL;
  }
  /* Chunks acquired before the entry existed (prealloc) show in its mirror too. */
  ar_registry_mirror_(a->reg, a->capacity);
  return a;
}

void ar_arena_adopt(ar_arena_t *a) {
  if (a != NULL) a->owner = pthread_self();
}

/* ---- marks --------------------------------------------------------------------------- */

/*
 * Marks. A mark names a save point, and a rewind must accept exactly the marks whose save
 * point still exists. Positions cannot tell: after a rewind the cursor grows back over the
 * same addresses, and a mark taken before the rewind then names a position that exists again
 * with other allocations in it. So the arena keeps the live save points as a stack
 * (`ndepth` of them), and every mark carries its depth and a generation, a value of
 * `stamp_clock` (never reused, not even across resets). The save point at depth d accepts the
 * generations [first, limit] (stamps[2d], stamps[2d + 1]): ar_mark pushes a save point with
 * first = limit = a new generation; a rewind to mark m pops everything above m's depth and
 * sets that save point's limit to m's generation; reset empties the stack. A mark is valid
 * exactly when the save point at its depth still accepts its generation. This is O(1) per
 * call and exact.
 *
 * A loop that marks and rewinds (every request scope) would push a new depth on every pass,
 * since the mark it rewound to stays valid. So ar_mark reuses the top save point when
 * nothing has happened since it was taken or rewound to (same allocation count, count of
 * ar_free/ar_realloc calls, cursor and cleanup count; the inline path bumps the allocation
 * count, so this costs it nothing). If the top save point was rewound to since its last mark
 * (top_rewound), the new mark takes a new generation and becomes the limit: a rewind to the
 * mark rewound to (or to any earlier one) lowers the limit again and makes the new mark
 * stale, as arena.h promises for every mark taken after the mark rewound to. Otherwise (marks
 * in a row, nothing in between) it takes the limit's generation: the two marks are one save
 * point, and a rewind to either leaves the other valid. The stack is thus never deeper than
 * the number of distinct positions marked, and typical code keeps it as deep as its nesting
 * of scopes.
 *
 * The stack needs memory: four depths inline in the arena, then malloc, doubling. If it cannot
 * grow, ar_mark sets AR_ENOMEM and returns a mark at the top save point's depth with its own
 * position and a new generation that becomes the limit: rewinding to it works, and a rewind
 * to an earlier mark makes it stale like any later mark.
 *
 * A chunk that a mark names may be given back while it is empty (drop_idle_head, under a
 * limit). Such a mark named the same place as the top of the chunk below, so the rewind pops
 * chunks by sequence number (everything newer than the mark) rather than up to the mark's
 * chunk, and leaves the cursor where the chunk it finds on top ends.
 *
 * The newest save point's position is also the floor below which no give-back may move the
 * cursor (recycle.c): save points' positions then grow with their depth, and a rewind to any
 * of them finds its position intact.
 */
static bool push_save_point(ar_arena_t *a) {
  if (a->ndepth == a->stamps_cap) {
    size_t cap = a->stamps_cap * 2;
    uint64_t *ns = (uint64_t *)malloc(2 * cap * sizeof *ns);
    if (ns == NULL) return false;
    memcpy(ns, a->stamps, 2 * a->ndepth * sizeof *ns);
    if (a->stamps != a->stamps_inline) free(a->stamps);
    a->stamps = ns;
    a->stamps_cap = cap;
  }
  uint64_t gen = ++a->stamp_clock;
  a->stamps[2 * a->ndepth] = gen; /* first generation */
  a->stamps[2 * a->ndepth + 1] = gen; /* limit */
  a->ndepth++;
  a->top_rewound = false;
  return true;
}

/* The arena's state is now that of the top save point (it was just pushed or rewound to). */
static void note_top(ar_arena_t *a) {
  a->top_nalloc = a->hot.nalloc_;
  a->top_mutations = a->mutations;
  a->top_cur = a->hot.cur_;
  a->top_ncleanups = a->ncleanups;
  a->floor_chunk = a->chunks;
  a->floor_cur = a->hot.cur_;
}

ar_mark_t ar_mark(ar_arena_t *a) {
  ar_mark_t m;
  memset(&m, 0, sizeof m);
  if (a == NULL) {
    m.depth_ = UINT64_MAX; /* no arena's stack is this deep: every rewind rejects it */
    ar_set_error_(AR_EINVAL);
    return m;
  }
  check_owner(a);
  bool same = a->ndepth > 0 && a->top_nalloc == a->hot.nalloc_ &&
              a->top_mutations == a->mutations && a->top_cur == a->hot.cur_ &&
              a->top_ncleanups == a->ncleanups;
  if (!same) {
    if (push_save_point(a)) {
      note_top(a);
    } else {
      ar_set_error_(AR_ENOMEM);
      if (a->ndepth == 0) {
        m.depth_ = UINT64_MAX;
        return m;
      }
      /* The top save point with a generation of its own and this position; the floor moves
       * up to it. */
      a->floor_chunk = a->chunks;
      a->floor_cur = a->hot.cur_;
      a->stamps[2 * a->ndepth - 1] = ++a->stamp_clock;
      a->top_rewound = false;
    }
  } else if (a->top_rewound) {
    /* The first mark since a rewind to this save point: a later generation, so that the next
     * rewind to the mark rewound to (or an earlier one) makes this one stale. */
    a->stamps[2 * a->ndepth - 1] = ++a->stamp_clock;
    a->top_rewound = false;
  }
  m.depth_ = a->ndepth - 1;
  m.stamp_ = a->stamps[2 * m.depth_ + 1];
  if (!AR_HEAP) {
    m.chunk_ = a->chunks;
    m.cur_ = a->hot.cur_;
  }
  m.seq_ = a->seq;
  m.ncleanup_ = a->ncleanups;
  return m;
}

/* A valid mark: its save point is still on the stack (and, belt and braces, what it names is
 * still there). */
static bool mark_valid(const ar_arena_t *a, const ar_mark_t *m) {
  if (m->depth_ >= a->ndepth || m->stamp_ < a->stamps[2 * m->depth_] ||
      m->stamp_ > a->stamps[2 * m->depth_ + 1])
    return false;
  if (m->ncleanup_ > a->ncleanups || m->seq_ > a->seq) return false;
  if (!AR_HEAP && m->chunk_ != NULL) {
    /* Its chunk may be gone only if it was given back empty (drop_idle_head). */
    for (ar_chunk_t *c = a->chunks; c != NULL; c = c->next) {
      if (c == m->chunk_ && c->seq <= m->seq_) {
        char *top = c == a->chunks ? a->hot.cur_ : c->top;
        return m->cur_ >= c->data && m->cur_ <= top;
      }
    }
  }
  return true;
}

int ar_rewind(ar_arena_t *a, const ar_mark_t *m) {
  if (a == NULL || m == NULL) return ar_set_error_(AR_EINVAL);
  check_owner(a);
  if (a->in_cleanup) return ar_set_error_(AR_EBUSY);
  /* Validate before touching anything, so a stale mark leaves the arena as it was. */
  if (!mark_valid(a, m)) return ar_set_error_(AR_ESTALE);
  update_peak(a);
  run_cleanups(a, m->ncleanup_);
  ar_recycle_forget_(a);
  if (AR_HEAP) {
    heap_free_from(a, heap_mark_count(a, m->seq_));
  } else {
    size_t keep = retain_auto(a) ? keep_target(a) : a->retain_bytes;
    if (a->chunks != NULL) retire_current(a);
    /* Every ordinary chunk pushed since the mark has a larger seq. */
    while (a->chunks != NULL && a->chunks->seq > m->seq_) {
      ar_chunk_t *c = a->chunks;
      a->chunks = c->next;
      a->nchunks--;
      a->used_retired -= (size_t)(c->top - c->data);
      verify_or_die(a, c->data, c->top);
      scrub(a, c->data, c->top);
      stash_or_release(a, c, keep);
    }
    activate_head(a);
    /* If the mark's chunk is gone (given back while empty), the mark named the top of the
     * chunk now current, which is where activate_head left the cursor. */
    if (a->chunks != NULL && a->chunks == m->chunk_) {
      verify_or_die(a, m->cur_, a->hot.cur_);
      scrub(a, m->cur_, a->hot.cur_);
      a->hot.cur_ = m->cur_;
    }
    while (a->large != NULL && a->large->seq > m->seq_) {
      ar_chunk_t *c = a->large;
      a->large = c->next;
      a->nlarge--;
      a->used_retired -= (size_t)(c->top - c->data);
      verify_or_die(a, c->data, c->top);
      keep_or_release_large(a, c, keep);
    }
  }
  sync_hot_end(a);
  a->ndepth = (size_t)m->depth_ + 1;
  a->stamps[2 * m->depth_ + 1] = m->stamp_; /* marks taken after m at this point are stale */
  a->top_rewound = true;
  note_top(a);
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
  return AR_OK;
}

/* ---- cleanups ------------------------------------------------------------------------ */

int ar_defer(ar_arena_t *a, ar_cleanup_fn fn, void *arg) {
  if (a == NULL || fn == NULL) return ar_set_error_(AR_EINVAL);
  ar_cleanup_t *c = (ar_cleanup_t *)alloc_for(a, sizeof *c, __builtin_return_address(0));
  if (c == NULL) return ar_last_error();
  c->fn = fn;
  c->arg = arg;
  c->next = a->cleanups;
  a->cleanups = c;
  a->ncleanups++;
  return AR_OK;
}

/* ---- introspection ------------------------------------------------------------------- */

int ar_arena_stats(ar_arena_t *a, ar_stats_t *out) {
  if (a == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  if (AR_UNLIKELY(a->magic != AR_ARENA_LIVE)) ar_arena_dead_(a);
  update_peak(a);
  out->used = current_used(a);
  out->capacity = a->capacity;
  out->peak = a->peak;
  /* An empty current chunk (kept current by reset, or emptied by a rewind) holds nothing:
   * it is reported as a spare, so that the figures do not depend on which empty chunk the
   * cursor happens to sit in. */
  size_t idle = a->chunks != NULL && a->hot.cur_ == a->chunks->data;
  out->chunks = a->nchunks - idle;
  out->large_chunks = a->nlarge;
  out->spare_chunks = a->nspare + idle + a->nkept;
  out->allocs = a->hot.nalloc_;
  out->cleanups = a->ncleanups;
  out->recycled = a->recycled_bytes;
  return AR_OK;
}

bool ar_owns(const ar_arena_t *a, const void *p) {
  if (a == NULL || p == NULL) return false;
  const char *q = (const char *)p;
  for (size_t i = a->nhblocks; i-- > 0;) { /* heap flavor only; empty otherwise */
    const ar_hblock_t *b = &a->hblocks[i];
    if (q >= b->p && q < b->p + b->size) return true;
  }
  for (const ar_chunk_t *c = a->chunks; c != NULL; c = c->next) {
    const char *top = c == a->chunks ? a->hot.cur_ : c->top;
    if (q >= c->data && q < top) return true;
  }
  for (const ar_chunk_t *c = a->large; c != NULL; c = c->next)
    if (q >= c->data && q < c->top) return true;
  return false;
}

const char *ar_arena_name(const ar_arena_t *a) { return a != NULL ? a->name : ""; }

static int corrupt(const ar_arena_t *a, const char *what) {
  fprintf(stderr, "arenart: arena '%s' (%p): invariant violated: %s\n", a->name,
          (const void *)a, what);
  return ar_set_error_(AR_ECORRUPT);
}

/* verify_records for ar_arena_check: quiet towards Valgrind, which would otherwise report
 * our reads of NOACCESS headers and guards. */
static bool records_ok(const ar_arena_t *a, char *from, char *to) {
  vg_quiet(a);
  bool ok = verify_records(a, from, to, true);
  vg_loud(a);
  return ok;
}

static int cleanups_ok(const ar_arena_t *a) {
  size_t n = 0;
  for (ar_cleanup_t *c = a->cleanups; c != NULL; c = c->next) n++;
  if (n != a->ncleanups) return corrupt(a, "cleanup count");
  return AR_OK;
}

int ar_arena_check(ar_arena_t *a) {
  if (a == NULL) return ar_set_error_(AR_EINVAL);
  if (AR_UNLIKELY(a->magic != AR_ARENA_LIVE)) ar_arena_dead_(a);
  size_t cap = 0, used = 0, n = 0;
  uint64_t prev = UINT64_MAX;
  if ((a->chunks == NULL) != (a->limit == NULL)) return corrupt(a, "current chunk vs limit");
  if (a->chunks == NULL && a->hot.cur_ != NULL) return corrupt(a, "cursor without a chunk");
  if (a->hot.end_ != (a->slow_only || a->in_cleanup ? a->hot.cur_ : a->limit))
    return corrupt(a, "inline bound");
  if (AR_HEAP) {
    if (a->chunks != NULL || a->large != NULL || a->spare != NULL) return corrupt(a, "chunks");
    if (a->nhblocks > a->hcap || a->nhblocks != a->nchunks) return corrupt(a, "block count");
    prev = 0;
    for (size_t i = 0; i < a->nhblocks; i++) {
      const ar_hblock_t *b = &a->hblocks[i];
      if (b->seq <= prev || b->seq > a->seq) return corrupt(a, "block order");
      prev = b->seq;
      /* ar_realloc may have shrunk the block in place (ar_block_shrunk_): size only drops. */
      if (b->bytes < b->size + (a->checked ? AR_REDZONE : 0))
        return corrupt(a, "block size");
      if (!heap_guard_ok(a, b, true)) return corrupt(a, "guards");
      cap += b->bytes;
    }
    if (cap != a->capacity || cap != a->used_retired) return corrupt(a, "capacity");
    if (a->limit_bytes != 0 && a->capacity > a->limit_bytes) return corrupt(a, "limit");
    return cleanups_ok(a);
  }
  for (ar_chunk_t *c = a->chunks; c != NULL; c = c->next, n++) {
    char *top = c == a->chunks ? a->hot.cur_ : c->top;
    if (c->seq == 0 || c->seq >= prev) return corrupt(a, "chunk order");
    prev = c->seq;
    if (top < c->data || top > c->limit || c->limit > (char *)c->base + c->size)
      return corrupt(a, "chunk bounds");
    if (c != a->chunks) used += (size_t)(c->top - c->data);
    if (a->checked && !records_ok(a, c->data, top)) return corrupt(a, "guards");
    cap += c->size;
  }
  if (n != a->nchunks) return corrupt(a, "chunk count");
  prev = UINT64_MAX;
  n = 0;
  for (ar_chunk_t *c = a->large; c != NULL; c = c->next, n++) {
    if (c->seq == 0 || c->seq >= prev || c->seq > a->seq) return corrupt(a, "large order");
    prev = c->seq;
    if (c->top < c->data || c->top > c->limit) return corrupt(a, "large bounds");
    if (a->checked && !records_ok(a, c->data, c->top)) return corrupt(a, "guards");
    used += (size_t)(c->top - c->data);
    cap += c->size;
  }
  if (n != a->nlarge) return corrupt(a, "large count");
  n = 0;
  for (ar_chunk_t *c = a->spare; c != NULL; c = c->next, n++) {
    if (c->size != a->chunk_size) return corrupt(a, "spare size");
    cap += c->size;
  }
  if (n != a->nspare) return corrupt(a, "spare count");
  size_t kept = 0;
  n = 0;
  for (unsigned k = 0; a->kept != NULL && k < AR_KEPT_CLASSES; k++) {
    for (ar_chunk_t *c = a->kept[k]; c != NULL; c = c->next, n++) {
      if (kept_class(c->size) != k || c->seq != 0 || c->top != c->data)
        return corrupt(a, "kept chunk");
      kept += c->size;
    }
  }
  if (n != a->nkept || kept != a->kept_bytes) return corrupt(a, "kept count");
  cap += kept;
  if (a->ndepth > 0 && a->floor_chunk == a->chunks && a->chunks != NULL &&
      a->hot.cur_ < a->floor_cur)
    return corrupt(a, "cursor below the newest mark");
  if (cap != a->capacity) return corrupt(a, "capacity");
  if (used != a->used_retired) return corrupt(a, "used bytes");
  if (a->limit_bytes != 0 && a->capacity > a->limit_bytes) return corrupt(a, "limit");
  return cleanups_ok(a);
}
