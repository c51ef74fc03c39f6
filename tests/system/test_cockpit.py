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

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, wait_until  # noqa: E402

from tfst_bus import (IFACE, INSTANCES, LABELS, ROLE_OF_LABEL, DbusTestCase)  # noqa: E402
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
