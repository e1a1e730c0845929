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

# The library itself: warnings are errors so a new one cannot slip in unnoticed.
AR_LIB_COPTS = AR_WARNINGS + [
    "-Werror",
    "-D_GNU_SOURCE",
    "-fvisibility=hidden",
]

# Tests, stress programs and benchmarks: same warnings, but third-party headers (cmocka)
# are not held to -Werror, and missing-prototype noise from test bodies is off.
AR_TEST_COPTS = [
    "-Wall",
    "-Wextra",
    "-D_GNU_SOURCE",
    "-Wno-missing-prototypes",
    "-Wno-unused-parameter",
]

# C++ compiles of our headers (header self-containment test).
AR_CXX_COPTS = ["-Wall", "-Wextra", "-Werror"]
