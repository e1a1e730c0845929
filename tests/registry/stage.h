/* SPDX-License-Identifier: MIT */
/*
 * tests/registry/stage.h - the handshake the registry tests pin their interleavings with: one
 * thread sets a stage number, another waits until the stage reaches a value.
 *
 * Every wait is bounded by WAIT_S, far longer than any step of these tests takes even under a
 * sanitizer on a loaded machine, and reports whether the stage was reached: a writer that
 * wrongly waits for a parked reader then shows up as a failed check after WAIT_S, never as a
 * hung test. The condition variable runs on CLOCK_MONOTONIC, so a step of the wall clock
 * cannot cut a wait short or stretch it.
 */
#ifndef ARENART_TESTS_REGISTRY_STAGE_H
#define ARENART_TESTS_REGISTRY_STAGE_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#define WAIT_S 30

typedef struct stage {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int at;
} stage_t;

static inline void stage_init(stage_t *s) {
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  s->at = 0;
}

static inline void stage_fini(stage_t *s) {
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
}

static inline void stage_set(stage_t *s, int at) {
  pthread_mutex_lock(&s->mu);
  s->at = at;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits until the stage reaches `at`; false if WAIT_S seconds pass first. */
static inline bool stage_wait(stage_t *s, int at) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += WAIT_S;
  pthread_mutex_lock(&s->mu);
  int rc = 0;
  while (s->at < at && rc == 0) rc = pthread_cond_timedwait(&s->cv, &s->mu, &until);
  bool ok = s->at >= at;
  pthread_mutex_unlock(&s->mu);
  return ok;
}

#endif /* ARENART_TESTS_REGISTRY_STAGE_H */
