# SPDX-License-Identifier: GPL-2.0-or-later
"""The event sink from outside ([Events NAME], docs/events.md): messages
carrying a sender name and a sequence number, a ledger that checks them
(duplicates, missing, order per sender), Collector (a small syslog
collector on UDP and TCP, both RFC 6587 framings), Rsyslog (a private
rsyslogd writing what it receives to a file), the real senders `logger`
and `snmptrap`, Python senders for volume, and GetSinks over D-Bus."""

import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time

from .env import IO_TIMEOUT, SLOW
from .wait import wait_until

LOGGER = shutil.which("logger")
SNMPTRAP = shutil.which("snmptrap")
RSYSLOGD = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd"
                                        if os.access("/usr/sbin/rsyslogd", os.X_OK) else None)
BUSCTL = shutil.which("busctl")

EVENT_MAX = 64 * 1024  # TFST_EVENT_MAX
ID_RE = re.compile(rb"sender=(\S+) seq=(\d+)")


# -- messages with ids --

def event_msg(sender, seq, size=0):
    """An RFC 5424 message naming its sender and sequence number, padded
    to `size` bytes when that is longer."""
    m = b"<134>1 - tfsttest app - - - sender=%s seq=%d" % (sender.encode(), seq)
    if len(m) < size:
        m += b" " + b"x" * (size - len(m) - 1)
    return m


class Ledger:
    """Sequence numbers seen per sender.  A number seen again is a
    duplicate; a new number below the highest one seen from its sender is
    out of order (duplicates may come out of order: at-least-once)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}  # sender -> set of numbers
        self.top = {}   # sender -> highest new number
        self.duplicates = 0
        self.out_of_order = 0
        self.without_id = 0
        self.total = 0

    def add(self, msg):
        m = ID_RE.search(msg)
        with self.lock:
            self.total += 1
            if m is None:
                self.without_id += 1
                return
            sender, seq = m.group(1).decode(), int(m.group(2))
            seen = self.seen.setdefault(sender, set())
            if seq in seen:
                self.duplicates += 1
                return
            if seq < self.top.get(sender, -1):
                self.out_of_order += 1
            seen.add(seq)
            self.top[sender] = max(seq, self.top.get(sender, -1))

    def unique(self, sender=None):
        with self.lock:
            if sender is not None:
                return len(self.seen.get(sender, ()))
            return sum(len(s) for s in self.seen.values())

    def ids(self, sender):
        with self.lock:
            return set(self.seen.get(sender, ()))

    def missing(self, sender, ids):
        """The numbers of `ids` not seen from sender, sorted."""
        seen = self.ids(sender)
        return sorted(i for i in ids if i not in seen)

    def summary(self):
        with self.lock:
            return (f"{self.total} messages, {sum(len(s) for s in self.seen.values())} unique ids "
                    f"from {len(self.seen)} senders, {self.duplicates} duplicates, "
                    f"{self.out_of_order} out of order, {self.without_id} without id")


def ranges(nums):
    """[1, 2, 3, 7] -> '1-3, 7' (for failure messages), first 20 ranges."""
    out, start, prev = [], None, None
    for n in nums:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    more = f" … ({len(out) - 20} more ranges)" if len(out) > 20 else ""
    return ", ".join(out[:20]) + more


# -- RFC 6587 framing --

class Deframer:
    """Splits a TCP stream into events: octet counting ("LEN SP MSG") when
    the first byte is a digit, else newline-terminated; decided once per
    connection.  Errors go to `errors` (the connection is then dropped)."""

    def __init__(self):
        self.buf = bytearray()
        self.octet = None
        self.error = None

    def feed(self, data):
        self.buf += data
        if self.octet is None and self.buf:
            self.octet = self.buf[:1].isdigit()
        out = []
        while self.error is None:
            msg = self._octet() if self.octet else self._line()
            if msg is None:
                break
            out.append(msg)
        return out

    def _octet(self):
        sp = self.buf.find(b" ", 0, 8)
        if sp < 0:
            if len(self.buf) >= 8:
                self.error = f"bad octet count {bytes(self.buf[:8])!r}"
            return None
        if not self.buf[:sp].isdigit():
            self.error = f"bad octet count {bytes(self.buf[:sp])!r}"
            return None
        n = int(self.buf[:sp])
        if len(self.buf) < sp + 1 + n:
            return None
        msg = bytes(self.buf[sp + 1:sp + 1 + n])
        del self.buf[:sp + 1 + n]
        return msg

    def _line(self):
        nl = self.buf.find(b"\n")
        if nl < 0:
            return None
        msg = bytes(self.buf[:nl])
        del self.buf[:nl + 1]
        return msg


# -- the collector --

class Collector:
    """A syslog collector on one address: UDP (one event per datagram)
    and TCP (RFC 6587, framing detected per connection).  Every event goes
    through a Ledger; with keep=True the events are kept in arrival order
    as (transport, bytes).  stop() takes it down as a collector that shuts
    down cleanly does (the listener closes, open connections are told EOF
    and read to their end); start() brings it back on the same port."""

    def __init__(self, addr, udp=True, tcp=True, keep=False):
        self.addr = addr
        self.udp, self.tcp, self.keep = udp, tcp, keep
        self.ledger = Ledger()
        self.events = []
        self.connections = 0
        self.framing_errors = []
        self.lock = threading.Lock()
        self._thread = None
        self.start()

    def start(self):
        assert self._thread is None, "collector already running"
        self._sel = selectors.DefaultSelector()
        self._socks = []
        if self.udp:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            u.bind(self.addr)
            u.setblocking(False)
            self._sel.register(u, selectors.EVENT_READ, "udp")
            self._socks.append(u)
        if self.tcp:
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind(self.addr)
            t.listen(64)
            t.setblocking(False)
            self._sel.register(t, selectors.EVENT_READ, "listen")
            self._socks.append(t)
        self._stop = threading.Event()
        self._draining = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_timeout=10.0):
        """Down: listener closed (connects are refused), connections get
        EOF and are read until the peer closes (up to drain_timeout)."""
        if self._thread is None:
            return
        self._drain_deadline = time.monotonic() + drain_timeout * SLOW
        self._draining = True
        self._stop.set()
        self._thread.join(drain_timeout * SLOW + 5)
        self._thread = None

    close = stop

    @property
    def running(self):
        return self._thread is not None

    def count(self):
        return self.ledger.total

    def wait_count(self, n, timeout=None, what=""):
        timeout = IO_TIMEOUT if timeout is None else timeout
        wait_until(lambda: self.ledger.total >= n, timeout,
                   what=f"{n} events at the collector {what} (have {self.ledger.summary()})")

    def wait_ids(self, sender, ids, timeout=None):
        """Waits until every number of ids arrived from sender; the
        failure names the missing ones."""
        timeout = IO_TIMEOUT if timeout is None else timeout
        ids = list(ids)
        deadline = time.monotonic() + timeout
        while True:
            missing = self.ledger.missing(sender, ids)
            if not missing:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"{len(missing)} of {len(ids)} events of {sender} missing "
                                     f"after {timeout:.0f}s: {ranges(missing)}; "
                                     f"collector: {self.ledger.summary()}")
            time.sleep(0.1)

    def _take(self, transport, msg):
        self.ledger.add(msg)
        if self.keep:
            with self.lock:
                self.events.append((transport, msg))

    def _run(self):
        conns = {}
        while True:
            if self._stop.is_set() and not self._draining_started(conns):
                break
            for key, _ in self._sel.select(0.05):
                self._ready(key, conns)
        for s in list(conns) + self._socks:
            s.close()
        self._sel.close()

    def _draining_started(self, conns):
        """At stop: close the listeners once, then keep reading the
        connections until each ends or the drain time is over."""
        if self._socks:
            for s in self._socks:
                self._sel.unregister(s)
                s.close()
            self._socks = []
            for c in conns:
                try:
                    c.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        return conns and time.monotonic() < self._drain_deadline

    def _ready(self, key, conns):
        if key.data == "udp":
            self._read_udp(key.fileobj)
        elif key.data == "listen":
            self._accept(key.fileobj, conns)
        else:
            self._read_tcp(key.fileobj, key.data, conns)

    def _read_udp(self, u):
        for _ in range(256):
            try:
                self._take("udp", u.recv(65536))
            except (BlockingIOError, InterruptedError):
                return

    def _accept(self, lsock, conns):
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        c.setblocking(False)
        d = Deframer()
        conns[c] = d
        self.connections += 1
        self._sel.register(c, selectors.EVENT_READ, d)

    def _read_tcp(self, c, d, conns):
        try:
            data = c.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        for msg in d.feed(data):
            self._take("tcp", msg)
        if not data or d.error:
            if d.error:
                self.framing_errors.append(d.error)
            self._sel.unregister(c)
            del conns[c]
            c.close()


# -- a private rsyslogd --

RSYSLOG_CONF = """\
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp" maxSessions="200")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="collect") {{
  action(type="omfile" file="{out}" template="raw" flushOnTXEnd="on" asyncWriting="off")
}}
input(type="imudp" address="127.0.0.1" port="{port}" ruleset="collect")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="collect")
"""


def listening(port, proto):
    """True when a socket of this host is bound to port (proto "udp") or
    listening on it ("tcp"), from /proc/net."""
    want = f":{port:04X}"
    for name in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        try:
            with open(name) as f:
                for line in f.readlines()[1:]:
                    w = line.split()
                    if w[1].endswith(want) and (proto == "udp" or w[3] == "0A"):
                        return True
        except OSError:
            pass
    return False


class Rsyslog:
    """rsyslogd -n with a private configuration: imudp and imtcp on one
    port of 127.0.0.1, every message's raw bytes and a newline appended to
    out.log.  Its own work directory, pid file and log; the system's
    rsyslog is never touched."""

    def __init__(self, workdir, port):
        self.dir = os.path.join(workdir, f"rsyslog-{port}")
        os.makedirs(os.path.join(self.dir, "work"), exist_ok=True)
        self.port = port
        self.out = os.path.join(self.dir, "out.log")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write(RSYSLOG_CONF.format(work=os.path.join(self.dir, "work"), out=self.out,
                                        port=port))
        self.proc = None

    def start(self):
        pidfile = os.path.join(self.dir, "rsyslogd.pid")
        log = open(os.path.join(self.dir, "rsyslogd.log"), "wb")
        argv = [RSYSLOGD, "-n", "-f", self.conf, "-i", pidfile]
        if shutil.which("setpriv"):
            argv = ["setpriv", "--pdeathsig", "KILL", "--"] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        wait_until(lambda: self.proc.poll() is not None or
                   (listening(self.port, "udp") and listening(self.port, "tcp")),
                   15 * SLOW, what=f"rsyslogd listening on {self.port}")
        assert self.proc.poll() is None, f"rsyslogd exited: {self.log()}"
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.dir, "rsyslogd.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def lines(self):
        try:
            with open(self.out, "rb") as f:
                return f.read().split(b"\n")[:-1]
        except FileNotFoundError:
            return []

    def wait_lines(self, n, timeout=None):
        timeout = IO_TIMEOUT if timeout is None else timeout
        wait_until(lambda: len(self.lines()) >= n, timeout,
                   what=f"{n} lines from rsyslogd (have {len(self.lines())}; {self.log()[-500:]})")
        return self.lines()


# -- senders --

def logger_argv(addr, text, transport="udp", octet=False, tag="tfsttest"):
    """logger(1) sending one RFC 5424 message without time, host and
    time-quality fields, so its bytes are known in advance."""
    argv = [LOGGER, "-n", addr[0], "-P", str(addr[1]), "--rfc5424=notime,notq,nohost",
            "-t", tag, "--udp" if transport == "udp" else "--tcp"]
    if octet:
        argv.append("--octet-count")
    return argv + ["--", text]


def logger_send(addr, text, transport="udp", octet=False, tag="tfsttest"):
    r = subprocess.run(logger_argv(addr, text, transport, octet, tag), capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"logger failed ({r.returncode}): {r.stderr}"


def logger_bytes(text, tag="tfsttest", pri=13):
    """What logger_send() puts on the wire for text (without framing)."""
    return f"<{pri}>1 - - {tag} - - - {text}".encode()


def snmptrap_send(addr, text, workdir):
    """An SNMPv2c trap (community public) carrying `text` as an octet
    string; net-snmp keeps its state in workdir, not in /var/lib/snmp."""
    env = dict(os.environ, SNMP_PERSISTENT_DIR=workdir, SNMPCONFPATH=workdir, MIBS="",
               MIBDIRS=workdir, HOME=workdir)
    argv = [SNMPTRAP, "-v", "2c", "-c", "public", f"udp:{addr[0]}:{addr[1]}", "",
            "1.3.6.1.4.1.8072.2.3.0.1", "1.3.6.1.4.1.8072.2.3.2.1", "s", text]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=env,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"snmptrap failed ({r.returncode}): {r.stderr}"


def octet_frame(msg):
    return b"%d %s" % (len(msg), msg)


def tcp_send(addr, msgs, framing="octet", source=None, chunk=256 * 1024):
    """Sends msgs on one TCP connection (from source, an address to bind,
    when given) and closes it; returns the number of bytes sent."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source is not None:
        s.bind((source, 0))
    s.settimeout(IO_TIMEOUT)
    s.connect(addr)
    frame = octet_frame if framing == "octet" else (lambda m: m + b"\n")
    sent, buf = 0, bytearray()
    with s:
        for m in msgs:
            buf += frame(m)
            if len(buf) >= chunk:
                s.sendall(buf)
                sent += len(buf)
                buf.clear()
        s.sendall(buf)
        sent += len(buf)
    return sent


class TcpSender:
    """One TCP sender on a thread: sends msgs, octet counted (paced to
    per_second when given), and records how many it had handed to the
    kernel; stalled_for() says how long the send has been blocked
    (SpoolFull=block)."""

    def __init__(self, addr, msgs, source=None, framing="octet", per_second=None):
        self.addr, self.msgs, self.source, self.framing = addr, list(msgs), source, framing
        self.per_second = per_second
        self.sent = 0
        self.done = threading.Event()
        self.error = None
        self.last_progress = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if self.source is not None:
                s.bind((self.source, 0))
            s.settimeout(300)
            s.connect(self.addr)
            frame = octet_frame if self.framing == "octet" else (lambda m: m + b"\n")
            t0 = time.monotonic()
            with s:
                for i, m in enumerate(self.msgs):
                    if self.per_second and i % 100 == 0:
                        ahead = t0 + i / self.per_second - time.monotonic()
                        if ahead > 0:
                            time.sleep(ahead)
                    s.sendall(frame(m))
                    self.sent += 1
                    self.last_progress = time.monotonic()
        except OSError as e:
            self.error = e
        finally:
            self.done.set()

    def stalled_for(self):
        return 0.0 if self.done.is_set() else time.monotonic() - self.last_progress

    def join(self, timeout=None):
        self.done.wait(IO_TIMEOUT if timeout is None else timeout)
        assert self.done.is_set(), f"TCP sender: {self.sent} of {len(self.msgs)} sent, stuck"
        assert self.error is None, f"TCP sender: {self.error!r} after {self.sent} events"


def udp_send(addr, msgs, per_second=None, source=None):
    """Sends each msg as one datagram, paced to per_second when given."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if source is not None:
        s.bind((source, 0))
    t0 = time.monotonic()
    with s:
        for i, m in enumerate(msgs):
            if per_second:
                ahead = t0 + i / per_second - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            s.sendto(m, addr)


# -- configuration and D-Bus --

def events_section(name, listen=(), target=None, **keys):
    """[Events NAME] text: listen a list of 'udp:…'/'tcp:…' strings, target
    one, keys such as SpoolSize='1M' or TargetFraming='newline'."""
    lines = [f"[Events {name}]"]
    if listen:
        lines.append("Listen=" + " ".join(listen))
    if target:
        lines.append(f"Target={target}")
    lines += [f"{k}={v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def unwrap(v):
    """busctl --json=short's value: variants as {"type", "data"}."""
    if isinstance(v, dict) and set(v) == {"type", "data"}:
        return unwrap(v["data"])
    if isinstance(v, dict):
        return {k: unwrap(x) for k, x in v.items()}
    if isinstance(v, list):
        return [unwrap(x) for x in v]
    return v


def bus_name(daemon):
    return f"org.tfst.Tfst1.{daemon.role}_{daemon.instance}"


def get_sinks(address, daemon, timeout=20):
    """GetSinks() of a daemon on the bus at address: a list of dicts, or
    None when it did not answer."""
    r = subprocess.run([BUSCTL, f"--address={address}", "--json=short", "call", bus_name(daemon),
                        "/org/tfst/Tfst1", "org.tfst.Tfst1.Events", "GetSinks"],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        get_sinks.last_error = r.stderr.strip()
        return None
    return unwrap(json.loads(r.stdout))[0]


get_sinks.last_error = ""


def bus_call(address, daemon, method, signature="", *args, timeout=20):
    argv = [BUSCTL, f"--address={address}", "call", bus_name(daemon), "/org/tfst/Tfst1",
            "org.tfst.Tfst1.Events", method]
    if signature:
        argv += [signature] + [str(a) for a in args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{method}: {r.stderr}"


def sink(sinks, name=None, role=None):
    """The dict of sinks with that Name (and Role), or None."""
    for s in sinks or []:
        if (name is None or s.get("Name") == name) and (role is None or s.get("Role") == role):
            return s
    return None
