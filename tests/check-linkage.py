#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The helper programs link only what they use: tfst-generator reads the
configuration at boot and tfstctl talks D-Bus, so neither may pull in polkit,
libpcap or GnuTLS (the generator must not even be able to read a key), and the
generator has no use for libnl either.  Reads the NEEDED entries of the built
binaries (readelf -d) and fails, naming the library, when a forbidden one
appears.

Usage: check-linkage.py NAME=PATH...  (NAME: tfst-generator, tfstctl or tfst-metrics)"""
import re
import subprocess
import sys

FORBIDDEN_ALL = ["libgnutls", "libpolkit-gobject", "libpolkit-agent", "libpcap"]
FORBIDDEN = {
    "tfst-generator": FORBIDDEN_ALL + ["libnl-"],
    "tfstctl": FORBIDDEN_ALL,
    # reads the instances over D-Bus only: no libnl, no tfstctl printers
    "tfst-metrics": FORBIDDEN_ALL + ["libnl-", "libsmartcols", "libjson-glib"],
}


def needed(path):
    out = subprocess.run(["readelf", "-d", path], check=True, capture_output=True,
                         text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def main(args):
    bad = 0
    for arg in args:
        name, path = arg.split("=", 1)
        libs = needed(path)
        print(f"{name}: {' '.join(libs)}")
        for lib in libs:
            for prefix in FORBIDDEN[name]:
                if lib.startswith(prefix):
                    print(f"{name} links {lib}: it must not ({prefix}*)", file=sys.stderr)
                    bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
