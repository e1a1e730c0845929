#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of the API walk (tests/fuzz/corpus/). Deterministic; rerun after
changing the input format in api_fuzz.c. Each seed is a byte string: shape, flags, then
operations (opcode % 18, see api_fuzz.c) with their argument bytes."""

import os

ALLOC, MARK, REWIND, RESET, DEFER, FREE, REALLOC, CHECK = 0, 3, 4, 5, 6, 7, 8, 9
SBEGIN, SALLOC, SEND, VEC, BUF, MAP, CVERIFY, CRESET = 10, 11, 12, 13, 14, 15, 16, 17


def alloc(cls, size, how):
    return [ALLOC, cls, size & 0xFF, size >> 8, how]


SEEDS = {
    # Small allocations of every kind, verified, then a reset.
    "basic": [3, 0] + sum((alloc(c, 40 + 13 * c, h) for c in range(1, 7) for h in range(6)), [])
    + [CHECK, RESET, 0, CHECK],
    # Nested marks, cleanups between them, rewinds to the middle and the bottom.
    "marks": [2, 0] + [MARK] + alloc(1, 30, 0) + [DEFER, MARK] + alloc(4, 500, 0) + [DEFER, MARK]
    + alloc(7, 300, 0) + [DEFER, REWIND, 1, CHECK, REWIND, 0, CHECK, RESET, 1],
    # Checked mode: guards and junk, frees and reallocs above a mark.
    "checked": [1, 1] + [MARK] + sum((alloc(2, 20 + i, 0) for i in range(10)), [])
    + [FREE, 3, REALLOC, 2, 5, 200, 0, FREE, 0, CHECK, REWIND, 0, RESET, 0],
    # A small byte limit: allocations fail with AR_ELIMIT and the arena stays usable.
    "limit": [0, 2] + sum((alloc(7, 60000, 0) for _ in range(20)), []) + [RESET, 0]
    + sum((alloc(5, 900, 0) for _ in range(20)), []) + [CHECK],
    # Over-aligned and large requests with no retained chunks.
    "aligned": [4, 4] + sum((alloc(3, 17, 1 + 6 * k) for k in range(14)), [])
    + [MARK] + alloc(7, 40000, 13 * 6 + 1) + [REWIND, 0, CHECK],
    # Thread-arena scopes, nested, with allocations in each.
    "scopes": [3, 0] + [SBEGIN, SALLOC, 1, 40, 0, SBEGIN, SALLOC, 6, 0, 20, SALLOC, 7, 0, 10,
                        SEND, SALLOC, 2, 7, 0, SEND, CHECK],
    # Containers: pushes, pops, appends, map puts and removes, a reset of their arena.
    "containers": [5, 0] + sum(([VEC, 1, i, 0] + [BUF, 30, i] + [MAP, 1, i]
                                for i in range(40)), [])
    + [VEC, 0, 0, 0, MAP, 0, 3, CVERIFY, CRESET, VEC, 1, 1, 1, CVERIFY],
    # Realloc growth chains on the newest block.
    "realloc": [1, 0] + alloc(1, 10, 0) + sum(([REALLOC, 0, 5, (40 * k) & 0xFF, (40 * k) >> 8]
                                              for k in range(1, 20)), []) + [CHECK],
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(b & 0xFF for b in data))


if __name__ == "__main__":
    main()
