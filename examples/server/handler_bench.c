/* SPDX-License-Identifier: MIT */
/*
 * examples/server/handler_bench.c - the server's request path without the network.
 *
 * Under wrk, two thirds of a request's CPU is the same in every flavor (loopback TCP, number
 * formatting, the parser's own loops), and a shared 2-CPU machine moves the rest by tens of
 * per cent between runs, so a change to the memory layer worth a few per cent cannot be seen
 * there. This program runs exactly what serve_one() runs for one POST /json (a scope, the
 * head parsed into it, route_request, the malloc flavor's frees, the scope's end) in a loop
 * on one thread, on the same document post.lua sends, and prints the thread's CPU time per
 * request. It is built once per flavor (:handler_bench, :handler_bench_malloc) and the
 * malloc one runs under each LD_PRELOAD allocator; handler_bench.sh alternates them.
 *
 *   handler_bench [--items N] [--requests N]
 *
 * Prints one line: "flavor=F requests=N ns_per_request=X requests_per_cpu_second=Y" and
 * percentiles of single requests' CPU time (cpu_p50_ns, cpu_p99_ns, cpu_p999_ns, cpu_max_ns;
 * one request in 8 is timed alone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "examples/server/server_state.h"

/* The document post.lua sends, byte for byte (the load and this bench must agree). */
static char *make_request(int items, size_t *len) {
  size_t cap = 512 + (size_t)items * 256, n = 0;
  char *body = malloc(cap);
  if (body == NULL) return NULL;
  n += (size_t)snprintf(body + n, cap - n,
                        "{\"order\":{\"id\":\"A-1001\",\"customer\":{\"name\":\"Ada\","
                        "\"email\":\"ada@example.com\"},\"items\":[");
  for (int i = 1; i <= items; i++)
    n += (size_t)snprintf(body + n, cap - n,
                          "%s{\"id\":%d,\"sku\":\"SKU-%05d\",\"name\":\"item number %d\","
                          "\"price\":%d.99,\"qty\":%d,\"tags\":[\"red\",\"large\",\"sale\"],"
                          "\"dims\":{\"w\":%d,\"h\":%d,\"d\":%d}}",
                          i > 1 ? "," : "", i, i * 7, i, i, i % 5 + 1, i, i + 1, i + 2);
  n += (size_t)snprintf(body + n, cap - n, "],\"paid\":true,\"note\":null}}");
  size_t rcap = n + 256;
  char *req = malloc(rcap);
  if (req == NULL) {
    free(body);
    return NULL;
  }
  /* The head wrk sends with post.lua. */
  int h = snprintf(req, rcap,
                   "POST /json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n",
                   n);
  memcpy(req + h, body, n);
  free(body);
  *len = (size_t)h + n;
  return req;
}

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* One request as serve_one() serves it; the answer's length, or 0 on any failure. */
static size_t serve(const char *data, size_t len) {
  srv_scope_t scope;
  if (srv_scope_begin(&scope) != AR_OK) return 0;
  http_request_t req;
  size_t answered = 0;
  if (http_parse_head(&scope.mem, data, len, 8192, 1 << 20, &req) == HTTP_HEAD_OK) {
    srv_buf_t out;
    (void)srv_buf_init(&out, &scope.mem);
    const char *ctype, *detail = NULL;
    int st = route_request(NULL, &scope.mem, &req, data + req.head_len, &out, &ctype, &detail);
    if (st == 200) answered = srv_buf_len(&out);
    if (SRV_FREES_EACH) {
      srv_buf_destroy(&out);
      http_request_free(&scope.mem, &req);
    }
  }
  srv_scope_end(&scope);
  return answered;
}

int main(int argc, char **argv) {
  int items = 40;
  long requests = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--items") == 0) items = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--requests") == 0) requests = atol(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s [--items N] [--requests N]\n", argv[0]);
      return 2;
    }
  }
  if (items < 0 || requests < 1) return 2;
  /* The server's default per-request cap, so the arena flavor's thread arena is the same. */
  if (srv_mem_configure(8 * 1024 * 1024) != AR_OK) return 1;
  size_t len;
  char *data = make_request(items, &len);
  if (data == NULL) return 1;
  /* Warm-up: caches, the thread arena's chunks, the allocator's free lists. */
  for (long i = 0; i < requests / 10 + 100; i++)
    if (serve(data, len) == 0) {
      fprintf(stderr, "handler_bench: the request failed\n");
      return 1;
    }
  /* One request in 8 is also timed on its own, for the tail: a memory layer that does extra
   * work now and then (a chunk from the system and its page faults, a trim) shows up there
   * and not in the mean. CPU time rather than wall time, which on a shared machine is mostly
   * preemption by other jobs (wall tails of 2-130 ms in every flavor, run to run). Only one
   * in 8, because each reading of the thread's CPU clock is a system call (a few hundred ns)
   * that would otherwise weigh on the mean. */
  size_t ntimed = (size_t)(requests + 7) / 8;
  uint64_t *lat = malloc(ntimed * sizeof *lat);
  if (lat == NULL) return 1;
  uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  size_t sink = 0;
  for (long i = 0; i < requests; i++) {
    if (i % 8 != 0) {
      sink += serve(data, len);
      continue;
    }
    uint64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    sink += serve(data, len);
    lat[i / 8] = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  }
  uint64_t t1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  if (sink == 0) return 1;
  qsort(lat, ntimed, sizeof *lat, cmp_u64);
  double ns = (double)(t1 - t0) / (double)requests;
  printf("flavor=%s requests=%ld ns_per_request=%.0f requests_per_cpu_second=%.0f "
         "cpu_p50_ns=%llu cpu_p99_ns=%llu cpu_p999_ns=%llu cpu_max_ns=%llu\n",
         SRV_FLAVOR, requests, ns, 1e9 / ns, (unsigned long long)lat[ntimed / 2],
         (unsigned long long)lat[ntimed * 99 / 100], (unsigned long long)lat[ntimed * 999 / 1000],
         (unsigned long long)lat[ntimed - 1]);
  free(lat);
  if (srv_mem_leaked_bytes() != 0) {
    fprintf(stderr, "handler_bench: %llu bytes leaked\n",
            (unsigned long long)srv_mem_leaked_bytes());
    return 1;
  }
  free(data);
  return 0;
}
