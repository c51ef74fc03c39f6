# SPDX-License-Identifier: GPL-2.0-or-later
"""A private system bus for one test: a dbus-daemon of the test's own, with
the open policy of tests/system_bus_conf.py, in the test's work dir.  The
daemons and tfstctl find it through DBUS_SYSTEM_BUS_ADDRESS."""

import os
import shutil
import subprocess
import sys

from .env import SRCDIR
from .wait import wait_until

DBUS_DAEMON = shutil.which("dbus-daemon")


def start_private_bus(case):
    """Starts the bus under case.workdir, stopped at case's cleanup;
    returns its address."""
    tests = os.path.join(SRCDIR, "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from system_bus_conf import open_bus_config  # tests/, shared with the system suite

    busdir = os.path.join(case.workdir, "bus")
    os.makedirs(busdir)
    conf = os.path.join(busdir, "bus.conf")
    with open(conf, "w") as f:
        f.write(open_bus_config(busdir))
    proc = subprocess.Popen([DBUS_DAEMON, f"--config-file={conf}", "--nofork", "--nopidfile"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        proc.terminate()
        proc.wait(10)
    case.addCleanup(stop)
    sock = os.path.join(busdir, "system_bus_socket")
    wait_until(lambda: os.path.exists(sock), 10, what="private bus socket")
    return f"unix:path={sock}"
