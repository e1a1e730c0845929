#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/test.sh - every test of arenart, in every configuration that matters. CI runs this.
#
#   0. format     tools/format.sh --check: every git-tracked C/C++ file (less those in
#                 .clang-format-ignore) as clang-format 14 formats it with .clang-format. One
#                 result; the failure lists the files, and `tools/format.sh` fixes them.
#   0b. layering  tools/layering.py: no library files that call each other (a cycle of any
#                 length), read from objects compiled one file at a time at each debug level,
#                 and docs/architecture.md's table of who uses whom matches the code.
#                 One result.
#   1. default    bazel test //...                           (manual-tagged targets skipped)
#                 Includes: unit tests; the checked-mode outcomes of tests/sanitizer
#                 (detect_test, checked_test); valgrind_test (the victim under memcheck:
#                 use after reset/rewind/scope end and a red-zone write are reported at the
#                 faulting line, a clean run reports nothing); the fault sweeps, RLIMIT_AS
#                 children and bad-input table (tests/fault); the API-walk replay
#                 (tests/fuzz: seed corpus + fixed-seed walks); the stress suite and the
#                 quick soak (stress/soak) without sanitizers.
#   2. asan       bazel test --config=asan //tests/... //runtime/... //examples/... //integrations/...
#                 ASan+UBSan+LSan: unit tests, the ASan detection tests (tests/sanitizer:
#                 the victim must die with a use-after-poison / heap-use-after-free report
#                 naming the faulting function and line), the fault sweeps under
#                 LeakSanitizer, the API-walk replay. (no_asan targets: valgrind, RLIMIT_AS.)
#   3. tsan       bazel test --config=tsan //stress/... //examples/... //tests/concurrent/...
#                 The stress suite, the quick soak and the ConcurrentArena's own tests
#                 under ThreadSanitizer.
#   4. canary     //stress:tsan_canary built with --config=tsan and run: it has a planted
#                 data race, and passes only if ThreadSanitizer reports it.
#   5. heap       bazel test --config=asan --config=heap HEAP_TARGETS (below)
#                 The heap flavor (every arena allocation its own malloc) under ASan,
#                 so ASan sees exact object boundaries: containers, the API walk, the
#                 detection/checked tests, the fault sweeps and the bad-input table.
#   6a. model     The reference-model walks (tests/model) in the two configs steps 1-3 do not
#                 cover: --config=opt (release: -O2 -DNDEBUG, AR_DEBUG 0) for both walks and
#                 the API-walk replay, and --config=tsan for the multithreaded walk. (Default
#                 and asan run them in 1-2.)
#   6b. fuzz      //tests/fuzz:api_fuzzer built with --config=fuzz (clang libFuzzer + ASan +
#                 UBSan), deterministic: every checked-in corpus file replayed once, then a
#                 fixed-seed, fixed-length run (-seed=FUZZ_SEED -runs=FUZZ_RUNS) over a scratch
#                 copy of the corpus. No clock and no random seed, so the result depends on the
#                 commit alone. One result. Open-ended fuzzing is tools/fuzz.sh, not CI.
#   7. install    tools/install_test.sh: install into a temporary prefix, build a program with
#                 plain cc + pkg-config (shared and static) and check its output. One result.
#   8. docs       tools/docs.sh: the Doxygen API reference must build without a warning. One
#                 result; skipped (counted neither way) only if doxygen is not installed.
#   9. numa-vm    tools/numa-vm.sh: NUMA placement on real multi-node kernels (QEMU guests of
#                 five topologies); each gate it prints counts as one result.
#
# Results are counted per (config, test target) from Bazel's build-event JSON
# (--build_event_json_file, read by tools/count_results.py); a bazel run that fails before any
# test result (a build error) counts as at least one failure. The last
# line of output is always "N passed, N failed"; the exit status is non-zero if N failed > 0.
#
# Extra arguments are passed to every `bazel test` / `bazel build` (e.g. --jobs=1).
# FUZZ_SEED and FUZZ_RUNS (environment) set the libFuzzer pass's seed (default 1) and number
# of inputs (default 30000); AR_MODEL_SEED/STEPS/WALKS lengthen the model walks (tests/model).
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
  local bep="$LOGDIR/$name.bep.json"
  bazel test "${COMMON[@]}" "${TEST_FLAGS[@]}" --build_event_json_file="$bep" "${flags[@]}" \
    "${EXTRA[@]}" -- "${patterns[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if ((rc == 4)); then
    echo "-- $name: bazel found no test targets to run (none, or all filtered out by tags)"
  fi
  python3 tools/count_results.py "$bep" "$rc" >"$LOGDIR/$name.counts"
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

# gate NAME FIX CMD...: one counted result from a command that is not a Bazel test. Its output
# goes to the screen and to $LOGDIR/NAME.log; a failure is listed with the log's first line
# and says how to fix it (FIX).
gate() {
  local name=$1 fix=$2
  shift 2
  echo "\$ $*"
  "$@" 2>&1 | tee "$LOGDIR/$name.log"
  local rc=${PIPESTATUS[0]}
  if ((rc == 0)); then
    PASSED=$((PASSED + 1))
    echo "-- $name: PASSED"
  else
    FAILED=$((FAILED + 1))
    FAILURES+=("[$name] $*: $(grep -m1 . "$LOGDIR/$name.log")")
    echo "-- $name: FAILED ($fix; exit status $rc)"
  fi
}

# ---- 0. formatting ------------------------------------------------------------------------
# First because it takes seconds, and a failure here is fixed by one command.
header "format: tools/format.sh --check (clang-format 14, .clang-format)"
gate format "fix with tools/format.sh, then commit" tools/format.sh --check

# ---- 0b. layering ---------------------------------------------------------------------
# docs/architecture.md's rule that library files call one way only, measured from the symbol
# tables of objects compiled one file at a time, at each debug level.
header "layering: tools/layering.py (no two library files call each other)"
gate layering "see docs/architecture.md, 'Which files may call which'" python3 tools/layering.py --doc docs/architecture.md

# ---- 1. default configuration ---------------------------------------------------------
header "default configuration: every test target"
run_bazel_test default -- //...

# ---- 2. AddressSanitizer + UBSan ------------------------------------------------------
header "asan config (ASan + UBSan): //tests/... //runtime/... //examples/... //integrations/..."
ASAN_PATTERNS=()
for dir in tests runtime examples integrations; do
  if has_tests "$dir"; then ASAN_PATTERNS+=("//$dir/..."); else echo "(no test targets under //$dir)"; fi
done
if ((${#ASAN_PATTERNS[@]} > 0)); then
  run_bazel_test asan --config=asan -- "${ASAN_PATTERNS[@]}"
else
  echo "-- asan: nothing to run"
fi

# ---- 3. ThreadSanitizer stress suite --------------------------------------------------
header "tsan config (clang ThreadSanitizer): //stress/... //examples/... //tests/concurrent/..."
TSAN_PATTERNS=()
for dir in stress examples tests/concurrent; do
  if has_tests "$dir"; then TSAN_PATTERNS+=("//$dir/..."); else echo "(no test targets under //$dir)"; fi
done
if ((${#TSAN_PATTERNS[@]} > 0)); then
  run_bazel_test tsan --config=tsan -- "${TSAN_PATTERNS[@]}"
else
  echo "-- tsan: nothing to run"
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

# ---- 5. the heap flavor under ASan ----------------------------------------------------
# The heap flavor has no chunks. The serial-arena tests that assert the chunk layout throughout
# (chunk counts, addresses, the source's calls, exact byte counts) are listed with
# chunk_layout_test (tests/arena/arena_unit.h) and report skipped there; the stress suite checks
# chunk accounting and stays out. The tests listed skip their other chunk-layout cases there.
HEAP_TARGETS=(
  //tests/containers:vec_test
  //tests/containers:map_test
  //tests/containers:buf_test
  //tests/containers:containers_fuzz_test
  //tests/fuzz:api_fuzz_test
  //tests/sanitizer:detect_test
  //tests/sanitizer:checked_test
  //tests/fault:fault_test
  //tests/fault:bad_input_test
  //tests/arena/...
  //tests/concurrent:concurrent_test
  //tests/concurrent:api_test
  //tests/thread:thread_test
  //tests/arenapool:arenapool_test
  //tests/chunkpool:chunkpool_test
  //tests/registry:stats_test
)
header "heap flavor under ASan (--config=asan --config=heap)"
run_bazel_test heap --config=asan --config=heap -- "${HEAP_TARGETS[@]}"

# ---- 6a. the model walks in release and under TSan -------------------------------------
header "model: //tests/model and the API-walk replay in --config=opt; the multithreaded walk in --config=tsan"
run_bazel_test model-opt --config=opt -- //tests/model/... //tests/fuzz:api_fuzz_test
run_bazel_test model-tsan --config=tsan -- //tests/model:mt_model_test

# ---- 6b. a deterministic libFuzzer pass --------------------------------------------------
# Replay every corpus file, then a fixed-seed run of fixed length: the same commit always runs
# the same inputs. (FUZZ_RUNS was sized to about a minute on the 2-core CI machine.)
FUZZ_SEED="${FUZZ_SEED:-1}"
FUZZ_RUNS="${FUZZ_RUNS:-30000}"
header "fuzz: //tests/fuzz:api_fuzzer (libFuzzer + ASan + UBSan): corpus replay + -seed=$FUZZ_SEED -runs=$FUZZ_RUNS"
echo "\$ bazel build --config=fuzz //tests/fuzz:api_fuzzer"
if bazel build "${COMMON[@]}" --config=fuzz "${EXTRA[@]}" //tests/fuzz:api_fuzzer; then
  fuzz_bin="$(bazel info "${COMMON[@]}" --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz/api_fuzzer"
  fuzz_dir="$LOGDIR/fuzz-corpus"
  mkdir -p "$fuzz_dir"
  cp tests/fuzz/corpus/* "$fuzz_dir"/
  # A crashing input is kept outside the log directory, which is removed on exit.
  fuzz_artifacts="${TMPDIR:-/tmp}/arenart-fuzz-artifacts"
  mkdir -p "$fuzz_artifacts"
  fuzz_flags=(-timeout=30 -rss_limit_mb=2048 -artifact_prefix="$fuzz_artifacts/")
  # Fewer moving parts between runs of the same commit: no address randomization where setarch
  # allows it (some library paths depend on addresses, and coverage feedback sees them), and no
  # timed corpus reloads. Seed and run count fix the rest.
  norand=()
  if setarch "$(uname -m)" -R true >/dev/null 2>&1; then norand=(setarch "$(uname -m)" -R); fi
  echo "\$ $fuzz_bin tests/fuzz/corpus/*"
  timeout 600 "$fuzz_bin" "${fuzz_flags[@]}" tests/fuzz/corpus/* >"$LOGDIR/fuzz-replay.log" 2>&1
  replay_rc=$?
  tail -n 3 "$LOGDIR/fuzz-replay.log"
  fuzz_rc=1
  if ((replay_rc == 0)); then
    echo "\$ ${norand[*]} $fuzz_bin -seed=$FUZZ_SEED -runs=$FUZZ_RUNS -max_len=4096 -reload=0 <scratch copy of tests/fuzz/corpus>"
    timeout 900 "${norand[@]}" "$fuzz_bin" "${fuzz_flags[@]}" -seed="$FUZZ_SEED" \
      -runs="$FUZZ_RUNS" -max_len=4096 -reload=0 -print_final_stats=1 "$fuzz_dir" \
      >"$LOGDIR/fuzz.log" 2>&1
    fuzz_rc=$?
    tail -n 12 "$LOGDIR/fuzz.log"
  fi
  if ((replay_rc == 0 && fuzz_rc == 0)); then
    PASSED=$((PASSED + 1))
    echo "-- fuzz: PASSED"
  else
    if ((replay_rc != 0)); then tail -n 60 "$LOGDIR/fuzz-replay.log"; else tail -n 60 "$LOGDIR/fuzz.log"; fi
    echo "   reproduce with: $fuzz_bin <input>; crashing inputs are kept in $fuzz_artifacts"
    echo "   (the same seed and runs reproduce the whole pass: FUZZ_SEED=$FUZZ_SEED FUZZ_RUNS=$FUZZ_RUNS)"
    FAILED=$((FAILED + 1))
    FAILURES+=("[fuzz] FAILED //tests/fuzz:api_fuzzer (replay exit $replay_rc, fixed-seed exit $fuzz_rc; see the log above)")
    echo "-- fuzz: FAILED"
  fi
else
  FAILED=$((FAILED + 1))
  FAILURES+=("[fuzz] FAILED TO BUILD //tests/fuzz:api_fuzzer")
  echo "-- fuzz: FAILED TO BUILD"
fi

# ---- 7. install outside Bazel ---------------------------------------------------------
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

# ---- 8. API reference -----------------------------------------------------------------
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

# ---- 9. NUMA on real multi-node kernels ----------------------------------------------
# Boots Debian's kernel under QEMU with five NUMA topologies (tools/numa-vm.sh); every gate it
# prints (PASS/FAIL lines) counts as one result.
header "numa-vm: tools/numa-vm.sh (NUMA tests, stress and placement in QEMU guests)"
echo "\$ tools/numa-vm.sh"
tools/numa-vm.sh 2>&1 | tee "$LOGDIR/numa-vm.log"
numa_vm_rc=${PIPESTATUS[0]}
numa_vm_pass="$(grep -c '^PASS  ' "$LOGDIR/numa-vm.log" || true)"
numa_vm_fail="$(grep -c '^FAIL  ' "$LOGDIR/numa-vm.log" || true)"
PASSED=$((PASSED + numa_vm_pass))
FAILED=$((FAILED + numa_vm_fail))
while IFS= read -r line; do
  FAILURES+=("[numa-vm] ${line#FAIL  }")
done < <(grep '^FAIL  ' "$LOGDIR/numa-vm.log" || true)
if ((numa_vm_rc != 0 && numa_vm_fail == 0)); then
  FAILED=$((FAILED + 1))
  FAILURES+=("[numa-vm] FAILED tools/numa-vm.sh (exit status $numa_vm_rc before its gates)")
fi
echo "-- numa-vm: $numa_vm_pass gates passed, $numa_vm_fail failed (exit status $numa_vm_rc)"

# ---- summary --------------------------------------------------------------------------
header "summary"
if ((${#FAILURES[@]} > 0)); then
  echo "failures:"
  printf '  %s\n' "${FAILURES[@]}"
fi
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
