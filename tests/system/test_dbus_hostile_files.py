# SPDX-License-Identifier: GPL-2.0-or-later
"""D-Bus error replies repeat a caller's argument shortened and escaped:
Keepalive echoed an 8 MiB scope string whole, raw control bytes included.
Each hostile argument below gets an InvalidArgs/NotFound error of a few
hundred bytes with no control byte, and the instance keeps answering."""
import os
import sys
import unittest

from gi.repository import GLib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_bus import (E_INVALID, IFACE, KEEPALIVE, TRACE, DbusTestCase,  # noqa: E402
                      DBusCallError)

JUNK = "\x1b]0;owned\x07\n\x7f'\"\\"
REPLY_MAX = 512  # 64 characters of argument, as \xNN at worst, plus the text around


class QuotedErrorsTest(DbusTestCase):
    def assert_quoted(self, name, method, sig, args, iface):
        with self.assertRaises(DBusCallError) as cm:
            self.dbus.call_raw(name, method, sig, args, iface=iface, timeout=60)
        msg = cm.exception.message
        self.assertLess(len(msg), REPLY_MAX, msg[:200])
        self.assertFalse(any(ord(c) < 0x20 or ord(c) == 0x7f for c in msg), repr(msg[:200]))
        self.assertIn("\\x1b]0;owned\\x07\\x0a", msg)
        return cm.exception

    def test_hostile_arguments_are_quoted(self):
        self.make_chain()
        name = self.names["relay1"]
        big = JUNK * (8 * 1024 * 1024 // len(JUNK))
        e = self.assert_quoted(name, "GetSettings", "s", (big,), KEEPALIVE)
        self.assertEqual(e.name, E_INVALID)
        self.assert_quoted(name, "SetSettings", "sa{sv}u", ("hops", {big[:100000]: GLib.Variant("u", 1)}, 0),
                           KEEPALIVE)
        self.assert_quoted(name, "ListSessions", "a{sv}", ({big[:100000]: GLib.Variant("s", "x")},), IFACE)
        self.assert_quoted(name, "Show", "s", (big[:100000],), TRACE)
        # still answering, and nothing was stored
        r = self.dbus.call(name, "GetSettings", "s", ("hops",), iface=KEEPALIVE)
        self.assertIn("Idle", r[0])


if __name__ == "__main__":
    unittest.main()
