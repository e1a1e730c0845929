#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/format.sh - formats every git-tracked C/C++ file with clang-format 14 and .clang-format.
#
#   tools/format.sh [PATH...]           format in place
#   tools/format.sh --check [PATH...]   change nothing; list the files that differ, exit 1
#
# Files: `git ls-files` of *.c *.h *.cc *.cpp *.hpp (under the PATHs given, else everywhere),
# minus the patterns in .clang-format-ignore (clang-format 14 does not read that file itself).
# Only clang-format 14 is accepted: other versions break lines differently, so a check passed
# with one would fail with another. CLANG_FORMAT=/path/to/clang-format-14 picks the binary.
#
# Exit status: 0 all formatted (or formatted now), 1 --check found files that differ,
# 2 clang-format 14 missing or bad usage.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  echo "usage: tools/format.sh [--check] [PATH...]" >&2
  exit 2
}

check=0
paths=()
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    -h | --help)
      sed -n '3,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*) usage ;;
    *) paths+=("$arg") ;;
  esac
done

# ---- clang-format 14 --------------------------------------------------------------------
need_14() {
  echo "format: $1" >&2
  echo "format: install it with: sudo apt-get install clang-format   (Debian 12: version 14;" >&2
  echo "format: tools/setup.sh installs it too), or set CLANG_FORMAT to a clang-format 14." >&2
  exit 2
}
cf="${CLANG_FORMAT:-}"
if [[ -z "$cf" ]]; then
  for name in clang-format clang-format-14; do
    if command -v "$name" >/dev/null 2>&1 &&
      "$name" --version 2>/dev/null | grep -q 'version 14\.'; then
      cf="$name"
      break
    fi
  done
  if [[ -z "$cf" ]]; then
    need_14 "clang-format 14 is not installed (found: $(clang-format --version 2>/dev/null ||
      echo none))"
  fi
fi
command -v "$cf" >/dev/null 2>&1 || need_14 "CLANG_FORMAT=$cf is not an executable"
version="$("$cf" --version 2>/dev/null || true)"
[[ "$version" == *"version 14."* ]] || need_14 "$cf is not clang-format 14 (${version:-no version})"
cf="$(command -v "$cf")"

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "format: not in a git work tree (the files to format are the git-tracked ones)" >&2
  exit 2
fi
# Without it clang-format would quietly fall back to a built-in style.
if [[ ! -f .clang-format ]]; then
  echo "format: no .clang-format at the repository root" >&2
  exit 2
fi
STYLE=(--style=file --fallback-style=none)

# ---- the files ----------------------------------------------------------------------------
ignore=()
if [[ -f .clang-format-ignore ]]; then
  while IFS= read -r line; do
    line="${line%%#*}"
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [[ -n "$line" ]] && ignore+=("$line")
  done <.clang-format-ignore
fi

ignored() {
  local pat
  for pat in "${ignore[@]}"; do
    # Unquoted on purpose: the pattern is a glob.
    # shellcheck disable=SC2053
    [[ "$1" == $pat ]] && return 0
  done
  return 1
}

files=()
while IFS= read -r -d '' f; do
  case "$f" in *.c | *.h | *.cc | *.cpp | *.hpp) ;; *) continue ;; esac
  # Tracked but deleted in the work tree: nothing to format.
  [[ -f "$f" ]] || continue
  ignored "$f" || files+=("$f")
done < <(if ((${#paths[@]} > 0)); then git ls-files -z -- "${paths[@]}"; else git ls-files -z; fi)

if ((${#files[@]} == 0)); then
  echo "format: no C/C++ files to look at"
  exit 0
fi

# ---- check or format ----------------------------------------------------------------------
if ((check == 0)); then
  if ! printf '%s\0' "${files[@]}" | xargs -0 -n 16 "$cf" -i "${STYLE[@]}"; then
    echo "format: $cf failed (see above)" >&2
    exit 2
  fi
  echo "format: formatted ${#files[@]} files with $cf (.clang-format)"
  exit 0
fi

# Format copies (in batches: one clang-format per file is slow on a busy machine), then compare.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/arenart-format.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
cp .clang-format "$scratch/"
printf '%s\0' "${files[@]}" | xargs -0 dirname -z | sort -zu | (cd "$scratch" && xargs -0 mkdir -p)
for f in "${files[@]}"; do cp "$f" "$scratch/$f"; done
if ! (cd "$scratch" &&
  printf '%s\0' "${files[@]}" | xargs -0 -n 16 -P 2 "$cf" -i "${STYLE[@]}"); then
  echo "format: $cf failed (see above)" >&2
  exit 2
fi
bad=()
lines=()
for f in "${files[@]}"; do
  if ! cmp -s "$scratch/$f" "$f"; then
    bad+=("$f")
    # Lines of the file that formatting would replace or remove.
    lines+=("$(diff "$f" "$scratch/$f" | grep -c '^<' || true)")
  fi
done

if ((${#bad[@]} == 0)); then
  echo "format: OK, ${#files[@]} files match .clang-format"
  exit 0
fi
lines_of() { if (($1 == 1)); then echo "1 line"; else echo "$1 lines"; fi; }
total=0
for n in "${lines[@]}"; do total=$((total + n)); done
echo "format: FAILED: ${#bad[@]} of ${#files[@]} files are not formatted as .clang-format says" \
  "($(lines_of "$total") to change); fix with: tools/format.sh"
for i in "${!bad[@]}"; do
  printf '  %s (%s)\n' "${bad[$i]}" "$(lines_of "${lines[$i]}")"
done
echo "format: to see the changes: tools/format.sh && git diff"
exit 1
