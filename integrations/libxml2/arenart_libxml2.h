/* SPDX-License-Identifier: MIT */
/*
 * integrations/libxml2/arenart_libxml2.h - libxml2 on arenart scopes.
 *
 * Why: libxml2 allocates through four process-wide functions (xmlMemSetup: free, malloc,
 * realloc, strdup; xmlMallocAtomic follows malloc), and it grows buffers, text nodes and
 * attribute values with realloc all the time. ar_libxml2_install() points them at
 * arenart_hooks.h (//integrations/jansson:hooks): inside ar_scope_begin()/ar_scope_end() a
 * parsed document lives in the thread arena's scope, xmlFree gives blocks back to the arena,
 * xmlRealloc of the scope's newest block grows it in place, and ending the scope frees the
 * document whether or not xmlFreeDoc ran. Outside any scope libxml2 gets malloc, so its
 * global tables (made by xmlInitParser) and documents kept across requests live as usual.
 * What a free does with each kind of block, and what a late free (xmlFreeDoc after the
 * document's scope ended) can and cannot be caught, is in arenart_hooks.h.
 *
 * Rules for the caller:
 *   - Install before any other libxml2 call (install calls xmlInitParser itself, outside
 *     any scope, so the global tables come from malloc). Blocks libxml2 took before the
 *     install cannot be freed through the hooks: each one is ignored (left allocated and,
 *     in AR_DEBUG builds, reported as an unknown pointer).
 *   - A node or string made in a scope dies at that scope's end: do not link it into a
 *     document made outside or in an outer scope (xmlAddChild of a scope node into a kept
 *     document); copy it out instead (xmlDocCopyNode outside the scope, or serialize it).
 *   - libxml2 keeps a copy of each thread's last error (xmlGetLastError), its strings
 *     allocated through the hooks. While installed, the end of any scope in which the hooks
 *     allocated clears it (xmlResetLastError, on that thread), so that it never points into a
 *     dead scope and is never freed late by the next error: read the error before the scope
 *     ends.
 *   - Documents may move between threads: an xmlFreeDoc on another thread leaves arena
 *     blocks to the scope that holds them.
 *   - Uninstall at shutdown: it runs xmlCleanupParser (which frees the global tables through
 *     the hooks that allocated them) and then restores the previous functions. No thread may
 *     use libxml2 during or after it unless it calls ar_libxml2_install again first, and no
 *     document allocated through the hooks may be freed after it.
 *
 * Synchronization:
 *   | call                  | may run concurrently with                                     |
 *   |-----------------------|---------------------------------------------------------------|
 *   | ar_libxml2_install,   | nothing that calls libxml2 (xmlMemSetup is a plain global     |
 *   | ar_libxml2_uninstall  | store); each other, serialized by a mutex                     |
 *   | ar_libxml2_installed  | anything                                                      |
 */
#ifndef ARENART_LIBXML2_H
#define ARENART_LIBXML2_H

#include <stdbool.h>

#include "integrations/jansson/arenart_hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Makes libxml2 allocate through arenart_hooks.h (remembering its previous functions) and
 * calls xmlInitParser. Calling it again while installed changes nothing and returns 0.
 * Returns 0, or -1 with nothing changed.
 * Errors: -1 when a scope is open on the calling thread (xmlInitParser's tables would land in
 * it and die with it), or when xmlMemSetup refuses the functions (it does so only for NULL
 * ones, which these are not). */
int ar_libxml2_install(void);

/** Runs xmlCleanupParser, then restores the functions libxml2 had before ar_libxml2_install.
 * A no-op when not installed. Errors: none. */
void ar_libxml2_uninstall(void);

/** True while installed. Errors: none. */
bool ar_libxml2_installed(void);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_LIBXML2_H */
