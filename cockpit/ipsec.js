// SPDX-License-Identifier: GPL-2.0-or-later
// IPsec: check a proposed SPI against the kernel's SAs, scan for
// colliding SPIs, and a notification for every ConflictDetected signal
// of any instance on the host.

import { IPSEC, call, client, subscribe } from "./bus.js";
import { report } from "./errors.js";
import { _, el } from "./util.js";

function kindName(k) {
    return { "same-destination": _("same destination: the kernel refuses the second SA"),
        "other-tunnel": _("used by another tunnel") }[k] || k;
}

function hex(spi) {
    return "0x" + spi.toString(16).padStart(8, "0");
}

// Proposed SPIs may be written in decimal or as 0x hex.
function parseSpi(text) {
    const t = text.trim();
    return /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^[0-9]+$/.test(t) ? Number(t) : NaN;
}

export class IpsecView {
    constructor(entry) {
        this.name = entry.busName;
        this.alerts = el("div", {});
        this.result = el("div", { id: "spi-result" });
        this.scan = el("div", { id: "conflicts" });
        this.spi = el("input", { name: "spi", required: true, placeholder: "0x1234" });
        this.dest = el("input", { name: "destination", required: true });
        this.proto = el("select", { name: "protocol" }, ["esp", "ah", "comp"].map(p => el("option", { value: p }, p.toUpperCase())));
        this.node = el("section", { id: "ipsec", class: "view" },
                       el("form", { class: "card inline-form", id: "spi-check", onsubmit: ev => { ev.preventDefault(); this.check() } },
                          el("label", { class: "field" }, el("span", {}, _("SPI")), this.spi),
                          el("label", { class: "field" }, el("span", {}, _("Destination")), this.dest),
                          el("label", { class: "field" }, el("span", {}, _("Protocol")), this.proto),
                          el("button", { class: "btn btn-primary", type: "submit" }, _("Check SPI"))),
                       this.alerts, this.result,
                       el("div", { class: "toolbar" },
                          el("button", { class: "btn btn-secondary", id: "conflicts-scan", onclick: () => this.findConflicts() }, _("Scan for conflicts"))),
                       this.scan);
    }

    check() {
        const spi = parseSpi(this.spi.value);
        report(this.alerts, call(this.name, IPSEC, "CheckSpi", [isNaN(spi) ? 0 : spi, this.dest.value.trim(), this.proto.value]))
                .then(([conflicts]) => this.result.replaceChildren(conflicts.length === 0
                    ? el("div", { class: "alert alert-success", "data-free": "1" }, cockpit.format(_("SPI $0 is free."), hex(spi)))
                    : el("div", { class: "alert alert-danger", "data-conflicts": String(conflicts.length) },
                         el("strong", { class: "alert-title" }, cockpit.format(cockpit.ngettext("SPI $0 collides with $1 SA:", "SPI $0 collides with $1 SAs:", conflicts.length), hex(spi), conflicts.length)),
                         el("ul", {}, conflicts.map(([s, proto, src, dst, mode, kind]) =>
                             el("li", { class: "conflict" }, cockpit.format("$0 $1 $2 → $3 ($4): $5", hex(s), proto, src, dst, mode, kindName(kind))))))))
                .catch(() => this.result.replaceChildren());
    }

    findConflicts() {
        report(this.alerts, call(this.name, IPSEC, "FindConflicts", []))
                .then(([groups]) => this.scan.replaceChildren(groups.length === 0
                    ? el("p", { "data-free": "1" }, _("No SPI collides with another."))
                    : el("ul", {}, groups.map(([spi, kind, sas]) => el("li", { class: "conflict-group" },
                                                                       cockpit.format("$0: $1", hex(spi), kindName(kind)),
                                                                       el("ul", {}, sas.map(([p, s, d]) => el("li", {}, `${p} ${s} → ${d}`))))))))
                .catch(() => this.scan.replaceChildren());
    }
}

// A notification for every ConflictDetected of every instance, whichever
// view is shown.  An instance that restarts comes back with a new client
// (bus.js drops the old one when its name goes), so a subscription is
// kept with the client it was made on and made again on a new one; names
// that are gone lose theirs.
function drop(s) {
    try {
        s.sub.remove();
    } catch (e) {
        // its client is closed already
    }
}

export function watchConflicts(instances, toast) {
    const subs = new Map(); // bus name -> {c, sub}
    instances.addEventListener("changed", () => {
        const live = new Set();
        for (const e of instances.list()) {
            if (!e.busName)
                continue;
            live.add(e.busName);
            const c = client(e.busName);
            const s = subs.get(e.busName);
            if (s && s.c === c)
                continue;
            if (s)
                drop(s);
            subs.set(e.busName, { c, sub: subscribe(e.busName, IPSEC, "ConflictDetected", ([spi, proto, src, dst, kind]) =>
                toast(cockpit.format(_("$0: SPI conflict: $1 $2 $3 → $4, $5"), e.key, hex(spi), proto, src, dst, kindName(kind)),
                      "warning", `${e.key} ${spi}`)) });
        }
        for (const [name, s] of subs) {
            if (!live.has(name)) {
                drop(s);
                subs.delete(name);
            }
        }
    });
}
