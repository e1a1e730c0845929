#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""integrations/report.py - one table, one JSON file and one plot from the three integration
benchmarks' JSON files (tools/main.sh's integrations step runs it).

Why a separate reader: each benchmark (//integrations/jansson:bench, //integrations/libxml2:bench,
//integrations/protobuf-c:trace_bench) measures its own library with its own unit and prints
its own goals, and a reader wants one place that says, for every library and workload size,
where arenart stands against every allocator and which goal is met. The benchmarks stay the
only ones that measure; this script only reads their `--json` files, so it can be rerun on
saved files without measuring again.

What the verdict means: a goal is "met" when the benchmark's median of per-round ratios meets
it (the same comparison the benchmark printed), and its value is printed with as many decimals
as it takes for the printed value to agree with the verdict (1.196 stays "1.196x", not a
rounded "1.20x" next to "NOT met"), so a verdict is never "met" when the printed value misses.
A goal the benchmark could not measure is printed as "not measured" and counts as not met.

Usage: report.py [--json OUT] [--png OUT] FILE...   (python3 standard library only; the plot
needs gnuplot, and is skipped with a note where gnuplot is missing)
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys

# Columns, in order: (key, heading). "arena" is the adapter as intended (jansson, libxml2: one
# scope per document, nothing freed by hand; protobuf-c: an arena reset after each batch);
# "arena+free" frees by hand inside the scope too; "scope" is protobuf-c's thread-scope
# allocator.
COLUMNS = [
    ("arena", "arena"),
    ("arena+free", "arena+free"),
    ("scope", "scope"),
    ("glibc", "glibc"),
    ("jemalloc", "jemalloc"),
    ("mimalloc", "mimalloc"),
    ("tcmalloc", "tcmalloc"),
    ("apr", "APR"),
]
# The colors of bench/catalog.c, so an allocator looks the same in every plot of the project.
COLORS = {
    "arena": "#d62728",
    "arena+free": "#ff7f0e",
    "scope": "#ff9896",
    "glibc": "#1f77b4",
    "jemalloc": "#17becf",
    "mimalloc": "#9467bd",
    "tcmalloc": "#2ca02c",
    "apr": "#bcbd22",
}
# The goals of issue 17 each benchmark is expected to report; one that is missing from its
# file (a worker failed) is printed as not measured.
EXPECTED = {
    "jansson": ["time: fastest malloc / arena", "memory: arena / glibc malloc peak RSS"],
    "libxml2": ["time: fastest malloc / arena"],
    "protobuf-c": ["fastest malloc / arenart arena", "APR pools / arenart arena"],
}
CMP = {
    ">=": lambda v, t: v >= t,
    ">": lambda v, t: v > t,
    "<=": lambda v, t: v <= t,
    "<": lambda v, t: v < t,
}


def column_of(library, name, kind=None):
    """The table column of one allocator as a benchmark names it."""
    if library == "protobuf-c":
        if kind in ("arena", "scope", "apr"):
            return kind
        return "glibc" if name == "glibc malloc" else name
    return {"glibc malloc": "glibc"}.get(name, name)


def shown(value, cmp, target):
    """The value as printed: 2 decimals, more where rounding would cross the target."""
    verdict = CMP[cmp](value, target)
    for digits in range(2, 7):
        text = f"{value:.{digits}f}"
        if CMP[cmp](float(text), target) == verdict:
            return text, verdict
    return repr(value), verdict


def load(path):
    """One benchmark file as a list of workload rows."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    bench = data.get("benchmark", "")
    library = bench.split()[0] if bench else "?"
    rows = []
    if library == "protobuf-c":
        shape = (f"{data['resources']}x{data['scopes']}x{data['spans']} spans, "
                 f"{data['blocks']} blocks")
        for t in data["threads"]:
            n = t["threads"]
            rows.append({
                "library": library,
                "workload": f"protobuf-c {n} thread{'s' if n > 1 else ''}",
                "detail": f"decode+free, {shape}, {data['batches']} batches x "
                          f"{data['repeats']} repeats",
                "unit": "wall us per batch per thread",
                "cells": {column_of(library, a["name"], a["kind"]): a
                          for a in t["allocators"]},
                "goals": t["goals"],
                "fastest": t.get("fastest_malloc"),
            })
    else:
        kib = data["kib"]
        rows.append({
            "library": library,
            "workload": f"{library} {kib} KiB",
            "detail": f"{bench}, {kib} KiB document, {data['docs_per_process']} documents x "
                      f"{data['rounds']} rounds",
            "unit": "CPU us per document",
            "cells": {column_of(library, a["name"]): a for a in data["flavors"]},
            "goals": data["goals"],
            "fastest": next((g.get("against") for g in data["goals"]
                             if g["name"].startswith("time")), None),
        })
    return library, data, rows


def against(row, goal):
    """What a goal was measured against, in the same run."""
    if goal.get("against"):
        return goal["against"]
    if goal["name"].startswith("APR"):
        return "APR pools"
    return row.get("fastest") or ""


def goal_rows(row):
    """The row's goals, each with the verdict decided here; the expected ones not measured
    are added as not met."""
    out = []
    for g in row["goals"]:
        text, ok = shown(g["value"], g["cmp"], g["target"])
        printed = g.get("verdict", "").lower() == "met"
        if printed != ok:
            print(f"report: {row['workload']} {g['name']}: the benchmark printed "
                  f"'{g.get('verdict')}', {text}x {g['cmp']} {g['target']:.2f} says otherwise",
                  file=sys.stderr)
        out.append({"goal": f"{row['workload']}: {g['name']}", "value": g["value"],
                    "printed": text + "x", "cmp": g["cmp"], "target": g["target"],
                    "verdict": "met" if ok else "NOT met",
                    "against": against(row, g)})
    names = {g["name"] for g in row["goals"]}
    for name in EXPECTED.get(row["library"], []):
        if name not in names:
            out.append({"goal": f"{row['workload']}: {name}", "value": None,
                        "printed": "-", "cmp": "", "target": None,
                        "verdict": "NOT met (not measured)", "against": ""})
    return out


def cell_time(row, key):
    a = row["cells"].get(key)
    if a is None:
        return "-"
    us = a["ns"] / 1000
    return f"{us:.1f}" if key == "arena" else f"{us:.1f} ({a['x_arena']:.2f}x)"


def cell_peak(row, key):
    a = row["cells"].get(key)
    return "-" if a is None else f"{a['peak_kib']:.0f}"


def table(rows, goals):
    """The text table: two lines per workload (time, peak RSS), then the goals."""
    lines = []
    width = [max([8] + [len(r["workload"]) for r in rows]), 10] + [14] * len(COLUMNS)
    head = ["workload", "figure"] + [h for _, h in COLUMNS] + ["fastest malloc/arena"]

    def fmt(cells):
        out = f"{cells[0]:<{width[0]}} {cells[1]:<{width[1]}}"
        for c, w in zip(cells[2:-1], width[2:]):
            out += f" {c:>{w}}"
        return (out + "  " + cells[-1]).rstrip()

    lines.append(fmt(head))
    for row in rows:
        tg = next((g for g in goals if g["goal"].startswith(row["workload"] + ": ")
                   and "fastest malloc" in g["goal"] and g["value"] is not None), None)
        ratio = f"{tg['printed']} ({tg['against']})" if tg else "-"
        unit = "CPU us/doc" if row["unit"].startswith("CPU") else "us/batch"
        lines.append(fmt([row["workload"], unit] + [cell_time(row, k) for k, _ in COLUMNS]
                         + [ratio]))
        lines.append(fmt(["", "peak KiB"] + [cell_peak(row, k) for k, _ in COLUMNS] + [""]))
    lines.append("")
    gw = max([len("goal")] + [len(g["goal"]) for g in goals])
    lines.append(f"{'goal':<{gw}}  {'value':>8}  {'target':<9} {'verdict':<22} against")
    for g in goals:
        target = f"{g['cmp']} {g['target']:.2f}x" if g["target"] is not None else "-"
        lines.append(f"{g['goal']:<{gw}}  {g['printed']:>8}  {target:<9} {g['verdict']:<22} "
                     f"{g['against']}".rstrip())
    met = sum(1 for g in goals if g["verdict"] == "met")
    lines.append(f"goals met: {met} of {len(goals)}")
    return "\n".join(lines)


def plot(rows, png):
    """Two panels, time and peak RSS growth, each as a ratio to arenart's arena (1 = the
    arena; above 1 the allocator is slower or bigger), one cluster of bars per workload. The
    data file and script stay next to the picture so it can be redrawn without measuring."""
    out = os.path.dirname(os.path.abspath(png))
    keys = [k for k, _ in COLUMNS if any(k in r["cells"] for r in rows)]
    dat = os.path.join(out, "integrations.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("# workload " + " ".join(keys) + " | peak RSS ratios, same order\n")
        for r in rows:
            arena = r["cells"].get("arena")
            vals = []
            for k in keys:
                a = r["cells"].get(k)
                vals.append("-" if a is None else f"{a['x_arena']:.4f}")
            for k in keys:
                a = r["cells"].get(k)
                ok = a is not None and arena is not None and arena["peak_kib"] > 0
                vals.append(f"{a['peak_kib'] / arena['peak_kib']:.4f}" if ok else "-")
            f.write(f"\"{r['workload']}\" " + " ".join(vals) + "\n")
    heading = dict(COLUMNS)

    def panel(title, first):
        parts = []
        for i, k in enumerate(keys):
            parts.append(f"\"{dat}\" using {first + i}{':xtic(1)' if i == 0 else ''} "
                         f"title \"{heading[k]}\" lc rgb \"{COLORS[k]}\"")
        return f"set title \"{title}\"\nplot " + ", \\\n     ".join(parts) + "\n"

    gp = os.path.join(out, "integrations.gp")
    with open(gp, "w", encoding="utf-8") as f:
        f.write(f"""set terminal pngcairo size 1400,900 font ",10"
set output "{os.path.abspath(png)}"
set multiplot layout 2,1 title "arenart in jansson, libxml2 and protobuf-c: each allocator over \
arenart's arena (1 = the arena; medians)"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key outside right top vertical
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb "#000000"
""")
        f.write(panel("time per document (jansson, libxml2: CPU) or per batch per thread "
                      "(protobuf-c: wall) / the arena's (higher: slower than the arena)", 2))
        f.write(panel("peak RSS growth / the arena's (higher: more memory than the arena)",
                      2 + len(keys)))
        f.write("unset multiplot\n")
    if shutil.which("gnuplot") is None:
        return "plot: skipped, gnuplot not found (data and script: " + out + ")"
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        return "plot: gnuplot failed: " + r.stderr.strip()
    return "plot: " + png


def git_commit():
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, check=False)
        return r.stdout.strip() if r.returncode == 0 else ""
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--json", help="write the combined figures and goals here")
    ap.add_argument("--png", help="draw the plot here (gnuplot)")
    ap.add_argument("files", nargs="+", help="--json files of the integration benchmarks")
    args = ap.parse_args()
    order = {"protobuf-c": 0, "jansson": 1, "libxml2": 2}
    loaded = [load(p) for p in args.files]
    rows = [r for _, _, rs in loaded for r in rs]
    rows.sort(key=lambda r: (order.get(r["library"], 9), r["workload"] if r["library"] ==
                             "protobuf-c" else f"{r['workload'].split()[1]:>8}"))
    seen = set()
    for r in rows:
        if r["workload"] in seen:
            ap.error(f"{r['workload']} comes from more than one file")
        seen.add(r["workload"])
    goals = [g for r in rows for g in goal_rows(r)]
    print("integrations: each cell is the median time (ratio to arenart's arena), then the "
          "median peak RSS growth in KiB; '-' = not run for this library. fastest malloc/arena"
          " is the time goal's value: the median over rounds of that round's fastest malloc"
          " over the arena (named: the fastest by median)")
    for r in rows:
        print(f"  {r['workload']}: {r['detail']}; {r['unit']}")
    print()
    print(table(rows, goals))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({
                "generated_utc": datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%dT%H:%M:%SZ"),
                "commit": git_commit(),
                "workloads": [{k: r[k] for k in ("library", "workload", "detail", "unit",
                                                 "cells")} for r in rows],
                "goals": goals,
                "inputs": {os.path.basename(p): d for p, (_, d, _) in zip(args.files, loaded)},
            }, f, indent=1)
            f.write("\n")
        print("\nfigures: " + args.json)
    if args.png:
        os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
        print(plot(rows, args.png))
    return 0


if __name__ == "__main__":
    sys.exit(main())
