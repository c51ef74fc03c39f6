# SPDX-License-Identifier: GPL-2.0-or-later
"""The D-Bus control API and its polkit authorization, on a private system
bus with the real polkitd (tfst_bus.PrivateSystemBus), against a real chain
on loopback:

    client (127.0.0.2 / 127.0.0.3) -> gwproxy@dmz-3 "gw1" -> relay@2 "relay1"
        -> epproxy@1 "ep" -> target server (127.0.0.1)

The contract is dbus/org.tfst.Tfst1.*.xml (the DocStrings define names,
types and errors), issue 5 and ../shared/DESIGN.md section 4:

- each instance owns org.tfst.Tfst1.<role>_<escaped instance>
  (org.tfst.Tfst1.gwproxy_dmz_2d3: every byte not [A-Za-z0-9] becomes _XX)
  and serves /org/tfst/Tfst1;
- uid 0 passes without polkit; other callers need org.tfst.tfst1.observe
  (ListSessions, GetStatistics, DataFlow) or org.tfst.tfst1.manage
  (CloseSession, ClearStatistics, Reload, SetLogLevel); a denial is
  org.freedesktop.DBus.Error.AccessDenied naming the action;
- the Keepalive, Ipsec and Trace interfaces (issue 6) check polkit first:
  reads need observe, SetSettings needs org.tfst.tfst1.tune and the trace
  methods but List need org.tfst.tfst1.trace (their behaviour is tested in
  test_keepalive.py, test_ipsec.py and test_trace.py);
- the bus is never a dependency of forwarding.

Root calls use python3-gi (GDBusConnection); calls as nobody use gdbus
through setpriv.  tfstctl is $TFSTCTL.  Serial, root only; skips with the
reason otherwise.  Ports 27000-27499.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import KIB, TFSTD, connect, linear_chain, wait_closed, wait_until  # noqa: E402

from tfst_bus import (E_ACCESS, E_CONFIG, E_INVALID, E_NOTFOUND, EP_INSTANCE,  # noqa: E402
                      EVENTS, GW_INSTANCE, HOP_FIELDS, IFACE, INSTANCES, IPSEC, KEEPALIVE, LABELS,
                      MANAGE, OBJ, OBSERVE, PROPS, RELAY_INSTANCE, ROLE_OF_LABEL, SESSION_FIELDS, SETTLE,
                      STAT_KEYS_T, TFSTCTL, TRACE, TRACE_ACTION, TUNE, Client, DBusCallError,
                      DbusTestCase, GLib, api_xml_files, bus_name, cmd_handler, now_us, parse_api,
                      signature, sv)

# systemd's interface for log levels, served on each instance's bus name.
LOGCONTROL = "org.freedesktop.LogControl1"
LOGCONTROL_OBJ = "/org/freedesktop/LogControl1"

# "registers again when the bus is back": the brief allows ~35 s.
BUS_BACK_TIMEOUT = 40

# A log line about the bus (lost / unavailable / back).  Assumption: the
# daemon's message names the bus ("D-Bus", "system bus", "bus").
BUS_LOG_RE = re.compile(r"(?i)(d-bus|dbus|system bus|\bbus\b)")


# --------------------------------------------------------------------------
# The API as root


class ApiTest(DbusTestCase):
    # a. introspection

    def test_introspection_busctl(self):
        """busctl introspect lists every interface and every method,
        property and signal of dbus/*.xml with its signature; Version is
        const, every other property emits PropertiesChanged."""
        self.make_chain(wait_names=True)
        api = parse_api(api_xml_files())
        self.assertEqual(sorted(api), [EVENTS, IFACE, IPSEC, KEEPALIVE, TRACE])
        for label in ("ep", "relay1", "gw1"):
            with self.subTest(label=label):
                r = self.bus.run(["busctl", f"--address={self.bus.address}", "--no-pager",
                                  "introspect", self.names[label], OBJ])
                self.assertEqual(r.returncode, 0, r.stderr)
                seen = {}
                iface = None
                for line in r.stdout.splitlines():
                    tok = line.split()
                    if len(tok) >= 2 and tok[1] == "interface":
                        iface = tok[0]
                        seen[iface] = {}
                    elif tok and tok[0].startswith(".") and iface is not None:
                        seen[iface][tok[0][1:]] = tok[1:]
                for ifname, members in api.items():
                    self.assertIn(ifname, seen, f"busctl introspect lacks {ifname}:\n{r.stdout}")
                    got = seen[ifname]
                    for m, args in members["method"].items():
                        self.assertIn(m, got, f"{ifname}.{m} missing")
                        self.assertEqual(got[m][0], "method")
                        self.assertEqual(got[m][1], signature(args, "in") or "-",
                                         f"{ifname}.{m} input signature")
                        self.assertEqual(got[m][2], signature(args, "out") or "-",
                                         f"{ifname}.{m} output signature")
                    for p, (ptype, _) in members["property"].items():
                        self.assertIn(p, got, f"{ifname}.{p} missing")
                        self.assertEqual(got[p][:2], ["property", ptype], f"{ifname}.{p}")
                        want = "const" if p == "Version" else "emits-change"
                        self.assertEqual(got[p][-1], want, f"{ifname}.{p} flags")
                    for s, args in members["signal"].items():
                        self.assertIn(s, got, f"{ifname}.{s} missing")
                        self.assertEqual(got[s][:2], ["signal", "".join(t for _, t in args)
                                                      or "-"], f"{ifname}.{s}")
                    extra = set(got) - set(members["method"]) - set(members["property"]) - \
                        set(members["signal"])
                    self.assertEqual(extra, set(), f"{ifname}: members not in the XML")

    def test_introspection_gdbus(self):
        """gdbus introspect shows the interfaces and members; its --xml
        output has every argument with name, type and direction as in
        dbus/*.xml, and property access."""
        self.make_chain()
        api = parse_api(api_xml_files())
        name = self.names["relay1"]
        base = ["gdbus", "introspect", "--address", self.bus.address, "--dest", name,
                "--object-path", OBJ]
        r = self.bus.run(base)
        self.assertEqual(r.returncode, 0, r.stderr)
        for ifname, members in api.items():
            self.assertRegex(r.stdout, rf"(?m)^\s*interface {re.escape(ifname)} {{")
            for m in list(members["method"]) + list(members["signal"]):
                self.assertRegex(r.stdout, rf"(?m)^\s+{m}\(", f"{ifname}.{m}")
            for p, (ptype, access) in members["property"].items():
                self.assertEqual(access, "read", f"{ifname}.{p}: the API has no writable property")
                self.assertRegex(r.stdout, rf"(?m)^\s+readonly {re.escape(ptype)} {p} = ",
                                 f"{ifname}.{p}")
        r = self.bus.run(base + ["--xml"])
        self.assertEqual(r.returncode, 0, r.stderr)
        got = parse_api(r.stdout)
        for ifname, members in api.items():
            self.assertIn(ifname, got)
            self.assertEqual(got[ifname], members, f"{ifname}: introspection differs from XML")

    # b. properties

    def test_properties(self):
        """Role, Instance, Label, Version, State, LogLevel, Listeners,
        Parent, Children, Chain and SessionCount of all three instances."""
        top = self.make_chain()
        r = subprocess.run([TFSTD, "--version"], capture_output=True, text=True, timeout=10)
        m = re.match(r"tfstd (\S+) \(build level (\S+)\)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        version, level = m.groups()
        expect_chain = {
            "ep": {"ep": 0, "relay1": 1, "gw1": 2},
            "relay1": {"ep": -1, "relay1": 0, "gw1": 1},
            "gw1": {"ep": -2, "relay1": -1, "gw1": 0},
        }
        for label in ("ep", "relay1", "gw1"):
            role = ROLE_OF_LABEL[label]
            name = self.names[label]
            with self.subTest(label=label):
                # Properties follow the data plane at most 4 times a second.
                wait_until(lambda: {lab: dep for lab, dep in self.dbus.get(name, "Chain")}
                           == expect_chain[label], SETTLE, what=f"{label} Chain")
                p = self.dbus.get_all(name)
                self.assertEqual(p["Role"], role)
                self.assertEqual(p["Instance"], INSTANCES[role])
                self.assertEqual(p["Label"], label)
                self.assertTrue(p["Version"].startswith(version), p["Version"])
                self.assertIn(level, p["Version"])
                self.assertEqual(p["LogLevel"], 1)  # the default, LogLevel= not set
                self.assertEqual(p["SessionCount"], 0)
                wait_until(lambda: self.dbus.get(name, "State") == "running", SETTLE,
                           what=f"{label} State running")
                chain = {lab: depth for lab, depth in self.dbus.get(name, "Chain")}
                self.assertEqual(chain, expect_chain[label])
                listeners = {tuple(x) for x in p["Listeners"]}
                node = top.node(label)
                if node.children_port is not None:
                    self.assertIn(("127.0.0.1", node.children_port), listeners)
                if label == "gw1":
                    self.assertIn(self.web, listeners)
        now = now_us()
        # The hops: relay1's parent is ep (it connects to ep's children port),
        # its child gw1; ep has no parent, gw1 no children.
        parent = [dict(zip(HOP_FIELDS, h)) for h in self.dbus.get(self.names["relay1"],
                                                                  "Parent")]
        self.assertEqual(len(parent), 1, parent)
        self.assertEqual(parent[0]["label"], "ep")
        self.assertEqual((parent[0]["address"], parent[0]["port"]),
                         ("127.0.0.1", top.node("ep").children_port))
        self.assertIs(parent[0]["up"], True)
        self.assertGreaterEqual(parent[0]["since"], self.t_start_us - 1_000_000)
        self.assertLessEqual(parent[0]["since"], now + 1_000_000)
        self.assertEqual(parent[0]["reconnects"], 0)
        for label, want in (("relay1", "gw1"), ("ep", "relay1")):
            kids = [dict(zip(HOP_FIELDS, h)) for h in self.dbus.get(self.names[label],
                                                                   "Children")]
            self.assertEqual([(k["label"], k["address"], k["up"]) for k in kids],
                             [(want, "127.0.0.1", True)], f"{label} Children")
        gw_parent = [dict(zip(HOP_FIELDS, h)) for h in self.dbus.get(self.names["gw1"],
                                                                    "Parent")]
        self.assertEqual([(h["label"], h["up"], h["port"]) for h in gw_parent],
                         [("relay1", True, top.node("relay1").children_port)])
        self.assertEqual(self.dbus.get(self.names["ep"], "Parent"), [])
        self.assertEqual(self.dbus.get(self.names["gw1"], "Children"), [])

        # SessionCount follows the sessions the test holds open.
        sessions = [self.session("127.0.0.2") for _ in range(3)]
        for s in sessions:
            s.exchange(10, 10)
        for label in ("gw1", "relay1", "ep"):
            self.wait_count(label, 3)
        sessions[0].finish()
        for label in ("gw1", "relay1", "ep"):
            self.wait_count(label, 2)

    # c. ListSessions against real traffic

    def test_list_sessions(self):
        """ListSessions on every component shows the open sessions with the
        exact bytes each way, forward, direction, client/target as each
        component sees them, state open; the filters select what they
        say; unknown keys and wrong types fail with InvalidArgs."""
        self.make_chain()
        t0 = now_us()
        sess = self.open_traffic()
        want = sorted((s.up, s.down) for s in sess)
        for label in ("gw1", "relay1", "ep"):
            with self.subTest(label=label):
                lst = self.wait_sessions(
                    label, lambda lst: sorted((x["bytes_to_target"], x["bytes_to_client"])
                                              for x in lst) == want,
                    f"the byte counts of {want}")
                self.assertEqual(len({x["id"] for x in lst}), 3, "session ids not unique")
                for x in lst:
                    self.assertEqual((x["forward"], x["direction"], x["state"]),
                                     ("web", "upcall", "open"), x)
                    self.assertLessEqual(x["idle"], x["age"], x)
                    self.assertLessEqual(x["age"], now_us() - t0 + 1_000_000, x)
                    self.assertGreater(x["age"], 0, x)
                if label == "gw1":
                    self.assertEqual(sorted((x["client"], x["bytes_to_target"],
                                             x["bytes_to_client"]) for x in lst),
                                     sorted((s.client, s.up, s.down) for s in sess))
                    self.assertEqual({x["target"] for x in lst}, {"<ep>"})
                else:
                    # The client connection is at gw1.  The contract names a
                    # side this instance "does not see" by "<gw1>"; tfstd
                    # shows the client address it learned from the session
                    # open instead: either is accepted, nothing else.
                    for x in lst:
                        s = next(s for s in sess
                                 if (s.up, s.down) == (x["bytes_to_target"],
                                                       x["bytes_to_client"]))
                        self.assertIn(x["client"], (s.client, "<gw1>"), x)
                    want_target = ("<ep>" if label == "relay1"
                                   else f"{self.srv.addr[0]}:{self.srv.addr[1]}")
                    self.assertEqual({x["target"] for x in lst}, {want_target})

        gw = self.names["gw1"]
        by_client = {s.client: s for s in sess}

        def clients(flt, name=gw):
            return sorted(x["client"] for x in self.dbus.sessions(name, flt))

        self.assertEqual(clients(sv(remote="127.0.0.2")), sorted(s.client for s in sess[:2]))
        self.assertEqual(clients(sv(remote="127.0.0.3")), [sess[2].client])
        self.assertEqual(clients(sv(remote="127.0.0.9")), [])
        # At gw1 the target side is "<ep>": 127.0.0.1 is neither end.
        self.assertEqual(clients(sv(remote="127.0.0.1")), [])
        # At ep the target is 127.0.0.1 for all three.
        self.assertEqual(len(clients(sv(remote="127.0.0.1"), self.names["ep"])), 3)
        self.assertEqual(clients(sv(forward="web")), sorted(by_client))
        self.assertEqual(clients(sv(forward="nosuch")), [])
        self.assertEqual(clients(sv(direction="upcall")), sorted(by_client))
        self.assertEqual(clients(sv(direction="downcall")), [])
        self.assertEqual(clients(sv(state="open")), sorted(by_client))
        self.assertEqual(clients(sv(state="closing")), [])
        self.assertEqual(clients(sv(remote="127.0.0.3", forward="web", direction="upcall")),
                         [sess[2].client])
        self.assertEqual(clients(sv(remote="127.0.0.3", direction="downcall")), [])

        self.assertDBusError(E_INVALID, self.dbus.sessions, gw, sv(nosuchkey="x"))
        self.assertDBusError(E_INVALID, self.dbus.sessions, gw,
                             {"remote": GLib.Variant("u", 1)})

    # d. statistics

    def test_statistics_and_clear(self):
        """GetStatistics counts the sessions and the upcall bytes exactly;
        ClearStatistics zeroes every counter and moves the clear time to
        now; counting restarts from zero."""
        self.make_chain()
        sess = self.open_traffic()
        up, down = sum(s.up for s in sess), sum(s.down for s in sess)
        for s in sess:
            s.finish()
        for label in ("gw1", "relay1", "ep"):
            self.wait_count(label, 0)
        for label in ("gw1", "relay1", "ep"):
            with self.subTest(label=label):
                name = self.names[label]
                raw = self.dbus.call_raw(name, "GetStatistics")
                self.assertEqual(raw.get_type_string(), "(a{sv}t)")
                types = {raw.get_child_value(0).get_child_value(i).get_child_value(0)
                         .get_string(): raw.get_child_value(0).get_child_value(i)
                         .get_child_value(1).get_variant().get_type_string()
                         for i in range(raw.get_child_value(0).n_children())}
                for k in STAT_KEYS_T:
                    self.assertEqual(types.get(k), "t", f"counter {k}: {types.get(k)}")
                self.assertEqual(types.get("SessionsFailedByErrno"), "a{st}")
                c, cleared = self.dbus.stats(name)
                wait_until(lambda: self.dbus.stats(name)[0]["SessionsClosed"] == 3, SETTLE,
                           what=f"{label}: SessionsClosed == 3")
                c, cleared = self.dbus.stats(name)
                self.assertEqual(c["SessionsOpened"], 3, c)
                self.assertEqual(c["SessionsClosed"], 3, c)
                self.assertEqual(c["SessionsFailed"], 0, c)
                self.assertEqual(c["SessionsReset"], 0, c)
                self.assertEqual(c["SessionsFailedByErrno"], {}, c)
                self.assertEqual(c["UpcallBytesToTarget"], up, c)
                self.assertEqual(c["UpcallBytesToClient"], down, c)
                self.assertEqual(c["DowncallBytesToTarget"], 0, c)
                self.assertEqual(c["DowncallBytesToClient"], 0, c)
                # Never cleared: the time the instance started.
                self.assertGreaterEqual(cleared, self.t_start_us - 1_000_000)
                self.assertLessEqual(cleared, self.t_ready_us + 1_000_000)

        gw = self.names["gw1"]
        _, before = self.dbus.stats(gw)
        relay_before = self.dbus.stats(self.names["relay1"])
        time.sleep(0.05)
        t0 = now_us()
        reset, since, new_clear = self.dbus.call(gw, "ClearStatistics")
        t1 = now_us()
        # what it reset: the counters as they were, from the clear before
        self.assertEqual(since, before)
        self.assertEqual(reset["SessionsOpened"], 3, reset)
        self.assertEqual(reset["UpcallBytesToTarget"], up, reset)
        c, cleared = self.dbus.stats(gw)
        self.assertEqual(cleared, new_clear)
        self.assertGreater(cleared, before)
        self.assertGreaterEqual(cleared, t0 - 1_000_000)
        self.assertLessEqual(cleared, t1 + 1_000_000)
        for k in STAT_KEYS_T:
            self.assertEqual(c[k], 0, f"{k} after ClearStatistics: {c}")
        self.assertEqual(c["SessionsFailedByErrno"], {})
        # Per instance: the relay's counters are untouched.
        self.assertEqual(self.dbus.stats(self.names["relay1"]), relay_before)

        s = self.session("127.0.0.3")
        s.exchange(12345, 54321)
        s.finish()
        self.wait_count("gw1", 0)
        wait_until(lambda: self.dbus.stats(gw)[0]["SessionsClosed"] == 1, SETTLE,
                   what="gw1: SessionsClosed == 1 after the clear")
        c, cleared2 = self.dbus.stats(gw)
        self.assertEqual(cleared2, cleared)
        self.assertEqual((c["SessionsOpened"], c["UpcallBytesToTarget"],
                          c["UpcallBytesToClient"]), (1, s.up, s.down), c)

    def test_statistics_failed_sessions(self):
        """A session whose target refuses the connection: SessionsFailed
        and SessionsFailedByErrno {"ECONNREFUSED": 1} at the endpoint
        proxy, which made the connection; no session is left anywhere."""
        self.srv = self.server(cmd_handler)
        closed = self.closed_port()
        top = linear_chain(self, relays=1, up={"web": self.srv.addr, "dead": closed},
                           ep_instance=EP_INSTANCE, relay_instance=RELAY_INSTANCE,
                           gw_instance=GW_INSTANCE)
        self.top = top
        top.start()
        top.wait_converged()
        self.names = {label: bus_name(role, INSTANCES[role]) for role, label in LABELS.items()}
        for label in ("ep", "relay1", "gw1"):
            self.wait_name(label)
        c = connect(top.listen_addr("gw1", "dead"))
        self.addCleanup(c.close)
        kind, _, _ = wait_closed(c, 10)
        self.assertIn(kind, ("rst", "eof"))
        ep = self.names["ep"]
        wait_until(lambda: self.dbus.stats(ep)[0]["SessionsFailed"] == 1, SETTLE,
                   what="ep: SessionsFailed == 1")
        counters, _ = self.dbus.stats(ep)
        self.assertEqual(counters["SessionsFailedByErrno"], {"ECONNREFUSED": 1}, counters)
        self.assertEqual((counters["SessionsOpened"], counters["SessionsClosed"]), (0, 0),
                         counters)
        for label in ("ep", "relay1", "gw1"):
            self.wait_count(label, 0)
            self.assertEqual(self.dbus.sessions(self.names[label]), [])

    def test_hop_down_state(self):
        """The relay stops: gw1's parent hop shows up=false with the label
        it had (the handshake completed once) and the configured peer, its
        State is no longer "running", ep lists relay1 as a child that is
        down; every change reaches PropertiesChanged (the last value is
        always sent).  The relay comes back: up again, one reconnect, State
        running, and again the signals agree with the properties."""
        self.make_chain()
        gw, ep = self.names["gw1"], self.names["ep"]
        gw_watch = self.watch_properties(gw)
        ep_watch = self.watch_properties(ep)
        # Quiet for a while: the loss is the first change in a fresh rate
        # limit window, so the changes that follow it (State, Chain) come
        # in a later emission, which must not get lost.
        time.sleep(1.0)
        relay = self.d("relay1")
        relay.stop()
        t_down = now_us()
        wait_until(lambda: [h[3] for h in self.dbus.get(gw, "Parent")] == [False], SETTLE,
                   what="gw1: parent hop down")
        hop = dict(zip(HOP_FIELDS, self.dbus.get(gw, "Parent")[0]))
        self.assertEqual(hop["label"], "relay1",
                         "the parent's label is empty only until the handshake completed once")
        self.assertEqual((hop["address"], hop["port"]),
                         ("127.0.0.1", self.top.node("relay1").children_port), hop)
        self.assertGreaterEqual(hop["since"], t_down - 1_000_000, hop)
        wait_until(lambda: self.dbus.get(gw, "State") in ("degraded", "connecting"), SETTLE,
                   what="gw1 State degraded or connecting")
        wait_until(lambda: {lab for lab, _ in self.dbus.get(gw, "Chain")} == {"gw1"}, SETTLE,
                   what="gw1 Chain without the lost labels")
        kids = [dict(zip(HOP_FIELDS, h)) for h in self.dbus.get(ep, "Children")]
        self.assertEqual([(k["label"], k["up"]) for k in kids if k["label"] == "relay1"],
                         [("relay1", False)], f"ep Children right after relay1 left: {kids}")
        gw_watch.assert_current("relay1 down")
        ep_watch.assert_current("relay1 down")

        relay.start()
        self.top.wait_converged()
        wait_until(lambda: [(h[0], h[3], h[6]) for h in self.dbus.get(gw, "Parent")]
                   == [("relay1", True, 1)], 15, what="gw1: parent relay1 up, 1 reconnect")
        wait_until(lambda: self.dbus.get(gw, "State") == "running", SETTLE,
                   what="gw1 running again")
        gw_watch.assert_current("relay1 back")
        ep_watch.assert_current("relay1 back")

    # e. DataFlow

    def test_dataflow(self):
        """DataFlow(target, 2) while exactly one exchange moves through one
        session: a session id, the instance ("") and at ep and gw report
        exactly the bytes moved; a quiet session reports 0/0; hop labels
        report at least the payload (frames included); the reply comes
        after the interval; unknown targets fail with NotFound."""
        self.make_chain()
        s1 = self.session("127.0.0.2")
        s2 = self.session("127.0.0.3")
        s1.exchange(100, 200)
        s2.exchange(300, 400)
        want = sorted([(s1.up, s1.down), (s2.up, s2.down)])
        ids = {}
        for label in ("gw1", "relay1", "ep"):
            lst = self.wait_sessions(label, lambda lst: sorted(
                (x["bytes_to_target"], x["bytes_to_client"]) for x in lst) == want, "counts")
            ids[label] = {(x["bytes_to_target"], x["bytes_to_client"]): x["id"] for x in lst}
        sid = {label: (ids[label][(s1.up, s1.down)], ids[label][(s2.up, s2.down)])
               for label in ids}

        calls = [
            ("gw1", str(sid["gw1"][0]), "session"),
            ("gw1", str(sid["gw1"][1]), "quiet"),
            ("gw1", "", "instance"),
            ("relay1", str(sid["relay1"][0]), "session"),
            ("relay1", "", "instance"),
            ("relay1", "gw1", "hop-child"),
            ("relay1", "ep", "hop-parent"),
            ("ep", str(sid["ep"][0]), "session"),
            ("ep", "", "instance"),
        ]
        results = [None] * len(calls)

        def run(i, label, target):
            t0 = time.monotonic()
            try:
                r = self.dbus.call(self.names[label], "DataFlow", "su", (target, 2), timeout=15)
            except DBusCallError as e:
                r = e
            results[i] = (r, time.monotonic() - t0)

        threads = [threading.Thread(target=run, args=(i, c[0], c[1]), daemon=True)
                   for i, c in enumerate(calls)]
        t_call = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(0.6)
        n_up, n_down = s1.exchange(123457, 65537)
        pushed_by = time.monotonic() - t_call
        self.assertLess(pushed_by, 1.6, "the push took too long to fit in the interval: "
                        "the measurement is inconclusive")
        for t in threads:
            t.join(20)
        for (label, target, kind), res in zip(calls, results):
            with self.subTest(label=label, target=target, kind=kind):
                self.assertIsNotNone(res, "DataFlow did not return")
                r, secs = res
                self.assertNotIsInstance(r, DBusCallError, r)
                sent, received = r
                # Measured here, the call takes the interval plus latency:
                # anything short of 2 s means the daemon's interval was short
                # (g_timeout_add_seconds() may fire up to a second early).
                self.assertGreaterEqual(secs, 1.98, "replied before the interval was over")
                if kind in ("session", "instance"):
                    self.assertEqual((sent, received), (n_up, n_down))
                elif kind == "quiet":
                    self.assertEqual((sent, received), (0, 0))
                else:
                    # Frames included: at least the payload, at most a
                    # modest framing overhead (headers, credit, PING).
                    toward_hop = n_up if kind == "hop-parent" else n_down
                    from_hop = n_down if kind == "hop-parent" else n_up
                    self.assertGreaterEqual(sent, toward_hop)
                    self.assertGreaterEqual(received, from_hop)
                    self.assertLessEqual(sent, toward_hop + toward_hop // 10 + 8192)
                    self.assertLessEqual(received, from_hop + from_hop // 10 + 8192)

        gw = self.names["gw1"]
        # The interval is never short, whatever the phase of the call
        # against the daemon's clock.  (g_timeout_add_seconds() rounds its
        # expiry to a whole second of a per-process phase, down by up to
        # 250 ms: a call 0.1 s after a reply, which came at such a second,
        # gets a 0.9 s interval.)
        for pause in (0.1, 0.2, 0.4):
            time.sleep(pause)
            t0 = time.monotonic()
            self.assertEqual(self.dbus.call(gw, "DataFlow", "su", ("", 1), timeout=15), (0, 0))
            self.assertGreaterEqual(time.monotonic() - t0, 0.99,
                                    "DataFlow(\"\", 1) replied before the second was over")
        self.assertDBusError(E_INVALID, self.dbus.call, gw, "DataFlow", "su", ("", 3601))
        self.assertDBusError(E_NOTFOUND, self.dbus.call, gw, "DataFlow", "su", ("999999999", 1))
        self.assertDBusError(E_NOTFOUND, self.dbus.call, gw, "DataFlow", "su", ("nosuchlabel", 1))

        # A session that goes away during the interval: NotFound.
        res = {}

        def vanishing():
            try:
                res["r"] = self.dbus.call(gw, "DataFlow", "su", (str(sid["gw1"][1]), 3),
                                          timeout=15)
            except DBusCallError as e:
                res["r"] = e

        t = threading.Thread(target=vanishing, daemon=True)
        t.start()
        time.sleep(0.5)
        s2.finish()
        t.join(20)
        self.assertIsInstance(res.get("r"), DBusCallError, res)
        self.assertEqual(res["r"].name, E_NOTFOUND, res["r"])

    # f. control

    def test_close_session(self):
        """CloseSession resets the session end to end (the client sees a
        reset or EOF), it disappears everywhere, SessionsReset counts it,
        the other sessions carry on; an unknown id is NotFound."""
        self.make_chain()
        a, b, c = self.session("127.0.0.2"), self.session("127.0.0.2"), self.session("127.0.0.3")
        a.exchange(11, 12)
        b.exchange(21, 22)
        c.exchange(31, 32)
        gw, relay = self.names["gw1"], self.names["relay1"]
        id_at = self.session_id

        # At the gateway proxy (it holds the client connection) ...
        self.assertEqual(self.dbus.call(gw, "CloseSession", "t", (id_at("gw1", a),)), ())
        kind, secs, _ = wait_closed(a.sock, 5)
        self.assertIn(kind, ("rst", "eof"), f"client of the closed session: {kind}")
        # ... and at the relay (it holds neither TCP connection).
        self.assertEqual(self.dbus.call(relay, "CloseSession", "t", (id_at("relay1", b),)), ())
        kind, secs, _ = wait_closed(b.sock, 5)
        self.assertIn(kind, ("rst", "eof"), f"client of the session closed at the relay: {kind}")
        for label in ("gw1", "relay1", "ep"):
            lst = self.wait_sessions(label, lambda lst: len(lst) == 1, "one session left")
            self.assertEqual((lst[0]["bytes_to_target"], lst[0]["bytes_to_client"]),
                             (c.up, c.down))
            self.wait_count(label, 1)
            wait_until(lambda: self.dbus.stats(self.names[label])[0]["SessionsReset"] == 2,
                       SETTLE, what=f"{label}: SessionsReset == 2")
        c.exchange(1000, 1000)
        self.assertDBusError(E_NOTFOUND, self.dbus.call, gw, "CloseSession", "t", (999999999,))

    def test_log_level(self):
        """SetLogLevel changes LogLevel; 4 and 9 are InvalidArgs and change
        nothing; Reload puts the configured level back."""
        self.make_chain()
        relay = self.names["relay1"]
        self.assertEqual(self.dbus.get(relay, "LogLevel"), 1)
        self.assertEqual(self.dbus.call(relay, "SetLogLevel", "u", (2,)), ())
        self.assertEqual(self.dbus.get(relay, "LogLevel"), 2)
        self.assertEqual(self.dbus.get(self.names["gw1"], "LogLevel"), 1, "other instance")
        for bad in (4, 9):
            self.assertDBusError(E_INVALID, self.dbus.call, relay, "SetLogLevel", "u", (bad,))
            self.assertEqual(self.dbus.get(relay, "LogLevel"), 2)
        self.assertEqual(self.dbus.call(relay, "SetLogLevel", "u", (3,)), ())
        self.assertEqual(self.dbus.get(relay, "LogLevel"), 3)
        self.assertEqual(self.dbus.call(relay, "SetLogLevel", "u", (0,)), ())
        self.assertEqual(self.dbus.get(relay, "LogLevel"), 0)
        # LogLevel 0 does not hide the line that records it.
        self.d("relay1").wait_log(r"log level now 0 \(SetLogLevel\)$")
        # "until the next restart or reload"
        self.assertEqual(self.dbus.call(relay, "Reload"), ())
        wait_until(lambda: self.dbus.get(relay, "LogLevel") == 1, SETTLE,
                   what="LogLevel back to the configured 1 after Reload")

    def lc_get(self, name, prop):
        return self.dbus.call(name, "Get", "ss", (LOGCONTROL, prop), iface=PROPS,
                              obj=LOGCONTROL_OBJ)[0]

    def lc_set(self, name, prop, value):
        return self.dbus.call(name, "Set", "ssv", (LOGCONTROL, prop, GLib.Variant("s", value)),
                              iface=PROPS, obj=LOGCONTROL_OBJ)

    def test_log_control(self):
        """org.freedesktop.LogControl1 at /org/freedesktop/LogControl1, as
        systemctl service-log-level and service-log-target use it: LogLevel
        takes the syslog names, the Instance's LogLevel (0-3) follows it and
        SetLogLevel moves it; unknown names are InvalidArgs and change
        nothing; LogTarget null silences the instance, but not the line that
        records it, nor does LogLevel=err hide its own line; SyslogIdentifier is
        read-only; Reload puts the configured level back."""
        self.make_chain()
        relay = self.names["relay1"]
        d = self.d("relay1")
        r = self.bus.run(["busctl", f"--address={self.bus.address}", "--no-pager", "introspect",
                          relay, LOGCONTROL_OBJ, LOGCONTROL])
        self.assertEqual(r.returncode, 0, r.stderr)
        props = {t[0][1:]: t[1:] for t in (line.split() for line in r.stdout.splitlines())
                 if t and t[0].startswith(".")}
        self.assertEqual(set(props), {"LogLevel", "LogTarget", "SyslogIdentifier"}, r.stdout)
        for p in ("LogLevel", "LogTarget"):
            self.assertEqual(props[p][:2], ["property", "s"], p)
            self.assertIn("writable", props[p], p)
        self.assertNotIn("writable", props["SyslogIdentifier"])
        self.assertEqual(self.dbus.call(relay, "GetAll", "s", (LOGCONTROL,), iface=PROPS,
                                        obj=LOGCONTROL_OBJ)[0],
                         {"LogLevel": "notice", "LogTarget": "auto", "SyslogIdentifier": "tfstd"})
        self.assertEqual(self.lc_set(relay, "LogLevel", "debug"), ())
        self.assertEqual(self.lc_get(relay, "LogLevel"), "debug")
        wait_until(lambda: self.dbus.get(relay, "LogLevel") == 3, SETTLE,
                   what="Instance.LogLevel 3 after LogLevel=debug")
        self.assertEqual(self.lc_get(self.names["gw1"], "LogLevel"), "notice", "other instance")
        # Between the steps of 0-3: warnings without notices shows as 1.
        self.assertEqual(self.lc_set(relay, "LogLevel", "warning"), ())
        wait_until(lambda: self.dbus.get(relay, "LogLevel") == 1, SETTLE,
                   what="Instance.LogLevel 1 after LogLevel=warning")
        for bad in ("verbose", "7", "DEBUG", ""):
            with self.subTest(level=bad):
                self.assertDBusError(E_INVALID, self.lc_set, relay, "LogLevel", bad,
                                     contains="log level")
                self.assertEqual(self.lc_get(relay, "LogLevel"), "warning")
        self.assertEqual(self.dbus.call(relay, "SetLogLevel", "u", (2,)), ())
        self.assertEqual(self.lc_get(relay, "LogLevel"), "info")
        # SIGUSR1 and SIGUSR2 step along 0-3; the bus shows the result.
        os.kill(d.pid, signal.SIGUSR1)
        wait_until(lambda: self.lc_get(relay, "LogLevel") == "debug", SETTLE,
                   what="SIGUSR1: info -> debug")
        top = r"^.*log level now debug \(3\)$"
        seen = d.count_log(top)
        os.kill(d.pid, signal.SIGUSR1)  # already at the top: stays
        d.wait_log(top, after=seen)
        self.assertEqual(self.lc_get(relay, "LogLevel"), "debug")
        os.kill(d.pid, signal.SIGUSR2)
        d.wait_log(r"log level now info \(2\)")
        self.assertEqual(self.lc_get(relay, "LogLevel"), "info")

        # Targets: null silences even errors; auto brings the lines back.
        self.assertDBusError(E_INVALID, self.lc_set, relay, "LogTarget", "kmsg",
                             contains="log target")
        # The lines recording a change pass whatever the level, and the
        # switch to null is recorded where the lines went until then.
        self.assertEqual(self.lc_set(relay, "LogLevel", "err"), ())
        d.wait_log(r"log level now err \(0\) \(LogControl1\)$")
        self.assertEqual(self.lc_set(relay, "LogTarget", "null"), ())
        d.wait_log(r"log target now null \(LogControl1\)$")
        self.assertEqual(self.lc_get(relay, "LogTarget"), "null")
        quiet_from = len(d.log())
        console_lines = d.count_log(r"log target now console \(LogControl1\)")
        self.assertEqual(self.lc_set(relay, "LogLevel", "debug"), ())
        self.assertEqual(self.lc_set(relay, "LogTarget", "console"), ())
        d.wait_log(r"log target now console \(LogControl1\)", after=console_lines)
        self.assertNotIn("log level now", d.log()[quiet_from:], "a line with LogTarget=null")
        self.assertEqual(self.lc_set(relay, "LogTarget", "auto"), ())

        with self.assertRaises(DBusCallError) as cm:
            self.lc_set(relay, "SyslogIdentifier", "other")
        self.assertIn("org.freedesktop.DBus.Error", cm.exception.name or "", cm.exception)
        self.assertEqual(self.lc_get(relay, "SyslogIdentifier"), "tfstd")

        # "until the next restart or reload"
        self.assertEqual(self.dbus.call(relay, "Reload"), ())
        wait_until(lambda: self.lc_get(relay, "LogLevel") == "notice", SETTLE,
                   what="LogLevel back to the configured notice (1) after Reload")

    def test_reload(self):
        """Reload applies a changed file (LogLevel=3); a broken file fails
        with org.tfst.Tfst1.Error.Config naming file, line and key, and the
        daemon keeps running and forwarding with the old configuration."""
        self.make_chain()
        relay = self.names["relay1"]
        d = self.d("relay1")
        s = self.session()
        s.exchange(5, 5)
        good = d.config_text
        self.assertEqual(self.dbus.call(relay, "Reload"), ())
        with open(d.config_path, "w") as f:
            f.write(good.replace("[Instance]\n", "[Instance]\nLogLevel=3\n", 1))
        self.assertEqual(self.dbus.call(relay, "Reload"), ())
        # Reload answers once the data plane applied the file: the level
        # (read from the logger itself, no property cache) is already new.
        self.assertEqual(self.lc_get(relay, "LogLevel"), "debug")
        wait_until(lambda: self.dbus.get(relay, "LogLevel") == 3, SETTLE,
                   what="LogLevel=3 from the reloaded file")

        with open(d.config_path, "w") as f:
            f.write("[Instance]\nLabel=relay1\nNoSuchKey=1\n")
        e = self.assertDBusError(E_CONFIG, self.dbus.call, relay, "Reload")
        self.assertIn(f"{d.config_path}:3", e.message)
        self.assertIn("NoSuchKey", e.message)
        self.assertTrue(d.alive(), "tfstd died on a broken reload")
        self.assertEqual(self.dbus.get(relay, "LogLevel"), 3, "the running config changed")
        self.assertEqual(self.dbus.get(relay, "Label"), "relay1")
        s.exchange(70000, 70000)
        self.assertEqual(self.dbus.pid_of(relay), d.pid)
        with open(d.config_path, "w") as f:
            f.write(good)
        self.assertEqual(self.dbus.call(relay, "Reload"), ())
        wait_until(lambda: self.dbus.get(relay, "LogLevel") == 1, SETTLE,
                   what="LogLevel back to 1")

    # Keepalive / Ipsec / Trace: served next to Instance

    def test_diagnostics_interfaces_answer(self):
        """As root, a read method of each diagnostics interface answers
        with the type its XML declares (nothing is NotSupported any more)."""
        self.make_chain()
        name = self.names["relay1"]
        calls = [
            (KEEPALIVE, "GetSettings", "s", ("hops",), "(a{sv})"),
            (KEEPALIVE, "Audit", "", (), "(a(sstsssbuuuuutt))"),
            (IPSEC, "Statistics", "", (), "(a{st})"),
            (IPSEC, "FindConflicts", "", (), "(a(usa(sss)))"),
            (TRACE, "List", "", (), "(a(ssquuubbs))"),
            (EVENTS, "GetSinks", "", (), "(aa{sv})"),
        ]
        for iface, method, sig, args, reply_type in calls:
            with self.subTest(method=f"{iface}.{method}"):
                r = self.dbus.call_raw(name, method, sig, args, iface=iface)
                self.assertEqual(r.get_type_string(), reply_type)

    # signals

    def test_signals(self):
        """PropertiesChanged for SessionCount and SessionsChanged follow a
        burst of sessions, rate-limited (at most 4 PropertiesChanged and 1
        SessionsChanged per second) with the last value sent; a garbage hop
        peer gives HandshakeFailed; a restarted relay gives
        HandshakeCompleted at its neighbours and a reconnect count."""
        self.make_chain()
        gw_watch = self.watch_properties(self.names["gw1"])
        gw_mon = gw_watch.monitor
        relay_mon = self.monitor(self.names["relay1"])
        time.sleep(0.3)
        t0 = time.monotonic()
        burst = []
        for i in range(40):
            s = self.session("127.0.0.2")
            s.exchange(1, 1)
            burst.append(s)
        for s in burst:
            s.finish()
        self.wait_count("gw1", 0)
        time.sleep(2.5)  # the last, rate-limited emissions
        t1 = time.monotonic()
        span = t1 - t0
        pc = [(t, a) for t, _, a in gw_mon.signals(f"{PROPS}.PropertiesChanged")
              if a[0] == IFACE and "SessionCount" in a[1]]
        self.assertTrue(pc, "no PropertiesChanged for SessionCount")
        self.assertEqual(pc[-1][1][1]["SessionCount"], 0, "the last value was not sent")
        all_pc = [t for t, _, a in gw_mon.signals(f"{PROPS}.PropertiesChanged")
                  if a[0] == IFACE]
        self.assertLessEqual(len(all_pc), 4 * (span + 1) + 1,
                             f"{len(all_pc)} PropertiesChanged in {span:.1f}s")
        sc = [a for _, _, a in gw_mon.signals(f"{IFACE}.SessionsChanged")]
        self.assertTrue(sc, "no SessionsChanged")
        self.assertLessEqual(len(sc), span + 2, f"{len(sc)} SessionsChanged in {span:.1f}s")
        self.assertEqual(sum(a[0] for a in sc), 40, sc)
        self.assertEqual(sum(a[1] for a in sc), 40, sc)
        self.assertEqual(sc[-1][2], 0, sc)
        gw_watch.assert_current("a burst of sessions")

        # Garbage on the relay's hop listener: HandshakeFailed, counted.
        port = self.top.node("relay1").children_port
        g = connect(("127.0.0.1", port))
        gport = g.getsockname()[1]
        g.sendall(b"GET / HTTP/1.0\r\n\r\n" + b"\0" * 64)
        wait_closed(g, 10)
        g.close()
        wait_until(lambda: relay_mon.signals(f"{IFACE}.HandshakeFailed"), 10,
                   what="HandshakeFailed on relay1")
        label, reason = relay_mon.signals(f"{IFACE}.HandshakeFailed")[0][2]
        self.assertEqual(label, f"127.0.0.1:{gport}")
        self.assertTrue(reason.strip(), "empty reason")
        self.assertEqual(self.dbus.stats(self.names["relay1"])[0]["HandshakeFailures"], 1)

        # The relay restarts: gw1 and ep see the handshake again.
        ep_mon = self.monitor(self.names["ep"])
        self.d("relay1").restart()
        self.top.wait_converged()
        for mon, label in ((gw_mon, "gw1"), (ep_mon, "ep")):
            wait_until(lambda: any(a == ("relay1",) for _, _, a in
                                   mon.signals(f"{IFACE}.HandshakeCompleted")), 15,
                       what=f"HandshakeCompleted('relay1') at {label}")
        self.wait_name("relay1")
        wait_until(lambda: [(h[0], h[3], h[6]) for h in
                            self.dbus.get(self.names["gw1"], "Parent")] == [("relay1", True, 1)],
                   SETTLE, what="gw1 Parent relay1 up with 1 reconnect")
        wait_until(lambda: self.dbus.stats(self.names["gw1"])[0]["HopReconnects"] == 1,
                   SETTLE, what="gw1 HopReconnects == 1")


# --------------------------------------------------------------------------
# polkit: an unprivileged caller


class PolkitTest(DbusTestCase):
    def test_nobody_observe_and_manage(self):
        """As nobody: properties are public; the observe methods are
        denied without a rule (no logind: not an active local user) and
        allowed with a rules.d rule granting org.tfst.tfst1.observe; every
        manage method stays denied with AccessDenied naming
        org.tfst.tfst1.manage and changes nothing; removing the rule
        denies again."""
        self.make_chain()
        gw = self.names["gw1"]
        s = self.session()
        s.exchange(10, 20)
        wait_until(lambda: len(self.dbus.sessions(gw)) == 1, SETTLE, what="one session")
        sid = self.dbus.sessions(gw)[0]["id"]
        # Properties follow the data plane at most 4 times a second.
        self.wait_count("gw1", 1)

        self.assertEqual(self.gdbus_as(gw, "Get", "org.tfst.Tfst1.Instance", "Role",
                                       iface=PROPS), ("gwproxy",))
        props = self.gdbus_as(gw, "GetAll", "org.tfst.Tfst1.Instance", iface=PROPS)[0]
        self.assertEqual((props["Label"], props["Instance"], props["SessionCount"]),
                         ("gw1", GW_INSTANCE, 1))

        observe_calls = [("ListSessions", ["{}"]), ("GetStatistics", []),
                         ("DataFlow", ["''", "1"])]
        for method, args in observe_calls:
            with self.subTest(method=method, rule=False):
                self.assertDBusError(E_ACCESS, self.gdbus_as, gw, method, *args,
                                     contains=OBSERVE)

        rule = self.grant(OBSERVE)
        lst = self.gdbus_as(gw, "ListSessions", "{}")[0]
        self.assertEqual([x[0] for x in lst], [sid])
        self.assertEqual(lst[0][6:8], (s.up, s.down))
        counters, cleared = self.gdbus_as(gw, "GetStatistics")
        self.assertEqual(counters["SessionsOpened"], 1)
        sent, received = self.gdbus_as(gw, "DataFlow", "''", "1")
        self.assertEqual((sent, received), (0, 0))

        log_level = self.dbus.get(gw, "LogLevel")
        manage_calls = [("ClearStatistics", []), ("CloseSession", [str(sid)]), ("Reload", []),
                        ("SetLogLevel", ["3"])]
        for method, args in manage_calls:
            with self.subTest(method=method, rule=True):
                self.assertDBusError(E_ACCESS, self.gdbus_as, gw, method, *args,
                                     contains=MANAGE)
        # Nothing happened.
        self.assertEqual(self.dbus.get(gw, "LogLevel"), log_level)
        self.assertEqual(self.dbus.stats(gw)[1], cleared, "statistics were cleared")
        self.assertEqual([x["id"] for x in self.dbus.sessions(gw)], [sid])
        s.exchange(5, 5)

        self.bus.revoke(rule, OBSERVE)
        self.assertDBusError(E_ACCESS, self.gdbus_as, gw, "ListSessions", "{}", contains=OBSERVE)

    def test_nobody_manage_with_rule(self):
        """A rule granting org.tfst.tfst1.manage lets nobody SetLogLevel
        and ClearStatistics: the daemon asks polkit (the denial above is
        polkit's answer, not a uid check)."""
        self.make_chain()
        relay = self.names["relay1"]
        self.assertDBusError(E_ACCESS, self.gdbus_as, relay, "SetLogLevel", "2", contains=MANAGE)
        self.grant(MANAGE)
        self.assertEqual(self.gdbus_as(relay, "SetLogLevel", "2"), ())
        self.assertEqual(self.dbus.get(relay, "LogLevel"), 2)
        self.assertEqual(len(self.gdbus_as(relay, "ClearStatistics")), 3)
        # manage does not imply observe.
        self.assertDBusError(E_ACCESS, self.gdbus_as, relay, "ListSessions", "{}",
                             contains=OBSERVE)

    def test_nobody_log_control(self):
        """As nobody: LogControl1's properties can be read; writing the log
        level or target needs org.tfst.tfst1.manage (AccessDenied naming
        it, nothing changes), and works with a rule granting it."""
        self.make_chain()
        relay = self.names["relay1"]

        def lc_as(method, *args):
            return self.gdbus_as(relay, method, LOGCONTROL, *args, iface=PROPS,
                                 obj=LOGCONTROL_OBJ)

        self.assertEqual(lc_as("Get", "LogLevel"), ("notice",))
        for prop, value in (("LogLevel", "<'debug'>"), ("LogTarget", "<'null'>")):
            with self.subTest(prop=prop):
                self.assertDBusError(E_ACCESS, lc_as, "Set", prop, value, contains=MANAGE)
        self.assertEqual(lc_as("GetAll")[0]["LogLevel"], "notice")
        self.assertEqual(lc_as("GetAll")[0]["LogTarget"], "auto")
        self.grant(MANAGE)
        self.assertEqual(lc_as("Set", "LogLevel", "<'info'>"), ())
        self.assertEqual(lc_as("Get", "LogLevel"), ("info",))
        wait_until(lambda: self.dbus.get(relay, "LogLevel") == 2, SETTLE,
                   what="Instance.LogLevel 2")

    def test_nobody_diagnostics(self):
        """As nobody with observe granted, the diagnostics reads answer; the
        tune and trace methods are denied naming their action, before any
        argument is looked at (a trace that does not exist is AccessDenied,
        not NotFound)."""
        self.make_chain()
        name = self.names["relay1"]
        self.grant(OBSERVE)
        reads = [(KEEPALIVE, "GetSettings", ["'hops'"]), (KEEPALIVE, "Audit", []),
                 (IPSEC, "Statistics", []), (TRACE, "List", []), (EVENTS, "GetSinks", [])]
        for iface, method, args in reads:
            with self.subTest(method=f"{iface}.{method}"):
                self.gdbus_as(name, method, *args, iface=iface)
        writes = [(KEEPALIVE, "SetSettings", ["'hops'", "@a{sv} {}", "0"], TUNE),
                  (TRACE, "Define", ["'t1'", "'127.0.0.1'", "0", "65536", "true"], TRACE_ACTION),
                  (TRACE, "Show", ["'nosuch'"], TRACE_ACTION),
                  (TRACE, "Pause", ["'nosuch'", "true"], TRACE_ACTION),
                  (TRACE, "Delete", ["'nosuch'"], TRACE_ACTION),
                  (EVENTS, "ClearStatistics", [], MANAGE),
                  (EVENTS, "Flush", ["'nosuch'"], MANAGE)]
        for iface, method, args, action in writes:
            with self.subTest(method=f"{iface}.{method}"):
                self.assertDBusError(E_ACCESS, self.gdbus_as, name, method, *args, iface=iface,
                                     contains=action)

    def test_nobody_cannot_own_names(self):
        """The bus policy: nobody cannot own an org.tfst.Tfst1. name (a
        free one, nor the name of a running instance); root can."""
        self.make_chain()
        script = (
            "import sys\n"
            "from gi.repository import Gio, GLib\n"
            "c = Gio.DBusConnection.new_for_address_sync(sys.argv[1],"
            " Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |"
            " Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)\n"
            "try:\n"
            "    r = c.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',"
            " 'org.freedesktop.DBus', 'RequestName', GLib.Variant('(su)', (sys.argv[2], 6)),"
            " None, 0, 5000, None)\n"
            "    print('reply', r.unpack()[0])\n"
            "except GLib.Error as e:\n"
            "    print('error', e.message)\n")
        for name in ("org.tfst.Tfst1.relay_99", self.names["relay1"]):
            with self.subTest(name=name):
                r = self.bus.run_as(["/usr/bin/python3", "-c", script, self.bus.address, name])
                self.assertIn("error", r.stdout, r.stdout + r.stderr)
                self.assertIn("AccessDenied", r.stdout)
        self.assertEqual(self.dbus.pid_of(self.names["relay1"]), self.d("relay1").pid)
        r = self.bus.run(["/usr/bin/python3", "-c", script, self.bus.address,
                          "org.tfst.Tfst1.relay_99"])
        self.assertIn("reply 1", r.stdout, r.stdout + r.stderr)


# --------------------------------------------------------------------------
# The bus is never a dependency


class BusLossTest(DbusTestCase):
    def bus_log_counts(self):
        return {label: sum(1 for line in self.d(label).log().splitlines()
                           if BUS_LOG_RE.search(line))
                for label in ("ep", "relay1", "gw1")}

    def start_streaming(self, s):
        """A thread that keeps exchanging 8 KiB each way on s (every byte
        checked) until stopped; returns (stop event, state dict)."""
        stop = threading.Event()
        st = {"n": 0, "error": None}

        def loop():
            try:
                while not stop.is_set():
                    s.exchange(8 * KIB, 8 * KIB)
                    st["n"] += 1
                    time.sleep(0.05)
            except Exception as e:  # reported by the test
                st["error"] = e

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        st["thread"] = t
        return stop, st

    def assert_flowing(self, st, what, seconds=2.0):
        n0 = st["n"]
        time.sleep(seconds)
        self.assertIsNone(st["error"], f"{what}: the session broke: {st['error']!r}")
        self.assertGreater(st["n"], n0, f"{what}: no exchange went through in {seconds}s")

    def test_bus_lost_and_back(self):
        """The bus goes away while a session carries data: the session keeps
        flowing, byte for byte, new sessions open, each daemon logs the loss
        once (not once per retry); the bus comes back on the same path: each
        instance (the same process) owns its name again within ~35 s and
        its counters are intact."""
        self.make_chain()
        pids = {label: self.d(label).pid for label in ("ep", "relay1", "gw1")}
        s = self.session()
        s.exchange(1000, 1000)
        stop, st = self.start_streaming(s)
        self.addCleanup(stop.set)
        self.assert_flowing(st, "before the bus loss", 1.0)
        before = self.bus_log_counts()

        self.bus.stop_bus()
        self.assert_flowing(st, "bus just lost")
        for label in ("ep", "relay1", "gw1"):
            self.assertTrue(self.d(label).alive(), f"{label} died with the bus")
        wait_until(lambda: all(n > before[k] for k, n in self.bus_log_counts().items()),
                   10, what="every daemon to log the bus loss")
        first = self.bus_log_counts()
        extra = self.session("127.0.0.3")
        extra.exchange(50000, 50000)
        extra.finish()
        self.assert_flowing(st, "bus down", 6.0)
        later = self.bus_log_counts()
        for label in ("ep", "relay1", "gw1"):
            self.assertEqual(later[label], first[label],
                             f"{label} keeps logging about the bus:\n"
                             f"{self.d(label).log_tail(15)}")
            self.assertEqual(first[label] - before[label], 1,
                             f"{label} logged the loss more than once:\n"
                             f"{self.d(label).log_tail(15)}")

        self.bus.start_bus()
        for label in ("ep", "relay1", "gw1"):
            self.wait_name(label, timeout=BUS_BACK_TIMEOUT)
        self.assert_flowing(st, "bus back", 1.0)
        stop.set()
        st["thread"].join(30)
        self.assertIsNone(st["error"], repr(st["error"]))
        # The same processes, with their state.
        dbus = Client(self.bus)
        self.addCleanup(dbus.close)
        for label in ("ep", "relay1", "gw1"):
            self.assertEqual(dbus.pid_of(self.names[label]), pids[label])
        lst = dbus.sessions(self.names["gw1"])
        self.assertEqual([(x["client"], x["bytes_to_target"], x["bytes_to_client"])
                          for x in lst], [(s.client, s.up, s.down)])
        self.assertEqual(dbus.stats(self.names["gw1"])[0]["SessionsOpened"], 2)

    def test_no_bus_at_start(self):
        """Started without a bus, the chain comes up and forwards, each
        daemon says once that there is no bus; when the bus appears, every
        instance registers within ~35 s."""
        self.bus.stop_bus()
        self.addCleanup(lambda: self.bus.bus_running() or self.bus.start_bus())
        self.make_chain(wait_names=False)
        s = self.session()
        s.exchange(100000, 100000)
        wait_until(lambda: all(self.bus_log_counts().values()), 10,
                   what="every daemon to log that there is no bus")
        time.sleep(3)
        counts = self.bus_log_counts()
        for label, n in counts.items():
            self.assertEqual(n, 1, f"{label} should say once that there is no bus:\n"
                             f"{self.d(label).log_tail(15)}")
        self.bus.start_bus()
        for label in ("ep", "relay1", "gw1"):
            self.wait_name(label, timeout=BUS_BACK_TIMEOUT)
        dbus = Client(self.bus)
        self.addCleanup(dbus.close)
        self.assertEqual({lab: dep for lab, dep in dbus.get(self.names["relay1"], "Chain")},
                         {"ep": -1, "relay1": 0, "gw1": 1})
        lst = dbus.sessions(self.names["gw1"])
        self.assertEqual([(x["bytes_to_target"], x["bytes_to_client"]) for x in lst],
                         [(s.up, s.down)])


# --------------------------------------------------------------------------
# tfstctl


def man_json_keys(path):
    """The key lists of tfstctl(1), JSON OUTPUT: {command: spec}, where a
    spec maps each key to None (a value), "*" (an object whose keys are
    data), "[]" (an array of values) or a spec (an object, or an array of
    objects, with those keys)."""
    with open(path) as f:
        text = f.read()
    section = text.split(".SH JSON OUTPUT", 1)[1].split("\n.SH ", 1)[0]
    specs = {}
    for m in re.finditer(r"^\.TP\n\.B (.+)\n(.+)$", section, re.M):
        command = m.group(1).replace("\\-", "-")
        specs[command] = parse_key_spec(m.group(2))
    return specs


def parse_key_spec(line):
    stack = [{}]
    keys = 0
    for m in re.finditer(r"([a-z_]+)(\[\]|\{\*\}|\[|\{)?|([\]}])", line):
        key, opener, closer = m.groups()
        if closer:
            stack.pop()
        elif opener in ("[]", "{*}"):
            stack[-1][key] = "[]" if opener == "[]" else "*"
        elif opener:
            stack[-1][key] = {}
            stack.append(stack[-1][key])
        else:
            stack[-1][key] = None
        keys += key is not None
    assert len(stack) == 1 and keys, f"unbalanced key list: {line}"
    return stack[0]


def snake_case(name):
    """ "SessionsFailedByErrno" -> "sessions_failed_by_errno", as tfstctl
    writes the counters in JSON."""
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


class TfstctlTest(DbusTestCase):
    """tfstctl --json (an option of each command) against the D-Bus values
    read directly.  INSTANCE is written like the unit instance."""

    INST = {"ep": f"epproxy@{EP_INSTANCE}", "relay1": f"relay@{RELAY_INSTANCE}",
            "gw1": f"gwproxy@{GW_INSTANCE}"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.access(TFSTCTL, os.X_OK):
            cls.tearDownClass()
            raise unittest.SkipTest(f"tfstctl not built: {TFSTCTL}")

    def tfstctl(self, *args, user=None, rc=0, env=None):
        """Runs tfstctl (never interactive) and checks its exit status."""
        r = self.bus.run([TFSTCTL, *args, "--no-ask-password"], user=user, env=env)
        if rc is not None:
            self.assertEqual(r.returncode, rc, f"tfstctl {' '.join(args)}: exit {r.returncode}"
                             f"\nstdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def tfstctl_json(self, *args, user=None, env=None):
        r = self.tfstctl(*args, "--json", user=user, env=env)
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            self.fail(f"tfstctl {' '.join(args)} --json: not JSON ({e}):\n{r.stdout}")

    # tfstctl's JSON names carry the unit (tfstctl(1), JSON OUTPUT)
    JSON_UNITS = {"since": "since_us", "rtt": "rtt_us", "next_attempt": "next_attempt_us",
                  "age": "age_us", "idle": "idle_us", "bytes_to_target": "to_target_bytes",
                  "bytes_to_client": "to_client_bytes"}

    @classmethod
    def hops_json(cls, hops, rtt=True):
        out = []
        for h in hops:
            d = {cls.JSON_UNITS.get(k, k): v for k, v in zip(HOP_FIELDS, h)}
            if not rtt:
                d.pop("rtt_us")
            out.append(d)
        return out

    @classmethod
    def hop_json(cls, hop):
        """An element of Hops as tfstctl's JSON has it: every key, "_" for
        "-", 0 for a key the hop does not have (preference of a child);
        rtt left out."""
        keys = ("direction", "label", "address", "port", "role", "state", "since", "reconnects",
                "attempts", "last-error", "next-attempt", "preference", "connect")
        return {cls.JSON_UNITS.get(k.replace("-", "_"), k.replace("-", "_")): hop.get(k, 0)
                for k in keys}

    def test_list_status_chain(self):
        """list, status (-i and positional) and chain: every field equals
        the property read over D-Bus; no instance among several is a usage
        error (2), an unknown one "not found" (3)."""
        self.make_chain()
        for label in ("ep", "relay1", "gw1"):
            wait_until(lambda: self.dbus.get(self.names[label], "State") == "running", SETTLE,
                       what=f"{label} running")
            wait_until(lambda: len(self.dbus.get(self.names[label], "Chain")) == 3, SETTLE,
                       what=f"{label} Chain complete")
        lst = self.tfstctl_json("list")["instances"]
        self.assertEqual([x["instance"] for x in lst], sorted(self.INST.values()))
        for x in lst:
            label = next(k for k, v in self.INST.items() if v == x["instance"])
            p = self.dbus.get_all(self.names[label])
            # (no systemd on the test bus: no unit state)
            self.assertEqual(x, {"instance": self.INST[label], "role": p["Role"],
                                 "label": p["Label"], "state": p["State"],
                                 "session_count": p["SessionCount"], "unit_state": "",
                                 "configured": False})

        for label in ("ep", "relay1", "gw1"):
            with self.subTest(label=label):
                st = self.tfstctl_json("status", "-i", self.INST[label])
                p = self.dbus.get_all(self.names[label])
                want = {
                    "instance": self.INST[label],
                    "bus_name": self.names[label],
                    "role": p["Role"],
                    "instance_name": p["Instance"],
                    "label": p["Label"],
                    "version": p["Version"],
                    "state": p["State"],
                    "log_level": p["LogLevel"],
                    "listeners": [{"address": a, "port": port} for a, port in p["Listeners"]],
                    "parent": self.hops_json(p["Parent"], rtt=False),
                    "children": self.hops_json(p["Children"], rtt=False),
                    "chain": [{"label": lab, "depth": dep}
                              for lab, dep in sorted(p["Chain"], key=lambda c: (c[1], c[0]))],
                    "session_count": p["SessionCount"],
                    "tls_certificates": [
                        dict(zip(("section", "mode", "labels", "subject", "issuer", "expires"), c))
                        for c in p["TlsCertificates"]],
                    "tls_hops": [
                        dict(zip(("side", "label", "peer", "cipher", "subject", "issuer",
                                  "expires", "ktls"), h))
                        for h in p["TlsHops"]],
                    "hops": [self.hop_json(h) for h in p["Hops"]],
                    "chain_links": [{"upper": u, "lower": lo} for u, lo in p["ChainLinks"]],
                }
                # rtt changes with every PING: compared as a type only.
                for key in ("parent", "children", "hops"):
                    for h in st.get(key, []):
                        self.assertIsInstance(h.pop("rtt_us", None), int, f"{key} rtt")
                self.assertEqual(st, want)
                chain = self.tfstctl_json("chain", "-i", self.INST[label])
                for h in chain.get("hops", []):
                    self.assertIsInstance(h.pop("rtt_us", None), int, "chain hops rtt")
                self.assertEqual(chain, {"instance": self.INST[label], "chain": want["chain"],
                                         "links": want["chain_links"], "hops": want["hops"]})
        positional = self.tfstctl_json("status", self.INST["relay1"])
        self.assertEqual((positional["instance"], positional["label"]), ("relay@2", "relay1"))
        r = self.tfstctl("status", "--json", rc=2)
        self.assertTrue(r.stderr.strip(), "no message for a missing INSTANCE")
        self.tfstctl("status", "-i", "relay@99", "--json", rc=3)

    def test_sessions_and_stats(self):
        """sessions --json equals ListSessions (ages only grow), --remote
        filters; stats --json equals GetStatistics; stats --clear prints
        the counters, then clears them."""
        self.make_chain()
        sess = self.open_traffic()
        for label in ("gw1", "relay1", "ep"):
            with self.subTest(label=label):
                before = {x["id"]: x for x in self.wait_counts(label, sess)}
                j = self.tfstctl_json("sessions", "-i", self.INST[label])
                self.assertEqual(j["instance"], self.INST[label])
                self.assertEqual(sorted(x["id"] for x in j["sessions"]), sorted(before))
                for x in j["sessions"]:
                    d = before[x["id"]]
                    for k in SESSION_FIELDS:
                        jk = self.JSON_UNITS.get(k, k)
                        if k in ("age", "idle"):
                            self.assertGreaterEqual(x[jk], d[k], k)
                            self.assertLess(x[jk], d[k] + 10_000_000, k)
                        else:
                            self.assertEqual(x[jk], d[k], k)
        gw = self.INST["gw1"]
        j = self.tfstctl_json("sessions", "-i", gw, "--remote", "127.0.0.3")
        self.assertEqual([(x["client"], x["to_target_bytes"], x["to_client_bytes"])
                          for x in j["sessions"]], [(sess[2].client, sess[2].up, sess[2].down)])
        self.assertEqual(self.tfstctl_json("sessions", "-i", gw, "--remote", "127.0.0.9"),
                         {"instance": gw, "sessions": []})
        self.tfstctl("sessions", "-i", gw, "--remote", "not-an-ip", "--json", rc=2)

        for s in sess:
            s.finish()
        name = self.names["gw1"]
        wait_until(lambda: self.dbus.stats(name)[0]["SessionsClosed"] == 3, SETTLE,
                   what="SessionsClosed == 3")
        counters, cleared = self.dbus.stats(name)
        snake = {snake_case(k): v for k, v in counters.items()}
        j = self.tfstctl_json("stats", "-i", gw)
        self.assertEqual(j, {"instance": gw, "since_us": cleared, "cleared_us": None,
                             "counters": snake})
        self.assertEqual(j["counters"]["upcall_bytes_to_target"], sum(s.up for s in sess))

        # --clear prints what ClearStatistics reset: the same counters (no
        # traffic since), counted from the same point, and the new clear time
        t0 = now_us()
        j = self.tfstctl_json("stats", "-i", gw, "--clear")
        after, cleared2 = self.dbus.stats(name)
        self.assertEqual(j, {"instance": gw, "since_us": cleared, "cleared_us": cleared2,
                             "counters": snake})
        self.assertGreaterEqual(cleared2, t0 - 1_000_000)
        self.assertEqual({k: after[k] for k in STAT_KEYS_T}, {k: 0 for k in STAT_KEYS_T})
        r = self.tfstctl("stats", "-i", gw, "--clear")
        self.assertRegex(r.stdout, r"^Cleared these counters, counted since ")
        self.assertRegex(r.stdout, r"(?m)^SessionsOpened\s+0$")

    def test_control_and_dataflow(self):
        """log-level, reload, close and dataflow --json do what they say,
        as the D-Bus values show; dataflow reports the exact bytes pushed
        during its interval."""
        self.make_chain()
        relay, gw = self.INST["relay1"], self.INST["gw1"]
        # 0-3 is an alias of the syslog names, which --json reports.
        self.assertEqual(self.tfstctl_json("log-level", "2", "-i", relay),
                         {"instance": relay, "log_level": "info"})
        self.assertEqual(self.dbus.get(self.names["relay1"], "LogLevel"), 2)
        for bad in ("9", "4", "loud", "-1"):
            self.tfstctl("log-level", bad, "-i", relay, "--json", rc=2)
        self.assertEqual(self.dbus.get(self.names["relay1"], "LogLevel"), 2)
        self.assertEqual(self.tfstctl_json("log-level", "debug", "-i", relay),
                         {"instance": relay, "log_level": "debug"})
        self.assertEqual(self.dbus.get(self.names["relay1"], "LogLevel"), 3)
        self.assertEqual(self.tfstctl_json("log-level", "-i", relay),
                         {"instance": relay, "log_level": "debug"})
        r = self.tfstctl("log-level", "-i", relay)
        self.assertEqual(r.stdout, "debug\n")
        self.assertEqual(self.tfstctl_json("reload", "-i", relay),
                         {"instance": relay, "reloaded": True})
        wait_until(lambda: self.dbus.get(self.names["relay1"], "LogLevel") == 1, SETTLE,
                   what="LogLevel back to 1 after reload")

        s = self.session()
        quiet = self.session("127.0.0.3")
        s.exchange(10, 10)
        quiet.exchange(20, 20)
        sid = self.session_id("gw1", s)
        p = subprocess.Popen([TFSTCTL, "dataflow", str(sid), "-i", gw, "--interval", "2",
                              "--json", "--no-ask-password"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.bus.env())
        self.addCleanup(lambda: p.poll() is None and p.kill())
        t0 = time.monotonic()
        time.sleep(0.6)
        n_up, n_down = s.exchange(77777, 33333)
        self.assertLess(time.monotonic() - t0, 1.6, "the push did not fit in the interval")
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(json.loads(out), {"instance": gw, "target": str(sid),
                                           "interval_us": 2_000_000, "sent_bytes": n_up,
                                           "received_bytes": n_down})
        j = self.tfstctl_json("dataflow", "instance", "-i", relay, "--interval", "1s")
        self.assertEqual(j, {"instance": relay, "target": "", "interval_us": 1_000_000,
                             "sent_bytes": 0, "received_bytes": 0})

        self.assertEqual(self.tfstctl_json("close", str(sid), "-i", gw),
                         {"instance": gw, "closed": sid})
        kind, _, _ = wait_closed(s.sock, 5)
        self.assertIn(kind, ("rst", "eof"))
        self.wait_sessions("gw1", lambda lst: sid not in [x["id"] for x in lst],
                           "the closed session to go")
        self.tfstctl("close", "999999999", "-i", gw, "--json", rc=1)  # NotFound
        quiet.exchange(1, 1)

    def test_as_nobody(self):
        """As nobody: list works (properties are public); sessions exits 4
        (access denied) naming org.tfst.tfst1.observe until a rule grants
        it, then equals root's output; log-level exits 4 naming manage."""
        self.make_chain()
        s = self.session()
        s.exchange(3, 4)
        self.wait_count("gw1", 1)
        gw = self.INST["gw1"]
        # Session counts of the other instances may still move: wait until
        # nobody's list and root's agree (they must, properties are public).
        wait_until(lambda: self.tfstctl_json("list", user="nobody") == self.tfstctl_json("list"),
                   10, what="nobody's tfstctl list equal to root's")
        r = self.tfstctl("sessions", "-i", gw, "--json", user="nobody", rc=4)
        self.assertIn(OBSERVE, r.stderr)
        self.grant(OBSERVE)
        j = self.tfstctl_json("sessions", "-i", gw, user="nobody")
        self.assertEqual([x["id"] for x in j["sessions"]],
                         [x["id"] for x in self.dbus.sessions(self.names["gw1"])])
        r = self.tfstctl("log-level", "3", "-i", gw, "--json", user="nobody", rc=4)
        self.assertIn(MANAGE, r.stderr)
        self.assertEqual(self.dbus.get(self.names["gw1"], "LogLevel"), 1)

    def check_json_keys(self, what, doc, spec, top=True):
        """Every key of doc is documented (recursively) and snake_case; at
        the top every documented key is there."""
        self.assertIsInstance(doc, dict, what)
        for key, value in doc.items():
            self.assertRegex(key, r"^[a-z][a-z0-9_]*$", f"{what}: key {key}")
            self.assertIn(key, spec, f"{what}: key {key} is not in tfstctl(1) JSON OUTPUT")
            sub = spec[key]
            if sub == "*":
                self.assertIsInstance(value, dict, f"{what}.{key}")
            elif sub == "[]":
                self.assertIsInstance(value, list, f"{what}.{key}")
            elif isinstance(sub, dict):
                for element in (value if isinstance(value, list) else [value]):
                    self.check_json_keys(f"{what}.{key}", element, sub, top=False)
        if top:
            self.assertEqual(sorted(set(spec) - set(doc)), [], f"{what}: documented, missing")

    def test_json_keys_documented(self):
        """Every command's --json (the ones this chain can run) parses, is
        one object per line with --json=short, and has exactly the keys
        tfstctl(1) documents in JSON OUTPUT."""
        specs = man_json_keys(os.path.join(SRCDIR, "docs", "tfstctl.1"))
        self.make_chain()
        s = self.session()
        s.exchange(5, 6)
        self.wait_count("gw1", 1)
        gw = self.INST["gw1"]
        runs = {
            "list": ["list"], "status": ["status", "-i", gw], "chain": ["chain", "-i", gw],
            "sessions": ["sessions", "-i", gw], "stats": ["stats", "-i", gw],
            "dataflow": ["dataflow", "instance", "-i", gw, "--interval", "1s"],
            "keepalive show": ["keepalive", "show", "-i", gw],
            "keepalive audit": ["keepalive", "audit", "-i", gw],
            "log-level": ["log-level", "1", "-i", gw], "reload": ["reload", "-i", gw],
            "events": ["events", "-i", gw], "permissions": ["permissions"],
            "ports": ["ports", "--count", "2"], "trace list": ["trace", "list", "-i", gw],
        }
        for command, args in runs.items():
            with self.subTest(command=command):
                self.check_json_keys(command, self.tfstctl_json(*args), specs[command])
                r = self.tfstctl(*args, "--json=short")
                self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)
                self.assertEqual(json.loads(r.stdout).keys(), self.tfstctl_json(*args).keys())
        # the commands that change something, last
        sid = self.session_id("gw1", s)
        for command, args in (("keepalive set", ["keepalive", "set", "-i", gw, "Count=4"]),
                              ("close", ["close", str(sid), "-i", gw])):
            with self.subTest(command=command):
                self.check_json_keys(command, self.tfstctl_json(*args), specs[command])
        # a pattern: one document per instance, each checked the same way
        r = self.tfstctl("sessions", "-i", "*", "--json=short")
        docs = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([d["instance"] for d in docs], sorted(self.INST.values()))
        for d in docs:
            self.check_json_keys("sessions -i '*'", d, specs["sessions"])
        # check and cat read files, not the bus: a configuration of their own
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "etc"))
            os.mkdir(os.path.join(d, "state"))
            with open(os.path.join(d, "etc", "relay@7.conf"), "w") as f:
                f.write("[Parent]\nConnect=127.0.0.1:1\n[Children]\nListen=127.0.0.1:2\n")
            env = {"TFST_CONFIG_DIR": os.path.join(d, "etc"),
                   "STATE_DIRECTORY": os.path.join(d, "state"), "TFSTD": TFSTD}
            for command, args in (("check", ["check", "-i", "relay@7"]),
                                  ("cat", ["cat", "-i", "relay@7"])):
                with self.subTest(command=command):
                    self.check_json_keys(command, self.tfstctl_json(*args, env=env),
                                         specs[command])

    def permissions(self, user=None):
        j = self.tfstctl_json("permissions", user=user)
        return {p["action"]: p["allowed"] for p in j["permissions"]}

    def test_permissions_and_admin_rule(self):
        """tfstctl permissions asks polkit as tfstd would: root may do
        everything; nobody (no session: allow_active does not apply) may
        not observe and needs a password for the rest until the shipped
        example rule for tfst-admin grants observe (the rule with the
        group nobody is in instead, as a test must not add a group to the
        host): then observe is yes, the rest unchanged, and tfstctl
        sessions works for nobody."""
        self.make_chain()
        actions = (OBSERVE, MANAGE, TUNE, TRACE_ACTION)
        self.assertEqual(self.permissions(), {a: "yes" for a in actions})
        # observe: no (allow_any no); the others after a password (auth_admin)
        self.assertEqual(self.permissions(user="nobody"),
                         {OBSERVE: "no", MANAGE: "auth", TUNE: "auth", TRACE_ACTION: "auth"})
        r = self.tfstctl("permissions", user="nobody")
        self.assertRegex(r.stdout.splitlines()[0], r"^ACTION\s+ALLOWED\s+COMMANDS$")
        self.assertRegex(r.stdout, rf"(?m)^{re.escape(OBSERVE)}\s+no\s+sessions, stats")
        with open(os.path.join(SRCDIR, "polkit", "50-tfst-admin.rules")) as f:
            rule = f.read()
        self.assertIn('subject.isInGroup("tfst-admin")', rule)
        path = self.bus.add_rule(rule.replace('"tfst-admin"', '"nogroup"'), settle=0)
        self.addCleanup(self.bus.remove_rule, path)
        wait_until(lambda: self.bus.pkcheck(OBSERVE), 10, what="polkitd to load the rule")
        self.assertEqual(self.permissions(user="nobody"),
                         {OBSERVE: "yes", MANAGE: "auth", TUNE: "auth", TRACE_ACTION: "auth"})
        gw = self.INST["gw1"]
        self.assertEqual(self.tfstctl_json("sessions", "-i", gw, user="nobody"),
                         {"instance": gw, "sessions": []})


if __name__ == "__main__":
    unittest.main()
