# SPDX-License-Identifier: GPL-2.0-or-later
"""One tfstd process under test (Daemon): its generated config, readiness
through a fake NOTIFY_SOCKET, its log in TFST_TEST_LOGDIR (scanned for
sanitizer reports at stop), its fds, RSS and chain view, and a clean stop
that checks the exit.  Daemons still running when the test process exits
are killed."""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from .env import CONVERGE_TIMEOUT, READY_TIMEOUT, SLOW, STOP_TIMEOUT, TFSTD
from .ss import ss_sockets
from .wait import wait_until

SANITIZER_RE = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                          r"SUMMARY: UndefinedBehaviorSanitizer)")
CHAIN_RE = re.compile(r"routingManager: chain known:(.*)$")

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
        # The integration-copy suite (tests/meson.build) runs the data-plane
        # tests again on the copying path, switched off by a drop-in as an
        # administrator would.
        if os.environ.get("TFST_TEST_ZERO_COPY") == "no":
            os.makedirs(self.config_path + ".d", exist_ok=True)
            with open(os.path.join(self.config_path + ".d", "zero-copy.conf"), "w") as f:
                f.write("[Session]\nZeroCopy=no\n")
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

    # -- sd_notify --

    def status(self):
        """The last STATUS= the daemon sent ("" before the first)."""
        for text in reversed(self.notify_messages):
            for line in reversed(text.split("\n")):
                if line.startswith("STATUS="):
                    return line[len("STATUS="):]
        return ""

    def sessions(self):
        """The session count of the last STATUS= (None before the first).
        STATUS= is refreshed at most once a second."""
        m = re.search(r"(?:^|, )(\d+) sessions", self.status())
        return int(m.group(1)) if m else None

    def wait_status(self, regex, timeout=None):
        """Waits for a STATUS= matching regex (re.search); returns the match."""
        timeout = CONVERGE_TIMEOUT if timeout is None else timeout
        try:
            return wait_until(lambda: re.search(regex, self.status()), timeout,
                              what=f"{self} STATUS= matching {regex!r}")
        except AssertionError:
            raise AssertionError(f"{self}: STATUS={self.status()!r} does not match {regex!r} "
                                 f"after {timeout:.0f}s\n{self.log_tail()}")

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
