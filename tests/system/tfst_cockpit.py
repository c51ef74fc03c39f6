# SPDX-License-Identifier: GPL-2.0-or-later
"""The Cockpit page (cockpit/) in a real browser, for test_cockpit.py.

- CockpitPackage: the page's files (sources from cockpit/, manifest and
  po.LANG.js from the build) copied into a temp share dir as
  DIR/share/cockpit/tfst, with the manifest's confdir pointing at the
  test's own configuration directory;
- CockpitWs: `cockpit-ws --no-tls --local-session=cockpit-bridge` on a
  leased loopback port, as root or (user) as an unprivileged user through
  setpriv, with DBUS_SYSTEM_BUS_ADDRESS of the private bus and
  XDG_DATA_DIRS=DIR/share:/usr/share in its environment, so the bridge
  talks to the private bus and finds the package (nothing of the host's
  Cockpit is used: no cockpit.socket, no /etc/cockpit);
- Browser: headless Chromium through chromedriver (selenium), with
  downloads going to a directory of the test, and screenshots.

Screenshots go to the test's artifacts directory: $TFST_TEST_LOGDIR/cockpit
when set (meson's logs), else the test's work dir (removed with it).  With
TFST_COCKPIT_SCREENSHOTS=DIR they are copied to DIR as well
(tools/cockpit-screenshots uses it for docs/cockpit/).

environment_problem() names what is missing: Debian's cockpit-ws,
cockpit-bridge, cockpit-system, chromium, chromium-driver, python3-selenium
and tshark (tools/deps installs them).
"""

import glob
import json
import os
import shutil
import socket
import subprocess
import time

from tfst_bus import BUILDDIR, SRCDIR, setpriv_argv
from tfst_testlib import SLOW, wait_until

COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws"
COCKPIT_BRIDGE = "/usr/bin/cockpit-bridge"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PACKAGE = "tfst"
UI_TIMEOUT = 10 * SLOW


def environment_problem():
    """None when the page can be tested here, else what is missing.  The
    packages are installed by tools/deps, so a missing one is a failure of
    the machine's setup, not a reason to skip (see test_cockpit.py)."""
    for what, path in (("cockpit-ws", COCKPIT_WS), ("cockpit-bridge", COCKPIT_BRIDGE),
                       ("chromium", CHROMIUM), ("chromium-driver", CHROMEDRIVER)):
        if not os.access(path, os.X_OK):
            return f"{what} not found at {path} (tools/deps installs it)"
    if not os.path.exists("/usr/share/cockpit/base1/cockpit.js") and \
            not os.path.exists("/usr/share/cockpit/base1/cockpit.js.gz"):
        return "cockpit.js (/usr/share/cockpit/base1, cockpit-bridge) is missing"
    if not glob.glob("/usr/share/cockpit/shell/index.html*"):
        return "Cockpit's shell (/usr/share/cockpit/shell, cockpit-system) is missing"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is missing (tools/deps installs it)"
    if shutil.which("tshark") is None:
        return "tshark is missing (tools/deps installs it)"
    return None


def page_missing():
    """Why the page cannot be tested from this build (configured with
    -Dcockpit=false: a choice, so the tests skip), else None."""
    if not os.path.exists(os.path.join(BUILDDIR, "cockpit", "manifest.json")):
        return f"the build has no Cockpit page ({BUILDDIR}/cockpit; -Dcockpit=false?)"
    return None


class CockpitPackage:
    """The page installed into root/share/cockpit/tfst."""

    def __init__(self, root, confdir, installed=None):
        """installed: a directory where meson installed the page, to use
        instead of the source and build trees."""
        self.share = os.path.join(root, "share")
        self.dir = os.path.join(self.share, "cockpit", PACKAGE)
        if installed:
            shutil.copytree(installed, self.dir)
        else:
            self._copy_from_tree()
        with open(os.path.join(self.dir, "manifest.json")) as f:
            manifest = json.load(f)
        manifest["config"]["confdir"] = confdir
        with open(os.path.join(self.dir, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        for d in (root, self.share, os.path.dirname(self.dir), self.dir):
            os.chmod(d, 0o755)
        for f in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, f), 0o644)


    def _copy_from_tree(self):
        os.makedirs(self.dir)
        src = os.path.join(SRCDIR, "cockpit")
        for f in os.listdir(src):
            if f.endswith((".js", ".html", ".css")):
                shutil.copy(os.path.join(src, f), self.dir)
        built = os.path.join(BUILDDIR, "cockpit")
        for f in os.listdir(built):
            if (f.startswith("po.") and f.endswith(".js")) or f == "manifest.json":
                shutil.copy(os.path.join(built, f), self.dir)


class CockpitWs:
    """cockpit-ws with a local session on 127.0.0.1:port; stop() ends it
    and the bridge it started (its process group)."""

    def __init__(self, tc, bus, share, port, user=None, home=None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/cockpit/@localhost/{PACKAGE}/index.html"
        env = bus.env()
        env["XDG_DATA_DIRS"] = f"{share}:/usr/share"
        env["HOME"] = home
        env.pop("XDG_RUNTIME_DIR", None)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        # No /etc/cockpit of the host: its configuration dir is an empty one.
        env["XDG_CONFIG_DIRS"] = home
        argv = [COCKPIT_WS, "--no-tls", "--address", "127.0.0.1", "--port", str(port),
                "--local-session=cockpit-bridge"]
        if user:
            argv = setpriv_argv(user, "nogroup" if user == "nobody" else user) + argv
        self.log = open(os.path.join(home, f"cockpit-ws-{port}.log"), "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=home)
        tc.addCleanup(self.stop)
        wait_until(self.listening, UI_TIMEOUT, what=f"cockpit-ws on port {port}")

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"cockpit-ws exited with {self.proc.returncode}: {self.log_text()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log_text(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        self.log.close()


def private_home_env(home):
    """os.environ with HOME and the XDG config, cache and data dirs in
    home (made here), so the tools a test runs (chromedriver, Chromium,
    tshark) write their ~/.pki, ~/.cache, ~/.config there and not in the
    real home of the user running the tests."""
    env = dict(os.environ)
    env["HOME"] = home
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                     ("XDG_DATA_HOME", ".local/share")):
        env[var] = os.path.join(home, sub)
        os.makedirs(env[var], exist_ok=True)
    return env


class Browser:
    """Headless Chromium on one page of the package."""

    def __init__(self, tc, downloads, artifacts, lang="en-US"):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.artifacts = artifacts
        os.makedirs(artifacts, exist_ok=True)
        profile = os.path.join(os.path.dirname(downloads), "chromium-profile")
        os.makedirs(profile, exist_ok=True)
        o = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,900", f"--lang={lang}",
                  f"--user-data-dir={profile}"):
            o.add_argument(a)
        o.add_experimental_option("prefs", {"intl.accept_languages": lang,
                                            "download.default_directory": downloads})
        env = private_home_env(os.path.join(os.path.dirname(downloads), "browser-home"))
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=o)
        tc.addCleanup(self.driver.quit)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": downloads})
        self.downloads = downloads

    def open(self, url):
        self.driver.get(url)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, script, what, timeout=UI_TIMEOUT, *args):
        """Waits until the JavaScript expression script is truthy; returns
        its value.  The failure names what and shows the page's text."""
        try:
            return wait_until(lambda: self.js("return " + script, *args), timeout, interval=0.1,
                              what=what)
        except AssertionError as e:
            raise AssertionError(f"{e}\npage text:\n{self.text()[:3000]}") from None

    def text(self, selector="body"):
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.innerText : null",
                       selector) or ""

    def click(self, selector):
        self.wait("document.querySelector(arguments[0]) !== null", f"{selector} to exist",
                  UI_TIMEOUT, selector)
        self.js("document.querySelector(arguments[0]).click()", selector)

    def fill(self, selector, value):
        self.js("const e = document.querySelector(arguments[0]);"
                "if (e.type === 'checkbox') e.checked = arguments[1]; else e.value = arguments[1];"
                "e.dispatchEvent(new Event('input', {bubbles: true}));", selector, value)

    def go(self, *path):
        """cockpit.location.go(path): the view of an instance."""
        self.js("cockpit.location.go(arguments[0])", list(path))

    def screenshot(self, name):
        path = os.path.join(self.artifacts, f"{name}.png")
        self.driver.save_screenshot(path)
        extra = os.environ.get("TFST_COCKPIT_SCREENSHOTS")
        if extra:
            os.makedirs(extra, exist_ok=True)
            shutil.copy(path, os.path.join(extra, f"{name}.png"))
        return path

    def wait_download(self, name, timeout=UI_TIMEOUT):
        path = os.path.join(self.downloads, name)
        wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, timeout,
                   what=f"the download {name}")
        return path
