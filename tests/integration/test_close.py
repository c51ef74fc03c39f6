# SPDX-License-Identifier: GPL-2.0-or-later
"""Close semantics: half-close both ways, refused targets, a relay killed
mid-stream, a peer that never confirms a close (CloseTimeout), MaxSessions.
After every fault the daemons' fd counts return to their baseline."""

import random
import socket
import threading
import time
import unittest

from tfst_testlib import (KIB, TfstTestCase, abort, close_wait_sockets, make_reset_handler,
                          observe_handler, connect, connect_retry,
                          echo_roundtrip, hold_handler, linear_chain,
                          make_close_first_handler, probe_refused, recv_exact, recv_line, reply_after_eof_handler,
                          sockets_touching, ss_sockets, stream_chunks, stream_forever_handler,
                          stream_sha, wait_closed, wait_until, SLOW)

REFUSED_OPEN = r"multiplex\.newsessopen: cannot open connection \(Connection refused\)"
REFUSED_SESSION = r"routedSessionCreate: \[rs=\d+\] open session failed \(e=111\)"


def send_stream(s, n, seed):
    for chunk in stream_chunks(n, seed):
        s.sendall(chunk)


class CloseTest(TfstTestCase):
    def directions(self, top):
        return (("upcall", top.listen_addr("gw1", "web")),
                ("downcall", top.listen_addr("ep", "mgmt")))

    def test_half_close_client_first(self):
        """The client shuts down its write side and still receives the
        server's reply, which the server only sends after seeing EOF."""
        up = self.server(reply_after_eof_handler)
        down = self.server(reply_after_eof_handler)
        top = linear_chain(self, relays=1, up={"web": up.addr}, down={"mgmt": down.addr})
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        for (what, addr), srv in zip(self.directions(top), (up, down)):
            with self.subTest(what=what):
                s = connect(addr)
                try:
                    send_stream(s, 300 * KIB, 11)
                    s.shutdown(socket.SHUT_WR)
                    reply = recv_line(s)
                    self.assertEqual(reply, f"GOT {300 * KIB} {stream_sha(300 * KIB, 11)}")
                    self.assertEqual(s.recv(10), b"", "no EOF after the reply")
                finally:
                    s.close()
                res = srv.result()
                self.assertEqual(res["n"], 300 * KIB)
        top.wait_fd_baseline(baseline, what="after half-closed sessions")

    def test_half_close_server_first(self):
        """The server half-closes first; the client sees EOF, then still
        sends, and the server gets every byte."""
        greeting = b"hello, I am done talking\n" * 2000
        up = self.server(make_close_first_handler(greeting))
        down = self.server(make_close_first_handler(greeting))
        top = linear_chain(self, relays=1, up={"web": up.addr}, down={"mgmt": down.addr})
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        for (what, addr), srv in zip(self.directions(top), (up, down)):
            with self.subTest(what=what):
                s = connect(addr)
                try:
                    got = recv_exact(s, len(greeting))
                    self.assertEqual(got, greeting)
                    self.assertEqual(s.recv(10), b"", "server's half-close did not arrive")
                    time.sleep(0.5)
                    send_stream(s, 200 * KIB, 12)
                    s.shutdown(socket.SHUT_WR)
                    res = srv.result()
                    self.assertEqual((res["n"], res["sha"]), (200 * KIB, stream_sha(200 * KIB, 12)))
                    kind, _, _ = wait_closed(s, 10)
                    self.assertEqual(kind, "eof")
                finally:
                    s.close()
        top.wait_fd_baseline(baseline, what="after half-closed sessions")

    def test_target_refused(self):
        top = linear_chain(self, relays=1, up={"web": self.closed_port()},
                           down={"mgmt": self.closed_port()})
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        for (what, addr), (connector, acceptor) in zip(self.directions(top),
                                                       (("ep", "gw1"), ("gw1", "ep"))):
            with self.subTest(what=what):
                n_open = top.d(connector).count_log(REFUSED_OPEN)
                n_sess = top.d(acceptor).count_log(REFUSED_SESSION)
                kind, secs, nread = probe_refused(addr, timeout=5)
                self.assertIn(kind, ("rst", "eof"), f"{what}: client not closed within 5s")
                self.assertEqual(nread, 0)
                top.d(connector).wait_log(REFUSED_OPEN, after=n_open)
                top.d(acceptor).wait_log(REFUSED_SESSION, after=n_sess)
        top.wait_fd_baseline(baseline, what="after refused sessions")

    def kill_mid_stream(self, victim):
        """Streams on 3 upcall and 3 downcall sessions through ep -> relay1
        -> relay2 -> gw1, kill -9 victim: every client sees a reset within
        5s (clients attached to the victim itself may see the kernel's EOF),
        the server ends of the sessions close, the restarted victim rejoins,
        new sessions flow and every daemon is back to its fd baseline."""
        stream_up = self.server(stream_forever_handler)
        stream_down = self.server(stream_forever_handler)
        echo_up = self.echo_server()
        echo_down = self.echo_server()
        top = linear_chain(self, relays=2, up={"web": stream_up.addr, "echo": echo_up.addr},
                           down={"mgmt": stream_down.addr, "echod": echo_down.addr})
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()

        clients = []
        for (what, addr), attached in zip(self.directions(top), ("gw1", "ep")):
            for i in range(3):
                s = connect(addr)
                recv_exact(s, 64 * KIB)  # data is flowing
                clients.append((f"{what}{i}", s, attached))
        ends = {}

        def reader(name, s):
            ends[name] = wait_closed(s, 20 * SLOW)[0], time.monotonic()

        threads = [threading.Thread(target=reader, args=c[:2], daemon=True) for c in clients]
        for t in threads:
            t.start()
        time.sleep(0.3)
        t_kill = time.monotonic()
        top.d(victim).kill()
        for t in threads:
            t.join(25 * SLOW)
        for name, s, attached in clients:
            s.close()
            kind, t_end = ends.get(name, ("still running", time.monotonic()))
            ok = ("rst", "eof") if attached == victim else ("rst",)
            self.assertIn(kind, ok, f"client {name}: connection ended with {kind}")
            self.assertLess(t_end - t_kill, 5.0, f"client {name}: reset took {t_end - t_kill:.1f}s")

        # The servers' ends of the broken sessions close too.
        errors = 0
        deadline = time.monotonic() + 10 * SLOW
        while errors < 6 and time.monotonic() < deadline:
            for srv in (stream_up, stream_down):
                while not srv.results.empty():
                    if srv.results.get().get("event") == "error":
                        errors += 1
            time.sleep(0.1)
        self.assertEqual(errors, 6, "not every server-side connection was closed")
        survivors = {k: v for k, v in baseline.items() if k != victim}
        top.wait_fds_released(survivors, timeout=10, what=f"after {victim} was killed")
        # Everyone forgets what it knew through the victim.
        top.wait_converged(timeout=10, down=(victim,))

        top.d(victim).start()
        top.wait_converged()
        for what, addr in ((("upcall", top.listen_addr("gw1", "echo")),
                            ("downcall", top.listen_addr("ep", "echod")))):
            for i in range(5):
                s = connect_retry(addr)
                try:
                    self.assertTrue(echo_roundtrip(s, b"after restart %d" % i), what)
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(wait_closed(s, 10)[0], "eof", what)
                finally:
                    s.close()
        # Everyone returns to the baseline, the restarted victim included.
        top.wait_fd_baseline(baseline, timeout=15, what=f"after {victim} was restarted")

    def test_relay_killed_mid_stream(self):
        self.kill_mid_stream("relay1")

    def test_gwproxy_killed_mid_stream(self):
        self.kill_mid_stream("gw1")

    def test_epproxy_killed_mid_stream(self):
        self.kill_mid_stream("ep")

    def test_client_reset_propagates(self):
        """A client's RST reaches the server as a reset, not as a clean
        EOF that would look like a complete request."""
        up = self.server(observe_handler)
        down = self.server(observe_handler)
        top = linear_chain(self, relays=1, up={"web": up.addr}, down={"mgmt": down.addr})
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        for (what, addr), srv in zip(self.directions(top), (up, down)):
            with self.subTest(what=what):
                s = connect(addr)
                s.sendall(b"partial request")
                self.assertEqual(srv.result()["event"], "open")
                time.sleep(0.2)
                abort(s)
                t0 = time.monotonic()
                res = srv.result(timeout=10)
                self.assertEqual(res["event"], "end")
                self.assertEqual(res["kind"], "rst", f"{what}: server saw {res['kind']}")
                self.assertLess(time.monotonic() - t0, 5.0)
        top.wait_fd_baseline(baseline, what="after client resets")

    def test_server_reset_propagates(self):
        up = self.server(make_reset_handler(b"bye"))
        down = self.server(make_reset_handler(b"bye"))
        top = linear_chain(self, relays=1, up={"web": up.addr}, down={"mgmt": down.addr})
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        for what, addr in self.directions(top):
            with self.subTest(what=what):
                s = connect(addr)
                try:
                    kind, secs, n = wait_closed(s, 5)
                finally:
                    s.close()
                self.assertEqual(kind, "rst", f"{what}: client saw {kind} after {n} bytes")
        top.wait_fd_baseline(baseline, what="after server resets")

    def test_idle_timeout(self):
        """IdleTimeout=1s closes a silent session; a busy one lives on."""
        echo = self.echo_server()
        top = linear_chain(self, relays=1, up={"web": echo.addr},
                           session="CloseTimeout=2s\nIdleTimeout=1s")
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        addr = top.listen_addr("gw1", "web")
        idle = connect(addr)
        busy = connect(addr)
        try:
            self.assertTrue(echo_roundtrip(idle, b"once"))
            t0 = time.monotonic()
            ended = None
            while time.monotonic() - t0 < 4.0:
                self.assertTrue(echo_roundtrip(busy, b"tick"), "busy session broke")
                if ended is None:
                    kind, secs, n = wait_closed(idle, 0.25)
                    if kind != "timeout":
                        ended = (kind, time.monotonic() - t0)
                else:
                    time.sleep(0.25)
            self.assertIsNotNone(ended, "idle session still open after 4s with IdleTimeout=1s")
            self.assertGreater(ended[1], 0.7, f"idle session closed after only {ended[1]:.1f}s")
        finally:
            idle.close()
            busy.close()
        top.wait_fd_baseline(baseline, what="after the idle timeout")

    def test_connect_timeout(self):
        """A target that never answers the SYN: the session fails after
        ConnectTimeout=1s and the client is reset, instead of waiting for
        the kernel's minutes-long SYN retries."""
        blackhole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(blackhole.close)
        blackhole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blackhole.bind(self.addr())
        blackhole.listen(0)
        filler = connect(blackhole.getsockname())  # the accept queue is now full
        self.addCleanup(filler.close)
        top = linear_chain(self, relays=1, up={"web": blackhole.getsockname()},
                           session="CloseTimeout=2s\nConnectTimeout=1s")
        top.start()
        top.wait_converged()
        baseline = {k: v for k, v in top.fd_baseline().items()}
        n_open = top.d("ep").count_log(r"multiplex\.newsessopen: cannot open connection")
        kind, secs, nread = probe_refused(top.listen_addr("gw1", "web"), timeout=10)
        self.assertIn(kind, ("rst", "eof"), "client not closed within 10s")
        self.assertGreater(secs, 0.8, f"session failed after {secs:.1f}s, before ConnectTimeout")
        self.assertLess(secs, 5.0, f"session failed only after {secs:.1f}s (ConnectTimeout=1s)")
        top.d("ep").wait_log(r"multiplex\.newsessopen: cannot open connection", after=n_open)
        top.d("gw1").wait_log(r"routedSessionCreate: \[rs=\d+\] open session failed")
        top.wait_fd_baseline(baseline, what="after a connect timeout")

    def test_frozen_relay_detected_by_ping(self):
        """SIGSTOP a relay (its sockets stay open, the kernel keeps ACKing):
        PING/PONG with PingTimeout=1s declares its hops dead, the sessions
        are reset, and after SIGCONT the chain heals."""
        echo_up = self.echo_server()
        echo_down = self.echo_server()
        top = linear_chain(self, relays=1, up={"web": echo_up.addr}, down={"mgmt": echo_down.addr},
                           common_extra="[Keepalive]\nPingInterval=300ms\nPingTimeout=1s")
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        clients = []
        for what, addr in self.directions(top):
            s = connect(addr)
            self.assertTrue(echo_roundtrip(s, b"before"))
            clients.append((what, s))
        top.d("relay1").freeze()
        t0 = time.monotonic()
        try:
            for what, s in clients:
                kind, secs, _ = wait_closed(s, max(0.1, 8.0 - (time.monotonic() - t0)))
                s.close()
                self.assertEqual(kind, "rst", f"{what} client: {kind}")
            elapsed = time.monotonic() - t0
            self.assertLess(elapsed, 5.0, f"dead hop detected only after {elapsed:.1f}s")
            top.wait_fds_released({"ep": baseline["ep"], "gw1": baseline["gw1"]},
                                  what="while relay1 is frozen")
            top.wait_converged(timeout=10, down=("relay1",))
        finally:
            top.d("relay1").thaw()
        top.wait_converged()
        for what, addr in self.directions(top):
            s = connect_retry(addr)
            try:
                self.assertTrue(echo_roundtrip(s, b"after thaw"), what)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(wait_closed(s, 10)[0], "eof", what)
            finally:
                s.close()
        top.wait_fd_baseline(baseline, timeout=15, what="after relay1 was thawed")

    def test_chaos_clients(self):
        """Hundreds of sessions ending every way a client can end them:
        graceful, half-close, RST mid-transfer, close with unread data,
        connect-and-go.  Afterwards no daemon holds any of them."""
        echo_up = self.echo_server()
        echo_down = self.echo_server()
        top = linear_chain(self, relays=1, up={"web": echo_up.addr}, down={"mgmt": echo_down.addr})
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        rnd = random.Random(42)
        for what, addr in self.directions(top):
            live = []
            for i in range(300):
                try:
                    s = connect(addr)
                except OSError:
                    continue
                mode = rnd.randrange(5)
                try:
                    if mode == 0:  # graceful
                        self.assertTrue(echo_roundtrip(s, b"x" * 10000))
                        s.shutdown(socket.SHUT_WR)
                        wait_closed(s, 5)
                        s.close()
                    elif mode == 1:  # RST mid-transfer
                        s.sendall(b"y" * 200000)
                        abort(s)
                    elif mode == 2:  # close with unread data
                        s.sendall(b"z" * 50000)
                        time.sleep(0.005)
                        s.close()
                    elif mode == 3:  # connect and go
                        s.close()
                    else:  # leave open for a while, then close
                        s.sendall(b"w" * 1000)
                        live.append(s)
                except OSError:
                    s.close()
            for s in live:
                s.close()
            echo = echo_up if what == "upcall" else echo_down
            wait_until(lambda: echo.active == 0, 10, what=f"{what}: server connections to close")
            top.wait_fd_baseline(baseline, timeout=15, what=f"after {what} chaos")
        # Still healthy.
        for what, addr in self.directions(top):
            s = connect(addr)
            try:
                self.assertTrue(echo_roundtrip(s, b"still alive"), what)
            finally:
                s.close()

    def test_close_timeout(self):
        """The client closes, the server neither reads nor closes: the
        session is aborted after CloseTimeout=2s and the daemons hold no
        socket of it (no CLOSE_WAIT)."""
        hold = self.server(hold_handler)
        top = linear_chain(self, relays=1, up={"web": hold.addr}, session="CloseTimeout=2s")
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        pids = {d.pid: d for d in top.daemons()}
        gw_addr = top.listen_addr("gw1", "web")

        s = connect(gw_addr)
        s.sendall(b"x" * 1000)
        res = hold.result()
        ep_port = res["peer"][1]  # the epproxy's end of the target connection
        client_port = s.getsockname()[1]
        s.close()
        t_close = time.monotonic()

        def session_sockets():
            out = []
            for x in ss_sockets():
                if not x["pids"] & set(pids):
                    continue
                if x["state"] == "LISTEN":
                    continue
                gw_side = (x["local"] == gw_addr and x["peer"] == ("127.0.0.1", client_port))
                ep_side = (x["local"] == ("127.0.0.1", ep_port) and x["peer"] == hold.addr)
                if gw_side or ep_side or x["state"] == "CLOSE-WAIT":
                    out.append(x)
            return out

        try:
            wait_until(lambda: not session_sockets(), 2 + 6 * SLOW, interval=0.1,
                       what="the session's sockets to go away")
        except AssertionError:
            self.fail(f"session sockets still held {time.monotonic() - t_close:.1f}s after the "
                      f"client closed: {session_sockets()}")
        for pid, d in pids.items():
            self.assertEqual(close_wait_sockets(pid), [], f"{d} has CLOSE_WAIT sockets")
        # A late byte from the server must not resurrect anything.
        try:
            res["sock"].sendall(b"late")
        except OSError:
            pass
        time.sleep(0.3)
        top.wait_fd_baseline(baseline, what="after the close timeout")
        self.assertEqual(sockets_touching(client_port, pid=top.d("gw1").pid), [])

    def test_max_sessions(self):
        echo = self.echo_server()
        top = linear_chain(self, relays=1, up={"web": echo.addr}, gw_max_sessions=5)
        top.start()
        top.wait_converged()
        baseline = top.fd_baseline()
        addr = top.listen_addr("gw1", "web")
        gw = top.d("gw1")
        held = []
        try:
            for i in range(5):
                s = connect(addr)
                held.append(s)
                self.assertTrue(echo_roundtrip(s, b"session %d" % i), f"session {i}")
            n_max = gw.count_log(r"maximum of 5 sessions reached")
            kind, _, nread = probe_refused(addr, b"sixth", timeout=5)
            self.assertIn(kind, ("rst", "eof", "refused"), "6th client was not refused within 5s")
            self.assertEqual(nread, 0, "6th client got data through")
            gw.wait_log(r"maximum of 5 sessions reached", after=n_max)
            # The five still work.
            for i, s in enumerate(held):
                self.assertTrue(echo_roundtrip(s, b"still %d" % i), f"session {i}")
            # Freeing one slot admits a new client.
            held[0].shutdown(socket.SHUT_WR)
            self.assertEqual(wait_closed(held[0], 10)[0], "eof")
            held.pop(0).close()

            def admitted():
                s = connect(addr)
                try:
                    return echo_roundtrip(s, b"new one", timeout=3)
                except (OSError, EOFError):
                    return False
                finally:
                    s.close()

            wait_until(admitted, 10 * SLOW, interval=0.3, what="a new session after one closed")
        finally:
            for s in held:
                s.close()
        top.wait_fd_baseline(baseline, what="after the max-sessions test")


if __name__ == "__main__":
    unittest.main()
