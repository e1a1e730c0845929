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
#include <libxml/xmlmemory.h>
#include <pthread.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_installed;
static xmlFreeFunc g_prev_free;
static xmlMallocFunc g_prev_malloc;
static xmlReallocFunc g_prev_realloc;
static xmlStrdupFunc g_prev_strdup;

int ar_libxml2_install(void) {
  if (ar_scope_depth() > 0) return -1;
  int rc = 0;
  pthread_mutex_lock(&g_lock);
  if (!g_installed) {
    xmlMemGet(&g_prev_free, &g_prev_malloc, &g_prev_realloc, &g_prev_strdup);
    if (xmlMemSetup(ar_hooks_free, ar_hooks_malloc, ar_hooks_realloc, ar_hooks_strdup) != 0) {
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
