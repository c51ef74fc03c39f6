#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tfst-metrics.socket and tfst-metrics.service as systemd would load them:
#   check-metrics-units.sh BUILT-UNITS-DIR INSTALLED-BINARY BUILT-BINARY MANPAGE...
# - systemd-analyze verify, with ExecStart= pointing at the built binary;
# - systemd-analyze security --offline=yes: the overall exposure of the
#   service must be 1.0 or lower (docs/monitoring.md gives the score);
# - every man: page of Documentation= is one tfst installs or the system has.
set -u
units=$(realpath "$1") installed=$2 built=$(realpath "$3") || exit 1
shift 3
max_exposure=1.0

command -v systemd-analyze >/dev/null ||
  { echo "SKIP: systemd-analyze is not installed (Debian package systemd)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfst-metrics-unit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/units" "$tmp/man"
for t in service socket; do
  sed -e "s|$installed|$built|g" "$units/tfst-metrics.$t" >"$tmp/units/tfst-metrics.$t" || exit 1
done
for page in "$@"; do
  sec=$(basename "$page" | sed 's/.*\.//')
  mkdir -p "$tmp/man/man$sec" && cp "$page" "$tmp/man/man$sec/" || exit 1
done
echo "== systemd-analyze verify"
out=$(cd "$tmp/units" && MANPATH="$tmp/man:" systemd-analyze verify \
  tfst-metrics.socket tfst-metrics.service 2>&1)
echo "$out"
[ -z "$out" ] || { echo "FAIL: systemd-analyze verify complained"; exit 1; }
echo "== systemd-analyze security --offline=yes"
score=$(systemd-analyze security --offline=yes "$tmp/units/tfst-metrics.service" 2>&1 |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "FAIL: no exposure score"; exit 1; }
echo "exposure $score (at most $max_exposure)"
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' ||
  { echo "FAIL: exposure $score is above $max_exposure"; exit 1; }
