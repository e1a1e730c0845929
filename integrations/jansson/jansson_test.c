/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/jansson_test.c - jansson through the arenart hooks.
 *
 * Each test runs real jansson work (parse, build, modify, dump, arrays and strings that grow)
 * and checks two things: the JSON that comes out is right, and the memory went where the
 * hooks promise (malloc outside scopes, the thread arena inside, recycled on json_decref,
 * gone at scope end, left alone when freed on another thread or too late). The counters of
 * ar_hooks_thread_stats and the thread arena's own ar_stats_t are the witnesses. The late
 * free runs in a forked child whose stderr must carry the report (the debug line, or ASan's
 * report under --config=asan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arenart.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "integrations/jansson/arenart_jansson.h"
#include "integrations/jansson/late_check.h"
#include "tests/child.h"

static const char *k_doc =
    "{\"id\": 42, \"name\": \"widget\", \"tags\": [\"a\", \"bb\", \"ccc\"],"
    " \"price\": 12.5, \"dims\": {\"w\": 3, \"h\": 4}, \"ok\": true, \"none\": null}";

static json_t *parse(const char *text) {
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  if (j == NULL) fprintf(stderr, "parse error: %s (line %d)\n", err.text, err.line);
  assert_non_null(j);
  return j;
}

static void assert_dump(const json_t *j, const char *want) {
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  assert_non_null(s);
  assert_string_equal(s, want);
  ar_hooks_free(s); /* json_dumps memory comes from the hooks too: free it through them */
}

static int setup(void **state) {
  (void)state;
  assert_int_equal(ar_jansson_install(), 0);
  return 0;
}

/* ---- outside any scope: malloc ---------------------------------------------------------- */

static void test_outside_scope_uses_malloc(void **state) {
  (void)state;
  assert_int_equal(ar_scope_depth(), 0u);
  assert_non_null(ar_thread_arena()); /* exists, so allocations on it would be counted */
  ar_scope_stats_t before_scope;
  assert_int_equal(ar_scope_stats(&before_scope), AR_OK);
  ar_hooks_stats_t s0 = stats();
  json_t *j = parse(k_doc);
  json_object_set_new(j, "extra", json_string("outside"));
  ar_hooks_stats_t s1 = stats();
  assert_true(s1.malloc_allocs > s0.malloc_allocs);
  assert_int_equal(s1.arena_allocs, s0.arena_allocs);
  json_decref(j);
  ar_hooks_stats_t s2 = stats();
  /* every malloc block went back to malloc */
  assert_int_equal(s2.malloc_frees - s0.malloc_frees, s2.malloc_allocs - s0.malloc_allocs);
  ar_scope_stats_t after_scope;
  assert_int_equal(ar_scope_stats(&after_scope), AR_OK);
  assert_int_equal(after_scope.outside_allocs, before_scope.outside_allocs);
}

/* ---- inside a scope: parse, build, modify, dump ------------------------------------------ */

static void test_scope_parse_build_modify_dump(void **state) {
  (void)state;
  size_t used0 = arena_used();
  ar_hooks_stats_t s0 = stats();
  ar_scope_t sc = ar_scope_begin();
  json_t *j = parse(k_doc);
  json_object_set_new(j, "id", json_integer(43));
  json_array_append_new(json_object_get(j, "tags"), json_string("dddd"));
  json_object_del(j, "none");
  json_t *dims = json_object_get(j, "dims");
  json_object_set_new(dims, "d", json_real(0.25));
  json_t *reply = json_pack("{s:O, s:i}", "item", j, "count", 1);
  assert_non_null(reply);
  assert_dump(reply, "{\"count\":1,\"item\":{\"dims\":{\"d\":0.25,\"h\":4,\"w\":3},\"id\":43,"
                     "\"name\":\"widget\",\"ok\":true,\"price\":12.5,"
                     "\"tags\":[\"a\",\"bb\",\"ccc\",\"dddd\"]}}");
  ar_hooks_stats_t s1 = stats();
  assert_int_equal(s1.malloc_allocs, s0.malloc_allocs); /* nothing from malloc in a scope */
  assert_true(s1.arena_allocs > s0.arena_allocs);
  assert_true(s1.arena_frees > s0.arena_frees); /* json_object_del, replaced id, dumps */
  assert_int_equal(s1.live_scopes, 1u);
  assert_true(arena_used() > used0);
  json_decref(reply);
  json_decref(j);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  assert_int_equal(arena_used(), used0);
  assert_int_equal(stats().live_scopes, 0u);
  assert_int_equal(stats().unknown, s0.unknown);
  assert_int_equal(stats().late, s0.late);
}

/* Scope end frees the document without json_decref. */
static void test_scope_end_frees_without_decref(void **state) {
  (void)state;
  size_t used0 = arena_used();
  ar_scope_t sc = ar_scope_begin();
  for (int i = 0; i < 20; i++) parse(k_doc); /* never decref'd */
  assert_true(arena_used() > used0);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  assert_int_equal(arena_used(), used0);
}

/* Growing arrays and strings: jansson grows by malloc + copy + free, so the old blocks must
 * come back (recycled), and the content must survive every move. */
static void test_growth_paths(void **state) {
  (void)state;
  ar_scope_t sc = ar_scope_begin();
  ar_hooks_stats_t s0 = stats();
  json_t *arr = json_array();
  for (int i = 0; i < 5000; i++) assert_int_equal(json_array_append_new(arr, json_integer(i)), 0);
  assert_int_equal(json_array_size(arr), 5000u);
  long long sum = 0;
  for (size_t i = 0; i < json_array_size(arr); i++)
    sum += json_integer_value(json_array_get(arr, i));
  assert_int_equal(sum, 4999LL * 5000 / 2);
  /* A long string through the lexer's growing buffer. */
  size_t n = 20000;
  char *text = malloc(n + 8);
  assert_non_null(text);
  text[0] = '"';
  for (size_t i = 1; i <= n; i++) text[i] = (char)('a' + i % 26);
  text[n + 1] = '"';
  text[n + 2] = '\0';
  json_t *str = json_loads(text, JSON_DECODE_ANY, NULL);
  assert_non_null(str);
  assert_int_equal(json_string_length(str), n);
  assert_memory_equal(json_string_value(str), text + 1, n);
  char *dumped = json_dumps(arr, JSON_COMPACT);
  assert_non_null(dumped);
  assert_int_equal(strncmp(dumped, "[0,1,2,3,", 9), 0);
  ar_hooks_stats_t s1 = stats();
  /* the array's table was moved several times; each old table came back to the arena */
  assert_true(s1.arena_frees - s0.arena_frees >= 8);
  assert_int_equal(s1.malloc_allocs, s0.malloc_allocs);
  free(text);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
}

/* json_decref inside the scope recycles: 500 parse/decref rounds use at most one chunk more
 * than one round, where abandoning the blocks would take 501 rounds' worth (the arena reuses
 * freed blocks once its current chunk is full). Sanitizer builds quarantine freed blocks
 * instead, so there only the counts are checked. */
static void test_decref_recycles(void **state) {
  (void)state;
  ar_scope_t sc = ar_scope_begin();
  size_t used0 = arena_used();
  json_decref(parse(k_doc));
  size_t one = arena_used() - used0;
  ar_hooks_stats_t s0 = stats();
  for (int i = 0; i < 500; i++) json_decref(parse(k_doc));
  ar_hooks_stats_t s1 = stats();
  assert_int_equal(s1.arena_frees - s0.arena_frees, s1.arena_allocs - s0.arena_allocs);
  size_t grown = arena_used() - used0;
  if (s1.small_lists) { /* a checking arena never reuses a freed block (see the header) */
    assert_true(grown <= AR_DEFAULT_CHUNK_SIZE + 4 * one);
    assert_true(grown < 501 * one / 4);
  }
  assert_int_equal(ar_scope_end(&sc), AR_OK);
}

/* A freed small block serves the next request of the same footprint in the same scope, also
 * after a deeper scope came and went (not in checking arenas: ASan, checked mode, the heap
 * flavor, where freed blocks stay poisoned or junk-filled). */
static void test_small_block_reuse(void **state) {
  (void)state;
  ar_scope_t sc = ar_scope_begin();
  char *a = ar_hooks_malloc(40);
  char *b = ar_hooks_malloc(40); /* a is no longer the newest block */
  assert_non_null(a);
  assert_non_null(b);
  ar_hooks_free(a);
  char *c = ar_hooks_malloc(36); /* same footprint: 48 bytes with the word */
  int lists = stats().small_lists != 0;
  if (lists) assert_ptr_equal(c, a);
  ar_scope_t inner = ar_scope_begin();
  char *d = ar_hooks_malloc(40); /* the inner scope's first block */
  assert_non_null(d);
  assert_true(d != b);
  assert_int_equal(ar_scope_end(&inner), AR_OK);
  ar_hooks_free(b); /* the outer scope is innermost again */
  char *e = ar_hooks_malloc(40);
  if (lists) assert_ptr_equal(e, b);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
}

/* ---- nested scopes ------------------------------------------------------------------------ */

static void test_nested_scopes(void **state) {
  (void)state;
  size_t used0 = arena_used();
  ar_scope_t outer = ar_scope_begin();
  json_t *doc = parse(k_doc);
  ar_hooks_stats_t s0 = stats();
  ar_scope_t inner = ar_scope_begin();
  json_t *tmp = parse(k_doc);
  assert_int_equal(stats().live_scopes, 2u);
  json_decref(tmp); /* the inner scope's own blocks: recycled */
  ar_hooks_stats_t s1 = stats();
  assert_true(s1.arena_frees > s0.arena_frees);
  /* An outer object freed while the inner scope is open: left to the outer scope. */
  json_object_del(doc, "tags");
  ar_hooks_stats_t s2 = stats();
  assert_true(s2.abandoned > s1.abandoned);
  assert_int_equal(s2.arena_frees, s1.arena_frees);
  assert_int_equal(ar_scope_end(&inner), AR_OK);
  assert_int_equal(stats().live_scopes, 1u);
  /* The outer document is intact after the inner scope ended. */
  assert_dump(doc, "{\"dims\":{\"h\":4,\"w\":3},\"id\":42,\"name\":\"widget\",\"none\":null,"
                   "\"ok\":true,\"price\":12.5}");
  json_decref(doc);
  assert_int_equal(ar_scope_end(&outer), AR_OK);
  assert_int_equal(arena_used(), used0);
  assert_int_equal(stats().live_scopes, 0u);
}

/* Ending the outer scope ends the inner one too; the hooks follow. */
static void test_outer_end_closes_inner(void **state) {
  (void)state;
  ar_scope_t outer = ar_scope_begin();
  parse(k_doc);
  ar_scope_t inner = ar_scope_begin();
  parse(k_doc);
  assert_int_equal(stats().live_scopes, 2u);
  assert_int_equal(ar_scope_end(&outer), AR_OK);
  assert_int_equal(stats().live_scopes, 0u);
  (void)inner;
  /* A new scope afterwards works as usual. */
  ar_scope_t again = ar_scope_begin();
  json_t *j = parse(k_doc);
  assert_int_equal(json_integer_value(json_object_get(j, "id")), 42);
  assert_int_equal(stats().live_scopes, 1u);
  assert_int_equal(ar_scope_end(&again), AR_OK);
}

/* ---- another thread frees ------------------------------------------------------------------ */

typedef struct {
  json_t *obj;
  ar_hooks_stats_t st;
  char *dump;
} handoff_t;

static void *decref_on_thread(void *arg) {
  handoff_t *h = arg;
  h->dump = json_dumps(h->obj, JSON_COMPACT | JSON_SORT_KEYS); /* malloc: no scope here */
  json_decref(h->obj);
  ar_hooks_thread_stats(&h->st);
  return NULL;
}

static void test_foreign_thread_free(void **state) {
  (void)state;
  size_t used0 = arena_used();
  ar_scope_t sc = ar_scope_begin();
  handoff_t h = {parse(k_doc), {0}, NULL};
  size_t used1 = arena_used();
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, decref_on_thread, &h), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  /* the other thread gave nothing to any arena and left ours alone */
  assert_true(h.st.foreign > 0);
  assert_int_equal(h.st.arena_frees, 0u);
  assert_int_equal(h.st.unknown, 0u);
  assert_int_equal(h.st.late, 0u);
  assert_int_equal(arena_used(), used1);
  assert_non_null(h.dump);
  assert_int_equal(strncmp(h.dump, "{\"dims\":", 8), 0);
  assert_int_equal(ar_scope_end(&sc), AR_OK); /* takes the abandoned blocks back */
  assert_int_equal(arena_used(), used0);
  ar_hooks_free(h.dump); /* a malloc block from the other thread, freed here */

  /* A malloc object (made outside any scope) freed on another thread goes back to malloc. */
  handoff_t m = {parse(k_doc), {0}, NULL};
  assert_int_equal(pthread_create(&t, NULL, decref_on_thread, &m), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(m.st.malloc_frees > 0);
  assert_int_equal(m.st.foreign, 0u);
  ar_hooks_free(m.dump);
}

/* Inside a scope an arena refusal is a NULL from the hook (no fallback to malloc); big blocks
 * come from malloc and are not counted against limit_bytes. Runs on a new thread, whose arena
 * takes the configured limit. */
typedef struct {
  int small_null;
  ar_error_t err;
  int big_ok;
  ar_hooks_stats_t st, after;
} limit_result_t;

static void *fill_to_limit(void *arg) {
  limit_result_t *r = arg;
  ar_scope_t sc = ar_scope_begin();
  for (int i = 0; i < 100000 && !r->small_null; i++) {
    if (ar_hooks_malloc(200) == NULL) {
      r->small_null = 1;
      r->err = ar_last_error();
    }
  }
  char *big = ar_hooks_malloc(64 * 1024);
  r->big_ok = big != NULL;
  ar_hooks_thread_stats(&r->st);
  ar_scope_end(&sc); /* frees the big block too */
  ar_hooks_thread_stats(&r->after);
  return NULL;
}

static void test_limit_returns_null(void **state) {
  (void)state;
  ar_options_t o;
  ar_options_init(&o);
  o.limit_bytes = 256 * 1024;
  assert_int_equal(ar_thread_arena_configure(&o), AR_OK);
  limit_result_t r = {0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, fill_to_limit, &r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(ar_thread_arena_configure(NULL), AR_OK);
  assert_true(r.small_null);
  assert_int_equal(r.err, AR_ELIMIT);
  assert_int_equal(r.st.malloc_allocs, 0u);
  assert_true(r.big_ok);
  assert_int_equal(r.st.big_allocs, 1u);
  assert_int_equal(r.st.big_frees, 0u);
  assert_int_equal(r.after.big_frees, 1u);
}

/* ---- the hooks' realloc, directly (jansson itself has no realloc hook) -------------------- */

static void test_hooks_realloc(void **state) {
  (void)state;
  ar_scope_t sc = ar_scope_begin();
  ar_hooks_stats_t s0 = stats();
  char *p = ar_hooks_malloc(10);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % 8, 0u);
  memcpy(p, "abcdefghij", 10);
  char *q = ar_hooks_realloc(p, 4000); /* the newest block: grows in place */
  assert_non_null(q);
  ar_hooks_stats_t s1 = stats();
  if (s1.small_lists) { /* an arena that packs blocks back to back grows the newest in place */
    assert_ptr_equal(q, p);
    assert_int_equal(s1.in_place - s0.in_place, 1u);
  }
  assert_memory_equal(q, "abcdefghij", 10);
  char *other = ar_hooks_malloc(32); /* now q is not the newest: it moves */
  assert_non_null(other);
  char *r = ar_hooks_realloc(q, 9000);
  assert_non_null(r);
  assert_memory_equal(r, "abcdefghij", 10);
  /* an outer block resized inside an inner scope: copied into the inner scope, old one
   * left to the outer scope */
  ar_scope_t inner = ar_scope_begin();
  char *moved = ar_hooks_realloc(other, 64);
  assert_non_null(moved);
  assert_true(moved != other);
  assert_true(stats().abandoned > s1.abandoned);
  ar_hooks_free(moved);
  assert_int_equal(ar_scope_end(&inner), AR_OK);
  ar_hooks_free(r);
  assert_int_equal(ar_scope_end(&sc), AR_OK);

  /* a malloc block stays a malloc block */
  ar_hooks_stats_t s2 = stats();
  char *m = ar_hooks_malloc(5);
  memcpy(m, "hello", 5);
  m = ar_hooks_realloc(m, 100000);
  assert_non_null(m);
  assert_memory_equal(m, "hello", 5);
  ar_hooks_free(m);
  ar_hooks_stats_t s3 = stats();
  assert_int_equal(s3.malloc_allocs - s2.malloc_allocs, 1u);
  assert_int_equal(s3.malloc_frees - s2.malloc_frees, 1u);
  /* strdup */
  char *d = ar_hooks_strdup("copy me");
  assert_string_equal(d, "copy me");
  ar_hooks_free(d);
  assert_null(ar_hooks_strdup(NULL));
}

/* Blocks of AR_HOOKS_BIG_BYTES or more come from malloc, listed with their scope: freed by
 * ar_hooks_free (from any scope of this thread that is still live), or at the latest by the
 * scope's end (LeakSanitizer, under --config=asan, would report one that is not). */
static void test_big_blocks(void **state) {
  (void)state;
  size_t used0 = arena_used();
  ar_hooks_stats_t s0 = stats();
  ar_scope_t sc = ar_scope_begin();
  size_t n = 100000;
  char *p = ar_hooks_malloc(n);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % 16, 0u);
  memset(p, 7, n);
  char *kept = ar_hooks_malloc(AR_HOOKS_BIG_BYTES); /* never freed by hand */
  assert_non_null(kept);
  ar_hooks_stats_t s1 = stats();
  assert_int_equal(s1.big_allocs - s0.big_allocs, 2u);
  assert_int_equal(s1.malloc_allocs, s0.malloc_allocs);
  assert_true(arena_used() < used0 + 1024); /* not in the arena (only the scope's record) */
  char *q = ar_hooks_realloc(p, 3 * n);     /* stays a big block of this scope */
  assert_non_null(q);
  assert_int_equal(q[0], 7);
  assert_int_equal(q[n - 1], 7);
  char *r = ar_hooks_realloc(q, 100); /* shrinking: still big, content kept */
  assert_non_null(r);
  assert_int_equal(r[99], 7);
  /* an outer scope's big block freed in an inner scope is freed at once */
  ar_scope_t inner = ar_scope_begin();
  ar_hooks_free(r);
  assert_int_equal(stats().big_frees - s0.big_frees, 1u);
  assert_int_equal(stats().abandoned, s0.abandoned);
  assert_int_equal(ar_scope_end(&inner), AR_OK);
  /* an arena block growing past the threshold becomes a big block */
  char *g = ar_hooks_malloc(64);
  assert_non_null(g);
  memcpy(g, "grow", 4);
  g = ar_hooks_realloc(g, 2 * AR_HOOKS_BIG_BYTES);
  assert_non_null(g);
  assert_memory_equal(g, "grow", 4);
  assert_int_equal(stats().big_allocs - s0.big_allocs, 3u);
  assert_int_equal(ar_scope_end(&sc), AR_OK); /* frees `kept` and `g` */
  ar_hooks_stats_t s2 = stats();
  assert_int_equal(s2.big_frees - s0.big_frees, 3u);
  assert_int_equal(arena_used(), used0);
}

/* Spares (see "Big blocks" in arenart_hooks.h): where the small-block lists are used, a big
 * block of 32 KiB or more still listed at a scope's end is kept for a later big request of
 * the thread that holds it and is at most twice its size. Run on a thread of its own, so that
 * the thread's exit, with a spare held, frees it (LeakSanitizer and valgrind would see it);
 * the thread records, the test asserts (cmocka's failures jump on the test's own thread). */
typedef struct spare_result {
  bool lists;       /* the thread's arena uses the small-block lists (and spares) */
  bool all_ok;      /* every allocation succeeded, contents kept across the realloc */
  bool small_other; /* a request under half the spare's size got another block */
  bool reused;      /* a request of at least half its size got the spare */
} spare_result_t;

static void *spare_thread(void *arg) {
  spare_result_t *r = arg;
  ar_scope_t s1 = ar_scope_begin();
  char *p = ar_hooks_malloc(64 * 1024);
  r->all_ok = p != NULL;
  if (p != NULL) memset(p, 1, 64 * 1024);
  ar_hooks_stats_t st;
  ar_hooks_thread_stats(&st);
  r->lists = st.small_lists == 1;
  r->all_ok &= ar_scope_end(&s1) == AR_OK;
  ar_scope_t s2 = ar_scope_begin();
  char *small = ar_hooks_malloc(16 * 1024);
  char *q = ar_hooks_malloc(40 * 1024);
  r->all_ok &= small != NULL && q != NULL;
  r->small_other = small != p;
  r->reused = q == p;
  if (q != NULL) {
    memset(q, 2, 40 * 1024);
    q = ar_hooks_realloc(q, 200 * 1024); /* still a big block of s2, whatever it came from */
    r->all_ok &= q != NULL && q[40 * 1024 - 1] == 2;
  }
  r->all_ok &= ar_scope_end(&s2) == AR_OK;
  ar_scope_t s3 = ar_scope_begin(); /* this one is held across the thread's exit */
  r->all_ok &= ar_hooks_malloc(150 * 1024) != NULL;
  r->all_ok &= ar_scope_end(&s3) == AR_OK;
  return NULL;
}

static void test_spare_big_blocks(void **state) {
  (void)state;
  spare_result_t r = {0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, spare_thread, &r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(r.all_ok);
  /* Elsewhere (ASan, the checking arenas) no spare is kept, the block goes back to malloc,
   * which may give its address to either request, so nothing is asserted about them. */
  if (r.lists) {
    assert_true(r.small_other);
    assert_true(r.reused);
  }
}

/* ---- late free: reported ---------------------------------------------------------------- */

/* Runs fn in a forked child with stderr captured into buf; returns the wait status. */
/* The report a late free must produce in a child: under ASan, a use of poisoned memory (the
 * scope's memory is poisoned when the scope ends) naming `frame`; otherwise the late count,
 * and in AR_DEBUG builds one AR_HOOKS_LATE_PREFIX line for the scope. */
static void expect_late_report(void (*fn)(void *), const char *frame) {
  char buf[16384];
  int status = child_run(fn, NULL, buf, sizeof buf);
  if (status == -1) fail_msg("%s", buf); /* the pipe or the fork failed */
  expect_late_outcome(status, buf, frame);
}

static void print_late(void) {
  ar_hooks_stats_t s;
  ar_hooks_thread_stats(&s);
  fprintf(stderr, "late=%llu unknown=%llu lists=%u\n", (unsigned long long)s.late,
          (unsigned long long)s.unknown, s.small_lists);
}

/* json_decref of a document whose scope has ended. Under ASan the first touch is jansson's
 * inline refcount decrement in json_decref (jansson.h, compiled into the caller). */
static void late_decref(void *arg) {
  (void)arg;
  ar_scope_t sc = ar_scope_begin();
  json_t *j = json_loads(k_doc, 0, NULL);
  if (j == NULL) _exit(3);
  ar_scope_end(&sc);
  json_decref(j); /* every block of j belongs to a scope that has ended */
  print_late();
}

/* The hooks' own free of a block whose scope has ended: caught at the read of its word. */
static void late_hooks_free(void *arg) {
  (void)arg;
  ar_scope_t sc = ar_scope_begin();
  char *a = ar_hooks_malloc(40), *b = ar_hooks_malloc(24);
  if (a == NULL || b == NULL) _exit(3);
  ar_scope_end(&sc);
  ar_hooks_free(a);
  ar_hooks_free(b);
  print_late();
}

static void test_late_free_reported(void **state) {
  (void)state;
  /* In a checking arena without ASan (checked mode junk-fills the scope's memory at its end),
   * jansson's own json_decref reads a junk refcount and frees nothing, so only the hooks'
   * direct free is checked there. */
  if (arena_packs() || UNDER_ASAN) expect_late_report(late_decref, "json_decref");
  expect_late_report(late_hooks_free, "ar_hooks_free");
}

/* A pointer that never came from the hooks is left alone (and reported in debug builds). */
static void bogus_free(void *arg) {
  (void)arg;
  char *raw = malloc(64);
  memset(raw, 0x5A, 64);
  ar_hooks_free(raw + 16);
  ar_hooks_stats_t s;
  ar_hooks_thread_stats(&s);
  fprintf(stderr, "unknown=%llu\n", (unsigned long long)s.unknown);
  free(raw);
}

static void test_unknown_pointer(void **state) {
  (void)state;
  char buf[4096];
  int status = child_run(bogus_free, NULL, buf, sizeof buf);
  if (status == -1) fail_msg("%s", buf); /* the pipe or the fork failed */
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_non_null(strstr(buf, "unknown=1"));
#ifndef NDEBUG
  assert_non_null(strstr(buf, AR_HOOKS_UNKNOWN_PREFIX));
#endif
}

static void test_install_rules(void **state) {
  (void)state;
  assert_true(ar_jansson_installed());
  assert_int_equal(ar_jansson_install(), 0); /* again: no change */
  json_malloc_t m;
  json_free_t f;
  json_get_alloc_funcs(&m, &f);
  assert_ptr_equal(m, ar_hooks_malloc);
  assert_ptr_equal(f, ar_hooks_free);
  ar_scope_t sc = ar_scope_begin();
  assert_int_equal(ar_jansson_install(), -1); /* refused in a scope */
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  ar_jansson_uninstall();
  assert_false(ar_jansson_installed());
  json_get_alloc_funcs(&m, &f);
  assert_ptr_equal(m, malloc);
  assert_ptr_equal(f, free);
  assert_int_equal(ar_jansson_install(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outside_scope_uses_malloc),
      cmocka_unit_test(test_scope_parse_build_modify_dump),
      cmocka_unit_test(test_scope_end_frees_without_decref),
      cmocka_unit_test(test_growth_paths),
      cmocka_unit_test(test_decref_recycles),
      cmocka_unit_test(test_small_block_reuse),
      cmocka_unit_test(test_nested_scopes),
      cmocka_unit_test(test_outer_end_closes_inner),
      cmocka_unit_test(test_foreign_thread_free),
      cmocka_unit_test(test_limit_returns_null),
      cmocka_unit_test(test_hooks_realloc),
      cmocka_unit_test(test_big_blocks),
      cmocka_unit_test(test_spare_big_blocks),
      cmocka_unit_test(test_late_free_reported),
      cmocka_unit_test(test_unknown_pointer),
      cmocka_unit_test(test_install_rules),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
