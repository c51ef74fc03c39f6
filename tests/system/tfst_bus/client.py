# SPDX-License-Identifier: GPL-2.0-or-later
"""Talking to a daemon over the private bus as root: Client (method calls
and properties through one GDBusConnection, D-Bus errors raised as
DBusCallError), sv() for a{sv} arguments, Monitor (`gdbus monitor` in the
background, for signals) and PropertyWatch (the properties as a client
following PropertiesChanged sees them)."""

import re
import subprocess
import threading
import time

from tfst_testlib import SLOW, wait_until

from .api import IFACE, OBJ, PROPS, SESSION_FIELDS
from .sysbus import Gio, GLib

class DBusCallError(Exception):
    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def _from_gerror(e):
    m = re.match(r"GDBus\.Error:([\w.]+): (.*)$", e.message, re.S)
    if m:
        return DBusCallError(m.group(1), m.group(2))
    return DBusCallError(None, e.message)


class Client:
    """Method calls as root through one GDBusConnection."""

    def __init__(self, bus):
        self.bus = bus
        self.conn = bus.connect()

    def close(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass

    def call_raw(self, name, method, sig="", args=(), iface=IFACE, timeout=25, fds=None,
                 obj=OBJ):
        params = GLib.Variant(f"({sig})", tuple(args)) if sig else None
        try:
            if fds is not None:
                fdl = Gio.UnixFDList.new()
                for fd in fds:
                    fdl.append(fd)
                r, _ = self.conn.call_with_unix_fd_list_sync(
                    name, OBJ, iface, method, params, None, Gio.DBusCallFlags.NONE,
                    int(timeout * 1000), fdl, None)
                return r
            return self.conn.call_sync(name, obj, iface, method, params, None,
                                       Gio.DBusCallFlags.NONE, int(timeout * 1000), None)
        except GLib.Error as e:
            raise _from_gerror(e) from None

    def call(self, name, method, sig="", args=(), iface=IFACE, timeout=25, fds=None, obj=OBJ):
        """The reply's values, unpacked to Python (a tuple)."""
        return self.call_raw(name, method, sig, args, iface, timeout, fds, obj).unpack()

    def get(self, name, prop, iface=IFACE):
        return self.call(name, "Get", "ss", (iface, prop), iface=PROPS)[0]

    def get_all(self, name, iface=IFACE):
        return self.call(name, "GetAll", "s", (iface,), iface=PROPS)[0]

    def sessions(self, name, flt=None):
        """ListSessions as a list of dicts."""
        flt = {} if flt is None else flt
        raw = self.call(name, "ListSessions", "a{sv}", (flt,))[0]
        return [dict(zip(SESSION_FIELDS, s)) for s in raw]

    def stats(self, name):
        counters, cleared = self.call(name, "GetStatistics")
        return counters, cleared

    def pid_of(self, name):
        r = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                GLib.Variant("(s)", (name,)), None, Gio.DBusCallFlags.NONE,
                                5000, None)
        return r.unpack()[0]


def sv(**kw):
    """a{sv} from keyword arguments: str -> s, bool -> b, int -> u."""
    out = {}
    for k, v in kw.items():
        if isinstance(v, GLib.Variant):
            out[k] = v
        elif isinstance(v, bool):
            out[k] = GLib.Variant("b", v)
        elif isinstance(v, int):
            out[k] = GLib.Variant("u", v)
        else:
            out[k] = GLib.Variant("s", v)
    return out


class Monitor:
    """`gdbus monitor --dest NAME` in the background; .signals() parses what
    it printed into (time, interface.member, args tuple)."""

    LINE_RE = re.compile(r"^(/\S*): ([\w.]+)\.(\w+) (\(.*\))$")

    def __init__(self, bus, name):
        self.proc = subprocess.Popen(["gdbus", "monitor", "--address", bus.address, "--dest",
                                      name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=bus.env())
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        # gdbus prints "The name NAME is owned by :1.N" once it follows the
        # owner (its match rules are in place by then).
        wait_until(lambda: any("is owned by" in ln for _, ln in self.lines), 10,
                   what=f"gdbus monitor to follow {name}")

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append((time.monotonic(), line.rstrip("\n")))

    def signals(self, member=None):
        out = []
        with self.lock:
            lines = list(self.lines)
        for t, line in lines:
            m = self.LINE_RE.match(line)
            if not m:
                continue
            full = f"{m.group(2)}.{m.group(3)}"
            if member is not None and full != member:
                continue
            try:
                args = GLib.Variant.parse(None, m.group(4), None, None).unpack()
            except GLib.Error:
                continue
            out.append((t, full, args))
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.thread.join(5)


class PropertyWatch:
    """The Instance properties as a client following PropertiesChanged sees
    them: the values at the start, updated by every signal.  "The last value
    is always sent": once things settle, that view equals Get()."""

    def __init__(self, tc, monitor, name):
        self.tc = tc
        self.monitor = monitor
        self.name = name
        self.initial = tc.dbus.get_all(name)

    def view(self):
        v = dict(self.initial)
        for _, _, a in self.monitor.signals(f"{PROPS}.PropertiesChanged"):
            if a[0] == IFACE:
                v.update(a[1])
        return v

    def assert_current(self, what, timeout=3 * SLOW):
        """Waits (rate limit: 4 emissions a second) until the signalled view
        equals the properties read now; fails naming the ones that differ."""
        diff = {}

        def same():
            nonlocal diff
            current = self.tc.dbus.get_all(self.name)
            view = self.view()
            diff = {k: (view.get(k), v) for k, v in current.items()
                    if k != "Version" and view.get(k) != v}
            return not diff

        try:
            wait_until(same, timeout, interval=0.2, what="PropertiesChanged to catch up")
        except AssertionError:
            raise AssertionError(f"{self.name} after {what}: PropertiesChanged never sent the "
                                 f"current value of (signalled, current): {diff}") from None
