/* SPDX-License-Identifier: MIT */
// tests/numa/numa_header_cxx.cc - include/arenart/numa.h compiled on its own as C++17.
#include "include/arenart/numa.h"

extern "C" int numa_header_cxx(void);
extern "C" int numa_header_cxx(void) {
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  ar_numa_pages_t pages = {};
  pages.pages = 1;
  return o.route_default && ar_numa_local_fraction(&pages, 0) == 0.0 ? 1 : -1;
}
