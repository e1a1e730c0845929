#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/layering.py - checks that the library's files call each other in one direction only.

docs/architecture.md promises layers that call only downward and no two library files that
call each other. A reviewer cannot see that by reading, and a linker never complains about
it, so this script measures it the way an outsider would: it compiles every .c file under
runtime/ and numa/ on its own, reads the object's symbol table with nm (what the file defines,
what it needs from elsewhere), joins the two into a graph of "file A uses a function or a
global of file B", and looks for cycles of any length (strongly connected components of more
than one file), not only for pairs.

What a file uses can depend on the build: AR_DEBUG levels and NDEBUG add or remove checks
that live in other files. So the graph is built for each of the three levels the project
ships (release -DNDEBUG, the default level 1, -DAR_DEBUG=2) and every one must be acyclic.

Usage: tools/layering.py [--table] [--doc FILE]   (from anywhere: it finds the repository)
  --table     also print, for the default level, which files each file uses.
  --doc FILE  also check the table "| file | uses |" in FILE (docs/architecture.md): every
              library file has a row, and each row names exactly what the file uses at the
              default level, so the page cannot drift from the code.
Exit status: 0 no cycle (and the table matches), 1 a cycle or a table that differs (printed),
2 a file did not compile.
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEVELS = {"release (-DNDEBUG)": ["-DNDEBUG"], "default": [], "AR_DEBUG=2": ["-DAR_DEBUG=2"]}


def sources():
    out = []
    for top in ("runtime", "numa"):
        for d, _, names in os.walk(os.path.join(ROOT, top)):
            out += [os.path.relpath(os.path.join(d, n), ROOT) for n in names if n.endswith(".c")]
    return sorted(out)


def symbols(src, flags, tmp):
    obj = os.path.join(tmp, src.replace("/", "_") + ".o")
    cmd = ["cc", "-std=gnu11", "-D_GNU_SOURCE", "-O0", "-c", "-I" + ROOT,
           "-I" + os.path.join(ROOT, "include")] + flags + [os.path.join(ROOT, src), "-o", obj]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("layering: cannot compile %s:\n%s" % (src, r.stderr))
        sys.exit(2)
    defined, undefined = set(), set()
    for line in subprocess.run(["nm", obj], capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVWC":  # global definitions only (upper case)
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def graph(files, flags, tmp):
    defs, needs = {}, {}
    for f in files:
        defs[f], needs[f] = symbols(f, flags, tmp)
    owner = {s: f for f in files for s in defs[f]}
    return {f: sorted({owner[s] for s in needs[f] if s in owner and owner[s] != f}) for f in files}


def cycles(g):
    """Tarjan's strongly connected components; returns those with more than one file."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def doc_table(path):
    """{file: set of used basenames} from the "| file | uses |" table of a markdown page."""
    rows, inside = {}, False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("| file | uses |"):
            inside = True
            continue
        if inside and not line.startswith("|"):
            break
        if not inside or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        names = [n for n in cells[0].replace("`", "").split(", ")]
        uses = set() if cells[1] == "nothing" else {u.strip() for u in cells[1].split(",")}
        folder = os.path.dirname(names[0])
        for n in names:
            rows[n if "/" in n else os.path.join(folder, n)] = uses
    return rows


def check_doc(path, files, g):
    rows = doc_table(path)
    wrong = []
    for f in files:
        real = {os.path.splitext(os.path.basename(u))[0] for u in g[f]}
        if f not in rows:
            wrong.append("%s: no row" % f)
        elif rows[f] != real:
            wrong.append("%s: the page says %s, the code uses %s" %
                         (f, ", ".join(sorted(rows[f])) or "nothing",
                          ", ".join(sorted(real)) or "nothing"))
    wrong += ["%s: a row for a file that does not exist" % r for r in sorted(set(rows) - set(files))]
    for w in wrong:
        print("layering: %s: %s" % (os.path.relpath(path, ROOT), w))
    return not wrong


def main():
    args = sys.argv[1:]
    table = "--table" in args
    doc = args[args.index("--doc") + 1] if "--doc" in args else None
    files = sources()
    bad = False
    with tempfile.TemporaryDirectory() as tmp:
        for level, flags in LEVELS.items():
            g = graph(files, flags, tmp)
            found = cycles(g)
            for comp in found:
                bad = True
                print("layering: %s: these files call each other: %s" % (level, " ".join(comp)))
            if table and level == "default":
                for f in files:
                    print("%-32s uses %s" % (f, ", ".join(os.path.basename(u) for u in g[f]) or "-"))
            if doc is not None and level == "default" and not check_doc(doc, files, g):
                bad = True
    if not bad:
        print("layering: OK, %d library files, no cycle at any of %d debug levels%s" %
              (len(files), len(LEVELS), ", the table of %s matches" % doc if doc else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
