/* SPDX-License-Identifier: MIT */
/*
 * examples/server/http.c - the request-head parser (see http.h).
 *
 * Strict about framing, lenient about nothing that could desynchronize a keep-alive stream:
 * lines end in CRLF, header names are tokens, no obsolete line folding, one Content-Length
 * (repeats must agree), and no Transfer-Encoding (answered 501 and the connection closed,
 * because the body's end cannot be found without it).
 */
#include "examples/server/http.h"

#include <ctype.h>
#include <string.h>

static bool is_tchar(unsigned char c) {
  return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool ieq(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  if (alen != blen) return false;
  for (size_t i = 0; i < alen; i++)
    if (tolower((unsigned char)a[i]) != b[i]) return false;
  return true;
}

/* True if the comma-separated list s[0, len) holds `token` (case-insensitive). */
static bool list_has(const char *s, size_t len, const char *token) {
  size_t i = 0;
  while (i < len) {
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) i++;
    size_t b = i;
    while (i < len && s[i] != ',') i++;
    size_t e = i;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
    if (e > b && ieq(s + b, e - b, token)) return true;
  }
  return false;
}

void http_request_free(srv_mem_t *m, http_request_t *req) {
  srv_free(m, req->method, req->method ? req->method_len + 1 : 0);
  srv_free(m, req->path, req->path ? req->path_len + 1 : 0);
  srv_free(m, req->query, req->query ? req->query_len + 1 : 0);
  http_header_t *h = srv_vec_data(&req->headers);
  for (size_t i = 0; i < srv_vec_len(&req->headers); i++) {
    srv_free(m, h[i].name, h[i].name_len + 1);
    srv_free(m, h[i].value, h[i].value_len + 1);
  }
  srv_vec_destroy(&req->headers);
  srv_map_destroy(&req->index);
  req->method = req->path = req->query = NULL;
}

const char *http_header(const http_request_t *req, const char *name, size_t *len) {
  const size_t *i = srv_map_get(&req->index, name, strlen(name));
  if (i == NULL) return NULL;
  const http_header_t *h = (const http_header_t *)srv_vec_data(&req->headers) + *i;
  *len = h->value_len;
  return h->value;
}

/* Parses the request line at s[0, n) (no CRLF). 0, or the status to answer. */
static int parse_request_line(srv_mem_t *m, const char *s, size_t n, http_request_t *req) {
  size_t i = 0;
  while (i < n && i < 16 && s[i] >= 'A' && s[i] <= 'Z') i++;
  if (i == 0 || i >= n || s[i] != ' ') return 400;
  size_t method_len = i++;
  size_t tb = i;
  while (i < n && (unsigned char)s[i] > 0x20 && s[i] != 0x7f) i++;
  if (i == tb || i >= n || s[i] != ' ' || s[tb] != '/') return 400;
  size_t te = i++;
  if (n - i != 8 || memcmp(s + i, "HTTP/", 5) != 0 || !isdigit((unsigned char)s[i + 5]) ||
      s[i + 6] != '.' || !isdigit((unsigned char)s[i + 7]))
    return 400;
  if (s[i + 5] != '1') return 505;
  req->minor = s[i + 7] - '0';
  const char *q = memchr(s + tb, '?', te - tb);
  size_t path_end = q != NULL ? (size_t)(q - s) : te;
  req->method = srv_strndup(m, s, method_len);
  if (req->method == NULL) return 503;
  req->method_len = method_len;
  req->path = srv_strndup(m, s + tb, path_end - tb);
  if (req->path == NULL) return 503;
  req->path_len = path_end - tb;
  size_t qb = q != NULL ? path_end + 1 : te;
  req->query = srv_strndup(m, s + qb, te - qb);
  if (req->query == NULL) return 503;
  req->query_len = te - qb;
  return 0;
}

/* Parses one header line s[0, n) (no CRLF) into req. 0, or the status to answer. */
static int parse_header_line(srv_mem_t *m, const char *s, size_t n, http_request_t *req) {
  size_t i = 0;
  while (i < n && is_tchar((unsigned char)s[i])) i++;
  if (i == 0 || i >= n || s[i] != ':') return 400; /* also rejects obsolete line folding */
  size_t name_len = i++;
  while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
  size_t vb = i, ve = n;
  while (ve > vb && (s[ve - 1] == ' ' || s[ve - 1] == '\t')) ve--;
  for (size_t k = vb; k < ve; k++) {
    unsigned char c = (unsigned char)s[k];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return 400;
  }
  http_header_t h = {NULL, name_len, NULL, ve - vb};
  h.name = srv_alloc(m, name_len + 1);
  if (h.name == NULL) return 503;
  for (size_t k = 0; k < name_len; k++) h.name[k] = (char)tolower((unsigned char)s[k]);
  h.name[name_len] = 0;
  h.value = srv_strndup(m, s + vb, ve - vb);
  if (h.value == NULL || srv_vec_push(&req->headers, &h) != AR_OK) {
    srv_free(m, h.name, name_len + 1);
    srv_free(m, h.value, h.value ? h.value_len + 1 : 0);
    return 503;
  }
  size_t index = srv_vec_len(&req->headers) - 1;
  void *first;
  bool inserted;
  if (srv_map_put_if_absent(&req->index, h.name, name_len, &index, &first, &inserted) != AR_OK)
    return 503;
  /* A repeated Content-Length must repeat the same value, or the body's end is ambiguous. */
  if (!inserted && ieq(h.name, name_len, "content-length")) {
    const http_header_t *f = (const http_header_t *)srv_vec_data(&req->headers) + *(size_t *)first;
    if (f->value_len != h.value_len || memcmp(f->value, h.value, h.value_len) != 0) return 400;
  }
  return 0;
}

static int parse_lines(srv_mem_t *m, const char *buf, size_t head_len, size_t max_body,
                       http_request_t *req) {
  const char *line = buf, *end = buf + head_len - 2; /* the final CRLF ends the head */
  const char *eol = memchr(line, '\r', (size_t)(end - line));
  if (eol == NULL || eol[1] != '\n') return 400;
  int st = parse_request_line(m, line, (size_t)(eol - line), req);
  if (st != 0) return st;
  for (line = eol + 2; line < end; line = eol + 2) {
    eol = memchr(line, '\r', (size_t)(end - line));
    if (eol == NULL || eol[1] != '\n') return 400;
    if ((st = parse_header_line(m, line, (size_t)(eol - line), req)) != 0) return st;
  }
  size_t vlen;
  const char *v;
  if (http_header(req, "transfer-encoding", &vlen) != NULL) return 501;
  if ((v = http_header(req, "content-length", &vlen)) != NULL) {
    size_t cl = 0;
    if (vlen == 0 || vlen > 18) return vlen == 0 ? 400 : 413;
    for (size_t k = 0; k < vlen; k++) {
      if (!isdigit((unsigned char)v[k])) return 400;
      cl = cl * 10 + (size_t)(v[k] - '0');
    }
    if (cl > max_body) return 413;
    req->content_length = cl;
  }
  v = http_header(req, "connection", &vlen);
  if (req->minor >= 1) req->keep_alive = v == NULL || !list_has(v, vlen, "close");
  else req->keep_alive = v != NULL && list_has(v, vlen, "keep-alive");
  return 0;
}

int http_parse_head(srv_mem_t *m, const char *buf, size_t len, size_t max_header, size_t max_body,
                    http_request_t *req) {
  size_t scan = len < max_header ? len : max_header;
  const char *hend = scan >= 4 ? memmem(buf, scan, "\r\n\r\n", 4) : NULL;
  if (hend == NULL) return len >= max_header ? 431 : HTTP_HEAD_INCOMPLETE;
  memset(req, 0, sizeof *req);
  req->head_len = (size_t)(hend - buf) + 4;
  if (srv_vec_init(&req->headers, m, sizeof(http_header_t)) != AR_OK ||
      srv_map_init(&req->index, m, sizeof(size_t)) != AR_OK)
    return 503;
  int st = parse_lines(m, buf, req->head_len, max_body, req);
  if (st != 0) {
    if (SRV_FREES_EACH) http_request_free(m, req);
    return st;
  }
  return HTTP_HEAD_OK;
}

const char *http_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}
