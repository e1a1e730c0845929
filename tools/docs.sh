#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/docs.sh - builds the API reference with Doxygen into build/docs/html (open
# build/docs/html/index.html) from the public headers under include/ and the pages in docs/.
#
# Fails (exit 1) if Doxygen reports any warning: an undocumented public function, type, field
# or macro, or a malformed comment. The warnings are printed and kept in
# build/docs/warnings.log. Configuration: docs/Doxyfile. Needs the Debian package doxygen
# (tools/setup.sh installs it). Exit status 2 means doxygen is not installed.
#
# It also checks that the C examples in docs/*.md still compile: the ```c blocks of each page,
# concatenated, must pass `cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -Iinclude`.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v doxygen >/dev/null 2>&1; then
  echo "docs: doxygen is not installed (apt-get install doxygen, or run tools/setup.sh)" >&2
  exit 2
fi

OUT=build/docs
LOG="$OUT/warnings.log"
rm -rf "$OUT/html"
mkdir -p "$OUT"
: >"$LOG"

AR_DOCS_VERSION="$(sed -n 's/^#define AR_VERSION_STRING "\(.*\)"$/\1/p' include/arenart/common.h)"
export AR_DOCS_VERSION

doxygen docs/Doxyfile >"$OUT/doxygen.out" 2>&1
rc=$?

if [[ -s "$LOG" ]]; then
  cat "$LOG" >&2
  echo "docs: FAIL ($(grep -cE "(warning|error):" "$LOG") warnings; see $LOG)" >&2
  exit 1
fi
if ((rc != 0)) || [[ ! -f "$OUT/html/index.html" ]]; then
  cat "$OUT/doxygen.out" >&2
  echo "docs: FAIL (doxygen exited with $rc)" >&2
  exit 1
fi
# The examples in the pages: each page's C blocks form one translation unit.
for page in docs/*.md; do
  src="$OUT/examples/$(basename "$page" .md).c"
  mkdir -p "$OUT/examples"
  awk '/^```c$/ { on = 1; next } /^```$/ { on = 0 } on' "$page" >"$src"
  [[ -s "$src" ]] || { rm -f "$src"; continue; }
  if ! "${CC:-cc}" -std=c11 -Wall -Wextra -Werror -fsyntax-only -Iinclude -I. "$src"; then
    echo "docs: FAIL (the C examples in $page do not compile; extracted to $src)" >&2
    exit 1
  fi
done

echo "docs: OK, no warnings: $OUT/html/index.html"
