# SPDX-License-Identifier: GPL-2.0-or-later
"""tools/demo writes nothing outside its temporary directory.

The demo (tools/demo.py, run on this build) runs its chain for a few
seconds under strace in a network namespace of its own (its ports are
fixed, so it must not share a stack with other tests), with TMPDIR set to
this test's directory.  Every file system change any of its processes made
(tfstd three times, dbus-daemon, tfstctl, logger, Python) — open for
writing or creating, mkdir, rename, unlink, link, bind of a unix socket —
must name a path below that directory.  Before, `keepalive set --persist`
and the event spool could reach the host's state directory, and the private
bus lived in a second temporary directory.

Needs root (unshare -n), strace and logger; skips with the reason otherwise.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("TFST_BUILDDIR")
DURATION = "4"
TIMEOUT = 240

# Syscalls that change the file system; for open only with these flags.
CHANGING = ("openat", "open", "creat", "mkdir", "mkdirat", "rename", "renameat", "renameat2",
            "unlink", "unlinkat", "link", "linkat", "symlink", "symlinkat", "bind")
WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
# What a process may open for writing without changing anything.
HARMLESS = ("/dev/null", "/dev/tty", "/dev/pts/", "/dev/urandom", "/proc/self/", "/proc/thread-self/")
CALL = re.compile(r"^\d+\s+(\w+)\((.*)$")
# `13</tmp/x/state>` (strace -y): a directory fd and the path it names.
DIRFD = re.compile(r"^(?:\d+|AT_FDCWD)<([^>]*)>$")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def environment_problem():
    if os.geteuid() != 0:
        return "needs root for a network namespace (unshare -n)"
    for tool in ("strace", "unshare", "ip", "logger", "dbus-daemon"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not BUILDDIR or not os.path.exists(os.path.join(BUILDDIR, "daemon", "tfstd")):
        return "TFST_BUILDDIR with a built tfstd is needed (meson test sets it)"
    return None


def split_args(args):
    """Top-level comma-separated arguments of one strace call."""
    out, depth, cur, quoted, esc = [], 0, "", False, False
    for ch in args:
        if quoted:
            cur += ch
            esc = (ch == "\\") and not esc
            if ch == '"' and not esc:
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def paths_changed(name, args):
    """The absolute paths one call changes, [] when it changes none."""
    a = split_args(args)
    if name in ("openat", "open", "creat"):
        flags = a[2] if name == "openat" and len(a) > 2 else (a[1] if len(a) > 1 else "")
        if name != "creat" and not WRITE_FLAGS.search(flags):
            return []
    if name == "bind":
        m = re.search(r'sun_path="([^"]*)"', args)
        return [m.group(1)] if m and m.group(1).startswith("/") else []
    paths, base = [], None
    for arg in a:
        m = DIRFD.match(arg)
        if m:
            base = m.group(1)
            continue
        s = STRING.match(arg)
        if s:
            p = s.group(1)
            paths.append(p if p.startswith("/") or base is None else os.path.join(base, p))
            base = None
    return paths


class DemoTest(unittest.TestCase):
    def setUp(self):
        problem = environment_problem()
        if problem:
            self.skipTest(problem)
        self.tmp = tempfile.mkdtemp(prefix="tfst-test-demo-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_demo(self):
        trace = os.path.join(self.tmp, "strace.log")
        env = dict(os.environ, TMPDIR=self.tmp,
                   # Python's own byte-code cache of the standard library is
                   # not the demo's doing (and root could write it).
                   PYTHONDONTWRITEBYTECODE="1")
        # LeakSanitizer cannot run under ptrace: in the sanitized build it
        # would fail every tfstctl the demo runs; the other suites check leaks.
        if env.get("ASAN_OPTIONS"):
            env["ASAN_OPTIONS"] += ":detect_leaks=0"
        argv = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                "strace", "-f", "-qq", "-y", "-s", "4096", "-o", trace,
                "-e", "trace=" + ",".join(CHANGING),
                sys.executable, os.path.join(SRCDIR, "tools", "demo.py"),
                "--build", BUILDDIR, "--duration", DURATION]
        r = subprocess.run(argv, env=env, cwd=self.tmp, capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, f"the demo failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        with open(trace) as f:
            return f.read().splitlines()

    def test_demo_writes_only_in_its_temp_dir(self):
        lines = self.run_demo()
        root = os.path.realpath(self.tmp) + "/"
        changed, outside = 0, []
        for line in lines:
            m = CALL.match(line)
            if not m or m.group(1) not in CHANGING:
                continue
            for p in paths_changed(m.group(1), m.group(2)):
                changed += 1
                # A relative path without a directory fd is relative to the
                # working directory, which is self.tmp (no process of the
                # demo changes it).
                real = os.path.realpath(os.path.join(self.tmp, p))
                if not (real + "/").startswith(root) and not real.startswith(HARMLESS):
                    outside.append(line)
        # The demo does write: its configs, logs, bus and event spools.
        self.assertGreater(changed, 10, "strace saw no file the demo wrote")
        self.assertFalse(outside, f"the demo changed {len(outside)} files outside its temporary "
                                  f"directory {self.tmp}, first:\n" + "\n".join(outside[:20]))


if __name__ == "__main__":
    unittest.main()
