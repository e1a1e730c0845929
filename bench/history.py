#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/history.py - keeps each run's bench.json and compares its goals with the run before.

Why ratios and not times: the build machine is shared, and an absolute ns/alloc moves by
tens of percent between two runs of the same commit, so a history of times would flag noise
as regressions all day. Every goal of //bench is a ratio to a peer measured in the same run
(or an instruction count, which does not move at all), and those survive a busy machine far
better; a goal that got more than 5% worse (in its own direction: up for "<=", down for
">=") is flagged. Flags are printed, never fatal unless --exit-code asks: the goals are
never asserted, and a history check that failed the main job on one noisy run would be
turned off within a week.

Goals are matched between runs by their "id" (bench.json since the goals table of issue 16);
older files, without ids, are matched by the goal's text. A goal present in only one of the
two runs is listed as new or gone, not compared.
"""
import argparse
import datetime
import json
import math
import os
import re
import shutil
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/history.py",
        description="Save a //bench run's bench.json under a history folder and compare its "
        "goal ratios with the previous saved run, flagging regressions over a threshold.",
        epilog="Typical use (tools/main.sh does this after the benchmark): "
        "bench/history.py --dir build/bench/history --save build/bench/bench.json. "
        "Without --save it compares the two newest files of --dir; with two file names, "
        "those two (NEW first).")
    p.add_argument("--dir", default="build/bench/history",
                   help="history folder (default: %(default)s)")
    p.add_argument("--save", metavar="JSON",
                   help="first copy JSON into --dir as <UTC time>-<commit>.json")
    p.add_argument("--threshold", type=float, default=5.0, metavar="PCT",
                   help="flag a goal whose value got worse by more than PCT percent "
                   "(default: %(default)s)")
    p.add_argument("--exit-code", action="store_true",
                   help="exit with status 3 when a goal regressed (default: always 0)")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="NEW [OLD]: compare these instead of the two newest in --dir")
    return p.parse_args(argv)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save(src, folder):
    run = load(src)
    commit = re.sub(r"[^A-Za-z0-9._-]", "_", str(run.get("commit", "unknown")))[:40]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    os.makedirs(folder, exist_ok=True)
    dst = os.path.join(folder, "%s-%s.json" % (stamp, commit))
    shutil.copyfile(src, dst)
    return dst


def newest(folder, n):
    if not os.path.isdir(folder):
        return []
    names = sorted(x for x in os.listdir(folder) if x.endswith(".json"))
    return [os.path.join(folder, x) for x in names[-n:]][::-1]


def goals_of(run):
    """{key: (text, value, cmp, target)}; value None when the run could not measure it."""
    out = {}
    for g in run.get("goals", []):
        text = g.get("goal", "?")
        value = g.get("printed", g.get("value"))
        cmp_, target = g.get("cmp"), g.get("target")
        if cmp_ is None and isinstance(target, str):  # before ids: "target": "<= 1.2"
            m = re.match(r"\s*([<>]=)\s*([-0-9.eE+]+)", target)
            cmp_, target = (m.group(1), float(m.group(2))) if m else (None, None)
        out[g.get("id") or text] = (text, value, cmp_, target)
    return out


def worse_by(old, new, cmp_):
    """How much worse new is than old, in percent, in the goal's direction (<= 0: not)."""
    if old is None or new is None or cmp_ is None or old <= 0 or new <= 0:
        return None
    change = (new / old - 1.0) * 100.0
    return change if cmp_ == "<=" else -change if cmp_ == ">=" else None


def fmt(v):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else "%.2f" % v


def compare(new_path, old_path, threshold):
    new, old = load(new_path), load(old_path)
    print("goal ratios: %s (commit %s) against %s (commit %s)" %
          (os.path.basename(new_path), new.get("commit", "?"), os.path.basename(old_path),
           old.get("commit", "?")))
    print("  load average at the start: %s (before: %s); repeats: %s (before: %s)" %
          (new.get("loadavg_at_start", "?"), old.get("loadavg_at_start", "?"),
           new.get("repeats", "?"), old.get("repeats", "?")))
    for key in ("mode", "machine", "threads"):
        if new.get(key) != old.get(key):
            print("  note: %s differs (%s, was %s): compare with care" %
                  (key, new.get(key), old.get(key)))
    gn, go = goals_of(new), goals_of(old)
    rows, regressed = [], 0
    for key, (text, value, cmp_, target) in gn.items():
        if key not in go:
            rows.append((text, "", fmt(value), "", "new goal"))
            continue
        before = go[key][1]
        w = worse_by(before, value, cmp_)
        if w is None:
            flag = "" if value is not None else "not measured"
            change = ""
        else:
            change = "%+.1f%%" % (-w) if abs(w) >= 0.05 else "0.0%"  # positive: better
            flag = "REGRESSED" if w > threshold else "better" if -w > threshold else ""
            regressed += w > threshold
        rows.append((text, fmt(before), fmt(value), change, flag))
    for key, (text, value, _c, _t) in go.items():
        if key not in gn:
            rows.append((text, fmt(value), "", "", "gone"))
    width = max([len(r[0]) for r in rows] + [4])
    print("  %-*s %9s %9s %9s  %s" % (width, "goal", "before", "now", "better", "flag"))
    for r in rows:
        print("  %-*s %9s %9s %9s  %s" % (width, r[0], r[1], r[2], r[3], r[4]))
    print("  %d goal(s) worse by more than %.0f%% (better: the change in the goal's own "
          "direction)" % (regressed, threshold))
    return regressed


def main(argv):
    a = parse_args(argv)
    if a.save:
        print("saved %s" % save(a.save, a.dir))
    if len(a.files) == 2:
        pair = a.files
    elif len(a.files) == 1:
        prev = [p for p in newest(a.dir, 2) if os.path.abspath(p) != os.path.abspath(a.files[0])]
        pair = [a.files[0]] + prev[:1]
    elif not a.files:
        pair = newest(a.dir, 2)
    else:
        print("history.py: at most two files", file=sys.stderr)
        return 2
    if len(pair) < 2:
        print("history: no earlier run in %s to compare with" % a.dir)
        return 0
    try:
        regressed = compare(pair[0], pair[1], a.threshold)
    except (OSError, ValueError) as e:
        print("history.py: cannot compare %s with %s: %s" % (pair[0], pair[1], e),
              file=sys.stderr)
        return 2
    return 3 if regressed and a.exit_code else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
