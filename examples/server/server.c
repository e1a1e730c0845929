/*
 * examples/server/server.c - threads, sockets, connections and the request handler.
 *
 * Threads. The acceptor sleeps in epoll_wait on the listening socket and a stop eventfd. Each
 * accepted socket goes to the next worker's inbox (a mutex-protected array) and the worker's
 * eventfd is bumped. A worker sleeps in epoll_wait on its eventfd and its connections; it
 * moves new sockets from its inbox into connections, and serves each connection until it
 * closes. A connection never changes worker, so everything in it (its context, buffers, the
 * scopes of its requests) is touched by one thread only; the inbox mutex is the only point
 * where the acceptor and a worker share data.
 *
 * Memory. A connection's record, read buffer and pending-output buffer come from its own
 * context (srv_pool_take), which ends when the connection does. A request runs in a scope:
 * its parsed head (strings, header vector, header map), its JSON tree and its response body
 * are allocated inside it, and the scope ends after the response has been handed to the
 * socket; whatever the socket did not take at once is copied to the connection's
 * pending-output buffer first. Error answers are formatted on the stack, so a request that hit
 * its memory cap can still be answered.
 *
 * Reading is level-triggered, one read per readiness event, into a stack buffer appended to
 * the read buffer; complete requests are served in order (pipelining works); while a response
 * is pending the connection waits for EPOLLOUT only and reads nothing, so a client that does
 * not read cannot make the server buffer without bound. Closing after an answer is a lingering
 * close: shut down the sending side, discard input until the peer closes (at most
 * LINGER_BYTES), then close, so the peer sees the answer rather than a reset.
 *
 * Deadlines. Each connection carries one absolute deadline (CLOCK_MONOTONIC), re-armed when
 * the connection enters a phase: waiting for a request (after the accept or an answer) or for
 * the socket to take pending output (after each bit of progress) gets request_timeout, the
 * lingering close gets linger_timeout. Bytes of a request arriving do not re-arm it, so a
 * client that trickles a head cannot hold the connection past the deadline. The worker keeps
 * a lower bound on its connections' deadlines (next_deadline: lowered whenever one is armed,
 * recomputed by each sweep), sleeps in epoll_wait no longer than until then, and sweeps its
 * list when it has passed. Everything here is the worker's own thread's, so none of it is
 * shared.
 *
 * Failure. A worker whose epoll_wait fails (other than EINTR) cannot serve anything any more:
 * it logs, marks itself failed under its inbox lock, closes its connections and the sockets
 * waiting in its inbox, and exits; the acceptor, which looks at the mark under the same lock,
 * deals new sockets to the remaining workers, or closes them when none is left.
 *
 * Connection cap. The acceptor alone counts connections accepted, and a connection is counted
 * closed only after its worker has given its memory back, so accepted - closed as the
 * acceptor reads it (its own exact count, minus a closed count that can only lag) is never
 * below the number of connections really holding a context: the cap may refuse a connection
 * a moment after another one has gone, never admit one too many. A refused socket gets a
 * canned 503 by one non-blocking send and is closed on the acceptor's thread; a client that
 * does not read, or a full socket buffer, costs it nothing but the lost answer.
 */
#include "examples/server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "examples/server/http.h"
#include "examples/server/json.h"
#include "examples/server/srv_mem.h"

#define READ_CHUNK 16384
#define LINGER_BYTES ((size_t)1 << 20)
#define MAX_EVENTS 64

typedef struct conn conn_t;
typedef struct worker worker_t;

struct conn {
  srv_mem_t mem; /* the connection's context; this record lives in it */
  int fd;
  worker_t *w;
  srv_buf_t rbuf;   /* received, not yet consumed */
  srv_buf_t wbuf;   /* answered, not yet accepted by the socket */
  size_t need;      /* bytes the request at the front needs, once its head is known */
  bool close_after; /* close once wbuf is flushed */
  bool peer_done;   /* the peer has closed its sending side */
  bool dead;        /* the socket failed: close without further ado */
  bool continued;   /* "100 Continue" sent for the request at the front */
  bool draining;    /* send side shut down; discarding input until the peer closes */
  size_t drained;   /* bytes discarded while draining */
  bool want_out;    /* registered for EPOLLOUT instead of EPOLLIN */
  uint64_t deadline; /* CLOCK_MONOTONIC ns; past it, the sweep ends the connection */
  conn_t *prev, *next;
};

struct worker {
  srv_t *srv;
  pthread_t tid;
  int epfd, evfd;
  pthread_mutex_t lock; /* guards the inbox and `failed` */
  int *inbox;
  size_t inbox_len, inbox_cap;
  bool failed;            /* the worker has stopped serving; the acceptor skips it */
  atomic_bool fail_test;  /* srv_fail_worker_for_test asked it to act as failed */
  int index;
  conn_t *conns;          /* this worker's connections (its own thread only) */
  uint64_t next_deadline; /* no connection's deadline is earlier (its own thread only) */
};

/* Statistics: atomics incremented by whichever thread sees the event and read by /stats,
 * srv_get_stats and the acceptor's connection cap (see count for their memory orders). */
typedef struct counters {
  _Atomic uint64_t requests, status[6], accepted, closed, refused, timed_out, workers_failed;
} counters_t;

struct srv {
  srv_config_t cfg;
  char host[64];
  int lfd, epfd, evfd;
  uint16_t port;
  pthread_t acceptor;
  uint64_t request_timeout_ns, linger_timeout_ns;
  worker_t *workers;
  int nworkers;
  unsigned next_worker; /* acceptor thread only */
  srv_pool_t *pool;
  atomic_bool stopping;
  counters_t c;
};

/* Release/acquire rather than relaxed: srv_get_stats readers (tests, /stats) rely on "closed
 * reached accepted" implying that the closing worker's pool give is visible. On x86 the
 * increment is the same locked add either way. */
static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_release); }

static uint64_t read_counter(_Atomic uint64_t *c) {
  return atomic_load_explicit(c, memory_order_acquire);
}

const char *srv_flavor(void) { return SRV_FLAVOR; }

void srv_config_init(srv_config_t *cfg) {
  cfg->host = "127.0.0.1";
  cfg->port = 0;
  cfg->workers = 2;
  cfg->max_header = 8 * 1024;
  cfg->max_body = 1024 * 1024;
  cfg->max_request_mem = 8 * 1024 * 1024;
  cfg->request_timeout_ms = 10000;
  cfg->linger_timeout_ms = 2000;
  cfg->max_conns = 4096;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wakes the thread sleeping on an eventfd. It can only fail when the counter would overflow,
 * and then the thread is awake already. */
static void wake(int evfd) {
  int rc = eventfd_write(evfd, 1);
  (void)rc;
}

/* Clears an eventfd; it is non-blocking, so a wake-up that was already consumed is harmless. */
static void clear_wake(int evfd) {
  eventfd_t v;
  int rc = eventfd_read(evfd, &v);
  (void)rc;
}

/* ---- connections ------------------------------------------------------------------------ */

/* Gives the connection `timeout_ns` from now to finish its current phase. */
static void arm(conn_t *c, uint64_t timeout_ns) {
  c->deadline = now_ns() + timeout_ns;
  if (c->deadline < c->w->next_deadline) c->w->next_deadline = c->deadline;
}

static void set_interest(conn_t *c, bool out) {
  if (c->want_out == out) return;
  struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
  if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->want_out = out;
}

static void conn_close(conn_t *c) {
  worker_t *w = c->w;
  (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  if (SRV_FREES_EACH) {
    srv_buf_destroy(&c->rbuf);
    srv_buf_destroy(&c->wbuf);
  }
  srv_mem_t mem = c->mem; /* the record is about to go */
  srv_free(&mem, c, sizeof *c);
  srv_pool_give(w->srv->pool, &mem);
  /* Counted only once the memory is back: a reader that sees closed == accepted (acquire)
   * then also sees the pool and the leak counter with this connection's memory returned. */
  count(&w->srv->c.closed);
}

static void conn_open(worker_t *w, int fd) {
  srv_mem_t mem;
  conn_t *c = NULL;
  if (srv_pool_take(w->srv->pool, &mem) != AR_OK) goto fail;
  if ((c = srv_alloc(&mem, sizeof *c)) == NULL) {
    srv_pool_give(w->srv->pool, &mem);
    goto fail;
  }
  memset(c, 0, sizeof *c);
  c->mem = mem;
  c->fd = fd;
  c->w = w;
  arm(c, w->srv->request_timeout_ns);
  (void)srv_buf_init(&c->rbuf, &c->mem);
  (void)srv_buf_init(&c->wbuf, &c->mem);
  c->next = w->conns;
  if (c->next != NULL) c->next->prev = c;
  w->conns = c;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) conn_close(c);
  return;
fail:
  close(fd);
  count(&w->srv->c.closed);
}

/* Starts the lingering close: nothing more to send, wait for the peer to hang up. */
static void start_drain(conn_t *c) {
  (void)shutdown(c->fd, SHUT_WR);
  c->draining = true;
  arm(c, c->w->srv->linger_timeout_ns);
  set_interest(c, false);
}

/* Sends iov[0..n) now; keeps what the socket does not take in wbuf. False if the connection
 * is dead (peer gone, or no memory to keep the rest). */
static bool conn_send(conn_t *c, struct iovec *iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  ssize_t sent = 0;
  if (srv_buf_remaining(&c->wbuf) == 0) {
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    do sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
      sent = 0;
    }
  }
  if ((size_t)sent == total) return true;
  size_t skip = (size_t)sent;
  for (int i = 0; i < n; i++) {
    if (skip >= iov[i].iov_len) {
      skip -= iov[i].iov_len;
      continue;
    }
    if (srv_buf_append(&c->wbuf, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip) !=
        AR_OK)
      return false;
    skip = 0;
  }
  set_interest(c, true);
  return true;
}

/* Writes what wbuf holds. False if the connection is dead. */
static bool conn_flush(conn_t *c) {
  while (srv_buf_remaining(&c->wbuf) > 0) {
    ssize_t n = send(c->fd, srv_buf_rdata(&c->wbuf), srv_buf_remaining(&c->wbuf),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    srv_buf_consume(&c->wbuf, (size_t)n);
    if (n > 0) arm(c, c->w->srv->request_timeout_ns); /* progress: the client is reading */
  }
  srv_buf_compact(&c->wbuf);
  return true;
}

/* Sends one response: a head formatted here and `body`. */
static bool send_response(conn_t *c, int status, const char *ctype, const char *body,
                          size_t body_len, bool keep_alive) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: %s\r\n\r\n",
                   status, http_reason(status), ctype, body_len, keep_alive ? "keep-alive" : "close");
  /* Cannot fail or truncate with this server's content types, but never trust it blindly. */
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof head) n = (int)(sizeof head - 1);
  struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, body_len}};
  srv_t *s = c->w->srv;
  /* The next request, or the socket taking this answer, has request_timeout from now. */
  arm(c, s->request_timeout_ns);
  count(&s->c.requests);
  count(&s->c.status[status / 100 < 6 ? status / 100 : 5]);
  if (!keep_alive) c->close_after = true;
  if (!conn_send(c, iov, body_len != 0 ? 2 : 1)) c->dead = true;
  return !c->dead;
}

/* An error answer, formatted on the stack (it must work when the request's memory is gone). */
static bool send_error(conn_t *c, int status, const char *detail, bool keep_alive) {
  char body[160];
  int n = snprintf(body, sizeof body, "{\"status\":%d,\"error\":\"%s\"}\n", status, detail);
  /* snprintf returns the length it wanted: a long detail would otherwise send stack bytes
   * past the buffer. Truncated JSON is still better than that. */
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof body) n = (int)(sizeof body - 1);
  return send_response(c, status, "application/json", body, (size_t)n, keep_alive);
}

/* ---- handlers ----------------------------------------------------------------------------- */

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
    default:
      return AR_OK;
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
      {"arenart_arenas_created_total", "counter", "Arenas created since start.",
       g.arenas_created},
      {"arenart_arenas_live", "gauge", "Arenas alive now.", g.arenas_live},
      {"arenart_bytes_acquired_total", "counter", "Chunk bytes taken from memory sources.",
       g.bytes_acquired},
      {"arenart_bytes_released_total", "counter", "Chunk bytes given back to memory sources.",
       g.bytes_released},
      {"arenart_chunks_in_use", "gauge", "Chunks held by arenas.", g.chunks_in_use},
      {"arenart_chunks_pooled", "gauge", "Free chunks in the process-wide pool.",
       g.chunks_pooled},
      {"arenart_avg_lifetime_ns", "gauge", "Mean lifetime of destroyed arenas.",
       g.avg_lifetime_ns},
      {"arenart_registered_arenas", "gauge", "Arenas in the registry.", g.registered},
      {"arenart_registered_bytes", "gauge", "Chunk bytes held by registered arenas.",
       g.registered_bytes},
      {"server_requests_total", "counter", "Requests answered.", st.requests},
      {"server_connections_accepted_total", "counter", "Connections accepted.",
       st.conns_accepted},
      {"server_connections_open", "gauge", "Connections open.",
       st.conns_accepted - st.conns_closed},
      {"server_connections_refused_total", "counter",
       "Connections refused with 503 at the connection cap.", st.conns_refused},
      {"server_connections_timed_out_total", "counter",
       "Connections closed or answered 408 past their deadline.", st.conns_timed_out},
      {"server_workers_failed", "gauge", "Workers stopped by an epoll error.",
       st.workers_failed},
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
static int route(srv_t *s, srv_mem_t *m, const http_request_t *req, const char *body,
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

enum { SERVED, NEED_MORE, STOP };

/* Serves the request at the front of rbuf, if it is all there. */
static int serve_one(conn_t *c) {
  srv_t *s = c->w->srv;
  size_t avail = srv_buf_remaining(&c->rbuf);
  if (avail == 0 || (c->need != 0 && avail < c->need)) return NEED_MORE;
  const char *data = srv_buf_rdata(&c->rbuf);
  srv_scope_t scope;
  if (srv_scope_begin(&scope) != AR_OK) {
    (void)send_error(c, 503, "no request memory", false);
    return STOP;
  }
  http_request_t req;
  int st = http_parse_head(&scope.mem, data, avail, s->cfg.max_header, s->cfg.max_body, &req);
  if (st != HTTP_HEAD_OK) {
    srv_scope_end(&scope);
    if (st == HTTP_HEAD_INCOMPLETE) return NEED_MORE;
    /* The stream cannot be trusted past a bad head: answer and close. */
    (void)send_error(c, st, http_reason(st), false);
    return STOP;
  }
  size_t total = req.head_len + req.content_length;
  if (avail < total) {
    c->need = total; /* parse the head again only once the body is all here */
    size_t elen;
    const char *expect = http_header(&req, "expect", &elen);
    if (expect != NULL && elen == 12 && strncasecmp(expect, "100-continue", 12) == 0 &&
        !c->continued && avail == req.head_len) {
      /* The client waits for this before sending the body (curl does, for large ones). */
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      struct iovec iov = {(void *)cont, sizeof cont - 1};
      c->continued = true;
      if (!conn_send(c, &iov, 1)) c->dead = true;
    }
    if (SRV_FREES_EACH) http_request_free(&scope.mem, &req);
    srv_scope_end(&scope);
    return NEED_MORE;
  }
  c->need = 0;
  c->continued = false;
  srv_buf_t out;
  (void)srv_buf_init(&out, &scope.mem);
  const char *ctype, *detail = NULL;
  st = route(s, &scope.mem, &req, data + req.head_len, &out, &ctype, &detail);
  bool keep = req.keep_alive;
  if (st == 200)
    (void)send_response(c, 200, ctype, srv_buf_data(&out), srv_buf_len(&out), keep);
  else
    (void)send_error(c, st,
                     detail != NULL ? detail
                     : st == 503    ? "request memory limit"
                                    : http_reason(st),
                     keep);
  if (SRV_FREES_EACH) {
    srv_buf_destroy(&out);
    http_request_free(&scope.mem, &req);
  }
  srv_scope_end(&scope);
  srv_buf_consume(&c->rbuf, total);
  return c->dead || c->close_after ? STOP : SERVED;
}

/* Serves complete requests until one is missing bytes, output backs up, or the connection is
 * to close. False if the connection must close now. */
static bool serve_input(conn_t *c) {
  while (!c->close_after && !c->dead && srv_buf_remaining(&c->wbuf) == 0 &&
         serve_one(c) == SERVED) {
  }
  srv_buf_compact(&c->rbuf);
  if (c->dead) return false;
  if (srv_buf_remaining(&c->wbuf) != 0) return true; /* wait for EPOLLOUT */
  if (c->peer_done) return false; /* nothing more will come, nothing left to send */
  if (c->close_after && !c->draining) start_drain(c);
  return true;
}

static void conn_event(conn_t *c, uint32_t events) {
  if (events & EPOLLERR) {
    conn_close(c);
    return;
  }
  if (c->want_out) {
    if (!conn_flush(c)) {
      conn_close(c);
      return;
    }
    if (srv_buf_remaining(&c->wbuf) != 0) return;
    set_interest(c, false);
    if (!serve_input(c)) conn_close(c);
    return;
  }
  char tmp[READ_CHUNK];
  ssize_t n = read(c->fd, tmp, sizeof tmp);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) conn_close(c);
    return;
  }
  if (c->draining) {
    c->drained += (size_t)n;
    if (n == 0 || c->drained > LINGER_BYTES) conn_close(c);
    return;
  }
  if (n == 0) {
    /* The peer is done sending: answer what is complete, drop any partial request. */
    c->peer_done = true;
    if (!serve_input(c)) conn_close(c);
    return;
  }
  if (srv_buf_append(&c->rbuf, tmp, (size_t)n) != AR_OK || !serve_input(c)) conn_close(c);
}

/* The connection's deadline has passed. A connection holding part of a request gets a 408
 * and a lingering close (with its own, linger, deadline); any other one (idle between
 * requests, a client not taking its answer, a lingering close that lasted too long) is closed
 * now. */
static void conn_expire(conn_t *c) {
  count(&c->w->srv->c.timed_out);
  bool partial = srv_buf_remaining(&c->rbuf) != 0;
  if (!partial || c->draining || c->want_out || c->dead || c->close_after || c->peer_done) {
    conn_close(c);
    return;
  }
  if (!send_error(c, 408, "request timeout", false)) {
    conn_close(c);
    return;
  }
  /* If the socket did not take the 408 at once, the connection waits for EPOLLOUT (with
   * request_timeout) and serve_input starts the drain once it is out. */
  if (srv_buf_remaining(&c->wbuf) == 0) start_drain(c);
}

/* Ends the connections whose deadline has passed and recomputes next_deadline. */
static void sweep(worker_t *w, uint64_t now) {
  w->next_deadline = UINT64_MAX;
  for (conn_t *c = w->conns, *next; c != NULL; c = next) {
    next = c->next; /* conn_expire may free c; it never frees another connection */
    if (c->deadline <= now)
      conn_expire(c); /* re-arms (lowering next_deadline) if the connection stays */
    else if (c->deadline < w->next_deadline)
      w->next_deadline = c->deadline;
  }
}

/* The epoll_wait timeout until the earliest deadline, in ms rounded up (-1: none). */
static int wait_ms(const worker_t *w, uint64_t now) {
  if (w->next_deadline == UINT64_MAX) return -1;
  if (w->next_deadline <= now) return 0;
  uint64_t ms = (w->next_deadline - now + 999999u) / 1000000u;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- threads ------------------------------------------------------------------------------ */

static void adopt_inbox(worker_t *w) {
  int fds[64];
  for (;;) {
    size_t n = 0;
    pthread_mutex_lock(&w->lock);
    while (n < 64 && w->inbox_len > 0) fds[n++] = w->inbox[--w->inbox_len];
    pthread_mutex_unlock(&w->lock);
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) conn_open(w, fds[i]);
  }
}

/* The worker cannot go on: stop taking connections and end the ones it has. */
static void worker_fail(worker_t *w, int err) {
  fprintf(stderr,
          "server: worker %d: epoll_wait: %s; closing its connections, it takes no new ones\n",
          w->index, strerror(err));
  int *fds;
  size_t nfds;
  pthread_mutex_lock(&w->lock);
  w->failed = true; /* under the lock: the acceptor queues nothing here after this */
  fds = w->inbox;
  nfds = w->inbox_len;
  w->inbox = NULL;
  w->inbox_len = w->inbox_cap = 0;
  pthread_mutex_unlock(&w->lock);
  for (size_t i = 0; i < nfds; i++) {
    close(fds[i]);
    count(&w->srv->c.closed);
  }
  free(fds);
  count(&w->srv->c.workers_failed);
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  struct epoll_event evs[MAX_EVENTS];
  w->next_deadline = UINT64_MAX;
  for (;;) {
    int n = epoll_wait(w->epfd, evs, MAX_EVENTS, wait_ms(w, now_ns()));
    /* Acquire: pairs with srv_fail_worker_for_test's release, so that the wake-up it sends
     * after the store cannot be consumed without the flag being seen. */
    if (atomic_load_explicit(&w->fail_test, memory_order_acquire)) {
      n = -1;
      errno = EBADF;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      worker_fail(w, errno);
      break;
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        clear_wake(w->evfd);
        /* Acquire: pairs with srv_stop's release, though the eventfd write already orders it
         * for the kernel; this keeps the ordering visible to the language and to TSan. */
        if (atomic_load_explicit(&w->srv->stopping, memory_order_acquire)) goto out;
        adopt_inbox(w);
      } else {
        conn_event(evs[i].data.ptr, evs[i].events);
      }
    }
    uint64_t now = now_ns();
    if (w->next_deadline <= now) sweep(w, now);
  }
out:
  while (w->conns != NULL) conn_close(w->conns);
  return NULL;
}

/* The answer to a connection over the cap: fixed, so sending it needs no memory. */
#define REFUSED_BODY "{\"status\":503,\"error\":\"too many connections\"}\n"
#define REFUSED_BODY_LEN 46 /* a literal, to be pasted into the head */
_Static_assert(sizeof REFUSED_BODY - 1 == REFUSED_BODY_LEN, "REFUSED_BODY_LEN is its length");
#define STR_(x) #x
#define STR(x) STR_(x)
static const char refused_answer[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Content-Length: " STR(REFUSED_BODY_LEN) "\r\nConnection: close\r\n\r\n" REFUSED_BODY;
#undef STR
#undef STR_

/* True if max_conns connections are open. Only the acceptor increments `accepted`, so its
 * value is exact here; `closed` may lag (see the essay above), which errs on refusing. */
static bool at_cap(srv_t *s) {
  uint64_t open = read_counter(&s->c.accepted) - read_counter(&s->c.closed);
  return open >= (uint64_t)s->cfg.max_conns;
}

/* Answers 503 if the socket takes it at once (it is non-blocking; a short or failed send just
 * loses the answer) and closes. The client's request, if any, is never read. */
static void refuse(srv_t *s, int fd) {
  count(&s->c.refused); /* before the client can see the answer or the close */
  ssize_t n;
  do n = send(fd, refused_answer, sizeof refused_answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  close(fd);
}

/* Queues `fd` to the next worker that has not failed; false if every worker has. */
static bool hand_to_worker(srv_t *s, int fd) {
  for (int tries = 0; tries < s->nworkers; tries++) {
    worker_t *w = &s->workers[s->next_worker++ % (unsigned)s->nworkers];
    bool queued = false;
    pthread_mutex_lock(&w->lock);
    if (!w->failed && w->inbox_len == w->inbox_cap) {
      size_t cap = w->inbox_cap ? w->inbox_cap * 2 : 64;
      int *p = realloc(w->inbox, cap * sizeof *p);
      if (p != NULL) {
        w->inbox = p;
        w->inbox_cap = cap;
      }
    }
    if (!w->failed && w->inbox_len < w->inbox_cap) {
      w->inbox[w->inbox_len++] = fd;
      queued = true;
    }
    pthread_mutex_unlock(&w->lock);
    if (queued) {
      wake(w->evfd);
      return true;
    }
  }
  return false;
}

static void *acceptor_main(void *arg) {
  srv_t *s = arg;
  struct epoll_event evs[4];
  bool told_no_worker = false;
  for (;;) {
    int n = epoll_wait(s->epfd, evs, 4, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "server: acceptor: epoll_wait: %s; no longer accepting\n",
              strerror(errno));
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u32 == 1) {
        clear_wake(s->evfd);
        /* Acquire: see worker_main. */
        if (atomic_load_explicit(&s->stopping, memory_order_acquire)) return NULL;
        continue;
      }
      for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: back off instead of spinning on a ready listener. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
          }
          break;
        }
        if (at_cap(s)) {
          refuse(s, fd);
          continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        count(&s->c.accepted); /* before the worker can see it, so closed <= accepted */
        if (!hand_to_worker(s, fd)) {
          /* No memory for the inbox, or no live worker left. */
          if (!told_no_worker &&
              read_counter(&s->c.workers_failed) == (uint64_t)s->nworkers) {
            fprintf(stderr, "server: every worker has failed; closing new connections\n");
            told_no_worker = true;
          }
          close(fd);
          count(&s->c.closed);
        }
      }
    }
  }
}

/* ---- life cycle -------------------------------------------------------------------------- */

static void fail(char *err, size_t errlen, const char *what) {
  if (err != NULL && errlen > 0) snprintf(err, errlen, "%s: %s", what, strerror(errno));
}

static void release(srv_t *s) {
  for (int i = 0; i < s->nworkers; i++) {
    worker_t *w = &s->workers[i];
    for (size_t k = 0; k < w->inbox_len; k++) close(w->inbox[k]);
    free(w->inbox);
    if (w->epfd >= 0) close(w->epfd);
    if (w->evfd >= 0) close(w->evfd);
    pthread_mutex_destroy(&w->lock);
  }
  free(s->workers);
  if (s->lfd >= 0) close(s->lfd);
  if (s->epfd >= 0) close(s->epfd);
  if (s->evfd >= 0) close(s->evfd);
  srv_pool_destroy(s->pool);
  free(s);
}

static int make_listener(srv_t *s, char *err, size_t errlen) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s->cfg.port)};
  if (inet_pton(AF_INET, s->cfg.host, &sa.sin_addr) != 1) {
    errno = EINVAL;
    fail(err, errlen, "host must be an IPv4 address");
    return -1;
  }
  s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->lfd < 0) return fail(err, errlen, "socket"), -1;
  int one = 1;
  (void)setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0) return fail(err, errlen, "bind"), -1;
  if (listen(s->lfd, 1024) != 0) return fail(err, errlen, "listen"), -1;
  socklen_t len = sizeof sa;
  if (getsockname(s->lfd, (struct sockaddr *)&sa, &len) != 0)
    return fail(err, errlen, "getsockname"), -1;
  s->port = ntohs(sa.sin_port);
  return 0;
}

srv_t *srv_start(const srv_config_t *cfg, char *err, size_t errlen) {
  srv_config_t defaults;
  srv_config_init(&defaults);
  if (cfg == NULL) cfg = &defaults;
  if (cfg->workers < 1 || cfg->workers > 256 || cfg->max_header < 64 ||
      (cfg->max_request_mem != 0 && cfg->max_request_mem < SRV_MIN_REQUEST_MEM) ||
      cfg->request_timeout_ms < 1 || cfg->request_timeout_ms > SRV_MAX_TIMEOUT_MS ||
      cfg->linger_timeout_ms < 1 || cfg->linger_timeout_ms > SRV_MAX_TIMEOUT_MS ||
      cfg->max_conns < 1) {
    errno = EINVAL;
    fail(err, errlen,
         "workers must be 1..256, max_header at least 64, max_request_mem 0 or at least 64 KiB, "
         "timeouts 1 ms..1 day, max_conns at least 1");
    return NULL;
  }
  srv_t *s = calloc(1, sizeof *s);
  if (s == NULL) return fail(err, errlen, "calloc"), NULL;
  s->cfg = *cfg;
  snprintf(s->host, sizeof s->host, "%s", cfg->host != NULL ? cfg->host : "127.0.0.1");
  s->cfg.host = s->host;
  s->lfd = s->epfd = s->evfd = -1;
  s->request_timeout_ns = (uint64_t)cfg->request_timeout_ms * 1000000u;
  s->linger_timeout_ns = (uint64_t)cfg->linger_timeout_ms * 1000000u;
  atomic_init(&s->stopping, false);
  s->workers = calloc((size_t)cfg->workers, sizeof *s->workers);
  s->pool = srv_pool_create();
  if (s->workers == NULL || s->pool == NULL) {
    errno = ENOMEM;
    fail(err, errlen, "allocating the server");
    release(s);
    return NULL;
  }
  s->nworkers = cfg->workers;
  for (int i = 0; i < s->nworkers; i++) {
    worker_t *w = &s->workers[i];
    w->srv = s;
    w->index = i;
    w->epfd = w->evfd = -1;
    atomic_init(&w->fail_test, false);
    pthread_mutex_init(&w->lock, NULL);
  }
  if (make_listener(s, err, errlen) != 0) {
    release(s);
    return NULL;
  }
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  bool ok = s->epfd >= 0 && s->evfd >= 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
  ok = ok && epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) == 0;
  ev.data.u32 = 1;
  ok = ok && epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev) == 0;
  for (int i = 0; ok && i < s->nworkers; i++) {
    worker_t *w = &s->workers[i];
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = NULL};
    ok = w->epfd >= 0 && w->evfd >= 0 && epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &wev) == 0;
  }
  if (!ok) {
    fail(err, errlen, "epoll/eventfd");
    release(s);
    return NULL;
  }
  /* Process-global (server.h): only now that nothing but thread creation can fail, so that a
   * start that fails on a bad address or a busy port leaves the process's settings alone. */
  if (srv_mem_configure(cfg->max_request_mem) != AR_OK) {
    errno = EINVAL;
    fail(err, errlen, "configuring request memory");
    release(s);
    return NULL;
  }
  int started = 0;
  for (; started < s->nworkers; started++)
    if (pthread_create(&s->workers[started].tid, NULL, worker_main, &s->workers[started]) != 0)
      break;
  if (started == s->nworkers && pthread_create(&s->acceptor, NULL, acceptor_main, s) == 0)
    return s;
  /* Unwind: stop the workers that did start. */
  atomic_store_explicit(&s->stopping, true, memory_order_release);
  for (int i = 0; i < started; i++) {
    wake(s->workers[i].evfd);
    pthread_join(s->workers[i].tid, NULL);
  }
  errno = EAGAIN;
  fail(err, errlen, "pthread_create");
  release(s);
  return NULL;
}

uint16_t srv_port(const srv_t *s) { return s->port; }

void srv_get_stats(srv_t *s, srv_stats_t *out) {
  memset(out, 0, sizeof *out);
  out->requests = read_counter(&s->c.requests);
  for (int k = 0; k < 6; k++) out->status[k] = read_counter(&s->c.status[k]);
  /* Closed first: a connection is counted accepted before any worker sees it, so this order
   * keeps closed <= accepted in practice; the clamp covers what relaxed loads do not promise. */
  out->conns_closed = read_counter(&s->c.closed);
  out->conns_accepted = read_counter(&s->c.accepted);
  if (out->conns_closed > out->conns_accepted) out->conns_closed = out->conns_accepted;
  out->conns_refused = read_counter(&s->c.refused);
  out->conns_timed_out = read_counter(&s->c.timed_out);
  out->workers_failed = read_counter(&s->c.workers_failed);
  out->leaked_bytes = srv_mem_leaked_bytes();
  srv_pool_stats_t ps;
  srv_pool_stats(s->pool, &ps);
  out->pool_idle = ps.idle;
  out->pool_taken = ps.taken;
  out->pool_created = ps.created;
  out->pool_reused = ps.reused;
}

int srv_fail_worker_for_test(srv_t *s, int i) {
  if (s == NULL || i < 0 || i >= s->nworkers) return -1;
  /* Release: see worker_main; the wake-up below makes the worker look at it. */
  atomic_store_explicit(&s->workers[i].fail_test, true, memory_order_release);
  wake(s->workers[i].evfd);
  return 0;
}

void srv_stop(srv_t *s) {
  if (s == NULL) return;
  /* Release: pairs with the acquire loads in the threads (see worker_main). */
  atomic_store_explicit(&s->stopping, true, memory_order_release);
  wake(s->evfd);
  pthread_join(s->acceptor, NULL);
  for (int i = 0; i < s->nworkers; i++) {
    wake(s->workers[i].evfd);
    pthread_join(s->workers[i].tid, NULL);
  }
  release(s);
}
