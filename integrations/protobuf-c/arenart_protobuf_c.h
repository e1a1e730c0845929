/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief protobuf-c allocators that put decoded messages in an arena.
 *
 * Decoding a protobuf message with protobuf-c allocates one block per sub-message, per string,
 * per byte string and per repeated-field array, and freeing it walks the whole tree again to
 * give each block back. A server that decodes a batch, handles it and drops it pays malloc
 * and free once per block for memory whose lifetime is the request's. These allocators hand
 * protobuf-c arena memory instead: decoding bumps a pointer, and the whole message goes away
 * when the arena is reset or rewound, or when the request scope ends, with no tree walk.
 *
 * Why free does nothing: protobuf-c's ProtobufCAllocator.free receives only the pointer, and
 * ar_free needs the block's size. Recording sizes would take a header in front of every block
 * (16 bytes, to keep the 16-byte alignment protobuf-c expects from malloc) on allocations that
 * are mostly a few bytes long, and would buy nothing for the intended use, where the arena is
 * reset right after the message is dropped. So free is a no-op, and
 * protobuf_c_message_free_unpacked() on a message decoded this way is harmless but useless:
 * it walks the tree and gives nothing back. Skip it; reset the arena or end the scope. The same
 * holds for the blocks protobuf-c frees itself when a decode fails half-way: they stay in the
 * arena until it is reset or the scope ends. To bound what one decode of untrusted input may
 * take, give the arena a limit_bytes (the decode then fails with AR_ELIMIT).
 *
 * Lifetime: a decoded message lives exactly as long as the arena memory it was decoded into
 * (arenart/arena.h, "Lifetime rules"): it must not be used after the arena is reset, rewound
 * past it or destroyed, or, for the thread allocator, after the scope that was innermost on
 * the decoding thread ends.
 *
 * Synchronization:
 *   | call / object                              | may run concurrently with                    |
 *   |--------------------------------------------|----------------------------------------------|
 *   | ar_protobuf_c_arena_allocator              | anything (it only fills *out)                |
 *   | decoding with an arena allocator           | nothing else on that arena (owner thread)    |
 *   | ar_protobuf_c_thread_allocator             | anything                                     |
 *   | decoding with the thread allocator         | decoding on other threads: each thread's     |
 *   |                                            | blocks come from its own thread arena        |
 */
#ifndef ARENART_PROTOBUF_C_H
#define ARENART_PROTOBUF_C_H

#include <protobuf-c/protobuf-c.h>

#include "arenart.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Fills *out with an allocator that takes every block protobuf-c asks for from `arena` with
 * ar_alloc (16-byte aligned, like malloc) and whose free does nothing. Pass `out` to
 * protobuf-c's unpack functions (and anything else that takes a ProtobufCAllocator); *out
 * holds the arena pointer, not a copy of the arena, so it is valid while the arena exists.
 * While decoding, an allocation failure makes protobuf-c's unpack return NULL; ar_last_error()
 * then tells why (AR_ELIMIT when the arena's limit_bytes is reached, AR_ENOMEM, AR_EBUSY
 * from inside an arena cleanup).
 * Errors: returns AR_EINVAL (and sets the last error) if `out` or `arena` is NULL, leaving *out
 * untouched; otherwise AR_OK.
 */
AR_API int ar_protobuf_c_arena_allocator(ProtobufCAllocator *out, ar_arena_t *arena);

/**
 * An allocator, shared by every thread, that takes each block from the calling thread's arena
 * (ar_thread_arena()): inside a request scope (ar_scope_begin) the decoded message lives until
 * the scope ends. Its free does nothing. Outside any scope the blocks stay until the thread
 * exits, so decode inside a scope. The object must not be modified.
 * Errors: none; never NULL. While decoding, a failure to create the thread arena or to
 * allocate makes protobuf-c's unpack return NULL, with the reason in ar_last_error().
 */
AR_API ProtobufCAllocator *ar_protobuf_c_thread_allocator(void);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_PROTOBUF_C_H */
