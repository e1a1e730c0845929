/* SPDX-License-Identifier: MIT */
/*
 * examples/server/srv_mem_arena.c - the arena flavor of srv_mem.h.
 *
 * Requests use scopes on the worker's own thread arena: beginning one reads a mark, ending one
 * rewinds to it, so a request's parse tree, header map and response buffer go away in one
 * step. The per-request cap is the thread arena's limit_bytes, set before the workers exist
 * so that every worker's arena is created with it.
 *
 * Connections use arenas from one ar_arena_pool_t shared by all workers. A worker takes the
 * arena when it adopts a connection and gives it back when the connection closes; the pool
 * resets it (the read buffer and the connection record vanish together) and keeps it for the
 * next connection, trimmed to what recent connections needed.
 */
#include <stdlib.h>

#include "examples/server/srv_mem.h"

struct srv_pool {
  ar_arena_pool_t *pool;
};

int srv_mem_configure(size_t request_limit) {
  ar_options_t o;
  ar_options_init(&o);
  o.name = "request";
  o.limit_bytes = request_limit;
  /* Keep what a typical request needs between requests, but never more than the cap. */
  if (request_limit != 0 && o.retain_bytes > request_limit) o.retain_bytes = request_limit;
  return ar_thread_arena_configure(&o);
}

int srv_mem_error(const srv_mem_t *m) {
  (void)m;
  ar_error_t e = ar_last_error();
  return e == AR_OK ? AR_ENOMEM : (int)e;
}

int srv_scope_begin(srv_scope_t *s) {
  ar_clear_error();
  s->scope = ar_scope_begin();
  s->mem.arena = s->scope.arena;
  return s->scope.arena != NULL ? AR_OK : (int)ar_last_error();
}

void srv_scope_end(srv_scope_t *s) {
  if (s->scope.arena != NULL) (void)ar_scope_end(&s->scope);
}

srv_pool_t *srv_pool_create(void) {
  srv_pool_t *p = malloc(sizeof *p);
  if (p == NULL) return NULL;
  ar_arena_pool_options_t o;
  ar_arena_pool_options_init(&o);
  o.arena.name = "connection";
  p->pool = ar_arena_pool_create(&o);
  if (p->pool == NULL) {
    free(p);
    return NULL;
  }
  return p;
}

void srv_pool_destroy(srv_pool_t *p) {
  if (p == NULL) return;
  ar_arena_pool_destroy(p->pool);
  free(p);
}

int srv_pool_take(srv_pool_t *p, srv_mem_t *out) {
  out->arena = ar_arena_pool_take(p->pool);
  return out->arena != NULL ? AR_OK : (int)ar_last_error();
}

void srv_pool_give(srv_pool_t *p, srv_mem_t *m) {
  ar_arena_t *a = m->arena; /* m may live in the arena it names */
  (void)ar_arena_pool_give(p->pool, a);
}

void srv_pool_stats(srv_pool_t *p, srv_pool_stats_t *out) {
  ar_arena_pool_stats_t st;
  if (ar_arena_pool_stats(p->pool, &st) != AR_OK) {
    *out = (srv_pool_stats_t){0, 0, 0, 0};
    return;
  }
  out->idle = st.idle;
  out->taken = st.taken;
  out->created = st.created;
  out->reused = st.reused;
}

uint64_t srv_mem_leaked_bytes(void) { return 0; }
