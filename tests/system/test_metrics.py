# SPDX-License-Identifier: GPL-2.0-or-later
"""tfst-metrics (issue 18) against a real chain on a private system bus with
the real polkitd:

    client -> gwproxy@dmz-3 "gw1" -> relay@2 "relay1" -> epproxy@1 "ep" -> target

The exporter runs as nobody with org.tfst.tfst1.observe granted by a polkit
rule (as the unit's tfst-metrics user is, docs/monitoring.md), so every
read it makes is one an unprivileged observer may make.

- promtool check metrics on live scrapes; Accept negotiation gives
  OpenMetrics (ending with # EOF), which the real Prometheus parses;
- the values match tfstctl stats --json and what the test sent;
- a real Prometheus (private config and data dir, loopback, 1 s scrape
  interval) scrapes while traffic flows; its HTTP API gives the sent bytes;
- socket activation through systemd-socket-activate;
- bad input: unknown path 404, other methods 405, oversized headers 431,
  a stalled request cut, the bus down 503 with a journal line and no hang.

Serial, root only (setpriv, polkitd); skips with the reason otherwise.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from tfst_testlib import SLOW, wait_until  # noqa: E402

from tfst_bus import OBSERVE, TFSTCTL, DbusTestCase  # noqa: E402
from tfst_bus.sysbus import BUILDDIR, setpriv_argv  # noqa: E402

TFST_METRICS = os.environ.get("TFST_METRICS") or os.path.join(BUILDDIR, "metrics",
                                                              "tfst-metrics")
RULES = os.path.join(SRCDIR, "docs", "prometheus", "tfst.rules.yml")
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_samples(text):
    """[(name, {label: value}, float)] of an exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = {k: v for k, v in LABEL_RE.findall(m.group(2) or "")}
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def pick(samples, name, **labels):
    return [v for n, lab, v in samples
            if n == name and all(lab.get(k) == want for k, want in labels.items())]


def http(method, url, headers=None, timeout=10):
    """(status, headers, body) of one request; errors are answers too."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def promtool_missing():
    for tool in ("promtool", "prometheus"):
        if shutil.which(tool) is None:
            # tools/deps installs Debian's prometheus: a missing one fails
            return f"{tool} not found: tools/deps installs the Debian package prometheus"
    return None


class MetricsTestCase(DbusTestCase):
    def setUp(self):
        super().setUp()
        missing = promtool_missing()
        if missing:
            self.fail(missing)
        if not os.access(TFST_METRICS, os.X_OK):
            self.fail(f"tfst-metrics not built: {TFST_METRICS}")
        self.make_chain()
        self.grant(OBSERVE, "nobody")

    def start_exporter(self, *args, user="nobody", activate=False, bus_address=None):
        """Starts tfst-metrics (as user, on a leased loopback port); returns
        its base URL.  Its stderr goes to a log the test can read."""
        port = self.port()
        listen = f"127.0.0.1:{port}"
        argv = [TFST_METRICS, *args]
        if activate:
            argv = ["systemd-socket-activate", "-l", listen,
                    "-E", "DBUS_SYSTEM_BUS_ADDRESS"] + argv
        else:
            argv += ["--listen", listen]
        if user != "root":
            argv = setpriv_argv(user, "nogroup") + argv
        self.exporter_log = os.path.join(self.workdir, f"tfst-metrics.{port}.log")
        log = open(self.exporter_log, "wb")
        self.addCleanup(log.close)
        env = self.bus.env()
        env["G_MESSAGES_DEBUG"] = ""
        if bus_address:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_address
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd="/")
        self.addCleanup(self._stop, proc)
        url = f"http://{listen}"
        wait_until(lambda: self._listening(port), 10 * SLOW, what=f"tfst-metrics on {listen}")
        return url

    @staticmethod
    def _listening(port):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    @staticmethod
    def _stop(proc):
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_text(self):
        with open(self.exporter_log, errors="replace") as f:
            return f.read()

    def scrape(self, url, accept=None):
        status, headers, body = http("GET", url + "/metrics",
                                     {"Accept": accept} if accept else None)
        self.assertEqual(status, 200, body)
        return headers, body

    def promtool_check(self, body):
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, f"promtool check metrics:\n{r.stdout}{r.stderr}\n"
                         f"--- exposition ---\n{body}")
        return r

    def stats_json(self, label):
        r = self.bus.run([TFSTCTL, "stats", "-i", self.instance_of(label), "--json",
                          "--no-ask-password"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def instance_of(self, label):
        return {"ep": "epproxy@1", "relay1": "relay@2", "gw1": "gwproxy@dmz-3"}[label]

    def bytes_toward(self, samples, label, toward):
        return sum(pick(samples, "tfst_bytes_total", label=label, toward=toward))


class ScrapeTest(MetricsTestCase):
    def test_promtool_both_formats(self):
        """Live scrapes pass promtool in both formats; Accept picks the
        format, OpenMetrics ends with # EOF; every instance is up with its
        labels, hops and build info."""
        url = self.start_exporter()
        self.open_traffic()
        headers, text = self.scrape(url)
        self.assertEqual(headers["Content-Type"], PROMETHEUS_TEXT)
        self.promtool_check(text)
        self.assertFalse(text.rstrip().endswith("# EOF"))
        headers, om = self.scrape(url, "application/openmetrics-text;version=1.0.0,"
                                       "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
        self.assertEqual(headers["Content-Type"], OPENMETRICS)
        self.assertTrue(om.endswith("# EOF\n"), om[-200:])
        # promtool lints the Prometheus text format only; the OpenMetrics
        # parser that checks this one is Prometheus' own (PrometheusTest:
        # Prometheus asks for OpenMetrics first).
        self.assertIn("# TYPE tfst_build info\ntfst_build_info{", om)
        series = [sorted((n, sorted(lab.items())) for n, lab, _ in parse_samples(t))
                  for t in (om, text)]
        self.assertEqual(series[0], series[1])
        self.assertIn("# TYPE tfst_sessions_opened counter", om)
        self.assertIn("# TYPE tfst_sessions_opened_total counter", text)
        s = parse_samples(text)
        self.assertEqual(pick(s, "tfst_instances"), [3])
        for label, name in (("ep", "epproxy@1"), ("relay1", "relay@2"), ("gw1", "gwproxy@dmz-3")):
            self.assertEqual(pick(s, "tfst_up", instance=name, label=label), [1], label)
            self.assertEqual(pick(s, "tfst_scrape_errors", instance=name), [0], label)
        self.assertEqual(pick(s, "tfst_hop_up", label="relay1", peer="ep", direction="parent"),
                         [1])
        self.assertEqual(pick(s, "tfst_hop_up", label="relay1", peer="gw1", direction="child"),
                         [1])
        self.assertEqual(pick(s, "tfst_hop_active", label="gw1", peer="relay1"), [1])
        self.assertEqual(len(pick(s, "tfst_build_info")), 1)
        self.assertEqual(pick(s, "tfst_sessions_opened_total", label="gw1"), [3])
        self.assertEqual(pick(s, "tfst_keepalive_enabled", label="gw1", scope="hops"), [1])
        self.assertEqual(len(pick(s, "tfst_keepalive_ping_interval_seconds", label="gw1")), 1)

    def test_values_match_tfstctl_and_traffic(self):
        """Byte counters equal tfstctl stats --json and the bytes sent."""
        url = self.start_exporter()
        sess = self.open_traffic()
        up = sum(x.up for x in sess)
        down = sum(x.down for x in sess)
        for label in ("gw1", "ep"):
            wait_until(lambda: self.bytes_toward(parse_samples(self.scrape(url)[1]), label,
                                                 "target") == up, 10 * SLOW,
                       what=f"{label}: tfst_bytes_total toward target == {up}")
            s = parse_samples(self.scrape(url)[1])
            self.assertEqual(self.bytes_toward(s, label, "client"), down, label)
            counters = self.stats_json(label)["counters"]
            for direction in ("upcall", "downcall"):
                for toward in ("target", "client"):
                    v = pick(s, "tfst_bytes_total", label=label, direction=direction,
                             toward=toward)
                    self.assertEqual(len(v), 1)
                    self.assertEqual(int(v[0]), counters[f"{direction}_bytes_to_{toward}"],
                                     f"{label} {direction} {toward}: {counters}")

    def test_sessions_option(self):
        """Per-session series only with --sessions."""
        plain = parse_samples(self.scrape(self.start_exporter())[1])
        self.assertEqual(pick(plain, "tfst_session_bytes_total"), [])
        url = self.start_exporter("--sessions")
        sess = self.open_traffic()
        self.wait_counts("gw1", sess)
        s = parse_samples(self.scrape(url)[1])
        got = sorted(pick(s, "tfst_session_bytes_total", label="gw1", toward="target"))
        self.assertEqual(got, sorted(float(x.up) for x in sess))


class PrometheusTest(MetricsTestCase):
    def start_prometheus(self, target):
        port = self.port()
        d = os.path.join(self.workdir, "prometheus")
        os.makedirs(os.path.join(d, "data"))
        conf = os.path.join(d, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{json.dumps(RULES)}]
scrape_configs:
  - job_name: tfst
    static_configs:
      - targets: ["{target}"]
""")
        log = open(os.path.join(d, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={conf}", f"--storage.tsdb.path={d}/data",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
            stdout=log, stderr=subprocess.STDOUT, cwd=d)
        self.addCleanup(self._stop, proc)
        self.prom = f"http://127.0.0.1:{port}"
        wait_until(lambda: proc.poll() is None and self._ready(), 60 * SLOW,
                   what="prometheus ready")

    def _ready(self):
        try:
            return http("GET", self.prom + "/-/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def query(self, q):
        status, _, body = http("GET", self.prom + "/api/v1/query?" +
                               urllib.parse.urlencode({"query": q}))
        self.assertEqual(status, 200, body)
        return json.loads(body)["data"]["result"]

    def value(self, q):
        r = self.query(q)
        return float(r[0]["value"][1]) if r else None

    def test_prometheus_scrapes_while_traffic_flows(self):
        """A real Prometheus scrapes every second; the increase of the byte
        counters it stored equals what the test sent and tfstctl stats."""
        url = self.start_exporter()
        self.start_prometheus(url.removeprefix("http://"))
        sel = 'tfst_bytes_total{exported_instance="gwproxy@dmz-3",toward="%s"}'
        wait_until(lambda: self.value(f'up{{job="tfst"}}') == 1 and
                   self.value(f'count_over_time(sum({sel % "target"})[1m:1s])') is not None,
                   60 * SLOW, what="prometheus scraped tfst-metrics")
        before = self.value(f'sum({sel % "target"})')
        t0 = time.time()
        sess = []
        for _ in range(3):  # traffic over a few scrape intervals
            sess += self.open_traffic()
            time.sleep(0.5)
        up = sum(x.up for x in sess)
        down = sum(x.down for x in sess)
        wait_until(lambda: self.value(f'sum({sel % "target"})') == before + up, 30 * SLOW,
                   what=f"prometheus has {before} + {up} bytes toward target")
        window = int(time.time() - t0) + 5
        grew = self.value(f'sum(max_over_time({sel % "target"}[{window}s])) - '
                          f'sum(min_over_time({sel % "target"}[{window}s]))')
        self.assertEqual(grew, up)
        rate = self.value(f'sum(rate({sel % "client"}[{window}s]))')
        self.assertGreater(rate, 0)
        last = self.value(f'sum({sel % "client"})')
        counters = self.stats_json("gw1")["counters"]
        self.assertGreaterEqual(last, down)
        s = parse_samples(self.scrape(url)[1])
        for n, lab, v in s:
            if n == "tfst_bytes_total" and lab.get("label") == "gw1":
                key = f"{lab['direction']}_bytes_to_{lab['toward']}"
                self.assertEqual(int(v), counters[key], f"{key}: {counters}")
        # The shipped rules load and evaluate; nothing fires on a healthy chain.
        wait_until(lambda: len(self.query("ALERTS")) == 0 and self._rules_loaded(), 30 * SLOW,
                   what="rules loaded, no alert firing")

    def _rules_loaded(self):
        _, _, body = http("GET", self.prom + "/api/v1/rules")
        groups = json.loads(body)["data"]["groups"]
        return sum(len(g["rules"]) for g in groups) >= 7 and all(
            r.get("health") == "ok" for g in groups for r in g["rules"])


class RulesTest(unittest.TestCase):
    def test_promtool_check_rules(self):
        if shutil.which("promtool") is None:
            self.fail(promtool_missing())
        r = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class ActivationTest(MetricsTestCase):
    def test_systemd_socket_activate(self):
        """The socket comes from systemd-socket-activate (LISTEN_FDS)."""
        if shutil.which("systemd-socket-activate") is None:
            # tools/deps installs systemd: a missing one fails
            self.fail("systemd-socket-activate not found: tools/deps installs the Debian "
                      "package systemd")
        url = self.start_exporter(activate=True)
        s = parse_samples(self.scrape(url)[1])
        self.assertEqual(pick(s, "tfst_instances"), [3])


class BadInputTest(MetricsTestCase):
    def test_paths_and_methods(self):
        url = self.start_exporter()
        self.assertEqual(http("GET", url + "/nope")[0], 404)
        self.assertEqual(http("GET", url + "/metrics/x")[0], 404)
        status, headers, _ = http("POST", url + "/metrics")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")
        status, headers, body = http("HEAD", url + "/metrics")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(headers["Content-Type"], PROMETHEUS_TEXT)
        status, _, body = http("GET", url + "/")
        self.assertEqual(status, 200)
        self.assertIn('href="/metrics"', body)

    def raw(self, url, data, timeout=30):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            t = time.monotonic()
            try:
                s.sendall(data)
            except OSError:
                pass
            got = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
            return got, time.monotonic() - t

    def test_oversized_and_slow_requests_are_cut(self):
        url = self.start_exporter()
        got, _ = self.raw(url, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 +
                          b"\r\n\r\n")
        self.assertRegex(got[:40], rb"^HTTP/1\.1 431 ")
        # A request that stops half-way is closed after the 5 s idle
        # timeout, without an answer; the exporter keeps serving meanwhile.
        host, port = url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)), timeout=60)
        self.addCleanup(slow.close)
        t = time.monotonic()
        slow.sendall(b"GET /metr")
        self.assertEqual(http("GET", url + "/metrics")[0], 200)
        self.assertEqual(slow.recv(100), b"")
        self.assertLess(time.monotonic() - t, 30)
        self.assertGreaterEqual(time.monotonic() - t, 4)

    def test_bodies_and_trickling_clients_are_cut(self):
        """A request with a body gets 413 and the connection closes before
        the body is read; a client that trickles its request headers, a byte
        every 2 s (under the 5 s idle timeout), is cut after about 10 s."""
        url = self.start_exporter()
        got, took = self.raw(url, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel")
        self.assertRegex(got[:40], rb"^HTTP/1\.1 413 ")
        self.assertLess(took, 4)
        got, took = self.raw(url, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        self.assertRegex(got[:40], rb"^HTTP/1\.1 413 ")
        self.assertLess(took, 4)
        host, port = url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)), timeout=60)
        self.addCleanup(slow.close)
        t = time.monotonic()
        closed = False
        for b in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 40:
            try:
                slow.sendall(bytes([b]))
            except OSError:
                closed = True
                break
            slow.settimeout(2)
            try:
                if slow.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
        took = time.monotonic() - t
        self.assertTrue(closed, "the trickling client was not cut")
        self.assertGreaterEqual(took, 9)
        self.assertLess(took, 20)

    def test_rapid_requests_share_scrapes(self):
        """A client looping GET /metrics gets answers from the last scrape
        within a second of it: at most about one scrape a second reaches the
        instances."""
        url = self.start_exporter()

        def scrapes():
            return pick(parse_samples(self.scrape(url)[1]), "tfst_metrics_scrapes_total")[0]

        first = scrapes()
        t = time.monotonic()
        n = 0
        while time.monotonic() - t < 3:
            self.assertEqual(http("GET", url + "/metrics")[0], 200)
            n += 1
        elapsed = time.monotonic() - t
        made = scrapes() - first
        self.assertGreater(n, made)
        self.assertLessEqual(made, elapsed + 2, f"{made} scrapes for {n} requests")

    def test_connection_limit(self):
        """Past --max-connections new connections wait in the listen
        backlog, unanswered, until a held one closes; then they are served."""
        url = self.start_exporter("--max-connections", "4")
        host, port = url.removeprefix("http://").split(":")
        held = [socket.create_connection((host, int(port))) for _ in range(4)]
        for s in held:
            self.addCleanup(s.close)
            s.sendall(b"GET /metr")
        extra = socket.create_connection((host, int(port)))
        self.addCleanup(extra.close)
        extra.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        extra.settimeout(1.5)
        with self.assertRaises(socket.timeout):
            extra.recv(100)
        held[0].close()
        extra.settimeout(20 * SLOW)
        self.assertRegex(extra.recv(100), rb"^HTTP/1\.1 200 ")

    def test_stalled_bus_is_503_in_time(self):
        """A bus socket that accepts but never answers (the connection's
        Hello has a 25 s timeout of its own): 503 within the 2 s scrape
        timeout, and the next request too."""
        path = os.path.join(self.workdir, "stalled-bus")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(path)
        listener.listen(16)
        held = []

        def serve():  # authenticates every client, then never answers Hello
            while True:
                try:
                    c, _ = listener.accept()
                except OSError:
                    return
                held.append(c)
                buf = b""
                while b"BEGIN\r\n" not in buf:
                    data = c.recv(4096)
                    if not data:
                        break
                    buf += data
                    if b"AUTH" in buf and b"OK " not in buf:
                        c.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
                        buf += b"OK "
                    if b"NEGOTIATE_UNIX_FD\r\n" in buf and b"AGREE" not in buf:
                        c.sendall(b"AGREE_UNIX_FD\r\n")
                        buf += b"AGREE"

        threading.Thread(target=serve, daemon=True).start()
        self.addCleanup(lambda: [c.close() for c in held])
        url = self.start_exporter(user="root", bus_address=f"unix:path={path}")
        for _ in range(2):
            t = time.monotonic()
            status, _, body = http("GET", url + "/metrics", timeout=20)
            self.assertEqual(status, 503, body)
            self.assertLess(time.monotonic() - t, 3.5)

    def test_bus_down_is_503(self):
        """Without the bus: 503 with a body that says so, at once, and one
        line in the log; with the bus back, 200 again."""
        url = self.start_exporter(user="root")
        self.scrape(url)
        self.bus.stop_bus()
        time.sleep(1.2)  # past the second in which the last scrape answers
        t = time.monotonic()
        status, _, body = http("GET", url + "/metrics", timeout=20)
        self.assertLess(time.monotonic() - t, 5)
        self.assertEqual(status, 503)
        self.assertIn("system bus is not available", body)
        self.assertEqual(http("GET", url + "/metrics", timeout=20)[0], 503)
        wait_until(lambda: "system bus is not available" in self.log_text(), 5 * SLOW,
                   what="a log line about the bus")
        self.assertEqual(self.log_text().count("system bus is not available"), 1,
                         self.log_text())
        self.bus.start_bus()
        wait_until(lambda: http("GET", url + "/metrics")[0] == 200, 30 * SLOW,
                   what="200 once the bus is back")


if __name__ == "__main__":
    unittest.main()
