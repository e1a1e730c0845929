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
 *   spare   empty ordinary chunks kept by reset/rewind (within `retain_bytes`) for reuse.
 * Every chunk that enters `chunks` or `large` takes the next value of one sequence counter, so
 * both lists are in allocation order and a mark is just (current chunk, cursor, counter):
 * rewinding pops what is newer on each list.
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
 * Thread contract: owner thread only (see arena.h). The owner check costs a pthread_self()
 * per out-of-line call at debug level >= 1 and nothing at level 0.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"
#include "runtime/internal.h"

/* Slack for the chunk header: up to 15 bytes to 16-align it, the header, and up to 63 bytes
 * to 64-align the data. */
#define AR_CHUNK_OVERHEAD ((size_t)(15 + sizeof(ar_chunk_t) + 63))
#define AR_PAGE_ALIGN ((size_t)4096)
#define AR_REDZONE ((size_t)16)
#define AR_MAX_CHUNK_SIZE ((size_t)1 << 30)

/* Checked-mode record headers. */
#define AR_REC_ALLOC UINT64_C(0xA110CA7EDA110CA7)
#define AR_REC_SKIP UINT64_C(0x5C1B5C1B5C1B5C1B)
#define AR_GUARD_BYTE 0xAB
#define AR_JUNK_BYTE 0xDD

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
  ar_assert(c->data < c->limit);
  ar_poison_(c->data, (size_t)(c->limit - c->data));
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
  a->source.release(a->source.ctx, base, size);
}

/* Memory between `from` and `to` no longer holds live allocations. */
static void scrub(const ar_arena_t *a, char *from, char *to) {
  if (to <= from) return;
  if (a->checked) memset(from, AR_JUNK_BYTE, (size_t)(to - from));
  ar_poison_(from, (size_t)(to - from));
}

/* Keeps an emptied ordinary chunk as a spare if the retain cap allows, else returns it. */
static void stash_or_release(ar_arena_t *a, ar_chunk_t *c, size_t keep_bytes) {
  if ((a->nspare + 1) * a->chunk_size <= keep_bytes) {
    c->seq = 0;
    c->top = c->data;
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

static void report_corruption(const ar_arena_t *a, const char *what, const void *at,
                              uint64_t size) {
  fprintf(stderr,
          "arenart: arena '%s' (%p): %s at %p (allocation of %llu bytes); memory was written "
          "past the end of an allocation or after it was freed\n",
          a->name, (const void *)a, what, at, (unsigned long long)size);
}

/* Walks the records in [from, to) and checks every guard. Returns false on damage. */
static bool verify_records(const ar_arena_t *a, char *from, char *to, bool loud) {
  char *q = from;
  while (q < to) {
    if ((size_t)(to - q) < sizeof(ar_record_t)) {
      if (loud) report_corruption(a, "truncated record", q, 0);
      return false;
    }
    ar_record_t rec;
    memcpy(&rec, q, sizeof rec);
    if (rec.magic == AR_REC_SKIP) {
      if (rec.size < sizeof rec || rec.size > (uint64_t)(to - q)) {
        if (loud) report_corruption(a, "damaged padding record", q, rec.size);
        return false;
      }
      q += rec.size;
      continue;
    }
    if (rec.magic != AR_REC_ALLOC) {
      if (loud) report_corruption(a, "damaged allocation header", q, 0);
      return false;
    }
    char *data = q + sizeof rec;
    size_t n = ar_align_up_((size_t)rec.size, AR_ALIGN_DEFAULT);
    char *end = data + n + AR_REDZONE;
    if (rec.size > AR_MAX_ALLOC_SIZE || end > to) {
      if (loud) report_corruption(a, "damaged allocation header", q, rec.size);
      return false;
    }
    for (char *g = data + rec.size; g < end; g++) {
      if ((unsigned char)*g != AR_GUARD_BYTE) {
        if (loud) report_corruption(a, "overwritten guard byte", g, rec.size);
        return false;
      }
    }
    q = end;
  }
  return true;
}

static void verify_or_die(const ar_arena_t *a, char *from, char *to) {
  if (a->checked && !verify_records(a, from, to, true))
    ar_fatal_("arena '%s': guard check failed (see above)", a->name);
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
    uintptr_t h = p - sizeof(ar_record_t);
    if (h > c) {
      ar_record_t skip = {AR_REC_SKIP, (uint64_t)(h - c)};
      memcpy((void *)c, &skip, sizeof skip);
    }
    ar_record_t rec = {AR_REC_ALLOC, (uint64_t)size};
    memcpy((void *)h, &rec, sizeof rec);
    memset((char *)p + size, AR_GUARD_BYTE, (size_t)(e - p - size));
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

/* Releases spare chunks until `need` more bytes fit under the limit. */
static bool make_room(ar_arena_t *a, size_t need) {
  if (a->limit_bytes == 0) return true;
  /* Give nothing back unless it is enough: a request that fails leaves the arena unchanged. */
  if (need > a->limit_bytes || a->capacity - a->nspare * a->chunk_size > a->limit_bytes - need)
    return false;
  while (a->capacity + need > a->limit_bytes || a->capacity + need < need) {
    ar_chunk_t *c = a->spare;
    if (c == NULL) return false;
    a->spare = c->next;
    a->nspare--;
    chunk_release(a, c);
  }
  return true;
}

static ar_error_t push_new_chunk(ar_arena_t *a) {
  ar_chunk_t *c = a->spare;
  if (c != NULL) {
    a->spare = c->next;
    a->nspare--;
  } else {
    if (!make_room(a, a->chunk_size)) return AR_ELIMIT;
    c = chunk_acquire(a, a->chunk_size);
    if (c == NULL) return AR_ENOMEM;
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
  if (!make_room(a, bytes)) return fail(AR_ELIMIT);
  ar_chunk_t *c = chunk_acquire(a, bytes);
  if (c == NULL) return fail(AR_ENOMEM);
  char *end;
  char *p = place(a, c->data, c->limit, size, align, &end);
  ar_assert(p != NULL);
  c->top = end;
  c->seq = ++a->seq;
  c->next = a->large;
  a->large = c;
  a->nlarge++;
  a->used_retired += (size_t)(end - c->data);
  a->hot.nalloc_++;
  return p;
}

/* ---- allocation ---------------------------------------------------------------------- */

void *ar_alloc_slow_(ar_arena_t *a, size_t size, size_t align) {
  if (AR_UNLIKELY(a == NULL)) return fail(AR_EINVAL);
  check_owner(a);
  if (AR_UNLIKELY(a->in_cleanup)) return fail(AR_EBUSY);
  if (AR_UNLIKELY(!ar_is_pow2_(align))) return fail(AR_EALIGN);
  if (AR_UNLIKELY(size > AR_MAX_ALLOC_SIZE || align > AR_MAX_ALLOC_SIZE))
    return fail(AR_EOVERFLOW);
  if (size == 0) size = 1;
  if (align < AR_ALIGN_DEFAULT) align = AR_ALIGN_DEFAULT;

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

void *ar_memdup(ar_arena_t *a, const void *src, size_t size) {
  if (src == NULL && size > 0) return fail(AR_EINVAL);
  void *p = ar_alloc(a, size);
  if (p != NULL && size > 0) memcpy(p, src, size);
  return p;
}

char *ar_strndup(ar_arena_t *a, const char *s, size_t n) {
  if (s == NULL) return (char *)fail(AR_EINVAL);
  size_t len = strnlen(s, n);
  if (len == SIZE_MAX) return (char *)fail(AR_EOVERFLOW);
  char *p = (char *)ar_alloc(a, len + 1);
  if (p != NULL) {
    memcpy(p, s, len);
    p[len] = '\0';
  }
  return p;
}

char *ar_strdup(ar_arena_t *a, const char *s) { return ar_strndup(a, s, SIZE_MAX); }

char *ar_vsprintf(ar_arena_t *a, const char *fmt, va_list ap) {
  if (a == NULL || fmt == NULL) return (char *)fail(AR_EINVAL);
  va_list measure;
  va_copy(measure, ap);
  int n = vsnprintf(NULL, 0, fmt, measure);
  va_end(measure);
  if (n < 0) return (char *)fail(AR_EINVAL);
  char *p = (char *)ar_alloc(a, (size_t)n + 1);
  if (p != NULL) vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *ar_sprintf(ar_arena_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = ar_vsprintf(a, fmt, ap);
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

ar_arena_t *ar_arena_create(const ar_options_t *opts) {
  ar_options_t o = AR_OPTIONS_INIT;
  if (opts != NULL) o = *opts;
  if (o.chunk_size == 0) o.chunk_size = AR_DEFAULT_CHUNK_SIZE;
  if (o.chunk_size < AR_MIN_CHUNK_SIZE || o.chunk_size > AR_MAX_CHUNK_SIZE)
    return (ar_arena_t *)fail(AR_EINVAL);
  o.chunk_size = ar_align_up_(o.chunk_size, 64);
  const ar_source_t *src = o.source ? o.source : ar_source_os();
  if (src->acquire == NULL || src->release == NULL) return (ar_arena_t *)fail(AR_EINVAL);
  if (o.limit_bytes != 0 &&
      (o.prealloc_chunks > o.limit_bytes / o.chunk_size))
    return (ar_arena_t *)fail(AR_ELIMIT);

  ar_arena_t *a = (ar_arena_t *)calloc(1, sizeof *a);
  if (a == NULL) return (ar_arena_t *)fail(AR_ENOMEM);
  a->source = *src;
  a->chunk_size = o.chunk_size;
  a->large_threshold = (o.chunk_size - AR_CHUNK_OVERHEAD) / 4;
  a->retain_bytes = o.retain_bytes;
  a->limit_bytes = o.limit_bytes;
  a->checked = (o.flags & AR_ARENA_CHECKED) != 0 || AR_DEBUG >= 2;
#if AR_ASAN
  a->checked = false; /* ASan's shadow memory is the better guard */
#endif
  a->slow_only = a->checked || AR_ASAN || AR_DEBUG >= 2;
  a->owner = pthread_self();
  a->created_ns = ar_now_ns_();
  ar_global_arena_created_();
  if (o.name != NULL) {
    strncpy(a->name, o.name, sizeof a->name - 1);
    a->name[sizeof a->name - 1] = '\0';
  }
  for (size_t i = 0; i < o.prealloc_chunks; i++) {
    ar_chunk_t *c = chunk_acquire(a, a->chunk_size);
    if (c == NULL) {
      ar_arena_destroy(a);
      return (ar_arena_t *)fail(AR_ENOMEM);
    }
    c->next = a->spare;
    a->spare = c;
    a->nspare++;
  }
  return a;
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
  if (a->chunks != NULL) retire_current(a);
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
    chunk_release(a, c);
  }
  /* Spares kept from earlier may exceed a smaller `keep` (release). */
  while (a->nspare * a->chunk_size > keep) {
    ar_chunk_t *c = a->spare;
    a->spare = c->next;
    a->nspare--;
    chunk_release(a, c);
  }
  a->used_retired = 0;
  a->hot.cur_ = NULL;
  a->limit = NULL;
  a->epoch++;
  sync_hot_end(a);
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
  clear(a, a->retain_bytes);
}

void ar_release(ar_arena_t *a) {
  if (a == NULL) return;
  check_owner(a);
  forbid_in_cleanup(a);
  clear(a, 0);
}

void ar_arena_destroy(ar_arena_t *a) {
  if (a == NULL) return;
  /* No owner check: destroying after the owner has been joined is the normal pattern. */
  forbid_in_cleanup(a);
  clear(a, 0);
  ar_registry_remove_(a->reg);
  ar_global_arena_destroyed_(a->created_ns);
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

ar_mark_t ar_mark(ar_arena_t *a) {
  ar_mark_t m;
  memset(&m, 0, sizeof m);
  if (a == NULL) {
    m.epoch_ = UINT64_MAX; /* no arena's epoch reaches this: every rewind rejects it */
    ar_set_error_(AR_EINVAL);
    return m;
  }
  check_owner(a);
  m.chunk_ = a->chunks;
  m.chunk_seq_ = a->chunks ? a->chunks->seq : 0;
  m.cur_ = a->hot.cur_;
  m.seq_ = a->seq;
  m.epoch_ = a->epoch;
  m.ncleanup_ = a->ncleanups;
  return m;
}

int ar_rewind(ar_arena_t *a, const ar_mark_t *m) {
  if (a == NULL || m == NULL) return ar_set_error_(AR_EINVAL);
  check_owner(a);
  if (a->in_cleanup) return ar_set_error_(AR_EBUSY);
  if (m->epoch_ != a->epoch || m->ncleanup_ > a->ncleanups || m->seq_ > a->seq)
    return ar_set_error_(AR_ESTALE);
  /* Validate before touching anything, so a stale mark leaves the arena as it was. */
  if (m->chunk_ != NULL) {
    ar_chunk_t *c = a->chunks;
    while (c != NULL && c != m->chunk_) c = c->next;
    if (c == NULL || c->seq != m->chunk_seq_) return ar_set_error_(AR_ESTALE);
    char *top = c == a->chunks ? a->hot.cur_ : c->top;
    if (m->cur_ < c->data || m->cur_ > top) return ar_set_error_(AR_ESTALE);
  }

  update_peak(a);
  run_cleanups(a, m->ncleanup_);
  ar_recycle_forget_(a);
  if (a->chunks != NULL) retire_current(a);
  while (a->chunks != m->chunk_) {
    ar_chunk_t *c = a->chunks;
    a->chunks = c->next;
    a->nchunks--;
    a->used_retired -= (size_t)(c->top - c->data);
    verify_or_die(a, c->data, c->top);
    scrub(a, c->data, c->top);
    stash_or_release(a, c, a->retain_bytes);
  }
  activate_head(a);
  if (a->chunks != NULL) {
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
    chunk_release(a, c);
  }
  sync_hot_end(a);
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
  return AR_OK;
}

/* ---- cleanups ------------------------------------------------------------------------ */

int ar_defer(ar_arena_t *a, ar_cleanup_fn fn, void *arg) {
  if (a == NULL || fn == NULL) return ar_set_error_(AR_EINVAL);
  ar_cleanup_t *c = (ar_cleanup_t *)ar_alloc(a, sizeof *c);
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
  update_peak(a);
  out->used = current_used(a);
  out->capacity = a->capacity;
  out->peak = a->peak;
  out->chunks = a->nchunks;
  out->large_chunks = a->nlarge;
  out->spare_chunks = a->nspare;
  out->allocs = a->hot.nalloc_;
  out->cleanups = a->ncleanups;
  out->recycled = a->recycled_bytes;
  return AR_OK;
}

bool ar_owns(const ar_arena_t *a, const void *p) {
  if (a == NULL || p == NULL) return false;
  const char *q = (const char *)p;
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

int ar_arena_check(ar_arena_t *a) {
  if (a == NULL) return ar_set_error_(AR_EINVAL);
  size_t cap = 0, used = 0, n = 0;
  uint64_t prev = UINT64_MAX;
  if ((a->chunks == NULL) != (a->limit == NULL)) return corrupt(a, "current chunk vs limit");
  if (a->chunks == NULL && a->hot.cur_ != NULL) return corrupt(a, "cursor without a chunk");
  if (a->hot.end_ != (a->slow_only || a->in_cleanup ? a->hot.cur_ : a->limit))
    return corrupt(a, "inline bound");
  for (ar_chunk_t *c = a->chunks; c != NULL; c = c->next, n++) {
    char *top = c == a->chunks ? a->hot.cur_ : c->top;
    if (c->seq == 0 || c->seq >= prev) return corrupt(a, "chunk order");
    prev = c->seq;
    if (top < c->data || top > c->limit || c->limit != (char *)c->base + c->size)
      return corrupt(a, "chunk bounds");
    if (c != a->chunks) used += (size_t)(c->top - c->data);
    if (a->checked && !verify_records(a, c->data, top, true)) return corrupt(a, "guards");
    cap += c->size;
  }
  if (n != a->nchunks) return corrupt(a, "chunk count");
  prev = UINT64_MAX;
  n = 0;
  for (ar_chunk_t *c = a->large; c != NULL; c = c->next, n++) {
    if (c->seq == 0 || c->seq >= prev || c->seq > a->seq) return corrupt(a, "large order");
    prev = c->seq;
    if (c->top < c->data || c->top > c->limit) return corrupt(a, "large bounds");
    if (a->checked && !verify_records(a, c->data, c->top, true)) return corrupt(a, "guards");
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
  if (cap != a->capacity) return corrupt(a, "capacity");
  if (used != a->used_retired) return corrupt(a, "used bytes");
  if (a->limit_bytes != 0 && a->capacity > a->limit_bytes) return corrupt(a, "limit");
  n = 0;
  for (ar_cleanup_t *c = a->cleanups; c != NULL; c = c->next) n++;
  if (n != a->ncleanups) return corrupt(a, "cleanup count");
  return AR_OK;
}
