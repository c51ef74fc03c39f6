// SPDX-License-Identifier: GPL-2.0-or-later
// Sessions: ListSessions() in a virtualised table, sortable and
// filterable, read again when SessionsChanged says sessions came or went
// (at most once a second); a session's data flow measured on request,
// and closing it (manage).

import { INSTANCE, call, subscribe } from "./bus.js";
import { report } from "./errors.js";
import { VirtualTable } from "./vtable.js";
import { _, bytes, debounce, duration, el } from "./util.js";

const FIELDS = ["id", "forward", "direction", "client", "target", "state",
    "bytes_to_target", "bytes_to_client", "age", "idle"];

function directionName(d) {
    return { upcall: _("upcall"), downcall: _("downcall") }[d] || d;
}

export class Sessions {
    constructor(entry) {
        this.name = entry.busName;
        this.all = [];
        this.alerts = el("div", {});
        this.count = el("span", { id: "sessions-count", class: "muted" });
        this.filter = el("input", { type: "search", id: "sessions-filter", placeholder: _("Filter by forward, peer, state…"), oninput: () => this.show() });
        this.direction = el("select", { id: "sessions-direction", onchange: () => this.show() },
                            el("option", { value: "" }, _("All directions")),
                            el("option", { value: "upcall" }, directionName("upcall")),
                            el("option", { value: "downcall" }, directionName("downcall")));
        this.table = new VirtualTable("sessions-table", [
            { id: "id", title: _("ID"), render: s => String(s.id), sort: s => s.id, num: true, width: "6em" },
            { id: "forward", title: _("Forward"), render: s => s.forward },
            { id: "direction", title: _("Direction"), render: s => directionName(s.direction), width: "7em" },
            { id: "client", title: _("Client"), render: s => s.client, width: "1.4fr" },
            { id: "target", title: _("Target"), render: s => s.target, width: "1.4fr" },
            { id: "state", title: _("State"), render: s => s.state },
            { id: "to_target", title: _("To target"), render: s => bytes(s.bytes_to_target), sort: s => s.bytes_to_target, num: true },
            { id: "to_client", title: _("To client"), render: s => bytes(s.bytes_to_client), sort: s => s.bytes_to_client, num: true },
            { id: "age", title: _("Age"), render: s => duration(s.age), sort: s => s.age, num: true, width: "6em" },
            { id: "idle", title: _("Idle"), render: s => duration(s.idle), sort: s => s.idle, num: true, width: "6em" },
        ], s => this.select(s));
        this.detail = el("div", { id: "session-detail", class: "card", hidden: true });
        this.node = el("section", { id: "sessions", class: "view" },
                       el("div", { class: "toolbar" }, this.filter, this.direction, this.count),
                       this.alerts, this.table.node, this.detail);
        this.refresh = debounce(() => this.fetch(), 200);
        this.sub = subscribe(this.name, INSTANCE, "SessionsChanged", this.refresh);
        this.fetch();
    }

    destroy() {
        this.sub.remove();
    }

    fetch() {
        const t0 = performance.now();
        report(this.alerts, call(this.name, INSTANCE, "ListSessions", [{}]))
                .then(([list]) => {
                    const t1 = performance.now();
                    this.all = list.map(s => Object.fromEntries(FIELDS.map((f, i) => [f, s[i]])));
                    this.show();
                    // How long the reply took to reach the table, for the
                    // 10 000-session measurement in docs/cockpit.md.
                    this.node.dataset.fetchMs = (t1 - t0).toFixed(1);
                    this.node.dataset.renderMs = (performance.now() - t1).toFixed(1);
                    this.node.dataset.loaded = String(this.all.length);
                })
                .catch(() => {});
    }

    show() {
        const q = this.filter.value.trim().toLowerCase();
        const dir = this.direction.value;
        const rows = this.all.filter(s => (!dir || s.direction === dir) &&
            (!q || [s.forward, s.client, s.target, s.state, String(s.id)].some(v => v.toLowerCase().includes(q))));
        this.table.setRows(rows);
        this.count.textContent = cockpit.format(cockpit.ngettext("$0 session", "$0 sessions", this.all.length), this.all.length) +
            (rows.length !== this.all.length ? " " + cockpit.format(_("($0 shown)"), rows.length) : "");
    }

    select(s) {
        const result = el("div", { id: "dataflow-result" });
        const alerts = el("div", {});
        const measure = el("button", {
            class: "btn btn-secondary", id: "dataflow-measure",
            onclick: () => {
                measure.disabled = true;
                result.textContent = _("Measuring for 5 seconds…");
                report(alerts, call(this.name, INSTANCE, "DataFlow", [String(s.id), 5], { timeout: 20000 }))
                        .then(([sent, received]) => {
                            result.textContent = cockpit.format(_("To target: $0/s, to client: $1/s"),
                                                                bytes(Math.round(sent / 5)), bytes(Math.round(received / 5)));
                        })
                        .catch(() => result.replaceChildren())
                        .finally(() => { measure.disabled = false });
            }
        }, _("Measure data flow"));
        const close = el("button", {
            class: "btn btn-danger", id: "session-close",
            onclick: () => report(alerts, call(this.name, INSTANCE, "CloseSession", [s.id])).catch(() => {})
        }, _("Close session"));
        this.detail.hidden = false;
        this.detail.replaceChildren(
            el("h3", {}, cockpit.format(_("Session $0"), s.id)),
            el("p", {}, cockpit.format("$0 → $1 ($2, $3)", s.client, s.target, s.forward, directionName(s.direction))),
            el("div", { class: "toolbar" }, measure, close), alerts, result);
    }
}
