# SPDX-License-Identifier: GPL-2.0-or-later
"""Redundant parents (issue 14): a gwproxy with [Parent] Connect=relayA
relayB keeps both hops up, sends new sessions to the active one and
switches at once when it fails (failover), back after FailbackDelay=
(failback); running sessions never move.

Under sustained traffic, kill -9 of the active relay resets only its own
sessions, every new session succeeds (the gap is printed) and a restart
brings new sessions back to it; a frozen relay is found by the PING
deadline and comes back as standby; with two endpoint proxies, upcalls
and downcalls go on through the other chain; start order does not
matter; a parent that refuses the TLS handshake, one that announces
another label than Connect=LABEL@ADDRESS pins, one that has this
instance's own label and one that has it above it are each shown as down
while the other parent carries the traffic; a gwproxy that listens for
its parents takes MaxParents= of them; fds and CLOSE_WAIT are back to
their baseline after every fault; config errors exit 78 naming the file,
line and key; upcalls through a restarted relay are taken even when it
is failed back to at once."""

import os
import re
import socket
import time
import unittest

from tfst_testlib import (SLOW, Flow, Hammer, TfstTestCase, Topology, connect, echo_roundtrip,
                          make_ident_handler, recv_line, recv_until_eof, stream_sha, wait_until,
                          xfer, xfer_handler)
from tfst_testlib.pki import CERTTOOL, Pki, tls_section

PING = "[Keepalive]\nPingInterval=300ms\nPingTimeout=1s\n"
FAILOVER = r"failover: new sessions go to parent {to} \(127\.0\.0\.1:\d+\) instead of {frm}: "
FAILBACK = (r"failback: new sessions go to parent {to} \(127\.0\.0\.1:\d+\) instead of {frm}: "
            r"it is preferred and has been up for \d+ ms \(FailbackDelay=\)")
# Counted before a restart, waited for after it (wait_log's after=); not
# the line of a parent that takes over for the first time.
FAILBACK_TO_A = FAILBACK.format(to="relayA", frm="relayB")


def parents_up(up, total, active):
    return rf"^{up} of {total} parents up \(active {active}\), "


class RedundancyTest(TfstTestCase):
    # -- topologies --

    def redundant(self, failback="2s", gw_extra="", ep_target=None, downcall=False):
        """ep -> {relayA, relayB} -> gw1 (Connect=relayA relayB), an upcall
        forward 'web' to an echo server (or ep_target), with downcall a
        forward 'mgmt' from ep to another echo server.  Not yet created."""
        self.echo = self.echo_server()
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("relay", "relayA", parent="ep")
        top.add("relay", "relayB", parent="ep")
        top.add("gwproxy", "gw1", parents=["relayA", "relayB"],
                extra=f"[Parent]\nFailbackDelay={failback}\n{gw_extra}")
        top.forward("ep", "web", target=ep_target or self.echo.addr)
        top.forward("gw1", "web", listen=True)
        if downcall:
            self.mgmt = self.echo_server()
            top.forward("ep", "mgmt", listen=True)
            top.forward("gw1", "mgmt", target=self.mgmt.addr)
        return top

    def two_chains(self):
        """epA -> relayA and epB -> relayB, both above gw1; an upcall 'web'
        to each epproxy's own server, a downcall 'mgmt' from epB only."""
        self.up = {ep: self.server(make_ident_handler(f"server-{ep}")) for ep in ("epA", "epB")}
        self.down = self.server(make_ident_handler("gw1-mgmt"))
        top = Topology(self)
        top.add("epproxy", "epA")
        top.add("epproxy", "epB")
        top.add("relay", "relayA", parent="epA")
        top.add("relay", "relayB", parent="epB")
        top.add("gwproxy", "gw1", parents=["relayA", "relayB"],
                extra="[Parent]\nFailbackDelay=0\n")
        for ep in ("epA", "epB"):
            top.forward(ep, "web", target=self.up[ep].addr)
        top.forward("gw1", "web", listen=True)
        top.forward("epB", "mgmt", listen=True)
        top.forward("gw1", "mgmt", target=self.down.addr)
        return top.create()

    # -- helpers --

    def flows(self, top, n, seed):
        return [Flow(top.listen_addr("gw1", "web"), seed + i).start() for i in range(n)]

    def wait_sessions(self, top, counts):
        """Each relay's STATUS= shows its session count (refreshed once a
        second): which relay carries the running sessions."""
        def now():
            return {label: top.d(label).sessions() for label in counts}
        try:
            self.wait_until(lambda: now() == counts, 10, "relay session counts")
        except AssertionError:
            raise AssertionError(f"relay session counts {now()} != {counts}")

    def wait_until(self, pred, timeout, what):
        return wait_until(pred, timeout * SLOW, interval=0.1, what=what)

    def assert_flows(self, flows, outcome, what):
        got = [f.stop() if outcome == "ok" else f.outcome for f in flows]
        self.assertEqual(got, [outcome] * len(flows), f"{what}: {flows}")

    def wait_flows_ended(self, flows, timeout=5):
        self.wait_until(lambda: all(f.ended() for f in flows), timeout,
                        f"the flows to end: {flows}")

    def reaches(self, addr, name):
        """A session to addr lands at the server named name and echoes."""
        s = connect(addr)
        try:
            self.assertEqual(recv_line(s), name, f"session to {addr}")
            self.assertTrue(echo_roundtrip(s, b"ping\n"))
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s, timeout=10), b"")
        finally:
            s.close()

    def make_b_active(self, top):
        """relayB active, relayA up as standby (FailbackDelay=never): relayA
        must have failed once, since a preferred parent that never could
        take sessions before takes over at once."""
        top.start()
        gw, relay_a = top.d("gw1"), top.d("relayA")
        gw.wait_status(parents_up(2, 2, "relayA"))
        relay_a.stop()
        gw.wait_status(parents_up(1, 2, "relayB"))
        relay_a.start()

    # -- failover and failback under traffic --

    def test_kill_and_restart_active_parent(self):
        top = self.redundant(failback="2s").create()
        top.start()
        top.wait_converged()
        top.d("gw1").wait_status(parents_up(2, 2, "relayA"))
        baseline = top.fd_baseline()
        flows_b, flows_a = self.flows_on_both(top)
        self.kill_under_hammer(top, flows_a, flows_b)
        self.restart_and_fail_back(top, flows_b)
        top.wait_fd_baseline(baseline, what="after kill -9 and restart of relayA")

    def flows_on_both(self, top):
        """8 flows on relayB (started while relayA is stopped: they must
        never notice what follows), then 8 on relayA after the failback."""
        gw, relay_a = top.d("gw1"), top.d("relayA")
        relay_a.stop()
        gw.wait_status(parents_up(1, 2, "relayB"))
        flows_b = self.flows(top, 8, 100)
        failbacks = gw.count_log(FAILBACK_TO_A)
        relay_a.start()
        gw.wait_log(FAILBACK_TO_A, after=failbacks)
        flows_a = self.flows(top, 8, 200)
        self.wait_sessions(top, {"relayA": 8, "relayB": 8})
        return flows_b, flows_a

    def kill_under_hammer(self, top, flows_a, flows_b):
        """kill -9 of relayA while new sessions keep coming: relayA's are
        reset, relayB's go on, and not one new session fails."""
        hammer = Hammer(top.listen_addr("gw1", "web")).start()
        self.addCleanup(hammer.stop)
        self.wait_until(lambda: hammer.count() >= 20, 10, "sessions before the kill")
        top.d("relayA").kill()
        # From here every new session must succeed (one begun before could
        # still have got its OPEN_OK through relayA).
        killed = time.monotonic()
        rounds_b = [f.rounds for f in flows_b]
        top.d("gw1").wait_log(FAILOVER.format(to="relayB", frm="relayA") +
                              "(ECONNRESET|EPIPE): ", timeout=5)
        self.wait_flows_ended(flows_a)
        self.wait_until(lambda: len(hammer.since(killed)) >= 50, 20, "sessions after the kill")
        after = hammer.stop().since(killed)
        failed = [a for a in after if not a[2]]
        gap = hammer.gap(killed)
        self.assertIsNotNone(gap, f"no new session succeeded after the kill: {after[:5]}")
        print(f"\nkill -9 of the active parent: first new session done {gap * 1000:.0f} ms "
              f"after the kill; {len(after)} new sessions, {len(failed)} failed; "
              f"{len(hammer.attempts) - len(after)} before", flush=True)
        self.assertEqual(len(failed), 0, f"new sessions failed across the kill: {failed[:3]}")
        self.assert_flows(flows_a, "rst", "sessions through the killed relayA")
        self.assertEqual([f.outcome for f in flows_b], [None] * 8, f"relayB's flows: {flows_b}")
        self.wait_until(lambda: all(f.rounds > r for f, r in zip(flows_b, rounds_b)), 5,
                        f"relayB's flows to go on after the kill: {flows_b}")

    def restart_and_fail_back(self, top, flows_b):
        """relayA back: after FailbackDelay= (2s) new sessions go to it
        again, and relayB's flows end intact."""
        gw = top.d("gw1")
        failbacks = gw.count_log(FAILBACK_TO_A)
        up_since = time.monotonic()
        top.d("relayA").start()
        gw.wait_log(FAILBACK_TO_A, after=failbacks)
        self.assertGreaterEqual(time.monotonic() - up_since, 2.0, "failback before FailbackDelay=")
        flows_a2 = self.flows(top, 4, 300)
        self.wait_sessions(top, {"relayA": 4, "relayB": 8})
        self.assert_flows(flows_b + flows_a2, "ok", "sessions across the failback")

    def test_frozen_parent_fails_over_and_comes_back_standby(self):
        """SIGSTOP of the active relayB (FailbackDelay=never keeps it active
        with relayA up): failover after the PING deadline, and after SIGCONT
        relayB is standby."""
        top = self.redundant(failback="never", gw_extra=PING).create()
        gw, relay_b = top.d("gw1"), top.d("relayB")
        self.make_b_active(top)
        top.wait_converged()
        gw.wait_status(parents_up(2, 2, "relayB"))
        baseline = top.fd_baseline()
        on_b = self.flows(top, 2, 400)
        self.wait_sessions(top, {"relayA": 0, "relayB": 2})

        frozen = time.monotonic()
        relay_b.freeze()
        # Opened on the frozen relayB: no OPEN_OK, so it is opened again on
        # relayA when relayB's hop is given up.
        held = Flow(top.listen_addr("gw1", "web"), 450).start(wait=False)
        gw.wait_log(FAILOVER.format(to="relayA", frm="relayB"), timeout=10)
        took = time.monotonic() - frozen
        print(f"\nSIGSTOP of the active parent: failover after {took * 1000:.0f} ms "
              f"(PingInterval=300ms, PingTimeout=1s)", flush=True)
        self.assertGreaterEqual(took, 0.9, "failover before the PING deadline")
        self.assertLess(took, 4 * SLOW, "failover long after the PING deadline")
        self.wait_flows_ended(on_b)
        held.wait_open()
        on_a = self.flows(top, 2, 500)
        self.assertEqual([f.outcome for f in on_b], ["rst"] * 2, f"flows on relayB: {on_b}")

        relay_b.thaw()
        gw.wait_log(r"hop to parent relayB \(127\.0\.0\.1:\d+\) is up", after=1)
        gw.wait_status(parents_up(2, 2, "relayA"))
        self.wait_sessions(top, {"relayA": 3, "relayB": 0})
        self.assert_flows(on_a + [held], "ok", "sessions on relayA after the failover")
        top.wait_fd_baseline(baseline, what="after SIGSTOP/SIGCONT of relayB")

    # -- FailbackDelay=0 and the TELL naming the new child --

    def test_failback_at_once_while_tell_trails(self):
        """relayA restarts and sends its first TELL to ep before gw1 has
        joined it; gw1 fails back to relayA at once (FailbackDelay=0).  The
        TELL naming gw1 must reach ep before gw1's first upcalls through
        relayA: when it trailed by the announcement interval (1 s), ep
        refused them ("refused claim in OPEN from child relayA: gw1: ORIGIN
        is in the subtree of another child", relayB had announced gw1
        first) and new sessions failed.  Repeated, since gw1 can reach
        relayA before that first TELL."""
        top = self.redundant(failback="0")
        # gw1 comes back to relayA up to 500 ms after relayA's parent hop.
        top.reconnect = ("500ms", "500ms")
        gw, relay_a = top.create().d("gw1"), top.d("relayA")
        top.start()
        top.wait_converged()
        gw.wait_status(parents_up(2, 2, "relayA"))
        hammer = Hammer(top.listen_addr("gw1", "web")).start()
        self.addCleanup(hammer.stop)
        failed = []
        for _ in range(3):
            relay_a.stop()
            gw.wait_status(parents_up(1, 2, "relayB"))
            failbacks = gw.count_log(FAILBACK_TO_A)
            began = time.monotonic()
            relay_a.start()
            gw.wait_log(FAILBACK_TO_A, after=failbacks)
            # Past the announcement interval: relayA's TELL has gw1 by now.
            self.wait_until(lambda: time.monotonic() - began > 1.5, 5, "1.5 s")
            failed = [a for a in hammer.since(began) if not a[2]]
            if failed:
                break
        self.assertEqual(len(failed), 0, f"new sessions failed after a failback: {failed[:3]}")
        self.assertEqual(top.d("ep").count_log(r"refused claim in OPEN"), 0,
                         top.d("ep").log_tail())

    # -- parents that open the hop (Listen= with MaxParents=) --

    def test_listen_side_max_parents(self):
        """gw1 listens for its parents (MaxParents=2); relayA, relayB and
        relayC connect: the third is refused while two are up, and takes
        the place relayA leaves when it is killed."""
        self.echo = self.echo_server()
        top = Topology(self)
        top.add("epproxy", "ep")
        for r in ("relayA", "relayB", "relayC"):
            top.add("relay", r, parent="ep", open_children=True)
        top.add("gwproxy", "gw1", parents=["relayA", "relayB", "relayC"],
                extra="[Parent]\nMaxParents=2\nFailbackDelay=0\n")
        top.forward("ep", "web", target=self.echo.addr)
        top.forward("gw1", "web", listen=True)
        gw = top.create().d("gw1")
        self.assertIn("MaxParents=2", gw.config_text)
        top.start(order=["ep", "relayA", "gw1"])
        gw.wait_status(r"^1 of 2 parents up \(active relayA\)")
        top.start(order=["relayB"])
        gw.wait_status(parents_up(2, 2, "relayA"))
        # Taken before relayC runs: in the end relayC's hop replaces
        # relayA's, and each of gw1, ep and relayB has as many fds again.
        baseline = top.fd_baseline()
        top.start(order=["relayC"])
        gw.wait_log(r"protocol error from parent relayC .*: parent relayC would be parent "
                    r"number 3, more than MaxParents=2")
        flows = self.flows(top, 2, 700)
        self.wait_sessions(top, {"relayA": 2, "relayB": 0, "relayC": 0})

        top.d("relayA").kill()
        gw.wait_log(FAILOVER.format(to="relayB", frm="relayA"), timeout=5)
        self.wait_flows_ended(flows)
        self.assertEqual([f.outcome for f in flows], ["rst"] * 2, f"flows on relayA: {flows}")
        gw.wait_log(r"hop to parent relayC \(127\.0\.0\.1:\d+\) is up")
        gw.wait_status(parents_up(2, 2, "relayB"))
        flows = self.flows(top, 2, 800)
        self.wait_sessions(top, {"relayB": 2, "relayC": 0})
        self.assert_flows(flows, "ok", "sessions after relayA was killed")
        top.wait_fd_baseline(baseline, what="after kill -9 of relayA")

    # -- two chains --

    def test_two_chains_survive_an_endpoint_proxy(self):
        top = self.two_chains()
        gw = top.d("gw1")
        web, mgmt = top.listen_addr("gw1", "web"), top.listen_addr("epB", "mgmt")
        top.start()
        top.wait_converged()
        gw.wait_status(parents_up(2, 2, "relayA"))
        baseline = top.fd_baseline()  # before any session, which may linger a moment
        self.reaches(web, "server-epA")
        self.reaches(mgmt, "gw1-mgmt")  # through the standby parent

        top.d("epA").kill()
        gw.wait_log(FAILOVER.format(to="relayB", frm="relayA"), timeout=10)
        self.reaches(web, "server-epB")
        self.reaches(mgmt, "gw1-mgmt")
        gw.wait_chain({"gw1": 0, "relayA": -1, "relayB": -1, "epB": -2})

        top.d("epA").start()
        gw.wait_log(FAILBACK.format(to="relayA", frm="relayB"), timeout=10)
        top.wait_converged()
        self.reaches(web, "server-epA")
        self.reaches(mgmt, "gw1-mgmt")
        top.wait_fd_baseline(baseline, what="after kill -9 and restart of epA")

    # -- start order --

    def check_start_order(self, order):
        top = self.redundant(failback="0", downcall=True)
        top.start(order=order, delay=0.3)
        top.wait_converged()
        top.d("gw1").wait_status(parents_up(2, 2, "relayA"))
        for addr in (top.listen_addr("gw1", "web"), top.listen_addr("ep", "mgmt")):
            s = connect(addr)
            try:
                self.assertTrue(echo_roundtrip(s, b"order " + " ".join(order).encode()))
            finally:
                s.close()

    def test_start_gw_first(self):
        self.check_start_order(["gw1", "relayA", "relayB", "ep"])

    def test_start_ep_first(self):
        # relayB before relayA: ep may learn gw1 through relayB first, and
        # must take upcalls through the preferred relayA all the same.
        self.check_start_order(["ep", "relayB", "relayA", "gw1"])

    # -- parents that cannot be used --

    @unittest.skipIf(CERTTOOL is None, "certtool not installed (Debian package gnutls-bin)")
    def test_parent_refusing_tls_is_down(self):
        """relayA accepts only gw9 below it: gw1's hop to it fails in the
        handshake, relayB carries the traffic."""
        pki = Pki(os.path.join(self.workdir, "pki"))
        srv = self.server(xfer_handler)
        top = self.redundant(failback="0", ep_target=srv.addr)
        for n in top.order:
            cert, key = pki.issue(n.label, [n.label])
            sections = (["Parent"] if n.parents else []) + \
                (["Children"] if n.role != "gwproxy" else [])
            n.extra += "".join(f"\n[{sec}]\n" + tls_section(cert, key, pki.ca) for sec in sections)
            if n.label == "relayA":
                n.extra += "PeerLabel=gw9\n"
        top.start()
        gw = top.d("gw1")
        gw.wait_log(r"TLS hop to parent at 127\.0\.0\.1:%d refused: TLS alert from the peer"
                    % top.node("relayA").children_port)
        top.d("relayA").wait_log(r"TLS hop to child .* refused: TLS: the peer's certificate "
                                 r"names label gw1, not one PeerLabel= accepts \(gw9\)")
        gw.wait_status(parents_up(1, 2, "relayB"))
        top.wait_converged(down=("relayA",), labels=("gw1", "relayB"))
        baseline = top.fd_baseline(settle=1.5)  # gw1 keeps retrying relayA
        self.xfer_ok(top.listen_addr("gw1", "web"), srv)
        self.wait_sessions(top, {"relayA": 0, "relayB": 0})
        top.wait_fd_baseline(baseline, what="after traffic with relayA refusing",
                             close_wait_grace=2)

    def xfer_ok(self, addr, srv, size=256 * 1024):
        for i in range(4):
            sha, n, _ = xfer(addr, f"t{i}", size, size, 10 + i, 20 + i)
            self.assertEqual((n, sha), (size, stream_sha(size, 20 + i)))
            res = srv.result()
            self.assertEqual((res["n"], res["sha"]), (size, stream_sha(size, 10 + i)))

    def test_parent_with_own_label_or_loop_is_refused(self):
        """gw1's first parent is another component labelled gw1, its second
        a relay below that one (gw1 would be above itself); the third,
        relayB, carries the traffic."""
        self.echo = self.echo_server()
        rogue = Topology(self)
        rogue.add("epproxy", "gw1", instance="rogue")
        rogue.add("relay", "relayX", parent="gw1")
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("relay", "relayB", parent="ep")
        gw1 = top.add("gwproxy", "gw1", parents=["relayB"], extra="[Parent]\nFailbackDelay=0\n")
        gw1.parents = [rogue.node("gw1"), rogue.node("relayX"), top.node("relayB")]
        for p in gw1.parents[:2]:
            p.children.append(gw1)
        top.forward("ep", "web", target=self.echo.addr)
        top.forward("gw1", "web", listen=True)
        rogue.start()
        top.start()
        gw = top.d("gw1")
        # Refused at its HELLO, before the hop has a label ("?").
        gw.wait_log(r"protocol error from parent \S+ \(127\.0\.0\.1:%d\): peer announces this "
                    r"instance's own label gw1; resetting hop" % rogue.node("gw1").children_port)
        gw.wait_log(r"parent relayX \(127\.0\.0\.1:%d\) announces this instance's own label "
                    r"gw1 above it: a loop" % rogue.node("relayX").children_port)
        gw.wait_status(parents_up(1, 3, "relayB"))
        top.wait_converged(labels=("ep", "relayB"))
        gw.wait_chain({"gw1": 0, "relayB": -1, "ep": -2})
        baseline = top.fd_baseline(settle=1.5)  # gw1 keeps retrying both
        flows = self.flows(top, 4, 600)
        self.wait_sessions(top, {"relayB": 4})
        self.assert_flows(flows, "ok", "sessions through relayB")
        top.wait_fd_baseline(baseline, what="with two refused parents retried",
                             close_wait_grace=2)

    def test_pinned_label_mismatch_is_down(self):
        """Connect=LABEL@ADDRESS: relayA's address pinned to a label it does
        not announce is refused at the HELLO; relayB, pinned right, carries
        the traffic."""
        top = self.redundant(failback="0").create()
        gw = top.d("gw1")
        a, b = (top.node(r).children_port for r in ("relayA", "relayB"))
        pinned = gw.config_text.replace(f"Connect=127.0.0.1:{a} 127.0.0.1:{b}\n",
                                        f"Connect=relayX@127.0.0.1:{a} relayB@127.0.0.1:{b}\n")
        self.assertNotEqual(pinned, gw.config_text)
        with open(gw.config_path, "w") as f:
            f.write(pinned)
        top.start()
        gw.wait_log(r"protocol error from parent \S+ \(127\.0\.0\.1:%d\): peer announces label "
                    r"relayA, but Connect= names relayX@127\.0\.0\.1:%d" % (a, a))
        gw.wait_status(parents_up(1, 2, "relayB"))
        top.wait_converged(labels=("ep", "relayB"))
        baseline = top.fd_baseline(settle=1.5)  # gw1 keeps retrying relayA
        flows = self.flows(top, 2, 900)
        self.wait_sessions(top, {"relayA": 0, "relayB": 2})
        self.assert_flows(flows, "ok", "sessions through relayB")
        top.wait_fd_baseline(baseline, what="with relayA refused", close_wait_grace=2)

    # -- configuration errors --

    def test_config_errors_exit_78(self):
        port1, port2 = self.port(), self.port()
        cases = (
            ("Connect", f"Connect=127.0.0.1:{port1} 127.0.0.1:{port2} 127.0.0.1:{port1}",
             r"listed twice"),
            ("MaxParents", f"Listen=127.0.0.1:{port1}\nMaxParents=0", r"range 1-64"),
            ("FailbackDelay", f"Connect=127.0.0.1:{port1}\nFailbackDelay=garbage", r"garbage"),
        )
        for key, parent, reason in cases:
            with self.subTest(key=key):
                d = self.daemon("gwproxy", f"bad-{key}",
                                f"[Instance]\nLabel=gw1\n\n[Parent]\n{parent}\n")
                d.start(wait=False)
                d.returncode = d.proc.wait(15 * SLOW)
                self.assertEqual(d.returncode, 78, d.log())
                line = 5 + parent.count("\n")
                self.assertRegex(d.log(), re.escape(f"{d.config_path}:{line}") + r".*" +
                                 re.escape(f"{key}=") + r".*" + reason)


if __name__ == "__main__":
    unittest.main()
