# SPDX-License-Identifier: GPL-2.0-or-later
"""Start-order permutations of ep -> relay1 -> relay2 -> gw1 converge to the
same label chain everywhere, with either side opening the hops, and a
session then flows both ways."""

import socket
import time
import unittest

from tfst_testlib import (TfstTestCase, Topology, connect, echo_roundtrip, recv_exact,
                          wait_closed)

CHAIN = ["ep", "relay1", "relay2", "gw1"]


class StartOrderTest(TfstTestCase):
    def build(self, open_children=False):
        self.echo_up = self.echo_server()
        self.echo_down = self.echo_server()
        top = Topology(self)
        top.add("epproxy", "ep", open_children=open_children)
        top.add("relay", "relay1", parent="ep", open_children=open_children)
        top.add("relay", "relay2", parent="relay1", open_children=open_children)
        top.add("gwproxy", "gw1", parent="relay2")
        top.forward("ep", "web", target=self.echo_up.addr)
        top.forward("gw1", "web", listen=True)
        top.forward("ep", "mgmt", listen=True)
        top.forward("gw1", "mgmt", target=self.echo_down.addr)
        return top

    def run_order(self, order, open_children=False, delay=0.7):
        top = self.build(open_children)
        top.start(order=order, delay=delay)
        top.wait_converged()
        for i, label in enumerate(CHAIN):
            expected = {other: j - i for j, other in enumerate(CHAIN)}
            self.assertEqual(top.d(label).chain(), expected, label)
        for addr in (top.listen_addr("gw1", "web"), top.listen_addr("ep", "mgmt")):
            s = connect(addr)
            try:
                self.assertTrue(echo_roundtrip(s, b"order %s" % " ".join(order).encode()))
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(wait_closed(s, 10)[0], "eof")
            finally:
                s.close()

    def test_ep_first(self):
        self.run_order(["ep", "relay1", "relay2", "gw1"])

    def test_gw_first(self):
        self.run_order(["gw1", "relay2", "relay1", "ep"])

    def test_relay_first(self):
        self.run_order(["relay1", "gw1", "ep", "relay2"])

    def test_relay2_first_then_ep(self):
        self.run_order(["relay2", "ep", "gw1", "relay1"])

    def held_client(self, top, start_later):
        """Connects a client to gw1 while its chain is incomplete, then
        starts start_later: the client must be held, not refused, and its
        data must flow once the chain is up."""
        s = connect(top.listen_addr("gw1", "web"))
        try:
            s.sendall(b"early bird")
            time.sleep(1.0)
            top.start(order=start_later)
            self.assertEqual(recv_exact(s, len(b"early bird"), timeout=15), b"early bird")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(wait_closed(s, 10)[0], "eof")
        finally:
            s.close()
        top.wait_converged()

    def test_client_held_until_parent_hop_up(self):
        """gw1 alone, directly under ep: no parent hop yet."""
        self.echo_up = self.echo_server()
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("gwproxy", "gw1", parent="ep")
        top.forward("ep", "web", target=self.echo_up.addr)
        top.forward("gw1", "web", listen=True)
        top.start(order=["gw1"])
        self.held_client(top, ["ep"])

    def test_client_held_until_chain_complete(self):
        """gw1's parent hop (to relay2) is up, but relay2 has no parent yet:
        the chain does not reach an epproxy."""
        top = self.build()
        top.start(order=["gw1", "relay2"])
        top.d("gw1").wait_chain({"relay2": -1, "gw1": 0}, timeout=10)
        self.held_client(top, ["relay1", "ep"])

    def test_parent_opens_ep_first(self):
        """Unidirectional firewalls: the parent side opens every hop."""
        self.run_order(["ep", "relay1", "relay2", "gw1"], open_children=True)

    def test_parent_opens_gw_first(self):
        self.run_order(["gw1", "relay2", "relay1", "ep"], open_children=True)


if __name__ == "__main__":
    unittest.main()
