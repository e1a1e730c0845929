/* SPDX-License-Identifier: MIT */
/*
 * runtime/lease.c - the out-of-line half of a lease (lease.h): refills, the begin and end that
 * need checks, and the reports of a lease used wrongly.
 *
 * A lease moves the arena's cursor and bound out of the arena into the caller's registers;
 * the arena keeps AR_LEASE_HELD_ in both hot fields meanwhile. That one value does two jobs.
 * The inline room test of ar_alloc fails on it (end_ - cur_ == 0), so an inline ar_alloc on a
 * leased arena comes out of line; and every out-of-line entry of the arena checks for it
 * (check_unleased, arena_internal.h) and aborts, because the cursor it would read is not the
 * arena's any more. So a lease needs no flag beyond the hot prefix.
 *
 * Opening and closing are inline where the cursor and the bound differ, the common case. Where
 * they are equal the inline code cannot tell a usable state from one to check: the arena is
 * leased already (HELD == HELD), it never bumps inline (slow-only modes keep the bound at the
 * cursor: checked mode, sanitizers, debug level 2, the heap flavor), it was destroyed (a
 * checked arena's header in the graveyard holds NULL in both), its chunk is full or missing,
 * or the lease has ended (AR_LEASE_ENDED_ in both). Those go out of line, where the checks
 * every out-of-line entry makes (destroyed, owner thread at AR_DEBUG >= 1) run before the
 * begin or the end: so in the modes that check every call, a lease's calls are checked too.
 *
 * A refill (ar_lease_more_) puts the lease's cursor back into the arena, lets the core
 * allocate exactly as ar_alloc would (new chunk, dedicated chunk, freed block, limit, checked
 * record), takes the cursor out again and hands it back by value. The cursor it is given must
 * lie in the arena's current chunk: one that does not (an older copy of a lease, from before
 * the arena moved on to other chunks) would make the arena bump memory it no longer owns, so it is
 * refused with a message rather than trusted. The check cannot see every stale copy (one whose
 * cursor is still inside the current chunk passes), which is why lease.h calls that undefined.
 *
 * Calls the arena core (arena.c, ar_alloc_at_) and track.c (the use-after-destroy report).
 */
#include <stdbool.h>
#include <stdint.h>

#include "arenart/lease.h"
#include "runtime/arena_internal.h"
#include "runtime/internal.h"

/* Whether `cur` can be the arena's cursor: none without a current chunk, else inside it. */
static bool cursor_fits(const ar_arena_t *a, const char *cur) {
  if (a->chunks == NULL) return cur == NULL;
  return cur >= a->chunks->data && cur <= a->limit;
}

struct ar_lease_step_ ar_lease_more_(ar_arena_t *a, char *cur, size_t size, size_t align) {
  struct ar_lease_step_ s = {NULL, NULL, NULL};
  if (AR_UNLIKELY(cur == AR_LEASE_ENDED_)) ar_lease_misuse_(a, 1);
  if (a == NULL) {
    (void)ar_fail_null_(AR_EINVAL);
    return s;
  }
  check_live_owner(a); /* ar_alloc_at_ checks the owner too, but only once the cursor is back */
  if (AR_UNLIKELY(a->hot.cur_ != AR_LEASE_HELD_)) ar_lease_misuse_(a, 2);
  if (AR_UNLIKELY(!cursor_fits(a, cur))) ar_lease_misuse_(a, 3);
  a->hot.cur_ = cur;
  a->hot.end_ = a->slow_only || a->in_cleanup ? cur : a->limit; /* the arena's own bound */
  s.p = ar_alloc_at_(a, size, align, __builtin_return_address(0));
  s.cur = a->hot.cur_;
  s.end = a->hot.end_;
  a->hot.cur_ = AR_LEASE_HELD_;
  a->hot.end_ = AR_LEASE_HELD_;
  return s;
}

/* The arena's cursor equals its bound: a lease already holds it (both are AR_LEASE_HELD_), it
 * never bumps inline (slow-only modes keep the bound at the cursor), it was destroyed (a
 * checked arena's header in the graveyard holds NULL in both), or its current chunk is full or
 * missing. The checks of every out-of-line entry, then the begin proper. */
struct ar_lease_step_ ar_lease_begin_slow_(ar_arena_t *a) {
  struct ar_lease_step_ s = {NULL, NULL, NULL};
  check_live_owner(a);
  if (AR_UNLIKELY(a->hot.cur_ == AR_LEASE_HELD_)) ar_lease_misuse_(a, 0);
  s.cur = a->hot.cur_;
  s.end = a->hot.end_;
  a->hot.cur_ = AR_LEASE_HELD_;
  a->hot.end_ = AR_LEASE_HELD_;
  return s;
}

/* The lease's cursor equals its bound: it has ended (both are AR_LEASE_ENDED_), its arena is
 * NULL or slow-only, or the lease filled its chunk exactly. */
void ar_lease_end_slow_(ar_arena_t *a, char *cur, char *end, uint64_t nalloc) {
  if (AR_UNLIKELY(cur == AR_LEASE_ENDED_)) ar_lease_misuse_(a, 1);
  if (a == NULL) return;
  check_live_owner(a);
  if (AR_UNLIKELY(a->hot.cur_ != AR_LEASE_HELD_)) ar_lease_misuse_(a, 2);
  a->hot.cur_ = cur;
  a->hot.end_ = end;
  a->hot.nalloc_ += nalloc;
}

void ar_lease_misuse_(const ar_arena_t *a, int what) {
  if (a == NULL) ar_fatal_("a lease of a NULL arena used after its ar_lease_end");
  if (a->magic != AR_ARENA_LIVE) ar_arena_dead_(a);
  static const char *const why[] = {
      "ar_lease_begin on an arena that a lease already holds",
      "a lease used after its ar_lease_end",
      "a lease used while its arena is not leased (a copy of a lease that has ended?)",
      "a lease whose cursor is not in its arena's current chunk (a copy of an older lease?)",
  };
  ar_fatal_("arena '%s' (%p): %s", a->name, (const void *)a, why[what >= 0 && what < 4 ? what : 2]);
}

void *ar_lease_null_(void) { return ar_fail_null_(AR_EINVAL); }

void ar_lease_forbid_(const ar_arena_t *a) { check_unleased_if(a); }
