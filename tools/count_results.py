#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts per-target test results of one `bazel test` run (used by tools/test.sh).

Why the build-event protocol: Bazel's human summary is a format for eyes, and a regex over it
breaks silently when a status word or the column layout changes. `bazel test
--build_event_json_file=F` writes the same results as data, one JSON event per line:

  targetConfigured  {"configured": {"targetKind": "cc_test rule", "testSize": ...}}
                    -> which labels are tests (a test target has a testSize);
  testSummary       {"testSummary": {"overallStatus": "PASSED" | "FLAKY" | "FAILED" | ...}}
                    -> one per test target that ran (or was cached);
  targetCompleted   {"completed": {"success": false}} or an "aborted" payload
                    -> a test target that could not be built, so it has no summary.

PASSED counts as passed; every other status (FLAKY included: a test that needed a retry is
not a pass) as failed. A test target with no summary counts as failed (FAILED_TO_BUILD) when
its build failed or was aborted, and not at all when it was built and not run (a test that
--test_tag_filters leaves out, such as the no_asan ones). If Bazel exited non-zero and nothing above names a failure (a bad flag, a loading
error), the run counts as one failure, so a broken invocation can never look green.

Usage: count_results.py BEP_JSON_FILE EXIT_CODE
Prints "PASSED FAILED" on the first line, then one "STATUS TARGET" line per failure.
"""

import json
import sys

# Bazel exit codes: 0 ok, 3 some tests failed, 4 build ok but no test targets found.
EXIT_NO_TESTS = 4


def read_events(path):
    events = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    events.append(json.loads(line))
                except ValueError:
                    # A run killed mid-write leaves a torn last line; what came before stands.
                    continue
    except OSError:
        pass
    return events


def count(events, exit_code):
    tests = set()
    status = {}  # label -> overallStatus, or a build failure
    for e in events:
        eid = e.get("id", {})
        if "targetConfigured" in eid:
            label = eid["targetConfigured"].get("label")
            if "testSize" in e.get("configured", {}):
                tests.add(label)
        elif "testSummary" in eid:
            label = eid["testSummary"].get("label")
            tests.add(label)
            status[label] = e.get("testSummary", {}).get("overallStatus", "NO_STATUS")
        elif "targetCompleted" in eid:
            label = eid["targetCompleted"].get("label")
            ok = e.get("completed", {}).get("success", False) and "aborted" not in e
            if not ok and label not in status:
                status[label] = "FAILED_TO_BUILD"
    passed = 0
    failures = []
    for label in sorted(tests):
        if label not in status:
            # Built and not run: filtered out by --test_tag_filters (no_asan, manual, ...).
            continue
        s = status[label]
        if s == "PASSED":
            passed += 1
        else:
            failures.append((s, label))
    if exit_code not in (0, EXIT_NO_TESTS) and not failures:
        failures.append(("BAZEL_EXIT_%d" % exit_code, "(bazel invocation)"))
    return passed, failures


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    passed, failures = count(read_events(argv[1]), int(argv[2]))
    print(passed, len(failures))
    for status, target in failures:
        print(status, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
