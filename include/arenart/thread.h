/**
 * @file
 * @brief Per-thread arenas, request scopes, and a pool of arenas for requests
 * that move between threads.
 *
 * ar_thread_arena() gives the calling thread its own serial arena, created on first use from
 * the process-wide chunk pool and destroyed when the thread exits (its chunks go back to the
 * pool). A thread-pool worker brackets each request with ar_scope_begin()/ar_scope_end():
 * a scope is a mark on the thread's arena, so beginning one costs a few loads and ending one
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
 * Synchronization:
 *   | call                          | may run concurrently with                          |
 *   |-------------------------------|----------------------------------------------------|
 *   | ar_thread_arena, ar_scope_*   | anything (each thread touches only its own arena)  |
 *   | ar_thread_arena_configure     | anything; affects arenas created afterwards        |
 *   | ar_arena_pool_take/give/trim  | each other and stats, from any thread              |
 *   | ar_arena_pool_destroy         | nothing on that pool; all arenas given back first  |
 */
#ifndef ARENART_THREAD_H
#define ARENART_THREAD_H

#include "arenart/arena.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The calling thread's arena (created on first call), or NULL with AR_ENOMEM. Only the
 * calling thread may use it; it is destroyed when the thread exits, so its memory must not be
 * handed to other threads that outlive the request. */
AR_API ar_arena_t *ar_thread_arena(void);

/** Options for thread arenas created after this call (chunk_size, retain_bytes, limit_bytes,
 * flags; source NULL = the process-wide chunk pool). NULL restores the defaults. Any thread;
 * arenas that already exist keep their options. Returns AR_OK, or AR_EINVAL (chunk_size
 * below AR_MIN_CHUNK_SIZE). */
AR_API int ar_thread_arena_configure(const ar_options_t *opts);

/** A request scope on the calling thread's arena: allocate from `scope.arena`. */
typedef struct ar_scope {
  ar_arena_t *arena; /**< the thread arena to allocate from (NULL if it could not be created) */
  ar_mark_t mark;    /**< where the scope began; ar_scope_end rewinds to it */
} ar_scope_t;

/** Begins a scope on the calling thread's arena. If the thread arena cannot be created,
 * scope.arena is NULL (allocations from it fail with AR_EINVAL) and ar_scope_end reports
 * AR_EINVAL. Nested scopes are fine. The scope must be ended on the thread that began it. */
AR_API ar_scope_t ar_scope_begin(void);

/** Frees everything allocated in the scope and runs its cleanups. Ending an outer scope ends
 * the inner ones too; ending one of those afterwards is a caller error, always reported as
 * AR_ESTALE (nothing is freed and no cleanup runs). Errors: those of ar_rewind. */
AR_API int ar_scope_end(ar_scope_t *scope);

/* ---- arena pool ---------------------------------------------------------------------- */

/** A pool of serial arenas for requests that move between threads (opaque). */
typedef struct ar_arena_pool ar_arena_pool_t;

/** Options for ar_arena_pool_create(); start from ar_arena_pool_options_init() or
 * AR_ARENA_POOL_OPTIONS_INIT. */
typedef struct ar_arena_pool_options {
  ar_options_t arena;   /**< for new arenas; source NULL = the process-wide chunk pool */
  size_t max_idle;      /**< idle arenas kept at most; 0 = 64 */
  uint64_t idle_ns;     /**< idle arenas older than this are freed on the next give/trim;
                           0 = 5 s */
} ar_arena_pool_options_t;

/** Static initializer with the defaults; ar_arena_pool_options_init() does the same. */
#define AR_ARENA_POOL_OPTIONS_INIT { AR_OPTIONS_INIT, 64, 5000000000ull }
/** Fills *opts with the defaults (AR_ARENA_POOL_OPTIONS_INIT). NULL is a no-op. Any thread. */
AR_API void ar_arena_pool_options_init(ar_arena_pool_options_t *opts);

/** Creates an arena pool; `opts` NULL = defaults. Any thread.
 * Errors (NULL): AR_EINVAL (bad arena options), AR_ENOMEM. */
AR_API ar_arena_pool_t *ar_arena_pool_create(const ar_arena_pool_options_t *opts);

/** Destroys the idle arenas and the pool. Arenas still taken are the caller's to destroy
 * (with ar_arena_destroy). Nothing may use the pool at the same time or afterwards. NULL is a
 * no-op. */
AR_API void ar_arena_pool_destroy(ar_arena_pool_t *pool);

/** An empty arena owned by the calling thread: the most recently given one, or a new one.
 * Any thread. To pass it to another thread, publish it with a happens-before edge and call
 * ar_arena_adopt() there. Errors (NULL): AR_EINVAL (NULL pool), those of ar_arena_create. */
AR_API ar_arena_t *ar_arena_pool_take(ar_arena_pool_t *pool);

/** Resets `arena` (runs its cleanups) and keeps it for reuse; the caller must own it (be
 * its owner thread) and must not use it afterwards. Any thread. Returns AR_OK, or AR_EINVAL for
 * NULL arguments. */
AR_API int ar_arena_pool_give(ar_arena_pool_t *pool, ar_arena_t *arena);

/** Frees idle arenas past `idle_ns` (all idle ones if `all`); returns how many (0 for a NULL
 * pool). Any thread. */
AR_API size_t ar_arena_pool_trim(ar_arena_pool_t *pool, bool all);

/** A snapshot of an arena pool's counters (see ar_arena_pool_stats). */
typedef struct ar_arena_pool_stats {
  size_t idle;            /**< arenas waiting in the pool */
  size_t taken;           /**< arenas handed out and not given back */
  uint64_t created;       /**< arenas ever created by the pool */
  uint64_t reused;        /**< takes served by an idle arena */
  uint64_t reclaimed;     /**< idle arenas freed for age or by trim */
  size_t retain_target;   /**< bytes an idle arena may keep now (from observed requests) */
} ar_arena_pool_stats_t;

/** Fills *out with a consistent snapshot of the pool's counters; any thread. Returns AR_OK, or
 * AR_EINVAL for a NULL argument. */
AR_API int ar_arena_pool_stats(ar_arena_pool_t *pool, ar_arena_pool_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_THREAD_H */
