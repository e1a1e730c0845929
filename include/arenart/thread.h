/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief Per-thread arenas, request scopes, and a pool of arenas for requests
 * that move between threads.
 *
 * ar_thread_arena() gives the calling thread its own serial arena, created on first use from
 * the process-wide chunk pool and destroyed when the thread exits (its chunks go back to the
 * pool). A thread-pool worker brackets each request with ar_scope_begin()/ar_scope_end():
 * a scope is a mark on the thread's arena, so beginning one costs a few loads and a store or
 * two (the save point, see ar_mark) and ending one
 * frees the request's memory (chunks past the first go back to the arena's spares or the pool;
 * no syscall).
 *
 * When a request is handed from thread to thread (an I/O thread parses it, a worker answers
 * it), its memory cannot live in either thread's arena: take an arena from an ar_arena_pool_t,
 * hand it along with the request (the receiving thread calls ar_arena_adopt()), and give it
 * back when the request is done. The pool resets arenas on return, keeps the most recently
 * used ones (LIFO), frees those idle longer than `idle_ns`, and caps the memory each idle
 * arena retains at twice a moving average of recent request sizes, so one huge request does
 * not pin its memory forever.
 *
 * Memory allocated on a thread arena while no scope is open is freed by nothing but thread
 * exit (or a reset the caller makes). ar_scope_depth() tells an integration whether a scope is
 * open, so it can fall back to malloc when none is; ar_scope_stats() counts what was allocated
 * outside scopes; and a line on stderr reports a thread arena whose outside-scope memory
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
 *   | ar_arena_pool_create,            | anything                                        |
 *   | ar_arena_pool_options_init       |                                                 |
 *   | ar_arena_pool_take/give/trim     | each other and stats, from any thread           |
 *   | ar_arena_pool_stats              | anything on that pool but destroy               |
 *   | ar_arena_pool_destroy            | nothing on that pool; all arenas given back     |
 *   |                                  | first                                           |
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
 * retain_bytes, limit_bytes, flags; source NULL = the process-wide chunk pool; name ignored:
 * thread arenas are named after their thread). NULL restores the defaults. The options are
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
 * called, so a main thread reports only at a scope begin), one line starting "arenart: thread arena '" and naming the
 * bytes, the allocations and "outside any scope" goes to stderr, at most once per thread arena.
 * 0 turns reporting off. Default: AR_SCOPE_REPORT_DEFAULT_BYTES in builds with AR_DEBUG >= 1,
 * 0 (off) in release builds (NDEBUG), which report too once a threshold is set. Any thread.
 * Errors: none (it cannot fail). */
AR_API size_t ar_scope_report_threshold(size_t bytes);

/* ---- arena pool ---------------------------------------------------------------------- */

/** A pool of serial arenas for requests that move between threads (opaque). */
typedef struct ar_arena_pool ar_arena_pool_t;

/** Options for ar_arena_pool_create(); start from ar_arena_pool_options_init() or
 * AR_ARENA_POOL_OPTIONS_INIT.
 *
 * Extensible like ar_options_t: `size` (set by the initializers) follows the same rules, and
 * the embedded `arena` carries its own `size`. The library reads `arena` by `arena.size` and
 * finds max_idle and the fields after it right behind those bytes, so a minor version that
 * grows ar_options_t (and with it this struct) still reads a struct built against this header
 * correctly. `size` must cover the embedded arena options (`size` >= 8 + arena.size, 0 meaning
 * the 0.1.0 layouts of both). */
typedef struct ar_arena_pool_options {
  size_t size;          /**< sizeof(ar_arena_pool_options_t) as the caller compiled it */
  ar_options_t arena;   /**< for new arenas; source NULL = the process-wide chunk pool */
  size_t max_idle;      /**< idle arenas kept at most; 0 = 64 */
  uint64_t idle_ns;     /**< idle arenas older than this are freed on the next give/trim;
                           0 = 5 s */
} ar_arena_pool_options_t;

/** Static initializer with the defaults; ar_arena_pool_options_init() does the same. */
#define AR_ARENA_POOL_OPTIONS_INIT                                                       \
  { sizeof(ar_arena_pool_options_t), AR_OPTIONS_INIT, 64, 5000000000ull }
/** Fills *opts with the defaults (AR_ARENA_POOL_OPTIONS_INIT). NULL is a no-op. Any thread. */
AR_API void ar_arena_pool_options_init(ar_arena_pool_options_t *opts);

/** Creates an arena pool; `opts` NULL = defaults. The arena options are checked now, by the
 * rules of ar_arena_create (so a take fails only for want of memory); their name is ignored
 * and their source struct is copied (its ctx must stay valid while the pool's arenas use it).
 * Any thread.
 * Errors (NULL): AR_EINVAL (a `size` or `arena.size` the library does not accept (see
 * ar_options_t and ar_arena_pool_options_t), arena chunk_size below AR_MIN_CHUNK_SIZE or above
 * 1 GiB, a source with a NULL acquire or release), AR_ELIMIT (arena prealloc_chunks chunks exceed
 * limit_bytes), AR_ENOMEM. */
AR_API ar_arena_pool_t *ar_arena_pool_create(const ar_arena_pool_options_t *opts);

/** Destroys the idle arenas and the pool. Arenas still taken are the caller's to destroy
 * (with ar_arena_destroy). Nothing may use the pool at the same time or afterwards. NULL is a
 * no-op. */
AR_API void ar_arena_pool_destroy(ar_arena_pool_t *pool);

/** An empty arena owned by the calling thread: the most recently given one, or a new one.
 * Any thread. To pass it to another thread, publish it with a happens-before edge and call
 * ar_arena_adopt() there. Errors (NULL): AR_EINVAL (NULL pool), AR_ENOMEM (a new arena, a
 * preallocated chunk or its registry entry could not be had); counters unchanged on error. */
AR_API ar_arena_t *ar_arena_pool_take(ar_arena_pool_t *pool);

/** Resets `arena` (runs its cleanups) and keeps it for reuse; it must have come from
 * ar_arena_pool_take on this pool, the caller must own it (be its owner thread) and must not
 * use it afterwards. Any thread. Returns AR_OK, or AR_EINVAL for
 * NULL arguments. */
AR_API int ar_arena_pool_give(ar_arena_pool_t *pool, ar_arena_t *arena);

/** Frees idle arenas past `idle_ns` (all idle ones if `all`); returns how many (0 for a NULL
 * pool). Any thread. */
AR_API size_t ar_arena_pool_trim(ar_arena_pool_t *pool, bool all);

/** A snapshot of an arena pool's counters (see ar_arena_pool_stats for the invariants). */
typedef struct ar_arena_pool_stats {
  size_t idle;            /**< arenas waiting in the pool */
  size_t taken;           /**< arenas handed out and not given back */
  uint64_t created;       /**< arenas ever created by the pool */
  uint64_t reused;        /**< takes served by an idle arena */
  uint64_t reclaimed;     /**< idle arenas freed for age or by trim */
  size_t retain_target;   /**< bytes an idle arena may keep now (from observed requests) */
} ar_arena_pool_stats_t;

/** Fills *out with a consistent snapshot of the pool's counters, taken under the pool's lock;
 * any thread, concurrently with take/give/trim. Every snapshot satisfies
 *   idle + taken == created - reclaimed,   idle <= max_idle,   reclaimed <= created.
 * An arena counts as taken from inside the take that returns it until the give that takes it
 * back has queued it (a failed take changes no counter); one that the caller destroys instead
 * of giving back stays counted as taken. Returns AR_OK, or AR_EINVAL for a NULL argument. */
AR_API int ar_arena_pool_stats(ar_arena_pool_t *pool, ar_arena_pool_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_THREAD_H */
