#!/usr/bin/python3
"""The tfst demo: a real three-component chain on loopback.

  client ──► gwproxy "gw-dmz" ══► relay "relay-fw" ══► epproxy "ep-secure" ──► gateway service
  gateway ──► epproxy downcall listener ══► … ══► gwproxy ──► endpoint service

Every process is real: tfstd three times, a gateway service and an endpoint
service in this script, clients on threads.  Ports 24100-24199 on 127.0.0.1.
"""
import argparse
import hashlib
import os
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
GATEWAY, ENDPOINT = BASE + 80, BASE + 90

CONFIGS = {
    "epproxy": f"""[Instance]
Label=ep-secure
[Children]
Listen=127.0.0.1:{EP_HOP}
[Forward upload]
Target=127.0.0.1:{GATEWAY}
[Forward mgmt]
Listen=127.0.0.1:{DOWN_LISTEN}
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
""",
}


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


def start_daemon(build, tmp, role):
    path = os.path.join(tmp, f"{role}.conf")
    with open(path, "w") as f:
        f.write(CONFIGS[role])
    log = open(os.path.join(tmp, f"{role}.log"), "w")
    return subprocess.Popen([os.path.join(build, "daemon", "tfstd"), f"--role={role}",
                             "--instance=demo", f"--config={path}"],
                            stderr=log, stdout=log)


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
    services_stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    stats = Stats()
    tmp = tempfile.mkdtemp(prefix="tfst-demo-")
    print(__doc__.split("\n\n")[1])
    for port, handler in ((GATEWAY, digest_handler), (ENDPOINT, endpoint_handler)):
        threading.Thread(target=serve, args=(port, handler, services_stop), daemon=True).start()
    # Start order does not matter: the gateway proxy first shows the
    # reconnecting opener.
    procs = {r: start_daemon(args.build, tmp, r) for r in ("gwproxy", "relay", "epproxy")}
    ok = wait_chain(tmp, time.time() + 15)
    for role in ("epproxy", "relay", "gwproxy"):
        print(f"  chain seen by {role:8}: {last_chain(tmp, role)}")
    if not ok:
        print("demo: the chain did not come up; logs in", tmp)
        stop.set()
    workers = [threading.Thread(target=client_loop, args=(stats, stop, upcall, 256 * 1024)),
               threading.Thread(target=client_loop, args=(stats, stop, upcall, 4 * 1024 * 1024)),
               threading.Thread(target=client_loop, args=(stats, stop, downcall, 1024 * 1024))]
    for w in workers:
        w.start()
    start = time.time()
    last = (0, 0)
    while not stop.is_set():
        time.sleep(1)
        el = time.time() - start
        with stats.lock:
            up, down, n, err = stats.up_bytes, stats.down_bytes, stats.sessions, stats.errors
        print(f"  {el:5.0f} s  sessions {n:6}  up {up / 1e6:9.1f} MB ({(up - last[0]) / 1e6:6.1f} MB/s)"
              f"  down {down / 1e6:9.1f} MB ({(down - last[1]) / 1e6:6.1f} MB/s)  errors {err}")
        last = (up, down)
        if any(p.poll() is not None for p in procs.values()):
            print("demo: a tfstd process exited; logs in", tmp)
            break
        if args.duration and el >= args.duration:
            break
    stop.set()
    for w in workers:
        w.join(timeout=15)
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
          f"tfstd exit codes {codes}; logs in {tmp}")
    good = ok and stats.errors == 0 and stats.sessions > 0 and all(c == 0 for c in codes.values())
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
