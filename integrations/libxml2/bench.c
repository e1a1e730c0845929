/* SPDX-License-Identifier: MIT */
/*
 * integrations/libxml2/bench.c - libxml2 parsing through the arenart hooks against glibc
 * malloc, mimalloc, jemalloc and tcmalloc (each in its own process; see
 * integrations/jansson/bench_driver.h).
 *
 * One document = xmlReadMemory of a generated list of user records (attributes, text
 * elements, entities, nested elements) and a walk that reads every element's attributes.
 * The malloc flavors then xmlFreeDoc, as a malloc program must. "arena" is the adapter used
 * as intended: the parse in one scope, no xmlFreeDoc (the scope's end frees it). "arena+free"
 * calls xmlFreeDoc inside the scope as well. Goal (issue 17): the arena at least 1.2x faster
 * than the fastest malloc. Peak RSS growth is printed next to it (no goal is set for it here).
 *
 *   bazel run --config=opt //integrations/libxml2:bench -- [--kib 256] [--rounds 5] [--quick]
 *                                                           [--json FILE]
 */
#include <arenart.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

static const char *bench_name = "libxml2 parse";
#include "integrations/jansson/bench_driver.h"
#include "integrations/libxml2/arenart_libxml2.h"

static void *bench_make_input(size_t kib, size_t *len) {
  size_t cap = kib * 1024 + 4096, n = 0;
  char *s = malloc(cap);
  if (s == NULL) exit(1);
  n += (size_t)snprintf(s + n, cap - n, "<?xml version=\"1.0\"?>\n<users>");
  for (int i = 0; n + 500 < kib * 1024; i++) {
    n += (size_t)snprintf(
        s + n, cap - n,
        "<user id=\"%d\" active=\"%s\"><name>user-%d</name><email>user%d@example.org</email>"
        "<score>%d.%02d</score><tags><tag>t%d</tag><tag>group &amp; %d</tag></tags>"
        "<address city=\"City %d\" zip=\"%05d\">%d Long Street Name</address></user>\n",
        i, i % 3 ? "true" : "false", i, i, i % 1000, i % 100, i % 7, i % 13, i % 97, i * 7 % 100000,
        i % 500);
  }
  n += (size_t)snprintf(s + n, cap - n, "</users>\n");
  *len = n;
  return s;
}

static long walk(xmlNodePtr n) {
  long k = 0;
  for (; n != NULL; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    for (xmlAttrPtr a = n->properties; a != NULL; a = a->next) k += a->children != NULL;
    k += 1 + walk(n->children);
  }
  return k;
}

static void bench_run(const char *flavor, const void *input, size_t len) {
  int arena = strcmp(flavor, "arena") == 0, arena_free = strcmp(flavor, "arena+free") == 0;
  static int init;
  if (!init) {
    init = 1;
    if (arena || arena_free) {
      if (ar_libxml2_install() != 0) exit(1);
    } else {
      xmlInitParser();
    }
  }
  ar_scope_t sc;
  if (arena || arena_free) sc = ar_scope_begin();
  xmlDocPtr d = xmlReadMemory(input, (int)len, "bench.xml", NULL, XML_PARSE_NONET);
  if (d == NULL) exit(1);
  long k = walk(xmlDocGetRootElement(d));
  __asm__ volatile("" : : "g"(k) : "memory");
  if (!arena) xmlFreeDoc(d);
  if (arena || arena_free) ar_scope_end(&sc);
}

int main(int argc, char **argv) {
  static const char *const arena_flavors[] = {"arena", "arena+free", NULL};
  return bd_main(argc, argv, arena_flavors, "arena", 1.2, 0);
}
