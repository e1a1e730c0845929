/* SPDX-License-Identifier: MIT */
/*
 * tests/containers/map_test.c - ar_map: byte and u64 keys, put/get/remove/put_if_absent,
 * iteration, clear, reserve, removal churn (backward shift keeps lookups right), probe runs
 * that wrap past the end of a small table (a user hash with 7 values), a user hash that sends
 * every key to one value, value pointers that alias the table, and allocation
 * failure leaving the map unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/map.h"
#include "tests/arena/arena_unit.h"

static ar_map_t mk_map(ar_arena_t *a, ar_map_key_kind_t kind, size_t vs) {
  ar_map_options_t o;
  ar_map_options_init(&o);
  o.key_kind = kind;
  o.value_size = vs;
  ar_map_t m;
  assert_int_equal(ar_map_init(&m, a, &o), AR_OK);
  return m;
}

static void test_args(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_map_t m;
  ar_map_options_t o;
  ar_map_options_init(&o);
  assert_int_equal(o.key_kind, AR_MAP_KEY_BYTES);
  assert_int_equal(o.value_size, sizeof(void *));
  assert_int_equal(ar_map_init(NULL, a, NULL), AR_EINVAL);
  assert_int_equal(ar_map_init(&m, NULL, NULL), AR_EINVAL);
  o.value_size = AR_MAP_MAX_VALUE + 1;
  assert_int_equal(ar_map_init(&m, a, &o), AR_EINVAL);
  o.value_size = 8;
  o.key_kind = (ar_map_key_kind_t)7;
  assert_int_equal(ar_map_init(&m, a, &o), AR_EINVAL);
  assert_int_equal(ar_map_init(&m, a, NULL), AR_OK);
  uint64_t v = 1;
  assert_int_equal(ar_map_put(NULL, "k", 1, &v), AR_EINVAL);
  assert_int_equal(ar_map_put(&m, NULL, 1, &v), AR_EINVAL);
  assert_int_equal(ar_map_put(&m, "k", 1, NULL), AR_EINVAL);
  assert_int_equal(ar_map_put_u64(&m, 1, &v), AR_EINVAL); /* wrong key kind */
  assert_null(ar_map_get_u64(&m, 1));
  assert_int_equal(ar_last_error(), AR_EINVAL);
  assert_false(ar_map_remove(NULL, "k", 1, NULL));
  assert_null(ar_map_get(&m, "k", 1)); /* absent, empty map */
  assert_false(ar_map_contains(&m, "k", 1));
  assert_false(ar_map_remove(&m, "k", 1, NULL));
  assert_int_equal(ar_map_foreach(&m, NULL, NULL), AR_EINVAL);
  size_t pos = 0;
  ar_map_entry_t e;
  assert_false(ar_map_next(&m, &pos, &e));
  assert_int_equal(ar_map_len(NULL), 0);
  ar_map_clear(&m);
  ar_map_destroy(&m);
  ar_map_destroy(NULL);
  /* Static initializer. */
  ar_map_t s = AR_MAP_INIT(a, AR_MAP_KEY_U64, sizeof(uint64_t));
  assert_int_equal(ar_map_put_u64(&s, 3, &v), AR_OK);
  assert_int_equal(*(uint64_t *)ar_map_get_u64(&s, 3), 1);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_bytes_basic(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_map_t m = mk_map(a, AR_MAP_KEY_BYTES, sizeof(int));
  char key[32];
  for (int i = 0; i < 2000; i++) {
    int n = snprintf(key, sizeof key, "key-%d", i);
    assert_int_equal(ar_map_put(&m, key, (size_t)n, &i), AR_OK);
  }
  assert_int_equal(ar_map_len(&m), 2000);
  assert_true(ar_map_len(&m) <= ar_map_capacity(&m) * 7 / 8);
  for (int i = 0; i < 2000; i++) {
    int n = snprintf(key, sizeof key, "key-%d", i);
    int *v = ar_map_get(&m, key, (size_t)n);
    assert_non_null(v);
    assert_int_equal(*v, i);
  }
  /* Replace, the empty key, binary keys with NULs, prefixes that must not match. */
  int x = -1;
  assert_int_equal(ar_map_put(&m, "key-5", 5, &x), AR_OK);
  assert_int_equal(*(int *)ar_map_get(&m, "key-5", 5), -1);
  assert_int_equal(ar_map_len(&m), 2000);
  assert_int_equal(ar_map_put(&m, NULL, 0, &x), AR_OK);
  assert_true(ar_map_contains(&m, "", 0));
  assert_int_equal(ar_map_put(&m, "a\0b", 3, &x), AR_OK);
  assert_false(ar_map_contains(&m, "a\0c", 3));
  assert_false(ar_map_contains(&m, "key-1", 4));
  assert_int_equal(ar_map_len(&m), 2002);
  /* put_if_absent keeps the existing value and reports where it is. */
  void *vp = NULL;
  bool ins = true;
  int y = 77;
  assert_int_equal(ar_map_put_if_absent(&m, "key-7", 5, &y, &vp, &ins), AR_OK);
  assert_false(ins);
  assert_int_equal(*(int *)vp, 7);
  assert_int_equal(ar_map_put_if_absent(&m, "new", 3, &y, &vp, &ins), AR_OK);
  assert_true(ins);
  assert_int_equal(*(int *)vp, 77);
  assert_int_equal(ar_map_put_if_absent(&m, "new2", 4, &y, NULL, NULL), AR_OK);
  /* The map keeps its own key copy. */
  char tmp[8] = "temp";
  assert_int_equal(ar_map_put(&m, tmp, 4, &y), AR_OK);
  memcpy(tmp, "XXXX", 4);
  assert_true(ar_map_contains(&m, "temp", 4));
  int out = 0;
  assert_true(ar_map_remove(&m, "key-9", 5, &out));
  assert_int_equal(out, 9);
  assert_false(ar_map_remove(&m, "key-9", 5, &out));
  assert_null(ar_map_get(&m, "key-9", 5));
  CHECK_ARENA(a);
  ar_map_destroy(&m);
  assert_int_equal(ar_map_len(&m), 0);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static int count_visit(const ar_map_entry_t *e, void *ctx) {
  uint64_t *acc = (uint64_t *)ctx;
  acc[0]++;
  acc[1] += e->key_u64;
  acc[2] += *(uint64_t *)e->value;
  return e->key_u64 == 12345 ? 9 : 0;
}

static void test_u64_iterate_clear(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_map_t m = mk_map(a, AR_MAP_KEY_U64, sizeof(uint64_t));
  uint64_t ksum = 0, vsum = 0;
  for (uint64_t k = 0; k < 5000; k++) {
    uint64_t key = k * 0x10000, val = k + 1; /* low bits all zero: a poor spread */
    assert_int_equal(ar_map_put_u64(&m, key, &val), AR_OK);
    ksum += key;
    vsum += val;
  }
  assert_true(ar_map_contains_u64(&m, 4999 * 0x10000));
  assert_false(ar_map_contains_u64(&m, 1));
  uint64_t acc[3] = {0, 0, 0};
  assert_int_equal(ar_map_foreach(&m, count_visit, acc), 0);
  assert_true(acc[0] == 5000 && acc[1] == ksum && acc[2] == vsum);
  size_t pos = 0, n = 0;
  ar_map_entry_t e;
  while (ar_map_next(&m, &pos, &e)) {
    assert_int_equal(e.key_len, 8);
    assert_true(*(const uint64_t *)e.key == e.key_u64);
    *(uint64_t *)e.value = 0; /* values may be written through the entry */
    n++;
  }
  assert_int_equal(n, 5000);
  assert_int_equal(*(uint64_t *)ar_map_get_u64(&m, 0x10000), 0);
  uint64_t v = 5;
  assert_int_equal(ar_map_put_u64(&m, 12345, &v), AR_OK);
  memset(acc, 0, sizeof acc);
  assert_int_equal(ar_map_foreach(&m, count_visit, acc), 9);
  size_t cap = ar_map_capacity(&m);
  ar_map_clear(&m);
  assert_int_equal(ar_map_len(&m), 0);
  assert_int_equal(ar_map_capacity(&m), cap);
  assert_false(ar_map_contains_u64(&m, 12345));
  pos = 0;
  assert_false(ar_map_next(&m, &pos, &e));
  void *vp;
  bool ins;
  assert_int_equal(ar_map_put_if_absent_u64(&m, 9, &v, &vp, &ins), AR_OK);
  assert_true(ins);
  assert_true(ar_map_remove_u64(&m, 9, NULL));
  assert_false(ar_map_remove_u64(&m, 9, NULL));
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* Insert/remove churn over a small key space: with backward-shift deletion there are no
 * tombstones, so the table never grows past what the live keys need. */
static void test_churn(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_map_t m = mk_map(a, AR_MAP_KEY_U64, sizeof(uint32_t));
  enum { KEYS = 300 };
  bool present[KEYS] = {false};
  uint32_t val[KEYS] = {0};
  uint64_t x = 12345;
  size_t max_cap = 0;
  for (int step = 0; step < 200000; step++) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    uint64_t k = (x >> 33) % KEYS;
    uint32_t nv = (uint32_t)(x >> 7);
    if ((x >> 20) & 1) {
      assert_int_equal(ar_map_put_u64(&m, k, &nv), AR_OK);
      present[k] = true;
      val[k] = nv;
    } else {
      assert_int_equal(ar_map_remove_u64(&m, k, NULL), present[k]);
      present[k] = false;
    }
    if (step % 1000 == 0) {
      size_t live = 0;
      for (uint64_t j = 0; j < KEYS; j++) {
        uint32_t *p = ar_map_get_u64(&m, j);
        assert_int_equal(p != NULL, present[j]);
        if (p) assert_int_equal(*p, val[j]);
        live += present[j];
      }
      assert_int_equal(ar_map_len(&m), live);
      if (ar_map_capacity(&m) > max_cap) max_cap = ar_map_capacity(&m);
    }
  }
  assert_true(max_cap <= 512); /* 300 keys at load <= 7/8 */
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* ---- runs that wrap past the end of the table ------------------------------------------- */

/* key % 7: at most 7 home slots (the map post-mixes the result, so they are spread over the
 * table but stay 7), so every run is long and, in a small table kept nearly full, the runs
 * cover most slots and wrap from the last slot to slot 0. That is where an insert shifts its
 * run with two memmoves and a carry from the last slot to the first (runtime/map.c,
 * insert_at), and where removal's backward shift crosses the end. */
static uint64_t mod7_hash(const void *key, size_t len, void *ctx) {
  (void)len;
  (void)ctx;
  uint64_t k;
  memcpy(&k, key, sizeof k);
  return k % 7;
}

enum { WRAP_KEYS = 300 };

typedef struct wrap_ref {
  bool present[WRAP_KEYS];
  uint64_t val[WRAP_KEYS];
  size_t live;
  size_t home[7];      /* the home slot of each residue in the table under test */
  size_t wrapped_seen; /* states in which some entry sat below its home (its run wrapped) */
} wrap_ref_t;

/* The map holds exactly what the reference holds: every key's lookup, the length, and a full
 * walk (each entry once, with its value). Also counts whether some entry's run wrapped: an
 * entry in a slot below its home (white-box: ar_map_next leaves the cursor one past the slot
 * it returned, runtime/map.c). */
static void check_against_ref(const ar_map_t *m, wrap_ref_t *r, bool homes_known) {
  assert_int_equal(ar_map_len(m), r->live);
  for (uint64_t k = 0; k < WRAP_KEYS; k++) {
    const uint64_t *v = ar_map_get_u64(m, k);
    assert_int_equal(v != NULL, r->present[k]);
    if (v != NULL) assert_int_equal(*v, r->val[k]);
    assert_int_equal(ar_map_contains_u64(m, k), r->present[k]);
  }
  bool seen[WRAP_KEYS] = {false};
  size_t n = 0, pos = 0;
  bool wrapped = false;
  ar_map_entry_t e;
  while (ar_map_next(m, &pos, &e)) {
    assert_int_equal(e.key_len, sizeof(uint64_t));
    assert_true(e.key_u64 < WRAP_KEYS);
    assert_true(r->present[e.key_u64]);
    assert_false(seen[e.key_u64]);
    seen[e.key_u64] = true;
    assert_int_equal(*(const uint64_t *)e.value, r->val[e.key_u64]);
    if (homes_known && pos - 1 < r->home[e.key_u64 % 7]) wrapped = true;
    n++;
  }
  assert_int_equal(n, r->live);
  r->wrapped_seen += wrapped;
}

/* The home slot of each residue in a table of `cap` slots: where a lone key of it sits. */
static void find_homes(ar_arena_t *a, const ar_map_options_t *o, size_t cap, size_t home[7]) {
  ar_map_t p;
  assert_int_equal(ar_map_init(&p, a, o), AR_OK);
  assert_int_equal(ar_map_reserve(&p, cap - cap / 8), AR_OK);
  assert_int_equal(ar_map_capacity(&p), cap);
  for (uint64_t k = 0; k < 7; k++) {
    uint64_t v = 0;
    assert_int_equal(ar_map_put_u64(&p, k, &v), AR_OK);
    size_t pos = 0;
    ar_map_entry_t e;
    assert_true(ar_map_next(&p, &pos, &e));
    assert_int_equal(e.key_u64, k);
    home[k] = pos - 1;
    assert_true(ar_map_remove_u64(&p, k, NULL));
  }
  ar_map_destroy(&p);
}

static void test_wrapping_runs(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  assert_non_null(a);
  ar_map_options_t o;
  ar_map_options_init(&o);
  o.key_kind = AR_MAP_KEY_U64;
  o.value_size = sizeof(uint64_t);
  o.hash = mod7_hash;
  wrap_ref_t *r = calloc(1, sizeof *r);
  assert_non_null(r);
  uint64_t x = 0x9E3779B97F4A7C15u;
  /* Small tables held at or just under their 7/8 load limit, so they never grow: every put of
   * a new key lands in a long run, and most states have a run across the end. */
  const size_t caps[] = {8, 16, 32};
  for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
    size_t cap = caps[c], max_live = cap - cap / 8;
    find_homes(a, &o, cap, r->home);
    ar_map_t m;
    assert_int_equal(ar_map_init(&m, a, &o), AR_OK);
    assert_int_equal(ar_map_reserve(&m, max_live), AR_OK);
    memset(r->present, 0, sizeof r->present);
    r->live = 0;
    size_t wrapped_before = r->wrapped_seen;
    for (int step = 0; step < 1500; step++) {
      x = x * 6364136223846793005u + 1442695040888963407u;
      uint64_t k = (x >> 33) % WRAP_KEYS;
      uint64_t nv = k * 1000003u + (uint64_t)step;
      unsigned op = (unsigned)(x >> 20) % 4;
      if (op <= 1 && (r->present[k] || r->live < max_live)) {
        assert_int_equal(ar_map_put_u64(&m, k, &nv), AR_OK);
        r->live += !r->present[k];
        r->present[k] = true;
        r->val[k] = nv;
      } else if (op <= 2 || !r->present[k]) {
        /* remove k, or (table full) a present key: the next one up from k */
        uint64_t victim = k;
        if (op <= 1)
          while (!r->present[victim]) victim = (victim + 1) % WRAP_KEYS;
        uint64_t out = 0;
        assert_int_equal(ar_map_remove_u64(&m, victim, &out), r->present[victim]);
        if (r->present[victim]) assert_int_equal(out, r->val[victim]);
        r->live -= r->present[victim];
        r->present[victim] = false;
      } else {
        bool ins = false;
        void *vp = NULL;
        assert_int_equal(ar_map_put_if_absent_u64(&m, k, &nv, &vp, &ins), AR_OK);
        assert_false(ins); /* k is present here */
        assert_int_equal(*(uint64_t *)vp, r->val[k]);
      }
      assert_int_equal(ar_map_capacity(&m), cap); /* never grew: still the small table */
      check_against_ref(&m, r, true);
    }
    /* The point of the phase: many states had a run across the end of the table. */
    assert_true(r->wrapped_seen - wrapped_before > 750); /* of 1500 */
    ar_map_destroy(&m);
    CHECK_ARENA(a);
  }

  /* Then every key, so the table doubles several times: each rehash re-places long runs,
   * some across the new table's end; then churn at that size. */
  ar_map_t m;
  assert_int_equal(ar_map_init(&m, a, &o), AR_OK);
  memset(r->present, 0, sizeof r->present);
  r->live = 0;
  for (uint64_t k = 0; k < WRAP_KEYS; k++) {
    uint64_t nv = k ^ 0x5555u;
    assert_int_equal(ar_map_put_u64(&m, k, &nv), AR_OK);
    r->present[k] = true;
    r->val[k] = nv;
    r->live++;
    check_against_ref(&m, r, false);
  }
  for (uint64_t k = 0; k < WRAP_KEYS; k += 2) {
    assert_true(ar_map_remove_u64(&m, k, NULL));
    r->present[k] = false;
    r->live--;
    check_against_ref(&m, r, false);
  }
  for (uint64_t k = 0; k < WRAP_KEYS; k += 3) {
    uint64_t nv = k + 7;
    assert_int_equal(ar_map_put_u64(&m, k, &nv), AR_OK);
    r->live += !r->present[k];
    r->present[k] = true;
    r->val[k] = nv;
    check_against_ref(&m, r, false);
  }
  assert_true(ar_map_capacity(&m) <= 512);
  ar_map_destroy(&m);
  free(r);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static uint64_t const_hash(const void *k, size_t n, void *ctx) {
  (void)k;
  (void)n;
  (void)ctx;
  return 42;
}

static bool str_eq(const void *x, size_t xn, const void *y, size_t yn, void *ctx) {
  (*(int *)ctx)++;
  return xn == yn && memcmp(x, y, xn) == 0;
}

static void test_all_collide(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  int eq_calls = 0;
  ar_map_options_t o;
  ar_map_options_init(&o);
  o.value_size = sizeof(int);
  o.hash = const_hash;
  o.eq = str_eq;
  o.ctx = &eq_calls;
  ar_map_t m;
  assert_int_equal(ar_map_init(&m, a, &o), AR_OK);
  char key[16];
  enum { N = 600 };
  for (int i = 0; i < N; i++) {
    int n = snprintf(key, sizeof key, "%d", i);
    assert_int_equal(ar_map_put(&m, key, (size_t)n, &i), AR_OK);
  }
  assert_true(eq_calls > 0);
  for (int i = 0; i < N; i += 2) {
    int n = snprintf(key, sizeof key, "%d", i);
    assert_true(ar_map_remove(&m, key, (size_t)n, NULL));
  }
  for (int i = 0; i < N; i++) {
    int n = snprintf(key, sizeof key, "%d", i);
    int *v = ar_map_get(&m, key, (size_t)n);
    if (i % 2) {
      assert_non_null(v);
      assert_int_equal(*v, i);
    } else {
      assert_null(v);
    }
  }
  assert_int_equal(ar_map_len(&m), N / 2);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

/* A value argument that points into the table survives the rehash that the insert causes. */
static void test_value_aliases_table(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(0, 0, 0);
  ar_map_t m = mk_map(a, AR_MAP_KEY_U64, 64);
  char v[64];
  memset(v, 'q', sizeof v);
  assert_int_equal(ar_map_put_u64(&m, 0, v), AR_OK);
  for (uint64_t k = 1; k < 500; k++) {
    void *src = ar_map_get_u64(&m, k - 1);
    assert_int_equal(ar_map_put_u64(&m, k, src), AR_OK);
  }
  assert_memory_equal(ar_map_get_u64(&m, 499), v, 64);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_reserve_overflow_failure(void **state) {
  (void)state;
  ar_arena_t *a = mk_arena(4096, 8192, 0);
  ar_map_t m = mk_map(a, AR_MAP_KEY_BYTES, sizeof(uint64_t));
  assert_int_equal(ar_map_reserve(&m, SIZE_MAX), AR_EOVERFLOW);
  assert_int_equal(ar_map_reserve(&m, SIZE_MAX / 64), AR_EOVERFLOW);
  assert_int_equal(ar_map_capacity(&m), 0);
  assert_int_equal(ar_map_reserve(&m, 20), AR_OK);
  size_t cap = ar_map_capacity(&m);
  assert_true(cap >= 23);
  assert_int_equal(ar_map_reserve(&m, 5), AR_OK);
  assert_int_equal(ar_map_capacity(&m), cap);
  /* Fill until the arena's limit stops an insert; the failed insert changes nothing. */
  char key[32];
  uint64_t i = 0;
  int err;
  for (;;) {
    int n = snprintf(key, sizeof key, "some-longer-key-%llu", (unsigned long long)i);
    err = ar_map_put(&m, key, (size_t)n, &i);
    if (err != AR_OK) break;
    i++;
  }
  assert_true(err == AR_ELIMIT || err == AR_ENOMEM);
  assert_int_equal(ar_map_len(&m), (size_t)i);
  cap = ar_map_capacity(&m);
  for (uint64_t k = 0; k < i; k++) {
    int n = snprintf(key, sizeof key, "some-longer-key-%llu", (unsigned long long)k);
    uint64_t *v = ar_map_get(&m, key, (size_t)n);
    assert_non_null(v);
    assert_true(*v == k);
  }
  int n = snprintf(key, sizeof key, "some-longer-key-%llu", (unsigned long long)i);
  assert_false(ar_map_contains(&m, key, (size_t)n));
  /* Replacing an existing key never allocates, so it still works at the limit. */
  uint64_t z = 0;
  assert_int_equal(ar_map_put(&m, "some-longer-key-0", 17, &z), AR_OK);
  assert_int_equal(ar_map_capacity(&m), cap);
  CHECK_ARENA(a);
  ar_arena_destroy(a);
}

static void test_hash_functions(void **state) {
  (void)state;
  /* Deterministic, seed-sensitive, length-sensitive, and not trivially colliding. */
  assert_true(ar_hash_bytes("abc", 3, 0) == ar_hash_bytes("abc", 3, 0));
  assert_true(ar_hash_bytes("abc", 3, 0) != ar_hash_bytes("abc", 3, 1));
  assert_true(ar_hash_bytes("abc", 3, 0) != ar_hash_bytes("abc\0", 4, 0));
  assert_true(ar_hash_bytes(NULL, 0, 0) != ar_hash_bytes(NULL, 0, 1));
  assert_true(ar_hash_u64(1, 0) != ar_hash_u64(2, 0));
  /* Low-bit spread: sequential keys land in many of 64 buckets. */
  unsigned seen = 0;
  uint64_t bits = 0;
  for (uint64_t i = 0; i < 64; i++) bits |= UINT64_C(1) << (ar_hash_u64(i << 20, 0) & 63);
  for (int b = 0; b < 64; b++) seen += (unsigned)((bits >> b) & 1);
  assert_true(seen > 30);
  char buf[100];
  memset(buf, 'x', sizeof buf);
  uint64_t h1 = ar_hash_bytes(buf, sizeof buf, 0);
  buf[50] = 'y';
  assert_true(h1 != ar_hash_bytes(buf, sizeof buf, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_bytes_basic),
      cmocka_unit_test(test_u64_iterate_clear),
      cmocka_unit_test(test_churn),
      cmocka_unit_test(test_wrapping_runs),
      cmocka_unit_test(test_all_collide),
      cmocka_unit_test(test_value_aliases_table),
      cmocka_unit_test(test_reserve_overflow_failure),
      cmocka_unit_test(test_hash_functions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
