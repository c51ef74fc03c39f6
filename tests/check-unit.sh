#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# One systemd unit of units/, as systemd would load it:
#   check-unit.sh UNIT BUILT-UNITS-DIR INSTALLED-TFSTD BUILT-TFSTD GENERATOR
#                 INSTALLED-TFSTCTL BUILT-TFSTCTL MANPAGE...
# - systemd-analyze verify on the instance tfst-ROLE@2.* (verify refuses a
#   template file itself), with ExecStart= pointing at the built tfstd,
#   ExecReload= at the built tfstctl and the
#   socket's ListenStream= written by the built tfst-generator from a sample
#   configuration, as at boot;
# - for a service, systemd-analyze security --offline=yes: the overall
#   exposure must be 2.0 or lower;
# - every man: page of Documentation= is one of the MANPAGEs tfst installs
#   or one the system has.
set -u
unit=$1 installed_tfstd=$3 installed_tfstctl=$6
units=$(realpath "$2") built_tfstd=$(realpath "$4") generator=$(realpath "$5")
built_tfstctl=$(realpath "$7") || exit 1
shift 7
max_exposure=2.0

command -v systemd-analyze >/dev/null ||
  { echo "SKIP: systemd-analyze is not installed (Debian package systemd)"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfst-unit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/units" "$tmp/etc" "$tmp/man"

# Every unit, so that the socket finds its service; instance 2 of each.
for f in "$units"/tfst-*@.service "$units"/tfst-*@.socket; do
  name=$(basename "$f")
  sed -e "s|$installed_tfstd|$built_tfstd|g" -e "s|$installed_tfstctl|$built_tfstctl|g" \
    "$f" >"$tmp/units/$name" || exit 1
  ln -s "$name" "$tmp/units/$(echo "$name" | sed 's/@\./@2./')"
done
instance=$(echo "$unit" | sed 's/@\./@2./')
[ -f "$tmp/units/$unit" ] || { echo "FAIL: $unit is not in $units"; exit 1; }

cat >"$tmp/etc/epproxy@2.conf" <<'CONF'
[Forward mgmt]
Listen=127.0.0.1:21081
CONF
cat >"$tmp/etc/gwproxy@2.conf" <<'CONF'
[Parent]
Connect=127.0.0.1:10110
[Forward web]
Listen=127.0.0.1:21010
CONF
cat >"$tmp/etc/relay@2.conf" <<'CONF'
[Parent]
Connect=127.0.0.1:10110
[Children]
Listen=127.0.0.1
CONF
TFST_CONFIG_DIR="$tmp/etc" "$generator" "$tmp/units" || { echo "FAIL: tfst-generator failed"; exit 1; }
case "$instance" in
  *.socket)
    echo "== ListenStream= from tfst-generator"
    grep -h '^ListenStream=' "$tmp/units/$instance.d/"*.conf ||
      { echo "FAIL: tfst-generator wrote no ListenStream= for $instance"; exit 1; }
    ;;
esac

# Documentation=man:tfstd(8) ... must resolve: our pages first, then the
# system's (the trailing colon).
if command -v man >/dev/null; then
  for page in "$@"; do
    section=${page##*.}
    mkdir -p "$tmp/man/man$section"
    ln -s "$(realpath "$page")" "$tmp/man/man$section/" || exit 1
  done
  export MANPATH="$tmp/man:"
  man_opt=--man=yes
else
  echo "NOTE: man is not installed (Debian package man-db): Documentation= not checked"
  man_opt=--man=no
fi

status=0
echo "== systemd-analyze verify $instance"
out=$(cd "$tmp/units" && systemd-analyze verify "$man_opt" "./$instance" 2>&1)
rc=$?
[ -n "$out" ] && echo "$out"
# Messages about systemd's own units (targets we are ordered against) are
# not ours to fix; any about tfst units are.
if [ $rc -ne 0 ] || echo "$out" | grep -q 'tfst'; then
  echo "FAIL: systemd-analyze verify $instance (exit status $rc)"
  status=1
fi

case "$instance" in
  *.service)
    echo "== systemd-analyze security --offline=yes $instance"
    out=$(cd "$tmp/units" && systemd-analyze security --offline=yes --no-pager "./$instance" 2>&1)
    # What is still exposed, for the log.
    echo "$out" | grep '✗'
    level=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -z "$level" ]; then
      echo "$out"
      echo "FAIL: no 'Overall exposure level' in the output"
      status=1
    elif awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l > m) }'; then
      echo "FAIL: exposure $level of $instance is above $max_exposure"
      status=1
    else
      echo "exposure $level (at most $max_exposure): OK"
    fi
    ;;
esac
exit $status
