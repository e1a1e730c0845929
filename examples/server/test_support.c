/* SPDX-License-Identifier: MIT */
/*
 * examples/server/test_support.c - the fixtures, the blocking client and the waits that the
 * server's tests share (test_support.h says why they are shared and how the tests wait).
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

#if defined(__SANITIZE_ADDRESS__)
/* ASan keeps freed blocks in a quarantine (256 MiB by default), which would look like growth
 * to the memory-bound test; a small one keeps use-after-free detection and makes RSS track
 * what the program really holds. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=2"; }
#endif

srv_t *server;
uint16_t port;

const char GET_ROOT[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

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
int start_server(void **state) {
  (void)state;
  return start_server_with(0, 0, 0);
}

int start_server_short_timeouts(void **state) {
  (void)state;
  return start_server_with(SHORT_REQUEST_TIMEOUT_MS, SHORT_LINGER_TIMEOUT_MS, 0);
}

int start_server_capped(void **state) {
  (void)state;
  return start_server_with(0, 0, CAP_CONNS);
}

int stop_server(void **state) {
  (void)state;
  srv_stop(server);
  server = NULL;
  return 0;
}

void client_open(client_t *c) {
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

void client_close(client_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  free(c->buf);
  c->buf = NULL;
}

void client_send(client_t *c, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
    assert_true(k > 0);
    p += k;
    n -= (size_t)k;
  }
}

void client_sends(client_t *c, const char *s) { client_send(c, s, strlen(s)); }

/* Reads more bytes into c->buf; returns what read returned (0 at EOF, -1 on error/timeout). */
ssize_t client_fill(client_t *c) {
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
int client_read(client_t *c, response_t *r) {
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

void response_free(response_t *r) {
  free(r->body);
  r->body = NULL;
}

/* True once the server has closed the connection (EOF, or a reset). */
bool client_sees_close(client_t *c) {
  char b[4096];
  for (;;) {
    ssize_t k = recv(c->fd, b, sizeof b, 0);
    if (k == 0) return true;
    if (k < 0) return errno == ECONNRESET;
  }
}

/* One request on a fresh connection; returns the status and fills *r. */
int one_shot(const char *raw, size_t len, response_t *r) {
  client_t c;
  client_open(&c);
  client_send(&c, raw, len);
  int st = client_read(&c, r);
  client_close(&c);
  return st;
}

char *json_request(const char *body, bool keep_alive) {
  char *req = malloc(strlen(body) + 256);
  assert_non_null(req);
  sprintf(req,
          "POST /json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          "Content-Length: %zu\r\n%s\r\n%s",
          strlen(body), keep_alive ? "" : "Connection: close\r\n", body);
  return req;
}

/* Polls the server's counters into *st until `done(st, n)` holds; false after about 10 s. */
bool wait_stats(bool (*done)(const srv_stats_t *, uint64_t), uint64_t n, srv_stats_t *st) {
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

bool timed_out_at_least(const srv_stats_t *st, uint64_t n) { return st->conns_timed_out >= n; }

bool closed_at_least(const srv_stats_t *st, uint64_t n) { return st->conns_closed >= n; }

bool workers_failed_at_least(const srv_stats_t *st, uint64_t n) { return st->workers_failed >= n; }

/* Waits (bounded) until every connection the server accepted has been closed. */
void wait_all_closed(srv_stats_t *st) {
  if (!wait_stats(all_closed, 0, st))
    fail_msg("connections still open: accepted %llu, closed %llu",
             (unsigned long long)st->conns_accepted, (unsigned long long)st->conns_closed);
}

/* Memory the server holds for connections must be back once they are all closed. */
void assert_nothing_held(const srv_stats_t *st) {
  assert_int_equal(st->pool_taken, 0);
  assert_int_equal(st->leaked_bytes, 0);
}

long rss_kib(void) {
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

/* A JSON array of n zeros: about 2n bytes of body, n + 1 tree nodes. */
char *zeros(size_t n) {
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

/* The unsigned value after `"name":` in a JSON text (the test fails if it is not there). */
unsigned long long json_field(const char *json, const char *name) {
  char key[128];
  snprintf(key, sizeof key, "\"%s\":", name);
  const char *p = strstr(json, key);
  if (p == NULL) fail_msg("no %s in %s", name, json);
  return strtoull(p + strlen(key), NULL, 10);
}
