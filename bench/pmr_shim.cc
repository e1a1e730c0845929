/* SPDX-License-Identifier: MIT */
/*
 * bench/pmr_shim.cc - C++17's std::pmr::monotonic_buffer_resource, reachable from the C
 * worker.
 *
 * The resource is the standard library's arena: a cursor through buffers it takes from its
 * upstream (here the default, operator new, i.e. the process's malloc), each next buffer
 * larger than the last, all of them handed back by release(), after which it starts again
 * from its initial size. That is the design a C++ programmer reaches for first when a request
 * should free everything at once, so it belongs next to arenart's default options in the
 * large-request workload, where what a reset gives back is the whole question.
 *
 * The worker's workloads are C stamped out per allocator (workloads.inc), so the resource sits
 * behind four extern "C" functions in this file of its own. The price is a call per
 * allocation that the other allocators do not pay: a few nanoseconds, which is why this peer
 * runs only the large-request workload, whose allocations cost far more than that.
 */
#include <cstddef>
#include <memory_resource>
#include <new>

extern "C" {

void *bench_pmr_create(void) { return new (std::nothrow) std::pmr::monotonic_buffer_resource(); }

void bench_pmr_destroy(void *r) { delete static_cast<std::pmr::monotonic_buffer_resource *>(r); }

void *bench_pmr_alloc(void *r, size_t n) {
  try {
    return static_cast<std::pmr::monotonic_buffer_resource *>(r)->allocate(n, 16);
  } catch (...) {
    return nullptr;
  }
}

void bench_pmr_release(void *r) {
  static_cast<std::pmr::monotonic_buffer_resource *>(r)->release();
}

}  // extern "C"
