#!/usr/bin/env bash
# tools/main.sh - the project's main job: build arenart optimised and run its benchmarks.
#
# Each step is a function listed in STEPS; add a step by writing a function and appending
# its name. Steps run in order and the script stops at the first one that fails.
#
# Arguments: --full runs the benchmarks at full length instead of --quick.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODE=--quick
for arg in "$@"; do
  case "$arg" in
    --full) MODE= ;;
    -h | --help)
      echo "usage: tools/main.sh [--full]"
      exit 0
      ;;
    *)
      echo "main.sh: unknown argument '$arg'" >&2
      exit 2
      ;;
  esac
done

BAZEL_FLAGS=(--noshow_progress --color=no --curses=no)

step() {
  echo
  echo "== $*"
}

# Step: the serial arena against glibc malloc and a raw bump pointer.
quick_bench() {
  step "serial arena benchmark (bazel run --config=opt //bench -- ${MODE:-(full)})"
  local args=()
  [[ -n "$MODE" ]] && args+=("$MODE")
  bazel run "${BAZEL_FLAGS[@]}" --config=opt //bench -- "${args[@]}"
}

STEPS=(
  quick_bench
)

tools/setup.sh
for s in "${STEPS[@]}"; do
  "$s"
done
