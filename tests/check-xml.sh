#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# check-xml.sh FILE [DTD]: FILE is well-formed XML and, when the DTD file is
# given and installed here, valid against it.  Never fetches a DTD from the
# network.
command -v xmllint >/dev/null 2>&1 || {
  echo "SKIP: xmllint not found (apt-get install libxml2-utils; tools/deps installs it)"
  exit 77
}
if [ -n "${2:-}" ] && [ -f "$2" ]; then
  exec xmllint --noout --nonet --dtdvalid "$2" "$1"
fi
exec xmllint --noout --nonet "$1"
