#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# `tfstd --help` names the configuration directory this build reads (the
# configured sysconfdir, not a fixed /etc):
#   check-help.sh TFSTD SYSCONFDIR
set -u
out=$(LC_ALL=C.UTF-8 "$1" --help) || { echo "FAIL: $1 --help failed"; exit 1; }
echo "$out"
echo "$out" | grep -qF "$2/tfst/ROLE@INSTANCE.conf" ||
  { echo "FAIL: --help does not name $2/tfst/ROLE@INSTANCE.conf"; exit 1; }
