/* SPDX-License-Identifier: MIT */
/*
 * examples/server/srv_mem_malloc.c - the malloc flavor of srv_mem.h.
 *
 * Every object is a malloc block and is freed on its own. A context only keeps a count of the
 * bytes it has live (for the request cap, and to catch a handler that forgets a free: a
 * context that ends with bytes still live adds them to a process-wide leak counter, which the
 * tests require to stay 0). The buffer and vector grow here (an append that fits is srv_mem.h's
 * inline code, shared with the arena flavor) by arenart's rules, so that the two flavors do
 * the same work apart from the allocator: they double, from 32 bytes / 4 elements. The map is
 * srv_map.c, the same in both flavors. Which malloc runs is up to the process: glibc's, or
 * jemalloc / mimalloc / tcmalloc through LD_PRELOAD.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/server/srv_mem.h"

/* The assumed per-block overhead of a general-purpose malloc, counted against the cap. */
#define BLOCK_OVERHEAD 16

/* Relaxed: a statistic summed from several workers, read only for reporting. */
static _Atomic uint64_t leaked_bytes;

struct srv_pool {
  int unused;
};

/* The request cap: written before the workers are created and only read by them afterwards
 * (thread creation orders the write before every read). */
static size_t request_limit_cfg;

int srv_mem_configure(size_t request_limit) {
  request_limit_cfg = request_limit;
  return AR_OK;
}

int srv_mem_error(const srv_mem_t *m) { return m->err != AR_OK ? m->err : AR_ENOMEM; }

/* Counts `cost` more live bytes, unless that would pass the cap. */
static bool charge_raw(srv_mem_t *m, size_t cost) {
  if (m->limit != 0 && (cost > m->limit || m->live > m->limit - cost)) {
    m->err = AR_ELIMIT;
    return false;
  }
  m->live += cost;
  return true;
}

/* Counts a new block of n bytes. */
static bool charge(srv_mem_t *m, size_t n) {
  if (n > SIZE_MAX - BLOCK_OVERHEAD) {
    m->err = AR_EOVERFLOW;
    return false;
  }
  return charge_raw(m, n + BLOCK_OVERHEAD);
}

static void uncharge(srv_mem_t *m, size_t n) { m->live -= n + BLOCK_OVERHEAD; }

void *srv_alloc(srv_mem_t *m, size_t n) {
  if (!charge(m, n)) return NULL;
  void *p = malloc(n != 0 ? n : 1);
  if (p == NULL) {
    uncharge(m, n);
    m->err = AR_ENOMEM;
  }
  return p;
}

void srv_free(srv_mem_t *m, void *p, size_t n) {
  if (p == NULL) return;
  uncharge(m, n);
  free(p);
}

/* Resizes a block, keeping the accounting; NULL (block untouched) on failure. */
static void *mem_realloc(srv_mem_t *m, void *p, size_t old_n, size_t new_n) {
  if (p == NULL) return srv_alloc(m, new_n);
  if (new_n > old_n && !charge_raw(m, new_n - old_n)) return NULL;
  void *q = realloc(p, new_n);
  if (q == NULL) {
    if (new_n > old_n) m->live -= new_n - old_n;
    m->err = AR_ENOMEM;
    return NULL;
  }
  if (new_n < old_n) m->live -= old_n - new_n;
  return q;
}

char *srv_strndup(srv_mem_t *m, const char *s, size_t n) {
  const char *nul = memchr(s, 0, n);
  if (nul != NULL) n = (size_t)(nul - s);
  char *d = srv_alloc(m, n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

/* ---- scopes and connection contexts --------------------------------------------------- */

int srv_scope_begin(srv_scope_t *s) {
  s->mem.live = 0;
  s->mem.limit = request_limit_cfg;
  s->mem.err = AR_OK;
  return AR_OK;
}

static void end_context(srv_mem_t *m) {
  /* Relaxed: see leaked_bytes. */
  if (m->live != 0) atomic_fetch_add_explicit(&leaked_bytes, m->live, memory_order_relaxed);
}

void srv_scope_end(srv_scope_t *s) { end_context(&s->mem); }

srv_pool_t *srv_pool_create(void) { return calloc(1, sizeof(srv_pool_t)); }

void srv_pool_destroy(srv_pool_t *p) { free(p); }

int srv_pool_take(srv_pool_t *p, srv_mem_t *out) {
  (void)p;
  out->live = 0;
  out->limit = 0;
  out->err = AR_OK;
  return AR_OK;
}

void srv_pool_give(srv_pool_t *p, srv_mem_t *m) {
  (void)p;
  srv_mem_t copy = *m; /* the caller may have freed the block holding *m already */
  end_context(&copy);
}

void srv_pool_stats(srv_pool_t *p, srv_pool_stats_t *out) {
  (void)p;
  *out = (srv_pool_stats_t){0, 0, 0, 0};
}

uint64_t srv_mem_leaked_bytes(void) {
  /* Relaxed: see leaked_bytes. */
  return atomic_load_explicit(&leaked_bytes, memory_order_relaxed);
}

/* ---- buffer ------------------------------------------------------------------------------ */

int srv_buf_init(srv_buf_t *b, srv_mem_t *m) {
  *b = (srv_buf_t){m, NULL, 0, 0, 0};
  return AR_OK;
}

void srv_buf_destroy(srv_buf_t *b) {
  if (b->data != NULL) srv_free(b->mem, b->data, b->cap + 1);
  b->data = NULL;
  b->len = b->cap = b->rpos = 0;
}

static int buf_reserve(srv_buf_t *b, size_t n) {
  if (b->cap - b->len >= n && b->data != NULL) return AR_OK;
  if (n > AR_MAX_ALLOC_SIZE - b->len) return AR_EOVERFLOW;
  size_t need = b->len + n;
  size_t cap = b->cap < 32 ? 32 : b->cap;
  while (cap < need) cap *= 2;
  char *d = mem_realloc(b->mem, b->data, b->data ? b->cap + 1 : 0, cap + 1);
  if (d == NULL) return srv_mem_error(b->mem);
  b->data = d;
  b->cap = cap;
  return AR_OK;
}

int srv_buf_append_grow_(srv_buf_t *b, const void *p, size_t n) {
  if (n == 0) return AR_OK;
  size_t off = b->data != NULL && (const char *)p >= b->data && (const char *)p < b->data + b->len
                   ? (size_t)((const char *)p - b->data)
                   : SIZE_MAX;
  int rc = buf_reserve(b, n);
  if (rc != AR_OK) return rc;
  if (off != SIZE_MAX) p = b->data + off; /* appending from itself: the block may have moved */
  memmove(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return AR_OK;
}

int srv_buf_appendf(srv_buf_t *b, const char *fmt, ...) {
  char small[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return AR_EINVAL;
  if ((size_t)n < sizeof small) return srv_buf_append(b, small, (size_t)n);
  int rc = buf_reserve(b, (size_t)n);
  if (rc != AR_OK) return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return AR_OK;
}

void srv_buf_consume(srv_buf_t *b, size_t n) {
  if (n > b->len - b->rpos) n = b->len - b->rpos;
  b->rpos += n;
}

void srv_buf_compact(srv_buf_t *b) {
  if (b->rpos == 0) return;
  memmove(b->data, b->data + b->rpos, b->len - b->rpos);
  b->len -= b->rpos;
  b->rpos = 0;
  b->data[b->len] = 0;
}

/* ---- vector ------------------------------------------------------------------------------ */

int srv_vec_init(srv_vec_t *v, srv_mem_t *m, size_t elem_size) {
  if (elem_size == 0) return AR_EINVAL;
  *v = (srv_vec_t){m, NULL, 0, 0, elem_size};
  return AR_OK;
}

void srv_vec_destroy(srv_vec_t *v) {
  if (v->data != NULL) srv_free(v->mem, v->data, v->cap * v->elem_size);
  v->data = NULL;
  v->len = v->cap = 0;
}

int srv_vec_push_grow_(srv_vec_t *v, const void *elem) {
  if (v->len == v->cap) {
    size_t cap = v->cap < 4 ? 4 : v->cap * 2;
    size_t bytes;
    if (__builtin_mul_overflow(cap, v->elem_size, &bytes) || bytes > AR_MAX_ALLOC_SIZE)
      return AR_EOVERFLOW;
    void *d = mem_realloc(v->mem, v->data, v->cap * v->elem_size, bytes);
    if (d == NULL) return srv_mem_error(v->mem);
    v->data = d;
    v->cap = cap;
  }
  memcpy((char *)v->data + v->len * v->elem_size, elem, v->elem_size);
  v->len++;
  return AR_OK;
}
