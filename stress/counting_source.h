/* SPDX-License-Identifier: MIT */
/*
 * stress/counting_source.h - a thread-safe memory source that counts what is outstanding,
 * so a test can check an arena's accounting to the byte and see leaks.
 */
#ifndef ARENART_COUNTING_SOURCE_H
#define ARENART_COUNTING_SOURCE_H

#include <stdatomic.h>
#include <stdlib.h>

#include <arenart.h>

typedef struct counting_source {
  _Atomic(size_t) bytes; /* acquired and not yet released */
  _Atomic(size_t) blocks;
  _Atomic(size_t) acquires;
  ar_source_t source;
} counting_source_t;

static void *counting_acquire(void *ctx, size_t size) {
  counting_source_t *c = (counting_source_t *)ctx;
  void *p = ar_source_malloc()->acquire(NULL, size);
  if (p != NULL) {
    atomic_fetch_add(&c->bytes, size);
    atomic_fetch_add(&c->blocks, 1);
    atomic_fetch_add(&c->acquires, 1);
  }
  return p;
}

static void counting_release(void *ctx, void *p, size_t size) {
  counting_source_t *c = (counting_source_t *)ctx;
  atomic_fetch_sub(&c->bytes, size);
  atomic_fetch_sub(&c->blocks, 1);
  ar_source_malloc()->release(NULL, p, size);
}

static inline void counting_source_init(counting_source_t *c) {
  atomic_init(&c->bytes, 0);
  atomic_init(&c->blocks, 0);
  atomic_init(&c->acquires, 0);
  c->source.acquire = counting_acquire;
  c->source.release = counting_release;
  c->source.ctx = c;
  c->source.name = "counting";
}

#endif
