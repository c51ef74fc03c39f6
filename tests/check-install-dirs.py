#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`meson install` puts every file where the program that reads it looks,
whatever --prefix is (the default prefix is /usr/local).

Usage: check-install-dirs.py BUILDDIR

Reads the install plan (BUILDDIR/meson-info/intro-installed.json) and asks
the installed programs where they read:
- the D-Bus policy: a directory dbus-daemon's system.conf includes;
- the polkit actions: polkitd's action directory, the one that already
  holds polkit's own actions (org.freedesktop.policykit.policy);
- units and the generator: `systemd-path systemd-search-system-unit` and
  `systemd-search-system-generator`;
- the sysusers.d file and the catalog: the directories sysusers.d(5) and
  journalctl --update-catalog read;
- tfstd: a directory of `systemd-path search-binaries-default` (root's
  PATH), and the ExecStart= of every installed service names it;
- every man: page of the units' Documentation= is installed, and so are the
  example configurations.
A directory chosen with a meson option (-Dpolkitactiondir=...) is the
builder's decision: it is noted, not checked."""
import glob
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def real(path):
    return os.path.realpath(path)


def systemd_path(name):
    out = subprocess.run(["systemd-path", name], capture_output=True, text=True, check=True)
    return [real(p) for p in out.stdout.strip().split(":") if p]


def dbus_policy_dirs():
    for conf in ("/usr/share/dbus-1/system.conf", "/etc/dbus-1/system.conf"):
        if os.path.exists(conf):
            root = ET.parse(conf).getroot()
            base = os.path.dirname(conf)
            return [real(os.path.join(base, e.text.strip())) for e in root.iter("includedir")]
    return None


def polkit_action_dirs():
    found = glob.glob("/usr/share/polkit-1/actions/org.freedesktop.policykit.policy") + \
        glob.glob("/usr/local/share/polkit-1/actions/org.freedesktop.policykit.policy")
    return [real(os.path.dirname(f)) for f in found] or None


SYSUSERS_DIRS = ["/etc/sysusers.d", "/run/sysusers.d", "/usr/local/lib/sysusers.d",
                 "/usr/lib/sysusers.d"]
CATALOG_DIRS = ["/usr/local/lib/systemd/catalog", "/usr/lib/systemd/catalog"]


def readers():
    """{kind: (directories the reader looks in, meson option, who reads)}"""
    return {
        "dbus-policy": (dbus_policy_dirs(), "dbuspolicydir", "dbus-daemon"),
        "polkit-action": (polkit_action_dirs(), "polkitactiondir", "polkitd"),
        "unit": (systemd_path("systemd-search-system-unit"), "systemdsystemunitdir", "systemd"),
        "generator": (systemd_path("systemd-search-system-generator"),
                      "systemdsystemgeneratordir", "systemd"),
        "sysusers": ([real(d) for d in SYSUSERS_DIRS], "sysusersdir", "systemd-sysusers"),
        "catalog": ([real(d) for d in CATALOG_DIRS], "catalogdir", "journalctl --update-catalog"),
        "tfstd": (systemd_path("search-binaries-default"), None, "root's PATH"),
    }


def kind_of(src):
    name = os.path.basename(src)
    if name == "org.tfst.Tfst1.conf":
        return "dbus-policy"
    if name == "org.tfst.Tfst1.policy":
        return "polkit-action"
    if re.fullmatch(r"tfst-\w+@\.(service|socket)", name):
        return "unit"
    return {"tfst-generator": "generator", "tfst.sysusers": "sysusers",
            "tfst.catalog": "catalog", "tfstd": "tfstd"}.get(name)


def check_dirs(installed, options):
    seen = set()
    where = readers()
    for src, dest in installed.items():
        kind = kind_of(src)
        if kind is None:
            continue
        seen.add(kind)
        dirs, option, reader = where[kind]
        if option is not None and options.get(option):
            print(f"NOTE: {dest}: -D{option}={options[option]} was chosen, not checked")
        elif dirs is None:
            print(f"NOTE: {dest}: {reader} is not installed here, not checked")
        elif real(os.path.dirname(dest)) not in dirs:
            fail(f"{os.path.basename(src)} goes to {os.path.dirname(dest)}, "
                 f"where {reader} does not look ({', '.join(dirs)})")
        else:
            print(f"ok: {dest} ({reader})")
    for kind in where:
        if kind not in seen:
            fail(f"nothing of kind {kind} is installed")


def check_units(installed):
    tfstd = [d for s, d in installed.items() if kind_of(s) == "tfstd"]
    pages = {os.path.basename(d) for d in installed.values() if re.search(r"/man\d/", d)}
    examples = [d for d in installed.values() if "/doc/tfst/examples/" in d]
    for src in installed:
        if kind_of(src) != "unit":
            continue
        with open(src) as f:
            text = f.read()
        for m in re.finditer(r"^ExecStart=(\S+)", text, re.M):
            if [m.group(1)] != tfstd:
                fail(f"{os.path.basename(src)}: ExecStart={m.group(1)}, tfstd goes to {tfstd}")
        docs = re.findall(r"^Documentation=(.*)$", text, re.M)
        if not docs:
            fail(f"{os.path.basename(src)} has no Documentation=")
        for page, sect in re.findall(r"man:([\w.-]+)\((\d)\)", " ".join(docs)):
            if f"{page}.{sect}" not in pages:
                fail(f"{os.path.basename(src)}: Documentation= names man:{page}({sect}), "
                     f"which is not installed")
    if not examples:
        fail("no example configuration is installed under the documentation directory")


def main():
    build = sys.argv[1]
    with open(os.path.join(build, "meson-info", "intro-installed.json")) as f:
        installed = json.load(f)
    with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
        options = {o["name"]: o["value"] for o in json.load(f)}
    print(f"prefix {options['prefix']}")
    try:
        check_dirs(installed, options)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"SKIP: systemd-path: {e}")
        return 77
    check_units(installed)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
