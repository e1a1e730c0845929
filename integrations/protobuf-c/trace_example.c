/* SPDX-License-Identifier: MIT */
/*
 * integrations/protobuf-c/trace_example.c - a collector's inner loop: decode OTLP-like trace
 * batches with protobuf-c straight into arena memory, summarize each, drop it.
 *
 * Each batch is decoded inside a request scope on the worker's thread arena through the one
 * shared ar_protobuf_c_thread_allocator(); ending the scope frees the whole decoded tree at
 * once, so there is no protobuf_c_message_free_unpacked and no per-block free. A second pass
 * decodes into a dedicated arena (ar_protobuf_c_arena_allocator), the shape to use when a
 * batch is handed to another thread for processing: the arena goes with it.
 *
 *   bazel run //integrations/protobuf-c:trace_example [-- BATCHES]
 * Exits non-zero if any decoded batch differs from what was encoded.
 */
#include <stdio.h>
#include <stdlib.h>

#include "arenart.h"
#include "integrations/protobuf-c/arenart_protobuf_c.h"
#include "integrations/protobuf-c/trace_batch.h"

int main(int argc, char **argv) {
  int batches = argc > 1 ? atoi(argv[1]) : 4;
  const trace_shape_t shape = TRACE_SHAPE_DEFAULT;
  if (batches < 1) batches = 1;

  for (int b = 0; b < batches; b++) {
    uint8_t *wire; /* what would arrive on the socket */
    size_t len = trace_batch_encode((unsigned)b, shape, &wire);
    if (len == 0) return 1;

    ar_scope_t scope = ar_scope_begin();
    Arenart__Demo__TracesData *batch =
        arenart__demo__traces_data__unpack(ar_protobuf_c_thread_allocator(), len, wire);
    if (batch == NULL) {
      fprintf(stderr, "batch %d: decode failed: %s\n", b, ar_strerror(ar_last_error()));
      return 1;
    }
    const char *diff = trace_batch_check(batch, (unsigned)b, shape);
    if (diff != NULL) {
      fprintf(stderr, "batch %d: %s\n", b, diff);
      return 1;
    }
    trace_summary_t sum;
    trace_batch_summarize(batch, &sum);
    ar_stats_t st;
    ar_arena_stats(scope.arena, &st);
    printf("batch %d: %zu bytes -> %zu spans, %zu attributes, %zu events, %zu links, "
           "%zu string bytes; %zu arena bytes in use\n",
           b, len, sum.spans, sum.attributes, sum.events, sum.links, sum.string_bytes, st.used);
    ar_scope_end(&scope); /* the whole decoded batch is gone */
    free(wire);
  }

  /* A batch with its own arena, which could be handed to another thread with the batch. */
  uint8_t *wire;
  size_t len = trace_batch_encode(99, shape, &wire);
  ar_arena_t *arena = ar_arena_create(NULL);
  ProtobufCAllocator alloc;
  if (len == 0 || arena == NULL || ar_protobuf_c_arena_allocator(&alloc, arena) != AR_OK) return 1;
  Arenart__Demo__TracesData *batch = arenart__demo__traces_data__unpack(&alloc, len, wire);
  if (batch == NULL || trace_batch_check(batch, 99, shape) != NULL) return 1;
  printf("own arena: %zu resource spans decoded, arena owns the root: %s\n",
         batch->n_resource_spans, ar_owns(arena, batch) ? "yes" : "no");
  ar_arena_destroy(arena);
  free(wire);
  return 0;
}
