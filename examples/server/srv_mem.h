/* SPDX-License-Identifier: MIT */
/*
 * examples/server/srv_mem.h - the one place where the server's two build flavors differ.
 *
 * The server's code (http.c, json.c, and the files server_state.h lists) allocates only
 * through this header: memory contexts (srv_mem_t), a per-request scope, a pool of
 * per-connection contexts, and three small containers (byte buffer, vector, byte-keyed map).
 * Two implementations sit behind it:
 *
 *   arena  (default)              srv_mem_arena.c: a request scope is ar_scope_begin/end on
 *                                 the worker's thread arena, a connection context is an arena
 *                                 from an ar_arena_pool_t, and the buffer and vector ARE
 *                                 ar_buf_t and ar_vec_t. Nothing is freed one object at a time.
 *   malloc (-DSERVER_FLAVOR_MALLOC) srv_mem_malloc.c: malloc/realloc/free, and a buffer and a
 *                                 vector with arenart's growth rule (doubling). The handler
 *                                 frees every object individually when a request or a
 *                                 connection ends, as a C program built on malloc would.
 *
 * What both flavors share, so that they differ in their allocator and nothing else: the
 * appends that fit in the storage a container has (inline, below), and the map (srv_map.c,
 * over srv_alloc/srv_free). The profile behind that choice is in docs/server-profile.md.
 *
 * SRV_FREES_EACH is a compile-time constant: code that walks a structure only to free it is
 * written `if (SRV_FREES_EACH) ...`, so the arena flavor never runs (or even compiles in) the
 * walk, and the malloc flavor cannot forget one.
 *
 * Limits. Every context can carry a byte cap. In the arena flavor the cap of a request is the
 * thread arena's `limit_bytes` (configured once, by srv_mem_configure, before the workers
 * start), so it is counted in whole chunks; in the malloc flavor it is counted per allocation
 * (requested size plus 16 bytes of assumed allocator overhead). Either way an allocation past
 * the cap fails, and srv_mem_error() then says AR_ELIMIT (or AR_ENOMEM if the system refused).
 *
 * Thread contract: a context, and every container in it, is used by one thread at a time (the
 * worker that owns the connection). srv_pool_take/give may run on any thread concurrently.
 */
#ifndef SRV_MEM_H
#define SRV_MEM_H

#include <arenart.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef SERVER_FLAVOR_MALLOC
#define SRV_FLAVOR "malloc"
#define SRV_FREES_EACH 1
#else
#define SRV_FLAVOR "arena"
#define SRV_FREES_EACH 0
#endif

/* ---- memory contexts ----------------------------------------------------------------- */

typedef struct srv_mem {
#ifdef SERVER_FLAVOR_MALLOC
  size_t live;  /* bytes handed out and not given back, overhead included */
  size_t limit; /* 0: no cap */
  int err;      /* AR_ELIMIT / AR_ENOMEM of the last failed allocation, else AR_OK */
#else
  ar_arena_t *arena;
#endif
} srv_mem_t;

/* Process-wide memory setup, before any worker starts: the per-request byte cap (0 = none).
 * The arena flavor configures the thread arenas created afterwards. Returns AR_OK or an error. */
int srv_mem_configure(size_t request_limit);

/* The error behind the most recent failed allocation in `m` (AR_ELIMIT, AR_ENOMEM, ...). */
int srv_mem_error(const srv_mem_t *m);

/* A per-request scope: everything allocated from `mem` between begin and end is the request's.
 * In the malloc flavor, end also records any bytes the handler failed to free. */
typedef struct srv_scope {
  srv_mem_t mem;
#ifndef SERVER_FLAVOR_MALLOC
  ar_scope_t scope;
#endif
} srv_scope_t;

/* Begins a scope; AR_OK or an error (the thread arena could not be had). */
int srv_scope_begin(srv_scope_t *s);
void srv_scope_end(srv_scope_t *s);

/* Per-connection contexts, reused across connections. */
typedef struct srv_pool srv_pool_t;
srv_pool_t *srv_pool_create(void);
/* Nothing may be taken any more. */
void srv_pool_destroy(srv_pool_t *p);
/* A fresh context owned by the calling thread. AR_OK or an error. */
int srv_pool_take(srv_pool_t *p, srv_mem_t *out);
/* Ends the context; everything allocated in it must already be freed (malloc flavor) or is
 * freed now (arena flavor). `m` itself may live inside the context: it is copied first. */
void srv_pool_give(srv_pool_t *p, srv_mem_t *m);

/* Counters for /stats (all 0 in the malloc flavor except leaked_bytes). */
typedef struct srv_pool_stats {
  uint64_t idle, taken, created, reused;
} srv_pool_stats_t;
void srv_pool_stats(srv_pool_t *p, srv_pool_stats_t *out);

/* Bytes that malloc-flavor contexts still held when they ended (a leak in the handler);
 * always 0 in the arena flavor. */
uint64_t srv_mem_leaked_bytes(void);

/* ---- allocation -------------------------------------------------------------------------- */

#ifdef SERVER_FLAVOR_MALLOC
void *srv_alloc(srv_mem_t *m, size_t n);
void srv_free(srv_mem_t *m, void *p, size_t n);
char *srv_strndup(srv_mem_t *m, const char *s, size_t n);
#else
static inline void *srv_alloc(srv_mem_t *m, size_t n) { return ar_alloc(m->arena, n); }
static inline void srv_free(srv_mem_t *m, void *p, size_t n) {
  (void)m, (void)p, (void)n; /* the scope or the connection's end frees it */
}
static inline char *srv_strndup(srv_mem_t *m, const char *s, size_t n) {
  return ar_strndup(m->arena, s, n);
}
#endif

/* ---- containers ---------------------------------------------------------------------------
 * The arena flavor's buffer and vector are arenart's own; the malloc flavor's mirror the
 * subset of their API used here, with the same contracts (AR_OK or an error code, a failed
 * call changes nothing, the buffer is always NUL-terminated once it has storage). Growth goes
 * through the flavor's *_grow_ function; the appends themselves are at the end of the file. */

#ifdef SERVER_FLAVOR_MALLOC

typedef struct srv_buf {
  srv_mem_t *mem;
  char *data;
  size_t len, cap, rpos;
} srv_buf_t;

typedef struct srv_vec {
  srv_mem_t *mem;
  void *data;
  size_t len, cap, elem_size;
} srv_vec_t;

int srv_buf_init(srv_buf_t *b, srv_mem_t *m);
void srv_buf_destroy(srv_buf_t *b);
int srv_buf_append_grow_(srv_buf_t *b, const void *p, size_t n);
int srv_buf_appendf(srv_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void srv_buf_consume(srv_buf_t *b, size_t n);
void srv_buf_compact(srv_buf_t *b);
static inline size_t srv_buf_len(const srv_buf_t *b) { return b->len; }
static inline const char *srv_buf_data(const srv_buf_t *b) { return b->data ? b->data : ""; }
static inline size_t srv_buf_remaining(const srv_buf_t *b) { return b->len - b->rpos; }
static inline const char *srv_buf_rdata(const srv_buf_t *b) {
  return b->data ? b->data + b->rpos : "";
}

int srv_vec_init(srv_vec_t *v, srv_mem_t *m, size_t elem_size);
void srv_vec_destroy(srv_vec_t *v);
int srv_vec_push_grow_(srv_vec_t *v, const void *elem);
static inline size_t srv_vec_len(const srv_vec_t *v) { return v->len; }
static inline void *srv_vec_data(const srv_vec_t *v) { return v->data; }

#else /* arena flavor: arenart's containers */

typedef ar_buf_t srv_buf_t;
typedef ar_vec_t srv_vec_t;

static inline int srv_buf_init(srv_buf_t *b, srv_mem_t *m) { return ar_buf_init(b, m->arena); }
static inline void srv_buf_destroy(srv_buf_t *b) { ar_buf_destroy(b); }
static inline int srv_buf_append_grow_(srv_buf_t *b, const void *p, size_t n) {
  return ar_buf_append(b, p, n);
}
#define srv_buf_appendf ar_buf_appendf
static inline void srv_buf_consume(srv_buf_t *b, size_t n) { (void)ar_buf_consume(b, n); }
static inline void srv_buf_compact(srv_buf_t *b) { ar_buf_compact(b); }
static inline size_t srv_buf_len(const srv_buf_t *b) { return b->len; }
static inline const char *srv_buf_data(const srv_buf_t *b) { return b->data ? b->data : ""; }
static inline size_t srv_buf_remaining(const srv_buf_t *b) { return b->len - b->rpos; }
static inline const char *srv_buf_rdata(const srv_buf_t *b) {
  return b->data ? b->data + b->rpos : "";
}

static inline int srv_vec_init(srv_vec_t *v, srv_mem_t *m, size_t elem_size) {
  return ar_vec_init(v, m->arena, elem_size);
}
static inline void srv_vec_destroy(srv_vec_t *v) { ar_vec_destroy(v); }
static inline int srv_vec_push_grow_(srv_vec_t *v, const void *elem) {
  return ar_vec_push(v, elem);
}
static inline size_t srv_vec_len(const srv_vec_t *v) { return v->len; }
static inline void *srv_vec_data(const srv_vec_t *v) { return v->data; }

#endif /* SERVER_FLAVOR_MALLOC */

/* The map: one implementation for both flavors (srv_map.c), over srv_alloc and srv_free.
 * Keys are copied into the map's context; values are value_size bytes, copied in. */
typedef struct srv_map {
  srv_mem_t *mem;
  void *slots;
  size_t cap, len, stride, value_size;
} srv_map_t;

int srv_map_init(srv_map_t *m, srv_mem_t *mem, size_t value_size);
/* Frees the table and the key copies (the malloc flavor's request end). */
void srv_map_destroy(srv_map_t *m);
int srv_map_put(srv_map_t *m, const void *key, size_t len, const void *value);
int srv_map_put_if_absent(srv_map_t *m, const void *key, size_t len, const void *value,
                          void **value_out, bool *inserted);
void *srv_map_get(const srv_map_t *m, const void *key, size_t len);
static inline size_t srv_map_len(const srv_map_t *m) { return m->len; }

/* ---- the appends, the same code in both flavors ------------------------------------------
 * An append that fits is a copy into the storage the container already has; only growth
 * reaches the flavor's own code (ar_buf_append / ar_vec_push, or srv_mem_malloc.c), which
 * allocates. Written once here, on the fields both flavors' types share with the same meaning
 * (data, len, cap; a buffer holds cap bytes plus its terminator), so the flavors still differ
 * in their allocator only. A request writes one or more appends per JSON node (several
 * hundred nodes); with a call into the library for each, the arena flavor's appends cost about
 * 3.1 us per request against 2.3 us for the malloc flavor's own functions (handler_bench under
 * perf, docs/server-profile.md). */

static inline int srv_buf_append(srv_buf_t *b, const void *p, size_t n) {
  if (b->data != NULL && n != 0 && n <= b->cap - b->len) {
    memmove(b->data + b->len, p, n); /* p may lie in the buffer itself, below len */
    b->len += n;
    b->data[b->len] = 0;
    return AR_OK;
  }
  return srv_buf_append_grow_(b, p, n);
}

static inline int srv_buf_append_str(srv_buf_t *b, const char *s) {
  return srv_buf_append(b, s, strlen(s));
}

static inline int srv_buf_append_char(srv_buf_t *b, int c) {
  if (b->data != NULL && b->len < b->cap) {
    b->data[b->len++] = (char)c;
    b->data[b->len] = 0;
    return AR_OK;
  }
  char ch = (char)c;
  return srv_buf_append_grow_(b, &ch, 1);
}

static inline int srv_vec_push(srv_vec_t *v, const void *elem) {
  if (v->len < v->cap) {
    memcpy((char *)v->data + v->len * v->elem_size, elem, v->elem_size);
    v->len++;
    return AR_OK;
  }
  return srv_vec_push_grow_(v, elem);
}

#endif /* SRV_MEM_H */
