#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The tfst demo: a real three-component chain on loopback.

  client ──► gwproxy "gw-dmz" ══► relay "relay-fw" ══► epproxy "ep-secure" ──► gateway service
  gateway ──► epproxy downcall listener ══► … ══► gwproxy ──► endpoint service
  logger ──► gwproxy [Events syslog] (spool) ══► … ══► epproxy ──► syslog collector

Every process is real: tfstd three times, a gateway service, an endpoint
service and a syslog collector in this script, clients on threads, logger(1)
sending syslog messages.  Ports 24100-24199 on 127.0.0.1.
The instances register on a private system bus that only the demo uses, and
tfstctl shows their chain, sessions and counters while the traffic runs.
"""
import argparse
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BASE = 24100
EP_HOP, RELAY_HOP = BASE + 1, BASE + 2
UP_LISTEN, DOWN_LISTEN = BASE + 10, BASE + 11
SYSLOG_LISTEN = BASE + 20  # udp and tcp
GATEWAY, ENDPOINT, COLLECTOR = BASE + 80, BASE + 90, BASE + 85
SYSLOG_PER_SECOND = 50

CONFIGS = {
    "epproxy": f"""[Instance]
Label=ep-secure
[Children]
Listen=127.0.0.1:{EP_HOP}
[Forward upload]
Target=127.0.0.1:{GATEWAY}
[Forward mgmt]
Listen=127.0.0.1:{DOWN_LISTEN}
[Events syslog]
Target=tcp:127.0.0.1:{COLLECTOR}
""",
    "relay": f"""[Instance]
Label=relay-fw
[Parent]
Connect=127.0.0.1:{EP_HOP}
[Children]
Listen=127.0.0.1:{RELAY_HOP}
""",
    "gwproxy": f"""[Instance]
Label=gw-dmz
[Parent]
Connect=127.0.0.1:{RELAY_HOP}
[Forward upload]
Listen=127.0.0.1:{UP_LISTEN}
[Forward mgmt]
Target=127.0.0.1:{ENDPOINT}
[Events syslog]
Listen=udp:127.0.0.1:{SYSLOG_LISTEN} tcp:127.0.0.1:{SYSLOG_LISTEN}
SpoolSize=16M
""",
}


# A private system bus for the demo only: the demo's own user (root or not)
# may own the tfst names and everybody may call them.  Never install this
# policy on a real system bus; the real one is dbus/org.tfst.Tfst1.conf.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <allow own_prefix="org.tfst.Tfst1"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"/>
  </policy>
</busconfig>
"""
INSTANCE = "demo"
SESSION_LINES = 6   # lines of `tfstctl sessions` shown: the header and a few sessions


class PrivateBus:
    """dbus-daemon with BUS_CONFIG in bus/ of the demo's temporary directory:
    the demo writes nothing anywhere else (tests/system/test_demo.py)."""

    def __init__(self, logdir):
        self.proc = None
        self.address = None
        self.dir = None
        daemon = shutil.which("dbus-daemon")
        if daemon is None:
            print("demo: dbus-daemon is not installed; running without the bus and tfstctl")
            return
        self.dir = os.path.join(logdir, "bus")
        os.mkdir(self.dir, 0o700)
        conf = os.path.join(self.dir, "system.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG.format(socket=os.path.join(self.dir, "system_bus_socket")))
        log = open(os.path.join(logdir, "dbus-daemon.log"), "w")
        self.proc = subprocess.Popen([daemon, f"--config-file={conf}", "--nofork", "--nopidfile",
                                      "--print-address=1"],
                                     stdout=subprocess.PIPE, stderr=log, text=True,
                                     start_new_session=True)  # Ctrl-C is for the demo only
        log.close()
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("unix:"):
            print("demo: the private bus did not start (see dbus-daemon.log); "
                  "running without the bus and tfstctl")
            self.stop()
            return
        self.address = line

    def env(self):
        env = dict(os.environ)
        if self.address:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        return env

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        self.address = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def tfstctl(build, bus, *args, max_lines=0):
    """Runs tfstctl on the private bus and prints what it prints."""
    cmd = ["tfstctl", *args]
    print(f"  $ {' '.join(cmd)}")
    try:
        r = subprocess.run([os.path.join(build, "tfstctl", "tfstctl"), "--no-ask-password", *args],
                           env=bus.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=15)
    except subprocess.TimeoutExpired:
        print("    (no answer within 15 s)")
        return None
    lines = r.stdout.rstrip("\n").split("\n") if r.stdout.strip() else []
    shown = lines[:max_lines] if max_lines else lines
    for line in shown:
        print(f"    {line}")
    if len(lines) > len(shown):
        print(f"    … {len(lines) - len(shown)} more lines cut by the demo "
              f"({len(lines) - 1} sessions in all)")
    if r.returncode != 0:
        print(f"    (exit status {r.returncode})")
    if r.returncode == 4 and os.geteuid() != 0 and not tfstctl.polkit_noted:
        tfstctl.polkit_noted = True
        print("    note: access denied is expected here: for a caller other than root, tfstd asks\n"
              "    polkit before ListSessions and GetStatistics, and the private demo bus has no\n"
              "    polkit.  Run the demo as root to see sessions and counters.")
    return r.returncode


tfstctl.polkit_noted = False


def wait_registered(build, bus, deadline):
    """Waits until the three instances own their names on the private bus."""
    path = os.path.join(build, "tfstctl", "tfstctl")
    while time.time() < deadline:
        r = subprocess.run([path, "--no-ask-password", "--json", "list"], env=bus.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=15)
        if r.returncode == 0 and all(f"{role}@{INSTANCE}" in r.stdout
                                     for role in ("epproxy", "relay", "gwproxy")):
            return True
        time.sleep(0.2)
    return False


def show_bus(build, bus, when):
    """`tfstctl list`, `chain`, `sessions`, `stats` and `keepalive audit`
    while the traffic runs."""
    if not bus.address:
        return
    print(f"demo: tfstctl on the private bus, {when}:")
    tfstctl(build, bus, "list")
    tfstctl(build, bus, "chain", "-i", f"relay@{INSTANCE}")
    tfstctl(build, bus, "sessions", "-i", f"epproxy@{INSTANCE}", max_lines=SESSION_LINES)
    tfstctl(build, bus, "stats", "-i", f"gwproxy@{INSTANCE}")
    tfstctl(build, bus, "keepalive", "audit", "-i", f"relay@{INSTANCE}")
    tfstctl(build, bus, "events", "-i", f"gwproxy@{INSTANCE}")
    tfstctl(build, bus, "events", "-i", f"epproxy@{INSTANCE}")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.up_bytes = self.down_bytes = self.sessions = self.errors = 0

    def add(self, up=0, down=0, sessions=0, errors=0):
        with self.lock:
            self.up_bytes += up
            self.down_bytes += down
            self.sessions += sessions
            self.errors += errors


def serve(port, handler, stop):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    srv.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handler, args=(conn,), daemon=True).start()
    srv.close()


def digest_handler(conn):
    """Gateway service: reads an upload, answers with its size and SHA-256."""
    h, n = hashlib.sha256(), 0
    with conn:
        while True:
            d = conn.recv(65536)
            if not d:
                break
            h.update(d)
            n += len(d)
        conn.sendall(f"{n} {h.hexdigest()}\n".encode())


def endpoint_handler(conn):
    """Endpoint service: the gateway asks for a report, we stream it back."""
    with conn:
        req = conn.recv(100).decode().strip()
        size = int(req.split()[-1]) if req.startswith("REPORT") else 0
        conn.sendall(b"R" * size)


class SyslogCollector:
    """The syslog collector behind the epproxy: RFC 6587 octet-counted
    events over TCP; counts them and checks the sequence numbers the
    demo's logger put in them (order kept, none missing)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seqs = []

    def handler(self, conn):
        buf = b""
        with conn:
            while True:
                d = conn.recv(65536)
                if not d:
                    return
                buf += d
                while b" " in buf[:8]:
                    n, _, rest = buf.partition(b" ")
                    if len(rest) < int(n):
                        break
                    self.take(rest[:int(n)])
                    buf = rest[int(n):]

    def take(self, event):
        m = re.search(rb"demo event (\d+)", event)
        if m:
            with self.lock:
                self.seqs.append(int(m.group(1)))

    def received(self):
        with self.lock:
            return len(self.seqs)

    def check(self, sent):
        """'' when events 0 .. sent-1 arrived in order, else what is wrong."""
        with self.lock:
            seqs = list(self.seqs)
        first = list(dict.fromkeys(seqs))
        if first != sorted(first):
            return "out of order"
        missing = sorted(set(range(sent)) - set(seqs))
        return f"{len(missing)} missing" if missing else ""


def syslog_sender(stop, counter):
    """logger(1) reading lines from a pipe: one RFC 5424 message per line,
    octet counted over TCP to the gwproxy's [Events syslog] Listen=."""
    p = subprocess.Popen(["logger", "-n", "127.0.0.1", "-P", str(SYSLOG_LISTEN), "--tcp",
                          "--octet-count", "--rfc5424", "-t", "demo"],
                         stdin=subprocess.PIPE, text=True)
    try:
        while not stop.is_set():
            p.stdin.write(f"demo event {counter[0]} from the DMZ\n")
            p.stdin.flush()
            counter[0] += 1
            time.sleep(1 / SYSLOG_PER_SECOND)
    finally:
        p.stdin.close()
        p.wait(timeout=10)


def upcall(stats, size):
    data = os.urandom(size)
    with socket.create_connection(("127.0.0.1", UP_LISTEN), timeout=10) as c:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        reply = c.makefile().readline().split()
    ok = reply == [str(size), hashlib.sha256(data).hexdigest()]
    stats.add(up=size if ok else 0, sessions=1, errors=0 if ok else 1)


def downcall(stats, size):
    with socket.create_connection(("127.0.0.1", DOWN_LISTEN), timeout=10) as c:
        c.sendall(f"REPORT {size}\n".encode())
        got = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
    stats.add(down=got, sessions=1, errors=0 if got == size else 1)


def client_loop(stats, stop, fn, size):
    while not stop.is_set():
        try:
            fn(stats, size)
        except OSError as e:
            stats.add(errors=1)
            print(f"  client error: {e}", file=sys.stderr)
            time.sleep(0.5)


def start_daemon(build, tmp, role, env):
    path = os.path.join(tmp, f"{role}.conf")
    with open(path, "w") as f:
        f.write(CONFIGS[role])
    log = open(os.path.join(tmp, f"{role}.log"), "w")
    # The event spool goes where systemd's StateDirectory= would put it.
    env = dict(env, STATE_DIRECTORY=os.path.join(tmp, "state"))
    return subprocess.Popen([os.path.join(build, "daemon", "tfstd"), f"--role={role}",
                             f"--instance={INSTANCE}", f"--config={path}"],
                            stderr=log, stdout=log, env=env)


def last_chain(tmp, role):
    chain = "?"
    with open(os.path.join(tmp, f"{role}.log")) as f:
        for line in f:
            if "chain known:" in line:
                chain = line.split("chain known:")[1].strip()
    return chain


def wait_chain(tmp, deadline):
    while time.time() < deadline:
        if "gw-dmz@2" in last_chain(tmp, "epproxy"):
            return True
        time.sleep(0.1)
    return False


def main():
    ap = argparse.ArgumentParser(description="Run a real tfst chain on loopback.")
    ap.add_argument("--build", required=True)
    ap.add_argument("--duration", type=float, default=0,
                    help="run this many seconds unattended, then exit (0: until Ctrl-C)")
    args = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    stats = Stats()
    tmp = tempfile.mkdtemp(prefix="tfst-demo-")
    print(__doc__.split("\n\n")[1])
    bus = PrivateBus(tmp)
    try:
        good = run(args, tmp, bus, stats, stop)
    finally:
        bus.stop()
    sys.exit(0 if good else 1)


def run(args, tmp, bus, stats, stop):
    services_stop = threading.Event()
    collector = SyslogCollector()
    for port, handler in ((GATEWAY, digest_handler), (ENDPOINT, endpoint_handler),
                          (COLLECTOR, collector.handler)):
        threading.Thread(target=serve, args=(port, handler, services_stop), daemon=True).start()
    if bus.address:
        print(f"demo: private system bus {bus.address}")
    # Start order does not matter: the gateway proxy first shows the
    # reconnecting opener.
    procs = {r: start_daemon(args.build, tmp, r, bus.env()) for r in ("gwproxy", "relay", "epproxy")}
    ok = wait_chain(tmp, time.time() + 15)
    for role in ("epproxy", "relay", "gwproxy"):
        print(f"  chain seen by {role:8}: {last_chain(tmp, role)}")
    if not ok:
        print("demo: the chain did not come up; logs in", tmp)
        stop.set()
    elif bus.address and not wait_registered(args.build, bus, time.time() + 10):
        print("demo: the instances did not all register on the private bus; logs in", tmp)
    workers = [threading.Thread(target=client_loop, args=(stats, stop, upcall, 256 * 1024)),
               threading.Thread(target=client_loop, args=(stats, stop, upcall, 4 * 1024 * 1024)),
               threading.Thread(target=client_loop, args=(stats, stop, downcall, 1024 * 1024))]
    syslog_stop, syslog_sent = threading.Event(), [0]
    if ok and shutil.which("logger"):
        workers.append(threading.Thread(target=syslog_sender, args=(syslog_stop, syslog_sent)))
    else:
        print("demo: logger (bsdutils) is not installed: no syslog events")
    for w in workers:
        w.start()
    start = last_t = time.time()
    last = (0, 0)
    shown = False
    while not stop.is_set():
        time.sleep(1)
        now = time.time()
        el, dt = now - start, now - last_t
        with stats.lock:
            up, down, n, err = stats.up_bytes, stats.down_bytes, stats.sessions, stats.errors
        print(f"  {el:5.0f} s  sessions {n:6}  up {up / 1e6:9.1f} MB ({(up - last[0]) / 1e6 / dt:6.1f} MB/s)"
              f"  down {down / 1e6:9.1f} MB ({(down - last[1]) / 1e6 / dt:6.1f} MB/s)  errors {err}"
              f"  syslog {collector.received()}/{syslog_sent[0]}")
        last, last_t = (up, down), now
        if any(p.poll() is not None for p in procs.values()):
            print("demo: a tfstd process exited; logs in", tmp)
            break
        if args.duration and el >= args.duration:
            # Near the end, with the traffic still running.
            show_bus(args.build, bus, "near the end")
            break
        if not shown:
            # After a second of traffic, so that there are sessions to see.
            show_bus(args.build, bus, "the chain is up")
            shown = True
            last_t = time.time()
    stop.set()
    syslog_stop.set()
    for w in workers:
        w.join(timeout=15)
    # Every syslog message logger sent reaches the collector, in order.
    deadline = time.time() + 10
    while collector.check(syslog_sent[0]) and time.time() < deadline:
        time.sleep(0.1)
    syslog_problem = collector.check(syslog_sent[0])
    services_stop.set()
    codes = {}
    for role, p in procs.items():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            codes[role] = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            codes[role] = "killed"
    print(f"demo: {stats.sessions} sessions, {stats.up_bytes / 1e6:.1f} MB up, "
          f"{stats.down_bytes / 1e6:.1f} MB down, {stats.errors} errors; "
          f"{collector.received()} of {syslog_sent[0]} syslog events delivered"
          f"{', ' + syslog_problem if syslog_problem else ' in order'}; "
          f"tfstd exit codes {codes}; logs in {tmp}")
    return (ok and stats.errors == 0 and stats.sessions > 0 and not syslog_problem
            and all(c == 0 for c in codes.values()))

if __name__ == "__main__":
    main()
