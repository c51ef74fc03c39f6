# SPDX-License-Identifier: GPL-2.0-or-later
"""TfstTestCase: the base of the integration tests (a work directory,
leased ports, daemons and servers cleaned up and checked at the end)."""

import os
import shutil
import sys
import tempfile
import unittest

from .daemon import Daemon
from .env import TFSTD, raise_nofile, tfstd_sanitized
from .net import connect
from .ports import PortLease
from .servers import EchoServer, ThreadedServer


class TfstTestCase(unittest.TestCase):
    """Base for integration tests: a work directory, ports leased from
    PortLease for the length of the test, daemons stopped and checked at
    the end."""

    NOFILE = 8192

    @classmethod
    def setUpClass(cls):
        if not os.access(TFSTD, os.X_OK):
            raise unittest.SkipTest(f"tfstd not built: {TFSTD}")
        raise_nofile(cls.NOFILE)

    def setUp(self):
        self._ports = PortLease()
        self.addCleanup(self._ports.release)  # runs last: after the daemons stopped
        self.workdir = tempfile.mkdtemp(prefix="tfst-")
        self.addCleanup(shutil.rmtree, self.workdir, True)
        self._daemons = []
        # Extra environment for daemons created from now on.  The state
        # directory (event spools, persisted drop-ins) is the test's own, so
        # no test writes to the host's /var/lib/tfst.
        self.daemon_env = {"STATE_DIRECTORY": os.path.join(self.workdir, "state")}
        self.addCleanup(self._stop_daemons)  # runs after the servers close (LIFO)
        self._log_prefix = self.id()

    def port(self):
        return self._ports.take()

    def require_plain_rss(self):
        """Call after a case's other assertions, before those on a daemon's
        RSS: under AddressSanitizer RSS measures the sanitizer's allocator
        (redzones, quarantine, shadow pages), so those bounds are asserted
        in the plain build and the case reports itself skipped here."""
        if tfstd_sanitized():
            self.skipTest("RSS bounds are asserted in the plain build: under AddressSanitizer "
                          "RSS measures the sanitizer's allocator")

    def addr(self, host="127.0.0.1"):
        return (host, self.port())

    def daemon(self, role, instance, config, label=None):
        d = Daemon(role, instance, config, self.workdir, self._log_prefix, label=label)
        d.env = dict(self.daemon_env)
        self._daemons.append(d)
        return d

    def _stop_daemons(self):
        problems = []
        for d in reversed(self._daemons):
            try:
                problems += d.stop(check=False)
            except Exception as e:
                problems.append(f"{d}: stop failed: {e!r}")
        failed = False
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True):
            failed = True
        if failed or problems:
            for d in self._daemons:
                for p in d.log_paths:
                    sys.stderr.write(f"daemon log: {p}\n")
                if d.log_path:
                    sys.stderr.write(d.log_tail(25) + "\n")
        if problems:
            raise AssertionError("daemon shutdown problems:\n" + "\n".join(problems))

    # -- servers, closed at cleanup --

    def echo_server(self, addr=None):
        s = EchoServer(addr or self.addr())
        self.addCleanup(s.close)
        return s

    def server(self, handler, addr=None):
        s = ThreadedServer(addr or self.addr(), handler)
        self.addCleanup(s.close)
        return s

    def closed_port(self):
        """A port of our block with nothing listening."""
        return self.addr()

    def client(self, addr, **kw):
        s = connect(addr, **kw)
        self.addCleanup(s.close)
        return s
