# SPDX-License-Identifier: GPL-2.0-or-later
"""A private system bus with the real polkitd on it, for the D-Bus tests.

These machines have no running system bus and no logind (see
../shared/lab/README.md, exp2_dbus_polkit.sh).  PrivateSystemBus gives a
test one, as root:

- a temp dir (mode 755, so unprivileged clients reach the socket) with a
  dbus-daemon configuration of <type>system</type> listening on
  unix:path=DIR/system_bus_socket, with the default policy of Debian's
  /usr/share/dbus-1/system.conf (deny own="*", deny method calls unless a
  policy file punches a hole, allow replies and signals), the project's
  dbus/org.tfst.Tfst1.conf (from $TFST_SRCDIR) and
  /usr/share/dbus-1/system.d (polkitd's own policy);
- `dbus-daemon --nofork --print-address` on it;
- the built polkit actions ($TFST_BUILDDIR/polkit/org.tfst.Tfst1.policy)
  installed under their real name in /usr/share/polkit-1/actions/ (a file
  that was there before is put back at exit, one we created is removed);
- /usr/lib/polkit-1/polkitd --no-debug on the bus, waited for until
  org.freedesktop.PolicyKit1 has an owner.

It exposes .address (stable across restart_bus()), .env() for child
processes, run_as() to run a command as an unprivileged user with setpriv,
add_rule()/grant()/remove_rule() for polkit rules.d files (polkitd picks them
up through inotify; grant() waits until pkcheck agrees), stop_bus() /
start_bus() / restart_bus() to take the bus away and bring it back on the
same socket path, connect() for a GDBusConnection as root, and
log_text() for the dbus-daemon and polkitd logs.  close() (or leaving the
with block) stops only the processes it started and removes only the files
it wrote.

Skips (unittest.SkipTest with the reason) when not root or when
dbus-daemon, polkitd, setpriv, gdbus, busctl, pkcheck or python3-gi are
missing.  Use /usr/bin/python3: the pyenv python3 on PATH has no gi.
"""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import gi

    gi.require_version("Gio", "2.0")
    from gi.repository import Gio, GLib  # noqa: F401  (re-exported for the tests)
except (ImportError, ValueError):  # the inspector imports this module too
    Gio = GLib = None

# This package lives in tests/system/tfst_bus/.
TESTS_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, TESTS_DIR)
from system_bus_conf import system_bus_config  # noqa: E402  (tests/)
SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(TESTS_DIR)
BUILDDIR = os.environ.get("TFST_BUILDDIR") or os.path.join(SRCDIR, "build")

DBUS_DAEMON = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"
POLKITD = "/usr/lib/polkit-1/polkitd"
ACTIONS_DIR = "/usr/share/polkit-1/actions"
RULES_DIR = "/etc/polkit-1/rules.d"
POLKIT_NAME = "org.freedesktop.PolicyKit1"
# polkit/meson.build: i18n.merge_file(output: 'org.tfst.Tfst1.policy')
POLICY_NAME = "org.tfst.Tfst1.policy"

START_TIMEOUT = 15
CMD_TIMEOUT = 30

NOBODY = "nobody"
NOGROUP = "nogroup"

_rule_counter = itertools.count(1)

# Inside <busconfig>, after the system.conf default policy.
BUS_EXTRA = """  <!-- polkitd switches to the polkitd user, which polkit's own policy lets
       own its name; should it stay root (an older polkitd), root may too. -->
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <!-- The project's policy: who may own org.tfst.Tfst1.*, who may call. -->
  <include>{policy}</include>
  <!-- polkitd's policy (org.freedesktop.PolicyKit1.conf) and whatever else
       the machine has installed there. -->
  <includedir>/usr/share/dbus-1/system.d</includedir>
"""


def environment_problem():
    """None when a private bus with polkitd can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root (a polkit action file, polkitd, clients as other users)"
    if Gio is None:
        return "python3-gi is missing (run the tests with /usr/bin/python3)"
    for tool, path in (("dbus-daemon", DBUS_DAEMON), ("polkitd", POLKITD)):
        if not os.access(path, os.X_OK):
            return f"{tool} not found at {path} (tools/deps installs it)"
    for tool in ("setpriv", "gdbus", "busctl", "pkcheck", "pkaction"):
        if shutil.which(tool) is None:
            return f"{tool} not found (tools/deps installs it)"
    policy = os.path.join(SRCDIR, "dbus", "org.tfst.Tfst1.conf")
    if not os.path.exists(policy):
        return f"the bus policy {policy} is missing (TFST_SRCDIR?)"
    actions = os.path.join(BUILDDIR, "polkit", POLICY_NAME)
    if not os.path.exists(actions):
        return f"the built polkit actions {actions} are missing (TFST_BUILDDIR? not built?)"
    return None


def setpriv_argv(user=NOBODY, group=NOGROUP):
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups", "--"]


def _wait(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class PrivateSystemBus:
    """See the module docstring.  Use as a context manager, or call
    start() / close() (close() is safe to call twice and after a failed
    start())."""

    def __init__(self, srcdir=None, builddir=None, polkit=True):
        self.srcdir = srcdir or SRCDIR
        self.builddir = builddir or BUILDDIR
        self.with_polkit = polkit
        self.dir = None
        self.socket_path = None
        self.address = None
        self.config_path = None
        self.bus_proc = None
        self.polkit_proc = None
        self._logs = []
        self._log_files = []
        self._rules = []
        self._action_path = os.path.join(ACTIONS_DIR, POLICY_NAME)
        self._action_saved = None  # bytes of a file that was there before
        self._action_installed = False
        self._closed = False

    # -- context manager --

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- setup --

    def start(self):
        why = environment_problem()
        if why:
            raise unittest.SkipTest(why)
        try:
            self.dir = tempfile.mkdtemp(prefix="tfst-sysbus-")
            os.chmod(self.dir, 0o755)
            self.socket_path = os.path.join(self.dir, "system_bus_socket")
            self.address = f"unix:path={self.socket_path}"
            self.config_path = os.path.join(self.dir, "system.conf")
            with open(self.config_path, "w") as f:
                f.write(system_bus_config(self.dir, BUS_EXTRA.format(
                    policy=os.path.abspath(os.path.join(self.srcdir, "dbus",
                                                        "org.tfst.Tfst1.conf")))))
            self.start_bus(polkit=False)
            if self.with_polkit:
                self._install_actions()
                self._start_polkitd()
        except BaseException:
            self.close()
            raise
        return self

    def env(self, base=None):
        """An environment for child processes: base (default os.environ)
        with DBUS_SYSTEM_BUS_ADDRESS set to this bus."""
        env = dict(os.environ if base is None else base)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        return env

    def _logfile(self, name):
        path = os.path.join(self.dir, f"{name}.{len(self._log_files) + 1}.log")
        self._log_files.append(path)
        return open(path, "wb")

    def start_bus(self, polkit=True):
        """Starts dbus-daemon on the socket path (again, after stop_bus());
        with polkit (and a fixture with polkit), polkitd is (re)started on it
        too, since polkitd does not survive the loss of its bus."""
        assert self.bus_proc is None or self.bus_proc.poll() is not None, "bus already running"
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        addr_file = os.path.join(self.dir, "address")
        with open(addr_file, "wb") as out, self._logfile("dbus-daemon") as err:
            self.bus_proc = subprocess.Popen(
                [DBUS_DAEMON, f"--config-file={self.config_path}", "--nofork", "--nopidfile",
                 "--nosyslog", "--print-address=1"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True)

        def ready():
            if self.bus_proc.poll() is not None:
                raise AssertionError(f"dbus-daemon exited with status {self.bus_proc.returncode}:"
                                     f"\n{self.log_text()}")
            with open(addr_file) as f:
                return f.read().strip()

        printed = _wait(ready, START_TIMEOUT, "dbus-daemon to print its address")
        if self.socket_path not in printed:
            raise AssertionError(f"dbus-daemon listens on {printed}, not {self.address}")
        if polkit and self.with_polkit:
            self._start_polkitd()

    def stop_bus(self):
        """Stops dbus-daemon (SIGTERM, then SIGKILL); every client loses its
        connection.  polkitd is stopped too."""
        self._stop_proc(self.polkit_proc)
        self._stop_proc(self.bus_proc)

    def restart_bus(self, downtime=0.0):
        self.stop_bus()
        if downtime:
            time.sleep(downtime)
        self.start_bus()

    def bus_running(self):
        return self.bus_proc is not None and self.bus_proc.poll() is None

    def _install_actions(self):
        src = os.path.join(self.builddir, "polkit", POLICY_NAME)
        with open(src, "rb") as f:
            data = f.read()
        try:
            with open(self._action_path, "rb") as f:
                old = f.read()
        except FileNotFoundError:
            old = None
        if old == data:
            return  # already installed (by an installation or another run): leave it
        self._action_saved = old
        tmp = self._action_path + f".tfst-test-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self._action_path)
        self._action_installed = True

    def _restore_actions(self):
        if not self._action_installed:
            return
        self._action_installed = False
        if self._action_saved is None:
            try:
                os.unlink(self._action_path)
            except FileNotFoundError:
                pass
        else:
            tmp = self._action_path + f".tfst-test-{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(self._action_saved)
            os.chmod(tmp, 0o644)
            os.rename(tmp, self._action_path)

    def _start_polkitd(self):
        self._stop_proc(self.polkit_proc)
        with self._logfile("polkitd") as log:
            self.polkit_proc = subprocess.Popen(
                [POLKITD, "--no-debug"], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.env(), close_fds=True)
        self.wait_name(POLKIT_NAME, START_TIMEOUT, proc=self.polkit_proc)

    # -- names and calls --

    def connect(self):
        """A new GDBusConnection to this bus, as the test process (root)."""
        return Gio.DBusConnection.new_for_address_sync(
            self.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def name_owner(self, name):
        """The unique name owning name, or None (also when the bus is down)."""
        try:
            conn = self.connect()
        except GLib.Error:
            return None
        try:
            r = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetNameOwner",
                               GLib.Variant("(s)", (name,)), GLib.VariantType("(s)"),
                               Gio.DBusCallFlags.NONE, 5000, None)
            return r.unpack()[0]
        except GLib.Error:
            return None
        finally:
            try:
                conn.close_sync(None)
            except GLib.Error:
                pass

    def wait_name(self, name, timeout, proc=None):
        """Waits until name has an owner on the bus; returns the owner."""
        deadline = time.monotonic() + timeout
        while True:
            owner = self.name_owner(name)
            if owner:
                return owner
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"{name}: its process exited with status {proc.returncode} "
                                     f"before owning the name\n{self.log_text()}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"{name} did not appear on {self.address} within "
                                     f"{timeout:.0f}s\n{self.log_text()}")
            time.sleep(0.1)

    def run(self, argv, user=None, input=None, timeout=CMD_TIMEOUT, env=None):
        """Runs argv with DBUS_SYSTEM_BUS_ADDRESS set, as root or (user) as
        that user through setpriv; returns the CompletedProcess (text)."""
        e = self.env(env)
        if user not in (None, "root"):
            # Nothing of root's may leak into an unprivileged client.
            e["HOME"] = "/"
            e.pop("XDG_RUNTIME_DIR", None)
            e.pop("DBUS_SESSION_BUS_ADDRESS", None)
            group = NOGROUP if user == NOBODY else user
            argv = setpriv_argv(user, group) + list(argv)
        # stdin is never a terminal: no client may start a password prompt.
        stdin = subprocess.DEVNULL if input is None else None
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e,
                              input=input, stdin=stdin, cwd="/")

    def run_as(self, argv, user=NOBODY, **kw):
        return self.run(argv, user=user, **kw)

    # -- polkit --

    def pkcheck(self, action, user=NOBODY):
        """pkcheck for a process of user (a shell that execs pkcheck on its
        own pid): True when authorized."""
        r = self.run(["sh", "-c", f'exec pkcheck --action-id "{action}" --process $$'],
                     user=user)
        return r.returncode == 0

    def add_rule(self, js, settle=1.5):
        """Writes a polkit rules.d JavaScript file with a unique name and
        waits settle seconds for polkitd's inotify reload; returns the
        path (for remove_rule)."""
        path = os.path.join(RULES_DIR, f"40-tfst-test-{os.getpid()}-{next(_rule_counter)}.rules")
        tmp = os.path.join(RULES_DIR, f".{os.path.basename(path)}.tmp")
        with open(tmp, "w") as f:
            f.write(js)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
        self._rules.append(path)
        if settle:
            time.sleep(settle)
        return path

    def remove_rule(self, path, settle=1.5):
        if path in self._rules:
            self._rules.remove(path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        if settle:
            time.sleep(settle)

    def grant(self, action, user=NOBODY, timeout=10):
        """Adds a rule that grants action to user (polkit.Result.YES) and
        waits until pkcheck for a process of user says authorized.
        Returns the rule's path."""
        js = ("polkit.addRule(function(action, subject) {\n"
              f'    if (action.id == "{action}" && subject.user == "{user}")\n'
              "        return polkit.Result.YES;\n"
              "});\n")
        path = self.add_rule(js, settle=0)
        _wait(lambda: self.pkcheck(action, user), timeout,
              f"polkitd to apply the rule granting {action} to {user}", interval=0.2)
        return path

    def revoke(self, path, action, user=NOBODY, timeout=10):
        """Removes a rule from grant() and waits until pkcheck refuses."""
        self.remove_rule(path, settle=0)
        _wait(lambda: not self.pkcheck(action, user), timeout,
              f"polkitd to drop the rule granting {action} to {user}", interval=0.2)

    # -- diagnostics --

    def log_text(self, tail=60):
        out = []
        for p in self._log_files:
            try:
                with open(p, errors="replace") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            out.append(f"--- {os.path.basename(p)} (last {min(tail, len(lines))} lines)")
            out += lines[-tail:]
        return "\n".join(out)

    # -- teardown --

    @staticmethod
    def _stop_proc(proc, timeout=5):
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def close(self):
        if self._closed:
            return
        self._closed = True
        errors = []
        for path in list(self._rules):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                errors.append(f"rule {path}: {e}")
        self._rules.clear()
        for proc in (self.polkit_proc, self.bus_proc):
            try:
                self._stop_proc(proc)
            except Exception as e:  # keep cleaning up
                errors.append(repr(e))
        try:
            self._restore_actions()
        except OSError as e:
            errors.append(f"polkit actions {self._action_path}: {e}")
        if self.dir is not None:
            logdir = os.environ.get("TFST_TEST_LOGDIR")
            if logdir:
                try:
                    os.makedirs(logdir, exist_ok=True)
                    for p in self._log_files:
                        if os.path.exists(p):
                            shutil.copy(p, os.path.join(
                                logdir, f"sysbus.{os.getpid()}.{os.path.basename(p)}"))
                except OSError:
                    pass
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise AssertionError("PrivateSystemBus cleanup: " + "; ".join(errors))


class PrivateBusMixin:
    """For a unittest.TestCase: one PrivateSystemBus (with polkitd) per
    class in cls.bus, started in setUpClass and closed in tearDownClass.
    The class is skipped, saying why, when environment_problem() (which a
    subclass may extend) finds the machine unfit.  setUp brings back a bus
    a failed test left down and points daemons at it (self.daemon_env)."""

    bus = None

    @classmethod
    def environment_problem(cls):
        return environment_problem()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = cls.environment_problem()
        if why:
            print(f"SKIP {cls.__module__}: {why}", file=sys.stderr, flush=True)
            raise unittest.SkipTest(why)
        cls.bus = PrivateSystemBus()
        cls.bus.start()

    @classmethod
    def tearDownClass(cls):
        if cls.bus is not None:
            cls.bus.close()
            cls.bus = None
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        if not self.bus.bus_running():
            self.bus.start_bus()
        self.daemon_env = {"DBUS_SYSTEM_BUS_ADDRESS": self.bus.address}
