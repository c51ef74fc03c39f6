#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""File names match function prefixes (docs/hacking.md).

Usage: check-names.py LIB.a...

Every global symbol an object defines starts with the prefix its source
file is named for: tfst-stats.c defines tfst_stats_* (or tfst_stats
itself), tfst-bus-instance.c defines tfst_bus_instance_*.  Static
functions are free, since nothing outside the file sees them.
"""

import os
import subprocess
import sys


def defined_symbols(lib):
    out = subprocess.run(["nm", "-A", "--format=posix", "--defined-only", lib],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        head, _, rest = line.partition(": ")
        fields = rest.split()
        if "[" not in head or len(fields) < 2 or fields[1] not in "TDBRGSV":
            continue
        yield os.path.basename(head[head.index("[") + 1:-1]), fields[0]


def main():
    bad = []
    count = 0
    for lib in sys.argv[1:]:
        for obj, sym in defined_symbols(lib):
            stem = obj.split(".")[0]  # tfst-hop.c.o -> tfst-hop
            if not stem.startswith("tfst"):
                continue  # generated code (gdbus-codegen)
            prefix = stem.replace("-", "_")
            count += 1
            if sym != prefix and not sym.startswith(prefix + "_"):
                bad.append(f"{obj}: {sym} (expected {prefix}_*)")
    for line in sorted(bad):
        print(line)
    print(f"{count} symbols, {len(bad)} not named for their file")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
