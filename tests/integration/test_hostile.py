# SPDX-License-Identifier: GPL-2.0-or-later
"""A hostile peer on a relay's children listener: each malformed input makes
the relay log a 'protocol error' line and close that hop, while it keeps
running, existing sessions through it keep working and its fd count returns
to the baseline."""

import os
import socket
import time
import unittest

from tfst_testlib import (TfstTestCase, connect, echo_roundtrip, linear_chain, wait_closed)
from tfst_testlib.wire import (DATA, HELLO, IAM, MAX_PAYLOAD, PING, TELL, TELL_OK, WHO, FrameReader,
                               frame, hello, tlv)


class HostileTest(TfstTestCase):
    def setUp(self):
        super().setUp()
        self.echo = self.echo_server()
        self.top = linear_chain(self, relays=1, up={"web": self.echo.addr})
        self.top.start()
        self.top.wait_converged()
        self.relay = self.top.d("relay1")
        self.hop_addr = ("127.0.0.1", self.top.node("relay1").children_port)
        # A long-lived session through the relay, open across the attack.
        self.session = self.client(self.top.listen_addr("gw1", "web"))
        self.assertTrue(echo_roundtrip(self.session, b"before"))
        time.sleep(0.2)
        self.baseline = self.relay.fd_count()

    def attack(self, send_hello, bad, close_after=False, handshake=False):
        n_err = self.relay.count_log(r"protocol error")
        s = connect(self.hop_addr)
        try:
            if send_hello:
                s.sendall(hello())
                # Let the relay's HELLO (and WHO) arrive so the bad frame
                # meets a hop past its greeting, not a half-open one.
                r = FrameReader(s)
                self.assertIsNotNone(r.wait_for(HELLO, 5), "relay sent no HELLO")
                if handshake:
                    self.assertIsNotNone(r.wait_for(WHO, 5), "relay sent no WHO")
                    s.sendall(frame(IAM, payload=tlv(1, b"evil")))
                    s.sendall(frame(TELL, payload=tlv(1, b"evil") + tlv(3, b"\0evil")))
                    self.assertIsNotNone(r.wait_for(TELL_OK, 5), "relay sent no TELL_OK")
                    # A well-behaved child is a real child until it misbehaves.
                    want = dict(self.top.expected_chain("relay1"), evil=1)
                    self.relay.wait_chain(want, timeout=5)
            try:
                s.sendall(bad)
            except OSError:
                pass
            if close_after:
                # FIN right behind the partial frame; keep reading so the
                # kernel does not turn our close into an RST (unread data),
                # which would hide the truncation from the relay.
                s.shutdown(socket.SHUT_WR)
                wait_closed(s, 10)
            else:
                kind, secs, _ = wait_closed(s, 10)
                self.assertIn(kind, ("rst", "eof"), "the relay did not close the hostile hop")
        finally:
            if s is not None:
                s.close()
        m = self.relay.wait_log(r"protocol error", after=n_err)
        self.assertTrue(self.relay.alive(), "relay died")
        # The relay's own chain is intact and the old session still works.
        self.assertTrue(echo_roundtrip(self.session, b"after attack"))
        s2 = connect(self.top.listen_addr("gw1", "web"))
        try:
            self.assertTrue(echo_roundtrip(s2, b"new session"))
            s2.shutdown(socket.SHUT_WR)
            self.assertEqual(wait_closed(s2, 10)[0], "eof")
        finally:
            s2.close()
        self.relay.wait_fd_count(self.baseline, what="after the hostile hop")
        self.relay.wait_chain(self.top.expected_chain("relay1"), timeout=5)
        self.top.d("ep").wait_chain(self.top.expected_chain("ep"), timeout=5)
        return m

    def test_random_garbage(self):
        junk = b"\x7f" + os.urandom(4095)  # version byte 0x7f: never valid
        self.attack(False, junk)

    def test_bad_version(self):
        self.attack(True, frame(PING, payload=b"\0" * 8, version=2))

    def test_oversized_length(self):
        self.attack(True, frame(DATA, session=1, length=MAX_PAYLOAD + 1))

    def test_huge_length(self):
        self.attack(True, frame(PING, length=0xFFFFFFFF))

    def test_session_zero(self):
        self.attack(True, frame(DATA, session=0, payload=b"abcd"))

    def test_truncated_then_close(self):
        self.attack(True, frame(DATA, session=1, payload=b"x" * 100)[:7], close_after=True)

    def test_truncated_after_handshake(self):
        self.attack(True, frame(DATA, session=1, payload=b"x" * 100)[:7], close_after=True,
                    handshake=True)

    def test_session_zero_after_handshake(self):
        self.attack(True, frame(DATA, session=0, payload=b"abcd"), handshake=True)

    def test_truncated_payload_then_close(self):
        """A whole PING header announcing 8 payload bytes, 4 of them, then EOF."""
        self.attack(True, frame(PING, payload=b"\0" * 8)[:12] + b"\0" * 4, close_after=True,
                    handshake=True)

    def test_many_garbage_connections(self):
        """200 hostile connections in a row, most closing at once: no fd
        leaks, the relay keeps serving."""
        for i in range(200):
            s = connect(self.hop_addr)
            try:
                if i % 2:
                    s.sendall(hello() + os.urandom(64))
                else:
                    s.sendall(b"\x00" + os.urandom(100))
                if i % 10 == 0:
                    wait_closed(s, 5)
            except OSError:
                pass
            finally:
                s.close()
        self.relay.wait_log(r"protocol error")
        self.assertTrue(self.relay.alive(), "relay died")
        self.assertTrue(echo_roundtrip(self.session, b"after the flood"))
        self.relay.wait_fd_count(self.baseline, what="after 200 hostile connections")
        self.relay.wait_chain(self.top.expected_chain("relay1"), timeout=5)

    def test_nonzero_flags(self):
        self.attack(True, frame(PING, payload=b"\0" * 8, flags=0x8000))

    def test_unknown_type(self):
        self.attack(True, frame(99, payload=b"zz"))

    def test_garbage_instead_of_hello(self):
        self.attack(False, frame(DATA, session=5, payload=b"hi"))

    def test_bad_hello_magic(self):
        self.attack(False, frame(HELLO, payload=b"XFST\x01\x01" + tlv(1, b"evil")))


if __name__ == "__main__":
    unittest.main()
