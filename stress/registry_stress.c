/* SPDX-License-Identifier: MIT */
/*
 * stress/registry_stress.c - scenario 4: registry readers against writers.
 *
 * Reader threads walk the registry (ar_registry_foreach and ar_stats_global) in a loop while
 * writer threads create and destroy ConcurrentArenas (each allocating a little so its entry's
 * capacity mirror moves) and pooled serial arenas, and short-lived threads create and drop
 * thread arenas. Readers check what they see is sane (known kinds, unique ids in one walk, a
 * name, bounded capacity). At the end the registry holds exactly what it held before.
 * Unlinked entries are freed only after an RCU grace period, so readers never touch freed
 * memory (ASan/TSan would say).
 *
 * The readers' callbacks also make nested queries, as stats.h allows: ar_stats_global for
 * every entry and a nested ar_registry_foreach for some, then look at the entry again; some
 * create and destroy an arena from inside the walk (which must neither deadlock nor free
 * anything the walk still holds). A
 * nested read section must not end the outer one; when it did, a writer freed the entry under
 * the walk (ASan: heap-use-after-free in the walk; release builds: garbage or a crash).
 */
#include <arenart.h>

#include "stress/stress.h"

#define READERS 2
#define WRITERS 2

static _Atomic(int) stop;
static _Atomic(long) walks[READERS];

/* True once every reader has finished a walk. Writers keep going until then, so the check
 * that readers made progress under concurrent writers cannot fail just because the scheduler
 * ran the (short) writers to the end before a reader got the CPU. */
static bool readers_walked(void) {
  for (int i = 0; i < READERS; i++)
    if (atomic_load_explicit(&walks[i], memory_order_relaxed) == 0) return false;
  return true;
}

typedef struct walk {
  uint64_t ids[4096];
  size_t n;
} walk_t;

static int count_entry(const ar_arena_info_t *info, void *ctx) {
  CHECK(info->name != NULL && strnlen(info->name, 32) < 32, "nested walk: name");
  (*(long *)ctx)++;
  return 0;
}

static int visit(const ar_arena_info_t *info, void *ctx) {
  walk_t *w = (walk_t *)ctx;
  CHECK(info->kind >= AR_KIND_THREAD && info->kind <= AR_KIND_NODE, "kind %d", info->kind);
  CHECK(info->name != NULL, "name");
  CHECK(info->capacity < ((size_t)1 << 40), "capacity %zu", info->capacity);
  char name[32];
  snprintf(name, sizeof name, "%s", info->name);
  /* Nested read sections, then the same entry again: it must not have been freed meanwhile. */
  ar_global_stats_t g;
  CHECK(ar_stats_global(&g) == AR_OK, "nested stats");
  if (w->n % 4 == 0) {
    long nested = 0;
    CHECK(ar_registry_foreach(count_entry, &nested) == 0, "nested foreach");
  }
  if (w->n % 16 == 0) {
    /* Readers may write too: create and destroy an arena from inside the walk. */
    ar_options_t o = AR_OPTIONS_INIT;
    o.name = "in-walk";
    ar_concurrent_t *c = ar_concurrent_create(&o);
    CHECK(c != NULL, "create in walk");
    ar_concurrent_destroy(c);
  }
  CHECK(strcmp(name, info->name) == 0, "entry changed under the walk: '%s' -> '%.31s'", name,
        info->name);
  for (size_t i = 0; i < w->n; i++) CHECK(w->ids[i] != info->id, "id seen twice in one walk");
  if (w->n < 4096) w->ids[w->n++] = info->id;
  return 0;
}

static void *reader(void *arg) {
  _Atomic(long) *nwalks = (_Atomic(long) *)arg;
  static _Thread_local walk_t w;
  while (!atomic_load(&stop)) {
    w.n = 0;
    CHECK(ar_registry_foreach(visit, &w) == 0, "foreach");
    ar_global_stats_t g;
    CHECK(ar_stats_global(&g) == AR_OK, "stats");
    CHECK(g.arenas_live <= g.arenas_created, "live > created");
    atomic_fetch_add_explicit(nwalks, 1, memory_order_relaxed); /* a count, nothing published */
  }
  return NULL;
}

static void *thread_user(void *arg) {
  (void)arg;
  ar_arena_t *a = ar_thread_arena();
  CHECK(a != NULL && ar_alloc(a, 100) != NULL, "thread arena");
  return NULL;
}

static void *writer(void *arg) {
  long *made = (long *)arg;
  ar_arena_pool_t *pool = ar_arena_pool_create(NULL);
  CHECK(pool != NULL, "arena pool");
  for (long i = 0; (i < stress_iters(300) && stress_time_left()) || !readers_walked(); i++) {
    ar_options_t o = AR_OPTIONS_INIT;
    o.name = "writer";
    ar_concurrent_t *c = ar_concurrent_create(&o);
    CHECK(c != NULL, "create");
    CHECK(ar_concurrent_alloc(c, 64) != NULL, "alloc");
    if (i % 10 == 0) {
      pthread_t t;
      pthread_create(&t, NULL, thread_user, NULL);
      pthread_join(t, NULL);
    }
    ar_arena_t *a = ar_arena_pool_take(pool); /* a listed serial arena */
    CHECK(a != NULL && ar_alloc(a, 64) != NULL, "pooled arena");
    ar_concurrent_destroy(c);
    ar_arena_destroy(a);
    (*made)++;
  }
  ar_arena_pool_destroy(pool);
  return NULL;
}

int main(int argc, char **argv) {
  stress_init(argc, argv, 2.0);
  ar_global_stats_t before, after;
  ar_stats_global(&before);
  pthread_t r[READERS], w[WRITERS];
  long made[WRITERS] = {0};
  for (int i = 0; i < READERS; i++) pthread_create(&r[i], NULL, reader, &walks[i]);
  for (int i = 0; i < WRITERS; i++) pthread_create(&w[i], NULL, writer, &made[i]);
  for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
  atomic_store(&stop, 1);
  for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
  ar_stats_global(&after);
  CHECK(after.registered == before.registered, "registry %llu -> %llu",
        (unsigned long long)before.registered, (unsigned long long)after.registered);
  CHECK(after.arenas_live == before.arenas_live, "live %llu -> %llu",
        (unsigned long long)before.arenas_live, (unsigned long long)after.arenas_live);
  CHECK(after.arenas_created >= before.arenas_created + 2 * (uint64_t)(made[0] + made[1]),
        "created count");
  long w0 = atomic_load(&walks[0]), w1 = atomic_load(&walks[1]);
  CHECK(w0 > 0 && w1 > 0, "readers made progress");
  printf("registry: %ld+%ld arenas created/destroyed under %ld+%ld concurrent walks; "
         "registry back to %llu entries\n",
         made[0], made[1], w0, w1, (unsigned long long)after.registered);
  return 0;
}
