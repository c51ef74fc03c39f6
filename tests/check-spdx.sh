#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every source file of the checkout carries the project's SPDX line (COPYING
# holds the licence text): C, headers, Python, shell, meson, units, XML.
# Data files (fuzz corpora and dictionaries, translations, docs) do not.
set -eu
cd "$1"
tag='SPDX-License-Identifier: GPL-2.0-or-later'
# The sources: git's list in a checkout, else (an unpacked tarball) the tree
# without build directories.
sources() {
  git ls-files -- '*.c' '*.h' '*.py' '*.sh' '*.js' '*.in' '*.xml' \
    'meson.build' '*/meson.build' 'meson_options.txt' 'tools/*' \
    '.ci/run' 'bench/run' 'bench/failover' 'dbus/*.conf' 2>/dev/null ||
    find daemon tfstctl units dbus polkit tests tools bench .ci -type f \
      \( -name '*.[ch]' -o -name '*.py' -o -name '*.sh' -o -name '*.in' \
         -o -name '*.xml' -o -name meson.build \) | sed 's|^\./||'
}
# One awk per batch of files, not a head and a grep per file: the check
# runs beside the whole suite on a loaded machine.
missing=$(sources |
          grep -v -e '^tests/fuzz/corpus/' -e '^po/' -e '/__pycache__/' |
          while read -r f; do [ -f "$f" ] && [ -s "$f" ] && echo "$f"; done |
          xargs -r awk -v tag="$tag" '
            FNR == 1 { if (file != "" && !ok) print file; file = FILENAME; ok = 0 }
            FNR <= 3 && index($0, tag) { ok = 1 }
            FNR > 3 { nextfile }
            END { if (file != "" && !ok) print file }')
if [ -n "$missing" ]; then
  echo "files without \"$tag\" in their first 3 lines:"
  echo "$missing"
  exit 1
fi
echo "every source file carries the SPDX line"
