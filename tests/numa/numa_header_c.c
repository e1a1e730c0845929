/* SPDX-License-Identifier: MIT */
/* tests/numa/numa_header_c.c - include/arenart/numa.h compiled on its own as strict C11 (it is
 * kept out of //include:public_headers, whose functions tests/BUILD links against //runtime,
 * because its functions live in //numa). Included by workspace path so that the warnings
 * apply (the -isystem copy would silence them). */
#include "include/arenart/numa.h"

int numa_header_c(void);
int numa_header_c(void) {
  void (*const fns[])(void) = {
      (void (*)(void))&ar_numa_options_init, (void (*)(void))&ar_numa_init,
      (void (*)(void))&ar_numa_active,       (void (*)(void))&ar_numa_reload,
      (void (*)(void))&ar_numa_shutdown,     (void (*)(void))&ar_numa_set_bind,
      (void (*)(void))&ar_numa_node_count,   (void (*)(void))&ar_numa_nodes,
      (void (*)(void))&ar_numa_node_of_cpu,  (void (*)(void))&ar_numa_current_node,
      (void (*)(void))&ar_numa_source,       (void (*)(void))&ar_node_arena,
      (void (*)(void))&ar_numa_stats,        (void (*)(void))&ar_trim,
      (void (*)(void))&ar_numa_area_pages,   (void (*)(void))&ar_numa_arena_pages,
      (void (*)(void))&ar_numa_node_arena_pages, (void (*)(void))&ar_numa_local_fraction,
      (void (*)(void))&ar_numa_last_failure,
  };
  int live = 0;
  for (unsigned i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    void (*volatile fn)(void) = fns[i];
    live += fn != 0;
  }
  ar_numa_options_t o;
  ar_numa_options_init(&o);
  return o.bind == AR_NUMA_BIND_PREFERRED ? live : -1;
}
