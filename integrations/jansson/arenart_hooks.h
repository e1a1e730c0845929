/* SPDX-License-Identifier: MIT */
/*
 * integrations/jansson/arenart_hooks.h - malloc-shaped allocation hooks backed by the calling
 * thread's arena while a scope is open, and by malloc otherwise.
 *
 * Why this exists. Libraries such as jansson (json_set_alloc_funcs) and libxml2 (xmlMemSetup)
 * take one process-wide pair of malloc/free functions. A free hook gets a bare pointer, with
 * no size and no arena, so a naive arena hook must make free a no-op: nothing is recycled,
 * and whatever the library allocates outside a scope piles up in the thread arena until the
 * thread exits. These hooks fix both by writing one 8-byte word before every block. The word
 * says whether the block came from malloc or from an arena scope, which scope (a generation
 * number and the scope's slot on this thread's stack of scopes) and how many bytes were asked
 * for; it is XORed with a hash of the block's own address, so a word copied elsewhere, or
 * random bytes, does not read as valid. One word per block is also what glibc's malloc spends
 * on its own header.
 *
 * Scopes are seen without any change to arenart: the first time the hooks allocate inside a
 * scope they register a cleanup with ar_defer() on the thread arena. ar_scope_end() (any
 * rewind past the scope's start) runs it, and it marks that scope's generation ended. So the
 * hooks always know which of their scopes are live, exactly, and a free can tell a live block
 * of the current scope (recycled) from everything else, which it leaves alone.
 *
 * Big blocks. A block of AR_HOOKS_BIG_BYTES (4 KiB) or more asked for in a scope comes from
 * malloc, with a 32-byte header that links it into its scope's list; the scope's end frees
 * every big block still listed (or keeps it as a spare, below), so to the caller it behaves
 * like the scope's other blocks.
 * Why: blocks that big are mostly the buffers a parser or serializer grows by doubling. In a
 * thread arena (64 KiB chunks) each one over about 16 KiB gets a dedicated chunk, mapped and
 * unmapped on every request (page faults were 18% of the jansson benchmark's time), and the
 * smaller ones leave their old copies behind until the chunk fills and waste up to their size
 * at a chunk's end; malloc reuses that memory at once. Spares: where the small-block lists are
 * used (see "Recycling"; not under ASan or in arenas that check), a scope's end keeps up to 4
 * of its big blocks of 32 KiB or more, 1 MiB in all, per thread instead of freeing them, and a
 * later big request of that thread, in any scope, takes the smallest one that holds it and is
 * at most twice its size. Why: freeing them let glibc trim its heap, and the next document
 * faulted the same pages in again (16% of the libxml2 benchmark's time). Spares are freed
 * when their thread exits.
 *
 * Recycling. A freed block of the innermost scope whose footprint (size + 8, rounded up to 16)
 * is at most 512 bytes goes on the hooks' own per-footprint list for that scope, and the next
 * request of that footprint in the same scope takes it back: libraries free small blocks
 * right after allocating them (jansson frees every object key the lexer made once the key is
 * copied), and the arena's own lists are consulted only when its current chunk is full, so
 * those blocks would sit unused until then (about 10% of a parsed jansson document). The
 * list is dropped when that scope ends or a deeper scope takes its first block (the blocks on
 * it then stay allocated until their scope ends); the list starts again with the next free of
 * a block of the innermost scope. Larger blocks go to ar_free (the newest block
 * moves the cursor back; others join the arena's size-class lists). Arenas that check (ASan,
 * checked mode, AR_DEBUG >= 2, the heap flavor; the hooks tell by two probe allocations when
 * they first allocate in a scope) get every freed block through ar_free instead, which keeps
 * it poisoned or junk-filled until the scope ends, so a use after free inside a scope is
 * caught there.
 *
 * What a free does, by the block's word:
 *   - malloc block: free().
 *   - block of the innermost live scope on this thread, with no deeper scope open: recycled
 *     (see "Recycling").
 *   - big block of a live scope of this thread: unlinked and freed (spares are only kept at
 *     a scope's end).
 *   - block of an outer scope that is still live (a deeper scope is open now): left alone
 *     ("abandoned"); the outer scope's end takes it back. Giving it back could move the
 *     cursor below the deeper scope's start, which that scope's end would reject.
 *   - block of a live scope of another thread: left alone; that thread's scope end takes it
 *     back. The hooks never touch another thread's arena.
 *   - block of a scope that has ended (a "late free"): left alone, so the memory, which may
 *     be reused already, is never given back twice. Builds with AR_DEBUG >= 1 (all but
 *     --config=opt) print one line per ended scope on stderr (see AR_HOOKS_LATE_PREFIX).
 *   - anything else (a pointer not from these hooks, or whose word was overwritten): left
 *     alone, counted as unknown, reported on stderr in AR_DEBUG builds.
 *
 * What cannot be detected. A late free reads the word in memory the scope gave back. Under
 * ASan (--config=asan) the scope's arena memory is poisoned and its big blocks are freed, so
 * ASan reports the first instrumented touch: the caller's (jansson's inline json_decref) or
 * this read, in ar_hooks_free. In other builds the read works as long as the chunk is still
 * mapped (the chunk pool keeps
 * chunks mapped unless ar_trim or its decay returns them to the OS, in which case the read
 * faults, as the library's own walk of the dead objects would). A late free is recognised as
 * late only if its word is intact and its scope is one of the last AR_HOOKS_ENDED_RING scopes
 * that ended on the calling thread (checked mode junk-fills a scope's memory when it ends, so
 * there a late free is reported as an unknown pointer); an older one, or one freed on another
 * thread, is counted as foreign. If the address was handed out again by the hooks (a spare
 * big block included), the late free is
 * indistinguishable from a free of the new block and frees it (as with malloc). A stale word
 * is taken as live only if it matches a live scope's 35-bit generation after the address
 * hash, which random bytes do with probability 2^-35. Generations are unique process-wide
 * only modulo 2^35: if a scope stays open while 2^35 other scopes take hook blocks, a block of
 * it freed on another thread whose live scope at the same slot has the same low 35 bits
 * would be taken as that thread's own. A block freed twice while its scope is live is not
 * detected (as with malloc, it may then be handed out twice). The hooks follow scopes, not
 * raw marks: an ar_rewind of the thread arena to a caller's own mark taken inside a scope
 * takes back the hook blocks allocated after it without the hooks knowing, and a later free
 * of one of them is taken as a free of a live block (its memory may then be handed out
 * twice); use a nested scope instead of a raw mark.
 *
 * Limits: blocks are 8-byte aligned (enough for every type jansson and libxml2 store, not
 * for max_align_t); scopes nested deeper than AR_HOOKS_MAX_SCOPES on one thread get malloc
 * blocks; an arena failure inside a scope (limit_bytes, AR_ENOMEM) makes the hook return
 * NULL, with no fallback to malloc, so a thread arena's limit_bytes bounds the small blocks a
 * library takes in a scope; big blocks come from malloc and are not counted against it.
 *
 * Synchronization:
 *   | call                         | may run concurrently with                            |
 *   |------------------------------|------------------------------------------------------|
 *   | ar_hooks_malloc, _free,      | anything: each call touches only the calling thread's |
 *   | _realloc, _strdup            | arena and thread-local state (a foreign block's word |
 *   |                              | is only read; its publication to this thread must    |
 *   |                              | have made it visible, as for any pointer)            |
 *   | ar_hooks_thread_stats        | anything (calling thread's counters)                 |
 *   | ar_hooks_add_scope_end_fn    | anything (a lock-free table, filled once)            |
 */
#ifndef ARENART_HOOKS_H
#define ARENART_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Scopes one thread can have open with hook blocks at once; deeper ones get malloc blocks. */
#define AR_HOOKS_MAX_SCOPES 31
/** Blocks of this many bytes or more, asked for in a scope, come from malloc (or a spare)
 * and are listed with their scope, which frees them (or keeps a few as spares) at its end if
 * nothing did before (see "Big blocks"). */
#define AR_HOOKS_BIG_BYTES ((size_t)4096)
/** Ended scopes per thread that a late free is recognised against (debug report). */
#define AR_HOOKS_ENDED_RING 64
/** How every late-free line on stderr begins. */
#define AR_HOOKS_LATE_PREFIX "arenart hooks: late free"
/** How every unknown-pointer line on stderr begins. */
#define AR_HOOKS_UNKNOWN_PREFIX "arenart hooks: unknown pointer"

/** Allocates n bytes (8-byte aligned): from the calling thread's innermost scope when
 * ar_scope_depth() > 0 (big ones from malloc or a spare, given up at the scope's end at the
 * latest), from malloc otherwise. n == 0 gives a unique block.
 * Errors (NULL): n + 16 overflows; malloc failed (errno ENOMEM); inside a scope, the thread
 * arena could not be had or refused (ar_last_error() says why: AR_ENOMEM, AR_ELIMIT). */
void *ar_hooks_malloc(size_t n);

/** Gives a block from these hooks back, as described in the essay above. NULL is a no-op.
 * Errors: none reported to the caller (a bad pointer is left alone and counted). */
void ar_hooks_free(void *p);

/** Resizes a block. A malloc block stays a malloc block (realloc). A big block of a live
 * scope of this thread stays a big block of that scope (realloc, whatever n). A block of the
 * innermost live scope that stays under AR_HOOKS_BIG_BYTES is resized with ar_realloc (in
 * place when it is the newest block and the chunk has room; shrinking keeps the pointer). Any
 * other block (growing past AR_HOOKS_BIG_BYTES, an outer scope's, another thread's) is copied
 * into a new block chosen as ar_hooks_malloc would, and the old one goes where ar_hooks_free
 * sends it. p NULL acts as ar_hooks_malloc; n == 0 keeps a block of size 0 (never frees).
 * Errors (NULL, the old block untouched and valid): those of ar_hooks_malloc; p is a late
 * (ended-scope) or unknown block (reported on stderr in AR_DEBUG builds). */
void *ar_hooks_realloc(void *p, size_t n);

/** strlen(s) + 1 bytes from ar_hooks_malloc, copied from s. Errors (NULL): s NULL, or those of
 * ar_hooks_malloc. */
char *ar_hooks_strdup(const char *s);

/** A function the hooks call when a scope in which they allocated ends, on the thread whose
 * scope it is, while the scope's memory is still intact (from the arena cleanup that marks
 * the scope ended; it may free hook blocks, which then do nothing, and must not allocate
 * from the thread arena). Adapters use it to drop library state that would otherwise point
 * into the scope (libxml2's per-thread last error). */
typedef void (*ar_hooks_scope_end_fn)(void);

/** Most scope-end functions that can be registered. */
#define AR_HOOKS_MAX_SCOPE_END_FNS 4

/** Registers fn to run at the end of every scope in which the hooks allocated, after those
 * registered before it. Registering the same fn again changes nothing and returns 0. Any
 * thread; a scope ending at the same time may or may not see it. Returns 0, or -1.
 * Errors: -1 for a NULL fn, or when AR_HOOKS_MAX_SCOPE_END_FNS are registered already. */
int ar_hooks_add_scope_end_fn(ar_hooks_scope_end_fn fn);

/** The calling thread's counters (since the thread's first hook call). */
typedef struct ar_hooks_stats {
  uint64_t arena_allocs;  /**< blocks served by a scope's arena (realloc moves included) */
  uint64_t big_allocs;    /**< big blocks served in a scope (from malloc or a spare, listed) */
  uint64_t big_frees;     /**< big blocks given up (by a free, or by their scope's end, which
                               may keep them as spares) */
  uint64_t malloc_allocs; /**< blocks served by malloc */
  uint64_t arena_frees;   /**< scope blocks recycled (the hooks' lists, or ar_free) */
  uint64_t malloc_frees;  /**< malloc blocks freed */
  uint64_t in_place;      /**< reallocs of arena blocks that kept the pointer */
  uint64_t abandoned;     /**< frees of a live outer-scope block, left to that scope */
  uint64_t foreign;       /**< frees of another thread's block (or of an ended scope this
                               thread no longer remembers), left alone */
  uint64_t late;          /**< frees/reallocs recognised as late (their scope ended) */
  uint64_t unknown;       /**< frees/reallocs of pointers whose word is not valid */
  unsigned live_scopes;   /**< scopes with hook blocks open now on this thread */
  unsigned small_lists;   /**< 1 if the small-block lists are in use on this thread: its
                               arena was seen packing blocks back to back (not ASan, checked
                               mode, AR_DEBUG >= 2 or the heap flavor, where the arena itself
                               never reuses a freed block); 0 otherwise or not yet known */
} ar_hooks_stats_t;

/** Copies the calling thread's counters into *out. Returns 0, or -1 for a NULL out.
 * Errors: -1 (NULL out). */
int ar_hooks_thread_stats(ar_hooks_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_HOOKS_H */
