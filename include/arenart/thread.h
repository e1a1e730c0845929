/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief Per-thread arenas and request scopes.
 *
 * ar_thread_arena() gives the calling thread its own serial arena, created on first use and
 * destroyed when the thread exits (its chunks go back to their source: the process-wide chunk
 * pool, or for an arena created after ar_numa_init the NUMA node pools, unless
 * ar_thread_arena_configure named another source or chunk size). A thread-pool worker
 * brackets each request with ar_scope_begin()/ar_scope_end(): a scope is a mark on the
 * thread's arena, so beginning one costs a few loads and a store or two (the save point, see
 * ar_mark) and ending one frees the request's memory (chunks past the first go back to the
 * arena's spares or the source; no syscall).
 *
 * Memory allocated on a thread arena while no scope is open is freed by nothing but thread
 * exit (or a reset the caller makes). ar_scope_depth() tells an integration whether a scope is
 * open, so it can fall back to malloc when none is; ar_scope_stats() measures what was
 * allocated outside scopes (bytes exactly, allocations as ar_stats_t.allocs counts them); and a
 * line on stderr reports a thread arena whose outside-scope memory
 * passes ar_scope_report_threshold() (on by default in builds with AR_DEBUG >= 1).
 *
 * Synchronization:
 *   | call                             | may run concurrently with                       |
 *   |----------------------------------|-------------------------------------------------|
 *   | ar_thread_arena, ar_scope_begin, | anything (each thread touches only its own      |
 *   | ar_scope_end, ar_scope_depth,    | arena and thread-local state)                   |
 *   | ar_scope_stats                   |                                                 |
 *   | ar_scope_report_threshold        | anything (a relaxed process-wide setting)       |
 *   | ar_thread_arena_configure        | anything; affects arenas created afterwards     |
 */
#ifndef ARENART_THREAD_H
#define ARENART_THREAD_H

#include "arenart/arena.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The calling thread's arena (created on first call). Only the calling thread may use it; it
 * is destroyed when the thread exits, so its memory must not be handed to other threads that
 * outlive the request. Errors (NULL): AR_ENOMEM (the arena, a preallocated chunk or its
 * registry entry could not be had; the options were checked by ar_thread_arena_configure, so
 * no other code arises). */
AR_API ar_arena_t *ar_thread_arena(void);

/** Options for thread arenas created after this call (chunk_size, prealloc_chunks,
 * retain_bytes, limit_bytes, flags; source NULL = the default source: the process-wide chunk
 * pool when chunk_size is 0 or AR_DEFAULT_CHUNK_SIZE (after ar_numa_init, the NUMA node pools
 * of arenart/numa.h), else OS pages (ar_source_os()); name ignored: thread arenas are named
 * after their thread). NULL restores the defaults. The options are
 * checked now, by the rules of ar_arena_create, and the source struct is copied (its ctx must
 * stay valid while thread arenas use it). Any thread; arenas that already exist keep their
 * options. Returns AR_OK, or (the configuration unchanged):
 * Errors: AR_EINVAL (a `size` the library does not accept (see ar_options_t), chunk_size below
 * AR_MIN_CHUNK_SIZE or above 1 GiB, a source with a NULL acquire or release), AR_ELIMIT
 * (prealloc_chunks chunks exceed limit_bytes). */
AR_API int ar_thread_arena_configure(const ar_options_t *opts);

/** A request scope on the calling thread's arena: allocate from `scope.arena`. */
typedef struct ar_scope {
  ar_arena_t *arena; /**< the thread arena to allocate from (NULL if it could not be created) */
  ar_mark_t mark;    /**< where the scope began; ar_scope_end rewinds to it */
  unsigned level_;   /**< private: the depth with this scope open (1 = outermost; 0 = none) */
  uint64_t serial_;  /**< private: this scope's identity on its thread */
} ar_scope_t;

/* Private: how many scope levels, from the outermost, ar_scope_end tells apart by identity. */
#define AR_SCOPES_TRACKED_ 32

/** Begins a scope on the calling thread's arena. If the thread arena cannot be created,
 * scope.arena is NULL (allocations from it fail with AR_EINVAL), the depth is unchanged,
 * ar_last_error() says why (AR_ENOMEM, as for ar_thread_arena) and ar_scope_end reports
 * AR_EINVAL. Nested scopes are fine. The scope must be ended on the thread that began it. */
AR_API ar_scope_t ar_scope_begin(void);

/** Frees everything allocated in the scope and runs its cleanups. Ending an outer scope ends
 * the inner ones too; ending one of those afterwards, or ending a scope twice, is a caller
 * error, reported as AR_ESTALE (nothing is freed, no cleanup runs, the depth is unchanged),
 * even when a newer scope has begun at the same position and level since: scopes are told
 * apart by identity, not by position, for the AR_SCOPES_TRACKED_ (32) outermost levels;
 * deeper ones by level and mark. Errors: AR_EINVAL (NULL scope or arena), AR_ESTALE, and
 * those of ar_rewind (for example after the caller reset the thread arena). */
AR_API int ar_scope_end(ar_scope_t *scope);

/** Scopes open on the calling thread: ar_scope_begin adds one (unless the thread arena could
 * not be created); ending a scope of level L (L = the depth just after it began) sets the
 * depth to L - 1 if it was higher, whatever ar_scope_end returns (AR_ESTALE included; a
 * scope with a NULL arena changes nothing), so ending an outer scope closes the inner ones and
 * a late end of an inner one changes nothing. A scope never ended stays open. Reads one
 * thread-local; any thread. Errors: none (it cannot fail). */
AR_API unsigned ar_scope_depth(void);

/** The calling thread's view of memory allocated on its thread arena outside any scope. */
typedef struct ar_scope_stats {
  unsigned depth;          /**< ar_scope_depth() */
  uint64_t outside_allocs; /**< successful allocations (as ar_stats_t.allocs counts them)
                              made on the thread arena while the depth was 0, since the
                              arena was created */
  size_t outside_bytes;    /**< with depth 0: the thread arena's used bytes (ar_stats_t.used)
                              now; otherwise its used bytes when the outermost open scope
                              began. Scopes do not free these bytes. */
} ar_scope_stats_t;

/** Fills *out for the calling thread; all zero (depth included) if the thread has no arena
 * (none created yet, or destroyed at exit). Does not create the arena. O(1), no locks or
 * atomics; any thread. Returns AR_OK. Errors: AR_EINVAL (NULL out). */
AR_API int ar_scope_stats(ar_scope_stats_t *out);

/** Default of ar_scope_report_threshold in builds with AR_DEBUG >= 1: 64 MiB. */
#define AR_SCOPE_REPORT_DEFAULT_BYTES ((size_t)64 << 20)

/** Sets the process-wide report threshold and returns the previous one. When a thread
 * arena's outside_bytes (see ar_scope_stats_t) are at least `bytes` at an outermost
 * ar_scope_begin or at thread exit (a thread that returns from its start routine or calls
 * pthread_exit; the main thread's arena is not destroyed when main returns or exit() is
 * called, so a main thread reports only at a scope begin), one line starting "arenart: thread
 * arena '" and naming the bytes, "outside any scope" and outside_allocs goes to stderr, at most
 * once per thread arena.
 * 0 turns reporting off. Default: AR_SCOPE_REPORT_DEFAULT_BYTES in builds with AR_DEBUG >= 1,
 * 0 (off) in release builds (NDEBUG), which report too once a threshold is set. Any thread.
 * Errors: none (it cannot fail). */
AR_API size_t ar_scope_report_threshold(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_THREAD_H */
