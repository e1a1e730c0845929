#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/main.sh - the project's main job: build arenart optimised, run the benchmarks against
# every peer, then the example server under load, then arenart inside jansson, libxml2 and
# protobuf-c against every malloc; print the tables and where the plots are.
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

# Step: every workload against every peer (tables, JSON and a PNG under build/bench/).
bench() {
  step "benchmarks against every peer (bazel run --config=opt //bench -- ${MODE:-(full)})"
  local args=()
  [[ -n "$MODE" ]] && args+=("$MODE")
  bazel run "${BAZEL_FLAGS[@]}" --config=opt //bench -- "${args[@]}"
  echo "plot: build/bench/bench.png   figures: build/bench/bench.json"
}

# Step: keep this run's figures under build/bench/history/ and compare its goal ratios with
# the previous saved run (ratios, not times: see bench/history.py). Flags, never fails.
bench_history() {
  step "goal ratios against the previous run (bench/history.py)"
  if ! command -v python3 >/dev/null; then
    echo "skipped: python3 not found"
    return 0
  fi
  python3 bench/history.py --dir build/bench/history --save build/bench/bench.json
}

# Step: the example HTTP server under wrk on loopback, arena flavor vs malloc flavors (goal
# rows in requests per CPU-second, p99, requests/s, RSS), then where each flavor's CPU goes
# (perf; skipped, not failed, where perf is missing or not permitted).
server_load() {
  step "example server under load" \
    "(bazel run --config=opt //examples/server:load -- ${MODE:-(full)})"
  local args=(--png build/server/load.png --json build/server/load.json)
  [[ -n "$MODE" ]] && args+=("$MODE")
  mkdir -p build/server
  bazel run "${BAZEL_FLAGS[@]}" --config=opt //examples/server:load -- "${args[@]}"
  echo "plot: build/server/load.png   figures: build/server/load.json"
  step "example server profile (bazel run --config=opt //examples/server:profile)"
  if ! command -v perf >/dev/null; then
    echo "skipped: perf not found (Debian package linux-perf)"
  elif bazel run "${BAZEL_FLAGS[@]}" --config=opt //examples/server:profile -- \
    --md build/server/profile.md; then
    echo "table: build/server/profile.md"
  else
    echo "skipped: the profile failed (perf_event_paranoid? see docs/server-profile.md)"
  fi
}

# Step: arenart inside jansson, libxml2 and protobuf-c against every malloc (and APR), each
# benchmark writing its --json file, then integrations/report.py's one table of all of them
# with the goals of issue 17, and its plot. jansson and libxml2 run at 16 KiB and 256 KiB
# documents; protobuf-c at 1 and 2 threads.
integrations() {
  step "integrations: jansson, libxml2, protobuf-c against every malloc" \
    "(integrations/report.py; ${MODE:-(full)})"
  local out=build/integrations args=()
  [[ -n "$MODE" ]] && args+=("$MODE")
  mkdir -p "$out"
  bazel build "${BAZEL_FLAGS[@]}" --config=opt //integrations/jansson:bench \
    //integrations/libxml2:bench //integrations/protobuf-c:trace_bench
  # Run from bazel-bin (each driver finds its peer binaries next to itself), so the JSON
  # paths stay relative to the checkout rather than to a runfiles tree.
  local bin
  bin=$(bazel info "${BAZEL_FLAGS[@]}" --config=opt bazel-bin 2>/dev/null)/integrations
  local files=() lib kib
  for lib in jansson libxml2; do
    for kib in 16 256; do
      "$bin/$lib/bench" "${args[@]}" --kib "$kib" --json "$out/$lib-$kib.json" \
        >"$out/$lib-$kib.txt"
      files+=("$out/$lib-$kib.json")
    done
  done
  "$bin/protobuf-c/trace_bench" "${args[@]}" --json "$out/protobuf-c.json" \
    >"$out/protobuf-c.txt"
  files+=("$out/protobuf-c.json")
  echo "each benchmark's own output: $out/{jansson,libxml2}-{16,256}.txt, $out/protobuf-c.txt"
  if ! command -v python3 >/dev/null; then
    echo "table skipped: python3 not found (figures: ${files[*]})"
    return 0
  fi
  python3 integrations/report.py --json "$out/integrations.json" \
    --png "$out/integrations.png" "${files[@]}"
}

STEPS=(
  bench
  bench_history
  server_load
  integrations
)

tools/setup.sh
for s in "${STEPS[@]}"; do
  "$s"
done
