/*
 * runtime/source.c - the built-in memory sources: OS pages and the C heap.
 *
 * Both are stateless and thread-safe (mmap/munmap and posix_memalign/free are), so a single
 * static instance of each is shared by every arena. Sizes are passed back on release, which
 * munmap needs and which lets a user source keep no per-block bookkeeping.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "arenart/source.h"
#include "runtime/internal.h"

static void *os_acquire(void *ctx, size_t size) {
  (void)ctx;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void os_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  munmap(p, size);
}

static void *heap_acquire(void *ctx, size_t size) {
  (void)ctx;
  void *p = NULL;
  /* 64-byte alignment: chunk headers and concurrent spans start on their own cache line. */
  return posix_memalign(&p, 64, size) == 0 ? p : NULL;
}

static void heap_release(void *ctx, void *p, size_t size) {
  (void)ctx;
  (void)size;
  free(p);
}

static const ar_source_t os_source = {os_acquire, os_release, NULL, "os"};
static const ar_source_t heap_source = {heap_acquire, heap_release, NULL, "malloc"};

const ar_source_t *ar_source_os(void) { return &os_source; }
const ar_source_t *ar_source_malloc(void) { return &heap_source; }
