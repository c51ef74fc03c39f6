# SPDX-License-Identifier: GPL-2.0-or-later
"""The Cockpit page (cockpit/, docs/cockpit.md) in headless Chromium,
served by a real cockpit-ws with a local session whose bridge talks to a
private system bus with the real polkitd (tfst_cockpit, tfst_bus), against
the D-Bus tests' live chain:

    client (127.0.0.2) -> gwproxy@dmz-3 "gw1" -> relay@2 "relay1"
        -> epproxy@1 "ep" -> target server (127.0.0.1)

What the page shows is checked against what D-Bus says at the same
moment.  There is no systemd on the private bus: the overview says so and
lists running instances from the bus and stopped ones from the
configuration directory (the test's work dir, through the manifest's
confdir).  Each view leaves a screenshot in the artifacts directory
(tfst_cockpit.py; tools/cockpit-screenshots copies them to docs/cockpit/).

Serial, root only (skips otherwise); a missing cockpit-ws, cockpit-bridge,
cockpit-system, chromium, chromium-driver, python3-selenium or tshark
fails: tools/deps installs them.  A build configured with -Dcockpit=false
skips.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, Topology, linear_chain, raise_nofile, wait_until  # noqa: E402

from tfst_bus import (EP_INSTANCE, EVENTS, GW_INSTANCE, INSTANCES, KEEPALIVE, LABELS,  # noqa: E402
                      IPSEC, OBSERVE, RELAY_INSTANCE, SETTLE, TRACE, DbusTestCase, bus_name,
                      cmd_handler, sv)  # noqa: E402
import tfst_cockpit  # noqa: E402
from tfst_cockpit import Browser, CockpitPackage, CockpitWs, private_home_env  # noqa: E402

UI = tfst_cockpit.UI_TIMEOUT
KEYS = {label: f"{role}@{INSTANCES[role]}" for role, label in LABELS.items()}


class CockpitTestCase(DbusTestCase):
    """A chain, the page installed for this test, cockpit-ws (as root
    unless USER is set) and a browser on the page."""

    USER = None
    LANG = "en-US"
    KEYS = KEYS  # the instances the overview must show running before a case

    @classmethod
    def setUpClass(cls):
        why = tfst_cockpit.environment_problem()
        if why and os.geteuid() == 0:
            raise AssertionError(why)
        why = tfst_cockpit.page_missing()
        if why:
            raise unittest.SkipTest(why)
        super().setUpClass()

    def setUp(self):
        super().setUp()
        if self.USER:
            os.chmod(self.workdir, 0o755)  # the bridge runs as USER: the page and confdir
        self.make_chain()
        self.artifacts = os.path.join(os.environ.get("TFST_TEST_LOGDIR") or self.workdir,
                                      "cockpit")
        ui = os.path.join(self.workdir, "ui")
        home = os.path.join(ui, "home")
        os.makedirs(os.path.join(ui, "downloads"))
        os.makedirs(home)
        os.chmod(ui, 0o755)
        if self.USER:
            shutil_chown(home, self.USER)
        pkg = CockpitPackage(os.path.join(ui, "pkg"), self.workdir)
        self.ws = CockpitWs(self, self.bus, pkg.share, self.port(), user=self.USER, home=home)
        self.browser = Browser(self, os.path.join(ui, "downloads"), self.artifacts, self.LANG)
        self.browser.open(self.ws.url)
        keys = json.dumps(sorted(self.KEYS.values()))
        self.browser.wait(f"{keys}.every(k => document.querySelector(`#instances tr[data-key='${{k}}']`)"
                          "?.dataset.state === 'running')",
                          "the overview to list the chain's instances from the bus")

    def chain_extra(self):
        """Extra configuration for the chain: {"gw_extra": ..., "ep_extra": ...}."""
        return {}

    def target_addr(self):
        return self.srv.addr

    def patch_config(self, text):
        return text

    def make_chain(self, wait_names=True):
        """DbusTestCase's chain, with chain_extra() in the configurations."""
        self.srv = self.server(cmd_handler)
        top = linear_chain(self, relays=1, up={"web": self.target_addr()},
                           ep_instance=EP_INSTANCE, relay_instance=RELAY_INSTANCE,
                           gw_instance=GW_INSTANCE, **self.chain_extra())
        base_config = top.config
        top.config = lambda n: self.patch_config(base_config(n))
        self.top = top
        top.start()
        top.wait_converged()
        self.web = top.listen_addr("gw1", "web")
        self.names = {label: bus_name(role, INSTANCES[role]) for role, label in LABELS.items()}
        for label in ("ep", "relay1", "gw1"):
            self.wait_name(label)
        self.wait_settled()
        return top

    def open_view(self, label, view):
        b = self.browser
        b.go(KEYS[label], view)
        b.wait(f"document.querySelector('section#{view}') !== null", f"the {view} view")

    def shot(self, name):
        self.browser.screenshot(name)


def shutil_chown(path, user):
    shutil.chown(path, user, "nogroup" if user == "nobody" else user)


class OverviewTest(CockpitTestCase):
    def rows(self):
        return self.browser.js(
            "return [...document.querySelectorAll('#instances tbody tr')].map(r => ({"
            "key: r.dataset.key, state: r.dataset.state, label: r.querySelector('.label').textContent,"
            "sessions: r.querySelector('.sessions').textContent}))")

    def dbus_row(self, label):
        name = self.names[label]
        return {"key": KEYS[label], "state": self.dbus.get(name, "State"),
                "label": self.dbus.get(name, "Label"),
                "sessions": str(self.dbus.get(name, "SessionCount"))}

    def test_instances(self):
        """Every instance of the chain with its label, state and session
        count as D-Bus has them; systemd is said to be unreachable; a
        configuration file that appears is listed as stopped at once."""
        b = self.browser
        last = {}

        def agree():
            nonlocal last
            rows = {r["key"]: r for r in self.rows()}
            last = {key: (rows.get(key), self.dbus_row(label)) for label, key in KEYS.items()}
            return all(shown == want for shown, want in last.values())

        try:
            wait_until(agree, UI, interval=0.2, what="the overview to agree with D-Bus")
        except AssertionError as e:
            raise AssertionError(f"{e}: (shown, D-Bus): {last}") from None
        self.assertIn("systemd not reachable", b.text("#systemd-unreachable"))
        self.assertTrue(b.js("return [...document.querySelectorAll('#instances button')]"
                             ".every(x => x.disabled)"), "unit actions offered without systemd")
        self.shot("overview")
        with open(os.path.join(self.workdir, "relay@standby.conf"), "w") as f:
            f.write("[Instance]\nLabel=standby\n")
        b.wait("document.querySelector('#instances tr[data-key=\"relay@standby\"]')"
               "?.dataset.state === 'stopped'", "the new configuration listed as stopped")

    def test_shell_menu(self):
        """In Cockpit's shell the page is in the menu as "Firewall chains"
        (the manifest) and runs in the shell's frame like at /tfst alone."""
        b = self.browser
        b.open(f"http://127.0.0.1:{self.ws.port}/tfst")
        b.wait("[...document.querySelectorAll('nav a')].some(a => a.textContent.trim() === 'Firewall chains')",
               "the menu entry Firewall chains")
        b.wait("document.querySelector('iframe[name=\"cockpit1:localhost/tfst\"]') !== null", "the page's frame")
        b.driver.switch_to.frame(b.driver.find_element("css selector", 'iframe[name="cockpit1:localhost/tfst"]'))
        b.wait(f"document.querySelectorAll('#instances tbody tr[data-state=running]').length === {len(KEYS)}",
               "the instances in the shell's frame")
        b.driver.switch_to.default_content()
        self.shot("shell")

    def test_state_follows_bus(self):
        """An instance that stops leaves the bus: the overview shows it
        stopped (its configuration is still there) without a reload."""
        key = KEYS["relay1"]
        self.d("relay1").stop()
        self.browser.wait(f"document.querySelector('#instances tr[data-key=\"{key}\"]')"
                          "?.dataset.state === 'stopped'", "relay@2 shown stopped")
        gw = self.names["gw1"]
        wait_until(lambda: self.dbus.get(gw, "State") != "running", 10 * SLOW,
                   what="gw1 to notice its parent is gone")
        self.browser.wait(f"document.querySelector('#instances tr[data-key=\"{KEYS['gw1']}\"]')"
                          f".dataset.state === {self.dbus.get(gw, 'State')!r}",
                          "gw1's state as D-Bus has it")


class ChainTest(CockpitTestCase):
    def test_chain_and_hops(self):
        """The label tree is the chain D-Bus has (ChainLinks, with the
        instance itself marked), and the hops table shows each hop's peer
        and state as Hops has them."""
        b = self.browser
        self.open_view("relay1", "chain")
        name = self.names["relay1"]
        links = self.dbus.get(name, "ChainLinks")
        want_labels = sorted({x for link in links for x in link})
        self.assertEqual(want_labels, ["ep", "gw1", "relay1"])
        b.wait("[...document.querySelectorAll('#chain-tree .chain-label')].map(e => e.dataset.label)"
               f".sort().join() === {','.join(want_labels)!r}", "the tree to show the chain's labels")
        # The tree's nesting is the links': every (upper, lower) pair is a
        # label directly under the other.
        shown = b.js("return [...document.querySelectorAll('#chain-tree li li')].map(li => "
                     "[li.parentNode.closest('li').querySelector('.chain-label').dataset.label,"
                     " li.querySelector('.chain-label').dataset.label])")
        self.assertEqual(sorted(map(tuple, shown)), sorted(map(tuple, links)))
        self.assertEqual(b.js("return document.querySelector('.chain-label.self').dataset.label"),
                         "relay1")
        hops = [(h["label"], h["state"]) for h in self.dbus.get(name, "Hops")]
        b.wait("JSON.stringify([...document.querySelectorAll('#hops tbody tr')].map(r => "
               f"[r.dataset.peer, r.dataset.state])) === {json.dumps(json.dumps(hops, separators=(',', ':')))}",
               f"the hops table to show {hops}")
        self.shot("chain")


    def test_hop_down_live(self):
        """The endpoint proxy stops: relay1's view follows Hops through
        PropertiesChanged (no reload) to the state D-Bus has."""
        b = self.browser
        self.open_view("relay1", "chain")
        b.wait("document.querySelector('#hops tr[data-peer=ep]')?.dataset.state === 'up'", "ep up")
        self.d("ep").stop()
        name = self.names["relay1"]
        wait_until(lambda: next(h for h in self.dbus.get(name, "Hops")
                                if h["direction"] == "parent")["state"] != "up", SETTLE,
                   what="relay1's parent hop down on D-Bus")
        b.wait("document.querySelector('#hops tr[data-peer=ep]')?.dataset.state !== 'up'",
               "the parent hop shown down")
        wait_until(lambda: b.js("return document.querySelector('#hops tr[data-peer=ep]').dataset.state")
                   == next(h for h in self.dbus.get(name, "Hops") if h["direction"] == "parent")["state"],
                   UI, interval=0.2, what="the page's hop state to agree with D-Bus")
        self.assertNotEqual(b.text("#hops tr[data-peer=ep] td.error-text"), "")


class RedundantChainTest(CockpitTestCase):
    """ep -> {relayA, relayB} -> gw1: gw1 has two parents."""

    KEYS = {"ep": "epproxy@1", "relayA": "relay@a", "relayB": "relay@b", "gw1": "gwproxy@dmz-3"}

    def make_chain(self, wait_names=True):
        self.srv = self.server(cmd_handler)
        top = Topology(self)
        top.add("epproxy", "ep", instance="1")
        top.add("relay", "relayA", parent="ep", instance="a")
        top.add("relay", "relayB", parent="ep", instance="b")
        top.add("gwproxy", "gw1", parents=["relayA", "relayB"], instance="dmz-3")
        top.forward("ep", "web", target=self.srv.addr)
        top.forward("gw1", "web", listen=True)
        self.top = top
        top.start()
        top.wait_converged()
        self.names = {label: bus_name(*key.split("@")) for label, key in self.KEYS.items()}
        for label in self.KEYS:
            self.wait_name(label)
        wait_until(lambda: len(self.dbus.get(self.names["gw1"], "ChainLinks")) == 4, SETTLE,
                   what="gw1's ChainLinks with both paths")
        return top

    def test_two_paths(self):
        """gw1 appears under both of its parents in the tree, which has
        exactly the links ChainLinks has; the hops table shows the active
        and the standby parent."""
        b = self.browser
        b.go(self.KEYS["gw1"], "chain")
        b.wait("document.querySelector('section#chain') !== null", "the chain view")
        links = self.dbus.get(self.names["gw1"], "ChainLinks")
        b.wait("document.querySelectorAll('#chain-tree .chain-label[data-label=gw1]').length === 2",
               "gw1 under both relays")
        shown = b.js("return [...document.querySelectorAll('#chain-tree li li')].map(li => "
                     "[li.parentNode.closest('li').querySelector('.chain-label').dataset.label,"
                     " li.querySelector('.chain-label').dataset.label])")
        self.assertEqual(sorted(map(tuple, shown)), sorted(map(tuple, links)))
        roles = sorted(h["role"] for h in self.dbus.get(self.names["gw1"], "Hops")
                       if h["direction"] == "parent")
        self.assertEqual(roles, ["active", "standby"])
        b.wait("[...document.querySelectorAll('#hops tbody tr')].map(r => r.children[3].textContent)"
               ".sort().join() === 'active,standby'", "the parents' roles")
        self.shot("chain-redundant")


class SessionsTest(CockpitTestCase):
    def shown(self):
        return self.browser.js(
            "return [...document.querySelectorAll('#sessions-table .vt-body')].map(r => "
            "Object.fromEntries([...r.children].map(c => [c.dataset.col, c.textContent])))")

    def test_new_session_appears(self):
        """A session opened while the table is shown appears in it within
        2 s (SessionsChanged, no reload), with the id, client and byte
        counts ListSessions has; the filter and the sort work on it."""
        b = self.browser
        self.open_view("gw1", "sessions")
        b.wait("document.querySelector('#sessions').dataset.loaded === '0'", "the empty list")
        t0 = time.monotonic()
        s = self.session()
        s.exchange(1000, 70001)
        # The page learns of it from SessionsChanged (at most 1 s later),
        # then reads ListSessions: 2 s from the connection (scaled by
        # TFST_TEST_SLOW in a sanitized build), whatever the test's own
        # D-Bus reads below take.
        b.wait("document.querySelectorAll('#sessions-table .vt-body').length === 1",
               "the new session in the table", timeout=max(0.0, t0 + 2 * SLOW - time.monotonic()))
        sid = self.session_id("gw1", s)
        self.assertEqual(b.js("return document.querySelector('#sessions-table .vt-body').dataset.key"),
                         str(sid))
        row = next(r for r in self.shown() if r["id"] == str(sid))
        listed = next(x for x in self.dbus.sessions(self.names["gw1"]) if x["id"] == sid)
        self.assertEqual(row["client"], listed["client"])
        self.assertEqual(row["forward"], listed["forward"])
        self.assertEqual(row["direction"], "upcall")
        self.assertEqual(row["state"], listed["state"])
        # Two more sessions, then the table sorted by bytes toward the client.
        for n in (5, 300000):
            self.session().exchange(10, n)
        wait_until(lambda: len(self.dbus.sessions(self.names["gw1"])) == 3, UI, what="3 sessions")
        b.wait("document.querySelectorAll('#sessions-table .vt-body').length === 3", "3 rows")
        self.assertEqual(b.js("return new Set([...document.querySelectorAll('#sessions-table .vt-body')]"
                              ".map(r => r.getBoundingClientRect().top)).size"), 3,
                         "rows drawn on top of each other")
        b.click("#sessions-table .vt-head [data-col='to_client']")
        by_bytes = sorted(self.dbus.sessions(self.names["gw1"]), key=lambda x: x["bytes_to_client"])
        b.wait("JSON.stringify([...document.querySelectorAll('#sessions-table .vt-body')].map(r => r.dataset.key))"
               f" === {json.dumps(json.dumps([str(x['id']) for x in by_bytes], separators=(',', ':')))}",
               "the rows sorted by bytes toward the client")
        self.shot("sessions")
        b.fill("#sessions-filter", "127.0.0.9")
        b.wait("document.querySelectorAll('#sessions-table .vt-body').length === 0", "filtered out")
        b.fill("#sessions-filter", "")
        b.click(f"#sessions-table .vt-body[data-key='{sid}']")
        b.click("#dataflow-measure")
        b.wait("document.querySelector('#dataflow-result').textContent.includes('/s')",
               "the data-flow measurement", timeout=UI + 5)


class StatisticsTest(CockpitTestCase):
    def shown_counter(self, key):
        return self.browser.text(f"#counters tr[data-counter='{key}'] td.num")

    def test_clear(self):
        """The counters are GetStatistics' values; Clear statistics resets
        them in the daemon and on the page; the chart draws throughput."""
        b = self.browser
        for s in self.open_traffic():
            s.finish()
        name = self.names["ep"]
        wait_until(lambda: self.dbus.stats(name)[0]["SessionsClosed"] == 3, SETTLE,
                   what="3 sessions closed at ep")
        self.open_view("ep", "statistics")
        counters, cleared = self.dbus.stats(name)
        b.wait(f"document.querySelector(\"#counters tr[data-counter='SessionsOpened'] td.num\")"
               f"?.textContent === '{counters['SessionsOpened']}'", "SessionsOpened as D-Bus has it")
        self.assertEqual(self.shown_counter("UpcallBytesToClient"), str(counters["UpcallBytesToClient"]))
        b.wait("document.querySelector('#throughput-chart polyline')?.getAttribute('points')"
               ".split(' ').length >= 2", "two throughput points in the chart", timeout=UI + 10)
        # Traffic while the view is open shows in the throughput series.
        s = self.session()
        s.exchange(100000, 2000000)
        b.wait("JSON.parse(document.querySelector('#throughput-chart').dataset.max || '[0]')[0] > 0",
               "the traffic in the throughput chart", timeout=UI + 10)
        self.shot("statistics")
        s.finish()
        b.click("#stats-clear")
        b.wait("document.querySelector(\"#counters tr[data-counter='SessionsOpened'] td.num\")"
               "?.textContent === '0'", "SessionsOpened cleared on the page")
        after, cleared_after = self.dbus.stats(name)
        self.assertEqual(after["SessionsOpened"], 0)
        self.assertEqual(after["UpcallBytesToClient"], 0)
        self.assertGreater(cleared_after, cleared)
        self.assertEqual(self.shown_counter("UpcallBytesToClient"), "0")


class KeepaliveTest(CockpitTestCase):
    def settings(self, label, scope="hops"):
        return self.dbus.call(self.names[label], "GetSettings", "s", (scope,), iface=KEEPALIVE)[0]

    def test_change_applied(self):
        """The forms show GetSettings; a change made on the page is in
        force in the daemon; a change the daemon refuses (Idle not below
        the firewall timeout) shows its reason and changes nothing; the
        audit lists the hop connections Audit() has."""
        b = self.browser
        self.open_view("relay1", "keepalive")
        hops = self.settings("relay1")
        b.wait(f"document.querySelector('#keepalive-hops input[name=Idle]').value === '{hops['Idle']}'",
               "the hop settings")
        sessions = self.settings("relay1", "sessions")
        b.fill("#keepalive-hops input[name=Idle]", "77")
        b.click("#keepalive-hops button[type=submit]")
        wait_until(lambda: self.settings("relay1")["Idle"] == 77, UI, what="Idle 77 in the daemon")
        self.assertEqual(self.settings("relay1", "sessions"), sessions)
        b.fill("#keepalive-sessions input[name=FirewallTimeout]", "30")
        b.fill("#keepalive-sessions input[name=Idle]", "60")
        before = self.settings("relay1", "sessions")
        b.click("#keepalive-sessions button[type=submit]")
        b.wait("document.querySelector('#keepalive-sessions .alert-danger') !== null",
               "the refusal on the page")
        self.assertEqual(self.settings("relay1", "sessions"), before)
        self.assertEqual(b.js("return document.querySelectorAll('#audit .vt-body').length"), 0,
                         "no audit before it is asked for")
        kinds = sorted(c[0] for c in self.dbus.call(self.names["relay1"], "Audit", iface=KEEPALIVE)[0])
        b.click("#audit-run")
        b.wait("JSON.stringify([...document.querySelectorAll('#audit .vt-body [data-col=kind]')].map(r => r.textContent).sort())"
               f" === {json.dumps(json.dumps(kinds, separators=(',', ':')))}", f"the audit rows {kinds}")
        self.shot("keepalive")

    def test_firewall_warning(self):
        """Keepalive off on a path whose firewall forgets idle connections:
        the page warns where it applies (sessions), not elsewhere."""
        b = self.browser
        self.dbus.call(self.names["gw1"], "SetSettings", "sa{sv}u",
                       ("sessions", sv(Keepalive=False, FirewallTimeout=600), 0), iface=KEEPALIVE)
        self.open_view("gw1", "keepalive")
        b.wait("document.querySelector('#keepalive-sessions .fw-warning .alert') !== null",
               "the firewall warning for sessions")
        self.assertIn("600", b.text("#keepalive-sessions .fw-warning"))
        self.assertIsNone(b.js("return document.querySelector('#keepalive-hops .fw-warning .alert')"))


class TraceTest(CockpitTestCase):
    def traces(self):
        raw = self.dbus.call(self.names["ep"], "List", iface=TRACE)[0]
        return {t[0]: dict(zip(("name", "address", "port", "size", "used", "packets", "wrap",
                                "paused", "status"), t)) for t in raw}

    def test_define_pause_download(self):
        """A trace defined on the page captures the target connection;
        pausing it on the page pauses it in the daemon; its pcap downloads
        and tshark reads as many packets as List() counts."""
        b = self.browser
        self.open_view("ep", "traces")
        b.fill("#trace-define input[name=name]", "web")
        b.fill("#trace-define input[name=address]", self.srv.addr[0])
        b.fill("#trace-define input[name=port]", str(self.srv.addr[1]))
        b.click("#trace-define button[type=submit]")
        wait_until(lambda: "web" in self.traces(), UI, what="the trace in List()")
        s = self.session()
        s.exchange(2000, 3000)
        s.finish()
        wait_until(lambda: self.traces()["web"]["packets"] >= 6, UI, what="packets captured")
        b.click("#traces-list tr[data-trace=web] button[data-action=pause]")
        wait_until(lambda: self.traces()["web"]["paused"], UI, what="the trace paused")
        n = self.traces()["web"]["packets"]
        b.click("#traces-refresh")
        b.wait(f"document.querySelector('#traces-list tr[data-trace=web] .packets')?.textContent === '{n}'",
               f"{n} packets on the page")
        b.click("#traces-list tr[data-trace=web] button[data-action=show]")
        b.wait(f"document.querySelectorAll('#packets-table tbody tr').length === {n}", f"{n} packets shown")
        self.assertEqual(b.js("return document.querySelector('#packets-count').dataset.count"), str(n))
        self.shot("traces")
        b.click("#traces-list tr[data-trace=web] button[data-action=download]")
        path = b.wait_download("web.pcap")
        r = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport"],
                           capture_output=True, text=True, timeout=60,
                           env=private_home_env(os.path.join(self.workdir, "tshark-home")))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split()
        self.assertEqual(len(r.stdout.splitlines()), n, r.stdout)
        self.assertIn(str(self.srv.addr[1]), lines)


class EventsTest(CockpitTestCase):
    def chain_extra(self):
        self.collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(self.collector.close)
        self.collector.bind(("127.0.0.1", self.port()))
        self.listen = ("127.0.0.1", self.port())
        return {"gw_extra": "[Events syslog]\nListen=udp:%s:%d\n" % self.listen,
                "ep_extra": "[Events syslog]\nTarget=udp:127.0.0.1:%d\n" % self.collector.getsockname()[1]}

    def sink(self, label):
        return self.dbus.call(self.names[label], "GetSinks", iface=EVENTS)[0][0]

    def test_counters_and_clear(self):
        """The sink's counters and spool use as GetSinks() has them;
        Clear counters resets them in the daemon."""
        b = self.browser
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for i in range(5):
                u.sendto(b"<13>Dec  3 10:00:00 host test: event %d" % i, self.listen)
        wait_until(lambda: self.sink("gw1")["Acknowledged"] == 5, 20 * SLOW, what="5 events acknowledged")
        self.open_view("gw1", "events")
        b.wait("document.querySelector('.sink[data-sink=syslog]') !== null", "the sink")
        b.click("#events-refresh")
        b.wait("[...document.querySelectorAll('.sink[data-sink=syslog] tr')].some(r => r.textContent === 'Received5')",
               "Received 5 on the page")
        self.assertIn("0 events", b.text(".sink[data-sink=syslog] tr[data-counter=spool]"))
        self.shot("events")
        b.click("#events-clear")
        wait_until(lambda: self.sink("gw1")["Received"] == 0, UI, what="the counters cleared")
        b.wait("[...document.querySelectorAll('.sink[data-sink=syslog] tr')].some(r => r.textContent === 'Received0')",
               "Received 0 on the page")


class UnprivilegedTest(CockpitTestCase):
    """cockpit-ws and its bridge as nobody, granted observe only: reading
    works, every change shows the access message and changes nothing."""

    USER = "nobody"

    def denied(self, where):
        self.browser.wait(f"document.querySelector('{where} [data-denied=\"1\"]') !== null",
                          f"the access message in {where}")
        self.assertIn("You need administrative access", self.browser.text(where))

    def test_manage_denied(self):
        self.grant(OBSERVE)
        b = self.browser
        ep = self.names["ep"]
        s = self.session()
        s.exchange(10, 10)
        before, cleared = self.dbus.stats(ep)
        self.open_view("ep", "statistics")
        b.wait(f"document.querySelector(\"#counters tr[data-counter='SessionsOpened'] td.num\")"
               f"?.textContent === '{before['SessionsOpened']}'", "the counters, read with observe")
        b.click("#stats-clear")
        self.denied("#statistics")
        self.shot("access-denied")
        after, cleared_after = self.dbus.stats(ep)
        self.assertEqual(cleared_after, cleared)
        self.assertEqual(after["SessionsOpened"], before["SessionsOpened"])

        hops = self.dbus.call(ep, "GetSettings", "s", ("hops",), iface=KEEPALIVE)[0]
        self.open_view("ep", "keepalive")
        b.wait(f"document.querySelector('#keepalive-hops input[name=Idle]').value === '{hops['Idle']}'",
               "the hop settings")
        b.fill("#keepalive-hops input[name=Idle]", str(hops["Idle"] + 1))
        b.click("#keepalive-hops button[type=submit]")
        self.denied("#keepalive-hops")
        self.assertEqual(self.dbus.call(ep, "GetSettings", "s", ("hops",), iface=KEEPALIVE)[0], hops)

        self.open_view("gw1", "sessions")
        sid = self.session_id("gw1", s)
        b.click(f"#sessions-table .vt-body[data-key='{sid}']")
        b.click("#session-close")
        self.denied("#session-detail")
        self.assertIn(sid, [x["id"] for x in self.dbus.sessions(self.names["gw1"])])

        self.open_view("ep", "traces")
        b.fill("#trace-define input[name=name]", "denied")
        b.fill("#trace-define input[name=address]", "127.0.0.1")
        b.click("#trace-define button[type=submit]")
        self.denied("#traces")
        self.assertEqual(self.dbus.call(ep, "List", iface=TRACE)[0], [])


IP = shutil.which("ip") or "/usr/sbin/ip"


def run(argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


class IpsecTest(CockpitTestCase):
    """An epproxy in a network namespace of its own (its SAs are that
    namespace's, the host's are never touched), next to the chain."""

    def setUp(self):
        super().setUp()
        self.ns = f"tfst-cockpit-{os.getpid()}"
        r = run([IP, "netns", "add", self.ns], check=False)
        if r.returncode != 0:
            self.skipTest(f"`ip netns add` does not work here: {r.stderr.strip()}")
        self.addCleanup(run, [IP, "netns", "del", self.ns], False)
        run([IP, "-n", self.ns, "link", "set", "lo", "up"])
        r = run([IP, "netns", "exec", self.ns, "sysctl", "-qw", "net.core.xfrm_acq_expires=3600"],
                check=False)
        if r.returncode != 0:
            # /proc/sys is read-only in a container without its own
            # network sysctls: the SAs this test adds would expire at once.
            self.skipTest(f"cannot set net.core.xfrm_acq_expires in a network namespace here: "
                          f"{r.stderr.strip()}")
        d = self.daemon("epproxy", "ipsec", f"[Instance]\nLabel=ipsec\n\n[Children]\nListen=127.0.0.1:{self.port()}\n")
        d.argv_prefix = [IP, "netns", "exec", self.ns]
        d.start()
        self.ipsec_name = bus_name("epproxy", "ipsec")
        self.bus.wait_name(self.ipsec_name, 15 * SLOW, proc=d.proc)
        for src, dst, proto, spi in (("10.0.0.1", "10.0.0.2", "esp", 0x1000),
                                     ("10.0.0.1", "10.0.0.2", "ah", 0x1000)):
            r = run([IP, "-n", self.ns, "xfrm", "state", "allocspi", "src", src, "dst", dst,
                     "proto", proto, "min", hex(spi), "max", hex(spi)], check=False)
            if r.returncode != 0:
                self.skipTest(f"xfrm (`ip xfrm state allocspi`) does not work here: {r.stderr.strip()}")

    def test_spi_conflict(self):
        """A proposed SPI that collides is reported with every SA that
        CheckSpi() names; a free one is said to be free; the scan shows
        the groups FindConflicts() finds."""
        b = self.browser
        state = self.dbus.get(self.ipsec_name, "State")
        b.wait("document.querySelector('#instances tr[data-key=\"epproxy@ipsec\"]')?.dataset.state"
               f" === {state!r}", "the namespaced instance in the overview")
        b.go("epproxy@ipsec", "ipsec")
        b.wait("document.querySelector('section#ipsec') !== null", "the IPsec view")
        want = self.dbus.call(self.ipsec_name, "CheckSpi", "uss", (0x1000, "10.0.0.2", "esp"), iface=IPSEC)[0]
        self.assertGreaterEqual(len(want), 1)
        b.fill("#spi-check input[name=spi]", "0x1000")
        b.fill("#spi-check input[name=destination]", "10.0.0.2")
        b.click("#spi-check button[type=submit]")
        b.wait(f"document.querySelector('#spi-result [data-conflicts]')?.dataset.conflicts === '{len(want)}'",
               f"{len(want)} conflicts reported")
        text = b.text("#spi-result")
        for spi, proto, src, dst, mode, kind in want:
            self.assertIn(f"{src} → {dst}", text)
        groups = self.dbus.call(self.ipsec_name, "FindConflicts", iface=IPSEC)[0]
        b.click("#conflicts-scan")
        b.wait(f"document.querySelectorAll('#conflicts .conflict-group').length === {len(groups)}",
               f"{len(groups)} conflict groups")
        self.shot("ipsec")
        self.assertEqual(self.dbus.call(self.ipsec_name, "CheckSpi", "uss", (0x4242, "10.0.0.2", "esp"),
                                        iface=IPSEC)[0], [])
        b.fill("#spi-check input[name=spi]", "0x4242")
        b.click("#spi-check button[type=submit]")
        b.wait("document.querySelector('#spi-result [data-free]') !== null", "SPI 0x4242 free")


class GermanTest(CockpitTestCase):
    """A browser that asks for German gets the page in German: po.de.js,
    made from po/de.po at build time, through Cockpit's gettext."""

    LANG = "de-DE"

    def test_translated(self):
        b = self.browser
        b.wait("document.querySelector('h1')?.textContent === 'Firewall-Ketten'", "the German title")
        self.assertIn("systemd nicht erreichbar", b.text("#systemd-unreachable"))
        self.assertEqual(b.text("#instances tr[data-key='relay@2'] .state"), "Läuft")
        self.open_view("gw1", "sessions")
        self.assertEqual(b.text(".tabs a[data-tab=sessions]"), "Sitzungen")
        b.wait("document.querySelector('#sessions-count')?.textContent === '0 Sitzungen'",
               "the plural form in German")
        self.shot("sessions-de")


# Holds connections open in a process of its own (RLIMIT_NOFILE is per
# process): "accept HOST PORT" accepts and keeps every connection, "connect
# HOST PORT SOURCE N" opens N; each prints "ready N" and holds them until
# its stdin closes.
HOLDER = r"""
import resource, socket, sys, threading
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
held = []
if kind == "accept":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(4096)
    def loop():
        while True:
            held.append(ls.accept()[0])
    threading.Thread(target=loop, daemon=True).start()
    print("ready 0", flush=True)
else:
    for i in range(int(sys.argv[5])):
        c = socket.socket()
        c.bind((sys.argv[4], 0))
        c.connect((host, port))
        held.append(c)
    print("ready", len(held), flush=True)
sys.stdin.read()
"""


class BigTableTest(CockpitTestCase):
    """10 000 sessions in gw1: the sessions view stays responsive."""

    N = 10000

    def setUp(self):
        # gw1 holds a client socket per session and the epproxy a target
        # socket: the daemons inherit this limit (a container's soft limit
        # is often 1024).
        need = self.N + 1000
        if raise_nofile(need) < need:
            self.skipTest(f"RLIMIT_NOFILE's hard limit is below {need}: cannot hold "
                          f"{self.N} sessions")
        super().setUp()

    def holder(self, *args):
        p = subprocess.Popen(["/usr/bin/python3", "-c", HOLDER, *map(str, args)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def stop():
            p.stdin.close()
            p.wait(30)
            p.stdout.close()

        self.addCleanup(stop)
        line = p.stdout.readline()
        self.assertTrue(line.startswith("ready"), line)
        return p

    def target_addr(self):
        self.sink = ("127.0.0.1", self.port())
        self.holder("accept", *self.sink)
        return self.sink

    def patch_config(self, text):
        return text.replace("[Instance]\n", f"[Instance]\nMaxSessions={2 * self.N}\n"
                            f"MaxSessionsPerChild={2 * self.N}\nOpenRate=0\n", 1)

    def test_render_10000(self):
        """Measures the time from opening the view to 10 000 rows in the
        table, how long the reply took and how long the table took to
        draw, and a scroll to the end and a sort; only the rows in view
        are in the DOM."""
        b = self.browser
        self.holder("connect", *self.web, "127.0.0.2", self.N)
        gw = self.names["gw1"]
        wait_until(lambda: self.dbus.get(gw, "SessionCount") == self.N, 60 * SLOW,
                   interval=0.5, what=f"{self.N} sessions at gw1")
        t = b.js("window.tfstT0 = performance.now(); cockpit.location.go(arguments[0]); return 1",
                 [KEYS["gw1"], "sessions"])
        b.wait(f"document.querySelector('#sessions')?.dataset.loaded === '{self.N}'",
               f"{self.N} sessions in the table", timeout=60 * SLOW)
        total = b.js("return performance.now() - window.tfstT0")
        ds = b.js("return Object.assign({}, document.querySelector('#sessions').dataset)")
        dom_rows = b.js("return document.querySelectorAll('#sessions-table .vt-body').length")
        self.assertLess(dom_rows, 100, "the table is not virtualised")
        self.assertIn(f"{self.N} sessions", b.text("#sessions-count"))
        scroll = b.js("""const v = document.querySelector('#sessions-table .vt-viewport');
            const t0 = performance.now(); v.scrollTop = v.scrollHeight; v.dispatchEvent(new Event('scroll'));
            return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() =>
                r([performance.now() - t0, document.querySelectorAll('#sessions-table .vt-body').length]))));""")
        last = b.js("return [...document.querySelectorAll('#sessions-table .vt-body')].length > 0 && "
                    "Math.max(...[...document.querySelectorAll('#sessions-table .vt-body')].map(r => parseFloat(r.style.top)))")
        self.assertEqual(last, (self.N - 1) * 28, "the last row is not drawn at the end")
        sort = b.js("const t0 = performance.now(); document.querySelector(\"#sessions-table .vt-head [data-col='to_client']\").click();"
                    "return performance.now() - t0")
        self.shot("sessions-10000")
        report = (f"{self.N} sessions: view opened to table filled {total:.0f} ms "
                  f"(ListSessions reply {ds['fetchMs']} ms, table drawn in {ds['renderMs']} ms), "
                  f"scroll to the end {scroll[0]:.0f} ms ({scroll[1]} rows in the DOM), "
                  f"sort {sort:.0f} ms")
        sys.stderr.write(report + "\n")
        with open(os.path.join(self.artifacts, "render-10000.txt"), "w") as f:
            f.write(report + "\n")
        self.assertLess(float(ds["renderMs"]), 2000, report)
