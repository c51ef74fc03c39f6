# SPDX-License-Identifier: GPL-2.0-or-later
"""A configured listen or local address that is not on this host is refused
at startup (exit 78, the message names the key, the address and the host's
addresses) and on reload (the running configuration stays).

192.0.2.55 is TEST-NET-1 (RFC 5737), on no real interface; ports
26800-26899 on loopback."""

import signal
import socket
import unittest

import tfst_testlib as h

NOT_LOCAL = "192.0.2.55"
EXIT_CONFIG = 78


def can_bind(host):
    """True when bind() to host works here (the address is on this host, or
    net.ipv4.ip_nonlocal_bind=1): then there is nothing to refuse."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


class AddressesTest(h.TfstTestCase):
    def setUp(self):
        super().setUp()
        if can_bind(NOT_LOCAL):
            self.skipTest(f"this host can bind {NOT_LOCAL} (it has the address, or "
                          f"net.ipv4.ip_nonlocal_bind=1)")

    def gw_conf(self, local=None, forward_listen=None):
        conf = f"""[Instance]
Label=gw
[Parent]
Connect=127.0.0.1:{self.port()}
"""
        if local is not None:
            conf += f"LocalAddress={local}\n"
        if forward_listen is not None:
            conf += f"[Forward x]\nListen={forward_listen}\n"
        return conf

    def assert_refused(self, d):
        d.start(wait=False)
        h.wait_until(lambda: d.proc.poll() is not None, 15 * h.SLOW, what=f"{d} to exit")
        rc = d.proc.returncode
        log = d.log()
        d.proc = None  # the expected exit is not a shutdown problem
        self.assertEqual(rc, EXIT_CONFIG, log)
        self.assertIn("invalid configuration: ", log)
        self.assertIn(f"{NOT_LOCAL} is not an address of this host", log)
        self.assertRegex(log, r"this host has: .*127\.0\.0\.1 \(lo")
        # systemctl status shows why (sent before the exit: already queued)
        h.wait_until(lambda: any("STATUS=invalid configuration: " in m and NOT_LOCAL in m
                                 for m in d.notify_messages), 5, what="STATUS= with the reason")
        return log

    def test_local_address_not_on_host_refused(self):
        d = self.daemon("gwproxy", "gw", self.gw_conf(local=NOT_LOCAL))
        log = self.assert_refused(d)
        self.assertIn(f"{d.config_path}:5: [Parent] LocalAddress=: {NOT_LOCAL}", log)

    def test_forward_listen_not_on_host_refused(self):
        port = self.port()
        d = self.daemon("gwproxy", "gw", self.gw_conf(forward_listen=f"{NOT_LOCAL}:{port}"))
        log = self.assert_refused(d)
        self.assertIn(f"{d.config_path}:6: [Forward x] Listen=: {NOT_LOCAL}", log)

    def test_hop_listen_not_on_host_refused(self):
        d = self.daemon("epproxy", "ep", f"""[Instance]
Label=ep
[Children]
Listen={NOT_LOCAL}:{self.port()}
""")
        log = self.assert_refused(d)
        self.assertIn(f"[Children] Listen=: {NOT_LOCAL}", log)

    def test_local_address_on_host_starts(self):
        port = self.port()
        d = self.daemon("gwproxy", "gw",
                        self.gw_conf(local="127.0.0.1", forward_listen=f"127.0.0.1:{port}"))
        d.start()
        self.assertNotIn("not an address of this host", d.log())
        # the forward listener is bound
        s = h.connect(("127.0.0.1", port))
        s.close()
        d.stop()

    def test_ipv4_mapped_listen_starts(self):
        """Listen=[::ffff:127.0.0.1]:PORT is IPv4 traffic on an IPv6
        socket: the address check accepts it and the listener binds (it
        failed with EINVAL while IPv6 listeners were always V6ONLY) and
        takes an IPv4 client."""
        port = self.port()
        d = self.daemon("gwproxy", "gw",
                        self.gw_conf(forward_listen=f"[::ffff:127.0.0.1]:{port}"))
        d.start()
        s = h.connect(("127.0.0.1", port))
        s.close()
        d.stop()

    def test_reload_refused_keeps_running(self):
        hop = self.port()
        d = self.daemon("gwproxy", "gw", f"""[Instance]
Label=gw
[Parent]
Connect=127.0.0.1:{hop}
LocalAddress=127.0.0.1
""")
        d.start()
        with open(d.config_path, "w") as f:
            f.write(f"""[Instance]
Label=gw
[Parent]
Connect=127.0.0.1:{hop}
LocalAddress={NOT_LOCAL}
""")
        d.proc.send_signal(signal.SIGHUP)
        m = d.wait_log(r"reload refused, keeping the running configuration: (.*)$")
        self.assertIn(f"[Parent] LocalAddress=: {NOT_LOCAL} is not an address of this host",
                      m.group(1))
        self.assertIn("127.0.0.1 (lo", m.group(1))
        self.assertTrue(d.alive())
        d.stop()


if __name__ == "__main__":
    unittest.main()
