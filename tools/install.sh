#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/install.sh - builds arenart optimised (bazel --config=opt) and installs it for use
# outside Bazel (Make, CMake, Meson, plain cc):
#
#   PREFIX/lib/libarenart.a               static library (every runtime and NUMA object)
#   PREFIX/lib/libarenart.so.X.Y.Z        shared library, soname libarenart.so.X: the runtime
#                                         and NUMA placement (//numa:libarenart.so; needs
#                                         libhwloc at run time)
#   PREFIX/lib/libarenart.so.X  -> libarenart.so.X.Y.Z
#   PREFIX/lib/libarenart.so    -> libarenart.so.X
#   PREFIX/include/arenart.h, PREFIX/include/arenart/*.h, PREFIX/include/arenart/*.hpp
#   PREFIX/lib/pkgconfig/arenart.pc
#   PREFIX/lib/cmake/arenart/arenartConfig.cmake, arenartConfigVersion.cmake
#                                         find_package(arenart): imported targets
#                                         arenart::arenart, arenart::shared, arenart::static
#                                         (from tools/cmake/*.cmake.in)
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
# The library's own link dependencies (Libs.private in arenart.pc, and the link interface of
# the CMake target arenart::static) are read from the link command Bazel used for
# //numa:libarenart.so, so they follow third_party/BUILD. They are Libs.private and not
# Requires.private on purpose: Requires.private hwloc would add hwloc's own static
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

# ---- build -----------------------------------------------------------------------------
BAZEL_FLAGS=(--config=opt)
TARGET=//numa:libarenart.so

echo "install: bazel build ${BAZEL_FLAGS[*]} $* $TARGET" >&2
bazel build --noshow_progress --color=no --curses=no "${BAZEL_FLAGS[@]}" "$@" "$TARGET"
EXECROOT="$(bazel info "${BAZEL_FLAGS[@]}" "$@" execution_root 2>/dev/null)"
BIN="$(bazel info "${BAZEL_FLAGS[@]}" "$@" bazel-bin 2>/dev/null)"
SO="$BIN/numa/libarenart.so"

# The link's parameter file lists exactly what went into the shared library: the archives
# (whole, thanks to alwayslink) and the system libraries.
PARAMS="$(ls "$BIN"/numa/libarenart.so-*.params 2>/dev/null | head -n 1 || true)"
if [[ ! -f "$SO" || -z "$PARAMS" ]]; then
  echo "install: $SO or its link parameter file is missing after the build" >&2
  exit 1
fi

ARCHIVES=()
LIBS_PRIVATE=()
NEEDS_PTHREAD=0
while IFS= read -r arg; do
  case "$arg" in
    -lstdc++ | -lm) ;; # added by the C++-capable toolchain; the C library does not use them
    -pthread | -lpthread) NEEDS_PTHREAD=1 ;; # goes last: the other libraries use it
    -l*) [[ " ${LIBS_PRIVATE[*]-} " == *" $arg "* ]] || LIBS_PRIVATE+=("$arg") ;;
    *.a | *.lo | *.o) ARCHIVES+=("$EXECROOT/$arg") ;;
  esac
done <"$PARAMS"
((NEEDS_PTHREAD == 0)) || LIBS_PRIVATE+=(-lpthread)
if ((${#ARCHIVES[@]} == 0)); then
  echo "install: no archives found in $PARAMS" >&2
  exit 1
fi

# Check what was built: the soname, and that the public API is really in there (a linkshared
# cc_binary silently drops library objects that nothing references).
actual_soname="$(readelf -d "$SO" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
if [[ "$actual_soname" != "$SONAME" ]]; then
  echo "install: $SO has soname '$actual_soname', expected '$SONAME'" \
    "(AR_VERSION_MAJOR and numa/BUILD disagree)" >&2
  exit 1
fi
exported="$(nm -D --defined-only "$SO")"
for sym in ar_arena_create ar_alloc_slow_ ar_concurrent_alloc_slow_ ar_scope_begin ar_arena_pool_take \
  ar_version ar_numa_init ar_node_arena ar_trim; do
  if ! grep -qw "$sym" <<<"$exported"; then
    echo "install: $SO does not export $sym" >&2
    exit 1
  fi
done

# ---- static library: the same objects as the shared one, in one archive ------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/arenart-install.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
{
  echo "CREATE $WORK/libarenart.a"
  for a in "${ARCHIVES[@]}"; do
    case "$a" in
      *.o) echo "ADDMOD $a" ;;
      *) echo "ADDLIB $a" ;;
    esac
  done
  echo "SAVE"
  echo "END"
} >"$WORK/ar.mri"
ar -M <"$WORK/ar.mri"
ranlib "$WORK/libarenart.a"
if ! grep -qw ar_arena_create <<<"$(nm --defined-only "$WORK/libarenart.a" 2>/dev/null)"; then
  echo "install: the merged static library lacks ar_arena_create" >&2
  exit 1
fi

# ---- pkg-config file ---------------------------------------------------------------------
cat >"$WORK/arenart.pc" <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: arenart
Description: Lock-free arena (region) memory runtime for multithreaded servers
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -larenart
Libs.private: ${LIBS_PRIVATE[*]-}
EOF

# ---- CMake package files -----------------------------------------------------------------
# arenart::static's link interface: the same libraries as Libs.private, pthread as CMake's
# Threads::Threads (the config file finds Threads first).
STATIC_DEPS=()
for lib in "${LIBS_PRIVATE[@]-}"; do
  case "$lib" in
    -lpthread) STATIC_DEPS+=("Threads::Threads") ;;
    -l*) STATIC_DEPS+=("${lib#-l}") ;;
  esac
done
STATIC_DEPS_CMAKE="$(IFS=';'; echo "${STATIC_DEPS[*]-}")"
for f in arenartConfig arenartConfigVersion; do
  sed -e "s|@AR_VERSION@|$VERSION|g" -e "s|@AR_MAJOR@|$MAJOR|g" -e "s|@AR_MINOR@|$MINOR|g" \
    -e "s|@AR_PATCH@|$PATCH|g" -e "s|@AR_STATIC_DEPS@|$STATIC_DEPS_CMAKE|g" \
    -e "s|@AR_STATIC_DEPS_TEXT@|${LIBS_PRIVATE[*]-}|g" \
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

install -m 0644 "$WORK/libarenart.a" "$D_LIB/libarenart.a"
install -m 0755 "$SO" "$D_LIB/$REALNAME"
ln -sfn "$REALNAME" "$D_LIB/$SONAME"
ln -sfn "$SONAME" "$D_LIB/libarenart.so"

install -m 0644 include/arenart.h "$D_INC/arenart.h"
install -m 0644 include/arenart/*.h include/arenart/*.hpp "$D_INC/arenart/"
for h in "$D_INC"/arenart/*.h "$D_INC"/arenart/*.hpp; do
  [[ ! -e "$h" || -e "include/arenart/$(basename "$h")" ]] || rm -f "$h"
done

install -m 0644 "$WORK/arenart.pc" "$D_PC/arenart.pc"
install -m 0644 "$WORK/arenartConfig.cmake" "$WORK/arenartConfigVersion.cmake" "$D_CMAKE/"

if [[ -z "$DESTDIR" && "$(id -u)" -eq 0 && ("$PREFIX" == /usr || "$PREFIX" == /usr/local) ]]; then
  ldconfig || true
fi

echo "install: arenart $VERSION installed into ${DESTDIR}${PREFIX:-/}" >&2
echo "install:   cc prog.c \$(pkg-config --cflags --libs arenart)" \
  "# with PKG_CONFIG_PATH=$PCDIR if pkg-config does not search it" >&2
echo "install:   CMake: find_package(arenart) and link arenart::arenart" \
  "# with CMAKE_PREFIX_PATH=$PREFIX if CMake does not search it" >&2
