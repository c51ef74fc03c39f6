#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every source file that marks strings for translation is in po/POTFILES.in.
cd "$1" || exit 1
bad=0
for f in $(grep -lE '\b(_|N_|C_|NC_|ngettext)\(' daemon/*.c tfstctl/*.c metrics/*.c cockpit/*.js 2>/dev/null); do
  if ! grep -qx "$f" po/POTFILES.in; then
    echo "missing from po/POTFILES.in: $f"
    bad=1
  fi
done
while read -r f; do
  case "$f" in ''|\#*) continue ;; esac
  [ -f "$f" ] || { echo "po/POTFILES.in lists a missing file: $f"; bad=1; }
done < po/POTFILES.in
exit $bad
