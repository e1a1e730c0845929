/* SPDX-License-Identifier: MIT */
/*
 * tests/bad_options.h - the arena options that ar_arena_create refuses, listed once.
 *
 * Every entry point that takes serial-arena options (ar_arena_create, ar_arena_pool_create,
 * ar_thread_arena_configure) must refuse the same options with the same code, at the call
 * (runtime/options.c). The tests of each entry point walk this one list, so a new rule is
 * added here and checked everywhere.
 */
#ifndef ARENART_TESTS_BAD_OPTIONS_H
#define ARENART_TESTS_BAD_OPTIONS_H

#include "arenart/arena.h"

/* Calls check(o) for each refused option set: chunk sizes out of range, a source without
 * acquire or without release, preallocated chunks over the limit. */
void for_each_bad_option(void (*check)(const ar_options_t *o));

#endif /* ARENART_TESTS_BAD_OPTIONS_H */
