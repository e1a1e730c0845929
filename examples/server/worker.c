/* SPDX-License-Identifier: MIT */
/*
 * examples/server/worker.c - a worker thread: its epoll loop, its inbox, its failure.
 *
 * A worker sleeps in epoll_wait on its eventfd and its connections, no longer than until the
 * earliest deadline (deadline.c). The acceptor puts new sockets in the worker's inbox (a
 * mutex-protected array) and bumps the eventfd; the worker moves them from its inbox into
 * connections (conn.c), and serves each connection until it closes (serve.c). A connection
 * never changes worker, so everything in it (its context, buffers, the scopes of its
 * requests) is touched by one thread only; the inbox mutex is the only point where the
 * acceptor and a worker share data.
 *
 * Failure. A worker whose epoll_wait fails (other than EINTR) cannot serve anything any more:
 * it logs, marks itself failed under its inbox lock, closes its connections and the sockets
 * waiting in its inbox, and exits; the acceptor, which looks at the mark under the same lock,
 * deals new sockets to the remaining workers, or closes them when none is left.
 */
#include "examples/server/server_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 64

static void adopt_inbox(worker_t *w) {
  int fds[64];
  for (;;) {
    size_t n = 0;
    pthread_mutex_lock(&w->lock);
    while (n < 64 && w->inbox_len > 0) fds[n++] = w->inbox[--w->inbox_len];
    pthread_mutex_unlock(&w->lock);
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) conn_open(w, fds[i]);
  }
}

/* The worker cannot go on: stop taking connections and end the ones it has. */
static void worker_fail(worker_t *w, int err) {
  fprintf(stderr,
          "server: worker %d: epoll_wait: %s; closing its connections, it takes no new ones\n",
          w->index, strerror(err));
  int *fds;
  size_t nfds;
  pthread_mutex_lock(&w->lock);
  w->failed = true; /* under the lock: the acceptor queues nothing here after this */
  fds = w->inbox;
  nfds = w->inbox_len;
  w->inbox = NULL;
  w->inbox_len = w->inbox_cap = 0;
  pthread_mutex_unlock(&w->lock);
  for (size_t i = 0; i < nfds; i++) {
    close(fds[i]);
    count(&w->srv->c.closed);
  }
  free(fds);
  count(&w->srv->c.workers_failed);
}

void *worker_main(void *arg) {
  worker_t *w = arg;
  struct epoll_event evs[MAX_EVENTS];
  w->next_deadline = UINT64_MAX;
  for (;;) {
    int n = epoll_wait(w->epfd, evs, MAX_EVENTS, deadline_wait_ms(w, now_ns()));
    /* Acquire: pairs with srv_fail_worker_for_test's release, so that the wake-up it sends
     * after the store cannot be consumed without the flag being seen. */
    if (atomic_load_explicit(&w->fail_test, memory_order_acquire)) {
      n = -1;
      errno = EBADF;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      worker_fail(w, errno);
      break;
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        clear_wake(w->evfd);
        /* Acquire: pairs with srv_stop's release, though the eventfd write already orders it
         * for the kernel; this keeps the ordering visible to the language and to TSan. */
        if (atomic_load_explicit(&w->srv->stopping, memory_order_acquire)) goto out;
        adopt_inbox(w);
      } else {
        serve_event(evs[i].data.ptr, evs[i].events);
      }
    }
    uint64_t now = now_ns();
    if (w->next_deadline <= now) deadline_sweep(w, now);
  }
out:
  while (w->conns != NULL) conn_close(w->conns);
  return NULL;
}
