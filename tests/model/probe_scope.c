#include <stdio.h>
#include <sanitizer/asan_interface.h>
#include "arenart.h"
int main(void) {
  ar_scope_t s = ar_scope_begin();
  char *small = ar_alloc(s.arena, 100);
  char *big = ar_alloc(s.arena, 30000);       /* a dedicated chunk (over a quarter chunk) */
  char *more[8];
  for (int i = 0; i < 8; i++) more[i] = ar_alloc(s.arena, 15000); /* fills a second chunk */
  ar_scope_end(&s);
  printf("after scope end: small poisoned %d, big poisoned %d, second-chunk poisoned %d\n",
         __asan_address_is_poisoned(small), __asan_address_is_poisoned(big),
         __asan_address_is_poisoned(more[7]));
  ar_arena_t *a = ar_arena_create(NULL);       /* default source, default chunk: OS pages */
  char *b2 = ar_alloc(a, 30000);
  ar_reset(a);
  printf("plain arena reset: big poisoned %d\n", __asan_address_is_poisoned(b2));
  ar_arena_destroy(a);
  return 0;
}
