/* SPDX-License-Identifier: MIT */
/*
 * examples/server/acceptor.c - the acceptor thread: admitting connections and dealing them to
 * the workers.
 *
 * The acceptor sleeps in epoll_wait on the listening socket and a stop eventfd. Each accepted
 * socket goes to the next worker's inbox, round-robin, skipping a worker that has failed
 * (worker.c); the inbox lock is the only thing it shares with a worker.
 *
 * Connection cap. The acceptor alone counts connections accepted, and a connection is counted
 * closed only after its worker has given its memory back (conn.c), so accepted - closed as the
 * acceptor reads it (its own exact count, minus a closed count that can only lag) is never
 * below the number of connections really holding a context: the cap may refuse a connection
 * a moment after another one has gone, never admit one too many. A refused socket gets a
 * canned 503 by one non-blocking send and is closed on the acceptor's thread; a client that
 * does not read, or a full socket buffer, costs it nothing but the lost answer.
 */
#include "examples/server/server_state.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* The answer to a connection over the cap: fixed, so sending it needs no memory. */
#define REFUSED_BODY "{\"status\":503,\"error\":\"too many connections\"}\n"
#define REFUSED_BODY_LEN 46 /* a literal, to be pasted into the head */
_Static_assert(sizeof REFUSED_BODY - 1 == REFUSED_BODY_LEN, "REFUSED_BODY_LEN is its length");
#define STR_(x) #x
#define STR(x) STR_(x)
static const char refused_answer[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Content-Length: " STR(REFUSED_BODY_LEN) "\r\nConnection: close\r\n\r\n" REFUSED_BODY;
#undef STR
#undef STR_

/* True if max_conns connections are open. Only the acceptor increments `accepted`, so its

 * value is exact here; `closed` may lag (see the essay above), which errs on refusing. */
static bool at_cap(srv_t *s) {
  uint64_t open = read_counter(&s->c.accepted) - read_counter(&s->c.closed);
  return open >= (uint64_t)s->cfg.max_conns;
}

/* Answers 503 if the socket takes it at once (it is non-blocking; a short or failed send just
 * loses the answer) and closes. The client's request, if any, is never read. */
static void refuse(srv_t *s, int fd) {
  count(&s->c.refused); /* before the client can see the answer or the close */
  ssize_t n;
  do n = send(fd, refused_answer, sizeof refused_answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  close(fd);
}

/* Queues `fd` to the next worker that has not failed; false if every worker has. */
static bool hand_to_worker(srv_t *s, int fd) {
  for (int tries = 0; tries < s->nworkers; tries++) {
    worker_t *w = &s->workers[s->next_worker++ % (unsigned)s->nworkers];
    bool queued = false;
    pthread_mutex_lock(&w->lock);
    if (!w->failed && w->inbox_len == w->inbox_cap) {
      size_t cap = w->inbox_cap ? w->inbox_cap * 2 : 64;
      int *p = realloc(w->inbox, cap * sizeof *p);
      if (p != NULL) {
        w->inbox = p;
        w->inbox_cap = cap;
      }
    }
    if (!w->failed && w->inbox_len < w->inbox_cap) {
      w->inbox[w->inbox_len++] = fd;
      queued = true;
    }
    pthread_mutex_unlock(&w->lock);
    if (queued) {
      wake(w->evfd);
      return true;
    }
  }
  return false;
}

void *acceptor_main(void *arg) {
  srv_t *s = arg;
  struct epoll_event evs[4];
  bool told_no_worker = false;
  for (;;) {
    int n = epoll_wait(s->epfd, evs, 4, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "server: acceptor: epoll_wait: %s; no longer accepting\n", strerror(errno));
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u32 == 1) {
        clear_wake(s->evfd);
        /* Acquire: see worker_main. */
        if (atomic_load_explicit(&s->stopping, memory_order_acquire)) return NULL;
        continue;
      }
      for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: back off instead of spinning on a ready listener. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
          }
          break;
        }
        if (at_cap(s)) {
          refuse(s, fd);
          continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        count(&s->c.accepted); /* before the worker can see it, so closed <= accepted */
        if (!hand_to_worker(s, fd)) {
          /* No memory for the inbox, or no live worker left. */
          if (!told_no_worker && read_counter(&s->c.workers_failed) == (uint64_t)s->nworkers) {
            fprintf(stderr, "server: every worker has failed; closing new connections\n");
            told_no_worker = true;
          }
          close(fd);
          count(&s->c.closed);
        }
      }
    }
  }
}
