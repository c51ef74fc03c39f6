# SPDX-License-Identifier: GPL-2.0-or-later
"""Topologies of daemons: a tree of nodes (epproxy root, relays, gateway
proxies) with their forwards, the config each one gets, the ports they
use, and the chain view each must converge to; linear_chain() for the
common epproxy -> relays -> gwproxy line.  A node may have several parents
(redundant parents: [Parent] Connect= lists them in order of preference),
which makes the tree a graph."""

import time

from .env import CONVERGE_TIMEOUT, SLOW
from .ss import close_wait_sockets
from .wait import wait_until


class Node:
    def __init__(self, role, label, parent=None, forwards=(), extra="", instance=None,
                 open_children=False, max_sessions=None, networks=None):
        self.role = role
        self.label = label
        self.instance = instance or label
        self.parent = parent  # Node or None: the first (preferred) parent
        self.parents = [parent] if parent is not None else []  # in order of preference
        self.children = []
        self.forwards = list(forwards)  # list of dicts: name, listen/target/route
        self.extra = extra
        self.open_children = open_children  # this node opens the hops to its children
        self.max_sessions = max_sessions
        self.networks = networks  # [Instance] Networks=
        self.children_port = None  # when children connect to us
        self.parent_port = None  # when our parent connects to us
        self.daemon = None

    def __repr__(self):
        return f"<Node {self.role} {self.label}>"


def _addr(a):
    return f"{a[0]}:{a[1]}"


class Topology:
    """A tree of tfst components.  Forwards are declared per node:

        top.forward(node, 'web', target=addr)       # epproxy end of an upcall
        top.forward(node, 'web', listen=True)       # gwproxy end of an upcall
        top.forward(node, 'mgmt', listen=True, route='gw1')   # epproxy downcall
        top.forward(node, 'mgmt', target=addr)      # gwproxy end of a downcall

    listen=True takes a port from the test's block; the address is then in
    top.listen_addr(label, name)."""

    HOST = "127.0.0.1"

    def __init__(self, tc, session="CloseTimeout=2s", reconnect=("100ms", "1s"),
                 common_extra=""):
        self.tc = tc
        self.nodes = {}
        self.order = []
        self.session = session
        self.reconnect = reconnect
        self.common_extra = common_extra
        self._listen = {}

    def add(self, role, label, parent=None, parents=None, **kw):
        """parents: several parents in order of preference (instead of
        parent), each a label or Node; their hops are opened by this node."""
        ps = [self.nodes[x] if isinstance(x, str) else x
              for x in (parents if parents is not None else [parent] if parent else [])]
        n = Node(role, label, parent=ps[0] if ps else None, **kw)
        n.parents = ps
        assert len({x.open_children for x in ps}) <= 1, \
            "several parents: all open the hop (Listen=, MaxParents= in extra) or none (Connect=)"
        for p in ps:
            p.children.append(n)
        self.nodes[label] = n
        self.order.append(n)
        return n

    def node(self, label):
        return self.nodes[label]

    def forward(self, label, name, listen=False, target=None, route=None, extra=""):
        n = self.nodes[label]
        f = {"name": name, "extra": extra}
        if listen:
            port = self.tc.port()
            f["listen"] = (self.HOST, port)
            self._listen[(label, name)] = (self.HOST, port)
        if target is not None:
            f["target"] = target
        if route is not None:
            f["route"] = route
        n.forwards.append(f)
        return f

    def listen_addr(self, label, name):
        return self._listen[(label, name)]

    def _assign_ports(self):
        for n in self.order:
            if n.children and not n.open_children and n.children_port is None:
                n.children_port = self.tc.port()
            if n.parent is not None and n.parent.open_children and n.parent_port is None:
                n.parent_port = self.tc.port()

    def config(self, n):
        rmin, rmax = self.reconnect
        lines = ["[Instance]", f"Label={n.label}"]
        if n.max_sessions is not None:
            lines.append(f"MaxSessions={n.max_sessions}")
        if n.networks:
            lines.append(f"Networks={n.networks}")
        if n.parent is not None:
            lines += ["", "[Parent]"]
            if n.parent.open_children:
                lines.append(f"Listen={self.HOST}:{n.parent_port}")
            else:
                lines.append("Connect=" + " ".join(f"{self.HOST}:{p.children_port}"
                                                   for p in n.parents))
                lines += [f"ReconnectMin={rmin}", f"ReconnectMax={rmax}"]
        if n.children:
            lines += ["", "[Children]"]
            if n.open_children:
                lines.append("Connect=" + ";".join(f"{self.HOST}:{c.parent_port}"
                                                   for c in n.children))
                lines += [f"ReconnectMin={rmin}", f"ReconnectMax={rmax}"]
            else:
                lines.append(f"Listen={self.HOST}:{n.children_port}")
        elif n.role != "gwproxy":
            # An epproxy or relay without children still needs a listener.
            if n.children_port is None:
                n.children_port = self.tc.port()
            lines += ["", "[Children]", f"Listen={self.HOST}:{n.children_port}"]
        for f in n.forwards:
            lines += ["", f"[Forward {f['name']}]"]
            if "listen" in f:
                lines.append(f"Listen={_addr(f['listen'])}")
            if "target" in f:
                t = f["target"]
                lines.append(f"Target={t if isinstance(t, str) else _addr(t)}")
            if "route" in f:
                lines.append(f"Route={f['route']}")
            if f["extra"]:
                lines.append(f["extra"].strip())
        if self.session:
            lines += ["", "[Session]"] + [s.strip() for s in self.session.split("\n") if s.strip()]
        text = "\n".join(lines) + "\n"
        for extra in (self.common_extra, n.extra):
            if extra:
                text += "\n" + extra.strip() + "\n"
        return text

    def create(self):
        self._assign_ports()
        for n in self.order:
            if n.daemon is None:
                n.daemon = self.tc.daemon(n.role, n.instance, self.config(n), label=n.label)
        return self

    def start(self, order=None, delay=0.0):
        """Starts every daemon (root first unless order, a list of labels,
        says otherwise), each waited for READY=1."""
        self.create()
        labels = order or [n.label for n in self.order]
        for i, label in enumerate(labels):
            if i and delay:
                time.sleep(delay)
            self.nodes[label].daemon.start()
        return self

    def daemons(self):
        return [n.daemon for n in self.order]

    def d(self, label):
        return self.nodes[label].daemon

    def expected_chain(self, label, down=()):
        """label -> depth as seen from `label`: ancestors negative, itself 0,
        descendants positive (siblings and cousins are not visible: TELL goes
        up with what is below, TELL_OK down with what is above).  Nodes in
        `down` (labels) are dead: nothing is known through them.  With
        several parents each label is at its nearest depth."""
        n = self.nodes[label]
        out = {n.label: 0}
        for step, related in ((-1, lambda x: x.parents), (1, lambda x: x.children)):
            level, depth = [n], 0
            while level:
                depth += step
                nxt = [r for x in level for r in related(x)
                       if r.label not in down and r.label not in out]
                for r in nxt:
                    out[r.label] = depth
                level = nxt
        return out

    def wait_converged(self, timeout=None, labels=None, down=()):
        """Every daemon (of labels, when given; none of down) reports the
        chain it should see, with the nodes in down dead."""
        timeout = CONVERGE_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        for n in self.order:
            if labels is not None and n.label not in labels or n.label in down:
                continue
            n.daemon.wait_chain(self.expected_chain(n.label, down),
                                timeout=max(0.5, deadline - time.monotonic()))

    def fd_baseline(self, settle=0.0):
        """label -> fd count of every live daemon.  With settle, the least
        count seen over that many seconds: a peer that is refused and
        retries adds a socket now and then, never takes one away."""
        live = [n for n in self.order if n.daemon.alive()]
        out = {n.label: n.daemon.fd_count() for n in live}
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            time.sleep(0.05)
            for n in live:
                out[n.label] = min(out[n.label], n.daemon.fd_count())
        return out

    def wait_fds_released(self, baseline, timeout=10, what=""):
        """Every live daemon of baseline is at or below its fd count (a
        hop to a dead neighbour is gone) and holds no CLOSE_WAIT socket."""
        for label, count in baseline.items():
            d = self.d(label)
            if not d.alive():
                continue
            try:
                wait_until(lambda: d.fd_count() <= count, timeout * SLOW, interval=0.1)
            except AssertionError:
                raise AssertionError(f"{d}: fd count {d.fd_count()} > baseline {count} after "
                                     f"{timeout * SLOW:.0f}s {what}\nfds: {sorted(d.fds().items())}"
                                     f"\n{d.log_tail()}")
            cw = close_wait_sockets(d.pid)
            if cw:
                raise AssertionError(f"{d}: CLOSE_WAIT sockets {what}: {cw}")

    def wait_fd_baseline(self, baseline, timeout=10, what="", close_wait_grace=0.0):
        """Every live daemon of baseline is back to its fd count and holds
        no CLOSE_WAIT socket (none left after close_wait_grace seconds: a
        peer refused and retrying closes a socket now and then)."""
        for label, count in baseline.items():
            d = self.d(label)
            if d.alive():
                d.wait_fd_count(count, timeout, what)
                try:
                    wait_until(lambda: not close_wait_sockets(d.pid), close_wait_grace)
                except AssertionError:
                    raise AssertionError(f"{d}: CLOSE_WAIT sockets {what}: "
                                         f"{close_wait_sockets(d.pid)}")


def linear_chain(tc, relays=2, up=None, down=None, gw_label="gw1", ep_label="ep", **kw):
    """epproxy -> relay1..relayN -> gwproxy.  up: {name: target addr} for
    upcall forwards (gwproxy listens, epproxy connects target); down: {name:
    target addr} for downcall forwards (epproxy listens, gwproxy connects
    target).  Returns the (not yet started) Topology."""
    top = Topology(tc, **{k: v for k, v in kw.items()
                          if k in ("session", "reconnect", "common_extra")})
    node_kw = {k: v for k, v in kw.items() if k not in ("session", "reconnect", "common_extra")}
    ep_kw = {k[3:]: v for k, v in node_kw.items() if k.startswith("ep_")}
    gw_kw = {k[3:]: v for k, v in node_kw.items() if k.startswith("gw_")}
    relay_kw = {k[6:]: v for k, v in node_kw.items() if k.startswith("relay_")}
    top.add("epproxy", ep_label, **ep_kw)
    parent = ep_label
    for i in range(1, relays + 1):
        top.add("relay", f"relay{i}", parent=parent, **relay_kw)
        parent = f"relay{i}"
    top.add("gwproxy", gw_label, parent=parent, **gw_kw)
    for name, target in (up or {}).items():
        top.forward(ep_label, name, target=target)
        top.forward(gw_label, name, listen=True)
    for name, target in (down or {}).items():
        top.forward(ep_label, name, listen=True)
        top.forward(gw_label, name, target=target)
    return top
