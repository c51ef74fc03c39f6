# SPDX-License-Identifier: GPL-2.0-or-later
"""tfst-metrics.socket and tfst-metrics.service under a real systemd
manager (tfst_nspawn.py: Debian bookworm booted with systemd, journald, a
system bus and bus-activated polkitd; tfst installed as a package installs
it):

    epproxy@1  [Children] Listen=127.0.0.1:6014    (service)
      relay@2  [Parent] Connect=127.0.0.1:6014     (service, binds itself)

The socket unit listens on 127.0.0.1:9918; the first request starts the
service as the user tfst-metrics (DynamicUser= with the static name from
sysusers.d), which polkit/50-tfst-metrics.rules lets observe: both
instances answer (tfst_up 1, their hops and counters), without root.

Needs root, systemd-nspawn, debootstrap (tools/deps); skips with the reason
otherwise.  The first run builds the rootfs cache.
"""

import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tfst_nspawn as nsp  # noqa: E402

CONFIGS = {
    "epproxy@1.conf": """[Instance]
Label=ep
[Children]
Listen=127.0.0.1:6014
""",
    "relay@2.conf": """[Instance]
Label=relay2
[Parent]
Connect=127.0.0.1:6014
ReconnectMin=200ms
ReconnectMax=1s
[Children]
Listen=127.0.0.1:10110
""",
}
WAIT = 30
# bash's /dev/tcp: the container has no curl, and python3-minimal no urllib.
HTTP_GET = ("exec 3<>/dev/tcp/127.0.0.1/9918 && "
            "printf 'GET %s HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3 && cat <&3")


class MetricsSystemdTest(unittest.TestCase):
    container = None

    @classmethod
    def setUpClass(cls):
        why = nsp.environment_problem()
        if why:
            print(f"SKIP test_metrics_systemd: {why}", file=sys.stderr, flush=True)
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.mkdtemp(prefix="tfst-metrics-systemd-")
        nsp.register_tmpdir(cls.tmp)
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        lock = nsp.ensure_rootfs()
        cls.addClassCleanup(lock.close)
        dest = os.path.join(cls.tmp, "dest")
        files = nsp.build_and_install(dest)
        binds = [(os.path.join(dest, rel), nsp.container_path(rel)) for rel in files]
        c = nsp.Container(nsp.ROOTFS, binds, cls.tmp, name="tfst-metrics")
        cls.addClassCleanup(cls._stop_container, c)
        c.start()
        cls.container = c
        c.run("systemd-sysusers")
        for name, text in CONFIGS.items():
            c.write_file(f"/etc/tfst/{name}", text)
        c.run("systemctl", "daemon-reload")

    @classmethod
    def _stop_container(cls, c):
        errors = c.stop()
        if errors:
            raise AssertionError("; ".join(errors))

    def sh(self, script, check=True):
        return self.container.sh(script, check=check, timeout=60)

    def systemctl(self, *args, check=True):
        return self.container.run("systemctl", "--no-pager", *args, check=check, timeout=60)

    def report(self, *units):
        return "\n".join(self.sh(f"systemctl status -l --no-pager {u}; journalctl --no-pager "
                                 f"-u {u} -n 30", check=False).stdout for u in units)

    def get(self, path):
        r = self.container.run("bash", "-c", HTTP_GET % path, check=False, timeout=60)
        # The container's output comes with universal newlines (no \r).
        head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
        return head.split("\n")[0], body

    def wait_for(self, fn, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}\n"
                                     f"{self.report('tfst-metrics.service')}")
            time.sleep(0.2)

    def test_socket_activation_as_tfst_metrics(self):
        self.systemctl("start", "tfst-epproxy@1.service", "tfst-relay@2.service")
        self.systemctl("start", "tfst-metrics.socket")
        self.assertEqual(self.systemctl("is-active", "tfst-metrics.service",
                                        check=False).stdout.strip(), "inactive")

        last = {}

        def scraped():
            status, body = self.get("/metrics")
            last["scrape"] = f"{status}\n{body}"
            up = re.findall(r'^tfst_hop_up\{instance="relay@2".*peer="ep".*\} 1$', body, re.M)
            return (status, body) if status.endswith(" 200 OK") and up else None

        try:
            status, body = self.wait_for(scraped, "a scrape with relay@2's parent hop up")
        except AssertionError as e:
            probe = self.sh(
                "P='setpriv --reuid=tfst-metrics --regid=tfst-metrics --clear-groups'; "
                "$P busctl --system call org.tfst.Tfst1.relay_2 /org/tfst/Tfst1 "
                "org.tfst.Tfst1.Instance GetStatistics 2>&1 | head -c 300; echo; "
                "$P sh -c 'pkcheck --action-id org.tfst.tfst1.observe --process $$; echo pk=$?' "
                "2>&1; ls /usr/share/polkit-1/actions; "
                "journalctl -b --no-pager -n 30 -u polkit -u tfst-relay@2 -u tfst-metrics", check=False).stdout
            raise AssertionError(f"{e}\nlast scrape: {last.get('scrape')}\n"
                                 f"{self.report('tfst-relay@2.service')}\n{probe}") from None
        for inst in ("epproxy@1", "relay@2"):
            self.assertRegex(body, rf'(?m)^tfst_up\{{instance="{inst}",[^}}]*\}} 1$')
            self.assertRegex(body, rf'(?m)^tfst_scrape_errors\{{instance="{inst}",[^}}]*\}} 0$')
        show = self.systemctl("show", "tfst-metrics.service", "-p", "ActiveState,User,"
                              "DynamicUser").stdout
        self.assertIn("ActiveState=active", show)
        self.assertIn("User=tfst-metrics", show)
        self.assertIn("DynamicUser=yes", show)
        pid = int(self.systemctl("show", "-p", "MainPID", "--value",
                                 "tfst-metrics.service").stdout.strip() or 0)
        self.assertNotEqual(pid, 0, "tfst-metrics.service has no main process")
        status = self.sh(f"cat /proc/{pid}/status").stdout
        uids = re.search(r"(?m)^Uid:\s+(\d+)", status)
        self.assertIsNotNone(uids, status)
        want = self.sh("id -u tfst-metrics").stdout.strip()
        self.assertEqual(uids.group(1), want, "tfst-metrics must run as tfst-metrics")
        self.assertNotEqual(want, "0")
        self.assertEqual(self.get("/nope")[0].split()[1], "404")


if __name__ == "__main__":
    unittest.main()
