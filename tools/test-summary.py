#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Counts meson's testlog.json: prints "passed failed skipped" on the first
line, then one line per skipped test with the reason the test printed, and
fails a test whose output or daemon logs carry a sanitizer report."""
import json
import os
import re
import sys

SANITIZER = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"SUMMARY: UndefinedBehaviorSanitizer)")


def skip_reason(out):
    for line in out.splitlines():
        m = re.search(r"(?:# SKIP|SKIP:|skipped:?)\s*(.*)", line, re.IGNORECASE)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return "(the test gave no reason)"


def main():
    path, label, logdir = sys.argv[1], sys.argv[2], sys.argv[3]
    passed = failed = skipped = 0
    notes = []
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            res = t["result"]
            if res == "OK" and SANITIZER.search(out):
                res = "FAIL"
                notes.append(f"  [{label}] FAIL {t['name']}: sanitizer report in its output")
            if res in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif res == "SKIP":
                skipped += 1
                notes.append(f"  [{label}] SKIP {t['name']}: {skip_reason(out)}")
            else:
                failed += 1
    # Daemons started by integration tests log here; a report there fails
    # the run even when the test itself did not notice.
    for root, _, files in os.walk(logdir):
        for name in files:
            p = os.path.join(root, name)
            try:
                text = open(p, errors="replace").read()
            except OSError:
                continue
            if SANITIZER.search(text):
                failed += 1
                notes.append(f"  [{label}] FAIL sanitizer report in daemon log {p}")
    print(passed, failed, skipped)
    for n in notes:
        print(n)


main()
