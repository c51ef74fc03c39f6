# SPDX-License-Identifier: GPL-2.0-or-later
"""Client side of a test connection: connect, read exactly or to EOF,
transfer with digests (xfer), and observe how a connection ends (EOF,
reset, refused, timeout).  Every read is bounded by a timeout."""

import errno
import hashlib
import socket
import struct
import threading
import time

from .env import IO_TIMEOUT, KIB, SLOW
from .payload import stream_chunks


def connect(addr, timeout=10, source=None, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout * SLOW)
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def connect_retry(addr, timeout=10, **kw):
    """connect() retried until the listener is there (after a restart)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        try:
            return connect(addr, **kw)
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def recv_exact(s, n, timeout=None):
    s.settimeout(IO_TIMEOUT if timeout is None else timeout * SLOW)
    buf = bytearray()
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += data
    return bytes(buf)


def recv_until_eof(s, timeout=None):
    s.settimeout(IO_TIMEOUT if timeout is None else timeout * SLOW)
    buf = bytearray()
    while True:
        data = s.recv(64 * KIB)
        if not data:
            return bytes(buf)
        buf += data


def hash_until_eof(s, timeout=None):
    """Reads to EOF; returns (sha256 hex, byte count).  timeout bounds each
    recv."""
    s.settimeout(IO_TIMEOUT if timeout is None else timeout * SLOW)
    h = hashlib.sha256()
    n = 0
    while True:
        data = s.recv(256 * KIB)
        if not data:
            return h.hexdigest(), n
        h.update(data)
        n += len(data)


def xfer(addr, tag, n_up, n_down, seed_up, seed_down, timeout=None):
    """Runs one xfer_handler exchange; returns (sha received, n received,
    seconds).  The caller compares with stream_sha() and the server's
    result."""
    timeout = IO_TIMEOUT if timeout is None else timeout
    t0 = time.monotonic()
    s = connect(addr, timeout=timeout)
    err = []

    def sender():
        try:
            s.sendall(f"XFER {tag} {n_down} {seed_down}\n".encode())
            for chunk in stream_chunks(n_up, seed_up):
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        sha, n = hash_until_eof(s, timeout)
    finally:
        t.join(timeout)
        s.close()
    if err:
        raise err[0]
    return sha, n, time.monotonic() - t0


def wait_closed(s, timeout):
    """Reads (discarding) until the connection ends.  Returns ('rst'|'eof'|
    'timeout', seconds waited, bytes read)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    n = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", time.monotonic() - t0, n
        s.settimeout(left)
        try:
            data = s.recv(256 * KIB)
        except socket.timeout:
            return "timeout", time.monotonic() - t0, n
        except ConnectionResetError:
            return "rst", time.monotonic() - t0, n
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ETIMEDOUT):
                return "rst", time.monotonic() - t0, n
            raise
        if not data:
            return "eof", time.monotonic() - t0, n
        n += len(data)


def probe_refused(addr, data=b"hello?", timeout=5):
    """Connects, sends data and waits for the connection to end.  Returns
    ('rst'|'eof'|'refused'|'timeout', seconds, bytes received).  A reset can
    already surface from connect() itself (SO_ERROR read after the RST)."""
    t0 = time.monotonic()
    try:
        s = connect(addr, timeout=timeout)
    except ConnectionRefusedError:
        return "refused", time.monotonic() - t0, 0
    except ConnectionResetError:
        return "rst", time.monotonic() - t0, 0
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        kind, _, n = wait_closed(s, max(0.1, timeout - (time.monotonic() - t0)))
        return kind, time.monotonic() - t0, n
    finally:
        s.close()


def echo_roundtrip(s, data, timeout=10):
    s.sendall(data)
    return recv_exact(s, len(data), timeout) == data


def recv_line(c, limit=4096):
    buf = bytearray()
    while not buf.endswith(b"\n"):
        b = c.recv(1)
        if not b:
            raise EOFError(f"EOF after {bytes(buf)!r}")
        buf += b
        if len(buf) > limit:
            raise ValueError("line too long")
    return buf.decode().strip()


def abort(s):
    """Closes with RST (SO_LINGER 0)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
