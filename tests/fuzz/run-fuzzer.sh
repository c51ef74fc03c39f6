#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run-fuzzer.sh FUZZER SEEDS DICT RUNS ARTIFACTS: runs one libFuzzer target
# for RUNS executions from its seed corpus.  New inputs go to a temporary
# corpus directory (libFuzzer writes to the first one it is given), never
# into the seeds in the source tree; a crashing input is kept in ARTIFACTS.
# The per-input timeout is generous: on a loaded machine a slow input is
# not a hang.
set -u
fuzzer=$1 seeds=$2 dict=$3 runs=$4 artifacts=$5
# TARGET.options: extra libFuzzer flags, e.g. -close_fd_mask=2 for a target
# whose code under test logs every rejected input.
opts=$(cat "${dict%.dict}.options" 2>/dev/null)
work=$(mktemp -d) || exit 1
mkdir -p "$artifacts"
"$fuzzer" -runs="$runs" -dict="$dict" -max_len=65536 -timeout=120 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/$(basename "$fuzzer")-" -print_final_stats=1 $opts \
  "$work" "$seeds"
rc=$?
rm -rf "$work"
exit $rc
