#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/server/handler_bench.sh - the request path without the network, per flavor: CPU per
# request of handler_bench.c (a scope, the head parse, POST /json, the frees, the scope's end)
# for the arena flavor and the malloc flavor under glibc, jemalloc, mimalloc and tcmalloc.
#
#   bazel run --config=opt //examples/server:handler_bench_cmp -- [--rounds N] [--compare DIR]
#
# Flavors alternate within a round (all on CPU 0), and the medians over the rounds are
# compared: arena against glibc malloc and against the best LD_PRELOAD peer, in requests per
# CPU-second of the handler alone. Without the kernel's loopback TCP (about a quarter of a
# request under wrk, the same in every flavor) and with CPU time taken by the thread itself,
# the ratios move by a per cent or two between runs where load.sh's move by ten, so this is
# where a change to the memory layer is measured; load.sh says what it is worth end to end.
# The last column is the 99th percentile of single requests' CPU time (median over rounds):
# the memory layer's own tail (a chunk from the system, a trim), without the preemption that
# dominates wall-clock tails on a shared machine. Nothing here is a goal: load.sh prints them.
#
# Options:
#   --rounds N       rounds (default 5)
#   --requests N     requests timed per run (default 20000)
#   --items N        items in the document (default 40, as post.lua)
#   --compare DIR    also run the handler_bench binaries in DIR (another build, e.g. of an
#                    older commit), labelled "@before", in the same rounds
set -euo pipefail

ROUNDS=5
REQUESTS=20000
ITEMS=40
COMPARE=
die() {
  echo "handler_bench.sh: $*" >&2
  exit 1
}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift ;;
    --requests) REQUESTS=$2; shift ;;
    --items) ITEMS=$2; shift ;;
    --compare) COMPARE=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$REQUESTS" =~ ^[1-9][0-9]*$ && "$ITEMS" =~ ^[0-9]+$ ]] ||
  die "bad numeric option"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RF="${RUNFILES_DIR:-$0.runfiles}/arenart/examples/server"
if [[ -x "$RF/handler_bench" ]]; then BIN=$RF; else BIN=$HERE; fi
[[ -x "$BIN/handler_bench" && -x "$BIN/handler_bench_malloc" ]] ||
  die "handler_bench binaries not found (run //examples/server:handler_bench_cmp)"
if [[ -n "$COMPARE" ]]; then
  [[ "$COMPARE" == /* ]] || COMPARE="${BUILD_WORKING_DIRECTORY:-$PWD}/$COMPARE"
  [[ -x "$COMPARE/handler_bench" && -x "$COMPARE/handler_bench_malloc" ]] ||
    die "no handler_bench binaries in $COMPARE"
fi
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)

lib_of() {
  local name d
  case "$1" in
    jemalloc) name=libjemalloc.so.2 ;;
    mimalloc) name=libmimalloc.so.2 ;;
    tcmalloc) name=libtcmalloc_minimal.so.4 ;;
    *) return 0 ;;
  esac
  for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib \
    /usr/local/lib; do
    [[ -e "$d/$name" ]] && { echo "$d/$name"; return 0; }
  done
  return 1
}

FLAVORS=(arena malloc)
for f in jemalloc mimalloc tcmalloc; do
  if lib_of "$f" >/dev/null; then FLAVORS+=("$f"); else echo "note: $f skipped (not installed)"; fi
done
BUILDS=("$BIN")
[[ -n "$COMPARE" ]] && BUILDS+=("$COMPARE")
label() { [[ "$2" == "$BIN" ]] && echo "$1" || echo "$1@before"; }

RESULTS=$(mktemp "${TMPDIR:-/tmp}/arenart-hb.XXXXXX")
trap 'rm -f "$RESULTS"' EXIT
echo "handler only: ${#FLAVORS[@]} flavors x ${#BUILDS[@]} build(s) x $ROUNDS rounds" \
  "x $REQUESTS requests ($ITEMS items)"
for ((r = 1; r <= ROUNDS; r++)); do
  n=${#FLAVORS[@]}
  for ((k = 0; k < n; k++)); do
    f=${FLAVORS[$(((k + r - 1) % n))]}
    for b in "${BUILDS[@]}"; do
      exe="$b/handler_bench_malloc"
      [[ "$f" == arena ]] && exe="$b/handler_bench"
      env=()
      lib=$(lib_of "$f")
      [[ -n "$lib" ]] && env=(LD_PRELOAD="$lib")
      out=$(env "${env[@]}" "${PIN[@]}" "$exe" --items "$ITEMS" --requests "$REQUESTS") ||
        die "$f: handler_bench failed"
      ns=$(sed -n 's/.*ns_per_request=\([0-9.]*\).*/\1/p' <<<"$out")
      p99=$(sed -n 's/.*cpu_p99_ns=\([0-9]*\).*/\1/p' <<<"$out")
      echo "$(label "$f" "$b") $ns ${p99:-nan}" >>"$RESULTS"
    done
  done
done

median() { # median LABEL [COLUMN]: 2 ns/request, 3 p99 of one request's CPU time
  awk -v f="$1" -v c="${2:-2}" '$1 == f { print $c }' "$RESULTS" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]
                              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
printf '%-18s %12s %12s %16s\n' flavor "ns/request" "req/CPU-s" "p99 CPU/req us"
for b in "${BUILDS[@]}"; do
  declare -A NS=()
  for f in "${FLAVORS[@]}"; do
    NS[$f]=$(median "$(label "$f" "$b")")
    printf '%-18s %12.0f %12.0f %16.1f\n' "$(label "$f" "$b")" "${NS[$f]}" \
      "$(awk -v n="${NS[$f]}" 'BEGIN { print 1e9 / n }')" \
      "$(awk -v n="$(median "$(label "$f" "$b")" 3)" 'BEGIN { print n / 1000 }')"
  done
  best=
  for f in jemalloc mimalloc tcmalloc; do
    [[ -n "${NS[$f]:-}" ]] || continue
    if [[ -z "$best" ]] || awk -v a="${NS[$f]}" -v b="${NS[$best]}" 'BEGIN { exit !(a < b) }'
    then
      best=$f
    fi
  done
  printf '  %s: arena req/CPU-s vs glibc malloc %.2fx' "$(label build "$b")" \
    "$(awk -v a="${NS[arena]}" -v b="${NS[malloc]}" 'BEGIN { print b / a }')"
  [[ -n "$best" ]] && printf ', vs best peer (%s) %.2fx' "$best" \
    "$(awk -v a="${NS[arena]}" -v b="${NS[$best]}" 'BEGIN { print b / a }')"
  printf '\n'
  unset NS
done
