/* SPDX-License-Identifier: MIT */
/*
 * tests/registry/registry_test.c - the registry's read side against its writers (stats.h).
 *
 * Each test pins an interleaving with handshakes instead of hoping a race happens: a reader
 * parks inside an ar_registry_foreach callback, the test thread does the writer's part, and
 * then the reader goes on using what it was shown. Every wait is bounded (WAIT_S, far longer
 * than any of these steps takes even under a sanitizer on a loaded machine): a wait that runs
 * out is recorded and fails the test, so a writer that wrongly waits for the parked reader
 * shows up as a failure after WAIT_S, never as a hung test.
 *
 * What the tests hold the library to:
 *   - a callback may call the read-only queries (ar_stats_global, a nested foreach) and the
 *     entry it is looking at stays valid until its own walk ends, even if the arena is
 *     destroyed meanwhile (nested read sections must not end the outer one);
 *   - destroying arenas of every listed kind (ConcurrentArena, pooled serial arena, thread
 *     arena at thread exit, arena-pool trim) never waits for a reader;
 *   - a callback may create and destroy arenas itself, including the one it is visiting;
 *   - waiting for a grace period inside a read section is a fatal error, not a deadlock;
 *   - unlinked entries are reclaimed (no leak), also in a child created by fork().
 * Whether the walk's section survived nested ones is also checked directly (the thread is
 * still a reader for liburcu), so a release build catches that too: there, an entry freed by
 * the reclaimer thread goes to that thread's malloc cache and is rarely reused in time to show
 * up as a wrong name.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <urcu-qsbr.h>

#include <arenart.h>

#include "tests/child.h"
#include "tests/registry/stage.h"

/* The runtime's RCU internals (rcu.c); the test links the runtime statically, so the hidden symbols
 * resolve. */
#include "runtime/sync.h"

static ar_concurrent_t *named_concurrent(const char *name) {
  ar_options_t o = AR_OPTIONS_INIT;
  o.name = name;
  ar_concurrent_t *c = ar_concurrent_create(&o);
  assert_non_null(c);
  assert_non_null(ar_concurrent_alloc(c, 64));
  return c;
}

static int count_entries(const ar_arena_info_t *info, void *ctx) {
  (void)info;
  (*(int *)ctx)++;
  return 0;
}

/* ---- (a) nested queries keep the outer walk's entry alive ------------------------------- */

typedef struct nested {
  stage_t st;         /* 1: reader parked in the callback; 2: arena destroyed */
  const char *victim; /* the entry the reader parks on */
  bool parked;        /* the callback met the victim (set by the reader) */
  bool timed_out;     /* the reader's wait ran out */
  bool still_reading; /* the walk's section outlived the nested ones */
  int nested_count;   /* entries the nested foreach saw */
  char seen[32];      /* the victim's name, read after the destroy */
  int after;          /* entries the outer walk visited after the victim */
} nested_t;

static int nested_cb(const ar_arena_info_t *info, void *ctx) {
  nested_t *n = (nested_t *)ctx;
  if (n->parked) {
    n->after++;
    return 0;
  }
  if (strcmp(info->name, n->victim) != 0) return 0;
  n->parked = true;
  ar_global_stats_t g;
  if (ar_stats_global(&g) != AR_OK) n->nested_count = -1;
  int c = 0;
  if (ar_registry_foreach(count_entries, &c) == 0) n->nested_count = c;
  /* Still inside the walk's section, and liburcu still counts this thread as a reader. */
  n->still_reading = ar_rcu_in_read_section_() && rcu_read_ongoing();
  stage_set(&n->st, 1);
  if (!stage_wait(&n->st, 2)) n->timed_out = true;
  /* The arena is gone; its entry must not be: read it again, then walk on past it. */
  snprintf(n->seen, sizeof n->seen, "%s", info->name);
  return 0;
}

static void *nested_reader(void *arg) {
  nested_t *n = (nested_t *)arg;
  ar_registry_foreach(nested_cb, n);
  return NULL;
}

/* A reader's callback runs ar_stats_global and a nested foreach, then parks; the test thread
 * destroys the arena whose entry the reader holds and allocates fresh entries (which, were the
 * old one freed, would reuse its memory). The reader then re-reads the entry's name and walks
 * on. Before nesting, the inner section's end took the thread offline, the destroy freed the
 * entry at once, and this was a heap-use-after-free (ASan) or a wrong name (release). */
static void test_nested_queries_keep_entry_alive(void **state) {
  (void)state;
  nested_t n;
  memset(&n, 0, sizeof n);
  stage_init(&n.st);
  n.victim = "nested-victim";
  ar_concurrent_t *other = named_concurrent("nested-older"); /* listed after the victim */
  ar_concurrent_t *victim = named_concurrent(n.victim);
  pthread_t r;
  assert_int_equal(pthread_create(&r, NULL, nested_reader, &n), 0);
  bool parked = stage_wait(&n.st, 1);
  uint64_t pending = ar_rcu_pending_();
  ar_concurrent_destroy(victim);
  /* Give a wrongly finished grace period time to free the entry (up to 0.5 s; with the
   * reader still in its section the entry stays pending and this runs the whole time). */
  for (int i = 0; i < 50 && ar_rcu_pending_() > pending; i++) usleep(10000);
  ar_concurrent_t *fresh[8];
  for (int i = 0; i < 8; i++) fresh[i] = named_concurrent("nested-overwrite");
  stage_set(&n.st, 2);
  pthread_join(r, NULL);
  for (int i = 0; i < 8; i++) ar_concurrent_destroy(fresh[i]);
  ar_concurrent_destroy(other);
  stage_fini(&n.st);
  assert_true(parked);
  assert_true(n.still_reading);
  assert_false(n.timed_out); /* the destroy did not wait for the parked reader */
  assert_true(n.nested_count >= 2);
  assert_string_equal(n.seen, "nested-victim");
  assert_true(n.after >= 1); /* the walk went on past the destroyed entry */
}

/* ---- (b) readers never block writers ---------------------------------------------------- */

typedef struct parked {
  stage_t st; /* 1: reader parked; 2: writers done */
  bool timed_out;
  bool once;
  int visited;
} parked_t;

static int park_cb(const ar_arena_info_t *info, void *ctx) {
  parked_t *p = (parked_t *)ctx;
  (void)info;
  p->visited++;
  if (!p->once) {
    p->once = true;
    stage_set(&p->st, 1);
    if (!stage_wait(&p->st, 2)) p->timed_out = true;
  }
  return 0;
}

static void *park_reader(void *arg) {
  parked_t *p = (parked_t *)arg;
  ar_registry_foreach(park_cb, p);
  return NULL;
}

typedef struct exiter {
  stage_t *st; /* the thread exits once this reaches 1 */
  bool made;
} exiter_t;

static void *thread_arena_user(void *arg) {
  exiter_t *e = (exiter_t *)arg;
  ar_arena_t *a = ar_thread_arena();
  e->made = a != NULL && ar_alloc(a, 100) != NULL;
  stage_wait(e->st, 1);
  return NULL; /* the thread arena is destroyed on the way out */
}

/* A reader parks in its callback. Meanwhile the test thread destroys a ConcurrentArena and a
 * pooled serial arena, trims an arena pool, and joins a thread whose thread arena is destroyed
 * at its exit; only then does it release the reader. When destroy waited for a grace period
 * this deadlocked until the reader's bounded wait ran out (the test then fails). */
static void test_readers_do_not_block_writers(void **state) {
  (void)state;
  parked_t p;
  memset(&p, 0, sizeof p);
  stage_init(&p.st);
  stage_t go;
  stage_init(&go);
  exiter_t e = {&go, false};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, thread_arena_user, &e), 0);
  ar_concurrent_t *c = named_concurrent("block-concurrent");
  ar_arena_pool_t *pool = ar_arena_pool_create(NULL);
  assert_non_null(pool);
  ar_arena_t *taken = ar_arena_pool_take(pool);
  ar_arena_t *idle = ar_arena_pool_take(pool);
  assert_non_null(taken);
  assert_non_null(idle);
  assert_int_equal(ar_arena_pool_give(pool, idle), AR_OK);

  pthread_t r;
  assert_int_equal(pthread_create(&r, NULL, park_reader, &p), 0);
  bool parked = stage_wait(&p.st, 1);
  ar_concurrent_destroy(c);
  ar_arena_destroy(taken);
  size_t trimmed = ar_arena_pool_trim(pool, true);
  stage_set(&go, 1);
  pthread_join(t, NULL); /* its thread arena is destroyed before the join returns */
  bool reader_still_parked = !p.timed_out;
  stage_set(&p.st, 2);
  pthread_join(r, NULL);
  ar_arena_pool_destroy(pool);
  stage_fini(&p.st);
  stage_fini(&go);
  assert_true(parked);
  assert_true(e.made);
  assert_int_equal(trimmed, 1);
  assert_true(reader_still_parked); /* every destroy above returned while it was parked */
  assert_false(p.timed_out);
}

/* ---- (c) a callback creates and destroys arenas ----------------------------------------- */

typedef struct selfdestroy {
  ar_concurrent_t *target[3];
  const char *names[3];
  int destroyed;
  int mismatched;
  int created;
  ar_concurrent_t *made;
} selfdestroy_t;

static int destroy_cb(const ar_arena_info_t *info, void *ctx) {
  selfdestroy_t *s = (selfdestroy_t *)ctx;
  for (int i = 0; i < 3; i++) {
    if (s->target[i] == NULL || strcmp(info->name, s->names[i]) != 0) continue;
    ar_concurrent_destroy(s->target[i]); /* the arena of the entry being visited */
    s->target[i] = NULL;
    s->destroyed++;
    if (strcmp(info->name, s->names[i]) != 0) s->mismatched++; /* the entry is still valid */
    if (s->made == NULL) {
      ar_options_t o = AR_OPTIONS_INIT;
      o.name = "self-made";
      s->made = ar_concurrent_create(&o); /* listed ahead of the walk: not visited */
      if (s->made != NULL) s->created++;
    }
  }
  return 0;
}

/* The callback destroys the arena of the entry it is visiting (three of them, adjacent in
 * the list) and creates one. Before, each destroy freed the entry under the walk. */
static void test_destroy_inside_callback(void **state) {
  (void)state;
  selfdestroy_t s;
  memset(&s, 0, sizeof s);
  s.names[0] = "self-0";
  s.names[1] = "self-1";
  s.names[2] = "self-2";
  for (int i = 0; i < 3; i++) s.target[i] = named_concurrent(s.names[i]);
  ar_global_stats_t before, after;
  assert_int_equal(ar_stats_global(&before), AR_OK);
  assert_int_equal(ar_registry_foreach(destroy_cb, &s), 0);
  assert_int_equal(ar_stats_global(&after), AR_OK);
  assert_int_equal(s.destroyed, 3);
  assert_int_equal(s.mismatched, 0);
  assert_int_equal(s.created, 1);
  assert_int_equal(after.registered, before.registered - 2);
  ar_concurrent_destroy(s.made);
}

/* ---- grace periods inside a read section ------------------------------------------------ */

static int sync_cb(const ar_arena_info_t *info, void *ctx) {
  (void)info;
  (void)ctx;
  ar_rcu_synchronize(); /* e.g. what ar_numa_reload does */
  return 1;
}

static void sync_in_walk(void *arg) {
  (void)arg;
  alarm(WAIT_S); /* a deadlock ends the child (SIGALRM), it does not hang the test */
  ar_concurrent_t *c = named_concurrent("sync-in-walk");
  ar_registry_foreach(sync_cb, NULL);
  ar_concurrent_destroy(c);
}

static void barrier_in_section(void *arg) {
  (void)arg;
  alarm(WAIT_S);
  ar_rcu_read_begin();
  ar_rcu_read_begin();
  ar_rcu_read_end(); /* still inside the outer section */
  ar_rcu_barrier();
}

static void test_grace_period_inside_section_is_fatal(void **state) {
  (void)state;
  char err[4096];
  int status = child_run(sync_in_walk, NULL, err, sizeof err);
  assert_true(child_aborted(status));
  assert_non_null(strstr(err, "inside an RCU read section"));
  status = child_run(barrier_in_section, NULL, err, sizeof err);
  assert_true(child_aborted(status));
  assert_non_null(strstr(err, "inside an RCU read section"));
}

/* ---- reclamation ------------------------------------------------------------------------ */

static void churn(int n) {
  for (int i = 0; i < n; i++) ar_concurrent_destroy(named_concurrent("churn"));
}

/* Entries unlinked by destroy are freed once no reader can hold them: after ar_rcu_barrier
 * nothing destroyed before it is still waiting. */
static void test_unlinked_entries_are_reclaimed(void **state) {
  (void)state;
  churn(100);
  ar_rcu_barrier();
  assert_int_equal(ar_rcu_pending_(), 0);
  /* A read section that is open while arenas are destroyed delays reclamation, nothing else. */
  ar_rcu_read_begin();
  churn(10);
  assert_true(ar_rcu_pending_() >= 10);
  ar_rcu_read_end();
  ar_rcu_barrier();
  assert_int_equal(ar_rcu_pending_(), 0);
}

static void reclaim_in_child(void *arg) {
  (void)arg;
  alarm(WAIT_S); /* a reclaimer that never runs ends the child, it does not hang the test */
  churn(10);
  ar_rcu_barrier();
  if (ar_rcu_pending_() != 0) {
    fprintf(stderr, "%llu entries not reclaimed\n", (unsigned long long)ar_rcu_pending_());
    _exit(3);
  }
}

/* The reclaimer thread does not survive fork(); the child starts its own. fork stops the
 * parent's reclaimer first, so this process (no other threads) forks single-threaded: under
 * ThreadSanitizer, a child of a multithreaded fork that starts a thread (the child's
 * reclaimer here) is killed. */
static void test_reclaim_after_fork(void **state) {
  (void)state;
  churn(10); /* the parent's reclaimer runs, likely still in its grace period */
  char err[4096];
  int status = child_run(reclaim_in_child, NULL, err, sizeof err);
  if (!child_exited(status, 0)) fail_msg("child status %d: %s", status, err);
  ar_rcu_barrier();
}

/* A child forked while another thread is inside a walk can never complete a grace period
 * (liburcu's copy of that reader stays online). Its destroys must still return, and so must
 * its own forks: the child must not start a reclaimer that would wait forever and that its
 * next fork would then join. */
static void destroy_and_fork_in_child(void *arg) {
  alarm(WAIT_S); /* a hang ends the child (SIGALRM) instead of the test */
  ar_concurrent_destroy((ar_concurrent_t *)arg);
  /* Time for a reclaimer, had one been started, to take the entry and enter its endless grace
   * period (it is not an assertion: nothing here may depend on it). */
  usleep(200 * 1000);
  pid_t g = fork();
  if (g < 0) _exit(4);
  if (g == 0) _exit(0);
  int st;
  if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) _exit(5);
  if (ar_rcu_pending_() == 0) _exit(6); /* nothing can have been freed here */
  _exit(0);
}

static void test_fork_during_walk(void **state) {
  (void)state;
  ar_concurrent_t *victim = named_concurrent("fork-victim");
  parked_t p;
  memset(&p, 0, sizeof p);
  stage_init(&p.st);
  pthread_t r;
  assert_int_equal(pthread_create(&r, NULL, park_reader, &p), 0);
  bool parked = stage_wait(&p.st, 1);
  char err[4096];
  int status = parked ? child_run(destroy_and_fork_in_child, victim, err, sizeof err) : -1;
  stage_set(&p.st, 2);
  pthread_join(r, NULL);
  stage_fini(&p.st);
  ar_concurrent_destroy(victim); /* the parent's copy: the child destroyed its own */
  assert_true(parked);
  if (!child_exited(status, 0)) fail_msg("child status %d: %s", status, err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nested_queries_keep_entry_alive),
      cmocka_unit_test(test_readers_do_not_block_writers),
      cmocka_unit_test(test_destroy_inside_callback),
      cmocka_unit_test(test_grace_period_inside_section_is_fatal),
      cmocka_unit_test(test_unlinked_entries_are_reclaimed),
      cmocka_unit_test(test_reclaim_after_fork),
      cmocka_unit_test(test_fork_during_walk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
