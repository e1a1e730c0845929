/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/arenart_jansson.h - jansson on arenart scopes.
 *
 * Why: jansson allocates through one process-wide pair of functions (json_set_alloc_funcs),
 * and its free gets no size. ar_jansson_install() points that pair at arenart_hooks.h, so a
 * document parsed or built inside ar_scope_begin()/ar_scope_end() lives in the thread arena's
 * scope: json_decref gives its blocks back to the arena for reuse, and ending the scope frees
 * whatever is left, json_decref or not. Outside any scope jansson gets malloc, so objects made
 * there (configuration, caches) live until json_decref as usual and never pile up in the
 * thread arena. What a free does with each kind of block, and what a late free (a json_decref
 * after the object's scope ended) can and cannot be caught, is in arenart_hooks.h.
 *
 * Rules for the caller:
 *   - Install before the first jansson call that allocates, and uninstall only when no
 *     object allocated meanwhile is still alive (jansson's own rule for json_set_alloc_funcs:
 *     a block must be freed by the functions that allocated it).
 *   - An object created in a scope dies at that scope's end; do not keep it, or link it into
 *     an object that outlives the scope (json_object_set of a scope object into an object
 *     made outside). Copy it out instead (json_deep_copy outside the scope, or json_dumps).
 *   - Objects may move between threads: a json_decref on another thread leaves arena blocks
 *     to the scope that holds them (they go back when that scope ends); malloc blocks are
 *     freed normally.
 *
 * Synchronization:
 *   | call                  | may run concurrently with                                     |
 *   |-----------------------|---------------------------------------------------------------|
 *   | ar_jansson_install,   | nothing that calls jansson (json_set_alloc_funcs is a plain   |
 *   | ar_jansson_uninstall  | global store); each other, serialized by a mutex              |
 *   | ar_jansson_installed  | anything                                                      |
 */
#ifndef ARENART_JANSSON_H
#define ARENART_JANSSON_H

#include <stdbool.h>

#include "integrations/jansson/arenart_hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Makes jansson allocate through arenart_hooks.h, remembering the functions it had. Calling
 * it again while installed changes nothing and returns 0. Returns 0, or -1.
 * Errors: -1 when a scope is open on the calling thread (ar_scope_depth() > 0): installing
 * there would not be wrong in itself, but it is the mark of a caller that is not at start-up;
 * nothing is changed. */
int ar_jansson_install(void);

/** Restores the functions jansson had before ar_jansson_install. A no-op when not installed.
 * Errors: none. */
void ar_jansson_uninstall(void);

/** True while installed. Errors: none. */
bool ar_jansson_installed(void);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_JANSSON_H */
