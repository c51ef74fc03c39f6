# SPDX-License-Identifier: GPL-2.0-or-later
"""org.tfst.Tfst1.Ipsec and `tfstctl spi` against the real kernel's xfrm
state, on the private system bus with the real polkitd (tfst_bus).

Each case creates its own network namespace (removed at cleanup) and starts
an epproxy tfstd inside it through `ip netns exec`: the daemon sees that
namespace's SAs, and the bus socket is a path, reachable from any network
namespace.  SAs are made with `ip xfrm state allocspi` (larval SAs with a
chosen SPI: they work on every kernel with CONFIG_XFRM_USER) and, where the
kernel has ESP, with `ip xfrm state add`.  The contract is
dbus/org.tfst.Tfst1.Ipsec.xml:

- ListSAs matches `ip xfrm state`; CheckSpi and FindConflicts classify
  same-destination (same SPI, destination and protocol: the kernel refuses
  it, checked here too) and other-tunnel (same SPI with another destination
  or protocol) collisions, and free SPIs as free; bad arguments are
  org.tfst.Tfst1.Error.InvalidArgs;
- Statistics returns /proc/net/xfrm_stat of the daemon's namespace;
- a new colliding SA raises ConflictDetected and a log entry (needs full
  SAs: skipped on kernels without ESP, such as the lab's; test_ipsec_vm.py
  covers it in a QEMU VM with a stock kernel);
- the monitor is subscribed to XFRMNLGRP_SA in the daemon's namespace;
- without CAP_NET_ADMIN the SA methods fail naming the capability, the
  daemon keeps running and says so once in its log;
- as nobody without a polkit grant every method is AccessDenied naming
  org.tfst.tfst1.observe; with the grant they answer;
- `tfstctl spi list|check|conflicts|stats` text and --json agree with D-Bus.

Serial, root only; skips with the reason otherwise.  Ports 27500-27599
(inside the namespaces only).
"""

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import TfstTestCase, wait_until  # noqa: E402

import tfst_bus  # noqa: E402
from tfst_bus import (E_ACCESS, E_FAILED, E_INVALID, IPSEC, NAME_TIMEOUT, OBJ,  # noqa: E402
                      OBSERVE, TFSTCTL, Gio, GLib)

IP = shutil.which("ip") or "/usr/sbin/ip"
CMD_TIMEOUT = 15

PORT = 27500  # the epproxy's children listener, inside its own namespace
XFRMNLGRP_SA = 3  # <linux/xfrm.h>
XFRMNLGRP_SA_MASK = 1 << (XFRMNLGRP_SA - 1)  # in /proc/net/netlink "Groups"
NETLINK_XFRM = 6

PROTO_NUMBERS = {"esp": 50, "ah": 51, "comp": 108}
GCM = ["aead", "rfc4106(gcm(aes))", "0x0102030405060708091011121314151617181920", "128"]
CBC_SHA = ["enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff",
           "auth-trunc", "hmac(sha256)",
           "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "128"]

_ns_counter = itertools.count(1)


def run(argv, check=True, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=CMD_TIMEOUT, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def environment_problem():
    why = tfst_bus.environment_problem()
    if why:
        return why
    if not os.access(IP, os.X_OK):
        return f"{IP} not found"
    ns = f"tfst-ipsec-{os.getpid()}-probe"
    try:
        r = run([IP, "netns", "add", ns], check=False)
        if r.returncode != 0:
            return f"`ip netns add` does not work here: {r.stderr.strip()}"
        r = run([IP, "-n", ns, "xfrm", "state", "allocspi", "src", "192.0.2.1", "dst",
                 "192.0.2.2", "proto", "esp", "min", "0x1000", "max", "0x1000"], check=False)
        if r.returncode != 0:
            return f"xfrm (`ip xfrm state allocspi`) does not work here: {r.stderr.strip()}"
        r = run([IP, "netns", "exec", ns, "sysctl", "-qw", "net.core.xfrm_acq_expires=3600"],
                check=False)
        if r.returncode != 0:
            return (f"cannot set net.core.xfrm_acq_expires in a network namespace here "
                    f"(/proc/sys read-only, as in a container without its own network?): "
                    f"{r.stderr.strip()}")
        return None
    finally:
        run([IP, "netns", "del", ns], check=False)


class DBusCallError(Exception):
    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def parse_ip_xfrm_state(text):
    """`ip xfrm state` as a set of (spi, proto, src, dst, mode, reqid)."""
    out = set()
    src = dst = None
    for line in text.splitlines():
        m = re.match(r"src (\S+) dst (\S+)$", line.strip())
        if m:
            src, dst = m.groups()
            continue
        m = re.match(r"proto (\S+) spi 0x([0-9a-f]+) reqid (\d+) mode (\S+)", line.strip())
        if m:
            out.add((int(m.group(2), 16), m.group(1), src, dst, m.group(4), int(m.group(3))))
    return out


class IpsecTest(tfst_bus.PrivateBusMixin, TfstTestCase):
    @classmethod
    def environment_problem(cls):
        return environment_problem()

    def setUp(self):
        super().setUp()
        self.conn = self.bus.connect()
        self.addCleanup(self._close_conn)
        self.ns = f"tfst-ipsec-{os.getpid()}-{next(_ns_counter)}"
        run([IP, "netns", "add", self.ns])
        # Registered before the daemon's stop (cleanups run LIFO).
        self.addCleanup(run, [IP, "netns", "del", self.ns], False)
        run([IP, "-n", self.ns, "link", "set", "lo", "up"])
        # Larval SAs from allocspi expire after xfrm_acq_expires (30 s by
        # default, per namespace): keep them for the whole case.
        run([IP, "netns", "exec", self.ns, "sysctl", "-qw", "net.core.xfrm_acq_expires=3600"])
        self.instance = f"ipsec{next(_ns_counter)}"
        self.name = f"org.tfst.Tfst1.epproxy_{self.instance}"
        self.d = None

    def _close_conn(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass

    # -- helpers --

    def start_daemon(self, launcher=()):
        config = (f"[Instance]\nLabel={self.instance}\n\n"
                  f"[Children]\nListen=127.0.0.1:{PORT}\n")
        d = self.daemon("epproxy", self.instance, config)
        d.argv_prefix = [IP, "netns", "exec", self.ns, *launcher]
        d.start()
        self.bus.wait_name(self.name, NAME_TIMEOUT, proc=d.proc)
        self.d = d
        return d

    def xfrm(self, *args, check=True):
        return run([IP, "-n", self.ns, "xfrm", *args], check=check)

    def allocspi(self, src, dst, proto, spi, check=True):
        return self.xfrm("state", "allocspi", "src", src, "dst", dst, "proto", proto,
                         "min", hex(spi), "max", hex(spi), check=check)

    def call(self, method, sig="", args=(), timeout=25):
        params = GLib.Variant(f"({sig})", tuple(args)) if sig else None
        try:
            r = self.conn.call_sync(self.name, OBJ, IPSEC, method, params, None,
                                    Gio.DBusCallFlags.NONE, int(timeout * 1000), None)
        except GLib.Error as e:
            m = re.match(r"GDBus\.Error:([\w.]+): (.*)$", e.message, re.S)
            raise (DBusCallError(m.group(1), m.group(2)) if m
                   else DBusCallError(None, e.message)) from None
        return r.unpack()

    def assertDBusError(self, name, fn, *args, contains=(), **kw):
        with self.assertRaises(DBusCallError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.name, name, cm.exception)
        for c in ([contains] if isinstance(contains, str) else contains):
            self.assertIn(c, cm.exception.message, cm.exception)
        return cm.exception

    def gdbus_as(self, method, *args, user="nobody", timeout=15):
        argv = ["gdbus", "call", "--address", self.bus.address, "--dest", self.name,
                "--object-path", OBJ, "--timeout", str(int(timeout)), "--method",
                f"{IPSEC}.{method}", *args]
        r = self.bus.run(argv, user=user, timeout=timeout + 15)
        if r.returncode == 0:
            return GLib.Variant.parse(None, r.stdout.strip(), None, None).unpack()
        m = re.search(r"GDBus\.Error:([\w.]+): (.*)", r.stderr, re.S)
        raise DBusCallError(m.group(1) if m else None, (m.group(2) if m else r.stderr).strip())

    def tfstctl(self, *args, user=None):
        return self.bus.run([TFSTCTL, "-i", f"epproxy@{self.instance}", *args], user=user)

    def tfstctl_json(self, *args):
        r = self.tfstctl("--json", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def ip_sas(self):
        return parse_ip_xfrm_state(self.xfrm("state").stdout)

    def dbus_sas(self):
        return {(s[0], s[1], s[2], s[3], s[4], s[5]) for s in self.call("ListSAs")[0]}

    def make_sas(self):
        """esp and ah with SPI 0x1000 on one pair (other-tunnel), esp 0x2000
        over IPv6, comp 0x3000, and a larval SPI-0 entry that a refused
        allocspi leaves behind."""
        self.allocspi("10.0.0.1", "10.0.0.2", "esp", 0x1000)
        self.allocspi("10.0.0.1", "10.0.0.2", "ah", 0x1000)
        self.allocspi("fd00::1", "fd00::2", "esp", 0x2000)
        self.allocspi("10.0.0.1", "10.0.0.2", "comp", 0x3000)
        # The kernel refuses the same destination, protocol and SPI.
        r = self.allocspi("10.0.0.9", "10.0.0.2", "esp", 0x1000, check=False)
        self.assertNotEqual(r.returncode, 0, "the kernel accepted a same-destination SPI")

    def full_sa_args(self):
        """Arguments that make `ip xfrm state add` work for esp on this
        kernel, or skip saying why none does."""
        errors = []
        for algs in (GCM, CBC_SHA):
            r = self.xfrm("state", "add", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp",
                          "spi", "0x7f000001", "mode", "tunnel", *algs, check=False)
            if r.returncode == 0:
                self.xfrm("state", "delete", "src", "192.0.2.1", "dst", "192.0.2.2", "proto",
                          "esp", "spi", "0x7f000001")
                return algs
            errors.append(f"{algs[1]}: {r.stderr.strip()}")
        self.skipTest("the kernel cannot add full ESP SAs (`ip xfrm state add`: "
                      + "; ".join(errors) + "); larval SAs from allocspi raise no SA event, "
                      "so ConflictDetected cannot be triggered here (test_ipsec_vm.py covers it in a VM)")

    def netlink_groups(self):
        """Group masks of the NETLINK_XFRM sockets in the namespace."""
        text = run([IP, "netns", "exec", self.ns, "cat", "/proc/net/netlink"]).stdout
        out = []
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) >= 4 and int(f[1]) == NETLINK_XFRM:
                out.append(int(f[3], 16))
        return out

    # -- cases --

    def test_list_sas_matches_ip_xfrm(self):
        self.start_daemon()
        self.assertEqual(self.call("ListSAs"), ([],))
        self.make_sas()
        expected = self.ip_sas()
        self.assertEqual(len(expected), 5, expected)
        self.assertEqual(self.dbus_sas(), expected)
        for sa in self.call("ListSAs")[0]:
            # Larval SAs have no traffic and no failures.
            self.assertEqual(sa[6:], (0, 0, 0, 0, 0), sa)

    def test_check_spi(self):
        self.start_daemon()
        self.make_sas()
        same = self.call("CheckSpi", "uss", (0x1000, "10.0.0.2", "esp"))[0]
        self.assertEqual(sorted(same), sorted([
            (0x1000, "esp", "10.0.0.1", "10.0.0.2", "transport", "same-destination"),
            (0x1000, "ah", "10.0.0.1", "10.0.0.2", "transport", "other-tunnel"),
        ]))
        other = self.call("CheckSpi", "uss", (0x1000, "10.0.0.4", "esp"))[0]
        self.assertEqual(sorted(other), sorted([
            (0x1000, "esp", "10.0.0.1", "10.0.0.2", "transport", "other-tunnel"),
            (0x1000, "ah", "10.0.0.1", "10.0.0.2", "transport", "other-tunnel"),
        ]))
        # IPv6 in any spelling; comp by its CPI.
        self.assertEqual(self.call("CheckSpi", "uss", (0x2000, "fd00:0::0:2", "esp"))[0],
                         [(0x2000, "esp", "fd00::1", "fd00::2", "transport", "same-destination")])
        self.assertEqual(self.call("CheckSpi", "uss", (0x3000, "10.0.0.2", "comp"))[0],
                         [(0x3000, "comp", "10.0.0.1", "10.0.0.2", "transport",
                           "same-destination")])
        # Free SPIs; the larval SPI-0 entry collides with nothing.
        for spi, dst, proto in ((0x1001, "10.0.0.2", "esp"), (0x4000, "fd00::2", "ah"),
                                (256, "10.0.0.2", "esp")):
            with self.subTest(spi=spi, dst=dst, proto=proto):
                self.assertEqual(self.call("CheckSpi", "uss", (spi, dst, proto)), ([],))
        # What CheckSpi calls free, the kernel takes; what it calls
        # same-destination, the kernel refuses.
        self.allocspi("10.0.0.1", "10.0.0.2", "esp", 0x1001)
        self.assertNotEqual(self.allocspi("10.0.0.7", "10.0.0.2", "ah", 0x1000,
                                          check=False).returncode, 0)
        # Bad arguments name what was wrong.
        bad = [((255, "10.0.0.2", "esp"), "255"), ((1, "10.0.0.2", "esp"), "reserved"),
               ((0, "10.0.0.2", "esp"), "SPI 0"),
               ((0x1000, "10.0.0.2", "gre"), "'gre'"),
               ((0x1000, "gw.example", "esp"), "gw.example"),
               ((0x1000, "", "esp"), "destination")]
        for args, contains in bad:
            with self.subTest(args=args):
                self.assertDBusError(E_INVALID, self.call, "CheckSpi", "uss", args,
                                     contains=contains)
        self.assertTrue(self.d.alive())

    def test_find_conflicts(self):
        self.start_daemon()
        self.assertEqual(self.call("FindConflicts"), ([],))
        self.allocspi("10.0.0.1", "10.0.0.2", "esp", 0x5000)
        self.allocspi("10.0.0.5", "10.0.0.6", "esp", 0x6000)
        self.assertEqual(self.call("FindConflicts"), ([],))
        self.make_sas()
        # fd00::2 esp 0x2000 and 10.0.0.2 comp 0x3000 are alone; the larval
        # SPI-0 entry collides with nothing.
        groups = self.call("FindConflicts")[0]
        self.assertEqual([(spi, kind, sorted(sas)) for spi, kind, sas in groups], [
            (0x1000, "other-tunnel", [("ah", "10.0.0.1", "10.0.0.2"),
                                      ("esp", "10.0.0.1", "10.0.0.2")]),
        ])

    def test_statistics(self):
        self.start_daemon()
        # Outbound policies in the namespace: one that blocks, one that
        # wants ESP with no SA for it.  The kernel counts what it cannot send
        # (XfrmOutPolBlock, XfrmOutNoStates) in this namespace only.  A veth:
        # lo has xfrm disabled.
        run([IP, "-n", self.ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
        run([IP, "-n", self.ns, "addr", "add", "10.77.0.1/24", "dev", "v0"])
        run([IP, "-n", self.ns, "link", "set", "v0", "up"])
        run([IP, "-n", self.ns, "link", "set", "v1", "up"])
        self.xfrm("policy", "add", "src", "10.77.0.1/32", "dst", "10.77.0.2/32", "dir", "out",
                  "action", "block")
        self.xfrm("policy", "add", "src", "10.77.0.1/32", "dst", "10.77.0.3/32", "dir", "out",
                  "tmpl", "src", "10.77.0.1", "dst", "10.77.0.3", "proto", "esp", "mode",
                  "tunnel")
        send = ("import socket\n"
                "for d in ('10.77.0.2', '10.77.0.2', '10.77.0.3'):\n"
                "    try:\n"
                "        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', (d, 9))\n"
                "    except OSError:\n"
                "        pass\n")
        run([IP, "netns", "exec", self.ns, "/usr/bin/python3", "-c", send])

        def proc_stat():
            text = run([IP, "netns", "exec", self.ns, "cat", "/proc/net/xfrm_stat"]).stdout
            return {f[0]: int(f[1]) for f in (ln.split() for ln in text.splitlines()) if f}

        kernel = proc_stat()
        counters = self.call("Statistics")[0]
        self.assertEqual(counters, kernel)
        self.assertIn("XfrmInNoStates", counters)
        self.assertEqual(counters["XfrmOutPolBlock"], 2, counters)
        self.assertEqual(counters["XfrmOutNoStates"], 1, counters)
        # The host's counters are not the namespace's.
        r = self.tfstctl_json("spi", "stats")
        self.assertEqual(r, {"counters": kernel})

    def test_monitor_subscribed(self):
        """The monitor's socket is in the daemon's namespace and has joined
        XFRMNLGRP_SA (the kernel's own view, /proc/net/netlink)."""
        self.start_daemon()
        groups = wait_until(lambda: [g for g in self.netlink_groups() if g & XFRMNLGRP_SA_MASK],
                            5, what="an xfrm socket in XFRMNLGRP_SA")
        self.assertEqual(len(groups), 1, groups)

    def test_conflict_detected(self):
        self.start_daemon()
        algs = self.full_sa_args()
        signals = []
        sub = self.conn.signal_subscribe(
            self.name, IPSEC, "ConflictDetected", OBJ, None, Gio.DBusSignalFlags.NONE,
            lambda *a: signals.append(a[5].unpack()))
        self.addCleanup(self.conn.signal_unsubscribe, sub)
        ctx = GLib.MainContext.default()

        def pump(until, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not until():
                ctx.iteration(False)
                time.sleep(0.02)
            return until()

        def add(src, dst, spi, proto="esp"):
            self.xfrm("state", "add", "src", src, "dst", dst, "proto", proto, "spi", hex(spi),
                      "mode", "tunnel", *algs)

        add("10.0.0.1", "10.0.0.2", 0x5000)
        add("10.0.0.1", "10.0.0.2", 0x5001)
        self.assertFalse(pump(lambda: signals, 1.5), signals)
        add("10.0.0.3", "10.0.0.4", 0x5000)
        self.assertTrue(pump(lambda: signals, 10), "no ConflictDetected")
        self.assertEqual(signals[0], (0x5000, "esp", "10.0.0.3", "10.0.0.4", "other-tunnel"))
        self.d.wait_log(r"IPsec SPI conflict \(other-tunnel\): new SA spi 0x00005000 "
                        r"esp 10\.0\.0\.3 -> 10\.0\.0\.4 collides with esp 10\.0\.0\.1 -> "
                        r"10\.0\.0\.2")
        self.assertEqual(len(signals), 1, signals)
        # FindConflicts agrees with the signal.
        groups = self.call("FindConflicts")[0]
        self.assertEqual([(spi, kind, sorted(sas)) for spi, kind, sas in groups], [
            (0x5000, "other-tunnel", [("esp", "10.0.0.1", "10.0.0.2"),
                                      ("esp", "10.0.0.3", "10.0.0.4")])])

    def test_without_cap_net_admin(self):
        """Started without CAP_NET_ADMIN (bounding set): the SA methods
        fail naming the capability, Statistics still answers, the daemon
        keeps running and logged the monitor's problem once."""
        if shutil.which("setpriv") is None:
            self.skipTest("setpriv not found")
        d = self.start_daemon(["setpriv", "--bounding-set=-net_admin",
                               "--inh-caps=-net_admin", "--"])
        self.allocspi("10.0.0.1", "10.0.0.2", "esp", 0x1000)
        for method, sig, args in (("ListSAs", "", ()), ("FindConflicts", "", ()),
                                  ("CheckSpi", "uss", (0x1000, "10.0.0.2", "esp"))):
            with self.subTest(method=method):
                self.assertDBusError(E_FAILED, self.call, method, sig, args,
                                     contains="CAP_NET_ADMIN")
        self.assertIn("XfrmInNoStates", self.call("Statistics")[0])
        r = self.tfstctl("spi", "list")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("CAP_NET_ADMIN", r.stderr)
        self.assertTrue(d.alive())
        self.assertEqual(d.count_log(r"IPsec SPI conflicts will not be signalled: .*CAP_NET_ADMIN"),
                         1, d.log_tail())
        self.assertEqual([g for g in self.netlink_groups() if g & XFRMNLGRP_SA_MASK], [])

    def test_nobody(self):
        self.start_daemon()
        self.make_sas()
        calls = [("ListSAs", []), ("FindConflicts", []), ("Statistics", []),
                 ("CheckSpi", ["4096", "'10.0.0.2'", "'esp'"])]
        for method, args in calls:
            with self.subTest(method=method, grant=False):
                self.assertDBusError(E_ACCESS, self.gdbus_as, method, *args, contains=OBSERVE)
        r = self.tfstctl("spi", "conflicts", user="nobody")
        self.assertEqual(r.returncode, 4, r)
        path = self.bus.grant(OBSERVE)
        try:
            self.assertEqual(len(self.gdbus_as("ListSAs")[0]), 5)
            self.assertEqual(self.gdbus_as("CheckSpi", "4096", "'10.0.0.4'", "'esp'")[0][0][5],
                             "other-tunnel")
            self.assertEqual(len(self.gdbus_as("FindConflicts")[0]), 1)
        finally:
            self.bus.revoke(path, OBSERVE)

    def test_tfstctl(self):
        self.start_daemon()
        self.make_sas()
        # list
        j = self.tfstctl_json("spi", "list")
        self.assertEqual({(s["spi"], s["protocol"], s["source"], s["destination"], s["mode"],
                           s["reqid"]) for s in j["sas"]}, self.dbus_sas())
        self.assertEqual(set(j["sas"][0]), {
            "spi", "protocol", "source", "destination", "mode", "reqid", "bytes", "packets",
            "replay_window_failures", "replay_failures", "integrity_failures"})
        r = self.tfstctl("spi", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^SPI\s+PROTO\s+SOURCE\s+DESTINATION\s+MODE\s+REQID")
        self.assertRegex(r.stdout, r"(?m)^0x00001000\s+ah\s+10\.0\.0\.1\s+10\.0\.0\.2\s+transport")
        self.assertRegex(r.stdout, r"(?m)^0x00002000\s+esp\s+fd00::1\s+fd00::2\s")
        self.assertEqual(len(r.stdout.strip().splitlines()), 1 + 5)
        # check: decimal and hex, conflicts are not a failure (exit 0).
        dbus = self.call("CheckSpi", "uss", (0x1000, "10.0.0.2", "esp"))[0]
        for spi in ("4096", "0x1000", "0X00001000"):
            with self.subTest(spi=spi):
                j = self.tfstctl_json("spi", "check", spi, "10.0.0.2", "esp")
                self.assertEqual(j["spi"], 4096)
                self.assertEqual(sorted((c["spi"], c["protocol"], c["source"], c["destination"],
                                         c["mode"], c["kind"]) for c in j["conflicts"]),
                                 sorted(dbus))
        r = self.tfstctl("spi", "check", "0x1000", "10.0.0.2", "esp")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("collides with 2 SAs", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^0x00001000\s+esp\s+10\.0\.0\.1\s+10\.0\.0\.2\s+"
                                   r"transport\s+same-destination")
        self.assertIn("the kernel refuses", r.stdout)
        r = self.tfstctl("spi", "check", "0x1001", "10.0.0.2", "esp")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no conflicts", r.stdout)
        self.assertEqual(self.tfstctl_json("spi", "check", "0x1001", "10.0.0.2", "esp")
                         ["conflicts"], [])
        # Bad input: usage errors before or from the daemon (exit 2).
        for args, contains in ((["check", "0x1000", "10.0.0.2"], "DESTINATION"),
                               (["check", "zz", "10.0.0.2", "esp"], "“zz”"),
                               (["check", "0x100000000", "10.0.0.2", "esp"], "0x100000000"),
                               (["check", "255", "10.0.0.2", "esp"], "reserved"),
                               (["check", "4096", "10.0.0.2", "gre"], "gre"),
                               (["list", "x"], "“x”"), (["nope"], "nope"), ([], "subcommand")):
            with self.subTest(args=args):
                r = self.tfstctl("spi", *args)
                self.assertEqual(r.returncode, 2, r)
                self.assertIn(contains, r.stderr)
        # conflicts
        groups = self.call("FindConflicts")[0]
        j = self.tfstctl_json("spi", "conflicts")
        self.assertEqual([(g["spi"], g["kind"], [(s["protocol"], s["source"], s["destination"])
                                                 for s in g["sas"]]) for g in j["conflicts"]],
                         groups)
        r = self.tfstctl("spi", "conflicts")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^0x00001000\s+other-tunnel\s+esp\s+10\.0\.0\.1\s+"
                                   r"10\.0\.0\.2")
        self.assertRegex(r.stdout, r"(?m)^0x00001000\s+other-tunnel\s+ah\s+10\.0\.0\.1\s+")
        # stats
        counters = self.call("Statistics")[0]
        self.assertEqual(self.tfstctl_json("spi", "stats"), {"counters": counters})
        r = self.tfstctl("spi", "stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        for name, value in counters.items():
            self.assertRegex(r.stdout, rf"(?m)^{name}\s+{value}$")

    def test_tfstctl_no_conflicts(self):
        self.start_daemon()
        r = self.tfstctl("spi", "conflicts")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "No colliding SPIs: no conflicts."))
        self.assertEqual(self.tfstctl_json("spi", "conflicts"), {"conflicts": []})
        r = self.tfstctl("spi", "list")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "No IPsec SAs."))
        self.assertEqual(self.tfstctl_json("spi", "list"), {"sas": []})


if __name__ == "__main__":
    unittest.main()
