/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/api_fuzz.c - the API walk.
 *
 * Input: byte 0 picks the chunk size, byte 1 the arena's flags (bit 0 checked mode, bit 1 a
 * byte limit of 12 chunks, bit 2 no retained chunks); the rest is a stream of operations, an
 * opcode byte and the argument bytes it consumes. Running out of bytes ends the walk (missing
 * argument bytes read as 0).
 *
 * The model: every live allocation of the main arena (pointer, size, fill tag), a stack of marks
 * (with the model's length and the cleanups registered at that point), the cleanups registered
 * and the order they must run in, a stack of scopes on the thread arena with their own live
 * allocations, and plain-array mirrors of a vector, a byte buffer and a small u64 map kept in a
 * second arena. After every operation: ar_arena_check on both arenas and the thread arena; the
 * allocations touched are verified byte for byte, and "verify" ops check them all. Allocation
 * may fail only with AR_ELIMIT and only when the limit bit is set.
 * A difference aborts with a message (libFuzzer and the replay test both report it).
 */
#include "tests/fuzz/api_fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/fuzz_input.h"

/* ---- model ------------------------------------------------------------------------------ */

#define MAX_LIVE 256
#define MAX_MARKS 16
#define MAX_CLEANUPS 64
#define MAX_SCOPES 8
#define MAP_KEYS 64

typedef struct live {
  unsigned char *p;
  size_t size;
  uint32_t tag;
  bool plain; /* default alignment: may be given to ar_free / ar_realloc */
  bool small; /* surely placed in an ordinary chunk (moves the cursor), not a dedicated one */
} live_t;

typedef struct mark {
  ar_mark_t m;
  size_t nlive;
  size_t ncleanups;
} mark_t;

typedef struct scope {
  ar_scope_t s;
  size_t nlive; /* scope_live entries when it began */
} scope_t;

typedef struct state {
  ar_arena_t *a;
  size_t chunk_size;
  bool limited;
  /* An ar_free/ar_realloc since the last reset: a block given back before a mark may serve an
   * allocation after it, which a rewind to that mark then cannot take back (it lies below the
   * mark). The rewind checks that assume "after the mark in time = after it in memory" are
   * skipped from then on. */
  bool tainted;
  live_t live[MAX_LIVE];
  size_t nlive;
  mark_t marks[MAX_MARKS];
  size_t nmarks;
  int cleanups[MAX_CLEANUPS]; /* ids registered, oldest first */
  size_t ncleanups;
  uint32_t next_tag;
  /* thread-arena scopes */
  scope_t scopes[MAX_SCOPES];
  size_t nscopes;
  live_t scope_live[MAX_LIVE];
  size_t nscope_live;
  /* containers in their own arena */
  ar_arena_t *ca;
  ar_vec_t vec;
  uint32_t vec_model[4096];
  size_t vec_len;
  ar_buf_t buf;
  unsigned char buf_model[8192];
  size_t buf_len;
  ar_map_t map;
  bool map_has[MAP_KEYS];
  uint64_t map_val[MAP_KEYS];
} state_t;

/* Cleanups append their id here; the model predicts the order. */
static int ran[MAX_CLEANUPS * 4];
static size_t nran;
static void note_cleanup(void *arg) {
  if (nran < sizeof ran / sizeof ran[0]) ran[nran++] = (int)(intptr_t)arg;
}

static unsigned char pattern(uint32_t tag, size_t i) {
  return (unsigned char)(tag * 131u + (uint32_t)i * 7u + (tag >> 5));
}

static void fill(live_t *l) {
  for (size_t i = 0; i < l->size; i++) l->p[i] = pattern(l->tag, i);
}

static void verify(const live_t *l) {
  for (size_t i = 0; i < l->size; i++)
    if (l->p[i] != pattern(l->tag, i))
      FAILF("allocation %p (%zu bytes, tag %u) changed at byte %zu", (void *)l->p, l->size,
            (unsigned)l->tag, i);
}

static void verify_all(const state_t *s) {
  for (size_t i = 0; i < s->nlive; i++) verify(&s->live[i]);
  for (size_t i = 0; i < s->nscope_live; i++) verify(&s->scope_live[i]);
}

/* An allocation result: must be non-NULL and aligned unless the limit allows a failure. */
static bool accept(const state_t *s, void *p, size_t align) {
  if (p == NULL) {
    if (!s->limited) FAILF("allocation failed without a limit: %s", ar_strerror(ar_last_error()));
    REQUIRE(ar_last_error() == AR_ELIMIT);
    return false;
  }
  REQUIRE(((uintptr_t)p & (align - 1)) == 0);
  return true;
}

static size_t pick_size(in_t *in) {
  uint8_t cls = u8(in);
  uint16_t v = u16(in);
  switch (cls % 8) {
    case 0: return 0;
    case 1:
    case 2:
    case 3: return v % 64;
    case 4:
    case 5: return v % 1024;
    case 6: return v % 8192;
    default: return 16384 + v % 50000; /* a dedicated chunk for most chunk sizes */
  }
}

static void push_live(state_t *s, void *p, size_t size, size_t align) {
  live_t *l = &s->live[s->nlive++];
  l->p = (unsigned char *)p;
  l->size = size;
  l->tag = s->next_tag++;
  l->plain = align <= 16;
  /* Requests over a quarter chunk (less headers and guards) get a dedicated chunk. */
  l->small = s->chunk_size >= 512 && size + align + 64 <= (s->chunk_size - 256) / 4;
  fill(l);
}

/* ---- operations -------------------------------------------------------------------------- */

static void op_alloc(state_t *s, in_t *in) {
  size_t size = pick_size(in);
  uint8_t how = u8(in);
  if (s->nlive == MAX_LIVE) return;
  size_t align = 16;
  void *p;
  switch (how % 6) {
    case 0: p = ar_alloc(s->a, size); break;
    case 1:
      align = (size_t)1 << (how / 6 % 14);
      p = ar_alloc_aligned(s->a, size, align);
      break;
    case 2:
      p = ar_calloc(s->a, size, 1);
      if (p != NULL)
        for (size_t i = 0; i < size; i++) REQUIRE(((unsigned char *)p)[i] == 0);
      break;
    case 3: {
      p = ar_alloc_zeroed(s->a, size);
      if (p != NULL)
        for (size_t i = 0; i < size; i++) REQUIRE(((unsigned char *)p)[i] == 0);
      break;
    }
    case 4: {
      char text[64];
      int n = snprintf(text, sizeof text, "walk-%zu-%u", size, (unsigned)how);
      char *str = (how & 64) ? ar_sprintf(s->a, "walk-%zu-%u", size, (unsigned)how)
                             : ar_strdup(s->a, text);
      if (!accept(s, str, 1)) return;
      REQUIRE(strcmp(str, text) == 0);
      push_live(s, str, (size_t)n + 1, 1); /* from here on it holds the tag's pattern */
      return;
    }
    default:
      p = ar_alloc_array(s->a, size / 4 + 1, 4);
      size = (size / 4 + 1) * 4;
      break;
  }
  if (!accept(s, p, align)) return;
  REQUIRE(ar_owns(s->a, p));
  if (size > 0) REQUIRE(ar_owns(s->a, (char *)p + size - 1));
  push_live(s, p, size, align);
}

static void op_mark(state_t *s) {
  if (s->nmarks == MAX_MARKS) return;
  mark_t *m = &s->marks[s->nmarks++];
  m->m = ar_mark(s->a);
  m->nlive = s->nlive;
  m->ncleanups = s->ncleanups;
}

/* The cleanups registered after `keep` must have run, newest first, and nothing else. */
static void expect_cleanups_run(state_t *s, size_t keep) {
  size_t want = s->ncleanups - keep;
  REQUIRE(nran == want);
  for (size_t i = 0; i < want; i++) REQUIRE(ran[i] == s->cleanups[s->ncleanups - 1 - i]);
  s->ncleanups = keep;
  nran = 0;
}

static void op_rewind(state_t *s, in_t *in) {
  uint8_t which = u8(in);
  if (s->nmarks == 0) return;
  size_t k = which % s->nmarks;
  mark_t m = s->marks[k];
  nran = 0;
  REQUIRE(ar_rewind(s->a, &m.m) == AR_OK);
  expect_cleanups_run(s, m.ncleanups);
  /* What the rewind took back is no longer owned: nothing was allocated since. */
  for (size_t i = m.nlive; i < s->nlive && !s->tainted; i++) REQUIRE(!ar_owns(s->a, s->live[i].p));
  /* A mark taken after allocations that the rewind removed is stale now, if they moved the
   * cursor (detection is by position: one after only dedicated chunks names the same place). */
  for (size_t j = k + 1; j < s->nmarks && !s->tainted; j++) {
    bool moved = false;
    for (size_t i = m.nlive; i < s->marks[j].nlive; i++) moved |= s->live[i].small;
    if (moved) {
      ar_clear_error();
      REQUIRE(ar_rewind(s->a, &s->marks[j].m) == AR_ESTALE);
      break;
    }
  }
  s->nlive = m.nlive;
  s->nmarks = k + 1; /* the mark itself stays valid */
  verify_all(s);
}

static void op_reset(state_t *s, in_t *in) {
  uint8_t how = u8(in);
  nran = 0;
  if (how & 1) ar_release(s->a);
  else ar_reset(s->a);
  expect_cleanups_run(s, 0);
  s->nlive = 0;
  s->nmarks = 0;
  s->tainted = false;
  ar_stats_t st;
  REQUIRE(ar_arena_stats(s->a, &st) == AR_OK);
  REQUIRE(st.used == 0 && st.chunks == 0 && st.large_chunks == 0 && st.cleanups == 0);
  if (how & 1) REQUIRE(st.capacity == 0);
}

static void op_defer(state_t *s) {
  if (s->ncleanups == MAX_CLEANUPS) return;
  int id = (int)s->next_tag++;
  int rc = ar_defer(s->a, note_cleanup, (void *)(intptr_t)id);
  if (rc != AR_OK) {
    REQUIRE(s->limited && rc == AR_ELIMIT);
    return;
  }
  s->cleanups[s->ncleanups++] = id;
}

/* Marks remember counts, not identities, so free and realloc pick only entries above the
 * newest mark, where order does not matter. */
static live_t *pick_plain(state_t *s, uint8_t which, size_t *index) {
  size_t lo = s->nmarks ? s->marks[s->nmarks - 1].nlive : 0;
  if (s->nlive <= lo) return NULL;
  size_t i = lo + which % (s->nlive - lo);
  if (!s->live[i].plain) return NULL;
  *index = i;
  return &s->live[i];
}

static void op_free(state_t *s, in_t *in) {
  size_t i;
  if (pick_plain(s, u8(in), &i) == NULL) return;
  verify(&s->live[i]);
  s->tainted = true;
  REQUIRE(ar_free(s->a, s->live[i].p, s->live[i].size) == AR_OK);
  s->live[i] = s->live[--s->nlive];
}

static void op_realloc(state_t *s, in_t *in) {
  uint8_t which = u8(in);
  size_t new_size = pick_size(in);
  size_t i;
  live_t *l = pick_plain(s, which, &i);
  if (l == NULL) return;
  s->tainted = true;
  unsigned char *q = (unsigned char *)ar_realloc(s->a, l->p, l->size, new_size);
  if (!accept(s, q, 16)) {
    verify(l); /* the old block is untouched */
    return;
  }
  size_t keep = l->size < new_size ? l->size : new_size;
  for (size_t k = 0; k < keep; k++) REQUIRE(q[k] == pattern(l->tag, k));
  l->p = q;
  l->size = new_size;
  fill(l);
}

static void op_check(state_t *s) {
  verify_all(s);
  ar_stats_t st;
  REQUIRE(ar_arena_stats(s->a, &st) == AR_OK);
  size_t sum = 0;
  for (size_t i = 0; i < s->nlive; i++) sum += s->live[i].size;
  REQUIRE(st.used >= sum);
  REQUIRE(st.peak >= st.used);
  REQUIRE(st.cleanups == s->ncleanups);
}

/* ---- scopes on the thread arena ----------------------------------------------------------- */

static void op_scope_begin(state_t *s) {
  if (s->nscopes == MAX_SCOPES) return;
  scope_t *sc = &s->scopes[s->nscopes++];
  sc->s = ar_scope_begin();
  REQUIRE(sc->s.arena != NULL);
  sc->nlive = s->nscope_live;
}

static void op_scope_alloc(state_t *s, in_t *in) {
  size_t size = pick_size(in);
  if (s->nscopes == 0 || s->nscope_live == MAX_LIVE) return;
  ar_arena_t *ta = s->scopes[s->nscopes - 1].s.arena;
  void *p = ar_alloc(ta, size);
  REQUIRE(p != NULL);
  live_t *l = &s->scope_live[s->nscope_live++];
  l->p = (unsigned char *)p;
  l->size = size;
  l->tag = s->next_tag++;
  fill(l);
}

static void op_scope_end(state_t *s) {
  if (s->nscopes == 0) return;
  scope_t *sc = &s->scopes[--s->nscopes];
  REQUIRE(ar_scope_end(&sc->s) == AR_OK);
  for (size_t i = sc->nlive; i < s->nscope_live; i++)
    if (s->scope_live[i].size > 0) REQUIRE(!ar_owns(sc->s.arena, s->scope_live[i].p));
  s->nscope_live = sc->nlive;
  verify_all(s);
}

/* ---- containers ------------------------------------------------------------------------------ */

static void containers_init(state_t *s) {
  REQUIRE(ar_vec_init(&s->vec, s->ca, sizeof(uint32_t)) == AR_OK);
  REQUIRE(ar_buf_init(&s->buf, s->ca) == AR_OK);
  ar_map_options_t mo;
  ar_map_options_init(&mo);
  mo.key_kind = AR_MAP_KEY_U64;
  mo.value_size = sizeof(uint64_t);
  REQUIRE(ar_map_init(&s->map, s->ca, &mo) == AR_OK);
  s->vec_len = s->buf_len = 0;
  memset(s->map_has, 0, sizeof s->map_has);
}

static void containers_verify(const state_t *s) {
  REQUIRE(ar_vec_len(&s->vec) == s->vec_len);
  if (s->vec_len) REQUIRE(memcmp(ar_vec_data(&s->vec), s->vec_model, s->vec_len * 4) == 0);
  REQUIRE(ar_buf_len(&s->buf) == s->buf_len);
  if (s->buf_len) REQUIRE(memcmp(ar_buf_data(&s->buf), s->buf_model, s->buf_len) == 0);
  size_t n = 0;
  for (uint64_t k = 0; k < MAP_KEYS; k++) {
    const uint64_t *v = (const uint64_t *)ar_map_get_u64(&s->map, k);
    REQUIRE((v != NULL) == s->map_has[k]);
    if (v != NULL) {
      REQUIRE(*v == s->map_val[k]);
      n++;
    }
  }
  REQUIRE(ar_map_len(&s->map) == n);
}

static void op_vec(state_t *s, in_t *in) {
  uint8_t how = u8(in);
  uint16_t v = u16(in);
  if ((how & 3) != 0 && s->vec_len < sizeof s->vec_model / sizeof s->vec_model[0]) {
    uint32_t x = v * 2654435761u;
    REQUIRE(ar_vec_push(&s->vec, &x) == AR_OK);
    s->vec_model[s->vec_len++] = x;
  } else if (s->vec_len > 0) {
    uint32_t x;
    REQUIRE(ar_vec_pop(&s->vec, &x) == AR_OK);
    REQUIRE(x == s->vec_model[--s->vec_len]);
  }
}

static void op_buf(state_t *s, in_t *in) {
  uint8_t n = u8(in);
  uint8_t c = u8(in);
  if (s->buf_len + n > sizeof s->buf_model) return;
  unsigned char bytes[256];
  for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)(c + i);
  REQUIRE(ar_buf_append(&s->buf, bytes, n) == AR_OK);
  memcpy(s->buf_model + s->buf_len, bytes, n);
  s->buf_len += n;
}

static void op_map(state_t *s, in_t *in) {
  uint8_t how = u8(in);
  uint64_t k = u8(in) % MAP_KEYS;
  if (how & 1) {
    uint64_t v = how * 1000003u + k;
    REQUIRE(ar_map_put_u64(&s->map, k, &v) == AR_OK);
    s->map_has[k] = true;
    s->map_val[k] = v;
  } else {
    uint64_t old = 0;
    bool removed = ar_map_remove_u64(&s->map, k, &old);
    REQUIRE(removed == s->map_has[k]);
    if (removed) REQUIRE(old == s->map_val[k]);
    s->map_has[k] = false;
  }
}

static void op_containers_reset(state_t *s) {
  containers_verify(s);
  ar_reset(s->ca);
  containers_init(s);
}

/* ---- the walk ------------------------------------------------------------------------------- */

static void check_arenas(state_t *s) {
  REQUIRE(ar_arena_check(s->a) == AR_OK);
  REQUIRE(ar_arena_check(s->ca) == AR_OK);
  if (s->nscopes > 0) REQUIRE(ar_arena_check(s->scopes[0].s.arena) == AR_OK);
}

int api_fuzz_one(const uint8_t *data, size_t size) {
  static const size_t chunk_sizes[] = {256, 512, 1024, 4096, 16384, 65536};
  in_t in = {data, size};
  uint8_t shape = u8(&in), flags = u8(&in);
  static state_t st; /* large: keep it off the stack */
  state_t *s = &st;
  memset(s, 0, sizeof *s);
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = chunk_sizes[shape % 6];
  s->chunk_size = o.chunk_size;
  o.flags = (flags & 1) ? AR_ARENA_CHECKED : 0;
  o.limit_bytes = (flags & 2) ? 12 * o.chunk_size : 0;
  o.retain_bytes = (flags & 4) ? 0 : 2 * o.chunk_size;
  o.name = "fuzz";
  s->limited = (flags & 2) != 0;
  s->a = ar_arena_create(&o);
  REQUIRE(s->a != NULL);
  s->ca = ar_arena_create(NULL);
  REQUIRE(s->ca != NULL);
  containers_init(s);
  nran = 0;

  while (in.n > 0) {
    uint8_t op = u8(&in);
    switch (op % 18) {
      case 0:
      case 1:
      case 2: op_alloc(s, &in); break;
      case 3: op_mark(s); break;
      case 4: op_rewind(s, &in); break;
      case 5: op_reset(s, &in); break;
      case 6: op_defer(s); break;
      case 7: op_free(s, &in); break;
      case 8: op_realloc(s, &in); break;
      case 9: op_check(s); break;
      case 10: op_scope_begin(s); break;
      case 11: op_scope_alloc(s, &in); break;
      case 12: op_scope_end(s); break;
      case 13: op_vec(s, &in); break;
      case 14: op_buf(s, &in); break;
      case 15: op_map(s, &in); break;
      case 16: containers_verify(s); break;
      default: op_containers_reset(s); break;
    }
    check_arenas(s);
  }

  verify_all(s);
  containers_verify(s);
  while (s->nscopes > 0) op_scope_end(s);
  nran = 0;
  ar_arena_destroy(s->a);
  expect_cleanups_run(s, 0);
  ar_arena_destroy(s->ca);
  return 0;
}
