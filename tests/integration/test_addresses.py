# SPDX-License-Identifier: GPL-2.0-or-later
"""A configured listen or local address that is not on this host is not a
configuration error (it may arrive later: DHCP, VRRP, a slow interface):
the instance starts, the journal says so once (the key, the file and line,
the host's addresses), listeners bind with IP_FREEBIND, and a reload takes
such an address too.  That the listener serves once the address is added
is tests/system/test_freebind_netns.py (it needs a network namespace).

192.0.2.55 is TEST-NET-1 (RFC 5737), on no real interface."""

import re
import signal
import socket
import unittest

import tfst_testlib as h

NOT_LOCAL = "192.0.2.55"
NOTE = f"{NOT_LOCAL} is not an address of this host (yet)"


def can_bind(host):
    """True when bind() to host works here (the address is on this host, or
    net.ipv4.ip_nonlocal_bind=1): then there is nothing to note."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def tcp_listening(ip, port):
    """True when /proc/net/tcp has a listening socket on ip:port."""
    want = "%s:%04X" % (socket.inet_aton(ip)[::-1].hex().upper(), port)
    with open("/proc/net/tcp") as f:
        next(f)
        return any(line.split()[1] == want and line.split()[3] == "0A" for line in f)


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

    def assert_noted_once(self, d):
        """The instance is up and its log has the note once, with the host's
        addresses; returns the note's line."""
        d.start()
        m = d.wait_log(r"NOTICE: (.*" + re.escape(NOTE) + ".*)$")
        self.assertEqual(d.log().count(NOTE), 1, d.log())
        self.assertRegex(m.group(1), r"this host has: .*127\.0\.0\.1 \(lo")
        self.assertNotIn("invalid configuration", d.log())
        return m.group(1)

    def test_local_address_not_on_host_noted(self):
        d = self.daemon("gwproxy", "gw", self.gw_conf(local=NOT_LOCAL))
        note = self.assert_noted_once(d)
        self.assertTrue(note.startswith(f"{d.config_path}:5: [Parent] LocalAddress=: {NOTE}"),
                        note)
        self.assertIn("hops are opened from it once it is assigned", note)
        # the connector keeps trying (the address may come): no exit
        d.wait_log(r"cannot open hop to parent .*: Cannot assign requested address")
        self.assertTrue(d.alive())
        d.stop()

    def test_forward_listen_not_on_host_binds_freebind(self):
        port = self.port()
        d = self.daemon("gwproxy", "gw", self.gw_conf(forward_listen=f"{NOT_LOCAL}:{port}"))
        note = self.assert_noted_once(d)
        self.assertTrue(note.startswith(f"{d.config_path}:6: [Forward x] Listen=: {NOTE}"), note)
        self.assertIn("listening with IP_FREEBIND", note)
        self.assertTrue(tcp_listening(NOT_LOCAL, port), "no listener on the missing address")
        d.stop()

    def test_hop_listen_not_on_host_binds_freebind(self):
        port = self.port()
        d = self.daemon("epproxy", "ep", f"""[Instance]
Label=ep
[Children]
Listen={NOT_LOCAL}:{port}
""")
        note = self.assert_noted_once(d)
        self.assertIn(f"[Children] Listen=: {NOTE}", note)
        self.assertTrue(tcp_listening(NOT_LOCAL, port), "no listener on the missing address")
        d.stop()

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

    def test_reload_takes_missing_address_with_note(self):
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
        m = d.wait_log(r"NOTICE: (.*\[Parent\] LocalAddress=: .*)$")
        self.assertIn(NOTE, m.group(1))
        self.assertIn("127.0.0.1 (lo", m.group(1))
        self.assertNotIn("reload refused", d.log())
        self.assertTrue(d.alive())
        d.stop()


if __name__ == "__main__":
    unittest.main()
