#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/server/profile.sh - where the example server's CPU goes, per flavor, under the
# same POST /json load as load.sh (docs/server-profile.md shows a run and how to read it).
#
#   bazel run --config=opt //examples/server:profile -- [--duration S] [--md FILE]
#   examples/server/profile.sh [options]      # builds both flavors with --config=opt itself
#
# For each flavor a fresh server (pinned to CPU 0) is warmed up and driven by wrk (CPU 1);
# while it runs, the server's CPU time per request is measured (schedstat and /stats, for
# --duration seconds), then `perf record -e cpu-clock --call-graph dwarf` samples the server
# process, kernel included, for as long. profile_buckets.awk charges every sample to one
# bucket by walking its call chain (allocator, JSON parse, transform, serialization, HTTP,
# kernel by system call, free walks); a bucket's share of the samples times the CPU per
# request measured without perf is what the table shows, in microseconds per request, and
# the top symbols (self time) say what is inside. perf needs root or perf_event_paranoid <= 1
# to see the kernel side; the script stops with a hint if perf refuses. Nothing is compared
# or judged here: load.sh measures the goals.
#
# Options:
#   --duration S       seconds measured, then as many recorded, per flavor (default 4)
#   --connections C    wrk connections (default 8)
#   --items N          items in the posted document (default 40, as load.sh)
#   --flavors LIST     comma-separated subset of arena,malloc,jemalloc,mimalloc,tcmalloc
#   --top N            symbols listed per flavor (default 8)
#   --md FILE          also write the tables as Markdown
#   --keep DIR         keep each flavor's perf.data there (perf report -i DIR/FLAVOR.data)
#   Environment: SERVER_BIN_DIR (a folder with server and server_malloc to run instead of
#   this tree's build), BAZEL (default bazel) and BAZEL_STARTUP_OPTS, for the self-build; PERF.
set -euo pipefail

DURATION=4
CONNS=8
ITEMS=40
FLAVORS=arena,malloc,jemalloc,mimalloc,tcmalloc
TOP=8
MD_OUT=
KEEP=
PERF=${PERF:-perf}

die() {
  echo "profile.sh: $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --items) ITEMS=$2; shift ;;
    --flavors) FLAVORS=$2; shift ;;
    --top) TOP=$2; shift ;;
    --md) MD_OUT=$2; shift ;;
    --keep) KEEP=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[[ "$DURATION" =~ ^[1-9][0-9]*$ && "$CONNS" =~ ^[1-9][0-9]*$ && "$ITEMS" =~ ^[0-9]+$ &&
  "$TOP" =~ ^[1-9][0-9]*$ ]] || die "bad numeric option"
command -v wrk >/dev/null || die "wrk is not installed (Debian package wrk)"
command -v "$PERF" >/dev/null || die "perf is not installed (Debian package linux-perf)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/arenart-profile.XXXXXX")
cleanup() {
  if [[ -n "${SERVER_PID:-}" ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "${WRK_PID:-}" ]]; then kill "$WRK_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIBSH="$HERE/bench_lib.sh" # next to the script, or in bazel run's runfiles
[[ -f "$LIBSH" ]] || LIBSH="${RUNFILES_DIR:-$0.runfiles}/arenart/examples/server/bench_lib.sh"
# shellcheck source=examples/server/bench_lib.sh
source "$LIBSH"
AWK_PROG="$HERE/profile_buckets.awk"
[[ -f "$AWK_PROG" ]] || AWK_PROG="$(dirname "$LIBSH")/profile_buckets.awk"
[[ -f "$AWK_PROG" ]] || die "profile_buckets.awk not found"
[[ -n "$MD_OUT" ]] && MD_OUT=$(abspath "$MD_OUT")
[[ -n "$KEEP" ]] && { KEEP=$(abspath "$KEEP"); mkdir -p "$KEEP"; }

declare -A LIB
IFS=, read -r -a REQUESTED <<<"$FLAVORS"
check_flavors "${REQUESTED[@]}"

# The symbol table profile_buckets.awk maps addresses with: "start size file name", sorted.
symtab() {
  nm -l -S --defined-only "$1" |
    awk '$3 ~ /^[tT]$/ && NF >= 5 { f = $5; sub(/:[0-9]+$/, "", f); print $1, $2, f, $4 }' |
    sort >"$2"
}
symtab "$BIN/server" "$WORK/sym.arena"
symtab "$BIN/server_malloc" "$WORK/sym.malloc"

echo "profiling POST /json ($ITEMS items, wrk -t1 -c$CONNS), ${DURATION}s of perf per flavor," \
  "build ${MODE:-?}, $NCPU CPUs${PIN_SERVER[*]:+, server on CPU 0 and wrk on CPU 1}"
warn_if_not_opt

: >"$WORK/buckets"
: >"$WORK/top"
: >"$WORK/cpu"
for f in "${FL[@]}"; do
  start_server "$f" 1
  LOAD_ITEMS=$ITEMS "${PIN_WRK[@]}" wrk -t1 -c"$CONNS" -d1s -s "$LUA" \
    "http://127.0.0.1:$PORT/json" >/dev/null
  LOAD_ITEMS=$ITEMS "${PIN_WRK[@]}" wrk -t1 -c"$CONNS" -d"$((2 * DURATION + 2))s" -s "$LUA" \
    "http://127.0.0.1:$PORT/json" >"$WORK/wrk.out" &
  WRK_PID=$!
  # First the CPU per request without perf: perf's sampling (its DWARF stack copies above
  # all) is charged to the server's threads and would inflate it by a fifth or more, and the
  # requests answered while perf starts up are not in its samples. Then the profile, whose
  # samples give each bucket's share of that CPU.
  sleep 0.5
  r0=$(requests_answered "$PORT")
  c0=$(server_cpu_ns "$SERVER_PID")
  sleep "$DURATION"
  c1=$(server_cpu_ns "$SERVER_PID")
  r1=$(requests_answered "$PORT")
  data="$WORK/$f.data"
  if ! "$PERF" record -q -o "$data" -e cpu-clock -F 1999 --call-graph dwarf,8192 \
    -p "$SERVER_PID" -- sleep "$DURATION" >"$WORK/perf.err" 2>&1; then
    cat "$WORK/perf.err" >&2
    die "$f: perf record failed (not root? try: sysctl kernel.perf_event_paranoid=1)"
  fi
  wait "$WRK_PID"
  WRK_PID=
  stop_server "$f"
  grep -q "Non-2xx or 3xx" "$WORK/wrk.out" && die "$f: the server answered errors under load"
  reqs=$((r1 - r0 - 1)) # the first /stats GET is counted in r1
  [[ $reqs -gt 0 ]] || die "$f: no requests answered while measuring"
  sym="$WORK/sym.malloc"
  [[ "$f" == arena ]] && sym="$WORK/sym.arena"
  "$PERF" script -i "$data" -F period,ip,sym,dso --no-inline 2>/dev/null |
    awk -f "$AWK_PROG" -v symtab="$sym" -v flavor="$f" >>"$WORK/buckets"
  "$PERF" report -i "$data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
    awk -v f="$f" -v top="$TOP" '/^ *[0-9.]+%/ && n < top {
      sym = $0; sub(/^.*\] /, "", sym); sub(/ +$/, "", sym)
      dso = $2; sub(/^.*\//, "", dso)
      printf "%s\t%s\t%s\t%s\n", f, $1, dso, sym; n++ }' >>"$WORK/top"
  # flavor, CPU us/request, requests per CPU-second, requests, CPUs busy (without perf)
  awk -v f="$f" -v a="$c0" -v b="$c1" -v n="$reqs" -v d="$DURATION" \
    'BEGIN { printf "%s\t%.2f\t%.0f\t%d\t%.2f\n", f, (b - a) / 1e3 / n, n * 1e9 / (b - a), n,
             (b - a) / 1e9 / d }' \
    >>"$WORK/cpu"
  [[ -n "$KEEP" ]] && cp "$data" "$KEEP/$f.data"
  printf '  %-9s %6d requests measured, %6.2f us CPU/request (without perf)\n' "$f" "$reqs" \
    "$(awk -v f="$f" '$1 == f { print $2 }' "$WORK/cpu")"
done

# ---- tables ------------------------------------------------------------------------------
BUCKETS=(allocator "free walks" parse transform serialize http "kernel: send" "kernel: read"
  "kernel: epoll" "kernel: memory (faults, mmap)" "kernel: other" other)
table() { # table SEP: the bucket table, columns separated by SEP ("|" for Markdown)
  local md=$1 f b
  {
    printf 'bucket'
    for f in "${FL[@]}"; do printf '\t%s' "$f"; done
    printf '\n'
    for b in "${BUCKETS[@]}"; do
      awk -F'\t' -v b="$b" '$2 == b { found = 1 } END { exit !found }' "$WORK/buckets" || continue
      printf '%s' "$b"
      for f in "${FL[@]}"; do
        awk -F'\t' -v b="$b" -v f="$f" -v cpu="$(awk -F'\t' -v f="$f" '$1 == f { print $2 }' \
          "$WORK/cpu")" '$1 == f && $2 == b { s = $4 }
          END { printf "\t%.1f (%2.0f%%)", s * cpu, s * 100 }' "$WORK/buckets"
      done
      printf '\n'
    done
    printf 'total: CPU us/request'
    for f in "${FL[@]}"; do awk -F'\t' -v f="$f" '$1 == f { printf "\t%s", $2 }' "$WORK/cpu"; done
    printf '\n'
    printf 'requests per CPU-second'
    for f in "${FL[@]}"; do awk -F'\t' -v f="$f" '$1 == f { printf "\t%s", $3 }' "$WORK/cpu"; done
    printf '\n'
    printf 'perf samples'
    for f in "${FL[@]}"; do
      awk -F'\t' -v f="$f" '$1 == f { n += $3 } END { printf "\t%d", n }' "$WORK/buckets"
    done
    printf '\n'
  } | if [[ "$md" == "|" ]]; then
    awk -F'\t' 'NR == 1 { printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; printf "\n|";
                   for (i = 1; i <= NF; i++) printf (i == 1 ? "---|" : "---:|"); printf "\n"; next }
                { printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; printf "\n" }'
  else
    column -t -s $'\t'
  fi
}

echo
echo "CPU per request by bucket, us (share of the flavor's perf samples); one run, not a median"
table ' '
echo
echo "top symbols by self time (per flavor)"
for f in "${FL[@]}"; do
  awk -F'\t' -v f="$f" '$1 == f { printf "  %-9s %7s  %-22s %s\n", f, $2, $3, $4 }' "$WORK/top"
done

if [[ -n "$MD_OUT" ]]; then
  {
    echo "CPU per request by bucket, microseconds (share of the flavor's perf samples); the"
    echo "total is measured without perf, the shares with it:"
    echo
    table '|'
    echo
    echo "Top symbols by self time:"
    echo
    echo "| flavor | self | object | symbol |"
    echo "|---|---:|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | `%s` |\n", $1, $2, $3, $4 }' "$WORK/top"
  } >"$MD_OUT"
  echo "markdown: $MD_OUT"
fi
