/* SPDX-License-Identifier: MIT */
/*
 * runtime/internal.h - what every arenart translation unit shares and no user sees.
 *
 * Debug asserts come in levels, chosen at build time with -DAR_DEBUG=N:
 *   0  none (the default with NDEBUG, i.e. `--config=opt`);
 *   1  cheap argument and state checks, owner-thread checks on out-of-line calls (default
 *      otherwise, and in the asan/tsan configs);
 *   2  expensive invariant walks after every mutation, and the inline fast path turned off so
 *      that owner checks see every allocation (`--config=debug`);
 *   3  as 2, plus internal assertions in the innermost loops.
 * A failed assert prints the condition, file and line, then aborts.
 *
 * Sanitizers are detected here, once, through both gcc's __SANITIZE_*__ and clang's
 * __has_feature, so every file agrees on AR_ASAN / AR_TSAN.
 */
#ifndef ARENART_INTERNAL_H
#define ARENART_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "arenart/common.h"

#ifndef AR_DEBUG
#ifdef NDEBUG
#define AR_DEBUG 0
#else
#define AR_DEBUG 1
#endif
#endif

#ifndef __has_feature
#define __has_feature(x) 0
#endif

#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define AR_ASAN 1
#include <sanitizer/asan_interface.h>
#define ar_poison_(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ar_unpoison_(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define AR_ASAN 0
#define ar_poison_(p, n) ((void)(p), (void)(n))
#define ar_unpoison_(p, n) ((void)(p), (void)(n))
#endif

/* Memory that no arena has handed out (chunks in a pool, a ConcurrentArena's kept chunks) is
 * hidden from the program with one vocabulary for every tool: ar_hide_ makes it unaddressable
 * (ASan poison; Valgrind memcheck NOACCESS), ar_show_ addressable again with undefined contents
 * (ASan unpoison; memcheck UNDEFINED), the state fresh memory from a source is in. Serial
 * arenas say more (records, guards, junk) through runtime/track.h, built on the same calls.
 * Memcheck requests cost a few instructions when not under valgrind; under ASan or TSan
 * valgrind cannot run, so they are left out. */
#if !AR_ASAN && !defined(__SANITIZE_THREAD__) && !__has_feature(thread_sanitizer) && \
    defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define ar_vg_hide_(p, n) (void)VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define ar_vg_show_(p, n) (void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#endif
#endif
#ifndef ar_vg_hide_
#define ar_vg_hide_(p, n) ((void)(p), (void)(n))
#define ar_vg_show_(p, n) ((void)(p), (void)(n))
#endif
#define ar_hide_(p, n)     \
  do {                     \
    ar_poison_((p), (n));  \
    ar_vg_hide_((p), (n)); \
  } while (0)
#define ar_show_(p, n)      \
  do {                      \
    ar_unpoison_((p), (n)); \
    ar_vg_show_((p), (n));  \
  } while (0)

/* The heap flavor (`--config=heap`, -DAR_HEAP=1): every allocation of a serial or concurrent
 * arena is its own malloc, tracked by the arena and freed when rewind/reset/release/destroy
 * takes it back, so ASan, Valgrind and any malloc-level tool see each object's exact
 * boundaries. Same API and error codes; the arena's memory source is not used. See heap.c
 * and concurrent.c. */
#ifndef AR_HEAP
#define AR_HEAP 0
#endif

#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define AR_TSAN 1
#else
#define AR_TSAN 0
#endif

#define AR_INTERNAL __attribute__((visibility("hidden")))

AR_INTERNAL void ar_assert_fail_(const char *cond, const char *file, int line)
    __attribute__((noreturn, cold));
AR_INTERNAL void ar_fatal_(const char *fmt, ...)
    __attribute__((noreturn, cold, format(printf, 1, 2)));

#define ar_assert_at_(level, cond)                                                               \
  do {                                                                                           \
    if (AR_DEBUG >= (level) && AR_UNLIKELY(!(cond))) ar_assert_fail_(#cond, __FILE__, __LINE__); \
  } while (0)
#define ar_assert(cond) ar_assert_at_(1, cond)
#define ar_assert_expensive(cond) ar_assert_at_(2, cond)
#define ar_assert_internal(cond) ar_assert_at_(3, cond)

/* Records `err` as the calling thread's last error and returns it. */
AR_INTERNAL ar_error_t ar_set_error_(ar_error_t err);
/* The failure exit of a call that returns a pointer: records `err`, returns NULL. (A call that
 * returns an error code returns ar_set_error_(err) itself.) */
static inline void *ar_fail_null_(ar_error_t err) {
  ar_set_error_(err);
  return NULL;
}

static inline size_t ar_align_up_(size_t x, size_t align) { return (x + align - 1) & ~(align - 1); }

static inline int ar_is_pow2_(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* ---- option validation (options.c) ------------------------------------------------------ */

/* Largest chunk_size a serial arena accepts (1 GiB). */
#define AR_MAX_CHUNK_SIZE_ ((size_t)1 << 30)
struct ar_options;
/* The rules of ar_arena_create, shared with the calls that store options for later creations
 * (ar_arena_pool_create, ar_thread_arena_configure). `in` NULL means the defaults. Returns
 * AR_OK and fills *out (if not NULL) with the options, chunk_size 0 replaced by the default;
 * or AR_EINVAL / AR_ELIMIT, leaving *out alone. Does not set the thread's last error. */
AR_INTERNAL ar_error_t ar_options_validate_(const struct ar_options *in, struct ar_options *out);
/* The readers of the caller-allocated options structs (options.c): the only code that looks at
 * their `size` and copies them. `in` NULL means the defaults. Returns AR_OK and fills *out
 * (which may be `in` itself) with the caller's fields over the defaults, out->size the
 * library's sizeof; or AR_EINVAL for a size the library does not accept, leaving *out alone.
 * Check nothing else and do not set the thread's last error. */
struct ar_arena_pool_options;
struct ar_map_options;
struct ar_numa_options;
AR_INTERNAL ar_error_t ar_options_read_(const struct ar_options *in, struct ar_options *out);
AR_INTERNAL ar_error_t ar_arena_pool_options_read_(const struct ar_arena_pool_options *in,
                                                   struct ar_arena_pool_options *out);
AR_INTERNAL ar_error_t ar_map_options_read_(const struct ar_map_options *in,
                                            struct ar_map_options *out);
AR_INTERNAL ar_error_t ar_numa_options_read_(const struct ar_numa_options *in,
                                             struct ar_numa_options *out);

/* ---- stress hooks (stress.c) --------------------------------------------------------- */

/* Per-mille chance of sched_yield() at each AR_STRESS_POINT; 0 (the default) turns it off.
 * Exported for the stress suite; not part of the public API. */
AR_API void ar_stress_set_yield_(unsigned permille);
AR_INTERNAL void ar_stress_point_slow_(void);
extern AR_INTERNAL _Atomic(unsigned) ar_stress_yield_permille_;
#define AR_STRESS_POINT()                                                                         \
  do {                                                                                            \
    if (AR_UNLIKELY(atomic_load_explicit(&ar_stress_yield_permille_, memory_order_relaxed) != 0)) \
      ar_stress_point_slow_();                                                                    \
  } while (0)

/* lease.c: aborts if a lease holds `arena` (NULL passes), for the files above the serial arena
 * that name an arena without calling it yet (the containers' init). */
struct ar_arena;
AR_INTERNAL void ar_lease_forbid_(const struct ar_arena *arena);

/* ---- process-wide accounting (registry.c) ---------------------------------------------- */

struct ar_reg_node;
AR_INTERNAL uint64_t ar_now_ns_(void); /* clock.c: CLOCK_MONOTONIC, in nanoseconds */
AR_INTERNAL void ar_global_arena_created_(void);
AR_INTERNAL void ar_global_arena_destroyed_(uint64_t created_ns);
/* Chunk bytes taken from / given back to a source, mirrored into `reg` when listed. */
AR_INTERNAL void ar_global_chunk_acquired_(struct ar_reg_node *reg, size_t bytes);
AR_INTERNAL void ar_global_chunk_released_(struct ar_reg_node *reg, size_t bytes);
/* Lists an arena in the registry (kind: ar_arena_kind_t); NULL with AR_ENOMEM on failure. */
AR_INTERNAL struct ar_reg_node *ar_registry_add_(int kind, const void *arena, const char *name,
                                                 int node);
AR_INTERNAL void ar_registry_remove_(struct ar_reg_node *reg);
/* defsource.c: the source arenas use when the caller names none: the process-wide chunk pool
 * for default-size chunks (its only size), OS pages otherwise. */
struct ar_source;
/* Calls fn(base, size, ctx) for every block a ConcurrentArena holds: each chunk as the source
 * gave it (dedicated ones included), or each malloc'd block in the heap flavor. Same contract
 * as ar_concurrent_owns: it must not race with allocation on that arena. (For //numa's page
 * verification.) */
struct ar_concurrent;
AR_INTERNAL void ar_concurrent_foreach_chunk_(struct ar_concurrent *ca,
                                              void (*fn)(void *base, size_t size, void *ctx),
                                              void *ctx);

AR_INTERNAL const struct ar_source *ar_default_source_(size_t chunk_size);
/* defsource.c: the source for an arena's dedicated chunks and its ordinary chunks of any other
 * size than chunk_size, given the source it uses for ordinary chunk_size ones and whether its
 * options named one: the cached OS pages
 * (ar_source_os_cached_) for an arena on the process-wide pool by default, else `src`. */
AR_INTERNAL const struct ar_source *ar_default_large_source_(const struct ar_source *src,
                                                             bool named);
/* oscache.c: a process-wide cache of OS mappings arenas gave back (see its essay). `kind`
 * keeps mappings of different madvise advice apart (AR_OSCACHE_PLAIN, AR_OSCACHE_RESERVE).
 * take: a mapping of exactly `length` bytes, contents arbitrary, or NULL; put: true if the
 * cache kept `p` (the caller must not touch it again), false if the caller must unmap it;
 * trim: unmaps everything, returns the bytes; bytes: what it holds now (for tests). */
enum { AR_OSCACHE_PLAIN = 0, AR_OSCACHE_RESERVE = 1 };
AR_INTERNAL void *ar_oscache_take_(size_t length, int kind);
AR_INTERNAL bool ar_oscache_put_(void *p, size_t length, int kind);
AR_INTERNAL size_t ar_oscache_trim_(void);
AR_INTERNAL size_t ar_oscache_bytes_(void);
/* oscache.c: the library's mmap (private, anonymous, read-write) and mremap (MAYMOVE), NULL on
 * failure: a failure empties the cache and tries once more, so that the mappings it holds
 * never make one fail. */
AR_INTERNAL void *ar_oscache_map_(size_t length);
AR_INTERNAL void *ar_oscache_remap_(void *p, size_t old_length, size_t new_length);
/* source.c: OS pages through that cache; what a default arena takes its dedicated and grown
 * chunks from (arena.c, "Source"). Its blocks are not zeroed when reused. */
AR_INTERNAL const struct ar_source *ar_source_os_cached_(void);
/* defsource.c: makes ar_default_source_ return `src` for default-size chunks instead of the
 * process-wide pool (NULL restores the pool). numa/ installs its node-routing source here;
 * `src` must stay valid for as long as any arena may hold a copy (the process, in practice). */
AR_INTERNAL void ar_set_default_source_override_(const struct ar_source *src);
/* registry.c: changes the kind and node that the registry shows for `arena` (numa/ lists its
 * per-node ConcurrentArenas as AR_KIND_NODE). No-op if the arena is not listed. */
AR_INTERNAL void ar_registry_set_kind_(const void *arena, int kind, int node);
/* Adds `bytes` to a registry entry's capacity mirror (chunks it held before it was listed). */
AR_INTERNAL void ar_registry_mirror_(struct ar_reg_node *reg, size_t bytes);

#endif /* ARENART_INTERNAL_H */
