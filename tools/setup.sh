#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/setup.sh - installs what arenart needs to build, test and benchmark on Debian 12.
#
# Idempotent: packages already installed are left alone, and apt-get runs (update first) only
# when something is missing. Quiet when there is nothing to do. Needs root, or sudo.
#
#   bazel-bootstrap  Bazel 4.2.3, works offline with the stand-ins under third_party/
#   gcc g++          the default toolchain (also brings gcc's ASan/UBSan/TSan runtimes)
#   clang            the compiler of --config=tsan
#   libclang-rt-dev  clang's sanitizer runtimes (TSan, ASan, UBSan)
#   libck-dev liburcu-dev libhwloc-dev libcmocka-dev   wrapped in third_party/BUILD
#   pkg-config python3                                  helper scripts, tools/install_test.sh
#   valgrind         memcheck detection tests, callgrind instruction counts (bench)
#   libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev libtalloc-dev libapr1-dev
#                    the peers that //bench measures side by side, and the LD_PRELOAD
#                    allocators of the example server's comparison
#   gnuplot-nox      benchmark plots (PNG)
#   wrk              load generator for the example server
#   libprotobuf-c-dev protobuf-c-compiler   //integrations/protobuf-c (library, protoc-c)
#   libjansson-dev libxml2-dev               //integrations/jansson, //integrations/libxml2
#   qemu-system-x86 busybox-static cpio   tools/numa-vm.sh: guests with real NUMA
#                    topologies (the kernel comes from Debian's linux-image package, unpacked)
#   clang-format     version 14 on Debian 12: tools/format.sh and the format gate of tools/test.sh
#   doxygen          API reference (tools/docs.sh); optional: if it cannot be installed,
#                    setup warns and succeeds, and tools/test.sh skips its docs step
set -euo pipefail

PACKAGES=(
  bazel-bootstrap
  gcc
  g++
  clang
  libclang-rt-dev
  libck-dev
  liburcu-dev
  libhwloc-dev
  libcmocka-dev
  pkg-config
  python3
  valgrind
  libjemalloc-dev
  libmimalloc-dev
  libgoogle-perftools-dev
  libtalloc-dev
  libapr1-dev
  gnuplot-nox
  wrk
  libprotobuf-c-dev
  protobuf-c-compiler
  libjansson-dev
  libxml2-dev
  qemu-system-x86
  busybox-static
  cpio
  clang-format
)
OPTIONAL_PACKAGES=(
  doxygen
  cmake # tools/install_test.sh's find_package(arenart) check; skipped if it cannot be had
)

is_installed() {
  # Status is "install ok installed" only for a fully installed package; a removed package
  # with leftover config files ("deinstall ok config-files") or an unknown one is missing.
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}" "${OPTIONAL_PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2

if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo -n)
  if ! sudo -n true 2>/dev/null; then
    # Interactive shells may ask for a password; CI (no stdin) must already be root.
    if [[ -t 0 ]]; then SUDO=(sudo); else
      echo "setup: need root or passwordless sudo to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
else
  echo "setup: not root and no sudo; install these packages first: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Recommends stay on: clang-14 recommends llvm-14-dev, which brings llvm-symbolizer for
# readable sanitizer stack traces.
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
# Required packages first, in one go; optional ones after, each allowed to fail.
required=()
optional=()
for pkg in "${missing[@]}"; do
  if [[ " ${OPTIONAL_PACKAGES[*]} " == *" $pkg "* ]]; then
    optional+=("$pkg")
  else
    required+=("$pkg")
  fi
done
if ((${#required[@]} > 0)); then
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    "${required[@]}" >/dev/null
fi
for pkg in "${optional[@]}"; do
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null ||
    true
done

still=()
for pkg in "${required[@]}"; do
  is_installed "$pkg" || still+=("$pkg")
done
for pkg in "${optional[@]}"; do
  is_installed "$pkg" || echo "setup: optional package $pkg could not be installed" >&2
done
if ((${#still[@]} > 0)); then
  echo "setup: failed to install: ${still[*]}" >&2
  exit 1
fi
echo "setup: done" >&2
