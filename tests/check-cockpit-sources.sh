#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Every page file in cockpit/ (*.js, *.html, *.css) is in cockpit_sources
# of cockpit/meson.build, and so installed: the page tests copy the
# source tree's files, so a module left out of the list would pass them
# and be missing from the package.  $1: the cockpit/ directory; the rest:
# cockpit_sources.
set -u
dir=$1
shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfst-cockpit-sources.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
for f in "$dir"/*.js "$dir"/*.html "$dir"/*.css; do
  [ -e "$f" ] && basename "$f"
done | sort >"$tmp/tree"
for f in "$@"; do
  basename "$f"
done | sort >"$tmp/listed"
if ! cmp -s "$tmp/tree" "$tmp/listed"; then
  echo "FAIL: cockpit/ and cockpit_sources in cockpit/meson.build differ"
  echo "(< only in cockpit/, > only in cockpit_sources):"
  diff "$tmp/tree" "$tmp/listed" | grep '^[<>]'
  exit 1
fi
echo "ok: $(wc -l <"$tmp/tree") files"
