/* SPDX-License-Identifier: MIT */
/*
 * examples/server/serve.c - reading a connection and serving the requests in what it read.
 *
 * Reading is level-triggered, one read per readiness event, into a stack buffer appended to
 * the connection's read buffer; complete requests are served in order (pipelining works).
 * While an answer is pending the connection waits for EPOLLOUT only and reads nothing
 * (conn.c), and once it has gone out the requests already buffered are served.
 *
 * A request runs in a scope: its parsed head (strings, header vector, header map), its JSON
 * tree and its response body are allocated inside it, and the scope ends once the response
 * has been handed to the socket (conn.c copies what the socket did not take). A head is
 * parsed as soon as it is complete; if the body is not all there yet, the scope ends and the
 * head is parsed again once it is (c->need), which costs a parse but holds no memory between
 * reads. A head that cannot be parsed leaves the stream in an unknown state: it is answered
 * and the connection closes.
 */
#include "examples/server/server_state.h"

#include <errno.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define LINGER_BYTES ((size_t)1 << 20)

enum { SERVED, NEED_MORE, STOP };

/* Serves the request at the front of rbuf, if it is all there. */
static int serve_one(conn_t *c) {
  srv_t *s = c->w->srv;
  size_t avail = srv_buf_remaining(&c->rbuf);
  if (avail == 0 || (c->need != 0 && avail < c->need)) return NEED_MORE;
  const char *data = srv_buf_rdata(&c->rbuf);
  srv_scope_t scope;
  if (srv_scope_begin(&scope) != AR_OK) {
    (void)conn_send_error(c, 503, "no request memory", false);
    return STOP;
  }
  http_request_t req;
  int st = http_parse_head(&scope.mem, data, avail, s->cfg.max_header, s->cfg.max_body, &req);
  if (st != HTTP_HEAD_OK) {
    srv_scope_end(&scope);
    if (st == HTTP_HEAD_INCOMPLETE) return NEED_MORE;
    /* The stream cannot be trusted past a bad head: answer and close. */
    (void)conn_send_error(c, st, http_reason(st), false);
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
  st = route_request(s, &scope.mem, &req, data + req.head_len, &out, &ctype, &detail);
  bool keep = req.keep_alive;
  if (st == 200)
    (void)conn_send_response(c, 200, ctype, srv_buf_data(&out), srv_buf_len(&out), keep);
  else
    (void)conn_send_error(c, st,
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
  if (c->close_after && !c->draining) conn_start_drain(c);
  return true;
}

void serve_event(conn_t *c, uint32_t events) {
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
    conn_set_interest(c, false);
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
