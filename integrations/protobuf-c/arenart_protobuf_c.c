/* SPDX-License-Identifier: MIT */
/*
 * integrations/protobuf-c/arenart_protobuf_c.c - the two ProtobufCAllocators of
 * arenart_protobuf_c.h.
 *
 * Each callback is one call into the arena's inline fast path: protobuf-c already reaches its
 * allocator through a function pointer, so the adapter adds no second indirection and no
 * per-block bookkeeping. free is empty for the reason the header gives (protobuf-c passes no
 * size, and the arena takes everything back at once). The thread allocator keeps no state at
 * all: it asks ar_thread_arena() at every allocation, which is what lets one object serve every
 * thread.
 */
#include "integrations/protobuf-c/arenart_protobuf_c.h"

#include <stddef.h>

static void *arena_alloc(void *data, size_t size) { return ar_alloc((ar_arena_t *)data, size); }

static void *thread_alloc(void *data, size_t size) {
  (void)data;
  return ar_alloc(ar_thread_arena(), size);
}

/* The arena takes the block back at reset, rewind or scope end. */
static void no_free(void *data, void *pointer) {
  (void)data;
  (void)pointer;
}

int ar_protobuf_c_arena_allocator(ProtobufCAllocator *out, ar_arena_t *arena) {
  if (out == NULL || arena == NULL) {
    /* Record the error the way the library does: a failing call on a NULL arena sets it. */
    (void)ar_free(NULL, NULL, 0);
    return AR_EINVAL;
  }
  out->alloc = arena_alloc;
  out->free = no_free;
  out->allocator_data = arena;
  return AR_OK;
}

static ProtobufCAllocator thread_allocator = {thread_alloc, no_free, NULL};

ProtobufCAllocator *ar_protobuf_c_thread_allocator(void) { return &thread_allocator; }
