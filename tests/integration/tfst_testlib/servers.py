# SPDX-License-Identifier: GPL-2.0-or-later
"""Target servers for forwards: EchoServer (one selector thread for many
connections) and ThreadedServer (a thread per connection running a
handler), with the handlers the tests use; a handler reports what it saw
in server.results."""

import queue
import selectors
import socket
import threading
import time

from .env import IO_TIMEOUT, KIB, MIB
from .net import abort, hash_until_eof, recv_line, wait_closed
from .payload import stream_chunks


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
