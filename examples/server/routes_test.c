/* SPDX-License-Identifier: MIT */
/*
 * examples/server/routes_test.c - the answers: the routes (/, /json, /stats), the request
 * limits and malformed requests, and memory that stays bounded over many requests.
 *
 * These tests look at what a client gets back for a request, one request or a few at a time,
 * and at what the server holds afterwards: every test ends with all connections closed and
 * no connection memory held (assert_nothing_held), so a route that leaks in either flavor
 * fails here rather than only under load.
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

void test_root(void **state) {
  (void)state;
  response_t r;
  assert_int_equal(one_shot(GET_ROOT, strlen(GET_ROOT), &r), 200);
  char want[64];
  snprintf(want, sizeof want, "\"flavor\":\"%s\"", srv_flavor());
  assert_non_null(strstr(r.body, want));
  assert_non_null(strstr(r.head, "Content-Type: application/json\r\n"));
  assert_non_null(strstr(r.head, "Connection: keep-alive\r\n"));
  response_free(&r);
}

void test_json(void **state) {
  (void)state;
  const char *body = "{\"a\": [1, 2, 3.5], \"b\": {\"c\": \"x\\n\\u00e9\\ud83d\\ude00\", "
                     "\"a\": null}, \"d\": true, \"e\": \"\"}";
  char *req = json_request(body, true);
  response_t r;
  assert_int_equal(one_shot(req, strlen(req), &r), 200);
  free(req);
  assert_non_null(strstr(r.body, "\"nodes\":10,"));
  assert_non_null(strstr(r.body, "\"depth\":3,"));
  assert_non_null(strstr(r.body, "\"numbers\":3,"));
  assert_non_null(strstr(r.body, "\"sum\":6.5,"));
  assert_non_null(strstr(r.body, "\"strings\":2,"));
  assert_non_null(strstr(r.body, "\"string_bytes\":8,")); /* x \n é(2) 😀(4) */
  assert_non_null(strstr(r.body, "\"unique_keys\":5,"));
  assert_non_null(strstr(r.body, "\"content_type\":\"application/json\""));
  assert_non_null(strstr(r.body, "\"echo\":{\"a\":[1,2,3.5],\"b\":{\"c\":\"x\\n\xc3\xa9"
                                 "\xf0\x9f\x98\x80\",\"a\":null},\"d\":true,\"e\":\"\"}}"));
  response_free(&r);

  /* Expect: 100-continue: the server invites the body, then answers it. */
  client_t c;
  client_open(&c);
  char head[256];
  snprintf(head, sizeof head,
           "POST /json HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  client_sends(&c, head);
  char cont[32] = {0};
  const size_t want = strlen("HTTP/1.1 100 Continue\r\n\r\n");
  for (size_t got = 0; got < want;) {
    ssize_t k = recv(c.fd, cont + got, want - got, 0);
    assert_true(k > 0);
    got += (size_t)k;
  }
  assert_string_equal(cont, "HTTP/1.1 100 Continue\r\n\r\n");
  client_sends(&c, "[1,2]");
  assert_int_equal(client_read(&c, &r), 200);
  assert_non_null(strstr(r.body, "\"nodes\":3,"));
  response_free(&r);
  client_close(&c);
}

void test_limits(void **state) {
  (void)state;
  client_t c;
  response_t r;

  /* 431: a head longer than max_header; the connection is closed after the answer. */
  char big_head[MAX_HEADER * 2 + 64];
  int n = snprintf(big_head, sizeof big_head, "GET / HTTP/1.1\r\nX-Fill: ");
  memset(big_head + n, 'a', MAX_HEADER * 2 - (size_t)n);
  memcpy(big_head + MAX_HEADER * 2, "\r\n\r\n", 5);
  client_open(&c);
  client_sends(&c, big_head);
  assert_int_equal(client_read(&c, &r), 431);
  assert_non_null(strstr(r.head, "Connection: close\r\n"));
  response_free(&r);
  assert_true(client_sees_close(&c));
  client_close(&c);

  /* 413: a declared body above max_body, answered before the body is sent. */
  client_open(&c);
  char head[256];
  snprintf(head, sizeof head, "POST /json HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY + 1);
  client_sends(&c, head);
  assert_int_equal(client_read(&c, &r), 413);
  response_free(&r);
  assert_true(client_sees_close(&c));
  client_close(&c);

  /* A body of exactly max_body is accepted (a JSON string padded with blanks). */
  char *exact = malloc(MAX_BODY + 1);
  assert_non_null(exact);
  memset(exact, ' ', MAX_BODY);
  memcpy(exact, "\"ok\"", 4);
  exact[MAX_BODY] = 0;
  char *req = json_request(exact, true);
  free(exact);
  assert_int_equal(one_shot(req, strlen(req), &r), 200);
  assert_non_null(strstr(r.body, "\"echo\":\"ok\""));
  response_free(&r);
  free(req);

  /* 503: a tree far larger than max_request_mem; the connection stays usable. */
  char *doc = zeros(20000);
  req = json_request(doc, true);
  free(doc);
  client_open(&c);
  client_sends(&c, req);
  free(req);
  assert_int_equal(client_read(&c, &r), 503);
  assert_non_null(strstr(r.body, "request memory limit"));
  assert_non_null(strstr(r.head, "Connection: keep-alive\r\n"));
  response_free(&r);
  /* ...and a request well under the cap still works, on the same connection. */
  doc = zeros(1000);
  req = json_request(doc, true);
  free(doc);
  client_sends(&c, req);
  free(req);
  assert_int_equal(client_read(&c, &r), 200);
  assert_non_null(strstr(r.body, "\"nodes\":1001,"));
  response_free(&r);
  client_close(&c);

  /* 501: chunked bodies are not implemented; the stream cannot be followed, so close. */
  client_open(&c);
  client_sends(&c, "POST /json HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  assert_int_equal(client_read(&c, &r), 501);
  response_free(&r);
  assert_true(client_sees_close(&c));
  client_close(&c);

  srv_stats_t st;
  wait_all_closed(&st);
  assert_nothing_held(&st);
}

void test_bad_requests(void **state) {
  (void)state;
  static const struct {
    const char *raw;
    int status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"get / HTTP/1.1\r\n\r\n", 400},
      {"GET nopath HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTP/1.1 extra\r\n\r\n", 400},
      {"POST /json HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400},
      {"POST /json HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400},
      {"\r\n\r\n", 400},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    client_t c;
    response_t r;
    client_open(&c);
    client_sends(&c, cases[i].raw);
    int st = client_read(&c, &r);
    if (st != cases[i].status) fail_msg("case %zu: got %d, want %d", i, st, cases[i].status);
    response_free(&r);
    assert_true(client_sees_close(&c)); /* a bad head closes the connection */
    client_close(&c);
  }

  /* Errors in a well-framed request keep the connection: bad JSON, unknown path, method. */
  static const char *const bodies[] = {
      "{\"a\":}", "[1,2", "{\"a\" 1}", "tru",       "\"\\x\"", "\"\\ud800\"",
      "01",       "1.",   "[] []",     "\"a\001\"", "",
  };
  client_t c;
  client_open(&c);
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    char *req = json_request(bodies[i], true);
    client_sends(&c, req);
    free(req);
    response_t r;
    int st = client_read(&c, &r);
    if (st != 400) fail_msg("body %zu (%s): got %d, want 400", i, bodies[i], st);
    assert_non_null(strstr(r.body, "\"malformed JSON\""));
    response_free(&r);
  }
  char deep[JSON_DEPTH_PROBE + 1];
  memset(deep, '[', sizeof deep - 1);
  deep[sizeof deep - 1] = 0;
  char *req = json_request(deep, true);
  client_sends(&c, req);
  free(req);
  response_t r;
  assert_int_equal(client_read(&c, &r), 400);
  assert_non_null(strstr(r.body, "\"JSON nested too deeply\""));
  response_free(&r);
  client_sends(&c, "GET /nope HTTP/1.1\r\n\r\n");
  assert_int_equal(client_read(&c, &r), 404);
  response_free(&r);
  client_sends(&c, "GET /json HTTP/1.1\r\n\r\n");
  assert_int_equal(client_read(&c, &r), 405);
  response_free(&r);
  client_sends(&c, "DELETE / HTTP/1.1\r\n\r\n");
  assert_int_equal(client_read(&c, &r), 405);
  response_free(&r);
  client_sends(&c, GET_ROOT);
  assert_int_equal(client_read(&c, &r), 200);
  response_free(&r);
  client_close(&c);

  srv_stats_t st;
  wait_all_closed(&st);
  assert_nothing_held(&st);
}

void test_stats(void **state) {
  (void)state;
  response_t r;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(one_shot(GET_ROOT, strlen(GET_ROOT), &r), 200);
    response_free(&r);
  }
  srv_stats_t st;
  wait_all_closed(&st); /* so that the /stats connection is the only one open */
  const char *get = "GET /stats HTTP/1.1\r\n\r\n";
  assert_int_equal(one_shot(get, strlen(get), &r), 200);
  assert_non_null(strstr(r.head, "Content-Type: application/json\r\n"));
  char want[64];
  snprintf(want, sizeof want, "{\"flavor\":\"%s\"", srv_flavor());
  assert_true(strncmp(r.body, want, strlen(want)) == 0);
  /* The /stats request itself is not counted yet when it is answered. */
  assert_int_equal(json_field(r.body, "server_requests_total"), 3);
  assert_int_equal(json_field(r.body, "server_responses_2xx"), 3);
  assert_int_equal(json_field(r.body, "server_connections_open"), 1);
  if (strcmp(srv_flavor(), "arena") == 0) {
    /* Thread arenas of the workers that served, and the /stats connection's arena. */
    assert_true(json_field(r.body, "arenart_registered_arenas") >= 2);
    assert_true(json_field(r.body, "arenart_arenas_live") >= 2);
    assert_true(json_field(r.body, "arenart_bytes_acquired_total") > 0);
    assert_int_equal(json_field(r.body, "server_connection_arenas_taken"), 1);
  } else {
    assert_int_equal(json_field(r.body, "server_connection_arenas_taken"), 0);
  }
  json_field(r.body, "arenart_chunks_pooled");
  json_field(r.body, "server_leaked_bytes");
  response_free(&r);

  get = "GET /stats?format=prometheus HTTP/1.1\r\n\r\n";
  assert_int_equal(one_shot(get, strlen(get), &r), 200);
  assert_non_null(strstr(r.head, "Content-Type: text/plain; version=0.0.4\r\n"));
  assert_non_null(strstr(r.body, "# TYPE arenart_arenas_live gauge\narenart_arenas_live "));
  assert_non_null(strstr(r.body, "# TYPE arenart_bytes_acquired_total counter\n"));
  assert_non_null(strstr(r.body, "\nserver_requests_total 4\n"));
  assert_non_null(strstr(r.body, "\nserver_responses_total{class=\"2xx\"} 4\n"));
  assert_true(r.body[0] == '#'); /* text, not JSON */
  response_free(&r);

  get = "GET /stats?format=xml HTTP/1.1\r\n\r\n"; /* unknown formats get JSON */
  assert_int_equal(one_shot(get, strlen(get), &r), 200);
  assert_true(r.body[0] == '{');
  response_free(&r);
}

void test_memory_bounded(void **state) {
  (void)state;
  /* A document of ~3 KB with objects, arrays, strings and numbers. */
  char doc[4096], *p = doc;
  p += sprintf(p, "{\"items\":[");
  for (int i = 0; i < 40; i++)
    p += sprintf(p, "%s{\"id\":%d,\"name\":\"item-%d\",\"tags\":[\"a\",\"b\"],\"w\":%d.25}",
                 i ? "," : "", i, i, i);
  sprintf(p, "],\"ok\":true}");
  char *req = json_request(doc, true);
  enum { NCONN = 4, PHASES = 3, PER_PHASE = 2000 };
  client_t c[NCONN];
  long rss[PHASES];
  for (int phase = 0; phase < PHASES; phase++) {
    for (int k = 0; k < NCONN; k++) client_open(&c[k]);
    for (int i = 0; i < PER_PHASE; i++) {
      client_t *cl = &c[i % NCONN];
      response_t r;
      client_sends(cl, req);
      assert_int_equal(client_read(cl, &r), 200);
      assert_non_null(strstr(r.body, "\"nodes\":283,"));
      response_free(&r);
    }
    for (int k = 0; k < NCONN; k++) client_close(&c[k]);
    srv_stats_t st;
    wait_all_closed(&st);
    assert_nothing_held(&st);
    rss[phase] = rss_kib();
  }
  free(req);
  if (getenv("SERVER_TEST_VERBOSE") != NULL)
    fprintf(stderr, "RSS after each %d requests: %ld %ld %ld KiB\n", PER_PHASE, rss[0], rss[1],
            rss[2]);
  /* The first phase warms everything up (thread arenas, the connection arena pool, the
   * allocator's caches, a sanitizer's quarantine); after it, twice as many requests again may
   * not grow the process by more than 4 MiB. */
  if (rss[PHASES - 1] - rss[0] > 4 * 1024)
    fail_msg("RSS grew from %ld KiB to %ld KiB over %d requests", rss[0], rss[PHASES - 1],
             (PHASES - 1) * PER_PHASE);
}
