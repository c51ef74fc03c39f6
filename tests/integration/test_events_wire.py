# SPDX-License-Identifier: GPL-2.0-or-later
"""EVENT and EVENT_ACK on the wire (docs/protocol.md §5), spoken by a raw
child of an endpoint proxy whose [Events syslog] Target= is a Python
collector: the go-back-N rules of the delivering end (a batch delivered
once and acknowledged, a batch again acknowledged and not delivered again,
a gap discarded, a new epoch starting afresh), ENOENT for a sink with no
Target=, and what is refused: an origin the child may not claim, EVENT
from a child that did not announce events, EVENT_ACK from a child."""

import struct
import unittest

from tfst_testlib import TfstTestCase, Topology, connect, wait_closed
from tfst_testlib.events import Collector, events_section
from tfst_testlib.wire import (IAM, PING, PONG, TELL, TELL_OK, WHO, FrameReader, frame, tlv)

EVENT, EVENT_ACK = 16, 17
T_FEATURES = 14
ENOENT = 2
LOCAL = "127.0.0.1"


def stream(origin, sink, epoch):
    return bytes([len(origin)]) + origin + bytes([len(sink)]) + sink + struct.pack(">Q", epoch)


def event_frame(events, first, base=1, origin=b"gwx", sink=b"syslog", epoch=7):
    p = stream(origin, sink, epoch) + struct.pack(">QQ", base, first)
    for e in events:
        p += struct.pack(">I", len(e)) + e
    return frame(EVENT, payload=p)


def parse_ack(payload):
    olen = payload[0]
    origin = payload[1:1 + olen]
    slen = payload[1 + olen]
    sink = payload[2 + olen:2 + olen + slen]
    epoch, acked, status = struct.unpack(">QQI", payload[2 + olen + slen:])
    return origin, sink, epoch, acked, status


class EventsWireTest(TfstTestCase):

    def setUp(self):
        super().setUp()
        target = (LOCAL, self.port())
        self.collector = Collector(target, udp=False, tcp=True, keep=True)
        self.addCleanup(self.collector.stop, 1.0)
        self.top = Topology(self)
        self.top.add("epproxy", "ep",
                     extra=events_section("syslog", target=f"tcp:{LOCAL}:{target[1]}"))
        self.top.start()

    def child(self, features=True, label=b"gwx"):
        """HELLO (with FEATURES bit 0 when features), IAM and TELL as a
        gateway proxy; returns the socket and its reader."""
        s = connect((LOCAL, self.top.node("ep").children_port))
        self.addCleanup(s.close)
        r = FrameReader(s)
        hello = b"TFST\1\1" + tlv(2, b"\2") + tlv(1, label)
        if features:
            hello += tlv(T_FEATURES, struct.pack(">I", 1))
        s.sendall(frame(1, payload=hello))
        self.assertIsNotNone(r.wait_for(WHO, 10), "no WHO")
        s.sendall(frame(IAM, payload=tlv(1, label)))
        s.sendall(frame(TELL, payload=tlv(1, label) + tlv(3, b"\0" + label)))
        self.assertIsNotNone(r.wait_for(TELL_OK, 10), "no TELL_OK")
        return s, r

    def ack(self, s, r, timeout=10):
        """The next EVENT_ACK, answering PINGs meanwhile."""
        while True:
            f = r.next(timeout)
            self.assertIsNotNone(f, "no EVENT_ACK")
            if f[0] == PING:
                s.sendall(frame(PONG, payload=f[2]))
            elif f[0] == EVENT_ACK:
                return parse_ack(f[2])

    def sync(self, s, r):
        """A PING answered: everything sent before it was read."""
        s.sendall(frame(PING, payload=struct.pack(">Q", 99)))
        while (f := r.next(10)) is not None:
            if f[0] == PONG:
                return
            if f[0] == PING:
                s.sendall(frame(PONG, payload=f[2]))
        self.fail("no PONG: the hop is gone")

    def test_go_back_n(self):
        s, r = self.child()
        s.sendall(event_frame([b"<13>one", b"<13>two", b"<13>three"], first=1))
        self.assertEqual(self.ack(s, r), (b"gwx", b"syslog", 7, 3, 0))
        self.collector.wait_count(3)
        # The same batch again (our ack was lost): acknowledged, not delivered.
        s.sendall(event_frame([b"<13>one", b"<13>two", b"<13>three"], first=1))
        self.assertEqual(self.ack(s, r)[3], 3)
        # A gap (4 missing): discarded, the ack says where we stand.
        s.sendall(event_frame([b"<13>five"], first=5))
        self.assertEqual(self.ack(s, r)[3], 3)
        # The origin dropped 4 by policy (base 5): 5 is taken now.
        s.sendall(event_frame([b"<13>five"], first=5, base=5))
        self.assertEqual(self.ack(s, r)[3], 5)
        # A spool made afresh: numbers from 1 again, not duplicates.
        s.sendall(event_frame([b"<13>new"], first=1, epoch=8))
        self.assertEqual(self.ack(s, r)[2:], (8, 1, 0))
        self.collector.wait_count(5)
        msgs = [m for _, m in self.collector.events]
        self.assertEqual(msgs, [b"<13>one", b"<13>two", b"<13>three", b"<13>five", b"<13>new"])

    def test_unknown_sink(self):
        s, r = self.child()
        s.sendall(event_frame([b"<13>x"], first=1, sink=b"traps"))
        self.assertEqual(self.ack(s, r)[4], ENOENT)
        self.assertEqual(self.collector.count(), 0)

    def test_origin_not_claimable(self):
        """The endpoint proxy's own label: dropped and logged, the hop stays."""
        s, r = self.child()
        s.sendall(event_frame([b"<13>forged"], first=1, origin=b"ep"))
        self.sync(s, r)
        self.top.d("ep").wait_log(r"refused EVENT from child gwx .* for origin ep")
        s.sendall(event_frame([b"<13>real"], first=1))
        self.assertEqual(self.ack(s, r)[3], 1)
        self.collector.wait_count(1)
        self.assertEqual([m for _, m in self.collector.events], [b"<13>real"])

    def test_not_announced(self):
        s, r = self.child(features=False)
        s.sendall(event_frame([b"<13>x"], first=1))
        self.assertNotEqual(wait_closed(s, 10)[0], "timeout")
        self.top.d("ep").wait_log(r"EVENT, but the peer did not announce events")

    def test_ack_from_child(self):
        s, r = self.child()
        s.sendall(frame(EVENT_ACK, payload=stream(b"gwx", b"syslog", 7) + struct.pack(">QI", 1, 0)))
        self.assertNotEqual(wait_closed(s, 10)[0], "timeout")
        self.top.d("ep").wait_log(r"EVENT_ACK from a child")


if __name__ == "__main__":
    unittest.main()
