/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/example.c - a request loop on jansson and arenart scopes.
 *
 * Each request body is parsed, transformed and answered inside one scope: nothing is
 * json_decref'd, because ending the scope frees the whole document and the reply at once.
 * The reply text leaves the scope as a copy in the caller's buffer, the one thing that must
 * outlive the request. Run it: it answers a few orders and checks each reply against the
 * expected text, exiting 1 on a mismatch (integrations/jansson:example_test runs it).
 */
#include <arenart.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "integrations/jansson/arenart_jansson.h"

/* {"order": N, "lines": [{"sku": S, "qty": Q, "price": P}, ...]} ->
 * {"order": N, "items": Q total, "total": sum of qty * price, "skus": [S, ...]} */
static int handle(const char *body, char *out, size_t outsize) {
  ar_scope_t scope = ar_scope_begin();
  int rc = -1;
  json_error_t err;
  json_t *req = json_loads(body, 0, &err);
  json_t *lines = req ? json_object_get(req, "lines") : NULL;
  if (json_is_array(lines)) {
    json_t *skus = json_array();
    long long items = 0;
    double total = 0;
    size_t i;
    json_t *line;
    json_array_foreach(lines, i, line) {
      long long qty = json_integer_value(json_object_get(line, "qty"));
      items += qty;
      total += (double)qty * json_number_value(json_object_get(line, "price"));
      json_array_append(skus, json_object_get(line, "sku"));
    }
    json_t *reply = json_pack("{s:O, s:I, s:f, s:o}", "order", json_object_get(req, "order"),
                              "items", items, "total", total, "skus", skus);
    char *text = reply ? json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (text != NULL && strlen(text) < outsize) {
      memcpy(out, text, strlen(text) + 1); /* the only thing that leaves the scope */
      rc = 0;
    }
  } else {
    snprintf(out, outsize, "{\"error\":\"%s\"}", req ? "no lines" : err.text);
  }
  ar_scope_end(&scope); /* req, skus, reply and text are gone */
  return rc;
}

int main(void) {
  if (ar_jansson_install() != 0) return 1;
  static const char *bodies[] = {
      ("{\"order\": 1, \"lines\": [{\"sku\": \"A-1\", \"qty\": 2, \"price\": 1.5},"
       " {\"sku\": \"B-7\", \"qty\": 1, \"price\": 10}]}"),
      "{\"order\": 2, \"lines\": []}",
      "{\"order\": 3}",
      "{\"order\": 4, \"lines\": [",
  };
  static const char *want[] = {
      "{\"items\":3,\"order\":1,\"skus\":[\"A-1\",\"B-7\"],\"total\":13.0}",
      "{\"items\":0,\"order\":2,\"skus\":[],\"total\":0.0}", "{\"error\":\"no lines\"}",
      NULL, /* a parse error: the text is jansson's */
  };
  int bad = 0;
  char reply[512];
  for (int round = 0; round < 1000; round++) { /* a steady loop: the arena stays the same size */
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
      handle(bodies[i], reply, sizeof reply);
      if (round == 0) printf("request %zu -> %s\n", i + 1, reply);
      if (want[i] != NULL && strcmp(reply, want[i]) != 0) bad = 1;
      if (want[i] == NULL && strncmp(reply, "{\"error\":", 9) != 0) bad = 1;
    }
  }
  ar_stats_t st;
  ar_arena_stats(ar_thread_arena(), &st);
  ar_hooks_stats_t hs;
  ar_hooks_thread_stats(&hs);
  printf("4000 requests: thread arena %zu bytes used now, %zu held; %llu blocks from scopes, "
         "%llu from malloc\n",
         st.used, st.capacity, (unsigned long long)hs.arena_allocs,
         (unsigned long long)hs.malloc_allocs);
  if (st.used != 0 || hs.malloc_allocs != 0) bad = 1;
  ar_jansson_uninstall();
  printf("%s\n", bad ? "MISMATCH" : "all replies as expected");
  return bad;
}
