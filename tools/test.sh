#!/usr/bin/env bash
# tools/test.sh - every test of arenart, in every configuration that matters. CI runs this.
#
#   1. default    bazel test //...                           (manual-tagged targets skipped)
#   2. asan       bazel test --config=asan //tests/... //runtime/...
#   3. tsan       bazel test --config=tsan //stress/...     (when //stress has tests)
#   4. canary     //stress:tsan_canary built with --config=tsan and run: it has a planted
#                 data race, and passes only if ThreadSanitizer reports it.
#   5. install    tools/install_test.sh: install into a temporary prefix, build a program with
#                 plain cc + pkg-config (shared and static) and check its output. One result.
#   6. docs       tools/docs.sh: the Doxygen API reference must build without a warning. One
#                 result; skipped (counted neither way) only if doxygen is not installed.
#
# Results are counted per (config, test target) from Bazel's own summary lines; a bazel run
# that fails before any test result (a build error) counts as at least one failure. The last
# line of output is always "N passed, N failed"; the exit status is non-zero if N failed > 0.
#
# Extra arguments are passed to every `bazel test` / `bazel build` (e.g. --jobs=1).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

if ! tools/setup.sh; then
  echo "setup failed"
  echo "0 passed, 1 failed"
  exit 1
fi

EXTRA=("$@")
# Clean, line-oriented logs; every test target's result listed (the .bazelrc's terse summary
# omits passing ones, which we need to count).
COMMON=(--noshow_progress --color=no --curses=no)
TEST_FLAGS=(--keep_going --test_output=errors --test_summary=short)

LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/arenart-test.XXXXXX")"
trap 'rm -rf "$LOGDIR"' EXIT

PASSED=0
FAILED=0
FAILURES=()

header() {
  echo
  echo "=================================================================================="
  echo "== $*"
  echo "=================================================================================="
}

# record CONFIG COUNTS_FILE: adds one run's counts (first line "P F", then failures).
record() {
  local config="$1" results="$2"
  local first p f line
  first="$(head -n 1 "$results")"
  p="${first% *}"
  f="${first#* }"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  while IFS= read -r line; do
    FAILURES+=("[$config] $line")
  done < <(tail -n +2 "$results")
  echo "-- $config: $p passed, $f failed"
}

# run_bazel_test CONFIG_NAME FLAGS... -- PATTERNS...
run_bazel_test() {
  local name="$1"
  shift
  local flags=() patterns=()
  while (($# > 0)) && [[ "$1" != "--" ]]; do
    flags+=("$1")
    shift
  done
  shift
  patterns=("$@")
  local log="$LOGDIR/$name.log" rc
  echo "\$ bazel test ${flags[*]} ${patterns[*]}"
  bazel test "${COMMON[@]}" "${TEST_FLAGS[@]}" "${flags[@]}" "${EXTRA[@]}" -- \
    "${patterns[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if ((rc == 4)); then
    echo "-- $name: bazel found no test targets to run (none, or all filtered out by tags)"
  fi
  python3 tools/count_results.py "$log" "$rc" >"$LOGDIR/$name.counts"
  record "$name" "$LOGDIR/$name.counts"
}

# has_tests DIR: true if some package under DIR holds a test target that `bazel test DIR/...`
# would run (manual-tagged ones excluded). A package that cannot even be loaded counts as
# having tests, so the error shows up in the test run instead of being skipped.
has_tests() {
  local dir="$1" out
  if [[ -z "$(find "$dir" \( -name BUILD -o -name BUILD.bazel \) -print -quit 2>/dev/null)" ]]; then
    return 1
  fi
  if ! out="$(bazel query "${COMMON[@]}" \
    "tests(//$dir/...) except attr(tags, '\\bmanual\\b', //$dir/...)" 2>"$LOGDIR/query.err")"; then
    cat "$LOGDIR/query.err"
    return 0
  fi
  [[ -n "$out" ]]
}

# ---- 1. default configuration ---------------------------------------------------------
header "default configuration: every test target"
run_bazel_test default -- //...

# ---- 2. AddressSanitizer + UBSan ------------------------------------------------------
header "asan config (ASan + UBSan): //tests/... //runtime/..."
ASAN_PATTERNS=()
for dir in tests runtime; do
  if has_tests "$dir"; then ASAN_PATTERNS+=("//$dir/..."); else echo "(no test targets under //$dir)"; fi
done
if ((${#ASAN_PATTERNS[@]} > 0)); then
  run_bazel_test asan --config=asan -- "${ASAN_PATTERNS[@]}"
else
  echo "-- asan: nothing to run"
fi

# ---- 3. ThreadSanitizer stress suite --------------------------------------------------
header "tsan config (clang ThreadSanitizer): //stress/..."
if has_tests stress; then
  run_bazel_test tsan --config=tsan -- //stress/...
else
  echo "-- tsan: no test targets under //stress yet; nothing to run"
fi

# ---- 4. the TSan canary ---------------------------------------------------------------
header "tsan canary: //stress:tsan_canary must be reported as a data race"
# It exists if bazel can load it, or if stress/BUILD names it but cannot be loaded (then the
# build below fails and says why, instead of the canary being skipped quietly).
canary_exists() {
  bazel query "${COMMON[@]}" //stress:tsan_canary >/dev/null 2>&1 && return 0
  grep -qs '"tsan_canary"' stress/BUILD stress/BUILD.bazel
}
if canary_exists; then
  canary_log="$LOGDIR/canary.log"
  echo "\$ bazel build --config=tsan //stress:tsan_canary"
  if bazel build "${COMMON[@]}" --config=tsan "${EXTRA[@]}" //stress:tsan_canary; then
    bin="$(bazel info "${COMMON[@]}" --config=tsan bazel-bin 2>/dev/null)/stress/tsan_canary"
    echo "\$ $bin"
    # Report everything, keep going after the first report; exit status is ignored, only
    # the report counts. A hung canary is killed after two minutes.
    TSAN_OPTIONS="halt_on_error=0" timeout 120 "$bin" >"$canary_log" 2>&1
    canary_rc=$?
    if grep -q "WARNING: ThreadSanitizer: data race" "$canary_log"; then
      PASSED=$((PASSED + 1))
      echo "-- canary: PASSED (the planted race was reported; exit status $canary_rc)"
    else
      cat "$canary_log"
      FAILED=$((FAILED + 1))
      FAILURES+=("[canary] FAILED //stress:tsan_canary (no data race reported; exit status $canary_rc)")
      echo "-- canary: FAILED (ThreadSanitizer did not report the planted race)"
    fi
  else
    FAILED=$((FAILED + 1))
    FAILURES+=("[canary] FAILED TO BUILD //stress:tsan_canary")
    echo "-- canary: FAILED TO BUILD"
  fi
else
  echo "-- canary: //stress:tsan_canary does not exist yet; skipped"
fi

# ---- 5. install outside Bazel ---------------------------------------------------------
header "install: tools/install_test.sh (install into a temporary prefix, cc + pkg-config)"
echo "\$ tools/install_test.sh ${EXTRA[*]}"
tools/install_test.sh "${EXTRA[@]}" 2>&1 | tee "$LOGDIR/install.log"
install_rc=${PIPESTATUS[0]}
if ((install_rc == 0)) && [[ "$(tail -n 1 "$LOGDIR/install.log")" == "install_test: PASS" ]]; then
  PASSED=$((PASSED + 1))
  echo "-- install: PASSED"
else
  FAILED=$((FAILED + 1))
  FAILURES+=("[install] FAILED tools/install_test.sh ($(tail -n 1 "$LOGDIR/install.log"))")
  echo "-- install: FAILED"
fi

# ---- 6. API reference -----------------------------------------------------------------
header "docs: tools/docs.sh (Doxygen API reference, no warnings allowed)"
if command -v doxygen >/dev/null 2>&1; then
  echo "\$ tools/docs.sh"
  if tools/docs.sh; then
    PASSED=$((PASSED + 1))
    echo "-- docs: PASSED"
  else
    FAILED=$((FAILED + 1))
    FAILURES+=("[docs] FAILED tools/docs.sh (Doxygen warnings; see build/docs/warnings.log)")
    echo "-- docs: FAILED"
  fi
else
  echo "-- docs: doxygen is not installed (tools/setup.sh could not install it); skipped"
fi

# ---- summary --------------------------------------------------------------------------
header "summary"
if ((${#FAILURES[@]} > 0)); then
  echo "failures:"
  printf '  %s\n' "${FAILURES[@]}"
fi
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
