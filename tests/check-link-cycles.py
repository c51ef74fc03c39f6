#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon's link graph has no cycle, and its layers only call downward.

Usage: check-link-cycles.py [--layers common,dataplane,...] LIB.a...

For the objects of the given static libraries, "A -> B" when A.o uses a
symbol that B.o defines (nm: U in A, defined in B).  Any strongly connected
component of more than one object is a circle: printed with the symbols that
tie it, and the check fails.  With --layers, each object belongs to the
layer its library is named for (libtfst-LAYER.a), listed from the bottom
up; an object that uses a symbol of a higher layer fails the check too.
"""

import argparse
import collections
import os
import subprocess
import sys


def read_objects(lib):
    """{object name: (defined symbols, undefined symbols)} of one archive."""
    out = subprocess.run(["nm", "-A", "--format=posix", lib], check=True,
                         capture_output=True, text=True).stdout
    objs = collections.defaultdict(lambda: (set(), set()))
    for line in out.splitlines():
        # "lib.a[member.o]: sym T addr size" (posix format, -A)
        head, _, rest = line.partition(": ")
        if "[" not in head or not rest:
            continue
        member = head[head.index("[") + 1:-1]
        fields = rest.split()
        if len(fields) < 2:
            continue
        sym, kind = fields[0], fields[1]
        defined, undefined = objs[os.path.basename(member)]
        if kind == "U":
            undefined.add(sym)
        elif kind in "TDBRGSVWiu":  # global definitions only
            defined.add(sym)
    return objs


def layer_of(lib):
    name = os.path.basename(lib)
    if name.startswith("libtfst-") and name.endswith(".a"):
        return name[len("libtfst-"):-2]
    return name


def strongly_connected(graph):
    """Tarjan's algorithm, iterative; returns the components."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                comps.append(sorted(comp))
    return comps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default="",
                    help="library layer names, lowest first (common,dataplane,...)")
    ap.add_argument("libs", nargs="+")
    args = ap.parse_args()

    objs, layer = {}, {}
    for lib in args.libs:
        for name, syms in read_objects(lib).items():
            objs[name] = syms
            layer[name] = layer_of(lib)
    owner = {}
    for name, (defined, _) in objs.items():
        for sym in defined:
            owner.setdefault(sym, name)
    edges = collections.defaultdict(lambda: collections.defaultdict(set))
    for name, (_, undefined) in objs.items():
        for sym in undefined:
            target = owner.get(sym)
            if target and target != name:
                edges[name][target].add(sym)
    graph = {name: set(edges[name]) for name in objs}

    failed = False
    circles = [c for c in strongly_connected(graph) if len(c) > 1]
    for i, comp in enumerate(circles, 1):
        failed = True
        print(f"circle {i}: {len(comp)} objects: {', '.join(comp)}")
        for a in comp:
            for b in sorted(edges[a]):
                if b in comp:
                    print(f"  {a} -> {b}: {', '.join(sorted(edges[a][b]))}")

    order = [x for x in args.layers.split(",") if x]
    rank = {name: i for i, name in enumerate(order)}
    for a in sorted(edges):
        for b in sorted(edges[a]):
            la, lb = layer.get(a), layer.get(b)
            if la in rank and lb in rank and rank[lb] > rank[la]:
                failed = True
                print(f"upward call: {a} ({la}) -> {b} ({lb}): "
                      f"{', '.join(sorted(edges[a][b]))}")

    n_edges = sum(len(v) for v in graph.values())
    print(f"{len(objs)} objects, {n_edges} links, {len(circles)} circle(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
