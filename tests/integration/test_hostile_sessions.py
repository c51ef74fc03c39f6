# SPDX-License-Identifier: GPL-2.0-or-later
"""A hostile child against the session layer: it may hold only its share of
the sessions and open them only so fast (MaxSessionsPerChild=, OpenRate=), a
FIN it sends before OPEN_OK still reaches the target once the connection is
up, an OPEN window above 2^31-1 is a protocol error, and a flood of
distinct errno values in its RSTs leaves nothing behind.

TFST_HOSTILE_BASELINE=1 leaves out the configuration keys an older tfstd
does not know, so the same probes measure it (the assertions then fail
where the old behaviour is wrong)."""

import os
import struct
import time
import unittest

from tfst_testlib import (TfstTestCase, asan_small_quarantine_env, connect, echo_roundtrip,
                          linear_chain, tfstd_sanitized, wait_closed, wait_until)
from tfst_testlib.wire import (FIN, IAM, OPEN, OPEN_FAIL, OPEN_OK, PING, PONG, RST, T_FORWARD,
                               T_ORIGIN, T_WINDOW, TELL, TELL_OK, WHO, FrameReader, frame, hello,
                               tlv)

EDQUOT, EAGAIN, ENOBUFS = 122, 11, 105
BASELINE = os.environ.get("TFST_HOSTILE_BASELINE") == "1"


def open_frame(sid, forward=b"web", origin=b"evil", window=65536):
    payload = tlv(T_FORWARD, forward) + tlv(T_ORIGIN, origin)
    payload += tlv(T_WINDOW, struct.pack(">I", window))
    return frame(OPEN, session=sid, payload=payload)


def u32_frame(ftype, sid, v):
    return frame(ftype, session=sid, payload=struct.pack(">I", v))


class HostileChild:
    """A raw child hop: HELLO, IAM and TELL as label, then whatever the
    test sends; replies are read with a FrameReader."""

    def __init__(self, tc, addr, label=b"evil"):
        self.s = connect(addr)
        tc.addCleanup(self.s.close)
        self.r = FrameReader(self.s)
        self.s.sendall(hello(label))
        tc.assertIsNotNone(self.r.wait_for(WHO, 10), "no WHO")
        self.s.sendall(frame(IAM, payload=tlv(1, label)))
        self.s.sendall(frame(TELL, payload=tlv(1, label) + tlv(3, b"\0" + label)))
        tc.assertIsNotNone(self.r.wait_for(TELL_OK, 10), "no TELL_OK")

    def drain(self):
        """Reads what has arrived, answering PINGs, so that the parent
        neither stops reading us nor declares the hop dead."""
        while (f := self.r.next(0)) is not None:
            if f[0] == PING:
                self.s.sendall(frame(PONG, payload=f[2]))

    def sync(self, token, timeout=60):
        """Sends a PING and waits for its PONG: the parent has then read
        everything sent before it, so a flood never builds a backlog in
        which our own PONGs would wait past PingTimeout."""
        self.s.sendall(frame(PING, payload=struct.pack(">Q", token)))
        deadline = time.monotonic() + timeout
        while (f := self.r.next(max(0.0, deadline - time.monotonic()))) is not None:
            if f[0] == PING:
                self.s.sendall(frame(PONG, payload=f[2]))
            elif f[0] == PONG and f[2] == struct.pack(">Q", token):
                return True
        return False

    def replies(self, ids, timeout):
        """{session id: (type, u32)} of the OPEN_OK/OPEN_FAIL for each id."""
        out = {}
        deadline = time.monotonic() + timeout
        while len(out) < len(ids) and time.monotonic() < deadline:
            f = self.r.next(max(0.0, deadline - time.monotonic()))
            if f is None:
                break
            ftype, sid, payload = f
            if ftype in (OPEN_OK, OPEN_FAIL) and sid in ids:
                out[sid] = (ftype, struct.unpack(">I", payload)[0])
        return out


class HostileSessionsTest(TfstTestCase):
    def chain(self, relays=0, ep_keys="", relay_keys="", ep_max=None):
        """ep (-> relays) -> gw1 with the upcall forward 'web' to an echo
        server; ep_keys/relay_keys are extra [Instance] lines."""
        self.echo = self.echo_server()
        top = linear_chain(self, relays=relays, up={"web": self.echo.addr}, ep_max_sessions=ep_max)
        base_config = top.config

        def config(n):
            text = base_config(n)
            keys = {"epproxy": ep_keys, "relay": relay_keys}.get(n.role, "")
            if keys and not BASELINE:
                text = text.replace(f"Label={n.label}\n", f"Label={n.label}\n{keys}\n", 1)
            return text

        top.config = config
        top.start()
        top.wait_converged()
        self.top = top
        return top

    def children_addr(self, label):
        return ("127.0.0.1", self.top.node(label).children_port)

    def legit_sessions(self, n):
        """n sessions through gw1, each an echo round trip; how many worked."""
        ok = 0
        for i in range(n):
            try:
                s = connect(self.top.listen_addr("gw1", "web"))
                try:
                    ok += echo_roundtrip(s, b"legit %d" % i, timeout=5)
                finally:
                    s.close()
            except (OSError, EOFError):
                pass
        return ok

    def test_flood_leaves_share(self):
        """One child opens 600 sessions against MaxSessions=500: it gets at
        most half, the legitimate gateway proxy's sessions all work."""
        top = self.chain(ep_max=500)
        ep = top.d("ep")
        evil = HostileChild(self, self.children_addr("ep"))
        ids = [2 * i + 1 for i in range(600)]
        evil.s.sendall(b"".join(open_frame(sid) for sid in ids))
        got = evil.replies(set(ids), 30)
        self.assertEqual(len(got), len(ids), "not every OPEN was answered")
        opened = sum(1 for t, _ in got.values() if t == OPEN_OK)
        errnos = {v for t, v in got.values() if t == OPEN_FAIL}
        wait_until(lambda: self.echo.accepted >= opened, 10, what="target connections")
        print(f"flood: {opened} OPEN_OK, target saw {self.echo.accepted} connections, "
              f"OPEN_FAIL errnos {sorted(errnos)}")
        legit = self.legit_sessions(20)
        print(f"legitimate sessions during the flood: {legit}/20")
        self.assertEqual(legit, 20, "the flood starved the legitimate child")
        self.assertLessEqual(opened, 250, "the hostile child got more than its share")
        self.assertLessEqual(self.echo.accepted, 250 + 20)
        self.assertEqual(errnos, {EDQUOT})
        ep.wait_log(r"child evil \(127\.0\.0\.1:\d+\) holds 250 sessions; refusing")
        # Its log line is rate limited: far fewer lines than refusals.
        self.assertLessEqual(ep.count_log(r"child evil .* refusing"), 25)

    def test_open_rate(self):
        """OpenRate=20: a burst of 200 OPENs gets about one second's worth."""
        self.chain(ep_keys="OpenRate=20")
        evil = HostileChild(self, self.children_addr("ep"))
        ids = [2 * i + 1 for i in range(200)]
        t0 = time.monotonic()
        evil.s.sendall(b"".join(open_frame(sid) for sid in ids))
        got = evil.replies(set(ids), 20)
        elapsed = time.monotonic() - t0
        self.assertEqual(len(got), len(ids), "not every OPEN was answered")
        opened = sum(1 for t, _ in got.values() if t == OPEN_OK)
        refused = [v for t, v in got.values() if t == OPEN_FAIL]
        print(f"open rate: {opened} of 200 opened in {elapsed:.2f}s")
        # The bucket holds 20, refilled at 20/s while the burst is read.
        self.assertLessEqual(opened, 20 + 20 * elapsed + 1)
        self.assertGreaterEqual(opened, 20)
        self.assertEqual(set(refused), {EAGAIN})
        self.top.d("ep").wait_log(r"child evil .* opens sessions faster than OpenRate=20")
        # The legitimate child has its own bucket.
        self.assertEqual(self.legit_sessions(5), 5)

    def fin_before_open_ok(self, at):
        top = self.chain(relays=1 if at == "relay1" else 0)
        evil = HostileChild(self, self.children_addr(at))
        time.sleep(0.2)
        baseline = top.fd_baseline()
        evil.s.sendall(open_frame(1) + frame(FIN, session=1))
        f = evil.r.wait_for(OPEN_OK, 10)
        self.assertIsNotNone(f, "no OPEN_OK")
        # The target saw the half-close: the echo server ends its side and
        # the chain brings that FIN back.
        f = evil.r.wait_for(FIN, 10)
        self.assertIsNotNone(f, "the target never saw the FIN: the session hangs")
        wait_until(lambda: self.echo.active == 0, 10, what="target connection closed")
        self.assertEqual(self.echo.accepted, 1)
        top.wait_fd_baseline(baseline, what="after the session")
        self.assertEqual(self.legit_sessions(3), 3)

    def test_fin_before_open_ok_epproxy(self):
        self.fin_before_open_ok("ep")

    def test_fin_before_open_ok_relay(self):
        self.fin_before_open_ok("relay1")

    def test_open_window_too_big(self):
        """WINDOW 2^31 in an OPEN: protocol error, the hop is reset, the
        relay keeps serving."""
        top = self.chain(relays=1)
        relay = top.d("relay1")
        n_err = relay.count_log(r"protocol error")
        evil = HostileChild(self, self.children_addr("relay1"))
        evil.s.sendall(open_frame(1, window=0x80000000))
        kind, _, _ = wait_closed(evil.s, 10)
        self.assertIn(kind, ("rst", "eof"), "the relay kept the hop")
        relay.wait_log(r"protocol error .*bad OPEN: malformed field", after=n_err)
        self.assertTrue(relay.alive())
        self.assertEqual(self.echo.accepted, 0)
        self.assertEqual(self.legit_sessions(3), 3)

    def test_open_ok_window_too_big(self):
        """OPEN_OK with window 2^31 from a child that a downcall reached."""
        self.echo = self.echo_server()
        top = linear_chain(self, relays=0, up={"web": self.echo.addr})
        top.forward("ep", "mgmt", listen=True, route="evil")
        top.start()
        top.wait_converged()
        self.top = top
        ep = top.d("ep")
        evil = HostileChild(self, ("127.0.0.1", top.node("ep").children_port))
        n_err = ep.count_log(r"protocol error")
        c = self.client(top.listen_addr("ep", "mgmt"))
        f = evil.r.wait_for(OPEN, 10)
        self.assertIsNotNone(f, "the downcall never reached the hostile child")
        evil.s.sendall(u32_frame(OPEN_OK, f[1], 0x80000000))
        self.assertIn(wait_closed(evil.s, 10)[0], ("rst", "eof"))
        ep.wait_log(r"protocol error", after=n_err)
        self.assertIn(wait_closed(c, 10)[0], ("rst", "eof"))
        self.assertEqual(self.legit_sessions(3), 3)

    def test_distinct_errno_flood(self):
        """100 000 OPEN + RST pairs, each RST with its own errno value,
        against a target that refuses: the endpoint proxy's memory stays
        put and it keeps serving."""
        closed = self.closed_port()
        self.daemon_env = asan_small_quarantine_env()
        self.echo = self.echo_server()
        top = linear_chain(self, relays=0, up={"web": self.echo.addr})
        top.forward("ep", "dead", target=closed)
        base_config = top.config
        top.config = lambda n: (base_config(n) if BASELINE or n.role != "epproxy" else
                                base_config(n).replace("Label=ep\n", "Label=ep\nOpenRate=0\n"
                                                       "MaxSessionsPerChild=10000\n", 1))
        top.start()
        top.wait_converged()
        self.top = top
        ep = top.d("ep")
        evil = HostileChild(self, self.children_addr("ep"))
        rss0 = ep.rss_kib()
        # Half as many under a sanitizer, to stay within ~30 s.
        n, batch = (50000 if tfstd_sanitized() else 100000), 2000
        for start in range(0, n, batch):
            chunk = []
            for i in range(start, start + batch):
                sid = 2 * i + 1
                chunk.append(open_frame(sid, forward=b"dead"))
                chunk.append(u32_frame(RST, sid, 1000 + i))
            evil.s.sendall(b"".join(chunk))
            evil.drain()
            if (start // batch) % 10 == 9:
                self.assertTrue(evil.sync(start + 1), "no PONG during the flood")
        # Everything was processed once a PING sent now is answered.
        self.assertTrue(evil.sync(42), "no PONG after the flood")
        rss1 = ep.rss_kib()
        print(f"RSS before {rss0} KiB, after 100000 distinct errno values {rss1} KiB "
              f"(+{rss1 - rss0} KiB)")
        self.assertEqual(self.legit_sessions(3), 3)
        self.require_plain_rss()
        # Before the fix: +7 MiB.
        self.assertLess(rss1 - rss0, 4096, "memory grew with the distinct errno values")


if __name__ == "__main__":
    unittest.main()
