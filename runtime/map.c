/* SPDX-License-Identifier: MIT */
/*
 * runtime/map.c - ar_map, an open-addressing Robin Hood hash map in an arena.
 *
 * Layout. One arena block holds cap + 1 slots of `stride` bytes: a 24-byte header (the full
 * hash, then the key: a u64, or a length and a pointer to the key's arena copy) followed by the
 * value, padded to 8. hash == 0 marks an empty slot; real hashes have their top bit forced on,
 * so they are never 0 and the home slot (the low bits) is unaffected. The slot past the end is
 * scratch space where an insert builds its entry (the table may move before the entry goes
 * in), so no slot-sized temporary (which would need a VLA or malloc) is ever needed.
 *
 * Invariants (Robin Hood, linear probing, no tombstones):
 *   - every run of occupied slots is ordered so that an entry's distance from its home slot
 *     never exceeds that of the entry before it by more than one; hence a lookup may stop at
 *     the first empty slot or the first entry closer to its home than the probe is to its own;
 *   - removal shifts the following entries of the run back by one until an empty slot or an
 *     entry already at its home, which keeps the invariant without tombstones;
 *   - len <= cap * 7/8, so an empty slot always exists and every probe loop terminates.
 *
 * Failure atomicity: an insert of a new key first copies the key (bytes maps), then grows the
 * table if needed (allocate the new table, move entries, free the old); if either allocation
 * fails, what was allocated is given back and the map is untouched. Replacing a value, lookups,
 * removal and clear never allocate.
 *
 * Thread contract: externally synchronized (see map.h).
 */
#include <stdint.h>
#include <string.h>

#include "arenart/map.h"
#include "runtime/internal.h"

#define AR_MAP_MIN_CAP 8
#define AR_MAP_HASH_MARK (UINT64_C(1) << 63)

/* Odd constants from the fractional parts of the square roots of 2, 3, 5 and 7. */
#define K0 UINT64_C(0x6A09E667F3BCC909)
#define K1 UINT64_C(0xBB67AE8584CAA73B)
#define K2 UINT64_C(0x3C6EF372FE94F82B)
#define K3 UINT64_C(0xA54FF53A5F1D36F1)

typedef struct slot_hdr {
  uint64_t hash;
  uint64_t word;  /* U64 maps: the key; byte maps: the key's length */
  const char *kp; /* byte maps: the key copy (NULL for the empty key) */
} slot_hdr_t;

_Static_assert(sizeof(slot_hdr_t) == AR_MAP_SLOT_HEADER_, "slot header size");

/* A probe key: what the caller passed, in the form the slots store. */
typedef struct probe {
  const void *p;
  size_t n;
  uint64_t u;
} probe_t;

/* ---- hashing ------------------------------------------------------------------------- */

/* 64x64 -> 128-bit multiply folded back to 64 bits: every input bit reaches the middle of the
 * product, and xoring the halves brings the high-order mixing down to the low bits. */
static inline uint64_t fold(uint64_t a, uint64_t b) {
  unsigned __int128 r = (unsigned __int128)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static inline uint64_t rd32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

uint64_t ar_hash_bytes(const void *data, size_t len, uint64_t seed) {
  const unsigned char *s = (const unsigned char *)data;
  size_t n = len;
  uint64_t h = seed ^ fold(seed ^ K0, (uint64_t)len ^ K1);
  /* 16 bytes per round; "+ h" keeps the history even if a round's product happens to be 0. */
  while (n > 16) {
    h += fold(rd64(s) ^ K2 ^ h, rd64(s + 8) ^ K3);
    s += 16;
    n -= 16;
  }
  uint64_t a = 0, b = 0;
  if (n >= 8) { /* 8..16 bytes: two reads that may overlap */
    a = rd64(s);
    b = rd64(s + n - 8);
  } else if (n >= 4) {
    a = rd32(s);
    b = rd32(s + n - 4);
  } else if (n > 0) {
    a = ((uint64_t)s[0] << 16) | ((uint64_t)s[n >> 1] << 8) | s[n - 1];
  }
  h += fold(a ^ K2 ^ h, b ^ K3);
  return fold(h ^ K0, K1 ^ (uint64_t)len);
}

uint64_t ar_hash_u64(uint64_t x, uint64_t seed) {
  uint64_t h = fold(x ^ seed ^ K0, K1);
  return fold(h ^ x ^ K2, K3);
}

/* ---- slots --------------------------------------------------------------------------- */

static inline char *slot(const ar_map_t *m, size_t i) { return (char *)m->slots_ + i * m->stride_; }
static inline slot_hdr_t *hdr(const ar_map_t *m, size_t i) {
  return (slot_hdr_t *)(void *)slot(m, i);
}
static inline void *slot_value(const ar_map_t *m, size_t i) {
  return slot(m, i) + AR_MAP_SLOT_HEADER_;
}

static uint64_t hash_probe(const ar_map_t *m, const probe_t *k) {
  uint64_t h;
  if (m->hash_ != NULL) {
    h = m->kind_ == AR_MAP_KEY_U64 ? m->hash_(&k->u, sizeof k->u, m->ctx_)
                                   : m->hash_(k->p ? k->p : "", k->n, m->ctx_);
    h = fold(h ^ K2, K3); /* spread user hashes that are weak in the low bits */
  } else {
    h = m->kind_ == AR_MAP_KEY_U64 ? ar_hash_u64(k->u, m->seed_)
                                   : ar_hash_bytes(k->p, k->n, m->seed_);
  }
  return h | AR_MAP_HASH_MARK;
}

static bool key_eq(const ar_map_t *m, const slot_hdr_t *s, const probe_t *k) {
  if (m->kind_ == AR_MAP_KEY_U64) {
    if (m->eq_ == NULL) return s->word == k->u;
    return m->eq_(&s->word, sizeof s->word, &k->u, sizeof k->u, m->ctx_);
  }
  if (m->eq_ != NULL)
    return m->eq_(s->kp ? s->kp : "", (size_t)s->word, k->p ? k->p : "", k->n, m->ctx_);
  return s->word == k->n && (k->n == 0 || memcmp(s->kp, k->p, k->n) == 0);
}

/* The slot holding the key, or SIZE_MAX. */
static size_t find(const ar_map_t *m, const probe_t *k, uint64_t h) {
  if (m->cap_ == 0) return SIZE_MAX;
  size_t mask = m->cap_ - 1;
  for (size_t i = h & mask, dist = 0;; i = (i + 1) & mask, dist++) {
    const slot_hdr_t *s = hdr(m, i);
    if (s->hash == 0) return SIZE_MAX;
    if (((i - s->hash) & mask) < dist) return SIZE_MAX; /* we would have displaced it */
    if (s->hash == h && key_eq(m, s, k)) return i;
  }
}

/* As find, for an insert: where the probe stopped. *found says whether that is the key's slot;
 * otherwise it is where the key belongs (an empty slot, or the first entry closer to its home
 * than the probe), so an insert that does not rehash in between need not probe again.
 * m->cap_ != 0. */
static size_t find_or_stop(const ar_map_t *m, const probe_t *k, uint64_t h, bool *found) {
  size_t mask = m->cap_ - 1;
  for (size_t i = h & mask, dist = 0;; i = (i + 1) & mask, dist++) {
    const slot_hdr_t *s = hdr(m, i);
    if (s->hash == 0 || ((i - s->hash) & mask) < dist) {
      *found = false;
      return i;
    }
    if (s->hash == h && key_eq(m, s, k)) {
      *found = true;
      return i;
    }
  }
}

/* Puts a copy of the entry at `src` (the scratch slot, or a slot of the table being replaced)
 * at slot `at`, where a Robin Hood probe for its hash stops, and returns `at`. The entries from
 * `at` up to the next empty slot all move up one slot with one memmove (two when the run wraps
 * past the table's end), rather than being swapped one by one through a scratch slot: each of
 * them is then one slot further from home, and the run stays sorted by home slot, which is all
 * that the lookup's early stop and the backward-shift removal rely on (entries with the same
 * home may come out in a different order than swapping would give; table order is unspecified
 * anyway). The table has an empty slot (len < cap), so the scan ends; the moves stay below
 * slot cap, so the scratch slot is never overwritten. */
static size_t insert_at(ar_map_t *m, size_t at, const void *src) {
  size_t cap = m->cap_, mask = cap - 1, stride = m->stride_;
  size_t e = at;
  while (hdr(m, e)->hash != 0) e = (e + 1) & mask;
  if (e == at) {
    /* the common case in a rehash: nothing to move */
  } else if (e > at) {
    memmove(slot(m, at + 1), slot(m, at), (e - at) * stride);
  } else { /* the run wraps: [at, cap) then [0, e) */
    memmove(slot(m, 1), slot(m, 0), e * stride);
    memcpy(slot(m, 0), slot(m, cap - 1), stride);
    memmove(slot(m, at + 1), slot(m, at), (cap - 1 - at) * stride);
  }
  memcpy(slot(m, at), src, stride);
  return at;
}

/* Robin Hood insertion of the entry at `src` into a table known to have room and not to hold
 * the key. Returns where that entry ended up. */
static size_t place(ar_map_t *m, const void *src) {
  size_t mask = m->cap_ - 1;
  uint64_t h = ((const slot_hdr_t *)src)->hash;
  size_t i = h & mask;
  for (size_t dist = 0;; i = (i + 1) & mask, dist++) {
    const slot_hdr_t *s = hdr(m, i);
    if (s->hash == 0 || ((i - s->hash) & mask) < dist) break;
  }
  return insert_at(m, i, src);
}

/* Table bytes for `cap` slots plus the scratch slot, or false on overflow. */
static bool table_bytes(const ar_map_t *m, size_t cap, size_t *out) {
  return !__builtin_mul_overflow(cap + 1, m->stride_, out) && *out <= AR_MAX_ALLOC_SIZE;
}

static size_t max_len(size_t cap) { return cap - cap / 8; }

/* A table that a rehash replaced, still to be given back. The free waits until the caller is
 * done with the caller's arguments, which may point into the old table (a value from get). */
typedef struct retired {
  void *slots;
  size_t bytes;
} retired_t;

static void free_retired(ar_map_t *m, const retired_t *r) {
  if (r->slots != NULL) ar_free(m->arena, r->slots, r->bytes);
}

/* Moves to a table of `new_cap` slots. On failure nothing changed. */
static int rehash(ar_map_t *m, size_t new_cap, retired_t *old_table) {
  size_t bytes;
  if (!table_bytes(m, new_cap, &bytes)) return ar_set_error_(AR_EOVERFLOW);
  void *fresh = ar_alloc(m->arena, bytes);
  if (fresh == NULL) return (int)ar_last_error();
  memset(fresh, 0, new_cap * m->stride_);
  ar_map_t old = *m;
  m->slots_ = fresh;
  m->cap_ = new_cap;
  for (size_t i = 0; i < old.cap_; i++)
    if (hdr(&old, i)->hash != 0) place(m, slot(&old, i));
  old_table->slots = old.slots_;
  old_table->bytes = old.slots_ != NULL ? (old.cap_ + 1) * old.stride_ : 0;
  return AR_OK;
}

/* Smallest power-of-two capacity holding n entries under the load bound, or 0 on overflow. */
static size_t cap_for(size_t n) {
  size_t cap = AR_MAP_MIN_CAP;
  while (max_len(cap) < n) {
    if (cap > SIZE_MAX / 4) return 0;
    cap *= 2;
  }
  return cap;
}

static int ensure(ar_map_t *m, size_t n, retired_t *old_table) {
  if (m->cap_ != 0 && n <= max_len(m->cap_)) return AR_OK;
  size_t cap = cap_for(n);
  if (cap == 0) return ar_set_error_(AR_EOVERFLOW);
  if (m->cap_ != 0 && cap < m->cap_ * 2) cap = m->cap_ * 2;
  return rehash(m, cap, old_table);
}

/* ---- public API ---------------------------------------------------------------------- */

void ar_map_options_init(ar_map_options_t *opts) {
  if (opts == NULL) return;
  memset(opts, 0, sizeof *opts);
  opts->size = sizeof *opts;
  opts->key_kind = AR_MAP_KEY_BYTES;
  opts->value_size = sizeof(void *);
}

int ar_map_init(ar_map_t *m, ar_arena_t *arena, const ar_map_options_t *opts) {
  ar_lease_forbid_(arena); /* lease.h: every call naming a leased arena aborts */
  ar_map_options_t o;      /* options.c reads the caller's struct by its size */
  if (ar_map_options_read_(opts, &o) != AR_OK) return ar_set_error_(AR_EINVAL);
  if (m == NULL || arena == NULL || o.value_size > AR_MAP_MAX_VALUE ||
      (o.key_kind != AR_MAP_KEY_BYTES && o.key_kind != AR_MAP_KEY_U64))
    return ar_set_error_(AR_EINVAL);
  m->arena = arena;
  m->slots_ = NULL;
  m->cap_ = 0;
  m->len_ = 0;
  m->stride_ = AR_MAP_SLOT_HEADER_ + ar_align_up_(o.value_size, 8);
  m->value_size_ = o.value_size;
  m->hash_ = o.hash;
  m->eq_ = o.eq;
  m->ctx_ = o.ctx;
  m->seed_ = o.seed;
  m->kind_ = o.key_kind;
  return AR_OK;
}

static void free_keys(ar_map_t *m) {
  if (m->kind_ != AR_MAP_KEY_BYTES) return;
  for (size_t i = 0; i < m->cap_; i++) {
    slot_hdr_t *s = hdr(m, i);
    if (s->hash != 0 && s->kp != NULL) ar_free(m->arena, (void *)(uintptr_t)s->kp, s->word);
  }
}

void ar_map_clear(ar_map_t *m) {
  if (m == NULL || m->cap_ == 0) return;
  free_keys(m);
  memset(m->slots_, 0, m->cap_ * m->stride_);
  m->len_ = 0;
}

void ar_map_destroy(ar_map_t *m) {
  if (m == NULL) return;
  if (m->slots_ != NULL) {
    free_keys(m);
    ar_free(m->arena, m->slots_, (m->cap_ + 1) * m->stride_);
  }
  m->slots_ = NULL;
  m->cap_ = 0;
  m->len_ = 0;
}

size_t ar_map_len(const ar_map_t *m) { return m ? m->len_ : 0; }
size_t ar_map_capacity(const ar_map_t *m) { return m ? m->cap_ : 0; }

int ar_map_reserve(ar_map_t *m, size_t n) {
  if (m == NULL) return ar_set_error_(AR_EINVAL);
  if (m->cap_ != 0 && n <= max_len(m->cap_)) return AR_OK;
  size_t cap = cap_for(n);
  if (cap == 0) return ar_set_error_(AR_EOVERFLOW);
  retired_t old_table = {NULL, 0};
  int err = rehash(m, cap, &old_table);
  free_retired(m, &old_table);
  return err;
}

/* Common body of put and put_if_absent. */
static int put_common(ar_map_t *m, const probe_t *k, const void *value, bool replace,
                      void **value_out, bool *inserted) {
  uint64_t h = hash_probe(m, k);
  bool found = false;
  size_t i = m->cap_ != 0 ? find_or_stop(m, k, h, &found) : SIZE_MAX;
  if (found) {
    if (replace && m->value_size_ > 0) memcpy(slot_value(m, i), value, m->value_size_);
    if (value_out) *value_out = slot_value(m, i);
    if (inserted) *inserted = false;
    return AR_OK;
  }
  size_t need;
  if (__builtin_add_overflow(m->len_, (size_t)1, &need)) return ar_set_error_(AR_EOVERFLOW);
  char *kcopy = NULL;
  if (m->kind_ == AR_MAP_KEY_BYTES && k->n > 0) {
    kcopy = (char *)ar_alloc(m->arena, k->n);
    if (kcopy == NULL) return (int)ar_last_error();
    memcpy(kcopy, k->p, k->n);
  }
  retired_t old_table = {NULL, 0};
  void *table = m->slots_;
  int err = ensure(m, need, &old_table);
  if (err != AR_OK) {
    if (kcopy != NULL) ar_free(m->arena, kcopy, k->n);
    return err;
  }
  char *carry = slot(m, m->cap_);
  slot_hdr_t s = {h, m->kind_ == AR_MAP_KEY_U64 ? k->u : (uint64_t)k->n, kcopy};
  memset(carry, 0, m->stride_);
  memcpy(carry, &s, sizeof s);
  if (m->value_size_ > 0) memcpy(carry + AR_MAP_SLOT_HEADER_, value, m->value_size_);
  /* Where the probe stopped is still right unless the table was replaced. */
  i = m->slots_ == table && i != SIZE_MAX ? insert_at(m, i, carry) : place(m, carry);
  m->len_++;
  free_retired(m, &old_table); /* `value` may have pointed into it */
  if (value_out) *value_out = slot_value(m, i);
  if (inserted) *inserted = true;
  return AR_OK;
}

static bool bad_bytes_call(const ar_map_t *m, const void *key, size_t len) {
  return m == NULL || m->kind_ != AR_MAP_KEY_BYTES || (key == NULL && len > 0) ||
         len > AR_MAX_ALLOC_SIZE;
}

int ar_map_put(ar_map_t *m, const void *key, size_t len, const void *value) {
  if (bad_bytes_call(m, key, len) || (value == NULL && m->value_size_ > 0))
    return ar_set_error_(AR_EINVAL);
  probe_t k = {key, len, 0};
  return put_common(m, &k, value, true, NULL, NULL);
}

int ar_map_put_if_absent(ar_map_t *m, const void *key, size_t len, const void *value,
                         void **value_out, bool *inserted) {
  if (bad_bytes_call(m, key, len) || (value == NULL && m->value_size_ > 0))
    return ar_set_error_(AR_EINVAL);
  probe_t k = {key, len, 0};
  return put_common(m, &k, value, false, value_out, inserted);
}

static size_t lookup(const ar_map_t *m, const probe_t *k) {
  if (m->len_ == 0) return SIZE_MAX;
  return find(m, k, hash_probe(m, k));
}

void *ar_map_get(const ar_map_t *m, const void *key, size_t len) {
  if (bad_bytes_call(m, key, len)) {
    ar_set_error_(AR_EINVAL);
    return NULL;
  }
  probe_t k = {key, len, 0};
  size_t i = lookup(m, &k);
  return i == SIZE_MAX ? NULL : slot_value(m, i);
}

bool ar_map_contains(const ar_map_t *m, const void *key, size_t len) {
  if (bad_bytes_call(m, key, len)) {
    ar_set_error_(AR_EINVAL);
    return false;
  }
  probe_t k = {key, len, 0};
  return lookup(m, &k) != SIZE_MAX;
}

/* Backward-shift deletion of slot i. */
static void erase_at(ar_map_t *m, size_t i) {
  size_t mask = m->cap_ - 1;
  slot_hdr_t *s = hdr(m, i);
  if (m->kind_ == AR_MAP_KEY_BYTES && s->kp != NULL)
    ar_free(m->arena, (void *)(uintptr_t)s->kp, s->word);
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    slot_hdr_t *n = hdr(m, j);
    if (n->hash == 0 || ((j - n->hash) & mask) == 0) break;
    memcpy(slot(m, i), n, m->stride_);
    i = j;
  }
  hdr(m, i)->hash = 0;
  m->len_--;
}

static bool remove_common(ar_map_t *m, const probe_t *k, void *value_out) {
  size_t i = lookup(m, k);
  if (i == SIZE_MAX) return false;
  if (value_out != NULL && m->value_size_ > 0) memcpy(value_out, slot_value(m, i), m->value_size_);
  erase_at(m, i);
  return true;
}

bool ar_map_remove(ar_map_t *m, const void *key, size_t len, void *value_out) {
  if (bad_bytes_call(m, key, len)) {
    ar_set_error_(AR_EINVAL);
    return false;
  }
  probe_t k = {key, len, 0};
  return remove_common(m, &k, value_out);
}

static bool bad_u64_call(const ar_map_t *m) { return m == NULL || m->kind_ != AR_MAP_KEY_U64; }

int ar_map_put_u64(ar_map_t *m, uint64_t key, const void *value) {
  if (bad_u64_call(m) || (value == NULL && m->value_size_ > 0)) return ar_set_error_(AR_EINVAL);
  probe_t k = {NULL, 0, key};
  return put_common(m, &k, value, true, NULL, NULL);
}

int ar_map_put_if_absent_u64(ar_map_t *m, uint64_t key, const void *value, void **value_out,
                             bool *inserted) {
  if (bad_u64_call(m) || (value == NULL && m->value_size_ > 0)) return ar_set_error_(AR_EINVAL);
  probe_t k = {NULL, 0, key};
  return put_common(m, &k, value, false, value_out, inserted);
}

void *ar_map_get_u64(const ar_map_t *m, uint64_t key) {
  if (bad_u64_call(m)) {
    ar_set_error_(AR_EINVAL);
    return NULL;
  }
  probe_t k = {NULL, 0, key};
  size_t i = lookup(m, &k);
  return i == SIZE_MAX ? NULL : slot_value(m, i);
}

bool ar_map_contains_u64(const ar_map_t *m, uint64_t key) {
  if (bad_u64_call(m)) {
    ar_set_error_(AR_EINVAL);
    return false;
  }
  probe_t k = {NULL, 0, key};
  return lookup(m, &k) != SIZE_MAX;
}

bool ar_map_remove_u64(ar_map_t *m, uint64_t key, void *value_out) {
  if (bad_u64_call(m)) {
    ar_set_error_(AR_EINVAL);
    return false;
  }
  probe_t k = {NULL, 0, key};
  return remove_common(m, &k, value_out);
}

bool ar_map_next(const ar_map_t *m, size_t *pos, ar_map_entry_t *out) {
  if (m == NULL || pos == NULL || out == NULL) return false;
  for (size_t i = *pos; i < m->cap_; i++) {
    slot_hdr_t *s = hdr(m, i);
    if (s->hash == 0) continue;
    if (m->kind_ == AR_MAP_KEY_U64) {
      out->key = &s->word;
      out->key_len = sizeof s->word;
      out->key_u64 = s->word;
    } else {
      out->key = s->kp != NULL ? s->kp : ""; /* the empty key has no copy */
      out->key_len = (size_t)s->word;
      out->key_u64 = 0;
    }
    out->value = slot_value(m, i);
    *pos = i + 1;
    return true;
  }
  *pos = m->cap_;
  return false;
}

int ar_map_foreach(const ar_map_t *m, ar_map_visit_fn fn, void *ctx) {
  if (m == NULL || fn == NULL) return ar_set_error_(AR_EINVAL);
  size_t pos = 0;
  ar_map_entry_t e;
  while (ar_map_next(m, &pos, &e)) {
    int rc = fn(&e, ctx);
    if (rc != 0) return rc;
  }
  return 0;
}
