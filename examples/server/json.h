/* SPDX-License-Identifier: MIT */
/*
 * examples/server/json.h - a small JSON parser that builds a tree, and a writer.
 *
 * Every node, string and child list is a separate allocation from a srv_mem_t, the way general
 * purpose JSON libraries build their trees: that is the allocation-heavy part of the server's
 * handler. In the arena flavor the tree dies with the request scope; in the malloc flavor
 * json_free() gives every piece back.
 *
 * Accepted: RFC 8259 JSON, any value at the top, nesting up to JSON_MAX_DEPTH, numbers up to 63
 * characters long (longer ones are rejected as malformed). Strings are decoded (escapes,
 * \u surrogate pairs to UTF-8); their bytes are otherwise not validated.
 */
#ifndef SRV_JSON_H
#define SRV_JSON_H

#include <stddef.h>

#include "examples/server/srv_mem.h"

#define JSON_MAX_DEPTH 64

typedef enum json_type {
  JSON_NULL,
  JSON_FALSE,
  JSON_TRUE,
  JSON_NUMBER,
  JSON_STRING,
  JSON_ARRAY,
  JSON_OBJECT,
} json_type_t;

typedef struct json_node json_node_t;

typedef struct json_member {
  char *key; /* decoded, NUL-terminated (may contain NULs: use key_len) */
  size_t key_len;
  json_node_t *value;
} json_member_t;

struct json_node {
  json_type_t type;
  union {
    double number;
    struct {
      char *s; /* decoded, NUL-terminated */
      size_t len;
    } str;
    srv_vec_t items; /* json_node_t * for arrays, json_member_t for objects, in input order */
  } u;
};

/* Results of json_parse besides AR_OK and the allocation errors (AR_ELIMIT, AR_ENOMEM, ...). */
enum {
  JSON_ESYNTAX = -1, /* not JSON */
  JSON_EDEPTH = -2,  /* nested deeper than JSON_MAX_DEPTH */
};

/* Parses text[0, len) into a tree allocated from `m`. On AR_OK *out is the root; on failure
 * nothing is left allocated (malloc flavor) and *out is NULL. */
int json_parse(srv_mem_t *m, const char *text, size_t len, json_node_t **out);

/* Frees a tree node by node (the malloc flavor's request end; a no-op call in the arena flavor,
 * which never makes it). NULL is a no-op. */
void json_free(srv_mem_t *m, json_node_t *n);

/* Appends the compact JSON text of `n` to b. AR_OK or the buffer's error. */
int json_write(srv_buf_t *b, const json_node_t *n);

/* Appends s[0, len) as a quoted, escaped JSON string. AR_OK or the buffer's error. */
int json_write_string(srv_buf_t *b, const char *s, size_t len);

#endif /* SRV_JSON_H */
