/* SPDX-License-Identifier: MIT */
/*
 * examples/server/server.h - an HTTP/1.1 server with keep-alive, embedding arenart.
 *
 * One acceptor thread waits on the listening socket with epoll and deals accepted connections
 * round-robin to a fixed pool of worker threads. Each worker owns its connections for their
 * whole life and serves them from its own epoll set; each connection's state lives in a
 * per-connection context (an arena from an arena pool, in the arena flavor), and each request
 * runs in a per-request scope that ends once its response is handed to the socket.
 *
 * Routes:
 *   GET  /                       a short JSON greeting (names the flavor)
 *   POST /json                   parses the JSON body into a tree, answers a JSON summary of it
 *                                plus the document re-serialized ("echo")
 *   GET  /stats                  the runtime's global stats and the server's counters, JSON
 *   GET  /stats?format=prometheus  the same as Prometheus text
 *
 * Errors: 400 (malformed request or JSON), 404, 405, 408 (a partial request timed out), 413
 * (body above max_body), 431 (head above max_header), 501 (Transfer-Encoding), 505 (not
 * HTTP/1.x), 503 (the request needed more than max_request_mem). Answers that leave the byte
 * stream in an unknown state (every head error, and 408) close the connection; the others keep
 * it alive.
 *
 * Deadlines. Every connection has one, enforced by its worker (epoll_wait's timeout plus a
 * sweep of the worker's connections): a whole request must arrive within request_timeout_ms of
 * the moment the server starts waiting for it (the accept, or the previous answer), and a
 * pending answer must make progress into the socket at least that often; a lingering close
 * (the answer sent, the sending side shut down, waiting for the peer to hang up) lasts at most
 * linger_timeout_ms. A connection past its deadline is closed and its context goes back to
 * the pool; one that holds part of a request is first answered 408 (then closed by a lingering
 * close of its own).
 *
 * Connection cap. At most max_conns connections are open at once (accepted and not yet closed,
 * the way srv_stats_t counts them). A connection that arrives while that many are open is
 * refused by the acceptor itself: it gets "503 Service Unavailable" with "Connection: close"
 * if the socket takes those few bytes at once (the acceptor never waits for a client), and is
 * closed; it never reaches a worker nor takes a connection context. A client that has already
 * sent a request may see a reset instead of the 503 (its unread request makes the close a
 * reset). Refused connections are counted in conns_refused only, not in conns_accepted or
 * conns_closed, nor as requests or answers.
 *
 * Thread contract: srv_start and srv_stop from one controlling thread; srv_port,
 * srv_get_stats and srv_fail_worker_for_test from any thread while the server runs.
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct srv_config {
  const char *host;            /* IPv4 address to bind; default "127.0.0.1" */
  uint16_t port;               /* 0: an ephemeral port (see srv_port) */
  int workers;                 /* worker threads; default 2 */
  size_t max_header;           /* request line + headers, bytes; default 8 KiB */
  size_t max_body;             /* Content-Length, bytes; default 1 MiB */
  size_t max_request_mem;      /* memory one request may use, bytes; default 8 MiB; 0: no cap;
                             otherwise at least SRV_MIN_REQUEST_MEM. Process-global: see
                             srv_start */
  uint32_t request_timeout_ms; /* idle + head + body of one request, and output progress;
                                  default 10000; 1..SRV_MAX_TIMEOUT_MS */
  uint32_t linger_timeout_ms;  /* lingering close; default 2000; 1..SRV_MAX_TIMEOUT_MS */
  size_t max_conns;            /* connections open at once; more are refused with 503 (see
                                  above); default 4096; at least 1. The process's descriptor
                                  limit (RLIMIT_NOFILE) may bound them sooner */
} srv_config_t;

/* The longest timeout accepted: one day. */
#define SRV_MAX_TIMEOUT_MS ((uint32_t)86400000)

/* The smallest per-request cap: the arena flavor counts the cap in whole 64 KiB chunks, so a
 * smaller one would refuse every request. */
#define SRV_MIN_REQUEST_MEM ((size_t)64 * 1024)

void srv_config_init(srv_config_t *cfg);

typedef struct srv srv_t;

/* Binds, listens and starts the threads. NULL on failure, with a message in err[0, errlen).
 *
 * The per-request memory cap is process-global state, not the server's: in the arena flavor it
 * is the thread-arena configuration (ar_thread_arena_configure), which applies to every thread
 * arena created afterwards in the process, including other code's; in the malloc flavor it is
 * a process-wide variable. A successful start sets it; a failed one leaves it as it was
 * (it is set only once the socket, epoll and eventfd setup has succeeded; a failure to create
 * the threads after that point, which is rare, does not undo it). Run one server per process,
 * or servers with the same cap. */
srv_t *srv_start(const srv_config_t *cfg, char *err, size_t errlen);

/* The port it listens on. */
uint16_t srv_port(const srv_t *s);

typedef struct srv_stats {
  uint64_t requests;        /* requests answered (any status) */
  uint64_t status[6];       /* answers by class: status[2] = 2xx, ..., status[5] = 5xx */
  uint64_t conns_accepted;  /* connections accepted (admitted under max_conns) */
  uint64_t conns_closed;    /* accepted connections closed (by either side), each counted once
                                its memory is back in the pool; accepted - closed are open */
  uint64_t conns_refused;   /* connections refused (503, closed) at the max_conns cap; in
                                neither conns_accepted nor conns_closed */
  uint64_t conns_timed_out; /* connections closed or answered 408 for a passed deadline */
  uint64_t workers_failed;  /* workers that stopped on an epoll error (logged on stderr) */
  uint64_t leaked_bytes;    /* malloc flavor: bytes contexts still held at their end */
  uint64_t pool_idle, pool_taken, pool_created, pool_reused; /* arena flavor: the arena pool */
} srv_stats_t;

/* A snapshot of the counters (each read on its own: they need not add up exactly while
 * requests are in flight). */
void srv_get_stats(srv_t *s, srv_stats_t *out);

/* Stops accepting, closes every connection, joins the threads and frees everything. NULL is
 * a no-op. */
void srv_stop(srv_t *s);

/* For tests: makes worker `i` act as if its epoll_wait had failed with EBADF (it logs, closes
 * its connections and takes no new ones; the acceptor hands them to the other workers, or
 * closes them if none is left). Returns 0, or -1 for an index out of range. */
int srv_fail_worker_for_test(srv_t *s, int i);

/* "arena" or "malloc": the build flavor. */
const char *srv_flavor(void);

#endif /* SRV_SERVER_H */
