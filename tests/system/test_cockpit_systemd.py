# SPDX-License-Identifier: GPL-2.0-or-later
"""The Cockpit page's overview with a real systemd: start, stop, restart
and enable a tfst unit from the page.

A systemd-nspawn container (tfst_nspawn.py, as test_systemd_manager.py)
boots Debian with systemd as PID 1 and its system bus, with tfst installed
as a package installs it and /etc/tfst/epproxy@1.conf.  cockpit-ws and
Chromium run on the host (the container has neither): the bridge's
DBUS_SYSTEM_BUS_ADDRESS is the container's bus socket, reached through
/proc/LEADER/root, and the page's configuration directory (its manifest's
confdir) the container's /etc/tfst the same way.  The page is the one
`meson install` put into the container's tree.  What the page shows is
checked against `systemctl` in the container.

Needs root, systemd-nspawn and debootstrap, and the packages of
test_cockpit.py (tools/deps); skips with the reason when the container
cannot run here.
"""

import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import tfst_nspawn as nsp  # noqa: E402
import tfst_cockpit  # noqa: E402
from tfst_cockpit import Browser, CockpitPackage, CockpitWs  # noqa: E402
from tfst_testlib import PortLease, wait_until  # noqa: E402

UNIT = "tfst-epproxy@1.service"
WAIT = 30
CONFIG = "[Instance]\nLabel=ep\n\n[Children]\nListen=127.0.0.1:6014\n"


class ContainerBus:
    """The container's system bus, as CockpitWs wants a bus."""

    def __init__(self, leader):
        self.address = f"unix:path=/proc/{leader}/root/run/dbus/system_bus_socket"

    def env(self):
        return dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)


class CockpitSystemdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() == 0:
            why = tfst_cockpit.environment_problem()
            if why:
                raise AssertionError(why)
        why = nsp.environment_problem()
        if why:
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.mkdtemp(prefix="tfst-cockpit-systemd-")
        os.chmod(cls.tmp, 0o755)
        nsp.register_tmpdir(cls.tmp)
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        lock = nsp.ensure_rootfs()
        cls.addClassCleanup(lock.close)
        cls.dest = os.path.join(cls.tmp, "dest")
        files = nsp.build_and_install(cls.dest)
        binds = [(os.path.join(cls.dest, rel), nsp.container_path(rel)) for rel in files]
        c = nsp.Container(nsp.ROOTFS, binds, cls.tmp)
        cls.addClassCleanup(c.stop)
        c.start()
        cls.container = c
        c.run("systemd-sysusers")
        c.write_file("/etc/tfst/epproxy@1.conf", CONFIG)
        c.run("systemctl", "daemon-reload")

    def setUp(self):
        ports = PortLease()
        self.addCleanup(ports.release)
        ui = tempfile.mkdtemp(prefix="ui-", dir=self.tmp)
        home = os.path.join(ui, "home")
        os.makedirs(os.path.join(ui, "downloads"))
        os.makedirs(home)
        leader = self.container.leader
        installed = os.path.join(self.dest, "usr", "share", "cockpit", "tfst")
        pkg = CockpitPackage(os.path.join(ui, "pkg"), f"/proc/{leader}/root/etc/tfst", installed)
        self.ws = CockpitWs(self, ContainerBus(leader), pkg.share, ports.take(), home=home)
        artifacts = os.path.join(os.environ.get("TFST_TEST_LOGDIR") or ui, "cockpit")
        self.browser = Browser(self, os.path.join(ui, "downloads"), artifacts)
        self.browser.open(self.ws.url)

    def systemctl(self, *args):
        return self.container.run("systemctl", "--no-pager", *args, check=False).stdout.strip()

    def row_state(self):
        return self.browser.js("return document.querySelector('#instances tr[data-key=\"epproxy@1\"]')"
                               "?.dataset.state")

    def unit_text(self):
        return self.browser.text("#instances tr[data-key='epproxy@1'] .unit")

    def test_start_stop_enable(self):
        """Start runs the unit and the instance appears on the bus (its
        label and state on the page); Stop stops it; Enable enables it."""
        b = self.browser
        self.addCleanup(self.systemctl, "disable", "--now", UNIT)
        b.wait("document.querySelector('#instances tr[data-key=\"epproxy@1\"] .unit')"
               "?.textContent.startsWith('inactive')", "epproxy@1 listed with its inactive unit")
        self.assertEqual(self.row_state(), "stopped")
        self.assertIsNone(b.js("return document.querySelector('#systemd-unreachable')"))
        b.click("#instances tr[data-key='epproxy@1'] button[data-action=start]")
        wait_until(lambda: self.systemctl("is-active", UNIT) == "active", WAIT,
                   what=f"{UNIT} active in the container")
        b.wait("document.querySelector('#instances tr[data-key=\"epproxy@1\"] .label')?.textContent === 'ep'",
               "the running instance's label from the bus", timeout=WAIT)
        self.assertTrue(self.unit_text().startswith("active"), self.unit_text())
        pid = self.systemctl("show", "-p", "MainPID", "--value", UNIT)
        b.click("#instances tr[data-key='epproxy@1'] button[data-action=restart]")
        wait_until(lambda: self.systemctl("show", "-p", "MainPID", "--value", UNIT) not in (pid, "0"),
                   WAIT, what="a new main process after Restart")
        b.click("#instances tr[data-key='epproxy@1'] button[data-action=enable]")
        wait_until(lambda: self.systemctl("is-enabled", UNIT) == "enabled", WAIT,
                   what=f"{UNIT} enabled")
        b.wait("document.querySelector('#instances tr[data-key=\"epproxy@1\"] .unit')"
               "?.textContent.includes('enabled')", "the unit shown enabled")
        b.screenshot("overview-systemd")
        b.click("#instances tr[data-key='epproxy@1'] button[data-action=stop]")
        wait_until(lambda: self.systemctl("is-active", UNIT) in ("inactive", "failed"), WAIT,
                   what=f"{UNIT} stopped")
        b.wait("document.querySelector('#instances tr[data-key=\"epproxy@1\"]')?.dataset.state === 'stopped'",
               "the instance shown stopped", timeout=WAIT)
