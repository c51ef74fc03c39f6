# SPDX-License-Identifier: GPL-2.0-or-later
"""org.tfst.Tfst1.Trace (issue 6): named packet traces of one peer, on a
private system bus with the real polkitd, against a real chain on loopback
(the chain and bus of tfst_bus.DbusTestCase):

    clients (127.0.0.2: 100 busy sessions; 127.0.0.5: the traced peer)
        -> gwproxy@dmz-3 "gw1" -> relay@2 -> epproxy@1 -> server 127.0.0.1

The contract is dbus/org.tfst.Tfst1.Trace.xml: Define/List/Show/Pause/
Delete/Export, List needs org.tfst.tfst1.observe and every other method
org.tfst.tfst1.trace; names are 1-32 of [A-Za-z0-9_.-]; an unknown name is
org.tfst.Tfst1.Error.NotFound; the buffer is 4096-67108864 bytes; wrap
drops the oldest packets, no wrap stops with status FULL.  The capture is a
real AF_PACKET socket: a loopback packet, seen leaving and arriving, counts
once.  Export writes a pcap file that tcpdump (and tshark, when installed)
reads.  tfstctl trace agrees with the bus.

Root only (AF_PACKET needs CAP_NET_RAW); skips with the reason otherwise.
Ports 27600-27799.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, abort, linear_chain, wait_until  # noqa: E402

from tfst_bus import (E_ACCESS, E_FAILED, E_INVALID, E_NOTFOUND, EP_INSTANCE,  # noqa: E402
                      GW_INSTANCE, INSTANCES, LABELS, OBSERVE, RELAY_INSTANCE, TFSTCTL, TRACE,
                      TRACE_ACTION, DbusTestCase, Session, bus_name, cmd_handler)

PEER = "127.0.0.5"      # the one traced client address
BUSY = "127.0.0.2"      # the 100 other sessions
N_BUSY = 100
PACKET_FIELDS = ("time", "source", "source_port", "destination", "destination_port", "flags",
                 "seq", "ack", "window", "length", "headers")
LIST_FIELDS = ("name", "address", "port", "size", "used", "packets", "wrap", "paused", "status")
SETTLE = 3 * SLOW


class TraceTestCase(DbusTestCase):
    def setUp(self):
        super().setUp()
        self.make_chain()
        self.gw = self.names["gw1"]
        self.web_host, self.web_port = self.web

    # -- calls --

    def trace(self, method, sig="", args=(), name=None, fds=None):
        return self.dbus.call(name or self.gw, method, sig, args, iface=TRACE, fds=fds)

    def define(self, tname, address=PEER, port=0, size=65536, wrap=True):
        self.trace("Define", "ssqub", (tname, address, port, size, wrap))

    def listing(self):
        return {t[0]: dict(zip(LIST_FIELDS, t)) for t in self.trace("List")[0]}

    def show(self, tname):
        return [dict(zip(PACKET_FIELDS, p)) for p in self.trace("Show", "s", (tname,))[0]]

    def export(self, tname, path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            return self.trace("Export", "sh", (tname, 0), fds=[fd])[0]
        finally:
            os.close(fd)

    def tfstctl(self, *args, user=None):
        return self.bus.run([TFSTCTL, "-i", f"gwproxy@{GW_INSTANCE}", *args], user=user)

    # -- traffic --

    def peer_port(self):
        """A fixed source port for the traced client, so the trace can be
        defined before the connection (to see its SYN)."""
        return self.port()

    def peer_session(self, port=None):
        s = Session.__new__(Session)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((PEER, port or 0))
        sock.settimeout(10 * SLOW)
        sock.connect(self.web)
        self.addCleanup(sock.close)
        s.sock, s.up, s.down, s.closed = sock, 0, 0, False
        return s

    def busy_sessions(self):
        out = []
        for _ in range(N_BUSY):
            s = self.session(BUSY)
            out.append(s)
        for s in out:
            s.exchange(50, 50)
        return out

    def wait_packets(self, tname, pred, what):
        last = []

        def check():
            nonlocal last
            last = self.show(tname)
            return pred(last)

        try:
            wait_until(check, SETTLE, interval=0.1, what=what)
        except AssertionError as e:
            raise AssertionError(f"{e}; last Show had {len(last)} packets") from None
        return last

    def assertOnlyPeer(self, packets, port=0):
        """Every packet is between PEER (port, when given) and the web
        listener of gw1."""
        web = (self.web_host, self.web_port)
        for p in packets:
            a = (p["source"], p["source_port"])
            b = (p["destination"], p["destination_port"])
            peer, far = (a, b) if a[0] == PEER else (b, a)
            self.assertEqual(peer[0], PEER, f"packet not of the traced peer: {p}")
            self.assertEqual(far, web, f"packet not of the traced peer: {p}")
            if port:
                self.assertEqual(peer[1], port, f"packet of another port of the peer: {p}")


class TraceTest(TraceTestCase):
    def test_one_peer_among_many(self):
        """With 100 busy sessions from another address, a trace of one
        peer address and port holds only that connection's packets, each
        once: its SYN, SYN-ACK with the matching ack, the payload bytes sent
        (summed from the length fields) and the RST of SO_LINGER 0."""
        busy = self.busy_sessions()
        pport = self.peer_port()
        self.define("one", PEER, pport, 1 << 20, True)
        # A second connection of the same address on another port: not traced.
        other = self.peer_session()
        s = self.peer_session(pport)
        sent, _ = s.exchange(1000, 2000)
        other.exchange(300, 300)
        for b in busy[:20]:
            b.exchange(10, 10)
        abort(s.sock)
        pkts = self.wait_packets("one", lambda p: any("RST" in x["flags"].split(",") for x in p),
                                 "the RST in the trace")
        self.assertOnlyPeer(pkts, pport)
        self.assertTrue(all(PEER in (p["source"], p["destination"]) for p in pkts))
        first = pkts[0]
        self.assertEqual((first["source"], first["source_port"], first["flags"]),
                         (PEER, pport, "SYN"), first)
        syns = [p for p in pkts if p["flags"] == "SYN"]
        self.assertEqual(len(syns), 1, "the SYN is seen exactly once (loopback counted once)")
        synack = [p for p in pkts if p["flags"] == "SYN,ACK"]
        self.assertEqual(len(synack), 1)
        self.assertEqual(synack[0]["source_port"], self.web_port)
        self.assertEqual(synack[0]["ack"], (first["seq"] + 1) % (1 << 32))
        up = sum(p["length"] for p in pkts if p["source"] == PEER)
        down = sum(p["length"] for p in pkts if p["destination"] == PEER)
        self.assertEqual(up, sent, "payload bytes toward the proxy, each packet once")
        self.assertEqual(down, 2000)
        rst = [p for p in pkts if "RST" in p["flags"].split(",")]
        self.assertEqual(rst[0]["source"], PEER)
        times = [p["time"] for p in pkts]
        self.assertEqual(times, sorted(times), "oldest first")
        self.assertTrue(abs(times[0] / 1e6 - time.time()) < 60, "CLOCK_REALTIME microseconds")
        for p in pkts:
            h = bytes(p["headers"])
            ihl = (h[0] & 15) * 4
            doff = (h[ihl + 12] >> 4) * 4
            self.assertEqual(h[0] >> 4, 4)
            self.assertEqual(len(h), ihl + doff, "the IP and TCP headers, whole")
            self.assertEqual(socket.inet_ntoa(h[12:16]), p["source"])
            self.assertEqual(int.from_bytes(h[ihl:ihl + 2], "big"), p["source_port"])
            self.assertEqual(int.from_bytes(h[ihl + 4:ihl + 8], "big"), p["seq"])
            self.assertEqual(int.from_bytes(h[ihl + 14:ihl + 16], "big"), p["window"])
        lst = self.listing()["one"]
        self.assertEqual(lst["packets"], len(pkts))
        self.assertEqual((lst["address"], lst["port"], lst["size"], lst["wrap"], lst["paused"],
                          lst["status"]), (PEER, pport, 1 << 20, True, False, "ACTIVE"))
        # used: a 16-byte record header per packet plus what was captured
        # (IP and TCP headers and payload, at most 256 bytes).
        self.assertEqual(lst["used"], sum(16 + min(256, len(p["headers"]) + p["length"])
                                          for p in pkts))
        # Port 0: every connection of the address, both of them.
        self.define("addr", PEER, 0)
        other.exchange(10, 10)
        pkts = self.wait_packets("addr", lambda p: len(p) >= 2, "packets of the other port")
        self.assertOnlyPeer(pkts)

    def test_wrap_and_full(self):
        """A 4096-byte ring with wrap keeps the newest packets within its
        size and drops the oldest (the SYN goes); without wrap it stops at
        FULL and takes nothing more."""
        pport = self.peer_port()
        self.define("ring", PEER, pport, 4096, True)
        self.define("stop", PEER, pport, 4096, False)
        self.assertEqual(self.listing()["ring"]["status"], "EMPTY")
        s = self.peer_session(pport)
        for _ in range(60):
            s.exchange(20, 20)
        lst = self.wait_status("stop", "FULL")
        stop_count = lst["stop"]["packets"]
        stop_pkts = self.show("stop")
        self.assertEqual(stop_pkts[0]["flags"], "SYN", "without wrap the oldest stay")
        self.assertLessEqual(lst["stop"]["used"], 4096)
        for _ in range(30):
            s.exchange(20, 20)
        time.sleep(0.5)
        lst = self.listing()
        self.assertEqual(lst["stop"]["packets"], stop_count, "FULL takes nothing more")
        self.assertEqual(lst["stop"]["status"], "FULL")
        self.assertEqual(self.show("stop"), stop_pkts)
        ring = lst["ring"]
        self.assertEqual(ring["status"], "ACTIVE")
        self.assertLessEqual(ring["used"], 4096)
        pkts = self.show("ring")
        self.assertNotIn("SYN", [p["flags"] for p in pkts], "the oldest were dropped")
        self.assertLess(len(pkts), 4096 // 56 + 1)
        self.assertGreater(len(pkts), stop_count // 2)
        # The newest are kept: the last packet is the last ACK of the last
        # exchange or later than every packet of the stopped trace.
        self.assertGreater(pkts[-1]["time"], stop_pkts[-1]["time"])

    def wait_status(self, tname, status):
        wait_until(lambda: self.listing()[tname]["status"] == status, SETTLE, interval=0.1,
                   what=f"{tname} {status}")
        return self.listing()

    def test_pause(self):
        """Paused, a trace adds no packets and keeps its buffer; resumed,
        it captures again."""
        pport = self.peer_port()
        self.define("p", PEER, pport)
        s = self.peer_session(pport)
        s.exchange(10, 10)
        before = self.wait_packets("p", lambda p: len(p) >= 4, "packets before the pause")
        self.trace("Pause", "sb", ("p", True))
        count = len(self.show("p"))
        self.assertTrue(self.listing()["p"]["paused"])
        for _ in range(10):
            s.exchange(10, 10)
        time.sleep(0.5)
        paused = self.show("p")
        self.assertEqual(len(paused), count, "no packets while paused")
        self.assertEqual(paused[:len(before)], before, "the buffer is kept")
        self.trace("Pause", "sb", ("p", True))  # pausing twice is harmless
        self.trace("Pause", "sb", ("p", False))
        self.assertFalse(self.listing()["p"]["paused"])
        s.exchange(10, 10)
        self.wait_packets("p", lambda p: len(p) > count, "packets after resuming")

    def test_export_pcap(self):
        """Export writes a pcap file through the descriptor passed: tcpdump
        (and tshark, when installed) read it, with as many packets as Show,
        all of the traced peer; a pipe works too; a read-only descriptor is
        refused."""
        pport = self.peer_port()
        self.define("x", PEER, pport)
        s = self.peer_session(pport)
        for _ in range(5):
            s.exchange(500, 500)
        abort(s.sock)
        self.wait_packets("x", lambda p: any("RST" in q["flags"] for q in p), "the RST")
        shown = self.show("x")
        path = os.path.join(self.workdir, "x.pcap")
        n = self.export("x", path)
        self.assertEqual(n, len(shown))
        with open(path, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:4], bytes.fromhex("d4c3b2a1"), "pcap, microseconds")
        self.assertEqual(int.from_bytes(head[20:24], "little"), 101, "LINKTYPE_RAW")
        readers = [["tcpdump", "-nn", "-r", path]]
        if shutil.which("tshark"):
            readers.append(["tshark", "-n", "-r", path])
        for argv in readers:
            if not shutil.which(argv[0]):
                self.fail(f"{argv[0]} not installed (tools/deps)")
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
            self.assertEqual(len(lines), len(shown), f"{argv[0]}:\n{r.stdout}")
            self.assertTrue(all(PEER in ln for ln in lines), r.stdout)
        # A pipe: the reply comes once everything is written.
        rfd, wfd = os.pipe()
        try:
            n = self.trace("Export", "sh", ("x", 0), fds=[wfd])[0]
            os.close(wfd)
            wfd = -1
            data = b""
            while True:
                chunk = os.read(rfd, 65536)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(rfd)
            if wfd >= 0:
                os.close(wfd)
        with open(path, "rb") as f:
            self.assertEqual(data, f.read())
        ro = os.open(path, os.O_RDONLY)
        try:
            self.assertDBusError(E_INVALID, self.trace, "Export", "sh", ("x", 0), fds=[ro],
                                 contains="writing")
        finally:
            os.close(ro)

    def test_errors(self):
        """Bad arguments get InvalidArgs naming what is wrong, unknown names
        NotFound naming the trace, and the number of traces is limited."""
        self.define("a")
        cases = [
            (("a", PEER, 0, 65536, True), "exists"),
            (("", PEER, 0, 65536, True), "name"),
            (("x" * 33, PEER, 0, 65536, True), "name"),
            (("sp ace", PEER, 0, 65536, True), "name"),
            (("b", "localhost", 0, 65536, True), "address"),
            (("b", "127.0.0.1 or tcp", 0, 65536, True), "address"),
            (("b", PEER, 0, 4095, True), "4096-67108864"),
            (("b", PEER, 0, 67108865, True), "4096-67108864"),
        ]
        for args, says in cases:
            with self.subTest(args=args[:4]):
                self.assertDBusError(E_INVALID, self.trace, "Define", "ssqub", args,
                                     contains=says)
        for method, sig, args in (("Show", "s", ("nope",)), ("Pause", "sb", ("nope", True)),
                                  ("Delete", "s", ("nope",))):
            with self.subTest(method=method):
                self.assertDBusError(E_NOTFOUND, self.trace, method, sig, args, contains="nope")
        rfd, wfd = os.pipe()
        try:
            self.assertDBusError(E_NOTFOUND, self.trace, "Export", "sh", ("nope", 0), fds=[wfd],
                                 contains="nope")
        finally:
            os.close(rfd)
            os.close(wfd)
        for i in range(15):
            self.define(f"n{i}", size=4096)
        self.assertDBusError(E_INVALID, self.trace, "Define", "ssqub",
                             ("n99", PEER, 0, 4096, True), contains="too many")
        self.assertEqual(len(self.listing()), 16)
        for i in range(15):
            self.trace("Delete", "s", (f"n{i}",))
        self.trace("Delete", "s", ("a",))
        self.assertEqual(self.listing(), {})
        self.assertDBusError(E_NOTFOUND, self.trace, "Show", "s", ("a",))
        # Total memory: 16 x 64 MiB is more than the traces may hold together.
        for i in range(4):
            self.define(f"big{i}", size=67108864)
        self.assertDBusError(E_INVALID, self.trace, "Define", "ssqub",
                             ("big4", PEER, 0, 67108864, True), contains="MiB")

    def test_capture_sockets_closed(self):
        """Each trace holds one packet socket, closed by Delete and Pause."""
        d = self.d("gw1")

        def packet_sockets():
            n = 0
            for fd in os.listdir(f"/proc/{d.pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{d.pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inode = target[8:-1]
                    with open("/proc/net/packet") as f:
                        n += any(ln.split()[-1] == inode for ln in f.read().splitlines()[1:])
            return n

        base = packet_sockets()
        self.define("s1")
        self.define("s2")
        self.assertEqual(packet_sockets(), base + 2)
        self.trace("Pause", "sb", ("s1", True))
        self.assertEqual(packet_sockets(), base + 1)
        self.trace("Delete", "s", ("s2",))
        self.assertEqual(packet_sockets(), base)
        self.trace("Pause", "sb", ("s1", False))
        self.assertEqual(packet_sockets(), base + 1)


class TraceCtlTest(TraceTestCase):
    def test_tfstctl_agrees(self):
        """tfstctl trace define/list/show/pause/resume/export/delete, text
        and --json, agree with the bus."""
        pport = self.peer_port()
        r = self.tfstctl("trace", "define", "web", PEER, str(pport), "--size=8192")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.tfstctl("--json", "trace", "define", "web2", PEER, "0", "--wrap")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["wrap"], True)
        s = self.peer_session(pport)
        s.exchange(100, 100)
        self.wait_packets("web", lambda p: len(p) >= 4, "packets")
        self.trace("Pause", "sb", ("web", True))
        self.trace("Pause", "sb", ("web2", True))
        lst = self.listing()
        r = self.tfstctl("trace", "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["instance"], f"gwproxy@{GW_INSTANCE}")
        # tfstctl's JSON names the unit (tfstctl(1), JSON OUTPUT)
        units = {"size": "size_bytes", "used": "used_bytes"}
        self.assertEqual({t["name"]: t for t in doc["traces"]},
                         {n: {units.get(k, k): v for k, v in t.items()} for n, t in lst.items()})
        self.assertEqual(lst["web"]["wrap"], False)
        self.assertEqual(lst["web"]["size"], 8192)
        self.assertEqual(lst["web2"]["wrap"], True)
        self.assertEqual(lst["web2"]["size"], 1 << 20)
        r = self.tfstctl("trace", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {ln.split()[0]: ln.split() for ln in r.stdout.splitlines()[1:]}
        self.assertEqual(sorted(rows), ["web", "web2"], r.stdout)
        self.assertIn(f"{PEER}:{pport}", rows["web"])
        self.assertIn(str(lst["web"]["packets"]), rows["web"])
        self.assertEqual(rows["web"][-1], lst["web"]["status"])
        shown = self.show("web")
        r = self.tfstctl("trace", "show", "web", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(len(doc["packets"]), len(shown))
        for j, p in zip(doc["packets"], shown):
            want = dict(p)
            want["headers"] = bytes(p["headers"]).hex()
            want["time_us"] = want.pop("time")  # the unit in the name
            self.assertEqual(j, want)
        r = self.tfstctl("trace", "show", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1 + len(shown), r.stdout)
        self.assertIn("SYN", lines[1])
        self.assertIn(f"{PEER}:{pport}", lines[1])
        path = os.path.join(self.workdir, "ctl.pcap")
        r = self.tfstctl("--json", "trace", "export", "web", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["packets"], len(shown))
        self.assertEqual(os.path.getsize(path), 24 + lst["web"]["used"])
        r = self.tfstctl("trace", "resume", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.listing()["web"]["paused"])
        r = self.tfstctl("trace", "pause", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.listing()["web"]["paused"])
        r = self.tfstctl("trace", "show", "nope")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("nope", r.stderr)
        # InvalidArgs from the daemon is a usage error (exit 2).
        r = self.tfstctl("trace", "define", "bad", "not-an-ip", "0")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not-an-ip", r.stderr)
        r = self.tfstctl("trace", "define", "bad", PEER, "65536")
        self.assertEqual(r.returncode, 2, r.stderr)
        r = self.tfstctl("trace", "frobnicate")
        self.assertEqual(r.returncode, 2, r.stderr)
        for t in ("web", "web2"):
            r = self.tfstctl("trace", "delete", t)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.listing(), {})
        r = self.tfstctl("trace", "list")
        self.assertEqual(r.returncode, 0, r.stderr)


class TraceAuthzTest(TraceTestCase):
    def test_nobody(self):
        """nobody without a grant: List is AccessDenied naming observe,
        every other method AccessDenied naming org.tfst.tfst1.trace, and
        nothing is defined; with observe granted List works but Define is
        still denied; with trace granted nobody may define and show."""
        self.define("t1")
        calls = [("Define", ["'t2'", f"'{PEER}'", "0", "65536", "true"]),
                 ("Show", ["'t1'"]), ("Pause", ["'t1'", "true"]), ("Delete", ["'t1'"])]
        for method, args in calls:
            with self.subTest(method=method):
                self.assertDBusError(E_ACCESS, self.gdbus_as, self.gw, method, *args,
                                     iface=TRACE, contains=TRACE_ACTION)
        self.assertDBusError(E_ACCESS, self.gdbus_as, self.gw, "List", iface=TRACE,
                             contains=OBSERVE)
        r = self.tfstctl("trace", "show", "t1", user="nobody")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(TRACE_ACTION, r.stderr)
        self.assertEqual(sorted(self.listing()), ["t1"])
        self.assertFalse(self.listing()["t1"]["paused"])
        self.grant(OBSERVE)
        got = self.gdbus_as(self.gw, "List", iface=TRACE)
        self.assertEqual([t[0] for t in got[0]], ["t1"])
        self.assertDBusError(E_ACCESS, self.gdbus_as, self.gw, "Show", "'t1'", iface=TRACE,
                             contains=TRACE_ACTION)
        self.grant(TRACE_ACTION)
        self.gdbus_as(self.gw, "Define", "'t2'", f"'{PEER}'", "0", "65536", "true", iface=TRACE)
        self.assertEqual(sorted(self.listing()), ["t1", "t2"])
        self.gdbus_as(self.gw, "Show", "'t2'", iface=TRACE)


class TraceNoCapTest(DbusTestCase):
    def test_without_cap_net_raw(self):
        """A daemon without CAP_NET_RAW answers Define with an error naming
        CAP_NET_RAW, lists nothing, and keeps running and answering."""
        if not shutil.which("setpriv"):
            self.skipTest("setpriv (util-linux) is needed to drop CAP_NET_RAW")
        self.srv = self.server(cmd_handler)
        top = linear_chain(self, relays=1, up={"web": self.srv.addr},
                           ep_instance=EP_INSTANCE, relay_instance=RELAY_INSTANCE,
                           gw_instance=GW_INSTANCE)
        self.top = top
        top.create()
        top.d("gw1").argv_prefix = ["setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw",
                                    "--"]
        top.start()
        top.wait_converged()
        self.names = {label: bus_name(role, INSTANCES[role]) for role, label in LABELS.items()}
        self.web = top.listen_addr("gw1", "web")
        self.wait_name("gw1")
        gw = self.names["gw1"]
        with open(f"/proc/{top.d('gw1').pid}/status") as f:
            caps = next(ln for ln in f if ln.startswith("CapEff:"))
        self.assertFalse(int(caps.split()[1], 16) & (1 << 13), f"CAP_NET_RAW still there: {caps}")
        self.assertDBusError(E_FAILED, self.dbus.call, gw, "Define", "ssqub",
                             ("t", PEER, 0, 65536, True), iface=TRACE, contains="CAP_NET_RAW")
        self.assertEqual(self.dbus.call(gw, "List", iface=TRACE), ([],))
        self.assertTrue(top.d("gw1").alive())
        s = self.session()
        s.exchange(10, 10)


if __name__ == "__main__":
    unittest.main()
