/* SPDX-License-Identifier: MIT */
/*
 * examples/server/json.c - recursive-descent JSON parser and compact writer (see json.h).
 *
 * Error discipline: a parse function either returns a complete node or frees whatever it had
 * built before returning the error, so a failure deep in a document leaves nothing behind in
 * the malloc flavor. The arena flavor skips those frees (SRV_FREES_EACH is 0); the request
 * scope takes the partial tree with it.
 */
#include "examples/server/json.h"

#include <fenv.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  srv_mem_t *m;
  const char *p, *end;
  int depth;
} parser_t;

static void skip_ws(parser_t *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static json_node_t *new_node(parser_t *ps, json_type_t type, int *rc) {
  json_node_t *n = srv_alloc(ps->m, sizeof *n);
  if (n == NULL) {
    *rc = srv_mem_error(ps->m);
    return NULL;
  }
  n->type = type;
  return n;
}

void json_free(srv_mem_t *m, json_node_t *n) {
  if (n == NULL) return;
  switch (n->type) {
    case JSON_STRING: srv_free(m, n->u.str.s, n->u.str.len + 1); break;
    case JSON_ARRAY: {
      json_node_t **it = srv_vec_data(&n->u.items);
      for (size_t i = 0; i < srv_vec_len(&n->u.items); i++) json_free(m, it[i]);
      srv_vec_destroy(&n->u.items);
      break;
    }
    case JSON_OBJECT: {
      json_member_t *it = srv_vec_data(&n->u.items);
      for (size_t i = 0; i < srv_vec_len(&n->u.items); i++) {
        srv_free(m, it[i].key, it[i].key_len + 1);
        json_free(m, it[i].value);
      }
      srv_vec_destroy(&n->u.items);
      break;
    }
    default: break;
  }
  srv_free(m, n, sizeof *n);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_hex4(parser_t *ps, unsigned *out) {
  if (ps->end - ps->p < 4) return JSON_ESYNTAX;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval((unsigned char)ps->p[i]);
    if (h < 0) return JSON_ESYNTAX;
    v = v * 16 + (unsigned)h;
  }
  ps->p += 4;
  *out = v;
  return AR_OK;
}

static size_t put_utf8(char *d, unsigned cp) {
  if (cp < 0x80) {
    d[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (char)(0xC0 | (cp >> 6));
    d[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (char)(0xE0 | (cp >> 12));
    d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  d[0] = (char)(0xF0 | (cp >> 18));
  d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  d[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Reads the escape at q (a backslash) ending before `end`: its code point (or the byte it
 * stands for) and how many source bytes it takes; JSON_ESYNTAX if it is not a valid escape. */
static int read_escape(const char *q, const char *end, unsigned *cp, size_t *taken) {
  if (end - q < 2) return JSON_ESYNTAX;
  static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
  const char *hit = q[1] != 0 ? strchr(plain, q[1]) : NULL;
  if (hit != NULL) {
    *cp = (unsigned char)decoded[hit - plain];
    *taken = 2;
    return AR_OK;
  }
  parser_t sub = {NULL, q + 2, end, 0};
  unsigned hi, lo;
  if (q[1] != 'u' || read_hex4(&sub, &hi) != AR_OK) return JSON_ESYNTAX;
  *taken = 6;
  if (hi >= 0xDC00 && hi < 0xE000) return JSON_ESYNTAX; /* a lone low surrogate */
  if (hi < 0xD800 || hi >= 0xDC00) {
    *cp = hi;
    return AR_OK;
  }
  if (end - sub.p < 6 || sub.p[0] != '\\' || sub.p[1] != 'u') return JSON_ESYNTAX;
  sub.p += 2;
  if (read_hex4(&sub, &lo) != AR_OK || lo < 0xDC00 || lo >= 0xE000) return JSON_ESYNTAX;
  *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
  *taken = 12;
  return AR_OK;
}

static size_t utf8_len(unsigned cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Parses the string at ps->p (its opening quote) into a new allocation of exactly len + 1
 * bytes. The first pass validates and measures, the second copies and decodes. */
static int parse_string(parser_t *ps, char **out, size_t *out_len) {
  const char *q = ps->p + 1;
  size_t n = 0;
  bool escapes = false;
  for (;;) {
    if (q >= ps->end) return JSON_ESYNTAX;
    unsigned char c = (unsigned char)*q;
    if (c == '"') break;
    if (c < 0x20) return JSON_ESYNTAX;
    if (c != '\\') {
      q++;
      n++;
      continue;
    }
    unsigned cp;
    size_t taken;
    if (read_escape(q, ps->end, &cp, &taken) != AR_OK) return JSON_ESYNTAX;
    escapes = true;
    q += taken;
    n += utf8_len(cp);
  }
  const char *close = q;
  char *d = srv_alloc(ps->m, n + 1);
  if (d == NULL) return srv_mem_error(ps->m);
  if (!escapes) {
    memcpy(d, ps->p + 1, n);
  } else {
    size_t len = 0;
    for (const char *r = ps->p + 1; r < close;) {
      if (*r != '\\') {
        d[len++] = *r++;
        continue;
      }
      unsigned cp;
      size_t taken;
      (void)read_escape(r, close, &cp, &taken); /* validated by the first pass */
      len += put_utf8(d + len, cp);
      r += taken;
    }
  }
  d[n] = 0;
  ps->p = close + 1;
  *out = d;
  *out_len = n;
  return AR_OK;
}

/* The fast paths below take one double operation to be rounded once, to double: true where
 * FLT_EVAL_METHOD is 0 (x86-64's SSE, AArch64). Where intermediates are wider (the x87 unit of
 * 32-bit x86) the operation would round twice, so numbers go to strtod and snprintf alone. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define JSON_ONE_ROUNDING 1
#else
#define JSON_ONE_ROUNDING 0
#endif

/* The powers of ten a double holds exactly: 10^22 is the last (5^22 < 2^53 < 5^23). */
static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Numbers are read here when that gives strtod's double exactly, and by strtod otherwise.
 * When the digits, without the point, make an integer m of at most 2^53 and the scale s (the
 * exponent less the digits after the point) is within 22 of zero, +-m and 10^|s| are both
 * exact doubles, so the one multiplication or division rounds the exact +-m * 10^s once, in
 * the current rounding mode, which is what strtod does with the text (the sign is applied
 * before the rounding, as strtod rounds the signed value: under a directed mode -(m / p) and
 * (-m) / p differ). That covers the numbers documents usually carry (ids, counts, prices);
 * strtod's general path is several times slower. */
static int parse_number(parser_t *ps, double *out) {
  const char *s = ps->p, *q = s;
  bool neg = q < ps->end && *q == '-';
  if (neg) q++;
  if (q >= ps->end) return JSON_ESYNTAX;
  uint64_t m = 0;
  int digits = 0, scale = 0; /* digits in m; the power of ten m is scaled by */
  bool exact = true;         /* m holds every digit read so far */
  if (*q == '0') {
    q++;
  } else if (*q >= '1' && *q <= '9') {
    for (; q < ps->end && *q >= '0' && *q <= '9'; q++) {
      if (digits < 19) m = m * 10 + (uint64_t)(*q - '0'), digits++;
      else exact = false;
    }
  } else {
    return JSON_ESYNTAX;
  }
  if (q < ps->end && *q == '.') {
    q++;
    if (q >= ps->end || *q < '0' || *q > '9') return JSON_ESYNTAX;
    for (; q < ps->end && *q >= '0' && *q <= '9'; q++) {
      if (digits < 19) m = m * 10 + (uint64_t)(*q - '0'), digits += m != 0, scale--;
      else exact = false;
    }
  }
  if (q < ps->end && (*q == 'e' || *q == 'E')) {
    q++;
    bool eneg = q < ps->end && *q == '-';
    if (q < ps->end && (*q == '+' || *q == '-')) q++;
    if (q >= ps->end || *q < '0' || *q > '9') return JSON_ESYNTAX;
    int e = 0;
    for (; q < ps->end && *q >= '0' && *q <= '9'; q++) {
      if (e < 10000) e = e * 10 + (*q - '0');
    }
    scale += eneg ? -e : e;
  }
  if ((size_t)(q - s) >= 64) return JSON_ESYNTAX; /* json.h's length limit */
  if (JSON_ONE_ROUNDING && exact && m <= ((uint64_t)1 << 53) && scale >= -22 && scale <= 22) {
    /* Through int64_t (m <= 2^53 fits): clang converts a uint64_t with a subtraction, which
     * makes 0 into -0.0 when rounding downward. */
    double v = neg ? -(double)(int64_t)m : (double)(int64_t)m;
    *out = scale < 0 ? v / k_pow10[-scale] : v * k_pow10[scale];
    ps->p = q;
    return AR_OK;
  }
  char tmp[64];
  size_t n = (size_t)(q - s);
  memcpy(tmp, s, n);
  tmp[n] = 0;
  *out = strtod(tmp, NULL);
  ps->p = q;
  return AR_OK;
}

static int parse_value(parser_t *ps, json_node_t **out);

/* After an array element or object member: ',' means another follows (*more = true), `close`
 * ends the list (*more = false); either way AR_OK. Anything else is JSON_ESYNTAX. */
static int list_next(parser_t *ps, char close, bool *more) {
  skip_ws(ps);
  if (ps->p >= ps->end) return JSON_ESYNTAX;
  if (*ps->p != ',' && *ps->p != close) return JSON_ESYNTAX;
  *more = *ps->p++ == ',';
  return AR_OK;
}

static int parse_array(parser_t *ps, json_node_t *n) {
  int rc = srv_vec_init(&n->u.items, ps->m, sizeof(json_node_t *));
  if (rc != AR_OK) return rc;
  ps->p++; /* '[' */
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return AR_OK;
  }
  for (;;) {
    json_node_t *child;
    rc = parse_value(ps, &child);
    if (rc != AR_OK) return rc;
    rc = srv_vec_push(&n->u.items, &child);
    if (rc != AR_OK) {
      if (SRV_FREES_EACH) json_free(ps->m, child);
      return rc;
    }
    bool more;
    rc = list_next(ps, ']', &more);
    if (rc != AR_OK || !more) return rc;
  }
}

static int parse_object(parser_t *ps, json_node_t *n) {
  int rc = srv_vec_init(&n->u.items, ps->m, sizeof(json_member_t));
  if (rc != AR_OK) return rc;
  ps->p++; /* '{' */
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return AR_OK;
  }
  for (;;) {
    json_member_t mb;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') return JSON_ESYNTAX;
    rc = parse_string(ps, &mb.key, &mb.key_len);
    if (rc != AR_OK) return rc;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
      srv_free(ps->m, mb.key, mb.key_len + 1);
      return JSON_ESYNTAX;
    }
    ps->p++;
    rc = parse_value(ps, &mb.value);
    if (rc == AR_OK) {
      rc = srv_vec_push(&n->u.items, &mb);
      if (rc != AR_OK && SRV_FREES_EACH) json_free(ps->m, mb.value);
    }
    if (rc != AR_OK) {
      srv_free(ps->m, mb.key, mb.key_len + 1);
      return rc;
    }
    bool more;
    rc = list_next(ps, '}', &more);
    if (rc != AR_OK || !more) return rc;
  }
}

static bool literal(parser_t *ps, const char *word, size_t n) {
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return false;
  ps->p += n;
  return true;
}

static int parse_value(parser_t *ps, json_node_t **out) {
  int rc = AR_OK;
  *out = NULL;
  skip_ws(ps);
  if (ps->p >= ps->end) return JSON_ESYNTAX;
  char c = *ps->p;
  json_node_t *n;
  if (c == '{' || c == '[') {
    if (ps->depth >= JSON_MAX_DEPTH) return JSON_EDEPTH;
    if ((n = new_node(ps, c == '{' ? JSON_OBJECT : JSON_ARRAY, &rc)) == NULL) return rc;
    ps->depth++;
    rc = c == '{' ? parse_object(ps, n) : parse_array(ps, n);
    ps->depth--;
  } else if (c == '"') {
    if ((n = new_node(ps, JSON_STRING, &rc)) == NULL) return rc;
    rc = parse_string(ps, &n->u.str.s, &n->u.str.len);
    if (rc != AR_OK) n->type = JSON_NULL; /* nothing of the string to free */
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    double d;
    if ((rc = parse_number(ps, &d)) != AR_OK) return rc;
    if ((n = new_node(ps, JSON_NUMBER, &rc)) == NULL) return rc;
    n->u.number = d;
  } else {
    json_type_t t;
    if (literal(ps, "null", 4)) t = JSON_NULL;
    else if (literal(ps, "true", 4)) t = JSON_TRUE;
    else if (literal(ps, "false", 5)) t = JSON_FALSE;
    else return JSON_ESYNTAX;
    if ((n = new_node(ps, t, &rc)) == NULL) return rc;
  }
  if (rc != AR_OK) {
    if (SRV_FREES_EACH) json_free(ps->m, n);
    return rc;
  }
  *out = n;
  return AR_OK;
}

int json_parse(srv_mem_t *m, const char *text, size_t len, json_node_t **out) {
  parser_t ps = {m, text, text + len, 0};
  json_node_t *root;
  *out = NULL;
  int rc = parse_value(&ps, &root);
  if (rc != AR_OK) return rc;
  skip_ws(&ps);
  if (ps.p != ps.end) {
    if (SRV_FREES_EACH) json_free(m, root);
    return JSON_ESYNTAX;
  }
  *out = root;
  return AR_OK;
}

/* ---- writer ---------------------------------------------------------------------------- */

int json_write_string(srv_buf_t *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  int rc = srv_buf_append_char(b, '"');
  size_t run = 0; /* bytes [i - run, i) need no escaping */
  for (size_t i = 0; i < len && rc == AR_OK; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') {
      run++;
      continue;
    }
    rc = srv_buf_append(b, s + i - run, run);
    run = 0;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        n = 6;
    }
    if (rc == AR_OK) rc = srv_buf_append(b, esc, n);
  }
  if (rc == AR_OK) rc = srv_buf_append(b, s + len - run, run);
  if (rc == AR_OK) rc = srv_buf_append_char(b, '"');
  return rc;
}

/* What `printf("%.15g")` prints, or `%.17g` when that does not read back as the same double;
 * integers without printf, and most other numbers too. A number that some decimal of at most
 * 15 significant digits reads back as has exactly one such decimal (the decimals of 15 digits
 * near it are further apart than the doubles are), and %.15g prints it, trailing zeros cut.
 * So for 1e-4 <= |d| < 1e15, where %g writes no exponent, this finds the fewest places k after
 * the point at which m = round(|d| * 10^k) (below 10^15) reads back as |d|; the test is
 * m / 10^k == |d|, correctly rounded for the reason parse_number gives. Fewest places means
 * the last one is not 0. That reasoning holds when rounding is to nearest (`nearest`: the
 * caller asks fegetround once per json_write), as it is unless the program changed it; under
 * another mode snprintf and strtod round differently, and they alone decide. Other numbers go
 * to snprintf too. */
/* Writes the decimal digits of u backwards, ending just before `end`; returns where they begin. */
static char *put_digits(char *end, uint64_t u) {
  do *--end = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  return end;
}

static int write_number(srv_buf_t *b, double d, bool nearest) {
  char tmp[40];
  char *e = tmp + sizeof tmp, *p = e;
  int n;
  /* JSON has no NaN or infinity. DBL_MAX rather than its decimal spelling, which is read in
   * long double where FLT_EVAL_METHOD is 2, and is less than DBL_MAX there. */
  if (d != d || d > DBL_MAX || d < -DBL_MAX) return srv_buf_append(b, "null", 4);
  if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(int64_t)d) {
    int64_t v = (int64_t)d;
    p = put_digits(p, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    if (v < 0) *--p = '-';
    return srv_buf_append(b, p, (size_t)(e - p));
  }
  double a = d < 0 ? -d : d;
  if (JSON_ONE_ROUNDING && nearest && a >= 1e-4 && a < 1e15) {
    for (int k = 1; k <= 19; k++) {
      double x = a * k_pow10[k];
      if (x >= 1e15) break;
      uint64_t m = (uint64_t)(x + 0.5);
      if ((double)(int64_t)m / k_pow10[k] != a) continue; /* m < 10^15 fits */
      for (int i = 0; i < k; i++, m /= 10) *--p = (char)('0' + m % 10);
      *--p = '.';
      p = put_digits(p, m);
      if (d < 0) *--p = '-';
      return srv_buf_append(b, p, (size_t)(e - p));
    }
  }
  n = snprintf(tmp, sizeof tmp, "%.15g", d);
  if (strtod(tmp, NULL) != d) n = snprintf(tmp, sizeof tmp, "%.17g", d);
  return srv_buf_append(b, tmp, (size_t)n);
}

/* Appends `pre` (if not 0), the quoted string and `post` (if not 0) in one append when the
 * string is short and needs no escaping, which is most keys and values. */
static int write_quoted(srv_buf_t *b, char pre, const char *s, size_t len, char post) {
  char tmp[128];
  if (len <= sizeof tmp - 4) {
    size_t n = 0;
    if (pre) tmp[n++] = pre;
    tmp[n++] = '"';
    size_t i = 0;
    for (; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x20 || c == '"' || c == '\\') break;
      tmp[n++] = (char)c;
    }
    if (i == len) {
      tmp[n++] = '"';
      if (post) tmp[n++] = post;
      return srv_buf_append(b, tmp, n);
    }
  }
  int rc = pre ? srv_buf_append_char(b, pre) : AR_OK;
  if (rc == AR_OK) rc = json_write_string(b, s, len);
  if (rc == AR_OK && post) rc = srv_buf_append_char(b, post);
  return rc;
}

static int write_value(srv_buf_t *b, const json_node_t *n, bool nearest) {
  int rc = AR_OK;
  switch (n->type) {
    case JSON_NULL: return srv_buf_append(b, "null", 4);
    case JSON_TRUE: return srv_buf_append(b, "true", 4);
    case JSON_FALSE: return srv_buf_append(b, "false", 5);
    case JSON_NUMBER: return write_number(b, n->u.number, nearest);
    case JSON_STRING: return write_quoted(b, 0, n->u.str.s, n->u.str.len, 0);
    case JSON_ARRAY: {
      json_node_t *const *it = srv_vec_data(&n->u.items);
      rc = srv_buf_append_char(b, '[');
      for (size_t i = 0; i < srv_vec_len(&n->u.items) && rc == AR_OK; i++) {
        if (i > 0) rc = srv_buf_append_char(b, ',');
        if (rc == AR_OK) rc = write_value(b, it[i], nearest);
      }
      return rc == AR_OK ? srv_buf_append_char(b, ']') : rc;
    }
    case JSON_OBJECT: {
      const json_member_t *it = srv_vec_data(&n->u.items);
      rc = srv_buf_append_char(b, '{');
      for (size_t i = 0; i < srv_vec_len(&n->u.items) && rc == AR_OK; i++) {
        rc = write_quoted(b, i > 0 ? ',' : 0, it[i].key, it[i].key_len, ':');
        if (rc == AR_OK) rc = write_value(b, it[i].value, nearest);
      }
      return rc == AR_OK ? srv_buf_append_char(b, '}') : rc;
    }
  }
  return AR_EINVAL;
}

int json_write(srv_buf_t *b, const json_node_t *n) {
  return write_value(b, n, fegetround() == FE_TONEAREST);
}
