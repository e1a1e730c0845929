/* SPDX-License-Identifier: MIT */
/*
 * stress/tsan_canary.c - a planted data race. Built only under --config=tsan by the test
 * command, which passes only if ThreadSanitizer reports it: proof that the stress suite's
 * clean TSan runs mean something (TSan is on, instrumenting, and reporting).
 */
#include <pthread.h>
#include <stdio.h>

static int shared; /* written by two threads with no synchronization: the race */

static void *bump(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) shared++;
  return NULL;
}

int main(void) {
  pthread_t a, b;
  pthread_create(&a, NULL, bump, NULL);
  pthread_create(&b, NULL, bump, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("canary: shared=%d\n", shared);
  return 0;
}
