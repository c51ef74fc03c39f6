# SPDX-License-Identifier: GPL-2.0-or-later
"""tfstd --check-config, tfstctl check and tfstctl cat on configuration
sets in the test's work directory: the main file, its drop-ins and the
drop-ins persisted at run time (STATE_DIRECTORY), found in a configuration
directory given by TFST_CONFIG_DIR as for tfst-generator.  Nothing here
starts an instance or needs a bus."""

import json
import os
import socket
import subprocess

import tfst_testlib as h

EXIT_CONFIG = 78
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
TFSTCTL = os.environ.get("TFSTCTL") or os.path.join(h.BUILDDIR, "tfstctl", "tfstctl")
NOT_LOCAL = "192.0.2.55"  # TEST-NET-1 (RFC 5737), on no real interface


class ConfigCheckTest(h.TfstTestCase):
    def setUp(self):
        super().setUp()
        self.conf_dir = os.path.join(self.workdir, "etc")
        self.state_dir = os.path.join(self.workdir, "state")
        os.makedirs(self.conf_dir)
        os.makedirs(self.state_dir)

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def main_file(self, name, text):
        return self.write(os.path.join(self.conf_dir, f"{name}.conf"), text)

    def dropin(self, name, file, text):
        return self.write(os.path.join(self.conf_dir, f"{name}.conf.d", file), text)

    def persisted(self, name, file, text):
        return self.write(os.path.join(self.state_dir, f"{name}.conf.d", file), text)

    def env(self):
        e = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", TFST_CONFIG_DIR=self.conf_dir,
                 STATE_DIRECTORY=self.state_dir, TFSTD=h.TFSTD)
        e.pop("LANGUAGE", None)
        return e

    def tfstctl(self, *args):
        return subprocess.run([TFSTCTL] + list(args), capture_output=True, text=True,
                              timeout=60 * h.SLOW, env=self.env(), stdin=subprocess.DEVNULL)

    def tfstd(self, *args):
        return subprocess.run([h.TFSTD] + list(args), capture_output=True, text=True,
                              timeout=60 * h.SLOW, env=self.env(), stdin=subprocess.DEVNULL)

    def relay_conf(self):
        return (f"[Parent]\nListen=127.0.0.1:{self.port()}\n"
                f"[Children]\nListen=127.0.0.1:{self.port()}\n")

    # ---- tfstd --check-config

    def test_tfstd_check_valid_does_not_bind(self):
        """A valid set is exit 0, and nothing is bound: the check passes
        while another socket holds the listen port a start would need."""
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        path = self.main_file("epproxy@a", f"[Children]\nListen=127.0.0.1:{port}\n")
        r = self.tfstd("--check-config", "--role=epproxy", "--instance=a", f"--config={path}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "epproxy@a: the configuration is valid\n")
        self.assertNotIn("listening", r.stderr)

    def test_tfstd_check_invalid_is_78(self):
        path = self.main_file("gwproxy@a", "[Parent]\nConnect=nonsense\n")
        r = self.tfstd("--check-config", "--role=gwproxy", "--instance=a", f"--config={path}")
        self.assertEqual(r.returncode, EXIT_CONFIG, r.stderr)
        self.assertIn(f"invalid configuration: {path}:2: [Parent] Connect=: 'nonsense'", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_tfstd_check_reads_named_files(self):
        """The TLS files a configuration names are loaded as at a start."""
        missing = os.path.join(self.workdir, "missing.psk")
        path = self.main_file("epproxy@a", f"[Children]\nListen=127.0.0.1:{self.port()}\n"
                                           f"TLS=yes\nPSKFile={missing}\n")
        r = self.tfstd("--check-config", "--role=epproxy", "--instance=a", f"--config={path}")
        self.assertEqual(r.returncode, EXIT_CONFIG, r.stderr)
        self.assertIn("[Children] PSKFile=", r.stderr)
        self.assertIn(missing, r.stderr)

    def test_tfstd_check_missing_address_is_a_note(self):
        """An address that is not on the host yet is not a configuration
        error: exit 0, with the note a start writes to the journal."""
        path = self.main_file("epproxy@a", f"[Children]\nListen={NOT_LOCAL}:{self.port()}\n")
        r = self.tfstd("--check-config", "--role=epproxy", "--instance=a", f"--config={path}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{path}:2: [Children] Listen=: {NOT_LOCAL} is not an address of this "
                      f"host (yet)", r.stderr)

    # ---- tfstctl check

    def test_check_all_configured(self):
        """Without arguments every ROLE@INSTANCE.conf of the directory is
        checked; one invalid set makes the exit status 78, and the valid
        ones are still reported."""
        self.main_file("relay@2", self.relay_conf())
        bad = self.main_file("gwproxy@b", "[Parent]\nConnect=127.0.0.1:1\nMaxSessions=0\n")
        self.write(os.path.join(self.conf_dir, "notes.txt"), "not a configuration\n")
        r = self.tfstctl("check")
        self.assertEqual(r.returncode, EXIT_CONFIG, r.stderr)
        self.assertIn("relay@2: the configuration is valid", r.stdout)
        self.assertIn(f"{bad}:3: [Parent] MaxSessions=", r.stderr)

    def test_check_pattern(self):
        """-i takes the same patterns as every command (fnmatch: [...]
        too); a pattern matching nothing is "not found"."""
        self.main_file("relay@2", self.relay_conf())
        self.main_file("relay@3", "[Parent]\nConnect=127.0.0.1:1\nMaxSessions=0\n")
        r = self.tfstctl("check", "-i", "relay@[2]")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("relay@2: the configuration is valid", r.stdout)
        self.assertNotIn("relay@3", r.stdout + r.stderr)
        r = self.tfstctl("check", "-i", "relay@[3-9]")
        self.assertEqual(r.returncode, EXIT_CONFIG, r.stdout)
        r = self.tfstctl("cat", "-i", "relay@[2]")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("relay@2.conf", r.stdout)
        r = self.tfstctl("check", "-i", "gwproxy@[xy]")
        self.assertEqual(r.returncode, EXIT_NOT_FOUND, r.stdout)

    def test_check_persisted_dropin_named(self):
        """A persisted drop-in is part of the set: its error names it."""
        self.main_file("relay@2", self.relay_conf())
        self.dropin("relay@2", "10-ka.conf", "[Keepalive]\nIdle=30\n")
        r = self.tfstctl("check", "-i", "relay@2")
        self.assertEqual(r.returncode, 0, r.stderr)
        bad = self.persisted("relay@2", "keepalive.conf", "[Keepalive]\nIdle=forever\n")
        r = self.tfstctl("check", "-i", "relay@2")
        self.assertEqual(r.returncode, EXIT_CONFIG, r.stdout)
        self.assertIn(f"{bad}:2: [Keepalive] Idle=", r.stderr)

    def test_check_file_with_instance(self):
        """A candidate file under any name, checked as relay@2's with the
        instance's persisted drop-ins; without -i its name must say the
        instance."""
        cand = self.write(os.path.join(self.workdir, "candidate.conf"), self.relay_conf())
        r = self.tfstctl("check", "-i", "relay@2", cand)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("relay@2: the configuration is valid", r.stdout)
        r = self.tfstctl("check", cand)
        self.assertEqual(r.returncode, EXIT_USAGE)
        self.assertIn("cannot tell which instance", r.stderr)
        named = self.write(os.path.join(self.workdir, "relay@7.conf"),
                           "[Parent]\nListen=x\n[Children]\nListen=127.0.0.1\n")
        r = self.tfstctl("check", named)
        self.assertEqual(r.returncode, EXIT_CONFIG)
        self.assertIn(f"{named}:2: [Parent] Listen=", r.stderr)

    def test_check_json(self):
        self.main_file("relay@2", self.relay_conf())
        self.main_file("relay@3", "[Parent]\nListen=nowhere\n[Children]\nListen=127.0.0.1\n")
        r = self.tfstctl("--json", "check", "-i", "relay@*")
        self.assertEqual(r.returncode, EXIT_CONFIG, r.stderr)
        doc = json.loads(r.stdout)["instances"]
        self.assertEqual([(d["instance"], d["valid"], d["exit_status"]) for d in doc],
                         [("relay@2", True, 0), ("relay@3", False, EXIT_CONFIG)])
        self.assertTrue(any("[Parent] Listen=" in m for m in doc[1]["messages"]), doc)
        r = self.tfstctl("check", "-i", "epproxy@*")
        self.assertEqual(r.returncode, EXIT_NOT_FOUND)

    # ---- tfstctl cat

    def test_cat_in_order_with_persisted_marked(self):
        main = self.main_file("relay@2", self.relay_conf())
        d20 = self.dropin("relay@2", "20-b.conf", "[Keepalive]\nIdle=20\n")
        d10 = self.dropin("relay@2", "10-a.conf", "[Keepalive]\nIdle=10\n")
        self.dropin("relay@2", "10-a.conf~", "[Keepalive]\nIdle=99\n")  # editor backup
        p = self.persisted("relay@2", "keepalive.conf", "[Keepalive]\nIdle=40")
        r = self.tfstctl("cat", "-i", "relay@2")
        self.assertEqual(r.returncode, 0, r.stderr)
        headers = [line[2:] for line in r.stdout.splitlines() if line.startswith("# /")]
        self.assertEqual(headers, [main, d10, d20, p])
        self.assertNotIn("Idle=99", r.stdout)
        tail = r.stdout.split(f"# {p}\n", 1)[1]
        self.assertEqual(tail, "# Changed at run time (--persist): overrides the files above.\n"
                               "[Keepalive]\nIdle=40\n")
        doc = json.loads(self.tfstctl("--json", "cat", "relay@2").stdout)["files"]
        self.assertEqual([(d["kind"], d["path"]) for d in doc],
                         [("main", main), ("drop-in", d10), ("drop-in", d20), ("persisted", p)])

    def test_cat_missing_main_and_unknown(self):
        p = self.persisted("gwproxy@x", "keepalive.conf", "[Keepalive]\nIdle=40\n")
        r = self.tfstctl("cat", "gwproxy@x")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("This file does not exist: the defaults apply.", r.stdout)
        self.assertIn(f"# {p}\n", r.stdout)
        r = self.tfstctl("cat", "-i", "relay@9")
        self.assertEqual(r.returncode, EXIT_NOT_FOUND)
        self.assertIn("relay@9 has no configuration files", r.stderr)
        r = self.tfstctl("cat")
        self.assertEqual(r.returncode, EXIT_USAGE)
        r = self.tfstctl("cat", "-i", "bogus@1")
        self.assertEqual(r.returncode, EXIT_USAGE)


if __name__ == "__main__":
    import unittest
    unittest.main()
