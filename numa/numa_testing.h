/* SPDX-License-Identifier: MIT */
/*
 * numa/numa_testing.h - hooks for the NUMA tests (//tests/numa, //stress/numa): fault
 * injection, a pretend CPU, a fake clock for idle decay, and two counters. Free of hwloc types,
 * so test code never includes <hwloc.h>. Not part of the public API; hidden symbols, reachable
 * only by code linked statically with //numa. Defined where what they steer lives: faults and
 * the clock in hooks.c, the pretend CPU in topology.c, the figures in placement.c.
 */
#ifndef ARENART_NUMA_TESTING_H
#define ARENART_NUMA_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/internal.h"

/* Faults to inject: the next `count` operations of the kinds in `mask` fail (count < 0: all
 * of them until the next call; mask 0 clears). */
enum {
  AR_NUMA_FAULT_BIND = 1,      /* hwloc_set_area_membind fails (EIO) */
  AR_NUMA_FAULT_MAP = 2,       /* mapping a new chunk fails (ENOMEM) */
  AR_NUMA_FAULT_TOPOLOGY = 4,  /* hwloc topology discovery fails */
  AR_NUMA_FAULT_LOCATE = 8,    /* locating pages fails (hwloc_get_area_memlocation, and the
                                 move_pages(2) check of a freshly populated chunk) */
  AR_NUMA_FAULT_SPILL = 16,    /* the check of a freshly populated chunk finds every page on
                                 another node (as when the node is out of memory) */
  AR_NUMA_FAULT_POPULATE = 32, /* populating a freshly bound chunk fails (ENOMEM) */
  AR_NUMA_FAULT_REBIND = 64,   /* STRICT's MPOL_BIND re-bind of a verified chunk fails (EIO) */
};
AR_INTERNAL void ar_numa_test_fault_(unsigned mask, int count);
AR_INTERNAL bool ar_numa_fault_(unsigned kind);
/* Pretends the calling thread runs on CPU `cpu` (OS numbering); -1: ask sched_getcpu(). */
AR_INTERNAL void ar_numa_test_set_cpu_(int cpu);
/* Replaces the clock that idle decay reads (nanoseconds; 0: the real monotonic clock). */
AR_INTERNAL void ar_numa_test_set_clock_(uint64_t ns);
/* Bytes of the blocks of at least 64 KiB that //numa mapped and still owns (not yet unmapped,
 * nor handed to the default pool or the OS by a release while NUMA was off); blocks it never
 * mapped leave it unchanged. */
AR_INTERNAL size_t ar_numa_test_mapped_bytes_(void);
/* The node a chunk or dedicated block (64 KiB or more) that //numa owns was placed for, per
 * the page map (-1: not NUMA's, or no longer). */
AR_INTERNAL int ar_numa_test_chunk_node_(const void *chunk);
/* Calls of hwloc_set_area_membind that succeeded (0 on synthetic topologies). */
AR_INTERNAL uint64_t ar_numa_test_bind_calls_(void);

#endif /* ARENART_NUMA_TESTING_H */
