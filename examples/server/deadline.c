/* SPDX-License-Identifier: MIT */
/*
 * examples/server/deadline.c - ending the connections whose time is up.
 *
 * Each connection carries one absolute deadline (CLOCK_MONOTONIC), re-armed when the
 * connection enters a phase (conn.c): waiting for a request (after the accept or an answer)
 * or for the socket to take pending output (after each bit of progress) gets
 * request_timeout, the lingering close gets linger_timeout. Bytes of a request arriving do
 * not re-arm it, so a client that trickles a head cannot hold the connection past the
 * deadline.
 *
 * The worker keeps a lower bound on its connections' deadlines (next_deadline: lowered
 * whenever one is armed, recomputed by each sweep), sleeps in epoll_wait no longer than until
 * then, and sweeps its list when it has passed. A list walk rather than a heap or a timer
 * wheel: a sweep happens at most once per deadline, and a worker's list is short next to the
 * requests it serves in between. Everything here is the worker's own thread's, so none of it
 * is shared.
 */
#include "examples/server/server_state.h"

#include <limits.h>

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
  if (!conn_send_error(c, 408, "request timeout", false)) {
    conn_close(c);
    return;
  }
  /* If the socket did not take the 408 at once, the connection waits for EPOLLOUT (with
   * request_timeout) and serve_input starts the drain once it is out. */
  if (srv_buf_remaining(&c->wbuf) == 0) conn_start_drain(c);
}

/* Ends the connections whose deadline has passed and recomputes next_deadline. */
void deadline_sweep(worker_t *w, uint64_t now) {
  w->next_deadline = UINT64_MAX;
  for (conn_t *c = w->conns, *next; c != NULL; c = next) {
    next = c->next; /* conn_expire may free c; it never frees another connection */
    if (c->deadline <= now)
      conn_expire(c); /* re-arms (lowering next_deadline) if the connection stays */
    else if (c->deadline < w->next_deadline) w->next_deadline = c->deadline;
  }
}

/* The epoll_wait timeout until the earliest deadline, in ms rounded up (-1: none). */
int deadline_wait_ms(const worker_t *w, uint64_t now) {
  if (w->next_deadline == UINT64_MAX) return -1;
  if (w->next_deadline <= now) return 0;
  uint64_t ms = (w->next_deadline - now + 999999u) / 1000000u;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}
