// SPDX-License-Identifier: GPL-2.0-or-later
// Overview: every instance on the host with role, label, state and
// sessions, and its unit's state with start, stop, restart and enable
// through systemd.

import { report } from "./errors.js";
import { _, el } from "./util.js";

export function roleName(role) {
    return { epproxy: _("Endpoint proxy"), relay: _("Relay"), gwproxy: _("Gateway proxy") }[role] || role;
}

export function stateName(state) {
    const names = {
        starting: _("Starting"), connecting: _("Connecting"), running: _("Running"),
        degraded: _("Degraded"), reloading: _("Reloading"), stopping: _("Stopping"),
        stopped: _("Stopped"),
    };
    return names[state] || state;
}

export class Overview {
    constructor(instances, systemd, open) {
        this.instances = instances;
        this.systemd = systemd;
        this.open = open;
        this.alerts = el("div", { id: "overview-alerts" });
        this.body = el("tbody");
        this.node = el("section", { id: "overview", class: "view" },
                       el("h2", {}, _("Instances")),
                       el("div", { id: "systemd-status" }),
                       this.alerts,
                       el("table", { class: "table", id: "instances" },
                          el("thead", {}, el("tr", {},
                                             [_("Instance"), _("Role"), _("Label"), _("State"),
                                                 _("Sessions"), _("Unit"), ""].map(h => el("th", {}, h)))),
                          this.body),
                       el("p", { class: "muted", id: "instances-empty", hidden: true },
                          _("No tfst instance is configured or running on this host.")));
        this.update = () => this.render();
        instances.addEventListener("changed", this.update);
    }

    destroy() {
        this.instances.removeEventListener("changed", this.update);
    }

    render() {
        const list = this.instances.list();
        this.renderSystemd();
        this.body.replaceChildren(...list.map(e => this.row(e)));
        this.node.querySelector("#instances-empty").hidden = list.length > 0;
    }

    renderSystemd() {
        const box = this.node.querySelector("#systemd-status");
        if (this.systemd.state !== "unreachable") {
            box.replaceChildren();
            return;
        }
        box.replaceChildren(el("div", { class: "alert alert-info", id: "systemd-unreachable" },
                               el("strong", { class: "alert-title" }, _("systemd not reachable")),
                               el("span", {}, _("Instances can not be started or stopped from here; running instances are listed from the bus, stopped ones from the configuration files."))));
    }

    row(e) {
        const p = e.proxy;
        const state = p ? p.State : "stopped";
        const link = el("a", { href: "#", class: "instance-link", onclick: ev => { ev.preventDefault(); this.open(e.key) } }, e.key);
        return el("tr", { "data-key": e.key, "data-state": state },
                  el("td", {}, link),
                  el("td", {}, roleName(e.role)),
                  el("td", { class: "label" }, p ? p.Label : ""),
                  el("td", { class: "state" }, el("span", { class: "state-" + state }, stateName(state))),
                  el("td", { class: "num sessions" }, p ? String(p.SessionCount) : "—"),
                  el("td", { class: "unit" }, this.unitText(e)),
                  el("td", { class: "actions" }, this.actions(e)));
    }

    unitText(e) {
        const u = e.unitProxy;
        if (!u)
            return this.systemd.state === "reachable" ? _("not loaded") : "—";
        return cockpit.format("$0 ($1)", u.ActiveState, this.systemd.fileState(e.unit) || "-");
    }

    actions(e) {
        const usable = this.systemd.state === "reachable";
        const active = e.unitProxy ? ["active", "activating", "reloading"].includes(e.unitProxy.ActiveState) : !!e.proxy;
        const buttons = [
            ["start", _("Start"), !active],
            ["stop", _("Stop"), active],
            ["restart", _("Restart"), true],
            ["enable", _("Enable"), this.systemd.fileState(e.unit) !== "enabled"],
        ];
        return buttons.filter(b => b[2]).map(([action, label]) =>
            el("button", {
                class: "btn btn-secondary btn-sm", "data-action": action, disabled: !usable,
                title: usable ? null : _("systemd not reachable"),
                onclick: () => report(this.alerts, this.systemd.run(action, e.unit)).catch(() => {})
            }, label));
    }
}
