/* SPDX-License-Identifier: MIT */
/*
 * runtime/arenapool.c - a pool of serial arenas for requests that move between threads.
 *
 * Taking and giving are per-request operations, so they must be cheap, but they are not per
 * allocation: a ck spinlock (annotated for TSan in sync.h) around a LIFO list is simpler than a
 * lock-free stack here and uncontended costs a few nanoseconds. Everything slow happens
 * outside the lock: the reset in give (by the giving thread, which owns the arena), creation
 * in take, and destruction of reclaimed arenas.
 *
 * Memory held by idle arenas is bounded two ways. Each give records the request's size (the
 * arena's used bytes before reset) in an exponentially weighted moving average, and caps the
 * arena's retain at twice that average (rounded up to whole chunks, and never above the
 * configured retain): after one huge request, the arena that served it keeps only what a
 * typical request needs. And arenas idle longer than idle_ns, or beyond max_idle, are
 * destroyed; LIFO order keeps the warm ones on top, so the cold ones at the bottom go first.
 *
 * Counters. ar_arena_pool_stats promises invariants that hold in every snapshot (arenapool.h):
 * idle + taken == created - reclaimed, and idle <= max_idle. Each counter change that moves an
 * arena between states is therefore made in the same critical section as its partners: a take
 * that creates counts `created` and `taken` together after the creation succeeded (counting
 * `taken` first, as an earlier version did, let a snapshot see an arena taken that did not
 * exist yet, or one whose creation was about to fail), a take that reuses moves one arena
 * from idle to taken, and a give moves one from taken to idle and trims in the same section.
 * An arena being reset inside give is still counted as taken: it is not idle until it is
 * on the list.
 *
 * Options are validated when the pool is created (options.c, the rules of ar_arena_create),
 * so a take can fail only for want of memory; the source they name is copied into the pool, so
 * the caller's ar_source_t need not outlive the create call.
 */
#include <string.h>

#include "arenart/stats.h"
#include "arenart/arenapool.h"
#include "runtime/arena_internal.h"
#include "runtime/sync.h"

struct ar_arena_pool {
  ar_spinlock_t lock;
  ar_arena_t *idle; /* newest first, linked through pool_next */
  size_t nidle;
  size_t taken;
  uint64_t created, reused, reclaimed;
  double ewma_bytes; /* moving average of request sizes */
  ar_arena_pool_options_t opts;
  ar_source_t source; /* the caller's source, copied; opts.arena.source points here */
};

void ar_arena_pool_options_init(ar_arena_pool_options_t *opts) {
  if (opts != NULL) {
    ar_arena_pool_options_t d = AR_ARENA_POOL_OPTIONS_INIT;
    *opts = d;
  }
}

ar_arena_pool_t *ar_arena_pool_create(const ar_arena_pool_options_t *opts) {
  ar_arena_pool_options_t o = AR_ARENA_POOL_OPTIONS_INIT;
  ar_error_t bad = ar_arena_pool_options_read_(opts, &o); /* options.c: by the caller's size */
  if (o.max_idle == 0) o.max_idle = 64;
  if (o.idle_ns == 0) o.idle_ns = 5000000000ull;
  if (bad == AR_OK) bad = ar_options_validate_(&o.arena, &o.arena); /* fills in chunk size */
  if (bad != AR_OK) {
    ar_set_error_(bad);
    return NULL;
  }
  o.arena.name = NULL; /* the caller's string need not outlive this call */
  ar_arena_pool_t *p = (ar_arena_pool_t *)calloc(1, sizeof *p);
  if (p == NULL) {
    ar_set_error_(AR_ENOMEM);
    return NULL;
  }
  ar_spinlock_t init = AR_SPINLOCK_INIT;
  p->lock = init;
  p->opts = o;
  if (o.arena.source != NULL) { /* nor need the caller's source struct */
    p->source = *o.arena.source;
    p->opts.arena.source = &p->source;
  }
  return p;
}

/* Unlinks idle arenas that are too old or too many; the caller destroys them unlocked. */
static ar_arena_t *collect_stale(ar_arena_pool_t *p, uint64_t now, bool all) {
  ar_arena_t *stale = NULL;
  ar_arena_t **link = &p->idle;
  size_t kept = 0;
  while (*link != NULL) {
    ar_arena_t *a = *link;
    /* `now` is read under the lock, after every idle_since already on the list was written
     * (each under this lock too), so it is never older than one of them: no wrap. */
    bool old = now - a->idle_since > p->opts.idle_ns;
    if (all || old || kept >= p->opts.max_idle) {
      *link = a->pool_next;
      a->pool_next = stale;
      stale = a;
      p->nidle--;
      p->reclaimed++;
    } else {
      kept++;
      link = &a->pool_next;
    }
  }
  return stale;
}

static size_t destroy_list(ar_arena_t *a) {
  size_t n = 0;
  while (a != NULL) {
    ar_arena_t *next = a->pool_next;
    ar_arena_destroy(a);
    a = next;
    n++;
  }
  return n;
}

ar_arena_t *ar_arena_pool_take(ar_arena_pool_t *p) {
  if (p == NULL) {
    ar_set_error_(AR_EINVAL);
    return NULL;
  }
  ar_spin_lock(&p->lock);
  ar_arena_t *a = p->idle;
  if (a != NULL) { /* idle -> taken, in one critical section */
    p->idle = a->pool_next;
    p->nidle--;
    p->reused++;
    p->taken++;
  }
  ar_spin_unlock(&p->lock);
  if (a != NULL) {
    a->pool_next = NULL;
    ar_arena_adopt(a); /* the lock ordered the giver's reset before us */
    return a;
  }
  /* Options were validated at create: only memory (or the registry entry) can fail here, and
   * ar_arena_create or the registry has set the error. No counter has moved yet. */
  a = ar_arena_create_listed_(&p->opts.arena, AR_KIND_POOLED, "pooled");
  if (a == NULL) return NULL;
  ar_spin_lock(&p->lock);
  p->created++; /* born taken: both counters in one critical section */
  p->taken++;
  ar_spin_unlock(&p->lock);
  return a;
}

static size_t retain_target(const ar_arena_pool_t *p, size_t chunk) {
  double want = 2.0 * p->ewma_bytes;
  size_t cap = p->opts.arena.retain_bytes;
  if (want >= (double)cap) return cap;
  size_t bytes = ((size_t)want + chunk - 1) / chunk * chunk;
  return bytes < cap ? bytes : cap;
}

int ar_arena_pool_give(ar_arena_pool_t *p, ar_arena_t *a) {
  check_unleased_if(a); /* lease.h: every call naming a leased arena aborts */
  if (p == NULL || a == NULL) return ar_set_error_(AR_EINVAL);
  ar_stats_t st;
  ar_arena_stats(a, &st);
  ar_spin_lock(&p->lock);
  /* 1/8 weight: adapts within a few dozen requests, ignores a single outlier mostly. */
  p->ewma_bytes = p->ewma_bytes == 0 ? (double)st.used
                                     : p->ewma_bytes + ((double)st.used - p->ewma_bytes) / 8;
  a->retain_bytes = retain_target(p, a->chunk_size);
  ar_spin_unlock(&p->lock);
  ar_reset(a);

  ar_spin_lock(&p->lock);
  /* The clock is read inside the critical section: read before it, a giver that lost the race
   * for the lock would push a time older than its predecessor's, and collect_stale's
   * unsigned `now - idle_since` would wrap and reclaim an arena idle for microseconds. */
  uint64_t now = ar_now_ns_();
  a->idle_since = now;
  a->pool_next = p->idle;
  p->idle = a;
  p->nidle++;
  p->taken--;
  ar_arena_t *stale = collect_stale(p, now, false);
  ar_spin_unlock(&p->lock);
  destroy_list(stale);
  return AR_OK;
}

size_t ar_arena_pool_trim(ar_arena_pool_t *p, bool all) {
  if (p == NULL) return 0;
  ar_spin_lock(&p->lock);
  ar_arena_t *stale = collect_stale(p, ar_now_ns_(), all); /* clock under the lock: see give */
  ar_spin_unlock(&p->lock);
  return destroy_list(stale);
}

void ar_arena_pool_destroy(ar_arena_pool_t *p) {
  if (p == NULL) return;
  ar_arena_pool_trim(p, true);
  free(p);
}

int ar_arena_pool_stats(ar_arena_pool_t *p, ar_arena_pool_stats_t *out) {
  if (p == NULL || out == NULL) return ar_set_error_(AR_EINVAL);
  ar_spin_lock(&p->lock);
  out->idle = p->nidle;
  out->taken = p->taken;
  out->created = p->created;
  out->reused = p->reused;
  out->reclaimed = p->reclaimed;
  out->retain_target = retain_target(p, p->opts.arena.chunk_size);
  ar_spin_unlock(&p->lock);
  return AR_OK;
}
