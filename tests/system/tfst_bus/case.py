# SPDX-License-Identifier: GPL-2.0-or-later
"""DbusTestCase: a private bus with polkitd per test class
(sysbus.PrivateBusMixin) and, per test, the chain the D-Bus tests run
against (client -> gwproxy@dmz-3 "gw1" -> relay@2 "relay1" -> epproxy@1
"ep" -> target), with waits on what the daemons publish and calls as an
unprivileged user through gdbus."""

import os
import re
import sys

from tfst_testlib import SLOW, TfstTestCase, linear_chain, wait_until

from .api import IFACE, OBJ, bus_name, now_us
from .client import Client, DBusCallError, Monitor, PropertyWatch
from .sysbus import BUILDDIR, GLib, PrivateBusMixin
from .traffic import Session, cmd_handler

TFSTCTL = os.environ.get("TFSTCTL") or os.path.join(BUILDDIR, "tfstctl", "tfstctl")

NAME_TIMEOUT = 15 * SLOW
SETTLE = 5 * SLOW  # counters and lists catch up with what the sockets saw

# Instance names: a plain one, and one that needs escaping in the bus name.
EP_INSTANCE, RELAY_INSTANCE, GW_INSTANCE = "1", "2", "dmz-3"
LABELS = {"epproxy": "ep", "relay": "relay1", "gwproxy": "gw1"}
INSTANCES = {"epproxy": EP_INSTANCE, "relay": RELAY_INSTANCE, "gwproxy": GW_INSTANCE}
ROLE_OF_LABEL = {v: k for k, v in LABELS.items()}


class DbusTestCase(PrivateBusMixin, TfstTestCase):
    """One private bus + polkitd per test class; each test its own chain."""

    def setUp(self):
        super().setUp()
        self.dbus = Client(self.bus)
        self.addCleanup(self.dbus.close)
        self.addCleanup(self._report_bus_on_failure)

    def _report_bus_on_failure(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True):
            sys.stderr.write(self.bus.log_text(30) + "\n")

    # -- the chain --

    def make_chain(self, wait_names=True):
        self.srv = self.server(cmd_handler)
        top = linear_chain(self, relays=1, up={"web": self.srv.addr},
                           ep_instance=EP_INSTANCE, relay_instance=RELAY_INSTANCE,
                           gw_instance=GW_INSTANCE)
        self.top = top
        self.t_start_us = now_us()
        top.start()
        top.wait_converged()
        self.t_ready_us = now_us()
        self.web = top.listen_addr("gw1", "web")
        self.names = {label: bus_name(role, INSTANCES[role]) for role, label in LABELS.items()}
        if wait_names:
            for label in ("ep", "relay1", "gw1"):
                self.wait_name(label)
            self.wait_settled()
        return top

    def wait_settled(self, timeout=SETTLE):
        """Properties follow the data plane in rate-limited snapshots: waits
        until every instance shows the converged chain and State running."""
        for label in ("ep", "relay1", "gw1"):
            name = self.names[label]
            wait_until(lambda: self.dbus.get(name, "State") == "running"
                       and len(self.dbus.get(name, "Chain")) == 3, timeout, interval=0.05,
                       what=f"{label}: State running and the whole chain in the properties")

    def d(self, label):
        return self.top.d(label)

    def wait_name(self, label, timeout=NAME_TIMEOUT):
        d = self.d(label)
        name = self.names[label]
        try:
            return self.bus.wait_name(name, timeout, proc=d.proc)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{d.log_tail()}") from None

    def session(self, source="127.0.0.2"):
        return Session(self, self.web, source)

    def open_traffic(self):
        """Three sessions, two from 127.0.0.2 and one from 127.0.0.3, each
        with its own byte counts both ways; returns them."""
        plan = (("127.0.0.2", 1000, 70001), ("127.0.0.2", 250000, 17),
                ("127.0.0.3", 3, 1000000))
        out = []
        for src, n_up, n_down in plan:
            s = self.session(src)
            s.exchange(n_up, n_down)
            out.append(s)
        return out

    def wait_counts(self, label, sess):
        """Waits until ListSessions on label shows exactly the byte counts
        of sess; returns the list."""
        want = sorted((s.up, s.down) for s in sess)
        return self.wait_sessions(
            label, lambda lst: sorted((x["bytes_to_target"], x["bytes_to_client"])
                                      for x in lst) == want, f"the byte counts {want}")

    def session_id(self, label, s):
        """The id label gives session s (found by its byte counts)."""
        lst = self.wait_sessions(label, lambda lst: any(
            (x["bytes_to_target"], x["bytes_to_client"]) == (s.up, s.down) for x in lst),
            f"a session with {s.up}/{s.down} bytes")
        return next(x["id"] for x in lst
                    if (x["bytes_to_target"], x["bytes_to_client"]) == (s.up, s.down))

    def wait_sessions(self, label, pred, what, timeout=SETTLE):
        """Polls ListSessions on label until pred(list) is true; returns the
        list.  The failure message shows the last list."""
        last = []

        def check():
            nonlocal last
            last = self.dbus.sessions(self.names[label])
            return pred(last)

        try:
            wait_until(check, timeout, interval=0.1, what=what)
        except AssertionError as e:
            raise AssertionError(f"{label}: {e}\nlast ListSessions: {last}") from None
        return last

    def wait_count(self, label, n, timeout=SETTLE):
        wait_until(lambda: self.dbus.get(self.names[label], "SessionCount") == n, timeout,
                   interval=0.1, what=f"{label}: SessionCount == {n}")

    def monitor(self, name):
        m = Monitor(self.bus, name)
        self.addCleanup(m.close)
        return m

    def watch_properties(self, name):
        m = self.monitor(name)
        return PropertyWatch(self, m, name)

    def grant(self, action, user="nobody"):
        """A polkit rule granting action to user, revoked at cleanup."""
        path = self.bus.grant(action, user)

        def revoke():
            if path in self.bus._rules:
                self.bus.revoke(path, action, user)

        self.addCleanup(revoke)
        return path

    def assertDBusError(self, err_name, fn, *args, contains=(), **kw):
        with self.assertRaises(DBusCallError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.name, err_name, cm.exception)
        for c in ([contains] if isinstance(contains, str) else contains):
            self.assertIn(c, cm.exception.message, cm.exception)
        return cm.exception

    # -- calls as another user, through gdbus --

    def gdbus_as(self, name, method, *args, iface=IFACE, user="nobody", timeout=15, obj=OBJ):
        """gdbus call as user; returns the unpacked reply or raises
        DBusCallError."""
        argv = ["gdbus", "call", "--address", self.bus.address, "--dest", name,
                "--object-path", obj, "--timeout", str(int(timeout)), "--method",
                f"{iface}.{method}", *args]
        r = self.bus.run(argv, user=user, timeout=timeout + 15)
        if r.returncode == 0:
            return GLib.Variant.parse(None, r.stdout.strip(), None, None).unpack()
        m = re.search(r"GDBus\.Error:([\w.]+): (.*)", r.stderr, re.S)
        if not m:
            raise AssertionError(f"gdbus as {user} failed without a D-Bus error "
                                 f"({r.returncode}): {r.stderr.strip()}")
        raise DBusCallError(m.group(1), m.group(2).strip())
