/* SPDX-License-Identifier: MIT */
/*
 * tests/model/model_ops_alloc.c - the serial walk's operations that hand out and take back
 * blocks of one arena: every allocator of arena.h, ar_free and ar_realloc of any live block,
 * allocations that press against the limit, and the calls that must be refused (the rows of
 * docs/bad_input.md a serial arena can be asked, guard bytes, and foreign, misaligned,
 * interior and double pointers).
 *
 * They share one shape: snapshot the arena, make the call, then either judge the failure (a
 * code the state explains, nothing changed) or record the new block in the model and fill it
 * with its pattern, so every later step can see whether anything overwrote it. The refusals
 * live here, next to the calls they refuse, because a refusal is only meaningful against the
 * same bookkeeping: which blocks are live, which are the newest, which may sit below a mark.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arenart.h"
#include "tests/model/serial_model.h"

void op_alloc(mar_t *m, rng_t *r) {
  if (m->nlive == MAXL) return;
  size_t size = pick_size(r), align = 16;
  unsigned kind = (unsigned)below(r, 12);
  bool zero = false;
  char text[80];
  text[0] = '\0';
  before_t b = snap(m);
  void *p = NULL;
  model_op = "alloc";
  switch (kind) {
    case 0: p = ar_alloc(m->a, size); break;
    case 1:
      align = (size_t)1 << below(r, 14);
      p = ar_alloc_aligned(m->a, size, align);
      break;
    case 2:
      p = ar_calloc(m->a, size / 8 + 1, 8);
      size = (size / 8 + 1) * 8;
      zero = true;
      break;
    case 3:
      p = ar_alloc_zeroed(m->a, size);
      zero = true;
      break;
    case 4:
      p = ar_alloc_array(m->a, size / 4 + 1, 4);
      size = (size / 4 + 1) * 4;
      break;
    case 5:
      align = (size_t)1 << below(r, 8);
      p = ar_calloc_aligned(m->a, size, 1, align);
      zero = true;
      break;
    case 6: {
      p = AR_NEW(m->a, long double);
      size = sizeof(long double);
      align = AR_ALIGNOF(long double);
      zero = true;
      break;
    }
    case 7: {
      unsigned char src[600];
      size_t n = size % sizeof src;
      for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(i * 7);
      p = ar_memdup(m->a, n ? src : NULL, n);
      size = n;
      if (p != NULL) MCHECK(n == 0 || memcmp(p, src, n) == 0);
      break;
    }
    case 8:
      snprintf(text, sizeof text, "model-%zu-%llu", size, (unsigned long long)m->births);
      p = ar_strdup(m->a, text);
      size = strlen(text) + 1;
      break;
    case 9:
      snprintf(text, sizeof text, "strndup-%zu-%llu", size, (unsigned long long)m->births);
      p = ar_strndup(m->a, text, 9);
      size = 10;
      if (p != NULL) {
        MCHECK(strlen((char *)p) == 9 && memcmp(p, text, 9) == 0);
        text[0] = '\0';
      }
      break;
    case 10:
      snprintf(text, sizeof text, "sprintf %zu %s %d", size, "x", -3);
      p = ar_sprintf(m->a, "sprintf %zu %s %d", size, "x", -3);
      size = strlen(text) + 1;
      break;
    default: /* realloc of NULL is ar_alloc */ p = ar_realloc(m->a, NULL, 0, size); break;
  }
  if (p == NULL) {
    size_t a16 = align < 16 ? 16 : align;
    judge_failure(m, &b, ar_last_error(), size, a16, is_large(m, size, a16));
    return;
  }
  if (m->src.failures != b.failures) MFAIL("the source failed but the allocation succeeded");
  MCHECK(((uintptr_t)p & ((align < 16 ? 16 : align) - 1)) == 0);
  if (zero)
    for (size_t i = 0; i < size; i++) MCHECK(((unsigned char *)p)[i] == 0);
  if (text[0]) MCHECK(strcmp((char *)p, text) == 0);
  ar_stats_t st = stats(m->a);
  MCHECK(st.allocs == b.st.allocs + 1);
  if (align > 4096 && !MODEL_HEAP) MCHECK(st.large_chunks == b.st.large_chunks + 1); /* arena.h */
  if (align > 16) m->exact = false;
  blk_t *bl = push(m, p, size, align);
  fill(bl);
  exact_unpoisoned(bl, false);
}

/* May the walk give back block i? Freeing or shrinking the newest block from before a mark is
 * item 5 (release builds move the cursor below the mark). */
static bool may_give_back(const mar_t *m, size_t i) {
  if (m->live[i].align > 16) return false; /* ar_free takes default-aligned blocks */
  if (ITEM_ON(5) || m->nmarks == 0) return true;
  return m->live[i].birth >= m->marks[m->nmarks - 1].birth;
}

void op_free(mar_t *m, rng_t *r) {
  if (m->nlive == 0) return;
  size_t i = m->nlive - 1 - below(r, m->nlive < 4 ? m->nlive : 4); /* mostly the newest */
  if (chance(r, 30)) i = below(r, m->nlive);
  if (!may_give_back(m, i)) return;
  model_op = "free";
  blk_t b = m->live[i];
  verify(&b);
  ar_stats_t st0 = stats(m->a);
  bool newest = m->newest == b.p;
  ar_clear_error();
  int rc = ar_free(m->a, b.p, b.size);
  if (rc != AR_OK) MFAIL("ar_free of a live block: %s", ar_strerror((ar_error_t)rc));
  MCHECK(ar_last_error() == AR_OK);
  /* arena.h: the most recent allocation moves the cursor back (release builds: slow-only
   * builds quarantine instead); any other block of an ordinary chunk waits in `recycled`. */
  ar_stats_t st1 = stats(m->a);
  bool slow = m->checked || MODEL_ASAN || MODEL_HEAP || AR_DEBUG >= 2; /* quarantine */
  bool large = b.large || is_large(m, b.size, 16);
  if (!slow && newest && !large && !b.maybe_recycled && st1.used != st0.used - footprint(m, b.size))
    MFAIL("ar_free of the newest block: used %zu -> %zu, expected -%zu", st0.used, st1.used,
          footprint(m, b.size));
  /* A block that is not the newest may still end at the cursor (the blocks after it were
   * given back first): then it is un-bumped too. Either way the bytes are accounted once. */
  bool unbumped = st1.used == st0.used - footprint(m, b.size) && st1.recycled == st0.recycled;
  bool listed = st1.used == st0.used && st1.recycled == st0.recycled + footprint(m, b.size);
  /* arena.h, ar_free: "...otherwise the block joins a per-size-class list ... so a mark's
   * position is never given back". A block that was live when the newest live mark was taken
   * lies below that mark's position: it must be listed, never un-bumped (item 5). */
  bool before_mark = m->nmarks > 0 && b.birth < m->marks[m->nmarks - 1].birth;
  if (ITEM_ON(5) && !slow && !large && before_mark && !listed)
    MFAIL("ar_free of a %zu-byte block from before the newest mark (%zu marks): used %zu -> %zu, "
          "recycled %zu -> %zu; it must go to a free list",
          b.size, m->nmarks, st0.used, st1.used, st0.recycled, st1.recycled);
  if (!slow && !large && !unbumped && !listed)
    MFAIL("ar_free of a %zu-byte block (chunk %zu, newest %d, maybe recycled %d, %zu marks): "
          "used %zu -> %zu, recycled %zu -> %zu",
          b.size, m->o.chunk_size, newest, b.maybe_recycled, m->nmarks, st0.used, st1.used,
          st0.recycled, st1.recycled);
  /* Checked mode: "freed memory is filled with 0xDD junk" (arena.h); it stays quarantined
   * in its chunk, so looking is safe. */
  if (m->checked && !MODEL_ASAN)
    for (size_t k = 0; k < b.size; k++)
      if (b.p[k] != 0xDD) MFAIL("freed block %p byte %zu is %#x, not junk", (void *)b.p, k, b.p[k]);
  m->newest = NULL;
  m->moved = true;
  drop(m, i);
  hist[H_FREE]++;
  m->frees++;
  m->listed_free = true;
  m->exact = false;
  if (MODEL_ASAN) poisoned(b.p);
  verify_arena(m);
  /* Double free of the same block. arena.h, ar_free: where the arena knows where blocks
   * start, "any p that is not the start of a live block of at least `size` bytes (inside
   * one, given back already, not from this arena) fails" (finding A); other arenas at
   * AR_DEBUG >= 1 check only that the bytes lie in memory handed out and not taken back, so
   * a block on a free list is accepted again ("a block given back twice, is not detected"),
   * but one whose bytes went back to the cursor or the source is refused. */
  bool exact = exact_pointers(m);
  if ((exact && NEW_ON(A)) || (!exact && AR_DEBUG >= 1 && !ar_owns(m->a, b.p))) {
    before_t bb = snap(m);
    int rc2 = ar_free(m->a, b.p, b.size);
    hist[H_DOUBLE]++;
    if (rc2 != AR_EINVAL)
      MFAIL("double ar_free of %p (%zu bytes) returned %d", (void *)b.p, b.size, rc2);
    ar_stats_t now = stats(m->a);
    MCHECK(stats_equal(&bb.st, &now, true));
  }
}

void op_realloc(mar_t *m, rng_t *r) {
  if (m->nlive == 0) return;
  size_t i = below(r, m->nlive);
  if (chance(r, 60)) i = m->nlive - 1;
  if (!may_give_back(m, i)) return;
  blk_t *b = &m->live[i];
  size_t ns = chance(r, 50) ? b->size + pick_size(r) : b->size / (1 + below(r, 4));
  /* Growing a block from before a mark by a copy makes the result an allocation after it (a
   * block kept at p keeps its age, below); shrinking it is item 5 (guarded by may_give_back). */
  model_op = "realloc";
  verify(b);
  before_t bf = snap(m);
  unsigned char *q = (unsigned char *)ar_realloc(m->a, b->p, b->size, ns);
  if (q == NULL) {
    judge_failure(m, &bf, ar_last_error(), ns, 16, is_large(m, ns, 16));
    verify(b); /* the old block is untouched and still valid */
    return;
  }
  if (ns <= b->size) MCHECK(q == b->p); /* shrinking keeps p */
  /* Item 5, for ar_realloc: a block that was live when the newest live mark was taken lies
   * below the mark; shrinking it must not move the cursor back (arena.h, ar_free: "a mark's
   * position is never given back"), and growing it past its footprint is not in place
   * (arena.h, ar_realloc: in place only when "no mark has been taken since"). */
  if (ITEM_ON(5) && !(m->checked || MODEL_ASAN || MODEL_HEAP || AR_DEBUG >= 2) && !b->large &&
      !is_large(m, ns, 16) && m->nmarks > 0 && b->birth < m->marks[m->nmarks - 1].birth) {
    ar_stats_t st = stats(m->a);
    if (ns < b->size && st.used < bf.st.used)
      MFAIL("ar_realloc shrank a block from before the newest mark (%zu -> %zu bytes) and used "
            "fell %zu -> %zu",
            b->size, ns, bf.st.used, st.used);
    if (footprint(m, ns) > footprint(m, b->size) && q == b->p)
      MFAIL("ar_realloc grew a block from before the newest mark in place (%zu -> %zu bytes)",
            b->size, ns);
  }
  size_t keep = ns < b->size ? ns : b->size;
  for (size_t k = 0; k < keep; k++)
    if (q[k] != pat(b->tag, k)) MFAIL("ar_realloc lost byte %zu of %zu", k, keep);
  blk_t nb = *b;
  drop(m, i);
  blk_t *n = push(m, q, ns, 16);
  n->tag = nb.tag;                                /* same contents; refilled below anyway */
  if (q == nb.p) n->large = n->large || nb.large; /* kept in place, in the same chunk */
  /* arena.h, ar_realloc: "Shrinking keeps p", and "a block grown in place ... keeps its age":
   * a block kept at p is the same allocation, so a rewind to a mark taken after it was made
   * does not free it (the walk's sources cannot resize, so a moved block was copied: new). */
  if (q == nb.p) n->birth = nb.birth;
  if (q == nb.p) /* the library's record keeps the largest size the block ever had */
    n->shrunk_from = ns < nb.size && nb.shrunk_from == 0 ? nb.size : nb.shrunk_from;
  n->maybe_recycled = true;
  m->newest = NULL; /* in place, moved or recycled: the model does not say */
  fill(n);
  exact_unpoisoned(n, n->shrunk_from != 0);
  m->moved = true;
  m->frees++;
  m->listed_free = true;
  m->exact = false;
  verify_arena(m);
}

/* A large request sized so that it fits the limit only if the spare chunks are given up:
 * with a failing source this is where a failed request must still leave the arena as it
 * was (item 7: today the spares are already gone when the source fails). */
void op_pressure(mar_t *m, rng_t *r) {
  if (m->o.limit_bytes == 0 || m->nlive == MAXL) return;
  ar_stats_t st = stats(m->a);
  size_t spare = st.spare_chunks * m->o.chunk_size;
  if (spare == 0 || st.capacity >= m->o.limit_bytes) return;
  size_t head = m->o.limit_bytes - st.capacity; /* room without releasing anything */
  size_t size = head + below(r, spare / 2 + 1);
  if (size < 400) return;
  size -= 400;
  model_op = "limit-pressure";
  hist[H_PRESSURE]++;
  before_t b = snap(m);
  void *p = ar_alloc(m->a, size);
  if (p == NULL) {
    judge_failure(m, &b, ar_last_error(), size, 16, is_large(m, size, 16));
    return;
  }
  fill(push(m, p, size, 16));
}

/* docs/bad_input.md, the rows a serial arena can be asked: each returns its code, records it
 * as the last error, and leaves the arena unchanged. */
void op_bad(mar_t *m, rng_t *r) {
  model_op = "bad-input";
  before_t b = snap(m);
  int want = AR_EINVAL, got;
  void *p = (void *)1;
  switch (below(r, 18)) {
    case 0: p = ar_alloc(NULL, 8); break; /* row 1 */
    case 1: p = ar_strdup(NULL, "x"); break;
    case 2: p = ar_sprintf(NULL, "%d", 1); break;
    case 3: p = ar_realloc(NULL, NULL, 0, 8); break;
    case 4:
      want = AR_EOVERFLOW;
      p = ar_alloc(m->a, AR_MAX_ALLOC_SIZE + 1);
      break; /* row 5 */
    case 5:
      want = AR_EOVERFLOW;
      p = ar_alloc_array(m->a, SIZE_MAX / 2, 3);
      break;
    case 6:
      want = AR_EOVERFLOW;
      p = ar_calloc(m->a, (size_t)1 << 40, (size_t)1 << 40);
      break;
    case 7:
      want = AR_EOVERFLOW;
      p = ar_alloc_aligned(m->a, 8, (size_t)1 << 63);
      break;
    case 8:
      want = AR_EALIGN;
      p = ar_alloc_aligned(m->a, 8, below(r, 2) ? 0 : 24);
      break; /* 6 */
    case 9:
      want = AR_EALIGN;
      p = ar_calloc_aligned(m->a, 2, 4, 3);
      break;
    case 10: p = ar_strdup(m->a, NULL); break; /* row 13 */
    case 11: p = ar_memdup(m->a, NULL, 4); break;
    case 12: p = ar_sprintf(m->a, NULL); break;
    case 13:
      got = ar_defer(m->a, NULL, NULL);
      p = NULL;
      MCHECK(got == AR_EINVAL);
      break;
    case 16:
      want = AR_EOVERFLOW;
      p = AR_NEW_ARRAY(m->a, uint64_t, SIZE_MAX / 4);
      break;
    case 17: { /* row 18: containers refuse bad arguments and stay as they were */
      ar_vec_t v;
      ar_buf_t bb;
      MCHECK(ar_vec_init(&v, m->a, 0) == AR_EINVAL);
      MCHECK(ar_vec_init(&v, NULL, 4) == AR_EINVAL);
      MCHECK(ar_buf_init(&bb, m->a) == AR_OK);
      MCHECK(ar_buf_append(&bb, NULL, 5) == AR_EINVAL && ar_buf_len(&bb) == 0);
      MCHECK(ar_buf_consume(&bb, 1) == AR_EINVAL);
      char tmp[4];
      MCHECK(ar_buf_read(&bb, NULL, 3) == 0);
      MCHECK(ar_buf_peek(&bb, tmp, 3) == 0);
      ar_map_options_t mo;
      ar_map_options_init(&mo);
      mo.value_size = AR_MAP_MAX_VALUE + 1;
      ar_map_t mm;
      MCHECK(ar_map_init(&mm, m->a, &mo) == AR_EINVAL);
      p = NULL;
      (void)ar_vec_init(NULL, m->a, 4);
      break;
    }
    case 14: { /* row 3: a mark of NULL is rejected by every arena */
      ar_mark_t nm = ar_mark(NULL);
      MCHECK(ar_last_error() == AR_EINVAL);
      want = AR_ESTALE;
      got = ar_rewind(m->a, &nm);
      MCHECK(got == AR_ESTALE);
      p = NULL;
      break;
    }
    default: /* row 3: NULL arguments */
      MCHECK(ar_rewind(m->a, NULL) == AR_EINVAL);
      MCHECK(ar_arena_stats(m->a, NULL) == AR_EINVAL);
      MCHECK(ar_free(NULL, (void *)16, 16) == AR_EINVAL);
      MCHECK(ar_arena_check(NULL) == AR_EINVAL);
      MCHECK(!ar_owns(NULL, m) && !ar_owns(m->a, NULL));
      MCHECK(strcmp(ar_arena_name(NULL), "") == 0);
      MCHECK(ar_free(m->a, NULL, 12) == AR_OK); /* NULL p is a no-op */
      ar_reset(NULL);
      ar_release(NULL);
      ar_arena_destroy(NULL);
      ar_arena_adopt(NULL);
      p = NULL;
      want = AR_EINVAL;
      (void)ar_arena_stats(NULL, NULL);
      break;
  }
  MCHECK(p == NULL);
  if (ar_last_error() != (ar_error_t)want)
    MFAIL("bad input: last error %d, expected %d", (int)ar_last_error(), want);
  ar_stats_t now = stats(m->a);
  MCHECK(stats_equal(&b.st, &now, true) && m->src.live_bytes == b.src_bytes);
}

/* Row 17: a write past the end of an allocation in a checked arena makes ar_arena_check
 * report AR_ECORRUPT. The byte is put back at once, so the arena stays healthy. */
void op_guard(mar_t *m, rng_t *r) {
  if (!m->checked || MODEL_ASAN || m->nlive == 0) return;
  blk_t *b = &m->live[below(r, m->nlive)];
  if (b->shrunk_from && !NEW_ON(B)) return; /* finding B: the guard stays after the old size */
  model_op = "guard";
  size_t at = b->size ? b->size : 1; /* a zero-byte request is served as one byte */
  unsigned char saved = b->p[at];
  b->p[at] = (unsigned char)~saved;
  /* The library names the damage on stderr, as documented; the model already knows, and a
   * thousand such lines would bury a real failure in the test log. */
  fflush(stderr);
  int saved_fd = dup(2), null_fd = open("/dev/null", O_WRONLY);
  if (saved_fd >= 0 && null_fd >= 0) dup2(null_fd, 2);
  int rc = ar_arena_check(m->a);
  if (saved_fd >= 0 && null_fd >= 0) dup2(saved_fd, 2);
  if (saved_fd >= 0) close(saved_fd);
  if (null_fd >= 0) close(null_fd);
  b->p[at] = saved;
  if (rc != AR_ECORRUPT)
    MFAIL("a damaged guard after %zu bytes at %p (align %zu, large %d, shrunk by ar_realloc "
          "from %zu, born %llu of %llu, %zu marks): ar_arena_check gave %d",
          b->size, (void *)b->p, b->align, b->large, b->shrunk_from, (unsigned long long)b->birth,
          (unsigned long long)m->births, m->nmarks, rc);
  MCHECK(ar_last_error() == AR_ECORRUPT);
  MCHECK(ar_arena_check(m->a) == AR_OK);
}

/* Pointers the arena did not hand out, at AR_DEBUG >= 1 (docs/bad_input.md row 14):
 * AR_EINVAL (NULL from realloc), nothing changed. Release builds trust the caller. */
void op_bad_pointer(mar_t *m, rng_t *r) {
  /* Release builds check alignment and dedicated chunks only; checked arenas check exactly
   * in every build (arena.h, ar_free). */
  bool exact = exact_pointers(m);
  model_op = "bad-pointer";
  mar_t *other = &ars[(size_t)(m - ars + 1) % NARENA];
  unsigned char *p = NULL;
  size_t size = 0;
  unsigned how = (unsigned)below(r, 3);
  if (how == 0) { /* a live block of another arena */
    if (other->nlive == 0 || (AR_DEBUG < 1 && !exact)) return;
    blk_t *b = &other->live[below(r, other->nlive)];
    p = b->p;
    size = b->size;
  } else if (how == 1) { /* not 16-aligned: inside a live block */
    if (m->nlive == 0) return;
    blk_t *b = &m->live[below(r, m->nlive)];
    if (b->size < 2) return;
    p = b->p + 1;
    size = b->size - 1;
  } else { /* 16-aligned interior of a live block: item 8 */
    if (!ITEM_ON(8) || m->nlive == 0) return;
    blk_t *b = &m->live[below(r, m->nlive)];
    if (b->size <= 32) return;
    /* arena.h, ar_free: exact only where the arena knows where blocks start ("checked
     * arenas ..., ASan builds and the heap flavor"), or in a dedicated chunk (over-aligned
     * beyond the page size, "in every build"); "other arenas at AR_DEBUG >= 1 check only that
     * [p, p + size) lies in memory the arena has handed out ...: a 16-aligned pointer inside
     * a live block ... is not detected". */
    if (!exact && b->align <= 4096) return;
    p = b->p + 16;
    size = b->size - 16;
  }
  if (ar_owns(m->a, p) && how == 0) return; /* cannot happen; keeps the check honest */
  before_t b = snap(m);
  ar_clear_error();
  hist[H_BADPTR]++;
  if (chance(r, 50)) {
    int rc = ar_free(m->a, p, size);
    if (rc != AR_EINVAL) MFAIL("ar_free of a pointer it did not hand out (kind %u): %d", how, rc);
  } else {
    void *q = ar_realloc(m->a, p, size, size + 40);
    if (q != NULL) MFAIL("ar_realloc of a pointer it did not hand out (kind %u) succeeded", how);
  }
  if (ar_last_error() != AR_EINVAL)
    MFAIL("a pointer it did not hand out (kind %u: 0 foreign, 1 misaligned, 2 interior) was "
          "taken for a block: last error %d, not AR_EINVAL",
          how, (int)ar_last_error());
  ar_stats_t now = stats(m->a);
  MCHECK(stats_equal(&b.st, &now, true));
  verify_arena(m);
  verify_arena(other);
}
