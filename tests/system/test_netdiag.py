# SPDX-License-Identifier: GPL-2.0-or-later
"""Statistics, keepalive and session inspection of tfst hops through a real
stateful firewall (issue 6), read over D-Bus as root.

The namespaces and the nftables firewall are tfst_netns.FirewallTopology:
"inside" (epproxy, the gateway target server), "dmz" (an nftables forward
firewall that lets inside open the hop toward outside, with strict conntrack
pickup: a mid-stream packet the firewall no longer knows is INVALID and
dropped) and "outside" (gwproxy and the endpoint clients).  The daemons
register on a private system bus with the real polkitd (tfst_bus), and the
test calls org.tfst.Tfst1.Instance as root (tfst_bus.Client).

One class per fixture:

- ConntrackTimeoutTest: the dmz forgets established connections after
  CT_TIMEOUT seconds of silence (the per-namespace sysctl
  net.netfilter.nf_conntrack_tcp_timeout_established: an nft "ct timeout"
  policy loads but is not applied on this kernel, see
  ../shared/lab/exp3_netns_firewall.sh).  A hop without PING and TCP
  keepalive dies once idle longer than that (and is re-established, also
  when only one side notices and the new hop has to replace the forgotten
  one); with TCP keepalive below the timeout the same hop survives, also
  when keepalive is turned on live over org.tfst.Tfst1.Keepalive; Audit()
  agrees with `ss -tnoi` inside the namespace.
- UnackedSessionTest: the upcall target server is outside, so the epproxy's
  target connection crosses the firewall.  That side was chosen because the
  epproxy opens it from inside, the direction the firewall allows anyway
  (an endpoint client inside connecting out to the gwproxy would do too,
  but needs the gwproxy's listener opened to inside), and because the
  socket whose peer stops acknowledging then belongs to tfstd, whose
  [Keepalive] UserTimeout= applies to it.  The firewall drops that flow
  while data is sent (SessionsRetransmitTimeout), or while the session is
  idle (SessionsKeepaliveDead), or refuses it from the start
  (SessionsFailedByErrno).
- ObserveTest: DataFlow against paced traffic, ListSessions by remote
  address with clients on both sides of the firewall.

Helpers for further cases on the same fixtures: start_chain(),
idle_then_exchange(), ss_tnoi(), stats(), hop_socket().

Needs root, `ip netns`, nftables with conntrack, dbus-daemon and polkitd;
skips with the reason otherwise.  Runs in under a minute.  Ports 27800-27899
(inside the test's own namespaces; the host block is only probed).
"""

import os
import re
import socket
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import (KIB, SLOW, TfstTestCase, connect, parse_ss_tnoi,  # noqa: E402
                          recv_exact, stream_chunks, wait_closed, wait_until)

import tfst_bus  # noqa: E402

import tfst_netns as fw  # noqa: E402  (the namespaces and firewall of test_firewall)

IN_ADDR, OUT_ADDR = fw.IN_ADDR, fw.OUT_ADDR
IN_ADDR2 = "10.231.1.3"  # a second address inside (a second client, or a target)
HOP_PORT = 27801
WEB_PORT = 27810  # gwproxy, outside: [Forward web] Listen=
TARGET_PORT = 27880  # the upcall target server
DOWN_PORT = 27820  # epproxy, inside: [Forward mgmt] Listen= (downcalls)
DOWN_TARGET_PORT = 27890  # the downcall target server, outside

EP_NAME = tfst_bus.bus_name("epproxy", "ep")
GW_NAME = tfst_bus.bus_name("gwproxy", "gw1")
UINT_COUNTERS = list(tfst_bus.STAT_KEYS_T)  # every counter but SessionsFailedByErrno

USER_TIMEOUT = 2.0  # [Keepalive] UserTimeout=, seconds
# PING and TCP keepalive "off": far longer than any case runs.
KA_OFF = ["PingInterval=1h", "PingTimeout=2h", "Idle=1h", f"UserTimeout={USER_TIMEOUT:g}s"]
# TCP keepalive on, well below the firewall's timeout; PING still off.
KA_ON = ["PingInterval=1h", "PingTimeout=2h", "Idle=1s", "Interval=1s", "Count=3",
         f"UserTimeout={USER_TIMEOUT:g}s"]

class NetdiagCase(tfst_bus.PrivateBusMixin, fw.FirewallTopology, TfstTestCase):
    """Namespaces + firewall per test, one private bus + polkitd per class.
    CT_TIMEOUT (seconds) sets the dmz's established-state timeout, None
    keeps the kernel's."""

    FW_HOP_PORT = HOP_PORT
    CT_TIMEOUT = None

    @classmethod
    def environment_problem(cls):
        return fw.environment_problem() or tfst_bus.environment_problem()

    def setUp(self):
        super().setUp()
        self.dbus = tfst_bus.Client(self.bus)
        self.addCleanup(self.dbus.close)
        self.setup_namespaces()
        if self.CT_TIMEOUT is not None:
            key = "net.netfilter.nf_conntrack_tcp_timeout_established"
            self.ns_run(self.ns_dmz, "sysctl", "-qw", f"{key}={self.CT_TIMEOUT}")
            got = self.ns_run(self.ns_dmz, "sysctl", "-n", key).stdout.strip()
            if got != str(self.CT_TIMEOUT):
                self.skipTest(f"{key} is not per network namespace here (reads {got})")

    # -- topology additions --

    def allow_inside_to(self, port, comment, from_outside=False):
        """Lets inside open connections to outside:port (SYN, state new),
        or outside to inside with from_outside."""
        src, dst = ("d-out", "d-in") if from_outside else ("d-in", "d-out")
        self.nft("insert", "rule", "inet", "tfstfw", "forward", "iifname", f'"{src}"', "oifname",
                 f'"{dst}"', "tcp", "dport", str(port), "tcp", "flags", "&",
                 "(fin|syn|rst|ack)", "==", "syn", "ct", "state", "new", "counter", "accept",
                 "comment", f'"{comment}"')

    def drop_flow(self, port, comment):
        """Drops both directions of every connection to port, established
        or not (rules commented "COMMENT (dport)" and "COMMENT (sport)");
        returns the rule handles."""
        handles = []
        for match in ("dport", "sport"):
            out = self.nft("-e", "-a", "insert", "rule", "inet", "tfstfw", "forward", "tcp",
                           match, str(port), "counter", "drop", "comment", f'"{comment} ({match})"')
            m = re.search(r"# handle (\d+)", out)
            self.assertIsNotNone(m, f"no rule handle in nft output: {out!r}")
            handles.append(m.group(1))
        return handles

    def invalid_drops(self):
        """Packets the firewall dropped as ct state invalid: mid-stream
        packets of connections it does not know (any more)."""
        text = self.nft("list", "chain", "inet", "tfstfw", "forward")
        m = re.search(r"ct state invalid counter packets (\d+)", text)
        self.assertIsNotNone(m, f"no ct state invalid counter in:\n{text}")
        return int(m.group(1))

    def add_address(self, ns, dev, addr):
        fw.run([fw.IP, "-n", ns, "addr", "add", f"{addr}/24", "dev", dev])

    def ss_tnoi(self, ns, port):
        """`ss -tnoi` inside ns for the TCP sockets with local or remote port
        `port`: a list of {"state", "local", "peer", "timer": (kind, seconds,
        retrans) or None, "info": the -i line}."""
        r = self.ns_run(ns, "ss", "-tnoiH", "state", "all",
                        f"( sport = :{port} or dport = :{port} )")
        return parse_ss_tnoi(r.stdout)

    def hop_socket(self):
        """The epproxy's end of the hop, as ss -tnoi shows it inside."""
        socks = [s for s in self.ss_tnoi(self.ns_in, HOP_PORT)
                 if s["state"] == "ESTAB" and s["peer"] == f"{OUT_ADDR}:{HOP_PORT}"]
        self.assertEqual(len(socks), 1, f"hop sockets inside: {socks}")
        return socks[0]

    # -- the chain --

    def configs(self, keepalive, target, child_opens=False):
        """Config texts (epproxy, gwproxy): the epproxy opens the hop to the
        gwproxy's [Parent] Listen= (outside), or with child_opens the
        gwproxy opens it to the epproxy's [Children] Listen= (inside).
        Forwards: "web" upcalls to target, "mgmt" downcalls from
        IN_ADDR:DOWN_PORT to OUT_ADDR:DOWN_TARGET_PORT."""
        reconnect = ["ReconnectMin=200ms", "ReconnectMax=1s"]
        # LogLevel=2: session resets and their errno are logged.
        ep = ["[Instance]", "Label=ep", "LogLevel=2", "", "[Children]"]
        gw = ["[Instance]", "Label=gw1", "LogLevel=2", "", "[Parent]"]
        if child_opens:
            ep += [f"Listen={IN_ADDR}:{HOP_PORT}"]
            gw += [f"Connect={IN_ADDR}:{HOP_PORT}", *reconnect]
        else:
            ep += [f"Connect={OUT_ADDR}:{HOP_PORT}", *reconnect]
            gw += [f"Listen={OUT_ADDR}:{HOP_PORT}"]
        ep += ["", "[Forward web]", f"Target={target[0]}:{target[1]}",
               "", "[Forward mgmt]", f"Listen={IN_ADDR}:{DOWN_PORT}", "Route=gw1"]
        gw += ["", "[Forward web]", f"Listen={OUT_ADDR}:{WEB_PORT}",
               "", "[Forward mgmt]", f"Target={OUT_ADDR}:{DOWN_TARGET_PORT}"]
        common = ["", "[Session]", "CloseTimeout=2s", "ConnectTimeout=3s", "", "[Keepalive]",
                  *keepalive]
        return "\n".join(ep + common) + "\n", "\n".join(gw + common) + "\n"

    def start_chain(self, keepalive, target_ns=None, target=(IN_ADDR, TARGET_PORT),
                    child_opens=False):
        """gwproxy outside, epproxy inside, the hop through the firewall
        opened by the epproxy (or by the gwproxy with child_opens: the
        caller lets it through), an upcall forward "web" (clients at
        OUT_ADDR:WEB_PORT, target `target` listening in target_ns, default
        inside) and a downcall forward "mgmt" (clients at IN_ADDR:DOWN_PORT,
        target listening outside).  Waits for the chain and both bus names;
        returns (ep, gw)."""
        self.target_lsock = fw.in_netns(target_ns or self.ns_in, self._listen, target)
        self.addCleanup(self.target_lsock.close)
        self.down_lsock = fw.in_netns(self.ns_out, self._listen, (OUT_ADDR, DOWN_TARGET_PORT))
        self.addCleanup(self.down_lsock.close)
        ep_conf, gw_conf = self.configs(keepalive, target, child_opens)
        gw = self.ns_daemon(self.ns_out, "gwproxy", "gw1", gw_conf)
        ep = self.ns_daemon(self.ns_in, "epproxy", "ep", ep_conf)
        if child_opens:
            ep.start()
            gw.start()
        else:
            gw.start()
            ep.start()
        self.ep, self.gw = ep, gw
        self.wait_up()
        for name, d in ((EP_NAME, ep), (GW_NAME, gw)):
            self.bus.wait_name(name, tfst_bus.NAME_TIMEOUT, proc=d.proc)
        return ep, gw

    def wait_up(self, timeout=10):
        self.ep.wait_chain({"ep": 0, "gw1": 1}, timeout=timeout * SLOW)
        self.gw.wait_chain({"ep": -1, "gw1": 0}, timeout=timeout * SLOW)

    @staticmethod
    def _listen(addr):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
        s.listen(64)
        return s

    def open_session(self, client_ns=None, source=None, downcall=False):
        """A client connection to the gwproxy's web listener (from
        client_ns, default outside) and the target server's end of the same
        session: (client, server).  downcall: a client inside at the
        epproxy's mgmt listener instead."""
        if downcall:
            addr, lsock, client_ns = (IN_ADDR, DOWN_PORT), self.down_lsock, self.ns_in
        else:
            addr, lsock = (OUT_ADDR, WEB_PORT), self.target_lsock
        client = fw.in_netns(client_ns or self.ns_out, connect, addr, timeout=5, source=source)
        self.addCleanup(client.close)
        lsock.settimeout(5 * SLOW)
        server, _ = lsock.accept()
        self.addCleanup(server.close)
        return client, server

    def exchange(self, client, server, n, seed, timeout=5):
        """n bytes up and n bytes down; each side must receive exactly what
        the other sent."""
        up = b"".join(stream_chunks(n, seed))
        down = b"".join(stream_chunks(n, seed + 1))
        client.sendall(up)
        server.sendall(down)
        self.assertEqual(recv_exact(server, n, timeout=timeout), up, "upward bytes differ")
        self.assertEqual(recv_exact(client, n, timeout=timeout), down, "downward bytes differ")

    def idle_then_exchange(self, client, server, idle, n=4 * KIB, seed=7, timeout=1.5):
        """Leaves the session idle for `idle` seconds, then sends n bytes
        each way at once.  Returns "ok" (both arrived byte-identical) or
        what went wrong ("up: ...", "down: ...")."""
        time.sleep(idle)
        up = b"".join(stream_chunks(n, seed))
        down = b"".join(stream_chunks(n, seed + 1))
        try:
            client.sendall(up)
            server.sendall(down)
        except OSError as e:
            return f"send: {e!r}"
        for what, sock, want in (("up", server, up), ("down", client, down)):
            try:
                got = recv_exact(sock, n, timeout=timeout)
            except (OSError, EOFError) as e:
                return f"{what}: {e!r}"
            if got != want:
                return f"{what}: bytes differ"
        return "ok"

    # -- D-Bus --

    def stats(self, name):
        return self.dbus.stats(name)[0]

    def wait_hops(self, name, prop, want, timeout=2):
        """Waits until the Parent or Children property lists (label, up,
        reconnects) == want: properties are snapshots taken at most 4 times
        a second, so they may trail GetStatistics."""
        last = []

        def check():
            nonlocal last
            last = [(h[0], h[3], h[6]) for h in self.dbus.get(name, prop)]
            return last == want

        try:
            wait_until(check, timeout * SLOW, interval=0.05, what=f"{name} {prop} == {want}")
        except AssertionError as e:
            raise AssertionError(f"{e}; last: {last}") from None


class ConntrackTimeoutTest(NetdiagCase):
    """The dmz forgets an established connection after CT_TIMEOUT s of
    silence; IDLE is comfortably longer."""

    CT_TIMEOUT = 3
    IDLE = 5.0

    def test_idle_hop_dies_without_keepalive(self):
        """PING and TCP keepalive effectively off: after IDLE s the firewall
        has forgotten the hop, data sent then is dropped as invalid, both
        sides lose the hop after UserTimeout=, the session on it is reset,
        the epproxy reconnects (HopReconnects 1 on both, SessionsReset 1,
        no retransmit/keepalive session counts) and a new session works."""
        self.start_chain(KA_OFF)
        client, server = self.open_session()
        self.exchange(client, server, 64 * KIB, 1)
        hop = self.hop_socket()
        self.assertTrue(hop["timer"] is None or hop["timer"][1] > 60,
                        f"keepalive is not off on the hop: {hop}")
        for name in (EP_NAME, GW_NAME):
            self.assertEqual(self.stats(name)["HopReconnects"], 0, name)
        invalid0 = self.invalid_drops()

        outcome = self.idle_then_exchange(client, server, self.IDLE)
        self.assertNotEqual(outcome, "ok", "the hop carried data after an idle period longer "
                                           "than the firewall's timeout")
        t_fail = time.monotonic()
        self.assertGreater(self.invalid_drops(), invalid0,
                           "the firewall did not drop the hop's packets as invalid")
        # UserTimeout= ends the hop on both sides; its session is reset at
        # both ends of the chain.
        for what, sock in (("client", client), ("server", server)):
            kind, _, _ = wait_closed(sock, USER_TIMEOUT + 3 * SLOW)
            self.assertIn(kind, ("rst", "eof"), f"{what}: session not ended after hop loss")
        t_closed = time.monotonic() - t_fail
        for d in (self.ep, self.gw):
            d.wait_log(r"lost: Connection timed out", timeout=3 * SLOW)
        self.wait_up(timeout=5)
        wait_until(lambda: self.stats(EP_NAME)["HopReconnects"] == 1
                   and self.stats(GW_NAME)["HopReconnects"] == 1, 3 * SLOW,
                   what="HopReconnects 1 on both sides")
        self.wait_hops(EP_NAME, "Children", [("gw1", True, 1)])
        self.wait_hops(GW_NAME, "Parent", [("ep", True, 1)])
        for name in (EP_NAME, GW_NAME):
            c = self.stats(name)
            self.assertEqual((c["SessionsOpened"], c["SessionsReset"]), (1, 1), f"{name}: {c}")
            self.assertEqual((c["SessionsRetransmitTimeout"], c["SessionsKeepaliveDead"]), (0, 0),
                             f"{name}: a lost hop is not a session socket timeout: {c}")
        sys.stderr.write(f"idle hop: {outcome}; sessions ended {t_closed:.1f}s later\n")

        client2, server2 = self.open_session()
        self.exchange(client2, server2, 64 * KIB, 3)

    def test_idle_hop_replaced_when_one_side_notices(self):
        """As above, but after the idle period only the target server sends:
        the epproxy loses the hop (UserTimeout=) and reconnects while the
        gwproxy, which sent nothing, still holds the forgotten connection.
        The new hop replaces the old one: the gwproxy knows the whole chain
        again, accepts clients, counts one reconnect, and a new session
        carries data."""
        self.start_chain(KA_OFF)
        client, server = self.open_session()
        self.exchange(client, server, 64 * KIB, 1)
        time.sleep(self.IDLE)
        server.sendall(b"only downward after the idle period")
        self.ep.wait_log(r"lost: Connection timed out", timeout=USER_TIMEOUT + 3)
        self.gw.wait_log(r"lost: replaced by a new parent hop", timeout=5)
        kind, _, _ = wait_closed(client, 3 * SLOW)
        self.assertIn(kind, ("rst", "eof"), "the session of the replaced hop was not ended")
        self.wait_up(timeout=5)
        wait_until(lambda: dict(self.dbus.get(GW_NAME, "Chain")) == {"ep": -1, "gw1": 0},
                   3 * SLOW, what="the gwproxy's Chain property to show ep again")
        self.wait_hops(GW_NAME, "Parent", [("ep", True, 1)])
        self.assertEqual(self.stats(GW_NAME)["HopReconnects"], 1)
        self.assertEqual(self.stats(EP_NAME)["HopReconnects"], 1)
        client2, server2 = self.open_session()
        self.exchange(client2, server2, 64 * KIB, 3)

    def test_idle_child_hop_replaced(self):
        """Roles reversed (the gwproxy opens the hop, the firewall lets it
        in): after the idle period only an endpoint client sends, so the
        gwproxy loses the hop and connects again while the epproxy still
        holds the forgotten connection to the same child.  The old hop
        fails the liveness check (its PING is lost with the firewall's
        state) and the new hop replaces it: a downcall opened then goes
        through the new hop and carries data, the epproxy lists the child up
        with one reconnect."""
        self.allow_inside_to(HOP_PORT, "hop: outside opens", from_outside=True)
        self.start_chain(KA_OFF, child_opens=True)
        client, server = self.open_session()
        self.exchange(client, server, 64 * KIB, 1)
        time.sleep(self.IDLE)
        client.sendall(b"only upward after the idle period")
        self.gw.wait_log(r"lost: Connection timed out", timeout=USER_TIMEOUT + 3)
        # The newcomer waits for the liveness check (2 s) before it is up.
        self.ep.wait_log(r"child gw1 at \S+ did not answer; the new hop from \S+ takes over",
                         timeout=5)
        self.ep.wait_log(r"lost: no answer to a PING within 2000 ms while a new hop", timeout=2)
        self.ep.wait_log(r"hop to child gw1 .* is up", timeout=5, after=1)
        kind, _, _ = wait_closed(server, 3 * SLOW)
        self.assertIn(kind, ("rst", "eof"), "the session of the replaced hop was not ended")
        self.wait_up(timeout=5)
        down_client, down_server = self.open_session(downcall=True)
        self.exchange(down_client, down_server, 64 * KIB, 3)
        self.wait_hops(EP_NAME, "Children", [("gw1", True, 1)])
        for name in (EP_NAME, GW_NAME):
            c = self.stats(name)
            self.assertEqual((c["HopReconnects"], c["SessionsReset"]), (1, 1), f"{name}: {c}")

    def test_idle_hop_survives_with_keepalive(self):
        """TCP keepalive (Idle=1s Interval=1s) below the firewall's timeout,
        PING still off: the session opened before IDLE s of silence carries
        byte-identical data after it, the hop never reconnects and the
        firewall dropped nothing as invalid."""
        self.start_chain(KA_ON)
        client, server = self.open_session()
        self.exchange(client, server, 64 * KIB, 1)
        invalid0 = self.invalid_drops()

        outcome = self.idle_then_exchange(client, server, self.IDLE)
        self.assertEqual(outcome, "ok", "the hop died although keepalive ran below the "
                                        "firewall's timeout")
        self.exchange(client, server, 256 * KIB, 5)
        # Until the last segment is acknowledged ss shows the retransmit
        # timer ("on") instead.
        hop = {}

        def keepalive_timer():
            nonlocal hop
            hop = self.hop_socket()
            return hop["timer"] is not None and hop["timer"][0] == "keepalive"

        wait_until(keepalive_timer, 2 * SLOW, what=f"a keepalive timer on the hop ({hop})")
        self.assertLessEqual(hop["timer"][1], 1.0, hop)
        self.assertEqual(self.invalid_drops(), invalid0)
        for name in (EP_NAME, GW_NAME):
            c = self.stats(name)
            self.assertEqual((c["HopReconnects"], c["SessionsReset"], c["SessionsOpened"]),
                             (0, 0, 1), f"{name}: {c}")
        self.wait_hops(EP_NAME, "Children", [("gw1", True, 0)])
        self.assertTrue(self.ep.alive() and self.gw.alive())


    # -- org.tfst.Tfst1.Keepalive on the same fixture --

    def set_keepalive(self, name, scope, **kw):
        return self.dbus.call(name, "SetSettings", "sa{sv}u", (scope, tfst_bus.sv(**kw), 0),
                              iface=tfst_bus.KEEPALIVE)[0]

    def test_keepalive_set_live_saves_idle_hop(self):
        """The hop starts with PING and TCP keepalive off (it would die, see
        test_idle_hop_dies_without_keepalive); SetSettings on the epproxy
        turns keepalive on for its hops, live: the existing hop socket (same
        ports) gets a keepalive timer within 1 s, and the session opened
        before the change carries byte-identical data after IDLE s of
        silence, without reconnect or invalid drops."""
        self.start_chain(KA_OFF)
        client, server = self.open_session()
        self.exchange(client, server, 64 * KIB, 1)
        before = self.hop_socket()
        self.assertEqual(self.set_keepalive(EP_NAME, "hops", Keepalive=True, Idle=1, Interval=1,
                                            Count=3), [])
        hop = {}

        def keepalive_timer():
            nonlocal hop
            hop = self.hop_socket()
            return hop["timer"] is not None and hop["timer"][0] == "keepalive"

        wait_until(keepalive_timer, 3 * SLOW, what=f"a keepalive timer on the hop ({hop})")
        self.assertLessEqual(hop["timer"][1], 1.0, hop)
        self.assertEqual((hop["local"], hop["peer"]), (before["local"], before["peer"]),
                         "the hop was replaced, not retuned")
        invalid0 = self.invalid_drops()
        outcome = self.idle_then_exchange(client, server, self.IDLE)
        self.assertEqual(outcome, "ok", "the live keepalive change did not keep the hop alive")
        self.assertEqual(self.invalid_drops(), invalid0)
        for name in (EP_NAME, GW_NAME):
            self.assertEqual(self.stats(name)["HopReconnects"], 0, name)

    def test_audit_agrees_with_ss(self):
        """Audit() on the epproxy (keepalive on) lists its hop and target
        connections as ss -tnoi shows them inside: same addresses and
        state, the keepalive timer armed with about the same time left,
        no retransmits, and the listener of its downcall forward."""
        self.start_chain(KA_ON)
        client, server = self.open_session()
        self.exchange(client, server, 64 * KIB, 1)
        time.sleep(0.3)  # the last segments acknowledged: keepalive timers, not retransmit
        audit = [dict(zip(("kind", "peer", "session", "local", "remote", "state",
                           "keepalive", "timer", "probes", "retransmits", "rtt", "rttvar",
                           "bytes_acked", "bytes_received"), c))
                 for c in self.dbus.call(EP_NAME, "Audit", iface=tfst_bus.KEEPALIVE)[0]]
        kinds = sorted(c["kind"] for c in audit)
        self.assertEqual(kinds, ["child", "listener", "target"], audit)
        self.assertEqual(next(c for c in audit if c["kind"] == "listener")["local"],
                         f"{IN_ADDR}:{DOWN_PORT}")
        hop = self.hop_socket()
        child = next(c for c in audit if c["kind"] == "child")
        self.assertEqual(child["peer"], "gw1")
        self.assertEqual((child["local"], child["remote"], child["state"]),
                         (hop["local"], hop["peer"], hop["state"]))
        target = next(c for c in audit if c["kind"] == "target")
        self.assertNotEqual(target["session"], 0)
        self.assertEqual(target["remote"], f"{IN_ADDR}:{TARGET_PORT}")
        self.assertEqual(target["bytes_received"], 64 * KIB)
        ss_target = [x for x in self.ss_tnoi(self.ns_in, TARGET_PORT)
                     if x["local"] == target["local"]]
        self.assertEqual(len(ss_target), 1, ss_target)
        for c, k in ((child, hop), (target, ss_target[0])):
            with self.subTest(kind=c["kind"]):
                self.assertTrue(c["keepalive"], c)
                self.assertIsNotNone(k["timer"], k)
                self.assertEqual(k["timer"][0], "keepalive", k)
                self.assertLessEqual(c["timer"], 1000)
                self.assertAlmostEqual(c["timer"] / 1000, k["timer"][1], delta=1.0)
                self.assertEqual(c["retransmits"], 0)
                self.assertGreater(c["rtt"], 0)


class UnackedSessionTest(NetdiagCase):
    """The upcall target is outside: the epproxy's target connection
    crosses the firewall."""

    def test_retransmit_timeout_counted_and_cleared(self):
        """While the client streams data, the firewall starts dropping the
        epproxy's target connection: the epproxy's session ends about
        UserTimeout= later, SessionsRetransmitTimeout goes up by exactly one
        and SessionsKeepaliveDead stays put (TCP keepalive is on, but does
        not probe with data in flight); the gwproxy counts the reset.
        ClearStatistics sets every counter to 0 and the clear time to now."""
        self.allow_inside_to(TARGET_PORT, "ep opens target")
        self.start_chain(KA_ON, target_ns=self.ns_out, target=(OUT_ADDR, TARGET_PORT))
        client, server = self.open_session()
        self.exchange(client, server, 64 * KIB, 1)
        before = {n: self.stats(n) for n in (EP_NAME, GW_NAME)}

        received = [0]
        send_error = []

        def drain():
            server.settimeout(30)
            try:
                while server.recv(256 * KIB):
                    received[0] += 1
            except OSError:
                pass

        def send():
            client.settimeout(10 * SLOW)
            chunk = b"x" * (16 * KIB)
            try:
                while True:
                    client.sendall(chunk)
            except OSError as e:
                send_error.append(e)

        threads = [threading.Thread(target=f, daemon=True) for f in (drain, send)]
        for t in threads:
            t.start()
        wait_until(lambda: received[0] > 10, 3 * SLOW, what="data flowing to the target")
        handles = self.drop_flow(TARGET_PORT, "test: cut target")
        t_cut = time.monotonic()
        self.addCleanup(lambda: [self.ns_run(self.ns_dmz, fw.NFT, "delete", "rule", "inet",
                                             "tfstfw", "forward", "handle", h, check=False)
                                 for h in handles])
        wait_until(lambda: not self.dbus.sessions(EP_NAME), USER_TIMEOUT + 3 * SLOW,
                   interval=0.05, what="the epproxy to end the session")
        t_gone = time.monotonic() - t_cut
        threads[1].join(5 * SLOW)
        self.assertTrue(send_error, "the client never saw the session end")
        sys.stderr.write(f"session ended {t_gone:.2f}s after the cut (UserTimeout="
                         f"{USER_TIMEOUT:g}s); client: {send_error[0]!r}\n")
        self.assertGreaterEqual(t_gone, 0.75 * USER_TIMEOUT,
                                "the session ended before TCP_USER_TIMEOUT could have fired")
        self.assertGreater(self.nft_counter("test: cut target (dport)"), 0,
                           "the epproxy's retransmissions did not hit the drop rule")
        self.ep.wait_log(r"session rs=\d+ reset: Connection timed out", timeout=2)

        after = {n: self.stats(n) for n in (EP_NAME, GW_NAME)}
        ep0, ep1 = before[EP_NAME], after[EP_NAME]
        self.assertEqual(ep1["SessionsRetransmitTimeout"], ep0["SessionsRetransmitTimeout"] + 1,
                         ep1)
        self.assertEqual(ep1["SessionsKeepaliveDead"], ep0["SessionsKeepaliveDead"], ep1)
        self.assertEqual(ep1["SessionsReset"], ep0["SessionsReset"], ep1)
        gw0, gw1 = before[GW_NAME], after[GW_NAME]
        self.assertEqual(gw1["SessionsReset"], gw0["SessionsReset"] + 1, gw1)
        self.assertEqual(gw1["SessionsRetransmitTimeout"], gw0["SessionsRetransmitTimeout"], gw1)
        # The hop was not touched.
        self.assertEqual((ep1["HopReconnects"], gw1["HopReconnects"]), (0, 0))

        # ClearStatistics: everything back to zero, clear time now.
        self.assertGreater(ep1["SessionsOpened"], 0)
        self.assertGreater(ep1["UpcallBytesToTarget"], 0)
        t0 = tfst_bus.now_us()
        self.dbus.call(EP_NAME, "ClearStatistics")
        t1 = tfst_bus.now_us()
        counters, cleared = self.dbus.stats(EP_NAME)
        self.assertTrue(t0 <= cleared <= t1, (t0, cleared, t1))
        self.assertEqual({k: counters[k] for k in UINT_COUNTERS},
                         {k: 0 for k in UINT_COUNTERS})
        self.assertEqual(counters["SessionsFailedByErrno"], {})
        # The gwproxy's counters are its own.
        self.assertEqual(self.stats(GW_NAME)["SessionsReset"], gw1["SessionsReset"])

    def test_failed_by_errno(self):
        """The firewall refuses the epproxy's target connection in three
        ways, one session each: a TCP reset (ECONNREFUSED), an ICMP host
        unreachable (EHOSTUNREACH) and silence (ETIMEDOUT after
        ConnectTimeout=).  Both instances count 3 failed sessions, by those
        errno names, and none opened; each client is reset."""
        self.start_chain(KA_ON, target_ns=self.ns_out, target=(OUT_ADDR, TARGET_PORT))
        verdicts = (("reject with tcp reset", "ECONNREFUSED"),
                    ("reject with icmpx type host-unreachable", "EHOSTUNREACH"),
                    ("drop", "ETIMEDOUT"))
        for verdict, name in verdicts:
            out = self.nft("-e", "-a", "insert", "rule", "inet", "tfstfw", "forward", "iifname",
                           '"d-in"', "tcp", "dport", str(TARGET_PORT), *verdict.split())
            handle = re.search(r"# handle (\d+)", out).group(1)
            try:
                client = fw.in_netns(self.ns_out, connect, (OUT_ADDR, WEB_PORT), timeout=5)
            except ConnectionResetError:
                # Accepted and reset before connect() returned: an ICMP
                # error fails the session within microseconds.
                kind, waited = "rst", 0.0
            else:
                self.addCleanup(client.close)
                kind, waited, _ = wait_closed(client, 6 * SLOW)
            self.nft("delete", "rule", "inet", "tfstfw", "forward", "handle", handle)
            self.assertEqual(kind, "rst", f"{verdict}: the client was not reset")
            sys.stderr.write(f"{verdict}: client reset after {waited:.1f}s\n")
        for inst in (EP_NAME, GW_NAME):
            with self.subTest(instance=inst):
                wait_until(lambda: self.stats(inst)["SessionsFailed"] == 3, 2 * SLOW,
                           what=f"{inst}: SessionsFailed 3")
                c = self.stats(inst)
                self.assertEqual(c["SessionsFailedByErrno"], {n: 1 for _, n in verdicts}, c)
                self.assertEqual((c["SessionsOpened"], c["SessionsReset"]), (0, 0), c)

    def test_keepalive_dead_counted(self):
        """The counterpart: the firewall drops the target connection while
        the session is idle, so only keepalive probes go unanswered; the
        session ends within Idle= + UserTimeout= and counts as
        SessionsKeepaliveDead, not SessionsRetransmitTimeout."""
        self.allow_inside_to(TARGET_PORT, "ep opens target")
        self.start_chain(KA_ON, target_ns=self.ns_out, target=(OUT_ADDR, TARGET_PORT))
        client, server = self.open_session()
        self.exchange(client, server, 64 * KIB, 1)
        before = self.stats(EP_NAME)
        handles = self.drop_flow(TARGET_PORT, "test: cut target")
        t_cut = time.monotonic()
        self.addCleanup(lambda: [self.ns_run(self.ns_dmz, fw.NFT, "delete", "rule", "inet",
                                             "tfstfw", "forward", "handle", h, check=False)
                                 for h in handles])
        wait_until(lambda: not self.dbus.sessions(EP_NAME), 1 + USER_TIMEOUT + 3 * SLOW,
                   interval=0.05, what="the epproxy to end the idle session")
        sys.stderr.write(f"idle session ended {time.monotonic() - t_cut:.2f}s after the cut\n")
        kind, _, _ = wait_closed(client, 3 * SLOW)
        self.assertIn(kind, ("rst", "eof"))
        self.assertGreater(self.nft_counter("test: cut target (dport)"), 0,
                           "no keepalive probe hit the drop rule")
        after = self.stats(EP_NAME)
        self.assertEqual(
            [after[k] - before[k] for k in ("SessionsKeepaliveDead", "SessionsRetransmitTimeout",
                                            "SessionsReset")], [1, 0, 0], after)


class Pacer:
    """Sends `rate` bytes a second on sock in chunks of `chunk` bytes on an
    absolute schedule, recording (time after send, bytes so far); a second
    thread drains what the other side sends."""

    def __init__(self, sock, rate, chunk):
        self.sock = sock
        self.rate = rate
        self.chunk = chunk
        self.records = [(time.monotonic(), 0)]
        self.stop = threading.Event()
        self.error = None
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._drain, daemon=True)]
        for t in self.threads:
            t.start()

    def _send(self):
        data = b"p" * self.chunk
        period = self.chunk / self.rate
        t_next = time.monotonic()
        total = 0
        try:
            while not self.stop.is_set():
                self.sock.sendall(data)
                total += self.chunk
                self.records.append((time.monotonic(), total))
                t_next += period
                time.sleep(max(0.0, t_next - time.monotonic()))
        except OSError as e:
            self.error = e

    def _drain(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                if not self.sock.recv(256 * KIB):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def pushed(self, t0, t1):
        """Bytes sent in the interval (t0, t1]."""
        def at(t):
            n = 0
            for ts, total in self.records:
                if ts > t:
                    break
                n = total
            return n
        return max(0, at(t1) - at(t0))

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(2)


class ObserveTest(NetdiagCase):
    # How long pushed bytes may take to reach the counter: NEAR for the
    # instance reading the socket the test writes to (a wake-up of the
    # daemon), FAR for the other one (the first instance, the hop and this
    # one, under sanitizers on two shared cores too).
    NEAR, FAR = 0.02, 0.2

    @staticmethod
    def flow_bounds(pacers, t_call, t_reply, latency):
        """DataFlow's interval [a, e] has e - a >= 1 s inside [t_call,
        t_reply], so it covers [t_reply - 1, t_call + 1] and lies within
        [t_call, t_reply]: the bytes the pacers pushed in those intervals,
        shifted by what may still be on its way (latency), bound the
        measurement, plus one chunk per pacer for a chunk the daemon read in
        two parts.  Returns (low, high)."""
        low = sum(p.pushed(t_reply - 1.0, t_call + 1.0 - latency) - p.chunk for p in pacers)
        high = sum(p.pushed(t_call - latency, t_reply) + p.chunk for p in pacers)
        return max(low, 0), high

    def data_flow(self, name, target, out):
        t_call = time.monotonic()
        try:
            sent, received = self.dbus.call(name, "DataFlow", "su", (target, 1), timeout=10)
        except tfst_bus.DBusCallError as e:
            out[(name, target)] = e
            return
        out[(name, target)] = (sent, received, t_call, time.monotonic())

    def test_data_flow_matches_paced_traffic(self):
        """Two sessions with paced traffic both ways (A: 200/100 KB/s up/down,
        B: 120/60 KB/s).  DataFlow over 1 s for session A and for the whole
        instance, at the gwproxy and at the epproxy, all four called at the
        same time, report the bytes pushed in that second: sent (toward the
        target) what the clients pushed, received what the servers pushed,
        between the bytes pushed in every interval the daemon could have
        measured (flow_bounds).  Where the test writes next to the instance
        (clients at the gwproxy, servers at the epproxy) that is within
        about 3 % of rate x 1 s, across the hop within about 20 %; every
        value is also within 10 % of the nominal rate."""
        self.start_chain(KA_ON)
        a_client, a_server = self.open_session()
        b_client, b_server = self.open_session()
        self.exchange(a_client, a_server, 1000, 1)
        self.exchange(b_client, b_server, 1000, 3)
        a_addr = "%s:%d" % a_client.getsockname()
        a_ids = {name: next(x["id"] for x in self.dbus.sessions(name) if x["client"] == a_addr)
                 for name in (GW_NAME, EP_NAME)}

        plan = {"a_up": (a_client, 200_000, 2000), "a_down": (a_server, 100_000, 1000),
                "b_up": (b_client, 120_000, 1200), "b_down": (b_server, 60_000, 600)}
        pacers = {k: Pacer(sock, rate, chunk) for k, (sock, rate, chunk) in plan.items()}
        for p in pacers.values():
            self.addCleanup(p.close)
        time.sleep(0.5)  # steady state
        out = {}
        calls = [threading.Thread(target=self.data_flow, args=(name, target, out))
                 for name in (GW_NAME, EP_NAME) for target in (str(a_ids[name]), "")]
        for t in calls:
            t.start()
        for t in calls:
            t.join(10)
        time.sleep(self.FAR)
        for p in pacers.values():
            self.assertIsNone(p.error, f"pacer failed: {p.error!r}")
        ups = {"a": [pacers["a_up"]], "all": [pacers["a_up"], pacers["b_up"]]}
        downs = {"a": [pacers["a_down"]], "all": [pacers["a_down"], pacers["b_down"]]}
        for name in (GW_NAME, EP_NAME):
            at_gw = name == GW_NAME
            for target, which in ((str(a_ids[name]), "a"), ("", "all")):
                with self.subTest(instance=name, target=target or "instance"):
                    r = out.get((name, target))
                    self.assertIsInstance(r, tuple, f"DataFlow failed: {r!r}")
                    sent, received, t_call, t_reply = r
                    self.assertGreaterEqual(t_reply - t_call, 1.0, "DataFlow replied early")
                    for what, got, ps, latency in (
                            ("sent", sent, ups[which], self.NEAR if at_gw else self.FAR),
                            ("received", received, downs[which],
                             self.FAR if at_gw else self.NEAR)):
                        low, high = self.flow_bounds(ps, t_call, t_reply, latency)
                        nominal = sum(p.rate for p in ps)
                        sys.stderr.write(f"DataFlow {name} {target or 'instance'} {what}: "
                                         f"{got} (pushed: {low}..{high}, nominal {nominal}; "
                                         f"call {t_reply - t_call:.3f}s)\n")
                        self.assertTrue(low <= got <= high,
                                        f"{what} {got} outside {low}..{high} (nominal "
                                        f"{nominal})")
                        self.assertLess(abs(got - nominal), 0.1 * nominal,
                                        f"{what} {got}: the pacing was off")

    def test_list_sessions_by_remote(self):
        """Clients from two addresses outside (2 sessions from OUT_ADDR, 1
        from a second address) and one from inside through the firewall:
        ListSessions(remote=X) on the gwproxy and the epproxy returns
        exactly the sessions of X; remote= the target address matches every
        session at the epproxy and none at the gwproxy (which does not see
        the target); an address without sessions gives []."""
        self.add_address(self.ns_in, "i0", IN_ADDR2)
        self.allow_inside_to(WEB_PORT, "inside client")
        out2 = "10.231.2.3"
        self.add_address(self.ns_out, "o0", out2)
        self.start_chain(KA_ON, target=(IN_ADDR2, TARGET_PORT))
        by_addr = {OUT_ADDR: [], out2: [], IN_ADDR: []}
        for ns, src in ((self.ns_out, OUT_ADDR), (self.ns_out, OUT_ADDR), (self.ns_out, out2),
                        (self.ns_in, IN_ADDR)):
            client, server = self.open_session(ns, source=src)
            self.exchange(client, server, 100, 9)
            by_addr[src].append("%s:%d" % client.getsockname())
        wait_until(lambda: len(self.dbus.sessions(EP_NAME)) == 4, 3 * SLOW,
                   what="4 sessions at the epproxy")
        for name in (GW_NAME, EP_NAME):
            for addr, clients in by_addr.items():
                with self.subTest(instance=name, remote=addr):
                    got = self.dbus.sessions(name, tfst_bus.sv(remote=addr))
                    self.assertEqual(sorted(x["client"] for x in got), sorted(clients), got)
        self.assertEqual(self.dbus.sessions(GW_NAME, tfst_bus.sv(remote=IN_ADDR2)), [])
        self.assertEqual(len(self.dbus.sessions(EP_NAME, tfst_bus.sv(remote=IN_ADDR2))), 4)
        self.assertEqual(self.dbus.sessions(EP_NAME, tfst_bus.sv(remote="10.231.2.99")), [])
        # Combined with another key: all must match.
        self.assertEqual(len(self.dbus.sessions(GW_NAME, tfst_bus.sv(remote=OUT_ADDR,
                                                                 direction="upcall"))), 2)
        self.assertEqual(self.dbus.sessions(GW_NAME, tfst_bus.sv(remote=OUT_ADDR,
                                                            direction="downcall")), [])


if __name__ == "__main__":
    unittest.main()
