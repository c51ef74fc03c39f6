// SPDX-License-Identifier: GPL-2.0-or-later
// Chain: the label graph from ChainLinks (a tree, with a component that
// has several parents shown under each of them) and every hop of this
// instance with its state, since when, last error and RTT.  Live through
// the Instance proxy's PropertiesChanged.

import { _, el, rtt, since, unvariant } from "./util.js";

export class Chain {
    constructor(entry) {
        this.proxy = entry.proxy;
        this.tree = el("div", { id: "chain-tree", class: "chain-tree" });
        this.hops = el("tbody");
        this.node = el("section", { id: "chain", class: "view" },
                       el("h2", {}, _("Chain")), this.tree,
                       el("h2", {}, _("Hops")),
                       el("table", { class: "table", id: "hops" },
                          el("thead", {}, el("tr", {},
                                             [_("Direction"), _("Peer"), _("Address"), _("Role"), _("State"),
                                                 _("Since"), _("RTT"), _("Reconnects"), _("Last error")].map(h => el("th", {}, h)))),
                          this.hops));
        this.update = () => this.render();
        this.proxy.addEventListener("changed", this.update);
        this.render();
    }

    destroy() {
        this.proxy.removeEventListener("changed", this.update);
    }

    render() {
        this.renderTree();
        this.hops.replaceChildren(...(this.proxy.Hops || []).map(h => hopRow(unvariant(h))));
    }

    renderTree() {
        const self = this.proxy.Label;
        const links = this.proxy.ChainLinks || [];
        const below = new Map(); // upper -> [lower]
        const lowers = new Set();
        for (const [upper, lower] of links) {
            if (!below.has(upper))
                below.set(upper, []);
            below.get(upper).push(lower);
            lowers.add(lower);
        }
        const labels = new Set((this.proxy.Chain || []).map(c => c[0]));
        links.forEach(([u, l]) => { labels.add(u); labels.add(l) });
        const roots = [...labels].filter(l => !lowers.has(l)).sort();
        const ul = el("ul", {}, roots.map(r => node(r, below, self, new Set())));
        this.tree.replaceChildren(ul);
    }
}

function node(label, below, self, seen) {
    const kids = seen.has(label) ? [] : (below.get(label) || []).slice().sort();
    const inner = new Set(seen).add(label);
    return el("li", {},
              el("span", { class: label === self ? "chain-label self" : "chain-label", "data-label": label }, label),
              kids.length ? el("ul", {}, kids.map(k => node(k, below, self, inner))) : null);
}

function hopStateName(s) {
    const names = {
        up: _("up"), connecting: _("connecting"), handshake: _("handshake"),
        waiting: _("waiting"), down: _("down"), refused: _("refused"),
    };
    return names[s] || s;
}

function hopRoleName(r) {
    return { active: _("active"), standby: _("standby"), down: _("down") }[r] || r || "";
}

function hopRow(h) {
    const dir = h.direction === "parent" ? _("parent") : _("child");
    const addr = h.address && h.address.includes(":") ? `[${h.address}]:${h.port}` : `${h.address}:${h.port}`;
    return el("tr", { "data-peer": h.label || "", "data-state": h.state },
              el("td", {}, dir),
              el("td", {}, h.label || "—"),
              el("td", {}, addr),
              el("td", {}, hopRoleName(h.role)),
              el("td", {}, el("span", { class: "hop-" + h.state }, hopStateName(h.state))),
              el("td", {}, since(h.since)),
              el("td", { class: "num" }, rtt(h.rtt)),
              el("td", { class: "num" }, String(h.reconnects ?? 0)),
              el("td", { class: "error-text" }, h["last-error"] || ""));
}
