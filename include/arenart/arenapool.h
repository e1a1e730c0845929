/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief A pool of serial arenas for requests that move between threads.
 *
 * When a request is handed from thread to thread (an I/O thread parses it, a worker answers
 * it), its memory cannot live in either thread's arena: take an arena from an ar_arena_pool_t,
 * hand it along with the request (the receiving thread calls ar_arena_adopt()), and give it
 * back when the request is done. The pool resets arenas on return, keeps the most recently
 * used ones (LIFO), frees those idle longer than `idle_ns`, and caps the memory each idle
 * arena retains at twice a moving average of recent request sizes, so one huge request does
 * not pin its memory forever.
 *
 * A thread that serves each request from start to finish needs no pool: its thread arena and
 * a scope (arenart/thread.h) cost less.
 *
 * Synchronization:
 *   | call                             | may run concurrently with                       |
 *   |----------------------------------|-------------------------------------------------|
 *   | ar_arena_pool_create,            | anything                                        |
 *   | ar_arena_pool_options_init       |                                                 |
 *   | ar_arena_pool_take/give/trim     | each other and stats, from any thread           |
 *   | ar_arena_pool_stats              | anything on that pool but destroy               |
 *   | ar_arena_pool_destroy            | nothing on that pool; all arenas given back     |
 *   |                                  | first                                           |
 */
#ifndef ARENART_ARENAPOOL_H
#define ARENART_ARENAPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "arenart/arena.h"

#ifdef __cplusplus
extern "C" {
#endif

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
  size_t size;        /**< sizeof(ar_arena_pool_options_t) as the caller compiled it */
  ar_options_t arena; /**< for new arenas; source NULL = the default source: the
                           process-wide chunk pool when chunk_size is 0 or
                           AR_DEFAULT_CHUNK_SIZE (after ar_numa_init, the NUMA node pools of
                           arenart/numa.h), else OS pages (ar_source_os()) */
  size_t max_idle;    /**< idle arenas kept at most; 0 = 64 */
  uint64_t idle_ns;   /**< idle arenas older than this are freed on the next give/trim;
                           0 = 5 s */
} ar_arena_pool_options_t;

/** Static initializer with the defaults; ar_arena_pool_options_init() does the same. */
#define AR_ARENA_POOL_OPTIONS_INIT \
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
  size_t idle;          /**< arenas waiting in the pool */
  size_t taken;         /**< arenas handed out and not given back */
  uint64_t created;     /**< arenas ever created by the pool */
  uint64_t reused;      /**< takes served by an idle arena */
  uint64_t reclaimed;   /**< idle arenas freed for age or by trim */
  size_t retain_target; /**< bytes an idle arena may keep now (from observed requests) */
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

#endif /* ARENART_ARENAPOOL_H */
