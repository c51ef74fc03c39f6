# SPDX-License-Identifier: GPL-2.0-or-later
"""systemd-facing behaviour of tfstd without a systemd manager: socket
activation through systemd-socket-activate (named and unnamed fds, a socket
that disagrees with the configuration), reload on SIGHUP, and the data-plane
watchdog."""
import os
import shutil
import signal
import socket
import time
import unittest

import tfst_testlib as h

ACTIVATE = shutil.which("systemd-socket-activate")


class ActivatedDaemon(h.Daemon):
    """A tfstd started by systemd-socket-activate, which binds the listeners
    and starts tfstd on the first connection, handing the sockets over."""

    def __init__(self, *args, listen=(), **kw):
        super().__init__(*args, **kw)
        self.listen = listen

    def start(self, wait=True, timeout=None):
        # It hands the program a minimal environment: pass on what we need.
        self.argv_prefix = [ACTIVATE, "-E", "NOTIFY_SOCKET", "-E", "WATCHDOG_USEC"]
        for (host, port), _ in self.listen:
            self.argv_prefix += ["-l", f"{host}:{port}"]
        self.argv_prefix.append("--fdname=" + ":".join(name for _, name in self.listen))
        super().start(wait=False)
        for (host, port), _ in self.listen:
            h.wait_until(lambda: listening(port), 10, what=f"systemd-socket-activate on {port}")
        return self


def listening(port):
    """True once something listens on 127.0.0.1:port (no connection made:
    a probe would itself start the activated daemon)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(line.split()[1] == want and line.split()[3] == "0A" for line in f.readlines()[1:])


class SystemdTest(h.TfstTestCase):
    def chain(self, gw_listen_name="forward-web", gw_cls=ActivatedDaemon):
        target = h.EchoServer(self.addr())
        self.addCleanup(target.close)
        hop, fwd = self.addr(), self.addr()
        ep = self.daemon("epproxy", "ep", f"""[Instance]
Label=ep
[Children]
Listen={hop[0]}:{hop[1]}
[Forward web]
Target={target.addr[0]}:{target.addr[1]}
""")
        ep.start()
        gw = gw_cls("gwproxy", "gw", f"""[Instance]
Label=gw
[Parent]
Connect={hop[0]}:{hop[1]}
[Forward web]
Listen={fwd[0]}:{fwd[1]}
""", self.workdir, self._log_prefix, listen=[(fwd, gw_listen_name)])
        self._daemons.append(gw)
        gw.start()
        return ep, gw, fwd

    def echo_through(self, fwd, size=256 * 1024):
        data = os.urandom(size)
        with h.connect(fwd, timeout=20) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            got = h.recv_until_eof(c, timeout=20)
        self.assertEqual(h.sha256(got), h.sha256(data))

    @unittest.skipUnless(ACTIVATE, "systemd-socket-activate is not installed")
    def test_activation_named_fd_carries_first_session(self):
        """The connection that starts the gateway proxy is carried end to
        end: it waits in the backlog until the parent hop is up."""
        ep, gw, fwd = self.chain("forward-web")
        self.echo_through(fwd)
        gw.wait_ready()
        gw.wait_log(r"listening on .*forward listener web, socket-activated")
        self.echo_through(fwd)

    @unittest.skipUnless(ACTIVATE, "systemd-socket-activate is not installed")
    def test_activation_matched_by_address(self):
        """An fd whose name means nothing to tfstd is matched by address."""
        ep, gw, fwd = self.chain("tfst")
        self.echo_through(fwd)
        gw.wait_log(r"socket-activated")

    @unittest.skipUnless(ACTIVATE, "systemd-socket-activate is not installed")
    def test_activation_disagreeing_socket_refused(self):
        """A socket unit listening where the configuration does not is a
        configuration error: exit 78, naming the address and the fix."""
        stray = self.addr()
        conf = f"""[Instance]
Label=gw
[Parent]
Connect=127.0.0.1:{self.port()}
[Forward web]
Listen=127.0.0.1:{self.port()}
"""
        gw = ActivatedDaemon("gwproxy", "gw", conf, self.workdir, self._log_prefix,
                             listen=[(stray, "forward-other")])
        self._daemons.append(gw)
        gw.start()
        h.probe_refused(stray, timeout=3)  # triggers the start
        h.wait_until(lambda: gw.proc.poll() is not None, 10, what="tfstd exit")
        self.assertEqual(gw.proc.returncode, 78)
        gw.proc = None  # the expected exit is not a shutdown problem
        self.assertRegex(gw.log(), rf"127\.0\.0\.1:{stray[1]} .*socket unit and the "
                                   r"configuration disagree.*daemon-reload")

    def relay_chain(self, relay_extra=""):
        target = h.EchoServer(self.addr())
        self.addCleanup(target.close)
        hop1, hop2, fwd = self.addr(), self.addr(), self.addr()
        self.daemon("epproxy", "ep", f"""[Instance]
Label=ep
[Children]
Listen={hop1[0]}:{hop1[1]}
[Forward web]
Target={target.addr[0]}:{target.addr[1]}
""").start()
        relay_conf = f"""[Instance]
Label=relay
[Parent]
Connect={hop1[0]}:{hop1[1]}
[Children]
Listen={hop2[0]}:{hop2[1]}
"""
        relay = self.daemon("relay", "r", relay_conf + relay_extra)
        relay.start()
        gw = self.daemon("gwproxy", "gw", f"""[Instance]
Label=gw
[Parent]
Connect={hop2[0]}:{hop2[1]}
[Forward web]
Listen={fwd[0]}:{fwd[1]}
""")
        gw.start()
        gw.wait_chain({"ep": -2, "relay": -1, "gw": 0})
        return relay, relay_conf, fwd

    def test_reload_keeps_sessions_and_names_restart_changes(self):
        relay, relay_conf, fwd = self.relay_chain()
        with h.connect(fwd) as c:
            c.sendall(b"before reload\n")
            self.assertEqual(h.recv_exact(c, 14, timeout=10), b"before reload\n")
            with open(relay.config_path, "w") as f:
                f.write(relay_conf.replace("Label=relay", "Label=relay\nLogLevel=2\nMaxSessions=77")
                        .replace("[Children]\nListen=127.0.0.1:", "[Children]\nListen=127.0.0.2:"))
            relay.proc.send_signal(signal.SIGHUP)
            relay.wait_log(r"configuration reloaded; these changes need a restart.*\[Children\]")
            # The notify socket is read by a thread: wait for it to catch up.
            h.wait_until(lambda: "RELOADING=1" in "\n".join(relay.notify_messages), 5,
                         what="RELOADING=1 on the notify socket")
            c.sendall(b"after reload\n")
            self.assertEqual(h.recv_exact(c, 13, timeout=10), b"after reload\n")
        self.echo_through(fwd)

    def test_reload_invalid_config_keeps_running(self):
        relay, relay_conf, fwd = self.relay_chain()
        with open(relay.config_path, "w") as f:
            f.write(relay_conf + "[Keepalive]\nIdle=banana\n")
        relay.proc.send_signal(signal.SIGHUP)
        relay.wait_log(r"reload refused, keeping the running configuration: .*Idle")
        self.assertTrue(relay.alive())
        self.echo_through(fwd)

    def test_watchdog_stops_when_data_plane_hangs(self):
        """WATCHDOG=1 comes from the data-plane loop: a hung data plane (test
        hook) stops it, so systemd restarts the instance."""
        conf = f"""[Instance]
Label=ep
[Children]
Listen=127.0.0.1:{self.port()}
"""
        ep = self.daemon("epproxy", "ep", conf)
        ep.env = {"WATCHDOG_USEC": "200000"}
        ep.start()
        h.wait_until(lambda: ep.notify_messages.count("WATCHDOG=1") >= 3, 5,
                     what="regular WATCHDOG=1")
        ep.stop()

        hung = self.daemon("epproxy", "ep2", conf.replace("Label=ep", "Label=ep2")
                           .replace(f":{conf.split(':')[-1].strip()}", f":{self.port()}"))
        hung.env = {"WATCHDOG_USEC": "200000"}
        hung.extra_args = ["--test-block-data-plane-after=1"]
        hung.start()
        hung.wait_log(r"test hook: blocking the data plane", timeout=5)
        time.sleep(0.3)
        seen = hung.notify_messages.count("WATCHDOG=1")
        time.sleep(1.5)
        self.assertEqual(hung.notify_messages.count("WATCHDOG=1"), seen,
                         "WATCHDOG=1 kept coming from a blocked data plane")
        hung.kill()


if __name__ == "__main__":
    unittest.main()
