# SPDX-License-Identifier: GPL-2.0-or-later
"""The D-Bus contract the tests check: bus names (and the escaping of an
instance name into one), the object path, interfaces, error names, polkit
actions, the fields of ListSessions and the hop list, and the interfaces,
methods, properties and signals of the introspection XML in dbus/."""

import glob
import os
import time
import xml.etree.ElementTree as ET

from .sysbus import SRCDIR

BUS_PREFIX = "org.tfst.Tfst1."
OBJ = "/org/tfst/Tfst1"
IFACE = "org.tfst.Tfst1.Instance"
KEEPALIVE = "org.tfst.Tfst1.Keepalive"
IPSEC = "org.tfst.Tfst1.Ipsec"
TRACE = "org.tfst.Tfst1.Trace"
EVENTS = "org.tfst.Tfst1.Events"
PROPS = "org.freedesktop.DBus.Properties"

E_ACCESS = "org.freedesktop.DBus.Error.AccessDenied"
E_INVALID = "org.tfst.Tfst1.Error.InvalidArgs"
E_NOTFOUND = "org.tfst.Tfst1.Error.NotFound"
E_CONFIG = "org.tfst.Tfst1.Error.Config"
E_FAILED = "org.tfst.Tfst1.Error.Failed"

OBSERVE = "org.tfst.tfst1.observe"
MANAGE = "org.tfst.tfst1.manage"
TUNE = "org.tfst.tfst1.tune"
TRACE_ACTION = "org.tfst.tfst1.trace"

STAT_KEYS_T = ["SessionsOpened", "SessionsClosed", "SessionsFailed", "SessionsRefusedLimit",
               "SessionsAbortedClose", "SessionsIdleTimeout", "SessionsRetransmitTimeout",
               "SessionsKeepaliveDead", "SessionsReset", "HopReconnects", "HandshakeFailures",
               "UpcallBytesToTarget", "UpcallBytesToClient", "DowncallBytesToTarget",
               "DowncallBytesToClient"]
SESSION_FIELDS = ("id", "forward", "direction", "client", "target", "state", "bytes_to_target",
                  "bytes_to_client", "age", "idle")
HOP_FIELDS = ("label", "address", "port", "up", "since", "rtt", "reconnects")


def escape_instance(s):
    """daemon/common/tfst-bus-name.c: every byte not [A-Za-z0-9] becomes _XX."""
    if s == "":
        return "_"
    return "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else f"_{b:02x}"
                   for b in s.encode())


def bus_name(role, instance):
    return f"{BUS_PREFIX}{role}_{escape_instance(instance)}"


def now_us():
    return int(time.time() * 1_000_000)


def api_xml_files():
    return sorted(glob.glob(os.path.join(SRCDIR, "dbus", "org.tfst.Tfst1.*.xml")))


def parse_api(xml_text_or_files):
    """{interface: {"method": {name: [(arg, type, dir)]}, "property": {name:
    (type, access)}, "signal": {name: [(arg, type)]}}} from introspection
    XML (a list of files, or one XML string)."""
    roots = []
    if isinstance(xml_text_or_files, str):
        roots.append(ET.fromstring(xml_text_or_files))
    else:
        roots += [ET.parse(f).getroot() for f in xml_text_or_files]
    out = {}
    for root in roots:
        for iface in root.iter("interface"):
            d = {"method": {}, "property": {}, "signal": {}}
            for m in iface.findall("method"):
                d["method"][m.get("name")] = [(a.get("name"), a.get("type"),
                                               a.get("direction", "in"))
                                              for a in m.findall("arg")]
            for p in iface.findall("property"):
                d["property"][p.get("name")] = (p.get("type"), p.get("access"))
            for s in iface.findall("signal"):
                d["signal"][s.get("name")] = [(a.get("name"), a.get("type"))
                                              for a in s.findall("arg")]
            out[iface.get("name")] = d
    return out


def signature(args, direction):
    return "".join(t for _, t, d in args if d == direction)
