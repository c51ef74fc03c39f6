// SPDX-License-Identifier: GPL-2.0-or-later
// Traces: define a trace of one remote address (and port), pause and
// resume it, show its packets, download them as pcap, delete it.  The
// interface has no signals: the list is read when the view opens, after
// every action and on request.

import { TRACE, call } from "./bus.js";
import { report } from "./errors.js";
import { pcapBlob } from "./pcap.js";
import { _, bytes, el } from "./util.js";

const SHOWN = 500; // the packets Show draws at most: the latest
const LIST = ["name", "address", "port", "size", "used", "packets", "wrap", "paused", "status"];

export class TracesView {
    constructor(entry) {
        this.name = entry.busName;
        this.alerts = el("div", {});
        this.body = el("tbody");
        this.packets = el("div", { id: "trace-packets" });
        const f = this.inputs = {
            name: el("input", { name: "name", required: true, maxlength: 32, pattern: "[A-Za-z0-9_.\\-]+" }),
            address: el("input", { name: "address", required: true }),
            port: el("input", { name: "port", type: "number", min: 0, max: 65535, value: 0 }),
            size: el("input", { name: "size", type: "number", min: 4096, max: 67108864, value: 1048576 }),
            wrap: el("input", { name: "wrap", type: "checkbox", checked: true }),
        };
        this.node = el("section", { id: "traces", class: "view" },
                       el("form", { class: "card inline-form", id: "trace-define", onsubmit: ev => { ev.preventDefault(); this.define() } },
                          el("label", { class: "field" }, el("span", {}, _("Name")), f.name),
                          el("label", { class: "field" }, el("span", {}, _("Remote address")), f.address),
                          el("label", { class: "field" }, el("span", {}, _("Port (0: all)")), f.port),
                          el("label", { class: "field" }, el("span", {}, _("Buffer (bytes)")), f.size),
                          el("label", { class: "field" }, el("span", {}, _("Overwrite oldest")), f.wrap),
                          el("button", { class: "btn btn-primary", type: "submit" }, _("Define trace"))),
                       el("div", { class: "toolbar" },
                          el("button", { class: "btn btn-secondary", id: "traces-refresh", onclick: () => this.load() }, _("Refresh"))),
                       this.alerts,
                       el("table", { class: "table", id: "traces-list" },
                          el("thead", {}, el("tr", {}, [_("Name"), _("Remote"), _("Buffer"), _("Packets"), _("Status"), ""].map(h => el("th", {}, h)))),
                          this.body),
                       this.packets);
        this.load();
    }

    act(promise) {
        return report(this.alerts, promise).then(() => this.load(), () => {});
    }

    load() {
        return report(this.alerts, call(this.name, TRACE, "List", []))
                .then(([traces]) => this.body.replaceChildren(...traces.map(t => this.row(Object.fromEntries(LIST.map((k, i) => [k, t[i]]))))))
                .catch(() => {});
    }

    define() {
        const f = this.inputs;
        this.act(call(this.name, TRACE, "Define", [f.name.value, f.address.value, Number(f.port.value), Number(f.size.value), f.wrap.checked]));
    }

    row(t) {
        const status = { EMPTY: _("empty"), ACTIVE: _("active"), FULL: _("full") }[t.status] || t.status;
        const btn = (id, label, fn) => el("button", { class: "btn btn-secondary btn-sm", "data-action": id, onclick: fn }, label);
        return el("tr", { "data-trace": t.name },
                  el("td", {}, t.name),
                  el("td", {}, t.port ? `${t.address} ${t.port}` : t.address),
                  el("td", { class: "num" }, `${bytes(t.used)} / ${bytes(t.size)}`),
                  el("td", { class: "num packets" }, String(t.packets)),
                  el("td", {}, t.paused ? cockpit.format(_("$0, paused"), status) : status),
                  el("td", { class: "actions" },
                     btn("pause", t.paused ? _("Resume") : _("Pause"), () => this.act(call(this.name, TRACE, "Pause", [t.name, !t.paused]))),
                     btn("show", _("Show"), () => this.show(t.name)),
                     btn("download", _("Download pcap"), () => this.download(t.name)),
                     btn("delete", _("Delete"), () => this.act(call(this.name, TRACE, "Delete", [t.name])))));
    }

    // A trace can hold hundreds of thousands of packets: the table has
    // the latest SHOWN of them, and the heading says how many there are
    // (the pcap download has them all).
    show(name) {
        report(this.alerts, call(this.name, TRACE, "Show", [name]))
                .then(([packets]) => this.packets.replaceChildren(
                    el("h3", {}, cockpit.format(_("Packets of $0"), name)),
                    el("p", { class: "muted", id: "packets-count", "data-count": String(packets.length) },
                       packets.length > SHOWN
                           ? cockpit.format(_("$0 packets; the latest $1 are shown."), packets.length, SHOWN)
                           : cockpit.format(cockpit.ngettext("$0 packet", "$0 packets", packets.length), packets.length)),
                    el("table", { class: "table", id: "packets-table" },
                       el("thead", {}, el("tr", {}, [_("Time"), _("Source"), _("Destination"), _("Flags"), _("Length")].map(h => el("th", {}, h)))),
                       el("tbody", {}, packets.slice(-SHOWN).map(p => el("tr", {},
                                                                          el("td", {}, new Date(p[0] / 1000).toISOString()),
                                                                          el("td", {}, `${p[1]} ${p[2]}`), el("td", {}, `${p[3]} ${p[4]}`),
                                                                          el("td", {}, p[5]), el("td", { class: "num" }, String(p[9]))))))))
                .catch(() => {});
    }

    // The blob URL is let go once the browser has had time to start
    // saving it, so repeated downloads do not keep every pcap in memory.
    download(name) {
        report(this.alerts, call(this.name, TRACE, "Show", [name]))
                .then(([packets]) => {
                    const url = URL.createObjectURL(pcapBlob(packets));
                    const a = el("a", { href: url, download: name + ".pcap" });
                    document.body.append(a);
                    a.click();
                    a.remove();
                    window.setTimeout(() => URL.revokeObjectURL(url), 30000);
                })
                .catch(() => {});
    }
}
