#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/install.sh - builds arenart optimised (bazel --config=opt) and, beside it, its debug
# flavor (bazel --config=debug), and installs both for use outside Bazel (Make, CMake, Meson,
# plain cc):
#
#   PREFIX/lib/libarenart.a               static library (every runtime and NUMA object)
#   PREFIX/lib/libarenart.so.X.Y.Z        shared library, soname libarenart.so.X: the runtime
#                                         and NUMA placement (//numa:libarenart.so; needs
#                                         libhwloc at run time)
#   PREFIX/lib/libarenart.so.X  -> libarenart.so.X.Y.Z
#   PREFIX/lib/libarenart.so    -> libarenart.so.X
#   PREFIX/lib/libarenart-debug.a, libarenart-debug.so.X.Y.Z (soname libarenart-debug.so.X),
#     libarenart-debug.so.X, libarenart-debug.so
#                                         the debug flavor: the same objects built with
#                                         AR_DEBUG=2 at -O0 -g (every serial arena is a checked arena:
#                                         guard bytes, 0xDD junk in freed memory, ar_free that
#                                         refuses a block given back twice; debug asserts,
#                                         owner-thread checks; see docs/debugging.md). Same
#                                         headers and ABI, so a program switches flavor by
#                                         linking the other library; its own soname keeps the
#                                         two apart at load time
#   PREFIX/include/arenart.h, PREFIX/include/arenart/*.h, PREFIX/include/arenart/*.hpp
#   PREFIX/lib/pkgconfig/arenart.pc, arenart-debug.pc
#   PREFIX/lib/cmake/arenart/arenartConfig.cmake, arenartConfigVersion.cmake
#                                         find_package(arenart): imported targets
#                                         arenart::arenart, arenart::shared, arenart::static,
#                                         and for the debug flavor arenart::arenart_debug,
#                                         arenart::debug_shared, arenart::debug_static
#                                         (from tools/cmake/*.cmake.in)
#
# WITH_DEBUG=0 installs the release flavor only (and removes a debug flavor installed earlier
# in the same prefix); the debug build costs a second compile of the library.
#
# Usage:
#   tools/install.sh                           # PREFIX=/usr/local (needs write access there)
#   PREFIX=$HOME/.local tools/install.sh
#   DESTDIR=/tmp/stage PREFIX=/usr tools/install.sh   # staged install for packaging: files go
#                                                     # under DESTDIR, arenart.pc says /usr
#   tools/install.sh --jobs=1                  # extra arguments go to `bazel build`
#
# Idempotent: running it again rebuilds only what changed and overwrites the installed files
# (headers that no longer exist in include/arenart/ are removed from PREFIX/include/arenart/).
# Run as root for a system prefix; when installing into /usr or /usr/local as root it runs
# ldconfig afterwards. The version is AR_VERSION_STRING from include/arenart/common.h.
#
# The library's own link dependencies (Libs.private in arenart.pc and arenart-debug.pc, and
# the link interface of the CMake targets arenart::static and arenart::debug_static) are read
# from the link command Bazel used for //numa:libarenart.so, so they follow third_party/BUILD.
# They are Libs.private and not Requires.private on purpose: Requires.private hwloc would add hwloc's own static
# dependencies (libudev) to every `pkg-config --static`, which breaks static programs that
# never call the NUMA API, on a system (Debian) without a static libudev. A static
# program that calls the NUMA API (arenart/numa.h) also needs hwloc's own static dependencies
# (pkg-config --static hwloc); one that does not pulls no hwloc code in.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
case "$PREFIX" in
  /*) ;;
  *) echo "install: PREFIX must be an absolute path (got '$PREFIX')" >&2; exit 1 ;;
esac
while [[ "$PREFIX" == */ ]]; do PREFIX="${PREFIX%/}"; done # "/usr/" -> "/usr", "/" -> ""

LIBDIR="$PREFIX/lib"
INCLUDEDIR="$PREFIX/include"
PCDIR="$LIBDIR/pkgconfig"

# ---- version ---------------------------------------------------------------------------
version_field() {
  sed -n "s/^#define $1 \(.*\)\$/\1/p" include/arenart/common.h | head -n 1
}
VERSION="$(version_field AR_VERSION_STRING | tr -d '"')"
MAJOR="$(version_field AR_VERSION_MAJOR)"
MINOR="$(version_field AR_VERSION_MINOR)"
PATCH="$(version_field AR_VERSION_PATCH)"
if [[ ! "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || [[ "$VERSION" != "$MAJOR.$MINOR.$PATCH" ]]; then
  echo "install: cannot read a consistent version from include/arenart/common.h" \
    "(AR_VERSION_STRING='$VERSION', AR_VERSION_MAJOR='$MAJOR')" >&2
  exit 1
fi
SONAME="libarenart.so.$MAJOR"
REALNAME="libarenart.so.$VERSION"
DEBUG_SONAME="libarenart-debug.so.$MAJOR"
DEBUG_REALNAME="libarenart-debug.so.$VERSION"
WITH_DEBUG="${WITH_DEBUG:-1}"
if [[ "$WITH_DEBUG" != 0 && "$WITH_DEBUG" != 1 ]]; then
  echo "install: WITH_DEBUG must be 0 or 1 (got '$WITH_DEBUG')" >&2
  exit 1
fi

# ---- build ---------------------------------------------------------------------------
# build_flavor NAME SONAME BAZEL_FLAGS...: builds //numa:libarenart.so with those flags, checks
# its soname and exports, and merges the same objects into one static archive. Sets
# FLAVOR_SO (the shared library), FLAVOR_A (the archive, under $WORK) and LIBS_PRIVATE (the
# link dependencies, from the link's parameter file).
TARGET=//numa:libarenart.so
WORK="$(mktemp -d "${TMPDIR:-/tmp}/arenart-install.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

build_flavor() {
  local name="$1" soname="$2"
  shift 2
  local flags=("$@")
  echo "install: bazel build ${flags[*]} ${EXTRA[*]-} $TARGET ($name)" >&2
  bazel build --noshow_progress --color=no --curses=no "${flags[@]}" "${EXTRA[@]}" "$TARGET"
  local execroot bin
  execroot="$(bazel info "${flags[@]}" "${EXTRA[@]}" execution_root 2>/dev/null)"
  bin="$(bazel info "${flags[@]}" "${EXTRA[@]}" bazel-bin 2>/dev/null)"
  FLAVOR_SO="$bin/numa/libarenart.so"

  # The link's parameter file lists exactly what went into the shared library: the archives
  # (whole, thanks to alwayslink) and the system libraries.
  local params
  params="$(ls "$bin"/numa/libarenart.so-*.params 2>/dev/null | head -n 1 || true)"
  if [[ ! -f "$FLAVOR_SO" || -z "$params" ]]; then
    echo "install: $FLAVOR_SO or its link parameter file is missing after the build" >&2
    exit 1
  fi

  local archives=() arg needs_pthread=0
  LIBS_PRIVATE=()
  while IFS= read -r arg; do
    case "$arg" in
      -lstdc++ | -lm) ;; # added by the C++-capable toolchain; the C library does not use them
      -pthread | -lpthread) needs_pthread=1 ;; # goes last: the other libraries use it
      -l*) [[ " ${LIBS_PRIVATE[*]-} " == *" $arg "* ]] || LIBS_PRIVATE+=("$arg") ;;
      *.a | *.lo | *.o) archives+=("$execroot/$arg") ;;
    esac
  done <"$params"
  ((needs_pthread == 0)) || LIBS_PRIVATE+=(-lpthread)
  if ((${#archives[@]} == 0)); then
    echo "install: no archives found in $params" >&2
    exit 1
  fi

  # Check what was built: the soname, and that the public API is really in there (a
  # linkshared cc_binary silently drops library objects that nothing references).
  local actual_soname exported sym
  actual_soname="$(readelf -d "$FLAVOR_SO" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
  if [[ "$actual_soname" != "$soname" ]]; then
    echo "install: $FLAVOR_SO ($name) has soname '$actual_soname', expected '$soname'" \
      "(AR_VERSION_MAJOR and numa/BUILD disagree)" >&2
    exit 1
  fi
  exported="$(nm -D --defined-only "$FLAVOR_SO")"
  for sym in ar_arena_create ar_alloc_slow_ ar_concurrent_alloc_slow_ ar_scope_begin \
    ar_arena_pool_take ar_version ar_numa_init ar_node_arena ar_trim; do
    if ! grep -qw "$sym" <<<"$exported"; then
      echo "install: $FLAVOR_SO ($name) does not export $sym" >&2
      exit 1
    fi
  done

  # The static library: the same objects as the shared one, in one archive.
  FLAVOR_A="$WORK/$name/libarenart.a"
  mkdir -p "$WORK/$name"
  local a
  {
    echo "CREATE $FLAVOR_A"
    for a in "${archives[@]}"; do
      case "$a" in
        *.o) echo "ADDMOD $a" ;;
        *) echo "ADDLIB $a" ;;
      esac
    done
    echo "SAVE"
    echo "END"
  } >"$WORK/$name/ar.mri"
  ar -M <"$WORK/$name/ar.mri"
  ranlib "$FLAVOR_A"
  if ! grep -qw ar_arena_create <<<"$(nm --defined-only "$FLAVOR_A" 2>/dev/null)"; then
    echo "install: the merged static library ($name) lacks ar_arena_create" >&2
    exit 1
  fi
}

EXTRA=("$@")
# Release: optimised, no debug checks (AR_DEBUG 0).
build_flavor release "$SONAME" --config=opt
SO="$FLAVOR_SO"
STATIC_A="$FLAVOR_A"
RELEASE_LIBS_PRIVATE=("${LIBS_PRIVATE[@]-}")
# Debug: the same target with the debug configuration of .bazelrc (-O0 -g, AR_DEBUG=2) and its
# own soname. The soname is the only link option that differs, and the last -soname the
# linker sees wins, so a --linkopt is enough and numa/BUILD keeps one target for both.
if [[ "$WITH_DEBUG" == 1 ]]; then
  build_flavor debug "$DEBUG_SONAME" --config=debug "--linkopt=-Wl,-soname,$DEBUG_SONAME"
  DEBUG_SO="$FLAVOR_SO"
  DEBUG_A="$FLAVOR_A"
  DEBUG_LIBS_PRIVATE=("${LIBS_PRIVATE[@]-}")
fi

# ---- pkg-config files --------------------------------------------------------------------
# write_pc FILE NAME LIB DESCRIPTION LIBS_PRIVATE...
write_pc() {
  local file="$1" name="$2" lib="$3" description="$4"
  shift 4
  cat >"$file" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: $name
Description: $description
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -l$lib
Libs.private: $*
EOF
}
write_pc "$WORK/arenart.pc" arenart arenart \
  "Lock-free arena (region) memory runtime for multithreaded servers" \
  "${RELEASE_LIBS_PRIVATE[@]-}"
if [[ "$WITH_DEBUG" == 1 ]]; then
  write_pc "$WORK/arenart-debug.pc" arenart-debug arenart-debug \
    "arenart, debug flavor (AR_DEBUG=2: every arena checked, debug asserts; -O0 -g)" \
    "${DEBUG_LIBS_PRIVATE[@]-}"
fi

# ---- CMake package files -----------------------------------------------------------------
# The static targets' link interface: the same libraries as Libs.private, pthread as CMake's
# Threads::Threads (the config file finds Threads first).
cmake_deps() {
  local deps=() lib
  for lib in "$@"; do
    case "$lib" in
      -lpthread) deps+=("Threads::Threads") ;;
      -l*) deps+=("${lib#-l}") ;;
    esac
  done
  (IFS=';'; echo "${deps[*]-}")
}
STATIC_DEPS_CMAKE="$(cmake_deps "${RELEASE_LIBS_PRIVATE[@]-}")"
DEBUG_STATIC_DEPS_CMAKE=""
if [[ "$WITH_DEBUG" == 1 ]]; then
  DEBUG_STATIC_DEPS_CMAKE="$(cmake_deps "${DEBUG_LIBS_PRIVATE[@]-}")"
fi
for f in arenartConfig arenartConfigVersion; do
  sed -e "s|@AR_VERSION@|$VERSION|g" -e "s|@AR_MAJOR@|$MAJOR|g" -e "s|@AR_MINOR@|$MINOR|g" \
    -e "s|@AR_PATCH@|$PATCH|g" -e "s|@AR_STATIC_DEPS@|$STATIC_DEPS_CMAKE|g" \
    -e "s|@AR_STATIC_DEPS_TEXT@|${RELEASE_LIBS_PRIVATE[*]-}|g" \
    -e "s|@AR_DEBUG_STATIC_DEPS@|$DEBUG_STATIC_DEPS_CMAKE|g" \
    "tools/cmake/$f.cmake.in" >"$WORK/$f.cmake"
  if grep -q '@AR_[A-Z_]*@' "$WORK/$f.cmake"; then
    echo "install: tools/cmake/$f.cmake.in has a field install.sh does not fill" >&2
    exit 1
  fi
done

# ---- install -----------------------------------------------------------------------------
D_LIB="$DESTDIR$LIBDIR"
D_INC="$DESTDIR$INCLUDEDIR"
D_PC="$DESTDIR$PCDIR"
D_CMAKE="$D_LIB/cmake/arenart"
install -d -m 0755 "$D_LIB" "$D_INC/arenart" "$D_PC" "$D_CMAKE"

install -m 0644 "$STATIC_A" "$D_LIB/libarenart.a"
install -m 0755 "$SO" "$D_LIB/$REALNAME"
ln -sfn "$REALNAME" "$D_LIB/$SONAME"
ln -sfn "$SONAME" "$D_LIB/libarenart.so"
install -m 0644 "$WORK/arenart.pc" "$D_PC/arenart.pc"

if [[ "$WITH_DEBUG" == 1 ]]; then
  install -m 0644 "$DEBUG_A" "$D_LIB/libarenart-debug.a"
  install -m 0755 "$DEBUG_SO" "$D_LIB/$DEBUG_REALNAME"
  ln -sfn "$DEBUG_REALNAME" "$D_LIB/$DEBUG_SONAME"
  ln -sfn "$DEBUG_SONAME" "$D_LIB/libarenart-debug.so"
  install -m 0644 "$WORK/arenart-debug.pc" "$D_PC/arenart-debug.pc"
else
  # A release-only install over an older one must not leave a debug flavor of another version
  # behind: the CMake package defines its debug targets whenever these files exist.
  rm -f "$D_LIB/libarenart-debug.a" "$D_LIB/libarenart-debug.so" "$D_LIB/$DEBUG_SONAME" \
    "$D_LIB/$DEBUG_REALNAME" "$D_PC/arenart-debug.pc"
fi

install -m 0644 include/arenart.h "$D_INC/arenart.h"
install -m 0644 include/arenart/*.h include/arenart/*.hpp "$D_INC/arenart/"
for h in "$D_INC"/arenart/*.h "$D_INC"/arenart/*.hpp; do
  [[ ! -e "$h" || -e "include/arenart/$(basename "$h")" ]] || rm -f "$h"
done

install -m 0644 "$WORK/arenartConfig.cmake" "$WORK/arenartConfigVersion.cmake" "$D_CMAKE/"

if [[ -z "$DESTDIR" && "$(id -u)" -eq 0 && ("$PREFIX" == /usr || "$PREFIX" == /usr/local) ]]; then
  ldconfig || true
fi

echo "install: arenart $VERSION installed into ${DESTDIR}${PREFIX:-/}" >&2
echo "install:   cc prog.c \$(pkg-config --cflags --libs arenart)" \
  "# with PKG_CONFIG_PATH=$PCDIR if pkg-config does not search it" >&2
echo "install:   CMake: find_package(arenart) and link arenart::arenart" \
  "# with CMAKE_PREFIX_PATH=$PREFIX if CMake does not search it" >&2
if [[ "$WITH_DEBUG" == 1 ]]; then
  echo "install:   debug flavor: pkg-config arenart-debug, CMake arenart::arenart_debug" >&2
fi
