# SPDX-License-Identifier: GPL-2.0-or-later
"""Traffic that keeps sessions open between exchanges: cmd_handler (the
target server's side of a small command protocol) and Session (one client
connection speaking it, counting the bytes each way as the daemon should)."""

import socket

from tfst_testlib import KIB, abort, connect, recv_exact, recv_line, stream_chunks

def cmd_handler(c, peer, server):
    """Per connection, a loop of commands until EOF:
    'X <n_up> <seed_up> <n_down> <seed_down>\\n' + n_up bytes of
    stream_chunks(n_up, seed_up); the server checks them (a mismatch resets
    the connection) and answers n_down bytes of stream_chunks(n_down,
    seed_down).  On EOF it half-closes and reports {"event": "eof"}."""
    c.settimeout(600)
    while True:
        try:
            line = recv_line(c)
        except EOFError:
            break
        _, n_up, s_up, n_down, s_down = line.split()
        n_up, s_up, n_down, s_down = int(n_up), int(s_up), int(n_down), int(s_down)
        data = bytearray()
        while len(data) < n_up:
            chunk = c.recv(min(256 * KIB, n_up - len(data)))
            if not chunk:
                raise EOFError(f"EOF after {len(data)} of {n_up} bytes")
            data += chunk
        if bytes(data) != b"".join(stream_chunks(n_up, s_up)):
            abort(c)
            server.results.put({"peer": peer, "error": "upward bytes differ"})
            return
        server.results.put({"peer": peer, "event": "cmd", "n_up": n_up})
        for chunk in stream_chunks(n_down, s_down):
            c.sendall(chunk)
    c.shutdown(socket.SHUT_WR)
    server.results.put({"peer": peer, "event": "eof"})


class Session:
    """One client connection speaking cmd_handler's protocol.  up / down
    count the payload bytes that went toward the target / the client,
    command lines included."""

    _seed = 100

    def __init__(self, tc, addr, source):
        self.sock = connect(addr, timeout=10, source=source)
        tc.addCleanup(self.sock.close)
        self.up = 0
        self.down = 0
        self.closed = False

    @property
    def client(self):
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    def command(self, n_up, n_down):
        Session._seed += 2
        s_up, s_down = Session._seed, Session._seed + 1
        return f"X {n_up} {s_up} {n_down} {s_down}\n".encode(), s_up, s_down

    def exchange(self, n_up, n_down):
        """Sends n_up bytes (after the command line) and receives n_down
        (>= 1, so that its arrival proves the command went through);
        returns the bytes moved toward the target and toward the client."""
        assert n_down >= 1
        line, s_up, s_down = self.command(n_up, n_down)
        self.sock.sendall(line)
        for chunk in stream_chunks(n_up, s_up):
            self.sock.sendall(chunk)
        got = recv_exact(self.sock, n_down, timeout=30)
        if got != b"".join(stream_chunks(n_down, s_down)):
            raise AssertionError("downward bytes differ")
        self.up += len(line) + n_up
        self.down += n_down
        return len(line) + n_up, n_down

    def finish(self):
        """Half-closes, reads to the server's EOF, closes: a normal end."""
        self.sock.shutdown(socket.SHUT_WR)
        self.sock.settimeout(30)
        rest = b""
        while True:
            d = self.sock.recv(65536)
            if not d:
                break
            rest += d
        self.sock.close()
        self.closed = True
        if rest:
            raise AssertionError(f"unexpected {len(rest)} bytes before EOF")
