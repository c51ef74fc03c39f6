# SPDX-License-Identifier: GPL-2.0-or-later
"""The zero-copy data path (ZeroCopy=, docs/configuration.md): bulk payload
moves socket -> pipe -> socket with splice(2) at both edges and through a
relay, and arrives intact in both directions, also interleaved with small
frames of other sessions on the same hops and across a half-close.  The
integration-copy suite runs this file with ZeroCopy=no, where no daemon may
splice at all (tests/meson.build)."""

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest

from tfst_testlib import (IO_TIMEOUT, KIB, MIB, SLOW, TfstTestCase, connect, echo_roundtrip,
                          hash_until_eof, linear_chain, push_handler, stream_sha, wait_until,
                          xfer, xfer_handler)

ZERO_COPY = os.environ.get("TFST_TEST_ZERO_COPY", "yes") != "no"


def pipe_fds(daemon):
    """The daemon's open pipe ends."""
    d = f"/proc/{daemon.pid}/fd"
    n = 0
    for fd in os.listdir(d):
        try:
            n += os.readlink(os.path.join(d, fd)).startswith("pipe:")
        except OSError:
            pass  # closed meanwhile
    return n


class SpliceCounter:
    """strace -c on one running daemon (all its threads): how many splice
    calls it made while attached."""

    def __init__(self, daemon, workdir):
        self.out = os.path.join(workdir, f"strace-{daemon.label}.txt")
        self.proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-c", "-e", "trace=splice", "-o", self.out,
             "-p", str(daemon.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def attached(self):
        """False when strace could not attach (no ptrace permission)."""
        try:
            self.proc.wait(0.5)
        except subprocess.TimeoutExpired:
            return True
        return False

    def calls(self):
        self.proc.send_signal(2)  # SIGINT: detach and write the summary
        self.proc.wait(IO_TIMEOUT)
        with open(self.out) as f:
            m = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?splice$", f.read(),
                          re.M)
        return int(m.group(1)) if m else 0


class ZeroCopyTest(TfstTestCase):
    def chain(self, **servers):
        top = linear_chain(self, relays=1, up=servers, session="CloseTimeout=30s")
        top.start()
        top.wait_converged()
        return top

    def count_splices(self, top, work):
        """Runs work() with every daemon of the chain traced; returns
        {label: splice calls}."""
        if shutil.which("strace") is None:
            self.fail("strace is missing (tools/deps installs it)")
        counters = {d.label: SpliceCounter(d, self.workdir) for d in top.daemons()}
        if not all(c.attached() for c in counters.values()):
            for c in counters.values():
                c.proc.kill()
            self.skipTest("strace cannot attach to the daemons here (ptrace not permitted)")
        try:
            work()
        finally:
            calls = {label: c.calls() for label, c in counters.items()}
        return calls

    def test_bulk_both_ways_through_pipes(self):
        """48 MiB up and 48 MiB down at once through gwproxy, relay and
        epproxy: both arrive intact, every daemon spliced (none with
        ZeroCopy=no), and the pipes are gone again once the chain is idle."""
        srv = self.server(xfer_handler)
        top = self.chain(bulk=srv.addr)
        fds = {d.label: d.fd_count() for d in top.daemons()}
        addr = top.listen_addr("gw1", "bulk")
        n = 48 * MIB
        got = {}

        def work():
            got["down"] = xfer(addr, "zc", n, n, 11, 12, timeout=120 * SLOW)
            got["up"] = srv.result()

        calls = self.count_splices(top, work)
        sha, count, _ = got["down"]
        self.assertEqual((count, sha), (n, stream_sha(n, 12)), "download")
        self.assertEqual((got["up"]["n"], got["up"]["sha"]), (n, stream_sha(n, 11)), "upload")
        for label, c in calls.items():
            if ZERO_COPY:
                self.assertGreater(c, 0, f"{label} never spliced: {calls}")
            else:
                self.assertEqual(c, 0, f"{label} spliced with ZeroCopy=no: {calls}")
        for d in top.daemons():
            wait_until(lambda: d.fd_count() <= fds[d.label], 10 * SLOW,
                       what=f"{d.label}'s pipes to be closed (fds back to {fds[d.label]})")

    def test_small_frames_interleave_with_bulk(self):
        """A session echoing 64-byte messages shares every hop with a bulk
        upload: each echo comes back unchanged and in order, the bulk data
        arrives intact (a spliced frame goes out whole before any other)."""
        sink = self.server(xfer_handler)
        echo = self.echo_server()
        top = self.chain(bulk=sink.addr, echo=echo.addr)
        n = 64 * MIB
        result = {}

        def bulk():
            result["r"] = xfer(top.listen_addr("gw1", "bulk"), "bulk", n, 0, 21, 0,
                               timeout=120 * SLOW)

        t = threading.Thread(target=bulk, daemon=True)
        t.start()
        s = connect(top.listen_addr("gw1", "echo"))
        try:
            rounds = 0
            while t.is_alive() or rounds < 50:
                msg = os.urandom(64)
                self.assertTrue(echo_roundtrip(s, msg, IO_TIMEOUT), f"echo {rounds} corrupted")
                rounds += 1
        finally:
            s.close()
        t.join(IO_TIMEOUT)
        got = sink.result()
        self.assertEqual((got["n"], got["sha"]), (n, stream_sha(n, 21)))
        self.assertGreater(rounds, 0)

    def test_half_close_after_spliced_download(self):
        """The server sends 24 MiB and half-closes while the client does not
        read yet (small receive buffer: the bytes wait in pipes and buffers
        along the chain): the client still gets every byte, then EOF, and
        can answer through the open direction."""
        srv = self.server(push_handler)
        top = self.chain(bulk=srv.addr)
        n = 24 * MIB
        s = connect(top.listen_addr("gw1", "bulk"), rcvbuf=64 * KIB)
        try:
            s.sendall(f"PUSH {n} 5\n".encode())
            # Only makes it likelier that the FIN overtakes queued bytes on
            # the way; the outcome must be the same either way.
            time.sleep(0.5)
            sha, got = hash_until_eof(s, 120 * SLOW)
            self.assertEqual((got, sha), (n, stream_sha(n, 5)))
            s.sendall(b"bye")
            s.shutdown(socket.SHUT_WR)
        finally:
            s.close()
        self.assertEqual(srv.result()["n"], n)

    def test_many_waiting_downloads(self):
        """80 downloads whose clients do not read at first: the proxies hold
        their data within bounds (at most 64 pipes in a process, beyond that
        bytes are copied; tests/test-pipe.c checks the pool itself), every
        byte arrives once the clients read, and no pipe is left behind."""
        srv = self.server(push_handler)
        top = self.chain(bulk=srv.addr)
        fds = {d.label: d.fd_count() for d in top.daemons()}
        n, count = 2 * MIB, 80
        socks = [connect(top.listen_addr("gw1", "bulk"), rcvbuf=32 * KIB) for _ in range(count)]
        results = [None] * count
        try:
            for i, s in enumerate(socks):
                s.sendall(f"PUSH {n} {100 + i}\n".encode())
            # Only makes it likelier that the data waits in the proxies.
            time.sleep(1.0)
            for d in top.daemons():
                held = pipe_fds(d) // 2
                self.assertLessEqual(held, 64 if ZERO_COPY else 0, f"pipes held by {d.label}")

            def read(i):
                results[i] = hash_until_eof(socks[i], 60)

            threads = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(count)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(150 * SLOW)
        finally:
            for s in socks:
                s.close()
        for i, r in enumerate(results):
            self.assertEqual(r, (stream_sha(n, 100 + i), n), f"download {i}")
        for d in top.daemons():
            wait_until(lambda: d.fd_count() <= fds[d.label], 10 * SLOW,
                       what=f"{d.label}'s pipes to be closed (fds back to {fds[d.label]})")


if __name__ == "__main__":
    unittest.main()
