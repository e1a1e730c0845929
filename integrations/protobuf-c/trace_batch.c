/* SPDX-License-Identifier: MIT */
/*
 * integrations/protobuf-c/trace_batch.c - builds, checks and summarizes the batches of
 * trace_batch.h.
 *
 * Every field value is a function of (seed, span number, index), written once in the
 * *_value helpers below and used by both the encoder and the checker, so the two cannot drift
 * apart. The encoder builds the message tree in a throw-away arena (the tree is only needed
 * until it is packed), which is also a small demonstration that protobuf-c's message structs
 * are plain memory that an arena can hold.
 */
#include "integrations/protobuf-c/trace_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"

enum { SPAN_ATTRS = 6, EVENTS = 2, EVENT_ATTRS = 2, LINK_ATTRS = 1, RES_ATTRS = 3 };

static const char *const kSpanKeys[SPAN_ATTRS] = {"http.method",   "http.status_code", "http.url",
                                                  "net.peer.port", "sampled",          "ratio"};

static uint64_t start_ns(unsigned g) { return 1700000000000000000ull + (uint64_t)g * 1000u; }

static void id_bytes(uint8_t *out, size_t n, unsigned a, unsigned b) {
  for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(a * 31u + b * 7u + (unsigned)i);
}

/* ---- building ------------------------------------------------------------------------- */

typedef Arenart__Demo__Attribute attr_t;

static attr_t *attr_str(ar_arena_t *a, const char *key, char *value) {
  attr_t *x = AR_NEW(a, attr_t);
  if (x == NULL || value == NULL) return NULL;
  arenart__demo__attribute__init(x);
  x->key = (char *)key;
  x->value_case = ARENART__DEMO__ATTRIBUTE__VALUE_STRING_VALUE;
  x->string_value = value;
  return x;
}

static attr_t *attr_int(ar_arena_t *a, const char *key, int64_t v) {
  attr_t *x = AR_NEW(a, attr_t);
  if (x == NULL) return NULL;
  arenart__demo__attribute__init(x);
  x->key = (char *)key;
  x->value_case = ARENART__DEMO__ATTRIBUTE__VALUE_INT_VALUE;
  x->int_value = v;
  return x;
}

static ProtobufCBinaryData bin(ar_arena_t *a, size_t n, unsigned x, unsigned y) {
  ProtobufCBinaryData d = {0, NULL};
  uint8_t *p = ar_alloc(a, n);
  if (p != NULL) {
    id_bytes(p, n, x, y);
    d.len = n;
    d.data = p;
  }
  return d;
}

/* Fills one span; returns 0, or -1 when the arena ran out. */
static int build_span(ar_arena_t *a, Arenart__Demo__Span *sp, unsigned seed, unsigned g,
                      unsigned k) {
  arenart__demo__span__init(sp);
  sp->trace_id = bin(a, 16, seed, g);
  sp->span_id = bin(a, 8, seed * 3u, g);
  if (k > 0) sp->parent_span_id = bin(a, 8, seed * 3u, g - 1);
  sp->name = ar_sprintf(a, "GET /api/v1/items/%u", g);
  sp->kind = (int32_t)(1 + g % 5);
  sp->start_time_unix_nano = start_ns(g);
  sp->end_time_unix_nano = start_ns(g) + 500 + g;

  attr_t **at = AR_NEW_ARRAY(a, attr_t *, SPAN_ATTRS);
  if (at == NULL) return -1;
  at[0] = attr_str(a, kSpanKeys[0], ar_strdup(a, "GET"));
  at[1] = attr_int(a, kSpanKeys[1], 200 + g % 3);
  at[2] = attr_str(a, kSpanKeys[2], ar_sprintf(a, "https://example.com/items/%u?q=%u", g, seed));
  at[3] = attr_int(a, kSpanKeys[3], 443);
  at[4] = AR_NEW(a, attr_t);
  at[5] = AR_NEW(a, attr_t);
  if (at[4] == NULL || at[5] == NULL) return -1;
  arenart__demo__attribute__init(at[4]);
  at[4]->key = (char *)kSpanKeys[4];
  at[4]->value_case = ARENART__DEMO__ATTRIBUTE__VALUE_BOOL_VALUE;
  at[4]->bool_value = (protobuf_c_boolean)(g % 2);
  arenart__demo__attribute__init(at[5]);
  at[5]->key = (char *)kSpanKeys[5];
  at[5]->value_case = ARENART__DEMO__ATTRIBUTE__VALUE_DOUBLE_VALUE;
  at[5]->double_value = g * 0.5;
  sp->n_attributes = SPAN_ATTRS;
  sp->attributes = at;

  Arenart__Demo__Event **ev = AR_NEW_ARRAY(a, Arenart__Demo__Event *, EVENTS);
  if (ev == NULL) return -1;
  for (unsigned e = 0; e < EVENTS; e++) {
    ev[e] = AR_NEW(a, Arenart__Demo__Event);
    attr_t **ea = AR_NEW_ARRAY(a, attr_t *, EVENT_ATTRS);
    if (ev[e] == NULL || ea == NULL) return -1;
    arenart__demo__event__init(ev[e]);
    ev[e]->time_unix_nano = start_ns(g) + e * 10;
    ev[e]->name = ar_sprintf(a, "event-%u", e);
    ea[0] = attr_int(a, "event.seq", e);
    ea[1] = attr_str(a, "event.note", ar_sprintf(a, "note-%u-%u", g, e));
    ev[e]->n_attributes = EVENT_ATTRS;
    ev[e]->attributes = ea;
  }
  sp->n_events = EVENTS;
  sp->events = ev;

  Arenart__Demo__Link **ln = AR_NEW_ARRAY(a, Arenart__Demo__Link *, 1);
  attr_t **la = AR_NEW_ARRAY(a, attr_t *, LINK_ATTRS);
  if (ln == NULL || la == NULL || (ln[0] = AR_NEW(a, Arenart__Demo__Link)) == NULL) return -1;
  arenart__demo__link__init(ln[0]);
  ln[0]->trace_id = bin(a, 16, seed, g + 1);
  ln[0]->span_id = bin(a, 8, seed, g + 1);
  la[0] = attr_str(a, "link.kind", ar_strdup(a, "follows"));
  ln[0]->n_attributes = LINK_ATTRS;
  ln[0]->attributes = la;
  sp->n_links = 1;
  sp->links = ln;

  sp->status = AR_NEW(a, Arenart__Demo__Status);
  if (sp->status == NULL) return -1;
  arenart__demo__status__init(sp->status);
  sp->status->message = ar_sprintf(a, "ok-%u", g);
  sp->status->code = (int32_t)(g % 3);
  /* Any NULL left above is a failed allocation. */
  if (sp->trace_id.data == NULL || sp->span_id.data == NULL || sp->name == NULL ||
      sp->status->message == NULL || la[0] == NULL || ln[0]->trace_id.data == NULL)
    return -1;
  for (unsigned i = 0; i < SPAN_ATTRS; i++)
    if (at[i] == NULL) return -1;
  for (unsigned e = 0; e < EVENTS; e++)
    if (ev[e]->name == NULL || ev[e]->attributes[0] == NULL || ev[e]->attributes[1] == NULL)
      return -1;
  return 0;
}

static int build(ar_arena_t *a, Arenart__Demo__TracesData *td, unsigned seed, trace_shape_t sh) {
  arenart__demo__traces_data__init(td);
  Arenart__Demo__ResourceSpans **rs = AR_NEW_ARRAY(a, Arenart__Demo__ResourceSpans *, sh.resources);
  if (rs == NULL && sh.resources > 0) return -1;
  td->n_resource_spans = sh.resources;
  td->resource_spans = rs;
  for (unsigned r = 0; r < sh.resources; r++) {
    Arenart__Demo__ResourceSpans *x = rs[r] = AR_NEW(a, Arenart__Demo__ResourceSpans);
    Arenart__Demo__Resource *res = AR_NEW(a, Arenart__Demo__Resource);
    attr_t **ra = AR_NEW_ARRAY(a, attr_t *, RES_ATTRS);
    Arenart__Demo__ScopeSpans **ss = AR_NEW_ARRAY(a, Arenart__Demo__ScopeSpans *, sh.scopes);
    if (x == NULL || res == NULL || ra == NULL || (ss == NULL && sh.scopes > 0)) return -1;
    arenart__demo__resource_spans__init(x);
    arenart__demo__resource__init(res);
    ra[0] = attr_str(a, "service.name", ar_sprintf(a, "svc-%u-%u", seed, r));
    ra[1] = attr_str(a, "host.name", ar_sprintf(a, "host-%u", r));
    ra[2] = attr_int(a, "pid", 1000 + r);
    if (ra[0] == NULL || ra[1] == NULL || ra[2] == NULL) return -1;
    res->n_attributes = RES_ATTRS;
    res->attributes = ra;
    x->resource = res;
    x->n_scope_spans = sh.scopes;
    x->scope_spans = ss;
    for (unsigned s = 0; s < sh.scopes; s++) {
      Arenart__Demo__ScopeSpans *y = ss[s] = AR_NEW(a, Arenart__Demo__ScopeSpans);
      Arenart__Demo__InstrumentationScope *is = AR_NEW(a, Arenart__Demo__InstrumentationScope);
      Arenart__Demo__Span **sp = AR_NEW_ARRAY(a, Arenart__Demo__Span *, sh.spans);
      if (y == NULL || is == NULL || (sp == NULL && sh.spans > 0)) return -1;
      arenart__demo__scope_spans__init(y);
      arenart__demo__instrumentation_scope__init(is);
      is->name = ar_sprintf(a, "lib-%u", s);
      is->version = ar_sprintf(a, "1.%u.0", s);
      if (is->name == NULL || is->version == NULL) return -1;
      y->scope = is;
      y->n_spans = sh.spans;
      y->spans = sp;
      for (unsigned k = 0; k < sh.spans; k++) {
        unsigned g = (r * sh.scopes + s) * sh.spans + k;
        if ((sp[k] = AR_NEW(a, Arenart__Demo__Span)) == NULL) return -1;
        if (build_span(a, sp[k], seed, g, k) != 0) return -1;
      }
    }
  }
  return 0;
}

size_t trace_batch_encode(unsigned seed, trace_shape_t shape, uint8_t **out) {
  *out = NULL;
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL) return 0;
  Arenart__Demo__TracesData td;
  size_t len = 0;
  if (build(a, &td, seed, shape) == 0) {
    len = arenart__demo__traces_data__get_packed_size(&td);
    *out = malloc(len > 0 ? len : 1);
    if (*out != NULL && arenart__demo__traces_data__pack(&td, *out) != len) {
      free(*out);
      *out = NULL;
    }
    if (*out == NULL) len = 0;
  }
  ar_arena_destroy(a);
  return len;
}

/* ---- checking ------------------------------------------------------------------------- */

static char g_diff[160];

#define EXPECT(cond, ...)                           \
  do {                                              \
    if (!(cond)) {                                  \
      snprintf(g_diff, sizeof g_diff, __VA_ARGS__); \
      return g_diff;                                \
    }                                               \
  } while (0)

static int bin_is(ProtobufCBinaryData d, size_t n, unsigned x, unsigned y) {
  uint8_t want[16];
  id_bytes(want, n, x, y);
  return d.len == n && d.data != NULL && memcmp(d.data, want, n) == 0;
}

static int str_is(const char *got, const char *want) {
  return got != NULL && strcmp(got, want) == 0;
}

static int attr_is_str(const attr_t *x, const char *key, const char *want) {
  return x != NULL && str_is(x->key, key) &&
         x->value_case == ARENART__DEMO__ATTRIBUTE__VALUE_STRING_VALUE &&
         str_is(x->string_value, want);
}

static int attr_is_int(const attr_t *x, const char *key, int64_t want) {
  return x != NULL && str_is(x->key, key) &&
         x->value_case == ARENART__DEMO__ATTRIBUTE__VALUE_INT_VALUE && x->int_value == want;
}

static const char *check_span(const Arenart__Demo__Span *sp, unsigned seed, unsigned g,
                              unsigned k) {
  char buf[96];
  EXPECT(sp != NULL, "span %u missing", g);
  EXPECT(bin_is(sp->trace_id, 16, seed, g) && bin_is(sp->span_id, 8, seed * 3u, g), "span %u ids",
         g);
  EXPECT(k == 0 ? sp->parent_span_id.len == 0 : bin_is(sp->parent_span_id, 8, seed * 3u, g - 1),
         "span %u parent", g);
  snprintf(buf, sizeof buf, "GET /api/v1/items/%u", g);
  EXPECT(str_is(sp->name, buf), "span %u name", g);
  EXPECT(sp->kind == (int32_t)(1 + g % 5) && sp->start_time_unix_nano == start_ns(g) &&
             sp->end_time_unix_nano == start_ns(g) + 500 + g,
         "span %u scalars", g);
  EXPECT(sp->n_attributes == SPAN_ATTRS, "span %u attribute count", g);
  snprintf(buf, sizeof buf, "https://example.com/items/%u?q=%u", g, seed);
  EXPECT(attr_is_str(sp->attributes[0], kSpanKeys[0], "GET") &&
             attr_is_int(sp->attributes[1], kSpanKeys[1], 200 + g % 3) &&
             attr_is_str(sp->attributes[2], kSpanKeys[2], buf) &&
             attr_is_int(sp->attributes[3], kSpanKeys[3], 443),
         "span %u attributes 0-3", g);
  EXPECT(str_is(sp->attributes[4]->key, kSpanKeys[4]) &&
             sp->attributes[4]->value_case == ARENART__DEMO__ATTRIBUTE__VALUE_BOOL_VALUE &&
             sp->attributes[4]->bool_value == (protobuf_c_boolean)(g % 2),
         "span %u bool attribute", g);
  EXPECT(str_is(sp->attributes[5]->key, kSpanKeys[5]) &&
             sp->attributes[5]->value_case == ARENART__DEMO__ATTRIBUTE__VALUE_DOUBLE_VALUE &&
             sp->attributes[5]->double_value == g * 0.5,
         "span %u double attribute", g);
  EXPECT(sp->n_events == EVENTS, "span %u event count", g);
  for (unsigned e = 0; e < EVENTS; e++) {
    const Arenart__Demo__Event *ev = sp->events[e];
    char name[32];
    snprintf(name, sizeof name, "event-%u", e);
    snprintf(buf, sizeof buf, "note-%u-%u", g, e);
    EXPECT(ev->time_unix_nano == start_ns(g) + e * 10 && str_is(ev->name, name) &&
               ev->n_attributes == EVENT_ATTRS && attr_is_int(ev->attributes[0], "event.seq", e) &&
               attr_is_str(ev->attributes[1], "event.note", buf),
           "span %u event %u", g, e);
  }
  EXPECT(sp->n_links == 1 && bin_is(sp->links[0]->trace_id, 16, seed, g + 1) &&
             bin_is(sp->links[0]->span_id, 8, seed, g + 1) && sp->links[0]->n_attributes == 1 &&
             attr_is_str(sp->links[0]->attributes[0], "link.kind", "follows"),
         "span %u link", g);
  snprintf(buf, sizeof buf, "ok-%u", g);
  EXPECT(sp->status != NULL && str_is(sp->status->message, buf) &&
             sp->status->code == (int32_t)(g % 3),
         "span %u status", g);
  return NULL;
}

const char *trace_batch_check(const Arenart__Demo__TracesData *td, unsigned seed,
                              trace_shape_t sh) {
  char buf[64];
  EXPECT(td != NULL, "no message");
  EXPECT(td->n_resource_spans == sh.resources, "resource count %zu", td->n_resource_spans);
  for (unsigned r = 0; r < sh.resources; r++) {
    const Arenart__Demo__ResourceSpans *x = td->resource_spans[r];
    EXPECT(x->resource != NULL && x->resource->n_attributes == RES_ATTRS, "resource %u", r);
    snprintf(buf, sizeof buf, "svc-%u-%u", seed, r);
    EXPECT(attr_is_str(x->resource->attributes[0], "service.name", buf), "resource %u name", r);
    snprintf(buf, sizeof buf, "host-%u", r);
    EXPECT(attr_is_str(x->resource->attributes[1], "host.name", buf) &&
               attr_is_int(x->resource->attributes[2], "pid", 1000 + r),
           "resource %u attributes", r);
    EXPECT(x->n_scope_spans == sh.scopes, "resource %u scope count", r);
    for (unsigned s = 0; s < sh.scopes; s++) {
      const Arenart__Demo__ScopeSpans *y = x->scope_spans[s];
      char name[32], version[32];
      snprintf(name, sizeof name, "lib-%u", s);
      snprintf(version, sizeof version, "1.%u.0", s);
      EXPECT(y->scope != NULL && str_is(y->scope->name, name) && str_is(y->scope->version, version),
             "scope %u/%u", r, s);
      EXPECT(y->n_spans == sh.spans, "scope %u/%u span count", r, s);
      for (unsigned k = 0; k < sh.spans; k++) {
        const char *d = check_span(y->spans[k], seed, (r * sh.scopes + s) * sh.spans + k, k);
        if (d != NULL) return d;
      }
    }
  }
  return NULL;
}

static void add_attrs(trace_summary_t *sum, attr_t *const *at, size_t n) {
  sum->attributes += n;
  for (size_t i = 0; i < n; i++) {
    sum->string_bytes += strlen(at[i]->key);
    if (at[i]->value_case == ARENART__DEMO__ATTRIBUTE__VALUE_STRING_VALUE)
      sum->string_bytes += strlen(at[i]->string_value);
  }
}

void trace_batch_summarize(const Arenart__Demo__TracesData *td, trace_summary_t *sum) {
  memset(sum, 0, sizeof *sum);
  for (size_t r = 0; r < td->n_resource_spans; r++) {
    const Arenart__Demo__ResourceSpans *x = td->resource_spans[r];
    if (x->resource != NULL) add_attrs(sum, x->resource->attributes, x->resource->n_attributes);
    for (size_t s = 0; s < x->n_scope_spans; s++) {
      const Arenart__Demo__ScopeSpans *y = x->scope_spans[s];
      for (size_t k = 0; k < y->n_spans; k++) {
        const Arenart__Demo__Span *sp = y->spans[k];
        sum->spans++;
        sum->string_bytes += strlen(sp->name);
        add_attrs(sum, sp->attributes, sp->n_attributes);
        sum->events += sp->n_events;
        for (size_t e = 0; e < sp->n_events; e++)
          add_attrs(sum, sp->events[e]->attributes, sp->events[e]->n_attributes);
        sum->links += sp->n_links;
        for (size_t l = 0; l < sp->n_links; l++)
          add_attrs(sum, sp->links[l]->attributes, sp->links[l]->n_attributes);
      }
    }
  }
}
