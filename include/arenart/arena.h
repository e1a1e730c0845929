/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief The serial arena: owner-thread bump allocation, freed all at once.
 *
 * An ar_arena_t hands out memory by bumping a cursor through chunks that it gets from a
 * memory source (arenart/source.h): of one size, or growing with the arena's footprint for a
 * default arena (see ar_options_t.chunk_size). Nothing is freed one object at a time: memory comes
 * back when the arena is rewound to a mark, reset, released or destroyed.
 *
 * Lifetime rules (read these once):
 *   - A pointer from the arena is valid until the arena is rewound past it, reset, released or
 *     destroyed. After that, using it is a use-after-free (ASan builds report it).
 *   - reset() keeps chunks for reuse (by default what recent requests needed; see ar_reset)
 *     and gives the rest back;
 *     release() gives everything back; both run the cleanup callbacks, newest first.
 *   - Marks are nested save points: rewinding to a mark frees everything allocated after it,
 *     runs the cleanups registered after it, and invalidates marks taken after it. reset() and
 *     release() invalidate every mark.
 *   - Memory must not escape into a longer-lived structure unless that structure dies first.
 *
 * Thread contract: a serial arena belongs to one thread at a time (its owner, the creator by
 * default). Moving it to another thread needs a happens-before edge (a queue, a mutex) and
 * ar_arena_adopt() on the receiving side. Debug builds abort with a message when a thread
 * other than the owner calls into the arena: at AR_DEBUG >= 1 in every out-of-line call (the
 * inline bump of ar_alloc and its siblings is not checked), at AR_DEBUG >= 2 (nothing inline)
 * in every call. ConcurrentArena (concurrent.h) is the type to share.
 *
 * Synchronization:
 *   | call                              | may run concurrently with                    |
 *   |-----------------------------------|----------------------------------------------|
 *   | ar_options_init                   | anything                                     |
 *   | ar_arena_create                   | anything (creates a new arena)               |
 *   | every other ar_* on arena A       | nothing else on A (owner thread only)        |
 *   | calls on distinct arenas          | each other, provided their sources allow it  |
 *
 * Errors: see arenart/common.h for the convention. NULL arena: allocation returns NULL with
 * AR_EINVAL; void functions do nothing; stats/checks return AR_EINVAL. Zero-byte allocations
 * return a unique, non-NULL pointer (as if 1 byte had been asked for).
 */
#ifndef ARENART_ARENA_H
#define ARENART_ARENA_H

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "arenart/common.h"
#include "arenart/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A serial arena (opaque); see the thread contract above. */
typedef struct ar_arena ar_arena_t;

/** Default alignment of ar_alloc: enough for any scalar type on x86-64 and AArch64. */
#define AR_ALIGN_DEFAULT 16
/** Default ar_options_t.chunk_size: 64 KiB. */
#define AR_DEFAULT_CHUNK_SIZE ((size_t)64 * 1024)
/** ar_options_t.retain_bytes: keep what recent requests needed (see ar_reset). */
#define AR_RETAIN_AUTO ((size_t)-1)
/** Default ar_options_t.retain_bytes: AR_RETAIN_AUTO. */
#define AR_DEFAULT_RETAIN_BYTES AR_RETAIN_AUTO
/** The most an AR_RETAIN_AUTO arena keeps across a reset: 64 MiB. */
#define AR_RETAIN_AUTO_MAX ((size_t)64 << 20)
/** The largest ordinary chunk of an arena whose chunks grow (see ar_options_t.chunk_size):
 * 4 MiB, 64 times AR_DEFAULT_CHUNK_SIZE. A grown chunk that large from OS pages (a default
 * arena's, unless created after ar_numa_init: see ar_arena_create) is advised MADV_HUGEPAGE
 * like any such block of ar_source_os(), so where the kernel gives transparent huge pages (THP
 * "always" or "madvise", and 2 MiB of free contiguous memory) an arena whose footprint has
 * grown to megabytes bumps through 2 MiB pages. Measured on the build VM (docs/benchmarks.md,
 * "Grown chunks of 4 MiB"): a bump through 64 MiB of 256-byte objects took 0.80-0.82x the time
 * with 2 MiB pages, and arenart's hot 256 B case at DRAM sizes in the bench went from 1.02-1.07x
 * to 0.83-0.97x its 4 KiB-page bump loop. The costs: memory becomes resident 2 MiB at a time, so
 * a freshly mapped chunk of this size may hold up to 2 MiB that the arena has not written (one
 * reused from the cache of given-back mappings holds whatever its last arena left resident);
 * where THP is "always", a grown chunk of 2 MiB may be one huge page too. And a first touch
 * zeroes 2 MiB at once: about 0.2 ms a page, but on a virtual machine whose host takes back
 * free guest memory (free page reporting) 2 GiB of fresh mappings took 13.6 ms a page in one
 * run. */
#define AR_GROWN_CHUNK_MAX ((size_t)4 << 20)
/** Smallest chunk_size ar_arena_create accepts. */
#define AR_MIN_CHUNK_SIZE ((size_t)256)
/** Largest single request; larger ones fail with AR_EOVERFLOW. */
#define AR_MAX_ALLOC_SIZE (SIZE_MAX >> 2)

/** Flags for ar_options_t.flags. */
enum {
  /** Every allocation takes the checked out-of-line path: guard bytes after each allocation
   * are verified at rewind/reset (AR_ECORRUPT is reported on stderr and in ar_arena_check),
   * and freed memory is filled with 0xDD junk. Slower; for debugging. */
  AR_ARENA_CHECKED = 1u << 0,
  /** Every ordinary chunk is exactly chunk_size bytes, even with the default chunk_size and
   * source, whose chunks otherwise grow (see ar_options_t.chunk_size). */
  AR_ARENA_FIXED_CHUNKS = 1u << 1,
};

/** How to create an arena. Start from ar_options_init() or AR_OPTIONS_INIT, then set the
 * fields you need.
 *
 * Extensible: `size` comes first and tells the library which version of this struct the
 * caller was compiled with, so a later minor version can add fields at the end without
 * breaking programs built against this header. ar_options_init() and AR_OPTIONS_INIT set it to
 * `sizeof(ar_options_t)`; leave it alone. The library accepts (and otherwise fails with
 * AR_EINVAL, see docs/abi.md):
 *   - 0: a zero-initialised struct (`ar_options_t o = {0};`, or designated initializers) of
 *     the first layout with a size field (0.1.0, this one); fields left 0 mean what 0 means
 *     for them (chunk_size 0 is the default, retain_bytes 0 keeps nothing). Only the 0.1.0
 *     fields are read: a caller of a later version that sets a field added since must also
 *     set `.size = sizeof(ar_options_t)` (or start from the initializers), or that field is
 *     ignored;
 *   - a multiple of 8 up to the library's own `sizeof`: an older, shorter struct; the fields
 *     it lacks take their defaults (AR_OPTIONS_INIT);
 *   - a multiple of 8 above it, up to AR_OPTIONS_MAX_SIZE, only if every byte past what the
 *     library knows is zero: a newer caller that sets a field this library lacks is refused
 *     rather than silently ignored.
 * Every function that takes an ar_options_t checks it this way. */
typedef struct ar_options {
  size_t size;               /**< sizeof(ar_options_t) as the caller compiled it (see above) */
  size_t chunk_size;         /**< bytes per chunk from the source, rounded up to a multiple
                                  of 64 (limit_bytes and chunk pools see the rounded size);
                                  0 = default; min 256.
                                  With the default chunk_size and no source (and no
                                  AR_ARENA_FIXED_CHUNKS) it is the first and smallest ordinary
                                  chunk's size, and chunks grow: each new ordinary chunk is
                                  the largest chunk_size << k that is at most the chunk bytes
                                  in use (ordinary and dedicated), up to AR_GROWN_CHUNK_MAX,
                                  and smaller (never below chunk_size) if limit_bytes needs
                                  it; if the source cannot give a grown chunk, the refill
                                  asks for a chunk_size one instead (a request over a
                                  quarter of that gets a dedicated chunk) before it reports
                                  AR_ENOMEM; a request that the current chunk cannot hold
                                  gets a dedicated chunk above a quarter of the chunk it
                                  would bump next; and ar_reset may keep one grown chunk in place of
                                  smaller ones (see ar_reset). Grown chunks come from where
                                  dedicated chunks do (see ar_arena_create). Near limit_bytes
                                  a growing arena may fit fewer mid-size blocks than fixed
                                  chunks would (the tails of grown chunks it bumped through
                                  stay unused): use AR_ARENA_FIXED_CHUNKS for an arena sized
                                  to its limit. Any other chunk_size (after the rounding: a
                                  value that rounds to the default one is the default), or
                                  a source, gives chunks of exactly chunk_size, and so do
                                  thread arenas (thread.h) and arena-pool arenas
                                  (arenapool.h). A ConcurrentArena's chunks grow by a rule
                                  of their own (see ar_concurrent_create) */
  size_t prealloc_chunks;    /**< chunks acquired at creation (creation fails if they can't be) */
  size_t retain_bytes;       /**< chunk bytes that reset() keeps; 0 keeps none;
                                  AR_RETAIN_AUTO (the default) adapts (see ar_reset) */
  size_t limit_bytes;        /**< cap on chunk bytes held at once; 0 = unlimited (for the
                                  length of a call that acquires a chunk before giving idle
                                  ones back, the source may hold both: see ar_alloc_aligned
                                  and ar_reset). A chunk's own bytes: address space reserved
                                  behind a dedicated chunk for ar_realloc to grow into is not
                                  counted (see ar_realloc) */
  const ar_source_t *source; /**< NULL = the default source (see ar_arena_create); copied */
  unsigned flags;            /**< AR_ARENA_* */
  const char *name;          /**< for diagnostics; copied (truncated to 31 bytes); may be NULL */
} ar_options_t;

/** Static initializer with the defaults; ar_options_init() does the same at run time. */
#define AR_OPTIONS_INIT \
  { sizeof(ar_options_t), AR_DEFAULT_CHUNK_SIZE, 0, AR_DEFAULT_RETAIN_BYTES, 0, NULL, 0, NULL }

/** Fills *opts with the defaults (AR_OPTIONS_INIT), `size` included. NULL is a no-op. Any
 * thread. */
AR_API void ar_options_init(ar_options_t *opts);

/**
 * Creates an arena. `opts` may be NULL for the defaults.
 * Without a source (opts NULL, or source NULL) the arena uses the default one, as every kind
 * of arena does: the process-wide lock-free chunk pool (arenart/chunkpool.h) when chunk_size is
 * AR_DEFAULT_CHUNK_SIZE (after ar_numa_init, the per-node pools of arenart/numa.h instead),
 * else OS pages (ar_source_os()). With the process-wide pool, dedicated chunks (see ar_realloc) and
 * grown ordinary chunks are OS pages too, as the pool would pass them there anyway, taken through a
 * process-wide cache of the mappings such arenas gave back: a chunk such an arena gives back
 * (reset, rewind, release, destroy, ar_free, a move by ar_realloc) goes there instead of to munmap,
 * and the next request of such an arena, in any thread, for a mapping of the same length (a reserve
 * for a reserve, see ar_realloc) takes it with no system call and no page fault. The cache holds at
 * most 64 MiB in at most 64 mappings, each of at most 16 MiB, making room by unmapping the oldest;
 * a mapping that has waited more than a second is unmapped at the cache's next use, and ar_trim
 * (arenart/numa.h) empties it. A reused mapping holds what its last arena left in it (the arena
 * never promised zeroed memory). The cache never makes arenart's own mappings fail: wherever the
 * library maps or grows a mapping (the cache's source, ar_source_os() and so the chunk pools,
 * reserves and their growth, NUMA node memory) and cannot (RLIMIT_AS, a strict overcommit
 * policy), it empties the cache and tries once more. Memory the program maps itself (malloc's
 * included) may still find the address space the cache holds taken; ar_trim frees it. An
 * arena that names a source, ar_source_os() included, never uses the cache, nor does one created
 * after ar_numa_init (its chunks come from the NUMA node pools); an arena keeps the choice made
 * at its creation. While a mapping is in the cache it is hidden from ASan and Valgrind memcheck
 * (poisoned, NOACCESS), so a read through a pointer into an arena that gave it back is reported
 * there; a release build reads whatever was left in it.
 * Errors (returns NULL): AR_EINVAL (a `size` the library does not accept (see ar_options_t):
 * not a multiple of 8, above AR_OPTIONS_MAX_SIZE, or larger than the library's struct with a
 * nonzero byte past it; chunk_size below AR_MIN_CHUNK_SIZE or above 1 GiB, or a
 * source with a NULL acquire/release), AR_ELIMIT (prealloc exceeds limit_bytes), AR_ENOMEM
 * (the arena header or a preallocated chunk could not be had; nothing is leaked).
 */
AR_API ar_arena_t *ar_arena_create(const ar_options_t *opts);

/** Runs the cleanups (newest first), returns every chunk to the source and frees the arena.
 * NULL is a no-op. */
AR_API void ar_arena_destroy(ar_arena_t *arena);

/** Makes the calling thread the arena's owner (after a hand-off with a happens-before edge). */
AR_API void ar_arena_adopt(ar_arena_t *arena);

/* ---- allocation ---------------------------------------------------------------------- */

/* Private: the hot fields, the first member of every arena. Their layout is part of the ABI
 * version, not of the API; do not touch them. When `end_ == cur_` the arena has turned its
 * inline fast path off (checked mode, sanitizers, debug level 2) and every call goes out of
 * line, where the real bound lives. */
struct ar_arena_hot_ {
  char *cur_;
  char *end_;
  uint64_t nalloc_;
};

/* Private: while a lease (lease.h) holds the cursor, cur_ == end_ == AR_LEASE_HELD_ (so the
 * inline test fails and every out-of-line call can tell); a lease that has ended holds
 * AR_LEASE_ENDED_. Neither is ever an address a chunk can have. */
#define AR_LEASE_HELD_ ((char *)(uintptr_t)16)
#define AR_LEASE_ENDED_ ((char *)(uintptr_t)32)

/**
 * Inline allocation counting is opt-in: define AR_COUNT_INLINE_ALLOCS (any value) before
 * including arenart headers and the inline fast path of that translation unit adds each of its
 * bump allocations to ar_stats_t.allocs, at one read-modify-write per allocation. Without it the
 * fast path is the bump and its bound test alone, and `allocs` counts every successful
 * allocation except those inline bumps: everything the library's own functions allocate (it
 * is compiled with the define), and every inline call that went out of line (a new chunk, a
 * dedicated chunk, a size-class list, checked or heap mode). Nothing else depends on the count:
 * marks, scopes and limits behave the same either way. C++: the member functions of
 * arenart.hpp are inline functions that all translation units share (the linker keeps one
 * copy), so define it the same way in every translation unit of a program that includes it.
 */
#ifdef AR_COUNT_INLINE_ALLOCS
#define AR_COUNT_INLINE_(h) ((h)->nalloc_++)
#else
#define AR_COUNT_INLINE_(h) ((void)0)
#endif

/* Private: the inline allocators are inlined even at -O0, so that the out-of-line path's
 * return address lies in the caller's own code (checked mode reports it as the allocation
 * site of a damaged guard). */
#if defined(__GNUC__) || defined(__clang__)
#define AR_INLINE_ALLOC_ __attribute__((always_inline))
#else
#define AR_INLINE_ALLOC_
#endif

/* Private: the out-of-line path behind every allocation call. */
AR_API void *ar_alloc_slow_(ar_arena_t *arena, size_t size, size_t align) AR_MALLOC_LIKE;

/**
 * Allocates `size` bytes aligned to `align` (a power of two; any size: alignments above the
 * page size get a dedicated chunk). Uninitialized memory.
 * Under `limit_bytes`, chunks that hold nothing (spares, an empty current chunk) are given
 * back to make room; a request is refused with AR_ELIMIT only if that would not be enough.
 * Room is made after the new chunk has been acquired, so for the length of the call the
 * source may hold up to those idle chunks' bytes above the limit. One exception: when the
 * empty chunk that a live mark names is given back this way, the chunk below it is sealed at
 * its top (so that a rewind to the mark can take back everything allocated after it) until
 * reset, and a small request that would have fitted in that chunk's tail may then be refused
 * with AR_ELIMIT.
 * Errors (returns NULL): AR_EINVAL (NULL arena), AR_EALIGN, AR_EOVERFLOW (size above
 * AR_MAX_ALLOC_SIZE), AR_ELIMIT, AR_ENOMEM, AR_EBUSY (called from a cleanup callback).
 * On failure the arena is unchanged (stats, chunks held and given back, marks).
 */
AR_MALLOC_LIKE AR_ALLOC_SIZE(2) AR_INLINE_ALLOC_
    static inline void *ar_alloc_aligned(ar_arena_t *arena, size_t size, size_t align) {
  struct ar_arena_hot_ *h = (struct ar_arena_hot_ *)(void *)arena;
  /* Fast path: default-or-smaller power-of-two alignment and room in the current chunk. The
   * cursor is always AR_ALIGN_DEFAULT-aligned, so rounding the size keeps it so. m is the
   * rounded size minus one, in one step: size 0 wraps to SIZE_MAX and a size within
   * AR_ALIGN_DEFAULT of SIZE_MAX stays there, so both fail the room test and reach the slow
   * path, which reports them. */
  if (AR_LIKELY(h != NULL && align - 1 < AR_ALIGN_DEFAULT && (align & (align - 1)) == 0)) {
    size_t m = (size - 1) | (AR_ALIGN_DEFAULT - 1); /* the rounded size, minus one */
    if (AR_LIKELY(m < (size_t)(h->end_ - h->cur_))) {
      char *p = h->cur_;
      h->cur_ = p + m + 1;
      AR_COUNT_INLINE_(h);
      return p;
    }
  }
  return ar_alloc_slow_(arena, size, align);
}

/** ar_alloc_aligned with AR_ALIGN_DEFAULT. Same errors. */
AR_MALLOC_LIKE AR_ALLOC_SIZE(2) AR_INLINE_ALLOC_
    static inline void *ar_alloc(ar_arena_t *arena, size_t size) {
  return ar_alloc_aligned(arena, size, AR_ALIGN_DEFAULT);
}

/** Zero-filled ar_alloc. Same errors. */
AR_MALLOC_LIKE AR_ALLOC_SIZE(2) AR_INLINE_ALLOC_
    static inline void *ar_alloc_zeroed(ar_arena_t *arena, size_t size) {
  void *p = ar_alloc(arena, size);
  if (AR_LIKELY(p != NULL)) memset(p, 0, size);
  return p;
}

/** `count` elements of `size` bytes, uninitialized; count * size is overflow-checked
 * (AR_EOVERFLOW). Otherwise the errors of ar_alloc. */
AR_MALLOC_LIKE AR_ALLOC_SIZE2(2, 3) AR_INLINE_ALLOC_
    static inline void *ar_alloc_array(ar_arena_t *arena, size_t count, size_t size) {
  size_t total;
  if (AR_UNLIKELY(__builtin_mul_overflow(count, size, &total)))
    return ar_alloc_slow_(arena, SIZE_MAX, AR_ALIGN_DEFAULT); /* reports AR_EOVERFLOW */
  return ar_alloc(arena, total);
}

/** Zero-filled, overflow-checked array with a chosen alignment (see ar_alloc_aligned). */
AR_MALLOC_LIKE AR_ALLOC_SIZE2(2, 3) AR_INLINE_ALLOC_
    static inline void *ar_calloc_aligned(ar_arena_t *arena, size_t count, size_t size,
                                          size_t align) {
  size_t total;
  void *p;
  if (AR_UNLIKELY(__builtin_mul_overflow(count, size, &total)))
    return ar_alloc_slow_(arena, SIZE_MAX, AR_ALIGN_DEFAULT); /* reports AR_EOVERFLOW */
  p = ar_alloc_aligned(arena, total, align);
  if (AR_LIKELY(p != NULL)) memset(p, 0, total);
  return p;
}

/** Zero-filled, overflow-checked array with the default alignment (like calloc). */
AR_MALLOC_LIKE AR_ALLOC_SIZE2(2, 3) AR_INLINE_ALLOC_
    static inline void *ar_calloc(ar_arena_t *arena, size_t count, size_t size) {
  return ar_calloc_aligned(arena, count, size, AR_ALIGN_DEFAULT);
}

/** A zeroed object of type T, aligned for T, as a `T *`; NULL on failure (the errors of
 * ar_calloc_aligned). */
#define AR_NEW(arena, T) ((T *)ar_calloc_aligned((arena), 1, sizeof(T), AR_ALIGNOF(T)))
/** A zeroed array of `n` objects of type T, aligned for T, as a `T *`; NULL on failure
 * (including AR_EOVERFLOW when n * sizeof(T) overflows). */
#define AR_NEW_ARRAY(arena, T, n) ((T *)ar_calloc_aligned((arena), (n), sizeof(T), AR_ALIGNOF(T)))

/** Copies `size` bytes of `src` into the arena. AR_EINVAL if src is NULL and size > 0. */
AR_API void *ar_memdup(ar_arena_t *arena, const void *src, size_t size);

/** A NUL-terminated copy of `s` in the arena. Errors (NULL): AR_EINVAL for a NULL string,
 * otherwise those of ar_alloc. */
AR_API char *ar_strdup(ar_arena_t *arena, const char *s);
/** Like ar_strdup but copies at most `n` bytes of `s`, and always NUL-terminates. */
AR_API char *ar_strndup(ar_arena_t *arena, const char *s, size_t n);

/** printf into the arena; the result is NUL-terminated and exactly as long as needed.
 * Errors (NULL): AR_EINVAL for a NULL format or an encoding error from vsnprintf, otherwise
 * those of ar_alloc. */
AR_API char *ar_sprintf(ar_arena_t *arena, const char *fmt, ...) AR_PRINTF(2, 3);
/** ar_sprintf with a va_list (which it does not va_end). Same errors. */
AR_API char *ar_vsprintf(ar_arena_t *arena, const char *fmt, va_list ap) AR_PRINTF(2, 0);

/* ---- giving single blocks back ------------------------------------------------------ */

/**
 * Gives back the block `p` of `size` bytes (the size it was allocated with, or less; after an
 * ar_realloc that kept p, the new size or less: a larger size is a caller error). If it
 * is the arena's most recent allocation and no mark has been taken since, the cursor simply
 * moves back; otherwise the block joins a per-size-class list and is reused by a later
 * out-of-line allocation (ar_realloc, a refill) of that class, so a mark's position is never
 * given back. The inline fast path never looks at those lists: it stays a pure bump.
 * In checked mode, ASan builds and the heap flavor freed blocks are quarantined (never reused
 * until a rewind or reset): ASan builds, and arenas created under Valgrind's memcheck (which
 * run checked), report any use of one; otherwise checked mode fills it with 0xDD junk, so a
 * read of it sees junk but is not reported. NULL p is a no-op (and, for ar_mark, not a
 * change). A block in a dedicated chunk (a large or over-aligned request) is not listed: the
 * whole chunk goes back to the source at once, with any address space reserved for it to grow
 * into (see ar_realloc; not counted in `recycled`, not kept by AR_RETAIN_AUTO).
 * Errors: AR_EINVAL, and nothing changes, for a NULL arena, a p that is not 16-byte aligned,
 * a p inside a dedicated chunk (large or over-aligned request) that is not the start of
 * its allocation, or a block in the current chunk that would reach past the end of the memory
 * handed out there, in every build. What else is caught depends on what the arena records:
 *   - checked arenas (AR_ARENA_CHECKED, every arena at AR_DEBUG >= 2), ASan builds and the
 *     heap flavor know where every block starts: any p that is not the start of a live block
 *     of at least `size` bytes (inside one, given back already, not from this arena) fails;
 *   - other arenas at AR_DEBUG >= 1 check only that [p, p + size) lies in memory the arena has
 *     handed out and not taken back: a 16-aligned pointer inside a live block, or a block
 *     given back twice, is not detected;
 *   - release builds (AR_DEBUG 0) trust the caller beyond the checks made in every build.
 */
AR_API int ar_free(ar_arena_t *arena, void *p, size_t size);

/**
 * Resizes the block `p` (allocated with `old_size` bytes, default alignment) to `new_size`,
 * in place when `p` is the most recent allocation, no mark has been taken since, and the
 * current chunk has room, or when `p` has a dedicated chunk (a large request) that has room
 * or whose source can resize it (the OS source, ar_source_os(), does, and so does the default
 * source of an arena from ar_arena_create without NUMA routing: mremap, which may move
 * the block without copying it, so the result may differ from p and p is then invalid; arenas
 * that see every allocation, AR_ARENA_CHECKED ones and all arenas in AddressSanitizer and heap
 * builds, under Valgrind or at AR_DEBUG >= 2, always copy; ThreadSanitizer builds, which cannot
 * follow mremap, copy where a dedicated chunk's mapping would have to be resized);
 * otherwise by allocating a new block (recycled if one of that class is free; above a quarter
 * of a chunk_size chunk's room after its header, a dedicated chunk of its own, where the next
 * growth needs no copy, even in an arena whose grown chunks could hold it), copying, and giving
 * the old one back with ar_free. p == NULL behaves as ar_alloc.
 * Room to grow: when a block that already has a dedicated chunk of the OS source (as above)
 * grows again past that chunk, to 512 KiB or less, in an arena that does not always copy and
 * whose limit_bytes can hold the old and the new chunk for the length of the copy, ar_realloc
 * moves it (one copy) into a dedicated chunk mapped with address space reserved behind it (the
 * mapping is 1 MiB long, advised MADV_NOHUGEPAGE), and from then on the block grows into it in
 * place with no system call; otherwise the chunk is resized as above. Past the reserve the
 * mapping is resized with mremap (to 4 MiB, or, once the chunk reaches 4 MiB, to the chunk's
 * own size, advised MADV_HUGEPAGE like any block that large of the OS source). A block that
 * ar_realloc moves into a dedicated chunk for the first time gets an exact one, with no
 * reserve. A reserve costs address space and page tables (about 2 KiB per 1 MiB reserve), and
 * no memory until the block grows into it; but the kernel charges a mapping's whole length
 * under a strict overcommit policy (vm.overcommit_memory = 2) and RLIMIT_AS counts it, so there
 * a program holding many blocks that grew twice runs out of address space or commit charge
 * about 1 MiB per block, long before memory, and ar_realloc (and anything else that maps
 * memory) then fails with AR_ENOMEM; arenas with a source of their own (any other than
 * ar_source_os()) get no reserves. `capacity` (ar_stats_t), limit_bytes and what reset keeps
 * count only the chunk's bytes (its header and the block as grown so far), and a growth that
 * would take them past limit_bytes fails with AR_ELIMIT as any other would; the whole mapping
 * goes back with the chunk (ar_free, rewind, reset, release, destroy): to the cache of mappings
 * for an arena whose dedicated chunks go through it (see ar_arena_create), if it is still the
 * 1 MiB mapping it was made as, else to the OS.
 * Shrinking keeps p; from then on the block has `new_size` bytes (ar_free and ar_realloc must
 * be given at most that; a write past it is caught where overflows are), and the bytes it no
 * longer uses are reused only if it is the most recent allocation, else after rewind/reset.
 * Age across marks: a block shrunk (always in place), or grown in place or by mremap, keeps
 * its age, so a rewind to a mark taken between its allocation and the realloc does not free
 * it; a block that was copied is new, and that rewind frees it. Arenas that always copy
 * (checked, ASan, heap, Valgrind, AR_DEBUG >= 2), and ThreadSanitizer builds for a dedicated
 * chunk that must be resized, therefore free it where release builds may not: portable code
 * treats the result of a growing ar_realloc as allocated by that call.
 * Errors (returns NULL, the old block untouched and still valid, the arena unchanged): those
 * of ar_alloc, and AR_EINVAL for a p that ar_free would refuse (the same checks per build).
 */
AR_API void *ar_realloc(ar_arena_t *arena, void *p, size_t old_size, size_t new_size);

/* ---- marks, reset, release ----------------------------------------------------------- */

/** A save point. Treat as opaque; copyable by value. */
typedef struct ar_mark {
  void *chunk_;
  char *cur_;
  uint64_t depth_;
  uint64_t seq_;
  uint64_t stamp_;
  size_t ncleanup_;
} ar_mark_t;

/** The current position. ar_mark(NULL) records AR_EINVAL and gives a mark that every rewind
 * rejects with AR_ESTALE.
 * Two marks taken one after the other with no successful allocation, ar_defer, ar_free,
 * ar_realloc, ar_rewind, ar_reset or ar_release on the arena between them name one save
 * point: a rewind to either does the same and leaves the other valid. Any other mark taken
 * after a mark m (a mark taken right after a rewind included) is invalidated by a rewind to m.
 * Limit: such a mark, taken right after a rewind to m and invalidated by a later rewind to m,
 * is accepted again once a new mark is taken at that same save point (the save point's range
 * of valid marks grows back over it); rewinding to it then does exactly what rewinding to
 * that new mark does (the same position, cleanups and chunks), so nothing live is freed
 * (unless it was a mark returned with AR_ENOMEM recorded, see below, whose position may
 * differ).
 * The arena keeps a record of its live save points (16 bytes each; four inline, beyond that
 * malloc'd). If it cannot grow, the mark is still returned and works, with AR_ENOMEM recorded
 * as the last error. */
AR_API ar_mark_t ar_mark(ar_arena_t *arena);

/**
 * Frees everything allocated since `mark` (running the cleanups registered since, newest
 * first). The mark stays valid, so a loop may rewind to it repeatedly; marks taken after it
 * become invalid, except those that name its save point (see ar_mark). Chunks freed by the
 * rewind are kept for reuse as by ar_reset (within `retain_bytes`, or, with AR_RETAIN_AUTO,
 * within the decaying peak, dedicated ones too).
 * Errors: AR_EINVAL (NULL arena or mark), AR_EBUSY (called from a cleanup), AR_ESTALE (the
 * mark is from before a reset or release, or was invalidated by an earlier rewind, whatever
 * has been allocated since); the arena is then unchanged. Detection is the same in every
 * build, and exact but for the one case in ar_mark's "Limit", where the mark accepted names
 * the same point as a valid one.
 * Limits: a block given back with ar_free (before or after the mark) and reused by an
 * allocation after it may lie below the mark: the rewind does not take it back; reset does.
 */
AR_API int ar_rewind(ar_arena_t *arena, const ar_mark_t *mark);

/**
 * Runs all cleanups (newest first), frees every allocation, keeps chunks for reuse and
 * returns the rest to the source. What is kept depends on `retain_bytes`:
 *   - a number: up to that many bytes of ordinary chunks; dedicated chunks (large or
 *     over-aligned requests) always go back;
 *   - AR_RETAIN_AUTO (the default): up to a decaying peak of the chunk bytes the arena had in
 *     use at its recent resets and rewinds (ordinary and dedicated chunks alike), never more
 *     than AR_RETAIN_AUTO_MAX. The peak rises with the need at once. Above the need it
 *     decays: the excess halves for every 128 ms elapsed, and is dropped at 4 KiB or less;
 *     the decay is applied at every fourth reset or rewind that finds the need below the
 *     peak (the clock is read then, and when the need rises above the peak, never
 *     otherwise). So any excess is gone at the first such fourth reset or rewind that comes
 *     1.8 s or more after the need fell; nothing decays between resets, and an arena that is
 *     not reset keeps what its last reset kept. Emptied dedicated chunks are kept by size
 *     and reused by a later dedicated request they fit, if at most twice the chunk it would
 *     get (or 7 KiB, for chunks under 4 KiB); a chunk above AR_RETAIN_AUTO_MAX is never
 *     kept. Kept chunks from earlier resets go back before this reset's. When chunks grow
 *     (see ar_options_t.chunk_size) and the chunks in use were more than chunk_size while
 *     the bytes handed out (and a chunk header) fit in 1 MiB, the reset keeps
 *     one chunk, the least chunk_size << k that holds those bytes, in place of every smaller
 *     kept chunk, ordinary or dedicated (unless it keeps one that large already, or
 *     limit_bytes is below it, or the source has none; it is acquired before the chunks it
 *     replaces go back, so for the length of the call the source may hold both, as for a
 *     request under limit_bytes; an arena on the cache of given-back mappings gives them
 *     there, where they stay resident until reused or unmapped, see ar_arena_create): so it
 *     may keep up to twice what was handed out even above
 *     the peak, and the next such request bumps through that one chunk. For the peak, that
 *     chunk then counts as the chunk that would hold what a request handed out, so it goes
 *     back once requests are small again.
 * One kept ordinary chunk is made current at once, so the next allocation is an inline bump
 * (except when chunks grow and what was handed out, with a chunk header, was more than
 * 1 MiB: then the next request's first allocation takes the out-of-line path,
 * which lays that request out over the kept chunks as the last one was); the stats count it
 * as a spare while it is empty, and like every kept chunk it is given back
 * when a request needs its room under `limit_bytes`. Invalidates all marks. NULL is a no-op.
 */
AR_API void ar_reset(ar_arena_t *arena);

/** Like ar_reset but returns every chunk to the source. The arena stays usable. */
AR_API void ar_release(ar_arena_t *arena);

/* ---- cleanups ------------------------------------------------------------------------ */

/** A cleanup callback for ar_defer(); it receives the `arg` given there. */
typedef void (*ar_cleanup_fn)(void *arg);

/**
 * Registers fn(arg) to run when the memory allocated before this call goes away: at the
 * rewind to a mark taken before it, reset, release or destroy. Cleanups run newest first,
 * while the arena's memory is still intact; they may not allocate from the arena (AR_EBUSY).
 * Errors: AR_EINVAL (NULL arena or fn), or the errors of ar_alloc (the cleanup record lives in
 * the arena); on error fn is not registered and the caller still owns `arg`.
 */
AR_API int ar_defer(ar_arena_t *arena, ar_cleanup_fn fn, void *arg);

/* ---- introspection ------------------------------------------------------------------- */

/** A serial arena's figures, filled by ar_arena_stats() (ar_concurrent_stats() fills the
 * fields it documents). */
typedef struct ar_stats {
  size_t used;         /**< bytes handed out and not taken back by rewind/reset/release
                            (alignment padding included; blocks given back with ar_free and
                            waiting on a size-class list too: see `recycled`) */
  size_t capacity;     /**< bytes of chunks held, spare ones included (address space
                            reserved for a dedicated chunk to grow into is not counted:
                            see ar_realloc) */
  size_t peak;         /**< highest `used` since creation */
  size_t chunks;       /**< ordinary chunks holding allocations */
  size_t large_chunks; /**< dedicated chunks for large or over-aligned requests */
  size_t spare_chunks; /**< empty chunks kept for reuse (an empty current chunk and kept
                            dedicated chunks included) */
  uint64_t allocs;     /**< successful allocations since creation; an inline fast-path
                            bump counts only where AR_COUNT_INLINE_ALLOCS is defined (see
                            there) */
  size_t cleanups;     /**< registered cleanups pending */
  size_t recycled;     /**< bytes given back with ar_free and waiting for reuse */
} ar_stats_t;

/** Fills *out. Errors: AR_EINVAL (NULL arena or out). */
AR_API int ar_arena_stats(ar_arena_t *arena, ar_stats_t *out);

/** True if `p` points into memory this arena has handed out and not yet taken back. O(chunks).
 * False for NULL arguments. */
AR_API bool ar_owns(const ar_arena_t *arena, const void *p);

/** Walks every internal invariant (chunk lists, accounting, guard bytes in checked mode).
 * Returns AR_OK, AR_EINVAL for NULL, or AR_ECORRUPT (with a message on stderr). */
AR_API int ar_arena_check(ar_arena_t *arena);

/** The name given at creation ("" if none). Never NULL for a non-NULL arena. */
AR_API const char *ar_arena_name(const ar_arena_t *arena);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_ARENA_H */
