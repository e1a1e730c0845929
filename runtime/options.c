/* SPDX-License-Identifier: MIT */
/*
 * runtime/options.c - the one place that decides whether an ar_options_t makes a serial arena.
 *
 * Three calls take serial-arena options: ar_arena_create uses them at once, while
 * ar_arena_pool_create and ar_thread_arena_configure keep them to create arenas later, on
 * other threads, inside ar_arena_pool_take and ar_thread_arena. If those two only checked a
 * subset of the rules, a bad option would be accepted with AR_OK and every later take (or
 * every new thread's first ar_thread_arena call) would fail, far from the mistake and with a
 * code (AR_EINVAL) that those calls do not document. So all three call this validator, and
 * the deferred ones call it when they are configured: after that, creating an arena from the
 * stored options can fail only for want of memory.
 *
 * The rules are exactly ar_arena_create's, in its order, so that the same bad options give the
 * same code wherever they are passed: chunk_size (0 means the default) within
 * [AR_MIN_CHUNK_SIZE, AR_MAX_CHUNK_SIZE_] (AR_EINVAL); a source, when one is named, with both
 * callbacks (AR_EINVAL); and prealloc_chunks chunks of the 64-byte-rounded chunk size within
 * limit_bytes when a limit is set (AR_ELIMIT). The validator reads only the options themselves
 * (and the source they point to), so it is safe from any thread.
 */
#include "arenart/arena.h"
#include "runtime/internal.h"

ar_error_t ar_options_validate_(const struct ar_options *in, struct ar_options *out) {
  ar_options_t o = AR_OPTIONS_INIT;
  if (in != NULL) o = *in;
  if (o.chunk_size == 0) o.chunk_size = AR_DEFAULT_CHUNK_SIZE;
  if (o.chunk_size < AR_MIN_CHUNK_SIZE || o.chunk_size > AR_MAX_CHUNK_SIZE_) return AR_EINVAL;
  if (o.source != NULL && (o.source->acquire == NULL || o.source->release == NULL))
    return AR_EINVAL;
  /* The arena rounds its chunk size up to 64 bytes, and each chunk it holds counts that much
   * against the limit. */
  size_t chunk = ar_align_up_(o.chunk_size, 64);
  if (o.limit_bytes != 0 && o.prealloc_chunks > o.limit_bytes / chunk) return AR_ELIMIT;
  if (out != NULL) *out = o;
  return AR_OK;
}
