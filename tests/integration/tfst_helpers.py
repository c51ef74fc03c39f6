# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared helpers for the tfst integration tests.

Everything here is stdlib only and every wait is bounded: a test that finds a
broken daemon must fail with a message, never hang.

- Daemon: one tfstd process with a generated config, readiness via a fake
  NOTIFY_SOCKET, its stderr log in TFST_TEST_LOGDIR (tools/test greps those
  for sanitizer reports), fd / memory / chain-view inspection, clean stop.
- Topology: builds a chain or tree of daemons (epproxy root, relays, gateway
  proxies) with forwards, allocates their ports, knows the label chain each
  component must end up with.
- Servers (EchoServer, ThreadedServer + handlers) and client helpers that move
  deterministic pseudo-random streams and compare sha256 digests.
- ss helpers to look for CLOSE_WAIT / lingering sockets of a process.
- TfstTestCase: per-test work dir, ports leased machine-wide (PortLease), cleanup
  that stops every daemon and checks its exit.
"""

import atexit
import errno
import hashlib
import os
import queue
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("TFST_BUILDDIR") or os.path.join(SRCDIR, "build")
TFSTD = os.environ.get("TFSTD") or os.path.join(BUILDDIR, "daemon", "tfstd")

_sanitized = None


def tfstd_sanitized():
    """True when tfstd is built with AddressSanitizer (slower, and its heap
    keeps freed memory in a quarantine, which inflates VmRSS)."""
    global _sanitized
    if _sanitized is None:
        try:
            r = subprocess.run(["ldd", TFSTD], capture_output=True, text=True, timeout=10)
            _sanitized = "libasan" in r.stdout
        except (OSError, subprocess.SubprocessError):
            _sanitized = False
    return _sanitized


# Sanitizer builds are slower: scale the generous bounds (not the limits a
# test asserts as a requirement, such as "reset within 5s").
SLOW = float(os.environ.get("TFST_TEST_SLOW", 2.0 if tfstd_sanitized() else 1.0))

READY_TIMEOUT = 15 * SLOW
STOP_TIMEOUT = 15 * SLOW
CONVERGE_TIMEOUT = 20 * SLOW
IO_TIMEOUT = 30 * SLOW

SANITIZER_RE = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                          r"SUMMARY: UndefinedBehaviorSanitizer)")
CHAIN_RE = re.compile(r"routingManager: chain known:(.*)$")

KIB = 1024
MIB = 1024 * 1024

_all_daemons = []
_logdir = None
_log_counter = 0
_log_lock = threading.Lock()


def log_dir():
    """TFST_TEST_LOGDIR, or one temp dir per test process (kept for reading)."""
    global _logdir
    if _logdir is None:
        d = os.environ.get("TFST_TEST_LOGDIR")
        if d:
            os.makedirs(d, exist_ok=True)
            _logdir = d
        else:
            _logdir = tempfile.mkdtemp(prefix="tfst-test-logs-")
    return _logdir


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def _unique_log_path(prefix):
    global _log_counter
    with _log_lock:
        _log_counter += 1
        n = _log_counter
    safe = re.sub(r"[^A-Za-z0-9_.@-]", "_", prefix)
    return os.path.join(log_dir(), f"{safe}.{os.getpid()}.{n}.log")


@atexit.register
def _kill_leftovers():
    for d in list(_all_daemons):
        try:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait(5)
        except Exception:
            pass


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value, which is returned; raises
    AssertionError naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # the condition may raise while things settle
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


def raise_nofile(n):
    """Raises this process's RLIMIT_NOFILE soft limit (daemons started later
    inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def asan_small_quarantine_env():
    """Environment for daemons whose memory a test measures: a small ASan
    quarantine (use-after-free detection stays on, RSS stays meaningful)."""
    if not tfstd_sanitized():
        return {}
    opts = os.environ.get("ASAN_OPTIONS", "")
    extra = "quarantine_size_mb=4:thread_local_quarantine_size_kb=256"
    return {"ASAN_OPTIONS": f"{opts}:{extra}" if opts else extra}


def tfstd_version():
    r = subprocess.run([TFSTD, "--version"], capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout + r.stderr


# --------------------------------------------------------------------------
# Daemon


def parse_chain(text):
    """'ep@-2 relay1@-1 relay2@0' -> {'ep': -2, 'relay1': -1, 'relay2': 0}"""
    out = {}
    for tok in text.split():
        label, _, depth = tok.rpartition("@")
        if not label:
            raise ValueError(f"bad chain token {tok!r}")
        out[label] = int(depth)
    return out


def _proc_state(pid):
    """The state letter of /proc/PID/stat ("T": stopped), "" when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(d))
    return kids


class Daemon:
    """One tfstd process.  The config text is written to workdir; stderr and
    stdout go to a unique log file.  Restart keeps role, config and ports and
    opens a new log file (the old one stays for the sanitizer scan)."""

    def __init__(self, role, instance, config, workdir, log_prefix, label=None):
        self.role = role
        self.instance = instance
        self.label = label or instance
        self.config_text = config
        self.workdir = workdir
        self.log_prefix = log_prefix
        self.config_path = os.path.join(workdir, f"{role}@{instance}.conf")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.proc = None
        self.log_path = None
        self.log_paths = []
        self.returncode = None
        self._notify_sock = None
        self._notify_thread = None
        self._notify_stop = threading.Event()
        self._ready = threading.Event()
        self.notify_messages = []
        self.env = {}  # extra environment for the process
        # Run tfstd through a launcher (`ip netns exec NS`,
        # systemd-socket-activate …) and/or with extra options.
        self.argv_prefix = []
        self.extra_args = []
        self.frozen = False
        _all_daemons.append(self)

    def __repr__(self):
        pid = self.proc.pid if self.proc else None
        return f"<tfstd {self.role}@{self.instance} label={self.label} pid={pid}>"

    # -- lifecycle --

    def _open_notify(self):
        path = os.path.join(self.workdir, f"n-{self.instance}.sock")
        if len(path) > 100:
            path = os.path.join(tempfile.mkdtemp(prefix="tfstn"), "n.sock")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.settimeout(0.2)
        self._notify_sock = s
        self._notify_stop = threading.Event()
        self._ready = threading.Event()
        # Drain continuously: a full datagram queue would block sd_notify().
        t = threading.Thread(target=self._notify_loop, args=(s, self._notify_stop, self._ready),
                             daemon=True)
        t.start()
        self._notify_thread = t
        return path

    def _notify_loop(self, s, stop, ready):
        while not stop.is_set():
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode(errors="replace")
            self.notify_messages.append(text)
            if "READY=1" in text.split("\n"):
                ready.set()

    def _close_notify(self):
        if self._notify_sock is not None:
            self._notify_stop.set()
            if self._notify_thread is not None:
                self._notify_thread.join(2)
            path = self._notify_sock.getsockname()
            self._notify_sock.close()
            self._notify_sock = None
            try:
                os.unlink(path)
            except (OSError, TypeError):
                pass

    def start(self, wait=True, timeout=None):
        assert self.proc is None or self.proc.poll() is not None, f"{self} already running"
        self._close_notify()
        notify_path = self._open_notify()
        self.log_path = _unique_log_path(f"{self.log_prefix}.{self.role}-{self.instance}")
        self.log_paths.append(self.log_path)
        env = dict(os.environ)
        env.update(self.env)
        env["NOTIFY_SOCKET"] = notify_path
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        env.pop("JOURNAL_STREAM", None)  # log to stderr, not journald
        argv = self.argv_prefix + [TFSTD, f"--role={self.role}", f"--instance={self.instance}",
                                   f"--config={self.config_path}"] + self.extra_args
        if shutil.which("setpriv"):
            # Die with the test process, even when meson kills it on timeout.
            argv = ["setpriv", "--pdeathsig", "KILL", "--"] + argv
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        self.returncode = None
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=None):
        timeout = READY_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(f"{self} exited with status {rc} before READY=1\n"
                                     f"{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self} sent no READY=1 within {timeout:.0f}s\n"
                                     f"{self.log_tail()}")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, as a crash would; no exit checks."""
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.returncode = self.proc.wait(10)
        self._close_notify()

    def stacks(self):
        """Where the process's threads are (gdb backtraces when gdb is
        installed, else kernel wait channels): for a report on a hang."""
        pid = self.pid
        out = []
        # Kernel view first (works even when the process is being traced,
        # e.g. by LeakSanitizer's StopTheWorld tracer at exit).
        for p in [pid] + _children_of(pid):
            try:
                with open(f"/proc/{p}/status") as f:
                    st = {k: v.strip() for k, _, v in (ln.partition(":") for ln in f)}
                out.append(f"process {p} ({st.get('Name')}): state {st.get('State')}, "
                           f"TracerPid {st.get('TracerPid')}")
                for tid in sorted(os.listdir(f"/proc/{p}/task")):
                    with open(f"/proc/{p}/task/{tid}/wchan") as f:
                        wchan = f.read().strip()
                    with open(f"/proc/{p}/task/{tid}/stat") as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                    with open(f"/proc/{p}/task/{tid}/comm") as f:
                        comm = f.read().strip()
                    out.append(f"  thread {tid} ({comm}): state {state}, wchan {wchan}")
            except OSError as e:
                out.append(f"  {p}: {e!r}")
        if shutil.which("gdb"):
            try:
                r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx",
                                    "-ex", "thread apply all bt 30"],
                                   capture_output=True, text=True, timeout=60)
                lines = [ln for ln in r.stdout.splitlines()
                         if ln.startswith(("Thread", "#"))]
                out += lines or ["gdb: " + " ".join(r.stderr.split()[-30:])]
            except (OSError, subprocess.SubprocessError) as e:
                out.append(f"gdb: {e!r}")
        return "\n".join(out)

    def freeze(self):
        """SIGSTOP: the process hangs, its sockets stay open (a dead peer
        that only application-level liveness can detect)."""
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)
        self.frozen = False

    def restart(self, wait=True):
        if self.alive():
            self.stop()
        return self.start(wait=wait)

    def stop(self, check=True, timeout=None):
        """SIGTERM, then SIGKILL after timeout.  With check: asserts exit
        status 0 on SIGTERM and no sanitizer report in the log.  Returns the
        list of problems (empty when fine) when check is False."""
        timeout = STOP_TIMEOUT if timeout is None else timeout
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            # A frozen daemon is thawed first, and only then told to stop: a
            # SIGCONT that arrives while LeakSanitizer attaches to the
            # threads at exit discards the SIGSTOP of its PTRACE_ATTACH,
            # and the sanitized daemon then hangs for good.
            if self.frozen:
                self.thaw()
                wait_until(lambda: _proc_state(self.pid) != "T", 10, what=f"{self} thawed")
            self.proc.send_signal(signal.SIGTERM)
            # systemd follows SIGTERM with SIGCONT; opt-in here, because of
            # the race above (sanitized builds only).
            if os.environ.get("TFST_TEST_SIGCONT"):
                self.thaw()
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                stacks = self.stacks()
                self.proc.kill()
                self.returncode = self.proc.wait(10)
                problems.append(f"{self} did not exit within {timeout:.0f}s of SIGTERM (killed); "
                                f"its threads were at:\n{stacks}")
            else:
                if self.returncode != 0:
                    problems.append(f"{self} exited with status {self.returncode} on SIGTERM")
        elif self.returncode is None:
            self.returncode = self.proc.returncode
            problems.append(f"{self} had already exited with status {self.returncode}")
        self._close_notify()
        for p in self.log_paths:
            try:
                text = read_text(p)
            except OSError:
                continue
            if SANITIZER_RE.search(text):
                problems.append(f"{self}: sanitizer report in {p}")
        if problems and check:
            raise AssertionError("\n".join(problems) + "\n" + self.log_tail())
        return problems

    # -- logs --

    def log(self):
        """Text of the current run's log."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def log_all(self):
        """Text of every run's log (restarts included)."""
        parts = []
        for p in self.log_paths:
            try:
                parts.append(read_text(p))
            except OSError:
                pass
        return "".join(parts)

    def log_tail(self, n=40):
        lines = self.log().splitlines()
        return f"--- last {min(n, len(lines))} lines of {self.log_path}:\n" + "\n".join(lines[-n:])

    def count_log(self, regex):
        return len(re.findall(regex, self.log(), re.MULTILINE))

    def wait_log(self, regex, timeout=10, after=0):
        """Waits for a log line matching regex (re.search per line) among the
        lines after the first `after` matches; returns the match."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout * SLOW
        while True:
            found = [m for m in (rx.search(line) for line in self.log().splitlines()) if m]
            if len(found) > after:
                return found[after]
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self}: no log line matching {regex!r} within "
                                     f"{timeout * SLOW:.0f}s\n{self.log_tail()}")
            if not self.alive():
                raise AssertionError(f"{self} died (status {self.proc.poll()}) while waiting "
                                     f"for {regex!r}\n{self.log_tail()}")
            time.sleep(0.05)

    def chain(self):
        """Label -> depth from the last 'routingManager: chain known:' line,
        None when there is none yet."""
        last = None
        for line in self.log().splitlines():
            m = CHAIN_RE.search(line)
            if m:
                last = m.group(1)
        return None if last is None else parse_chain(last)

    def wait_chain(self, expected, timeout=None):
        timeout = CONVERGE_TIMEOUT if timeout is None else timeout
        try:
            wait_until(lambda: self.chain() == expected, timeout,
                       what=f"{self} chain view {expected}")
        except AssertionError:
            raise AssertionError(f"{self}: chain view {self.chain()} != expected {expected} "
                                 f"after {timeout:.0f}s\n{self.log_tail()}")

    # -- /proc --

    def fds(self):
        d = f"/proc/{self.pid}/fd"
        out = {}
        for fd in os.listdir(d):
            try:
                out[int(fd)] = os.readlink(os.path.join(d, fd))
            except OSError:
                pass
        return out

    def fd_count(self):
        """Open fds, not counting unix sockets: without a system bus the
        daemon keeps retrying to connect to it, and a baseline taken during
        an attempt was one too high (seen on a fresh Debian).  Hop and
        session sockets are TCP, and counted."""
        unix = set()
        try:
            with open(f"/proc/{self.pid}/net/unix") as f:
                for line in f.readlines()[1:]:
                    w = line.split()
                    if len(w) >= 7:
                        unix.add(f"socket:[{w[6]}]")
        except OSError:
            pass
        return sum(1 for target in self.fds().values() if target not in unix)

    def wait_fd_count(self, baseline, timeout=10, what=""):
        try:
            wait_until(lambda: self.fd_count() == baseline, timeout * SLOW, interval=0.1)
        except AssertionError:
            fds = self.fds()
            raise AssertionError(f"{self}: fd count {len(fds)} != baseline {baseline} after "
                                 f"{timeout * SLOW:.0f}s {what}\nfds: {sorted(fds.items())}\n"
                                 f"sockets: {ss_sockets(pid=self.pid)}\n{self.log_tail()}")

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


# --------------------------------------------------------------------------
# Topology


class Node:
    def __init__(self, role, label, parent=None, forwards=(), extra="", instance=None,
                 open_children=False, max_sessions=None, networks=None):
        self.role = role
        self.label = label
        self.instance = instance or label
        self.parent = parent  # Node or None
        self.children = []
        self.forwards = list(forwards)  # list of dicts: name, listen/target/route
        self.extra = extra
        self.open_children = open_children  # this node opens the hops to its children
        self.max_sessions = max_sessions
        self.networks = networks  # [Instance] Networks=
        self.children_port = None  # when children connect to us
        self.parent_port = None  # when our parent connects to us
        self.daemon = None

    def __repr__(self):
        return f"<Node {self.role} {self.label}>"


def _addr(a):
    return f"{a[0]}:{a[1]}"


class Topology:
    """A tree of tfst components.  Forwards are declared per node:

        top.forward(node, 'web', target=addr)       # epproxy end of an upcall
        top.forward(node, 'web', listen=True)       # gwproxy end of an upcall
        top.forward(node, 'mgmt', listen=True, route='gw1')   # epproxy downcall
        top.forward(node, 'mgmt', target=addr)      # gwproxy end of a downcall

    listen=True takes a port from the test's block; the address is then in
    top.listen_addr(label, name)."""

    HOST = "127.0.0.1"

    def __init__(self, tc, session="CloseTimeout=2s", reconnect=("100ms", "1s"),
                 common_extra=""):
        self.tc = tc
        self.nodes = {}
        self.order = []
        self.session = session
        self.reconnect = reconnect
        self.common_extra = common_extra
        self._listen = {}

    def add(self, role, label, parent=None, **kw):
        p = self.nodes[parent] if isinstance(parent, str) else parent
        n = Node(role, label, parent=p, **kw)
        if p is not None:
            p.children.append(n)
        self.nodes[label] = n
        self.order.append(n)
        return n

    def node(self, label):
        return self.nodes[label]

    def forward(self, label, name, listen=False, target=None, route=None, extra=""):
        n = self.nodes[label]
        f = {"name": name, "extra": extra}
        if listen:
            port = self.tc.port()
            f["listen"] = (self.HOST, port)
            self._listen[(label, name)] = (self.HOST, port)
        if target is not None:
            f["target"] = target
        if route is not None:
            f["route"] = route
        n.forwards.append(f)
        return f

    def listen_addr(self, label, name):
        return self._listen[(label, name)]

    def _assign_ports(self):
        for n in self.order:
            if n.children and not n.open_children and n.children_port is None:
                n.children_port = self.tc.port()
            if n.parent is not None and n.parent.open_children and n.parent_port is None:
                n.parent_port = self.tc.port()

    def config(self, n):
        rmin, rmax = self.reconnect
        lines = ["[Instance]", f"Label={n.label}"]
        if n.max_sessions is not None:
            lines.append(f"MaxSessions={n.max_sessions}")
        if n.networks:
            lines.append(f"Networks={n.networks}")
        if n.parent is not None:
            lines += ["", "[Parent]"]
            if n.parent.open_children:
                lines.append(f"Listen={self.HOST}:{n.parent_port}")
            else:
                lines.append(f"Connect={self.HOST}:{n.parent.children_port}")
                lines += [f"ReconnectMin={rmin}", f"ReconnectMax={rmax}"]
        if n.children:
            lines += ["", "[Children]"]
            if n.open_children:
                lines.append("Connect=" + ";".join(f"{self.HOST}:{c.parent_port}"
                                                   for c in n.children))
                lines += [f"ReconnectMin={rmin}", f"ReconnectMax={rmax}"]
            else:
                lines.append(f"Listen={self.HOST}:{n.children_port}")
        elif n.role != "gwproxy":
            # An epproxy or relay without children still needs a listener.
            if n.children_port is None:
                n.children_port = self.tc.port()
            lines += ["", "[Children]", f"Listen={self.HOST}:{n.children_port}"]
        for f in n.forwards:
            lines += ["", f"[Forward {f['name']}]"]
            if "listen" in f:
                lines.append(f"Listen={_addr(f['listen'])}")
            if "target" in f:
                t = f["target"]
                lines.append(f"Target={t if isinstance(t, str) else _addr(t)}")
            if "route" in f:
                lines.append(f"Route={f['route']}")
            if f["extra"]:
                lines.append(f["extra"].strip())
        if self.session:
            lines += ["", "[Session]"] + [s.strip() for s in self.session.split("\n") if s.strip()]
        text = "\n".join(lines) + "\n"
        for extra in (self.common_extra, n.extra):
            if extra:
                text += "\n" + extra.strip() + "\n"
        return text

    def create(self):
        self._assign_ports()
        for n in self.order:
            if n.daemon is None:
                n.daemon = self.tc.daemon(n.role, n.instance, self.config(n), label=n.label)
        return self

    def start(self, order=None, delay=0.0):
        """Starts every daemon (root first unless order, a list of labels,
        says otherwise), each waited for READY=1."""
        self.create()
        labels = order or [n.label for n in self.order]
        for i, label in enumerate(labels):
            if i and delay:
                time.sleep(delay)
            self.nodes[label].daemon.start()
        return self

    def daemons(self):
        return [n.daemon for n in self.order]

    def d(self, label):
        return self.nodes[label].daemon

    def expected_chain(self, label, down=()):
        """label -> depth as seen from `label`: ancestors negative, itself 0,
        descendants positive (siblings and cousins are not visible: TELL goes
        up with what is below, TELL_OK down with what is above).  Nodes in
        `down` (labels) are dead: nothing is known through them."""
        n = self.nodes[label]
        out = {n.label: 0}
        depth, p = 0, n.parent
        while p is not None and p.label not in down:
            depth -= 1
            out[p.label] = depth
            p = p.parent
        stack = [(c, 1) for c in n.children if c.label not in down]
        while stack:
            c, d = stack.pop()
            out[c.label] = d
            stack += [(cc, d + 1) for cc in c.children if cc.label not in down]
        return out

    def wait_converged(self, timeout=None, labels=None, down=()):
        """Every daemon (of labels, when given; none of down) reports the
        chain it should see, with the nodes in down dead."""
        timeout = CONVERGE_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        for n in self.order:
            if labels is not None and n.label not in labels or n.label in down:
                continue
            n.daemon.wait_chain(self.expected_chain(n.label, down),
                                timeout=max(0.5, deadline - time.monotonic()))

    def fd_baseline(self):
        return {n.label: n.daemon.fd_count() for n in self.order if n.daemon.alive()}

    def wait_fds_released(self, baseline, timeout=10, what=""):
        """Every live daemon of baseline is at or below its fd count (a
        hop to a dead neighbour is gone) and holds no CLOSE_WAIT socket."""
        for label, count in baseline.items():
            d = self.d(label)
            if not d.alive():
                continue
            try:
                wait_until(lambda: d.fd_count() <= count, timeout * SLOW, interval=0.1)
            except AssertionError:
                raise AssertionError(f"{d}: fd count {d.fd_count()} > baseline {count} after "
                                     f"{timeout * SLOW:.0f}s {what}\nfds: {sorted(d.fds().items())}"
                                     f"\n{d.log_tail()}")
            cw = close_wait_sockets(d.pid)
            if cw:
                raise AssertionError(f"{d}: CLOSE_WAIT sockets {what}: {cw}")

    def wait_fd_baseline(self, baseline, timeout=10, what=""):
        """Every live daemon of baseline is back to its fd count and holds
        no CLOSE_WAIT socket."""
        for label, count in baseline.items():
            d = self.d(label)
            if d.alive():
                d.wait_fd_count(count, timeout, what)
                cw = close_wait_sockets(d.pid)
                if cw:
                    raise AssertionError(f"{d}: CLOSE_WAIT sockets {what}: {cw}")


def linear_chain(tc, relays=2, up=None, down=None, gw_label="gw1", ep_label="ep", **kw):
    """epproxy -> relay1..relayN -> gwproxy.  up: {name: target addr} for
    upcall forwards (gwproxy listens, epproxy connects target); down: {name:
    target addr} for downcall forwards (epproxy listens, gwproxy connects
    target).  Returns the (not yet started) Topology."""
    top = Topology(tc, **{k: v for k, v in kw.items()
                          if k in ("session", "reconnect", "common_extra")})
    node_kw = {k: v for k, v in kw.items() if k not in ("session", "reconnect", "common_extra")}
    ep_kw = {k[3:]: v for k, v in node_kw.items() if k.startswith("ep_")}
    gw_kw = {k[3:]: v for k, v in node_kw.items() if k.startswith("gw_")}
    relay_kw = {k[6:]: v for k, v in node_kw.items() if k.startswith("relay_")}
    top.add("epproxy", ep_label, **ep_kw)
    parent = ep_label
    for i in range(1, relays + 1):
        top.add("relay", f"relay{i}", parent=parent, **relay_kw)
        parent = f"relay{i}"
    top.add("gwproxy", gw_label, parent=parent, **gw_kw)
    for name, target in (up or {}).items():
        top.forward(ep_label, name, target=target)
        top.forward(gw_label, name, listen=True)
    for name, target in (down or {}).items():
        top.forward(ep_label, name, listen=True)
        top.forward(gw_label, name, target=target)
    return top


# --------------------------------------------------------------------------
# Payloads


def stream_chunks(n, seed, chunk=64 * KIB):
    """Deterministic pseudo-random bytes, n in total, in chunks."""
    rnd = random.Random(seed)
    left = n
    while left > 0:
        k = min(chunk, left)
        yield rnd.randbytes(k)
        left -= k


def stream_sha(n, seed):
    h = hashlib.sha256()
    for c in stream_chunks(n, seed):
        h.update(c)
    return h.hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------
# Servers


def _listen_socket(addr, backlog=4096):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.listen(backlog)
    return s


class EchoServer:
    """Selector-based echo server on one thread, for many connections.  On EOF
    from the peer it flushes what is pending and half-closes; it closes the
    socket when both directions are done.  Tracks accepted / active / peak."""

    def __init__(self, addr, max_pending=1 * MIB):
        self.addr = addr
        self.max_pending = max_pending
        self.lsock = _listen_socket(addr)
        self.lsock.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.conns = {}
        self.accepted = 0
        self.peak = 0
        self.peers = []
        self.lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def active(self):
        return len(self.conns)

    def _run(self):
        while not self._stop:
            try:
                events = self.sel.select(0.1)
            except OSError:
                return
            for key, mask in events:
                if key.data is None:
                    self._accept()
                else:
                    self._service(key.fileobj, key.data, mask)

    def _accept(self):
        while True:
            try:
                c, peer = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            c.setblocking(False)
            st = {"out": bytearray(), "eof": False, "peer": peer}
            self.conns[c] = st
            with self.lock:
                self.accepted += 1
                self.peers.append(peer)
                self.peak = max(self.peak, len(self.conns))
            self.sel.register(c, selectors.EVENT_READ, st)

    def _drop(self, c):
        self.conns.pop(c, None)
        try:
            self.sel.unregister(c)
        except (KeyError, ValueError):
            pass
        c.close()

    def _service(self, c, st, mask):
        try:
            if mask & selectors.EVENT_READ and not st["eof"]:
                data = c.recv(256 * KIB)
                if data:
                    st["out"] += data
                else:
                    st["eof"] = True
            if st["out"]:
                n = c.send(st["out"])
                del st["out"][:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._drop(c)
            return
        if st["eof"] and not st["out"]:
            try:
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self._drop(c)
            return
        ev = 0
        if not st["eof"] and len(st["out"]) < self.max_pending:
            ev |= selectors.EVENT_READ
        if st["out"]:
            ev |= selectors.EVENT_WRITE
        if ev == 0:
            ev = selectors.EVENT_WRITE
        self.sel.modify(c, ev, st)

    def close(self):
        self._stop = True
        self.thread.join(5)
        for c in list(self.conns):
            c.close()
        self.conns.clear()
        self.lsock.close()
        self.sel.close()


class ThreadedServer:
    """Accepts on a thread and runs handler(conn, peer, server) on a thread per
    connection.  Handlers put what they observed into server.results (a
    Queue) and should return when server.stopping is set."""

    def __init__(self, addr, handler):
        self.addr = addr
        self.handler = handler
        self.lsock = _listen_socket(addr)
        self.lsock.settimeout(0.1)
        self.results = queue.Queue()
        self.stopping = threading.Event()
        self.conns = []
        self.keep = set()  # connections a handler wants left open
        self.peers = []
        self.threads = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            try:
                c, peer = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(IO_TIMEOUT)
            with self.lock:
                self.conns.append(c)
                self.peers.append(peer)
            t = threading.Thread(target=self._handle, args=(c, peer), daemon=True)
            self.threads.append(t)
            t.start()

    def _handle(self, c, peer):
        try:
            self.handler(c, peer, self)
        except Exception as e:  # report, never kill the test process
            self.results.put({"peer": peer, "error": repr(e)})
        finally:
            if c not in self.keep:
                try:
                    c.close()
                except OSError:
                    pass

    def result(self, timeout=None):
        timeout = IO_TIMEOUT if timeout is None else timeout
        try:
            return self.results.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"server {self.addr}: no result within {timeout:.0f}s")

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.lsock.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(2)


def recv_line(c, limit=4096):
    buf = bytearray()
    while not buf.endswith(b"\n"):
        b = c.recv(1)
        if not b:
            raise EOFError(f"EOF after {bytes(buf)!r}")
        buf += b
        if len(buf) > limit:
            raise ValueError("line too long")
    return buf.decode().strip()


def xfer_handler(c, peer, server):
    """Protocol: client sends 'XFER <tag> <n_down> <seed>\\n' then its
    payload and half-closes; the server concurrently sends n_down bytes of
    stream_chunks(n_down, seed), half-closes, hashes what it receives up to
    EOF and reports {tag, sha, n}."""
    tag, n_down, seed = recv_line(c).split()[1:]
    n_down, seed = int(n_down), int(seed)
    err = []

    def sender():
        try:
            for chunk in stream_chunks(n_down, seed):
                c.sendall(chunk)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(repr(e))

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    sha, n = hash_until_eof(c)
    t.join(IO_TIMEOUT)
    server.results.put({"tag": tag, "sha": sha, "n": n, "send_error": err,
                        "peer": peer})


def push_handler(c, peer, server):
    """Protocol: 'PUSH <n> <seed>\\n' -> the server sends n bytes of
    stream_chunks(n, seed), half-closes, then reads to EOF."""
    n, seed = (int(x) for x in recv_line(c).split()[1:])
    t0 = time.monotonic()
    for chunk in stream_chunks(n, seed):
        c.sendall(chunk)
    c.shutdown(socket.SHUT_WR)
    while c.recv(64 * KIB):
        pass
    server.results.put({"n": n, "seed": seed, "seconds": time.monotonic() - t0, "peer": peer})


def make_ident_handler(name):
    """Sends '<name>\\n' then echoes until EOF, then half-closes."""

    def handler(c, peer, server):
        c.sendall(name.encode() + b"\n")
        server.results.put({"name": name, "peer": peer})
        while True:
            data = c.recv(64 * KIB)
            if not data:
                break
            c.sendall(data)
        c.shutdown(socket.SHUT_WR)

    return handler


def sink_handler(c, peer, server):
    """Reads to EOF and reports {n, sha}; sends nothing, then closes."""
    sha, n = hash_until_eof(c)
    server.results.put({"n": n, "sha": sha, "peer": peer})


def reply_after_eof_handler(c, peer, server):
    """Reads to EOF, then replies 'GOT <n> <sha>\\n' and closes: a reply
    that can only arrive if the client's half-close propagated and the
    reverse direction stayed open."""
    sha, n = hash_until_eof(c)
    c.sendall(f"GOT {n} {sha}\n".encode())
    c.shutdown(socket.SHUT_WR)
    server.results.put({"n": n, "sha": sha, "peer": peer})


def make_close_first_handler(greeting):
    """Sends greeting, half-closes first, then reads what the client still
    sends up to EOF and reports it."""

    def handler(c, peer, server):
        c.sendall(greeting)
        c.shutdown(socket.SHUT_WR)
        sha, n = hash_until_eof(c)
        server.results.put({"n": n, "sha": sha, "peer": peer})

    return handler


def hold_handler(c, peer, server):
    """Never reads and never closes (until the server stops): a peer that
    never confirms a close."""
    server.keep.add(c)
    server.results.put({"peer": peer, "sock": c})
    server.stopping.wait(600)


def observe_handler(c, peer, server):
    """Reports when the connection opens, then reads until it ends and
    reports how: {'event': 'end', 'kind': 'rst'|'eof'|'timeout'}."""
    server.results.put({"peer": peer, "event": "open"})
    kind, secs, n = wait_closed(c, IO_TIMEOUT)
    server.results.put({"peer": peer, "event": "end", "kind": kind, "bytes": n})


def make_reset_handler(data=b"bye"):
    """Sends data, then closes abortively (RST)."""

    def handler(c, peer, server):
        c.sendall(data)
        time.sleep(0.2)
        abort(c)
        server.results.put({"peer": peer, "event": "reset"})

    return handler


def abort(s):
    """Closes with RST (SO_LINGER 0)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def stream_forever_handler(c, peer, server):
    """Sends pseudo-random data until the connection breaks; reports how it
    ended."""
    server.results.put({"peer": peer, "event": "open"})
    try:
        for chunk in stream_chunks(1 << 40, 7):
            if server.stopping.is_set():
                return
            c.sendall(chunk)
    except OSError as e:
        server.results.put({"peer": peer, "event": "error", "errno": e.errno,
                            "t": time.monotonic()})


# --------------------------------------------------------------------------
# Clients


def connect(addr, timeout=10, source=None, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout * SLOW)
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def connect_retry(addr, timeout=10, **kw):
    """connect() retried until the listener is there (after a restart)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        try:
            return connect(addr, **kw)
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def recv_exact(s, n, timeout=None):
    s.settimeout(IO_TIMEOUT if timeout is None else timeout * SLOW)
    buf = bytearray()
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += data
    return bytes(buf)


def recv_until_eof(s, timeout=None):
    s.settimeout(IO_TIMEOUT if timeout is None else timeout * SLOW)
    buf = bytearray()
    while True:
        data = s.recv(64 * KIB)
        if not data:
            return bytes(buf)
        buf += data


def hash_until_eof(s, timeout=None):
    """Reads to EOF; returns (sha256 hex, byte count).  timeout bounds each
    recv."""
    s.settimeout(IO_TIMEOUT if timeout is None else timeout * SLOW)
    h = hashlib.sha256()
    n = 0
    while True:
        data = s.recv(256 * KIB)
        if not data:
            return h.hexdigest(), n
        h.update(data)
        n += len(data)


def xfer(addr, tag, n_up, n_down, seed_up, seed_down, timeout=None):
    """Runs one xfer_handler exchange; returns (sha received, n received,
    seconds).  The caller compares with stream_sha() and the server's
    result."""
    timeout = IO_TIMEOUT if timeout is None else timeout
    t0 = time.monotonic()
    s = connect(addr, timeout=timeout)
    err = []

    def sender():
        try:
            s.sendall(f"XFER {tag} {n_down} {seed_down}\n".encode())
            for chunk in stream_chunks(n_up, seed_up):
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        sha, n = hash_until_eof(s, timeout)
    finally:
        t.join(timeout)
        s.close()
    if err:
        raise err[0]
    return sha, n, time.monotonic() - t0


def wait_closed(s, timeout):
    """Reads (discarding) until the connection ends.  Returns ('rst'|'eof'|
    'timeout', seconds waited, bytes read)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    n = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", time.monotonic() - t0, n
        s.settimeout(left)
        try:
            data = s.recv(256 * KIB)
        except socket.timeout:
            return "timeout", time.monotonic() - t0, n
        except ConnectionResetError:
            return "rst", time.monotonic() - t0, n
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ETIMEDOUT):
                return "rst", time.monotonic() - t0, n
            raise
        if not data:
            return "eof", time.monotonic() - t0, n
        n += len(data)


def probe_refused(addr, data=b"hello?", timeout=5):
    """Connects, sends data and waits for the connection to end.  Returns
    ('rst'|'eof'|'refused'|'timeout', seconds, bytes received).  A reset can
    already surface from connect() itself (SO_ERROR read after the RST)."""
    t0 = time.monotonic()
    try:
        s = connect(addr, timeout=timeout)
    except ConnectionRefusedError:
        return "refused", time.monotonic() - t0, 0
    except ConnectionResetError:
        return "rst", time.monotonic() - t0, 0
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        kind, _, n = wait_closed(s, max(0.1, timeout - (time.monotonic() - t0)))
        return kind, time.monotonic() - t0, n
    finally:
        s.close()


def echo_roundtrip(s, data, timeout=10):
    s.sendall(data)
    return recv_exact(s, len(data), timeout) == data


# --------------------------------------------------------------------------
# ss


def _ss_addr(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if host.startswith("::ffff:"):
        host = host[7:]
    if "%" in host:
        host = host.split("%", 1)[0]
    try:
        port = int(port)
    except ValueError:
        port = 0
    return host, port


def ss_sockets(pid=None):
    """TCP sockets from `ss -tanpH`: dicts with state, local, peer (host,
    port) and pids (set).  pid filters to sockets that process holds."""
    r = subprocess.run(["ss", "-tanpH"], capture_output=True, text=True, timeout=20)
    out = []
    for line in r.stdout.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        state, _, _, local, peer = parts[:5]
        rest = parts[5] if len(parts) > 5 else ""
        pids = {int(p) for p in re.findall(r"pid=(\d+)", rest)}
        out.append({"state": state, "local": _ss_addr(local), "peer": _ss_addr(peer),
                    "pids": pids})
    if pid is not None:
        out = [x for x in out if pid in x["pids"]]
    return out


# ss -o: "timer:(keepalive,4.692ms,0)": kind, time left, retransmits/probes.
_SS_TIMER_RE = re.compile(r"timer:\((\w+),([\d.]+)(ms|sec|min|h)?,(\d+)\)")


def _ss_timer_seconds(value, unit):
    # iproute2 prints 4692 ms as "4.692ms": seconds with a millisecond
    # fraction; 692 ms as "692ms", 46 s as "46sec".
    if unit == "ms" and "." in value:
        return float(value)
    return float(value) * {"ms": 0.001, "sec": 1, "min": 60, "h": 3600, None: 1}[unit]


def parse_ss_tnoi(text):
    """The output of `ss -tnoiH` as a list of {"state", "local", "peer"
    (strings as ss prints them), "timer": (kind, seconds left, count) or
    None, "info": the -i line}."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            if out:
                out[-1]["info"] += line.strip()
            continue
        tok = line.split()
        if len(tok) < 5:
            continue
        m = _SS_TIMER_RE.search(line)
        timer = (m.group(1), _ss_timer_seconds(m.group(2), m.group(3)), int(m.group(4))) \
            if m else None
        out.append({"state": tok[0], "local": tok[3], "peer": tok[4], "timer": timer,
                    "info": ""})
    return out


def close_wait_sockets(pid):
    return [x for x in ss_sockets(pid) if x["state"] == "CLOSE-WAIT"]


def sockets_touching(port, host="127.0.0.1", pid=None):
    """Non-listening sockets with the given local or peer address."""
    a = (host, port)
    return [x for x in ss_sockets(pid) if x["state"] != "LISTEN" and (x["local"] == a or
                                                                       x["peer"] == a)]


# --------------------------------------------------------------------------
# Test case base


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
        self.daemon_env = {}  # extra environment for daemons created from now on
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
