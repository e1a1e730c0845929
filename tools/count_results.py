#!/usr/bin/env python3
"""Counts per-target test results in the log of one `bazel test` run (used by tools/test.sh).

Bazel prints one line per test target at the end of a run (with --test_summary=short):

    //tests:arena_test                                   PASSED in 0.3s
    //tests:other_test                          (cached) PASSED in 0.1s
    //stress:mpmc_test                                   FAILED in 2.0s
    //stress:slow_test                                   TIMEOUT in 60.0s
    //stress:racy_test                                   FLAKY, failed in 1 out of 2 in 1.2s
    //tests:broken_test                                  NO STATUS
    //tests:bad_test                                     FAILED TO BUILD

PASSED counts as passed; every other status as failed. If bazel exited non-zero yet no
failing target line was found (a build error before any test ran, a bad flag), the run
counts as one failure, so a broken build can never look green.

Usage: count_results.py LOG EXIT_CODE
Prints "PASSED FAILED" on the first line, then one "STATUS TARGET" line per failure.
"""

import re
import sys

# Bazel exit codes: 0 ok, 3 some tests failed, 4 build ok but no test targets found.
EXIT_NO_TESTS = 4

RESULT_LINE = re.compile(
    r"^(?P<target>(?:@[\w.~-]*)?//\S*)\s+(?:\(cached\)\s+)?"
    r"(?P<status>PASSED|FAILED TO BUILD|FAILED|TIMEOUT|FLAKY|NO STATUS|INCOMPLETE|"
    r"REMOTE FAILURE|SKIPPED)\b"
)


def count(text, exit_code):
    results = {}  # target -> status; the last line for a target wins
    for line in text.splitlines():
        m = RESULT_LINE.match(line.rstrip())
        if m:
            results[m.group("target")] = m.group("status")
    passed = sum(1 for s in results.values() if s == "PASSED")
    failures = [(s, t) for t, s in sorted(results.items()) if s != "PASSED"]
    if exit_code not in (0, EXIT_NO_TESTS) and not failures:
        failures.append(("BAZEL_EXIT_%d" % exit_code, "(bazel invocation)"))
    return passed, failures


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8", errors="replace") as f:
        text = f.read()
    passed, failures = count(text, int(argv[2]))
    print(passed, len(failures))
    for status, target in failures:
        print(status, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
