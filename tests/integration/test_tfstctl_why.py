# SPDX-License-Identifier: GPL-2.0-or-later
"""Why is it down: a gateway proxy under an endpoint proxy on a private
system bus.  STATUS= counts the hops up and says why the parent is down;
`tfstctl monitor` streams hop changes, text and JSON lines, as they
happen; `tfstctl reload --signal-fallback` signals an instance that is
not on the bus; a peer that connects to the children's port and breaks the
handshake is listed as refused with its error (Hops, `tfstctl status`)
and STATUS= does not count it as a child; `tfstctl dataflow --watch`
prints one line per interval."""

import json
import os
import queue
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import unittest

from tfst_testlib import (BUILDDIR, CONVERGE_TIMEOUT, TfstTestCase, Topology, connect, wait_closed,
                          wait_until)
from tfst_testlib.privbus import start_private_bus
from tfst_testlib.wire import hello

TFSTCTL = os.environ.get("TFSTCTL") or os.path.join(BUILDDIR, "tfstctl", "tfstctl")

DBUS_DAEMON = shutil.which("dbus-daemon")
WAIT = CONVERGE_TIMEOUT
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"


class Monitor:
    """A running `tfstctl monitor`, its stdout lines in a queue."""

    def __init__(self, tc, *args):
        self.p = subprocess.Popen([TFSTCTL, "monitor"] + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                  env=tc.env)
        self.lines = queue.Queue()
        self.errors = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, args=(self.p.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, self._stderr),
                         daemon=True).start()
        tc.addCleanup(self.stop)
        # The notice comes once the subscription is in place.
        wait_until(self.ready.is_set, WAIT, what="tfstctl monitor subscribed")

    def _read(self, stream, put):
        for line in stream:
            put(line.rstrip("\n"))

    def _stderr(self, line):
        self.errors.append(line)
        if line.startswith("Monitoring"):
            self.ready.set()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        self.p.wait(10)

    def wait_line(self, pred, what):
        """The first line for which pred(line) is true; others are skipped."""
        seen = []
        deadline = WAIT
        while True:
            try:
                line = self.lines.get(timeout=deadline)
            except queue.Empty:
                raise AssertionError(f"tfstctl monitor: no line with {what}; saw {seen}; exit "
                                     f"status {self.p.poll()}, stderr {self.errors}") from None
            seen.append(line)
            if pred(line):
                return line


@unittest.skipIf(DBUS_DAEMON is None, "dbus-daemon not installed")
class WhyTest(TfstTestCase):

    def setUp(self):
        super().setUp()
        self.address = start_private_bus(self)
        self.daemon_env["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, LANG="C.UTF-8",
                        LC_ALL="C.UTF-8")
        self.env.pop("LANGUAGE", None)
        self.top = Topology(self)
        self.top.add("epproxy", "ep")
        self.top.add("gwproxy", "gw1", parent="ep")
        self.top.create()
        self.top.start()
        self.ep, self.gw = self.top.d("ep"), self.top.d("gw1")

    def tfstctl(self, *args, instance="gwproxy@gw1"):
        r = subprocess.run([TFSTCTL, "-i", instance] + list(args), capture_output=True,
                           text=True, env=self.env, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, f"tfstctl {args}: {r.stderr}")
        return r.stdout

    def test_status_line_and_monitor_parent_down(self):
        self.gw.wait_status(r"^parent up \(ep\), \d+ sessions")
        self.ep.wait_status(r"^1 of 1 child up, \d+ sessions")
        text = Monitor(self, "-i", "gwproxy@gw1")
        js = Monitor(self, "--json", "-i", "gwproxy@*")
        self.ep.stop()
        # The parent hop goes down and the gateway proxy keeps trying: the
        # reason is the refused connection (or the lost hop, first).
        self.gw.wait_status(r"^parent down \((connection refused|.*)\), degraded, 0 sessions")
        self.gw.wait_status(r"^parent down \(.*connection refused.*\), degraded")
        line = text.wait_line(lambda l: " hop to parent " in l and " up" not in l, "parent down")
        self.assertRegex(line, rf"^{STAMP} gwproxy@gw1: hop to parent ep \(127\.0\.0\.1:\d+\) "
                               r"(down|waiting|connecting|handshake)")
        # The Hops the monitor started from may still have been the one
        # before the parent came up (PropertiesChanged trails by up to a
        # quarter of a second): an "up" event may come first.
        event = json.loads(js.wait_line(
            lambda l: json.loads(l)["event"] == "hop_changed"
            and json.loads(l)["data"]["state"] != "up", "a hop_changed event, not up"))
        # the keys tfstctl(1) documents in JSON OUTPUT for monitor
        self.assertEqual(sorted(event), ["data", "event", "instance", "time_us"])
        for key in event["data"]:
            self.assertRegex(key, r"^[a-z][a-z0-9_]*$")
        self.assertEqual(event["instance"], "gwproxy@gw1")
        self.assertGreater(event["time_us"], 0)
        self.assertEqual(event["data"]["direction"], "parent")
        self.assertNotEqual(event["data"]["state"], "up")
        self.assertIn("last_error", event["data"])
        # It comes back: a line for that too, and the handshake signal.
        self.ep.start()
        # HandshakeCompleted comes at once, the Hops change up to a quarter
        # of a second later: in either order.
        want = {"up": r"hop to parent ep \(.*\) up$", "signal": r"handshake with ep completed$"}
        while want:
            line = text.wait_line(lambda l: any(re.search(r, l) for r in want.values()),
                                  f"lines for {sorted(want)}")
            want = {k: r for k, r in want.items() if not re.search(r, line)}
        self.gw.wait_status(r"^parent up \(ep\)")

    def send_bad_hello(self, label):
        """A HELLO claiming `label` followed by garbage, to ep's children
        port: the hop is refused before its handshake completes."""
        s = connect(("127.0.0.1", self.top.node("ep").children_port))
        try:
            s.sendall(hello(label) + b"\x00" * 64)
            wait_closed(s, 10)
        except OSError:
            pass
        finally:
            s.close()

    def wait_refused(self):
        """ep's Hops in the refused state, once there are any."""
        def refused():
            hops = json.loads(self.tfstctl("status", "--json", instance="epproxy@ep"))["hops"]
            return [h for h in hops if h["state"] == "refused"]
        return wait_until(refused, WAIT, what="ep Hops with the refused peer")

    def test_refused_child_is_listed_with_its_error(self):
        self.ep.wait_status(r"^1 of 1 child up, ")
        mon = Monitor(self, "--json", "-i", "epproxy@ep")
        self.send_bad_hello(b"evil")
        hops = self.wait_refused()
        self.assertEqual(len(hops), 1, hops)
        h = hops[0]
        self.assertEqual((h["direction"], h["address"], h["connect"]), ("child", "127.0.0.1", False))
        self.assertGreaterEqual(h["attempts"], 1)
        self.assertRegex(h["last_error"], r"^E[A-Z]+: ")
        self.assertGreater(h["since_us"], 0)
        event = json.loads(mon.wait_line(
            lambda l: json.loads(l)["event"] == "hop_changed"
            and json.loads(l)["data"]["state"] == "refused", "the refused peer"))
        self.assertEqual(event["data"]["address"], "127.0.0.1")
        text = self.tfstctl("status", "-n", "0", instance="epproxy@ep")
        self.assertRegex(text, r"(?m)^Children refused during the handshake:\n"
                               r"LABEL\s+ADDRESS\s+LAST\s+ATTEMPTS\s+LAST ERROR\n"
                               r"\S+\s+127\.0\.0\.1\s+.*\s\d+\s+E[A-Z]+: ")
        # Not a child that is down: STATUS= still counts one child, up.
        self.assertRegex(self.ep.status(), r"^1 of 1 child up, ")

    def test_unauthenticated_label_leaves_known_child_alone(self):
        """Without TLS the label in HELLO is only a claim: a peer that
        breaks the handshake under a known child's label is listed as
        refused, and the child's own record keeps why it went down."""
        self.ep.wait_status(r"^1 of 1 child up, ")

        def gw1():
            hops = json.loads(self.tfstctl("status", "--json", instance="epproxy@ep"))["hops"]
            return [h for h in hops if h["label"] == "gw1" and h["state"] != "refused"]
        self.gw.stop()
        down = wait_until(lambda: [h for h in gw1() if h["state"] == "down"], WAIT,
                          what="gw1 down at ep")[0]
        self.send_bad_hello(b"gw1")
        self.wait_refused()
        self.assertEqual(gw1(), [down])

    def test_stop_with_unfinished_hops_is_clean(self):
        """Stopping while hops are in their handshake (accepted ones at the
        endpoint proxy, the gateway proxy's hop to a parent that is gone)
        exits 0 without a sanitizer report (run with an ASan tfstd): the
        hops the shutdown closes are not accounted as refused peers."""
        self.ep.wait_status(r"^1 of 1 child up, ")
        port = self.top.node("ep").children_port
        socks = [connect(("127.0.0.1", port)) for _ in range(3)]
        self.addCleanup(lambda: [s.close() for s in socks])
        # Accepted in order: the answer to the last one's HELLO (WHO) means
        # the endpoint proxy holds all three, unfinished.
        socks[-1].sendall(hello(b"gw1"))
        socks[-1].settimeout(WAIT)
        self.assertTrue(socks[-1].recv(64), "no answer to HELLO")
        self.ep.stop()
        self.gw.wait_status(r"^parent down")
        self.gw.stop()

    def reload(self, *args, env=None):
        return subprocess.run([TFSTCTL, "reload"] + list(args), capture_output=True, text=True,
                              env=dict(self.env, **(env or {})), timeout=60,
                              stdin=subprocess.DEVNULL)

    def test_reload_signal_fallback(self):
        """`tfstctl reload --signal-fallback` (the units' ExecReload=): an
        instance that is not on the bus gets SIGHUP at $MAINPID and tfstctl
        exits 0, saying so; one on the bus still answers, and a refused
        configuration is still exit status 1."""
        self.ep.wait_status(r"^1 of 1 child up, ")
        mainpid = {"MAINPID": str(self.ep.pid)}
        done = r"configuration reloaded|reload refused"
        no_bus = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + os.path.join(self.workdir, "nobus")}
        for args, env in ((["-i", "epproxy@ep"], no_bus),
                          (["-i", "epproxy@gone"], {})):  # a bus without the name
            with self.subTest(args=args, bus=bool(env)):
                seen = self.ep.count_log(done)
                r = self.reload("--signal-fallback", *args, env=dict(env, **mainpid))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertRegex(r.stderr, rf"sent SIGHUP to process {self.ep.pid} instead")
                self.ep.wait_log(r"configuration reloaded", after=seen)
                # Without the option, or without $MAINPID: a failure.
                self.assertNotEqual(self.reload(*args, env=dict(env, **mainpid)).returncode, 0)
                self.assertNotEqual(self.reload("--signal-fallback", *args, env=env).returncode,
                                    0)
        self.assertEqual(self.ep.count_log(done), seen + 1, "only the fallback signalled")
        with open(self.ep.config_path, "w") as f:
            f.write(self.ep.config_text + "\n[Children]\nLisen=1\n")
        r = self.reload("--signal-fallback", "-i", "epproxy@ep", env=mainpid)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Lisen", r.stderr)
        self.assertNotIn("SIGHUP", r.stderr)
        with open(self.ep.config_path, "w") as f:
            f.write(self.ep.config_text)

    def test_dataflow_watch(self):
        self.gw.wait_status(r"^parent up \(ep\)")
        out = self.tfstctl("dataflow", "--watch", "--count", "2", "--interval", "1", "--json",
                           "instance")
        lines = [json.loads(l) for l in out.splitlines()]
        self.assertEqual(len(lines), 2, out)
        for l in lines:
            self.assertEqual((l["instance"], l["target"], l["interval_us"]),
                             ("gwproxy@gw1", "", 1000000))
            self.assertGreaterEqual(l["sent_bytes"], 0)
        self.assertLess(lines[0]["time_us"], lines[1]["time_us"])
        out = self.tfstctl("dataflow", "--watch", "--count", "1", "--interval", "1", "instance")
        self.assertRegex(out, r"^Data flow of the whole instance, every 1 second:\n"
                              r"\d\d:\d\d:\d\d  sent .* \(.*\), received ")

    def test_collect_leaves_out_key_material(self):
        """The archive has the configuration, each instance's state as
        JSON, the kernel values and a manifest, and no key material: the
        PSK file and a private key next to the configuration are named in
        the manifest only, a line with a secret in a .conf is removed."""
        self.gw.wait_status(r"^parent up \(ep\)")
        psk_hex = "00112233445566778899aabbccddeeff"
        conf = os.path.join(self.workdir, "etc")
        os.makedirs(os.path.join(conf, "relay@9.conf.d"))
        with open(os.path.join(conf, "relay@9.conf"), "w") as f:
            f.write(f"[Parent]\nTLS=yes\nPSKFile={conf}/relay.psk\n")
        with open(os.path.join(conf, "relay@9.conf.d", "10-mistake.conf"), "w") as f:
            f.write(f"[Parent]\nPSK={psk_hex}\nHandshakeTimeout=3s\n")
        with open(os.path.join(conf, "relay.psk"), "w") as f:
            f.write(f"ep:{psk_hex}\n")
        with open(os.path.join(conf, "relay.key"), "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n")
        out = os.path.join(self.workdir, "support.tar.gz")
        r = subprocess.run([TFSTCTL, "collect", "-o", out, "--config-dir", conf, "--state-dir",
                            os.path.join(self.workdir, "state")], capture_output=True, text=True,
                           env=self.env, timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        unpacked = os.path.join(self.workdir, "unpacked")
        os.mkdir(unpacked)
        subprocess.run(["tar", "-xzf", out, "-C", unpacked], check=True, timeout=60)
        top = os.path.join(unpacked, "support")
        files = {}
        for d, _, names in os.walk(top):
            for n in names:
                with open(os.path.join(d, n), "rb") as f:
                    files[os.path.relpath(os.path.join(d, n), top)] = f.read()
        for name, data in files.items():
            self.assertNotIn(psk_hex.encode(), data, name)
            self.assertNotIn(b"PRIVATE KEY-----", data, name)
        self.assertIn("config/etc/relay@9.conf", files)
        self.assertIn(b"HandshakeTimeout=3s", files["config/etc/relay@9.conf.d/10-mistake.conf"])
        self.assertNotIn("config/etc/relay.psk", files)
        # which files tfstd reads, in order (tfst_config_files)
        self.assertEqual(files["instances/relay@9/config-files.txt"].decode(),
                         f"main {conf}/relay@9.conf\n"
                         f"drop-in {conf}/relay@9.conf.d/10-mistake.conf\n")
        self.assertNotIn("config/etc/relay.key", files)
        manifest = files["MANIFEST.txt"].decode()
        self.assertRegex(manifest, r"(?m)^config/etc/relay\.psk: left out")
        self.assertRegex(manifest, r"(?m)^config/etc/relay\.key: left out")
        self.assertRegex(files["version.txt"].decode(), r"^tfstctl \S+ \(build level")
        self.assertIn(b"net.ipv4.ip_local_port_range", files["kernel/sysctl.txt"])
        for inst in ("gwproxy@gw1", "epproxy@ep"):
            status = json.loads(files[f"instances/{inst}/status.json"])
            self.assertEqual(status["instance"], inst)
            for name in ("chain", "sessions", "stats", "keepalive", "events"):
                self.assertIn(f"instances/{inst}/{name}.json", files, sorted(files))
                json.loads(files[f"instances/{inst}/{name}.json"])
        gw = json.loads(files["instances/gwproxy@gw1/status.json"])
        self.assertEqual([h["state"] for h in gw["hops"] if h["direction"] == "parent"], ["up"])

    def test_monitor_bad_instance_exits_2(self):
        r = subprocess.run([TFSTCTL, "monitor", "-i", "nonsense"], capture_output=True,
                           text=True, env=self.env, timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)


@unittest.skipIf(DBUS_DAEMON is None, "dbus-daemon not installed")
class TlsWhyTest(TfstTestCase):
    """A gateway proxy whose PSK the endpoint proxy does not accept: the
    endpoint proxy lists it as refused with the PSK refusal, the gateway
    proxy's parent hop carries the TLS alert, and so does its STATUS=."""

    def psk_file(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def test_tls_refusal_says_why_on_both_sides(self):
        address = start_private_bus(self)
        self.daemon_env["DBUS_SYSTEM_BUS_ADDRESS"] = address
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        env.pop("LANGUAGE", None)
        good = self.psk_file("psk", "ep:00112233445566778899aabbccddeeff\n"
                                    "gw1:ffeeddccbbaa99887766554433221100\n")
        bad = self.psk_file("psk-bad", "ep:00112233445566778899aabbccddeeff\n"
                                       "gw1:11111111111111111111111111111111\n")
        top = Topology(self)
        top.add("epproxy", "ep", extra=f"[Children]\nTLS=yes\nPSKFile={good}\n")
        top.add("gwproxy", "gw1", parent="ep", extra=f"[Parent]\nTLS=yes\nPSKFile={bad}\n")
        top.create()
        top.start()

        def hops(instance):
            r = subprocess.run([TFSTCTL, "-i", instance, "status", "--json", "-n", "0"],
                               capture_output=True, text=True, env=env, timeout=60,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout)["hops"]
        refused = wait_until(lambda: [h for h in hops("epproxy@ep") if h["state"] == "refused"
                                      and h["last_error"]], WAIT, what="ep: gw1 refused")
        self.assertRegex(refused[0]["last_error"], r"PSK refused")
        self.assertEqual((refused[0]["direction"], refused[0]["address"]), ("child", "127.0.0.1"))
        parent = wait_until(lambda: [h for h in hops("gwproxy@gw1") if h["direction"] == "parent"
                                     and "TLS alert" in h["last_error"]], WAIT,
                            what="gw1: the TLS alert as the parent's last error")
        self.assertNotEqual(parent[0]["state"], "up")
        self.assertRegex(parent[0]["last_error"], r"^E[A-Z]+: TLS alert from the peer: .*PSK")
        top.d("gw1").wait_status(r"^parent down \(TLS alert from the peer: .*\), degraded")
        # No child ever got through: nothing to count as down.
        self.assertRegex(top.d("ep").status(), r"^no children, ")


class CollectAloneTest(unittest.TestCase):
    """tfstctl collect without a bus: where the archive goes, who may read
    it, and what of the configuration it leaves out."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tfst-collect-test-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.conf = os.path.join(self.tmp, "etc")
        self.state = os.path.join(self.tmp, "state")
        os.makedirs(os.path.join(self.conf, "relay@9.conf.d"))
        os.makedirs(self.state)
        self.env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8",
                        DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + os.path.join(self.tmp, "no-bus"))
        self.env.pop("LANGUAGE", None)

    def collect(self, output, cwd=None):
        return subprocess.run([TFSTCTL, "collect", "-o", output, "--config-dir", self.conf,
                               "--state-dir", self.state], capture_output=True, text=True,
                              env=self.env, timeout=120, stdin=subprocess.DEVNULL,
                              cwd=cwd or self.tmp, preexec_fn=lambda: os.umask(0o022))

    def unpack(self, archive):
        unpacked = tempfile.mkdtemp(dir=self.tmp)
        subprocess.run(["tar", "-xzf", archive, "-C", unpacked], check=True, timeout=60)
        files = {}
        for d, _, names in os.walk(unpacked):
            for n in names:
                with open(os.path.join(d, n), "rb") as f:
                    files[os.path.relpath(os.path.join(d, n), unpacked)] = f.read()
        return files

    def test_archive_is_private_and_local(self):
        """0600 whatever the umask; a name with a colon is a local file,
        not a remote archive."""
        r = self.collect("host:support.tar.gz")
        self.assertEqual(r.returncode, 0, r.stderr)
        path = os.path.join(self.tmp, "host:support.tar.gz")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertIn("host:support/MANIFEST.txt", self.unpack(path))

    def test_output_that_cannot_be_created_fails_cleanly(self):
        existing = os.path.join(self.tmp, "existing.tar.gz")
        with open(existing, "w") as f:
            f.write("keep me")
        for output in ("/", existing, os.path.join(self.tmp, "no-such-dir", "x.tar.gz")):
            r = self.collect(output)
            self.assertEqual(r.returncode, 1, (output, r.stderr))
            self.assertRegex(r.stderr, r"^tfstctl: Cannot create “.*”: ", output)
        with open(existing) as f:
            self.assertEqual(f.read(), "keep me")

    def test_name_without_a_base_gets_the_default_top(self):
        r = self.collect("..tar.gz")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tfst-collect/MANIFEST.txt", self.unpack(os.path.join(self.tmp, "..tar.gz")))

    def write(self, rel, text):
        path = os.path.join(self.conf, rel)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_key_material_is_left_out(self):
        """PEM bodies, PSK file lines in a .conf, `psk = ` with spaces,
        files named by Key=/PSKFile= whatever their names, and symbolic
        links in the state directory."""
        psk_hex = "00112233445566778899aabbccddeeff"
        named = self.write("named.conf", "NAMED-SECRET-MARKER\n")
        psk_conf = self.write("psk.conf", f"ep:{psk_hex}\n")
        self.write("relay@9.conf",
                   f"[Parent]\nTLS=yes\nkey = {named}\nPSKFile={psk_conf}\nListen=[::1]:8080\n")
        self.write("relay@9.conf.d/10-psk.conf", f"# mistake\ngw1:{psk_hex}\nPsk = {psk_hex}\n")
        self.write("relay@9.conf.d/20-pem.conf", "[Parent]\n-----BEGIN PRIVATE KEY-----\n"
                   "UEVNQk9EWU1BUktFUg==\n-----END PRIVATE KEY-----\nHandshakeTimeout=3s\n")
        secret = os.path.join(self.tmp, "root-only")
        with open(secret, "w") as f:
            f.write("LINKED-SECRET-MARKER\n")
        os.symlink(secret, os.path.join(self.state, "relay@9.conf"))
        out = os.path.join(self.tmp, "support.tar.gz")
        r = self.collect(out)
        self.assertEqual(r.returncode, 0, r.stderr)
        files = self.unpack(out)
        for name, data in files.items():
            for marker in (psk_hex.encode(), b"UEVNQk9EWU1BUktFUg", b"PRIVATE KEY",
                           b"NAMED-SECRET-MARKER", b"LINKED-SECRET-MARKER"):
                self.assertNotIn(marker, data, name)
        self.assertIn(b"HandshakeTimeout=3s",
                      files["support/config/etc/relay@9.conf.d/20-pem.conf"])
        self.assertIn(b"Listen=[::1]:8080", files["support/config/etc/relay@9.conf"])
        manifest = files["support/MANIFEST.txt"].decode()
        self.assertRegex(manifest, r"(?m)^config/etc/named\.conf: left out")
        self.assertRegex(manifest, r"(?m)^config/etc/psk\.conf: left out")
        self.assertRegex(manifest, r"(?m)^config/state/relay@9\.conf: left out \(a symbolic link")
        self.assertRegex(manifest, r"(?m)^config/etc/relay@9\.conf\.d/10-psk\.conf: 2 line")
        self.assertRegex(manifest, r"(?m)^config/etc/relay@9\.conf\.d/20-pem\.conf: 3 line")

    @unittest.skipIf(DBUS_DAEMON is None, "dbus-daemon not installed")
    def test_hostile_bus_name_is_no_instance(self):
        """Whoever may own an org.tfst.Tfst1.* name chooses the instance
        tfstctl reads from it: relay@../../../../x is no instance, and
        collect writes nothing outside its directory."""
        try:
            from gi.repository import Gio, GLib  # python3-gi (tools/deps), to own a name
        except ImportError:
            self.skipTest("python3-gi is not installed")
        self.workdir = self.tmp
        address = start_private_bus(self)
        conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(conn.close_sync, None)
        hostile = "org.tfst.Tfst1.relay_" + "_2e_2e_2f" * 4 + "x"
        reply = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "RequestName",
                               GLib.Variant("(su)", (hostile, 4)), GLib.VariantType("(u)"),
                               Gio.DBusCallFlags.NONE, -1, None)
        self.assertEqual(reply.unpack(), (1,))  # DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
        self.env["DBUS_SYSTEM_BUS_ADDRESS"] = address
        self.env["TMPDIR"] = os.path.join(self.tmp, "t", "u")
        os.makedirs(self.env["TMPDIR"])
        r = subprocess.run([TFSTCTL, "list", "--json"], capture_output=True, text=True,
                           env=self.env, timeout=60, stdin=subprocess.DEVNULL)
        self.assertNotIn("relay@", r.stdout)
        out = os.path.join(self.tmp, "support.tar.gz")
        r = self.collect(out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "t", "x")))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))
        self.assertFalse([n for n in self.unpack(out) if "relay@" in n])


if __name__ == "__main__":
    unittest.main()
