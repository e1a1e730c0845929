/* SPDX-License-Identifier: MIT */
/*
 * examples/server/conn_test.c - a connection's life: keep-alive and pipelining, clients that
 * go away, and the deadlines (a request that does not arrive in time, a lingering close, a
 * client that does not read its answer).
 *
 * The deadline tests run a server with short deadlines (SHORT_REQUEST_TIMEOUT_MS,
 * SHORT_LINGER_TIMEOUT_MS) and wait for the server's timed-out counter or for the close,
 * never for a fixed time.
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

void test_keep_alive(void **state) {
  (void)state;
  srv_stats_t before, after;
  srv_get_stats(server, &before);
  client_t c;
  client_open(&c);
  char *post = json_request("[1, {\"k\": \"v\"}, [true, false]]", true);
  for (int i = 0; i < 100; i++) {
    response_t r;
    client_sends(&c, i % 2 ? post : GET_ROOT);
    assert_int_equal(client_read(&c, &r), 200);
    if (i % 2) assert_non_null(strstr(r.body, "\"nodes\":7,"));
    response_free(&r);
  }
  /* Pipelining: three requests in one write, three answers in order. */
  char three[4096];
  snprintf(three, sizeof three, "%s%sGET /nope HTTP/1.1\r\n\r\n", post, GET_ROOT);
  client_sends(&c, three);
  response_t r1, r2, r3;
  assert_int_equal(client_read(&c, &r1), 200);
  assert_non_null(strstr(r1.body, "\"nodes\":7,"));
  assert_int_equal(client_read(&c, &r2), 200);
  assert_non_null(strstr(r2.body, "\"service\""));
  assert_int_equal(client_read(&c, &r3), 404);
  response_free(&r1);
  response_free(&r2);
  response_free(&r3);
  client_close(&c);
  free(post);
  srv_get_stats(server, &after);
  assert_int_equal(after.conns_accepted - before.conns_accepted, 1);
  assert_int_equal(after.requests - before.requests, 103);

  /* HTTP/1.0 closes by default; "Connection: close" closes in 1.1. */
  const char *closing[] = {"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"};
  for (int i = 0; i < 2; i++) {
    client_open(&c);
    client_sends(&c, closing[i]);
    response_t r;
    assert_int_equal(client_read(&c, &r), 200);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);
  }
  /* HTTP/1.0 with keep-alive stays open. */
  client_open(&c);
  for (int i = 0; i < 3; i++) {
    response_t r;
    client_sends(&c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(client_read(&c, &r), 200);
    response_free(&r);
  }
  client_close(&c);
}

void test_disconnects(void **state) {
  (void)state;
  char *doc = zeros(2000);
  char *big = json_request(doc, true);
  free(doc);
  for (int round = 0; round < 5; round++) {
    client_t c;
    /* Connect and leave. */
    client_open(&c);
    client_close(&c);
    /* Half a head. */
    client_open(&c);
    client_sends(&c, "POST /json HTTP/1.1\r\nContent-Le");
    client_close(&c);
    /* A head and half the body. */
    client_open(&c);
    client_send(&c, big, strlen(big) / 2);
    client_close(&c);
    /* Whole requests, then gone without reading the 4 KB answers. */
    client_open(&c);
    for (int i = 0; i < 4; i++) client_sends(&c, big);
    client_close(&c);
    /* Requests, then the sending side shut: every complete one is answered, then EOF. */
    client_open(&c);
    client_sends(&c, GET_ROOT);
    client_sends(&c, big);
    client_sends(&c, "GET / HT"); /* partial: dropped */
    shutdown(c.fd, SHUT_WR);
    response_t r;
    assert_int_equal(client_read(&c, &r), 200);
    response_free(&r);
    assert_int_equal(client_read(&c, &r), 200);
    assert_non_null(strstr(r.body, "\"nodes\":2001,"));
    response_free(&r);
    assert_true(client_sees_close(&c));
    client_close(&c);
  }
  free(big);
  srv_stats_t st;
  wait_all_closed(&st);
  assert_nothing_held(&st);
  /* And the server is still fine. */
  response_t r;
  assert_int_equal(one_shot(GET_ROOT, strlen(GET_ROOT), &r), 200);
  response_free(&r);
}

/* True if the server closes the connection without sending anything (more). */
static bool closes_without_answer(client_t *c) {
  char b[256];
  ssize_t k;
  do k = recv(c->fd, b, sizeof b, 0);
  while (k < 0 && errno == EINTR);
  return k == 0;
}

/* Waits (bounded) until at least `n` connections have timed out in all. */
static void wait_timed_out(uint64_t n, srv_stats_t *st) {
  if (!wait_stats(timed_out_at_least, n, st))
    fail_msg("timed out connections: %llu, want %llu", (unsigned long long)st->conns_timed_out,
             (unsigned long long)n);
}

void test_timeouts(void **state) {
  (void)state;
  srv_stats_t base, st;
  wait_all_closed(&base);
  client_t c;
  response_t r;

  /* Connects and never sends: closed, no answer. */
  client_open(&c);
  assert_true(closes_without_answer(&c));
  client_close(&c);
  wait_timed_out(base.conns_timed_out + 1, &st);

  /* Half a head, then silence: 408 and a close. */
  client_open(&c);
  client_sends(&c, "GET / HTTP/1.1\r\nHost: 127.0");
  assert_int_equal(client_read(&c, &r), 408);
  assert_non_null(strstr(r.head, "Connection: close\r\n"));
  assert_non_null(strstr(r.body, "\"request timeout\""));
  response_free(&r);
  assert_true(client_sees_close(&c));
  client_close(&c);
  wait_timed_out(base.conns_timed_out + 2, &st);

  /* A whole head and part of the body: 408 as well. */
  client_open(&c);
  client_sends(&c, "POST /json HTTP/1.1\r\nContent-Length: 100\r\n\r\n[1,2,");
  assert_int_equal(client_read(&c, &r), 408);
  response_free(&r);
  assert_true(client_sees_close(&c));
  client_close(&c);
  wait_timed_out(base.conns_timed_out + 3, &st);

  /* A keep-alive connection that goes idle after its answer: closed. */
  client_open(&c);
  client_sends(&c, GET_ROOT);
  assert_int_equal(client_read(&c, &r), 200);
  assert_non_null(strstr(r.head, "Connection: keep-alive\r\n"));
  response_free(&r);
  assert_true(closes_without_answer(&c)); /* no 408: no request was under way */
  client_close(&c);
  wait_timed_out(base.conns_timed_out + 4, &st);

  /* A lingering close whose peer never hangs up: the server's side is shut, then closed. The
   * client keeps its socket open throughout, so only the linger deadline can close it. */
  client_open(&c);
  client_sends(&c, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert_int_equal(client_read(&c, &r), 200);
  response_free(&r);
  assert_true(client_sees_close(&c)); /* the server shut its sending side */
  wait_all_closed(&st);
  assert_true(st.conns_timed_out >= base.conns_timed_out + 5);
  client_close(&c);

  /* Every connection's context is back, nothing leaked, and the server still answers. */
  wait_all_closed(&st);
  assert_nothing_held(&st);
  assert_int_equal(st.conns_accepted - base.conns_accepted, 5);
  assert_int_equal(one_shot(GET_ROOT, strlen(GET_ROOT), &r), 200);
  response_free(&r);
}

/* A client that sends requests but never reads the answers: once the socket stops taking
 * output, the connection is closed at its deadline. */
void test_write_stall(void **state) {
  (void)state;
  srv_stats_t base, st;
  wait_all_closed(&base);
  /* Requests with a 32 KB body each, whose echo makes a 32 KB answer. */
  char *doc = malloc(32 * 1024 + 1);
  assert_non_null(doc);
  memset(doc, ' ', 32 * 1024);
  memcpy(doc, "\"stall\"", 7);
  doc[32 * 1024] = 0;
  char *one = json_request(doc, true);
  free(doc);
  enum { NREQ = 128 }; /* 4 MiB of requests, far more than the sockets can buffer unread */
  size_t one_len = strlen(one), total = one_len * NREQ;
  char *all = malloc(total);
  assert_non_null(all);
  for (int i = 0; i < NREQ; i++) memcpy(all + (size_t)i * one_len, one, one_len);
  free(one);

  client_t c;
  c.fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c.fd >= 0);
  /* Small fixed buffers (set before connect, so the advertised window stays small too). */
  int small = 4096;
  assert_int_equal(setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  assert_int_equal(setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(c.fd, (struct sockaddr *)&sa, sizeof sa), 0);
  c.buf = NULL;
  c.len = c.cap = 0;
  /* Send without blocking until the sockets are full (the server has stopped reading because
   * its answer is stuck) or everything is gone. */
  size_t sent = 0;
  while (sent < total) {
    ssize_t k = send(c.fd, all + sent, total - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    /* The server may already have given up on the connection if this side was slow. */
    if (k < 0 && (errno == EPIPE || errno == ECONNRESET)) break;
    assert_true(k > 0);
    sent += (size_t)k;
  }
  free(all);
  if (getenv("SERVER_TEST_VERBOSE") != NULL)
    fprintf(stderr, "write stall: sent %zu of %zu bytes before the sockets filled\n", sent, total);
  /* The server stopped reading (it reads whenever it has no answer waiting), so its answer
   * is stuck in front of a client that does not read. */
  assert_true(sent < total);
  /* The stuck connection is closed by the server while this side still holds it open. (Wait
   * for the timeout itself first: until the acceptor has taken the connection, "all closed"
   * would already hold.) */
  wait_timed_out(base.conns_timed_out + 1, &st);
  wait_all_closed(&st);
  assert_true(st.conns_accepted >= base.conns_accepted + 1);
  assert_nothing_held(&st);
  client_close(&c);
}
