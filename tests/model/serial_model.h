/* SPDX-License-Identifier: MIT */
/*
 * tests/model/serial_model.h - what the files of the serial walk share: the model of the three
 * arenas (their blocks, marks and cleanups), the counting source, the checks and bookkeeping
 * that every operation family uses, and the entry points of those families.
 *
 * The walk was one file; it is now one driver (serial_model.c) and one file per operation
 * family (model_ops_*.c). The state below is what more than one of them reads or writes; state
 * only one family touches (the containers, the scopes, the pools) stays static in its file,
 * behind a begin/end pair the driver calls in the order the single file used to run them.
 * Not for the multithreaded walk: mt_model.c shares only model.h.
 */
#ifndef ARENART_TESTS_MODEL_SERIAL_MODEL_H
#define ARENART_TESTS_MODEL_SERIAL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arenart.h"
#include "tests/model/model.h"

/* ---- a counting source that fails every Nth acquire ------------------------------------- */

typedef struct msrc {
  ar_source_t s;
  uint64_t calls;    /* acquire attempts */
  uint64_t failures; /* attempts refused */
  unsigned fail_every;
  size_t live_bytes;
  size_t live_blocks;
} msrc_t;

/* Resets m, sets it to fail every fail_every-th acquire (0: never) and returns its source. */
const ar_source_t *msrc_init(msrc_t *m, unsigned fail_every);
/* The source's two calls, for sources built around them (a source with no release) and for
 * handing a chunk back by hand. */
void *msrc_acquire(void *ctx, size_t size);
void msrc_release(void *ctx, void *p, size_t size);

/* ---- model of one serial arena ---------------------------------------------------------- */

#define MAXL 192
#define MAXM 12
#define MAXC 48
#define NARENA 3

typedef struct blk {
  unsigned char *p;
  size_t size;
  size_t align;
  uint32_t tag;
  uint64_t birth;      /* the arena's allocation count when it was made */
  bool maybe_recycled; /* may sit below a mark (reused block, or a realloc result) */
  bool large;          /* may live in a dedicated chunk (a shrunk large block stays there) */
  size_t shrunk_from;  /* a realloc shrank it in place from this size (0: never) */
} blk_t;

typedef struct mmark {
  ar_mark_t m;
  uint64_t birth; /* allocations made before it */
  size_t ncleanups;
  uint64_t frees;   /* frees made before it */
  bool exact;       /* the arena's used was exactly known when it was taken */
  bool lists_empty; /* no block was waiting on a free list when it was taken */
  uint64_t sp;      /* the save point it names (arena.h, ar_mark: marks with nothing
                         between them name one) */
} mmark_t;

typedef struct mar {
  ar_arena_t *a;
  msrc_t src;
  ar_options_t o;
  bool checked;
  size_t nlive;
  blk_t live[MAXL];
  mmark_t marks[MAXM];
  size_t nmarks;
  ar_mark_t dead[4]; /* marks from before a reset: always AR_ESTALE */
  size_t ndead;
  int cleanups[MAXC];
  size_t ncleanups;
  uint64_t births;
  uint64_t frees;
  bool listed_free; /* an ar_free since the free lists were last forgotten (rewind/reset) */
  bool exact;       /* `used` is exactly predictable: no free, realloc or over-alignment */
  void *newest;     /* the arena's most recent allocation, if it is a live model block and
                       no mark was taken after it */
  bool moved;       /* something happened since the newest save point was taken or rewound
                       to (an allocation, ar_defer, a successful ar_free/ar_realloc, a rewind) */
  uint64_t next_sp;
  size_t max_used; /* the highest `used` the model has seen: peak may not be below it */
  size_t last_peak;
} mar_t;

extern mar_t ars[NARENA];

/* How often each kind of outcome was seen: printed at the end, so a run that stopped
 * exercising something (every allocation succeeding, no stale mark ever checked) shows it. */
enum {
  H_ENOMEM,
  H_ELIMIT,
  H_REWIND,
  H_STALE,
  H_FREE,
  H_DOUBLE,
  H_BADPTR,
  H_CFAIL,
  H_PRESSURE,
  H_N
};
extern uint64_t hist[H_N];
extern mar_t *cur;        /* whose cleanups are running */
extern uint32_t next_tag; /* the next block's fill-pattern tag (and cleanup id) */
extern size_t nran;       /* cleanups seen running since the last expect_ran */

/* ---- checks and bookkeeping (serial_model.c) ------------------------------------------- */

/* A block's fill pattern: fill writes it, verify fails the walk where it changed. */
unsigned char pat(uint32_t tag, size_t i);
void fill(const blk_t *b);
void verify(const blk_t *b);
void verify_arena(const mar_t *m);
/* The bytes `used` must grow by for one default-aligned allocation of `size` in m. */
size_t footprint(const mar_t *m, size_t size);
/* Does m know where every block starts (ar_free exact)? */
bool exact_pointers(const mar_t *m);
/* ar_arena_stats of a, failing the walk if it fails. */
ar_stats_t stats(ar_arena_t *a);
bool stats_equal(const ar_stats_t *x, const ar_stats_t *y, bool with_capacity);
/* ASan builds: memory taken back is poisoned; a live block is unpoisoned for exactly its size. */
void poisoned(const void *p);
void exact_unpoisoned(const blk_t *b, bool shrunk);
/* The cleanup every serial-arena ar_defer registers (records its id in run order), and the
 * check that exactly the cleanups registered after `keep` ran, newest first. */
void on_cleanup(void *arg);
void expect_ran(mar_t *m, size_t keep);

/* An arena before an allocation-like call: judge_failure compares the arena after a failed
 * call with it. */
typedef struct before {
  ar_stats_t st;
  uint64_t failures;
  size_t src_bytes;
} before_t;

before_t snap(mar_t *m);
void judge_failure(mar_t *m, const before_t *b, int err, size_t size, size_t align, bool large);
/* May a request of size/align land in a dedicated chunk? */
bool is_large(const mar_t *m, size_t size, size_t align);
/* Records a new live block of m (not yet filled) and returns it; drop forgets block i. */
blk_t *push(mar_t *m, void *p, size_t size, size_t align);
void drop(mar_t *m, size_t i);
/* A request size: zero, small, medium, large and exact multiples of 16. */
size_t pick_size(rng_t *r);

/* ---- the operation families -------------------------------------------------------------- */

/* model_ops_alloc.c */
void op_alloc(mar_t *m, rng_t *r);
void op_free(mar_t *m, rng_t *r);
void op_realloc(mar_t *m, rng_t *r);
void op_pressure(mar_t *m, rng_t *r);
void op_bad(mar_t *m, rng_t *r);
void op_guard(mar_t *m, rng_t *r);
void op_bad_pointer(mar_t *m, rng_t *r);

/* model_ops_marks.c */
void op_mark(mar_t *m);
void op_rewind(mar_t *m, rng_t *r);
void op_reset(mar_t *m, rng_t *r);
void op_defer(mar_t *m);
void op_scope(rng_t *r);
void scopes_begin(void);
void scopes_end(void);

/* model_ops_containers.c */
void op_vec(rng_t *r);
void op_buf(rng_t *r);
void op_map(rng_t *r);
void containers_verify(void);
void containers_begin(rng_t *r);
void containers_end(void);

/* model_ops_pool.c */
void op_pool(rng_t *r);
void op_create(rng_t *r);
void op_chunk_pool(rng_t *r);
void pool_begin(void);
void pool_end(void);
void chunk_pool_begin(void);
void chunk_pool_end(void);

#endif /* ARENART_TESTS_MODEL_SERIAL_MODEL_H */
