#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/server/load.sh - the example server under load on loopback: arena flavor against
# the malloc flavor with glibc malloc, jemalloc, mimalloc and tcmalloc (LD_PRELOAD).
#
#   bazel run --config=opt //examples/server:load -- [--quick] [--json FILE] [--png FILE]
#   examples/server/load.sh [options]      # builds both flavors with --config=opt itself
#
# Each round starts a fresh server per flavor (pinned to CPU 0 when there are two or more),
# warms it up, and drives it with wrk (one thread, pinned to CPU 1) for a fixed time with
# POST /json requests (post.lua). Flavors alternate within a round and their order rotates
# from round to round, so slow drift of the machine hits every flavor alike. Reported per
# flavor, as medians over the rounds: requests/s, p50 and p99 latency (wrk --latency), CPU
# time of the server process per request (utime + stime from /proc/PID/stat, over the
# measured run), and peak RSS (VmHWM from /proc/PID/status at the end of the run).
#
# The goals (arena >= 1.3x glibc malloc's requests/s and >= 1.1x the best LD_PRELOAD peer's,
# p99 no worse, peak RSS within 1.3x of glibc malloc's) are printed, never asserted: the exit
# status only says whether the measurement itself worked. Traffic goes to 127.0.0.1 only.
#
# Options:
#   --quick            3 rounds of 2 s per flavor (under a minute with the binaries built)
#   --rounds N         rounds (default 5)
#   --duration S       seconds of load per run (default 8)
#   --connections C    wrk connections (default 8)
#   --workers W        server worker threads (default 1)
#   --items N          items in the posted document (default 40: ~6 KB, ~570 tree nodes)
#   --flavors LIST     comma-separated subset of arena,malloc,jemalloc,mimalloc,tcmalloc
#   --json FILE        also write the results as JSON
#   --png FILE         where to draw the plot (default: $TMPDIR/arenart_server_load.png)
#   Environment: BAZEL (default bazel) and BAZEL_STARTUP_OPTS, for the self-build.
set -euo pipefail

SCRIPT_START=$(date +%s.%N)
ROUNDS=5
DURATION=8
WARMUP=2
CONNS=8
WORKERS=1
ITEMS=40
FLAVORS=arena,malloc,jemalloc,mimalloc,tcmalloc
JSON_OUT=
PNG_OUT="${TMPDIR:-/tmp}/arenart_server_load.png"
QUICK=0

die() {
  echo "load.sh: $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; ROUNDS=3; DURATION=2; WARMUP=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --workers) WORKERS=$2; shift ;;
    --items) ITEMS=$2; shift ;;
    --flavors) FLAVORS=$2; shift ;;
    --json) JSON_OUT=$2; shift ;;
    --png) PNG_OUT=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$CONNS" =~ ^[1-9][0-9]*$ && "$WORKERS" =~ ^[1-9][0-9]*$ &&
  "$ITEMS" =~ ^[0-9]+$ && "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "bad numeric option"

IFS=, read -r -a REQUESTED <<<"$FLAVORS"
for f in "${REQUESTED[@]}"; do
  case "$f" in
    arena | malloc | jemalloc | mimalloc | tcmalloc) ;;
    *) die "unknown flavor '$f' (known: arena, malloc, jemalloc, mimalloc, tcmalloc)" ;;
  esac
done

# Paths given by the user are relative to where they ran the command (bazel run changes the
# working directory to the runfiles tree).
abspath() {
  case "$1" in
    /*) echo "$1" ;;
    *) echo "${BUILD_WORKING_DIRECTORY:-$PWD}/$1" ;;
  esac
}
[[ -n "$JSON_OUT" ]] && JSON_OUT=$(abspath "$JSON_OUT")
PNG_OUT=$(abspath "$PNG_OUT")

command -v wrk >/dev/null || die "wrk is not installed (Debian package wrk)"

# ---- the binaries ------------------------------------------------------------------------
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNFILES="${RUNFILES_DIR:-$0.runfiles}"
if [[ -x "$RUNFILES/arenart/examples/server/server" ]]; then
  BIN="$RUNFILES/arenart/examples/server"
elif [[ -x "$HERE/server" && -x "$HERE/server_malloc" ]]; then
  BIN="$HERE" # bazel run: the working directory is the runfiles tree
else
  ROOT=$(cd "$HERE/../.." && pwd)
  BZ=(${BAZEL:-bazel} ${BAZEL_STARTUP_OPTS:-})
  echo "building both flavors with --config=opt ..."
  (cd "$ROOT" && "${BZ[@]}" build --config=opt --noshow_progress --color=no --symlink_prefix=/ \
    //examples/server:server //examples/server:server_malloc) >&2
  BIN="$(cd "$ROOT" && "${BZ[@]}" info --config=opt bazel-bin 2>/dev/null)/examples/server"
fi
LUA="$HERE/post.lua"
[[ -f "$LUA" ]] || LUA="$BIN/post.lua"
[[ -f "$LUA" ]] || die "post.lua not found"
MODE=$(readlink -f "$BIN/server" | grep -o 'k8-[a-z]*' | head -1 || true)

lib_for() {
  local f=$1 name
  case "$f" in
    arena | malloc) return 0 ;;
    jemalloc) name=libjemalloc.so.2 ;;
    mimalloc) name=libmimalloc.so.2 ;;
    tcmalloc) name=libtcmalloc_minimal.so.4 ;;
  esac
  local d
  for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [[ -e "$d/$name" ]] && { echo "$d/$name"; return 0; }
  done
  return 1
}

FL=()
declare -A LIB
for f in "${REQUESTED[@]}"; do
  if [[ "$f" == arena || "$f" == malloc ]]; then
    FL+=("$f")
  elif lib="$(lib_for "$f")" && [[ -n "$lib" ]]; then
    FL+=("$f")
    LIB[$f]=$lib
  else
    echo "note: $f skipped (its library is not installed)"
  fi
done
[[ ${#FL[@]} -gt 0 ]] || die "no flavor to run"

NCPU=$(nproc)
if [[ $NCPU -ge 2 ]] && command -v taskset >/dev/null; then
  PIN_SERVER=(taskset -c 0)
  PIN_WRK=(taskset -c 1)
else
  PIN_SERVER=()
  PIN_WRK=()
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/arenart-load.XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- one run -----------------------------------------------------------------------------
to_us() { # "285.00us" / "1.07ms" / "2.00s" -> microseconds
  awk -v v="$1" 'BEGIN {
    u = v; sub(/^[0-9.]+/, "", u); n = v + 0
    if (u == "us") print n; else if (u == "ms") print n * 1000; else if (u == "s") print n * 1e6
    else print "nan" }'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run FLAVOR ROUND: appends "flavor round rps p50_us p99_us cpu_us_per_req hwm_kib" to results
run() {
  local f=$1 round=$2 bin="$BIN/server_malloc" env=()
  [[ "$f" == arena ]] && bin="$BIN/server"
  [[ -n "${LIB[$f]:-}" ]] && env=(LD_PRELOAD="${LIB[$f]}")
  # A fresh file per run: the parent may look before the child has opened (truncated) it.
  rm -f "$WORK/server.out" "$WORK/server.err"
  env "${env[@]}" "${PIN_SERVER[@]}" "$bin" --port 0 --workers "$WORKERS" >"$WORK/server.out" \
    2>"$WORK/server.err" &
  SERVER_PID=$!
  local port= i
  for ((i = 0; i < 500; i++)); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$WORK/server.out" 2>/dev/null || true)
    [[ -n "$port" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "$f: server exited: $(cat "$WORK/server.err")"
    sleep 0.01
  done
  [[ -n "$port" ]] || die "$f: server did not start"
  if [[ -n "${LIB[$f]:-}" ]] && ! grep -q "$(basename "${LIB[$f]}")" "/proc/$SERVER_PID/maps"; then
    die "$f: ${LIB[$f]} is not mapped into the server"
  fi
  # The server must be the flavor we think (a GET / names it).
  local hello
  hello=$(exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 &&
    timeout 5 cat <&3)
  local want=arena
  [[ "$f" != arena ]] && want=malloc
  [[ "$hello" == *"\"flavor\":\"$want\""* ]] || die "$f: unexpected answer: $hello"

  LOAD_ITEMS=$ITEMS "${PIN_WRK[@]}" wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$LUA" \
    "http://127.0.0.1:$port/json" >/dev/null
  local t0 t1
  t0=$(cpu_ticks "$SERVER_PID")
  LOAD_ITEMS=$ITEMS "${PIN_WRK[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$LUA" \
    "http://127.0.0.1:$port/json" >"$WORK/wrk.out"
  t1=$(cpu_ticks "$SERVER_PID")
  local hwm
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || die "$f: server exited with status $? on SIGTERM"
  SERVER_PID=

  if grep -q "Non-2xx or 3xx" "$WORK/wrk.out"; then
    cat "$WORK/wrk.out" >&2
    die "$f: the server answered errors under load"
  fi
  local rps reqs p50 p99
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.out")
  reqs=$(awk '/ requests in / { print $1 }' "$WORK/wrk.out")
  p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.out")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.out")")
  [[ -n "$rps" && -n "$reqs" && "$reqs" -gt 0 ]] || {
    cat "$WORK/wrk.out" >&2
    die "$f: could not read wrk's output"
  }
  local tck
  tck=$(getconf CLK_TCK)
  local cpu
  cpu=$(awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$tck" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')
  echo "$f $round $rps $p50 $p99 $cpu $hwm" >>"$WORK/results"
  printf '  round %d  %-9s %10.0f req/s  p50 %7.0f us  p99 %7.0f us  cpu %6.2f us/req  peak RSS %6.1f MiB\n' \
    "$round" "$f" "$rps" "$p50" "$p99" "$cpu" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')"
}

echo "server load on 127.0.0.1: ${#FL[@]} flavors x $ROUNDS rounds x ${DURATION}s" \
  "(wrk -t1 -c$CONNS, server --workers $WORKERS, $ITEMS-item POST /json, build ${MODE:-?}," \
  "$NCPU CPUs${PIN_SERVER[*]:+, server on CPU 0 and wrk on CPU 1})"
[[ "$MODE" == k8-opt ]] || echo "warning: the binaries are not an optimised build; use --config=opt"
: >"$WORK/results"
for ((r = 1; r <= ROUNDS; r++)); do
  n=${#FL[@]}
  for ((k = 0; k < n; k++)); do
    run "${FL[$(((k + r - 1) % n))]}" "$r"
  done
done

# ---- summary -----------------------------------------------------------------------------
# median FLAVOR COLUMN (3 rps, 4 p50, 5 p99, 6 cpu, 7 hwm)
median() {
  awk -v f="$1" -v c="$2" '$1 == f { print $c }' "$WORK/results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A RPS P50 P99 CPU HWM
for f in "${FL[@]}"; do
  RPS[$f]=$(median "$f" 3)
  P50[$f]=$(median "$f" 4)
  P99[$f]=$(median "$f" 5)
  CPU[$f]=$(median "$f" 6)
  HWM[$f]=$(median "$f" 7)
done

echo
echo "medians over $ROUNDS rounds (noisy on a shared machine: compare flavors, not runs)"
printf '%-10s %10s %9s %9s %10s %10s %9s\n' flavor "req/s" "p50 us" "p99 us" "CPU us/req" \
  "peak MiB" "arena/x"
for f in "${FL[@]}"; do
  printf '%-10s %10.0f %9.0f %9.0f %10.2f %10.1f %8.2fx\n' "$f" "${RPS[$f]}" "${P50[$f]}" \
    "${P99[$f]}" "${CPU[$f]}" "$(awk -v k="${HWM[$f]}" 'BEGIN { print k / 1024 }')" \
    "$(awk -v a="${RPS[arena]:-0}" -v b="${RPS[$f]}" 'BEGIN { print (b > 0 ? a / b : 0) }')"
done

# Goals, printed only. Each line: description, measured ratio, target, met/missed.
GOALS=()
goal() { # goal TEXT VALUE TARGET CMP(ge|le)
  local met
  met=$(awk -v v="$2" -v t="$3" -v c="$4" 'BEGIN { ok = (c == "ge") ? v >= t : v <= t; print ok ? "met" : "MISSED" }')
  printf '  %-52s %6.2fx  (goal %s %.2fx)  %s\n' "$1" "$2" "$([[ $4 == ge ]] && echo '>=' || echo '<=')" "$3" "$met"
  GOALS+=("{\"goal\":\"$1\",\"ratio\":$2,\"target\":$3,\"met\":$([[ $met == met ]] && echo true || echo false)}")
}
if [[ -n "${RPS[arena]:-}" && -n "${RPS[malloc]:-}" ]]; then
  echo
  echo "goals (printed, not asserted):"
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }'; }
  goal "arena req/s vs glibc malloc" "$(ratio "${RPS[arena]}" "${RPS[malloc]}")" 1.3 ge
  best=
  for f in jemalloc mimalloc tcmalloc; do
    [[ -n "${RPS[$f]:-}" ]] || continue
    if [[ -z "$best" ]] || awk -v a="${RPS[$f]}" -v b="${RPS[$best]}" 'BEGIN { exit !(a > b) }'; then
      best=$f
    fi
  done
  if [[ -n "$best" ]]; then
    goal "arena req/s vs best LD_PRELOAD peer ($best)" "$(ratio "${RPS[arena]}" "${RPS[$best]}")" 1.1 ge
    goal "arena p99 vs $best p99" "$(ratio "${P99[arena]}" "${P99[$best]}")" 1.0 le
  fi
  goal "arena p99 vs glibc malloc p99" "$(ratio "${P99[arena]}" "${P99[malloc]}")" 1.0 le
  goal "arena peak RSS vs glibc malloc peak RSS" "$(ratio "${HWM[arena]}" "${HWM[malloc]}")" 1.3 le
  echo "  (less sensitive to a busy machine: requests per CPU-second of the server, arena vs"
  echo "   glibc malloc $(ratio "${CPU[malloc]}" "${CPU[arena]}" | awk '{ printf "%.2fx", $1 }')$(
    [[ -n "$best" ]] && ratio "${CPU[$best]}" "${CPU[arena]}" | awk -v b="$best" '{ printf ", vs %s %.2fx", b, $1 }'))"
fi

# ---- plot --------------------------------------------------------------------------------
if command -v gnuplot >/dev/null; then
  for f in "${FL[@]}"; do
    echo "$f ${RPS[$f]} ${P99[$f]} ${CPU[$f]}"
  done >"$WORK/plot.dat"
  cat >"$WORK/plot.gp" <<EOF
set terminal pngcairo size 1400,420 font ",10"
set output "$PNG_OUT"
set multiplot layout 1,3 title "arenart example server, POST /json on loopback (medians of $ROUNDS rounds x ${DURATION}s)"
set style fill solid 0.7 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
unset key
set title "requests/s (higher is better)"
plot "$WORK/plot.dat" using 0:2:xtic(1) with boxes lc rgb "#3a7bd5"
set title "p99 latency, us (lower is better)"
plot "$WORK/plot.dat" using 0:3:xtic(1) with boxes lc rgb "#d5863a"
set title "server CPU per request, us (lower is better)"
plot "$WORK/plot.dat" using 0:4:xtic(1) with boxes lc rgb "#5a9e4b"
unset multiplot
EOF
  if gnuplot "$WORK/plot.gp" 2>"$WORK/gnuplot.err"; then
    echo
    echo "plot: $PNG_OUT"
  else
    echo "note: gnuplot failed: $(cat "$WORK/gnuplot.err")"
  fi
fi

# ---- JSON --------------------------------------------------------------------------------
if [[ -n "$JSON_OUT" ]]; then
  {
    printf '{"benchmark":"examples/server load","quick":%s,"rounds":%d,"duration_s":%d,' \
      "$([[ $QUICK == 1 ]] && echo true || echo false)" "$ROUNDS" "$DURATION"
    printf '"connections":%d,"workers":%d,"items":%d,"build":"%s","cpus":%d,"flavors":{' \
      "$CONNS" "$WORKERS" "$ITEMS" "${MODE:-unknown}" "$NCPU"
    sep=
    for f in "${FL[@]}"; do
      runs=$(awk -v f="$f" '$1 == f { printf "%s{\"round\":%d,\"rps\":%s,\"p50_us\":%s,\"p99_us\":%s,\"cpu_us_per_req\":%s,\"peak_rss_kib\":%s}", (n++ ? "," : ""), $2, $3, $4, $5, $6, $7 }' "$WORK/results")
      printf '%s"%s":{"preload":"%s","median":{"rps":%s,"p50_us":%s,"p99_us":%s,"cpu_us_per_req":%s,"peak_rss_kib":%s},"runs":[%s]}' \
        "$sep" "$f" "${LIB[$f]:-}" "${RPS[$f]}" "${P50[$f]}" "${P99[$f]}" "${CPU[$f]}" "${HWM[$f]}" "$runs"
      sep=,
    done
    printf '},"goals":['
    (IFS=,; printf '%s' "${GOALS[*]}")
    printf ']}\n'
  } >"$JSON_OUT"
  echo "json: $JSON_OUT"
fi

awk -v s="$SCRIPT_START" -v e="$(date +%s.%N)" 'BEGIN { printf "wall time %.1f s\n", e - s }'
