/* SPDX-License-Identifier: MIT */
/*
 * examples/server/test_support.h - what the server's tests share: the fixtures that start and
 * stop a server, a small blocking client, and bounded waits on the server's counters.
 *
 * The tests are split by the unit they exercise (routes_test.c: the answers and the request
 * limits; conn_test.c: a connection's life, keep-alive, disconnects and deadlines;
 * lifecycle_test.c: configuration, start, worker failure and the connection cap), and
 * server_test.c runs them all, in one fixed order, as one cmocka group per flavor binary. One
 * binary rather than one per file: every test starts its own server on an ephemeral port,
 * and the flavor is a link-time choice, so more binaries would only multiply the targets.
 *
 * Each test starts the server in this process (so ASan and TSan see both sides, and ASan's
 * exit-time leak check covers the server) on an ephemeral 127.0.0.1 port, talks to it through
 * blocking sockets with 5-second timeouts, and stops it.
 *
 * Nothing here is timed: where a test must wait for the server to notice something (a client
 * that went away, a deadline that passed), it polls the server's counters or blocks on the
 * socket until they show it, and gives up (failing) only after a generous bound (5 or 10 s,
 * against deadlines of at most SHORT_REQUEST_TIMEOUT_MS in the tests of the deadlines).
 */
#ifndef SRV_TEST_SUPPORT_H
#define SRV_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "examples/server/server.h"

#define MAX_HEADER 1024
#define MAX_BODY (64 * 1024)
#define MAX_REQUEST_MEM (256 * 1024)
#define JSON_DEPTH_PROBE 100 /* deeper than the parser's limit (64) */
/* The deadlines of the timeout tests: short enough to keep them quick. The request deadline
 * runs from the moment a worker adopts a connection, and the tests must send their first
 * bytes before it: 1 s leaves a sanitized test thread on a loaded 2-core machine room for a
 * long preemption between connect() and send(). The linger deadline has no such race (the
 * server starts it after answering), so it stays short. */
#define SHORT_REQUEST_TIMEOUT_MS 1000
#define SHORT_LINGER_TIMEOUT_MS 400
/* The connection cap of test_conn_cap. */
#define CAP_CONNS 3

/* The server of the running test (set by the fixtures) and its port. */
extern srv_t *server;
extern uint16_t port;

/* The request most tests use to check that the server still answers. */
extern const char GET_ROOT[];
typedef struct client {
  int fd;
  char *buf; /* received, not yet returned */
  size_t len, cap;
} client_t;

typedef struct response {
  int status;
  char head[2048];
  char *body; /* NUL-terminated; owned, free with response_free */
  size_t body_len;
} response_t;

/* ---- fixtures: a server with 2 workers and the limits above ---------------------------- */

/* The default deadlines (10 s / 2 s), which no test reaches. */
int start_server(void **state);
int start_server_short_timeouts(void **state);
int start_server_capped(void **state);
int stop_server(void **state);

/* ---- a small blocking client (5 s timeouts; failures fail the test) ---------------------- */

void client_open(client_t *c);
void client_close(client_t *c);
void client_send(client_t *c, const char *p, size_t n);
void client_sends(client_t *c, const char *s);

/* Reads more bytes into c->buf; returns what read returned (0 at EOF, -1 on error/timeout). */
ssize_t client_fill(client_t *c);

/* Reads one response. Returns its status, or -1 if the connection ended first. */
int client_read(client_t *c, response_t *r);
void response_free(response_t *r);

/* True once the server has closed the connection (EOF, or a reset). */
bool client_sees_close(client_t *c);

/* One request on a fresh connection; returns the status and fills *r. */
int one_shot(const char *raw, size_t len, response_t *r);
char *json_request(const char *body, bool keep_alive);

/* ---- bounded waits on the server's counters, and checks ------------------------------------ */

/* Polls the server's counters into *st until `done(st, n)` holds; false after about 10 s. */
bool wait_stats(bool (*done)(const srv_stats_t *, uint64_t), uint64_t n, srv_stats_t *st);
bool timed_out_at_least(const srv_stats_t *st, uint64_t n);
bool closed_at_least(const srv_stats_t *st, uint64_t n);
bool workers_failed_at_least(const srv_stats_t *st, uint64_t n);

/* Waits (bounded) until every connection the server accepted has been closed. */
void wait_all_closed(srv_stats_t *st);

/* Memory the server holds for connections must be back once they are all closed. */
void assert_nothing_held(const srv_stats_t *st);

/* This process's resident set (VmRSS), KiB. */
long rss_kib(void);

/* A JSON array of n zeros: about 2n bytes of body, n + 1 tree nodes. */
char *zeros(size_t n);

/* The unsigned value after `"name":` in a JSON text (the test fails if it is not there). */
unsigned long long json_field(const char *json, const char *name);

/* ---- the tests, by file (run by server_test.c) --------------------------------------------- */

/* routes_test.c */
void test_root(void **state);
void test_json(void **state);
void test_limits(void **state);
void test_bad_requests(void **state);
void test_stats(void **state);
void test_memory_bounded(void **state);
/* conn_test.c */
void test_keep_alive(void **state);
void test_disconnects(void **state);
void test_timeouts(void **state);
void test_write_stall(void **state);
/* lifecycle_test.c */
void test_config_errors(void **state);
void test_failed_start_keeps_config(void **state);
void test_worker_failure(void **state);
void test_conn_cap(void **state);
/* json_test.c (no server) */
void test_json_numbers(void **state);

#endif /* SRV_TEST_SUPPORT_H */
