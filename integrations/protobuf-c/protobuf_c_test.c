/* SPDX-License-Identifier: MIT */
/*
 * integrations/protobuf-c/protobuf_c_test.c - decoding and re-encoding trace batches through
 * the arena allocators of arenart_protobuf_c.h.
 *
 * What would be wrong if this passed wrongly: a decode that reads freed or misaligned memory
 * (ASan runs this test too: every arena block has red zones there), a tree whose strings point
 * outside the arena (ar_owns checks where they are), memory that a reset or scope end does not
 * take back (the stats say), or a failed decode that corrupts the arena (it must keep
 * working). Each decoded batch is compared field by field with what the encoder put in
 * (trace_batch_check), and re-encoded: the bytes must be identical to the input.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arenart.h"
#include "integrations/protobuf-c/arenart_protobuf_c.h"
#include "integrations/protobuf-c/trace_batch.h"

static const trace_shape_t kShape = TRACE_SHAPE_DEFAULT;

static size_t used_of(ar_arena_t *a) {
  ar_stats_t st;
  assert_int_equal(ar_arena_stats(a, &st), AR_OK);
  return st.used;
}

/* Re-encodes `msg` and compares with the original bytes. */
static void assert_reencodes(const Arenart__Demo__TracesData *msg, const uint8_t *wire,
                             size_t len) {
  size_t n = arenart__demo__traces_data__get_packed_size(msg);
  assert_int_equal(n, len);
  uint8_t *again = malloc(n);
  assert_non_null(again);
  assert_int_equal(arenart__demo__traces_data__pack(msg, again), n);
  assert_memory_equal(again, wire, n);
  free(again);
}

static void test_arena_decode_reencode(void **state) {
  (void)state;
  uint8_t *wire;
  size_t len = trace_batch_encode(7, kShape, &wire);
  assert_true(len > 1000);
  ar_arena_t *a = ar_arena_create(NULL);
  assert_non_null(a);
  ProtobufCAllocator alloc;
  assert_int_equal(ar_protobuf_c_arena_allocator(&alloc, a), AR_OK);

  Arenart__Demo__TracesData *msg = arenart__demo__traces_data__unpack(&alloc, len, wire);
  assert_non_null(msg);
  const char *diff = trace_batch_check(msg, 7, kShape);
  if (diff != NULL) fail_msg("decoded batch differs: %s", diff);
  /* The tree lies in the arena: the root, a nested string, a byte string. */
  assert_true(ar_owns(a, msg));
  const Arenart__Demo__Span *sp = msg->resource_spans[1]->scope_spans[1]->spans[3];
  assert_true(ar_owns(a, sp->name));
  assert_true(ar_owns(a, sp->trace_id.data));
  assert_true(ar_owns(a, sp->events[1]->attributes[1]->string_value));
  assert_true(used_of(a) > len);
  assert_reencodes(msg, wire, len);

  /* free_unpacked is harmless: it walks the tree and gives nothing back. */
  size_t before = used_of(a);
  arenart__demo__traces_data__free_unpacked(msg, &alloc);
  assert_int_equal(used_of(a), before);

  /* Reset takes all of it back; the same arena decodes the next batch. */
  ar_reset(a);
  assert_int_equal(used_of(a), 0);
  msg = arenart__demo__traces_data__unpack(&alloc, len, wire);
  assert_non_null(msg);
  assert_null(trace_batch_check(msg, 7, kShape));
  ar_arena_destroy(a);
  free(wire);
}

static void test_steady_state(void **state) {
  (void)state;
  uint8_t *wire;
  size_t len = trace_batch_encode(11, kShape, &wire);
  assert_true(len > 0);
  ar_arena_t *a = ar_arena_create(NULL);
  ProtobufCAllocator alloc;
  assert_int_equal(ar_protobuf_c_arena_allocator(&alloc, a), AR_OK);
  ar_stats_t st;
  size_t first_capacity = 0;
  for (int i = 0; i < 40; i++) {
    Arenart__Demo__TracesData *msg = arenart__demo__traces_data__unpack(&alloc, len, wire);
    assert_non_null(msg);
    assert_int_equal(msg->n_resource_spans, kShape.resources);
    ar_reset(a);
    assert_int_equal(ar_arena_stats(a, &st), AR_OK);
    if (i == 0) first_capacity = st.capacity;
    /* A batch fits in the retained chunks: decoding again needs no new memory. */
    assert_int_equal(st.capacity, first_capacity);
  }
  ar_arena_destroy(a);
  free(wire);
}

static void test_scope_decode(void **state) {
  (void)state;
  uint8_t *wire;
  size_t len = trace_batch_encode(3, kShape, &wire);
  ar_arena_t *ta = ar_thread_arena();
  assert_non_null(ta);
  size_t base = used_of(ta);
  ProtobufCAllocator *alloc = ar_protobuf_c_thread_allocator();
  assert_non_null(alloc);
  assert_ptr_equal(alloc, ar_protobuf_c_thread_allocator());

  ar_scope_t s = ar_scope_begin();
  assert_ptr_equal(s.arena, ta);
  Arenart__Demo__TracesData *msg = arenart__demo__traces_data__unpack(alloc, len, wire);
  assert_non_null(msg);
  assert_null(trace_batch_check(msg, 3, kShape));
  assert_true(ar_owns(ta, msg));
  assert_reencodes(msg, wire, len);
  assert_true(used_of(ta) > base);

  /* A nested scope decodes a second batch and gives exactly that back. */
  size_t mid = used_of(ta);
  ar_scope_t inner = ar_scope_begin();
  assert_non_null(arenart__demo__traces_data__unpack(alloc, len, wire));
  assert_int_equal(ar_scope_end(&inner), AR_OK);
  assert_int_equal(used_of(ta), mid);
  assert_null(trace_batch_check(msg, 3, kShape)); /* the outer batch is intact */

  assert_int_equal(ar_scope_end(&s), AR_OK);
  assert_int_equal(used_of(ta), base);
  free(wire);
}

static void test_failures(void **state) {
  (void)state;
  uint8_t *wire;
  size_t len = trace_batch_encode(5, kShape, &wire);
  ar_arena_t *a = ar_arena_create(NULL);
  ProtobufCAllocator alloc;
  assert_int_equal(ar_protobuf_c_arena_allocator(&alloc, a), AR_OK);

  /* Truncated input: unpack fails, the arena keeps working. */
  assert_null(arenart__demo__traces_data__unpack(&alloc, len / 2, wire));
  Arenart__Demo__TracesData *msg = arenart__demo__traces_data__unpack(&alloc, len, wire);
  assert_non_null(msg);
  assert_null(trace_batch_check(msg, 5, kShape));
  assert_int_equal(ar_arena_check(a), AR_OK);
  ar_arena_destroy(a);

  /* An arena too small for the batch: unpack returns NULL and the reason is AR_ELIMIT; after a
   * reset, a batch that fits decodes. */
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = 4096;
  o.limit_bytes = 16384;
  ar_arena_t *small = ar_arena_create(&o);
  assert_non_null(small);
  assert_int_equal(ar_protobuf_c_arena_allocator(&alloc, small), AR_OK);
  ar_clear_error();
  assert_null(arenart__demo__traces_data__unpack(&alloc, len, wire));
  assert_int_equal(ar_last_error(), AR_ELIMIT);
  ar_reset(small);
  const trace_shape_t tiny = {1, 1, 1};
  uint8_t *wire2;
  size_t len2 = trace_batch_encode(9, tiny, &wire2);
  assert_true(len2 > 0);
  msg = arenart__demo__traces_data__unpack(&alloc, len2, wire2);
  assert_non_null(msg);
  assert_null(trace_batch_check(msg, 9, tiny));
  assert_reencodes(msg, wire2, len2);
  ar_arena_destroy(small);
  free(wire2);
  free(wire);

  /* Bad arguments. */
  ProtobufCAllocator untouched = {NULL, NULL, &untouched};
  ar_clear_error();
  assert_int_equal(ar_protobuf_c_arena_allocator(&untouched, NULL), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_null(untouched.alloc);
  assert_ptr_equal(untouched.allocator_data, &untouched);
  ar_clear_error();
  assert_int_equal(ar_protobuf_c_arena_allocator(NULL, ar_thread_arena()), AR_EINVAL);
  assert_int_equal(ar_last_error(), AR_EINVAL);
}

/* Two threads decode at once through the one shared thread allocator, each in its own scope. */
typedef struct worker_arg {
  const uint8_t *wire;
  size_t len;
  unsigned seed;
  const char *result;
} worker_arg_t;

static void *decode_worker(void *p) {
  worker_arg_t *w = p;
  for (int i = 0; i < 20 && w->result == NULL; i++) {
    ar_scope_t s = ar_scope_begin();
    Arenart__Demo__TracesData *msg =
        arenart__demo__traces_data__unpack(ar_protobuf_c_thread_allocator(), w->len, w->wire);
    if (msg == NULL) w->result = "unpack failed";
    else if (!ar_owns(s.arena, msg)) w->result = "message outside the thread arena";
    else w->result = trace_batch_check(msg, w->seed, kShape);
    if (ar_scope_end(&s) != AR_OK && w->result == NULL) w->result = "scope end failed";
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  worker_arg_t w[2];
  uint8_t *wires[2];
  pthread_t t[2];
  for (unsigned i = 0; i < 2; i++) {
    w[i].len = trace_batch_encode(100 + i, kShape, &wires[i]);
    w[i].wire = wires[i];
    w[i].seed = 100 + i;
    w[i].result = NULL;
    assert_true(w[i].len > 0);
  }
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i], NULL, decode_worker, &w[i]), 0);
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
  for (int i = 0; i < 2; i++) {
    if (w[i].result != NULL) fail_msg("thread %d: %s", i, w[i].result);
    free(wires[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arena_decode_reencode),
      cmocka_unit_test(test_steady_state),
      cmocka_unit_test(test_scope_decode),
      cmocka_unit_test(test_failures),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
