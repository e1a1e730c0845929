/* SPDX-License-Identifier: MIT */
/*
 * tests/model/model_ops_pool.c - the serial walk's operations on things that hold arenas or
 * chunks for others: an arena pool (take, give, trim, its stats identities), a chunk pool with
 * an arena on top, ar_arena_create's documented rejections, and the process-wide counters and
 * registry walk.
 *
 * These are the operations whose effects are not confined to one of the three modelled arenas:
 * they create and destroy arenas of their own and move process-wide figures, so the walk
 * driver leaves them out of its per-step check that the global byte counters move exactly as
 * the stepped arena's capacity does, and each checks its own identities instead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/model/serial_model.h"

/* ---- the arena pool ------------------------------------------------------------------- */

static ar_arena_pool_t *pool;
static ar_arena_t *ptaken[4];
static size_t nptaken;
static ar_arena_t *plast_given;
static int pool_cleanup_ran;
static size_t plast_target; /* retain_target right after the last give */

static void on_pool_cleanup(void *arg) { pool_cleanup_ran += (int)(intptr_t)arg; }

static void pool_check(void) {
  ar_arena_pool_stats_t ps;
  MCHECK(ar_arena_pool_stats(pool, &ps) == AR_OK);
  MCHECK(ps.taken == nptaken);
  /* Every arena the pool created is taken, idle or reclaimed. */
  if (ps.idle + ps.taken + ps.reclaimed != ps.created)
    MFAIL("pool: idle %zu + taken %zu + reclaimed %llu != created %llu", ps.idle, ps.taken,
          (unsigned long long)ps.reclaimed, (unsigned long long)ps.created);
  MCHECK(ps.retain_target <= 4 * 4096);
}

void op_pool(rng_t *r) {
  model_op = "pool";
  ar_arena_pool_stats_t ps;
  MCHECK(ar_arena_pool_stats(pool, &ps) == AR_OK);
  unsigned what = (unsigned)below(r, 6);
  if (what < 2 && nptaken < 4) {
    ar_arena_t *a = ar_arena_pool_take(pool);
    MCHECK(a != NULL);
    ar_arena_pool_stats_t after;
    MCHECK(ar_arena_pool_stats(pool, &after) == AR_OK);
    if (ps.idle > 0) {
      MCHECK(after.reused == ps.reused + 1 && after.created == ps.created);
      if (plast_given != NULL) MCHECK(a == plast_given); /* LIFO: the most recently given */
    } else {
      MCHECK(after.created == ps.created + 1 && after.reused == ps.reused);
    }
    plast_given = NULL;
    ar_stats_t st = stats(a);
    MCHECK(st.used == 0 && st.cleanups == 0 && st.chunks == 0 && st.large_chunks == 0);
    /* An idle arena keeps at most the retain target the pool set when it was given back. */
    if (ps.idle > 0 && a == plast_given && st.capacity > plast_target)
      MFAIL("pooled arena kept %zu bytes, retain target was %zu", st.capacity, plast_target);
    ptaken[nptaken++] = a;
  } else if (what < 4 && nptaken > 0) {
    size_t i = below(r, nptaken);
    ar_arena_t *a = ptaken[i];
    for (int k = 0; k < 5; k++) {
      size_t n = pick_size(r);
      unsigned char *p = (unsigned char *)ar_alloc(a, n);
      MCHECK(p != NULL);
      memset(p, 0x5A, n);
    }
    pool_cleanup_ran = 0;
    MCHECK(ar_defer(a, on_pool_cleanup, (void *)(intptr_t)3) == AR_OK);
    MCHECK(ar_arena_pool_give(pool, a) == AR_OK);
    MCHECK(pool_cleanup_ran == 3); /* give resets: the cleanups ran */
    ptaken[i] = ptaken[--nptaken];
    plast_given = a;
    ar_arena_pool_stats_t after;
    MCHECK(ar_arena_pool_stats(pool, &after) == AR_OK);
    plast_target = after.retain_target;
    MCHECK(after.idle <= 3); /* max_idle */
  } else if (what == 4) {
    size_t n = ar_arena_pool_trim(pool, true);
    MCHECK(n == ps.idle);
    ar_arena_pool_stats_t after;
    MCHECK(ar_arena_pool_stats(pool, &after) == AR_OK);
    MCHECK(after.idle == 0 && after.reclaimed == ps.reclaimed + n);
    plast_given = NULL;
  } else {
    /* Option validation: what ar_arena_create rejects, the pool and the thread-arena
     * configuration reject too (item 10 for the options that slip through today). */
    ar_source_t broken = {NULL, NULL, NULL, "broken"};
    ar_arena_pool_options_t po;
    ar_arena_pool_options_init(&po);
    po.arena.chunk_size = 100;
    MCHECK(ar_arena_pool_create(&po) == NULL && ar_last_error() == AR_EINVAL);
    ar_options_t o = AR_OPTIONS_INIT;
    o.chunk_size = 100;
    MCHECK(ar_thread_arena_configure(&o) == AR_EINVAL);
    MCHECK(ar_arena_pool_take(NULL) == NULL && ar_last_error() == AR_EINVAL);
    MCHECK(ar_arena_pool_give(NULL, NULL) == AR_EINVAL);
    MCHECK(ar_arena_pool_give(pool, NULL) == AR_EINVAL);
    MCHECK(ar_arena_pool_trim(NULL, true) == 0);
    MCHECK(ar_arena_pool_stats(pool, NULL) == AR_EINVAL);
    if (ITEM_ON(10)) {
      for (int k = 0; k < 2; k++) {
        ar_options_t bad = AR_OPTIONS_INIT;
        if (k == 0) bad.chunk_size = ((size_t)1 << 30) + 64;
        else bad.source = &broken;
        MCHECK(ar_arena_create(&bad) == NULL && ar_last_error() == AR_EINVAL);
        po.arena = bad;
        ar_arena_pool_t *pp = ar_arena_pool_create(&po);
        if (pp != NULL) {
          ar_arena_pool_destroy(pp);
          MFAIL("ar_arena_pool_create accepted arena options ar_arena_create rejects (%d)", k);
        }
        MCHECK(ar_last_error() == AR_EINVAL);
        int rc = ar_thread_arena_configure(&bad);
        (void)ar_thread_arena_configure(NULL);
        if (rc != AR_EINVAL)
          MFAIL("ar_thread_arena_configure accepted options ar_arena_create rejects (%d)", k);
      }
    }
    MCHECK(ar_thread_arena_configure(NULL) == AR_OK);
  }
  pool_check();
}

static int count_entry(const ar_arena_info_t *info, void *ctx) {
  MCHECK(info->name != NULL && info->kind >= AR_KIND_THREAD && info->kind <= AR_KIND_NODE);
  (*(uint64_t *)ctx)++;
  return 0;
}
static int stop_at_first(const ar_arena_info_t *info, void *ctx) {
  (void)info;
  (*(uint64_t *)ctx)++;
  return 42;
}

/* ---- creation, chunk pools, process-wide figures ---------------------------------------- */

/* ar_arena_create's documented rejections (arena.h, bad_input rows 8 and 9), and a failed
 * creation gives back every chunk it got. */
void op_create(rng_t *r) {
  model_op = "create";
  ar_options_t o = AR_OPTIONS_INIT;
  ar_source_t broken = {msrc_acquire, NULL, NULL, "no-release"};
  msrc_t fs;
  switch (below(r, 6)) {
    case 0: o.chunk_size = AR_MIN_CHUNK_SIZE - 1 - below(r, 200); break;
    case 1: o.chunk_size = ((size_t)1 << 30) + 1 + below(r, 4096); break;
    case 2: o.source = &broken; break;
    case 3:
      o.chunk_size = 4096;
      o.limit_bytes = 4096 * (1 + below(r, 4));
      o.prealloc_chunks = o.limit_bytes / 4096 + 1 + below(r, 3);
      MCHECK(ar_arena_create(&o) == NULL && ar_last_error() == AR_ELIMIT);
      return;
    case 4: { /* the source fails during prealloc: AR_ENOMEM, nothing kept */
      o.chunk_size = 1024;
      o.prealloc_chunks = 2 + below(r, 4);
      o.source = msrc_init(&fs, (unsigned)(2 + below(r, o.prealloc_chunks - 1)));
      if (MODEL_HEAP) { /* docs/debugging.md: prealloc does nothing, the source is never called */
        ar_arena_t *ha = ar_arena_create(&o);
        MCHECK(ha != NULL && fs.calls == 0);
        ar_arena_destroy(ha);
        return;
      }
      MCHECK(ar_arena_create(&o) == NULL && ar_last_error() == AR_ENOMEM);
      if (fs.live_bytes != 0 || fs.live_blocks != 0)
        MFAIL("a failed creation kept %zu bytes of its source", fs.live_bytes);
      return;
    }
    default: { /* a good one, created and destroyed: the process-wide counters follow */
      ar_global_stats_t g0, g1, g2;
      MCHECK(ar_stats_global(&g0) == AR_OK);
      o.chunk_size = 512;
      o.prealloc_chunks = below(r, 3);
      o.source = msrc_init(&fs, 0);
      ar_arena_t *a = ar_arena_create(&o);
      MCHECK(a != NULL);
      MCHECK(ar_stats_global(&g1) == AR_OK);
      MCHECK(g1.arenas_created == g0.arenas_created + 1 && g1.arenas_live == g0.arenas_live + 1);
      MCHECK(g1.bytes_acquired - g0.bytes_acquired == fs.live_bytes);
      MCHECK(g1.registered == g0.registered); /* plain arenas are counted, not listed */
      void *p = ar_alloc(a, 100);
      MCHECK(p != NULL);
      ar_arena_destroy(a);
      MCHECK(ar_stats_global(&g2) == AR_OK);
      MCHECK(g2.arenas_live == g0.arenas_live);
      MCHECK(g2.bytes_released - g0.bytes_released == g2.bytes_acquired - g0.bytes_acquired);
      MCHECK(fs.live_bytes == 0);
      return;
    }
  }
  MCHECK(ar_arena_create(&o) == NULL);
  if (ar_last_error() != AR_EINVAL) MFAIL("bad options: %d, not AR_EINVAL", (int)ar_last_error());
  MCHECK(ar_strerror((ar_error_t)999) != NULL && ar_strerror(AR_OK) != NULL);
  MCHECK(strcmp(ar_version(), AR_VERSION_STRING) == 0);
}

/* A chunk pool over a counting source, an arena on top (chunkpool.h). */
static ar_chunk_pool_t *cpool;
static msrc_t cp_src;
static ar_arena_t *cp_arena;

void op_chunk_pool(rng_t *r) {
  model_op = "chunk-pool";
  ar_chunk_pool_stats_t s0, s1;
  MCHECK(ar_chunk_pool_stats(cpool, &s0) == AR_OK);
  MCHECK(s0.chunk_size == 4096 && s0.max_chunks == 4 && s0.pooled <= 4);
  uint64_t calls = cp_src.calls;
  switch (below(r, 6)) {
    case 0: {
      void *c = ar_chunk_pool_get(cpool);
      MCHECK(cp_src.calls == calls); /* get never calls the backing source */
      MCHECK(ar_chunk_pool_stats(cpool, &s1) == AR_OK);
      if (s0.pooled == 0) {
        MCHECK(c == NULL && s1.pooled == 0);
      } else {
        MCHECK(c != NULL && s1.pooled == s0.pooled - 1);
        memset(c, 0x77, 4096); /* it is ours now, all of it */
        bool back = ar_chunk_pool_put(cpool, c);
        MCHECK(back);
        MCHECK(ar_chunk_pool_stats(cpool, &s1) == AR_OK && s1.pooled == s0.pooled);
      }
      break;
    }
    case 1: {
      /* Puts succeed until the pool holds max_chunks, then are refused (the caller keeps
       * the chunk). The chunks come from the backing source, where destroy will send them. */
      for (int k = 0; k < 6; k++) {
        void *c = msrc_acquire(&cp_src, 4096);
        ar_chunk_pool_stats_t sp;
        MCHECK(ar_chunk_pool_stats(cpool, &sp) == AR_OK);
        bool ok = ar_chunk_pool_put(cpool, c);
        if (ok != (sp.pooled < 4))
          MFAIL("chunk pool put with %zu of 4 pooled returned %d", sp.pooled, ok);
        if (!ok) {
          msrc_release(&cp_src, c, 4096);
          break;
        }
      }
      MCHECK(ar_chunk_pool_stats(cpool, &s0) == AR_OK && s0.pooled == 4);
      size_t keep = below(r, 5);
      size_t n = ar_chunk_pool_trim(cpool, keep);
      MCHECK(ar_chunk_pool_stats(cpool, &s1) == AR_OK);
      MCHECK(n == (s0.pooled > keep ? s0.pooled - keep : 0));
      MCHECK(s1.pooled == s0.pooled - n && s1.trimmed == s0.trimmed + n);
      break;
    }
    case 2:
    case 3: { /* an arena on the pool's source: chunks come from and go to the pool */
      for (int k = 0; k < 6; k++) {
        unsigned char *p = (unsigned char *)ar_alloc(cp_arena, 200 + below(r, 3000));
        MCHECK(p != NULL);
        p[0] = 1;
      }
      if (chance(r, 50)) ar_release(cp_arena);
      MCHECK(ar_chunk_pool_stats(cpool, &s1) == AR_OK && s1.pooled <= 4);
      break;
    }
    case 4:
      MCHECK(ar_chunk_pool_create(100, 4, NULL) == NULL && ar_last_error() == AR_EINVAL);
      MCHECK(ar_chunk_pool_create(4096, 0, NULL) == NULL && ar_last_error() == AR_EINVAL);
      MCHECK(ar_chunk_pool_create(4096, ((size_t)1 << 24) + 1, NULL) == NULL &&
             ar_last_error() == AR_EINVAL);
      MCHECK(ar_chunk_pool_get(NULL) == NULL && !ar_chunk_pool_put(NULL, &cp_src));
      MCHECK(!ar_chunk_pool_put(cpool, NULL));
      MCHECK(ar_chunk_pool_trim(NULL, 0) == 0 && ar_chunk_pool_source(NULL) == NULL);
      MCHECK(ar_chunk_pool_stats(NULL, &s1) == AR_EINVAL &&
             ar_chunk_pool_stats(cpool, NULL) == AR_EINVAL);
      break;
    default: { /* the registry, walked from this (the only) thread: every listed arena seen */
      ar_global_stats_t g;
      MCHECK(ar_stats_global(&g) == AR_OK);
      uint64_t n = 0;
      MCHECK(ar_registry_foreach(count_entry, &n) == 0);
      if (n != g.registered)
        MFAIL("registry walk saw %llu arenas, stats say %llu registered", (unsigned long long)n,
              (unsigned long long)g.registered);
      uint64_t one = 0;
      int stop = ar_registry_foreach(stop_at_first, &one);
      MCHECK(n == 0 ? stop == 0 : (stop == 42 && one == 1)); /* an early stop returns fn's value */
      MCHECK(g.arenas_live <= g.arenas_created && g.bytes_released <= g.bytes_acquired);
      break;
    }
  }
}

/* The arena pool: 4 KiB chunks, 16 KiB kept per idle arena, at most 3 idle. */
void pool_begin(void) {
  ar_arena_pool_options_t po;
  ar_arena_pool_options_init(&po);
  po.arena.chunk_size = 4096;
  po.arena.retain_bytes = 4 * 4096;
  po.max_idle = 3;
  pool = ar_arena_pool_create(&po);
  MCHECK(pool != NULL);
  nptaken = 0;
  plast_given = NULL;
}

/* Gives back what the walk still holds, then destroys the pool. */
void pool_end(void) {
  for (size_t i = 0; i < nptaken; i++) MCHECK(ar_arena_pool_give(pool, ptaken[i]) == AR_OK);
  ar_arena_pool_destroy(pool);
}

/* The chunk pool over a counting source (4 chunks of 4 KiB), and an arena on top that keeps
 * nothing at reset, so its chunks go back through the pool. */
void chunk_pool_begin(void) {
  cpool = ar_chunk_pool_create(4096, 4, msrc_init(&cp_src, 0));
  MCHECK(cpool != NULL);
  ar_options_t cpo = AR_OPTIONS_INIT;
  cpo.chunk_size = 4096;
  cpo.retain_bytes = 0;
  cpo.source = ar_chunk_pool_source(cpool);
  cp_arena = ar_arena_create(&cpo);
  MCHECK(cp_arena != NULL);
}

void chunk_pool_end(void) {
  ar_arena_destroy(cp_arena);
  ar_chunk_pool_destroy(cpool);
  if (cp_src.live_bytes != 0)
    MFAIL("the chunk pool kept %zu bytes of its source", cp_src.live_bytes);
}
