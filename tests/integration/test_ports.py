# SPDX-License-Identifier: GPL-2.0-or-later
"""tfstctl ports and tfstd's bind-failure diagnosis against real sockets.

Ports on loopback are leased machine-wide (tfst_testlib.PortLease) for the
length of each test, so the cases can run in parallel with each other and
with other runs of the suite."""

import json
import os
import re
import socket
import subprocess
import tempfile
import unittest

from tfst_testlib import PortLease

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("TFST_BUILDDIR") or os.path.join(SRCDIR, "build")
TFSTCTL = os.environ.get("TFSTCTL") or os.path.join(BUILDDIR, "tfstctl", "tfstctl")
TFSTD = os.environ.get("TFSTD") or os.path.join(BUILDDIR, "daemon", "tfstd")

TIMEOUT = 30

RULE_1918 = [1918 + k * 4096 for k in range(16)]
ROW_RE = re.compile(r"^(\d+)\s+(free|in use|reserved|ephemeral-range)\b\s*(.*)$")


def leased_port(test):
    """A port leased for the length of the test."""
    lease = PortLease()
    test.addCleanup(lease.release)
    return lease.take()


def listen_free_port(test, host="127.0.0.1"):
    """A listening socket on a port leased for the length of the test."""
    port = leased_port(test)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, port))
    s.listen(8)
    return s, port


def run(*args):
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    return subprocess.run(list(args), capture_output=True, text=True, timeout=TIMEOUT, env=env)


def table_rows(stdout):
    """{port: (state, held_by)} from the rows of the table; header and hints are skipped."""
    rows = {}
    order = []
    for line in stdout.splitlines():
        m = ROW_RE.match(line)
        if m:
            port = int(m.group(1))
            order.append(port)
            rows[port] = (m.group(2), m.group(3))
    return order, rows


class PortsCommandTest(unittest.TestCase):
    def ports(self, *args):
        p = run(TFSTCTL, "ports", *args)
        self.assertEqual(p.returncode, 0, "tfstctl ports %s failed: %s" % (args, p.stderr))
        return p.stdout

    def test_lists_rule_ports(self):
        out = self.ports("--base", "1918")
        self.assertRegex(out.splitlines()[0], r"^PORT\s+STATE\s+HELD BY$")
        order, _ = table_rows(out)
        self.assertEqual(order, RULE_1918)
        # the defaults are the same rule
        self.assertEqual(table_rows(self.ports())[0], RULE_1918)

    def test_skip_and_count(self):
        order, _ = table_rows(self.ports("--base", "1918", "--skip", "2", "--count", "3"))
        self.assertEqual(order, [10110, 14206, 18302])

    def test_json(self):
        doc = json.loads(self.ports("--base", "1918", "--json"))
        self.assertEqual(list(doc), ["ports"])
        data = doc["ports"]
        self.assertEqual([e["port"] for e in data], RULE_1918)
        for e in data:
            self.assertIn(e["state"], ("free", "in-use", "reserved", "ephemeral-range"))
            self.assertIsInstance(e["reserved"], bool)
            self.assertIsInstance(e["ephemeral"], bool)
            self.assertIsInstance(e["held_by"], list)
            self.assertEqual(e["state"] == "in-use", bool(e["held_by"]))

    def test_port_in_use_names_holder(self):
        s, port = listen_free_port(self)
        with s:
            out = self.ports("--base", str(port), "--count", "1")
            order, rows = table_rows(out)
            self.assertEqual(order, [port], out)
            state, held_by = rows[port]
            self.assertEqual(state, "in use", out)
            self.assertRegex(held_by, r"\b%d python" % os.getpid(), out)

            data = json.loads(self.ports("--base", str(port), "--count", "1", "--json"))["ports"]
            self.assertEqual(data[0]["state"], "in-use")
            holders = [h for h in data[0]["held_by"] if h["pid"] == os.getpid()]
            self.assertTrue(holders, data)
            self.assertEqual(holders[0]["tcp_state"], "LISTEN")
            self.assertEqual(holders[0]["local"], "127.0.0.1:%d" % port)
        # released: the port is no longer in use
        _, rows = table_rows(self.ports("--base", str(port), "--count", "1"))
        self.assertNotEqual(rows[port][0], "in use")

    def test_bad_arguments(self):
        for args in (["--base", "0"], ["--base", "70000"], ["--skip", "-1"], ["extra"],
                     ["--no-such-option"]):
            p = run(TFSTCTL, "ports", *args)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertTrue(p.stderr.strip(), args)

    def test_help_lists_commands(self):
        p = run(TFSTCTL, "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^\s+ports\s+\S")
        p = run(TFSTCTL, "no-such-command")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no-such-command", p.stderr)
        p = run(TFSTCTL, "--version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("tfstctl "), p.stdout)


class BindDiagnosisTest(unittest.TestCase):
    def test_relay_names_port_and_holder(self):
        """tfstd refuses to start on a held port and says, in decimal, which
        port and which process holds it."""
        s, port = listen_free_port(self)
        with s, tempfile.TemporaryDirectory(prefix="tfst-ports-") as d:
            # the parent is never reached: the children listener fails first
            parent = leased_port(self)
            conf = os.path.join(d, "relay@x.conf")
            with open(conf, "w") as f:
                f.write("[Instance]\nLabel=relay-x\n"
                        "[Parent]\nConnect=127.0.0.1:%d\n"
                        "[Children]\nListen=127.0.0.1:%d\n" % (parent, port))
            env = dict(os.environ, LANG="C.UTF-8")
            env.pop("NOTIFY_SOCKET", None)
            p = subprocess.run([TFSTD, "--role=relay", "--instance=x", "--config=" + conf],
                               capture_output=True, text=True, timeout=TIMEOUT, env=env)
        msg = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, msg)
        self.assertRegex(msg, r"\bport %d\b" % port)
        self.assertRegex(msg, r"\bpid %d\b" % os.getpid(),
                         "the bind failure does not name the holder: %s" % msg)


if __name__ == "__main__":
    unittest.main()
