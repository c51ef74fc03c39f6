# SPDX-License-Identifier: GPL-2.0-or-later
"""Loopback ports for tests, leased machine-wide (PortLease)."""

import errno
import random
import socket


class PortLease:
    """Ports for tests, leased machine-wide.  A port is taken only while
    this process holds an abstract unix socket named after it, so two runs
    of the suite (or two checkouts) on one host never hand out the same
    port, and the lock disappears with the process, leaving no file behind.
    A port is also checked to be bindable when leased; nothing assumes it
    stays free after that except against other tfst test runs, which the
    lease covers.  Ports stay below the ephemeral range (32768)."""

    LO, HI = 20000, 32000

    def __init__(self):
        self._held = []

    @staticmethod
    def _bindable(p):
        for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, p))
            except OSError as e:
                if fam == socket.AF_INET or e.errno == errno.EADDRINUSE:
                    return False
            finally:
                s.close()
        return True

    def take(self):
        span = self.HI - self.LO
        start = random.randrange(span)
        for i in range(span):
            p = self.LO + (start + i) % span
            lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                lock.bind(f"\0tfst-test-port-{p}")
            except OSError:
                lock.close()
                continue
            if self._bindable(p):
                self._held.append(lock)
                return p
            lock.close()
        raise AssertionError(f"no free test port in {self.LO}-{self.HI - 1}")

    def release(self):
        for lock in self._held:
            lock.close()
        self._held = []
