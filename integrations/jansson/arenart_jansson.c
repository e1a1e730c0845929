/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/arenart_jansson.c - installs the arenart hooks as jansson's allocator.
 *
 * All the work is in arenart_hooks.c; this file only swaps jansson's function pair and keeps
 * the previous one, under a mutex so that two installers cannot interleave their get/set.
 */
#include "integrations/jansson/arenart_jansson.h"

#include <arenart.h>
#include <jansson.h>
#include <pthread.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_installed;
static json_malloc_t g_prev_malloc;
static json_free_t g_prev_free;

int ar_jansson_install(void) {
  if (ar_scope_depth() > 0) return -1;
  pthread_mutex_lock(&g_lock);
  if (!g_installed) {
    json_get_alloc_funcs(&g_prev_malloc, &g_prev_free);
    json_set_alloc_funcs(ar_hooks_malloc, ar_hooks_free);
    g_installed = true;
  }
  pthread_mutex_unlock(&g_lock);
  return 0;
}

void ar_jansson_uninstall(void) {
  pthread_mutex_lock(&g_lock);
  if (g_installed) {
    json_set_alloc_funcs(g_prev_malloc, g_prev_free);
    g_installed = false;
  }
  pthread_mutex_unlock(&g_lock);
}

bool ar_jansson_installed(void) {
  pthread_mutex_lock(&g_lock);
  bool v = g_installed;
  pthread_mutex_unlock(&g_lock);
  return v;
}
