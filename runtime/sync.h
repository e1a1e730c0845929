/* SPDX-License-Identifier: MIT */
/*
 * runtime/sync.h - the one place where Concurrency Kit and liburcu meet ThreadSanitizer.
 *
 * ck's spinlocks and liburcu 0.13's grace periods synchronize through inline asm, volatile
 * accesses and futexes that TSan cannot see. Left alone they produce false race reports;
 * suppressed wholesale they would hide real ones. So every ck/urcu synchronization point in
 * arenart goes through the wrappers below, which tell TSan what the primitive guarantees:
 *   - ar_spinlock_*: ck_spinlock_fas bracketed by the __tsan_mutex_* hooks, so TSan models it
 *     as a mutex (and ignores the lock word's own accesses);
 *   - ar_rcu_read_begin/end and ar_rcu_synchronize: urcu-qsbr. A reader's (outermost) end is
 *     a release on one token and a grace period's end is an acquire on it, which is the RCU
 *     guarantee: everything a pre-existing reader did happens before the code after
 *     synchronize_rcu (typically the free of an unlinked node);
 *   - ar_rcu_defer_: the writer hands the unlinked object to the reclaimer thread under a
 *     pthread mutex (TSan sees that edge itself) and the reclaimer frees it after its own
 *     ar_rcu_synchronize, so it needs no annotation of its own (unlike liburcu's call_rcu,
 *     whose queue and worker TSan cannot see).
 * Data published through RCU lists is published with our own C11 atomics (release store of
 * the pointer, acquire load by readers), which TSan sees directly.
 *
 * Why QSBR: its read side costs nothing (no barriers, no counters). Library users should not
 * have to announce quiescent states, so each outermost read section brings the thread online
 * and takes it offline again (an extended quiescent state); an offline thread never delays a
 * grace period, and registration is automatic and undone at thread exit.
 *
 * What blocks and what never does:
 *   never: ar_rcu_read_begin/end, ar_rcu_defer_ (a short mutex; the first call starts the
 *          reclaimer thread), and so no registry writer (add, remove, retag) waits for readers;
 *   waits for readers (all sections open when it starts): ar_rcu_synchronize, ar_rcu_barrier,
 *          and fork() while the reclaimer is in a grace period (it joins the reclaimer).
 *          The first two are fatal errors inside a read section.
 */
#ifndef ARENART_SYNC_H
#define ARENART_SYNC_H

#include <ck_spinlock.h>

#include "runtime/atomic.h"
#include "runtime/internal.h"

#if AR_TSAN
#include <sanitizer/tsan_interface.h>
#define ar_tsan_acquire_(p) __tsan_acquire((void *)(p))
#define ar_tsan_release_(p) __tsan_release((void *)(p))
#else
#define ar_tsan_acquire_(p) ((void)(p))
#define ar_tsan_release_(p) ((void)(p))
#endif

typedef struct ar_spinlock {
  ck_spinlock_fas_t lock;
} ar_spinlock_t;

#define AR_SPINLOCK_INIT \
  { CK_SPINLOCK_FAS_INITIALIZER }

static inline void ar_spin_lock(ar_spinlock_t *l) {
#if AR_TSAN
  __tsan_mutex_pre_lock(l, __tsan_mutex_linker_init);
#endif
  ck_spinlock_fas_lock(&l->lock);
#if AR_TSAN
  __tsan_mutex_post_lock(l, __tsan_mutex_linker_init, 0);
#endif
}

static inline void ar_spin_unlock(ar_spinlock_t *l) {
#if AR_TSAN
  __tsan_mutex_pre_unlock(l, 0);
#endif
  ck_spinlock_fas_unlock(&l->lock);
#if AR_TSAN
  __tsan_mutex_post_unlock(l, 0);
#endif
}

/* Publishing through RCU: the writer initialises an object fully, then assigns the pointer
 * (release); readers, inside ar_rcu_read_begin/end, dereference it (acquire) and may use the
 * object until their section ends; the writer frees a replaced object only after
 * ar_rcu_synchronize(). Spelled with our C11 atomics (not rcu_assign_pointer /
 * rcu_dereference) so that TSan sees the publication itself. */
#define ar_rcu_assign(p, v) ar_store_release((p), (v))
#define ar_rcu_deref(p) ar_load_acquire(p)

/* RCU (urcu-qsbr), implemented in rcu.c.
 *
 * Read sections nest: a thread keeps a depth, only the outermost begin brings it online and
 * only the outermost end takes it offline (and releases the TSan token). So any read-only
 * function may be called inside a section, including from an ar_registry_foreach callback.
 * Neither begin nor end blocks: the first begin on a thread registers it with liburcu, whose
 * registry mutex a grace period in progress does not hold while it waits for readers (checked
 * against liburcu 0.13: registration during a 2 s reader returns at once).
 *
 * ar_rcu_synchronize waits for every section that began before it, so it blocks for as long
 * as the longest of them runs. Called inside a section it would wait for itself (urcu-qsbr
 * would instead end the caller's section behind its back): that is a fatal error with a
 * message, as is ar_rcu_barrier inside a section. Callers that can be reached from inside a
 * section (an admin call made from a foreach callback) may test ar_rcu_in_read_section_()
 * first and fail with an error instead. Today's caller is the reclaimer thread below (and the
 * tests); numa/lifecycle.c's reload and shutdown defer the old snapshot instead of waiting. */
AR_INTERNAL void ar_rcu_read_begin(void);
AR_INTERNAL void ar_rcu_read_end(void);
AR_INTERNAL bool ar_rcu_in_read_section_(void);
AR_INTERNAL void ar_rcu_synchronize(void);

/* Deferred reclamation, for writers that must not wait for readers. Embed an ar_rcu_head_t in
 * the unlinked object and call ar_rcu_defer_(&obj->head, fn): it returns at once (it takes a
 * mutex held only for list operations, and starts the reclaimer thread on first use); a
 * reclaimer thread calls fn(head) after a grace period, i.e. once no read section that could
 * have seen the object is still open. fn runs on that thread, after ar_rcu_synchronize (whose
 * TSan acquire covers every reader's end), with nothing locked; it must not block on readers
 * or call ar_rcu_barrier. May be called anywhere, inside a read section too and from a
 * thread-exit destructor. Objects still waiting at process exit stay reachable from a static
 * list (LeakSanitizer does not report them).
 *
 * fork(): the prepare handler stops and joins the reclaimer (after the batch it is on, whose
 * grace period fork therefore waits for), unless the forking thread is inside a read section.
 * So the child inherits neither a lock held by the reclaimer nor liburcu's grace-period locks,
 * and a process with no other threads forks single-threaded (a child may start threads, which
 * TSan forbids after a multithreaded fork). The parent restarts the reclaimer if objects are
 * waiting; the child starts one on its first defer or barrier. Grace periods can still be
 * impossible in a child: when another thread was inside a read section at the fork
 * (liburcu's copy of it stays online forever), or the forking thread was in a section while
 * the reclaimer was running (its grace-period lock may be held). The child's fork handler
 * detects both (every reader lists a mirror of whether it is in a section) and marks the
 * process, and its own children, as one where no grace period completes: no reclaimer is
 * started there, deferred objects are never freed (they stay reachable), defers (and so
 * destroys) and later forks return at once, and ar_rcu_synchronize / ar_rcu_barrier are
 * fatal errors with a message instead of waiting forever.
 *
 * ar_rcu_barrier waits until everything deferred before the call has been freed: it blocks
 * for a grace period, i.e. on readers (fatal inside a section). ar_rcu_pending_ counts the
 * objects deferred and not yet freed. Both are for tests and shutdown paths. */
typedef struct ar_rcu_head {
  struct ar_rcu_head *next;                  /* guarded by the reclaimer's mutex */
  void (*free_fn)(struct ar_rcu_head *head); /* set by ar_rcu_defer_ */
} ar_rcu_head_t;

AR_INTERNAL void ar_rcu_defer_(ar_rcu_head_t *head, void (*free_fn)(ar_rcu_head_t *head));
AR_INTERNAL void ar_rcu_barrier(void);
AR_INTERNAL uint64_t ar_rcu_pending_(void);

/* Makes the fork handlers above also hold `lock` across fork(), taken last in the prepare
 * handler (after the reclaimer is joined and the handlers' own mutexes are taken) and released
 * first after it, so a child never inherits it held by a thread it does not have; taking it
 * after the join means a reader that waits for it never holds up the grace period the join
 * waits for. For a lock held briefly and never across a grace period (the registry's list
 * lock). One lock only (a second, different one is a fatal error); installs the handlers if no
 * defer did yet. */
AR_INTERNAL void ar_rcu_fork_hold_(ar_spinlock_t *lock);

#endif /* ARENART_SYNC_H */
