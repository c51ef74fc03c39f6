# SPDX-License-Identifier: GPL-2.0-or-later
"""org.tfst.Tfst1.Events on a private system bus with the real polkitd
(tfst_bus.PrivateSystemBus), against a real chain on loopback that carries
one event sink:

    UDP sender -> gwproxy@dmz-3 "gw1" ([Events syslog] Listen=udp:)
        -> relay@2 "relay1" -> epproxy@1 "ep" ([Events syslog] Target=udp:)
        -> a UDP collector in the test

The contract is dbus/org.tfst.Tfst1.Events.xml: GetSinks() with one
dictionary per sink and the keys of its role (collect at gw1, deliver at
ep, the stream passing through at relay1), counters that follow real
events end to end, ClearStatistics(), Flush() of every sink, of one, and
of a name that is no sink (NotFound naming it); polkit (observe to read,
manage to change) for an unprivileged caller; and `tfstctl events`, its
table and --json agreeing with the bus.

Serial, root only; skips with the reason otherwise.
"""

import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, linear_chain, wait_until  # noqa: E402

from tfst_bus import (E_ACCESS, E_NOTFOUND, EP_INSTANCE, EVENTS, GW_INSTANCE,  # noqa: E402
                      INSTANCES, LABELS, MANAGE, OBSERVE, RELAY_INSTANCE, TFSTCTL, DbusTestCase,
                      bus_name, cmd_handler)

SINK = "syslog"
SPOOL_DEFAULT = 256 * 1024 * 1024
DELIVERY = 20 * SLOW  # events through three hops and an acknowledgement back
COUNTERS = ("Received", "Spooled", "Forwarded", "Resent", "Acknowledged", "Delivered",
            "Duplicates")
# The keys each role has (org.tfst.Tfst1.Events.xml); others may be added.
COLLECT_KEYS = {"Name", "Role", "Listen", "Path", "Received", "Spooled", "Forwarded", "Resent",
                "Acknowledged", "Dropped", "Malformed", "SpoolBytes", "SpoolEvents",
                "SpoolCapacity", "OldestUnackedAge", "FarEndStatus", "Connections"}
DELIVER_KEYS = {"Name", "Role", "Target", "TargetState", "TargetError", "Received",
                "Delivered", "Duplicates"}


class EventsTestCase(DbusTestCase):
    def make_chain(self, wait_names=True):
        """The chain with [Events syslog] at both ends, a UDP collector
        bound before the epproxy starts, spools in the test's directory."""
        self.collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(self.collector.close)
        self.collector.bind(("127.0.0.1", self.port()))
        self.target = "udp:127.0.0.1:%d" % self.collector.getsockname()[1]
        self.listen = "udp:127.0.0.1:%d" % self.port()
        self.daemon_env["STATE_DIRECTORY"] = os.path.join(self.workdir, "state")
        self.srv = self.server(cmd_handler)
        top = linear_chain(self, relays=1, up={"web": self.srv.addr},
                           ep_instance=EP_INSTANCE, relay_instance=RELAY_INSTANCE,
                           gw_instance=GW_INSTANCE,
                           gw_extra=f"[Events {SINK}]\nListen={self.listen}\n",
                           ep_extra=f"[Events {SINK}]\nTarget={self.target}\n")
        self.top = top
        top.start()
        top.wait_converged()
        self.names = {label: bus_name(role, INSTANCES[role]) for role, label in LABELS.items()}
        if wait_names:
            for label in ("ep", "relay1", "gw1"):
                self.wait_name(label)
        return top

    def sinks(self, label):
        return self.dbus.call(self.names[label], "GetSinks", iface=EVENTS)[0]

    def sink(self, label, name=SINK):
        found = [s for s in self.sinks(label) if s.get("Name") == name]
        self.assertEqual(len(found), 1, f"{label}: {self.sinks(label)}")
        return found[0]

    def send(self, tag, n):
        """n syslog lines (RFC 5424) to gw1's Listen=; returns them."""
        host, port = self.listen[len("udp:"):].rsplit(":", 1)
        lines = [f"<13>1 - host test - - - {tag} {i}".encode() for i in range(n)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for line in lines:
                s.sendto(line, (host, int(port)))
        return lines

    def collect(self, n):
        """The next n datagrams the collector gets (in order)."""
        got = []
        self.collector.settimeout(DELIVERY)
        while len(got) < n:
            try:
                got.append(self.collector.recv(70000))
            except socket.timeout:
                raise AssertionError(f"the collector got {len(got)} of {n} events: {got}, "
                                     f"gw1: {self.sinks('gw1')}, ep: {self.sinks('ep')}") from None
        return got

    def wait_sink(self, label, pred, what, name=SINK):
        last = {}

        def check():
            nonlocal last
            found = [s for s in self.sinks(label) if s.get("Name") == name]
            last = found[0] if found else {}
            return bool(found) and pred(last)

        try:
            wait_until(check, DELIVERY, interval=0.1, what=what)
        except AssertionError as e:
            raise AssertionError(f"{label}: {e}; last GetSinks: {last}") from None
        return last

    def deliver(self, tag, n):
        """Sends n events and waits until the collector has them and gw1's
        spool is empty again (acknowledged end to end)."""
        sent = self.send(tag, n)
        self.assertEqual(self.collect(n), sent)
        return self.wait_sink("gw1", lambda s: s["SpoolEvents"] == 0 and s["Acknowledged"] >= n,
                              f"the {n} events acknowledged and out of the spool")


class GetSinksTest(EventsTestCase):
    def test_shape_and_counters(self):
        """Each end has one dictionary with the keys of its role and the
        types of the XML; the counters follow five real events end to end
        (received, spooled, forwarded, acknowledged at gw1, delivered at
        ep, the stream at relay1), in order."""
        self.make_chain()
        gw = self.sink("gw1")
        self.assertLessEqual(COLLECT_KEYS, set(gw), gw)
        self.assertEqual(gw["Role"], "collect")
        self.assertEqual(gw["Listen"], [self.listen])
        self.assertEqual(gw["SpoolCapacity"], SPOOL_DEFAULT)
        self.assertEqual(gw["Path"], "relay1")
        self.assertNotIn("Target", gw)
        ep = self.sink("ep")
        self.assertLessEqual(DELIVER_KEYS, set(ep), ep)
        self.assertEqual(ep["Role"], "deliver")
        self.assertEqual(ep["Target"], self.target)
        self.assertNotIn("SpoolCapacity", ep)
        self.assertNotIn("Listen", ep)
        # Types as the XML says (GLib unpacks t and u to int, a{st} to dict).
        raw = self.dbus.call_raw(self.names["gw1"], "GetSinks", iface=EVENTS)
        self.assertEqual(raw.get_type_string(), "(aa{sv})")
        d = raw.get_child_value(0).get_child_value(0)
        types = {d.get_child_value(i).get_child_value(0).get_string():
                 d.get_child_value(i).get_child_value(1).get_variant().get_type_string()
                 for i in range(d.n_children())}
        for key in COUNTERS[:5] + ("SpoolBytes", "SpoolEvents", "SpoolCapacity",
                                   "OldestUnackedAge"):
            self.assertEqual(types[key], "t", key)
        self.assertEqual(types["Dropped"], "a{st}")
        self.assertEqual(types["Malformed"], "a{st}")
        self.assertEqual(types["Listen"], "as")
        self.assertEqual(types["Connections"], "u")

        gw = self.deliver("shape", 5)
        self.assertEqual((gw["Received"], gw["Spooled"], gw["Forwarded"], gw["Acknowledged"]),
                         (5, 5, 5, 5), gw)
        self.assertEqual(gw["Dropped"], {})
        self.assertEqual(gw["OldestUnackedAge"], 0)
        self.assertEqual(gw["FarEndStatus"], "")
        ep = self.wait_sink("ep", lambda s: s["Delivered"] == 5, "5 delivered at ep")
        self.assertEqual((ep["Received"], ep["Duplicates"]), (5, 0), ep)
        self.assertEqual(ep["TargetState"], "up")
        relay = self.sink("relay1")
        self.assertEqual(relay["Role"], "relay")
        self.assertEqual(relay["Path"], "ep")


class ClearFlushTest(EventsTestCase):
    def test_clear_and_flush(self):
        """ClearStatistics() zeroes the counters and keeps the sink; Flush()
        of every sink and of one answers (), and the events still arrive
        once, in order; Flush() of a name that is no sink is NotFound
        naming it."""
        self.make_chain()
        self.deliver("before", 3)
        self.assertEqual(self.dbus.call(self.names["gw1"], "ClearStatistics", iface=EVENTS), ())
        gw = self.sink("gw1")
        for key in ("Received", "Spooled", "Forwarded", "Resent", "Acknowledged"):
            self.assertEqual(gw[key], 0, key)
        self.assertEqual(gw["Listen"], [self.listen])
        for name in ("", SINK):
            with self.subTest(flush=name):
                self.assertEqual(self.dbus.call(self.names["gw1"], "Flush", "s", (name,),
                                                iface=EVENTS), ())
                self.assertEqual(self.dbus.call(self.names["ep"], "Flush", "s", (name,),
                                                iface=EVENTS), ())
        gw = self.deliver("after", 4)
        self.assertEqual(gw["Received"], 4)
        for label in ("gw1", "ep", "relay1"):
            with self.subTest(label=label):
                self.assertDBusError(E_NOTFOUND, self.dbus.call, self.names[label], "Flush", "s",
                                     ("no-such-sink",), iface=EVENTS, contains="no-such-sink")


class PolkitEventsTest(EventsTestCase):
    def test_nobody(self):
        """As nobody: GetSinks needs observe, ClearStatistics and Flush need
        manage, each denial naming its action (an unknown sink is denied,
        not NotFound: polkit comes first); with observe GetSinks answers
        and the changes are still denied; with manage they work."""
        self.make_chain()
        name = self.names["gw1"]
        for method, args, action in (("GetSinks", [], OBSERVE),
                                     ("ClearStatistics", [], MANAGE),
                                     ("Flush", ["''"], MANAGE),
                                     ("Flush", ["'no-such-sink'"], MANAGE)):
            with self.subTest(method=method, args=args):
                self.assertDBusError(E_ACCESS, self.gdbus_as, name, method, *args,
                                     iface=EVENTS, contains=action)
        self.grant(OBSERVE)
        sinks = self.gdbus_as(name, "GetSinks", iface=EVENTS)[0]
        self.assertEqual([s["Name"] for s in sinks], [SINK])
        self.assertDBusError(E_ACCESS, self.gdbus_as, name, "Flush", f"'{SINK}'", iface=EVENTS,
                             contains=MANAGE)
        self.grant(MANAGE)
        self.assertEqual(self.gdbus_as(name, "Flush", f"'{SINK}'", iface=EVENTS), ())
        self.assertEqual(self.gdbus_as(name, "ClearStatistics", iface=EVENTS), ())
        self.assertDBusError(E_NOTFOUND, self.gdbus_as, name, "Flush", "'no-such-sink'",
                             iface=EVENTS, contains="no-such-sink")


class TfstctlEventsTest(EventsTestCase):
    def tfstctl(self, *args, check=True):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address, LC_ALL="C")
        r = subprocess.run([TFSTCTL, *args], capture_output=True, text=True, env=env,
                           timeout=30, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"tfstctl {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def test_table_json_flush_clear(self):
        """tfstctl events shows each end's record and its --json agrees
        with GetSinks(); NAME selects, an unknown NAME exits 1 naming it;
        --flush and --clear work (--clear after printing)."""
        self.make_chain()
        self.deliver("ctl", 2)
        gw_inst, ep_inst = f"gwproxy@{GW_INSTANCE}", f"epproxy@{EP_INSTANCE}"
        text = self.tfstctl("-i", gw_inst, "events").stdout
        self.assertIn(f"Sink {SINK} (collecting end):", text)
        self.assertRegex(text, r"(?m)^\s*Listen:\s+%s$" % self.listen)
        self.assertRegex(text, r"(?m)^\s*Acknowledged:\s+2$")
        self.assertRegex(text, r"(?m)^\s*Spool:\s+.* of 256 MiB \(\d+\.\d %\), 0 events$")
        self.assertRegex(text, r"(?m)^\s*Far end:\s+ok$")
        self.assertNotIn("Target", text)
        text = self.tfstctl("-i", ep_inst, "events", SINK).stdout
        self.assertIn(f"Sink {SINK} (delivering end):", text)
        self.assertRegex(text, r"(?m)^\s*Target:\s+%s$" % self.target)
        self.assertRegex(text, r"(?m)^\s*Target state:\s+up$")
        self.assertRegex(text, r"(?m)^\s*Delivered:\s+2$")

        doc = json.loads(self.tfstctl("-i", gw_inst, "--json", "events").stdout)
        self.assertEqual(doc["instance"], gw_inst)
        self.assertEqual(len(doc["sinks"]), 1)
        js, bus = doc["sinks"][0], self.sink("gw1")
        self.assertEqual((js["name"], js["role"], js["listen"], js["spool_capacity_bytes"]),
                         (SINK, "collect", [self.listen], SPOOL_DEFAULT))
        self.assertEqual((js["received"], js["acknowledged"], js["dropped"]),
                         (bus["Received"], bus["Acknowledged"], bus["Dropped"]))
        self.assertNotIn("target", js)

        r = self.tfstctl("-i", gw_inst, "events", "no-such-sink", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no-such-sink", r.stderr)
        r = self.tfstctl("-i", gw_inst, "events", "--flush", "no-such-sink", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no-such-sink", r.stderr)
        self.tfstctl("-i", gw_inst, "events", "--flush", SINK)
        doc = json.loads(self.tfstctl("-i", gw_inst, "--json", "events", "--clear").stdout)
        self.assertEqual(doc["sinks"][0]["received"], 2)
        self.assertEqual(self.sink("gw1")["Received"], 0)
