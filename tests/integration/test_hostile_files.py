# SPDX-License-Identifier: GPL-2.0-or-later
"""Files the configuration names are read only when they are regular files,
and never beyond a size cap: a FIFO as PSKFile= hung startup, or the control
plane on reload so that SIGTERM went unheard; /dev/zero grew the daemon
without end.  Each case is refused within seconds, with the file, line, key
and reason, and the daemon still stops at once on SIGTERM."""
import os
import signal
import time
import unittest

from tfst_testlib import TfstTestCase

PSK = "gw1:00112233445566778899aabbccddeeff\nep:ffeeddccbbaa99887766554433221100\n"
CONFIG_EXIT = 78  # EX_CONFIG: the configuration is invalid


class HostileFilesTest(TfstTestCase):
    def setUp(self):
        super().setUp()
        self.psk = os.path.join(self.workdir, "psk")
        with open(self.psk, "w") as f:
            f.write(PSK)
        self.fifo = os.path.join(self.workdir, "fifo")
        os.mkfifo(self.fifo)
        self.listen = self.port()

    def config(self, psk_file):
        return (f"[Instance]\nLabel=ep\n[Children]\nListen=127.0.0.1:{self.listen}\n"
                f"TLS=yes\nPSKFile={psk_file}\n")

    def ep(self, psk_file):
        return self.daemon("epproxy", "files", self.config(psk_file), label="ep")

    def assert_start_refused(self, psk_file, reason):
        d = self.ep(psk_file)
        started = time.monotonic()
        d.start(wait=False)
        try:
            rc = d.proc.wait(20)
        except Exception:
            self.fail(f"tfstd still running 20 s after start with PSKFile={psk_file}\n"
                      + d.log_tail())
        d.returncode = rc
        self.assertEqual(rc, CONFIG_EXIT, d.log_tail())
        self.assertRegex(d.log(), r"invalid configuration: .*epproxy@files\.conf:6: \[Children\] "
                         r"PSKFile=: cannot read '" + reason)
        return time.monotonic() - started

    def test_start_with_fifo_psk_file(self):
        self.assert_start_refused(self.fifo, r".*fifo': is a FIFO, not a regular file")

    def test_start_with_dev_zero_psk_file(self):
        self.assert_start_refused("/dev/zero",
                                  r"/dev/zero': is a character device, not a regular file")

    def reload_refused(self, d, reason):
        before = d.count_log(r"reload refused")
        os.kill(d.pid, signal.SIGHUP)
        d.wait_log(r"reload refused, keeping the running configuration: " + reason, timeout=20,
                   after=before)
        self.assertEqual(d.count_log(r"reload refused"), before + 1)

    def test_reload_with_fifo_psk_file(self):
        d = self.ep(self.psk).start()
        with open(d.config_path, "w") as f:
            f.write(self.config(self.fifo))
        self.reload_refused(d, r".*epproxy@files\.conf:6: \[Children\] PSKFile=: cannot read "
                            r"'.*fifo': is a FIFO, not a regular file")
        # The control plane is free: a second reload is answered too, and
        # SIGTERM stops the daemon at once (stop() asserts exit status 0).
        self.reload_refused(d, r".*is a FIFO")
        started = time.monotonic()
        d.stop(timeout=15)
        self.assertLess(time.monotonic() - started, 15)

    def test_reload_with_fifo_as_configuration(self):
        d = self.ep(self.psk).start()
        os.unlink(d.config_path)
        os.mkfifo(d.config_path)
        self.reload_refused(d, r".*epproxy@files\.conf: cannot read the file: is a FIFO, not a "
                            r"regular file")
        d.stop(timeout=15)

    def test_reload_with_oversize_psk_file(self):
        d = self.ep(self.psk).start()
        with open(self.psk, "w") as f:
            f.write(PSK + "#" * (1024 * 1024))
        self.reload_refused(d, r".*PSKFile=: cannot read '.*psk': is larger than 1048576 bytes")
        d.stop(timeout=15)


if __name__ == "__main__":
    unittest.main()
