# SPDX-License-Identifier: GPL-2.0-or-later
"""Where the build is and how fast it runs: the paths of the tree and of
tfstd, whether tfstd is sanitized, the time scale SLOW and the bounded
timeouts derived from it, and the process limits a test may need."""

import os
import resource
import subprocess

# This package lives in tests/integration/tfst_testlib/.
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BUILDDIR = os.environ.get("TFST_BUILDDIR") or os.path.join(SRCDIR, "build")
TFSTD = os.environ.get("TFSTD") or os.path.join(BUILDDIR, "daemon", "tfstd")

_sanitized = None


def tfstd_sanitized():
    """True when tfstd is built with AddressSanitizer (slower, and its heap
    keeps freed memory in a quarantine, which inflates VmRSS)."""
    global _sanitized
    if _sanitized is None:
        try:
            r = subprocess.run(["ldd", TFSTD], capture_output=True, text=True, timeout=10)
            _sanitized = "libasan" in r.stdout
        except (OSError, subprocess.SubprocessError):
            _sanitized = False
    return _sanitized


# Sanitizer builds are slower: scale the generous bounds (not the limits a
# test asserts as a requirement, such as "reset within 5s").
SLOW = float(os.environ.get("TFST_TEST_SLOW", 2.0 if tfstd_sanitized() else 1.0))

READY_TIMEOUT = 15 * SLOW
STOP_TIMEOUT = 15 * SLOW
CONVERGE_TIMEOUT = 20 * SLOW
IO_TIMEOUT = 30 * SLOW

KIB = 1024
MIB = 1024 * 1024


def raise_nofile(n):
    """Raises this process's RLIMIT_NOFILE soft limit (daemons started later
    inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def asan_small_quarantine_env():
    """Environment for daemons whose memory a test measures: a small ASan
    quarantine (use-after-free detection stays on, RSS stays meaningful)."""
    if not tfstd_sanitized():
        return {}
    opts = os.environ.get("ASAN_OPTIONS", "")
    extra = "quarantine_size_mb=4:thread_local_quarantine_size_kb=256"
    return {"ASAN_OPTIONS": f"{opts}:{extra}" if opts else extra}


def tfstd_version():
    r = subprocess.run([TFSTD, "--version"], capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout + r.stderr
