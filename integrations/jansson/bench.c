/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/bench.c - jansson parse+build through the arenart hooks against glibc
 * malloc, mimalloc, jemalloc and tcmalloc (each in its own process; see bench_driver.h).
 *
 * One document = parse a generated array of user records (strings, integers, reals, a nested
 * object, a small array), build a reply (one summary object per record plus a count), and
 * serialize it. The malloc flavors then json_decref both trees and free the text, as a malloc
 * program must. "arena" is the adapter used as intended: the whole document in one scope, no
 * json_decref (the scope's end frees it all). "arena+free" does the json_decref calls inside
 * the scope as well, so the recycling path is measured too. Goals (issue 17): the arena at
 * least 1.2x faster than the fastest malloc, with a peak RSS growth at most 1.05x glibc's.
 *
 *   bazel run --config=opt //integrations/jansson:bench -- [--kib 256] [--rounds 5] [--quick]
 *                                                           [--json FILE]
 */
#include <arenart.h>
#include <jansson.h>

static const char *bench_name = "jansson parse+build+dump";
#include "integrations/jansson/arenart_jansson.h"
#include "integrations/jansson/bench_driver.h"

static void *bench_make_input(size_t kib, size_t *len) {
  size_t cap = kib * 1024 + 4096, n = 0;
  char *s = malloc(cap);
  if (s == NULL) exit(1);
  n += (size_t)snprintf(s + n, cap - n, "[");
  for (int i = 0; n + 400 < kib * 1024; i++) {
    n += (size_t)snprintf(
        s + n, cap - n,
        "%s{\"id\": %d, \"name\": \"user-%d\", \"email\": \"user%d@example.org\", "
        "\"score\": %d.%02d, \"active\": %s, \"tags\": [\"t%d\", \"group-%d\"], "
        "\"address\": {\"city\": \"City %d\", \"zip\": \"%05d\", \"street\": \"%d Long Street "
        "Name\"}}",
        i ? ", " : "", i, i, i, i % 1000, i % 100, i % 3 ? "true" : "false", i % 7, i % 13, i % 97,
        i * 7 % 100000, i % 500);
  }
  n += (size_t)snprintf(s + n, cap - n, "]");
  *len = n;
  return s;
}

static void bench_run(const char *flavor, const void *input, size_t len) {
  int arena = strcmp(flavor, "arena") == 0, arena_free = strcmp(flavor, "arena+free") == 0;
  ar_scope_t sc;
  if (arena || arena_free) {
    if (!ar_jansson_installed() && ar_jansson_install() != 0) exit(1);
    sc = ar_scope_begin();
  }
  json_error_t err;
  json_t *doc = json_loadb(input, len, 0, &err);
  if (doc == NULL) {
    fprintf(stderr, "parse: %s\n", err.text);
    exit(1);
  }
  json_t *items = json_array();
  size_t i;
  json_t *u;
  double total = 0;
  json_array_foreach(doc, i, u) {
    double score = json_real_value(json_object_get(u, "score"));
    total += score;
    json_t *o = json_object();
    json_object_set(o, "id", json_object_get(u, "id"));
    json_object_set(o, "name", json_object_get(u, "name"));
    json_object_set(o, "city", json_object_get(json_object_get(u, "address"), "city"));
    json_object_set_new(o, "double", json_real(score * 2));
    json_array_append_new(items, o);
  }
  json_t *reply = json_pack("{s:o, s:I, s:f}", "items", items, "count",
                            (json_int_t)json_array_size(doc), "total", total);
  char *text = json_dumps(reply, JSON_COMPACT);
  if (text == NULL) exit(1);
  __asm__ volatile("" : : "g"(text) : "memory");
  if (arena) {
    ar_scope_end(&sc);
    return;
  }
  json_decref(reply);
  json_decref(doc);
  if (arena_free) {
    ar_hooks_free(text);
    ar_scope_end(&sc);
  } else {
    free(text);
  }
}

int main(int argc, char **argv) {
  static const char *const arena_flavors[] = {"arena", "arena+free", NULL};
  return bd_main(argc, argv, arena_flavors, "arena", 1.2, 1.05);
}
