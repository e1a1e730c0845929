/*
 * runtime/thread.c - per-thread arenas and request scopes.
 *
 * Each thread's arena hangs off an initial-exec thread-local pointer (one load to find it)
 * and off a pthread key whose destructor destroys it at thread exit, so its chunks go back to
 * the process-wide chunk pool instead of leaking. Thread arenas are listed in the registry.
 *
 * Scopes are marks: beginning one reads four fields of the thread's own arena, ending one is
 * a rewind, which pops only the chunks the scope used (to the arena's spares within its retain
 * cap, the rest to the pool). No locks, no atomics, no syscalls on either side.
 *
 * Thread contract: ar_thread_arena() and scopes touch only the calling thread's arena.
 * ar_thread_arena_configure() takes a ck spinlock (annotated for TSan in sync.h) because
 * arena creation on other threads reads the options it writes.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "arenart/stats.h"
#include "arenart/thread.h"
#include "runtime/arena_internal.h"
#include "runtime/sync.h"

static __thread ar_arena_t *tls_arena __attribute__((tls_model("initial-exec")));
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static ar_spinlock_t opts_lock = AR_SPINLOCK_INIT;
static ar_options_t thread_opts = AR_OPTIONS_INIT;

static void thread_arena_exit(void *arg) {
  ar_arena_t *a = (ar_arena_t *)arg;
  tls_arena = NULL;
  ar_arena_destroy(a);
}

static void make_key(void) {
  if (pthread_key_create(&arena_key, thread_arena_exit) != 0)
    ar_fatal_("cannot create the thread-arena key");
}

int ar_thread_arena_configure(const ar_options_t *opts) {
  ar_options_t o = AR_OPTIONS_INIT;
  if (opts != NULL) o = *opts;
  if (o.chunk_size != 0 && o.chunk_size < AR_MIN_CHUNK_SIZE) return ar_set_error_(AR_EINVAL);
  ar_spin_lock(&opts_lock);
  thread_opts = o;
  ar_spin_unlock(&opts_lock);
  return AR_OK;
}

static ar_arena_t *thread_arena_create(void) {
  pthread_once(&arena_once, make_key);
  ar_options_t o;
  ar_spin_lock(&opts_lock);
  o = thread_opts;
  ar_spin_unlock(&opts_lock);
  char name[32];
  snprintf(name, sizeof name, "thread-%lx", (unsigned long)pthread_self());
  ar_arena_t *a = ar_arena_create_listed_(&o, AR_KIND_THREAD, name);
  if (a == NULL) return NULL;
  if (pthread_setspecific(arena_key, a) != 0) {
    ar_arena_destroy(a);
    ar_set_error_(AR_ENOMEM);
    return NULL;
  }
  tls_arena = a;
  return a;
}

ar_arena_t *ar_thread_arena(void) {
  ar_arena_t *a = tls_arena;
  if (AR_LIKELY(a != NULL)) return a;
  return thread_arena_create();
}

ar_scope_t ar_scope_begin(void) {
  ar_scope_t s;
  s.arena = ar_thread_arena();
  s.mark = ar_mark(s.arena);
  return s;
}

int ar_scope_end(ar_scope_t *s) {
  if (s == NULL || s->arena == NULL) return ar_set_error_(AR_EINVAL);
  return ar_rewind(s->arena, &s->mark);
}
