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

Serial, root only (skips otherwise); a missing cockpit-ws, chromium,
chromium-driver, python3-selenium or tshark fails: tools/deps installs
them.
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, wait_until  # noqa: E402

from tfst_bus import INSTANCES, KEEPALIVE, LABELS, SETTLE, DbusTestCase, sv  # noqa: E402
import tfst_cockpit  # noqa: E402
from tfst_cockpit import Browser, CockpitPackage, CockpitWs  # noqa: E402

UI = tfst_cockpit.UI_TIMEOUT
KEYS = {label: f"{role}@{INSTANCES[role]}" for role, label in LABELS.items()}


class CockpitTestCase(DbusTestCase):
    """A chain, the page installed for this test, cockpit-ws (as root
    unless USER is set) and a browser on the page."""

    USER = None
    LANG = "en-US"

    @classmethod
    def setUpClass(cls):
        why = tfst_cockpit.environment_problem()
        if why and os.geteuid() == 0:
            raise AssertionError(why)
        super().setUpClass()

    def setUp(self):
        super().setUp()
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
        self.browser.wait("document.querySelectorAll('#instances tbody tr').length >= 3",
                          "the overview to list the chain's instances")

    def open_view(self, label, view):
        b = self.browser
        b.go(KEYS[label], view)
        b.wait(f"document.querySelector('section#{view}') !== null", f"the {view} view")

    def shot(self, name):
        self.browser.screenshot(name)


def shutil_chown(path, user):
    import shutil
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
        s = self.session()
        s.exchange(1000, 70001)
        t0 = time.monotonic()
        sid = self.session_id("gw1", s)
        b.wait(f"document.querySelector('#sessions-table .vt-body[data-key=\"{sid}\"]') !== null",
               f"session {sid} in the table", timeout=max(0.0, t0 + 2 - time.monotonic()) + 0.05)
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
        self.shot("statistics")
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
        b.fill("#keepalive-hops input[name=Idle]", "77")
        b.click("#keepalive-hops button[type=submit]")
        wait_until(lambda: self.settings("relay1")["Idle"] == 77, UI, what="Idle 77 in the daemon")
        self.assertEqual(self.settings("relay1", "sessions"), self.settings("relay1", "sessions"))
        b.fill("#keepalive-sessions input[name=FirewallTimeout]", "30")
        b.fill("#keepalive-sessions input[name=Idle]", "60")
        before = self.settings("relay1", "sessions")
        b.click("#keepalive-sessions button[type=submit]")
        b.wait("document.querySelector('#keepalive-sessions .alert-danger') !== null",
               "the refusal on the page")
        self.assertEqual(self.settings("relay1", "sessions"), before)
        kinds = sorted(c[0] for c in self.dbus.call(self.names["relay1"], "Audit", iface=KEEPALIVE)[0])
        b.wait("JSON.stringify([...document.querySelectorAll('#audit tbody tr')].map(r => r.dataset.kind).sort())"
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
