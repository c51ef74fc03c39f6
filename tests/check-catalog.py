#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The journal message catalog matches the daemon's message ids.

Usage: check-catalog.py daemon/common/tfst-log.h units/tfst.catalog

- every TFST_MSGID_* of tfst-log.h has exactly one catalog entry, and every
  entry belongs to one of them;
- every entry has Subject:, Defined-By: tfst, Documentation: and a text;
- the text substitutes only fields that every tfstd journal entry carries
  (journalctl -x shows an absent field's name instead of a value);
- journalctl itself compiles the catalog into a database under a scratch
  --root and lists every id with its subject."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ALWAYS_PRESENT = {"TFST_ROLE", "TFST_INSTANCE", "TFST_LABEL"}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def header_ids(path):
    ids = {}
    with open(path) as f:
        for name, value in re.findall(r'#define\s+(TFST_MSGID_\w+)\s+"([^"]*)"', f.read()):
            if not re.fullmatch(r"[0-9a-f]{32}", value):
                fail(f"{path}: {name} \"{value}\" is not 32 lowercase hex digits")
            ids[value] = name
    if not ids:
        fail(f"{path}: no TFST_MSGID_* found")
    return ids


def catalog_entries(path):
    """{id: (headers, body lines)}, in the format of journalctl
    --update-catalog: '-- ID' starts an entry, 'Key: value' lines up to the
    first empty line are headers, the rest is the text; '#' lines outside
    entries are comments."""
    entries = {}
    current = None
    with open(path) as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        if line.startswith("--"):
            m = re.fullmatch(r"-- ([0-9a-f]{32})", line)
            if m is None:
                fail(f"{path}:{n}: '{line}' is not '-- ' and 32 lowercase hex digits")
                current = None
                continue
            if m.group(1) in entries:
                fail(f"{path}:{n}: {m.group(1)} has a second entry")
            current = {"headers": {}, "body": [], "in_headers": True, "line": n}
            entries[m.group(1)] = current
        elif current is None:
            if line.strip() and not line.startswith("#"):
                fail(f"{path}:{n}: text outside an entry")
        elif current["in_headers"]:
            if line == "":
                current["in_headers"] = False
                continue
            m = re.fullmatch(r"([A-Za-z-]+): (.+)", line)
            if m is None:
                fail(f"{path}:{n}: header line '{line}' is not 'Key: value'")
                continue
            current["headers"].setdefault(m.group(1), []).append(m.group(2))
        else:
            current["body"].append(line)
    return entries


def check_entry(msgid, e, name):
    where = f"{msgid} ({name})"
    for key in ("Subject", "Defined-By", "Documentation"):
        if key not in e["headers"]:
            fail(f"{where}: no {key}:")
    if e["headers"].get("Defined-By") not in (None, ["tfst"]):
        fail(f"{where}: Defined-By: must be tfst")
    text = "\n".join(e["body"]).strip()
    if len(text.split("\n\n")) < 2:
        fail(f"{where}: the text needs the cause and, in its own paragraph, what to do")
    for field in set(re.findall(r"@([A-Za-z0-9_]+)@", text + "".join(e["headers"].get("Subject", [])))):
        if field not in ALWAYS_PRESENT:
            fail(f"{where}: @{field}@ is not in every tfstd entry; name the field instead")


def check_journalctl(catalog, entries):
    journalctl = shutil.which("journalctl")
    if journalctl is None:
        print("SKIP (part): journalctl is not installed, the catalog was not compiled")
        return
    with tempfile.TemporaryDirectory(prefix="tfst-catalog-") as root:
        dest = os.path.join(root, "usr/lib/systemd/catalog")
        os.makedirs(dest)
        shutil.copy(catalog, dest)
        p = subprocess.run([journalctl, f"--root={root}", "--update-catalog"],
                           capture_output=True, text=True)
        if p.returncode != 0 or p.stderr.strip():
            fail(f"journalctl --update-catalog: exit status {p.returncode}: {p.stderr.strip()}")
            return
        if not os.path.exists(os.path.join(root, "var/lib/systemd/catalog/database")):
            print("SKIP (part): journalctl --root does not build a catalog database here")
            return
        p = subprocess.run([journalctl, f"--root={root}", "--list-catalog", "--no-pager"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"journalctl --list-catalog: exit status {p.returncode}: {p.stderr.strip()}")
            return
        listed = {}
        for line in p.stdout.splitlines():
            m = re.fullmatch(r"([0-9a-f]{32}) (.*)", line)
            if m:
                listed[m.group(1)] = m.group(2)
        for msgid, e in entries.items():
            want = "tfst: " + e["headers"].get("Subject", ["?"])[0]
            if listed.get(msgid) != want:
                fail(f"journalctl --list-catalog shows {msgid} as {listed.get(msgid)!r}, "
                     f"expected {want!r}")
        print(f"journalctl --update-catalog and --list-catalog: {len(listed)} entries")


def main():
    header, catalog = sys.argv[1:3]
    ids = header_ids(header)
    entries = catalog_entries(catalog)
    for msgid, name in sorted(ids.items(), key=lambda i: i[1]):
        if msgid not in entries:
            fail(f"{name} ({msgid}) of {os.path.basename(header)} has no catalog entry")
    for msgid, e in entries.items():
        if msgid not in ids:
            fail(f"{catalog}:{e['line']}: {msgid} is not a TFST_MSGID_* of "
                 f"{os.path.basename(header)}")
        check_entry(msgid, e, ids.get(msgid, "unknown"))
    check_journalctl(catalog, entries)
    if failures:
        sys.exit(1)
    print(f"{len(ids)} message ids, {len(entries)} catalog entries: OK")


if __name__ == "__main__":
    main()
