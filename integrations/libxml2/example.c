/* SPDX-License-Identifier: MIT */
/*
 * integrations/libxml2/example.c - a request loop on libxml2 and arenart scopes.
 *
 * Each XML request body is parsed, answered with a new document and serialized inside one
 * scope; neither document is freed by hand, because ending the scope frees both at once. The
 * reply text is copied out, the one thing that outlives the request. Run it: it checks each
 * reply against the expected text and exits 1 on a mismatch
 * (integrations/libxml2:example_test runs it).
 */
#include <arenart.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integrations/libxml2/arenart_libxml2.h"

/* <order id="N"><line qty="Q" price="P"/>...</order> -> <reply order="N" items="Q" total="T"/> */
static void handle(const char *body, char *out, size_t outsize) {
  ar_scope_t scope = ar_scope_begin();
  xmlDocPtr req = xmlReadMemory(body, (int)strlen(body), "req.xml", NULL, XML_PARSE_NONET);
  xmlNodePtr root = req ? xmlDocGetRootElement(req) : NULL;
  if (root == NULL || xmlStrcmp(root->name, BAD_CAST "order") != 0) {
    snprintf(out, outsize, "<error/>");
  } else {
    long items = 0;
    double total = 0;
    for (xmlNodePtr n = root->children; n != NULL; n = n->next) {
      if (n->type != XML_ELEMENT_NODE) continue;
      xmlChar *q = xmlGetProp(n, BAD_CAST "qty"), *p = xmlGetProp(n, BAD_CAST "price");
      long qty = q ? strtol((const char *)q, NULL, 10) : 0;
      items += qty;
      total += (double)qty * (p ? strtod((const char *)p, NULL) : 0);
      /* q and p come from the scope too: no xmlFree needed */
    }
    xmlDocPtr rep = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr r = xmlNewNode(NULL, BAD_CAST "reply");
    xmlDocSetRootElement(rep, r);
    xmlChar *id = xmlGetProp(root, BAD_CAST "id");
    char num[64];
    xmlSetProp(r, BAD_CAST "order", id ? id : BAD_CAST "?");
    snprintf(num, sizeof num, "%ld", items);
    xmlSetProp(r, BAD_CAST "items", BAD_CAST num);
    snprintf(num, sizeof num, "%.2f", total);
    xmlSetProp(r, BAD_CAST "total", BAD_CAST num);
    xmlChar *text = NULL;
    int len = 0;
    xmlDocDumpMemory(rep, &text, &len);
    snprintf(out, outsize, "%s", text ? (const char *)text : "<error/>");
  }
  ar_scope_end(&scope); /* req, rep and text are gone */
}

int main(void) {
  if (ar_libxml2_install() != 0) return 1;
  static const char *bodies[] = {
      "<order id=\"1\"><line qty=\"2\" price=\"1.5\"/><line qty=\"1\" price=\"10\"/></order>",
      "<order id=\"2\"/>",
      "<order id=\"3\"><line qty=\"2\"",
  };
  static const char *want[] = {
      "<?xml version=\"1.0\"?>\n<reply order=\"1\" items=\"3\" total=\"13.00\"/>\n",
      "<?xml version=\"1.0\"?>\n<reply order=\"2\" items=\"0\" total=\"0.00\"/>\n",
      "<error/>",
  };
  xmlSetGenericErrorFunc(NULL, NULL);
  int bad = 0;
  char reply[512];
  for (int round = 0; round < 1000; round++) {
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
      handle(bodies[i], reply, sizeof reply);
      if (round == 0)
        printf("request %zu -> %s%s", i + 1, reply, reply[strlen(reply) - 1] == '\n' ? "" : "\n");
      if (strcmp(reply, want[i]) != 0) bad = 1;
    }
  }
  ar_stats_t st;
  ar_arena_stats(ar_thread_arena(), &st);
  ar_hooks_stats_t hs;
  ar_hooks_thread_stats(&hs);
  printf("3000 requests: thread arena %zu bytes used now, %zu held; %llu blocks from scopes, "
         "%llu from malloc (libxml2's global tables)\n",
         st.used, st.capacity, (unsigned long long)hs.arena_allocs,
         (unsigned long long)hs.malloc_allocs);
  if (st.used != 0) bad = 1;
  ar_libxml2_uninstall();
  printf("%s\n", bad ? "MISMATCH" : "all replies as expected");
  return bad;
}
