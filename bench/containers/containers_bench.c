/* SPDX-License-Identifier: MIT */
/*
 * bench/containers/containers_bench.c - an append-heavy workload on one arena: four vectors
 * of different element sizes, a string buffer built with appendf, and a u64 map, all grown by
 * interleaved appends/inserts (so no container stays the arena's most recent allocation for
 * long and most growth has to move storage).
 *
 * It prints the arena's peak `used` bytes against the live bytes: the storage the containers
 * hold at the end (vector and buffer capacity, the map's table). The ratio is the arena's
 * overhead for growth by copying: old storage blocks not yet reused, and the transient old+new
 * pair during a move. A second figure compares the peak with the payload (elements actually
 * stored), which also includes the containers' own growth slack (capacity beyond length).
 *
 * Usage: containers_bench [ops]   (default 2,000,000 operations)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "arenart/arena.h"
#include "arenart/buf.h"
#include "arenart/map.h"
#include "arenart/vec.h"

static uint64_t rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define NVEC 4

int main(int argc, char **argv) {
  long ops = argc > 1 ? atol(argv[1]) : 2000000;
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL) return 1;
  static const size_t esz[NVEC] = {8, 16, 4, 24};
  ar_vec_t v[NVEC];
  for (int i = 0; i < NVEC; i++) ar_vec_init(&v[i], a, esz[i]);
  ar_buf_t b = AR_BUF_INIT(a);
  ar_map_options_t mo;
  ar_map_options_init(&mo);
  mo.key_kind = AR_MAP_KEY_U64;
  mo.value_size = 8;
  ar_map_t m;
  ar_map_init(&m, a, &mo);

  uint64_t s = 0x9E3779B97F4A7C15u;
  unsigned char elem[24] = {0};
  double t0 = now();
  for (long i = 0; i < ops; i++) {
    uint64_t r = rng(&s);
    int err;
    switch (r % 8) {
      case 0:
      case 1:
      case 2:
      case 3: /* vector appends, of 1..4 elements */
        err = ar_vec_append(&v[(r >> 8) % NVEC], elem, 1 + (r >> 16) % 4);
        break;
      case 4:
      case 5: err = ar_buf_appendf(&b, "%llu,", (unsigned long long)(r >> 40)); break;
      default: {
        uint64_t val = r;
        err = ar_map_put_u64(&m, r >> 20, &val);
        break;
      }
    }
    if (err != AR_OK) {
      fprintf(stderr, "operation %ld failed: %s\n", i, ar_strerror((ar_error_t)err));
      return 1;
    }
  }
  double dt = now() - t0;

  size_t live = 0, payload = 0;
  for (int i = 0; i < NVEC; i++) {
    live += ar_vec_capacity(&v[i]) * esz[i];
    payload += ar_vec_len(&v[i]) * esz[i];
  }
  live += ar_buf_capacity(&b) + 1;
  payload += ar_buf_len(&b);
  size_t table = (ar_map_capacity(&m) + 1) * (AR_MAP_SLOT_HEADER_ + mo.value_size);
  live += table;
  payload += ar_map_len(&m) * (8 + mo.value_size);

  ar_stats_t st;
  ar_arena_stats(a, &st);
  printf("containers_bench: %ld ops in %.3f s (%.1f ns/op)\n", ops, dt, dt * 1e9 / (double)ops);
  for (int i = 0; i < NVEC; i++)
    printf("  vec[%d] elem %2zu B: len %zu cap %zu\n", i, esz[i], ar_vec_len(&v[i]),
           ar_vec_capacity(&v[i]));
  printf("  buf: len %zu cap %zu\n", ar_buf_len(&b), ar_buf_capacity(&b));
  printf("  map: len %zu slots %zu (%zu B table)\n", ar_map_len(&m), ar_map_capacity(&m), table);
  printf("arena: peak %zu B, used %zu B, recycled %zu B, capacity %zu B, large chunks %zu\n",
         st.peak, st.used, st.recycled, st.capacity, st.large_chunks);
  printf("live (container storage) %zu B, payload (elements stored) %zu B\n", live, payload);
  printf("peak/live = %.2f (goal <= 1.25)\n", (double)st.peak / (double)live);
  printf("peak/payload = %.2f (includes container growth slack)\n",
         (double)st.peak / (double)payload);
  ar_arena_destroy(a);
  return 0;
}
