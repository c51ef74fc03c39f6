# SPDX-License-Identifier: GPL-2.0-or-later
"""The sockets of a process as `ss` shows them: states, addresses, timers;
CLOSE_WAIT and lingering sockets a daemon must not keep."""

import re
import subprocess


def _ss_addr(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if host.startswith("::ffff:"):
        host = host[7:]
    if "%" in host:
        host = host.split("%", 1)[0]
    try:
        port = int(port)
    except ValueError:
        port = 0
    return host, port


def ss_sockets(pid=None):
    """TCP sockets from `ss -tanpH`: dicts with state, local, peer (host,
    port) and pids (set).  pid filters to sockets that process holds."""
    r = subprocess.run(["ss", "-tanpH"], capture_output=True, text=True, timeout=20)
    out = []
    for line in r.stdout.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        state, _, _, local, peer = parts[:5]
        rest = parts[5] if len(parts) > 5 else ""
        pids = {int(p) for p in re.findall(r"pid=(\d+)", rest)}
        out.append({"state": state, "local": _ss_addr(local), "peer": _ss_addr(peer),
                    "pids": pids})
    if pid is not None:
        out = [x for x in out if pid in x["pids"]]
    return out


# ss -o: "timer:(keepalive,4.692ms,0)": kind, time left, retransmits/probes.
_SS_TIMER_RE = re.compile(r"timer:\((\w+),([\d.]+)(ms|sec|min|h)?,(\d+)\)")


def _ss_timer_seconds(value, unit):
    # iproute2 prints 4692 ms as "4.692ms": seconds with a millisecond
    # fraction; 692 ms as "692ms", 46 s as "46sec".
    if unit == "ms" and "." in value:
        return float(value)
    return float(value) * {"ms": 0.001, "sec": 1, "min": 60, "h": 3600, None: 1}[unit]


def parse_ss_tnoi(text):
    """The output of `ss -tnoiH` as a list of {"state", "local", "peer"
    (strings as ss prints them), "timer": (kind, seconds left, count) or
    None, "info": the -i line}."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            if out:
                out[-1]["info"] += line.strip()
            continue
        tok = line.split()
        if len(tok) < 5:
            continue
        m = _SS_TIMER_RE.search(line)
        timer = (m.group(1), _ss_timer_seconds(m.group(2), m.group(3)), int(m.group(4))) \
            if m else None
        out.append({"state": tok[0], "local": tok[3], "peer": tok[4], "timer": timer,
                    "info": ""})
    return out


def close_wait_sockets(pid):
    return [x for x in ss_sockets(pid) if x["state"] == "CLOSE-WAIT"]


def sockets_touching(port, host="127.0.0.1", pid=None):
    """Non-listening sockets with the given local or peer address."""
    a = (host, port)
    return [x for x in ss_sockets(pid) if x["state"] != "LISTEN" and (x["local"] == a or
                                                                       x["peer"] == a)]
