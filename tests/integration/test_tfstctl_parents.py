# SPDX-License-Identifier: GPL-2.0-or-later
"""Redundant parents as the D-Bus API and tfstctl show them: a gateway
proxy whose [Parent] Connect= lists two relays under one endpoint proxy,
on a private system bus (a dbus-daemon of the test; the daemons and
tfstctl find it through DBUS_SYSTEM_BUS_ADDRESS).  The Hops property
shows one parent active and one standby, ChainLinks both paths; stopping
the active relay makes the standby active and ParentSwitched is emitted
with kind "failover" (and "failback" once the preferred relay is back,
FailbackDelay=0); tfstctl status and chain, text and --json, show the
same.  A child hop the endpoint proxy opens ([Children] Connect=) to a
gateway proxy that is not running yet shows its failed attempts, the
last error and when it tries again.  The failover behaviour itself is
tested in test_redundancy.py."""

import json
import os
import queue
import shutil
import subprocess
import threading
import unittest

from tfst_testlib import BUILDDIR, CONVERGE_TIMEOUT, TfstTestCase, Topology, wait_until
from tfst_testlib.privbus import start_private_bus

DBUS_DAEMON = shutil.which("dbus-daemon")
BUSCTL = shutil.which("busctl")
DBUS_MONITOR = shutil.which("dbus-monitor")
TFSTCTL = os.environ.get("TFSTCTL") or os.path.join(BUILDDIR, "tfstctl", "tfstctl")
OBJECT = "/org/tfst/Tfst1"
IFACE = "org.tfst.Tfst1.Instance"
GW_NAME = "org.tfst.Tfst1.gwproxy_gw1"
WAIT = CONVERGE_TIMEOUT
HOP_KEYS = {"direction", "label", "address", "port", "role", "state", "since", "rtt",
            "reconnects", "attempts", "last-error", "next-attempt", "preference", "connect"}


def unwrap(v):
    """busctl --json=short's value: variants as {"type", "data"}."""
    if isinstance(v, dict) and set(v) == {"type", "data"}:
        return unwrap(v["data"])
    if isinstance(v, dict):
        return {k: unwrap(x) for k, x in v.items()}
    if isinstance(v, list):
        return [unwrap(x) for x in v]
    return v


@unittest.skipIf(DBUS_DAEMON is None or BUSCTL is None or DBUS_MONITOR is None,
                 "dbus-daemon, busctl or dbus-monitor not installed")
class ParentsOnTheBusTest(TfstTestCase):

    def private_bus(self):
        return start_private_bus(self)

    def setUp(self):
        super().setUp()
        self.address = self.private_bus()
        self.daemon_env["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, LANG="C.UTF-8",
                        LC_ALL="C.UTF-8")
        self.env.pop("LANGUAGE", None)

    def topology(self):
        """ep <- relayA, relayB <- gw1 (Connect= relayA relayB)."""
        top = Topology(self)
        top.add("epproxy", "ep")
        top.add("relay", "relayA", parent="ep")
        top.add("relay", "relayB", parent="ep")
        top.add("gwproxy", "gw1", parent="relayA")
        top.node("relayB").children_port = self.port()
        top.create()
        gw = top.d("gw1")
        a, b = (top.node(r).children_port for r in ("relayA", "relayB"))
        text = gw.config_text.replace(f"Connect=127.0.0.1:{a}\n",
                                      f"Connect=127.0.0.1:{a} 127.0.0.1:{b}\n"
                                      "FailbackDelay=0\n")
        self.assertNotEqual(text, gw.config_text)
        gw.config_text = text
        with open(gw.config_path, "w") as f:
            f.write(text)
        return top, a, b

    def prop(self, name, bus_name=GW_NAME):
        r = subprocess.run([BUSCTL, f"--address={self.address}", "--json=short", "get-property",
                            bus_name, OBJECT, IFACE, name], capture_output=True, text=True,
                           env=self.env, timeout=20)
        if r.returncode != 0:
            return None
        return unwrap(json.loads(r.stdout))

    def tfstctl(self, *args, instance="gwproxy@gw1"):
        r = subprocess.run([TFSTCTL, "-i", instance] + list(args), capture_output=True, text=True, env=self.env,
                           timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, f"tfstctl {args}: {r.stderr}")
        return r.stdout

    def parents(self, hops):
        return [(h["label"], h["role"], h["state"]) for h in hops or []
                if h["direction"] == "parent"]

    def wait_parents(self, want, what):
        return wait_until(lambda: (lambda h: h if self.parents(h) == want else None)(
            self.prop("Hops")), WAIT, what=f"gw1 Hops: {what}")

    def monitor(self):
        """ParentSwitched signals as they come, as dbus-monitor's lines;
        returns once the monitor sees signals (a marker we emit)."""
        p = subprocess.Popen([DBUS_MONITOR, "--address", self.address,
                              f"type='signal',interface='{IFACE}',member='ParentSwitched'"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=self.env)
        lines = queue.Queue()

        def read():
            for line in p.stdout:
                lines.put(line)
        t = threading.Thread(target=read, daemon=True)
        t.start()

        def stop():
            p.terminate()
            p.wait(10)
            t.join(5)
            p.stdout.close()
        self.addCleanup(stop)

        def marker_seen():
            subprocess.run([BUSCTL, f"--address={self.address}", "emit", "/marker", IFACE,
                            "ParentSwitched", "ssss", "marker", "", "", ""], env=self.env,
                           check=True, timeout=20)
            try:
                while True:
                    if lines.get(timeout=0.5).strip() == 'string "marker"':
                        return True
            except queue.Empty:
                return False
        wait_until(marker_seen, WAIT, what="dbus-monitor receiving signals")
        return lines

    def next_signal(self, lines):
        """The next ParentSwitched of an instance as (kind, from, to,
        reason), markers skipped."""
        args = None
        while args is None or len(args) < 4:
            line = lines.get(timeout=WAIT).strip()
            if line.startswith("signal "):
                args = [] if f"path={OBJECT};" in line else None
            elif args is not None and line.startswith('string "'):
                args.append(line[len('string "'):-1])
        return tuple(args)

    def test_hops_and_failover(self):
        top, port_a, port_b = self.topology()
        top.start()
        hops = self.wait_parents([("relayA", "active", "up"), ("relayB", "standby", "up")],
                                 "relayA active, relayB standby")
        for pref, (h, port) in enumerate(zip(hops, (port_a, port_b))):
            self.assertEqual(set(h), HOP_KEYS, h)
            self.assertEqual((h["address"], h["port"], h["preference"], h["connect"]),
                             ("127.0.0.1", port, pref, True), h)
            self.assertEqual((h["attempts"], h["next-attempt"]), (0, 0), h)
            self.assertGreater(h["since"], 0, h)
        self.assertEqual([(p[0], p[3]) for p in self.prop("Parent")],
                         [("relayA", True), ("relayB", True)])
        wait_until(lambda: self.prop("ChainLinks") == [["ep", "relayA"], ["ep", "relayB"],
                                                       ["relayA", "gw1"], ["relayB", "gw1"]],
                   WAIT, what="gw1 ChainLinks with both paths")
        # The endpoint proxy sees the graph from above: gw1 through both
        # relays (a second path to a known label changes no chain line, the
        # property must follow anyway).
        wait_until(lambda: self.prop("ChainLinks", "org.tfst.Tfst1.epproxy_ep") ==
                   [["ep", "relayA"], ["ep", "relayB"], ["relayA", "gw1"], ["relayB", "gw1"]],
                   WAIT, what="ep ChainLinks with both paths")

        st = json.loads(self.tfstctl("status", "--json"))
        self.assertEqual(self.parents(st["hops"]),
                         [("relayA", "active", "up"), ("relayB", "standby", "up")])
        self.assertEqual(st["hops"][1]["next_attempt_us"], 0)
        self.assertEqual([(x["upper"], x["lower"]) for x in st["chain_links"]],
                         [("ep", "relayA"), ("ep", "relayB"), ("relayA", "gw1"),
                          ("relayB", "gw1")])
        ch = json.loads(self.tfstctl("chain", "--json"))
        self.assertEqual(ch["links"], st["chain_links"])
        self.assertEqual(self.parents(ch["hops"]), self.parents(st["hops"]))
        text = self.tfstctl("status")
        self.assertRegex(text, r"(?m)^Parent hops:\nLABEL\s+ADDRESS\s+ROLE\s+STATE\s+SINCE\s+"
                         r"ATTEMPTS\s+LAST ERROR\s+NEXT ATTEMPT\n"
                         rf"relayA\s+127\.0\.0\.1:{port_a}\s+active\s+up\s+\S.*\s0\s+-\s+-\n"
                         rf"relayB\s+127\.0\.0\.1:{port_b}\s+standby\s+up\s")
        self.assertEqual(self.tfstctl("chain").splitlines(), [
            "ep",
            "├─ relayA (active parent)",
            "│ └─ gw1 (this instance, also via relayB)",
            "└─ relayB (standby parent)",
            "  └─ gw1 (this instance, also via relayA)",
        ])

        signals = self.monitor()
        top.d("relayA").stop()
        kind, old, new, reason = self.next_signal(signals)
        self.assertEqual((kind, old, new), ("failover", "relayA", "relayB"), reason)
        self.assertTrue(reason, "an empty reason")
        # relayA is down; its connector says why and when it tries again.
        hops = wait_until(lambda: (lambda h: h if h and h[0]["state"] == "waiting"
                                   and h[0]["attempts"] >= 1 else None)(self.prop("Hops")),
                          WAIT, what="gw1 relayA hop waiting after a failed attempt")
        self.assertEqual(self.parents(hops)[1], ("relayB", "active", "up"))
        self.assertEqual(hops[0]["role"], "down")
        self.assertRegex(hops[0]["last-error"], r"^ECONNREFUSED: ")
        self.assertGreater(hops[0]["next-attempt"], hops[0]["since"])
        st = json.loads(self.tfstctl("status", "--json"))
        self.assertEqual(self.parents(st["hops"])[1], ("relayB", "active", "up"))
        self.assertEqual(st["hops"][0]["role"], "down")
        self.assertRegex(st["hops"][0]["last_error"], r"^E[A-Z]+: ")
        ch = json.loads(self.tfstctl("chain", "--json"))
        self.assertEqual([(x["upper"], x["lower"]) for x in ch["links"]],
                         [("ep", "relayB"), ("relayB", "gw1")])
        self.assertEqual(self.tfstctl("chain").splitlines(), [
            "ep", "└─ relayB (active parent)", "  └─ gw1 (this instance)"])

        top.d("relayA").start()
        kind, old, new, reason = self.next_signal(signals)
        self.assertEqual((kind, old, new), ("failback", "relayB", "relayA"), reason)
        self.wait_parents([("relayA", "active", "up"), ("relayB", "standby", "up")],
                          "relayA active again")

    def test_child_hop_opened_here(self):
        top = Topology(self)
        top.add("epproxy", "ep", open_children=True)
        top.add("gwproxy", "gw1", parent="ep")
        top.create()
        top.d("ep").start()
        port = top.node("gw1").parent_port
        ep = "org.tfst.Tfst1.epproxy_ep"

        def child(want):
            hops = self.prop("Hops", ep) or []
            return hops[0] if len(hops) == 1 and want(hops[0]) else None
        h = wait_until(lambda: child(lambda h: h["state"] == "waiting" and h["attempts"] >= 1),
                       WAIT, what="ep's child hop waiting after a failed attempt")
        self.assertEqual((h["direction"], h["label"], h["address"], h["port"], h["role"],
                          h["connect"]), ("child", "", "127.0.0.1", port, "", True), h)
        self.assertNotIn("preference", h)
        self.assertRegex(h["last-error"], r"^ECONNREFUSED: cannot connect: ")
        self.assertGreater(h["next-attempt"], 0)
        st = json.loads(self.tfstctl("status", "--json", instance="epproxy@ep"))
        self.assertEqual([(x["direction"], x["connect"]) for x in st["hops"]], [("child", True)])
        self.assertRegex(st["hops"][0]["last_error"], r"^ECONNREFUSED: ")
        text = self.tfstctl("status", instance="epproxy@ep")
        self.assertNotIn("Parent hops:", text)
        self.assertRegex(text, r"(?m)^Child hops this instance connects to:\nLABEL\s+ADDRESS\s+"
                         r"STATE\s+SINCE\s+ATTEMPTS\s+LAST ERROR\s+NEXT ATTEMPT\n"
                         rf"-\s+127\.0\.0\.1:{port}\s+(waiting|connecting)\s+-\s+\d+\s+"
                         r"ECONNREFUSED: cannot connect: .*\s\S+$")

        top.d("gw1").start()
        h = wait_until(lambda: child(lambda h: h["state"] == "up"), WAIT,
                       what="ep's child hop up")
        self.assertEqual((h["label"], h["attempts"], h["next-attempt"]), ("gw1", 0, 0), h)
        # The last error stays: it says what happened before.
        self.assertRegex(h["last-error"], r"^ECONNREFUSED: ")


if __name__ == "__main__":
    unittest.main()
