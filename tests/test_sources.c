/* SPDX-License-Identifier: MIT */
/*
 * tests/test_sources.c - the counting, failing, misaligning test source.
 */
#include "tests/test_sources.h"

#include <stdlib.h>
#include <string.h>

static void *ts_acquire(void *ctx, size_t size) {
  test_source_t *s = (test_source_t *)ctx;
  size_t attempt = ++s->attempts;
  if (attempt == s->fail_at || (s->fail_from != 0 && attempt >= s->fail_from)) return NULL;
  size_t slot = 0;
  while (slot < TEST_SOURCE_MAX_BLOCKS && s->blocks[slot].p != NULL) slot++;
  if (slot == TEST_SOURCE_MAX_BLOCKS) return NULL;
  /* Plain malloc unless asked: the arena must cope with whatever alignment it gets. */
  char *raw = NULL;
  if (s->align != 0) {
    void *m = NULL;
    raw = posix_memalign(&m, s->align, size) == 0 ? (char *)m : NULL;
  } else {
    raw = (char *)malloc(size + s->misalign);
  }
  if (raw == NULL) return NULL;
  s->blocks[slot].raw = raw;
  s->blocks[slot].p = raw + (s->align != 0 ? 0 : s->misalign);
  s->blocks[slot].size = size;
  s->acquires++;
  s->live_blocks++;
  s->live_bytes += size;
  return s->blocks[slot].p;
}

static void ts_release(void *ctx, void *p, size_t size) {
  test_source_t *s = (test_source_t *)ctx;
  s->releases++;
  for (size_t i = 0; i < TEST_SOURCE_MAX_BLOCKS; i++) {
    if (s->blocks[i].p != p) continue;
    if (s->blocks[i].size != size) break;
    free(s->blocks[i].raw);
    s->blocks[i].p = NULL;
    s->live_blocks--;
    s->live_bytes -= size;
    return;
  }
  /* Leaked on purpose: freeing a block released with the wrong size could mask the bug. */
  s->bad_releases++;
}

const ar_source_t *test_source_init(test_source_t *s) {
  memset(s, 0, sizeof *s);
  s->src.acquire = ts_acquire;
  s->src.release = ts_release;
  s->src.ctx = s;
  s->src.name = "test";
  return &s->src;
}

int test_source_balanced(const test_source_t *s) {
  return s->acquires == s->releases && s->live_blocks == 0 && s->live_bytes == 0 &&
         s->bad_releases == 0;
}
