/* SPDX-License-Identifier: MIT */
/*
 * bench/catalog.c - the allocators the driver compares and the workloads it runs, as data.
 *
 * Everything the report says about a peer (its printed name, which binary serves it, how it
 * is reached, its color in the plot) sits in one table, so that adding a peer is one row here
 * plus its worker code (peers_*.h), and no other file of the driver names a peer except the
 * few the goals single out (P_ARENART and friends in driver.h). The order of the rows is the
 * order of the table's rows and of the JSON's lists.
 */
#include <string.h>

#include "bench/driver.h"

const peer_t peers[] = {
    {"arenart", NULL, "arenart", "arenart", NULL,
     "ar_alloc on an ar_arena_create arena (defaults: chunks of 64 KiB growing to 4 MiB, adaptive "
     "retention; hot path: retain_bytes = 2x the region); ar_reset"},
    {"ar-thread", NULL, "arthread", "arthread", NULL,
     "ar_thread_arena() with one ar_scope_begin/ar_scope_end per request"},
    {"ar-concur", NULL, "arconcur", "arconcur", NULL,
     "one ConcurrentArena shared by all threads (public API); reset between rounds; hot path: "
     "retain_bytes = 2x the region; scaling: retain_bytes = 16 MiB, as ar-keep16"},
    {"bump", NULL, "bump", "bump", NULL,
     "a cursor through a pre-faulted mmap buffer (4 KiB pages): the limit of allocation code, no "
     "chunks; per-request, "
     "hot path, scaling and containers: also run alternately beside every allocator, in its "
     "worker, as its vs-bump / vb reference"},
    {"ar-keep16", NULL, "arkeep", "arkeep", NULL,
     "a serial arena with retain_bytes = 16 MiB; scaling: one per thread, reset once per "
     "round (the ConcurrentArena's lifetimes); large requests: reset per request, 1 MiB "
     "chunks (the tuned reference)"},
    {"ar-lease", NULL, "arlease", "arlease", NULL,
     "the arenart arena above through a lease: ar_lease_begin, ar_lease_alloc, ar_lease_end, "
     "ar_reset per request or batch (arenart/lease.h); per-request and hot path only"},
    {"glibc", NULL, "malloc", "libc", "libc.so",
     "glibc malloc/free (Debian libc6), in the bench binary itself; hot path: "
     "M_TRIM_THRESHOLD INT_MAX, M_MMAP_THRESHOLD 32 MiB (keeps freed memory)"},
    {"jemalloc", "bench_jemalloc", "malloc", "libc", "jemalloc",
     "malloc/free in worker bench_jemalloc, linked with -ljemalloc (libjemalloc-dev); hot "
     "path: dirty_decay_ms and muzzy_decay_ms -1 (no purging)"},
    {"tcmalloc", "bench_tcmalloc", "malloc", "libc", "tcmalloc",
     "malloc/free in worker bench_tcmalloc, linked with -ltcmalloc_minimal (gperftools); "
     "hot path: TCMALLOC_RELEASE_RATE=0 (no release)"},
    {"mimalloc", "bench_mimalloc", "malloc", "libc", "mimalloc",
     "malloc/free in worker bench_mimalloc, linked with -lmimalloc (libmimalloc-dev); hot "
     "path: allow_decommit 0, page_reset 0"},
    {"mi-heap", "bench_mimalloc", "miheap", "miheap", "mimalloc",
     "mi_heap_new + mi_heap_malloc, mi_heap_destroy per reset (bench_mimalloc); hot path: "
     "as mimalloc"},
    {"apr", NULL, "apr", "aprp", NULL,
     "apr_palloc from a pool on a per-thread apr_allocator (keeps freed blocks: max_free "
     "unlimited); apr_pool_clear (libapr1-dev); hot path: glibc settings as above"},
    {"talloc", NULL, "talloc", "tall", NULL,
     "talloc_size under a 1 MiB talloc_pool, beyond it glibc malloc; talloc_free_children "
     "(libtalloc-dev); hot path: glibc settings as above"},
    {"obstack", NULL, "obstack", "obs", NULL,
     "glibc obstack_alloc, 64 KiB chunks from glibc malloc; obstack_free back to a mark; hot "
     "path: glibc settings as above"},
    {"pmr", NULL, "pmr", "pmr", NULL,
     "std::pmr::monotonic_buffer_resource (C++17, libstdc++; operator new upstream), "
     "release() per request, through an extern \"C\" shim; large requests only"},
};
_Static_assert(sizeof peers / sizeof peers[0] == NPEERS, "NPEERS counts the peers");

/* One color per allocator in every panel of the plot (gnuplot's own cycle has 8). */
const char *const colors[NPEERS] = {"#d62728", "#ff7f0e", "#8c564b", "#7f7f7f", "#ff9896",
                                    "#c5b0d5", "#1f77b4", "#17becf", "#2ca02c", "#9467bd",
                                    "#e377c2", "#bcbd22", "#000000", "#aec7e8", "#98df8a"};

int peer_index(const char *name) {
  for (int i = 0; i < NPEERS; i++)
    if (strcmp(peers[i].name, name) == 0) return i;
  return -1;
}

const char *const wnames[W_COUNT] = {"hot",     "request",    "scaling", "larson",
                                     "bimodal", "containers", "large"};
const char *const wtitles[W_COUNT] = {
    "1. Hot path: ns per allocation, each object touched; size / region the batch fills "
    "(L1, L2: half the cache; L3: a quarter, after 6 warm-up batches a run; DRAM: twice L3); "
    "freeing not timed; each worker alternates its runs with runs of the bump loop on a region "
    "of the same size: vb/<case> = its fastest run / the bump loop's fastest run in the same "
    "process (the hot goals divide these)",
    "2. Per-request: 1000 allocations of 16..271 B, touched, then free-all; ns/alloc with "
    "the free-all (fastest run); each worker alternates its runs with runs of the bump loop: "
    "vs-bump = its fastest run / the bump loop's fastest run in the same process, bump = the "
    "latter; vs-bump-mem and bump-mem the same against a bump loop whose cursor lives in "
    "memory (reached through a pointer, as any allocator's is)",
    "3. Thread scaling: the per-request loop in t threads at once; ns per allocation of one "
    "thread = (slowest thread's busy time + serial reset) per round (flat = scales); "
    "ar-keep16 resets once per round (the ConcurrentArena's lifetimes); reset/t=N: the "
    "ConcurrentArena's serial reset, included; each round also has a half in which the same "
    "threads run the bump loop on the same requests, kept for the round: vb/t=N = the fastest "
    "round / the bump loop's fastest round in the same process (the scaling goal divides these)",
    "4. Larson for arenas: each thread builds a 1000-object batch, hands it to the next "
    "thread, which reads and frees it; all threads replaced every 24 batches; ns/alloc = wall "
    "time per allocation of one thread (thread start and exit included), the fastest of 15 "
    "generations (full: 45); busy = the same with each thread's time waiting for a batch left "
    "out (the slowest thread); vb/busy = busy / the busy figure of a reference run in alternate "
    "generations of the same process, whose batches bump through regions of their own, "
    "pre-faulted (the Larson goal divides these); ref/busy = the reference's",
    "5. Bimodal: requests of 200 small allocations, 1 in 50 also 8 MiB (every page "
    "touched), reset after each; ns/alloc leaves out the first 8 MiB request, timed apart: "
    "first-huge.ms (its first fault; see w_bimodal); kept = RSS above the start between "
    "requests, MiB",
    "6. Append-heavy containers: 64 byte vectors grown by doubling (realloc, or copy where "
    "the allocator has none) to 16 MiB stored (full: 64); ns/op = the fastest of 5 runs (full: "
    "7), each on a fresh instance, alternating in the same process with runs of the bump "
    "peer's grow (a new block and a copy) on the same appends: vb/ns/op = ns/op / that loop's "
    "fastest run (the containers goal divides these); peak/live = peak RSS growth over the "
    "first run / bytes stored",
    "7. Large requests: per request 64 KiB..16 MiB of 256 B..64 KiB blocks, every page "
    "touched, then free-all; 1 and 2 threads in rounds as in 3 (each round as many requests "
    "per thread as fill about 0.1 ms, at most 1024 blocks, ar-concur one; rounds for 6 ms, "
    "full 60, at least 3); ns/alloc, fastest round",
};
