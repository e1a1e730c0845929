/* SPDX-License-Identifier: MIT */
/*
 * examples/server/lifecycle_test.c - the server as a whole: configuration errors, a failed
 * start that leaves the process's settings alone, a worker that fails, and the connection
 * cap enforced by the acceptor.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <arenart.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "examples/server/test_support.h"

void test_config_errors(void **state) {
  (void)state;
  srv_config_t cfg;
  char err[256];
  srv_config_init(&cfg);
  cfg.workers = 0;
  err[0] = 0;
  assert_null(srv_start(&cfg, err, sizeof err));
  assert_true(err[0] != 0);
  srv_config_init(&cfg);
  cfg.max_request_mem = SRV_MIN_REQUEST_MEM - 1;
  assert_null(srv_start(&cfg, err, sizeof err));
  srv_config_init(&cfg);
  cfg.host = "localhost"; /* an address is required, not a name */
  err[0] = 0;
  assert_null(srv_start(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "IPv4"));
  const uint32_t bad_timeouts[] = {0, SRV_MAX_TIMEOUT_MS + 1};
  for (int i = 0; i < 2; i++) {
    srv_config_init(&cfg);
    cfg.request_timeout_ms = bad_timeouts[i];
    err[0] = 0;
    assert_null(srv_start(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "timeouts"));
    srv_config_init(&cfg);
    cfg.linger_timeout_ms = bad_timeouts[i];
    assert_null(srv_start(&cfg, err, sizeof err));
  }
  srv_config_init(&cfg);
  assert_int_equal(cfg.max_conns, 4096);
  cfg.max_conns = 0;
  err[0] = 0;
  assert_null(srv_start(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "max_conns"));
}

/* Behaviour of the process-wide thread-arena configuration, on a fresh thread: can a scope of
 * that thread allocate `n` bytes? */
typedef struct alloc_probe {
  size_t n;
  bool ok;
} alloc_probe_t;

static void *probe_thread(void *arg) {
  alloc_probe_t *p = arg;
  ar_scope_t sc = ar_scope_begin();
  p->ok = sc.arena != NULL && ar_alloc(sc.arena, p->n) != NULL;
  if (sc.arena != NULL) (void)ar_scope_end(&sc);
  return NULL;
}

static bool thread_arena_allows(size_t n) {
  alloc_probe_t p = {n, false};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, probe_thread, &p), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  return p.ok;
}

/* A start that fails after validation (bad address, busy port) must not change the
 * process-wide request cap: the running server keeps MAX_REQUEST_MEM. */
void test_failed_start_keeps_config(void **state) {
  (void)state;
  const size_t probe = 100 * 1024; /* above the failing starts' cap, well under MAX_REQUEST_MEM */
  if (strcmp(srv_flavor(), "arena") == 0) assert_true(thread_arena_allows(probe));
  srv_config_t cfg;
  char err[256];
  srv_config_init(&cfg);
  cfg.max_request_mem = SRV_MIN_REQUEST_MEM;
  cfg.host = "not-an-address";
  assert_null(srv_start(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "IPv4"));
  srv_config_init(&cfg);
  cfg.max_request_mem = SRV_MIN_REQUEST_MEM;
  cfg.port = port; /* in use by the running server */
  assert_null(srv_start(&cfg, err, sizeof err));
  assert_non_null(strstr(err, "bind"));
  /* Arena flavor: thread arenas created now still get MAX_REQUEST_MEM. */
  if (strcmp(srv_flavor(), "arena") == 0) assert_true(thread_arena_allows(probe));
  /* Malloc flavor (the cap is read per request): a request of about 130 KB of tree still fits
   * under MAX_REQUEST_MEM, and would not under the failed starts' 64 KiB. */
  char *doc = zeros(2000);
  char *req = json_request(doc, true);
  free(doc);
  response_t r;
  assert_int_equal(one_shot(req, strlen(req), &r), 200);
  assert_non_null(strstr(r.body, "\"nodes\":2001,"));
  response_free(&r);
  free(req);
}

/* A worker whose epoll_wait fails closes its connections and gets no new ones; the server
 * keeps serving on the others, and closes new connections once none is left. */
void test_worker_failure(void **state) {
  (void)state;
  assert_int_equal(srv_fail_worker_for_test(server, -1), -1);
  assert_int_equal(srv_fail_worker_for_test(server, 2), -1);
  /* One connection on each worker (the acceptor deals them round-robin from worker 0). */
  client_t c[2];
  response_t r;
  for (int i = 0; i < 2; i++) {
    client_open(&c[i]);
    client_sends(&c[i], GET_ROOT);
    assert_int_equal(client_read(&c[i], &r), 200);
    response_free(&r);
  }
  assert_int_equal(srv_fail_worker_for_test(server, 0), 0);
  srv_stats_t st;
  (void)wait_stats(workers_failed_at_least, 1, &st);
  assert_int_equal(st.workers_failed, 1);
  assert_true(client_sees_close(&c[0])); /* worker 0's connection is gone */
  client_close(&c[0]);
  client_sends(&c[1], GET_ROOT); /* worker 1's still works */
  assert_int_equal(client_read(&c[1], &r), 200);
  response_free(&r);
  client_close(&c[1]);
  for (int i = 0; i < 6; i++) { /* new connections all go to worker 1 */
    assert_int_equal(one_shot(GET_ROOT, strlen(GET_ROOT), &r), 200);
    response_free(&r);
  }
  /* With no worker left, connections are accepted and closed at once. */
  assert_int_equal(srv_fail_worker_for_test(server, 1), 0);
  (void)wait_stats(workers_failed_at_least, 2, &st);
  assert_int_equal(st.workers_failed, 2);
  client_t d;
  client_open(&d);
  assert_true(client_sees_close(&d));
  client_close(&d);
  wait_all_closed(&st);
  assert_nothing_held(&st);
}

/* Waits (bounded) until the server has closed at least `n` connections in all. */
static void wait_closed(uint64_t n, srv_stats_t *st) {
  if (!wait_stats(closed_at_least, n, st))
    fail_msg("closed connections: %llu, want %llu", (unsigned long long)st->conns_closed,
             (unsigned long long)n);
}

/* With CAP_CONNS connections open, the next one is answered 503 and closed by the acceptor
 * (never reaching a worker or taking a connection context); once one of the open ones has
 * closed, a new connection is served again. */
void test_conn_cap(void **state) {
  (void)state;
  client_t held[CAP_CONNS];
  response_t r;
  /* An answer on each proves the server has accepted it (counted before any worker sees it),
   * so all CAP_CONNS are open from the acceptor's point of view. */
  for (int i = 0; i < CAP_CONNS; i++) {
    client_open(&held[i]);
    client_sends(&held[i], GET_ROOT);
    assert_int_equal(client_read(&held[i], &r), 200);
    response_free(&r);
  }

  /* One more, sending nothing: it reads the 503, then the close. */
  client_t extra;
  client_open(&extra);
  assert_int_equal(client_read(&extra, &r), 503);
  assert_true(strncmp(r.head, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
  assert_non_null(strstr(r.head, "Connection: close\r\n"));
  assert_non_null(strstr(r.body, "\"too many connections\""));
  response_free(&r);
  assert_true(client_sees_close(&extra));
  client_close(&extra);
  /* One that sends a request at once: closed unserved (its unread request may turn the close
   * into a reset that overtakes the 503, so only the close is certain). */
  client_open(&extra);
  client_sends(&extra, GET_ROOT);
  assert_true(client_sees_close(&extra));
  client_close(&extra);

  /* Counted as refused, not as accepted or closed; no connection context was taken. The
   * acceptor counts a refusal before it sends or closes, so both are visible by now. */
  srv_stats_t st;
  srv_get_stats(server, &st);
  assert_int_equal(st.conns_refused, 2);
  assert_int_equal(st.conns_accepted, CAP_CONNS);
  assert_int_equal(st.conns_closed, 0);
  if (strcmp(srv_flavor(), "arena") == 0) assert_int_equal(st.pool_taken, CAP_CONNS);

  /* The held connections still work, and /stats shows the refusals in both formats. */
  client_sends(&held[0], "GET /stats HTTP/1.1\r\n\r\n");
  assert_int_equal(client_read(&held[0], &r), 200);
  assert_int_equal(json_field(r.body, "server_connections_refused_total"), 2);
  assert_int_equal(json_field(r.body, "server_connections_open"), CAP_CONNS);
  response_free(&r);
  client_sends(&held[1], "GET /stats?format=prometheus HTTP/1.1\r\n\r\n");
  assert_int_equal(client_read(&held[1], &r), 200);
  assert_non_null(strstr(r.body, "# TYPE server_connections_refused_total counter\n"
                                 "server_connections_refused_total 2\n"));
  response_free(&r);

  /* Close one held connection; once the server has counted it closed (which it does only
   * after the connection's memory is back), a new connection is admitted and served. */
  client_close(&held[0]);
  wait_closed(1, &st);
  client_t again;
  client_open(&again);
  client_sends(&again, GET_ROOT);
  assert_int_equal(client_read(&again, &r), 200);
  response_free(&r);
  srv_get_stats(server, &st);
  assert_int_equal(st.conns_refused, 2);
  assert_int_equal(st.conns_accepted, CAP_CONNS + 1);

  client_close(&again);
  for (int i = 1; i < CAP_CONNS; i++) client_close(&held[i]);
  wait_all_closed(&st);
  assert_nothing_held(&st);
  assert_int_equal(st.conns_refused, 2);
}
