# SPDX-License-Identifier: MIT
# examples/server/bench_lib.sh - what load.sh and profile.sh share, sourced by both: where the
# two server binaries are, which library each LD_PRELOAD flavor needs, and starting, checking
# and stopping one server. Sourcing it defines functions and sets BIN, LUA and MODE; the
# caller must have set -euo pipefail, defined die(), and created $WORK (a scratch folder).
# SERVER_BIN_DIR, if set, names a folder holding server and server_malloc to use instead.
#
# One copy of this logic, so that the profile is taken from exactly the processes the load
# comparison measures: same binaries, same preload check, same flavor check, same pinning.

# Paths given by the user are relative to where they ran the command (bazel run changes the
# working directory to the runfiles tree).
abspath() {
  case "$1" in
    /*) echo "$1" ;;
    *) echo "${BUILD_WORKING_DIRECTORY:-$PWD}/$1" ;;
  esac
}

# ---- the binaries: bazel run's runfiles, or a --config=opt build of our own ---------------
_BL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_BL_RUNFILES="${RUNFILES_DIR:-$0.runfiles}"
if [[ -n "${SERVER_BIN_DIR:-}" ]]; then
  # Another build of both flavors (say, of an older commit, to compare before and after).
  BIN=$(abspath "$SERVER_BIN_DIR")
  [[ -x "$BIN/server" && -x "$BIN/server_malloc" ]] || die "no server binaries in $BIN"
elif [[ -x "$_BL_RUNFILES/arenart/examples/server/server" ]]; then
  BIN="$_BL_RUNFILES/arenart/examples/server"
elif [[ -x "$_BL_HERE/server" && -x "$_BL_HERE/server_malloc" ]]; then
  BIN="$_BL_HERE" # bazel run: the working directory is the runfiles tree
else
  _BL_ROOT=$(cd "$_BL_HERE/../.." && pwd)
  _BL_BZ=(${BAZEL:-bazel} ${BAZEL_STARTUP_OPTS:-})
  echo "building both flavors with --config=opt ..."
  (cd "$_BL_ROOT" && "${_BL_BZ[@]}" build --config=opt --noshow_progress --color=no \
    --symlink_prefix=/ //examples/server:server //examples/server:server_malloc) >&2
  BIN="$(cd "$_BL_ROOT" && "${_BL_BZ[@]}" info --config=opt bazel-bin 2>/dev/null)/examples/server"
fi
LUA="$_BL_HERE/post.lua"
[[ -f "$LUA" ]] || LUA="$BIN/post.lua"
[[ -f "$LUA" ]] || die "post.lua not found"
MODE=$(readlink -f "$BIN/server" | grep -o 'k8-[a-z]*' | head -1 || true)
[[ -z "$MODE" && -n "${SERVER_BIN_DIR:-}" ]] && MODE="from $BIN"

# Says so when the binaries are a bazel build that is not --config=opt.
warn_if_not_opt() {
  case "$MODE" in
    k8-opt | from\ *) ;;
    *) echo "warning: the binaries are not an optimised build; use --config=opt" ;;
  esac
}

# lib_for FLAVOR: the library to preload (nothing for arena and malloc); fails if not installed.
lib_for() {
  local f=$1 name d
  case "$f" in
    arena | malloc) return 0 ;;
    jemalloc) name=libjemalloc.so.2 ;;
    mimalloc) name=libmimalloc.so.2 ;;
    tcmalloc) name=libtcmalloc_minimal.so.4 ;;
    *) return 1 ;;
  esac
  for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib \
    /usr/local/lib; do
    [[ -e "$d/$name" ]] && { echo "$d/$name"; return 0; }
  done
  return 1
}

# check_flavors F1 F2 ...: sets FL (the flavors that can run, in order) and LIB[f] (their
# preloads); says which are skipped. The caller declares `declare -A LIB` first.
check_flavors() {
  local f lib
  FL=()
  for f in "$@"; do
    case "$f" in
      arena | malloc | jemalloc | mimalloc | tcmalloc) ;;
      *) die "unknown flavor '$f' (known: arena, malloc, jemalloc, mimalloc, tcmalloc)" ;;
    esac
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
}

# The server on CPU 0 and the load generator on CPU 1 when there are two CPUs or more.
NCPU=$(nproc)
if [[ $NCPU -ge 2 ]] && command -v taskset >/dev/null; then
  PIN_SERVER=(taskset -c 0)
  PIN_WRK=(taskset -c 1)
else
  PIN_SERVER=()
  PIN_WRK=()
fi

# http_get PORT PATH: the whole answer to one HTTP/1.0 GET.
http_get() {
  local port=$1 path=$2
  (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET %s HTTP/1.0\r\n\r\n' "$path" >&3 &&
    timeout 5 cat <&3)
}

# requests_answered PORT: the server's server_requests_total (the GET itself not included).
requests_answered() {
  http_get "$1" /stats | grep -o '"server_requests_total":[0-9]*' | cut -d: -f2
}

# start_server FLAVOR WORKERS: starts it pinned, sets SERVER_PID and PORT, and checks that the
# preload is mapped and that the server answers as the flavor we think.
SERVER_PID=
PORT=
start_server() {
  local f=$1 workers=$2 bin="$BIN/server_malloc" env=() i
  [[ "$f" == arena ]] && bin="$BIN/server"
  [[ -n "${LIB[$f]:-}" ]] && env=(LD_PRELOAD="${LIB[$f]}")
  # A fresh file per run: the parent may look before the child has opened (truncated) it.
  rm -f "$WORK/server.out" "$WORK/server.err"
  env "${env[@]}" "${PIN_SERVER[@]}" "$bin" --port 0 --workers "$workers" >"$WORK/server.out" \
    2>"$WORK/server.err" &
  SERVER_PID=$!
  PORT=
  for ((i = 0; i < 500; i++)); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$WORK/server.out" \
      2>/dev/null || true)
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "$f: server exited: $(cat "$WORK/server.err")"
    sleep 0.01
  done
  [[ -n "$PORT" ]] || die "$f: server did not start"
  if [[ -n "${LIB[$f]:-}" ]] && ! grep -q "$(basename "${LIB[$f]}")" "/proc/$SERVER_PID/maps"; then
    die "$f: ${LIB[$f]} is not mapped into the server"
  fi
  local hello want=arena
  hello=$(http_get "$PORT" /)
  [[ "$f" != arena ]] && want=malloc
  [[ "$hello" == *"\"flavor\":\"$want\""* ]] || die "$f: unexpected answer: $hello"
}

# stop_server FLAVOR: SIGTERM, and the server must exit 0.
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || die "$1: server exited with status $? on SIGTERM"
  SERVER_PID=
}

# server_cpu_ns PID: CPU time of all the server's threads so far, in nanoseconds (the
# scheduler's per-thread sum_exec_runtime: exact, where /proc/PID/stat counts 10 ms ticks).
# Falls back to utime + stime ticks where schedstat is missing (kernels without schedstats).
server_cpu_ns() {
  local ns
  ns=$(cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }')
  if [[ -z "$ns" || "$ns" == 0 ]]; then
    ns=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat")
  fi
  echo "$ns"
}
