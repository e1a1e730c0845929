/* SPDX-License-Identifier: MIT */
/*
 * runtime/marks.c - marks and rewinds: which marks a serial arena still accepts.
 *
 * A mark names a save point, and a rewind must accept exactly the marks whose save point
 * still exists. Positions cannot tell: after a rewind the cursor grows back over the same
 * addresses, and a mark taken before the rewind then names a position that exists again with
 * other allocations in it. So the arena keeps the live save points as a stack (`ndepth` of
 * them), and every mark carries its depth and a generation, a value of `stamp_clock` (never
 * reused, not even across resets). The save point at depth d accepts the generations
 * [first, limit] (stamps[2d], stamps[2d + 1]): ar_mark pushes a save point with
 * first = limit = a new generation; a rewind to mark m pops everything above m's depth and
 * sets that save point's limit to m's generation; reset empties the stack. A mark is valid
 * exactly when the save point at its depth still accepts its generation. This is O(1) per
 * call and exact.
 *
 * A loop that marks and rewinds (every request scope) would push a new depth on every pass,
 * since the mark it rewound to stays valid. So ar_mark reuses the top save point when
 * nothing has happened since it was taken or rewound to (same allocation count, count of
 * ar_free/ar_realloc calls, cursor and cleanup count). An inline bump may go uncounted (unless
 * its caller defined AR_COUNT_INLINE_ALLOCS) but always moves the cursor up by 16 bytes or
 * more, and only out-of-line calls, which count themselves or `mutations`, can move it back or
 * into another chunk: the test is exact and costs the inline path nothing. If the top save
 * point was rewound to since its last mark (top_rewound), the new mark takes a new generation
 * and becomes the limit: a rewind to the
 * mark rewound to (or to any earlier one) lowers the limit again and makes the new mark
 * stale, as arena.h promises for every mark taken after the mark rewound to. Otherwise (marks
 * in a row, nothing in between) it takes the limit's generation: the two marks are one save
 * point, and a rewind to either leaves the other valid. The stack is thus never deeper than
 * the number of distinct positions marked, and typical code keeps it as deep as its nesting
 * of scopes.
 *
 * The stack needs memory: four depths inline in the arena, then malloc, doubling. If it cannot
 * grow, ar_mark sets AR_ENOMEM and returns a mark at the top save point's depth with its own
 * position and a new generation that becomes the limit: rewinding to it works, and a rewind
 * to an earlier mark makes it stale like any later mark. (The inline storage, and the
 * per-arena start of the generations, are set up by arena.c when the arena is created or
 * released: the core calls nothing here.)
 *
 * A chunk that a mark names may be given back while it is empty (chunks.c, drop_idle_head,
 * under a limit). Such a mark named the same place as the top of the chunk below, so the
 * rewind pops chunks by sequence number (everything newer than the mark) rather than up to
 * the mark's chunk, and leaves the cursor where the chunk it finds on top ends. That memory
 * work is the core's (ar_take_back_to_); this file decides only whether the mark is accepted,
 * and what the save points look like afterwards.
 *
 * The newest save point's position is also the floor below which no give-back may move the
 * cursor (free.c, ar_above_floor_): save points' positions then grow with their depth, and a
 * rewind to any of them finds its position intact.
 *
 * Thread contract: owner thread only, like every call on a serial arena.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arenart/arena.h"
#include "runtime/arena_internal.h"
#include "runtime/internal.h"

static bool push_save_point(ar_arena_t *a) {
  if (a->ndepth == a->stamps_cap) {
    size_t cap = a->stamps_cap * 2;
    uint64_t *ns = (uint64_t *)malloc(2 * cap * sizeof *ns);
    if (ns == NULL) return false;
    memcpy(ns, a->stamps, 2 * a->ndepth * sizeof *ns);
    if (a->stamps != a->stamps_inline) free(a->stamps);
    a->stamps = ns;
    a->stamps_cap = cap;
  }
  uint64_t gen = ++a->stamp_clock;
  a->stamps[2 * a->ndepth] = gen;     /* first generation */
  a->stamps[2 * a->ndepth + 1] = gen; /* limit */
  a->ndepth++;
  a->top_rewound = false;
  return true;
}

/* The arena's state is now that of the top save point (it was just pushed or rewound to). */
static void note_top(ar_arena_t *a) {
  a->top_nalloc = a->hot.nalloc_;
  a->top_mutations = a->mutations;
  a->top_cur = a->hot.cur_;
  a->top_ncleanups = a->ncleanups;
  a->floor_chunk = a->chunks;
  a->floor_cur = a->hot.cur_;
}

ar_mark_t ar_mark(ar_arena_t *a) {
  ar_mark_t m;
  memset(&m, 0, sizeof m);
  if (a == NULL) {
    m.depth_ = UINT64_MAX; /* no arena's stack is this deep: every rewind rejects it */
    ar_set_error_(AR_EINVAL);
    return m;
  }
  check_owner(a);
  bool same = a->ndepth > 0 && a->top_nalloc == a->hot.nalloc_ &&
              a->top_mutations == a->mutations && a->top_cur == a->hot.cur_ &&
              a->top_ncleanups == a->ncleanups;
  if (!same) {
    if (push_save_point(a)) {
      note_top(a);
    } else {
      ar_set_error_(AR_ENOMEM);
      if (a->ndepth == 0) {
        m.depth_ = UINT64_MAX;
        return m;
      }
      /* The top save point with a generation of its own and this position; the floor moves
       * up to it. */
      a->floor_chunk = a->chunks;
      a->floor_cur = a->hot.cur_;
      a->stamps[2 * a->ndepth - 1] = ++a->stamp_clock;
      a->top_rewound = false;
    }
  } else if (a->top_rewound) {
    /* The first mark since a rewind to this save point: a later generation, so that the next
     * rewind to the mark rewound to (or an earlier one) makes this one stale. */
    a->stamps[2 * a->ndepth - 1] = ++a->stamp_clock;
    a->top_rewound = false;
  }
  m.depth_ = a->ndepth - 1;
  m.stamp_ = a->stamps[2 * m.depth_ + 1];
  if (!AR_HEAP) {
    m.chunk_ = a->chunks;
    m.cur_ = a->hot.cur_;
  }
  m.seq_ = a->seq;
  m.ncleanup_ = a->ncleanups;
  return m;
}

/* A valid mark: its save point is still on the stack (and, belt and braces, what it names is
 * still there). */
static bool mark_valid(const ar_arena_t *a, const ar_mark_t *m) {
  if (m->depth_ >= a->ndepth || m->stamp_ < a->stamps[2 * m->depth_] ||
      m->stamp_ > a->stamps[2 * m->depth_ + 1])
    return false;
  if (m->ncleanup_ > a->ncleanups || m->seq_ > a->seq) return false;
  if (!AR_HEAP && m->chunk_ != NULL) {
    /* Its chunk may be gone only if it was given back empty (drop_idle_head). */
    for (ar_chunk_t *c = a->chunks; c != NULL; c = c->next) {
      if (c == m->chunk_ && c->seq <= m->seq_) {
        char *top = c == a->chunks ? a->hot.cur_ : c->top;
        return m->cur_ >= c->data && m->cur_ <= top;
      }
    }
  }
  return true;
}

int ar_rewind(ar_arena_t *a, const ar_mark_t *m) {
  check_unleased_if(a);
  if (a == NULL || m == NULL) return ar_set_error_(AR_EINVAL);
  check_owner(a);
  if (a->in_cleanup) return ar_set_error_(AR_EBUSY);
  /* Validate before touching anything, so a stale mark leaves the arena as it was. */
  if (!mark_valid(a, m)) return ar_set_error_(AR_ESTALE);
  update_peak(a);
  ar_run_cleanups_(a, m->ncleanup_);
  ar_take_back_to_(a, m);
  sync_hot_end(a);
  a->ndepth = (size_t)m->depth_ + 1;
  a->stamps[2 * m->depth_ + 1] = m->stamp_; /* marks taken after m at this point are stale */
  a->top_rewound = true;
  note_top(a);
  ar_assert_expensive(ar_arena_check(a) == AR_OK);
  return AR_OK;
}
