/* SPDX-License-Identifier: MIT */
/*
 * runtime/options.c - the one place that reads a caller's options struct and decides whether
 * it makes a serial arena.
 *
 * Reading. Every options struct of the public API (ar_options_t, ar_arena_pool_options_t,
 * ar_map_options_t, ar_numa_options_t) is allocated by the caller, so its size is compiled
 * into the caller, not into the library. Each one starts with `size_t size`, which the
 * initializers set to the caller's sizeof, and the library reads the struct only through the
 * readers below, which copy exactly the bytes the caller declared: a program built against an
 * older, shorter header gets the defaults for the fields it does not know, and one built
 * against a newer, longer header is accepted only if everything past what this library knows
 * is zero (a nonzero byte there is a feature this library lacks; ignoring it would run the
 * program with a behaviour it did not ask for, so AR_EINVAL says so at once). size 0 stands for
 * the first sized layout (0.1.0) so that zero-initialised structs (`= {0}`, designated
 * initializers), which worked before the field existed, keep working; that length is frozen
 * here as the end of the last 0.1.0 field, which later versions only append to. A size that is
 * not a multiple of the struct's alignment or is above AR_OPTIONS_MAX_SIZE is no struct at all
 * (typically a struct that was never initialised), so it is refused rather than trusted for a
 * read of up to that many bytes.
 *
 * ar_arena_pool_options_t embeds an ar_options_t, which may grow on its own. Its reader reads
 * the embedded struct by the embedded `size`, and the pool's own fields right after those
 * bytes: that is where a caller's compiler put them, whatever version of ar_options_t it saw.
 *
 * Validation. Three calls take serial-arena options: ar_arena_create uses them at once, while
 * ar_arena_pool_create and ar_thread_arena_configure keep them to create arenas later, on
 * other threads, inside ar_arena_pool_take and ar_thread_arena. If those two only checked a
 * subset of the rules, a bad option would be accepted with AR_OK and every later take (or
 * every new thread's first ar_thread_arena call) would fail, far from the mistake and with a
 * code (AR_EINVAL) that those calls do not document. So all three call this validator, and
 * the deferred ones call it when they are configured: after that, creating an arena from the
 * stored options can fail only for want of memory.
 *
 * The rules are exactly ar_arena_create's, in its order, so that the same bad options give the
 * same code wherever they are passed: the struct's size (AR_EINVAL, above); chunk_size (0
 * means the default) within [AR_MIN_CHUNK_SIZE, AR_MAX_CHUNK_SIZE_] (AR_EINVAL); a source,
 * when one is named, with both callbacks (AR_EINVAL); and prealloc_chunks chunks of the
 * 64-byte-rounded chunk size within limit_bytes when a limit is set (AR_ELIMIT). The readers
 * and the validator read only the options themselves (and the source they point to), so they
 * are safe from any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/map.h"
#include "arenart/numa.h"
#include "arenart/arenapool.h"
#include "arenart/thread.h"
#include "runtime/internal.h"

/* The end of a struct's last field: with the field named here as the last of version 0.1.0,
 * the length that size 0 stands for. Later versions add fields after it, never before. */
#define AR_END_OF_(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define OPTIONS_FIRST_SIZE AR_END_OF_(ar_options_t, name)
#define POOL_OPTIONS_FIRST_SIZE AR_END_OF_(ar_arena_pool_options_t, idle_ns)
#define MAP_OPTIONS_FIRST_SIZE AR_END_OF_(ar_map_options_t, seed)
#define NUMA_OPTIONS_FIRST_SIZE AR_END_OF_(ar_numa_options_t, xml)

/* The readers copy byte ranges, which is sound only while each struct is what the comments
 * say: size first, and (for the pool) the embedded arena options right behind it. */
_Static_assert(offsetof(ar_options_t, size) == 0, "size must be the first member");
_Static_assert(offsetof(ar_arena_pool_options_t, size) == 0, "size must be the first member");
_Static_assert(offsetof(ar_map_options_t, size) == 0, "size must be the first member");
_Static_assert(offsetof(ar_numa_options_t, size) == 0, "size must be the first member");
_Static_assert(offsetof(ar_arena_pool_options_t, arena) == sizeof(size_t),
               "the pool's arena options must follow its size");
_Static_assert(offsetof(ar_arena_pool_options_t, max_idle) == sizeof(size_t) + sizeof(ar_options_t),
               "the pool's own fields must follow its arena options without padding");
_Static_assert(sizeof(ar_options_t) <= AR_OPTIONS_MAX_SIZE &&
                   sizeof(ar_arena_pool_options_t) <= AR_OPTIONS_MAX_SIZE &&
                   sizeof(ar_map_options_t) <= AR_OPTIONS_MAX_SIZE &&
                   sizeof(ar_numa_options_t) <= AR_OPTIONS_MAX_SIZE,
               "an options struct outgrew AR_OPTIONS_MAX_SIZE");

/* Whether `size` (0 already replaced) can be the length of a version of a struct aligned to
 * `align`: at least the size member itself, a whole number of alignment units, not absurd. */
static bool size_ok(size_t size, size_t align) {
  return size >= sizeof(size_t) && size % align == 0 && size <= AR_OPTIONS_MAX_SIZE;
}

/* Copies the caller's `have` bytes at `src` over the library's `known` bytes at `dst` (which
 * hold the defaults): the common prefix is copied, a shorter caller leaves the rest of `dst`
 * at the defaults, and a longer one must have only zero bytes past `known`. */
static ar_error_t copy_prefix(void *dst, size_t known, const void *src, size_t have) {
  const unsigned char *s = (const unsigned char *)src;
  for (size_t i = known; i < have; i++)
    if (s[i] != 0) return AR_EINVAL;
  memcpy(dst, src, have < known ? have : known);
  return AR_OK;
}

/* Reads a whole sized struct: `in` of the caller's declared size over `out` (the defaults, of
 * the library's `known` size), keeping out's own size member. */
static ar_error_t read_sized(void *out, size_t known, const void *in, size_t first, size_t align) {
  size_t size = *(const size_t *)in;
  if (size == 0) size = first;
  if (!size_ok(size, align)) return AR_EINVAL;
  return copy_prefix((char *)out + sizeof(size_t), known - sizeof(size_t),
                     (const char *)in + sizeof(size_t), size - sizeof(size_t));
}

ar_error_t ar_options_read_(const struct ar_options *in, struct ar_options *out) {
  ar_options_t o = AR_OPTIONS_INIT;
  if (in != NULL) {
    ar_error_t bad = read_sized(&o, sizeof o, in, OPTIONS_FIRST_SIZE, AR_ALIGNOF(ar_options_t));
    if (bad != AR_OK) return bad;
  }
  *out = o; /* only now: `in` and `out` may be the same struct */
  return AR_OK;
}

ar_error_t ar_arena_pool_options_read_(const struct ar_arena_pool_options *in,
                                       struct ar_arena_pool_options *out) {
  ar_arena_pool_options_t o = AR_ARENA_POOL_OPTIONS_INIT;
  if (in != NULL) {
    const size_t at = offsetof(ar_arena_pool_options_t, arena);
    size_t size = in->size != 0 ? in->size : POOL_OPTIONS_FIRST_SIZE;
    /* It must hold at least the embedded struct's size member to say where its own fields
     * are. */
    if (!size_ok(size, AR_ALIGNOF(ar_arena_pool_options_t)) || size < at + sizeof(size_t))
      return AR_EINVAL;
    size_t arena_size = in->arena.size != 0 ? in->arena.size : OPTIONS_FIRST_SIZE;
    if (!size_ok(arena_size, AR_ALIGNOF(ar_options_t)) || arena_size > size - at) return AR_EINVAL;
    ar_error_t bad = ar_options_read_(&in->arena, &o.arena);
    if (bad != AR_OK) return bad;
    /* The pool's own fields: behind the caller's arena options in its struct, behind ours in
     * the library's. */
    const size_t own = at + sizeof(ar_options_t);
    bad = copy_prefix((char *)&o + own, sizeof o - own, (const char *)in + at + arena_size,
                      size - at - arena_size);
    if (bad != AR_OK) return bad;
  }
  *out = o;
  return AR_OK;
}

ar_error_t ar_map_options_read_(const struct ar_map_options *in, struct ar_map_options *out) {
  ar_map_options_t o = AR_MAP_OPTIONS_INIT;
  if (in != NULL) {
    ar_error_t bad =
        read_sized(&o, sizeof o, in, MAP_OPTIONS_FIRST_SIZE, AR_ALIGNOF(ar_map_options_t));
    if (bad != AR_OK) return bad;
  }
  *out = o;
  return AR_OK;
}

ar_error_t ar_numa_options_read_(const struct ar_numa_options *in, struct ar_numa_options *out) {
  ar_numa_options_t o = AR_NUMA_OPTIONS_INIT;
  if (in != NULL) {
    ar_error_t bad =
        read_sized(&o, sizeof o, in, NUMA_OPTIONS_FIRST_SIZE, AR_ALIGNOF(ar_numa_options_t));
    if (bad != AR_OK) return bad;
  }
  *out = o;
  return AR_OK;
}

ar_error_t ar_options_validate_(const struct ar_options *in, struct ar_options *out) {
  ar_options_t o;
  ar_error_t bad = ar_options_read_(in, &o);
  if (bad != AR_OK) return bad;
  if (o.chunk_size == 0) o.chunk_size = AR_DEFAULT_CHUNK_SIZE;
  if (o.chunk_size < AR_MIN_CHUNK_SIZE || o.chunk_size > AR_MAX_CHUNK_SIZE_) return AR_EINVAL;
  if (o.source != NULL && (o.source->acquire == NULL || o.source->release == NULL))
    return AR_EINVAL;
  /* Chunk sizes are whole 64-byte lines (arena.h): rounded here, once, so that every arena
   * made from these options, and the source chosen for them, sees the size its chunks have,
   * and each chunk counts that much against the limit. */
  o.chunk_size = ar_align_up_(o.chunk_size, 64);
  if (o.limit_bytes != 0 && o.prealloc_chunks > o.limit_bytes / o.chunk_size) return AR_ELIMIT;
  if (out != NULL) *out = o;
  return AR_OK;
}
