/* SPDX-License-Identifier: MIT */
/*
 * examples/server/server.c - the server's life cycle: configuration, start, stop.
 *
 * The server is an acceptor thread (acceptor.c) and a fixed pool of worker threads
 * (worker.c), over one listening socket; server_state.h says how its files divide the work
 * and which thread owns what. This file builds all of it and takes it down again.
 *
 * Start order: everything that can fail for an ordinary reason (a bad address, a busy port,
 * no descriptors) is done before anything that has effects beyond the server: the
 * process-global request memory cap is set only after the sockets, epoll sets and eventfds
 * exist, and the threads start last. A failure unwinds exactly what was made (release), and
 * the threads that did start are stopped and joined.
 *
 * Stop: `stopping` is set (release) and every thread is woken through its eventfd; the
 * acceptor returns, each worker closes its connections (their contexts go back to the pool)
 * and returns, and only then is anything freed.
 */
#include "examples/server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "examples/server/server_state.h"

const char *srv_flavor(void) { return SRV_FLAVOR; }

void srv_config_init(srv_config_t *cfg) {
  cfg->host = "127.0.0.1";
  cfg->port = 0;
  cfg->workers = 2;
  cfg->max_header = 8 * 1024;
  cfg->max_body = 1024 * 1024;
  cfg->max_request_mem = 8 * 1024 * 1024;
  cfg->request_timeout_ms = 10000;
  cfg->linger_timeout_ms = 2000;
  cfg->max_conns = 4096;
}

static void fail(char *err, size_t errlen, const char *what) {
  if (err != NULL && errlen > 0) snprintf(err, errlen, "%s: %s", what, strerror(errno));
}

static void release(srv_t *s) {
  for (int i = 0; i < s->nworkers; i++) {
    worker_t *w = &s->workers[i];
    for (size_t k = 0; k < w->inbox_len; k++) close(w->inbox[k]);
    free(w->inbox);
    if (w->epfd >= 0) close(w->epfd);
    if (w->evfd >= 0) close(w->evfd);
    pthread_mutex_destroy(&w->lock);
  }
  free(s->workers);
  if (s->lfd >= 0) close(s->lfd);
  if (s->epfd >= 0) close(s->epfd);
  if (s->evfd >= 0) close(s->evfd);
  srv_pool_destroy(s->pool);
  free(s);
}

static int make_listener(srv_t *s, char *err, size_t errlen) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s->cfg.port)};
  if (inet_pton(AF_INET, s->cfg.host, &sa.sin_addr) != 1) {
    errno = EINVAL;
    fail(err, errlen, "host must be an IPv4 address");
    return -1;
  }
  s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->lfd < 0) return fail(err, errlen, "socket"), -1;
  int one = 1;
  (void)setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0) return fail(err, errlen, "bind"), -1;
  if (listen(s->lfd, 1024) != 0) return fail(err, errlen, "listen"), -1;
  socklen_t len = sizeof sa;
  if (getsockname(s->lfd, (struct sockaddr *)&sa, &len) != 0)
    return fail(err, errlen, "getsockname"), -1;
  s->port = ntohs(sa.sin_port);
  return 0;
}

srv_t *srv_start(const srv_config_t *cfg, char *err, size_t errlen) {
  srv_config_t defaults;
  srv_config_init(&defaults);
  if (cfg == NULL) cfg = &defaults;
  if (cfg->workers < 1 || cfg->workers > 256 || cfg->max_header < 64 ||
      (cfg->max_request_mem != 0 && cfg->max_request_mem < SRV_MIN_REQUEST_MEM) ||
      cfg->request_timeout_ms < 1 || cfg->request_timeout_ms > SRV_MAX_TIMEOUT_MS ||
      cfg->linger_timeout_ms < 1 || cfg->linger_timeout_ms > SRV_MAX_TIMEOUT_MS ||
      cfg->max_conns < 1) {
    errno = EINVAL;
    fail(err, errlen,
         "workers must be 1..256, max_header at least 64, max_request_mem 0 or at least 64 KiB, "
         "timeouts 1 ms..1 day, max_conns at least 1");
    return NULL;
  }
  srv_t *s = calloc(1, sizeof *s);
  if (s == NULL) return fail(err, errlen, "calloc"), NULL;
  s->cfg = *cfg;
  snprintf(s->host, sizeof s->host, "%s", cfg->host != NULL ? cfg->host : "127.0.0.1");
  s->cfg.host = s->host;
  s->lfd = s->epfd = s->evfd = -1;
  s->request_timeout_ns = (uint64_t)cfg->request_timeout_ms * 1000000u;
  s->linger_timeout_ns = (uint64_t)cfg->linger_timeout_ms * 1000000u;
  atomic_init(&s->stopping, false);
  s->workers = calloc((size_t)cfg->workers, sizeof *s->workers);
  s->pool = srv_pool_create();
  if (s->workers == NULL || s->pool == NULL) {
    errno = ENOMEM;
    fail(err, errlen, "allocating the server");
    release(s);
    return NULL;
  }
  s->nworkers = cfg->workers;
  for (int i = 0; i < s->nworkers; i++) {
    worker_t *w = &s->workers[i];
    w->srv = s;
    w->index = i;
    w->epfd = w->evfd = -1;
    atomic_init(&w->fail_test, false);
    pthread_mutex_init(&w->lock, NULL);
  }
  if (make_listener(s, err, errlen) != 0) {
    release(s);
    return NULL;
  }
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  bool ok = s->epfd >= 0 && s->evfd >= 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
  ok = ok && epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) == 0;
  ev.data.u32 = 1;
  ok = ok && epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev) == 0;
  for (int i = 0; ok && i < s->nworkers; i++) {
    worker_t *w = &s->workers[i];
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = NULL};
    ok = w->epfd >= 0 && w->evfd >= 0 && epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &wev) == 0;
  }
  if (!ok) {
    fail(err, errlen, "epoll/eventfd");
    release(s);
    return NULL;
  }
  /* Process-global (server.h): only now that nothing but thread creation can fail, so that a
   * start that fails on a bad address or a busy port leaves the process's settings alone. */
  if (srv_mem_configure(cfg->max_request_mem) != AR_OK) {
    errno = EINVAL;
    fail(err, errlen, "configuring request memory");
    release(s);
    return NULL;
  }
  int started = 0;
  for (; started < s->nworkers; started++)
    if (pthread_create(&s->workers[started].tid, NULL, worker_main, &s->workers[started]) != 0)
      break;
  if (started == s->nworkers && pthread_create(&s->acceptor, NULL, acceptor_main, s) == 0) return s;
  /* Unwind: stop the workers that did start. */
  atomic_store_explicit(&s->stopping, true, memory_order_release);
  for (int i = 0; i < started; i++) {
    wake(s->workers[i].evfd);
    pthread_join(s->workers[i].tid, NULL);
  }
  errno = EAGAIN;
  fail(err, errlen, "pthread_create");
  release(s);
  return NULL;
}

uint16_t srv_port(const srv_t *s) { return s->port; }

int srv_fail_worker_for_test(srv_t *s, int i) {
  if (s == NULL || i < 0 || i >= s->nworkers) return -1;
  /* Release: see worker_main; the wake-up below makes the worker look at it. */
  atomic_store_explicit(&s->workers[i].fail_test, true, memory_order_release);
  wake(s->workers[i].evfd);
  return 0;
}

void srv_stop(srv_t *s) {
  if (s == NULL) return;
  /* Release: pairs with the acquire loads in the threads (see worker_main). */
  atomic_store_explicit(&s->stopping, true, memory_order_release);
  wake(s->evfd);
  pthread_join(s->acceptor, NULL);
  for (int i = 0; i < s->nworkers; i++) {
    wake(s->workers[i].evfd);
    pthread_join(s->workers[i].tid, NULL);
  }
  release(s);
}
