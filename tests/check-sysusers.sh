#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# units/tfst.sysusers creates the tfst user and group (systemd-sysusers in an
# empty root, so nothing on this machine changes).
set -u
command -v systemd-sysusers >/dev/null ||
  { echo "SKIP: systemd-sysusers is not installed (Debian package systemd)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfst-sysusers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/etc"
systemd-sysusers --root="$tmp" "$1" || { echo "FAIL: systemd-sysusers refused $1"; exit 1; }
grep '^tfst:' "$tmp/etc/passwd" "$tmp/etc/group" || { echo "FAIL: no tfst user and group"; exit 1; }
grep -q '^tfst:[^:]*:[0-9]*:[0-9]*:[^:]*:[^:]*:/usr/sbin/nologin$' "$tmp/etc/passwd" ||
  { echo "FAIL: the tfst user must not have a login shell"; exit 1; }
grep -q '^tfst-admin:' "$tmp/etc/group" || { echo "FAIL: no tfst-admin group"; exit 1; }
