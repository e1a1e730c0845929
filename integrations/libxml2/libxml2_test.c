/* SPDX-License-Identifier: MIT */
/*
 * integrations/libxml2/libxml2_test.c - libxml2 through the arenart hooks.
 *
 * Real libxml2 work (parse, add nodes and attributes, grow text with realloc, serialize)
 * checked twice: the XML that comes out is right, and the memory went where the hooks promise
 * (malloc outside scopes, the thread arena inside, realloc in place for the newest block,
 * everything gone at scope end, other threads' frees left alone). A late xmlFreeDoc runs in
 * a forked child whose stderr must carry the report (ASan's under --config=asan, the hooks'
 * debug line otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arenart.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlmemory.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "integrations/libxml2/arenart_libxml2.h"
#include "integrations/jansson/late_check.h"
#include "tests/child.h"

static const char k_doc[] = "<?xml version=\"1.0\"?>\n"
                            "<order id=\"7\"><line sku=\"A-1\" qty=\"2\">first</line>"
                            "<line sku=\"B-7\" qty=\"1\">second</line><note>hello</note></order>\n";

static xmlDocPtr parse(void) {
  xmlDocPtr d = xmlReadMemory(k_doc, (int)strlen(k_doc), "order.xml", NULL, XML_PARSE_NONET);
  assert_non_null(d);
  return d;
}

/* Serializes without the XML declaration line; the caller xmlFree's the text. */
static char *dump(xmlDocPtr d) {
  xmlChar *out = NULL;
  int len = 0;
  xmlDocDumpMemory(d, &out, &len);
  assert_non_null(out);
  assert_true(len > 0);
  return (char *)out;
}

static int setup(void **state) {
  (void)state;
  assert_int_equal(ar_libxml2_install(), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ar_libxml2_uninstall();
  return 0;
}

static void test_outside_scope_uses_malloc(void **state) {
  (void)state;
  assert_non_null(ar_thread_arena());
  ar_scope_stats_t ss0;
  assert_int_equal(ar_scope_stats(&ss0), AR_OK);
  ar_hooks_stats_t s0 = stats();
  xmlDocPtr d = parse();
  ar_hooks_stats_t s1 = stats();
  assert_true(s1.malloc_allocs > s0.malloc_allocs);
  assert_int_equal(s1.arena_allocs, s0.arena_allocs);
  xmlFreeDoc(d);
  ar_hooks_stats_t s2 = stats();
  assert_int_equal(s2.malloc_frees - s0.malloc_frees, s2.malloc_allocs - s0.malloc_allocs);
  assert_int_equal(s2.unknown, s0.unknown);
  ar_scope_stats_t ss1;
  assert_int_equal(ar_scope_stats(&ss1), AR_OK);
  assert_int_equal(ss1.outside_allocs, ss0.outside_allocs); /* nothing leaked into the arena */
}

static void test_scope_parse_modify_dump(void **state) {
  (void)state;
  size_t used0 = arena_used();
  ar_hooks_stats_t s0 = stats();
  ar_scope_t sc = ar_scope_begin();
  xmlDocPtr d = parse();
  xmlNodePtr root = xmlDocGetRootElement(d);
  assert_non_null(root);
  xmlNodePtr note = root->last;
  assert_string_equal((const char *)note->name, "note");
  xmlSetProp(root, BAD_CAST "status", BAD_CAST "paid");
  xmlNodePtr n = xmlNewChild(root, NULL, BAD_CAST "total", BAD_CAST "13");
  assert_non_null(n);
  /* growing text: xmlNodeAddContent reallocs the content each time */
  for (int i = 0; i < 200; i++) xmlNodeAddContent(note, BAD_CAST "!");
  xmlUnlinkNode(n);
  xmlAddChild(root, n);
  char *text = dump(d);
  const char *want_head =
      "<?xml version=\"1.0\"?>\n<order id=\"7\" status=\"paid\"><line sku=\"A-1\" "
      "qty=\"2\">first</line><line sku=\"B-7\" qty=\"1\">second</line>"
      "<note>hello!!!";
  assert_int_equal(strncmp(text, want_head, strlen(want_head)), 0);
  assert_non_null(strstr(text, "!!!!</note><total>13</total></order>"));
  size_t bangs = 0;
  for (const char *c = strstr(text, "<note>"); *c != '<' || c[1] != '/'; c++) bangs += *c == '!';
  assert_int_equal(bangs, 200u);
  ar_hooks_stats_t s1 = stats();
  assert_int_equal(s1.malloc_allocs, s0.malloc_allocs);
  assert_true(s1.arena_allocs > s0.arena_allocs);
  assert_true(s1.arena_frees > s0.arena_frees);
  if (s1.small_lists) assert_true(s1.in_place > s0.in_place); /* the newest block grew */
  xmlFree(text);
  xmlFreeDoc(d);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  assert_int_equal(arena_used(), used0);
  ar_hooks_stats_t s2 = stats();
  assert_int_equal(s2.unknown, s0.unknown);
  assert_int_equal(s2.late, s0.late);
  assert_int_equal(s2.live_scopes, 0u);
}

static void test_scope_end_frees_without_free_doc(void **state) {
  (void)state;
  size_t used0 = arena_used();
  ar_scope_t sc = ar_scope_begin();
  for (int i = 0; i < 20; i++) parse(); /* never xmlFreeDoc'd */
  assert_true(arena_used() > used0);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  assert_int_equal(arena_used(), used0);
}

/* A big document: the parser's input and output buffers grow by realloc many times. */
static void test_big_document(void **state) {
  (void)state;
  size_t cap = 1 << 20, len = 0;
  char *src = malloc(cap);
  assert_non_null(src);
  len += (size_t)snprintf(src + len, cap - len, "<items>");
  for (int i = 0; i < 5000; i++)
    len +=
        (size_t)snprintf(src + len, cap - len, "<item n=\"%d\">value %d &amp; more</item>", i, i);
  len += (size_t)snprintf(src + len, cap - len, "</items>");
  ar_scope_t sc = ar_scope_begin();
  ar_hooks_stats_t s0 = stats();
  xmlDocPtr d = xmlReadMemory(src, (int)len, "big.xml", NULL, 0);
  assert_non_null(d);
  int count = 0;
  for (xmlNodePtr c = xmlDocGetRootElement(d)->children; c != NULL; c = c->next) count++;
  assert_int_equal(count, 5000);
  char *out = dump(d);
  assert_non_null(strstr(out, "<item n=\"4999\">value 4999 &amp; more</item></items>"));
  assert_int_equal(stats().malloc_allocs, s0.malloc_allocs);
  xmlFree(out);
  xmlFreeDoc(d);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  free(src);
}

/* libxml2's per-thread last error holds strings from the scope: the scope's end clears it, so
 * the next error does not free them late (the debug report would count it; ASan would abort). */
static void test_last_error_cleared_at_scope_end(void **state) {
  (void)state;
  static const char bad[] = "<a><b></a>";
  xmlSetGenericErrorFunc(NULL, NULL); /* keep the test log quiet */
  ar_hooks_stats_t s0 = stats();
  for (int i = 0; i < 3; i++) {
    ar_scope_t sc = ar_scope_begin();
    assert_null(xmlReadMemory(bad, (int)strlen(bad), "bad.xml", NULL, XML_PARSE_NOERROR));
    xmlErrorPtr e = xmlGetLastError();
    assert_non_null(e);
    assert_non_null(e->message);
    assert_int_equal(ar_scope_end(&sc), AR_OK);
    assert_null(xmlGetLastError());
  }
  ar_hooks_stats_t s1 = stats();
  assert_int_equal(s1.late, s0.late);
  assert_int_equal(s1.unknown, s0.unknown);
  xmlSetGenericErrorFunc(NULL, NULL);
}

/* ---- threads ------------------------------------------------------------------------------ */

typedef struct {
  xmlDocPtr doc;
  ar_hooks_stats_t st;
  int children;
} handoff_t;

static void *free_doc_on_thread(void *arg) {
  handoff_t *h = arg;
  xmlFreeDoc(h->doc);
  ar_hooks_thread_stats(&h->st);
  return NULL;
}

static void test_foreign_thread_free(void **state) {
  (void)state;
  size_t used0 = arena_used();
  ar_scope_t sc = ar_scope_begin();
  handoff_t h = {parse(), {0}, 0};
  size_t used1 = arena_used();
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, free_doc_on_thread, &h), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(h.st.foreign > 0);
  assert_int_equal(h.st.arena_frees, 0u);
  assert_int_equal(h.st.unknown, 0u);
  assert_int_equal(arena_used(), used1);
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  assert_int_equal(arena_used(), used0);
}

/* The hooks are process-wide: a worker thread's own scope serves its parse. */
static void *parse_in_worker_scope(void *arg) {
  handoff_t *h = arg;
  ar_scope_t sc = ar_scope_begin();
  xmlDocPtr d = xmlReadMemory(k_doc, (int)strlen(k_doc), "w.xml", NULL, 0);
  if (d != NULL)
    for (xmlNodePtr c = xmlDocGetRootElement(d)->children; c != NULL; c = c->next) h->children++;
  ar_hooks_thread_stats(&h->st);
  ar_scope_end(&sc); /* no xmlFreeDoc: the scope takes it all */
  return NULL;
}

static void test_worker_thread_scope(void **state) {
  (void)state;
  handoff_t h = {NULL, {0}, 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, parse_in_worker_scope, &h), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(h.children, 3);
  assert_true(h.st.arena_allocs > 0);
  assert_int_equal(h.st.malloc_allocs, 0u);
}

/* ---- late free ---------------------------------------------------------------------------- */

static void late_free_doc(void *arg) {
  (void)arg;
  ar_scope_t sc = ar_scope_begin();
  xmlDocPtr d = xmlReadMemory(k_doc, (int)strlen(k_doc), "late.xml", NULL, 0);
  if (d == NULL) _exit(3);
  ar_scope_end(&sc);
  xmlFreeDoc(d); /* the document's scope has ended */
  ar_hooks_stats_t s;
  ar_hooks_thread_stats(&s);
  fprintf(stderr, "late=%llu unknown=%llu lists=%u\n", (unsigned long long)s.late,
          (unsigned long long)s.unknown, s.small_lists);
}

static void test_late_free_reported(void **state) {
  (void)state;
  if (!arena_packs() && !UNDER_ASAN) {
    /* checked mode junk-fills the scope's memory at its end: libxml2's own walk of the dead
     * document then follows junk pointers and crashes before any free; the hooks' side of a
     * late free in such an arena is checked by jansson_test */
    skip();
  }
  char buf[16384];
  int status = child_run(late_free_doc, NULL, buf, sizeof buf);
  if (status == -1) fail_msg("%s", buf); /* the pipe or the fork failed */
  /* libxml2 is not instrumented; the hooks' read of the first block's word is */
  expect_late_outcome(status, buf, "ar_hooks_free");
}

static void test_install_rules(void **state) {
  (void)state;
  assert_true(ar_libxml2_installed());
  assert_int_equal(ar_libxml2_install(), 0);
  xmlFreeFunc f;
  xmlMallocFunc m;
  xmlReallocFunc r;
  xmlStrdupFunc s;
  assert_int_equal(xmlMemGet(&f, &m, &r, &s), 0);
  assert_ptr_equal(f, ar_hooks_free);
  assert_ptr_equal(m, ar_hooks_malloc);
  assert_ptr_equal(r, ar_hooks_realloc);
  assert_ptr_equal(s, ar_hooks_strdup);
  ar_libxml2_uninstall();
  assert_false(ar_libxml2_installed());
  assert_int_equal(xmlMemGet(&f, &m, &r, &s), 0);
  assert_ptr_equal(m, malloc);
  ar_scope_t sc = ar_scope_begin();
  assert_int_equal(ar_libxml2_install(), -1); /* refused in a scope */
  assert_false(ar_libxml2_installed());
  assert_int_equal(ar_scope_end(&sc), AR_OK);
  assert_int_equal(ar_libxml2_install(), 0);
  xmlFreeDoc(parse()); /* usable again */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outside_scope_uses_malloc),
      cmocka_unit_test(test_scope_parse_modify_dump),
      cmocka_unit_test(test_scope_end_frees_without_free_doc),
      cmocka_unit_test(test_big_document),
      cmocka_unit_test(test_last_error_cleared_at_scope_end),
      cmocka_unit_test(test_foreign_thread_free),
      cmocka_unit_test(test_worker_thread_scope),
      cmocka_unit_test(test_late_free_reported),
      cmocka_unit_test(test_install_rules),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
