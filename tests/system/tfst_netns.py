# SPDX-License-Identifier: GPL-2.0-or-later
"""Network namespaces with a stateful firewall between them, for the
system tests that need a real network path: "inside" (secure zone),
"dmz" (a router whose nftables forward chain lets only inside open
connections toward outside on the hop port) and "outside".

- environment_problem(): None when root, ip netns, setns() and nftables
  with conntrack all work here, else why not;
- in_netns(): runs a function on a thread that joined a namespace, so
  that the sockets it creates live there;
- NsDaemon: a tfstd started inside a namespace through `ip netns exec`;
- FirewallTopology: a TfstTestCase mixin building the three namespaces,
  their veths and the firewall, with daemons and servers placed in them,
  more hosts in DMZ subnets behind the firewall (add_dmz_host), a cable
  cut between two addresses (cut_between) and the sockets `ss` shows in a
  namespace; everything is removed at cleanup.
"""

import ctypes
import itertools
import os
import re
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from tfst_testlib import SLOW, Daemon, EchoServer, ThreadedServer, ss_sockets  # noqa: E402

IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"
CLONE_NEWNET = 0x40000000
CMD_TIMEOUT = 10

# Addresses (each namespace has its own stack, so ports cannot collide with
# other work on the machine).
IN_ADDR = "10.231.1.2"
DMZ_IN_ADDR = "10.231.1.1"
DMZ_OUT_ADDR = "10.231.2.1"
OUT_ADDR = "10.231.2.2"
HOP_PORT = 24001  # the one port the firewall lets inside open (FW_HOP_PORT)

_ns_counter = itertools.count(1)
_libc = ctypes.CDLL(None, use_errno=True)


def run(argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=CMD_TIMEOUT)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def in_netns(ns, fn, *args, **kw):
    """Runs fn on a fresh thread that joined network namespace ns and
    returns its result: sockets created there (listeners, clients) belong to
    ns for good, whichever thread uses them later, and so do threads fn
    starts (a new thread shares its creator's namespaces).  setns() only
    moves the calling thread, so the test process itself stays where it
    is."""
    out = {}

    def body():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns({ns}): {os.strerror(e)}")
            finally:
                os.close(fd)
            out["value"] = fn(*args, **kw)
        except BaseException as e:  # handed to the caller
            out["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(120 * SLOW)
    if t.is_alive():
        raise AssertionError(f"{fn!r} in netns {ns} did not return")
    if "error" in out:
        raise out["error"]
    return out.get("value")


def netns_sysctl_problem(ns, setting):
    """None when `setting` (KEY=VALUE) can be set inside namespace ns.  A
    container that shares the host's network (fresh-debian.sh, most CI
    runners) has /proc/sys read-only, and `ip netns exec` does not remount
    it."""
    r = subprocess.run([IP, "netns", "exec", ns, "sysctl", "-qw", setting],
                       capture_output=True, text=True, timeout=CMD_TIMEOUT)
    if r.returncode != 0:
        return (f"cannot set {setting} in a network namespace here (/proc/sys read-only, as "
                f"in a container without its own network?): {r.stderr.strip()}")
    return None


def environment_problem():
    """None when root, ip netns, setns and nft (with conntrack) all work,
    otherwise why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and nftables)"
    for tool in (IP, NFT):
        if not os.access(tool, os.X_OK):
            return f"{tool} not found"
    ns = f"tfst-t-{os.getpid()}-probe"
    try:
        r = run([IP, "netns", "add", ns], check=False)
        if r.returncode != 0:
            return f"`ip netns add` does not work here: {r.stderr.strip()}"
        r = subprocess.run([IP, "netns", "exec", ns, NFT, "-f", "-"], capture_output=True,
                           text=True, timeout=CMD_TIMEOUT,
                           input="table inet probe {\n chain forward {\n"
                                 "  type filter hook forward priority filter; policy drop;\n"
                                 "  ct state established,related accept\n }\n}\n")
        if r.returncode != 0:
            return f"nftables with conntrack does not work in a namespace: {r.stderr.strip()}"
        why = netns_sysctl_problem(ns, "net.ipv4.ip_forward=1")
        if why:
            return why
        try:
            in_netns(ns, lambda: None)
        except OSError as e:
            return f"setns() into a namespace does not work: {e}"
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot run ip/nft: {e!r}"
    finally:
        subprocess.run([IP, "netns", "del", ns], capture_output=True, timeout=CMD_TIMEOUT)


class NsDaemon(Daemon):
    """A Daemon run inside a network namespace through `ip netns exec`
    (which execs, so the pid is tfstd's and SIGTERM reaches it)."""

    def __init__(self, ns, *args, **kw):
        self.ns = ns
        super().__init__(*args, **kw)
        # The notify socket is a path socket: reachable from any netns.
        self.argv_prefix = [IP, "netns", "exec", ns]

    def log_since(self, offset):
        return self.log()[offset:]


class FirewallTopology:
    """Mixin for a TfstTestCase: the three namespaces, the veths, the dmz
    forward firewall (inside may open HOP_PORT toward outside, nothing
    else; FW_HOP_PORT overrides the port) and daemons and servers placed in
    a namespace.  Call setup_namespaces() from setUp(); everything is
    removed at cleanup."""

    FW_HOP_PORT = HOP_PORT

    def setup_namespaces(self):
        base = f"tfst-t-{os.getpid()}-{next(_ns_counter)}"
        self._ns_base = base
        self.ns_in, self.ns_dmz, self.ns_out = (f"{base}-in", f"{base}-dmz", f"{base}-out")
        self._namespaces = [self.ns_in, self.ns_dmz, self.ns_out]
        # Registered before any daemon: cleanups run LIFO, so the daemons
        # (and servers) are gone before their namespaces.
        self.addCleanup(self._delete_namespaces)
        self._build_topology()

    # -- topology --

    def ns_run(self, ns, *argv, check=True, input=None):
        r = subprocess.run([IP, "netns", "exec", ns, *argv], capture_output=True, text=True,
                           timeout=CMD_TIMEOUT, input=input)
        if check and r.returncode != 0:
            raise RuntimeError(f"[{ns}] {' '.join(argv)} failed ({r.returncode}): "
                               f"{r.stderr.strip()}")
        return r

    def _delete_namespaces(self):
        # Deleting a namespace removes the veth ends inside it.
        for ns in self._namespaces:
            subprocess.run([IP, "netns", "del", ns], capture_output=True, timeout=CMD_TIMEOUT)
        left = run([IP, "netns", "list"], check=False).stdout
        stale = [ns for ns in self._namespaces if ns in left.split()]
        if stale:
            raise AssertionError(f"namespaces left behind: {stale}")

    def _build_topology(self):
        for ns in (self.ns_in, self.ns_dmz, self.ns_out):
            run([IP, "netns", "add", ns])
            run([IP, "-n", ns, "link", "set", "lo", "up"])
        # veth pairs created inside the namespaces: no name ever appears in
        # the host namespace.
        run([IP, "-n", self.ns_dmz, "link", "add", "d-in", "type", "veth", "peer", "name", "i0",
             "netns", self.ns_in])
        run([IP, "-n", self.ns_dmz, "link", "add", "d-out", "type", "veth", "peer", "name", "o0",
             "netns", self.ns_out])
        for ns, dev, addr in ((self.ns_in, "i0", IN_ADDR), (self.ns_dmz, "d-in", DMZ_IN_ADDR),
                              (self.ns_dmz, "d-out", DMZ_OUT_ADDR),
                              (self.ns_out, "o0", OUT_ADDR)):
            run([IP, "-n", ns, "addr", "add", f"{addr}/24", "dev", dev])
            run([IP, "-n", ns, "link", "set", dev, "up"])
        run([IP, "-n", self.ns_in, "route", "add", "default", "via", DMZ_IN_ADDR])
        run([IP, "-n", self.ns_out, "route", "add", "default", "via", DMZ_OUT_ADDR])
        self.ns_run(self.ns_dmz, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # A mid-stream packet without a state entry is INVALID, not NEW.
        self.ns_run(self.ns_dmz, "sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0")
        ruleset = f"""
table inet tfstfw {{
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid counter drop
    iifname "d-in" oifname "d-out" tcp dport {self.FW_HOP_PORT} tcp flags & (fin|syn|rst|ack) == syn ct state new counter accept comment "hop: inside opens"
    counter comment "policy drop"
  }}
}}
"""
        self.ns_run(self.ns_dmz, NFT, "-f", "-", input=ruleset)

    def add_dmz_host(self, name, subnet, ports):
        """One more namespace, a host in its own DMZ subnet 10.231.SUBNET.0/24
        behind the firewall (veth d-NAME there, h0 here; the host is .2, its
        gateway .1); inside and outside may open connections to it on
        `ports` (the firewall counts them under "hop: to NAME").  Returns
        (namespace, host address).  Call after setup_namespaces()."""
        ns, dev = f"{self._ns_base}-{name}", f"d-{name}"[:15]
        host, gw = f"10.231.{subnet}.2", f"10.231.{subnet}.1"
        run([IP, "netns", "add", ns])
        self._namespaces.append(ns)
        run([IP, "-n", ns, "link", "set", "lo", "up"])
        run([IP, "-n", self.ns_dmz, "link", "add", dev, "type", "veth", "peer", "name", "h0",
             "netns", ns])
        for where, ifname, addr in ((ns, "h0", host), (self.ns_dmz, dev, gw)):
            run([IP, "-n", where, "addr", "add", f"{addr}/24", "dev", ifname])
            run([IP, "-n", where, "link", "set", ifname, "up"])
        run([IP, "-n", ns, "route", "add", "default", "via", gw])
        port_set = ", ".join(str(p) for p in ports)
        self.nft("add", "rule", "inet", "tfstfw", "forward", "oifname", dev, "tcp", "dport",
                 f"{{ {port_set} }}", "tcp", "flags", "&", "(fin|syn|rst|ack)", "==", "syn", "ct",
                 "state", "new", "counter", "accept", "comment", f'"hop: to {name}"')
        return ns, host

    def cut_between(self, a, b, comment="test: cable cut"):
        """The cable between addresses a and b cut: the firewall drops every
        packet between them, both ways, silently (no RST, no ICMP), also
        those of connections already established.  Returns restore(), which
        takes the rules out again (idempotent; also run at cleanup)."""
        handles = []
        for src, dst in ((a, b), (b, a)):
            out = self.nft("-e", "-a", "insert", "rule", "inet", "tfstfw", "forward", "ip", "saddr",
                           src, "ip", "daddr", dst, "counter", "drop", "comment", f'"{comment}"')
            m = re.search(r"# handle (\d+)", out)
            if m is None:
                raise AssertionError(f"no rule handle in nft output: {out!r}")
            handles.append(m.group(1))

        def restore():
            while handles:
                self.ns_run(self.ns_dmz, NFT, "delete", "rule", "inet", "tfstfw", "forward",
                            "handle", handles.pop())

        self.addCleanup(restore)
        return restore

    def ns_sockets(self, ns, pid=None):
        """ss_sockets() as seen in namespace ns (ss run from there)."""
        return in_netns(ns, ss_sockets, pid)

    def nft(self, *args):
        return self.ns_run(self.ns_dmz, NFT, *args).stdout

    def nft_counter(self, comment):
        text = self.nft("list", "chain", "inet", "tfstfw", "forward")
        m = re.search(r"counter packets (\d+) bytes \d+.*comment \"" + re.escape(comment) + '"',
                      text)
        self.assertIsNotNone(m, f"no counter with comment {comment!r} in:\n{text}")
        return int(m.group(1))

    # -- daemons and servers --

    def ns_daemon(self, ns, role, label, config):
        d = NsDaemon(ns, role, label, config, self.workdir, self._log_prefix, label=label)
        d.env = dict(self.daemon_env)
        self._daemons.append(d)
        return d

    def ns_server(self, ns, handler, addr):
        s = in_netns(ns, ThreadedServer, addr, handler)
        self.addCleanup(s.close)
        return s

    def ns_echo_server(self, ns, addr):
        s = in_netns(ns, EchoServer, addr)
        self.addCleanup(s.close)
        return s
