/*
 * runtime/sync.h - the one place where Concurrency Kit and liburcu meet ThreadSanitizer.
 *
 * ck's spinlocks and liburcu 0.13's grace periods synchronize through inline asm, volatile
 * accesses and futexes that TSan cannot see. Left alone they produce false race reports;
 * suppressed wholesale they would hide real ones. So every ck/urcu synchronization point in
 * arenart goes through the wrappers below, which tell TSan what the primitive guarantees:
 *   - ar_spinlock_*: ck_spinlock_fas bracketed by the __tsan_mutex_* hooks, so TSan models it
 *     as a mutex (and ignores the lock word's own accesses);
 *   - ar_rcu_read_begin/end and ar_rcu_synchronize: urcu-qsbr. A reader's end is a release
 *     on one token and a grace period's end is an acquire on it, which is the RCU guarantee:
 *     everything a pre-existing reader did happens before the code after synchronize_rcu
 *     (typically the free of an unlinked node).
 * Data published through RCU lists is published with our own C11 atomics (release store of
 * the pointer, acquire load by readers), which TSan sees directly.
 *
 * Why QSBR: its read side costs nothing (no barriers, no counters). Library users should not
 * have to announce quiescent states, so each read section brings the thread online and takes
 * it offline again (an extended quiescent state); an offline thread never delays a grace
 * period, and registration is automatic and undone at thread exit.
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

#define AR_SPINLOCK_INIT {CK_SPINLOCK_FAS_INITIALIZER}

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

/* RCU (urcu-qsbr), implemented in registry.c. Sections do not nest: ar_rcu_read_end takes the
 * thread offline. Never call ar_rcu_synchronize inside a section. */
AR_INTERNAL void ar_rcu_read_begin(void);
AR_INTERNAL void ar_rcu_read_end(void);
AR_INTERNAL void ar_rcu_synchronize(void);

#endif /* ARENART_SYNC_H */
