# SPDX-License-Identifier: MIT
"""Compiler flags shared by every arenart package (one place, like abseil's copts)."""

# Warnings the library must compile cleanly under with both gcc and clang.
AR_WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-Wpointer-arith",
    "-Wcast-align",
    "-Wvla",
    "-Wformat=2",
]

# Exact ar_stats_t.allocs: the inline fast path counts its bumps only where this is defined
# (include/arenart/arena.h, AR_COUNT_INLINE_ALLOCS). The library and its tests count; user code,
# the benchmarks and the example server take the default, which does not.
AR_COUNT_COPTS = ["-DAR_COUNT_INLINE_ALLOCS"]

# The library itself: warnings are errors so a new one cannot slip in unnoticed.
AR_LIB_COPTS = AR_WARNINGS + AR_COUNT_COPTS + [
    "-Werror",
    "-D_GNU_SOURCE",
    "-fvisibility=hidden",
]

# Tests, stress programs and benchmarks: same warnings, but third-party headers (cmocka)
# are not held to -Werror, and missing-prototype noise from test bodies is off.
AR_TEST_COPTS = AR_COUNT_COPTS + [
    "-Wall",
    "-Wextra",
    "-D_GNU_SOURCE",
    "-Wno-missing-prototypes",
    "-Wno-unused-parameter",
]

# C++ compiles of our headers (header self-containment test).
AR_CXX_COPTS = ["-Wall", "-Wextra", "-Werror"]
