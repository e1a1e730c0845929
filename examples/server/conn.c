/* SPDX-License-Identifier: MIT */
/*
 * examples/server/conn.c - a connection: its record, its buffers, its output and its end.
 *
 * Memory. A connection's record, read buffer and pending-output buffer come from its own
 * context (srv_pool_take), which ends when the connection does: closing a connection is
 * giving one context back, whatever the requests on it allocated. A connection never changes
 * worker, so everything in it is touched by the worker's thread only and needs no lock.
 *
 * Output. An answer goes to the socket at once (sendmsg of the head and the body, which live
 * in the request's scope); whatever the socket does not take is copied to the pending-output
 * buffer before the scope ends, and the connection then waits for EPOLLOUT only, reading
 * nothing, so a client that does not read cannot make the server buffer without bound. Error
 * answers are formatted on the stack, so a request that hit its memory cap can still be
 * answered.
 *
 * Closing after an answer is a lingering close: shut down the sending side, discard input
 * until the peer closes (serve.c counts it against LINGER_BYTES), then close, so the peer sees
 * the answer rather than a reset.
 *
 * Deadlines are armed here, when a connection enters a phase (deadline.c enforces them): the
 * accept and each answer give request_timeout for the next request, each bit of output
 * progress gives it again, the lingering close gets linger_timeout. Arming lowers the
 * worker's next_deadline, so the worker never sleeps past a deadline.
 *
 * The connection cap counts on conn_close: a connection is counted closed only after its
 * memory is back in the pool (see acceptor.c).
 */
#include "examples/server/server_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Gives the connection `timeout_ns` from now to finish its current phase. */
void conn_arm(conn_t *c, uint64_t timeout_ns) {
  c->deadline = now_ns() + timeout_ns;
  if (c->deadline < c->w->next_deadline) c->w->next_deadline = c->deadline;
}

void conn_set_interest(conn_t *c, bool out) {
  if (c->want_out == out) return;
  struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
  if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->want_out = out;
}

void conn_close(conn_t *c) {
  worker_t *w = c->w;
  (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->prev != NULL) c->prev->next = c->next;
  else w->conns = c->next;
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

void conn_open(worker_t *w, int fd) {
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
  conn_arm(c, w->srv->request_timeout_ns);
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
void conn_start_drain(conn_t *c) {
  (void)shutdown(c->fd, SHUT_WR);
  c->draining = true;
  conn_arm(c, c->w->srv->linger_timeout_ns);
  conn_set_interest(c, false);
}

/* Sends iov[0..n) now; keeps what the socket does not take in wbuf. False if the connection
 * is dead (peer gone, or no memory to keep the rest). */
bool conn_send(conn_t *c, struct iovec *iov, int n) {
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
  conn_set_interest(c, true);
  return true;
}

/* Writes what wbuf holds. False if the connection is dead. */
bool conn_flush(conn_t *c) {
  while (srv_buf_remaining(&c->wbuf) > 0) {
    ssize_t n = send(c->fd, srv_buf_rdata(&c->wbuf), srv_buf_remaining(&c->wbuf),
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    srv_buf_consume(&c->wbuf, (size_t)n);
    if (n > 0) conn_arm(c, c->w->srv->request_timeout_ns); /* progress: the client is reading */
  }
  srv_buf_compact(&c->wbuf);
  return true;
}

/* Sends one response: a head formatted here and `body`. */
bool conn_send_response(conn_t *c, int status, const char *ctype, const char *body, size_t body_len,
                        bool keep_alive) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: %s\r\n\r\n",
                   status, http_reason(status), ctype, body_len,
                   keep_alive ? "keep-alive" : "close");
  /* Cannot fail or truncate with this server's content types, but never trust it blindly. */
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof head) n = (int)(sizeof head - 1);
  struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, body_len}};
  srv_t *s = c->w->srv;
  /* The next request, or the socket taking this answer, has request_timeout from now. */
  conn_arm(c, s->request_timeout_ns);
  count(&s->c.requests);
  count(&s->c.status[status / 100 < 6 ? status / 100 : 5]);
  if (!keep_alive) c->close_after = true;
  if (!conn_send(c, iov, body_len != 0 ? 2 : 1)) c->dead = true;
  return !c->dead;
}

/* An error answer, formatted on the stack (it must work when the request's memory is gone). */
bool conn_send_error(conn_t *c, int status, const char *detail, bool keep_alive) {
  char body[160];
  int n = snprintf(body, sizeof body, "{\"status\":%d,\"error\":\"%s\"}\n", status, detail);
  /* snprintf returns the length it wanted: a long detail would otherwise send stack bytes
   * past the buffer. Truncated JSON is still better than that. */
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof body) n = (int)(sizeof body - 1);
  return conn_send_response(c, status, "application/json", body, (size_t)n, keep_alive);
}
