// SPDX-License-Identifier: GPL-2.0-or-later
// Statistics: the counters since the last clear, clearing them (manage),
// and a live chart of throughput and session rate.  Throughput comes from
// DataFlow("") intervals back to back (the daemon measures, the page
// waits for each reply: nothing polls), the session rate from
// SessionsChanged; the counters are read again after each of them.  The
// measuring pauses while the page is hidden (another Cockpit page or a
// background tab) and stops, showing why, after repeated errors that are
// not timeouts.

import { INSTANCE, call, subscribe } from "./bus.js";
import { Chart } from "./chart.js";
import { errorAlert, isAccessDenied, report } from "./errors.js";
import { _, bytes, debounce, el, since } from "./util.js";

const INTERVAL = 2; // seconds per throughput point
const MAX_ERRORS = 3; // failed DataFlow calls in a row before giving up

function isTimeout(err) {
    return err && (err.problem === "timeout" || err.name === "org.freedesktop.DBus.Error.Timeout" ||
                   err.name === "org.freedesktop.DBus.Error.NoReply");
}

export class Statistics {
    constructor(entry) {
        this.name = entry.busName;
        this.alive = true;
        this.running = false; // a DataFlow call or its retry is pending
        this.errors = 0;
        this.opened = 0;
        this.alerts = el("div", {});
        this.flowAlerts = el("div", {});
        this.clearAlerts = el("div", {});
        this.cleared = el("p", { class: "muted", id: "stats-cleared" });
        this.body = el("tbody");
        this.chart = new Chart("throughput-chart", [
            { name: _("Throughput"), class: "series-a" },
            { name: _("Sessions opened per second"), class: "series-b" },
        ], [v => bytes(Math.round(v)) + "/s", v => v.toFixed(1)]);
        this.node = el("section", { id: "statistics", class: "view" },
                       this.chart.node, this.flowAlerts,
                       el("div", { class: "toolbar" },
                          el("button", { class: "btn btn-secondary", id: "stats-clear", onclick: () => this.clear() }, _("Clear statistics"))),
                       this.clearAlerts, this.alerts, this.cleared,
                       el("table", { class: "table narrow", id: "counters" },
                          el("thead", {}, el("tr", {}, el("th", {}, _("Counter")), el("th", { class: "num" }, _("Value")))),
                          this.body));
        this.refresh = debounce(() => this.fetch(), 200);
        this.sub = subscribe(this.name, INSTANCE, "SessionsChanged", ([opened]) => { this.opened += opened; this.refresh() });
        this.visibility = () => this.measure();
        document.addEventListener("visibilitychange", this.visibility);
        this.fetch();
        this.measure();
    }

    destroy() {
        this.alive = false;
        document.removeEventListener("visibilitychange", this.visibility);
        this.sub.remove();
    }

    fetch() {
        report(this.alerts, call(this.name, INSTANCE, "GetStatistics", []))
                .then(([counters, cleared]) => this.show(counters, cleared))
                .catch(() => {});
    }

    show(counters, cleared) {
        this.cleared.textContent = cockpit.format(_("Counting since $0"), since(cleared));
        const rows = Object.keys(counters).sort().map(k => {
            const v = counters[k].v;
            const text = typeof v === "object" ? Object.entries(v).map(([e, n]) => `${e}: ${n}`).join(", ") || "—" : String(v);
            return el("tr", { "data-counter": k }, el("td", {}, k), el("td", { class: "num" }, text));
        });
        this.body.replaceChildren(...rows);
    }

    // One DataFlow interval after the other while the view is shown and
    // the page visible; visibilitychange starts it again.
    measure() {
        if (!this.alive || this.running || document.hidden || this.errors >= MAX_ERRORS)
            return;
        this.running = true;
        call(this.name, INSTANCE, "DataFlow", ["", INTERVAL], { timeout: (INTERVAL + 15) * 1000 })
                .then(([sent, received]) => {
                    this.running = false;
                    this.errors = 0;
                    this.flowAlerts.replaceChildren();
                    this.chart.push([(sent + received) / INTERVAL, this.opened / INTERVAL]);
                    this.opened = 0;
                    this.fetch();
                    this.measure();
                })
                .catch(err => {
                    // A timeout: try again; no access, or other errors
                    // several times in a row: stop and say why.
                    if (!this.alive)
                        return;
                    if (isAccessDenied(err))
                        this.errors = MAX_ERRORS;
                    else if (!isTimeout(err))
                        this.errors++;
                    if (this.errors >= MAX_ERRORS) {
                        this.running = false;
                        this.flowAlerts.replaceChildren(errorAlert(err));
                        return;
                    }
                    window.setTimeout(() => { this.running = false; this.measure() }, INTERVAL * 1000);
                });
    }

    clear() {
        report(this.clearAlerts, call(this.name, INSTANCE, "ClearStatistics", []))
                .then(([, , cleared]) => { this.show({}, cleared); this.fetch() })
                .catch(() => {});
    }
}
