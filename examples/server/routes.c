/* SPDX-License-Identifier: MIT */
/*
 * examples/server/routes.c - the answers: GET /, POST /json, GET /stats.
 *
 * A handler sees a parsed request and its body and appends the body of its answer to a
 * buffer; it never touches the socket, so every handler is plain code over memory that can
 * be reasoned about (and, in the malloc flavor, freed) without the connection. Everything a
 * handler allocates comes from the request's context `m` (srv_mem.h): the JSON tree, the
 * set of keys, the answer. In the arena flavor none of it is freed one by one; the scope's
 * end takes it all (serve.c). SRV_FREES_EACH marks the frees the malloc flavor needs.
 *
 * A handler returns a status: 200 with its body in `out`, or an error status (and maybe a
 * detail) that serve.c turns into a small JSON error on the stack; 503 means the request ran
 * out of memory, so its answer must not need any.
 */
#include "examples/server/server_state.h"

#include <string.h>

#include "examples/server/json.h"

typedef struct summary {
  uint64_t nodes, numbers, strings, string_bytes;
  int depth;
  double sum;
  srv_map_t keys; /* a set of the object keys seen */
} summary_t;

static int summarize(summary_t *s, const json_node_t *n, int depth) {
  s->nodes++;
  if (depth > s->depth) s->depth = depth;
  switch (n->type) {
    case JSON_NUMBER:
      s->numbers++;
      s->sum += n->u.number;
      return AR_OK;
    case JSON_STRING:
      s->strings++;
      s->string_bytes += n->u.str.len;
      return AR_OK;
    case JSON_ARRAY: {
      json_node_t *const *it = srv_vec_data(&n->u.items);
      for (size_t i = 0; i < srv_vec_len(&n->u.items); i++) {
        int rc = summarize(s, it[i], depth + 1);
        if (rc != AR_OK) return rc;
      }
      return AR_OK;
    }
    case JSON_OBJECT: {
      const json_member_t *it = srv_vec_data(&n->u.items);
      for (size_t i = 0; i < srv_vec_len(&n->u.items); i++) {
        int rc = srv_map_put_if_absent(&s->keys, it[i].key, it[i].key_len, NULL, NULL, NULL);
        if (rc == AR_OK) rc = summarize(s, it[i].value, depth + 1);
        if (rc != AR_OK) return rc;
      }
      return AR_OK;
    }
    default: return AR_OK;
  }
}

/* POST /json: the body parsed into a tree, summarized, and echoed back. */
static int handle_json(srv_mem_t *m, const http_request_t *req, const char *body, size_t len,
                       srv_buf_t *out, const char **detail) {
  json_node_t *root;
  int rc = json_parse(m, body, len, &root);
  if (rc == JSON_ESYNTAX || rc == JSON_EDEPTH) {
    *detail = rc == JSON_ESYNTAX ? "malformed JSON" : "JSON nested too deeply";
    return 400;
  }
  if (rc != AR_OK) return 503;
  summary_t s = {0};
  rc = srv_map_init(&s.keys, m, 0);
  if (rc == AR_OK) rc = summarize(&s, root, 1);
  size_t ctlen = 0;
  const char *ctype = http_header(req, "content-type", &ctlen);
  if (rc == AR_OK)
    rc = srv_buf_appendf(out,
                         "{\"flavor\":\"%s\",\"nodes\":%llu,\"depth\":%d,\"numbers\":%llu,"
                         "\"sum\":%.17g,\"strings\":%llu,\"string_bytes\":%llu,"
                         "\"unique_keys\":%zu,\"content_type\":",
                         SRV_FLAVOR, (unsigned long long)s.nodes, s.depth,
                         (unsigned long long)s.numbers, s.sum, (unsigned long long)s.strings,
                         (unsigned long long)s.string_bytes, srv_map_len(&s.keys));
  if (rc == AR_OK) rc = json_write_string(out, ctype ? ctype : "", ctype ? ctlen : 0);
  if (rc == AR_OK) rc = srv_buf_append_str(out, ",\"echo\":");
  if (rc == AR_OK) rc = json_write(out, root);
  if (rc == AR_OK) rc = srv_buf_append_str(out, "}\n");
  if (SRV_FREES_EACH) {
    srv_map_destroy(&s.keys);
    json_free(m, root);
  }
  return rc == AR_OK ? 200 : 503;
}

typedef struct stat_line {
  const char *name, *type, *help;
  uint64_t value;
} stat_line_t;

/* GET /stats: the runtime's global counters and the server's, as JSON or Prometheus text. */
static int handle_stats(srv_t *s, const http_request_t *req, srv_buf_t *out, bool *prometheus) {
  ar_global_stats_t g;
  if (ar_stats_global(&g) != AR_OK) memset(&g, 0, sizeof g);
  srv_stats_t st;
  srv_get_stats(s, &st);
  const stat_line_t lines[] = {
      {"arenart_arenas_created_total", "counter", "Arenas created since start.", g.arenas_created},
      {"arenart_arenas_live", "gauge", "Arenas alive now.", g.arenas_live},
      {"arenart_bytes_acquired_total", "counter", "Chunk bytes taken from memory sources.",
       g.bytes_acquired},
      {"arenart_bytes_released_total", "counter", "Chunk bytes given back to memory sources.",
       g.bytes_released},
      {"arenart_chunks_in_use", "gauge", "Chunks held by arenas.", g.chunks_in_use},
      {"arenart_chunks_pooled", "gauge", "Free chunks in the process-wide pool.", g.chunks_pooled},
      {"arenart_avg_lifetime_ns", "gauge", "Mean lifetime of destroyed arenas.", g.avg_lifetime_ns},
      {"arenart_registered_arenas", "gauge", "Arenas in the registry.", g.registered},
      {"arenart_registered_bytes", "gauge", "Chunk bytes held by registered arenas.",
       g.registered_bytes},
      {"server_requests_total", "counter", "Requests answered.", st.requests},
      {"server_connections_accepted_total", "counter", "Connections accepted.", st.conns_accepted},
      {"server_connections_open", "gauge", "Connections open.",
       st.conns_accepted - st.conns_closed},
      {"server_connections_refused_total", "counter",
       "Connections refused with 503 at the connection cap.", st.conns_refused},
      {"server_connections_timed_out_total", "counter",
       "Connections closed or answered 408 past their deadline.", st.conns_timed_out},
      {"server_workers_failed", "gauge", "Workers stopped by an epoll error.", st.workers_failed},
      {"server_leaked_bytes", "gauge", "Bytes still held when a context ended (malloc flavor).",
       st.leaked_bytes},
      {"server_connection_arenas_idle", "gauge", "Idle connection arenas in the pool.",
       st.pool_idle},
      {"server_connection_arenas_taken", "gauge", "Connection arenas in use.", st.pool_taken},
  };
  const size_t nlines = sizeof lines / sizeof lines[0];
  int rc = AR_OK;
  *prometheus = req->query_len == 17 && memcmp(req->query, "format=prometheus", 17) == 0;
  if (*prometheus) {
    for (size_t i = 0; i < nlines && rc == AR_OK; i++)
      rc = srv_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", lines[i].name,
                           lines[i].help, lines[i].name, lines[i].type, lines[i].name,
                           (unsigned long long)lines[i].value);
    for (int k = 1; k < 6 && rc == AR_OK; k++)
      rc = srv_buf_appendf(out, "%sserver_responses_total{class=\"%dxx\"} %llu\n",
                           k == 1 ? "# HELP server_responses_total Responses by status class.\n"
                                    "# TYPE server_responses_total counter\n"
                                  : "",
                           k, (unsigned long long)st.status[k]);
  } else {
    rc = srv_buf_appendf(out, "{\"flavor\":\"%s\"", SRV_FLAVOR);
    for (size_t i = 0; i < nlines && rc == AR_OK; i++)
      rc = srv_buf_appendf(out, ",\"%s\":%llu", lines[i].name, (unsigned long long)lines[i].value);
    for (int k = 1; k < 6 && rc == AR_OK; k++)
      rc = srv_buf_appendf(out, ",\"server_responses_%dxx\":%llu", k,
                           (unsigned long long)st.status[k]);
    if (rc == AR_OK) rc = srv_buf_append_str(out, "}\n");
  }
  return rc == AR_OK ? 200 : 503;
}

static bool path_is(const http_request_t *req, const char *p) {
  return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

static bool method_is(const http_request_t *req, const char *m) {
  return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

/* Routes one request; the body of a 200 answer is left in `out`. */
int route_request(srv_t *s, srv_mem_t *m, const http_request_t *req, const char *body,
                  srv_buf_t *out, const char **ctype, const char **detail) {
  *ctype = "application/json";
  if (path_is(req, "/json")) {
    if (!method_is(req, "POST")) return 405;
    return handle_json(m, req, body, req->content_length, out, detail);
  }
  if (path_is(req, "/stats")) {
    if (!method_is(req, "GET")) return 405;
    bool prom;
    int st = handle_stats(s, req, out, &prom);
    if (prom) *ctype = "text/plain; version=0.0.4";
    return st;
  }
  if (path_is(req, "/")) {
    if (!method_is(req, "GET")) return 405;
    return srv_buf_appendf(out, "{\"service\":\"arenart example server\",\"flavor\":\"%s\"}\n",
                           SRV_FLAVOR) == AR_OK
               ? 200
               : 503;
  }
  return 404;
}
