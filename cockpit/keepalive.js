// SPDX-License-Identifier: GPL-2.0-or-later
// Keepalive: the settings per scope (hops, sessions), changed live with
// SetSettings (tune), the firewall-timeout warning where keepalive would
// come too late for the firewalls on the path, and the audit of every TCP
// connection from the kernel.  The interface has no signals: the settings
// are read when the view opens and after each change, the audit only when
// asked for (with 10 000 sessions it is 20 000 connections), shown in a
// virtualised table with the count per kind.

import { KEEPALIVE, call } from "./bus.js";
import { report } from "./errors.js";
import { _, el, rtt } from "./util.js";
import { VirtualTable } from "./vtable.js";

const PERSIST = 1;
const ALLOW_FIREWALL_MISMATCH = 2;
const AUDIT = ["kind", "peer", "session", "local", "remote", "state", "keepalive", "timer",
    "probes", "retransmits", "rtt", "rttvar", "bytes_acked", "bytes_received"];

function keys(scope) {
    const k = [
        ["Keepalive", _("Keepalive"), "b"],
        ["Idle", _("Idle (s)"), "u"],
        ["Interval", _("Interval (s)"), "u"],
        ["Count", _("Probes"), "u"],
        ["UserTimeout", _("User timeout (ms)"), "u"],
        ["FirewallTimeout", _("Firewall timeout (s)"), "u"],
    ];
    if (scope === "hops")
        k.push(["PingInterval", _("Ping interval (ms)"), "u"], ["PingTimeout", _("Ping timeout (ms)"), "u"]);
    return k;
}

// Why keepalive, as set, does not keep the firewalls' state alive; null
// when it does or the firewall timeout is unknown.
export function firewallWarning(s) {
    const fw = s.FirewallTimeout;
    if (!fw)
        return null;
    if (!s.Keepalive)
        return cockpit.format(_("Keepalive is off: a firewall that forgets idle connections after $0 s will drop quiet ones."), fw);
    if (s.Idle >= fw)
        return cockpit.format(_("Idle ($0 s) is not below the firewall timeout ($1 s): the firewall forgets a quiet connection before the first probe."), s.Idle, fw);
    if (s.PingInterval !== undefined && s.PingInterval / 1000 >= fw)
        return cockpit.format(_("The ping interval ($0 ms) is not below the firewall timeout ($1 s)."), s.PingInterval, fw);
    return null;
}

export class KeepaliveView {
    constructor(entry) {
        this.name = entry.busName;
        this.forms = ["hops", "sessions"].map(scope => this.form(scope));
        this.auditAlerts = el("div", {});
        this.auditCounts = el("p", { class: "muted", id: "audit-counts" });
        this.audit = new VirtualTable("audit", [
            { id: "kind", title: _("Kind"), render: c => c.kind, width: "5em" },
            { id: "peer", title: _("Peer"), render: c => c.peer },
            { id: "session", title: _("Session"), render: c => c.session ? String(c.session) : "", sort: c => c.session, num: true, width: "6em" },
            { id: "local", title: _("Local"), render: c => c.local, width: "1.3fr" },
            { id: "remote", title: _("Remote"), render: c => c.remote, width: "1.3fr" },
            { id: "state", title: _("State"), render: c => c.state },
            { id: "keepalive", title: _("Keepalive"), render: c => c.keepalive ? _("on") : _("off"), width: "6em" },
            { id: "timer", title: _("Timer"), render: c => c.timer ? cockpit.format(_("$0 ms"), c.timer) : "—", sort: c => c.timer, num: true },
            { id: "probes", title: _("Probes"), render: c => String(c.probes), sort: c => c.probes, num: true, width: "5em" },
            { id: "retransmits", title: _("Retransmits"), render: c => String(c.retransmits), sort: c => c.retransmits, num: true },
            { id: "rtt", title: _("RTT"), render: c => rtt(c.rtt), sort: c => c.rtt, num: true },
        ], () => {});
        this.audit.key = c => c.index;
        this.node = el("section", { id: "keepalive", class: "view" },
                       el("div", { class: "columns" }, this.forms.map(f => f.node)),
                       el("h2", {}, _("Audit")),
                       el("div", { class: "toolbar" },
                          el("button", { class: "btn btn-secondary", id: "audit-run", onclick: () => this.runAudit() }, _("Audit connections"))),
                       this.auditAlerts, this.auditCounts, this.audit.node);
        this.forms.forEach(f => this.load(f));
    }

    form(scope) {
        const f = { scope, inputs: {}, alerts: el("div", {}), warning: el("div", { class: "fw-warning" }), values: {} };
        const fields = keys(scope).map(([key, label, type]) => {
            const input = el("input", type === "b" ? { type: "checkbox", name: key } : { type: "number", min: 0, name: key });
            f.inputs[key] = input;
            return el("label", { class: "field" }, el("span", {}, label), input);
        });
        f.persist = el("input", { type: "checkbox", name: "persist" });
        f.allow = el("input", { type: "checkbox", name: "allow-mismatch" });
        f.node = el("form", { class: "card keepalive-form", id: "keepalive-" + scope, onsubmit: ev => { ev.preventDefault(); this.apply(f) } },
                    el("h2", {}, scope === "hops" ? _("Hops") : _("Sessions")),
                    fields, f.warning,
                    el("label", { class: "field" }, el("span", {}, _("Keep after restart")), f.persist),
                    el("label", { class: "field" }, el("span", {}, _("Accept a firewall mismatch")), f.allow),
                    el("button", { class: "btn btn-primary", type: "submit" }, _("Apply")),
                    f.alerts);
        return f;
    }

    load(f) {
        return report(f.alerts, call(this.name, KEEPALIVE, "GetSettings", [f.scope]))
                .then(([settings]) => this.fill(f, settings))
                .catch(() => {});
    }

    fill(f, settings) {
        f.values = Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, v.v]));
        for (const [k, input] of Object.entries(f.inputs)) {
            if (input.type === "checkbox")
                input.checked = !!f.values[k];
            else
                input.value = f.values[k] ?? "";
        }
        const w = firewallWarning(f.values);
        f.warning.replaceChildren(w ? el("div", { class: "alert alert-warning", role: "alert" }, w) : "");
    }

    // Sends only what changed: missing keys keep their values.
    apply(f) {
        const changed = {};
        for (const [k, input] of Object.entries(f.inputs)) {
            const v = input.type === "checkbox" ? input.checked : Number(input.value);
            if (v !== f.values[k])
                changed[k] = input.type === "checkbox" ? { t: "b", v } : { t: "u", v };
        }
        if (Object.keys(changed).length === 0)
            return;
        report(f.alerts, call(this.name, KEEPALIVE, "SetSettings", [f.scope, changed, (f.persist.checked ? PERSIST : 0) | (f.allow.checked ? ALLOW_FIREWALL_MISMATCH : 0)]))
                .then(([warnings]) => this.load(f).then(() => {
                    if (warnings.length)
                        f.alerts.replaceChildren(el("div", { class: "alert alert-warning" }, warnings.join(" ")));
                }))
                .catch(() => {});
    }

    runAudit() {
        report(this.auditAlerts, call(this.name, KEEPALIVE, "Audit", []))
                .then(([conns]) => {
                    const rows = conns.map((c, index) => ({ index, ...Object.fromEntries(AUDIT.map((k, i) => [k, c[i]])) }));
                    const counts = new Map();
                    rows.forEach(r => counts.set(r.kind, (counts.get(r.kind) || 0) + 1));
                    this.auditCounts.replaceChildren(rows.length === 0
                        ? _("No connections.")
                        : [...counts].map(([k, n]) => cockpit.format("$0: $1", k, n)).join(", "));
                    this.audit.setRows(rows);
                })
                .catch(() => {});
    }
}
