/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief A hash map whose table and keys live in an arena.
 *
 * An ar_map_t (embed it by value) maps keys to fixed-size values. Keys are either byte strings
 * (AR_MAP_KEY_BYTES: any bytes, any length including 0; the map keeps its own copy in the arena)
 * or 64-bit integers (AR_MAP_KEY_U64: stored inline, use the `*_u64` calls). Values are
 * `value_size` bytes copied in with memcpy (0 makes the map a set); the map hands out pointers
 * to them, aligned to 8 bytes.
 *
 * Table: open addressing with linear probing and Robin Hood placement (an entry never sits
 * further from its home slot than the entry it displaced), removal by backward shifting (no
 * tombstones, so lookups never slow down with churn). The table's capacity is a power of two
 * and the load factor stays at or below 7/8: an insert that would pass it first doubles the
 * table (a new table is allocated, entries are moved, the old table is given back with
 * ar_free so the arena can reuse it). Each slot stores the full 64-bit hash, so the equality
 * function runs only on real candidates.
 *
 * Hashing: by default ar_hash_bytes / ar_hash_u64 with the options' seed. A caller-supplied
 * hash is post-mixed (equal keys still hash equal), so a hash weak in its low bits is fine; a
 * hash that sends every key to the same value still works, in O(n) per operation. The
 * equality function must agree with the hash (eq(a, b) implies hash(a) == hash(b)).
 *
 * Pointers handed out (values from get/put_if_absent, keys and values in entries) stay valid
 * until the next call that inserts, removes, reserves, clears or destroys. Everything goes away
 * with the arena (rewind past the table, reset, release, destroy).
 *
 * Errors: int-returning calls give AR_OK or an ar_error_t (also the thread's last error):
 * AR_EINVAL (NULL map or pointer, a call of the wrong key kind, bad options), AR_EOVERFLOW (the
 * table would exceed AR_MAX_ALLOC_SIZE), AR_ELIMIT / AR_ENOMEM / AR_EBUSY from the arena. A
 * failed call leaves the map exactly as it was (same entries, same table). In the byte-key
 * calls, `key` may be NULL only when `len` is 0.
 *
 * Synchronization (externally synchronized; mutating calls also follow the arena's owner-thread
 * rule):
 *   | call                   | may run concurrently with                                       |
 *   |------------------------|-----------------------------------------------------------------|
 *   | read-only calls on M   | other read-only calls on M (a user hash/eq must be thread-safe) |
 *   | every other call on M  | nothing else on M                                               |
 *   | calls on distinct maps | each other, if their arenas differ (or all are read-only)       |
 *
 * The read-only calls are ar_map_get, ar_map_contains (and their `_u64` forms), ar_map_len,
 * ar_map_capacity, ar_map_next and ar_map_foreach.
 */
#ifndef ARENART_MAP_H
#define ARENART_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arenart/arena.h"
#include "arenart/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The kind of key a map takes (ar_map_options_t.key_kind); fixed at ar_map_init. */
typedef enum ar_map_key_kind {
  AR_MAP_KEY_BYTES = 0, /**< byte-string keys, copied into the arena */
  AR_MAP_KEY_U64 = 1,   /**< uint64_t keys, stored in the table */
} ar_map_key_kind_t;

/** Hash of a key. For U64 maps `key` points to the uint64_t and len is 8. Never NULL (the
 * empty key is passed as "" with len 0), also to eq and in entries. */
typedef uint64_t (*ar_map_hash_fn)(const void *key, size_t len, void *ctx);
/** Key equality, called with a stored key and the probe key. */
typedef bool (*ar_map_eq_fn)(const void *a, size_t alen, const void *b, size_t blen, void *ctx);

/** How to make a map (ar_map_init). Start from ar_map_options_init() or AR_MAP_OPTIONS_INIT,
 * then set the fields you need. Extensible: `size`, set by both, follows ar_options_t's rules
 * (0: a zero-initialised struct of the 0.1.0 layout; shorter: missing fields take their
 * defaults; longer: only with zero bytes past what the library knows). */
typedef struct ar_map_options {
  size_t size;                /**< sizeof(ar_map_options_t) as the caller compiled it */
  ar_map_key_kind_t key_kind; /**< AR_MAP_KEY_BYTES or AR_MAP_KEY_U64 */
  size_t value_size;          /**< bytes per value; 0 for a set; at most AR_MAP_MAX_VALUE */
  ar_map_hash_fn hash;        /**< NULL: ar_hash_bytes / ar_hash_u64 with `seed` */
  ar_map_eq_fn eq;            /**< NULL: length + memcmp / integer equality */
  void *ctx;                  /**< passed to hash and eq */
  uint64_t seed;              /**< for the default hash */
} ar_map_options_t;

/** The largest value_size a map accepts: 1 MiB. */
#define AR_MAP_MAX_VALUE ((size_t)1 << 20)

/* Private: per-slot header bytes before the value. */
#define AR_MAP_SLOT_HEADER_ 24

/** A hash map in an arena; embed it by value. Fields are private: use the API. */
typedef struct ar_map {
  ar_arena_t *arena; /**< the arena holding the table and the key copies (private too) */
  void *slots_;      /* cap_ + 1 slots (a scratch slot at the end); NULL while cap_ == 0 */
  size_t cap_;       /* 0 or a power of two */
  size_t len_;
  size_t stride_;
  size_t value_size_;
  ar_map_hash_fn hash_;
  ar_map_eq_fn eq_;
  void *ctx_;
  uint64_t seed_;
  ar_map_key_kind_t kind_;
} ar_map_t;

/** Static initializer: an empty map of the given key kind and value size with the default hash
 * and equality (no allocation). */
#define AR_MAP_INIT(arena, kind, value_size)                                                    \
  {                                                                                             \
    (arena), NULL, 0, 0, AR_MAP_SLOT_HEADER_ + (((value_size) + 7) & ~(size_t)7), (value_size), \
        NULL, NULL, NULL, 0, (kind)                                                             \
  }

/** One entry, as iteration reports it. For U64 maps `key` points to the stored integer
 * (key_len 8) and key_u64 holds it; for byte maps key_u64 is 0. */
typedef struct ar_map_entry {
  const void *key;  /**< the stored key (never NULL: the empty key is "") */
  size_t key_len;   /**< its length in bytes (8 for U64 maps) */
  uint64_t key_u64; /**< the key of a U64 map; 0 for byte maps */
  void *value;      /**< the stored value (the callback of ar_map_foreach may modify it) */
} ar_map_entry_t;

/** Static initializer with the defaults; ar_map_options_init() does the same at run time. */
#define AR_MAP_OPTIONS_INIT \
  { sizeof(ar_map_options_t), AR_MAP_KEY_BYTES, sizeof(void *), NULL, NULL, NULL, 0 }

/** Fills *opts with byte keys, pointer-sized values, default hash and equality, seed 0
 * (AR_MAP_OPTIONS_INIT), `size` included. NULL is a no-op. */
AR_API void ar_map_options_init(ar_map_options_t *opts);

/** Makes *m an empty map in `arena`; allocates nothing. opts NULL: ar_map_options_init's.
 * Errors: AR_EINVAL (NULL m or arena, a `size` the library does not accept (see
 * ar_map_options_t), unknown key kind, value_size above AR_MAP_MAX_VALUE). */
AR_API int ar_map_init(ar_map_t *m, ar_arena_t *arena, const ar_map_options_t *opts);

/** Gives the table and every key copy back to the arena; *m stays usable, empty. NULL: no-op. */
AR_API void ar_map_destroy(ar_map_t *m);

/** Removes every entry (key copies are given back); keeps the table. NULL: no-op. */
AR_API void ar_map_clear(ar_map_t *m);

/** Entries in the map; 0 for NULL. */
AR_API size_t ar_map_len(const ar_map_t *m);
/** Slots in the table (0 before the first insert); 0 for NULL. */
AR_API size_t ar_map_capacity(const ar_map_t *m);

/** Ensures `n` entries fit without the table growing. Errors: AR_EINVAL, AR_EOVERFLOW, the
 * arena's. */
AR_API int ar_map_reserve(ar_map_t *m, size_t n);

/* ---- byte-string keys (AR_MAP_KEY_BYTES); key may be NULL only when len == 0 -------------- */

/** Inserts or replaces: the value is copied from `value` (NULL allowed when value_size is 0).
 * Errors: AR_EINVAL, AR_EOVERFLOW, the arena's (replacing never allocates, so never fails for
 * valid arguments). */
AR_API int ar_map_put(ar_map_t *m, const void *key, size_t len, const void *value);

/** Inserts only if the key is absent. *inserted (if not NULL) says whether it was; *value_out (if
 * not NULL) points to the stored value, the existing one or the new one. Same errors as put. */
AR_API int ar_map_put_if_absent(ar_map_t *m, const void *key, size_t len, const void *value,
                                void **value_out, bool *inserted);

/** The stored value, or NULL if the key is absent (or, with last error AR_EINVAL, the arguments
 * are invalid). For a set (value_size 0) use ar_map_contains. */
AR_API void *ar_map_get(const ar_map_t *m, const void *key, size_t len);
/** True if the key is present; false if it is absent or (last error AR_EINVAL) the arguments
 * are invalid. */
AR_API bool ar_map_contains(const ar_map_t *m, const void *key, size_t len);

/** Removes the key; copies its value to `value_out` first unless NULL. Returns true if it was
 * present; false if absent or (last error AR_EINVAL) on invalid arguments. Never allocates. */
AR_API bool ar_map_remove(ar_map_t *m, const void *key, size_t len, void *value_out);

/* ---- integer keys (AR_MAP_KEY_U64): same contracts ------------------------------------- */

/** ar_map_put for an AR_MAP_KEY_U64 map: same contract. */
AR_API int ar_map_put_u64(ar_map_t *m, uint64_t key, const void *value);
/** ar_map_put_if_absent for an AR_MAP_KEY_U64 map: same contract. */
AR_API int ar_map_put_if_absent_u64(ar_map_t *m, uint64_t key, const void *value, void **value_out,
                                    bool *inserted);
/** ar_map_get for an AR_MAP_KEY_U64 map: same contract. */
AR_API void *ar_map_get_u64(const ar_map_t *m, uint64_t key);
/** ar_map_contains for an AR_MAP_KEY_U64 map: same contract. */
AR_API bool ar_map_contains_u64(const ar_map_t *m, uint64_t key);
/** ar_map_remove for an AR_MAP_KEY_U64 map: same contract. */
AR_API bool ar_map_remove_u64(ar_map_t *m, uint64_t key, void *value_out);

/* ---- iteration (table order; do not insert or remove while iterating) ------------------ */

/** Cursor iteration, in table order: start with *pos = 0; each call fills *out with the next
 * entry and returns true, or returns false at the end (and for NULL arguments). Do not insert
 * or remove while iterating. */
AR_API bool ar_map_next(const ar_map_t *m, size_t *pos, ar_map_entry_t *out);

/** Callback for ar_map_foreach: a nonzero return stops the walk and is returned. The callback
 * may modify `*e->value` but not the map. */
typedef int (*ar_map_visit_fn)(const ar_map_entry_t *e, void *ctx);
/** Calls fn on every entry, in table order; a nonzero return from fn stops the walk and is
 * returned. Returns 0 after a full walk; AR_EINVAL for NULL m or fn. Do not insert or remove
 * while iterating. */
AR_API int ar_map_foreach(const ar_map_t *m, ar_map_visit_fn fn, void *ctx);

/* ---- hashing ---------------------------------------------------------------------------- */

/** The default hash of byte keys: 64-bit, seeded, fast on short keys (one 128-bit multiply per
 * 16 bytes). Not cryptographic; choose a secret seed when keys come from an adversary.
 * Thread-safe. */
AR_API uint64_t ar_hash_bytes(const void *p, size_t len, uint64_t seed);
/** The default hash of U64 keys: 64-bit and seeded, like ar_hash_bytes. Not cryptographic;
 * choose a secret seed when keys come from an adversary. Thread-safe. */
AR_API uint64_t ar_hash_u64(uint64_t x, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_MAP_H */
