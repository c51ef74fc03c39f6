#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""tfst-generator: the socket units' ListenStream= drop-ins it writes from a
configuration directory, and what it does with files it cannot use.

Usage: test-generator.py PATH-TO-tfst-generator"""
import os
import subprocess
import sys
import tempfile
import unittest

GENERATOR = None
DROPIN = "50-tfst-listen.conf"
BUS_DROPIN = "50-tfst-busname.conf"


class GeneratorTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="tfst-generator-")
        self.etc = os.path.join(self._tmp.name, "etc")
        self.out = os.path.join(self._tmp.name, "normal")
        os.mkdir(self.etc)
        os.mkdir(self.out)

    def tearDown(self):
        self._tmp.cleanup()

    def conf(self, name, text):
        path = os.path.join(self.etc, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def run_generator(self, *extra_dirs):
        env = dict(os.environ, TFST_CONFIG_DIR=self.etc)
        p = subprocess.run([GENERATOR, self.out, *extra_dirs], env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "")
        return p.stderr

    def dropin(self, unit):
        path = os.path.join(self.out, unit + ".d", DROPIN)
        self.assertTrue(os.path.exists(path), f"no drop-in for {unit}; output: {self.outputs()}")
        with open(path) as f:
            return f.read()

    def listen_lines(self, unit):
        return [l for l in self.dropin(unit).splitlines() if not l.startswith("#")]

    def outputs(self):
        found = []
        for root, _, files in os.walk(self.out):
            found += [os.path.relpath(os.path.join(root, f), self.out) for f in files]
        return sorted(found)

    def test_port_rule_default_skip_is_the_instance(self):
        """relay@2 with Listen= and no port: Base 1918 + 2 * 4096."""
        self.conf("relay@2.conf", "[Parent]\nConnect=127.0.0.1:21001\n"
                                  "[Children]\nListen=127.0.0.1\n")
        self.assertEqual(self.run_generator(), "")
        self.assertEqual(self.listen_lines("tfst-relay@2.socket"),
                         ["[Socket]", "ListenStream=127.0.0.1:10110"])

    def test_instances_0_to_15(self):
        """The port table of docs/systemd.md: 1918 + N * 4096."""
        for n in range(16):
            self.conf(f"relay@{n}.conf", "[Parent]\nConnect=127.0.0.1:21001\n"
                                         "[Children]\nListen=127.0.0.1\n")
        self.assertEqual(self.run_generator(), "")
        for n in range(16):
            self.assertEqual(self.listen_lines(f"tfst-relay@{n}.socket"),
                             ["[Socket]", f"ListenStream=127.0.0.1:{1918 + n * 4096}"])

    def test_ports_base_skip_count_and_forwards(self):
        """[Ports] Base/Skip/Count, the epproxy's default children listener
        on every address, and forwards in file order with IPv6."""
        self.conf("epproxy@main.conf", """[Ports]
Base=2000
Skip=3
Count=2
[Forward mgmt]
Listen=127.0.0.1:21081
[Forward web]
Target=127.0.0.1:21080
[Forward v6]
Listen=[::1]:21082
""")
        self.assertEqual(self.run_generator(), "")
        self.assertEqual(self.listen_lines("tfst-epproxy@main.socket"), [
            "[Socket]",
            "ListenStream=0.0.0.0:14288",  # 2000 + 3 * 4096
            "ListenStream=127.0.0.1:21081",
            "ListenStream=[::1]:21082",
        ])
        # Count=2 cannot be honoured by systemd: the drop-in says so.
        self.assertIn("Count=2", self.dropin("tfst-epproxy@main.socket"))

    def test_parent_listener_and_dropins(self):
        """A gwproxy whose parent connects to it (Listen= without a port,
        non-numeric instance: Skip 0), with a drop-in that changes Base=."""
        self.conf("gwproxy@edge.conf", """[Parent]
Listen=127.0.0.1
[Forward web]
Listen=127.0.0.1:21010
""")
        self.conf("gwproxy@edge.conf.d/50-ports.conf", "[Ports]\nBase=3000\n")
        self.conf("gwproxy@edge.conf.d/60-ignored.conf~", "[Ports]\nBase=4000\n")
        self.assertEqual(self.run_generator(), "")
        self.assertEqual(self.listen_lines("tfst-gwproxy@edge.socket"), [
            "[Socket]",
            "ListenStream=127.0.0.1:3000",
            "ListenStream=127.0.0.1:21010",
        ])

    def test_events_listen(self):
        """[Events] Listen=: ListenDatagram= for udp:, ListenStream= for tcp:,
        after the hop and forward listeners; udp: and tcp: may share a port,
        two tcp: listeners may not."""
        self.conf("gwproxy@edge.conf", """[Parent]
Connect=127.0.0.1:21001
[Forward web]
Listen=127.0.0.1:21010
[Events syslog]
Listen=udp:127.0.0.1:21514 tcp:127.0.0.1:21514 udp:[::1]:21515
[Events traps]
Listen=udp:0.0.0.0:21162
""")
        self.conf("gwproxy@clash.conf", """[Parent]
Connect=127.0.0.1:21001
[Forward web]
Listen=127.0.0.1:21020
[Events syslog]
Listen=tcp:127.0.0.1:21020
""")
        err = self.run_generator()
        self.assertEqual(self.listen_lines("tfst-gwproxy@edge.socket"), [
            "[Socket]",
            "ListenStream=127.0.0.1:21010",
            "ListenDatagram=127.0.0.1:21514",
            "ListenStream=127.0.0.1:21514",
            "ListenDatagram=[::1]:21515",
            "ListenDatagram=0.0.0.0:21162",
        ])
        self.assertIn("# [Events traps] Listen=udp:", self.dropin("tfst-gwproxy@edge.socket"))
        self.assertNotIn("tfst-gwproxy@clash.socket.d", "\n".join(self.outputs()))
        self.assertRegex(err, r"gwproxy@clash\.conf: .*no ListenStream= for "
                              r"tfst-gwproxy@clash\.socket: .*\[Events syslog\] Listen=.*"
                              r"127\.0\.0\.1:21020 .*\[Forward web\] Listen=")

    def test_fixed_ports_children_and_parent(self):
        """A relay that listens on both hops: children first, as tfstd."""
        self.conf("relay@dmz.conf", "[Parent]\nListen=10.0.0.1:21001\n"
                                    "[Children]\nListen=[::]:21002\n")
        self.assertEqual(self.run_generator(), "")
        self.assertEqual(self.listen_lines("tfst-relay@dmz.socket"),
                         ["[Socket]", "ListenStream=[::]:21002", "ListenStream=10.0.0.1:21001"])

    def test_systemd_arguments(self):
        """systemd passes three directories; only the first is written."""
        self.conf("relay@2.conf", "[Parent]\nConnect=127.0.0.1:21001\n"
                                  "[Children]\nListen=127.0.0.1\n")
        early, late = os.path.join(self._tmp.name, "early"), os.path.join(self._tmp.name, "late")
        os.mkdir(early)
        os.mkdir(late)
        self.run_generator(early, late)
        self.assertEqual(self.outputs(), [f"tfst-relay@2.service.d/{BUS_DROPIN}",
                                          f"tfst-relay@2.socket.d/{DROPIN}"])
        self.assertEqual(os.listdir(early) + os.listdir(late), [])

    def test_no_listener_no_dropin(self):
        """Only Connect= and Target=: nothing for a socket unit."""
        self.conf("gwproxy@out.conf", "[Parent]\nConnect=127.0.0.1:21002\n"
                                      "[Forward x]\nTarget=127.0.0.1:21090\n")
        self.assertEqual(self.run_generator(), "")
        self.assertEqual(self.outputs(), [f"tfst-gwproxy@out.service.d/{BUS_DROPIN}"])

    def test_bus_name(self):
        """Every instance's service names the bus name it owns (BusName=,
        for systemctl service-log-level): role_instance with every byte
        outside [A-Za-z0-9] escaped as _XX, as tfstd owns it; also for an
        invalid configuration, whose name is that of its file."""
        self.conf("relay@2.conf", "[Parent]\nConnect=127.0.0.1:21001\n")
        self.conf("gwproxy@dmz-3.conf", "[Parent]\nConnect=127.0.0.1:21001\n")
        self.conf("epproxy@a.b_c.conf", "[Instance]\nLisen=1\n")
        err = self.run_generator()
        self.assertIn("epproxy@a.b_c.conf: invalid configuration", err)

        def lines(unit):
            with open(os.path.join(self.out, unit + ".d", BUS_DROPIN)) as f:
                return [l for l in f.read().splitlines() if not l.startswith("#")]

        for unit, name in (("tfst-relay@2.service", "org.tfst.Tfst1.relay_2"),
                           ("tfst-gwproxy@dmz-3.service", "org.tfst.Tfst1.gwproxy_dmz_2d3"),
                           ("tfst-epproxy@a.b_c.service", "org.tfst.Tfst1.epproxy_a_2eb_5fc")):
            self.assertEqual(lines(unit), ["[Service]", f"BusName={name}"], unit)

    def test_diagnostics_capabilities(self):
        """[Diagnostics] PacketTrace=/IPsec= give that one service unit
        CAP_NET_RAW + AF_PACKET / CAP_NET_ADMIN, also without listeners;
        other instances get no capability drop-in."""
        self.conf("relay@t.conf", "[Parent]\nConnect=127.0.0.1:21002\n"
                                  "[Children]\nListen=127.0.0.1:21003\n"
                                  "[Diagnostics]\nPacketTrace=yes\n")
        self.conf("gwproxy@i.conf", "[Parent]\nConnect=127.0.0.1:21002\n"
                                    "[Diagnostics]\nIPsec=yes\nPacketTrace=no\n")
        self.conf("relay@plain.conf", "[Parent]\nConnect=127.0.0.1:21002\n"
                                      "[Children]\nListen=127.0.0.1:21004\n"
                                      "[Diagnostics]\nPacketTrace=no\n")
        self.assertEqual(self.run_generator(), "")
        caps = "50-tfst-capabilities.conf"
        self.assertEqual(self.outputs(), sorted([
            f"tfst-gwproxy@i.service.d/{caps}", f"tfst-relay@plain.socket.d/{DROPIN}",
            f"tfst-relay@t.service.d/{caps}", f"tfst-relay@t.socket.d/{DROPIN}",
            f"tfst-gwproxy@i.service.d/{BUS_DROPIN}", f"tfst-relay@plain.service.d/{BUS_DROPIN}",
            f"tfst-relay@t.service.d/{BUS_DROPIN}"]))

        def lines(unit):
            with open(os.path.join(self.out, unit + ".d", caps)) as f:
                return [l for l in f.read().splitlines() if not l.startswith("#")]

        self.assertEqual(lines("tfst-relay@t.service"),
                         ["[Service]", "CapabilityBoundingSet=CAP_NET_RAW",
                          "AmbientCapabilities=CAP_NET_RAW", "RestrictAddressFamilies=AF_PACKET"])
        self.assertEqual(lines("tfst-gwproxy@i.service"),
                         ["[Service]", "CapabilityBoundingSet=CAP_NET_ADMIN",
                          "AmbientCapabilities=CAP_NET_ADMIN"])

    def test_reads_no_key(self):
        """The generator only needs the listeners: it must not open a
        certificate, key, CA or PSK file (a private key read at boot by a
        process that has no use for it).  The files here cannot be read by
        anyone, root included (FIFOs, which tfstd refuses, and a path below
        a missing directory): the units are still written, nothing is
        reported."""
        fifo = os.path.join(self._tmp.name, "fifo")
        os.mkfifo(fifo, 0)
        missing = os.path.join(self._tmp.name, "missing", "ca.pem")
        self.conf("relay@k.conf", f"""[Parent]
Connect=127.0.0.1:21001
TLS=yes
PSKFile={fifo}
[Children]
Listen=127.0.0.1:21005
TLS=yes
Certificate={fifo}
Key={fifo}
TrustedCA={missing}
""")
        self.assertEqual(self.run_generator(), "")
        self.assertEqual(self.listen_lines("tfst-relay@k.socket"),
                         ["[Socket]", "ListenStream=127.0.0.1:21005"])

    def test_invalid_configs_are_reported_and_skipped(self):
        """A broken file is named with the loader's reason (file:line, key)
        and gets no drop-in; the valid instances are still generated and the
        generator exits 0."""
        self.conf("relay@2.conf", "[Parent]\nConnect=127.0.0.1:21001\n"
                                  "[Children]\nListen=127.0.0.1\n")
        self.conf("relay@3.conf", "[Parent]\nConnect=127.0.0.1:21001\n"
                                  "[Children]\nListen=127.0.0.1\nLisen=1\n")
        self.conf("gwproxy@4.conf", "[Parent]\nConnect=127.0.0.1:21001\n")
        self.conf("gwproxy@4.conf.d/10-bad.conf", "[Ports]\nBase=70000\n")
        # Both hops take their port from the rule: the same address twice.
        self.conf("relay@5.conf", "[Parent]\nListen=127.0.0.1\n[Children]\nListen=127.0.0.1\n")
        self.conf("relay@a b.conf", "[Parent]\nConnect=127.0.0.1:21001\n"
                                    "[Children]\nListen=127.0.0.1\n")
        self.conf("rely@6.conf", "[Parent]\nConnect=127.0.0.1:21001\n")
        self.conf("relay@.conf", "[Parent]\nConnect=127.0.0.1:21001\n")
        err = self.run_generator()
        lines = err.splitlines()
        self.assertEqual(len(lines), 6, err)
        self.assertRegex(err, r"relay@3\.conf: invalid configuration, no ListenStream= for "
                              r"tfst-relay@3\.socket: .*relay@3\.conf:5: \[Children\] Lisen=: "
                              r"unknown key")
        self.assertRegex(err, r"gwproxy@4\.conf: invalid configuration.*10-bad\.conf:2: "
                              r"\[Ports\] Base=")
        self.assertRegex(err, r"relay@5\.conf: invalid configuration, no ListenStream= for "
                              r"tfst-relay@5\.socket: .*relay@5\.conf:2: \[Parent\] Listen=: the "
                              r"same address and port as \[Children\] Listen=")
        self.assertRegex(err, r"relay@a b\.conf: 'a b' cannot be a unit instance name")
        self.assertRegex(err, r"rely@6\.conf: 'rely' is not a role")
        self.assertRegex(err, r"relay@\.conf: the instance name is empty")
        # Socket units only for the valid one; bus names for every name
        # that can be a unit's.
        self.assertEqual(self.outputs(), [f"tfst-gwproxy@4.service.d/{BUS_DROPIN}",
                                          f"tfst-relay@2.service.d/{BUS_DROPIN}",
                                          f"tfst-relay@2.socket.d/{DROPIN}",
                                          f"tfst-relay@3.service.d/{BUS_DROPIN}",
                                          f"tfst-relay@5.service.d/{BUS_DROPIN}"])

    def test_other_files_are_ignored(self):
        for name in ("README", "relay@2.conf~", ".relay@2.conf", "relay@2.conf.dpkg-old",
                     "tls.key", "relay.conf"):
            self.conf(name, "not a configuration\n")
        os.mkdir(os.path.join(self.etc, "relay@9.conf.d"))
        self.assertEqual(self.run_generator(), "")
        self.assertEqual(self.outputs(), [])

    def test_missing_config_dir(self):
        os.rmdir(self.etc)
        self.assertEqual(self.run_generator(), "")
        self.assertEqual(self.outputs(), [])

    def test_usage(self):
        p = subprocess.run([GENERATOR], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("usage", p.stderr)


if __name__ == "__main__":
    GENERATOR = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
