#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/fuzz.sh - open-ended fuzzing of the API walk, by hand, outside CI.
#
# CI (tools/test.sh step 6b) must be deterministic: it replays the checked-in corpus and runs a
# fixed-seed, fixed-length libFuzzer pass, so a red CI run is always caused by the change under
# test. Exploration - a random seed, as long as you like - lives here instead, and what it
# finds comes back into CI as a corpus file.
#
#   tools/fuzz.sh [--seconds=N] [--seed=N] [--jobs=N] [--out=DIR] [--target=LABEL] [-- LIBFUZZER_FLAGS...]
#
#   --seconds=N   how long to fuzz (default 600)
#   --seed=N      libFuzzer's -seed (default: random, printed so the run can be repeated)
#   --jobs=N      parallel libFuzzer processes (default 1)
#   --out=DIR     where new inputs and crashers go (default build/fuzz/<target name>/):
#                   DIR/corpus/   inputs that found new coverage (tests/fuzz/corpus is read, never written)
#                   DIR/crashes/  crash-*, leak-*, timeout-*, oom-* files, one per finding
#                   DIR/fuzz.log  libFuzzer's output
#   --target=LABEL  default //tests/fuzz:api_fuzzer (its seeds: tests/fuzz/corpus)
#
# A crasher becomes a regression test in three steps:
#   1. reproduce it:   $(bazel info --config=fuzz bazel-bin)/tests/fuzz/api_fuzzer DIR/crashes/crash-...
#   2. fix the library (or the model, if the model was wrong);
#   3. copy it into the corpus under a name that says what it is:
#        cp DIR/crashes/crash-... tests/fuzz/corpus/regress-<short-name>
#      From then on //tests/fuzz:api_fuzz_test replays it in every config (default, asan, heap,
#      opt, ...) and tools/test.sh step 6b replays it under libFuzzer. Keep corpus files small
#      (minimize first: api_fuzzer -minimize_crash=1 -runs=10000 DIR/crashes/crash-...).
#
# Exit status: 0 if libFuzzer found nothing, 1 if it found something (listed at the end),
# 2 for a usage or build error.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_TO_RUN=600
SEED=""
JOBS=1
OUT=""
TARGET="//tests/fuzz:api_fuzzer"
EXTRA=()
while (($# > 0)); do
  case "$1" in
    --seconds=*) SECONDS_TO_RUN="${1#*=}" ;;
    --seed=*) SEED="${1#*=}" ;;
    --jobs=*) JOBS="${1#*=}" ;;
    --out=*) OUT="${1#*=}" ;;
    --target=*) TARGET="${1#*=}" ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for n in "$SECONDS_TO_RUN" "$JOBS" ${SEED:+"$SEED"}; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: '$n' is not a number" >&2; exit 2; }
done
if [[ -z "$SEED" ]]; then
  SEED=$(( (RANDOM << 15 | RANDOM) + 1 ))
fi

pkg="${TARGET%%:*}"
pkg="${pkg#//}"
name="${TARGET##*:}"
OUT="${OUT:-build/fuzz/$name}"
mkdir -p "$OUT/corpus" "$OUT/crashes" || exit 2
seeds="$pkg/corpus"

echo "\$ bazel build --config=fuzz $TARGET"
if ! bazel build --noshow_progress --config=fuzz "$TARGET"; then
  echo "fuzz.sh: build failed" >&2
  exit 2
fi
bin="$(bazel info --config=fuzz bazel-bin 2>/dev/null)/$pkg/$name"

echo "fuzz.sh: $TARGET for ${SECONDS_TO_RUN} s, seed $SEED, $JOBS job(s)"
echo "fuzz.sh: new inputs -> $OUT/corpus, crashers -> $OUT/crashes, log -> $OUT/fuzz.log"
args=(-seed="$SEED" -max_total_time="$SECONDS_TO_RUN" -timeout=30 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$OUT/crashes/")
if ((JOBS > 1)); then
  args+=(-jobs="$JOBS" -workers="$JOBS")
fi
# New inputs go to the first directory; the checked-in seeds are only read.
"$bin" "${args[@]}" "${EXTRA[@]}" "$OUT/corpus" ${seeds:+"$seeds"} 2>&1 | tee "$OUT/fuzz.log"
rc=${PIPESTATUS[0]}

if ((rc == 0)); then
  echo "fuzz.sh: nothing found (seed $SEED, ${SECONDS_TO_RUN} s)"
  exit 0
fi
echo "fuzz.sh: libFuzzer exited with $rc (seed $SEED). Findings in $OUT/crashes:"
ls -1 "$OUT/crashes"
echo "fuzz.sh: reproduce with: $bin $OUT/crashes/<file>; then see the top of tools/fuzz.sh"
echo "         to turn it into a corpus regression (tests/fuzz/corpus/regress-<name>)."
exit 1
