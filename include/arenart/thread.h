/*
 * arenart/thread.h - per-thread arenas, request scopes, and a pool of arenas for requests
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

/* The calling thread's arena (created on first call), or NULL with AR_ENOMEM. */
AR_API ar_arena_t *ar_thread_arena(void);

/* Options for thread arenas created after this call (chunk_size, retain_bytes, limit_bytes,
 * flags; source NULL = the process-wide chunk pool). NULL restores the defaults. */
AR_API int ar_thread_arena_configure(const ar_options_t *opts);

/* A request scope on the calling thread's arena: allocate from `scope.arena`. */
typedef struct ar_scope {
  ar_arena_t *arena;
  ar_mark_t mark;
} ar_scope_t;

/* Begins a scope. If the thread arena cannot be created, scope.arena is NULL (allocations
 * from it fail with AR_EINVAL) and ar_scope_end reports AR_EINVAL. Nested scopes are fine. */
AR_API ar_scope_t ar_scope_begin(void);

/* Frees everything allocated in the scope and runs its cleanups. Ending an outer scope ends
 * the inner ones too; ending one of those afterwards is a caller error, reported as
 * AR_ESTALE when the position it names no longer exists (detection is by position, so it is
 * not reported if the arena has since grown past that point again). Errors: those of
 * ar_rewind. */
AR_API int ar_scope_end(ar_scope_t *scope);

/* ---- arena pool ---------------------------------------------------------------------- */

typedef struct ar_arena_pool ar_arena_pool_t;

typedef struct ar_arena_pool_options {
  ar_options_t arena;   /* for new arenas; source NULL = the process-wide chunk pool */
  size_t max_idle;      /* idle arenas kept at most; 0 = 64 */
  uint64_t idle_ns;     /* idle arenas older than this are freed on the next give/trim;
                           0 = 5 s */
} ar_arena_pool_options_t;

#define AR_ARENA_POOL_OPTIONS_INIT { AR_OPTIONS_INIT, 64, 5000000000ull }
AR_API void ar_arena_pool_options_init(ar_arena_pool_options_t *opts);

/* Errors (NULL): AR_EINVAL (bad arena options), AR_ENOMEM. `opts` NULL = defaults. */
AR_API ar_arena_pool_t *ar_arena_pool_create(const ar_arena_pool_options_t *opts);

/* Destroys the idle arenas and the pool. Arenas still taken are the caller's to destroy. */
AR_API void ar_arena_pool_destroy(ar_arena_pool_t *pool);

/* An empty arena owned by the calling thread: the most recently given one, or a new one.
 * Errors (NULL): AR_EINVAL (NULL pool), those of ar_arena_create. */
AR_API ar_arena_t *ar_arena_pool_take(ar_arena_pool_t *pool);

/* Resets `arena` (runs its cleanups) and keeps it for reuse; the caller must own it and must
 * not use it afterwards. AR_EINVAL for NULL arguments. */
AR_API int ar_arena_pool_give(ar_arena_pool_t *pool, ar_arena_t *arena);

/* Frees idle arenas past `idle_ns` (all idle ones if `all`); returns how many. */
AR_API size_t ar_arena_pool_trim(ar_arena_pool_t *pool, bool all);

typedef struct ar_arena_pool_stats {
  size_t idle;            /* arenas waiting in the pool */
  size_t taken;           /* arenas handed out and not given back */
  uint64_t created;       /* arenas ever created by the pool */
  uint64_t reused;        /* takes served by an idle arena */
  uint64_t reclaimed;     /* idle arenas freed for age or by trim */
  size_t retain_target;   /* bytes an idle arena may keep now (from observed requests) */
} ar_arena_pool_stats_t;

AR_API int ar_arena_pool_stats(ar_arena_pool_t *pool, ar_arena_pool_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_THREAD_H */
