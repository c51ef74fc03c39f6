# SPDX-License-Identifier: GPL-2.0-or-later
"""Traffic that spans a fault: Flow, one long-running session that keeps
bytes going both ways through an echo target and checks them by hash to
the end, and Hammer, threads opening short sessions one after another and
recording when each began, ended and whether it failed."""

import hashlib
import socket
import threading
import time

from .env import IO_TIMEOUT, KIB, SLOW
from .net import connect, recv_exact, wait_closed
from .payload import stream_chunks


def _end_kind(exc):
    """How a session ended for the client: 'rst', 'eof', 'timeout' or the
    exception's name."""
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "rst"
    if isinstance(exc, EOFError):
        return "eof"
    if isinstance(exc, socket.timeout):
        return "timeout"
    return type(exc).__name__


class Flow:
    """One session to an echo target that sends a chunk of a deterministic
    stream every `period` seconds and reads its echo back, until stop():
    then it half-closes, reads to EOF and compares the digests of what went
    up and what came back.  outcome: None while running, then 'ok',
    'mismatch' or how it broke ('rst', 'eof', ...)."""

    def __init__(self, addr, seed, chunk=16 * KIB, period=0.01):
        self.addr = addr
        self.seed = seed
        self.chunk = chunk
        self.period = period
        self.outcome = None
        self.error = None
        self.rounds = 0
        self.bytes = 0
        self.ended_at = None
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __repr__(self):
        return f"<Flow seed={self.seed} rounds={self.rounds} outcome={self.outcome} {self.error}>"

    def start(self, wait=True):
        """Starts the flow; with wait, waits for its first echo."""
        self._thread.start()
        return self.wait_open() if wait else self

    def wait_open(self, timeout=10):
        """Waits for the first echo (the session is open end to end)."""
        if not self._started.wait(timeout * SLOW) and self.outcome is None:
            raise AssertionError(f"{self}: no first echo within {timeout * SLOW:.0f}s")
        if self.outcome is not None:
            raise AssertionError(f"{self}: failed at the start")
        return self

    def _run(self):
        up, down = hashlib.sha256(), hashlib.sha256()
        try:
            s = connect(self.addr)
        except OSError as e:
            self._finish(_end_kind(e), repr(e))
            return
        try:
            self._pump(s, up, down)
            s.shutdown(socket.SHUT_WR)
            kind, _, n = wait_closed(s, IO_TIMEOUT)
            ok = kind == "eof" and n == 0 and up.digest() == down.digest()
            self._finish("ok" if ok else "mismatch", f"end {kind} after {n} more bytes")
        except (OSError, EOFError) as e:
            self._finish(_end_kind(e), repr(e))
        finally:
            s.close()

    def _pump(self, s, up, down):
        chunks = stream_chunks(1 << 40, self.seed, self.chunk)
        while not self._stop.is_set():
            data = next(chunks)
            s.sendall(data)
            back = recv_exact(s, len(data))
            up.update(data)
            down.update(back)
            self.rounds += 1
            self.bytes += len(data)
            self._started.set()
            self._stop.wait(self.period)

    def _finish(self, outcome, error):
        self.error = error
        self.ended_at = time.monotonic()
        self.outcome = outcome
        self._started.set()

    def ended(self):
        return self.outcome is not None

    def stop(self, timeout=None):
        """Ends the flow cleanly; returns its outcome."""
        self._stop.set()
        self._thread.join(IO_TIMEOUT if timeout is None else timeout)
        return self.outcome


class Hammer:
    """`threads` threads each opening one short echo session after another
    (connect, 1 KiB there and back, half-close, EOF) until stop().
    attempts: (began, ended, ok, what) in monotonic seconds."""

    def __init__(self, addr, threads=4, timeout=15):
        self.addr = addr
        self.timeout = timeout
        self.attempts = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def _one(self, data):
        s = connect(self.addr, timeout=self.timeout)
        try:
            s.sendall(data)
            if recv_exact(s, len(data), timeout=self.timeout) != data:
                return "echo differs"
            s.shutdown(socket.SHUT_WR)
            kind, _, n = wait_closed(s, self.timeout * SLOW)
            return None if (kind, n) == ("eof", 0) else f"end {kind} after {n} more bytes"
        finally:
            s.close()

    def _run(self, i):
        chunks = stream_chunks(1 << 40, 1000 + i, KIB)
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                what = self._one(next(chunks))
            except (OSError, EOFError) as e:
                what = repr(e)
            with self._lock:
                self.attempts.append((began, time.monotonic(), what is None, what))

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout * SLOW + 5)
        return self

    def count(self):
        with self._lock:
            return len(self.attempts)

    def since(self, t):
        """The attempts that began at or after t."""
        with self._lock:
            return [a for a in self.attempts if a[0] >= t]

    def gap(self, t):
        """Seconds from t to the end of the first attempt begun after t that
        succeeded (None when none did)."""
        ends = [a[1] for a in self.since(t) if a[2]]
        return min(ends) - t if ends else None
