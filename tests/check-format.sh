#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every C file of the project is formatted with the tree's .clang-format.
# One clang-format process for all files: starting one per file cost most
# of the time on a busy machine.
cd "$1" || exit 1
command -v clang-format >/dev/null || { echo "SKIP: clang-format not installed"; exit 77; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find daemon tfstctl tests -name '*.[ch]')
out=$(clang-format --dry-run --Werror $files 2>&1) && exit 0
echo "$out" | sed -n 's/^\([^:]*\.[ch]\):[0-9]*:[0-9]*: error: .*/not clang-formatted: \1/p' | sort -u
exit 1
