/*
 * tests/numa/numa_util.h - helpers shared by the NUMA tests: run a function on a fresh thread
 * (optionally pretending it runs on a given CPU), read the resident set size.
 */
#ifndef ARENART_TESTS_NUMA_UTIL_H
#define ARENART_TESTS_NUMA_UTIL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arenart/numa.h>

#include "numa/numa_testing.h"

typedef struct on_cpu {
  int cpu; /* -1: the real CPU */
  void (*fn)(void *arg);
  void *arg;
} on_cpu_t;

static void *on_cpu_main(void *p) {
  on_cpu_t *c = (on_cpu_t *)p;
  ar_numa_test_set_cpu_(c->cpu);
  c->fn(c->arg);
  return NULL;
}

/* Runs fn(arg) on a new thread that believes it runs on `cpu`, and joins it (its thread arena
 * is destroyed at exit, so its chunks are back in their pools when this returns). */
static inline void run_on_cpu(int cpu, void (*fn)(void *arg), void *arg) {
  on_cpu_t c = {cpu, fn, arg};
  pthread_t t;
  if (pthread_create(&t, NULL, on_cpu_main, &c) != 0) abort();
  pthread_join(t, NULL);
}

/* Resident set size of this process in bytes (/proc/self/statm). */
static inline size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f != NULL) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static inline ar_numa_node_stats_t node_stats(int node) {
  ar_numa_node_stats_t s;
  memset(&s, 0, sizeof s);
  if (ar_numa_stats(node, &s) != AR_OK) s.node = -1;
  return s;
}

#endif /* ARENART_TESTS_NUMA_UTIL_H */
