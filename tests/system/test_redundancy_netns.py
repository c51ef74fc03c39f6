# SPDX-License-Identifier: GPL-2.0-or-later
"""Redundant parents (issue 14) across a real firewall: a parent that goes
silent because the cable to it is cut is declared dead by the PING
deadline, new sessions fail over to the standby parent, and come back
after FailbackDelay= once the cable is mended.

Namespaces (tfst_netns.FirewallTopology, plus one DMZ subnet per relay):

    inside  10.231.1.2   epproxy "ep", echo target
    relayA  10.231.3.2   relay "relayA" (DMZ)
    relayB  10.231.4.2   relay "relayB" (DMZ)
    outside 10.231.2.2   gwproxy "gw1" ([Parent] Connect=relayA relayB),
                         the clients

and the firewall namespace routing between them with nftables.  The cut
is a pair of `drop` rules there between the gwproxy and relayA: no RST,
no ICMP, the established hop simply hears nothing more, as with a cut
cable or a frozen host.  A client keeps opening short sessions while
long ones, hash-checked, run through each relay.

Needs root, `ip netns` and nftables with conntrack; skips (with the reason)
otherwise.  Every namespace, veth and process is removed at cleanup, also
when the case fails.
"""

import os
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, TfstTestCase, wait_until  # noqa: E402
from tfst_testlib.flows import Flow, Hammer  # noqa: E402

from tfst_netns import (IN_ADDR, OUT_ADDR, FirewallTopology, environment_problem,  # noqa: E402
                        in_netns)

# Fixed ports: each namespace has its own stack, so they cannot collide with
# other work on the machine (as in test_firewall.py).
CHILD_PORT = 24001  # a relay's [Children] Listen=: the gwproxy connects here
PARENT_PORT = 24002  # a relay's [Parent] Listen=: the epproxy connects here
WEB_PORT = 24010  # the gwproxy's forward "web", outside
ECHO_PORT = 24080  # the echo target, inside

PING_INTERVAL, PING_TIMEOUT, FAILBACK_DELAY = 0.3, 1.0, 2.0
FAILOVER = r"failover: new sessions go to parent {to} \({addr}:{port}\) instead of {frm}: "
FAILBACK = (r"failback: new sessions go to parent {to} \({addr}:{port}\) instead of {frm}: "
            rf"it is preferred and has been up for {FAILBACK_DELAY * 1000:.0f} ms "
            r"\(FailbackDelay=\)")
HOP_UP = r"hop to parent {label} \({addr}:{port}\) is up"


def wait_status(d, prefix, timeout=20):
    """Waits until d's STATUS= starts with prefix (refreshed at most once
    a second)."""
    d.wait_status("^" + re.escape(prefix), timeout * SLOW)


class RedundancyNetnsTest(FirewallTopology, TfstTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = environment_problem()
        if why:
            print(f"SKIP test_redundancy_netns: {why}", file=sys.stderr, flush=True)
            raise unittest.SkipTest(why)

    def setUp(self):
        super().setUp()
        self.setup_namespaces()
        self.ns_a, self.addr_a = self.add_dmz_host("relayA", 3, (CHILD_PORT, PARENT_PORT))
        self.ns_b, self.addr_b = self.add_dmz_host("relayB", 4, (CHILD_PORT, PARENT_PORT))
        self.web = (OUT_ADDR, WEB_PORT)

    # -- the chain --

    def configs(self):
        """{label: (namespace, role, config)}: ep (inside) opens its hops to
        both relays, gw1 (outside) to both relays, relayA preferred; PING
        liveness tuned on gw1 only (the relays keep the defaults)."""
        common = "\n[Session]\nConnectTimeout=3s\nCloseTimeout=2s\n"
        reconnect = "ReconnectMin=200ms\nReconnectMax=1s\n"
        ep = (f"[Instance]\nLabel=ep\n\n[Children]\n"
              f"Connect={self.addr_a}:{PARENT_PORT} {self.addr_b}:{PARENT_PORT}\n{reconnect}"
              f"\n[Forward web]\nTarget={IN_ADDR}:{ECHO_PORT}\n")
        gw = (f"[Instance]\nLabel=gw1\n\n[Parent]\n"
              f"Connect={self.addr_a}:{CHILD_PORT} {self.addr_b}:{CHILD_PORT}\n{reconnect}"
              f"FailbackDelay={FAILBACK_DELAY:g}s\n"
              f"\n[Keepalive]\nPingInterval={PING_INTERVAL * 1000:.0f}ms\n"
              f"PingTimeout={PING_TIMEOUT:g}s\n"
              f"\n[Forward web]\nListen={OUT_ADDR}:{WEB_PORT}\n")
        out = {"ep": (self.ns_in, "epproxy", ep + common)}
        for label, ns, addr in (("relayA", self.ns_a, self.addr_a),
                                ("relayB", self.ns_b, self.addr_b)):
            out[label] = (ns, "relay", f"[Instance]\nLabel={label}\n\n[Parent]\n"
                          f"Listen={addr}:{PARENT_PORT}\n\n[Children]\n"
                          f"Listen={addr}:{CHILD_PORT}\n" + common)
        out["gw1"] = (self.ns_out, "gwproxy", gw + common)
        return out

    def start_chain(self):
        """Starts the four daemons and waits until every hop is up and
        relayA active; returns {label: daemon}."""
        d = {label: self.ns_daemon(ns, role, label, conf)
             for label, (ns, role, conf) in self.configs().items()}
        for daemon in d.values():
            daemon.start()
        self.wait_all_up(d)
        return d

    def wait_all_up(self, d):
        wait_status(d["ep"], "2 of 2 children up, ")
        for relay in ("relayA", "relayB"):
            wait_status(d[relay], "1 of 1 child up, parent up (ep), ")
        wait_status(d["gw1"], "2 of 2 parents up (active relayA), ")

    # -- helpers --

    def flows(self, n, seed):
        return [in_netns(self.ns_out, Flow(self.web, seed + i, period=0.02).start) for i in range(n)]

    def wait_relay_sessions(self, d, counts):
        """Each relay's STATUS= shows its session count: which relay
        carries the running sessions."""
        def now():
            return {label: d[label].sessions() for label in counts}

        try:
            wait_until(lambda: now() == counts, 10 * SLOW, interval=0.1)
        except AssertionError:
            raise AssertionError(f"relay session counts {now()} != {counts}") from None

    def next_line(self, d, regex):
        """A function waiting (up to timeout) for the next line of d that
        matches regex, from now on; it returns the monotonic time the line
        was seen."""
        after = d.count_log(regex)

        def wait(timeout):
            d.wait_log(regex, timeout=timeout, after=after)
            return time.monotonic()

        return wait

    def failover_re(self, why=""):
        return FAILOVER.format(to="relayB", frm="relayA", addr=re.escape(self.addr_b),
                               port=CHILD_PORT) + why

    def failback_re(self):
        return FAILBACK.format(to="relayA", frm="relayB", addr=re.escape(self.addr_a),
                               port=CHILD_PORT)

    def stable_fd_count(self, d):
        """d's fd count once three readings 0.2 s apart agree."""
        seen = []

        def settled():
            seen.append(d.fd_count())
            return len(seen) >= 3 and len(set(seen[-3:])) == 1

        wait_until(settled, 10 * SLOW, interval=0.2, what=f"{d}'s fd count to settle: {seen}")
        return seen[-1]

    def assert_no_close_wait(self, d, ns):
        """No socket of d in namespace ns stays in CLOSE_WAIT (the peer
        closed, d never did)."""
        def close_wait():
            return [x for x in self.ns_sockets(ns, d.pid) if x["state"] == "CLOSE-WAIT"]

        # ss sees the daemon's sockets from there (its listeners at least):
        # an empty answer would prove nothing.
        self.assertTrue(self.ns_sockets(ns, d.pid), f"ss in {ns} shows no socket of {d}")
        try:
            wait_until(lambda: not close_wait(), 5 * SLOW, interval=0.2)
        except AssertionError:
            raise AssertionError(f"{d} keeps CLOSE_WAIT sockets: {close_wait()}") from None

    # -- the case --

    def test_cable_cut_fails_over_by_ping_and_back(self):
        """The cable between gw1 and its active parent relayA is cut by
        nft drop rules: gw1 declares relayA dead by the PING deadline and
        fails over to relayB, every new session begun after the failover
        line succeeds, relayB's sessions go on byte-exact.  The cable
        mended, relayA's hop comes back and after FailbackDelay= new
        sessions go to relayA again.  At the end gw1's fds are back to
        their baseline and no daemon keeps a CLOSE_WAIT socket."""
        self.echo = self.ns_echo_server(self.ns_in, (IN_ADDR, ECHO_PORT))
        d = self.start_chain()
        gw = d["gw1"]
        baseline = self.stable_fd_count(gw)
        on_b, on_a = self.sessions_on_each_path(d)
        self.cut_and_fail_over(d, on_a, on_b)
        self.mend_and_fail_back(d, on_b)
        gw.wait_fd_count(baseline, what="after the cut, the failover and the failback")
        for label, ns in (("gw1", self.ns_out), ("relayA", self.ns_a), ("relayB", self.ns_b),
                          ("ep", self.ns_in)):
            self.assert_no_close_wait(d[label], ns)
        for daemon in d.values():
            self.assertTrue(daemon.alive(), f"{daemon} died\n{daemon.log_tail()}")

    def sessions_on_each_path(self, d):
        """Long sessions through relayB (while relayA is stopped for a
        moment: a failover by FIN, a failback after FailbackDelay=), then
        through relayA.  Returns (flows on relayB, flows on relayA)."""
        gw, relay_a = d["gw1"], d["relayA"]
        failover = self.next_line(gw, self.failover_re())
        relay_a.stop()
        failover(10)
        on_b = self.flows(3, 100)
        failback = self.next_line(gw, self.failback_re())
        relay_a.start()
        failback(15)
        on_a = self.flows(3, 200)
        self.wait_relay_sessions(d, {"relayA": 3, "relayB": 3})
        return on_b, on_a

    def cut_and_fail_over(self, d, on_a, on_b):
        """Step 1: the cut, the failover by the PING deadline, new sessions
        all on relayB."""
        gw = d["gw1"]
        hammer = in_netns(self.ns_out, Hammer(self.web, threads=3).start)
        self.addCleanup(hammer.stop)
        wait_until(lambda: len(hammer.since(0)) >= 20, 10 * SLOW, what="sessions before the cut")
        failover = self.next_line(gw, self.failover_re(
            rf"ETIMEDOUT: no PONG within {PING_TIMEOUT * 1000:.0f} ms"))
        self.mend = self.cut_between(OUT_ADDR, self.addr_a, "test: cable to relayA cut")
        cut = time.monotonic()
        rounds_b = [f.rounds for f in on_b]
        seen = failover(10)
        detect = seen - cut
        print(f"\ncable cut: failover seen {detect * 1000:.0f} ms after the cut "
              f"(PingInterval={PING_INTERVAL * 1000:.0f}ms PingTimeout="
              f"{PING_TIMEOUT * 1000:.0f}ms)", flush=True)
        # A PING sent just before the cut is the earliest that can miss its
        # PONG: failover before PingTimeout= less a margin is not the
        # deadline's doing.
        self.assertGreater(detect, PING_TIMEOUT / 2, "failover before the PING deadline")
        self.assertLess(detect, PING_INTERVAL + PING_TIMEOUT + 5 * SLOW, "failover late")
        self.assertGreater(self.nft_counter("test: cable to relayA cut"), 0,
                           "the cut rules dropped nothing")
        self.hammer_all_ok(hammer, seen, 30, "after the failover line")
        self.assert_flows_ended(on_a, "sessions through the cut relayA")
        self.assert_flows_going(on_b, rounds_b, "relayB's sessions after the cut")
        self.hammer, self.failover_seen = hammer, seen

    def mend_and_fail_back(self, d, on_b):
        """Step 2: the cable mended, relayA's hop back, failback after
        FailbackDelay=, relayB's sessions untouched; then every flow ends
        cleanly and byte-exact."""
        gw, hammer = d["gw1"], self.hammer
        hop_up = self.next_line(gw, HOP_UP.format(label="relayA", addr=re.escape(self.addr_a),
                                                  port=CHILD_PORT))
        failback = self.next_line(gw, self.failback_re())
        self.mend()
        mended = time.monotonic()
        up, seen = hop_up(20), failback(20)
        print(f"cable mended: relayA's hop up again {(up - mended) * 1000:.0f} ms later, "
              f"failback {(seen - up) * 1000:.0f} ms after that "
              f"(FailbackDelay={FAILBACK_DELAY * 1000:.0f}ms)", flush=True)
        # Both times are when the test saw the lines: the hop's may be seen
        # late, hence the margin.
        self.assertGreaterEqual(seen - up, FAILBACK_DELAY - 0.5, "failback before FailbackDelay=")
        self.hammer_all_ok(hammer, seen, 30, "after the failback line")
        hammer.stop()
        self.hammer_all_ok(hammer, self.failover_seen, 0, "after the failover line")
        before = [a for a in hammer.since(0) if a[0] < self.failover_seen]
        failed = [a[3] for a in before if not a[2]]
        print(f"short sessions: {len(hammer.since(self.failover_seen))} begun after the failover "
              f"line, all fine; {len(before)} before it, {len(failed)} of them failed "
              f"{failed[:3]}", flush=True)
        rounds_b = [f.rounds for f in on_b]
        on_a2 = self.flows(2, 300)
        self.wait_relay_sessions(d, {"relayA": 2, "relayB": 3})
        self.assert_flows_going(on_b, rounds_b, "relayB's sessions after the failback")
        got = [f.stop() for f in on_b + on_a2]
        self.assertEqual(got, ["ok"] * len(got), f"sessions across the failback: {on_b + on_a2}")

    def hammer_all_ok(self, hammer, since, n, what):
        """Waits until n short sessions begun after `since` have ended;
        each of them must have succeeded."""
        wait_until(lambda: len(hammer.since(since)) >= n, 20 * SLOW, interval=0.1,
                   what=f"{n} sessions {what}")
        failed = [a for a in hammer.since(since) if not a[2]]
        self.assertEqual(failed, [], f"new sessions {what} failed")

    def assert_flows_ended(self, flows, what):
        """The flows end (reset or EOF), none hangs."""
        try:
            wait_until(lambda: all(f.outcome is not None for f in flows), 10 * SLOW)
        except AssertionError:
            raise AssertionError(f"{what} still running: {flows}") from None
        for f in flows:
            self.assertIn(f.outcome, ("rst", "eof"), f"{what}: {f}")

    def assert_flows_going(self, flows, rounds, what):
        """The flows are still running and have moved on since `rounds`."""
        try:
            wait_until(lambda: all(f.rounds > r + 5 for f, r in zip(flows, rounds)), 10 * SLOW)
        except AssertionError:
            raise AssertionError(f"{what} stalled: {flows}") from None
        self.assertEqual([f.outcome for f in flows], [None] * len(flows), f"{what}: {flows}")


if __name__ == "__main__":
    unittest.main()
