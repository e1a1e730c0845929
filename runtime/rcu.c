/* SPDX-License-Identifier: MIT */
/*
 * runtime/rcu.c - read sections, grace periods and deferred reclamation (urcu-qsbr), for every
 * reader in arenart that must not block a writer: registry walks (registry.c) and NUMA topology
 * lookups (numa/). The declarations and their contract are in sync.h, next to the TSan
 * annotations they rely on.
 *
 * Two properties the read side promises (stats.h) shape this layer:
 *   - Read sections nest. A foreach callback may call ar_stats_global, a nested foreach, or a
 *     NUMA query, each of which opens its own section. urcu-qsbr's online/offline does not
 *     nest (the inner end would take the thread offline and let a writer free the node the
 *     outer walk stands on), so a per-thread depth makes only the outermost begin/end count.
 *   - Readers never make a writer wait. The writer does not wait for the grace period itself:
 *     a reclaimer thread does (deferred reclamation, below). So a slow callback delays when
 *     memory is returned, never when destroy, thread exit, pool trim or a NUMA reload return,
 *     and a callback may destroy arenas, even the one whose entry it is looking at.
 * Waiting for a grace period inside a read section would wait for itself; it is a fatal error
 * (ar_rcu_synchronize, ar_rcu_barrier), never a silent deadlock or a silently ended section.
 *
 * fork() is handled here too, because what a child inherits is decided by the RCU state of the
 * parent's threads (below). A writer whose own lock must not be inherited held (the registry's
 * list lock) hands it to ar_rcu_fork_hold_, which takes it last in the prepare handler, after
 * the reclaimer is joined: a reader waiting for that lock then never stalls the grace period the
 * join waits for. This file calls no other arenart file but error.c, so every layer may use it.
 */
#include <pthread.h>
#include <signal.h>

#include <urcu-qsbr.h>

#include "runtime/atomic.h"
#include "runtime/internal.h"
#include "runtime/sync.h"

/* ---- RCU ----------------------------------------------------------------------------- */

/* The token on which read-section ends release and grace periods acquire (see sync.h). */
static char rcu_gp_token;
static pthread_key_t rcu_key;
static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;
static _Thread_local int rcu_registered;
/* Open read sections on this thread. Only the outermost begin brings the thread online and
 * only the outermost end takes it offline, so a query called inside a section (a foreach
 * callback calling ar_stats_global) leaves the outer section intact. */
static _Thread_local unsigned rcu_depth;

/* Which threads are inside a read section at a fork. liburcu's copy of such a thread stays
 * online in the child forever, so no grace period can complete there, and a reclaimer started
 * in that child would hang (and with it the child's next fork, which joins the reclaimer).
 * Each registered reader lists a word that mirrors whether it is in a section; the child,
 * single-threaded, reads the list as the fork left it. The mirror is a relaxed atomic: its
 * owner writes it, and only a forked child ever reads another thread's. It is written before
 * the thread goes online and cleared after it goes offline, so a thread online at the fork
 * always shows as inside. */
typedef struct reader_rec {
  struct reader_rec *next, *prev; /* guarded by readers_mu */
  ar_atomic(unsigned) *inside;
} reader_rec_t;
static _Thread_local ar_atomic(unsigned) rcu_inside;
static _Thread_local reader_rec_t rcu_me;
static pthread_mutex_t readers_mu = PTHREAD_MUTEX_INITIALIZER;
static reader_rec_t *readers; /* guarded by readers_mu */
/* Set in a child forked while grace periods could not complete there; inherited by its own
 * children. Then nothing deferred is ever freed and no reclaimer is started (defer_mu). */
static bool no_grace;

static void readers_add(void) {
  rcu_me.inside = &rcu_inside;
  pthread_mutex_lock(&readers_mu);
  rcu_me.prev = NULL;
  rcu_me.next = readers;
  if (readers != NULL) readers->prev = &rcu_me;
  readers = &rcu_me;
  pthread_mutex_unlock(&readers_mu);
}

static void readers_remove(void) {
  pthread_mutex_lock(&readers_mu);
  if (rcu_me.prev != NULL) rcu_me.prev->next = rcu_me.next;
  else readers = rcu_me.next;
  if (rcu_me.next != NULL) rcu_me.next->prev = rcu_me.prev;
  pthread_mutex_unlock(&readers_mu);
}

static void rcu_thread_exit(void *arg) {
  (void)arg;
  if (rcu_registered) {
    rcu_unregister_thread(); /* takes the thread offline first if a section was left open */
    ar_store_relaxed(&rcu_inside, 0);
    readers_remove();
    rcu_registered = 0;
  }
}

static void rcu_make_key(void) {
  if (pthread_key_create(&rcu_key, rcu_thread_exit) != 0)
    ar_fatal_("cannot create the RCU thread key");
}

void ar_rcu_read_begin(void) {
  if (rcu_depth++ != 0) return;     /* nested: the outermost section already holds the thread */
  ar_store_relaxed(&rcu_inside, 1); /* relaxed: see reader_rec_t; before going online */
  if (AR_UNLIKELY(!rcu_registered)) {
    pthread_once(&rcu_once, rcu_make_key);
    readers_add();
    rcu_register_thread(); /* registers online */
    rcu_registered = 1;
    /* Non-NULL value so the destructor runs at thread exit and unregisters. */
    pthread_setspecific(rcu_key, &rcu_registered);
  } else {
    rcu_thread_online();
  }
  rcu_read_lock();
}

void ar_rcu_read_end(void) {
  if (AR_UNLIKELY(rcu_depth == 0)) ar_fatal_("RCU read section ended that was never begun");
  if (--rcu_depth != 0) return; /* an inner section: the outer one goes on */
  ar_tsan_release_(&rcu_gp_token);
  rcu_read_unlock();
  rcu_thread_offline();             /* extended quiescent state: never delays a grace period */
  ar_store_relaxed(&rcu_inside, 0); /* relaxed: see reader_rec_t; after going offline */
}

bool ar_rcu_in_read_section_(void) { return rcu_depth != 0; }

/* A grace period waited for inside a read section would wait for this very section, which
 * cannot end while we wait: urcu-qsbr would instead take the thread offline for the wait and
 * so silently end the caller's section (whatever it holds may be freed under it). Neither is
 * acceptable, so it is a fatal error, with the caller named. */
static void rcu_forbid_in_section(const char *what) {
  if (AR_UNLIKELY(rcu_depth != 0))
    ar_fatal_("%s called inside an RCU read section (depth %u): a grace period would wait for "
              "the caller's own section; e.g. ar_numa_reload or ar_numa_shutdown called from "
              "an ar_registry_foreach callback",
              what, rcu_depth);
}

void ar_rcu_synchronize(void) {
  rcu_forbid_in_section("ar_rcu_synchronize");
  /* no_grace is written only by a fork child's handler, before it could start a thread. */
  if (AR_UNLIKELY(no_grace))
    ar_fatal_("ar_rcu_synchronize: grace periods cannot complete in this process (forked while "
              "another thread was inside an RCU read section)");
  synchronize_rcu();
  ar_tsan_acquire_(&rcu_gp_token);
}

/* ---- deferred reclamation ------------------------------------------------------------- */

/* Writers that unlink an object hand it to ar_rcu_defer_ and return at once; a reclaimer
 * thread of ours waits for the grace period and calls the object's free function. Why not
 * liburcu's call_rcu: it wants the caller online (a thread arena is removed from a TLS
 * destructor, where our registration may already be gone), its worker needs one more TSan
 * annotation, and across fork() it needs the application to call its before/after-fork hooks,
 * whose "before" waits for a grace period, i.e. for readers. Here everything the reclaimer
 * shares with writers is under one pthread mutex (which TSan sees), the grace period is
 * ar_rcu_synchronize (already annotated), and fork is handled by our own atfork handlers.
 *
 * The reclaimer takes the whole list at once, so the objects deferred before any moment are
 * freed in batches that form a prefix of the defer order: `freed` reaching what `deferred`
 * was at that moment means they are all gone (ar_rcu_barrier relies on it). It never holds
 * the mutex during a grace period, so a writer waits at most for a list swap or a count. */
static pthread_mutex_t defer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t defer_work = PTHREAD_COND_INITIALIZER; /* list non-empty: reclaimer */
static pthread_cond_t defer_done = PTHREAD_COND_INITIALIZER; /* a batch freed: barriers */
static ar_rcu_head_t *defer_list;                            /* newest first; guarded by defer_mu */
static uint64_t defer_deferred; /* ever deferred; guarded by defer_mu */
static uint64_t defer_freed;    /* ever freed; guarded by defer_mu */
static bool reclaimer_running;  /* guarded by defer_mu */
static bool reclaimer_stop;     /* guarded by defer_mu: exit after the current batch */
static pthread_t reclaimer_tid; /* guarded by defer_mu; valid while running */
static pthread_once_t defer_once = PTHREAD_ONCE_INIT;
static bool fork_gp_maybe_held; /* guarded by defer_mu, across the fork */
/* A writer's lock held across fork() (ar_rcu_fork_hold_); guarded by defer_mu. */
static ar_spinlock_t *fork_held;

static void *reclaimer_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&defer_mu);
  for (;;) {
    while (defer_list == NULL && !reclaimer_stop) pthread_cond_wait(&defer_work, &defer_mu);
    if (reclaimer_stop) break; /* what is still listed waits for the next reclaimer */
    ar_rcu_head_t *batch = defer_list;
    defer_list = NULL;
    pthread_mutex_unlock(&defer_mu);
    /* Every reader that could reach an object of the batch began before it was unlinked,
     * hence before this grace period starts; after it, none is left. */
    ar_rcu_synchronize();
    uint64_t n = 0;
    while (batch != NULL) {
      ar_rcu_head_t *next = batch->next;
      batch->free_fn(batch);
      batch = next;
      n++;
    }
    pthread_mutex_lock(&defer_mu);
    defer_freed += n;
    pthread_cond_broadcast(&defer_done);
  }
  pthread_mutex_unlock(&defer_mu);
  return NULL;
}

/* Starts the reclaimer if it is not running; with defer_mu held. It is joined only by the
 * fork handlers (it sleeps on defer_work while there is nothing to free) and starts with
 * every signal blocked, so no application signal handler ever runs on it. On failure
 * (EAGAIN) the objects wait in the list and the next defer or barrier tries again. */
static bool reclaimer_start_locked(void) {
  if (reclaimer_running) return true;
  if (no_grace) return false; /* it could never finish a grace period (see reader_rec_t) */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  reclaimer_running = pthread_create(&reclaimer_tid, NULL, reclaimer_main, NULL) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return reclaimer_running;
}

/* fork(): the child has only the forking thread, and inherits every lock as it was. So the
 * prepare handler stops the reclaimer: it lets it finish the batch it is on (its grace period
 * included) and joins it, then holds its own locks (defer_mu, readers_mu) and the writer's lock
 * handed to ar_rcu_fork_hold_ (the registry's) across the fork. Hence:
 *   - the child inherits no lock held by a thread it does not have: neither ours nor
 *     liburcu's, which synchronize_rcu holds for a whole grace period (a child forked during
 *     one could never register a reader or complete a grace period);
 *   - if nothing else runs, the process is single-threaded at the fork, as it was before the
 *     first destroy: a child may start threads (ThreadSanitizer forbids that after a
 *     multithreaded fork) and pays for no thread it does not use;
 *   - the cost: fork waits for a grace period the reclaimer has in progress, i.e. for the
 *     readers open when it began; this is the one place where readers can delay another
 *     thread.
 * Not when the forking thread is itself inside a read section: the reclaimer's grace period
 * may be waiting for it. Then the reclaimer is left running and the child inherits whatever
 * state liburcu and the reclaimer were in (a batch the reclaimer had taken is never freed in
 * the child). After the fork the parent restarts the reclaimer if objects are waiting; the
 * child starts one on its first defer or barrier, which also frees what was waiting. */
static void defer_prefork(void) {
  pthread_mutex_lock(&defer_mu);
  /* In a section with the reclaimer running: its grace period may be under way, holding
   * liburcu's grace-period lock, which the child would inherit held. */
  fork_gp_maybe_held = ar_rcu_in_read_section_() && reclaimer_running;
  if (!ar_rcu_in_read_section_()) {
    while (reclaimer_running) { /* once: holding defer_mu, nobody else can start one */
      pthread_t t = reclaimer_tid;
      reclaimer_stop = true;
      pthread_cond_signal(&defer_work);
      pthread_mutex_unlock(&defer_mu);
      pthread_join(t, NULL);
      pthread_mutex_lock(&defer_mu);
      reclaimer_running = false;
      reclaimer_stop = false;
    }
  }
  /* Order defer_mu -> readers_mu -> fork_held: no holder of a later one waits for an earlier. */
  pthread_mutex_lock(&readers_mu);
  if (fork_held != NULL) ar_spin_lock(fork_held);
}

static void defer_postfork_parent(void) {
  if (fork_held != NULL) ar_spin_unlock(fork_held);
  pthread_mutex_unlock(&readers_mu);
  if (defer_list != NULL) (void)reclaimer_start_locked();
  pthread_mutex_unlock(&defer_mu);
}

static void defer_postfork_child(void) {
  if (fork_held != NULL) ar_spin_unlock(fork_held);
  /* The other threads are gone; if one was inside a section, liburcu's copy of it is online
   * for good. Only this thread stays listed. */
  bool others_inside = false;
  for (reader_rec_t *r = readers; r != NULL; r = r->next)
    if (r != &rcu_me && ar_load_relaxed(r->inside) != 0) others_inside = true;
  readers = NULL;
  if (rcu_registered) {
    rcu_me.prev = rcu_me.next = NULL;
    readers = &rcu_me;
  }
  pthread_mutex_unlock(&readers_mu); /* this thread took it in the prepare handler */
  if (others_inside || fork_gp_maybe_held) no_grace = true;
  reclaimer_running = false;
  reclaimer_stop = false;
  /* A condition variable may remember waiters that exist only in the parent. */
  pthread_cond_init(&defer_work, NULL);
  pthread_cond_init(&defer_done, NULL);
  pthread_mutex_unlock(&defer_mu);
}

static void defer_setup(void) {
  if (pthread_atfork(defer_prefork, defer_postfork_parent, defer_postfork_child) != 0)
    ar_fatal_("cannot install the RCU fork handlers");
}

void ar_rcu_fork_hold_(ar_spinlock_t *lock) {
  pthread_once(&defer_once, defer_setup);
  pthread_mutex_lock(&defer_mu);
  if (fork_held != NULL && fork_held != lock)
    ar_fatal_("ar_rcu_fork_hold_: a second lock to hold across fork (only one is supported)");
  fork_held = lock;
  pthread_mutex_unlock(&defer_mu);
}

void ar_rcu_defer_(ar_rcu_head_t *h, void (*free_fn)(ar_rcu_head_t *h)) {
  pthread_once(&defer_once, defer_setup);
  h->free_fn = free_fn;
  pthread_mutex_lock(&defer_mu);
  h->next = defer_list;
  defer_list = h;
  defer_deferred++;
  if (reclaimer_running) pthread_cond_signal(&defer_work);
  else (void)reclaimer_start_locked(); /* it finds the list non-empty and starts on it */
  pthread_mutex_unlock(&defer_mu);
}

void ar_rcu_barrier(void) {
  rcu_forbid_in_section("ar_rcu_barrier");
  pthread_once(&defer_once, defer_setup);
  pthread_mutex_lock(&defer_mu);
  uint64_t target = defer_deferred;
  if (defer_freed < target && !reclaimer_start_locked())
    ar_fatal_("ar_rcu_barrier: cannot start the RCU reclaimer thread");
  if (defer_freed < target && no_grace)
    ar_fatal_("ar_rcu_barrier: grace periods cannot complete in this process (forked while "
              "another thread was inside an RCU read section)");
  while (defer_freed < target) pthread_cond_wait(&defer_done, &defer_mu);
  pthread_mutex_unlock(&defer_mu);
}

uint64_t ar_rcu_pending_(void) {
  pthread_mutex_lock(&defer_mu);
  uint64_t n = defer_deferred - defer_freed;
  pthread_mutex_unlock(&defer_mu);
  return n;
}
