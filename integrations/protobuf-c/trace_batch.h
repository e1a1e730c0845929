/* SPDX-License-Identifier: MIT */
/*
 * integrations/protobuf-c/trace_batch.h - deterministic OTLP-like trace batches (trace.proto)
 * for the adapter's test, example and benchmark.
 *
 * Why generated rather than captured: a batch built from a seed can be checked field by field
 * after a decode (trace_batch_check recomputes what every field must hold), so a test that
 * decodes through an arena proves the decoded tree is intact, not merely that unpack returned
 * non-NULL. The shape (resources x scopes x spans, with attributes, events and links per span)
 * mirrors what a tracing collector receives: many small nested messages and short strings.
 */
#ifndef AR_INTEGRATIONS_TRACE_BATCH_H
#define AR_INTEGRATIONS_TRACE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "integrations/protobuf-c/trace.pb-c.h"

typedef struct trace_shape {
  unsigned resources; /* ResourceSpans per batch */
  unsigned scopes;    /* ScopeSpans per resource */
  unsigned spans;     /* Spans per scope */
} trace_shape_t;

/* 2 resources x 2 scopes x 25 spans: 100 spans, about 5,000 decoded blocks. */
#define TRACE_SHAPE_DEFAULT \
  { 2, 2, 25 }

/* Encodes the batch for `seed` into a malloc'd buffer (*out, the caller frees it) and returns
 * its length, or 0 (with *out NULL) if memory ran out. */
size_t trace_batch_encode(unsigned seed, trace_shape_t shape, uint8_t **out);

/* NULL if `msg` holds exactly the batch for `seed` and `shape`, else a static description of
 * the first difference. */
const char *trace_batch_check(const Arenart__Demo__TracesData *msg, unsigned seed,
                              trace_shape_t shape);

/* Totals over a decoded batch, for the example's summary. */
typedef struct trace_summary {
  size_t spans, attributes, events, links, string_bytes;
} trace_summary_t;
void trace_batch_summarize(const Arenart__Demo__TracesData *msg, trace_summary_t *sum);

#endif /* AR_INTEGRATIONS_TRACE_BATCH_H */
