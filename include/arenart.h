/* SPDX-License-Identifier: MIT */
/*
 * arenart.h - umbrella header: everything public in arenart.
 * See README.md for the lifetime rules and a short example.
 */
#ifndef ARENART_H
#define ARENART_H

#include "arenart/common.h"
#include "arenart/source.h"
#include "arenart/arena.h"
#include "arenart/lease.h"
#include "arenart/concurrent.h"
#include "arenart/chunkpool.h"
#include "arenart/stats.h"
#include "arenart/thread.h"
#include "arenart/arenapool.h"
#include "arenart/vec.h"
#include "arenart/map.h"
#include "arenart/buf.h"

#endif /* ARENART_H */
