#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""po2js.py PO OUT [--manifest]: a Cockpit translation file (po.LANG.js,
cockpit.locale({...})) from one of the project's po files.  It holds every
translated message: the page shares many (State, Sessions, up, ...) with
tfstctl, whose references name tfstctl's files only until the next
update-po, and the whole catalogue is small.  With --manifest, only the
labels of cockpit/manifest.json (po.manifest.LANG.js, which the Cockpit
shell loads for its menu)."""

import ast
import json
import re
import sys

MANIFEST_LABELS = {"Firewall chains"}


def parse(path):
    """[(refs, flags, msgid, msgid_plural, [msgstr...])] and the header."""
    entries, cur, key = [], None, None

    def flush():
        if cur is not None and "msgid" in cur:
            entries.append(cur)

    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                flush()
                cur, key = None, None
                continue
            if cur is None:
                cur = {"refs": "", "flags": "", "msgstr": {}}
            if line.startswith("#:"):
                cur["refs"] += line[2:]
            elif line.startswith("#,"):
                cur["flags"] += line[2:]
            elif line.startswith("#"):
                continue
            else:
                m = re.match(r'^(msgid_plural|msgid|msgctxt|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
                if m:
                    key = m.group(1)
                    value = ast.literal_eval(m.group(3))
                elif line.startswith('"'):
                    value = ast.literal_eval(line)
                else:
                    raise SystemExit(f"{path}: cannot parse: {line}")
                if key.startswith("msgstr"):
                    idx = int(key[7:-1]) if "[" in key else 0
                    cur["msgstr"][idx] = cur["msgstr"].get(idx, "") + value
                elif m:
                    cur[key] = value
                else:
                    cur[key] += value
    flush()
    return entries


def plural_function(header):
    m = re.search(r"plural=([^;\n]+)", header)
    expr = m.group(1).strip() if m else "(n != 1)"
    if not re.fullmatch(r"[n0-9 ()!=<>&|%?:+-]+", expr):
        raise SystemExit(f"unexpected plural expression: {expr}")
    return f"function(n) {{ return Number({expr}); }}"


def main():
    po, out = sys.argv[1], sys.argv[2]
    manifest = "--manifest" in sys.argv[3:]
    lang = re.sub(r"\.po$", "", po.rsplit("/", 1)[-1])
    entries = parse(po)
    header = next((e["msgstr"].get(0, "") for e in entries if e["msgid"] == ""), "")
    items = []
    for e in entries:
        if e["msgid"] == "" or "fuzzy" in e["flags"] or not any(e["msgstr"].values()):
            continue
        if manifest and e["msgid"] not in MANIFEST_LABELS:
            continue
        strs = [e["msgstr"][i] for i in sorted(e["msgstr"])]
        key = e["msgid"] if "msgctxt" not in e else e["msgctxt"] + "\u0004" + e["msgid"]
        items.append(f"{json.dumps(key)}: {json.dumps([None] + strs, ensure_ascii=False)}")
    head = (f'"": {{"plural-forms": {plural_function(header)}, "language": {json.dumps(lang)}, '
            f'"language-direction": "ltr"}}')
    with open(out, "w", encoding="utf-8") as f:
        f.write("cockpit.locale({" + ",\n".join([head] + items) + "});\n")


if __name__ == "__main__":
    main()
