/* SPDX-License-Identifier: MIT */
/*
 * integrations/libxml2/arenart_libxml2.c - installs the arenart hooks as libxml2's allocator.
 *
 * The hooks are shared with the jansson adapter (one word before each block, checked against
 * the thread's live scopes; see arenart_hooks.h). This file only swaps libxml2's four
 * functions under a mutex and orders the global initialisation and cleanup around the swap,
 * so that libxml2's process-wide tables are allocated and freed by the same functions.
 */
#include "integrations/libxml2/arenart_libxml2.h"

#include <arenart.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>
#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool g_installed;
static xmlFreeFunc g_prev_free;
static xmlMallocFunc g_prev_malloc;
static xmlReallocFunc g_prev_realloc;
static xmlStrdupFunc g_prev_strdup;

/* libxml2 keeps a copy of the last error per thread (xmlGetLastError), its strings allocated
 * through the hooks. Raised in a scope, they would outlive it and be freed, late, by the next
 * error; so a scope's end clears it. */
static void clear_last_error(void) {
  if (atomic_load_explicit(&g_installed, memory_order_relaxed) && xmlGetLastError() != NULL)
    xmlResetLastError();
}

int ar_libxml2_install(void) {
  if (ar_scope_depth() > 0) return -1;
  int rc = 0;
  pthread_mutex_lock(&g_lock);
  if (!g_installed) {
    xmlMemGet(&g_prev_free, &g_prev_malloc, &g_prev_realloc, &g_prev_strdup);
    if (ar_hooks_add_scope_end_fn(clear_last_error) != 0 ||
        xmlMemSetup(ar_hooks_free, ar_hooks_malloc, ar_hooks_realloc, ar_hooks_strdup) != 0) {
      rc = -1;
    } else {
      g_installed = true;
      xmlInitParser();
    }
  }
  pthread_mutex_unlock(&g_lock);
  return rc;
}

void ar_libxml2_uninstall(void) {
  pthread_mutex_lock(&g_lock);
  if (g_installed) {
    xmlCleanupParser();
    xmlMemSetup(g_prev_free, g_prev_malloc, g_prev_realloc, g_prev_strdup);
    g_installed = false;
  }
  pthread_mutex_unlock(&g_lock);
}

bool ar_libxml2_installed(void) {
  pthread_mutex_lock(&g_lock);
  bool v = g_installed;
  pthread_mutex_unlock(&g_lock);
  return v;
}
