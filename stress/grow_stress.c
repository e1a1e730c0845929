/* SPDX-License-Identifier: MIT */
/*
 * stress/grow_stress.c - threads growing large blocks of their own serial arenas.
 *
 * Each thread creates default arenas (the process-wide chunk pool, chunks that grow, large
 * blocks in dedicated chunks from OS pages), writes a large block, grows it with ar_realloc
 * and writes it again, then destroys the arena, over and over. Arenas are not shared, so under
 * ThreadSanitizer (the race gate) this must be silent: resizing a dedicated chunk with mremap
 * moves pages to addresses another thread's arena used a moment before, which TSan cannot
 * follow and reported as races, so TSan builds copy there instead (arena.h, ar_realloc). The
 * contents must survive every growth, and every arena must pass ar_arena_check.
 */
#include <arenart.h>

#include "stress/stress.h"

#define THREADS 2

static void *worker(void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  long iters = stress_iters(60);
  for (long i = 0; i < iters && stress_time_left(); i++) {
    ar_arena_t *a = ar_arena_create(NULL);
    CHECK(a != NULL, "create: %s", ar_strerror(ar_last_error()));
    size_t n = 100000 + (size_t)(stress_rand(&seed) % 50000);
    char *p = ar_alloc(a, n);
    CHECK(p != NULL, "alloc %zu: %s", n, ar_strerror(ar_last_error()));
    stress_fill(p, n, (uint64_t)i);
    size_t m = n * (2 + (size_t)(stress_rand(&seed) % 8));
    char *q = ar_realloc(a, p, n, m);
    CHECK(q != NULL, "realloc %zu -> %zu: %s", n, m, ar_strerror(ar_last_error()));
    CHECK(stress_verify(q, n, (uint64_t)i), "contents lost growing %zu -> %zu", n, m);
    memset(q, 2, m);
    CHECK(ar_arena_check(a) == AR_OK, "arena check after growth");
    ar_arena_destroy(a);
  }
  return NULL;
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 3.0);
  pthread_t t[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0, "pthread_create");
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  printf("grow_stress: OK\n");
  return 0;
}
