# SPDX-License-Identifier: GPL-2.0-or-later
"""The tfst units under a real systemd manager.

A systemd-nspawn container (tfst_nspawn.py) boots Debian bookworm with
systemd as PID 1, journald and a system bus; tfst is installed in it as a
package installs it (/usr/sbin/tfstd, the template units and the
generator below /usr/lib/systemd, the catalog, the sysusers.d file), and
/etc/tfst holds a small tree:

    epproxy@1  [Children] Listen=127.0.0.1:6014       (service, binds itself)
      relay@2  [Parent] Connect=127.0.0.1:6014
               [Children] Listen=127.0.0.1            (socket unit: port rule,
                                                       1918 + 2 * 4096 = 10110)
        gwproxy@3  [Parent] Connect=127.0.0.1:10110   (service)
    gwproxy@9  an invalid configuration
    epproxy@5  [Children] Listen=127.0.0.1:6014       (cannot bind while
                                                       epproxy@1 runs)
    epproxy@7  [Children] Listen=10.233.0.7:6017      (socket unit; the address
                                                       is added later)

The cases: the generator's ListenStream= and socket activation of relay@2 by
gwproxy@3's hop, with systemctl status and the structured journal entries;
reload and stop; `systemctl reload` of a broken configuration failing while
the instance runs on, SIGHUP still reloading; `systemctl service-log-level`
and `service-log-target` through org.freedesktop.LogControl1 on the
instance's BusName=; an invalid configuration failing with 78 and not being
restarted; the installed layout (tfstd in /usr/sbin, Documentation=, man
pages, bus policy, polkit actions, examples); the journal's ERRNO= field and
the process and unit that hold a port (sd-login); a socket unit whose
address is not on the host yet (FreeBind=yes) and an instance that serves
once it is added.

Needs root, systemd-nspawn, debootstrap (tools/deps); skips with the reason
otherwise.  The container boots once per test class; it is powered off and
its cgroups and temp dirs removed whatever happens.  The first run builds
the rootfs cache (about 2 minutes).
"""

import atexit
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tfst_nspawn as nsp  # noqa: E402

EP_PORT = 6014
RELAY_PORT = 1918 + 2 * 4096  # [Ports] Base=1918, Skip = instance 2, no port given
HANDSHAKE_MSGID = "5a7c7c3ee4e94b5c9c7e2f0a1d3b6e02"  # TFST_MSGID_HANDSHAKE, daemon/common/tfst-log.h
WAIT = 20
# Not on the container's interfaces until test_freebind_socket_unit adds it.
FREEBIND_ADDR, FREEBIND_PORT = "10.233.0.7", 6017

CONFIGS = {
    "epproxy@1.conf": f"""[Instance]
Label=ep
[Children]
Listen=127.0.0.1:{EP_PORT}
""",
    "relay@2.conf": f"""[Instance]
Label=relay2
[Parent]
Connect=127.0.0.1:{EP_PORT}
ReconnectMin=200ms
ReconnectMax=1s
[Children]
Listen=127.0.0.1
""",
    "gwproxy@3.conf": f"""[Instance]
Label=gw3
[Parent]
Connect=127.0.0.1:{RELAY_PORT}
ReconnectMin=200ms
ReconnectMax=1s
""",
    # epproxy@1's children port: it cannot bind while epproxy@1 runs.
    "epproxy@5.conf": f"""[Instance]
Label=ep5
[Children]
Listen=127.0.0.1:{EP_PORT}
""",
    # Its address goes on lo only after it started (test_freebind_socket_unit).
    "epproxy@7.conf": f"""[Instance]
Label=ep7
[Children]
Listen={FREEBIND_ADDR}:{FREEBIND_PORT}
""",
    # Line 5: a port that is no port.
    "gwproxy@9.conf": """[Instance]
Label=gw9
[Parent]
ReconnectMin=200ms
Connect=127.0.0.1:notaport
""",
}

RELAY = "tfst-relay@2.service"
RELAY_SOCKET = "tfst-relay@2.socket"
EP = "tfst-epproxy@1.service"
GW = "tfst-gwproxy@3.service"
BAD = "tfst-gwproxy@9.service"
EP_CLASH = "tfst-epproxy@5.service"
EP7 = "tfst-epproxy@7.service"
EP7_SOCKET = "tfst-epproxy@7.socket"


def _log_dir():
    d = os.environ.get("TFST_TEST_LOGDIR")
    if d:
        os.makedirs(d, exist_ok=True)
        return d
    return None


def _exit_77_when_only_this_module_ran():
    """meson counts a test that exits 0 as passed, also when unittest
    skipped all of it: exit 77 (meson's "skipped") instead, but only when
    the command line named nothing but this module's cases (meson runs
    `python3 -m unittest -v test_systemd_manager.Class.case`), so that
    other modules' results in the same run are never masked."""
    names = [a for a in sys.argv[1:] if not a.startswith("-")]
    if names and all(n.split(".")[0] == __name__ for n in names):
        def exit_skipped():
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(77)
        atexit.register(exit_skipped)


class SystemdManagerTest(unittest.TestCase):
    container = None

    @classmethod
    def setUpClass(cls):
        why = nsp.environment_problem()
        if why:
            print(f"SKIP test_systemd_manager: {why}", file=sys.stderr, flush=True)
            _exit_77_when_only_this_module_ran()
            raise unittest.SkipTest(why)
        t0 = time.monotonic()
        cls.tmp = tempfile.mkdtemp(prefix="tfst-systemd-")
        nsp.register_tmpdir(cls.tmp)
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        lock = nsp.ensure_rootfs()
        cls.addClassCleanup(lock.close)
        t_rootfs = time.monotonic()

        dest = os.path.join(cls.tmp, "dest")
        files = nsp.build_and_install(dest)
        binds = [(os.path.join(dest, rel), nsp.container_path(rel)) for rel in files]
        installed = {path for _, path in binds}
        for unit in ("tfst-relay@.service", "tfst-relay@.socket"):
            if f"/usr/lib/systemd/system/{unit}" not in installed:
                raise AssertionError(f"meson install put no {unit} in the system unit "
                                     f"directory; installed: {sorted(installed)}")

        c = nsp.Container(nsp.ROOTFS, binds, cls.tmp)
        cls.addClassCleanup(cls._stop_container, c)
        cls.boot_state = c.start()
        cls.container = c

        # What a package's maintainer scripts do: create the user and
        # rebuild the catalog; then the administrator's configuration and a
        # daemon-reload, which runs the generator.
        c.run("systemd-sysusers")
        c.run("journalctl", "--update-catalog")
        for name, text in CONFIGS.items():
            c.write_file(f"/etc/tfst/{name}", text)
        c.run("systemctl", "daemon-reload")
        sys.stderr.write(f"setUpClass: rootfs {t_rootfs - t0:.1f} s, total "
                         f"{time.monotonic() - t0:.1f} s\n")

    @classmethod
    def _stop_container(cls, c):
        d = _log_dir()
        try:
            if d and c.leader is not None:
                # The container's whole journal, for reading after a failure.
                r = c.run("journalctl", "-b", "--no-pager", "-o", "short-precise",
                          check=False, timeout=30)
                path = os.path.join(d, f"test_systemd_manager-{os.getpid()}.journal.txt")
                with open(path, "w") as f:
                    f.write(r.stdout)
        finally:
            errors = c.stop()
        if errors:
            raise AssertionError("; ".join(errors))

    def setUp(self):
        # Every case starts with no tfst unit running, whichever ran before.
        c = self.container
        c.run("systemctl", "stop", "tfst-*", timeout=60)
        c.run("systemctl", "reset-failed", "tfst-*", check=False)
        self.mark = self.journal_mark()
        self.t0 = time.monotonic()

    def tearDown(self):
        sys.stderr.write(f"{self.id()}: {time.monotonic() - self.t0:.1f} s\n")

    # -- helpers --

    def run_in(self, *argv, check=True, timeout=nsp.CMD_TIMEOUT):
        return self.container.run(*argv, check=check, timeout=timeout)

    def systemctl(self, *args, check=True):
        return self.run_in("systemctl", "--no-pager", *args, check=check, timeout=60)

    def show(self, unit, *props):
        out = self.systemctl("show", unit, "-p", ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def is_active(self, unit):
        return self.systemctl("is-active", unit, check=False).stdout.strip()

    @staticmethod
    def _position(entry):
        """(seqnum id, seqnum, realtime) of a journal entry."""
        c = dict(kv.split("=", 1) for kv in entry["__CURSOR"].split(";"))
        return c["s"], int(c["i"], 16), int(entry["__REALTIME_TIMESTAMP"])

    def journal_mark(self):
        """Where the journal ends now: journal() returns what comes after."""
        out = self.run_in("journalctl", "--no-pager", "-n", "1", "-o", "json").stdout
        lines = [line for line in out.splitlines() if line.startswith("{")]
        return self._position(json.loads(lines[-1])) if lines else None

    def journal(self, unit):
        """The unit's journal entries of this case, as dicts.  Filtered
        here, not with --after-cursor: systemd 252's journalctl combined
        with -u skips entries of one branch of the -u match (PID 1's
        "Starting ..." right after the cursor)."""
        out = self.run_in("journalctl", "--no-pager", "-o", "json", "-u", unit).stdout
        entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if self.mark is None:
            return entries
        seqnum_id, seqnum, realtime = self.mark

        def after(e):
            s, i, t = self._position(e)
            return i > seqnum if s == seqnum_id else t > realtime

        return [e for e in entries if after(e)]

    def journal_text(self, unit):
        return "\n".join(str(e.get("MESSAGE", "")) for e in self.journal(unit))

    def wait_for(self, fn, what, timeout=WAIT):
        """Polls fn() until it returns something true, and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.1)

    def unit_report(self, *units):
        """systemctl status and journal of units, for failure messages."""
        out = []
        for u in units:
            out.append(self.systemctl("status", "-l", u, check=False).stdout)
            out.append(self.run_in("journalctl", "--no-pager", "-o", "short-precise", "-u", u,
                                   "-n", "40", check=False).stdout)
        return "\n".join(out)

    def start_epproxy(self):
        r = self.systemctl("start", EP, check=False)
        self.assertEqual(r.returncode, 0, f"systemctl start {EP}: {r.stderr}\n"
                                          f"{self.unit_report(EP)}")
        self.assertEqual(self.is_active(EP), "active")

    def start_relay_socket(self):
        r = self.systemctl("start", RELAY_SOCKET, check=False)
        self.assertEqual(r.returncode, 0, f"systemctl start {RELAY_SOCKET}: {r.stderr}\n"
                                          f"{self.unit_report(RELAY_SOCKET)}")
        listen = self.show(RELAY_SOCKET, "Listen")["Listen"]
        self.assertEqual(listen, f"127.0.0.1:{RELAY_PORT} (Stream)",
                         "the generator's ListenStream= for relay@2 (port rule 1918 + 2 * 4096)")

    def activate_relay(self):
        """gwproxy@3 connects to the relay's socket, which starts the relay;
        returns once the relay has its parent and its child."""
        r = self.systemctl("start", GW, check=False)
        self.assertEqual(r.returncode, 0, f"systemctl start {GW}: {r.stderr}\n"
                                          f"{self.unit_report(GW)}")
        try:
            self.wait_for(lambda: self.is_active(RELAY) == "active", f"{RELAY} active")
            self.wait_for(lambda: self.show(RELAY, "StatusText")["StatusText"].startswith(
                "1 of 1 child up, parent up (ep)"), f"{RELAY} STATUS= with its hops up")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.unit_report(RELAY, GW, EP)}") from None

    def handshakes(self):
        """The relay's WHO (from ep) and TELL (from gw3) entries."""
        entries = self.journal(RELAY)
        who = [e for e in entries
               if e.get("MESSAGE") == "routingManager: WHO command received [l=ep]"]
        tell = [e for e in entries
                if e.get("MESSAGE") == "routingManager: TELL command received [l=gw3]"]
        return (who, tell) if who and tell else None

    # -- cases --

    def test_socket_activation_starts_service(self):
        """relay@2.socket listens where the generator says; the first hop
        from gwproxy@3 starts relay@2.service, which takes over the socket,
        reports its hops in STATUS= and logs structured handshake entries."""
        self.start_epproxy()
        self.start_relay_socket()
        self.assertEqual(self.is_active(RELAY_SOCKET), "active")
        self.assertEqual(self.is_active(RELAY), "inactive",
                         "the relay started before any connection")

        self.activate_relay()
        props = self.show(RELAY, "MainPID", "ActiveState", "SubState", "TriggeredBy",
                          "NRestarts", "User")
        self.assertEqual((props["ActiveState"], props["SubState"]), ("active", "running"))
        self.assertEqual(props["TriggeredBy"], RELAY_SOCKET)
        self.assertEqual(props["NRestarts"], "0")
        self.assertEqual(props["User"], "tfst")
        pid = props["MainPID"]

        status = self.systemctl("status", RELAY).stdout
        self.assertRegex(status, r"Active: active \(running\)")
        self.assertRegex(status, r'Status: "1 of 1 child up, parent up \(ep\), \d+ sessions; '
                                 r'listening on port 10110"')
        self.assertIn(f"TriggeredBy: ● {RELAY_SOCKET}", status)
        sys.stderr.write(status)

        # The activated relay listens on the socket systemd handed over
        # (fd matched by address), as user tfst: ss shows the listener held
        # by both systemd and tfstd.
        ss = self.run_in("ss", "-Hltnp", f"sport = :{RELAY_PORT}").stdout
        self.assertIn(f"pid={pid},", ss, f"tfstd does not hold the activation socket:\n{ss}")
        self.assertIn('"systemd",pid=1,', ss)
        uid = self.run_in("stat", "-c", "%U", f"/proc/{pid}").stdout.strip()
        self.assertEqual(uid, "tfst")

        who, tell = self.wait_for(self.handshakes, "the relay's WHO and TELL journal entries")
        for e, peer in ((who[0], "ep"), (tell[0], "gw3")):
            self.assertEqual(e.get("TFST_ROLE"), "relay", e)
            self.assertEqual(e.get("TFST_INSTANCE"), "2", e)
            self.assertEqual(e.get("TFST_LABEL"), "relay2", e)
            self.assertEqual(e.get("TFST_PEER_LABEL"), peer, e)
            self.assertEqual(e.get("MESSAGE_ID"), HANDSHAKE_MSGID, e)
            self.assertEqual(e.get("SYSLOG_IDENTIFIER"), "tfstd", e)
            self.assertEqual(e.get("_SYSTEMD_UNIT"), RELAY, e)
            self.assertEqual(e.get("_PID"), pid, e)
        # The other ends of the hops: ep heard the relay's TELL, gw3 the
        # relay's WHO.
        self.assertIn("routingManager: TELL command received [l=relay2]", self.journal_text(EP))
        self.assertIn("routingManager: WHO command received [l=relay2]", self.journal_text(GW))

        # tfstctl status ends with the relay's journal, as networkctl
        # status does: tfstd's own lines and systemd's about the unit.
        text = self.run_in("tfstctl", "status", "-i", "relay@2", "-n", "200").stdout
        self.assertRegex(text, rf"(?m)^\w{{3}} \d\d \d\d:\d\d:\d\d \S+ tfstd\[{pid}\]: ",
                         text)
        self.assertRegex(text, r"(?m) systemd\[1\]: Started ", text)
        self.assertNotRegex(self.run_in("tfstctl", "status", "-i", "relay@2", "-n", "0").stdout,
                            r"tfstd\[\d+\]: ")
        # tfstctl collect takes the same journal into the archive.
        self.run_in("tfstctl", "collect", "-o", "/tmp/support.tar.gz")
        journal = self.run_in("tar", "-xzOf", "/tmp/support.tar.gz",
                              "support/instances/relay@2/journal.txt").stdout
        self.assertIn("routingManager: ", journal)
        status = json.loads(self.run_in("tar", "-xzOf", "/tmp/support.tar.gz",
                                        "support/instances/relay@2/status.json").stdout)
        self.assertEqual(status["instance"], "relay@2")

        # The installed catalog explains the handshake entries.
        cat = self.run_in("journalctl", "--no-pager", "-x", "-o", "short",
                          "MESSAGE_ID=" + HANDSHAKE_MSGID, "_SYSTEMD_UNIT=" + RELAY).stdout
        self.assertRegex(cat, r"\n░░ ", f"no catalog text for {HANDSHAKE_MSGID}:\n{cat}")

    def test_reload_and_stop(self):
        """systemctl reload (ExecReload=tfstctl reload) keeps the same
        process and logs the reload; stopping the service and the socket together stops it
        cleanly and nothing activates it again."""
        self.start_epproxy()
        self.start_relay_socket()
        self.activate_relay()
        pid = self.show(RELAY, "MainPID")["MainPID"]
        self.assertNotEqual(pid, "0")

        # Reload and stop are checked separately: a failed reload leaves the
        # service running, and the stop is still worth checking.
        with self.subTest("reload"):
            r = self.systemctl("reload", RELAY, check=False)
            self.assertEqual(r.returncode, 0, f"systemctl reload: {r.stderr}\n"
                                              f"{self.unit_report(RELAY)}")
            self.wait_for(lambda: "configuration reloaded" in self.journal_text(RELAY),
                          "'configuration reloaded' in the relay's journal")
            props = self.show(RELAY, "MainPID", "ActiveState", "NRestarts")
            self.assertEqual(props, {"MainPID": pid, "ActiveState": "active", "NRestarts": "0"},
                             self.unit_report(RELAY))

        with self.subTest("stop"):
            r = self.systemctl("stop", RELAY, RELAY_SOCKET, check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(self.is_active(RELAY), "inactive")
            self.assertEqual(self.is_active(RELAY_SOCKET), "inactive")
            props = self.show(RELAY, "Result", "ExecMainStatus")
            self.assertEqual(props, {"Result": "success", "ExecMainStatus": "0"},
                             self.unit_report(RELAY))
            self.wait_for(lambda: re.search(r"^stopped$", self.journal_text(RELAY), re.M),
                          "'stopped' in the relay's journal")
            # gwproxy@3 keeps reconnecting, but with the socket stopped
            # nothing listens and nothing starts the relay.
            time.sleep(1.5)
            self.assertEqual(self.is_active(RELAY), "inactive")
            self.assertEqual(self.is_active(GW), "active")

    def restore_config(self, name):
        """Puts CONFIGS[name] back at the end of the case."""
        self.addCleanup(self.container.write_file, f"/etc/tfst/{name}", CONFIGS[name])

    def test_reload_refused(self):
        """systemctl reload of a broken configuration fails: tfstctl reload
        (ExecReload=) gets the refusal from Reload() and exits non-zero; the
        message names file, line and key in the journal, and the instance
        runs on, same process, old configuration.  Fixed, the reload
        succeeds; SIGHUP (systemctl kill -s HUP) still reloads."""
        self.restore_config("epproxy@1.conf")
        self.start_epproxy()
        pid = self.show(EP, "MainPID")["MainPID"]
        self.container.write_file("/etc/tfst/epproxy@1.conf",
                                  CONFIGS["epproxy@1.conf"] + "Lisen=1\n")
        r = self.systemctl("reload", EP, check=False)
        self.assertNotEqual(r.returncode, 0, f"systemctl reload of a broken configuration "
                                             f"succeeded\n{self.unit_report(EP)}")
        where = "/etc/tfst/epproxy@1.conf:5: [Children] Lisen="
        try:
            self.wait_for(lambda: f"reload refused, keeping the running configuration: {where}"
                          in self.journal_text(EP), "the refusal in the journal")
            # tfstctl's own words, from ExecReload=.
            self.wait_for(lambda: re.search(r"^tfstctl: .*" + re.escape(where),
                                            self.journal_text(EP), re.M),
                          "tfstctl's message in the journal")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.unit_report(EP)}") from None
        props = self.show(EP, "MainPID", "ActiveState", "SubState", "NRestarts")
        self.assertEqual(props, {"MainPID": pid, "ActiveState": "active", "SubState": "running",
                                 "NRestarts": "0"}, self.unit_report(EP))

        self.container.write_file("/etc/tfst/epproxy@1.conf", CONFIGS["epproxy@1.conf"])
        reloaded = self.journal_text(EP).count("configuration reloaded")
        r = self.systemctl("reload", EP, check=False)
        self.assertEqual(r.returncode, 0, f"systemctl reload: {r.stderr}\n{self.unit_report(EP)}")
        self.wait_for(lambda: self.journal_text(EP).count("configuration reloaded") > reloaded,
                      "'configuration reloaded' after the fixed reload")
        reloaded += 1
        self.systemctl("kill", "-s", "HUP", "--kill-who=main", EP)
        self.wait_for(lambda: self.journal_text(EP).count("configuration reloaded") > reloaded,
                      "'configuration reloaded' after SIGHUP")
        self.assertEqual(self.show(EP, "MainPID", "ActiveState"),
                         {"MainPID": pid, "ActiveState": "active"})

    def test_service_log_level(self):
        """systemctl service-log-level and service-log-target work: the
        generator's BusName= leads systemctl to org.freedesktop.LogControl1
        on the instance's name.  tfstctl log-level reads the same level,
        and its 0-3 alias sets it."""
        self.start_epproxy()
        deps = self.show(EP, "BusName", "Type", "Requires", "BindsTo", "After")
        self.assertEqual(deps["BusName"], "org.tfst.Tfst1.epproxy_1")
        # BusName= only says where to look: still Type=notify, and the bus
        # is no dependency of forwarding (ordering only).
        self.assertEqual(deps["Type"], "notify")
        for key in ("Requires", "BindsTo"):
            self.assertNotIn("dbus", deps[key], f"{key}={deps[key]}")
        sys.stderr.write(f"{EP}: After={deps['After']}\n")

        def level():
            return self.systemctl("service-log-level", EP).stdout.strip()

        self.assertEqual(level(), "notice")
        r = self.systemctl("service-log-level", EP, "debug", check=False)
        self.assertEqual(r.returncode, 0, f"{r.stderr}\n{self.unit_report(EP)}")
        self.assertEqual(level(), "debug")
        self.wait_for(lambda: "log level now debug (3) (LogControl1)" in self.journal_text(EP),
                      "the change in the journal")
        self.assertEqual(self.run_in("tfstctl", "log-level", "-i", "epproxy@1").stdout, "debug\n")
        self.run_in("tfstctl", "log-level", "2", "-i", "epproxy@1")
        self.assertEqual(level(), "info")
        r = self.systemctl("service-log-level", EP, "loud", check=False)
        self.assertNotEqual(r.returncode, 0, "an unknown level was accepted")
        self.assertEqual(level(), "info")

        self.assertEqual(self.systemctl("service-log-target", EP).stdout.strip(), "auto")
        self.systemctl("service-log-target", EP, "journal")
        self.assertEqual(self.systemctl("service-log-target", EP).stdout.strip(), "journal")
        # The entries still come from the instance, with its fields.
        self.systemctl("service-log-level", EP, "notice")
        entries = self.wait_for(
            lambda: [e for e in self.journal(EP)
                     if e.get("MESSAGE") == "log level now notice (1) (LogControl1)"],
            "the journal entry of the last change")
        self.assertEqual(entries[-1].get("SYSLOG_IDENTIFIER"), "tfstd")
        self.assertEqual(entries[-1].get("TFST_INSTANCE"), "1")

    def test_invalid_config_exit_78(self):
        """An invalid configuration: the start fails, the main process
        exited with 78 (EX_CONFIG) naming file, line and key, and systemd
        does not restart it."""
        r = self.systemctl("start", BAD, check=False)
        self.assertNotEqual(r.returncode, 0, f"systemctl start {BAD} succeeded")
        props = self.show(BAD, "ExecMainStatus", "Result", "StatusText")
        self.assertEqual(props["ExecMainStatus"], "78", self.unit_report(BAD))
        self.assertEqual(props["Result"], "exit-code")
        # systemctl status says why, from the STATUS= sent before exiting.
        self.assertTrue(props["StatusText"].startswith(
            "invalid configuration: /etc/tfst/gwproxy@9.conf:5: [Parent] Connect="),
            props["StatusText"])
        text = self.journal_text(BAD)
        self.assertIn("/etc/tfst/gwproxy@9.conf:5: [Parent] Connect=", text,
                      self.unit_report(BAD))
        # RestartSec=2s: well past it, still failed and never restarted.
        time.sleep(3)
        props = self.show(BAD, "ActiveState", "SubState", "NRestarts", "ExecMainStatus")
        self.assertEqual(props, {"ActiveState": "failed", "SubState": "failed", "NRestarts": "0",
                                 "ExecMainStatus": "78"}, self.unit_report(BAD))
        starts = [e for e in self.journal(BAD) if re.match(r"Start(ing|ed) ", str(e.get(
            "MESSAGE", "")))]
        self.assertEqual(len(starts), 1, self.unit_report(BAD))

    def test_installed_layout(self):
        """As a package installs it: tfstd on root's PATH in /usr/sbin, its
        --help naming /etc/tfst; every unit's Documentation= names installed
        man pages; the bus policy and the polkit actions where dbus-daemon
        and polkitd read them; the example configurations in the doc dir."""
        self.assertEqual(self.run_in("sh", "-c", "command -v tfstd").stdout.strip(),
                         "/usr/sbin/tfstd")
        self.assertIn("/etc/tfst/ROLE@INSTANCE.conf", self.run_in("tfstd", "--help").stdout)
        docs = {u: self.show(u, "Documentation")["Documentation"].replace('"', "").split()
                for u in (RELAY, RELAY_SOCKET)}
        self.assertIn("man:tfstd(8)", docs[RELAY])
        self.assertIn("man:tfst-generator(8)", docs[RELAY_SOCKET])
        for page in set(docs[RELAY] + docs[RELAY_SOCKET]):
            name, sect = re.fullmatch(r"man:([\w.-]+)\((\d)\)", page).groups()
            self.run_in("test", "-f", f"/usr/share/man/man{sect}/{name}.{sect}")
        for f in ("/usr/share/dbus-1/system.d/org.tfst.Tfst1.conf",
                  "/usr/share/polkit-1/actions/org.tfst.Tfst1.policy",
                  "/usr/share/doc/tfst/examples/relay@dmz.conf"):
            self.run_in("test", "-f", f)

    def test_journal_errno_and_port_owner(self):
        """A refused hop carries the journal's standard ERRNO= field; an
        instance that cannot bind its port names the process holding it,
        and tfstd run by root names that process's unit too, as sd-login
        knows it."""
        # gwproxy@3's parent is relay@2's socket, which is not started.
        self.systemctl("start", GW)

        def refused():
            return [e for e in self.journal(GW) if e.get("ERRNO") == "111"]

        e = self.wait_for(refused, f"an entry of {GW} with ERRNO=111")[0]
        self.assertNotIn("TFST_ERRNO", e)
        self.assertEqual(e.get("TFST_ROLE"), "gwproxy", e)

        self.start_epproxy()
        held = re.compile(rf"port {EP_PORT} is held by pid \d+ \(tfstd\)"
                          r"(?: of unit ([\w@.:-]+\.service))?")
        r = self.systemctl("start", EP_CLASH, check=False)
        self.assertNotEqual(r.returncode, 0, f"{EP_CLASH} started on a port {EP} holds")
        try:
            # Under the unit, ProtectProc=invisible hides PID 1's /proc
            # entry, which sd-login needs to name a unit: the process only.
            self.wait_for(lambda: held.search(self.journal_text(EP_CLASH)),
                          f"the bind diagnosis of {EP_CLASH}")
        finally:
            self.systemctl("stop", EP_CLASH, check=False)
        # Root, outside the unit's sandbox: the unit as well.
        r = self.run_in("/usr/sbin/tfstd", "--role=epproxy", "--instance=5", check=False,
                        timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        m = held.search(r.stderr)
        self.assertIsNotNone(m, r.stderr)
        self.assertEqual(m.group(1), EP, r.stderr)

    def connects(self, addr, port):
        r = self.run_in("timeout", "5", "bash", "-c", f"exec 3<>/dev/tcp/{addr}/{port}",
                        check=False)
        return r.returncode == 0

    def test_freebind_socket_unit(self):
        """An address that is not on the host at boot (DHCP, VRRP): the
        socket unit still listens (FreeBind=yes), the service starts and
        notes the address once, and a client gets through as soon as the
        address is added, without a restart."""
        self.run_in("ip", "addr", "del", f"{FREEBIND_ADDR}/32", "dev", "lo", check=False)
        r = self.systemctl("start", EP7_SOCKET, check=False)
        self.assertEqual(r.returncode, 0, f"systemctl start {EP7_SOCKET}: {r.stderr}\n"
                                          f"{self.unit_report(EP7_SOCKET)}")
        self.assertEqual(self.show(EP7_SOCKET, "Listen", "FreeBind"),
                         {"Listen": f"{FREEBIND_ADDR}:{FREEBIND_PORT} (Stream)",
                          "FreeBind": "yes"})
        r = self.systemctl("start", EP7, check=False)
        self.assertEqual(r.returncode, 0, f"systemctl start {EP7}: {r.stderr}\n"
                                          f"{self.unit_report(EP7)}")
        pid = self.show(EP7, "MainPID")["MainPID"]
        note = f"[Children] Listen=: {FREEBIND_ADDR} is not an address of this host (yet)"
        self.wait_for(lambda: note in self.journal_text(EP7), "the note on the missing address")
        self.assertFalse(self.connects(FREEBIND_ADDR, FREEBIND_PORT),
                         "connected to an address the host does not have")

        self.run_in("ip", "addr", "add", f"{FREEBIND_ADDR}/32", "dev", "lo")
        self.addCleanup(self.run_in, "ip", "addr", "del", f"{FREEBIND_ADDR}/32", "dev", "lo",
                        check=False)
        self.wait_for(lambda: self.connects(FREEBIND_ADDR, FREEBIND_PORT),
                      f"a connection to {FREEBIND_ADDR}:{FREEBIND_PORT}")
        props = self.show(EP7, "MainPID", "ActiveState", "NRestarts")
        self.assertEqual(props, {"MainPID": pid, "ActiveState": "active", "NRestarts": "0"},
                         self.unit_report(EP7))
        self.assertEqual(self.journal_text(EP7).count(note), 1, self.unit_report(EP7))


if __name__ == "__main__":
    unittest.main()
