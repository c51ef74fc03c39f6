# SPDX-License-Identifier: GPL-2.0-or-later
"""tfst hops through a real stateful firewall.

Three network namespaces per test: "inside" (secure zone: epproxy and the
gateway targets), "dmz" (a router running an nftables forward firewall that
lets only inside open connections toward outside on the hop port) and
"outside" (gwproxy and the endpoint clients).  The cases show that a chain
whose root opens the hop works across such a unidirectional firewall, that
the reversed roles never get through, and that PING liveness notices a
firewall that starts dropping an established hop and the chain recovers.

Needs root, `ip netns` and nftables with conntrack; skips (with the reason)
otherwise.  Every namespace, veth and process is removed at cleanup, also
when a case fails.
"""

import os
import re
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import (MIB, SLOW, TfstTestCase, connect, echo_roundtrip,  # noqa: E402
                          stream_sha, wait_closed, xfer, xfer_handler)

from tfst_netns import (HOP_PORT, IN_ADDR, NFT, OUT_ADDR, FirewallTopology,  # noqa: E402
                        environment_problem, in_netns)

# Ports (each namespace has its own stack, so they cannot collide with
# other work on the machine); the addresses are tfst_netns's.
UP_LISTEN_PORT = 24010  # gwproxy, outside: endpoint clients connect here
UP_TARGET_PORT = 24080  # gateway target server, inside
DOWN_LISTEN_PORT = 24081  # epproxy, inside: the gateway connects here
DOWN_TARGET_PORT = 24090  # endpoint server, outside

XFER_N = 2 * MIB


class FirewallTest(FirewallTopology, TfstTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = environment_problem()
        if why:
            print(f"SKIP test_firewall: {why}", file=sys.stderr, flush=True)
            raise unittest.SkipTest(why)

    def setUp(self):
        super().setUp()
        self.setup_namespaces()

    # -- the chain of these cases --

    def configs(self, secure_opens=True, keepalive=""):
        """Config texts (epproxy, gwproxy).  secure_opens: the epproxy
        (inside) opens the hop to the gwproxy's [Parent] Listen= (outside);
        otherwise the gwproxy opens it toward the epproxy's [Children]
        Listen=."""
        ep = ["[Instance]", "Label=ep", "", "[Children]"]
        gw = ["[Instance]", "Label=gw1", "", "[Parent]"]
        if secure_opens:
            ep += [f"Connect={OUT_ADDR}:{HOP_PORT}", "ReconnectMin=200ms", "ReconnectMax=1s"]
            gw += [f"Listen={OUT_ADDR}:{HOP_PORT}"]
        else:
            ep += [f"Listen={IN_ADDR}:{HOP_PORT}"]
            gw += [f"Connect={IN_ADDR}:{HOP_PORT}", "ReconnectMin=200ms", "ReconnectMax=1s"]
        ep += ["", "[Forward web]", f"Target={IN_ADDR}:{UP_TARGET_PORT}",
               "", "[Forward mgmt]", f"Listen={IN_ADDR}:{DOWN_LISTEN_PORT}", "Route=gw1"]
        gw += ["", "[Forward web]", f"Listen={OUT_ADDR}:{UP_LISTEN_PORT}",
               "", "[Forward mgmt]", f"Target={OUT_ADDR}:{DOWN_TARGET_PORT}"]
        common = ["", "[Session]", "CloseTimeout=2s", "ConnectTimeout=3s"]
        if keepalive:
            common += ["", "[Keepalive]"] + keepalive.split()
        return "\n".join(ep + common) + "\n", "\n".join(gw + common) + "\n"

    def start_chain(self, secure_opens=True, keepalive=""):
        ep_conf, gw_conf = self.configs(secure_opens, keepalive)
        gw = self.ns_daemon(self.ns_out, "gwproxy", "gw1", gw_conf)
        ep = self.ns_daemon(self.ns_in, "epproxy", "ep", ep_conf)
        gw.start()
        ep.start()
        return ep, gw

    def wait_up(self, ep, gw, timeout=10):
        ep.wait_chain({"ep": 0, "gw1": 1}, timeout=timeout * SLOW)
        gw.wait_chain({"ep": -1, "gw1": 0}, timeout=timeout * SLOW)

    def check_xfer(self, ns, addr, srv, tag, seed):
        """One xfer_handler exchange started in ns; both directions must
        arrive byte-identical."""
        sha, n, _ = in_netns(ns, xfer, addr, tag, XFER_N, XFER_N, seed, seed + 1, timeout=20)
        self.assertEqual((n, sha), (XFER_N, stream_sha(XFER_N, seed + 1)),
                         f"{tag}: data toward the client differs")
        r = srv.result(20 * SLOW)
        self.assertNotIn("error", r, f"{tag}: server failed: {r}")
        self.assertEqual((r["tag"], r["n"], r["sha"]), (tag, XFER_N, stream_sha(XFER_N, seed)),
                         f"{tag}: data toward the server differs")

    def assert_blocked(self, ns, addr, what, timeout=1.5):
        """A plain TCP connect from ns to addr (where something listens) must
        time out: the SYN is dropped, neither accepted nor refused."""

        def attempt():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                try:
                    s.connect(addr)
                except TimeoutError:
                    return "timeout"
                except OSError as e:
                    return f"error: {e!r}"
                return "connected"

        outcome = in_netns(ns, attempt)
        self.assertEqual(outcome, "timeout", f"{what}: connect to {addr} gave {outcome}")

    # -- cases --

    def test_unidirectional_hop(self):
        """The epproxy opens the hop from inside to the waiting gwproxy; an
        upcall and a downcall carry data byte-identically; the firewall
        still blocks connections opened from outside."""
        up_srv = self.ns_server(self.ns_in, xfer_handler, (IN_ADDR, UP_TARGET_PORT))
        down_srv = self.ns_server(self.ns_out, xfer_handler, (OUT_ADDR, DOWN_TARGET_PORT))
        ep, gw = self.start_chain(secure_opens=True)
        self.wait_up(ep, gw)
        self.assertGreater(self.nft_counter("hop: inside opens"), 0,
                           "the hop did not pass the firewall's NEW rule")

        # Upcall: endpoint client outside -> gwproxy -> hop -> epproxy ->
        # gateway target inside.
        self.check_xfer(self.ns_out, (OUT_ADDR, UP_LISTEN_PORT), up_srv, "up", 11)
        # Downcall: gateway inside -> epproxy -> hop -> gwproxy -> endpoint
        # server outside.
        self.check_xfer(self.ns_in, (IN_ADDR, DOWN_LISTEN_PORT), down_srv, "down", 21)

        # The firewall is real: outside cannot open anything inside, not
        # even the target server that is listening there.
        dropped0 = self.nft_counter("policy drop")
        self.assert_blocked(self.ns_out, (IN_ADDR, UP_TARGET_PORT), "outside -> inside")
        self.assertGreater(self.nft_counter("policy drop"), dropped0,
                           "the blocked SYN did not hit the firewall's drop policy")
        self.assertTrue(ep.alive() and gw.alive())

    def test_wrong_direction_blocked(self):
        """Roles reversed: the gwproxy (outside) would have to open the hop
        toward the epproxy's Listen= inside; the firewall drops it, the
        gwproxy keeps retrying and stays alive."""
        # UserTimeout bounds each dropped SYN_SENT attempt (TCP_USER_TIMEOUT
        # covers SYN retransmits), so retries show well within the window
        # instead of after the 10 s handshake deadline.
        ep, gw = self.start_chain(secure_opens=False, keepalive="UserTimeout=1500ms")
        dropped0 = self.nft_counter("policy drop")
        t0 = time.monotonic()
        retry_re = re.compile(r"cannot open hop|closed before handshake")
        deadline = t0 + 5.5 * SLOW
        while time.monotonic() < deadline:
            self.assertTrue(gw.alive(), f"gwproxy died\n{gw.log_tail()}")
            self.assertTrue(ep.alive(), f"epproxy died\n{ep.log_tail()}")
            self.assertNotIn("gw1", ep.chain() or {},
                             f"the hop came up through the firewall\n{ep.log_tail()}")
            self.assertNotIn("ep", gw.chain() or {},
                             f"the hop came up through the firewall\n{gw.log_tail()}")
            time.sleep(0.1)
        retries = [line for line in gw.log().splitlines() if retry_re.search(line)]
        sys.stderr.write(f"{len(retries)} failed hop attempts in {deadline - t0:.1f}s\n")
        self.assertGreaterEqual(len(retries), 2,
                                f"gwproxy does not keep retrying within {deadline - t0:.1f}s\n"
                                f"{gw.log_tail()}")
        self.assertNotIn("TELL command received", ep.log(), "epproxy saw a handshake")
        self.assertGreater(self.nft_counter("policy drop"), dropped0,
                           "the gwproxy's SYNs did not hit the firewall's drop policy")
        self.assertTrue(gw.alive() and ep.alive())

    def test_firewall_kills_hop_ping_detects(self):
        """Once the firewall starts dropping the established hop, PING
        liveness finds it on both sides, in-flight sessions are reset, and
        the hop comes back when the firewall lets it through again."""
        self.ns_echo_server(self.ns_in, (IN_ADDR, UP_TARGET_PORT))
        ep, gw = self.start_chain(secure_opens=True,
                                  keepalive="PingInterval=1s PingTimeout=3s")
        self.wait_up(ep, gw)
        client = in_netns(self.ns_out, connect, (OUT_ADDR, UP_LISTEN_PORT), timeout=10)
        self.addCleanup(client.close)
        self.assertTrue(echo_roundtrip(client, b"before the firewall closes\n"))
        ep_off, gw_off = len(ep.log()), len(gw.log())

        handles = []
        for match in ("dport", "sport"):
            out = self.nft("-e", "-a", "insert", "rule", "inet", "tfstfw", "forward", "tcp",
                           match, str(HOP_PORT), "counter", "drop", "comment", '"test: cut hop"')
            m = re.search(r"# handle (\d+)", out)
            self.assertIsNotNone(m, f"no rule handle in nft output: {out!r}")
            handles.append(m.group(1))
        t_cut = time.monotonic()

        def delete_rules():
            while handles:
                self.ns_run(self.ns_dmz, NFT, "delete", "rule", "inet", "tfstfw", "forward",
                            "handle", handles.pop(), check=False)

        self.addCleanup(delete_rules)
        client.sendall(b"in flight while the hop is cut\n")

        lost_re = re.compile(r"lost:.*no PONG")
        for d, off in ((ep, ep_off), (gw, gw_off)):
            try:
                m = None
                while m is None:
                    m = lost_re.search(d.log_since(off))
                    if m is None:
                        if time.monotonic() - t_cut > 6.5 * SLOW:
                            raise AssertionError("timeout")
                        self.assertTrue(d.alive(), f"{d} died\n{d.log_tail()}")
                        time.sleep(0.05)
            except AssertionError:
                raise AssertionError(f"{d}: no 'lost: ... no PONG' within "
                                     f"{6.5 * SLOW:.1f}s of the cut\n{d.log_tail()}")
        t_lost = time.monotonic() - t_cut
        sys.stderr.write(f"hop loss seen on both sides {t_lost:.1f}s after the cut\n")

        kind, _, _ = wait_closed(client, 3 * SLOW)
        self.assertIn(kind, ("rst", "eof"),
                      f"in-flight session not ended {t_lost:.1f}s after the cut")
        sys.stderr.write(f"in-flight client saw {kind}\n")
        client.close()

        # Open the firewall again: the epproxy's reconnect gets through and
        # the chain is known again on both sides.
        ep_off, gw_off = len(ep.log()), len(gw.log())
        delete_rules()
        t_open = time.monotonic()
        for d, off, want in ((ep, ep_off, "chain known: ep@0 gw1@1"),
                             (gw, gw_off, "chain known: ep@-1 gw1@0")):
            while want not in d.log_since(off):
                if time.monotonic() - t_open > 15 * SLOW:
                    raise AssertionError(f"{d}: no '{want}' within {15 * SLOW:.0f}s of "
                                         f"reopening the firewall\n{d.log_tail()}")
                self.assertTrue(d.alive(), f"{d} died\n{d.log_tail()}")
                time.sleep(0.05)
        sys.stderr.write(f"chain known again {time.monotonic() - t_open:.1f}s after reopening\n")
        self.wait_up(ep, gw, timeout=5)

        # A new session works end to end.
        c2 = in_netns(self.ns_out, connect, (OUT_ADDR, UP_LISTEN_PORT), timeout=10)
        self.addCleanup(c2.close)
        payload = os.urandom(256 * 1024)
        self.assertTrue(echo_roundtrip(c2, payload, timeout=10), "new session after recovery")
        self.assertTrue(ep.alive() and gw.alive())


if __name__ == "__main__":
    unittest.main()
