/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief Leases: a serial arena's cursor held in the caller's registers for a run of
 * allocations.
 *
 * ar_alloc's cursor lives in the arena, in memory. After any store the compiler cannot tell
 * apart from the arena (a store through a `char *`, a call, an asm with a memory clobber), the
 * next ar_alloc loads the cursor and its bound again, and every bump stores the cursor back.
 * A lease copies the two into a local ar_lease_t. While the lease's address goes nowhere but
 * the inline functions below, the compiler keeps both in registers, and a lease allocation is
 * the bump loop a hand-written allocator would be: a compare, an add, no load or store of
 * allocator state. That is for long runs of small allocations (building a tree, a parse, a
 * batch); opening or closing a lease is a few inline loads and stores. bench/ measures it in
 * its per-request workload (1000 allocations of 16-271 bytes per request, each written to,
 * then ar_reset): 1.09x the time of a bump loop whose cursor is in a register, where ar_alloc
 * takes 1.24-1.25x (docs/benchmarks.md).
 *
 * Use:
 *   ar_lease_t l = ar_lease_begin(arena);
 *   for (...) { node_t *n = ar_lease_alloc(&l, sizeof *n); ... }
 *   ar_lease_end(&l);
 *
 * Rules:
 *   - From ar_lease_begin to ar_lease_end the arena's cursor lives in the lease and the arena
 *     is used only through it. Every other call that names the arena (ar_alloc and the other
 *     allocation calls, ar_free, ar_realloc, marks, rewinds, reset, release, destroy, ar_defer,
 *     stats, ar_arena_check, ar_owns, ar_arena_adopt, ar_arena_pool_give, the containers'
 *     init calls and every container call that allocates or frees, ar_numa_arena_pages, scopes
 *     and scope stats of a thread arena, a second ar_lease_begin) aborts the process with a
 *     message, in every build, whatever its other arguments are. ar_arena_name is the one
 *     exception. So does a thread's exit while it leases its thread arena, and a reset,
 *     rewind, release or destroy whose cleanup callback began a lease and returned without
 *     ending it (inside a callback a lease's allocations fail with AR_EBUSY, as ar_alloc's do).
 *   - A lease allocation is an allocation of the arena like any other: it lives until the
 *     arena is rewound past it, reset, released or destroyed, a mark taken before the lease
 *     covers it, and after ar_lease_end ar_free and ar_realloc accept it.
 *   - A lease belongs to the arena's owner thread. Copying a lease moves it: from then on only
 *     the copy may allocate from it or end it. ar_lease_end marks the lease it is given as
 *     ended, and that lease's next allocation, or a second ar_lease_end, aborts with a
 *     message. Using an older copy is undefined behaviour; it is caught (an abort with a
 *     message) only when it is ended, or one of its allocations goes out of line, while the
 *     arena is not leased, or when such an allocation brings a cursor outside the arena's
 *     current chunk.
 *   - Stats: `used`, `peak` and `capacity` include the lease's allocations once it has ended.
 *     `allocs` counts the ones that went out of line, and the inline ones only where the
 *     translation unit that calls ar_lease_alloc and ar_lease_end defines
 *     AR_COUNT_INLINE_ALLOCS (arena.h).
 *   - Where ar_alloc never bumps inline (checked mode, sanitizer builds, debug level 2, the
 *     heap flavor, inside a cleanup callback) every lease allocation goes out of line and
 *     behaves exactly as ar_alloc does there.
 *
 * Synchronization:
 *   | call                              | may run concurrently with                    |
 *   |-----------------------------------|----------------------------------------------|
 *   | every ar_lease_* on arena A       | nothing else on A (its owner thread only)    |
 *   | leases of distinct arenas         | each other                                   |
 *
 * Errors: see arenart/common.h for the convention.
 */
#ifndef ARENART_LEASE_H
#define ARENART_LEASE_H

#include "arenart/arena.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A lease of a serial arena's cursor; a local of the owner thread. The fields are private. */
typedef struct ar_lease {
  char *cur_;
  char *end_;
  ar_arena_t *arena_;
  uint64_t nalloc_; /* inline bumps, added to the arena's count at the end where counted */
} ar_lease_t;

/* Private: what the out-of-line path hands back; returned by value, so that the lease itself
 * never has its address taken and can stay in registers. */
struct ar_lease_step_ {
  void *p;
  char *cur;
  char *end;
};

/* Private: the out-of-line paths: a refill of ar_lease_alloc_aligned; ar_lease_begin and
 * ar_lease_end where the inline room test cannot tell a usable cursor from a state to check
 * (cursor == bound: slow-only arenas, a leased, destroyed or chunkless arena, an ended lease);
 * the misuse reports. Values in and out, never the lease's address, so that the lease itself
 * can stay in registers. */
AR_API struct ar_lease_step_ ar_lease_more_(ar_arena_t *arena, char *cur, size_t size,
                                            size_t align);
AR_API struct ar_lease_step_ ar_lease_begin_slow_(ar_arena_t *arena);
AR_API void ar_lease_end_slow_(ar_arena_t *arena, char *cur, char *end, uint64_t nalloc);
AR_API void ar_lease_misuse_(const ar_arena_t *arena, int what) __attribute__((noreturn, cold));
AR_API void *ar_lease_null_(void);

/**
 * Takes the arena's cursor into a lease; see the rules above. A NULL arena gives a lease whose
 * allocations fail with AR_EINVAL (until it is ended, as any lease).
 * Errors: none returned. Aborts with a message if a lease already holds the arena (and, where
 * the arena's calls are checked, if it was destroyed or the caller is not its owner: see the
 * thread contract of arena.h).
 */
AR_INLINE_ALLOC_ static inline ar_lease_t ar_lease_begin(ar_arena_t *arena) {
  ar_lease_t l = {NULL, NULL, arena, 0};
  if (arena != NULL) {
    struct ar_arena_hot_ *h = (struct ar_arena_hot_ *)(void *)arena;
    if (AR_UNLIKELY(h->cur_ == h->end_)) { /* held already (HELD == HELD), or slow-only */
      struct ar_lease_step_ s = ar_lease_begin_slow_(arena);
      l.cur_ = s.cur;
      l.end_ = s.end;
      return l;
    }
    l.cur_ = h->cur_;
    l.end_ = h->end_;
    h->cur_ = AR_LEASE_HELD_;
    h->end_ = AR_LEASE_HELD_;
  }
  return l;
}

/**
 * Allocates `size` bytes aligned to `align` from the lease's arena: exactly what
 * ar_alloc_aligned would return there, with the same limits, chunks and dedicated chunks.
 * Errors (returns NULL): AR_EINVAL (NULL lease, or a lease of a NULL arena), and those of
 * ar_alloc_aligned: AR_EALIGN, AR_EOVERFLOW, AR_ELIMIT, AR_ENOMEM, AR_EBUSY (called from a
 * cleanup callback). On failure the arena is unchanged and the lease stays usable. Aborts with
 * a message when the lease has ended.
 */
AR_MALLOC_LIKE AR_ALLOC_SIZE(2) AR_INLINE_ALLOC_
    static inline void *ar_lease_alloc_aligned(ar_lease_t *lease, size_t size, size_t align) {
  if (AR_UNLIKELY(lease == NULL)) return ar_lease_null_();
  /* The test of ar_alloc_aligned (arena.h), on the lease's copy of the cursor. */
  if (AR_LIKELY(align - 1 < AR_ALIGN_DEFAULT && (align & (align - 1)) == 0)) {
    size_t m = (size - 1) | (AR_ALIGN_DEFAULT - 1); /* the rounded size, minus one */
    if (AR_LIKELY(m < (size_t)(lease->end_ - lease->cur_))) {
      char *p = lease->cur_;
      lease->cur_ = p + m + 1;
      AR_COUNT_INLINE_(lease);
      return p;
    }
  }
  struct ar_lease_step_ s = ar_lease_more_(lease->arena_, lease->cur_, size, align);
  lease->cur_ = s.cur;
  lease->end_ = s.end;
  return s.p;
}

/** ar_lease_alloc_aligned with AR_ALIGN_DEFAULT. Same errors. */
AR_MALLOC_LIKE AR_ALLOC_SIZE(2) AR_INLINE_ALLOC_
    static inline void *ar_lease_alloc(ar_lease_t *lease, size_t size) {
  return ar_lease_alloc_aligned(lease, size, AR_ALIGN_DEFAULT);
}

/**
 * Gives the cursor back to the arena, which is then usable by every call again, and marks the
 * lease as ended (a lease of a NULL arena too). NULL does nothing.
 * Errors: none returned. Aborts with a message if the lease has already ended or its arena is
 * not held by a lease (and, where the arena's calls are checked, if the arena was destroyed or
 * the caller is not its owner).
 */
AR_INLINE_ALLOC_ static inline void ar_lease_end(ar_lease_t *lease) {
  if (lease == NULL) return;
  if (AR_UNLIKELY(lease->cur_ == lease->end_)) { /* ended (ENDED == ENDED), or slow-only */
    ar_lease_end_slow_(lease->arena_, lease->cur_, lease->end_, lease->nalloc_);
  } else {
    struct ar_arena_hot_ *h = (struct ar_arena_hot_ *)(void *)lease->arena_;
    if (AR_UNLIKELY(h->cur_ != AR_LEASE_HELD_)) ar_lease_misuse_(lease->arena_, 2);
    h->cur_ = lease->cur_;
    h->end_ = lease->end_;
    h->nalloc_ += lease->nalloc_;
  }
  lease->cur_ = AR_LEASE_ENDED_;
  lease->end_ = AR_LEASE_ENDED_;
}

#ifdef __cplusplus
}
#endif

#endif /* ARENART_LEASE_H */
