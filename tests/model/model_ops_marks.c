/* SPDX-License-Identifier: MIT */
/*
 * tests/model/model_ops_marks.c - the serial walk's save points: marks, rewinds (valid and
 * stale), resets, cleanups registered with ar_defer, and scopes on the thread arena.
 *
 * One family because they answer one question: what does going back to an earlier point
 * free, which cleanups run (newest first, and nothing else), and which older points stay
 * valid. The model keeps, per mark, what was live and exact when it was taken, so a rewind's
 * outcome is judged from the model alone. Scopes are the same contract on the thread arena,
 * with their own blocks and cleanups, so they sit here rather than with the serial arenas'
 * allocators.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arenart.h"
#include "tests/model/serial_model.h"

void op_mark(mar_t *m) {
  if (m->nmarks == MAXM) return;
  model_op = "mark";
  mmark_t *k = &m->marks[m->nmarks++];
  k->m = ar_mark(m->a);
  k->birth = m->births;
  k->ncleanups = m->ncleanups;
  k->frees = m->frees;
  k->exact = m->exact;
  k->lists_empty = !m->listed_free;
  /* arena.h, ar_mark: "Two marks taken one after the other with no successful allocation,
   * ar_defer, ar_free, ar_realloc, ar_rewind, ar_reset or ar_release on the arena between
   * them name one save point". A mark taken right after a rewind to mark M is a later mark
   * than M (op_rewind sets `moved`): the next rewind to M invalidates it. See README.md,
   * "Item 13". */
  k->sp = m->nmarks > 1 && !m->moved ? m->marks[m->nmarks - 2].sp : ++m->next_sp;
  m->moved = false;
  m->newest = NULL; /* arena.h, ar_free: the cursor moves back only if no mark was taken since */
}

/* Did the allocations between two marks surely move the cursor (small ones, nothing given
 * back since): then the later mark's position is gone after a rewind to the earlier. */
static bool moved_between(const mar_t *m, const mmark_t *a, const mmark_t *b, const blk_t *gone,
                          size_t ngone) {
  /* A block from a free list does not move the cursor: only without any, the position of
   * the later mark is surely gone (arena.h: marks are validated by position). */
  if (m->frees != a->frees || !a->lists_empty) return false;
  for (size_t i = 0; i < ngone; i++)
    if (gone[i].birth >= a->birth && gone[i].birth < b->birth &&
        !is_large(m, gone[i].size, gone[i].align < 16 ? 16 : gone[i].align))
      return true;
  return b->ncleanups > a->ncleanups; /* cleanup records are small allocations */
}

void op_rewind(mar_t *m, rng_t *r) {
  if (m->nmarks == 0) return;
  size_t k = below(r, m->nmarks);
  mmark_t mk = m->marks[k];
  model_op = "rewind";
  verify_arena(m);
  cur = m;
  nran = 0;
  ar_clear_error();
  hist[H_REWIND]++;
  int rc = ar_rewind(m->a, &mk.m);
  if (rc != AR_OK) MFAIL("ar_rewind to a live mark: %s", ar_strerror((ar_error_t)rc));
  MCHECK(ar_last_error() == AR_OK);
  expect_ran(m, mk.ncleanups);
  /* Everything born after the mark is gone: no longer owned (unless it may have been placed
   * below the mark by a free list), poisoned under ASan. */
  blk_t gone[MAXL];
  size_t ngone = 0;
  for (size_t i = 0; i < m->nlive;) {
    if (m->live[i].birth >= mk.birth) {
      gone[ngone++] = m->live[i];
      drop(m, i);
    } else {
      i++;
    }
  }
  for (size_t i = 0; i < ngone; i++) {
    if (gone[i].maybe_recycled || !mk.exact) continue;
    if (gone[i].size > 0) MCHECK(!ar_owns(m->a, gone[i].p));
    if (MODEL_ASAN && gone[i].size > 0) poisoned(gone[i].p);
  }
  verify_arena(m);
  /* Later marks are invalid now, except those that name the same save point (arena.h,
   * ar_mark): they come right after it, and a rewind to one of them does nothing more. Item
   * 13: every other one is AR_ESTALE (before the fix: only when its position was surely
   * gone). A stale rewind changes nothing. */
  size_t same = k + 1;
  while (same < m->nmarks && m->marks[same].sp == mk.sp) same++;
  if (ITEM_ON(13) && same > k + 1) {
    mmark_t *l = &m->marks[k + 1 + below(r, same - k - 1)];
    before_t b = snap(m);
    ar_clear_error();
    int rc2 = ar_rewind(m->a, &l->m);
    if (rc2 != AR_OK)
      MFAIL("rewind to a mark that names the save point just rewound to: %d, not AR_OK", rc2);
    ar_stats_t now = stats(m->a);
    MCHECK(stats_equal(&b.st, &now, true) && nran == 0);
  }
  for (size_t j = same; j < m->nmarks; j++) {
    mmark_t *l = &m->marks[j];
    bool must = ITEM_ON(13) ? l->sp != mk.sp
                            : l->birth > mk.birth && moved_between(m, &mk, l, gone, ngone);
    if (!must) continue;
    before_t b = snap(m);
    ar_clear_error();
    int rc2 = ar_rewind(m->a, &l->m);
    if (rc2 != AR_ESTALE)
      MFAIL("rewind to mark %zu (taken after %llu allocations) after a rewind to mark %zu (after "
            "%llu): %d, not AR_ESTALE",
            j, (unsigned long long)l->birth, k, (unsigned long long)mk.birth, rc2);
    MCHECK(ar_last_error() == AR_ESTALE);
    ar_stats_t now = stats(m->a);
    MCHECK(stats_equal(&b.st, &now, true));
    MCHECK(nran == 0);
    hist[H_STALE]++;
    break;
  }
  m->nmarks = ITEM_ON(13) ? same : k + 1; /* the mark itself stays valid, and its twins */
  m->newest = NULL;
  m->moved = true; /* a mark taken next is later than mk: not its twin (arena.h, ar_mark) */
  m->listed_free = false;
  if (mk.exact && m->frees == mk.frees) m->exact = true;
  /* A mark from before any reset is still rejected. */
  if (m->ndead > 0) {
    before_t b = snap(m);
    MCHECK(ar_rewind(m->a, &m->dead[below(r, m->ndead)]) == AR_ESTALE);
    ar_stats_t now = stats(m->a);
    MCHECK(stats_equal(&b.st, &now, true));
  }
}

void op_reset(mar_t *m, rng_t *r) {
  bool rel = chance(r, 30);
  model_op = rel ? "release" : "reset";
  verify_arena(m);
  if (m->ndead < 4) m->dead[m->ndead++] = ar_mark(m->a);
  blk_t old[MAXL];
  size_t nold = m->nlive;
  memcpy(old, m->live, nold * sizeof old[0]);
  cur = m;
  nran = 0;
  if (rel) ar_release(m->a);
  else ar_reset(m->a);
  expect_ran(m, 0);
  m->nlive = 0;
  m->nmarks = 0;
  m->listed_free = false;
  m->exact = true;
  m->newest = NULL;
  ar_stats_t st = stats(m->a);
  MCHECK(st.used == 0 && st.chunks == 0 && st.large_chunks == 0 && st.cleanups == 0);
  MCHECK(st.recycled == 0);
  if (rel) MCHECK(st.capacity == 0 && st.spare_chunks == 0);
  else MCHECK(st.capacity == st.spare_chunks * m->o.chunk_size);
  for (size_t i = 0; i < nold; i++) {
    MCHECK(!ar_owns(m->a, old[i].p));
    if (MODEL_ASAN && old[i].size > 0) poisoned(old[i].p);
  }
  /* Every mark from before is stale, and rejecting it changes nothing. */
  MCHECK(ar_rewind(m->a, &m->dead[below(r, m->ndead)]) == AR_ESTALE);
  MCHECK(ar_last_error() == AR_ESTALE);
  /* A kept chunk serves the next small request: no trip to the source (arena.h). */
  if (!rel && st.spare_chunks > 0) {
    uint64_t calls = m->src.calls;
    void *p = ar_alloc(m->a, 16);
    MCHECK(p != NULL && m->src.calls == calls);
    fill(push(m, p, 16, 16));
  }
}

void op_defer(mar_t *m) {
  if (m->ncleanups == MAXC) return;
  model_op = "defer";
  int id = (int)next_tag++;
  before_t b = snap(m);
  int rc = ar_defer(m->a, on_cleanup, (void *)(intptr_t)id);
  if (rc != AR_OK) {
    judge_failure(m, &b, rc, 3 * sizeof(void *), 16, is_large(m, 3 * sizeof(void *), 16));
    return;
  }
  m->cleanups[m->ncleanups++] = id;
  m->births++; /* the record is an allocation */
  m->newest = NULL;
  m->moved = true;
}

/* ---- scopes on the thread arena -------------------------------------------------------- */

#define MAXS 6
static struct {
  ar_scope_t s;
  size_t nlive;
  bool small; /* a small allocation was made directly in it (its position is gone at end) */
} scopes[MAXS];
static size_t nscopes;
static blk_t slive[MAXL];
static size_t nslive;
static int scleanups[MAXC];
static size_t nscleanups;
static size_t scope_cleanups_at[MAXS];
static int sran[MAXC];
static size_t nsran;

static void on_scope_cleanup(void *arg) {
  if (nsran < MAXC) sran[nsran++] = (int)(intptr_t)arg;
}

static void scope_end_to(size_t k) {
  for (size_t i = 0; i < nslive; i++) verify(&slive[i]);
  nsran = 0;
  ar_clear_error();
  int rc = ar_scope_end(&scopes[k].s);
  if (rc != AR_OK) MFAIL("ar_scope_end of a live scope: %d", rc);
  size_t keep = scope_cleanups_at[k];
  MCHECK(nsran == nscleanups - keep);
  for (size_t i = 0; i < nsran; i++) MCHECK(sran[i] == scleanups[nscleanups - 1 - i]);
  nscleanups = keep;
  for (size_t i = scopes[k].nlive; i < nslive; i++) {
    if (slive[i].size > 0) MCHECK(!ar_owns(scopes[k].s.arena, slive[i].p));
    if (MODEL_ASAN && slive[i].size > 0) poisoned(slive[i].p);
  }
  nslive = scopes[k].nlive;
  for (size_t i = 0; i < nslive; i++) verify(&slive[i]);
}

void op_scope(rng_t *r) {
  unsigned what = (unsigned)below(r, 10);
  if (what < 2 && nscopes < MAXS) {
    model_op = "scope-begin";
    scopes[nscopes].s = ar_scope_begin();
    MCHECK(scopes[nscopes].s.arena == ar_thread_arena());
    scopes[nscopes].nlive = nslive;
    scopes[nscopes].small = false;
    scope_cleanups_at[nscopes] = nscleanups;
    nscopes++;
  } else if (what < 7 && nscopes > 0 && nslive < MAXL) {
    model_op = "scope-alloc";
    ar_arena_t *ta = scopes[nscopes - 1].s.arena;
    size_t size = pick_size(r);
    void *p = ar_alloc(ta, size);
    if (p == NULL) MFAIL("thread arena allocation failed: %d", (int)ar_last_error());
    blk_t *b = &slive[nslive++];
    b->p = (unsigned char *)p;
    b->size = size;
    b->align = 16;
    b->tag = next_tag++;
    fill(b);
    if (size < 1024) scopes[nscopes - 1].small = true;
  } else if (what == 7 && nscopes > 0 && nscleanups < MAXC) {
    model_op = "scope-defer";
    int id = (int)next_tag++;
    MCHECK(ar_defer(scopes[nscopes - 1].s.arena, on_scope_cleanup, (void *)(intptr_t)id) == AR_OK);
    scleanups[nscleanups++] = id;
    scopes[nscopes - 1].small = true;
  } else if (nscopes > 0) {
    model_op = "scope-end";
    if (nscopes >= 2 && chance(r, 30)) {
      /* Ending an outer scope ends the inner ones too; ending an inner one afterwards is
       * AR_ESTALE (thread.h: "ending one of those afterwards, or ending a scope twice, is a
       * caller error, reported as AR_ESTALE (nothing is freed, no cleanup runs, the depth is
       * unchanged), even when a newer scope has begun at the same position and level"). */
      size_t outer = nscopes - 2;
      ar_scope_t inner = scopes[nscopes - 1].s, outer_s = scopes[outer].s;
      scope_end_to(outer);
      if (ITEM_ON(13)) {
        /* A newer scope at the same position and level, then the late ends. */
        bool again = chance(r, 50);
        ar_scope_t fresh;
        if (again) fresh = ar_scope_begin();
        unsigned depth = ar_scope_depth();
        nsran = 0;
        ar_clear_error();
        MCHECK(ar_scope_end(&inner) == AR_ESTALE && ar_last_error() == AR_ESTALE);
        MCHECK(ar_scope_end(&outer_s) == AR_ESTALE && ar_last_error() == AR_ESTALE);
        MCHECK(nsran == 0 && ar_scope_depth() == depth);
        for (size_t i = 0; i < nslive; i++) verify(&slive[i]);
        if (again) MCHECK(ar_scope_end(&fresh) == AR_OK);
      } else if (scopes[nscopes - 2].small) {
        MCHECK(ar_scope_end(&inner) == AR_ESTALE);
        MCHECK(ar_last_error() == AR_ESTALE);
      }
      nscopes -= 2;
    } else {
      scope_end_to(nscopes - 1);
      nscopes--;
    }
  }
  MCHECK(ar_scope_end(NULL) == AR_EINVAL);
  MCHECK(ar_scope_depth() == nscopes); /* thread.h: begin adds one, ending level L sets L - 1 */
  MCHECK(ar_arena_check(ar_thread_arena()) == AR_OK);
}

/* The walk starts with no scope open and ends every scope still open, innermost first. */
void scopes_begin(void) { nscopes = nslive = nscleanups = 0; }

void scopes_end(void) {
  while (nscopes > 0) {
    scope_end_to(nscopes - 1);
    nscopes--;
  }
}
