#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The example configurations installed under the documentation directory
# load as tfstd loads them: tfst-generator (the same loader, without the
# host's addresses, which the examples do not have) writes the socket
# drop-in of each, which it refuses for an invalid file.
#   check-examples.sh GENERATOR EXAMPLE...
set -u
generator=$(realpath "$1") || exit 1
shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfst-examples.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/etc" "$tmp/out"
cp "$@" "$tmp/etc/" || exit 1
TFST_CONFIG_DIR="$tmp/etc" "$generator" "$tmp/out" || { echo "FAIL: tfst-generator failed"; exit 1; }
status=0
for f in "$@"; do
  name=$(basename "$f" .conf)
  dropin="$tmp/out/tfst-$name.socket.d/50-tfst-listen.conf"
  if grep -q '^ListenStream=' "$dropin" 2>/dev/null; then
    echo "$name: $(grep -c '^ListenStream=' "$dropin") listeners"
  else
    echo "FAIL: $(basename "$f") did not load (no ListenStream= in $dropin)"
    status=1
  fi
done
exit $status
