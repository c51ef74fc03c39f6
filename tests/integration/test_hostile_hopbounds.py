# SPDX-License-Identifier: GPL-2.0-or-later
"""A hop's own defences against a hostile peer on a relay's children
listener: output it does not read is bounded, connections that never finish
the handshake are capped and cheap, and the label of a live child cannot be
taken over."""

import errno
import re
import selectors
import socket
import threading
import time
import unittest

from tfst_testlib import (MIB, SLOW, TfstTestCase, connect, echo_roundtrip, linear_chain,
                          raise_nofile, wait_until)
from tfst_testlib.wire import (GOAWAY, IAM, PING, TELL, TELL_OK, WHO, FrameReader, frame, hello,
                               tlv)

# Short hop liveness so that the drain deadline (min(10s, PingTimeout)) and
# the takeover check (min(2s, PingTimeout)) are quick.
KEEPALIVE = "[Keepalive]\nPingInterval=2s\nPingTimeout=5s\n"


def patch_children(d, lines):
    """Adds lines to the [Children] section of a created daemon's config."""
    with open(d.config_path) as f:
        text = f.read()
    text, n = re.subn(r"(\[Children\]\nListen=[^\n]*\n)", lambda m: m.group(1) + lines, text)
    assert n == 1, text
    with open(d.config_path, "w") as f:
        f.write(text)


def handshake(addr, label, rcvbuf=None):
    """A child hop announcing `label`, up to the TELL; returns (socket,
    reader)."""
    s = connect(addr, rcvbuf=rcvbuf)
    s.sendall(hello(label, role=2))
    r = FrameReader(s)
    if r.wait_for(WHO, 10) is None:
        raise AssertionError("relay sent no WHO")
    s.sendall(frame(IAM, payload=tlv(1, label)))
    s.sendall(frame(TELL, payload=tlv(1, label) + tlv(3, b"\0" + label)))
    return s, r


class HopBoundsTest(TfstTestCase):
    NOFILE = 20000

    def chain(self, relay_children=""):
        self.echo = self.echo_server()
        self.top = linear_chain(self, relays=1, up={"web": self.echo.addr},
                                common_extra=KEEPALIVE)
        self.top.create()
        self.relay = self.top.d("relay1")
        if relay_children:
            patch_children(self.relay, relay_children)
        self.top.start()
        self.top.wait_converged()
        self.hop_addr = ("127.0.0.1", self.top.node("relay1").children_port)
        self.session = self.client(self.top.listen_addr("gw1", "web"))
        self.assertTrue(echo_roundtrip(self.session, b"before"))

    def new_session_ok(self):
        s = connect(self.top.listen_addr("gw1", "web"))
        try:
            return echo_roundtrip(s, b"new session")
        finally:
            s.close()

    # -- bounded output --

    def test_ping_flood_without_reading(self):
        """HELLO/WHO/IAM/TELL, then PINGs as fast as the relay takes them,
        never reading a PONG: the relay stops reading the hop, stays within
        a few MiB, and closes the hop at the drain deadline (5 s here)."""
        self.chain()
        rss0 = self.relay.rss_kib()
        s, r = handshake(self.hop_addr, b"flood", rcvbuf=4096)
        self.addCleanup(s.close)
        self.assertIsNotNone(r.wait_for(TELL_OK, 10), "relay sent no TELL_OK")
        burst = frame(PING, payload=b"\0" * 8) * 65536
        res = {"sent": 0, "err": None}

        def flood():
            s.settimeout(None)
            try:
                while True:
                    s.sendall(burst)
                    res["sent"] += len(burst)
            except OSError as e:
                res["err"] = e.errno

        t = threading.Thread(target=flood, daemon=True)
        t.start()
        peak = rss0
        deadline = time.monotonic() + 60 * SLOW
        while t.is_alive() and time.monotonic() < deadline:
            peak = max(peak, self.relay.rss_kib())
            time.sleep(0.05)
        self.assertFalse(t.is_alive(), "the relay kept the flooding hop open")
        self.assertIn(res["err"], (errno.ECONNRESET, errno.EPIPE))
        self.relay.wait_log(r"has not read its replies|does not read its replies")
        grown = (peak - rss0) / 1024
        print(f"PING flood: {res['sent'] / MIB:.1f} MiB of PINGs taken, "
              f"relay RSS +{grown:.1f} MiB")
        self.assertLess(grown, 24, "relay RSS grew without bound under a PING flood")
        self.assertTrue(echo_roundtrip(self.session, b"after the flood"))
        self.assertTrue(self.new_session_ok())

    def test_ping_before_handshake_is_an_error(self):
        self.chain()
        s = connect(self.hop_addr)
        try:
            s.sendall(hello(b"early"))
            r = FrameReader(s)
            self.assertIsNotNone(r.wait_for(WHO, 10))
            s.sendall(frame(PING, payload=b"\0" * 8))
            self.relay.wait_log(r"protocol error .*PING before the handshake completed")
            while True:
                f = r.next(5)
                if f is None:
                    break
                self.assertNotEqual(f[0], 14, "the relay answered a PING before the handshake")
            self.assertTrue(r.closed, "the relay did not close the hop")
        finally:
            s.close()

    # -- pending (not yet up) connections --

    def open_silent(self, n, source=None, timeout=30):
        """n connections that never say anything; returns them once the
        kernel has accepted them all (some may be reset by the relay)."""
        socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            if source:
                s.bind((source, 0))
            err = s.connect_ex(self.hop_addr)
            self.assertIn(err, (0, errno.EINPROGRESS))
            socks.append(s)
        return socks

    def count_reset(self, socks, timeout):
        """Of socks, how many the relay reset (or closed) within timeout."""
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        gone = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(sel.get_map()) > 0:
            for key, _ in sel.select(0.2):
                try:
                    data = key.fileobj.recv(4096)
                    if data:
                        continue  # the relay's HELLO
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                gone += 1
                sel.unregister(key.fileobj)
        sel.close()
        return gone

    def test_pending_caps(self):
        """Over MaxPendingHopsPerAddress= and MaxPendingHops= a connection is
        reset at once, with a rate-limited line; the chain keeps working."""
        # A long handshake deadline: none of them may expire meanwhile.
        self.chain("MaxPendingHops=150\nMaxPendingHopsPerAddress=100\nHandshakeTimeout=2min\n")
        socks = []
        try:
            for source, n, refused in (("127.0.0.1", 105, 5), ("127.0.0.2", 55, 5),
                                       ("127.0.0.3", 300, 300)):
                batch = self.open_silent(n, source=source)
                socks += batch
                self.assertEqual(self.count_reset(batch, 5 * SLOW), refused, source)
            self.assertTrue(echo_roundtrip(self.session, b"during"))
            self.assertTrue(self.new_session_ok())
        finally:
            for s in socks:
                s.close()
        self.relay.wait_log(r"refused a hop connection from 127\.0\.0\.1: 100 connections from "
                            r"this address .*MaxPendingHopsPerAddress=100")
        self.relay.wait_log(r"refused a hop connection from 127\.0\.0\.2: 150 connections in all"
                            r" .*MaxPendingHops=150")
        # 310 refusals within two or three 10 s windows of 20 lines.
        n = self.relay.count_log(r"refused a hop connection from")
        self.assertLessEqual(n, 63, "refusals are not rate limited")

    def test_silent_connections(self):
        """6 000 silent connections (caps raised): RSS per connection is
        small, legitimate traffic does not stall when their handshake
        timeouts fire, and RSS comes back down once they are gone.  (The
        report's probe does 10 000; fewer keep this case short.)"""
        n = min(6000, raise_nofile(self.NOFILE) - 1000)
        # Long enough for all of them to be accepted on a loaded machine.
        self.chain("MaxPendingHops=20000\nMaxPendingHopsPerAddress=20000\n"
                   "HandshakeTimeout=12s\n")
        base_fds = self.relay.fd_count()
        rss0 = self.relay.rss_kib()
        worst = [0.0]
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                t0 = time.monotonic()
                ok = echo_roundtrip(self.session, b"ping", timeout=30)
                worst[0] = max(worst[0], time.monotonic() - t0 if ok else 99)
                time.sleep(0.02)

        t = threading.Thread(target=probe, daemon=True)
        t.start()
        socks = self.open_silent(n)
        try:
            # The most the relay held at once (on a loaded machine the
            # first deadlines may fire before the last are accepted).
            held, rss_full = 0, rss0
            deadline = time.monotonic() + 40 * SLOW
            while time.monotonic() < deadline:
                fds, rss = self.relay.fd_count() - base_fds, self.relay.rss_kib()
                if fds > held:
                    held, rss_full = fds, max(rss_full, rss)
                if fds >= n or fds < held - 100:
                    break
                time.sleep(0.1)
            self.assertGreaterEqual(held, n * 0.9, "the relay did not accept the connections")
            # The relay closes them all at its handshake deadline.
            wait_until(lambda: self.relay.fd_count() <= base_fds, 40 * SLOW, interval=0.2,
                       what="the handshake deadlines")
        finally:
            for s in socks:
                s.close()
            stop.set()
            t.join(35)
        time.sleep(0.5)
        rss_after = self.relay.rss_kib()
        per_conn = (rss_full - rss0) * 1024 / held
        print(f"{held} silent connections: relay RSS {rss0} -> {rss_full} -> {rss_after} KiB "
              f"({per_conn:.0f} bytes each); worst echo round trip {worst[0]:.2f} s")
        # Before: an 18 s stall when 10 000 deadlines fired together.
        self.assertLess(worst[0], 3.0 * SLOW, "legitimate traffic stalled")
        self.assertTrue(self.new_session_ok())
        self.require_plain_rss()
        self.assertLess(per_conn, 4096, "a silent connection costs too much")
        # Measured: 10 -> 34 -> 20 MiB (before the fix: 20 -> 114 -> 114).
        self.assertLess(rss_after - rss0, (rss_full - rss0) * 0.75,
                        "memory not given back after the burst")

    # -- label takeover --

    def test_takeover_refused(self):
        """A newcomer announcing the label of a live child is refused (GOAWAY,
        one line naming both addresses); the child's sessions survive."""
        self.chain()
        gw_lost = self.relay.count_log(r"hop to child gw1 .* lost")
        for i in range(5):
            before = self.relay.count_log(r"refused hop from")
            s, r = handshake(self.hop_addr, b"gw1")
            try:
                f = r.wait_for(GOAWAY, 10 * SLOW)
                self.assertIsNotNone(f, "the newcomer was not refused")
                r.next(5)
                self.assertTrue(r.closed, "the refused hop stayed open")
            finally:
                s.close()
            self.relay.wait_log(r"refused hop from 127\.0\.0\.1:\d+ claiming label gw1: the child "
                                r"with that label at 127\.0\.0\.1:\d+ answered a PING",
                                after=before)
            self.assertEqual(self.relay.count_log(r"refused hop from"), before + 1)
            self.assertTrue(echo_roundtrip(self.session, b"still here %d" % i))
        self.assertEqual(self.relay.count_log(r"hop to child gw1 .* lost"), gw_lost)
        self.assertTrue(self.new_session_ok())

    def test_takeover_of_dead_child(self):
        """The child is frozen (its hop open, silent): a newcomer with its
        label takes over after the liveness deadline; once thawed the real
        child takes its label back the same way."""
        self.chain()
        gw = self.top.d("gw1")
        gw.freeze()
        try:
            t0 = time.monotonic()
            s, r = handshake(self.hop_addr, b"gw1")
            self.assertIsNotNone(r.wait_for(TELL_OK, 10 * SLOW), "the newcomer never took over")
            waited = time.monotonic() - t0
            self.relay.wait_log(r"child gw1 at 127\.0\.0\.1:\d+ did not answer; the new hop "
                                r"from 127\.0\.0\.1:\d+ takes over")
            self.assertGreaterEqual(waited, 1.5, "took over without a liveness check")
        finally:
            gw.thaw()
        # The impostor never answers PINGs: the real child's reconnect
        # finds it dead and takes the label back.
        try:
            wait_until(lambda: self.relay.count_log(r"child gw1 at .* did not answer") >= 2,
                       20 * SLOW, what="the real child to take its label back")
            self.top.wait_converged()
            self.assertTrue(self.new_session_ok())
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
