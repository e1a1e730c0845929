/* SPDX-License-Identifier: MIT */
/*
 * runtime/defsource.c - which source an arena gets when its options name none.
 *
 * The policy, in one place so that the serial and the concurrent arena agree: a default-size
 * chunk comes from the process-wide chunk pool (chunkpool.c), whose hot chunks are reused
 * before fresh pages are mapped; any other size goes straight to OS pages (source.c), since
 * only one size can be pooled. A NUMA layer linked into the program may replace the pool with
 * its own source for default-size chunks (numa/lifecycle.c installs the routing source at
 * ar_numa_init and removes it at shutdown). The runtime holds only a pointer to that source and
 * calls it through the ar_source_t seam, so it never names numa/, and no file below the arenas
 * knows a NUMA layer exists. The choice is made at arena creation: an arena keeps the source it
 * copied, so a later init or shutdown changes only the arenas created after it.
 *
 * Dedicated and grown chunks. An arena whose chunks come from the process-wide pool by default
 * also needs dedicated chunks (big or over-aligned requests, of any size) and grown ordinary
 * ones, which the pool would pass on to OS pages (all but a dedicated chunk of exactly its
 * size). Those it takes from OS pages itself (large_source), through
 * the cache of mappings such arenas gave back (oscache.c, via ar_source_os_cached_), so that
 * an arena reset every round, or made per job, does not map and fault the same lengths again
 * each time. Not for an arena that named a source (ar_source_os() included: its blocks are
 * zero when new), nor for one created after ar_numa_init (the override is not the pool).
 */
#include "arenart/arena.h"
#include "arenart/chunkpool.h"
#include "runtime/atomic.h"
#include "runtime/internal.h"

/* Set by numa/ (ar_numa_init / ar_numa_shutdown). The source it points to is static and never
 * changes, so readers need only see the pointer itself: acquire pairs with the release store
 * for form's sake (an initialised struct behind the pointer), at arena creation only. */
static ar_atomic(const ar_source_t *) default_override;

void ar_set_default_source_override_(const struct ar_source *src) {
  ar_store_release(&default_override, src);
}

const struct ar_source *ar_default_source_(size_t chunk_size) {
  if (chunk_size != AR_DEFAULT_CHUNK_SIZE) return ar_source_os();
  const ar_source_t *o = ar_load_acquire(&default_override);
  return o != NULL ? o : ar_chunk_pool_source(ar_chunk_pool_default());
}

const struct ar_source *ar_default_large_source_(const struct ar_source *src, bool named) {
  if (!named && src == ar_chunk_pool_source(ar_chunk_pool_default())) return ar_source_os_cached_();
  return src;
}
