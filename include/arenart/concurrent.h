/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief ConcurrentArena: one arena that many threads allocate from at once.
 *
 * Lock-free (but for a wait at the byte limit, see "At the limit" below), with no atomic
 * read-modify-write per allocation: each thread carves a span (AR_ALIGN_DEFAULT-aligned start,
 * a multiple of 64 bytes long, so two threads never share a cache line) out of the shared
 * current chunk with one fetch-and-add, then bumps inside it privately. When the shared chunk
 * runs out, threads race to install a fresh one with a CAS; a loser hands its chunk straight
 * back to the source. A request that fits in the rest of the thread's current span, alignment
 * padding included, is carved there, whatever its size or alignment (so even a 4096-aligned one may
 * be). Otherwise a request aligned beyond 64 bytes gets a dedicated chunk, and so does one over
 * (chunk_size - 128) / 4 bytes (a quarter of chunk_size after its 128-byte header), except in an
 * arena whose chunks grow (see ar_concurrent_create): there one of at most a quarter of the
 * current shared chunk's usable bytes is carved exactly from that chunk (64-byte aligned) if the
 * rest of the chunk, or the tail left in it, holds it, and gets a dedicated chunk if not (no new
 * chunk is installed for it). One over half the first span length (see "Span lengths" below) is
 * carved exactly from the shared chunk (64-byte aligned). These leave the span as it is; any
 * other takes a fresh span, giving up the rest of the old one.
 *
 * Each arena keeps its own span for each thread, so a thread may interleave any number of
 * arenas without one costing another anything.
 *
 * Costs to know. Memory: the bytes carved (stats `used`) are at most the bytes requested, each
 * rounded up to 16 (to 64 for an exact piece: a request over half the first span length, or any
 * request of a thread that has no span, see below) and, if aligned beyond 16 and carved from a
 * span, plus the padding that aligns it there (at most its alignment less 16: 16-byte requests
 * aligned to 64 take 64 bytes each, four times their size), plus, for each thread that allocated
 * from the arena, the unused tail of its current span there (one span per thread and arena) and the
 * tails it gave up when a request did not fit (each smaller than that request plus its alignment;
 * none when every request has alignment 16 at most and the same rounded size, one that divides
 * every span length: 16, 32 or 64, for every span is a multiple of 64 bytes, whatever the source's
 * alignment). Span lengths: a thread's first span in a round (since creation or the last reset) is
 * a quarter of chunk_size rounded up to 64, at least 256 bytes and at most 16 KiB (the first
 * length); each later one is the first length plus half the bytes of the thread's earlier spans of
 * the round (rounded down to 64), so spans grow about 1.5x while a thread keeps allocating, but
 * never past 256 KiB (however long the chunk) nor a quarter of the chunk it is carved from (rounded
 * down to 64), unless that is below the first length; the span that reaches a chunk's end may be
 * shorter. So the tail a thread leaves is at most the first length plus half the bytes its earlier
 * spans of the round took, and at most 256 KiB. Capacity adds, per chunk, its 128-byte header (and
 * up to 63 bytes to align it, and up to 63 at its end to make its usable bytes a multiple of 64,
 * none with the default sources) and at most one tail that nobody could use (smaller than the
 * request, rounded up to 64, that did not fit), and per dedicated chunk its header and alignment
 * slack, and the rest of the current chunk, not carved yet: at most one chunk_size chunk, or, where
 * chunks grow (see ar_concurrent_create), at most the newest chunk, which may be as large as all
 * the ordinary chunks before it together, so capacity can reach twice that bound plus one
 * chunk_size chunk. After a reset, capacity also holds the chunks the reset kept (whole chunks
 * within retain_bytes, see ar_concurrent_create) until allocation reuses them, which it does before
 * it asks the source for more: so it exceeds the bound above by at most the bytes the reset kept,
 * whether reused since (a kept 1 MiB chunk serves a round that needs 16 KiB) or not yet (stats
 * `spare_chunks`). An exited thread's spans stay in the arena until reset, and serve the next
 * thread given its index (which carries on its span lengths).
 * Per arena: a table of AR_CTHREADS_ pointers (8 KiB), and 1 KiB of slots for every block of
 * 16 thread indices that allocated from it. Time: the inline path is a dozen instructions
 * (bench/ counts 13.4 per allocation under callgrind, refills included, 11.4 where the
 * compiler knows the arena is not NULL); a thread's first allocation from an arena (and its
 * first after a reset) and each span refill go out of line. At most AR_CTHREADS_ - 1
 * (1023) threads hold an index at once (an index is freed when its thread exits); a thread
 * beyond that gets no span, and each of its allocations carves an exact piece from the shared
 * chunk with a fetch-and-add: correct and bounded, but slower.
 *
 * At the limit. A new ordinary chunk is reserved against limit_bytes before the source is
 * asked for it, and threads that find the shared chunk spent race to refill it, each with its own
 * reservation. A thread whose reservation would pass the limit while another reservation is
 * in flight (a racing refill, whose chunk will serve it too, or a request whose chunk the
 * source may yet fail to give) does not report AR_ELIMIT: it waits, yielding the processor,
 * until a new chunk is installed (then allocates from it) or no reservation is in flight
 * (then retries if bytes were given back meanwhile, else reports AR_ELIMIT). So AR_ELIMIT
 * means that what the arena holds leaves no room, never that threads raced. The price: this
 * wait is the one place where allocation is not lock-free; at the limit, a thread stalled
 * inside the source's acquire (or stopped there for good) delays (or blocks) every thread
 * whose request needs a chunk the limit does not leave room for.
 *
 * Thread indices: limits. A thread's index is given back by a thread-specific-data destructor.
 * A thread that allocates from a ConcurrentArena in its own thread-exit destructors after that
 * one ran takes an index again, which is given back only if the C library runs the destructors
 * another round (glibc stops after four); until then that index is lost. After fork(), the
 * child's copies of the parent's other threads' indices are never given back (the child has
 * that many fewer to hand out). Unloading the library with dlclose() while threads still hold
 * indices is not supported.
 *
 * Tools. After reset or destroy, a read of memory the arena handed out is reported by ASan
 * (use-after-poison) and by Valgrind memcheck (Invalid read) while its chunk is kept by the
 * arena (a reset keeps chunks hidden until allocation carves them again) or sits in a chunk
 * pool, which hides what it holds (see arenart/chunkpool.h; the default source for the default
 * chunk size is the process-wide pool); once the memory is handed out again, nothing can
 * tell. A dedicated or grown chunk does not go back to the pool: with the default source it goes
 * to the cache of given-back mappings (see ar_concurrent_create), which hides it the same way
 * while it holds it (a release build reads whatever was left in it); once the cache hands it
 * to another request nothing can tell, and once it unmaps it (or unmaps it at once, when its
 * lock is busy or the chunk does not fit) a read faults. With a named source the chunk goes
 * back to that source. With ar_source_malloc() a read after reset or destroy is a read of
 * freed memory, which both tools report too. In the heap flavor every allocation is freed at
 * reset and destroy: both tools report a use after free.
 *
 * In the heap flavor (`--config=heap`) every allocation is its own malloc of exactly its size,
 * freed at reset: stats then count malloc'd bytes (capacity == used), chunks counts live
 * allocations, and the source is never called.
 *
 * Reset and destroy require QUIESCENCE: no thread may be inside, or later use memory from,
 * an allocation call on this arena (join the workers, or pass a barrier). Builds with
 * AR_DEBUG >= 1 detect a reset that races with an out-of-line allocation and abort with a
 * message; AR_DEBUG >= 2 routes every allocation out of line, so every race is seen.
 *
 * Synchronization:
 *   | call                          | may run concurrently with                         |
 *   |-------------------------------|---------------------------------------------------|
 *   | ar_concurrent_alloc*          | each other, from any number of threads; stats     |
 *   | ar_concurrent_stats           | anything but destroy (figures are a snapshot)     |
 *   | ar_concurrent_reset / destroy | nothing on that arena (quiescence, see above)     |
 *   | ar_concurrent_owns            | nothing that allocates from that arena            |
 */
#ifndef ARENART_CONCURRENT_H
#define ARENART_CONCURRENT_H

#include <stdbool.h>

#include "arenart/arena.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A ConcurrentArena (opaque). */
typedef struct ar_concurrent ar_concurrent_t;

/** What a ConcurrentArena keeps across a reset when retain_bytes is AR_RETAIN_AUTO: 1 MiB. */
#define AR_CONCURRENT_AUTO_RETAIN ((size_t)1 << 20)

/**
 * Creates a ConcurrentArena. Uses chunk_size, retain_bytes, limit_bytes, source (NULL = the
 * process-wide chunk pool when chunk_size is the default, else OS pages), the flag
 * AR_ARENA_FIXED_CHUNKS, name; prealloc and the other flags are ignored.
 * Chunks grow when nothing fixes their size: with the default chunk_size and source, no limit_bytes
 * and no AR_ARENA_FIXED_CHUNKS, each new chunk from the source is the largest chunk_size << k that
 * is at most the bytes of the ordinary chunks installed since creation or the last reset (kept ones
 * included, dedicated ones not), and at most AR_GROWN_CHUNK_MAX (4 MiB): an arena's first two
 * chunks are chunk_size (and a round's, after a reset that kept none), then each about doubles what
 * the round has. If the source cannot give a grown chunk, the refill asks it for a chunk_size one
 * before it reports AR_ENOMEM. Otherwise every ordinary chunk is chunk_size. With the
 * process-wide pool by default (no source named, the default chunk_size, created before
 * ar_numa_init), dedicated chunks (of any size) and grown chunks are OS pages taken through
 * the process-wide cache of given-back mappings that serial arenas use
 * (see ar_arena_create, whose paragraph on the cache holds here too): one that a reset, or
 * destroy, gives back goes there, and the next request of the same length, from this arena or
 * another, in any thread, takes it without mapping or faulting it. An arena keeps the choice
 * made at its creation. With a named source, chunks of every size come from it.
 * Reset keeps up to retain_bytes of ordinary chunks (whole chunks: those it kept before
 * first, then this round's, newest first, passing over one that would not fit; dedicated
 * ones always go back) and later refills take them, in order, before calling the source; a
 * kept chunk counts in capacity and against limit_bytes, and kept chunks not yet reused are
 * given back one by one, while a dedicated chunk would pass the limit, until it fits (not for
 * a request over the limit itself, nor for one that giving back all of them would not make
 * room for); they go back only once the source has given the dedicated chunk, so the source
 * holds both for the length of that call, and a source that fails leaves them all kept.
 * retain_bytes 0 keeps nothing: reset returns every chunk to the source, which may
 * pool them. AR_RETAIN_AUTO (the default) keeps AR_CONCURRENT_AUTO_RETAIN (1 MiB): a
 * ConcurrentArena does not follow a decaying peak as the serial arena does. The heap flavor
 * keeps nothing.
 * Errors (NULL): AR_EINVAL (a `size` the library does not accept (see ar_options_t); chunk_size,
 * unless 0 for the default 64 KiB, below 1024, i.e. 4 * AR_MIN_CHUNK_SIZE, or above 1 GiB; a
 * source without callbacks), AR_ENOMEM.
 */
AR_API ar_concurrent_t *ar_concurrent_create(const ar_options_t *opts);

/** Returns every chunk to the source and frees the arena. Quiescence required: no thread may be
 * allocating from, or later use memory of, the arena. NULL: no-op. */
AR_API void ar_concurrent_destroy(ar_concurrent_t *arena);

/* Private: the inline fast path's view of the library. Their layout is part of the ABI
 * version, not of the API; do not touch them.
 *
 * Every thread that allocates from a ConcurrentArena is given a small index, ar_cthread_
 * (1 .. AR_CTHREADS_ - 1; 0 = none yet, or none free), recycled when the thread exits. Every
 * ConcurrentArena starts with a table of AR_CTHREADS_ slot pointers, one per index: a thread's
 * entry points at its own 64-byte slot (its current span in this arena), or, until the thread
 * has a span here, at a static slot with cur_ == end_ == NULL, in which nothing fits and which
 * is therefore never written. An allocation that fits in the span bumps it with no shared
 * write and no call. Everything else (no span yet, a spent span, over-alignment, errors) goes
 * out of line. Builds of the library that route every call out of line (debug level 2, ASan,
 * the heap flavor) leave every entry on the empty slot. */
#define AR_CTHREADS_ 1024
struct __attribute__((aligned(64))) ar_cslot_ {
  char *cur_;
  char *end_;
  size_t spanned_; /* bytes of the spans this thread took since the last reset */
  char unused_[64 - 2 * sizeof(char *) - sizeof(size_t)]; /* a cache line per thread */
};
struct ar_concurrent_hot_ {
  struct ar_cslot_ *slot_[AR_CTHREADS_]; /* written by the thread owning the index, or quiescent */
};
/* Initial-exec: one %fs-relative load, no __tls_get_addr call on the fast path. */
extern AR_API __thread unsigned ar_cthread_ __attribute__((tls_model("initial-exec")));

/* Private: the out-of-line path behind every allocation call. */
AR_API void *ar_concurrent_alloc_slow_(ar_concurrent_t *arena, size_t size,
                                       size_t align) AR_MALLOC_LIKE;

/**
 * Allocates `size` bytes aligned to `align` (a power of two), from any thread, concurrently
 * with other allocations on the same arena. Uninitialized memory. Inline: the common case is a
 * thread-local bump with no call and no atomic read-modify-write.
 * Errors (returns NULL, arena unchanged: its stats, and what later calls get from it, are as if
 * the call had not been made; one exception, only with other threads allocating at once: a
 * request for a dedicated chunk that gave kept chunks back to make room under the limit, see
 * ar_concurrent_create, fails with AR_ELIMIT if they take the room first): AR_EINVAL (NULL
 * arena), AR_EALIGN (align zero or not a power of two), AR_EOVERFLOW (size or align above
 * AR_MAX_ALLOC_SIZE, so an align of 2^62 or 2^63), AR_ELIMIT, AR_ENOMEM (a smaller power of
 * two, however large, is honoured: if the span has no room, by a dedicated chunk of size plus
 * alignment, which a huge one cannot get: AR_ELIMIT or AR_ENOMEM). Size 0 gives a unique
 * non-NULL pointer.
 */
AR_MALLOC_LIKE AR_ALLOC_SIZE(2) static inline void *ar_concurrent_alloc_aligned(
    ar_concurrent_t *arena, size_t size, size_t align) {
  /* Read first, on every path: the compiler can then keep the TLS offset in a register
   * across a loop of calls (one instruction fewer per allocation). */
  unsigned t = ar_cthread_;
  if (AR_LIKELY(arena != NULL && align - 1 < AR_ALIGN_DEFAULT && (align & (align - 1)) == 0)) {
    /* Plain loads: the entry and the slot are written only by this thread, or by reset and
     * create, which the caller's quiescence orders before this call. */
    struct ar_cslot_ *s = ((struct ar_concurrent_hot_ *)(void *)arena)->slot_[t];
    /* m is the rounded size minus one (see ar_alloc_aligned): size 0 and sizes near SIZE_MAX
     * make it huge, so they go out of line, where they are reported. An empty slot has
     * end_ - cur_ == 0, so nothing fits in it. */
    size_t m = (size - 1) | (AR_ALIGN_DEFAULT - 1);
    if (AR_LIKELY(m < (size_t)(s->end_ - s->cur_))) {
      char *p = s->cur_;
      s->cur_ = p + m + 1;
      return p;
    }
  }
  return ar_concurrent_alloc_slow_(arena, size, align);
}

/** ar_concurrent_alloc_aligned with AR_ALIGN_DEFAULT; any thread. Same errors. */
AR_MALLOC_LIKE AR_ALLOC_SIZE(2) static inline void *ar_concurrent_alloc(ar_concurrent_t *arena,
                                                                        size_t size) {
  return ar_concurrent_alloc_aligned(arena, size, AR_ALIGN_DEFAULT);
}

/** Zero-filled, overflow-checked count * size (AR_EOVERFLOW); any thread. Otherwise the errors of
 * ar_concurrent_alloc. */
AR_API void *ar_concurrent_calloc(ar_concurrent_t *arena, size_t count, size_t size) AR_MALLOC_LIKE;

/** Frees everything at once: keeps up to retain_bytes of ordinary chunks for reuse (see
 * ar_concurrent_create) and returns the others to the source. Quiescence required. */
AR_API void ar_concurrent_reset(ar_concurrent_t *arena);

/** Snapshot: used = bytes carved into spans and exact pieces (span tails included), capacity
 * (kept chunks included), chunks = ordinary chunks in use since the last reset, spare_chunks =
 * chunks the last reset kept that are not in use yet, large_chunks, allocs = successful
 * out-of-line allocations since creation (inline bumps in a span are not counted; failed calls
 * are not either). AR_EINVAL for NULL. */
AR_API int ar_concurrent_stats(ar_concurrent_t *arena, ar_stats_t *out);

/** True if p lies in the part of a chunk this arena hands memory out from: its data, not its
 * header or the alignment slack around it (a chunk that a reset kept counts only once a refill
 * has taken it again: until then nothing in it is handed out). So true for every byte of every
 * block the arena handed out since the last reset. False for NULL arguments. Must not race
 * with allocation on the arena. */
AR_API bool ar_concurrent_owns(ar_concurrent_t *arena, const void *p);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_CONCURRENT_H */
