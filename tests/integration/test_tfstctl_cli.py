# SPDX-License-Identifier: GPL-2.0-or-later
"""tfstctl's D-Bus commands without a tfstd: the German translation of the
help, and what the commands do on a private, empty system bus (a private
dbus-daemon; DBUS_SYSTEM_BUS_ADDRESS points tfstctl at it): no instances,
an unknown instance, bad usage, and the choice between several instances
(bus names owned by a helper process, which serves no objects).

The build tree's message catalogs are found through TFST_LOCALEDIR
(BUILDDIR/po, where meson compiles po/*.po)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from system_bus_conf import open_bus_config  # noqa: E402  (tests/)

SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("TFST_BUILDDIR") or os.path.join(SRCDIR, "build")
TFSTCTL = os.environ.get("TFSTCTL") or os.path.join(BUILDDIR, "tfstctl", "tfstctl")
LOCALEDIR = os.path.join(BUILDDIR, "po")
TIMEOUT = 30

# Exit statuses, as in tfstctl(1).
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


# Owns the bus names given as arguments (no objects behind them), prints
# "owned" once it has them all, and exits when stdin closes.
NAME_OWNER = textwrap.dedent("""\
    import sys
    from gi.repository import Gio, GLib
    conn = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    for name in sys.argv[1:]:
        reply = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "RequestName",
                               GLib.Variant("(su)", (name, 4)), None,
                               Gio.DBusCallFlags.NONE, -1, None)
        if reply.unpack()[0] != 1:
            sys.exit("cannot own " + name)
    print("owned", flush=True)
    sys.stdin.read()
""")


# complete_zsh(): an interactive zsh ("zsh -f -i") on a pseudo-terminal
# (zsh/zpty), driven by a non-interactive zsh.  Its prompt is <PROMPT>:
# zle prints it once it reads the terminal itself (before, the terminal is
# in canonical mode, and the line discipline would eat keys such as ^R).
# The driver has it source ZSH_RC ($1), types the line ($2) with TAB and
# then ^X r, and waits for the <DONE> that ^X r has the shell print.  Typed
# text is echoed, so markers are written split in two where they are
# typed.  The driver polls for each marker in what the shell wrote after
# the one before, for at most 20 s (a blocking "zpty -r" could wait
# forever), and shows what it saw when one is missing.
ZSH_DRIVER = textwrap.dedent("""\
    zmodload zsh/zpty zsh/datetime zsh/zselect || exit 1
    buf=
    expect() {
        local chunk
        local -F end=$(( EPOCHREALTIME + 20 ))
        while [[ $buf != *$1* ]]; do
            if (( EPOCHREALTIME > end )); then
                print -ru2 -- "no $1 from zsh, which wrote: ${(q+)buf}"
                return 1
            fi
            if zpty -rt z chunk; then
                buf+=$chunk
            else
                zselect -t 2
            fi
        done
        buf=${buf#*$1}
    }
    export PS1='<PROMPT>'
    zpty z zsh -f -i || exit 1
    expect '<PROMPT>' || exit 1
    zpty -w z ". ${(q)1}"
    expect '<READY>' && expect '<PROMPT>' || exit 1
    zpty -w -n z "$2"$'\\t\\C-xr'
    expect '<DONE>' || exit 1
    zpty -d z
""")

# The interactive zsh's setup: the real completion system (compinit, its
# dump in $HOME, which the calls of a test share) with completions/ first
# on fpath.  TAB runs _main_complete, as complete-word does, writes how
# many matches there are and has zle insert every match into the line
# (compstate[insert]=all, as the _all_matches completer does) instead of
# listing them.  ^X r writes the words of the line from the completed one
# on, unquoted, one a line, the line itself and which file _tfstctl was
# loaded from.  Errors of the completion functions go to a file.
ZSH_RC = textwrap.dedent("""\
    RPS1='' PS2=''
    fpath=($TFST_ZTEST_COMPDIR $fpath)
    autoload -U compinit && compinit -u
    print -r -- "$_comps[tfstctl]" >| $TFST_ZTEST_OUT/comps
    tfst_ztest_complete() {
        _main_complete
        print -r -- $compstate[nmatches] >| $TFST_ZTEST_OUT/nmatches
        compstate[list]=''
        compstate[insert]=all
    }
    zle -C tfst-ztest-complete complete-word tfst_ztest_complete
    bindkey '^I' tfst-ztest-complete
    tfst_ztest_report() {
        print -rl -- "${(@Q)${(z)BUFFER}[TFST_ZTEST_INDEX,-1]}" >| $TFST_ZTEST_OUT/words
        print -r -- "$BUFFER" >| $TFST_ZTEST_OUT/buffer
        print -r -- "$functions_source[_tfstctl]" >| $TFST_ZTEST_OUT/source
        BUFFER="print -r -- '<DO''NE>'"
        zle .accept-line
    }
    zle -N tfst_ztest_report
    bindkey '^Xr' tfst_ztest_report
    exec 2>>| $TFST_ZTEST_OUT/stderr
    print -r -- '<READY>'
""")


def run(*args, env=None):
    e = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    e.pop("LANGUAGE", None)
    e.update(env or {})
    return subprocess.run([TFSTCTL] + list(args), capture_output=True, text=True,
                          timeout=TIMEOUT, env=e, stdin=subprocess.DEVNULL)


class HelpTest(unittest.TestCase):
    COMMANDS = ("list", "status", "chain", "sessions", "stats", "dataflow", "log-level",
                "close", "reload", "ports", "trace", "spi", "keepalive", "events")

    def test_help_lists_every_command(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        for c in self.COMMANDS:
            self.assertRegex(p.stdout, r"(?m)^\s+%s\s+\S" % c)
        for c in self.COMMANDS:
            p = run(c, "--help")
            self.assertEqual(p.returncode, 0, f"{c} --help: {p.stderr}")
            self.assertIn(f"tfstctl {c}", p.stdout)

    def test_help_in_german(self):
        mo = os.path.join(LOCALEDIR, "de", "LC_MESSAGES", "tfst.mo")
        if not os.path.exists(mo):
            self.skipTest(f"the German catalog is not built: {mo}")
        env = {"LANGUAGE": "de", "TFST_LOCALEDIR": LOCALEDIR}
        p = run("--help", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("tfst-Instanzen steuern und untersuchen", p.stdout)
        self.assertIn("Befehle:", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^\s+sessions\s+Die Sitzungen einer Instanz auflisten$")
        p = run("sessions", "--help", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("JSON statt Text ausgeben: pretty", p.stdout)
        self.assertIn("--instance=ROLLE@INSTANZ", p.stdout)
        # errors too; the command names stay English
        p = run("no-such-command", env=env)
        self.assertEqual(p.returncode, EXIT_USAGE)
        self.assertIn("unbekannter Befehl „no-such-command“", p.stderr)
        # without the variable the catalog of the install prefix is used,
        # which a test must not depend on; English stays the default
        p = run("--help")
        self.assertIn("Control and inspect tfst instances", p.stdout)

    def test_bad_usage_exits_2(self):
        for args in (["no-such-command"], ["list", "extra"], ["--json=long", "list"],
                     ["list", "--json=yes"], ["list", "--no-such-option"],
                     ["log-level", "high"], ["log-level", "4"], ["log-level", "DEBUG"],
                     ["log-level", "debug", "info"], ["close", "x"],
                     ["dataflow"], ["dataflow", "7", "--interval", "0"],
                     ["dataflow", "7", "--interval", "3601"],
                     ["sessions", "--remote", "not-an-address"],
                     ["trace"], ["trace", "frobnicate"], ["trace", "show"],
                     ["trace", "define", "t", "192.0.2.1"],
                     ["trace", "define", "t", "192.0.2.1", "65536"],
                     ["trace", "define", "t", "192.0.2.1", "0", "--size=4095"],
                     ["trace", "export", "t"],
                     ["spi"], ["spi", "nope"], ["spi", "list", "x"], ["spi", "check"],
                     ["spi", "check", "4096", "10.0.0.1"], ["spi", "check", "zz", "10.0.0.1", "esp"],
                     ["spi", "check", "-1", "10.0.0.1", "esp"],
                     ["spi", "check", "4294967296", "10.0.0.1", "esp"],
                     ["spi", "check", "1", "10.0.0.1", "esp", "x"],
                     ["keepalive"], ["keepalive", "nope"], ["keepalive", "set"],
                     ["keepalive", "set", "Idle=abc"], ["keepalive", "set", "Bogus=1"],
                     ["keepalive", "set", "Idle"], ["keepalive", "show", "--scope=both"],
                     ["keepalive", "audit", "x"],
                     ["events", "syslog", "traps"], ["events", "--bogus"],
                     # session ids are per instance: no pattern
                     ["close", "-i", "relay@*", "5"], ["-i", "relay@[12]", "close", "5"],
                     # collect's -o is its archive, a global -o is columns
                     ["-o", "x", "collect"]):
            p = run(*args)
            self.assertEqual(p.returncode, EXIT_USAGE, f"{args}: {p.stdout} {p.stderr}")
            self.assertTrue(p.stderr.startswith("tfstctl"), f"{args}: {p.stderr}")


class HostWideTest(unittest.TestCase):
    """Commands about the host need no bus and no instance."""

    def test_spi_stats_without_instance(self):
        # no bus at all: the kernel's counters are read here
        env = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/tfst-test-bus"}
        p = run("spi", "stats", "--json", env=env)
        if not os.path.exists("/proc/net/xfrm_stat"):
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("cannot read the kernel's IPsec counters", p.stderr)
            return
        self.assertEqual(p.returncode, 0, p.stderr)
        counters = json.loads(p.stdout)["counters"]
        self.assertIn("XfrmInError", counters)
        with open("/proc/net/xfrm_stat") as f:
            names = [line.split()[0] for line in f if line.strip()]
        self.assertEqual(list(counters), names)
        p = run("spi", "stats", "--no-legend", "-o", "name", env=env)
        self.assertEqual(p.stdout.split(), names)


class PrivateBusTest(unittest.TestCase):
    """A private dbus-daemon as the system bus, with no tfst instance."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("dbus-daemon") is None:
            raise unittest.SkipTest("dbus-daemon not found (tools/deps installs it)")
        cls.tmp = tempfile.mkdtemp(prefix="tfstctl-bus-")
        config = os.path.join(cls.tmp, "bus.conf")
        with open(config, "w") as f:
            f.write(open_bus_config(cls.tmp))
        cls.bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork",
                                    "--nosyslog", "--print-address=1"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        address = cls.bus.stdout.readline().strip()
        if not address:
            cls.tearDownClass()
            raise AssertionError("dbus-daemon did not start: " + cls.bus.stderr.read())
        # The configured instances come from here, never from the host's /etc/tfst.
        cls.confdir = os.path.join(cls.tmp, "conf")
        os.mkdir(cls.confdir)
        cls.env = {"DBUS_SYSTEM_BUS_ADDRESS": address, "TFST_CONFIG_DIR": cls.confdir}

    @classmethod
    def tearDownClass(cls):
        cls.bus.terminate()
        try:
            cls.bus.wait(10)
        except subprocess.TimeoutExpired:
            cls.bus.kill()
            cls.bus.wait(10)
        cls.bus.stdout.close()
        cls.bus.stderr.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tfstctl(self, *args):
        return run(*args, env=self.env)

    def own_names(self, *names):
        """A helper process owning the names until the test ends."""
        try:
            subprocess.run([sys.executable, "-c", "import gi"], check=True, timeout=TIMEOUT,
                           capture_output=True)
        except (subprocess.CalledProcessError, OSError):
            self.skipTest("python3-gi is not installed")
        env = dict(os.environ, **self.env)
        p = subprocess.Popen([sys.executable, "-c", NAME_OWNER] + list(names), env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def stop():
            p.stdin.close()
            p.wait(10)
            p.stdout.close()
        self.addCleanup(stop)
        self.assertEqual(p.stdout.readline().strip(), "owned")

    def test_list_empty_bus(self):
        for args in (["list"], []):
            p = self.tfstctl(*args)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(),
                             "No tfst instance is configured or on the system bus.")
        # "--json" never takes the next word as its mode, before or after
        # the command name
        for args in (["list", "--json"], ["--json", "list"], ["--json"], ["--json=pretty"],
                     ["list", "--json", "--no-legend"]):
            p = self.tfstctl(*args)
            self.assertEqual(p.returncode, 0, f"{args}: {p.stderr}")
            self.assertEqual(json.loads(p.stdout), {"instances": []}, args)
        p = self.tfstctl("--json=off", "list")
        self.assertEqual(p.stdout.strip(), "No tfst instance is configured or on the system bus.")

    def configure(self, *names):
        for name in names:
            path = os.path.join(self.confdir, name + ".conf")
            with open(path, "w"):
                pass
            self.addCleanup(os.unlink, path)

    def test_overview_lists_configured_and_running(self):
        """No command: every instance, on the bus or only configured (stopped)."""
        self.configure("relay@2", "gwproxy@gw1")
        # not configurations: tfst-generator skips them too
        self.configure(".hidden@1", "relay", "relay@")
        self.own_names("org.tfst.Tfst1.relay_2", "org.tfst.Tfst1.epproxy_main")
        p = self.tfstctl()
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertRegex(lines[0], r"^INSTANCE\s+LABEL\s+STATE\s+SESSIONS\s+UNIT$")
        self.assertEqual([ln.split()[0] for ln in lines[1:]],
                         ["epproxy@main", "gwproxy@gw1", "relay@2"])
        self.assertRegex(lines[2], r"^gwproxy@gw1\s+-\s+stopped\s+-\s+-$")
        p = self.tfstctl("--json=short")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 1)
        rows = {r["instance"]: r for r in json.loads(p.stdout)["instances"]}
        self.assertEqual(rows["gwproxy@gw1"], {
            "instance": "gwproxy@gw1", "role": "gwproxy", "label": "", "state": "stopped",
            "session_count": 0, "unit_state": "", "configured": True})
        self.assertTrue(rows["relay@2"]["configured"])
        self.assertFalse(rows["epproxy@main"]["configured"])
        # (the helper owning the names serves no properties: no state)
        self.assertEqual(rows["epproxy@main"]["state"], "")

    def test_columns_and_legend(self):
        self.configure("relay@2", "gwproxy@gw1")
        p = self.tfstctl("list", "-o", "state,Instance", "--no-legend")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([ln.split() for ln in p.stdout.splitlines()],
                         [["stopped", "gwproxy@gw1"], ["stopped", "relay@2"]])
        p = self.tfstctl("--no-legend", "--output=instance")
        self.assertEqual(p.stdout.splitlines(), ["gwproxy@gw1", "relay@2"])
        p = self.tfstctl("list", "-o", "instance,bogus")
        self.assertEqual(p.returncode, EXIT_USAGE, p.stdout)
        self.assertEqual(p.stdout, "")
        self.assertIn("no column “bogus”", p.stderr)
        self.assertIn("INSTANCE, LABEL, STATE, SESSIONS, UNIT", p.stderr)

    def test_instance_patterns(self):
        self.configure("relay@2", "gwproxy@gw1")
        p = self.tfstctl("list", "-i", "relay@*", "--no-legend", "-o", "instance")
        self.assertEqual(p.stdout.splitlines(), ["relay@2"])
        p = self.tfstctl("status", "-i", "relay@*")
        self.assertEqual(p.returncode, EXIT_NOT_FOUND, p.stdout)
        self.assertEqual(p.stderr.strip(),
                         "tfstctl: no instance on the system bus matches “relay@*”")
        # every match gets its turn: the helper's names serve no objects, so
        # each fails on its own, and the block of each is headed by its name
        self.own_names("org.tfst.Tfst1.relay_2", "org.tfst.Tfst1.relay_3",
                       "org.tfst.Tfst1.epproxy_main")
        for args in (["sessions", "-i", "relay@*"], ["--instance=relay@?", "sessions"],
                     ["sessions", "-irelay@[23]"]):
            p = self.tfstctl(*args)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertEqual(p.stdout.splitlines(), ["● relay@2", "", "● relay@3"], args)
            self.assertEqual(len(p.stderr.splitlines()), 2, p.stderr)

    def test_no_instance_exits_3(self):
        for cmd in ("status", "chain", "sessions", "stats", "reload"):
            p = self.tfstctl(cmd)
            self.assertEqual(p.returncode, EXIT_NOT_FOUND, f"{cmd}: {p.stdout} {p.stderr}")
            self.assertEqual(p.stderr.strip(), "tfstctl: no tfst instance is on the system bus")
            self.assertEqual(p.stdout, "")

    def test_unknown_instance_exits_3(self):
        for args in (["status", "relay@2"], ["status", "-i", "relay@2"],
                     ["sessions", "--instance=relay@2", "--json"],
                     ["close", "-i", "gwproxy@a-b", "7"], ["status", "org.tfst.Tfst1.relay_2"],
                     ["--json", "-i", "relay@2", "status"]):
            p = self.tfstctl(*args)
            self.assertEqual(p.returncode, EXIT_NOT_FOUND, f"{args}: {p.stdout} {p.stderr}")
            self.assertRegex(p.stderr, r"^tfstctl: instance \S+ is not on the system bus")
            self.assertEqual(p.stdout, "")
        p = self.tfstctl("status", "gwproxy@a-b")
        self.assertIn("org.tfst.Tfst1.gwproxy_a_2db", p.stderr)

    def test_invalid_instance_exits_2(self):
        for inst in ("relay", "@2", "relay@", "re_lay@2", "2relay@2", "org.tfst.Tfst1.relay"):
            p = self.tfstctl("status", inst)
            self.assertEqual(p.returncode, EXIT_USAGE, f"{inst}: {p.stdout} {p.stderr}")
            self.assertIn("invalid instance", p.stderr)
        p = self.tfstctl("status", "-i", "relay@2", "relay@3")
        self.assertEqual(p.returncode, EXIT_USAGE, p.stderr)

    def test_several_instances_need_instance(self):
        self.own_names("org.tfst.Tfst1.relay_2", "org.tfst.Tfst1.epproxy_x_2d1",
                       "org.tfst.Tfst1b.relay_3")
        p = self.tfstctl("list", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([e["instance"] for e in json.loads(p.stdout)["instances"]],
                         ["epproxy@x-1", "relay@2"])
        p = self.tfstctl("list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.splitlines()[0],
                         r"^INSTANCE\s+LABEL\s+STATE\s+SESSIONS\s+UNIT$")
        self.assertEqual([ln.split()[0] for ln in p.stdout.splitlines()[1:]],
                         ["epproxy@x-1", "relay@2"])
        p = self.tfstctl("status")
        self.assertEqual(p.returncode, EXIT_USAGE, p.stderr)
        self.assertIn("(epproxy@x-1, relay@2)", p.stderr)
        self.assertIn("--instance", p.stderr)

    def complete(self, *words):
        """The completions bash offers for the last word of "tfstctl WORDS":
        an interactive bash (bash -ic) that loaded completions/tfstctl.bash,
        with the build's tfstctl first on PATH, runs the completion
        function as bash would for the line and prints COMPREPLY."""
        if shutil.which("bash") is None:
            self.skipTest("bash is not installed")
        rc = os.path.join(self.tmp, "bashrc")
        with open(rc, "w") as f:
            f.write(f"source {os.path.join(SRCDIR, 'completions', 'tfstctl.bash')}\n")
        line = " ".join(("tfstctl",) + words)
        script = (f"complete -p tfstctl >&2; COMP_WORDS=(tfstctl {' '.join(map(repr, words))}); "
                  f"COMP_CWORD={len(words)}; COMP_LINE='{line}'; COMP_POINT={len(line)}; "
                  "_tfstctl; printf '%s\\n' \"${COMPREPLY[@]}\"; "
                  "compgen -W \"$(_tfstctl_instances)\" -- '' | sort | tr '\\n' ' ' >&2")
        env = dict(os.environ, **self.env, HOME=self.tmp,
                   PATH=os.path.dirname(TFSTCTL) + os.pathsep + os.environ.get("PATH", ""))
        p = subprocess.run(["bash", "--rcfile", rc, "-ic", script], capture_output=True,
                           text=True, timeout=TIMEOUT, env=env, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("complete -F _tfstctl tfstctl", p.stderr)
        return sorted(w for w in p.stdout.splitlines() if w)

    def test_bash_completion(self):
        self.assertEqual(self.complete("st"), ["stats", "status"])
        self.assertIn("permissions", self.complete(""))
        self.assertEqual(self.complete("trace", "ex"), ["export"])
        self.assertEqual(self.complete("sessions", "--state", "half"),
                         ["half-closed-client", "half-closed-target"])
        self.assertEqual(self.complete("--json=s"), ["--json=short"])
        # options from the command's --help
        self.assertEqual(self.complete("stats", "--cl"), ["--clear"])
        self.assertIn("--no-legend", self.complete("sessions", "--no"))
        # instance names: on the bus, and configured but stopped
        self.configure("gwproxy@gw1")
        self.own_names("org.tfst.Tfst1.relay_2", "org.tfst.Tfst1.epproxy_main")
        self.assertEqual(self.complete("status", "-i", ""),
                         ["epproxy@main", "gwproxy@gw1", "relay@2"])
        self.assertEqual(self.complete("-i", "re"), ["relay@2"])
        self.assertEqual(self.complete("status", "e"), ["epproxy@main"])

    def complete_zsh(self, *words):
        """The completions zsh offers for the last word of "tfstctl WORDS":
        an interactive zsh on a pseudo-terminal (ZSH_DRIVER, ZSH_RC) whose
        real completion system loaded completions/_tfstctl, with the
        build's tfstctl first on PATH, completes the typed line with TAB
        and reports every match; self.zsh_line is the line after it."""
        if shutil.which("zsh") is None:
            self.skipTest("zsh is not installed (tools/deps installs it)")
        out = tempfile.mkdtemp(prefix="zsh-", dir=self.tmp)
        rc = os.path.join(out, "zshrc")
        with open(rc, "w") as f:
            f.write(ZSH_RC)
        line = " ".join(("tfstctl",) + words)
        env = dict(os.environ, **self.env, HOME=self.tmp, TERM="vt100", LC_ALL="C.UTF-8",
                   TFST_ZTEST_COMPDIR=os.path.join(SRCDIR, "completions"),
                   TFST_ZTEST_OUT=out, TFST_ZTEST_INDEX=str(len(words) + 1),
                   PATH=os.path.dirname(TFSTCTL) + os.pathsep + os.environ.get("PATH", ""))
        env.pop("LANGUAGE", None)
        p = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER, "zsh", rc, line],
                           capture_output=True, text=True, timeout=TIMEOUT, env=env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)

        def read(name):
            with open(os.path.join(out, name)) as f:
                return f.read()
        self.assertEqual(read("stderr"), "", line)
        self.assertEqual(read("comps").strip(), "_tfstctl")
        self.assertEqual(read("source").strip(),
                         os.path.join(SRCDIR, "completions", "_tfstctl"))
        self.zsh_line = read("buffer").rstrip("\n")
        n = int(read("nmatches"))
        matches = [w for w in read("words").splitlines() if w] if n else []
        self.assertEqual(len(matches), n, f"{line}: {matches}")
        return sorted(matches)

    def test_zsh_completion(self):
        self.assertEqual(self.complete_zsh("st"), ["stats", "status"])
        self.assertIn("permissions", self.complete_zsh(""))
        self.assertEqual(self.complete_zsh("trace", "ex"), ["export"])
        self.assertEqual(self.complete_zsh("sessions", "--state", "half"),
                         ["half-closed-client", "half-closed-target"])
        self.assertEqual(self.complete_zsh("--json=s"), ["--json=short"])
        # options from the command's --help
        self.assertEqual(self.complete_zsh("stats", "--cl"), ["--clear"])
        self.assertIn("--no-legend", self.complete_zsh("sessions", "--no"))
        # the value of an option is no command
        self.assertEqual(self.complete_zsh("--state-dir", "/tmp", "st"), ["stats", "status"])
        self.assertEqual(self.complete_zsh("keepalive", "show", "--scope", ""),
                         ["hops", "sessions"])
        self.assertEqual(self.complete_zsh("dataflow", "--interval", ""), [])
        # "--name=VALUE" as "--name VALUE"; "--name=" gets no space after it
        self.assertEqual(self.complete_zsh("sessions", "--state=half-closed-c"),
                         ["--state=half-closed-client"])
        self.assertEqual(self.complete_zsh("sessions", "--sta"), ["--state="])
        self.assertEqual(self.zsh_line, "tfstctl sessions --state=")
        self.assertEqual(self.complete_zsh("sessions", "--no-l"), ["--no-legend"])
        self.assertEqual(self.zsh_line, "tfstctl sessions --no-legend ")
        self.assertEqual(self.complete_zsh("sessions", "--direction=", "--json", "--rem"),
                         ["--remote="])
        # instance names: on the bus, and configured but stopped
        self.configure("gwproxy@gw1")
        self.own_names("org.tfst.Tfst1.relay_2", "org.tfst.Tfst1.epproxy_main")
        self.assertEqual(self.complete_zsh("status", "-i", ""),
                         ["epproxy@main", "gwproxy@gw1", "relay@2"])
        self.assertEqual(self.complete_zsh("-i", "re"), ["relay@2"])
        self.assertEqual(self.complete_zsh("status", "e"), ["epproxy@main"])
        self.assertEqual(self.complete_zsh("--instance=g"), ["--instance=gwproxy@gw1"])
        self.assertEqual(self.complete_zsh("-i", "relay@2", "se"), ["sessions"])


if __name__ == "__main__":
    unittest.main()
