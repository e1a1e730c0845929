/* SPDX-License-Identifier: MIT */
/*
 * tests/model/model_ops_containers.c - the serial walk's vector, byte buffer and byte-key map,
 * all in one arena whose source fails every Nth acquire.
 *
 * Each container is mirrored by a plain array (the model), and after any call the two must
 * agree: contents, lengths, capacity rules, the map's load factor and iteration. A failed
 * call must leave the container as it was, so the mirror is only updated on success and the
 * next comparison catches a half-done change. The documented aliasing arguments (appending a
 * container's own bytes to itself) are drawn deliberately, since they are where a grow that
 * frees the old storage first would read freed memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/model/serial_model.h"

/* ---- containers --------------------------------------------------------------------- */

static ar_arena_t *ca;
static msrc_t ca_src;
static ar_vec_t vec;
static uint32_t vm[2048];
static size_t vlen;
static ar_buf_t buf;
static char bm[6000];
static size_t blen, brpos;
static ar_map_t map;
#define NKEYS 40
static bool mhas[NKEYS];
static uint64_t mval[NKEYS];

/* A container call that failed: only the arena's documented errors, explained by the source
 * or the limit, the container unchanged (the caller compares it with the model next). */
static void container_failed(int rc, uint64_t failures_before) {
  hist[H_CFAIL]++;
  if (rc == AR_ENOMEM) MCHECK(ca_src.failures != failures_before);
  else if (rc != AR_ELIMIT) MFAIL("container call failed with %s", ar_strerror((ar_error_t)rc));
  MCHECK(ar_last_error() == (ar_error_t)rc);
}

static void key_of(unsigned k, char *out, size_t *len) {
  *len = (size_t)snprintf(out, 32, "key-%u-%.*s", k, (int)(k % 7), "abcdefg");
}

void containers_verify(void) {
  model_op = "containers-verify";
  MCHECK(ar_vec_len(&vec) == vlen);
  MCHECK(ar_vec_capacity(&vec) >= vlen);
  if (vlen) MCHECK(memcmp(ar_vec_data(&vec), vm, vlen * 4) == 0);
  MCHECK(ar_buf_len(&buf) == blen);
  MCHECK(ar_buf_remaining(&buf) == blen - brpos);
  if (blen) MCHECK(memcmp(ar_buf_data(&buf), bm, blen) == 0);
  MCHECK(ar_buf_cstr(&buf) != NULL);
  if (buf.data) MCHECK(buf.data[blen] == '\0');
  size_t n = 0;
  for (unsigned k = 0; k < NKEYS; k++) {
    char key[32];
    size_t len;
    key_of(k, key, &len);
    const uint64_t *v = (const uint64_t *)ar_map_get(&map, key, len);
    MCHECK((v != NULL) == mhas[k]);
    MCHECK(ar_map_contains(&map, key, len) == mhas[k]);
    if (v) {
      MCHECK(((uintptr_t)v & 7) == 0 && *v == mval[k]);
      n++;
    }
  }
  MCHECK(ar_map_len(&map) == n);
  size_t cap = ar_map_capacity(&map);
  MCHECK((cap & (cap - 1)) == 0); /* 0 or a power of two */
  MCHECK(n * 8 <= cap * 7);       /* load factor at most 7/8 */
  size_t pos = 0, seen = 0;
  ar_map_entry_t e;
  while (ar_map_next(&map, &pos, &e)) seen++;
  MCHECK(seen == n);
  MCHECK(ar_arena_check(ca) == AR_OK);
  ar_stats_t st = stats(ca);
  MCHECK((MODEL_HEAP ? st.capacity == st.used : st.capacity == ca_src.live_bytes) &&
         st.used <= st.capacity);
}

static void containers_init(void) {
  MCHECK(ar_vec_init(&vec, ca, 4) == AR_OK);
  MCHECK(ar_buf_init(&buf, ca) == AR_OK);
  MCHECK(ar_map_init(&map, ca, NULL) == AR_OK);
  vlen = blen = brpos = 0;
  memset(mhas, 0, sizeof mhas);
}

void op_vec(rng_t *r) {
  model_op = "vec";
  uint64_t f = ca_src.failures;
  int rc;
  switch (below(r, 12)) {
    case 0:
    case 1:
    case 2: {
      if (vlen >= 2000) break;
      uint32_t x = (uint32_t)rnd(r);
      if (vlen > 0 && chance(r, 20)) { /* push of one of its own elements (append of one) */
        size_t at = below(r, vlen);
        x = vm[at];
        rc = ar_vec_push(&vec, ar_vec_at(&vec, at));
        if (rc == AR_OK) vm[vlen++] = x;
        else container_failed(rc, f);
        break;
      }
      rc = ar_vec_push(&vec, &x);
      if (rc == AR_OK) vm[vlen++] = x;
      else container_failed(rc, f);
      break;
    }
    case 3: { /* append from the vector itself (documented to be allowed) */
      if (vlen == 0 || 2 * vlen > 2000) break;
      size_t from = below(r, vlen), n = 1 + below(r, vlen - from);
      uint32_t want[2048];
      memcpy(want, vm + from, n * 4);
      rc = ar_vec_append(&vec, (uint32_t *)ar_vec_data(&vec) + from, n);
      if (rc == AR_OK) {
        memcpy(vm + vlen, want, n * 4);
        vlen += n;
      } else {
        container_failed(rc, f);
      }
      break;
    }
    case 4: {
      if (vlen + 3 > 2000) break;
      size_t at = below(r, vlen + 1);
      uint32_t x[3] = {(uint32_t)rnd(r), 7, 9};
      rc = ar_vec_insert(&vec, at, x, 3);
      if (rc == AR_OK) {
        memmove(vm + at + 3, vm + at, (vlen - at) * 4);
        memcpy(vm + at, x, 12);
        vlen += 3;
      } else {
        container_failed(rc, f);
      }
      break;
    }
    case 5: {
      if (vlen == 0) break;
      size_t at = below(r, vlen), n = 1 + below(r, vlen - at);
      uint32_t out[2048];
      MCHECK(ar_vec_remove(&vec, at, n, out) == AR_OK);
      MCHECK(memcmp(out, vm + at, n * 4) == 0);
      memmove(vm + at, vm + at + n, (vlen - at - n) * 4);
      vlen -= n;
      break;
    }
    case 6: {
      if (vlen == 0) break;
      size_t at = below(r, vlen);
      uint32_t out;
      MCHECK(ar_vec_swap_remove(&vec, at, &out) == AR_OK && out == vm[at]);
      vm[at] = vm[vlen - 1];
      vlen--;
      break;
    }
    case 7: { /* remove_value with the element inside the vector (allowed: elem_size <= 256) */
      if (vlen == 0) break;
      size_t at = below(r, vlen);
      uint32_t x = vm[at];
      size_t n = ar_vec_remove_value(&vec, ar_vec_at(&vec, at), AR_VEC_ALL);
      size_t w = 0, removed = 0;
      for (size_t i = 0; i < vlen; i++) {
        if (vm[i] == x) removed++;
        else vm[w++] = vm[i];
      }
      MCHECK(n == removed);
      vlen = w;
      break;
    }
    case 8: { /* bad arguments: AR_EINVAL, vector unchanged (row 18) */
      uint32_t x = 0;
      MCHECK(ar_vec_get(&vec, vlen, &x) == AR_EINVAL && ar_last_error() == AR_EINVAL);
      MCHECK(ar_vec_remove(&vec, vlen, 1, NULL) == AR_EINVAL);
      MCHECK(ar_vec_insert(&vec, vlen + 1, &x, 1) == AR_EINVAL);
      MCHECK(ar_vec_truncate(&vec, vlen + 1) == AR_EINVAL);
      MCHECK(ar_vec_at(&vec, vlen) == NULL);
      MCHECK(ar_vec_push(NULL, &x) == AR_EINVAL);
      MCHECK(ar_vec_append(&vec, NULL, 0) == AR_OK);
      if (vlen == 0) MCHECK(ar_vec_pop(&vec, &x) == AR_EINVAL);
      break;
    }
    case 9: {
      if (vlen == 0) break;
      size_t at = below(r, vlen);
      MCHECK(ar_vec_index_of(&vec, &vm[at]) <= at);
      MCHECK(ar_vec_last_index_of(&vec, &vm[at]) >= at);
      uint32_t x = (uint32_t)rnd(r) | 1;
      MCHECK(ar_vec_set(&vec, at, &x) == AR_OK);
      vm[at] = x;
      break;
    }
    case 10:
      if (chance(r, 50)) {
        rc = ar_vec_shrink_to_fit(&vec);
        if (rc != AR_OK) container_failed(rc, f);
        else if (ar_vec_capacity(&vec) != vlen) /* "gives back the capacity beyond len" */
          MFAIL("ar_vec_shrink_to_fit left capacity %zu for %zu elements", ar_vec_capacity(&vec),
                vlen);
      } else {
        size_t n = below(r, vlen + 1);
        MCHECK(ar_vec_truncate(&vec, n) == AR_OK);
        vlen = n;
      }
      break;
    default:
      if (chance(r, 50)) {
        ar_vec_destroy(&vec);
        MCHECK(ar_vec_len(&vec) == 0 && ar_vec_elem_size(&vec) == 4);
      } else {
        size_t cap0 = ar_vec_capacity(&vec), want = vlen + below(r, 300);
        rc = ar_vec_reserve(&vec, want);
        if (rc != AR_OK) {
          container_failed(rc, f);
          MCHECK(ar_vec_capacity(&vec) == cap0);
          break;
        }
        /* Room for `want` in total, never shrinking; pushes up to it do not move the storage. */
        MCHECK(ar_vec_capacity(&vec) >= want && ar_vec_capacity(&vec) >= cap0);
        void *data = ar_vec_data(&vec);
        while (vlen < want && vlen < 2000) {
          uint32_t x = (uint32_t)rnd(r);
          MCHECK(ar_vec_push(&vec, &x) == AR_OK);
          vm[vlen++] = x;
        }
        if (want > 0 && vlen == want && data != NULL) MCHECK(ar_vec_data(&vec) == data);
        MCHECK(AR_VEC_PUSH(&vec, uint64_t, 1) == AR_EINVAL); /* wrong element size */
        break;
      }
      vlen = 0;
      break;
  }
}

void op_buf(rng_t *r) {
  model_op = "buf";
  uint64_t f = ca_src.failures;
  int rc;
  switch (below(r, 11)) {
    case 0:
    case 1: {
      char tmp[300];
      size_t n = below(r, sizeof tmp);
      if (blen + n >= 5000) break;
      if (chance(r, 30)) { /* reserve: n more bytes fit without growth (the storage stays) */
        rc = ar_buf_reserve(&buf, n);
        if (rc != AR_OK) {
          container_failed(rc, f);
          break;
        }
        MCHECK(ar_buf_capacity(&buf) - ar_buf_len(&buf) >= n);
        char *data = ar_buf_data(&buf);
        for (size_t i = 0; i < n; i++) tmp[i] = (char)('A' + i % 26);
        MCHECK(ar_buf_append(&buf, tmp, n) == AR_OK);
        if (data != NULL) MCHECK(ar_buf_data(&buf) == data);
        memcpy(bm + blen, tmp, n);
        blen += n;
        break;
      }
      for (size_t i = 0; i < n; i++) tmp[i] = (char)('a' + (i + blen) % 26);
      rc = ar_buf_append(&buf, tmp, n);
      if (rc == AR_OK) {
        memcpy(bm + blen, tmp, n);
        blen += n;
      } else {
        container_failed(rc, f);
      }
      break;
    }
    case 2: { /* append from the buffer itself (documented to be allowed) */
      if (blen == 0 || 2 * blen >= 5000) break;
      size_t from = below(r, blen), n = 1 + below(r, blen - from);
      rc = ar_buf_append(&buf, ar_buf_data(&buf) + from, n);
      if (rc == AR_OK) {
        memmove(bm + blen, bm + from, n);
        blen += n;
      } else {
        container_failed(rc, f);
      }
      break;
    }
    case 3: {
      if (blen + 40 >= 5000) break;
      char want[64];
      int n = snprintf(want, sizeof want, "<%d:%s>", (int)blen, "fmt");
      rc = ar_buf_appendf(&buf, "<%d:%s>", (int)blen, "fmt");
      if (rc == AR_OK) {
        memcpy(bm + blen, want, (size_t)n);
        blen += (size_t)n;
      } else {
        container_failed(rc, f);
      }
      break;
    }
    case 4: { /* item 11: appendf of the buffer's own string, growing it */
      if (!ITEM_ON(11) || 2 * blen + 4 >= 5000 || memchr(bm, 0, blen) != NULL) break;
      char want[6000];
      memcpy(want, bm, blen);
      rc = ar_buf_appendf(&buf, "[%s]", ar_buf_cstr(&buf));
      if (rc == AR_OK) {
        bm[blen] = '[';
        memcpy(bm + blen + 1, want, blen);
        bm[2 * blen + 1] = ']';
        blen = 2 * blen + 2;
      } else {
        container_failed(rc, f);
      }
      break;
    }
    case 10: { /* append_str of its own string (ar_buf_append allows aliasing) */
      if (2 * blen + 1 >= 5000 || blen == 0 || memchr(bm, 0, blen) != NULL) break;
      rc = ar_buf_append_str(&buf, ar_buf_cstr(&buf));
      if (rc == AR_OK) {
        memcpy(bm + blen, bm, blen);
        blen *= 2;
      } else {
        container_failed(rc, f);
      }
      break;
    }
    case 5: {
      if (blen + 1 >= 5000) break;
      char c = below(r, 2) ? 0 : 'Z'; /* 0 is allowed and stored */
      rc = ar_buf_append_char(&buf, c);
      if (rc == AR_OK) bm[blen++] = c;
      else container_failed(rc, f);
      break;
    }
    case 6: {
      char tmp[100];
      size_t n = below(r, 100);
      bool peek = chance(r, 50);
      size_t got = peek ? ar_buf_peek(&buf, tmp, n) : ar_buf_read(&buf, tmp, n);
      size_t want = blen - brpos < n ? blen - brpos : n;
      MCHECK(got == want);
      MCHECK(memcmp(tmp, bm + brpos, got) == 0);
      if (!peek) brpos += got;
      MCHECK(ar_buf_remaining(&buf) == blen - brpos);
      break;
    }
    case 7: {
      size_t n = below(r, blen - brpos + 2);
      rc = ar_buf_consume(&buf, n);
      if (n <= blen - brpos) {
        MCHECK(rc == AR_OK);
        brpos += n;
      } else {
        MCHECK(rc == AR_EINVAL && ar_last_error() == AR_EINVAL);
      }
      break;
    }
    case 8:
      if (chance(r, 50)) {
        ar_buf_compact(&buf);
        memmove(bm, bm + brpos, blen - brpos);
        blen -= brpos;
        brpos = 0;
      } else {
        size_t n = below(r, blen + 2);
        rc = ar_buf_truncate(&buf, n);
        if (n <= blen) {
          MCHECK(rc == AR_OK);
          blen = n;
          if (brpos > n) brpos = n;
        } else {
          MCHECK(rc == AR_EINVAL);
        }
      }
      break;
    default:
      if (chance(r, 50)) ar_buf_clear(&buf);
      else ar_buf_destroy(&buf);
      blen = brpos = 0;
      MCHECK(strcmp(ar_buf_cstr(&buf), "") == 0);
      break;
  }
}

void op_map(rng_t *r) {
  model_op = "map";
  uint64_t f = ca_src.failures;
  unsigned k = (unsigned)below(r, NKEYS);
  char key[32];
  size_t len;
  key_of(k, key, &len);
  uint64_t v = rnd(r);
  int rc;
  switch (below(r, 6)) {
    case 0:
    case 1:
      rc = ar_map_put(&map, key, len, &v);
      if (rc == AR_OK) {
        mhas[k] = true;
        mval[k] = v;
      } else {
        MCHECK(!mhas[k]); /* replacing never fails */
        container_failed(rc, f);
      }
      break;
    case 2: {
      void *out = NULL;
      bool ins = false;
      rc = ar_map_put_if_absent(&map, key, len, &v, &out, &ins);
      if (rc == AR_OK) {
        MCHECK(ins == !mhas[k] && out != NULL);
        if (ins) {
          mhas[k] = true;
          mval[k] = v;
        }
        MCHECK(*(uint64_t *)out == mval[k]);
      } else {
        container_failed(rc, f);
      }
      break;
    }
    case 3: {
      uint64_t old = 0;
      bool was = ar_map_remove(&map, key, len, &old);
      MCHECK(was == mhas[k]);
      if (was) MCHECK(old == mval[k]);
      mhas[k] = false;
      break;
    }
    case 4: {
      size_t want = below(r, NKEYS + 1);
      rc = ar_map_reserve(&map, want);
      if (rc != AR_OK) {
        container_failed(rc, f);
      } else {
        /* n entries fit without the table growing (map.h) */
        size_t cap = ar_map_capacity(&map);
        for (unsigned q = 0; q < NKEYS && ar_map_len(&map) < want; q++) {
          if (mhas[q]) continue;
          char kq[32];
          size_t lq;
          key_of(q, kq, &lq);
          uint64_t vq = rnd(r);
          int rq = ar_map_put(&map, kq, lq, &vq); /* the key copy may still fail to allocate */
          if (rq != AR_OK) {
            container_failed(rq, f);
            break;
          }
          mhas[q] = true;
          mval[q] = vq;
        }
        if (ar_map_capacity(&map) != cap)
          MFAIL("map grew from %zu to %zu slots within a reserve of %zu", cap,
                ar_map_capacity(&map), want);
      }
      MCHECK(ar_map_put_u64(&map, 1, &v) == AR_EINVAL); /* wrong key kind */
      MCHECK(ar_map_get(&map, NULL, 3) == NULL && ar_last_error() == AR_EINVAL);
      break;
    }
    default:
      if (chance(r, 70)) break;
      if (chance(r, 50)) ar_map_clear(&map);
      else ar_map_destroy(&map);
      memset(mhas, 0, sizeof mhas);
      break;
  }
}

/* The containers' arena: a random chunk size, a limit half the time, and a source that fails
 * every 4th to 9th acquire half the time, set only after creation (creation must succeed). */
void containers_begin(rng_t *r) {
  ar_options_t co = AR_OPTIONS_INIT;
  co.chunk_size = 1024 << below(r, 3);
  co.limit_bytes = chance(r, 50) ? co.chunk_size * 64 : 0;
  co.source = msrc_init(&ca_src, 0);
  ca = ar_arena_create(&co);
  MCHECK(ca != NULL);
  ca_src.fail_every = chance(r, 50) ? 0 : 4 + (unsigned)below(r, 6);
  containers_init();
}

void containers_end(void) {
  ar_arena_destroy(ca);
  MCHECK(ca_src.live_bytes == 0 && ca_src.live_blocks == 0);
}
