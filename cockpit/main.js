// SPDX-License-Identifier: GPL-2.0-or-later
// The page: the overview at #/ and one instance with its views at
// #/ROLE@INSTANCE/VIEW (cockpit.location), and the notifications.

import { Chain } from "./chain.js";
import { EventsView } from "./events.js";
import { Instances } from "./instances.js";
import { IpsecView, watchConflicts } from "./ipsec.js";
import { KeepaliveView } from "./keepalive.js";
import { Overview, roleName, stateName } from "./overview.js";
import { Sessions } from "./sessions.js";
import { Statistics } from "./stats.js";
import { Systemd } from "./systemd.js";
import { TracesView } from "./traces.js";
import { _, el } from "./util.js";

const VIEWS = [
    ["chain", () => _("Chain"), Chain],
    ["sessions", () => _("Sessions"), Sessions],
    ["statistics", () => _("Statistics"), Statistics],
    ["keepalive", () => _("Keepalive"), KeepaliveView],
    ["traces", () => _("Traces"), TracesView],
    ["ipsec", () => _("IPsec"), IpsecView],
    ["events", () => _("Events"), EventsView],
];

function confdir() {
    const m = cockpit.manifests && cockpit.manifests.tfst;
    return (m && m.config && m.config.confdir) || "/etc/tfst";
}

// At most TOAST_MAX notifications are shown, the oldest going first; one
// with the same key as a shown one (a conflict repeating up to ten times
// a second) counts up on that one instead of adding another.  Each goes
// away by itself TOAST_MS after its last repeat.
const TOAST_MAX = 5;
const TOAST_MS = 15000;

export function toast(text, kind, key) {
    const box = document.getElementById("toasts");
    let t = key ? [...box.children].find(c => c.dataset.key === key) : null;
    if (t) {
        const n = Number(t.dataset.count) + 1;
        t.dataset.count = String(n);
        t.querySelector(".toast-text").textContent = text;
        t.querySelector(".toast-count").textContent = cockpit.format("×$0", n);
        clearTimeout(t.timer);
        box.append(t);
    } else {
        t = el("div", { class: "alert alert-" + (kind || "warning") + " toast", role: "status", "data-count": "1" },
               el("span", { class: "toast-text" }, text),
               el("span", { class: "toast-count badge" }),
               el("button", { class: "btn-close", "aria-label": _("Close"), onclick: () => { clearTimeout(t.timer); t.remove() } }, "×"));
        if (key)
            t.dataset.key = key;
        box.append(t);
        while (box.children.length > TOAST_MAX) {
            clearTimeout(box.firstElementChild.timer);
            box.firstElementChild.remove();
        }
    }
    t.timer = setTimeout(() => t.remove(), TOAST_MS);
}

class Page {
    constructor() {
        this.app = document.getElementById("app");
        this.systemd = new Systemd();
        this.instances = new Instances(confdir(), this.systemd);
        this.current = null; // the view shown: {key, tab, view}
        this.instances.addEventListener("changed", () => this.instanceChanged());
        cockpit.addEventListener("locationchanged", () => this.route());
    }

    start() {
        document.title = _("Firewall chains");
        this.instances.start();
        watchConflicts(this.instances, toast);
        this.route();
    }

    route() {
        const [key, tab] = cockpit.location.path;
        if (this.current && this.current.key === (key || null) && this.current.tab === (tab || "chain"))
            return;
        if (this.current && this.current.view.destroy)
            this.current.view.destroy();
        if (!key)
            this.showOverview();
        else
            this.showInstance(key, tab || "chain");
    }

    showOverview() {
        const view = new Overview(this.instances, this.systemd, key => cockpit.location.go([key, "chain"]));
        this.current = { key: null, tab: "chain", view };
        this.app.replaceChildren(el("h1", {}, _("Firewall chains")), view.node);
        view.render();
    }

    showInstance(key, tab) {
        const entry = this.instances.get(key);
        const header = el("header", { class: "instance-header" });
        const body = el("div", { class: "instance-body" });
        const nav = el("nav", { class: "tabs", role: "tablist" },
                       VIEWS.map(([id, label]) => el("a", {
                           href: "#", role: "tab", "data-tab": id, "aria-selected": id === tab ? "true" : "false",
                           onclick: ev => { ev.preventDefault(); cockpit.location.go([key, id]) }
                       }, label())));
        this.app.replaceChildren(header, nav, body);
        const View = (VIEWS.find(v => v[0] === tab) || VIEWS[0])[2];
        const view = entry && entry.busName ? new View(entry) : null;
        this.current = { key, tab, view: view || {}, entry, header, body, busName: entry && entry.busName };
        this.renderHeader();
        if (view)
            body.replaceChildren(view.node);
        else
            body.replaceChildren(el("p", { class: "muted", id: "not-running" }, _("This instance is not running.")));
    }

    renderHeader() {
        const c = this.current;
        const e = this.instances.get(c.key);
        const p = e && e.proxy;
        c.header.replaceChildren(
            el("a", { href: "#", class: "back", onclick: ev => { ev.preventDefault(); cockpit.location.go([]) } }, _("Instances")),
            el("h1", {}, c.key),
            e ? el("span", { class: "muted" }, roleName(e.role)) : null,
            p ? el("span", { class: "pill", id: "instance-label" }, p.Label) : null,
            el("span", { class: "pill", id: "instance-state" }, stateName(p ? p.State : "stopped")));
    }

    // An instance that starts or stops while shown gets its view made
    // again; otherwise only the header follows.
    instanceChanged() {
        const c = this.current;
        if (!c || c.key === null)
            return;
        const e = this.instances.get(c.key);
        const busName = e && e.busName;
        if (busName !== c.busName) {
            if (c.view.destroy)
                c.view.destroy();
            this.current = null;
            this.route();
            return;
        }
        this.renderHeader();
    }
}

// The calls use superuser "try": when the user turns administrative
// access on or off in Cockpit's top bar, the page starts again so that
// every channel is opened anew with the new privileges (as Cockpit's own
// pages do with superuser.reload_page_on_change()).
function reloadOnSuperuserChange() {
    const proxy = cockpit.dbus(null, { bus: "internal" }).proxy("cockpit.Superuser", "/superuser");
    let current = null;
    proxy.addEventListener("changed", () => {
        if (proxy.Current === "init")
            return;
        if (current !== null && proxy.Current !== current)
            window.location.reload();
        current = proxy.Current;
    });
}

cockpit.transport.wait(() => {
    reloadOnSuperuserChange();
    new Page().start();
});
