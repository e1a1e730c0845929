/* SPDX-License-Identifier: MIT */
/*
 * examples/server/server_state.h - the server's state, shared by the files that run it, and
 * which thread may touch what.
 *
 * The server is split by job: server.c starts and stops it, acceptor.c admits connections,
 * worker.c runs a worker thread's loop, serve.c reads requests off a connection and answers
 * them, routes.c computes the answers, conn.c holds a connection's state and output,
 * deadline.c ends the connections that ran out of time, stats.c reads the counters. They
 * share the three records below, and a field is safe to touch only from the thread its
 * comment names: a connection and everything in it belongs to the worker that adopted it; a
 * worker's inbox and `failed` are the only fields two threads share, under the worker's lock;
 * the counters are atomics that any thread may bump.
 *
 * The files call downward only (no two call each other):
 *
 *   server.c   -> worker.c, acceptor.c (as thread entry points)
 *   acceptor.c -> nothing of the server's but the helpers below
 *   worker.c   -> serve.c, deadline.c, conn.c
 *   serve.c    -> routes.c, conn.c
 *   deadline.c -> conn.c
 *   routes.c   -> stats.c, http.c, json.c
 *   conn.c     -> http.c (reason phrases)
 *   stats.c    -> srv_mem_*.c (pool and leak counters)
 */
#ifndef SRV_SERVER_STATE_H
#define SRV_SERVER_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>

#include "examples/server/http.h"
#include "examples/server/server.h"
#include "examples/server/srv_mem.h"

typedef struct conn conn_t;
typedef struct worker worker_t;

struct conn {
  srv_mem_t mem; /* the connection's context; this record lives in it */
  int fd;
  worker_t *w;
  srv_buf_t rbuf;    /* received, not yet consumed */
  srv_buf_t wbuf;    /* answered, not yet accepted by the socket */
  size_t need;       /* bytes the request at the front needs, once its head is known */
  bool close_after;  /* close once wbuf is flushed */
  bool peer_done;    /* the peer has closed its sending side */
  bool dead;         /* the socket failed: close without further ado */
  bool continued;    /* "100 Continue" sent for the request at the front */
  bool draining;     /* send side shut down; discarding input until the peer closes */
  size_t drained;    /* bytes discarded while draining */
  bool want_out;     /* registered for EPOLLOUT instead of EPOLLIN */
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
  bool failed;           /* the worker has stopped serving; the acceptor skips it */
  atomic_bool fail_test; /* srv_fail_worker_for_test asked it to act as failed */
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
static inline void count(_Atomic uint64_t *c) {
  atomic_fetch_add_explicit(c, 1, memory_order_release);
}

static inline uint64_t read_counter(_Atomic uint64_t *c) {
  return atomic_load_explicit(c, memory_order_acquire);
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wakes the thread sleeping on an eventfd. It can only fail when the counter would overflow,
 * and then the thread is awake already. */
static inline void wake(int evfd) {
  int rc = eventfd_write(evfd, 1);
  (void)rc;
}

/* Clears an eventfd; it is non-blocking, so a wake-up that was already consumed is harmless. */
static inline void clear_wake(int evfd) {
  eventfd_t v;
  int rc = eventfd_read(evfd, &v);
  (void)rc;
}

/* ---- conn.c: a connection's state and output ------------------------------------------ */

void conn_arm(conn_t *c, uint64_t timeout_ns); /* timeout_ns from now to end this phase */
void conn_set_interest(conn_t *c, bool out);   /* EPOLLOUT (out) or EPOLLIN */
void conn_open(worker_t *w, int fd);           /* adopts fd, or closes it (counted) */
void conn_close(conn_t *c);                    /* frees c; counted closed */
void conn_start_drain(conn_t *c);              /* the lingering close */
bool conn_send(conn_t *c, struct iovec *iov, int n);
bool conn_flush(conn_t *c);
bool conn_send_response(conn_t *c, int status, const char *ctype, const char *body, size_t body_len,
                        bool keep_alive);
bool conn_send_error(conn_t *c, int status, const char *detail, bool keep_alive);

/* ---- serve.c, routes.c: requests ---------------------------------------------------------- */

/* Handles one epoll event of the connection; may close (free) it. */
void serve_event(conn_t *c, uint32_t events);
/* Routes one request; the body of a 200 answer is left in `out`. Returns the status. */
int route_request(srv_t *s, srv_mem_t *m, const http_request_t *req, const char *body,
                  srv_buf_t *out, const char **ctype, const char **detail);

/* ---- deadline.c --------------------------------------------------------------------------- */

/* Ends the connections whose deadline has passed and recomputes w->next_deadline. */
void deadline_sweep(worker_t *w, uint64_t now);
/* The epoll_wait timeout until the earliest deadline, in ms rounded up (-1: none). */
int deadline_wait_ms(const worker_t *w, uint64_t now);

/* ---- the threads' entry points (worker.c, acceptor.c) ------------------------------------- */

void *worker_main(void *arg);   /* arg: the worker_t */
void *acceptor_main(void *arg); /* arg: the srv_t */

#endif /* SRV_SERVER_STATE_H */
