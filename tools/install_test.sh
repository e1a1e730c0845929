#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/install_test.sh - checks that an installed arenart works outside Bazel.
#
# Runs tools/install.sh into a temporary prefix, then builds a small C program with plain cc
# and pkg-config, twice:
#   shared   cc prog.c $(pkg-config --cflags --libs arenart), run with LD_LIBRARY_PATH
#   static   cc -static prog.c $(pkg-config --static --cflags --libs arenart)
# and checks the program's output. The program uses a serial arena, a ConcurrentArena from two
# threads, a scope on the thread arena and an arena handed between threads through an arena
# pool. It also checks that the header's version matches the library's. The shared build also
# uses NUMA placement (arenart/numa.h, -DWITH_NUMA); the static one does not, because a static
# program calling into hwloc needs hwloc's static dependencies (libudev), which Debian does not
# ship as static libraries.
#
# The debug flavor (libarenart-debug, arenart-debug.pc): installed under its own soname with the
# same exports; prog.c built against it through pkg-config gives the same output; and it is
# really the debug flavor: a small program (debug_check.c) that gives a block back twice with
# ar_free, reads memory after a rewind, and (run with "overflow") writes one byte past an
# allocation must see, built against the debug flavor, what docs/debugging.md promises for
# checked arenas (AR_DEBUG >= 2): the second ar_free refused with AR_EINVAL, 0xDD junk where the
# rewound block was, and an abort naming the overwritten guard byte at reset; built against
# the release flavor, none of it (both frees accepted, the old contents, no report). It runs
# shared and static (pkg-config --static arenart-debug).
#
# Then the CMake package (PREFIX/lib/cmake/arenart): a small project with a C program (the same
# prog.c, NUMA included) and a C++17 program using arenart/arenart.hpp is configured with
# find_package(arenart 0.1 REQUIRED) and built twice, linking arenart::arenart as the shared
# library and, with -Darenart_USE_STATIC_LIBS=ON, as the static one (the program must then
# not need libarenart.so); both programs are run and their output checked. The same project
# asks for COMPONENTS debug and builds prog.c and debug_check.c against arenart::arenart_debug
# (and debug_check.c against arenart::arenart), with the checks above. A request for a
# version of another major number, or for a component that does not exist, must be refused.
# If cmake is missing, the script installs it with apt-get (as root or through sudo -n); only if that fails does it skip this part,
# saying so ("install_test: SKIP cmake ...") before the PASS line.
#
# Prints "install_test: PASS" or "install_test: FAIL (...)" as its last line; the exit status
# is 0 only on PASS. Extra arguments go to `bazel build` (e.g. --jobs=1). Keeps the prefix
# and build directory when KEEP=1. Bazel's cache makes a repeated run take a few seconds.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

WORK="$(mktemp -d "${TMPDIR:-/tmp}/arenart-install-test.XXXXXX")"
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "install_test: keeping $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi
PREFIX="$WORK/prefix"

fail() {
  echo "install_test: FAIL ($*)"
  exit 1
}

echo "\$ PREFIX=$PREFIX tools/install.sh $*"
PREFIX="$PREFIX" tools/install.sh "$@" || fail "tools/install.sh exited with $?"

for f in lib/libarenart.a lib/libarenart.so.0.1.0 lib/libarenart.so.0 lib/libarenart.so \
  lib/libarenart-debug.a lib/libarenart-debug.so.0.1.0 lib/libarenart-debug.so.0 \
  lib/libarenart-debug.so lib/pkgconfig/arenart-debug.pc \
  lib/pkgconfig/arenart.pc include/arenart.h include/arenart/arena.h \
  include/arenart/arenart.hpp lib/cmake/arenart/arenartConfig.cmake \
  lib/cmake/arenart/arenartConfigVersion.cmake; do
  [[ -e "$PREFIX/$f" ]] || fail "missing $PREFIX/$f"
done
# Version-independent checks of the links: libarenart.so -> soname -> real file.
soname="$(readlink "$PREFIX/lib/libarenart.so")"
[[ "$soname" =~ ^libarenart\.so\.[0-9]+$ ]] || fail "libarenart.so points at '$soname'"
[[ -f "$PREFIX/lib/$(readlink "$PREFIX/lib/$soname")" ]] || fail "$soname is a dangling link"
# The debug flavor: its own soname (a program linked against one flavor never loads the other),
# recorded in the file itself.
debug_soname="$(readlink "$PREFIX/lib/libarenart-debug.so")"
[[ "$debug_soname" == "libarenart-debug.so.${soname#libarenart.so.}" ]] ||
  fail "libarenart-debug.so points at '$debug_soname' (release soname '$soname')"
[[ -f "$PREFIX/lib/$(readlink "$PREFIX/lib/$debug_soname")" ]] ||
  fail "$debug_soname is a dangling link"
for so in "$soname" "$debug_soname"; do
  recorded="$(readelf -d "$PREFIX/lib/$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
  [[ "$recorded" == "$so" ]] || fail "$so records the soname '$recorded'"
done
# The export list (runtime/libarenart.lds): ar_ names only, and no test hook; both flavors
# export the same names.
exports="$(nm -D --defined-only "$PREFIX/lib/$soname" | awk '{print $3}')"
[[ -z "$(grep -v '^ar_' <<<"$exports")" ]] || fail "exports beyond ar_: $(grep -v '^ar_' <<<"$exports" | head -3)"
! grep -q '^ar_stress_' <<<"$exports" || fail "the stress-test hook is exported"
debug_exports="$(nm -D --defined-only "$PREFIX/lib/$debug_soname" | awk '{print $3}')"
if [[ "$(sort <<<"$exports")" != "$(sort <<<"$debug_exports")" ]]; then
  diff <(sort <<<"$exports") <(sort <<<"$debug_exports") | head -8
  fail "the two flavors export different symbols"
fi

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
pc_version="$(pkg-config --modversion arenart)" || fail "pkg-config cannot find arenart"
pc_debug_version="$(pkg-config --modversion arenart-debug)" ||
  fail "pkg-config cannot find arenart-debug"
[[ "$pc_debug_version" == "$pc_version" ]] ||
  fail "arenart-debug.pc says $pc_debug_version, arenart.pc $pc_version"

cat >"$WORK/prog.c" <<'EOF'
/* Built outside Bazel against an installed arenart (tools/install_test.sh). */
#include <arenart.h>
#ifdef WITH_NUMA
#include <arenart/numa.h>
#endif

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define PER_THREAD 10000

static ar_concurrent_t *shared;
static ar_arena_pool_t *pool;

/* Fills PER_THREAD blocks from the shared arena and checks none was overwritten. */
static void *concurrent_worker(void *arg) {
  unsigned tag = (unsigned)(size_t)arg;
  static unsigned *blocks[2][PER_THREAD];
  for (int i = 0; i < PER_THREAD; i++) {
    unsigned *p = ar_concurrent_alloc(shared, 4 * sizeof(unsigned));
    if (p == NULL) return (void *)"alloc failed";
    for (int k = 0; k < 4; k++) p[k] = tag * 1000000u + (unsigned)i;
    blocks[tag][i] = p;
  }
  for (int i = 0; i < PER_THREAD; i++)
    for (int k = 0; k < 4; k++)
      if (blocks[tag][i][k] != tag * 1000000u + (unsigned)i) return (void *)"overwritten";
  return NULL;
}

/* Receives a request arena from main, adopts it, adds to it and gives it back to the pool. */
static void *handoff_worker(void *arg) {
  ar_arena_t *req = arg;
  ar_arena_adopt(req);
  char *s = ar_sprintf(req, "handled by worker");
  if (s == NULL) return (void *)"sprintf failed";
  printf("handoff: %s\n", s);
  return ar_arena_pool_give(pool, req) == AR_OK ? NULL : (void *)"give failed";
}

int main(void) {
  if (strcmp(ar_version(), AR_VERSION_STRING) != 0) {
    printf("version mismatch: header %s, library %s\n", AR_VERSION_STRING, ar_version());
    return 1;
  }
  printf("version: %s\n", ar_version());

  /* Serial arena. */
  ar_options_t opts;
  ar_options_init(&opts);
  opts.name = "install-test";
  ar_arena_t *arena = ar_arena_create(&opts);
  if (arena == NULL) return 1;
  long sum = 0;
  for (int i = 0; i < 1000; i++) {
    long *v = AR_NEW(arena, long);
    if (v == NULL) return 1;
    *v = i;
    sum += *v;
  }
  char *hello = ar_strdup(arena, "hello");
  printf("serial: sum=%ld %s owns=%d name=%s\n", sum, hello, ar_owns(arena, hello),
         ar_arena_name(arena));
  ar_arena_destroy(arena);

  /* ConcurrentArena shared by two threads. */
  shared = ar_concurrent_create(NULL);
  if (shared == NULL) return 1;
  pthread_t t[2];
  void *res[2];
  for (size_t i = 0; i < 2; i++) pthread_create(&t[i], NULL, concurrent_worker, (void *)i);
  for (int i = 0; i < 2; i++) pthread_join(t[i], &res[i]);
  for (int i = 0; i < 2; i++)
    if (res[i] != NULL) {
      printf("concurrent: thread %d: %s\n", i, (const char *)res[i]);
      return 1;
    }
  ar_stats_t st;
  if (ar_concurrent_stats(shared, &st) != AR_OK) return 1;
  printf("concurrent: 2 threads x %d blocks ok\n", PER_THREAD);
  ar_concurrent_destroy(shared);

  /* A request scope on the thread arena: everything in it is gone at the end. */
  ar_scope_t scope = ar_scope_begin();
  char *line = ar_sprintf(scope.arena, "scope %d", 42);
  if (line == NULL) return 1;
  printf("scope: %s\n", line);
  printf("scope: end=%d\n", ar_scope_end(&scope));

  /* An arena from a pool, handed to another thread. */
  pool = ar_arena_pool_create(NULL);
  if (pool == NULL) return 1;
  ar_arena_t *req = ar_arena_pool_take(pool);
  if (req == NULL || ar_strdup(req, "parsed by main") == NULL) return 1;
  pthread_t w;
  pthread_create(&w, NULL, handoff_worker, req); /* pthread_create: happens-before edge */
  pthread_join(w, &res[0]);
  if (res[0] != NULL) {
    printf("handoff: %s\n", (const char *)res[0]);
    return 1;
  }
  ar_arena_pool_stats_t ps;
  if (ar_arena_pool_stats(pool, &ps) != AR_OK) return 1;
  printf("pool: idle=%zu taken=%zu\n", ps.idle, ps.taken);
  ar_arena_pool_destroy(pool);

  printf("errors: %s\n", ar_strerror(AR_EALIGN));

#ifdef WITH_NUMA
  /* NUMA placement: a per-node arena on the node this thread runs on. */
  if (ar_numa_init(NULL) != AR_OK) {
    printf("numa: init failed: %s\n", ar_numa_last_failure());
    return 1;
  }
  int node = ar_numa_current_node();
  ar_concurrent_t *near = node >= 0 ? ar_node_arena(node) : NULL;
  char *data = near != NULL ? ar_concurrent_alloc(near, 100) : NULL;
  ar_numa_node_stats_t ns;
  int ok = data != NULL && ar_numa_stats(node, &ns) == AR_OK && ns.local + ns.remote >= 1;
  ar_numa_shutdown();
  printf("numa: %s\n", ok ? "ok" : "failed");
#endif
  printf("done\n");
  return 0;
}
EOF

cat >"$WORK/expected" <<EOF
version: $pc_version
serial: sum=499500 hello owns=1 name=install-test
concurrent: 2 threads x 10000 blocks ok
scope: scope 42
scope: end=0
handoff: handled by worker
pool: idle=1 taken=0
errors: alignment is zero or not a power of two
numa: ok
done
EOF
grep -v '^numa: ' "$WORK/expected" >"$WORK/expected-static"

CC="${CC:-cc}"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -O1)

# run_case NAME BINARY EXPECTED [ENV...]: runs BINARY and compares its output with EXPECTED.
run_case() {
  local name="$1" bin="$2" expected="$3"
  shift 3
  if ! env "$@" timeout 60 "$bin" >"$WORK/$name.out" 2>&1; then
    cat "$WORK/$name.out"
    fail "$name: the program exited with an error"
  fi
  if ! diff -u "$expected" "$WORK/$name.out"; then
    fail "$name: unexpected output"
  fi
  echo "install_test: $name ok"
}

# Shared: the library is found through LD_LIBRARY_PATH only (no rpath).
read -r -a pc_shared <<<"$(pkg-config --cflags --libs arenart)"
echo "\$ $CC ${CFLAGS[*]} -DWITH_NUMA prog.c ${pc_shared[*]} -o prog-shared"
"$CC" "${CFLAGS[@]}" -DWITH_NUMA "$WORK/prog.c" "${pc_shared[@]}" -o "$WORK/prog-shared" ||
  fail "shared: compile/link failed"
needed="$(readelf -d "$WORK/prog-shared" | sed -n 's/.*(NEEDED).*\[\(libarenart[^]]*\)\].*/\1/p')"
[[ "$needed" == "$soname" ]] || fail "shared: the program needs '$needed', expected '$soname'"
run_case shared "$WORK/prog-shared" "$WORK/expected" LD_LIBRARY_PATH="$PREFIX/lib"

# Static: -static makes -larenart pick libarenart.a; Libs.private supplies its dependencies.
read -r -a pc_static <<<"$(pkg-config --static --cflags --libs arenart)"
echo "\$ $CC -static ${CFLAGS[*]} prog.c ${pc_static[*]} -o prog-static"
"$CC" -static "${CFLAGS[@]}" "$WORK/prog.c" "${pc_static[@]}" -o "$WORK/prog-static" ||
  fail "static: compile/link failed"
if readelf -d "$WORK/prog-static" 2>/dev/null | grep -q NEEDED; then
  fail "static: the program still has dynamic dependencies"
fi
run_case static "$WORK/prog-static" "$WORK/expected-static"

# ---- the debug flavor --------------------------------------------------------------------
cat >"$WORK/debug_check.c" <<'EOF'
/* Tells arenart's debug flavor from the release one (tools/install_test.sh) by what
 * docs/debugging.md promises for checked arenas, which every arena of the debug flavor
 * (AR_DEBUG=2) is, and the release flavor (AR_DEBUG 0) does not check. */
#include <arenart.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  ar_arena_t *a = ar_arena_create(NULL);
  if (a == NULL) return 1;
  if (argc > 1 && strcmp(argv[1], "overflow") == 0) {
    /* One byte past a 13-byte allocation: the guard byte after it is checked at reset. */
    char *z = ar_alloc(a, 13);
    volatile size_t past = 13;
    if (z == NULL) return 1;
    z[past] = 'x';
    ar_reset(a);
    printf("overflow: not reported\n");
    ar_arena_destroy(a);
    return 0;
  }

  /* A block given back twice. x is not the most recent allocation, so the checks that every
   * build makes (a block reaching past the memory handed out) do not apply. */
  char *x = ar_alloc(a, 32);
  char *y = ar_alloc(a, 32);
  if (x == NULL || y == NULL) return 1;
  int first = ar_free(a, x, 32);
  int second = ar_free(a, x, 32);
  printf("double free: first %d, second %d\n", first, second);
  ar_arena_destroy(a);

  /* A read after a rewind took the block back (the chunk stays with the arena). */
  ar_arena_t *b = ar_arena_create(NULL);
  if (b == NULL) return 1;
  ar_mark_t m = ar_mark(b);
  unsigned char *p = ar_alloc(b, 64);
  if (p == NULL) return 1;
  memset(p, 'A', 64);
  if (ar_rewind(b, &m) != AR_OK) return 1;
  unsigned char seen = *(volatile unsigned char *)p;
  printf("use after rewind: %s\n",
         seen == 0xDD ? "junk" : seen == 'A' ? "old contents" : "something else");
  ar_arena_destroy(b);
  return 0;
}
EOF
printf 'double free: first 0, second %d\nuse after rewind: junk\n' 1 >"$WORK/expected-debug-check"
printf 'double free: first 0, second 0\nuse after rewind: old contents\n' \
  >"$WORK/expected-release-check"

# check_flavor NAME BINARY debug|release [ENV...]: runs debug_check as built, then with
# "overflow", and checks that the debug flavor reports what the release flavor does not.
check_flavor() {
  local name="$1" bin="$2" kind="$3"
  shift 3
  run_case "$name" "$bin" "$WORK/expected-$kind-check" "$@"
  local out="$WORK/$name-overflow.out" rc
  # (The braces keep bash's own "Aborted" line out of the log: the abort is expected.)
  { env "$@" timeout 60 "$bin" overflow >"$out" 2>&1; } 2>/dev/null
  rc=$?
  if [[ "$kind" == debug ]]; then
    if ((rc == 0)) || ! grep -q "overwritten guard byte" "$out"; then
      cat "$out"
      fail "$name overflow: the debug flavor did not report the overwritten guard byte (exit $rc)"
    fi
  elif ((rc != 0)) || [[ "$(cat "$out")" != "overflow: not reported" ]]; then
    cat "$out"
    fail "$name overflow: the release flavor reported something (exit $rc)"
  fi
  echo "install_test: $name overflow ok"
}

# Shared, through pkg-config: the whole program against the debug flavor, then the check
# program against each flavor.
read -r -a pc_debug <<<"$(pkg-config --cflags --libs arenart-debug)"
echo "\$ $CC ${CFLAGS[*]} -DWITH_NUMA prog.c ${pc_debug[*]} -o prog-debug"
"$CC" "${CFLAGS[@]}" -DWITH_NUMA "$WORK/prog.c" "${pc_debug[@]}" -o "$WORK/prog-debug" ||
  fail "debug shared: compile/link failed"
needed="$(readelf -d "$WORK/prog-debug" | sed -n 's/.*(NEEDED).*\[\(libarenart[^]]*\)\].*/\1/p')"
[[ "$needed" == "$debug_soname" ]] ||
  fail "debug shared: the program needs '$needed', expected '$debug_soname'"
run_case debug-shared "$WORK/prog-debug" "$WORK/expected" LD_LIBRARY_PATH="$PREFIX/lib"

for flavor in debug release; do
  pc_name=arenart
  [[ "$flavor" == debug ]] && pc_name=arenart-debug
  read -r -a pc_flags <<<"$(pkg-config --cflags --libs "$pc_name")"
  echo "\$ $CC ${CFLAGS[*]} debug_check.c ${pc_flags[*]} -o check-$flavor"
  "$CC" "${CFLAGS[@]}" "$WORK/debug_check.c" "${pc_flags[@]}" -o "$WORK/check-$flavor" ||
    fail "check-$flavor: compile/link failed"
  check_flavor "check-$flavor" "$WORK/check-$flavor" "$flavor" LD_LIBRARY_PATH="$PREFIX/lib"
done

# Static: -static makes -larenart-debug pick libarenart-debug.a.
read -r -a pc_debug_static <<<"$(pkg-config --static --cflags --libs arenart-debug)"
echo "\$ $CC -static ${CFLAGS[*]} debug_check.c ${pc_debug_static[*]} -o check-debug-static"
"$CC" -static "${CFLAGS[@]}" "$WORK/debug_check.c" "${pc_debug_static[@]}" \
  -o "$WORK/check-debug-static" || fail "check-debug-static: compile/link failed"
if readelf -d "$WORK/check-debug-static" 2>/dev/null | grep -q NEEDED; then
  fail "check-debug-static: the program still has dynamic dependencies"
fi
check_flavor check-debug-static "$WORK/check-debug-static" debug

# ---- CMake: find_package(arenart) ------------------------------------------------------
cmake_skipped=""
if ! command -v cmake >/dev/null 2>&1; then
  if [[ "$(id -u)" -eq 0 ]]; then
    apt_get=(apt-get)
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt_get=(sudo -n apt-get)
  else
    apt_get=()
  fi
  if ((${#apt_get[@]} > 0)); then
    echo "\$ ${apt_get[*]} install -y cmake"
    "${apt_get[@]}" install -y -qq cmake >/dev/null 2>&1 ||
      { "${apt_get[@]}" update -qq >/dev/null 2>&1 &&
        "${apt_get[@]}" install -y -qq cmake >/dev/null 2>&1; } || true
  fi
  command -v cmake >/dev/null 2>&1 ||
    cmake_skipped="cmake is not installed and apt-get could not install it"
fi

if [[ -z "$cmake_skipped" ]]; then
  mkdir -p "$WORK/cmake-src"
  cp "$WORK/prog.c" "$WORK/cmake-src/prog.c"
  cp "$WORK/debug_check.c" "$WORK/cmake-src/debug_check.c"
  cat >"$WORK/cmake-src/prog.cc" <<'EOF_CC'
// Built by CMake against an installed arenart (tools/install_test.sh): the C++ wrapper.
#include <arenart/arenart.hpp>

#include <cstdio>
#include <memory_resource>
#include <string>
#include <vector>

int main() {
  arenart::arena arena("cmake-cpp");
  size_t total = 0;
  {
    arenart::arena_resource mr(arena);
    std::pmr::vector<std::pmr::string> words(&mr);
    for (int i = 0; i < 100; i++) words.emplace_back("a string longer than the small buffer");
    for (const auto &w : words) total += w.size();
    if (!arena.owns(words.data()) || !arena.owns(words[99].data())) return 1;
  }
  arena.reset();
  arenart::scope s;
  arenart::thread_resource tr;
  std::pmr::string line("in a scope on the thread arena", &tr);
  std::printf("cpp: %zu bytes in pmr strings; %s\n", total, line.c_str());
  return 0;
}
EOF_CC
  cat >"$WORK/cmake-src/CMakeLists.txt" <<'EOF_CMAKE'
cmake_minimum_required(VERSION 3.13)
project(arenart_consumer C CXX)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(NOT DEFINED WANT_VERSION)
  set(WANT_VERSION 0.1)
endif()
if(NOT DEFINED WANT_COMPONENTS)
  set(WANT_COMPONENTS debug)
endif()
find_package(arenart ${WANT_VERSION} REQUIRED COMPONENTS ${WANT_COMPONENTS})
message(STATUS "arenart ${arenart_VERSION}: ${arenart_LIBRARY}; debug: ${arenart_DEBUG_LIBRARY}")
add_executable(prog prog.c)
target_compile_definitions(prog PRIVATE WITH_NUMA)
target_compile_options(prog PRIVATE -Wall -Wextra -Werror)
set_property(TARGET prog PROPERTY C_STANDARD 11)
target_link_libraries(prog PRIVATE arenart::arenart)
add_executable(prog_cpp prog.cc)
target_compile_options(prog_cpp PRIVATE -Wall -Wextra -Werror)
target_link_libraries(prog_cpp PRIVATE arenart::arenart)
add_executable(prog_debug prog.c)
target_compile_definitions(prog_debug PRIVATE WITH_NUMA)
target_compile_options(prog_debug PRIVATE -Wall -Wextra -Werror)
set_property(TARGET prog_debug PROPERTY C_STANDARD 11)
target_link_libraries(prog_debug PRIVATE arenart::arenart_debug)
foreach(flavor debug release)
  add_executable(check_${flavor} debug_check.c)
  target_compile_options(check_${flavor} PRIVATE -Wall -Wextra -Werror)
  set_property(TARGET check_${flavor} PROPERTY C_STANDARD 11)
endforeach()
target_link_libraries(check_debug PRIVATE arenart::arenart_debug)
target_link_libraries(check_release PRIVATE arenart::arenart)
EOF_CMAKE
  echo "cpp: 3700 bytes in pmr strings; in a scope on the thread arena" >"$WORK/expected-cpp"

  for flavor in shared static; do
    bdir="$WORK/cmake-$flavor"
    use_static=OFF
    [[ "$flavor" == static ]] && use_static=ON
    echo "\$ cmake -S cmake-src -B cmake-$flavor -DCMAKE_PREFIX_PATH=$PREFIX -Darenart_USE_STATIC_LIBS=$use_static"
    if ! cmake -S "$WORK/cmake-src" -B "$bdir" -DCMAKE_PREFIX_PATH="$PREFIX" \
      -Darenart_USE_STATIC_LIBS="$use_static" >"$WORK/cmake-$flavor.log" 2>&1; then
      cat "$WORK/cmake-$flavor.log"
      fail "cmake $flavor: configure failed"
    fi
    if ! cmake --build "$bdir" >>"$WORK/cmake-$flavor.log" 2>&1; then
      cat "$WORK/cmake-$flavor.log"
      fail "cmake $flavor: build failed"
    fi
    needed="$(readelf -d "$bdir/prog" | sed -n 's/.*(NEEDED).*\[\(libarenart[^]]*\)\].*/\1/p')"
    if [[ "$flavor" == shared && "$needed" != "$soname" ]]; then
      fail "cmake shared: the program needs '$needed', expected '$soname'"
    fi
    if [[ "$flavor" == static && -n "$needed" ]]; then
      fail "cmake static: the program still needs '$needed'"
    fi
    run_case "cmake-$flavor" "$bdir/prog" "$WORK/expected" LD_LIBRARY_PATH="$PREFIX/lib"
    run_case "cmake-$flavor-cpp" "$bdir/prog_cpp" "$WORK/expected-cpp" LD_LIBRARY_PATH="$PREFIX/lib"
    # arenart::arenart_debug: the debug flavor, shared or static like arenart::arenart.
    needed="$(readelf -d "$bdir/prog_debug" |
      sed -n 's/.*(NEEDED).*\[\(libarenart[^]]*\)\].*/\1/p')"
    if [[ "$flavor" == shared && "$needed" != "$debug_soname" ]]; then
      fail "cmake shared: prog_debug needs '$needed', expected '$debug_soname'"
    fi
    if [[ "$flavor" == static && -n "$needed" ]]; then
      fail "cmake static: prog_debug still needs '$needed'"
    fi
    run_case "cmake-$flavor-debug" "$bdir/prog_debug" "$WORK/expected" LD_LIBRARY_PATH="$PREFIX/lib"
    check_flavor "cmake-$flavor-check-debug" "$bdir/check_debug" debug LD_LIBRARY_PATH="$PREFIX/lib"
    check_flavor "cmake-$flavor-check-release" "$bdir/check_release" release \
      LD_LIBRARY_PATH="$PREFIX/lib"
  done

  # A component that does not exist must be refused.
  if cmake -S "$WORK/cmake-src" -B "$WORK/cmake-nosuch" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DWANT_COMPONENTS=nosuch >"$WORK/cmake-nosuch.log" 2>&1; then
    fail "cmake: find_package(arenart COMPONENTS nosuch) succeeded"
  fi
  grep -q "has no component 'nosuch'" "$WORK/cmake-nosuch.log" ||
    { cat "$WORK/cmake-nosuch.log"; fail "cmake: COMPONENTS nosuch failed for another reason"; }
  echo "install_test: cmake component check ok"

  # Another major version must be refused by arenartConfigVersion.cmake.
  if cmake -S "$WORK/cmake-src" -B "$WORK/cmake-v99" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DWANT_VERSION=99.0 >"$WORK/cmake-v99.log" 2>&1; then
    fail "cmake: find_package(arenart 99.0) succeeded against $pc_version"
  fi
  grep -q "compatible with requested version" "$WORK/cmake-v99.log" ||
    { cat "$WORK/cmake-v99.log"; fail "cmake: find_package(arenart 99.0) failed for another reason"; }
  echo "install_test: cmake version check ok"
else
  echo "install_test: SKIP cmake part ($cmake_skipped; install the Debian package cmake)"
fi

echo "install_test: PASS"
