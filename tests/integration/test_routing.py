# SPDX-License-Identifier: GPL-2.0-or-later
"""Downcall routing with two gateway proxies under one endpoint proxy: by
Route= and by the unique owner of a forward name."""

import socket
import unittest

from tfst_testlib import (SLOW, TfstTestCase, Topology, connect, echo_roundtrip,
                          make_ident_handler, probe_refused, recv_line, recv_until_eof, ss_sockets,
                          wait_until)


class RoutingTest(TfstTestCase):
    def ident_servers(self):
        self.srv = {"gw1": self.server(make_ident_handler("server-gw1")),
                    "gw2": self.server(make_ident_handler("server-gw2"))}

    def assert_reaches(self, addr, name, rounds=3):
        """Every connection to addr must land at the server named name and
        carry data both ways."""
        for i in range(rounds):
            s = connect(addr)
            try:
                self.assertEqual(recv_line(s), name, f"connection {i} to {addr}")
                self.assertTrue(echo_roundtrip(s, b"ping %d\n" % i))
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_until_eof(s, timeout=10), b"")
            finally:
                s.close()

    def test_route_by_label(self):
        """ep -> relay -> {gw1, gw2}; both gwproxies serve the same forward
        names, so only Route= can pick."""
        self.ident_servers()
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("relay", "relay1", parent="ep")
        top.add("gwproxy", "gw1", parent="relay1")
        top.add("gwproxy", "gw2", parent="relay1")
        top.forward("ep", "to1", listen=True, route="gw1")
        top.forward("ep", "to2", listen=True, route="gw2")
        for gw in ("gw1", "gw2"):
            top.forward(gw, "to1", target=self.srv[gw].addr)
            top.forward(gw, "to2", target=self.srv[gw].addr)
        top.start()
        top.wait_converged()
        self.assertEqual(top.d("ep").chain(), {"ep": 0, "relay1": 1, "gw1": 2, "gw2": 2})
        self.assert_reaches(top.listen_addr("ep", "to1"), "server-gw1")
        self.assert_reaches(top.listen_addr("ep", "to2"), "server-gw2")
        # Interleaved, to catch a router that just remembers the last choice.
        self.assert_reaches(top.listen_addr("ep", "to1"), "server-gw1", rounds=1)
        self.assert_reaches(top.listen_addr("ep", "to2"), "server-gw2", rounds=1)

    def test_route_by_unique_owner(self):
        """ep -> {gw1, gw2} directly; no Route=, each gwproxy is the only
        one with its forward name."""
        self.ident_servers()
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("gwproxy", "gw1", parent="ep")
        top.add("gwproxy", "gw2", parent="ep")
        top.forward("ep", "only1", listen=True)
        top.forward("ep", "only2", listen=True)
        top.forward("gw1", "only1", target=self.srv["gw1"].addr)
        top.forward("gw2", "only2", target=self.srv["gw2"].addr)
        top.start()
        top.wait_converged()
        self.assertEqual(top.d("ep").chain(), {"ep": 0, "gw1": 1, "gw2": 1})
        self.assert_reaches(top.listen_addr("ep", "only1"), "server-gw1")
        self.assert_reaches(top.listen_addr("ep", "only2"), "server-gw2")
        self.assert_reaches(top.listen_addr("ep", "only1"), "server-gw1", rounds=1)

    def test_route_by_unique_owner_via_relay(self):
        """Same as above with a relay between: the owner is learned from TELL
        across two hops."""
        self.ident_servers()
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("relay", "relay1", parent="ep")
        top.add("gwproxy", "gw1", parent="relay1")
        top.add("gwproxy", "gw2", parent="relay1")
        top.forward("ep", "only1", listen=True)
        top.forward("ep", "only2", listen=True)
        top.forward("gw1", "only1", target=self.srv["gw1"].addr)
        top.forward("gw2", "only2", target=self.srv["gw2"].addr)
        top.start()
        top.wait_converged()
        self.assert_reaches(top.listen_addr("ep", "only2"), "server-gw2")
        self.assert_reaches(top.listen_addr("ep", "only1"), "server-gw1")

    def two_gw_tree(self, gw1_kw=None, gw2_kw=None):
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("relay", "relay1", parent="ep")
        top.add("gwproxy", "gw1", parent="relay1", **(gw1_kw or {}))
        top.add("gwproxy", "gw2", parent="relay1", **(gw2_kw or {}))
        return top

    def test_route_by_networks(self):
        """Destination= at the epproxy picks the gwproxy whose Networks=
        covers it; both gwproxies serve both forward names."""
        self.ident_servers()
        top = self.two_gw_tree({"networks": "127.0.0.2/32"}, {"networks": "10.9.0.0/16 127.0.0.3"})
        top.forward("ep", "call2", listen=True, extra="Destination=127.0.0.2:9495")
        top.forward("ep", "call3", listen=True, extra="Destination=127.0.0.3:9495")
        for gw in ("gw1", "gw2"):
            top.forward(gw, "call2", target=self.srv[gw].addr)
            top.forward(gw, "call3", target=self.srv[gw].addr)
        top.start()
        top.wait_converged()
        self.assert_reaches(top.listen_addr("ep", "call2"), "server-gw1")
        self.assert_reaches(top.listen_addr("ep", "call3"), "server-gw2")

    def test_same_networks_standby(self):
        """Two gwproxies announcing the same network (a pair behind a VRRP
        address, docs/redundancy.md): the relay keeps the first claim,
        logs the second as refused, and hands the network to the second
        once the first is gone, so downcalls follow without a reload."""
        self.ident_servers()
        top = self.two_gw_tree({"networks": "127.0.0.2/32"}, {"networks": "127.0.0.2/32"})
        top.forward("ep", "call2", listen=True, extra="Destination=127.0.0.2:9495")
        for gw in ("gw1", "gw2"):
            top.forward(gw, "call2", target=self.srv[gw].addr)
        top.start()
        top.wait_converged()
        relay = top.d("relay1")
        relay.wait_log(r"entries announced by child gw[12] .*inside a network another child "
                       r"announced", timeout=10 * SLOW)
        addr = top.listen_addr("ep", "call2")
        first = wait_until(lambda: self.reached(addr), 10 * SLOW, what="a downcall by network")
        self.assert_reaches(addr, first)
        other = "server-gw2" if first == "server-gw1" else "server-gw1"
        top.d(first.removeprefix("server-")).kill()
        wait_until(lambda: self.reached(addr) == other, 10 * SLOW,
                   what=f"downcalls moving to {other}")
        self.assert_reaches(addr, other)

    def reached(self, addr):
        """The server one connection to addr lands at, None if it fails."""
        s = connect(addr)
        try:
            return recv_line(s)
        except (OSError, AssertionError, socket.timeout):
            return None
        finally:
            s.close()

    def test_route_by_networks_original_destination(self):
        """Target=original-destination at the gwproxy connects to the
        Destination= the session carries."""
        port = self.port()
        ep2 = self.server(make_ident_handler("endpoint-2"), addr=("127.0.0.2", port))
        ep3 = self.server(make_ident_handler("endpoint-3"), addr=("127.0.0.3", port))
        top = self.two_gw_tree({"networks": "127.0.0.2/32"}, {"networks": "127.0.0.3/32"})
        top.forward("ep", "call2", listen=True, extra=f"Destination=127.0.0.2:{port}")
        top.forward("ep", "call3", listen=True, extra=f"Destination=127.0.0.3:{port}")
        for gw in ("gw1", "gw2"):
            top.forward(gw, "call2", target="original-destination")
            top.forward(gw, "call3", target="original-destination")
        top.start()
        top.wait_converged()
        self.assert_reaches(top.listen_addr("ep", "call2"), "endpoint-2")
        self.assert_reaches(top.listen_addr("ep", "call3"), "endpoint-3")
        # The right gwproxy made each connection.
        self.assertTrue(ep2.peers and ep3.peers)
        s = connect(top.listen_addr("ep", "call2"))
        try:
            self.assertEqual(recv_line(s), "endpoint-2")
            owners = [x["pids"] for x in ss_sockets() if x["peer"] == ("127.0.0.2", port)]
            self.assertIn({top.d("gw1").pid}, owners, f"sockets to endpoint-2: {owners}")
        finally:
            s.close()

    def test_route_by_learned_endpoint(self):
        """An endpoint seen in an upcall through gw2 (127.0.0.2) or gw1
        (127.0.0.3) gets its downcalls through the same gwproxy."""
        self.ident_servers()
        gateway = self.echo_server()
        top = self.two_gw_tree()
        top.forward("ep", "web", target=gateway.addr)
        top.forward("gw1", "web", listen=True)
        top.forward("gw2", "web", listen=True)
        top.forward("ep", "call2", listen=True, extra="Destination=127.0.0.2:9495")
        top.forward("ep", "call3", listen=True, extra="Destination=127.0.0.3:9495")
        for gw in ("gw1", "gw2"):
            top.forward(gw, "call2", target=self.srv[gw].addr)
            top.forward(gw, "call3", target=self.srv[gw].addr)
        top.start()
        top.wait_converged()
        # Crossed over (gw2 serves .2), so that no fixed order can pass.
        for gw, source in (("gw2", "127.0.0.2"), ("gw1", "127.0.0.3")):
            s = connect(top.listen_addr(gw, "web"), source=source)
            try:
                self.assertTrue(echo_roundtrip(s, b"hello from " + source.encode()))
            finally:
                s.close()
        self.assert_reaches(top.listen_addr("ep", "call2"), "server-gw2")
        self.assert_reaches(top.listen_addr("ep", "call3"), "server-gw1")

    def test_route_to_unknown_label(self):
        """A downcall routed to a label no component has, or for a forward
        no gwproxy serves, is refused promptly instead of hanging; routable
        downcalls keep working."""
        self.ident_servers()
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("relay", "relay1", parent="ep")
        top.add("gwproxy", "gw1", parent="relay1")
        top.forward("ep", "lost", listen=True, route="gw9")
        top.forward("ep", "orphan", listen=True)
        top.forward("ep", "good", listen=True, route="gw1")
        top.forward("gw1", "lost", target=self.srv["gw1"].addr)
        top.forward("gw1", "good", target=self.srv["gw1"].addr)
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        for name in ("lost", "orphan"):
            kind, secs, nread = probe_refused(top.listen_addr("ep", name), timeout=5)
            self.assertIn(kind, ("rst", "eof"), f"downcall '{name}' not refused within 5s")
            self.assertEqual(nread, 0, f"downcall '{name}' got data")
        self.assert_reaches(top.listen_addr("ep", "good"), "server-gw1", rounds=1)
        top.wait_fd_baseline(baseline, what="after unroutable downcalls")

    def test_upcalls_from_both(self):
        """Upcalls from two gwproxies share the relay hop and both reach the
        epproxy's target."""
        srv = self.server(make_ident_handler("gateway"))
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("relay", "relay1", parent="ep")
        top.add("gwproxy", "gw1", parent="relay1")
        top.add("gwproxy", "gw2", parent="relay1")
        top.forward("ep", "web", target=srv.addr)
        top.forward("gw1", "web", listen=True)
        top.forward("gw2", "web", listen=True)
        top.start()
        top.wait_converged()
        self.assert_reaches(top.listen_addr("gw1", "web"), "gateway")
        self.assert_reaches(top.listen_addr("gw2", "web"), "gateway")


if __name__ == "__main__":
    unittest.main()
