# SPDX-License-Identifier: GPL-2.0-or-later
"""org.tfst.Tfst1.Keepalive on a private system bus with the real polkitd
(tfst_bus.PrivateSystemBus), against a real chain on loopback:

    client (127.0.0.2) -> gwproxy@dmz-3 "gw1" -> relay@2 "relay1"
        -> epproxy@1 "ep" -> target server (127.0.0.1)

The contract is dbus/org.tfst.Tfst1.Keepalive.xml: GetSettings/SetSettings
per scope ("hops", "sessions"), all or nothing, applied to the open
connections at once (checked from the kernel with `ss -tnoi`, not from
what the daemon says), the FirewallTimeout check and its flag, PERSIST
to a drop-in that a restart reads, a reload undoing what was not
persisted, and Audit() agreeing with `ss -tnoi`.  Then polkit (observe to
read, tune to change) and `tfstctl keepalive`.

The keepalive-through-a-firewall cases (a session that dies without
keepalive and survives with it, changed live) are in test_netdiag.py.

Serial, root only; skips with the reason otherwise.  Ports 28000-28499.
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, linear_chain, parse_ss_tnoi, wait_until  # noqa: E402

from tfst_bus import (E_ACCESS, E_INVALID, EP_INSTANCE, GW_INSTANCE, INSTANCES,  # noqa: E402
                      KEEPALIVE, LABELS, OBSERVE, RELAY_INSTANCE, TFSTCTL, TUNE,
                      DbusTestCase, bus_name, cmd_handler, sv)

HOP_KEYS = ["Keepalive", "Idle", "Interval", "Count", "UserTimeout", "FirewallTimeout",
            "PingInterval", "PingTimeout"]
SESSION_KEYS = HOP_KEYS[:6]
AUDIT_FIELDS = ("kind", "peer", "session", "local", "remote", "state", "keepalive", "timer",
                "probes", "retransmits", "rtt", "rttvar", "bytes_acked", "bytes_received")
PERSIST, ALLOW_MISMATCH = 1, 2

def ss_here():
    """{(local, peer): socket} from parse_ss_tnoi() for every TCP socket
    `ss -tnoi` shows in this network namespace."""
    r = subprocess.run(["ss", "-tnoiaH"], capture_output=True, text=True, timeout=10)
    return {(x["local"], x["peer"]): x for x in parse_ss_tnoi(r.stdout)}


def timer_kind(sock):
    return sock["timer"][0] if sock.get("timer") else None


def timer_ms(sock):
    return sock["timer"][1] * 1000


class KeepaliveTestCase(DbusTestCase):
    def make_chain(self, extra="", wait_names=True):
        self.srv = self.server(cmd_handler)
        top = linear_chain(self, relays=1, up={"web": self.srv.addr},
                           ep_instance=EP_INSTANCE, relay_instance=RELAY_INSTANCE,
                           gw_instance=GW_INSTANCE, common_extra=extra)
        self.top = top
        top.start()
        top.wait_converged()
        self.web = top.listen_addr("gw1", "web")
        self.names = {label: bus_name(role, INSTANCES[role]) for role, label in LABELS.items()}
        if wait_names:
            for label in ("ep", "relay1", "gw1"):
                self.wait_name(label)
        return top

    def get(self, label, scope):
        return self.dbus.call(self.names[label], "GetSettings", "s", (scope,), iface=KEEPALIVE)[0]

    def set(self, label, scope, flags=0, **kw):
        return self.dbus.call(self.names[label], "SetSettings", "sa{sv}u", (scope, sv(**kw), flags),
                              iface=KEEPALIVE)[0]

    def audit(self, label):
        raw = self.dbus.call(self.names[label], "Audit", iface=KEEPALIVE)[0]
        return [dict(zip(AUDIT_FIELDS, c)) for c in raw]

    def hop_conn(self, label, kind):
        """The (local, remote) of label's hop socket of kind parent/child."""
        conns = [c for c in self.audit(label) if c["kind"] == kind]
        self.assertEqual(len(conns), 1, conns)
        return conns[0]["local"], conns[0]["remote"]

    def wait_ss_keepalive(self, conn, max_ms, what):
        """Waits until ss shows the keepalive timer armed on conn and due
        within max_ms: what the kernel does, not what tfstd says."""
        last = {}

        def check():
            nonlocal last
            last = ss_here().get(conn, {})
            return timer_kind(last) == "keepalive" and timer_ms(last) <= max_ms

        try:
            wait_until(check, 10 * SLOW, interval=0.2, what=what)
        except AssertionError as e:
            raise AssertionError(f"{e}; ss shows {last}") from None


class SettingsTest(KeepaliveTestCase):
    def test_get_defaults_and_config(self):
        """GetSettings returns every key of its scope with the configured
        values: [Keepalive] for hops, [SessionKeepalive] over it for
        sessions; PingInterval/PingTimeout only for hops."""
        self.make_chain(extra="[Keepalive]\nIdle=120\nFirewallTimeout=600\nPingInterval=10s\n"
                              "\n[SessionKeepalive]\nIdle=60\nUserTimeout=5s\n")
        hops = self.get("relay1", "hops")
        self.assertEqual(sorted(hops), sorted(HOP_KEYS))
        self.assertEqual(hops, {"Keepalive": True, "Idle": 120, "Interval": 30, "Count": 4,
                                "UserTimeout": 0, "FirewallTimeout": 600, "PingInterval": 10000,
                                "PingTimeout": 45000})
        sessions = self.get("relay1", "sessions")
        self.assertEqual(sessions, {"Keepalive": True, "Idle": 60, "Interval": 30, "Count": 4,
                                    "UserTimeout": 5000, "FirewallTimeout": 600})

    def test_set_applies_to_open_hops(self):
        """Idle lowered on the hops of relay1 arms, on its existing hop
        sockets, a keepalive timer due within the new Idle (ss), and the
        chain stays up; GetSettings shows the new values."""
        self.make_chain()
        parent = self.hop_conn("relay1", "parent")
        child = self.hop_conn("relay1", "child")
        warnings = self.set("relay1", "hops", Idle=4, Interval=2, Count=3)
        self.assertEqual(warnings, [])
        got = self.get("relay1", "hops")
        self.assertEqual((got["Idle"], got["Interval"], got["Count"]), (4, 2, 3))
        self.wait_ss_keepalive(parent, 4000, "relay1's parent hop: keepalive timer within 4 s")
        self.wait_ss_keepalive(child, 4000, "relay1's child hop: keepalive timer within 4 s")
        # The same sockets: the hops were retuned, not reconnected.
        self.assertEqual(self.hop_conn("relay1", "parent"), parent)
        self.assertEqual(self.hop_conn("relay1", "child"), child)

    def test_set_sessions_off_and_on(self):
        """Keepalive=false on the sessions scope disarms the timer on an
        open client socket; Keepalive=true with Idle=3 arms it within
        3 s.  Hops are untouched."""
        self.make_chain()
        s = self.session()
        s.exchange(10, 10)
        client = [c for c in self.audit("gw1") if c["kind"] == "client"]
        self.assertEqual(len(client), 1, client)
        conn = (client[0]["local"], client[0]["remote"])
        self.assertNotEqual(client[0]["session"], 0)
        self.set("gw1", "sessions", Keepalive=False)
        wait_until(lambda: timer_kind(ss_here().get(conn, {})) != "keepalive", 5 * SLOW,
                   what="no keepalive timer on the client socket")
        self.assertFalse(next(c for c in self.audit("gw1") if c["kind"] == "client")["keepalive"])
        self.set("gw1", "sessions", Keepalive=True, Idle=3, Interval=1)
        self.wait_ss_keepalive(conn, 3000, "client socket: keepalive timer within 3 s")
        self.assertEqual(self.get("gw1", "hops")["Idle"], 300)
        s.exchange(1000, 1000)  # the retuned session still carries data
        # A client accepted after the change has it too: the forward
        # listener is retuned and what it accepts inherits its options.
        s2 = self.session()
        s2.exchange(10, 10)
        new = [(c["local"], c["remote"]) for c in self.audit("gw1") if c["kind"] == "client"]
        new = [c for c in new if c != conn]
        self.assertEqual(len(new), 1, new)
        self.wait_ss_keepalive(new[0], 3000, "new client socket: keepalive timer within 3 s")

    def test_invalid_changes_change_nothing(self):
        """Each bad call fails with InvalidArgs naming what was wrong, and
        leaves every setting as it was (all or nothing)."""
        self.make_chain(extra="[Keepalive]\nIdle=30\nFirewallTimeout=60\nPingInterval=10s\n")
        name = self.names["relay1"]
        before = (self.get("relay1", "hops"), self.get("relay1", "sessions"))
        bad = [
            (("bogus", sv(), 0), "bogus"),
            (("hops", sv(Idle=10, Nonsense=1), 0), "Nonsense"),
            (("hops", {"Idle": GLib_variant("s", "10")}, 0), "Idle"),
            (("hops", sv(Idle=0), 0), "Idle"),
            (("hops", sv(Count=128), 0), "Count"),
            (("sessions", sv(PingInterval=1000), 0), "PingInterval"),
            (("hops", sv(PingInterval=50), 0), "PingInterval"),
            (("hops", sv(PingTimeout=5000), 0), "PingTimeout"),
            (("hops", sv(Idle=10), 4), "flags"),
            # Idle not below FirewallTimeout: refused, the message says why.
            (("hops", sv(Idle=10, Interval=5, Count=2, UserTimeout=1000, FirewallTimeout=5), 0),
             "FirewallTimeout"),
            (("hops", sv(Idle=90), 0), "FirewallTimeout"),
            (("sessions", sv(Idle=60), 0), "FirewallTimeout"),
            (("hops", sv(PingInterval=60000, PingTimeout=120000), 0), "PingInterval"),
            # A ping mismatch may be accepted, but not persisted.
            (("hops", sv(PingInterval=60000, PingTimeout=120000), PERSIST | ALLOW_MISMATCH),
             "persist"),
        ]
        for args, word in bad:
            with self.subTest(args=args):
                self.assertDBusError(E_INVALID, self.dbus.call, name, "SetSettings", "sa{sv}u",
                                     args, iface=KEEPALIVE, contains=word)
        self.assertDBusError(E_INVALID, self.dbus.call, name, "GetSettings", "s", ("both",),
                             iface=KEEPALIVE, contains="both")
        self.assertEqual((self.get("relay1", "hops"), self.get("relay1", "sessions")), before)

    def test_firewall_mismatch_flag(self):
        """With ALLOW_FIREWALL_MISMATCH an Idle not below FirewallTimeout is
        applied and comes back as a warning naming both values."""
        self.make_chain(extra="[Keepalive]\nIdle=30\nFirewallTimeout=60\nPingInterval=10s\n")
        warnings = self.set("relay1", "sessions", ALLOW_MISMATCH, Idle=90)
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("Idle=90", warnings[0])
        self.assertIn("FirewallTimeout=60", warnings[0])
        self.assertEqual(self.get("relay1", "sessions")["Idle"], 90)
        # Keepalive off on sessions under a known firewall timeout: allowed,
        # with advice.
        warnings = self.set("relay1", "sessions", Keepalive=False)
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("Keepalive is off", warnings[0])

    def test_persist_restart_and_reload(self):
        """PERSIST writes a drop-in under $STATE_DIRECTORY that a restart
        reads; a change without PERSIST is undone by a reload (SIGHUP),
        the persisted one is not."""
        state = os.path.join(self.workdir, "state")
        self.daemon_env["STATE_DIRECTORY"] = state
        self.make_chain()
        self.set("relay1", "hops", PERSIST, Idle=77, Interval=7)
        self.set("relay1", "sessions", PERSIST, Keepalive=False)
        d = os.path.join(state, f"relay@{RELAY_INSTANCE}.conf.d")
        with open(os.path.join(d, "50-keepalive.conf")) as f:
            text = f.read()
        self.assertIn("[Keepalive]", text)
        self.assertIn("Idle=77", text)
        self.assertIn("Interval=7", text)
        # Only what was changed: a later edit in /etc of another key counts.
        self.assertNotIn("PingInterval", text)
        self.assertNotIn("Count", text)
        with open(os.path.join(d, "50-session-keepalive.conf")) as f:
            self.assertIn("Keepalive=no", f.read())
        # Not persisted: gone after a reload.
        self.set("relay1", "hops", Count=9)
        relay = self.d("relay1")
        os.kill(relay.pid, signal.SIGHUP)
        wait_until(lambda: self.get("relay1", "hops")["Count"] == 4, 10 * SLOW,
                   what="reload undoes the change that was not persisted")
        self.assertEqual(self.get("relay1", "hops")["Idle"], 77)
        relay.restart()
        self.wait_name("relay1")
        hops = self.get("relay1", "hops")
        self.assertEqual((hops["Idle"], hops["Interval"], hops["Count"]), (77, 7, 4))
        self.assertFalse(self.get("relay1", "sessions")["Keepalive"])
        # A second persisted change merges with the first.
        self.set("relay1", "hops", PERSIST, Count=5)
        with open(os.path.join(d, "50-keepalive.conf")) as f:
            text = f.read()
        for line in ("Idle=77", "Interval=7", "Count=5"):
            self.assertIn(line, text)


def GLib_variant(sig, value):
    from tfst_bus import GLib
    return GLib.Variant(sig, value)


class AuditTest(KeepaliveTestCase):
    def test_audit_matches_ss(self):
        """Audit on gw1 (one client session open) and relay1 lists the
        instance's sockets, each kind as documented, and agrees with
        ss -tnoi on state, addresses and the keepalive timer."""
        self.make_chain()
        s = self.session()
        s.exchange(100000, 5000)
        self.set("gw1", "hops", Idle=5, Interval=1)
        self.set("gw1", "sessions", Idle=5, Interval=1)
        conns = self.audit("gw1")
        kinds = sorted(c["kind"] for c in conns)
        self.assertEqual(kinds, ["client", "listener", "parent"], conns)
        relay_kinds = sorted(c["kind"] for c in self.audit("relay1"))
        self.assertEqual(relay_kinds, ["child", "listener", "parent"])
        ep_kinds = sorted(c["kind"] for c in self.audit("ep"))
        self.assertEqual(ep_kinds, ["child", "listener", "target"])
        parent = next(c for c in conns if c["kind"] == "parent")
        self.assertEqual(parent["peer"], "relay1")
        client = next(c for c in conns if c["kind"] == "client")
        self.assertEqual(client["remote"], s.client)
        self.assertEqual(client["bytes_received"], s.up)  # everything sent reached gw1
        self.assertGreater(client["rtt"], 0)
        # The kernel's view, read separately.
        time.sleep(0.5)
        conns = self.audit("gw1")
        kernel = ss_here()
        for c in conns:
            with self.subTest(kind=c["kind"]):
                key = (c["local"], c["remote"] or "0.0.0.0:*")
                self.assertIn(key, kernel, f"{c} not in ss: {sorted(kernel)}")
                k = kernel[key]
                self.assertEqual(c["state"], k["state"])
                if c["kind"] == "listener":
                    self.assertFalse(c["keepalive"])
                    continue
                self.assertTrue(c["keepalive"], c)
                self.assertEqual(timer_kind(k), "keepalive", k)
                # Both count down the same timer, a moment apart.
                self.assertLessEqual(c["timer"], 5000)
                self.assertAlmostEqual(c["timer"], timer_ms(k), delta=1500)
                self.assertEqual(c["retransmits"], 0)
        s.finish()


class PolkitKeepaliveTest(KeepaliveTestCase):
    def test_nobody(self):
        """As nobody: GetSettings and Audit need observe, SetSettings needs
        tune, each denial naming its action; with observe granted the reads
        work and SetSettings is still denied."""
        self.make_chain()
        name = self.names["relay1"]
        for method, args, action in (("GetSettings", ["'hops'"], OBSERVE),
                                     ("Audit", [], OBSERVE),
                                     ("SetSettings", ["'hops'", "{'Idle': <@u 10>}", "0"], TUNE)):
            with self.subTest(method=method):
                self.assertDBusError(E_ACCESS, self.gdbus_as, name, method, *args,
                                     iface=KEEPALIVE, contains=action)
        self.grant(OBSERVE)
        got = self.gdbus_as(name, "GetSettings", "'sessions'", iface=KEEPALIVE)[0]
        self.assertEqual(got["Idle"], 300)
        audit = self.gdbus_as(name, "Audit", iface=KEEPALIVE)[0]
        self.assertEqual(sorted(c[0] for c in audit), ["child", "listener", "parent"])
        self.assertDBusError(E_ACCESS, self.gdbus_as, name, "SetSettings", "'hops'",
                             "{'Idle': <@u 10>}", "0", iface=KEEPALIVE, contains=TUNE)
        self.grant(TUNE)
        self.assertEqual(self.gdbus_as(name, "SetSettings", "'hops'", "{'Idle': <@u 10>}", "0",
                                       iface=KEEPALIVE)[0], [])
        self.assertEqual(self.get("relay1", "hops")["Idle"], 10)


class TfstctlKeepaliveTest(KeepaliveTestCase):
    def tfstctl(self, *args, check=True):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address, LC_ALL="C")
        r = subprocess.run([TFSTCTL, *args], capture_output=True, text=True, env=env,
                           timeout=30, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"tfstctl {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def test_show_set_audit(self):
        """tfstctl keepalive show / set / audit agree with D-Bus, --json
        included; a refused change exits 2 naming the reason, a bad
        option exits 2."""
        self.make_chain(extra="[Keepalive]\nIdle=30\nFirewallTimeout=60\nPingInterval=10s\n")
        inst = f"relay@{RELAY_INSTANCE}"
        shown = json.loads(self.tfstctl("-i", inst, "--json", "keepalive", "show").stdout)
        # snake_case, times in microseconds (tfstctl(1), JSON OUTPUT)
        hops = self.get("relay1", "hops")
        self.assertEqual(shown["hops"], {
            "keepalive": hops["Keepalive"], "idle_us": hops["Idle"] * 1_000_000,
            "interval_us": hops["Interval"] * 1_000_000, "count": hops["Count"],
            "user_timeout_us": hops["UserTimeout"] * 1000,
            "firewall_timeout_us": hops["FirewallTimeout"] * 1_000_000,
            "ping_interval_us": hops["PingInterval"] * 1000,
            "ping_timeout_us": hops["PingTimeout"] * 1000})
        self.assertEqual(shown["hops"]["idle_us"], 30_000_000)
        self.assertEqual(set(shown["sessions"]),
                         {"keepalive", "idle_us", "interval_us", "count", "user_timeout_us",
                          "firewall_timeout_us"})
        text = self.tfstctl("-i", inst, "keepalive", "show").stdout
        self.assertIn("PingInterval", text)
        self.assertIn("10s", text)
        r = self.tfstctl("-i", inst, "keepalive", "set", "--scope=hops", "Idle=20", "Interval=5s",
                         "UserTimeout=2s")
        got = self.get("relay1", "hops")
        self.assertEqual((got["Idle"], got["Interval"], got["UserTimeout"]), (20, 5, 2000))
        # InvalidArgs from the daemon: exit 2, as for every command.
        r = self.tfstctl("-i", inst, "keepalive", "set", "--scope=sessions", "Idle=90", check=False)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("FirewallTimeout", r.stderr)
        # the message names the option, never the D-Bus flag
        self.assertIn("pass --allow-firewall-mismatch to accept it", r.stderr)
        self.assertNotIn("ALLOW_FIREWALL_MISMATCH", r.stderr)
        r = self.tfstctl("-i", inst, "keepalive", "set", "--scope=sessions", "Idle=90",
                         "--allow-firewall-mismatch")
        self.assertIn("FirewallTimeout", r.stdout + r.stderr)
        self.assertEqual(self.get("relay1", "sessions")["Idle"], 90)
        r = self.tfstctl("-i", inst, "keepalive", "set", "Idle=abc", check=False)
        self.assertEqual(r.returncode, 2, r)
        r = self.tfstctl("-i", inst, "keepalive", "set", "Bogus=1", check=False)
        self.assertEqual(r.returncode, 2, r)
        audit = json.loads(self.tfstctl("-i", inst, "--json", "keepalive", "audit").stdout)
        self.assertEqual(sorted(c["kind"] for c in audit["connections"]),
                         ["child", "listener", "parent"])
        text = self.tfstctl("-i", inst, "keepalive", "audit").stdout
        self.assertIn("ESTAB", text)
        self.assertIn("LISTEN", text)


if __name__ == "__main__":
    unittest.main()
