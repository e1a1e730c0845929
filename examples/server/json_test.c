/* SPDX-License-Identifier: MIT */
/*
 * examples/server/json_test.c - json.c's numbers, without the server: what the parser reads
 * must be strtod's double bit for bit, and what the writer prints must be the text of its
 * definition in json.c (%.15g, or %.17g when that does not read back; integers of at most 2^53
 * in plain digits), whichever of json.c's paths a number takes.
 *
 * The numbers are drawn from a fixed seed: prices and other short decimals (the common case
 * the fast paths are for), log-uniform values across and beyond the range the writer's fast
 * path covers, arbitrary bit patterns, and the edges of each path (1e-4, 1e15, 2^53, 10^22,
 * 19 digits, long exponents). Each value is parsed from several spellings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fenv.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/server/json.h"
#include "examples/server/test_support.h"

static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t next_u64(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* json.c's number format, by its definition rather than its code. */
static void reference_text(double d, char *out, size_t cap) {
  if (isnan(d) || isinf(d)) {
    snprintf(out, cap, "null");
  } else if (fabs(d) <= 9007199254740992.0 && d == trunc(d)) {
    snprintf(out, cap, "%" PRId64, (int64_t)d);
  } else {
    snprintf(out, cap, "%.15g", d);
    if (strtod(out, NULL) != d) snprintf(out, cap, "%.17g", d);
  }
}

static uint64_t bits_of(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static size_t parsed, written;

/* json_parse of `text` in a scope of its own (so that the arena flavor does not pile up every
 * tree until the request cap): its result, and *root, a copy of the root node (type NULL when
 * the parse failed, which must leave no root). */
static int parse_text(const char *text, json_node_t *root) {
  srv_scope_t s;
  assert_int_equal(srv_scope_begin(&s), AR_OK);
  json_node_t *r;
  int rc = json_parse(&s.mem, text, strlen(text), &r);
  *root = (json_node_t){.type = JSON_NULL};
  if (rc == AR_OK) {
    *root = *r; /* a number or a literal: nothing it points to is read after the scope */
    json_free(&s.mem, r);
  } else {
    assert_null(r);
  }
  srv_scope_end(&s);
  return rc;
}

/* Parses `text` (one JSON number) and checks it against strtod. */
static void check_parse(const char *text) {
  json_node_t root;
  int rc = parse_text(text, &root);
  parsed++;
  if (strlen(text) >= 64) {
    assert_int_equal(rc, JSON_ESYNTAX); /* json.h: numbers up to 63 characters */
    return;
  }
  assert_int_equal(rc, AR_OK);
  assert_int_equal(root.type, JSON_NUMBER);
  double want = strtod(text, NULL);
  if (bits_of(root.u.number) != bits_of(want)) {
    fail_msg("'%s' parsed as %a, strtod says %a", text, root.u.number, want);
  }
}

/* Writes d through json_write and checks the text; then parses every spelling of d. */
static void check_value(srv_buf_t *b, double d) {
  char want[64], text[128];
  json_node_t node = {.type = JSON_NUMBER, .u.number = d};
  size_t before = srv_buf_len(b);
  assert_int_equal(json_write(b, &node), AR_OK);
  reference_text(d, want, sizeof want);
  const char *got = srv_buf_data(b) + before;
  if (strcmp(got, want) != 0) fail_msg("%a written as '%s', expected '%s'", d, got, want);
  srv_buf_consume(b, srv_buf_len(b));
  srv_buf_compact(b);
  written++;
  if (isnan(d) || isinf(d)) return;
  check_parse(want);
  static const char *const forms[] = {"%.17g", "%.3g", "%.9g", "%.17e", "%.6E", "%.20f", "%.1f"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    snprintf(text, sizeof text, forms[i], d);
    if (strstr(text, "inf") == NULL) check_parse(text);
  }
}

void test_json_numbers(void **state) {
  (void)state;
  srv_scope_t s;
  assert_int_equal(srv_scope_begin(&s), AR_OK);
  srv_buf_t b;
  assert_int_equal(srv_buf_init(&b, &s.mem), AR_OK);

  /* Edges of the writer's fast path and of the integer path. */
  static const double edges[] = {1e-4,
                                 1e15,
                                 9007199254740992.0,
                                 9007199254740994.0,
                                 1e22,
                                 1e23,
                                 0.1 + 0.2,
                                 0.30000000000000004,
                                 5e-324,
                                 2.2250738585072014e-308,
                                 1.7976931348623157e308,
                                 999999999999999.9,
                                 99999999999999.99,
                                 123456789012345.6,
                                 0.000123456789012345,
                                 4.35,
                                 0.1,
                                 1.0 / 3.0,
                                 2.0 / 3.0,
                                 100.5,
                                 1e-5,
                                 0.5,
                                 -0.0,
                                 0.0,
                                 1.5e300};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    double e = edges[i];
    for (int side = 0; side < 3; side++) {
      double d = side == 0 ? e : nextafter(e, side == 1 ? 0.0 : INFINITY);
      check_value(&b, d);
      check_value(&b, -d);
    }
  }
  check_value(&b, NAN);
  check_value(&b, INFINITY);

  for (int i = 0; i < 20000; i++) {
    uint64_t r = next_u64();
    double d;
    switch (i % 4) {
      case 0: /* a price or another short decimal: up to 9 digits, 1 to 8 places */
        d = (double)(r % 1000000000u) / pow(10.0, (double)(1 + (r >> 32) % 8));
        break;
      case 1: /* log-uniform from 1e-7 to 1e18 */
        d = pow(10.0, -7.0 + 25.0 * (double)(r >> 11) / 9007199254740992.0);
        break;
      case 2: /* any finite double */
        memcpy(&d, &r, sizeof d);
        if (isnan(d) || isinf(d)) d = 1.0;
        break;
      default: /* a 15 to 17 digit decimal near a random point of the fast range */
        d = (double)(r % 100000000000000000u) / pow(10.0, (double)((r >> 57) % 20));
        break;
    }
    check_value(&b, (r >> 63) ? -d : d);
  }

  /* Spellings at the edges of the parser's fast path: 19 digits and more, mantissas around
   * 2^53, scales around +-22, leading zeros after the point, long and signed exponents. */
  static const char *const texts[] = {
      "9007199254740992",
      "9007199254740993",
      "9007199254740993.0",
      "900719925474099.3e1",
      "1234567890123456789",
      "12345678901234567890",
      "1.234567890123456789",
      "0.1234567890123456789",
      "1e22",
      "1e23",
      "1E-22",
      "1e-23",
      "123e20",
      "0.0000000000000000000000000001",
      "0.000000000000000000001",
      "1e+0005",
      "1e-00000000000000000000000000000000000007",
      "-0",
      "-0.0e0",
      "0e400",
      "1e400",
      "2.5e-324",
      "7.2057594037927933e16",
      "4.9406564584124654e-324",
      "0.30000000000000004",
      "18446744073709551621", /* 2^64 + 5: wraps to 5 in 64 bits */
      "1844674407370955162.1e1",
      "100000000000000000000000000000000000000000000000000000000000001",
      "1000000000000000000000000000000000000000000000000000000000000001" /* 64: too long */};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) check_parse(texts[i]);

  /* Under the other rounding modes: strtod's double and the old rule's text in that mode. */
  static const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
  double vals[3000];
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    uint64_t r = next_u64();
    double d = (double)(r % 1000000000u) / pow(10.0, (double)(1 + (r >> 32) % 8));
    if (i % 3 == 1) d = pow(10.0, -7.0 + 25.0 * (double)(r >> 11) / 9007199254740992.0);
    vals[i] = (r >> 63) ? -d : d;
  }
  for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
    assert_int_equal(fesetround(modes[k]), 0);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) check_value(&b, vals[i]);
    assert_int_equal(fesetround(FE_TONEAREST), 0);
  }

  /* Malformed numbers are not numbers, alone or inside a document. */
  static const char *const bad[] = {
      "-",   "1.",        "1e",   "1e+",  "1e-",   "--1",  "+1",         ".5",        "01",   "-01",
      "00",  "1.e5",      "0x10", "1ee5", "1e5.5", "-.5",  "1.5.5",      "1E",        "- 1",  "1 2",
      "NaN", "-Infinity", "[1.]", "[1e]", "[-]",   "[01]", "{\"a\":1.}", "{\"a\":-}", "[1e+]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_node_t root;
    int rc = parse_text(bad[i], &root);
    if (rc != JSON_ESYNTAX) fail_msg("'%s' gave %d, not JSON_ESYNTAX", bad[i], rc);
  }

  /* A mismatch above fails at once; these say that the loops ran (8 spellings per value). */
  assert_true(written > 20000);
  assert_true(parsed > 8 * 20000);
  srv_buf_destroy(&b);
  srv_scope_end(&s);
}
