#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""docs/systemd.md's MESSAGE_ID table lists every message id of tfst-log.h,
once, and no other.

Usage: check-msgid-table.py daemon/common/tfst-log.h docs/systemd.md

The table is the Markdown table whose header starts with `| MESSAGE_ID |`;
each row's first cell is an id in backquotes."""
import re
import sys


def header_ids(path):
    with open(path) as f:
        return dict((v, n) for n, v in
                    re.findall(r'#define\s+(TFST_MSGID_\w+)\s+"([0-9a-f]{32})"', f.read()))


def table_ids(path):
    rows = []
    in_table = False
    with open(path) as f:
        for line in f:
            if line.startswith("| MESSAGE_ID |"):
                in_table = True
                continue
            if in_table and not line.startswith("|"):
                break
            m = re.match(r"\|\s*`([0-9a-f]{32})`\s*\|", line)
            if in_table and m:
                rows.append(m.group(1))
    return rows


def main():
    ids = header_ids(sys.argv[1])
    rows = table_ids(sys.argv[2])
    failures = []
    if not ids:
        failures.append(f"{sys.argv[1]}: no TFST_MSGID_* found")
    if not rows:
        failures.append(f"{sys.argv[2]}: no '| MESSAGE_ID |' table")
    for v, name in sorted(ids.items(), key=lambda kv: kv[1]):
        if v not in rows:
            failures.append(f"{sys.argv[2]}: the MESSAGE_ID table lacks {name} ({v})")
    for v in sorted(set(rows)):
        if v not in ids:
            failures.append(f"{sys.argv[2]}: the MESSAGE_ID table lists {v}, which is no "
                            f"TFST_MSGID_* of {sys.argv[1]}")
        if rows.count(v) > 1:
            failures.append(f"{sys.argv[2]}: {v} is listed {rows.count(v)} times")
    for f in failures:
        print("FAIL: " + f)
    if not failures:
        print(f"{len(ids)} message ids, all in the table")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
