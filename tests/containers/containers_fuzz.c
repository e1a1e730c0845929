/* SPDX-License-Identifier: MIT */
/*
 * tests/containers/containers_fuzz.c - differential fuzzing of the arena containers.
 *
 * Input format: byte 0 picks the arena's chunk size, byte 1 whether it has a small byte limit
 * (so that growth fails part-way and the "failed call leaves the container unchanged" contract
 * is exercised) and whether it runs in checked mode; the rest is a stream of operations, each an
 * opcode byte followed by the argument bytes it consumes. Running out of bytes ends the run.
 *
 * Every operation runs on the container and on a reference built from plain malloc'd arrays.
 * If the container call fails with a resource error (AR_ELIMIT / AR_ENOMEM) the reference is
 * left alone, so the comparison that follows each operation checks both the result and failure
 * atomicity. ar_arena_check runs after every operation too. A mismatch aborts (libFuzzer and
 * the cc_test driver both report that as a failure, with the message on stderr).
 */
#include "tests/containers/containers_fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "arenart/buf.h"
#include "arenart/map.h"
#include "arenart/vec.h"
#include "tests/fuzz_input.h"

/* ---- reference structures -------------------------------------------------------------- */

typedef struct rbytes { /* vector elements or buffer bytes */
  unsigned char *d;
  size_t n;
} rbytes_t;

static void r_insert(rbytes_t *r, size_t at, const void *src, size_t n) {
  unsigned char *d = realloc(r->d, r->n + n + 1);
  if (d == NULL) abort();
  r->d = d;
  memmove(d + at + n, d + at, r->n - at);
  memcpy(d + at, src, n);
  r->n += n;
}

static void r_erase(rbytes_t *r, size_t at, size_t n) {
  if (n == 0) return; /* r->d may still be NULL */
  memmove(r->d + at, r->d + at + n, r->n - at - n);
  r->n -= n;
}

#define RMAP_MAX 512
typedef struct rmap {
  size_t n;
  uint64_t ukey[RMAP_MAX];
  unsigned char bkey[RMAP_MAX][8];
  size_t bklen[RMAP_MAX];
  uint64_t val[RMAP_MAX];
} rmap_t;

static size_t rm_find_u(const rmap_t *r, uint64_t k) {
  for (size_t i = 0; i < r->n; i++)
    if (r->ukey[i] == k) return i;
  return SIZE_MAX;
}

static size_t rm_find_b(const rmap_t *r, const void *k, size_t n) {
  for (size_t i = 0; i < r->n; i++)
    if (r->bklen[i] == n && (n == 0 || memcmp(r->bkey[i], k, n) == 0)) return i;
  return SIZE_MAX;
}

static void rm_del(rmap_t *r, size_t i) {
  r->n--;
  r->ukey[i] = r->ukey[r->n];
  memcpy(r->bkey[i], r->bkey[r->n], 8);
  r->bklen[i] = r->bklen[r->n];
  r->val[i] = r->val[r->n];
}

/* ---- the state under test ---------------------------------------------------------------- */

typedef struct world {
  ar_arena_t *arena;
  ar_vec_t vec;
  rbytes_t rvec;
  ar_buf_t buf;
  rbytes_t rbuf;
  size_t rpos;
  ar_map_t umap; /* u64 keys, 8-byte values */
  rmap_t *rumap;
  ar_map_t bmap; /* byte keys, 8-byte values, optionally a weak user hash */
  rmap_t *rbmap;
  bool weak_hash;
} world_t;

static uint64_t weak_hash(const void *k, size_t n, void *ctx) {
  (void)ctx;
  return n ? ((const unsigned char *)k)[0] & 3 : 0; /* four buckets for every key */
}

static bool resource_error(int err) { return err == AR_ELIMIT || err == AR_ENOMEM; }

static void init_containers(world_t *w, size_t elem_size) {
  REQUIRE(ar_vec_init(&w->vec, w->arena, elem_size) == AR_OK);
  REQUIRE(ar_buf_init(&w->buf, w->arena) == AR_OK);
  ar_map_options_t o;
  ar_map_options_init(&o);
  o.key_kind = AR_MAP_KEY_U64;
  o.value_size = 8;
  REQUIRE(ar_map_init(&w->umap, w->arena, &o) == AR_OK);
  o.key_kind = AR_MAP_KEY_BYTES;
  o.hash = w->weak_hash ? weak_hash : NULL;
  REQUIRE(ar_map_init(&w->bmap, w->arena, &o) == AR_OK);
  w->rvec.n = 0;
  w->rbuf.n = 0;
  w->rpos = 0;
  w->rumap->n = 0;
  w->rbmap->n = 0;
}

static void compare(world_t *w) {
  REQUIRE(ar_arena_check(w->arena) == AR_OK);
  size_t es = w->vec.elem_size;
  REQUIRE(ar_vec_len(&w->vec) * es == w->rvec.n);
  REQUIRE(w->rvec.n == 0 || memcmp(ar_vec_data(&w->vec), w->rvec.d, w->rvec.n) == 0);
  REQUIRE(ar_vec_capacity(&w->vec) >= ar_vec_len(&w->vec));
  REQUIRE(ar_buf_len(&w->buf) == w->rbuf.n);
  REQUIRE(w->rbuf.n == 0 || memcmp(ar_buf_data(&w->buf), w->rbuf.d, w->rbuf.n) == 0);
  REQUIRE(ar_buf_cstr(&w->buf)[w->rbuf.n] == '\0');
  REQUIRE(ar_buf_remaining(&w->buf) == w->rbuf.n - w->rpos);
  REQUIRE(ar_map_len(&w->umap) == w->rumap->n);
  for (size_t i = 0; i < w->rumap->n; i++) {
    uint64_t *v = ar_map_get_u64(&w->umap, w->rumap->ukey[i]);
    REQUIRE(v != NULL && *v == w->rumap->val[i]);
  }
  REQUIRE(ar_map_len(&w->bmap) == w->rbmap->n);
  for (size_t i = 0; i < w->rbmap->n; i++) {
    uint64_t *v = ar_map_get(&w->bmap, w->rbmap->bkey[i], w->rbmap->bklen[i]);
    REQUIRE(v != NULL && *v == w->rbmap->val[i]);
  }
  /* Iteration visits exactly len entries, each one known to the reference. */
  size_t pos = 0, n = 0;
  ar_map_entry_t e;
  while (ar_map_next(&w->bmap, &pos, &e)) {
    REQUIRE(rm_find_b(w->rbmap, e.key, e.key_len) != SIZE_MAX);
    n++;
  }
  REQUIRE(n == w->rbmap->n);
}

static bool first_byte_odd(const void *e, void *ctx) {
  (void)ctx;
  return (*(const unsigned char *)e & 1) != 0;
}

/* ---- operations ------------------------------------------------------------------------ */

static void vec_op(world_t *w, in_t *in) {
  ar_vec_t *v = &w->vec;
  rbytes_t *r = &w->rvec;
  size_t es = v->elem_size, len = r->n / es;
  unsigned char tmp[64 * 40];
  uint8_t op = u8(in);
  switch (op % 12) {
    case 0:
    case 1: { /* append n elements */
      size_t n = u8(in) % 64;
      for (size_t i = 0; i < n * es; i++) tmp[i] = u8(in);
      int err = ar_vec_append(v, tmp, n);
      if (err == AR_OK) r_insert(r, r->n, tmp, n * es);
      else REQUIRE(resource_error(err));
      break;
    }
    case 2: { /* insert */
      size_t n = u8(in) % 8, at = len ? u16(in) % (len + 1) : 0;
      for (size_t i = 0; i < n * es; i++) tmp[i] = u8(in);
      int err = ar_vec_insert(v, at, tmp, n);
      if (err == AR_OK) r_insert(r, at * es, tmp, n * es);
      else REQUIRE(resource_error(err));
      break;
    }
    case 3: { /* remove a range, possibly out of bounds */
      size_t at = u16(in) % (len + 2), n = u8(in) % 8;
      int err = ar_vec_remove(v, at, n, tmp);
      if (at <= len && n <= len - at) {
        REQUIRE(err == AR_OK);
        REQUIRE(n == 0 || memcmp(tmp, r->d + at * es, n * es) == 0);
        r_erase(r, at * es, n * es);
      } else {
        REQUIRE(err == AR_EINVAL);
      }
      break;
    }
    case 4: { /* swap_remove / pop */
      if (len == 0) {
        REQUIRE(ar_vec_pop(v, tmp) == AR_EINVAL);
        break;
      }
      size_t at = u16(in) % len;
      REQUIRE(ar_vec_swap_remove(v, at, tmp) == AR_OK);
      REQUIRE(memcmp(tmp, r->d + at * es, es) == 0);
      if (at != len - 1) memcpy(r->d + at * es, r->d + (len - 1) * es, es);
      r->n -= es;
      break;
    }
    case 5: { /* remove_value with a limit; the value is an existing element or input bytes */
      size_t limit = u8(in) % 4;
      if (limit == 3) limit = AR_VEC_ALL;
      if (len > 0 && (u8(in) & 1)) memcpy(tmp, r->d + (u16(in) % len) * es, es);
      else
        for (size_t i = 0; i < es; i++) tmp[i] = u8(in) & 1; /* small alphabet: matches happen */
      size_t removed = ar_vec_remove_value(v, tmp, limit);
      size_t want = 0;
      for (size_t i = 0; i < r->n / es && want < limit;) {
        if (memcmp(r->d + i * es, tmp, es) == 0) {
          r_erase(r, i * es, es);
          want++;
        } else {
          i++;
        }
      }
      REQUIRE(removed == want);
      break;
    }
    case 6: { /* remove_if with a limit */
      size_t limit = u8(in) % 5;
      size_t removed = ar_vec_remove_if(v, first_byte_odd, NULL, limit);
      size_t want = 0;
      for (size_t i = 0; i < r->n / es && want < limit;) {
        if (r->d[i * es] & 1) {
          r_erase(r, i * es, es);
          want++;
        } else {
          i++;
        }
      }
      REQUIRE(removed == want);
      break;
    }
    case 7: { /* index_of / last_index_of / get / set */
      if (len == 0) break;
      size_t at = u16(in) % len;
      memcpy(tmp, r->d + at * es, es);
      size_t first = ar_vec_index_of(v, tmp), last = ar_vec_last_index_of(v, tmp);
      size_t wf = SIZE_MAX, wl = SIZE_MAX;
      for (size_t i = 0; i < len; i++)
        if (memcmp(r->d + i * es, tmp, es) == 0) {
          if (wf == SIZE_MAX) wf = i;
          wl = i;
        }
      REQUIRE(first == wf && last == wl);
      for (size_t i = 0; i < es; i++) tmp[i] = u8(in);
      REQUIRE(ar_vec_set(v, at, tmp) == AR_OK);
      memcpy(r->d + at * es, tmp, es);
      break;
    }
    case 8: { /* truncate / clear */
      size_t n = u16(in) % (len + 2);
      if (n > len) {
        REQUIRE(ar_vec_truncate(v, n) == AR_EINVAL);
      } else if (n == 0) {
        ar_vec_clear(v);
        r->n = 0;
      } else {
        REQUIRE(ar_vec_truncate(v, n) == AR_OK);
        r->n = n * es;
      }
      break;
    }
    case 9: { /* reserve, sometimes absurdly */
      size_t n = u8(in) & 1 ? SIZE_MAX / 2 : u16(in) % 2048;
      int err = ar_vec_reserve(v, n);
      if (n == SIZE_MAX / 2) REQUIRE(err == AR_EOVERFLOW);
      else if (err == AR_OK) REQUIRE(ar_vec_capacity(v) >= n);
      else REQUIRE(resource_error(err));
      break;
    }
    case 10:
      REQUIRE(ar_vec_shrink_to_fit(v) == AR_OK);
      REQUIRE(ar_vec_capacity(v) == len);
      break;
    default: { /* push_zeroed */
      size_t n = u8(in) % 16;
      void *p = ar_vec_push_zeroed(v, n);
      if (p != NULL || (n == 0 && ar_vec_data(v) == NULL)) {
        memset(tmp, 0, n * es);
        r_insert(r, r->n, tmp, n * es);
      } else {
        REQUIRE(resource_error((int)ar_last_error()));
      }
      break;
    }
  }
}

static void buf_op(world_t *w, in_t *in) {
  ar_buf_t *b = &w->buf;
  rbytes_t *r = &w->rbuf;
  unsigned char tmp[300];
  char s[64];
  uint8_t op = u8(in);
  int err = AR_OK;
  switch (op % 8) {
    case 0: { /* bytes */
      size_t n = u8(in);
      for (size_t i = 0; i < n; i++) tmp[i] = u8(in);
      err = ar_buf_append(b, tmp, n);
      if (err == AR_OK) r_insert(r, r->n, tmp, n);
      break;
    }
    case 1: { /* printf */
      unsigned x = u16(in), reps = u8(in) % 40;
      memset(s, 'a' + (int)(x % 26), reps);
      s[reps] = '\0';
      err = ar_buf_appendf(b, "%u:%s;", x, s);
      if (err == AR_OK) {
        int n = snprintf((char *)tmp, sizeof tmp, "%u:%s;", x, s);
        r_insert(r, r->n, tmp, (size_t)n);
      }
      break;
    }
    case 2: { /* char and string */
      char c = (char)u8(in);
      err = ar_buf_append_char(b, c);
      if (err == AR_OK) r_insert(r, r->n, &c, 1);
      if (err == AR_OK) {
        err = ar_buf_append_str(b, "str");
        if (err == AR_OK) r_insert(r, r->n, "str", 3);
      }
      break;
    }
    case 3: { /* read or peek */
      size_t n = u8(in);
      bool peek = u8(in) & 1;
      size_t got = peek ? ar_buf_peek(b, tmp, n) : ar_buf_read(b, tmp, n);
      size_t want = r->n - w->rpos < n ? r->n - w->rpos : n;
      REQUIRE(got == want);
      REQUIRE(got == 0 || memcmp(tmp, r->d + w->rpos, got) == 0);
      if (!peek) w->rpos += got;
      break;
    }
    case 4: { /* consume, possibly too much */
      size_t n = u8(in);
      int e = ar_buf_consume(b, n);
      if (n <= r->n - w->rpos) {
        REQUIRE(e == AR_OK);
        w->rpos += n;
      } else {
        REQUIRE(e == AR_EINVAL);
      }
      break;
    }
    case 5:
      ar_buf_compact(b);
      r_erase(r, 0, w->rpos);
      w->rpos = 0;
      break;
    case 6: { /* truncate / clear */
      size_t n = u16(in) % (r->n + 2);
      if (n > r->n) {
        REQUIRE(ar_buf_truncate(b, n) == AR_EINVAL);
      } else if (n == 0) {
        ar_buf_clear(b);
        r->n = w->rpos = 0;
      } else {
        REQUIRE(ar_buf_truncate(b, n) == AR_OK);
        r->n = n;
        if (w->rpos > n) w->rpos = n;
      }
      break;
    }
    default: {
      size_t n = u16(in);
      err = ar_buf_reserve(b, n);
      if (err == AR_OK) REQUIRE(ar_buf_capacity(b) - ar_buf_len(b) >= n);
      break;
    }
  }
  if (err != AR_OK) REQUIRE(resource_error(err));
}

static void map_op(world_t *w, in_t *in) {
  uint8_t op = u8(in);
  bool bytes = op & 0x80;
  rmap_t *r = bytes ? w->rbmap : w->rumap;
  ar_map_t *m = bytes ? &w->bmap : &w->umap;
  uint64_t uk = u8(in) % 96; /* a small key space: many hits, removals, reinserts */
  unsigned char bk[8];
  size_t bklen = u8(in) % 5;
  for (size_t i = 0; i < bklen; i++) bk[i] = (unsigned char)('a' + u8(in) % 3);
  uint64_t val = u16(in);
  size_t at = bytes ? rm_find_b(r, bk, bklen) : rm_find_u(r, uk);
  switch (op % 6) {
    case 0:
    case 1: { /* put */
      int err = bytes ? ar_map_put(m, bk, bklen, &val) : ar_map_put_u64(m, uk, &val);
      if (err != AR_OK) {
        REQUIRE(resource_error(err) && at == SIZE_MAX); /* replacing never fails */
        break;
      }
      if (at == SIZE_MAX) {
        REQUIRE(r->n < RMAP_MAX);
        at = r->n++;
        r->ukey[at] = uk;
        memcpy(r->bkey[at], bk, bklen);
        r->bklen[at] = bklen;
      }
      r->val[at] = val;
      break;
    }
    case 2: { /* put_if_absent */
      void *vp = NULL;
      bool ins = false;
      int err = bytes ? ar_map_put_if_absent(m, bk, bklen, &val, &vp, &ins)
                      : ar_map_put_if_absent_u64(m, uk, &val, &vp, &ins);
      if (err != AR_OK) {
        REQUIRE(resource_error(err) && at == SIZE_MAX);
        break;
      }
      REQUIRE(ins == (at == SIZE_MAX));
      if (at == SIZE_MAX) {
        at = r->n++;
        r->ukey[at] = uk;
        memcpy(r->bkey[at], bk, bklen);
        r->bklen[at] = bklen;
        r->val[at] = val;
      }
      REQUIRE(vp != NULL && *(uint64_t *)vp == r->val[at]);
      break;
    }
    case 3:
    case 4: { /* remove */
      uint64_t out = 0;
      bool removed = bytes ? ar_map_remove(m, bk, bklen, &out) : ar_map_remove_u64(m, uk, &out);
      REQUIRE(removed == (at != SIZE_MAX));
      if (removed) {
        REQUIRE(out == r->val[at]);
        rm_del(r, at);
      }
      break;
    }
    default: /* get of a possibly absent key, sometimes clear */
      if ((val & 31) == 0) {
        ar_map_clear(m);
        r->n = 0;
      } else {
        bool has = bytes ? ar_map_contains(m, bk, bklen) : ar_map_contains_u64(m, uk);
        REQUIRE(has == (at != SIZE_MAX));
      }
      break;
  }
}

/* Raw arena traffic between container operations, so containers are not always on top. */
static void arena_op(world_t *w, in_t *in, void **raw, size_t *raw_len) {
  uint8_t op = u8(in);
  size_t n = u16(in) % 3000;
  if (op & 1) {
    if (*raw != NULL) REQUIRE(ar_free(w->arena, *raw, *raw_len) == AR_OK);
    *raw = NULL;
    void *p = ar_alloc(w->arena, n);
    if (p != NULL) {
      memset(p, 0xA5, n);
      *raw = p;
      *raw_len = n;
    }
  } else if (*raw != NULL) {
    void *p = ar_realloc(w->arena, *raw, *raw_len, n);
    if (p != NULL) {
      memset(p, 0xA5, n);
      *raw = p;
      *raw_len = n;
    }
  }
}

int containers_fuzz_one(const uint8_t *data, size_t size) {
  in_t in = {data, size};
  static const size_t chunks[] = {256, 1024, 4096, 65536};
  uint8_t shape = u8(&in), mode = u8(&in);
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = chunks[shape & 3];
  o.limit_bytes = (mode & 1) ? o.chunk_size * (2 + (shape >> 4)) : 0;
  o.flags = (mode & 2) ? AR_ARENA_CHECKED : 0;
  o.retain_bytes = (mode & 4) ? 0 : AR_DEFAULT_RETAIN_BYTES;
  world_t w;
  memset(&w, 0, sizeof w);
  w.arena = ar_arena_create(&o);
  REQUIRE(w.arena != NULL);
  w.rumap = calloc(1, sizeof *w.rumap);
  w.rbmap = calloc(1, sizeof *w.rbmap);
  REQUIRE(w.rumap != NULL && w.rbmap != NULL);
  w.weak_hash = (mode & 8) != 0;
  size_t elem_size = 1 + ((shape >> 2) & 3) * 13; /* 1, 14, 27, 40 */
  init_containers(&w, elem_size);
  void *raw = NULL;
  size_t raw_len = 0;
  while (more(&in)) {
    uint8_t what = u8(&in);
    switch (what % 16) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4: vec_op(&w, &in); break;
      case 5:
      case 6:
      case 7:
      case 8: buf_op(&w, &in); break;
      case 9:
      case 10:
      case 11:
      case 12:
      case 13: map_op(&w, &in); break;
      case 14: arena_op(&w, &in, &raw, &raw_len); break;
      default:
        if ((what & 0xF0) == 0xF0) { /* rarely: reset everything */
          ar_reset(w.arena);
          raw = NULL;
          init_containers(&w, elem_size);
        } else if (what & 0x10) { /* destroy one container and start it again */
          ar_vec_destroy(&w.vec);
          w.rvec.n = 0;
        } else {
          ar_buf_destroy(&w.buf);
          w.rbuf.n = w.rpos = 0;
        }
        break;
    }
    compare(&w);
  }
  ar_map_destroy(&w.umap);
  ar_map_destroy(&w.bmap);
  ar_vec_destroy(&w.vec);
  ar_buf_destroy(&w.buf);
  REQUIRE(ar_arena_check(w.arena) == AR_OK);
  ar_arena_destroy(w.arena);
  free(w.rvec.d);
  free(w.rbuf.d);
  free(w.rumap);
  free(w.rbmap);
  return 0;
}

/* libFuzzer's entry point; harmless (never called) in the cc_test driver. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return containers_fuzz_one(data, size);
}
