# SPDX-License-Identifier: GPL-2.0-or-later
"""The hop protocol as a hostile peer speaks it (docs/protocol.md): frame
types, TLV tags, encoders for frames, TLVs and HELLO, and FrameReader to
read what a daemon sends back.  Deliberately independent of the daemon's
encoder, so that the tests can also build frames it would never send."""

import socket
import struct
import time

# Frame types (docs/protocol.md §3).
HELLO, WHO, IAM, TELL, TELL_OK = 1, 2, 3, 4, 5
OPEN, OPEN_OK, OPEN_FAIL, DATA, FIN, RST, CREDIT = 6, 7, 8, 9, 10, 11, 12
PING, PONG, GOAWAY = 13, 14, 15

# TLV tags.
T_LABEL, T_ROLE, T_CHAIN, T_NETWORK, T_FORWARD, T_CLIENT = 1, 2, 3, 4, 5, 6
T_DEST, T_ORIGIN, T_ROUTE, T_WINDOW, T_TEXT, T_ROOTED = 7, 8, 9, 10, 11, 12

ROLE_EPPROXY, ROLE_GWPROXY, ROLE_RELAY = 1, 2, 3
MAX_PAYLOAD = 262144


def frame(ftype, session=0, payload=b"", version=1, flags=0, length=None):
    n = len(payload) if length is None else length
    return struct.pack(">BBHII", version, ftype, flags, session, n) + payload


def tlv(tag, value):
    return struct.pack(">BH", tag, len(value)) + value


def hello(label=b"evil", role=ROLE_GWPROXY):
    payload = b"TFST" + bytes([1, 1]) + tlv(T_ROLE, bytes([role])) + tlv(T_LABEL, label)
    return frame(HELLO, payload=payload)


class FrameReader:
    """Reads the relay's frames (header + payload) from a socket."""

    def __init__(self, s):
        self.s = s
        self.buf = b""
        self.closed = False

    def next(self, timeout):
        """The next (type, session, payload), or None on timeout/close."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 12:
                _, ftype, _, sess, n = struct.unpack(">BBHII", self.buf[:12])
                if len(self.buf) >= 12 + n:
                    payload = self.buf[12:12 + n]
                    self.buf = self.buf[12 + n:]
                    return ftype, sess, payload
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                self.closed = True
                return None
            if not data:
                self.closed = True
                return None
            self.buf += data

    def wait_for(self, ftype, timeout):
        deadline = time.monotonic() + timeout
        while True:
            f = self.next(max(0.0, deadline - time.monotonic()))
            if f is None:
                return None
            if f[0] == ftype:
                return f

