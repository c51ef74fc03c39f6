# SPDX-License-Identifier: GPL-2.0-or-later
"""Data plane through a 3-hop chain: gwproxy -> relay2 -> relay1 -> epproxy.

Byte-identical transfer (sha256) of 1 B .. 64 MiB in both directions for
upcalls and downcalls, 1000 concurrent sessions, and the label chain every
component reports."""

import selectors
import socket
import time
import unittest

from tfst_testlib import (KIB, MIB, IO_TIMEOUT, TfstTestCase, connect, linear_chain,
                          stream_sha, tfstd_version, xfer, xfer_handler)

SIZES = [1, 64 * KIB, 1 * MIB, 64 * MIB]


class VersionTest(TfstTestCase):
    def test_version(self):
        rc, out = tfstd_version()
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"^tfstd \S+ \(build level \S+\)")


class ChainTest(TfstTestCase):
    def make_chain(self, relays=2):
        self.srv_up = self.server(xfer_handler)
        self.srv_down = self.server(xfer_handler)
        self.top = linear_chain(self, relays=relays, up={"web": self.srv_up.addr},
                                down={"mgmt": self.srv_down.addr})
        self.top.start()
        self.top.wait_converged()
        return self.top

    def check_payloads(self, addr, server, what):
        for i, size in enumerate(SIZES):
            for n_up, n_down in ((size, size), (size, 0), (0, size)):
                with self.subTest(what=what, n_up=n_up, n_down=n_down):
                    tag = f"{what}-{i}-{n_up}-{n_down}"
                    seed_up, seed_down = 1000 + i, 2000 + i
                    sha, n, secs = xfer(addr, tag, n_up, n_down, seed_up, seed_down,
                                        timeout=IO_TIMEOUT)
                    self.assertEqual(n, n_down, f"{what}: client received {n} of {n_down} bytes")
                    self.assertEqual(sha, stream_sha(n_down, seed_down),
                                     f"{what}: server->client bytes differ")
                    res = server.result()
                    self.assertNotIn("error", res, res)
                    self.assertEqual(res["tag"], tag)
                    self.assertEqual(res["n"], n_up, f"{what}: server received {res['n']} "
                                     f"of {n_up} bytes")
                    self.assertEqual(res["sha"], stream_sha(n_up, seed_up),
                                     f"{what}: client->server bytes differ")
                    self.assertEqual(res["send_error"], [])

    def test_upcall_payloads(self):
        top = self.make_chain()
        self.check_payloads(top.listen_addr("gw1", "web"), self.srv_up, "upcall")

    def test_downcall_payloads(self):
        top = self.make_chain()
        self.check_payloads(top.listen_addr("ep", "mgmt"), self.srv_down, "downcall")

    def test_label_chain(self):
        top = self.make_chain()
        self.assertEqual(top.d("ep").chain(), {"ep": 0, "relay1": 1, "relay2": 2, "gw1": 3})
        self.assertEqual(top.d("relay1").chain(), {"ep": -1, "relay1": 0, "relay2": 1, "gw1": 2})
        self.assertEqual(top.d("relay2").chain(), {"ep": -2, "relay1": -1, "relay2": 0, "gw1": 1})
        self.assertEqual(top.d("gw1").chain(), {"ep": -3, "relay1": -2, "relay2": -1, "gw1": 0})
        # The handshake's operator-facing log lines, per hop.
        for parent, child in (("ep", "relay1"), ("relay1", "relay2"), ("relay2", "gw1")):
            top.d(child).wait_log(rf"routingManager: WHO command received \[l={parent}\]")
            top.d(parent).wait_log(rf"routingManager: TELL command received \[l={child}\]")
        # The chain lines are sorted by depth, then label.
        line = [ln for ln in top.d("relay1").log().splitlines()
                if "routingManager: chain known:" in ln][-1]
        self.assertRegex(line, r"chain known: ep@-1 relay1@0 relay2@1 gw1@2\s*$")

    def test_concurrent_sessions(self):
        n_sessions = 1000
        echo_up = self.echo_server()
        echo_down = self.echo_server()
        top = linear_chain(self, relays=2, up={"web": echo_up.addr},
                           down={"mgmt": echo_down.addr})
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        for what, addr, echo in (("upcall", top.listen_addr("gw1", "web"), echo_up),
                                 ("downcall", top.listen_addr("ep", "mgmt"), echo_down)):
            with self.subTest(what=what):
                self.run_concurrent(addr, n_sessions, echo)
                self.assertGreaterEqual(echo.peak, n_sessions,
                                        f"{what}: only {echo.peak} sessions were open at once")
                top.wait_fd_baseline(baseline, timeout=20, what=f"after {what} sessions")

    def run_concurrent(self, addr, n, echo):
        """Opens n connections, sends 1-8 KiB on each, waits until every
        one got its echo (so all n are open end to end at once), then
        half-closes all and waits for EOF on all."""
        socks = []
        try:
            for i in range(n):
                socks.append(connect(addr, timeout=20))
            payload = [bytes([i % 251]) * (KIB * (1 + i % 8)) + i.to_bytes(4, "big")
                       for i in range(n)]
            sel = selectors.DefaultSelector()
            state = {}
            for i, s in enumerate(socks):
                s.setblocking(False)
                state[s] = {"i": i, "out": memoryview(payload[i]), "in": bytearray(),
                            "shut": False, "eof": False}
                sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            deadline = time.monotonic() + 60
            pending = n
            while pending:
                self.assertLess(time.monotonic(), deadline,
                                f"{pending} of {n} sessions did not complete within 60s")
                for key, mask in sel.select(1.0):
                    s = key.fileobj
                    st = state[s]
                    if mask & selectors.EVENT_WRITE and st["out"]:
                        k = s.send(st["out"])
                        st["out"] = st["out"][k:]
                    if mask & selectors.EVENT_READ:
                        try:
                            data = s.recv(64 * KIB)
                        except (BlockingIOError, InterruptedError):
                            data = None
                        if data == b"":
                            st["eof"] = True
                            self.assertEqual(bytes(st["in"]), payload[st["i"]],
                                             f"session {st['i']}: EOF before the full echo")
                            sel.unregister(s)
                            pending -= 1
                            continue
                        if data:
                            st["in"] += data
                    # Half-close only once every session has its echo, so all
                    # are open at the same time.
                    ev = selectors.EVENT_READ
                    if st["out"]:
                        ev |= selectors.EVENT_WRITE
                    sel.modify(s, ev)
                if not any(st["out"] or len(st["in"]) < len(payload[st["i"]])
                           for st in state.values() if not st["shut"]):
                    for s, st in state.items():
                        if not st["shut"]:
                            s.shutdown(socket.SHUT_WR)
                            st["shut"] = True
            for s, st in state.items():
                self.assertEqual(bytes(st["in"]), payload[st["i"]], f"session {st['i']}")
            sel.close()
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()
