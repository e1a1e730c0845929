/* SPDX-License-Identifier: MIT */
/*
 * examples/server/srv_map.c - the byte-keyed map of srv_mem.h, one implementation for both
 * flavors.
 *
 * Why the example has its own map rather than ar_map in the arena flavor: the map is on the
 * request path twice (the header index and the handler's set of JSON keys, a dozen keys and
 * several hundred lookups of them per request), and the comparison between flavors is meant
 * to be a comparison of allocators. With ar_map in one flavor and this map in the other, the
 * arena flavor paid about a microsecond per request more (handler_bench, see
 * docs/server-profile.md) for ar_map's generality (Robin Hood ordering, key kinds, hash and
 * equality callbacks), none of which is an allocator cost. Now both flavors run this code and
 * differ only in where srv_alloc gets the memory and whether srv_free does anything.
 *
 * Layout: open addressing with linear probing over stored 64-bit hashes (ar_hash_bytes, top
 * bit forced on so that 0 marks an empty slot), doubling at 7/8 load from 8 slots. A slot is
 * the hash, the key copy's pointer and length, then the value rounded up to 8 bytes.
 * Failure atomicity: a put that cannot allocate (the table or the key copy) leaves the map as
 * it was; in the malloc flavor nothing it allocated stays allocated.
 */
#include <string.h>

#include "examples/server/srv_mem.h"

typedef struct slot {
  uint64_t hash;
  char *key;
  size_t len;
} slot_t;

#define SLOT(m, i) ((slot_t *)(void *)((char *)(m)->slots + (i) * (m)->stride))
#define HASH_SEED 0x5eedull

int srv_map_init(srv_map_t *m, srv_mem_t *mem, size_t value_size) {
  *m = (srv_map_t){mem, NULL, 0, 0, sizeof(slot_t) + ((value_size + 7) & ~(size_t)7), value_size};
  return AR_OK;
}

void srv_map_destroy(srv_map_t *m) {
  /* The key walk only frees: the arena flavor neither compiles nor runs it. */
  for (size_t i = 0; SRV_FREES_EACH && i < m->cap; i++) {
    slot_t *s = SLOT(m, i);
    if (s->hash != 0) srv_free(m->mem, s->key, s->len + 1);
  }
  if (m->slots != NULL) srv_free(m->mem, m->slots, m->cap * m->stride);
  m->slots = NULL;
  m->cap = m->len = 0;
}

static uint64_t key_hash(const void *key, size_t len) {
  return ar_hash_bytes(key, len, HASH_SEED) | (1ull << 63);
}

static slot_t *find(const srv_map_t *m, const void *key, size_t len, uint64_t h) {
  if (m->cap == 0) return NULL;
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    slot_t *s = SLOT(m, i);
    if (s->hash == 0) return s;
    if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
  }
}

static int grow(srv_map_t *m) {
  size_t cap = m->cap == 0 ? 8 : m->cap * 2;
  size_t bytes;
  if (__builtin_mul_overflow(cap, m->stride, &bytes) || bytes > AR_MAX_ALLOC_SIZE)
    return AR_EOVERFLOW;
  void *slots = srv_alloc(m->mem, bytes);
  if (slots == NULL) return srv_mem_error(m->mem);
  memset(slots, 0, bytes);
  srv_map_t n = *m;
  n.slots = slots;
  n.cap = cap;
  for (size_t i = 0; i < m->cap; i++) {
    slot_t *s = SLOT(m, i);
    if (s->hash != 0) memcpy(find(&n, s->key, s->len, s->hash), s, m->stride);
  }
  if (m->slots != NULL) srv_free(m->mem, m->slots, m->cap * m->stride);
  m->slots = slots;
  m->cap = cap;
  return AR_OK;
}

int srv_map_put_if_absent(srv_map_t *m, const void *key, size_t len, const void *value,
                          void **value_out, bool *inserted) {
  uint64_t h = key_hash(key, len);
  slot_t *s = find(m, key, len, h);
  if (s != NULL && s->hash != 0) {
    if (inserted != NULL) *inserted = false;
    if (value_out != NULL) *value_out = s + 1;
    return AR_OK;
  }
  if ((m->len + 1) * 8 > m->cap * 7) {
    int rc = grow(m);
    if (rc != AR_OK) return rc;
    s = find(m, key, len, h);
  }
  char *k = srv_alloc(m->mem, len + 1);
  if (k == NULL) return srv_mem_error(m->mem);
  memcpy(k, key, len);
  k[len] = 0;
  s->hash = h;
  s->key = k;
  s->len = len;
  if (m->value_size != 0) memcpy(s + 1, value, m->value_size);
  m->len++;
  if (inserted != NULL) *inserted = true;
  if (value_out != NULL) *value_out = s + 1;
  return AR_OK;
}

int srv_map_put(srv_map_t *m, const void *key, size_t len, const void *value) {
  void *v;
  bool ins;
  int rc = srv_map_put_if_absent(m, key, len, value, &v, &ins);
  if (rc == AR_OK && !ins && m->value_size != 0) memcpy(v, value, m->value_size);
  return rc;
}

void *srv_map_get(const srv_map_t *m, const void *key, size_t len) {
  slot_t *s = find(m, key, len, key_hash(key, len));
  return s != NULL && s->hash != 0 ? (void *)(s + 1) : NULL;
}
