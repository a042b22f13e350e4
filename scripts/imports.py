#!/usr/bin/env python3
"""The import graph of a Rust crate's files, and its circles.

    python3 scripts/imports.py            # src/ of the hub core
    python3 scripts/imports.py app/src    # any crate's source folder

Each file is a node; a file imports another when it names a path into it
(`use crate::hub::…`, `super::stream::…`, `crate::api::ApiError` in code).
Prints every edge, then each circle (a set of files that reach each other,
then a set of top-level modules that do), largest first, and exits 1 if
there is any. `scripts/test.sh` runs it on every crate, so none returns. Text only: it does not build.
"""

import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"


def module_of(path):
    """`src/hub/mod.rs` -> ['hub']; `src/net/head.rs` -> ['net', 'head']."""
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return rel


files = {}
for d, _, names in os.walk(root):
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(d, n)
            files[tuple(module_of(p))] = p


def resolve(path):
    """The file defining the longest prefix of a module path."""
    for i in range(len(path), 0, -1):
        if tuple(path[:i]) in files:
            return files[tuple(path[:i])]
    return None


PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*?)\}", re.S)

edges = {p: set() for p in files.values()}
for mod, path in files.items():
    text = open(path).read()
    text = re.sub(r"//[^\n]*", "", text)  # comments and doc links do not import
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    here = list(mod)

    def base_of(kind):
        # `crate` is the root; `self` this file's module; `super` its parent.
        return {"crate": [], "self": here, "super": here[:-1]}[kind]

    targets = []
    for kind, rest in PATH.findall(text):
        targets.append(base_of(kind) + rest.strip(":").split("::"))
    for kind, rest, inner in GROUP.findall(text):
        prefix = base_of(kind) + [s for s in rest.strip(":").split("::") if s]
        for item in re.split(r"[,\s]+", inner):
            item = item.split("::")[0].strip("{} ")
            if item and item not in ("self",):
                targets.append(prefix + [item])
    for t in targets:
        f = resolve(t)
        if f and f != path:
            edges[path].add(f)

def circles(graph):
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                sccs.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(sccs, key=len, reverse=True)


# The same graph between top-level modules (`hub`, `access`, `auth`): a
# folder may import another only if that one does not import it back.
def top(path):
    rel = module_of(path)
    return rel[0] if rel else "(root)"


modules = {}
for v, ws in edges.items():
    modules.setdefault(top(v), set())
    for w in ws:
        if top(w) != top(v) and top(v) != "(root)" and top(w) != "(root)":
            modules[top(v)].add(top(w))
            modules.setdefault(top(w), set())

for v in sorted(edges):
    for w in sorted(edges[v]):
        print(f"{v} -> {w}")
print()
file_circles = circles(edges)
module_circles = circles(modules)
if not file_circles and not module_circles:
    print(f"no circles among {len(files)} files and {len(modules)} top-level modules")
    sys.exit(0)
for comp in file_circles:
    print(f"circle of {len(comp)} files: {' '.join(comp)}")
for comp in module_circles:
    print(f"circle of {len(comp)} modules: {' '.join(comp)}")
sys.exit(1)
