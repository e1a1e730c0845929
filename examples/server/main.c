/* SPDX-License-Identifier: MIT */
/*
 * examples/server/main.c - the server as a program.
 *
 *   server [--port N] [--host ADDR] [--workers N] [--max-header BYTES] [--max-body BYTES]
 *          [--max-request-mem BYTES] [--request-timeout MS] [--linger-timeout MS]
 *          [--max-conns N]
 *
 * Prints "listening on HOST:PORT flavor=F workers=N" on stdout once it accepts connections
 * (with --port 0 the kernel picks the port; scripts read it from that line), then serves until
 * SIGINT or SIGTERM, stops cleanly and exits 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/server/server.h"

static int usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--port N] [--host ADDR] [--workers N] [--max-header BYTES]\n"
          "          [--max-body BYTES] [--max-request-mem BYTES]\n"
          "          [--request-timeout MS] [--linger-timeout MS] [--max-conns N]\n",
          argv0);
  return 2;
}

static bool parse_size(const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != 0 || s[0] == '-') return false;
  *out = (size_t)v;
  return true;
}

int main(int argc, char **argv) {
  srv_config_t cfg;
  srv_config_init(&cfg);
  cfg.port = 8080;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    size_t v;
    if (i + 1 >= argc) return usage(argv[0]);
    const char *val = argv[++i];
    if (strcmp(a, "--host") == 0) {
      cfg.host = val;
      continue;
    }
    if (!parse_size(val, &v)) return usage(argv[0]);
    if (strcmp(a, "--port") == 0 && v <= 65535) cfg.port = (uint16_t)v;
    else if (strcmp(a, "--workers") == 0 && v >= 1 && v <= 256) cfg.workers = (int)v;
    else if (strcmp(a, "--max-header") == 0) cfg.max_header = v;
    else if (strcmp(a, "--max-body") == 0) cfg.max_body = v;
    else if (strcmp(a, "--max-request-mem") == 0) cfg.max_request_mem = v;
    else if (strcmp(a, "--request-timeout") == 0 && v >= 1 && v <= SRV_MAX_TIMEOUT_MS)
      cfg.request_timeout_ms = (uint32_t)v;
    else if (strcmp(a, "--linger-timeout") == 0 && v >= 1 && v <= SRV_MAX_TIMEOUT_MS)
      cfg.linger_timeout_ms = (uint32_t)v;
    else if (strcmp(a, "--max-conns") == 0 && v >= 1) cfg.max_conns = v;
    else return usage(argv[0]);
  }

  /* Block the stop signals in every thread (the server's threads inherit the mask) and wait
   * for them here. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  char err[256];
  srv_t *s = srv_start(&cfg, err, sizeof err);
  if (s == NULL) {
    fprintf(stderr, "server: %s\n", err);
    return 1;
  }
  printf("listening on %s:%u flavor=%s workers=%d\n", cfg.host, (unsigned)srv_port(s), srv_flavor(),
         cfg.workers);
  fflush(stdout);
  int sig;
  sigwait(&stop, &sig);
  srv_stop(s);
  return 0;
}
