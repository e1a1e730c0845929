/*
 * examples/server/server_test.c - integration tests of the example server, over loopback.
 *
 * Each test starts the server in this process (so ASan and TSan see both sides, and ASan's
 * exit-time leak check covers the server) on an ephemeral 127.0.0.1 port, talks to it through
 * blocking sockets with 5-second timeouts, and stops it. The same file is built against both
 * flavors (server_test, server_malloc_test).
 *
 * Nothing here is timed: where a test must wait for the server to notice something (a client
 * that went away, a deadline that passed), it polls the server's counters or blocks on the
 * socket until they show it, and gives up (failing) only after a generous bound (5 or 10 s,
 * against deadlines of at most SHORT_REQUEST_TIMEOUT_MS in the tests of the deadlines).
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

#include "examples/server/server.h"

#if defined(__SANITIZE_ADDRESS__)
/* ASan keeps freed blocks in a quarantine (256 MiB by default), which would look like growth
 * to the memory-bound test; a small one keeps use-after-free detection and makes RSS track
 * what the program really holds. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=2"; }
#endif

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

static srv_t *server;
static uint16_t port;

/* Zero for any argument keeps the default. */
static int start_server_with(uint32_t request_timeout_ms, uint32_t linger_timeout_ms,
                             size_t max_conns) {
  srv_config_t cfg;
  srv_config_init(&cfg);
  cfg.workers = 2;
  cfg.max_header = MAX_HEADER;
  cfg.max_body = MAX_BODY;
  cfg.max_request_mem = MAX_REQUEST_MEM;
  if (request_timeout_ms != 0) cfg.request_timeout_ms = request_timeout_ms;
  if (linger_timeout_ms != 0) cfg.linger_timeout_ms = linger_timeout_ms;
  if (max_conns != 0) cfg.max_conns = max_conns;
  char err[256];
  server = srv_start(&cfg, err, sizeof err);
  if (server == NULL) {
    fprintf(stderr, "srv_start: %s\n", err);
    return -1;
  }
  port = srv_port(server);
  return 0;
}

/* The default deadlines (10 s / 2 s), which no test reaches. */
static int start_server(void **state) {
  (void)state;
  return start_server_with(0, 0, 0);
}

static int start_server_short_timeouts(void **state) {
  (void)state;
  return start_server_with(SHORT_REQUEST_TIMEOUT_MS, SHORT_LINGER_TIMEOUT_MS, 0);
}

static int start_server_capped(void **state) {
  (void)state;
  return start_server_with(0, 0, CAP_CONNS);
}

static int stop_server(void **state) {
  (void)state;
  srv_stop(server);
  server = NULL;
  return 0;
}

/* ---- a small blocking client -------------------------------------------------------------- */

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

static void client_open(client_t *c) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  struct timeval tv = {5, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
  c->buf = NULL;
  c->len = c->cap = 0;
}

static void client_close(client_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  free(c->buf);
  c->buf = NULL;
}

static void client_send(client_t *c, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
    assert_true(k > 0);
    p += k;
    n -= (size_t)k;
  }
}

static void client_sends(client_t *c, const char *s) { client_send(c, s, strlen(s)); }

/* Reads more bytes into c->buf; returns what read returned (0 at EOF, -1 on error/timeout). */
static ssize_t client_fill(client_t *c) {
  if (c->cap - c->len < 65536) {
    c->cap = c->cap * 2 + 65536;
    c->buf = realloc(c->buf, c->cap + 1);
    assert_non_null(c->buf);
  }
  ssize_t k;
  do k = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
  while (k < 0 && errno == EINTR);
  if (k > 0) c->len += (size_t)k;
  return k;
}

/* Reads one response. Returns its status, or -1 if the connection ended first. */
static int client_read(client_t *c, response_t *r) {
  memset(r, 0, sizeof *r);
  char *end;
  for (;;) {
    if (c->len > 0) {
      c->buf[c->len] = 0;
      end = strstr(c->buf, "\r\n\r\n");
      if (end != NULL) break;
    }
    if (client_fill(c) <= 0) return -1;
  }
  size_t head_len = (size_t)(end - c->buf) + 4;
  assert_true(head_len < sizeof r->head);
  memcpy(r->head, c->buf, head_len);
  r->head[head_len] = 0;
  assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
  const char *cl = strstr(r->head, "Content-Length: ");
  assert_non_null(cl);
  r->body_len = strtoul(cl + 16, NULL, 10);
  while (c->len < head_len + r->body_len)
    if (client_fill(c) <= 0) return -1;
  r->body = malloc(r->body_len + 1);
  assert_non_null(r->body);
  memcpy(r->body, c->buf + head_len, r->body_len);
  r->body[r->body_len] = 0;
  memmove(c->buf, c->buf + head_len + r->body_len, c->len - head_len - r->body_len);
  c->len -= head_len + r->body_len;
  return r->status;
}

static void response_free(response_t *r) {
  free(r->body);
  r->body = NULL;
}

/* True once the server has closed the connection (EOF, or a reset). */
static bool client_sees_close(client_t *c) {
  char b[4096];
  for (;;) {
    ssize_t k = recv(c->fd, b, sizeof b, 0);
    if (k == 0) return true;
    if (k < 0) return errno == ECONNRESET;
  }
}

/* One request on a fresh connection; returns the status and fills *r. */
static int one_shot(const char *raw, size_t len, response_t *r) {
  client_t c;
  client_open(&c);
  client_send(&c, raw, len);
  int st = client_read(&c, r);
  client_close(&c);
  return st;
}

static char *json_request(const char *body, bool keep_alive) {
  char *req = malloc(strlen(body) + 256);
  assert_non_null(req);
  sprintf(req,
          "POST /json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          "Content-Length: %zu\r\n%s\r\n%s",
          strlen(body), keep_alive ? "" : "Connection: close\r\n", body);
  return req;
}

static const char GET_ROOT[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/* Polls the server's counters into *st until `done(st, n)` holds; false after about 10 s. */
static bool wait_stats(bool (*done)(const srv_stats_t *, uint64_t), uint64_t n,
                       srv_stats_t *st) {
  for (int i = 0; i < 2000; i++) {
    srv_get_stats(server, st);
    if (done(st, n)) return true;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

static bool all_closed(const srv_stats_t *st, uint64_t n) {
  (void)n;
  return st->conns_closed == st->conns_accepted;
}
static bool timed_out_at_least(const srv_stats_t *st, uint64_t n) {
  return st->conns_timed_out >= n;
}
static bool closed_at_least(const srv_stats_t *st, uint64_t n) { return st->conns_closed >= n; }
static bool workers_failed_at_least(const srv_stats_t *st, uint64_t n) {
  return st->workers_failed >= n;
}

/* Waits (bounded) until every connection the server accepted has been closed. */
static void wait_all_closed(srv_stats_t *st) {
  if (!wait_stats(all_closed, 0, st))
    fail_msg("connections still open: accepted %llu, closed %llu",
             (unsigned long long)st->conns_accepted, (unsigned long long)st->conns_closed);
}

/* Memory the server holds for connections must be back once they are all closed. */
static void assert_nothing_held(const srv_stats_t *st) {
  assert_int_equal(st->pool_taken, 0);
  assert_int_equal(st->leaked_bytes, 0);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  assert_non_null(f);
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  fclose(f);
  assert_true(kib > 0);
  return kib;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_root(void **state) {
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

static void test_json(void **state) {
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

static void test_config_errors(void **state) {
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

static void test_keep_alive(void **state) {
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
  const char *closing[] = {"GET / HTTP/1.0\r\n\r\n",
                           "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"};
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

/* A JSON array of n zeros: about 2n bytes of body, n + 1 tree nodes. */
static char *zeros(size_t n) {
  char *s = malloc(2 * n + 3);
  assert_non_null(s);
  char *p = s;
  *p++ = '[';
  for (size_t i = 0; i < n; i++) {
    if (i) *p++ = ',';
    *p++ = '0';
  }
  *p++ = ']';
  *p = 0;
  return s;
}

static void test_limits(void **state) {
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

static void test_bad_requests(void **state) {
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
      "{\"a\":}", "[1,2", "{\"a\" 1}", "tru", "\"\\x\"", "\"\\ud800\"", "01", "1.", "[] []",
      "\"a\001\"", "",
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

static void test_disconnects(void **state) {
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

/* The unsigned value after `"name":` in a JSON text (the test fails if it is not there). */
static unsigned long long json_field(const char *json, const char *name) {
  char key[128];
  snprintf(key, sizeof key, "\"%s\":", name);
  const char *p = strstr(json, key);
  if (p == NULL) fail_msg("no %s in %s", name, json);
  return strtoull(p + strlen(key), NULL, 10);
}

static void test_stats(void **state) {
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

static void test_memory_bounded(void **state) {
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

static void test_timeouts(void **state) {
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
static void test_write_stall(void **state) {
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
static void test_failed_start_keeps_config(void **state) {
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
static void test_worker_failure(void **state) {
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
static void test_conn_cap(void **state) {
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test_setup_teardown(test_root, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_json, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_keep_alive, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_limits, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_bad_requests, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_disconnects, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_stats, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_memory_bounded, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_timeouts, start_server_short_timeouts, stop_server),
      cmocka_unit_test_setup_teardown(test_write_stall, start_server_short_timeouts, stop_server),
      cmocka_unit_test_setup_teardown(test_failed_start_keeps_config, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_worker_failure, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_conn_cap, start_server_capped, stop_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
