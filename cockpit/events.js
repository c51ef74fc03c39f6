// SPDX-License-Identifier: GPL-2.0-or-later
// Events: the event sinks of the instance with their counters and spool
// use, clearing the counters and flushing (manage).  The Events interface
// has no signals: the view reads GetSinks() when it opens, after an
// action and on request.

import { EVENTS, call } from "./bus.js";
import { report } from "./errors.js";
import { _, bytes, el, unvariant } from "./util.js";

const COUNTERS = ["Received", "Spooled", "Forwarded", "Resent", "Acknowledged", "Delivered", "Duplicates"];

function roleName(r) {
    return { collect: _("collects"), deliver: _("delivers"), relay: _("relays") }[r] || r;
}

export class EventsView {
    constructor(entry) {
        this.name = entry.busName;
        this.alerts = el("div", {});
        this.list = el("div", { id: "sinks" });
        this.node = el("section", { id: "events", class: "view" },
                       el("div", { class: "toolbar" },
                          el("button", { class: "btn btn-secondary", id: "events-refresh", onclick: () => this.load() }, _("Refresh")),
                          el("button", { class: "btn btn-secondary", id: "events-flush", onclick: () => this.act("Flush", [""]) }, _("Flush")),
                          el("button", { class: "btn btn-secondary", id: "events-clear", onclick: () => this.act("ClearStatistics", []) }, _("Clear counters"))),
                       this.alerts, this.list);
        this.load();
    }

    act(method, args) {
        report(this.alerts, call(this.name, EVENTS, method, args)).then(() => this.load(), () => {});
    }

    load() {
        report(this.alerts, call(this.name, EVENTS, "GetSinks", []))
                .then(([sinks]) => this.list.replaceChildren(sinks.length === 0
                    ? el("p", { class: "muted" }, _("This instance has no event sinks."))
                    : el("div", {}, sinks.map(s => sinkCard(unvariant(s))))))
                .catch(() => {});
    }
}

function sinkCard(s) {
    const rows = COUNTERS.filter(k => k in s).map(k => el("tr", {}, el("td", {}, k), el("td", { class: "num" }, String(s[k]))));
    if ("SpoolCapacity" in s) {
        const pct = s.SpoolCapacity ? Math.round(100 * s.SpoolBytes / s.SpoolCapacity) : 0;
        rows.push(el("tr", { "data-counter": "spool" }, el("td", {}, _("Spool use")),
                     el("td", { class: "num" }, cockpit.format(_("$0 events, $1 of $2 ($3 %)"), s.SpoolEvents,
                                                               bytes(s.SpoolBytes), bytes(s.SpoolCapacity), pct))));
    }
    const dropped = Object.entries(s.Dropped || {}).map(([why, n]) => `${why}: ${n}`).join(", ");
    return el("div", { class: "card sink", "data-sink": s.Name },
              el("h3", {}, s.Origin ? `${s.Name} (${s.Origin})` : s.Name, " ", el("span", { class: "muted" }, roleName(s.Role))),
              s.Target ? el("p", {}, cockpit.format(_("Target $0: $1"), s.Target, s.TargetState || "—"), s.TargetError ? " " + s.TargetError : "") : null,
              el("table", { class: "table narrow" }, el("tbody", {}, rows)),
              dropped ? el("p", { class: "error-text" }, cockpit.format(_("Dropped: $0"), dropped)) : null);
}
