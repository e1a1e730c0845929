/* SPDX-License-Identifier: MIT */
/* tests/bad_options.c - see bad_options.h. */
#include "tests/bad_options.h"

#include "arenart/source.h"

void for_each_bad_option(void (*check)(const ar_options_t *o)) {
  ar_source_t no_acquire = *ar_source_malloc();
  no_acquire.acquire = NULL;
  ar_source_t no_release = *ar_source_malloc();
  no_release.release = NULL;
  ar_options_t o = AR_OPTIONS_INIT;
  o.chunk_size = 100;
  check(&o);
  o.chunk_size = (size_t)2 << 30;
  check(&o);
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.source = &no_acquire;
  check(&o);
  o.source = &no_release;
  check(&o);
  o = (ar_options_t)AR_OPTIONS_INIT;
  o.chunk_size = 4096;
  o.limit_bytes = 8192;
  o.prealloc_chunks = 3;
  check(&o);
}
