/* SPDX-License-Identifier: MIT */
/*
 * runtime/thread.c - per-thread arenas and request scopes.
 *
 * Each thread's arena hangs off an initial-exec thread-local pointer (one load to find it)
 * and off a pthread key whose destructor destroys it at thread exit, so its chunks go back to
 * their source (by default the process-wide chunk pool) instead of leaking. Thread arenas are
 * listed in the registry.
 *
 * Scopes are marks: beginning one records a save point on the thread's own arena (a few
 * loads and, unless nothing happened since the last one, one 8-byte push), ending one is
 * a rewind, which pops only the chunks the scope used (to the arena's spares within its retain
 * cap, the rest to the pool). No locks, no atomics, no syscalls on either side.
 *
 * Allocation outside any scope. Nothing stops a thread from allocating on its arena with no
 * scope open, and nothing frees that memory before the thread exits: a client that parsed
 * JSON on a long-lived thread this way held 219 MB. Making the inline allocator count it is out
 * of the question (it must stay a bump), and it need not: the arena already counts allocations
 * (hot.nalloc_, which is ar_stats_t.allocs: inline bumps only where AR_COUNT_INLINE_ALLOCS is
 * defined) and used bytes, so the thread keeps a scope depth and, at the two moments the
 * depth crosses zero, a little arithmetic. When the outermost scope begins, the allocations
 * made since the outermost scope last ended are added to outside_allocs and the used bytes are
 * remembered (they are what the scope cannot free); when it ends, nalloc_ becomes the new
 * base. Queries fold in the part not yet counted. The depth itself is what integrations ask
 * for (ar_scope_depth) to fall back to malloc when no scope is open.
 *
 * Each scope carries its own level, so ending an outer scope closes the inner ones too, and a
 * late or repeated end of an inner one cannot push the depth back up or below zero.
 *
 * Reporting: when the bytes held outside scopes reach a process-wide threshold (on by default
 * in builds with AR_DEBUG >= 1), one line goes to stderr, once per thread arena, checked when
 * an outermost scope begins and when the thread exits. A release build reports too if the
 * threshold is set; the default just differs.
 *
 * Thread contract: ar_thread_arena() and scopes touch only the calling thread's arena and
 * thread-local state. ar_thread_arena_configure() takes a ck spinlock (annotated for TSan in
 * sync.h) because arena creation on other threads reads the options it writes; it validates
 * them first (options.c), so creating a thread arena can fail only for want of memory, and it
 * copies the source so the caller's struct need not outlive the call.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "arenart/stats.h"
#include "arenart/thread.h"
#include "runtime/arena_internal.h"
#include "runtime/atomic.h"
#include "runtime/sync.h"

static __thread ar_arena_t *tls_arena __attribute__((tls_model("initial-exec")));
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

/* The calling thread's scope bookkeeping; reset whenever its thread arena is created. */
typedef struct scope_state {
  unsigned depth;                    /* scopes open */
  bool reported;                     /* the outside-scope line was printed for this arena */
  uint64_t base_allocs;              /* hot.nalloc_ when no scope was last open and counted */
  uint64_t outside_allocs;           /* allocations made with no scope open, up to base_allocs */
  size_t held_below;                 /* used bytes when the outermost open scope began */
  uint64_t open[AR_SCOPES_TRACKED_]; /* serial of the open scope at each level (1 = [0]) */
} scope_state_t;
static __thread scope_state_t tls_scope __attribute__((tls_model("initial-exec")));
/* Scope identities. A mark cannot tell two scopes apart: marks taken with nothing in between
 * name one save point, so a stale inner scope whose mark equals a live newer scope's would
 * pass ar_rewind and free the newer scope's memory. Each scope therefore carries a serial,
 * and the thread remembers which serial is open at each level. Never reset (not even with a
 * new thread arena), so a serial is never reused on a thread. */
static __thread uint64_t tls_scope_serial __attribute__((tls_model("initial-exec")));

static ar_spinlock_t opts_lock = AR_SPINLOCK_INIT;
static ar_options_t thread_opts = AR_OPTIONS_INIT;
static ar_source_t thread_source; /* the configured source, copied; guarded by opts_lock */

/* Relaxed throughout: a setting read on its own; nothing else is published through it. */
static ar_atomic(size_t) report_threshold = AR_DEBUG >= 1 ? AR_SCOPE_REPORT_DEFAULT_BYTES : 0;

/* Bytes the calling thread's arena holds outside every scope (see thread.h). */
static size_t held_outside(const ar_arena_t *a) {
  return tls_scope.depth == 0 ? current_used(a) : tls_scope.held_below;
}

static uint64_t allocs_outside(const ar_arena_t *a) {
  return tls_scope.outside_allocs +
         (tls_scope.depth == 0 ? a->hot.nalloc_ - tls_scope.base_allocs : 0);
}

static void maybe_report(const ar_arena_t *a, const char *when) {
  size_t limit = ar_load_relaxed(&report_threshold);
  if (limit == 0 || tls_scope.reported) return;
  size_t bytes = held_outside(a);
  if (bytes < limit) return;
  tls_scope.reported = true;
  fprintf(stderr,
          "arenart: thread arena '%s' holds %zu bytes allocated outside any scope (%s), %" PRIu64
          " allocations as ar_stats_t.allocs counts them; nothing frees them before the thread "
          "exits. Bracket the work with ar_scope_begin/ar_scope_end, or use malloc when "
          "ar_scope_depth() is 0.\n",
          a->name, bytes, when, allocs_outside(a));
}

static void thread_arena_exit(void *arg) {
  ar_arena_t *a = (ar_arena_t *)arg;
  check_unleased(a); /* before the report, which reads the cursor */
  maybe_report(a, "at thread exit");
  tls_arena = NULL;
  memset(&tls_scope, 0, sizeof tls_scope);
  ar_arena_destroy(a);
}

static void make_key(void) {
  if (pthread_key_create(&arena_key, thread_arena_exit) != 0)
    ar_fatal_("cannot create the thread-arena key");
}

int ar_thread_arena_configure(const ar_options_t *opts) {
  ar_options_t o;
  ar_error_t bad = ar_options_validate_(opts, &o);
  if (bad != AR_OK) return ar_set_error_(bad);
  o.name = NULL; /* thread arenas are named after their thread */
  ar_spin_lock(&opts_lock);
  if (o.source != NULL) {
    thread_source = *o.source;
    o.source = &thread_source;
  }
  thread_opts = o;
  ar_spin_unlock(&opts_lock);
  return AR_OK;
}

/* Once per thread: out of line and cold, so that ar_thread_arena() stays a TLS load, a test
 * and a return whatever the compiler's inlining heuristics decide (5 instructions at -O2). */
__attribute__((noinline, cold)) static ar_arena_t *thread_arena_create(void) {
  pthread_once(&arena_once, make_key);
  ar_options_t o;
  ar_source_t src;
  ar_spin_lock(&opts_lock);
  o = thread_opts;
  if (o.source != NULL) { /* a private copy: a configure may rewrite thread_source */
    src = thread_source;
    o.source = &src;
  }
  ar_spin_unlock(&opts_lock);
  char name[32];
  snprintf(name, sizeof name, "thread-%lx", (unsigned long)pthread_self());
  /* The options passed validation at configure: only memory or the registry can fail. */
  ar_arena_t *a = ar_arena_create_listed_(&o, AR_KIND_THREAD, name);
  if (a == NULL) return NULL;
  if (pthread_setspecific(arena_key, a) != 0) {
    ar_arena_destroy(a);
    ar_set_error_(AR_ENOMEM);
    return NULL;
  }
  memset(&tls_scope, 0, sizeof tls_scope); /* a fresh arena: nothing allocated yet */
  tls_scope.base_allocs = a->hot.nalloc_;
  tls_arena = a;
  return a;
}

ar_arena_t *ar_thread_arena(void) {
  ar_arena_t *a = tls_arena;
  if (AR_LIKELY(a != NULL)) return a;
  return thread_arena_create();
}

ar_scope_t ar_scope_begin(void) {
  ar_scope_t s;
  ar_arena_t *a = ar_thread_arena();
  s.arena = a;
  s.level_ = 0;
  s.serial_ = 0;
  if (AR_UNLIKELY(a == NULL)) { /* the last error stays the creation's (AR_ENOMEM) */
    memset(&s.mark, 0, sizeof s.mark);
    return s;
  }
  s.mark = ar_mark(a);
  if (tls_scope.depth == 0) { /* the outermost scope: count what was allocated outside */
    uint64_t n = a->hot.nalloc_;
    tls_scope.outside_allocs += n - tls_scope.base_allocs;
    tls_scope.base_allocs = n;
    tls_scope.held_below = current_used(a);
    maybe_report(a, "seen when a scope began");
  }
  s.level_ = ++tls_scope.depth;
  s.serial_ = ++tls_scope_serial;
  if (s.level_ <= AR_SCOPES_TRACKED_) tls_scope.open[s.level_ - 1] = s.serial_;
  return s;
}

/* Whether `s`, a scope of this thread's arena, is still open: its level is open and, where
 * levels are tracked, holds this very scope. */
static bool scope_open(const ar_scope_t *s) {
  if (s->level_ > tls_scope.depth) return false;
  return s->level_ > AR_SCOPES_TRACKED_ || tls_scope.open[s->level_ - 1] == s->serial_;
}

int ar_scope_end(ar_scope_t *s) {
  if (s == NULL || s->arena == NULL) return ar_set_error_(AR_EINVAL);
  check_unleased(s->arena); /* before the stale test: the call names a leased arena */
  bool mine = s->arena == tls_arena && s->level_ != 0;
  /* Closed already (by an outer end, or ended before): no rewind, which could free a newer
   * scope's memory if both marks name one save point. */
  if (mine && !scope_open(s)) return ar_set_error_(AR_ESTALE);
  int err = ar_rewind(s->arena, &s->mark);
  /* The scope is over whatever the rewind said (a reset may have made its mark stale). Scopes
   * from another thread's arena leave the depth alone. */
  if (mine) {
    tls_scope.depth = s->level_ - 1;
    if (tls_scope.depth == 0) tls_scope.base_allocs = s->arena->hot.nalloc_;
  }
  return err;
}

unsigned ar_scope_depth(void) { return tls_scope.depth; }

int ar_scope_stats(ar_scope_stats_t *out) {
  const ar_arena_t *a = tls_arena;
  check_unleased_if(a); /* its cursor is not in the arena (lease.h) */
  if (out == NULL) return ar_set_error_(AR_EINVAL);
  out->depth = tls_scope.depth;
  out->outside_allocs = a != NULL ? allocs_outside(a) : 0;
  out->outside_bytes = a != NULL ? held_outside(a) : 0;
  return AR_OK;
}

size_t ar_scope_report_threshold(size_t bytes) {
  return atomic_exchange_explicit(&report_threshold, bytes, memory_order_relaxed);
}
