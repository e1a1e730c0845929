#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
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


RECORD_START = re.compile(r"(?<=\S)(?=(?:RC name=|RESULT |EXHAUST_PREFERRED |EXHAUST_REUSE |"
                          r"EXHAUST |PROBE |NODE node))")


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
        text = f.read()
    # The guest's serial console sometimes drops a newline between two records (one run ended
    # "RC name=placement rc=0E" + "EXHAUST_PREFERRED ..." on one line), so every record marker
    # starts a line of its own, wherever it appears.
    text = RECORD_START.sub("\n", text)
    for raw in text.split("\n"):
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
            m = re.match(r"-?\d+", kv.get("rc", ""))
            if "name" in kv and m:
                t["rc"][kv["name"]] = int(m.group(0))
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
                gm = min(num(r["gm_pct"]) for r in placed) if placed else None
                gate(f"{topo}/{mode}: >= 99% on the intended node (get_mempolicy page by page, "
                     "worst node)", gm is not None and gm >= 99.0, f"{gm}%")
                gate(f"{topo}/{mode}: no allocation failed while the nodes have memory",
                     row["alloc_fail"] == 0, f"{row['alloc_fail']} failed")
            if mode == "strict":
                bad = [r for r in rows if r.get("not_bind") != "0" or int(r["pages"]) == 0]
                gate(f"{topo}/strict: every page handed out is bound MPOL_BIND (get_mempolicy, "
                     "page by page)",
                     not bad, "; ".join(f"node {r['node']}: {r.get('not_bind')} of {r['pages']} "
                                        f"pages not MPOL_BIND" for r in bad) or "every page")
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
            # Kernel-measured: the pages of a memory-less node's threads and per-node arena sit
            # on the node ar_numa_memory_node() names. Under NONE the kernel placed them itself
            # (its own choice of serving node); under PREFERRED and STRICT the library bound them.
            for mode in ("none", "preferred", "strict"):
                rows = [r for r in t["rows"] if int(r["node"]) in memless and r["mode"] == mode]
                bad = [r for r in rows if int(r.get("serving", -1)) in memless or
                       int(r.get("serving", -1)) < 0 or int(r["resident"]) == 0 or
                       num(r.get("serving_mp_pct")) is None or
                       num(r["serving_mp_pct"]) < 99.0 or num(r["serving_gm_pct"]) < 99.0]
                gate(f"{topo}/{mode}: memory-less node's pages >= 99% on its serving node "
                     "(move_pages and get_mempolicy)", rows and not bad,
                     "; ".join(f"node {r['node']} -> {r.get('serving')}: mp "
                               f"{r.get('serving_mp_pct')}% gm {r.get('serving_gm_pct')}% of "
                               f"{r['resident']} pages" for r in rows) or "no row")
        if topo == "2nsmall":
            ep, ex = t["exhaust_preferred"], t["exhaust"]
            outcome = ex["outcome"] if ex else ("killed" if t["rc"].get("exhaust") is not None
                                                else "missing")
            data["table"].append({"topology": topo, "mode": "exhaust",
                                  "preferred": ep, "strict": ex, "outcome": outcome,
                                  "reuse": t["exhaust_reuse"],
                                  "rc": t["rc"].get("exhaust")})
            # The outcome AND its cause: the process was not killed (exit 0), the arena said
            # AR_ENOMEM, the library's refused counter rose during the STRICT fill, and the
            # failure names the node as unable to supply the memory.
            gate(f"{topo}: STRICT on an exhausted node returns AR_ENOMEM because the node could "
                 "not supply the memory (refused rose), and the process lives",
                 ex is not None and ex["outcome"] == "ENOMEM" and t["rc"].get("exhaust") == 0
                 and int(ex.get("refused_delta", 0)) > 0
                 and "could not supply" in ex.get("failure", ""),
                 f"outcome={outcome} rc={t['rc'].get('exhaust')} "
                 f"refused_delta={ex.get('refused_delta') if ex else None} "
                 f"failure={ex.get('failure') if ex else None!r}")
            gate(f"{topo}: STRICT served the node's remaining memory before refusing: every page "
                 "on the node (move_pages) and MPOL_BIND (get_mempolicy)",
                 ex is not None and int(ex["strict_resident"]) > 0 and
                 int(ex.get("strict_elsewhere", -1)) == 0 and
                 int(ex.get("strict_not_bind", -1)) == 0,
                 f"{ex['strict_got_mib']} MiB, {ex['strict_resident']} pages, "
                 f"{ex.get('strict_elsewhere')} elsewhere, {ex.get('strict_not_bind')} not "
                 "MPOL_BIND" if ex else "missing")
            gate(f"{topo}: PREFERRED spilled once the node was full (the test really exhausted it)",
                 ep is not None and num(ep["mp_remote_pct"]) > 1.0,
                 f"move_pages {ep['mp_remote_pct']}%" if ep else "missing")
            ru = t["exhaust_reuse"]
            # Not vacuous: the pool held spilled chunks (mostly off the node, by move_pages), the
            # node had memory again, STRICT was served (pages resident), and no page it got is
            # elsewhere or lacks MPOL_BIND; a reused pooled chunk would show as pages elsewhere.
            gate(f"{topo}: STRICT after spilled PREFERRED chunks filled the pool and the node was "
                 "freed: served, every page on the node and MPOL_BIND, no pooled chunk reused",
                 ru is not None and int(ru["pooled_before"]) > 0
                 and num(ru.get("pooled_remote_pct")) is not None
                 and num(ru["pooled_remote_pct"]) >= 50.0
                 and ru["outcome"] == "served" and int(ru["strict_resident"]) > 0
                 and int(ru.get("strict_elsewhere", -1)) == 0
                 and int(ru.get("strict_not_bind", -1)) == 0
                 and int(ru["pool_hits"]) == 0
                 and int(ru.get("trimmed_delta", 0)) >= int(ru["pooled_before"]),
                 f"pooled {ru['pooled_before']} ({ru.get('pooled_remote_pct')}% of their pages "
                 f"off the node), pool hits {ru['pool_hits']}, dropped {ru.get('trimmed_delta')}, "
                 f"{ru['strict_got_mib']} MiB {ru['outcome']}, {ru['strict_resident']} pages, "
                 f"{ru.get('strict_elsewhere')} elsewhere, {ru.get('strict_not_bind')} not "
                 "MPOL_BIND" if ru else "missing")
            # Relative 1%: the library's spilled bytes within 1% of the bytes move_pages finds off
            # the node (at a 54% spill, 1 point absolute would allow ~1.9% relative).
            ok = False
            if ep is not None:
                lib_b, mp_b = int(ep["spilled_bytes"]), int(ep["mp_remote_bytes"])
                ok = mp_b > 0 and abs(lib_b - mp_b) <= 0.01 * mp_b
            gate(f"{topo}: PREFERRED spill counted to within 1% (relative) of move_pages", ok,
                 f"library {ep['spilled_bytes']} B ({ep['lib_spill_pct']}%), move_pages "
                 f"{ep['mp_remote_bytes']} B ({ep['mp_remote_pct']}%)" if ep else "missing")

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
                  f"by the library, {ep.get('mp_remote_pct', '?')}% by move_pages; after "
                  f"freeing the node, STRICT {(r.get('reuse') or {}).get('outcome', '?')} "
                  f"{(r.get('reuse') or {}).get('strict_got_mib', '?')} MiB, "
                  f"{(r.get('reuse') or {}).get('strict_elsewhere', '?')} pages elsewhere, "
                  f"{(r.get('reuse') or {}).get('pool_hits', '?')} pooled spilled chunks reused |")
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
