#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every man page renders without a warning from man and groff, in a UTF-8
# terminal and in the C locale (ASCII), as `man --warnings -l PAGE` shows:
#   check-man.sh PAGE...
set -u
command -v man >/dev/null ||
  { echo "SKIP: man is not installed (Debian package man-db)"; exit 77; }
status=0
for page in "$@"; do
  for locale in C.UTF-8 C; do
    err=$(LC_ALL=$locale MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    if [ -n "$err" ]; then
      echo "FAIL: $(basename "$page") in the $locale locale:"
      echo "$err"
      status=1
    fi
  done
  [ $status -eq 0 ] && echo "$(basename "$page"): no warnings"
done
exit $status
