/* SPDX-License-Identifier: MIT */
/*
 * tests/model/serial_model.c - one seeded random walk over everything a single thread can do
 * with arenart, checked step by step against a reference model.
 *
 * Why a model and not more unit tests. Unit tests check the cases their author thought of, one
 * at a time; the defects of issue 14 lived in combinations (a free before a mark, then a
 * rewind; a reset, then a limit; two arenas alternating). A walk that mixes every operation on
 * several arenas at once, and after every step compares what the library says with what the
 * documentation says it must say, finds combinations nobody listed. The model is deliberately
 * written from the headers and docs/bad_input.md, not from the implementation: each MCHECK is
 * one documented promise, and where the docs leave latitude (where a recycled block lands, how
 * much a chunk wastes) the model checks a documented bound instead of a value.
 *
 * What is modelled:
 *   - three serial arenas with different shapes (chunk size, checked mode, byte limit, retain,
 *     prealloc), each on its own counting memory source that fails every Nth acquire, used in
 *     random interleaving: every allocator of arena.h, ar_free/ar_realloc of any live block,
 *     marks, rewinds (valid and stale), cleanups (order, and AR_EBUSY from inside them),
 *     reset/release, the bad inputs of docs/bad_input.md, interior/foreign/double pointers at
 *     AR_DEBUG >= 1;
 *   - scopes on the thread arena, nested, with cleanups, and ending an outer one first;
 *   - a vector, a byte buffer and a byte-key map in an arena with a failing source, including
 *     the documented aliasing arguments;
 *   - an arena pool (take/give/trim) with its stats identities and option validation.
 * Checked after every step: every return code and ar_last_error() (a failure records its code,
 * a success leaves the last error alone), the contents of every live block (fill patterns,
 * verified before anything that frees), ar_owns, ar_arena_check, capacity == what the source
 * holds, used <= capacity <= documented bound, peak >= used, exact `used` where it is defined,
 * and "unchanged" after every failed call. In ASan builds, memory taken back must be poisoned.
 *
 * Expectations that differ by build: AR_DEBUG (pointer validation), ASan (quarantine, red
 * zones, poisoning), checked mode (records); the model reads the same macros as the library.
 *
 * The walk is one program in several files, split by operation family so that each can be
 * read on its own: this file holds the driver (which operation each step draws, the checks
 * after every step, setup and teardown), the counting source and the model of the three
 * arenas with the checks and bookkeeping every family uses; model_ops_alloc.c (allocation,
 * free, realloc, bad inputs), model_ops_marks.c (marks, rewinds, resets, cleanups, scopes),
 * model_ops_containers.c and model_ops_pool.c (arena pool, creation, chunk pool, registry)
 * hold the operations, and serial_model.h what they share. Splitting moved code and changed
 * no draw: a seed gives the same AR_MODEL_TRACE lines as it did from one file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "arenart.h"
#include "tests/model/serial_model.h"

const char *model_prog = "serial_model";
uint64_t model_seed, model_step;
__thread const char *model_op = "setup";

/* ---- a counting source that fails every Nth acquire ------------------------------------- */

#define MSRC_ALIGN ((size_t)8192)

void *msrc_acquire(void *ctx, size_t size) {
  msrc_t *m = (msrc_t *)ctx;
  m->calls++;
  if (m->fail_every != 0 && m->calls % m->fail_every == 0) {
    m->failures++;
    return NULL;
  }
  /* Where a chunk starts decides how much padding an over-aligned request needs, so whether
   * it fits the chunk, so how many chunks the walk acquires, so which acquire fails: the walk
   * would depend on malloc's addresses (heap layout, ASLR, frees made by the library's
   * background threads). Every chunk therefore starts at a fixed offset from an
   * MSRC_ALIGN-aligned address (the walk asks for at most 8 KiB alignment); the offset is a
   * multiple of 64 taken from the call count, so chunk starts still vary, reproducibly. */
  size_t total = ((size + MSRC_ALIGN - 1) & ~(MSRC_ALIGN - 1)) + MSRC_ALIGN; /* C11: a multiple */
  unsigned char *base = aligned_alloc(MSRC_ALIGN, total);
  if (base == NULL) MFAIL("the test's own malloc failed");
  void *p = base + 64 * ((m->calls * 37) % (MSRC_ALIGN / 64));
  m->live_bytes += size;
  m->live_blocks++;
  return p;
}

void msrc_release(void *ctx, void *p, size_t size) {
  msrc_t *m = (msrc_t *)ctx;
  MCHECK(m->live_blocks > 0 && m->live_bytes >= size);
  m->live_bytes -= size;
  m->live_blocks--;
  free((void *)((uintptr_t)p & ~(uintptr_t)(MSRC_ALIGN - 1)));
}

const ar_source_t *msrc_init(msrc_t *m, unsigned fail_every) {
  memset(m, 0, sizeof *m);
  m->s.acquire = msrc_acquire;
  m->s.release = msrc_release;
  m->s.ctx = m;
  m->s.name = "model";
  m->fail_every = fail_every;
  return &m->s;
}

/* ---- the model of the serial arenas ------------------------------------------------------ */

mar_t ars[NARENA];

static const char *const hname[H_N] = {
    "enomem",        "elimit",       "rewinds",      "stale-marks",
    "frees",         "double-frees", "bad-pointers", "container-failures",
    "limit-pressure"};
uint64_t hist[H_N];
mar_t *cur; /* whose cleanups are running */
uint32_t next_tag = 1;
static int ran[MAXC * 4];
size_t nran;

unsigned char pat(uint32_t tag, size_t i) {
  return (unsigned char)(tag * 167u + (uint32_t)i * 13u + (tag >> 7) + (uint32_t)(i >> 8));
}
void fill(const blk_t *b) {
  for (size_t i = 0; i < b->size; i++) b->p[i] = pat(b->tag, i);
}
void verify(const blk_t *b) {
  for (size_t i = 0; i < b->size; i++)
    if (b->p[i] != pat(b->tag, i))
      MFAIL("block %p (%zu bytes, tag %u) changed at byte %zu", (void *)b->p, b->size,
            (unsigned)b->tag, i);
}
void verify_arena(const mar_t *m) {
  for (size_t i = 0; i < m->nlive; i++) verify(&m->live[i]);
}

/* What the library must account per allocation of the default alignment: the size rounded
 * to 16 (0 counts as 1), plus the per-allocation overhead of slow-only builds (a 16-byte red
 * zone under ASan; header + guard in checked mode; docs/debugging.md). */
size_t footprint(const mar_t *m, size_t size) {
  /* The heap flavor: "capacity and used are the bytes malloc'd for live allocations"
   * (docs/debugging.md): the size (0 is served as 1) plus a 16-byte guard in checked mode. */
  if (MODEL_HEAP) return (size ? size : 1) + (m->checked ? 16 : 0);
  size_t n = ((size ? size : 1) + 15) & ~(size_t)15;
  if (MODEL_ASAN) return n + 16;
  if (m->checked) return n + 32;
  return n;
}

/* Does the arena know where every block starts (arena.h, ar_free: "checked arenas
 * (AR_ARENA_CHECKED, every arena at AR_DEBUG >= 2), ASan builds and the heap flavor")? */
bool exact_pointers(const mar_t *m) {
  return m->checked || MODEL_ASAN || MODEL_HEAP || AR_DEBUG >= 2;
}

ar_stats_t stats(ar_arena_t *a) {
  ar_stats_t st;
  memset(&st, 0xEE, sizeof st);
  MCHECK(ar_arena_stats(a, &st) == AR_OK);
  return st;
}

bool stats_equal(const ar_stats_t *x, const ar_stats_t *y, bool with_capacity) {
  return x->used == y->used && x->peak == y->peak && x->chunks == y->chunks &&
         x->large_chunks == y->large_chunks && x->allocs == y->allocs &&
         x->cleanups == y->cleanups && x->recycled == y->recycled &&
         (!with_capacity || (x->capacity == y->capacity && x->spare_chunks == y->spare_chunks));
}

/* Memory taken back must be poisoned (ASan builds), unless it is no longer mapped at all (a
 * dedicated chunk or a pool overflow went back to the OS): then any access faults anyway. */
void poisoned(const void *p) {
#if MODEL_ASAN
  unsigned char v;
  void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);
  if (mincore(page, 4096, &v) != 0) return; /* unmapped */
  if (!__asan_address_is_poisoned(p))
    MFAIL("memory taken back at %p is not poisoned (docs/debugging.md: rewind, reset, release "
          "and ar_free poison again)",
          p);
#else
  (void)p;
#endif
}

/* ASan builds: "each allocation is unpoisoned for exactly its size and followed by a
 * poisoned 16-byte red zone" (docs/debugging.md). */
void exact_unpoisoned(const blk_t *b, bool shrunk) {
#if MODEL_ASAN
  if (b->size > 0 && __asan_region_is_poisoned(b->p, b->size) != NULL)
    MFAIL("a live %zu-byte block at %p is poisoned inside", b->size, (void *)b->p);
  if (shrunk && !NEW_ON(B)) return; /* the same gap as finding B, in ASan's terms */
  size_t at = b->size ? b->size : 1;
  /* The heap flavor: the red zone is ASan's malloc's, and a block that ends where the
   * allocator's mapped part of its region ends (a page boundary) has no red zone after it:
   * ASan's shadow there is left 0 (seen: seed 8 step 1595 under asan+heap). Not the library's
   * to change. */
  if (MODEL_HEAP && ((uintptr_t)(b->p + at) & 4095) == 0) return;
  if (!__asan_address_is_poisoned(b->p + at))
    MFAIL("the byte after a %zu-byte block at %p is not poisoned", b->size, (void *)b->p);
#else
  (void)b;
  (void)shrunk;
#endif
}

/* The invariants every arena keeps after every step. */
static void check_arena(mar_t *m) {
  MCHECK(ar_arena_check(m->a) == AR_OK);
  ar_stats_t st = stats(m->a);
  MCHECK(st.used <= st.capacity);
  MCHECK(st.peak >= st.used);
  if (st.used > m->max_used) m->max_used = st.used;
  if (st.peak < m->max_used || st.peak < m->last_peak)
    MFAIL("peak %zu is below a used (%zu) or peak (%zu) seen before", st.peak, m->max_used,
          m->last_peak);
  m->last_peak = st.peak;
  MCHECK(st.cleanups == m->ncleanups);
  if (MODEL_HEAP) /* the source is never called; capacity is what is malloc'd (= used) */
    MCHECK(m->src.calls == 0 && st.capacity == st.used && st.spare_chunks == 0 &&
           st.large_chunks == 0);
  else MCHECK(st.capacity == m->src.live_bytes); /* capacity = bytes of chunks held */
  size_t sum = 0;
  for (size_t i = 0; i < m->nlive; i++) sum += m->live[i].size;
  MCHECK(st.used >= sum);
  if (m->exact) {
    size_t want = (size_t)m->ncleanups * footprint(m, 3 * sizeof(void *));
    for (size_t i = 0; i < m->nlive; i++) want += footprint(m, m->live[i].size);
    if (st.used != want) MFAIL("used is %zu, the model expects exactly %zu", st.used, want);
  }
  /* Spares stay within what reset keeps (retain_bytes, or the preallocated chunks), plus the
   * empty current chunk that the stats count as a spare. */
  size_t keep = m->o.retain_bytes > m->o.prealloc_chunks * m->o.chunk_size
                    ? m->o.retain_bytes
                    : m->o.prealloc_chunks * m->o.chunk_size;
  MCHECK(st.spare_chunks * m->o.chunk_size <= keep + m->o.chunk_size);
  /* Capacity is bounded by what is in use: a retired ordinary chunk is at least half used
   * (requests over a quarter chunk go elsewhere, and the header is small next to the chunk);
   * the current chunk may be anywhere; each dedicated chunk holds one request plus its header
   * and alignment padding (at most 8 KiB alignment in this walk, twice for the padding). */
  size_t bound = 2 * st.used + m->o.chunk_size + st.spare_chunks * m->o.chunk_size +
                 st.large_chunks * (256 + 2 * 8192);
  /* arena.h: "Shrinking keeps p", and the bytes a block no longer uses come back only at
   * rewind/reset (or at once for the newest block): a shrunk block still spans what it had. */
  for (size_t i = 0; i < m->nlive; i++)
    if (m->live[i].shrunk_from > m->live[i].size)
      bound += 2 * (m->live[i].shrunk_from - m->live[i].size);
  if (st.capacity > bound)
    MFAIL("capacity %zu exceeds the bound %zu (used %zu, spares %zu, large %zu)", st.capacity,
          bound, st.used, st.spare_chunks, st.large_chunks);
  if (m->o.limit_bytes) MCHECK(st.capacity <= m->o.limit_bytes);
  for (size_t i = 0; i < m->nlive; i++) {
    const blk_t *b = &m->live[i];
    MCHECK(ar_owns(m->a, b->p));
    if (b->size > 0) MCHECK(ar_owns(m->a, b->p + b->size - 1));
    MCHECK(((uintptr_t)b->p & (b->align - 1)) == 0);
  }
}

/* No two live blocks of any arena overlap; zero-size blocks count as one byte (they are
 * unique pointers, arena.h). */
static int cmp_blk(const void *x, const void *y) {
  const blk_t *a = *(const blk_t *const *)x, *b = *(const blk_t *const *)y;
  return a->p < b->p ? -1 : a->p > b->p;
}
static void check_disjoint(void) {
  static const blk_t *all[NARENA * MAXL];
  size_t n = 0;
  for (size_t i = 0; i < NARENA; i++)
    for (size_t k = 0; k < ars[i].nlive; k++) all[n++] = &ars[i].live[k];
  qsort(all, n, sizeof all[0], cmp_blk);
  for (size_t i = 1; i < n; i++) {
    size_t len = all[i - 1]->size ? all[i - 1]->size : 1;
    if (all[i - 1]->p + len > all[i]->p)
      MFAIL("live blocks overlap: %p (%zu bytes) and %p (%zu bytes)", (void *)all[i - 1]->p,
            all[i - 1]->size, (void *)all[i]->p, all[i]->size);
  }
}

/* ---- cleanups ------------------------------------------------------------------------- */

void on_cleanup(void *arg) {
  if (nran < sizeof ran / sizeof ran[0]) ran[nran++] = (int)(intptr_t)arg;
  /* A cleanup may not allocate or rewind (AR_EBUSY); the last error it leaves behind is
   * restored so the caller's own check sees only the reset/rewind itself. */
  ar_error_t before = ar_last_error();
  void *p = ar_alloc(cur->a, 8);
  if (p != NULL || ar_last_error() != AR_EBUSY) MFAIL("ar_alloc inside a cleanup: not AR_EBUSY");
  if (cur->nlive > 0) {
    blk_t *b = &cur->live[0];
    if (ar_realloc(cur->a, b->p, b->size, b->size + 64) != NULL || ar_last_error() != AR_EBUSY)
      MFAIL("ar_realloc inside a cleanup: not AR_EBUSY");
  }
  ar_mark_t mk = ar_mark(cur->a);
  if (ar_rewind(cur->a, &mk) != AR_EBUSY) MFAIL("ar_rewind inside a cleanup: not AR_EBUSY");
  if (before == AR_OK) ar_clear_error();
  else (void)ar_arena_stats(NULL, NULL); /* plants AR_EINVAL, the only other value used */
}

/* The cleanups registered after `keep` ran, newest first, and nothing else. */
void expect_ran(mar_t *m, size_t keep) {
  size_t want = m->ncleanups - keep;
  if (nran != want) MFAIL("%zu cleanups ran, %zu expected", nran, want);
  for (size_t i = 0; i < want; i++) MCHECK(ran[i] == m->cleanups[m->ncleanups - 1 - i]);
  m->ncleanups = keep;
  nran = 0;
}

/* ---- allocation outcome --------------------------------------------------------------- */

before_t snap(mar_t *m) {
  before_t b = {stats(m->a), m->src.failures, m->src.live_bytes};
  return b;
}

/* An upper bound on the chunk bytes a request can need: a fresh ordinary chunk, or a
 * dedicated one of the request plus header and padding. */
static size_t need_upper(const mar_t *m, size_t size, size_t align) {
  size_t fp = footprint(m, size) + (align > 16 ? align : 0);
  size_t large = fp + 256 + (align > 64 ? align : 0);
  return large > m->o.chunk_size ? large : m->o.chunk_size;
}

/* Judges a failed allocation-like call: the code must be one the state explains, the last
 * error must say the same, and the arena must be unchanged. */
void judge_failure(mar_t *m, const before_t *b, int err, size_t size, size_t align, bool large) {
  MCHECK(ar_last_error() == (ar_error_t)err);
  bool src_failed = m->src.failures != b->failures;
  hist[err == AR_ENOMEM ? H_ENOMEM : H_ELIMIT]++;
  if (err == AR_ENOMEM) {
    if (!src_failed) MFAIL("AR_ENOMEM but the source did not fail");
  } else if (err == AR_ELIMIT) {
    if (!m->o.limit_bytes) MFAIL("AR_ELIMIT without a limit");
    size_t spare = b->st.spare_chunks;
    /* Without item 6 fixed, an empty current chunk left by reset is not given up for a
     * request that needs the room: count it as in use. */
    if (!ITEM_ON(6) && spare > 0) spare--;
    size_t in_use = b->st.capacity - spare * m->o.chunk_size;
    size_t need = MODEL_HEAP ? footprint(m, size) : need_upper(m, size, align);
    if (in_use + need <= m->o.limit_bytes)
      MFAIL("AR_ELIMIT for %zu bytes (align %zu): %zu in use + at most %zu needed fits the "
            "limit %zu",
            size, align, in_use, need, m->o.limit_bytes);
  } else {
    MFAIL("allocation failed with %s", ar_strerror((ar_error_t)err));
  }
  if (src_failed && err != AR_ENOMEM) MFAIL("the source failed but the error is not AR_ENOMEM");
  ar_stats_t now = stats(m->a);
  bool with_cap = ITEM_ON(7) || !(large && m->o.limit_bytes && err == AR_ENOMEM);
  if (!stats_equal(&b->st, &now, with_cap) || (with_cap && m->src.live_bytes != b->src_bytes))
    MFAIL("a failed call (%s, %zu bytes, align %zu) changed the arena: used %zu->%zu, capacity "
          "%zu->%zu, spares %zu->%zu, chunks %zu->%zu, large %zu->%zu, allocs %llu->%llu "
          "(chunk %zu, limit %zu, retain %zu, checked %d)",
          ar_strerror((ar_error_t)err), size, align, b->st.used, now.used, b->st.capacity,
          now.capacity, b->st.spare_chunks, now.spare_chunks, b->st.chunks, now.chunks,
          b->st.large_chunks, now.large_chunks, (unsigned long long)b->st.allocs,
          (unsigned long long)now.allocs, m->o.chunk_size, m->o.limit_bytes, m->o.retain_bytes,
          m->checked);
}

bool is_large(const mar_t *m, size_t size, size_t align) {
  size_t fp = footprint(m, size) + (align > 16 ? align - 16 : 0);
  return align > 4096 || fp + 256 > m->o.chunk_size / 4;
}

blk_t *push(mar_t *m, void *p, size_t size, size_t align) {
  MCHECK(m->nlive < MAXL);
  blk_t *b = &m->live[m->nlive++];
  b->p = (unsigned char *)p;
  b->size = size;
  b->align = align < 16 ? 1 : align;
  b->tag = next_tag++;
  b->birth = m->births++;
  b->maybe_recycled = m->listed_free;
  b->large = is_large(m, size, align < 16 ? 16 : align);
  b->shrunk_from = 0;
  m->newest = p;
  m->moved = true;
  return b;
}

size_t pick_size(rng_t *r) {
  switch (below(r, 10)) {
    case 0: return 0;
    case 1:
    case 2:
    case 3: return below(r, 48);
    case 4:
    case 5: return below(r, 600);
    case 6:
    case 7: return below(r, 4000);
    case 8: return below(r, 20000);
    default: return 16 * below(r, 64); /* exact multiples of 16: un-bump arithmetic */
  }
}

void drop(mar_t *m, size_t i) { m->live[i] = m->live[--m->nlive]; }

/* ---- the walk -------------------------------------------------------------------------- */

static bool model_trace;

static void walk(uint64_t seed, uint64_t steps) {
  rng_t r = {seed};
  model_seed = seed;
  model_step = 0;
  model_op = "setup";
  static const size_t chunks[] = {256, 1024, 4096, 16384, 65536};
  static const unsigned fails[] = {0, 0, 3, 5, 7, 13};
  for (size_t i = 0; i < NARENA; i++) {
    mar_t *m = &ars[i];
    memset(m, 0, sizeof *m);
    ar_options_init(&m->o);
    m->o.chunk_size = chunks[below(&r, 5)];
    m->o.retain_bytes = m->o.chunk_size * below(&r, 4);
    m->o.prealloc_chunks = below(&r, 3);
    m->o.limit_bytes = chance(&r, 50) ? m->o.chunk_size * (8 + below(&r, 24)) : 0;
    m->o.flags = chance(&r, 30) ? AR_ARENA_CHECKED : 0;
    m->checked = (m->o.flags & AR_ARENA_CHECKED) || AR_DEBUG >= 2;
    if (MODEL_ASAN) m->checked = false; /* ASan's shadow replaces checked mode */
    m->o.name = i == 0 ? "model-0" : i == 1 ? "model-1" : "model-2-with-a-long-name-truncated";
    /* The failing source starts failing only after creation (prealloc must succeed). */
    m->o.source = msrc_init(&m->src, 0);
    m->a = ar_arena_create(&m->o);
    MCHECK(m->a != NULL);
    m->src.fail_every = fails[below(&r, 6)];
    MCHECK(strncmp(ar_arena_name(m->a), m->o.name, 31) == 0 && strlen(ar_arena_name(m->a)) <= 31);
    ar_stats_t st = stats(m->a);
    size_t pre = MODEL_HEAP ? 0 : m->o.prealloc_chunks; /* the heap flavor preallocates nothing */
    MCHECK(st.capacity == pre * m->o.chunk_size);
    MCHECK(st.spare_chunks == pre && st.used == 0);
    m->exact = true;
  }
  containers_begin(&r);
  pool_begin();
  scopes_begin();
  chunk_pool_begin();

  for (model_step = 0; model_step < steps; model_step++) {
    mar_t *m = &ars[below(&r, NARENA)];
    /* Plant a last error that a successful call must leave alone. */
    bool plant = chance(&r, 50);
    if (plant) (void)ar_arena_stats(NULL, NULL);
    else ar_clear_error();
    ar_error_t planted = plant ? AR_EINVAL : AR_OK;
    unsigned op = (unsigned)below(&r, 100);
    bool may_fail = true;
    /* Ops on m alone: the process-wide byte counters move exactly as m's capacity does
     * (stats.h: bytes arenas took from and gave back to their sources). */
    bool solo = op < 68 || (op >= 95 && op < 96);
    ar_global_stats_t g0;
    MCHECK(ar_stats_global(&g0) == AR_OK);
    size_t cap0 = MODEL_HEAP ? stats(m->a).capacity : m->src.live_bytes;
    if (op < 28) op_alloc(m, &r);
    else if (op < 36) op_free(m, &r);
    else if (op < 43) op_realloc(m, &r);
    else if (op < 49) op_mark(m), may_fail = false;
    else if (op < 55) op_rewind(m, &r);
    else if (op < 58) op_reset(m, &r);
    else if (op < 62) op_defer(m);
    else if (op < 65) op_bad(m, &r);
    else if (op < 68) {
      if (below(&r, 8) == 0) op_guard(m, &r);
      else op_bad_pointer(m, &r);
    } else if (op < 78) op_scope(&r);
    else if (op < 84) op_vec(&r);
    else if (op < 89) op_buf(&r);
    else if (op < 94) op_map(&r);
    else if (op < 95) op_pool(&r);
    else if (op < 96) op_pressure(m, &r);
    else if (op < 97) op_chunk_pool(&r), op_create(&r);
    else {
      model_op = "verify";
      for (size_t i = 0; i < NARENA; i++) verify_arena(&ars[i]);
      containers_verify();
      may_fail = false;
    }
    if (model_trace)
      fprintf(stderr,
              "trace: step %llu arena %zu op %s nlive %zu nmarks %zu births %llu used %zu "
              "capacity %zu\n",
              (unsigned long long)model_step, (size_t)(m - ars), model_op, m->nlive, m->nmarks,
              (unsigned long long)m->births, stats(m->a).used, stats(m->a).capacity);
    if (!may_fail && ar_last_error() != planted)
      MFAIL("a successful call changed the last error from %d to %d", planted, ar_last_error());
    model_op = "invariants";
    check_arena(m);
    check_disjoint();
    if (solo) {
      ar_global_stats_t g1;
      MCHECK(ar_stats_global(&g1) == AR_OK);
      int64_t dg = (int64_t)(g1.bytes_acquired - g0.bytes_acquired) -
                   (int64_t)(g1.bytes_released - g0.bytes_released);
      int64_t dc = (int64_t)(MODEL_HEAP ? stats(m->a).capacity : m->src.live_bytes) - (int64_t)cap0;
      if (dg != dc)
        MFAIL("process-wide bytes moved by %lld, the arena's capacity by %lld", (long long)dg,
              (long long)dc);
      MCHECK(g1.arenas_live == g0.arenas_live);
    }
    if (below(&r, 8) == 0) containers_verify();
  }

  model_op = "teardown";
  containers_verify();
  scopes_end();
  pool_end();
  chunk_pool_end();
  containers_end();
  for (size_t i = 0; i < NARENA; i++) {
    mar_t *m = &ars[i];
    verify_arena(m);
    cur = m;
    nran = 0;
    ar_arena_destroy(m->a);
    expect_ran(m, 0);
    if (m->src.live_bytes != 0)
      MFAIL("arena %zu leaked %zu bytes to its source", i, m->src.live_bytes);
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  model_args_t a = {1, 3000, 80};
  model_parse(&a, argc, argv);
  model_trace = getenv("AR_MODEL_TRACE") != NULL;
  double t0 = now_s();
  for (uint64_t w = 0; w < a.walks; w++) walk(a.seed + w, a.steps);
  for (int i = 0; i < H_N; i++)
    printf("%s%s %llu", i ? ", " : "outcomes: ", hname[i], (unsigned long long)hist[i]);
  printf("\n");
  printf("serial_model: %llu walks of %llu steps (seeds %llu..%llu), AR_DEBUG %d, asan %d: "
         "no differences in %.2f s\n",
         (unsigned long long)a.walks, (unsigned long long)a.steps, (unsigned long long)a.seed,
         (unsigned long long)(a.seed + a.walks - 1), AR_DEBUG, MODEL_ASAN, now_s() - t0);
  return 0;
}
