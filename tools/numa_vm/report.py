#!/usr/bin/env python3
"""tools/numa_vm/report.py - turns the serial logs of tools/numa-vm.sh's guests into the
placement table, build/numa-vm/placement.json and one PASS/FAIL line per gate.

The guests print facts (one key=value line per measurement, see placement_check.c and
init.sh); every verdict is made here, on the host, so a guest that died half-way (a kernel
panic, the OOM killer, a timeout) shows up as a missing line and therefore as a failed gate
rather than as a silently shorter table.

Usage: report.py OUTDIR ACCEL TOPOLOGY...   Exit status 0 iff every gate passed.
"""
import json
import os
import re
import sys

KV = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse_kv(line):
    return {k: v.strip('"') for k, v in KV.findall(line)}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def parse_log(path):
    t = {"nodes": {}, "rc": {}, "rows": [], "exhaust": None, "exhaust_preferred": None, "probe": None,
         "exhaust_reuse": None,
         "reached_init": False, "done": False, "errors": []}
    if not os.path.exists(path):
        return t
    with open(path, errors="replace") as f:
        for raw in f:
            line = raw.strip().replace("\r", "")
            if re.search(r"NUMA-VM \S+ reached /init", line):
                t["reached_init"] = True
            elif re.search(r"NUMA-VM \S+ done", line):
                t["done"] = True
            elif line.startswith("NODE "):
                m = re.match(r"NODE node(\d+) cpus=(\S*) (\d+)kB", line)
                if m:
                    t["nodes"][int(m.group(1))] = {"cpus": m.group(2), "mem_kb": int(m.group(3))}
            elif line.startswith("RC "):
                kv = parse_kv(line)
                t["rc"][kv["name"]] = int(kv["rc"])
            elif line.startswith("RESULT "):
                t["rows"].append(parse_kv(line))
            elif line.startswith("PROBE ") and line.endswith(" result"):
                t["probe"] = parse_kv(line)
            elif line.startswith("EXHAUST_REUSE "):
                t["exhaust_reuse"] = parse_kv(line)
            elif line.startswith("EXHAUST_PREFERRED "):
                t["exhaust_preferred"] = parse_kv(line)
            elif line.startswith("EXHAUST "):
                t["exhaust"] = parse_kv(line)
            elif line.startswith("ERROR ") or "Kernel panic" in line or "Out of memory" in line:
                t["errors"].append(line)
    return t


def main():
    out, accel, topos = sys.argv[1], sys.argv[2], sys.argv[3:]
    data = {"accel": accel, "topologies": {}, "table": [], "gates": []}
    gates = []  # (name, ok, detail)

    def gate(name, ok, detail):
        gates.append((name, bool(ok), detail))

    for topo in topos:
        t = parse_log(os.path.join(out, topo + ".log"))
        data["topologies"][topo] = t
        memless = {n for n, v in t["nodes"].items() if v["mem_kb"] == 0}
        gate(f"{topo}: guest reached /init and finished", t["reached_init"] and t["done"],
             "" if t["done"] else "the guest stopped early; see build/numa-vm/%s.log" % topo)
        # numa_test unpinned, the synthetic test and the stress program, on this topology.
        for prog in ("numa_test", "numa_synthetic_test", "numa_stress", "placement"):
            rc = t["rc"].get(prog)
            gate(f"{topo}: {prog} exits 0", rc == 0, "missing" if rc is None else f"rc={rc}")
        for mode in ("none", "preferred", "strict"):
            rows = [r for r in t["rows"] if r.get("mode") == mode]
            placed = [r for r in rows if int(r["node"]) not in memless]
            if not rows:
                data["table"].append({"topology": topo, "mode": mode, "missing": True})
                continue
            mp = min(num(r["mp_pct"]) for r in placed) if placed else None
            libs = [num(r["lib_pct"]) for r in placed if num(r["lib_pct"]) is not None]
            lib = min(libs) if libs else None
            row = {
                "topology": topo, "mode": mode,
                "mp_pct_min": mp, "lib_pct_min": lib,
                "spilled_bytes": sum(int(r["spilled_bytes"]) for r in rows),
                "mp_remote_bytes": sum(int(r["mp_remote_bytes"]) for r in placed),
                "fallback": sum(int(r["fallback"]) for r in rows),
                "refused": sum(int(r["refused"]) for r in rows),
                "alloc_fail": sum(int(r["alloc_fail"]) for r in rows),
                "redirected": sum(int(r.get("redirected", 0)) for r in rows),
            }
            data["table"].append(row)
            if mode in ("preferred", "strict"):
                gate(f"{topo}/{mode}: >= 99% on the intended node (move_pages, worst node)",
                     mp is not None and mp >= 99.0, f"{mp}%")
                gate(f"{topo}/{mode}: no allocation failed while the nodes have memory",
                     row["alloc_fail"] == 0, f"{row['alloc_fail']} failed")
            if mode == "strict":
                bad = [r for r in placed if r.get("policy") != "2"]
                gate(f"{topo}/strict: pages handed out are bound MPOL_BIND (get_mempolicy)",
                     not bad, "; ".join(f"node {r['node']}: policy {r.get('policy')}"
                                        for r in bad) or "")
            if mode == "preferred":
                bad = [r for r in placed if num(r["lib_pct"]) is None or
                       abs(num(r["lib_pct"]) - num(r["mp_pct"])) > 1.0]
                gate(f"{topo}/preferred: library's figure within 1 point of move_pages",
                     not bad, "; ".join(f"node {r['node']}: lib {r['lib_pct']} mp {r['mp_pct']}"
                                        for r in bad) or "all nodes")
            if mode == "none":
                bad = [r for r in rows if int(r["remote"]) != 0]
                gate(f"{topo}/none: no chunk counted remote in NONE mode", not bad,
                     "; ".join(f"node {r['node']}: remote={r['remote']}" for r in bad) or "")
        if memless:
            rows = [r for r in t["rows"] if int(r["node"]) in memless and r["mode"] == "strict"]
            red = sum(int(r.get("redirected", 0)) for r in rows)
            gate(f"{topo}: memory-less node(s) {sorted(memless)} redirected (stats)", red > 0,
                 f"redirected={red}")
        if topo == "2nsmall":
            ep, ex = t["exhaust_preferred"], t["exhaust"]
            outcome = ex["outcome"] if ex else ("killed" if t["rc"].get("exhaust") is not None
                                                else "missing")
            data["table"].append({"topology": topo, "mode": "exhaust",
                                  "preferred": ep, "strict": ex, "outcome": outcome,
                                  "rc": t["rc"].get("exhaust")})
            gate(f"{topo}: STRICT on an exhausted node returns AR_ENOMEM and the process lives",
                 ex is not None and ex["outcome"] == "ENOMEM" and t["rc"].get("exhaust") == 0,
                 f"outcome={outcome} rc={t['rc'].get('exhaust')}")
            gate(f"{topo}: STRICT served the node's remaining memory, >= 99% on it, before "
                 "refusing",
                 ex is not None and int(ex["strict_resident"]) > 0 and
                 num(ex["strict_pct"]) >= 99.0,
                 f"{ex['strict_got_mib']} MiB, {ex['strict_pct']}%" if ex else "missing")
            gate(f"{topo}: PREFERRED spilled once the node was full (the test really exhausted it)",
                 ep is not None and num(ep["mp_remote_pct"]) > 1.0,
                 f"move_pages {ep['mp_remote_pct']}%" if ep else "missing")
            ru = t["exhaust_reuse"]
            gate(f"{topo}: STRICT after the spilled PREFERRED chunks went back to the pool: none "
                 "reused, >= 99% on the node",
                 ru is not None and int(ru["pool_hits"]) == 0 and int(ru["pooled_before"]) > 0
                 and num(ru["strict_pct"]) >= 99.0,
                 f"pooled {ru['pooled_before']}, pool hits {ru['pool_hits']}, "
                 f"{ru['strict_got_mib']} MiB {ru['outcome']}, {ru['strict_pct']}% on the node"
                 if ru else "missing")
            ok = ep is not None and abs(num(ep["lib_spill_pct"]) - num(ep["mp_remote_pct"])) <= 1.0
            gate(f"{topo}: PREFERRED spill counted within 1 point of move_pages", ok,
                 f"library {ep['lib_spill_pct']}% move_pages {ep['mp_remote_pct']}%"
                 if ep else "missing")

    for topo in topos:
        t = data["topologies"][topo]
        if "probe" in t["rc"]:
            pr = t.get("probe")
            print(f"measured alternative ({topo}): MPOL_BIND + MADV_POPULATE_WRITE on the full "
                  f"node: " + (f"populate returned {pr['populate_write']} ({pr['errno']})" if pr
                               else f"no result; the process ended with status "
                                    f"{t['rc']['probe']} (137: killed, by the OOM killer)"))
    data["gates"] = [{"gate": g, "pass": ok, "detail": d} for g, ok, d in gates]
    with open(os.path.join(out, "placement.json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)

    def fmt(v):
        return "-" if v is None else f"{v:.2f}"

    print(f"placement table (accelerator {accel}; % of resident pages on the intended node, "
          f"worst node; library = 1 - spilled/located)")
    print(f"| {'topology':<10} | {'mode':<9} | {'library %':>9} | {'move_pages %':>12} | "
          f"{'spilled B':>10} | {'remote B (mp)':>13} | {'fallback':>8} | {'refused':>7} | "
          f"{'redirected':>10} |")
    print("|" + "|".join("-" * w for w in (12, 11, 11, 14, 12, 15, 10, 9, 12)) + "|")
    for r in data["table"]:
        if r.get("missing"):
            print(f"| {r['topology']:<10} | {r['mode']:<9} | (no result)")
        elif r["mode"] == "exhaust":
            ep, ex = r["preferred"] or {}, r["strict"] or {}
            print(f"| {r['topology']:<10} | exhaust   | STRICT after PREFERRED filled the node: "
                  f"{r['outcome']} after {ex.get('strict_got_mib', '?')} MiB "
                  f"({ex.get('strict_pct', '?')}% on the node); PREFERRED "
                  f"{ep.get('got_mib', '?')} MiB in all: spilled {ep.get('lib_spill_pct', '?')}% "
                  f"by the library, {ep.get('mp_remote_pct', '?')}% by move_pages |")
        else:
            print(f"| {r['topology']:<10} | {r['mode']:<9} | {fmt(r['lib_pct_min']):>9} | "
                  f"{fmt(r['mp_pct_min']):>12} | {r['spilled_bytes']:>10} | "
                  f"{r['mp_remote_bytes']:>13} | {r['fallback']:>8} | {r['refused']:>7} | "
                  f"{r['redirected']:>10} |")
    print()
    failed = 0
    for g, ok, d in gates:
        print(f"{'PASS' if ok else 'FAIL'}  {g}" + (f"  ({d})" if d else ""))
        failed += not ok
    print(f"numa-vm: {len(gates) - failed} gates passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
