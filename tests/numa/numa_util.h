/* SPDX-License-Identifier: MIT */
/*
 * tests/numa/numa_util.h - helpers shared by the NUMA tests: run a function on a fresh thread
 * (pretending it runs on a given CPU, or really pinned to one CPU of a node), read the
 * resident set size.
 */
#ifndef ARENART_TESTS_NUMA_UTIL_H
#define ARENART_TESTS_NUMA_UTIL_H

#include <pthread.h>
#include <sched.h>
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

/* Writes `n` bytes at `p` so that the compiler must keep the stores: arena allocations are
 * malloc-like, so a fill that nothing reads may otherwise be dropped, leaving pages untouched
 * (the placement checks count resident pages). */
static inline void touch(void *p, int byte, size_t n) {
  memset(p, byte, n);
  __asm__ __volatile__("" : : "r"(p) : "memory");
}

/* A CPU of `node` in the current topology that this process may run on, or -1. */
static inline int cpu_of_node(int node) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &allowed) && ar_numa_node_of_cpu(c) == node) return c;
  return -1;
}

typedef struct pinned {
  int cpu;
  int rc; /* pthread_setaffinity_np's result; fn did not run unless 0 */
  void (*fn)(void *arg);
  void *arg;
} pinned_t;

static void *pinned_main(void *p) {
  pinned_t *c = (pinned_t *)p;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(c->cpu, &one);
  c->rc = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  if (c->rc == 0) c->fn(c->arg);
  return NULL;
}

/* Runs fn(arg) on a new thread really pinned to OS CPU `cpu` for its whole life (so the
 * scheduler cannot migrate it to another node mid-way), and joins it. Returns 0, or the error
 * of pthread_setaffinity_np (then fn did not run). */
static inline int run_pinned(int cpu, void (*fn)(void *arg), void *arg) {
  pinned_t c = {cpu, -1, fn, arg};
  pthread_t t;
  if (cpu < 0 || cpu >= CPU_SETSIZE || pthread_create(&t, NULL, pinned_main, &c) != 0) return -1;
  pthread_join(t, NULL);
  return c.rc;
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
