# SPDX-License-Identifier: GPL-2.0-or-later
"""An instance configured with addresses the host does not have yet comes
up anyway and serves as soon as they are assigned (issue 16: DHCP, VRRP,
a slow interface), in a network namespace of its own:

    ns  lo 127.0.0.1     the echo target
        v0 (veth)        10.232.0.1  epproxy [Children] Listen=
                         10.232.0.2  gwproxy [Forward web] Listen=
                         10.232.0.3  gwproxy [Parent] LocalAddress=
                         fd00:232::2 gwproxy [Forward web6] Listen=

None of the four addresses exists when the daemons start: both send
READY=1, each journal notes every missing address exactly once, and the
listeners are bound already (IP_FREEBIND).  Then the addresses are added:
the gwproxy's next reconnect opens the hop from 10.232.0.3 to the
epproxy's listener, and clients reach the echo target through both
forwards without a restart.

Needs root and `ip netns`; skips (with the reason) otherwise.  The
namespace and every process are removed at cleanup."""

import itertools
import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, EchoServer, TfstTestCase, wait_until  # noqa: E402
from tfst_testlib.net import echo_roundtrip  # noqa: E402

from tfst_netns import IP, NsDaemon, environment_problem, in_netns, run  # noqa: E402

# Fixed ports: the namespace has its own stack (as in test_firewall.py).
HOP_PORT, WEB_PORT, WEB6_PORT, ECHO_PORT = 24001, 24010, 24011, 24080
EP_HOP, GW_WEB, GW_LOCAL, GW_WEB6 = "10.232.0.1", "10.232.0.2", "10.232.0.3", "fd00:232::2"
NOTE = "is not an address of this host (yet)"

_counter = itertools.count(1)


def client_roundtrip(family, addr, payload):
    """Connects from the calling thread's namespace and echoes payload."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10 * SLOW)
        s.connect(addr)
        return echo_roundtrip(s, payload)


class FreeBindNetnsTest(TfstTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = environment_problem()
        if why:
            print(f"SKIP test_freebind_netns: {why}", file=sys.stderr, flush=True)
            raise unittest.SkipTest(why)

    def setUp(self):
        super().setUp()
        self.ns = f"tfst-t-{os.getpid()}-fb{next(_counter)}"
        run([IP, "netns", "add", self.ns])
        # registered before the daemons: cleanups run LIFO
        self.addCleanup(run, [IP, "netns", "del", self.ns], False)
        run([IP, "-n", self.ns, "link", "set", "lo", "up"])
        run([IP, "-n", self.ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
        for dev in ("v0", "v1"):
            run([IP, "-n", self.ns, "link", "set", dev, "up"])
        echo = in_netns(self.ns, EchoServer, ("127.0.0.1", ECHO_PORT))
        self.addCleanup(echo.close)

    def ns_daemon(self, role, label, config):
        d = NsDaemon(self.ns, role, label, config, self.workdir, self._log_prefix, label=label)
        d.env = dict(self.daemon_env)
        self._daemons.append(d)
        return d

    def listening(self):
        out = run([IP, "netns", "exec", self.ns, "ss", "-Hltn"]).stdout
        return {line.split()[3] for line in out.splitlines() if line.strip()}

    def assert_noted_once(self, d, key, addr):
        text = f"{key}=: {addr} {NOTE}"
        self.assertEqual(d.log().count(text), 1, f"{text!r} not once in\n{d.log()}")

    def test_serves_once_addresses_arrive(self):
        ep = self.ns_daemon("epproxy", "ep", f"""[Instance]
Label=ep
[Children]
Listen={EP_HOP}:{HOP_PORT}
[Forward web]
Target=127.0.0.1:{ECHO_PORT}
[Forward web6]
Target=127.0.0.1:{ECHO_PORT}
""")
        gw = self.ns_daemon("gwproxy", "gw1", f"""[Instance]
Label=gw1
[Parent]
Connect={EP_HOP}:{HOP_PORT}
LocalAddress={GW_LOCAL}
ReconnectMin=200ms
ReconnectMax=1s
[Forward web]
Listen={GW_WEB}:{WEB_PORT}
[Forward web6]
Listen=[{GW_WEB6}]:{WEB6_PORT}
""")
        ep.start()
        gw.start()
        self.assert_noted_once(ep, "[Children] Listen", EP_HOP)
        self.assert_noted_once(gw, "[Parent] LocalAddress", GW_LOCAL)
        self.assert_noted_once(gw, "[Forward web] Listen", GW_WEB)
        self.assert_noted_once(gw, "[Forward web6] Listen", GW_WEB6)
        # bound before the addresses exist
        self.assertLessEqual({f"{EP_HOP}:{HOP_PORT}", f"{GW_WEB}:{WEB_PORT}",
                              f"[{GW_WEB6}]:{WEB6_PORT}"}, self.listening())
        # the hop cannot be opened from a missing address: the gwproxy retries
        gw.wait_log(r"cannot open hop to parent .*: Cannot assign requested address")

        run([IP, "-n", self.ns, "addr", "add", f"{EP_HOP}/24", "dev", "v0"])
        run([IP, "-n", self.ns, "addr", "add", f"{GW_WEB}/24", "dev", "v0"])
        run([IP, "-n", self.ns, "addr", "add", f"{GW_LOCAL}/24", "dev", "v0"])
        run([IP, "-n", self.ns, "addr", "add", f"{GW_WEB6}/64", "dev", "v0", "nodad"])

        gw.wait_chain({"ep": -1, "gw1": 0}, timeout=20 * SLOW)
        for family, addr in ((socket.AF_INET, (GW_WEB, WEB_PORT)),
                             (socket.AF_INET6, (GW_WEB6, WEB6_PORT))):
            payload = os.urandom(4096)
            self.assertTrue(in_netns(self.ns, client_roundtrip, family, addr, payload),
                            f"no echo through {addr}")
        # the hop comes from the configured local address
        wait_until(lambda: f"{GW_LOCAL}:" in run([IP, "netns", "exec", self.ns, "ss", "-Htn",
                                                  "dst", f"{EP_HOP}:{HOP_PORT}"]).stdout,
                   10 * SLOW, what="the hop from LocalAddress=")
        # still once: neither the reconnects nor the arrival repeat the note
        self.assert_noted_once(gw, "[Parent] LocalAddress", GW_LOCAL)
        self.assertTrue(ep.alive() and gw.alive())
        ep.stop()
        gw.stop()


if __name__ == "__main__":
    unittest.main()
