/* SPDX-License-Identifier: MIT */
/*
 * examples/server/stats.c - a snapshot of the server's counters (srv_get_stats).
 *
 * The counters are atomics bumped by whichever thread sees the event (server_state.h says
 * with which memory order and why). A snapshot reads each on its own, so while requests are
 * in flight the figures need not add up; the one relation readers rely on, closed <= accepted,
 * is kept by the order of the two loads and a clamp. Both the public API and the /stats route
 * read them here, which is why this is a file of its own below the routes rather than part of
 * the server's life cycle above them.
 */
#include "examples/server/server_state.h"

#include <string.h>

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
