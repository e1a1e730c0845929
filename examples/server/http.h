/* SPDX-License-Identifier: MIT */
/*
 * examples/server/http.h - HTTP/1.x request heads parsed into the request's memory.
 *
 * The request line and every header are copied out of the connection's read buffer into
 * allocations from the request context: the header names lowercased, kept in input order in a
 * vector and indexed by name in a map. The body is not copied; it is handed to the handler as
 * a pointer into the read buffer, which outlives the request.
 */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "examples/server/srv_mem.h"

typedef struct http_header {
  char *name; /* lowercased */
  size_t name_len;
  char *value; /* surrounding blanks trimmed */
  size_t value_len;
} http_header_t;

typedef struct http_request {
  char *method, *path, *query; /* query: after '?', "" if none */
  size_t method_len, path_len, query_len;
  int minor;             /* HTTP/1.minor */
  srv_vec_t headers;     /* http_header_t, in input order */
  srv_map_t index;       /* lowercased name -> size_t index of its first header */
  size_t head_len;       /* request line + headers + the empty line */
  size_t content_length; /* 0 without a Content-Length header */
  bool keep_alive;       /* after the response, read the next request */
} http_request_t;

/* The result of http_parse_head when the head is complete and valid. */
#define HTTP_HEAD_OK 0
/* The head is not complete yet: read more (the buffer is below max_header). */
#define HTTP_HEAD_INCOMPLETE 1

/*
 * Parses the request head at the start of buf[0, len). Returns HTTP_HEAD_OK (req filled,
 * allocated from m), HTTP_HEAD_INCOMPLETE, or the status to answer before closing the
 * connection: 400 (malformed), 413 (Content-Length above max_body), 431 (head longer than
 * max_header), 501 (Transfer-Encoding, which this server does not implement), 505 (not
 * HTTP/1.x), 503 (the request context ran out of memory: its cap). On any result but
 * HTTP_HEAD_OK nothing is left allocated in the malloc flavor.
 */
int http_parse_head(srv_mem_t *m, const char *buf, size_t len, size_t max_header, size_t max_body,
                    http_request_t *req);

/* The value of header `name` (lowercase), or NULL; *len set when found. */
const char *http_header(const http_request_t *req, const char *name, size_t *len);

/* Frees the parsed head piece by piece (malloc flavor; the arena flavor never calls it). */
void http_request_free(srv_mem_t *m, http_request_t *req);

/* The reason phrase of a status code this server uses. */
const char *http_reason(int status);

#endif /* SRV_HTTP_H */
