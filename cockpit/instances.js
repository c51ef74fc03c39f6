// SPDX-License-Identifier: GPL-2.0-or-later
// Every tfst instance on the host, from three sources, all followed live:
// - the bus: names with the prefix org.tfst.Tfst1. (NameOwnerChanged),
//   each with a proxy of org.tfst.Tfst1.Instance (PropertiesChanged);
// - the configuration directory: ROLE@INSTANCE.conf files (an fslist1
//   channel with watch), so stopped instances are listed too;
// - systemd: the loaded tfst-ROLE@INSTANCE.service units (systemd.js).

import { BUS_PREFIX, INSTANCE, OBJ, ROLES, client, dropClient, unitName } from "./bus.js";
import { debounce } from "./util.js";

const CONF_RE = /^(epproxy|gwproxy|relay)@(.+)\.conf$/;
const UNIT_RE = /^tfst-(epproxy|gwproxy|relay)@(.+)\.service$/;

export class Instances extends EventTarget {
    constructor(confdir, systemd) {
        super();
        this.confdir = confdir;
        this.systemd = systemd;
        this.byName = new Map(); // bus name -> proxy (valid once Role is known)
        this.configured = new Set(); // "role@instance"
        this.changed = debounce(() => this.dispatchEvent(new Event("changed")), 50);
        systemd.addEventListener("changed", () => this.changed());
    }

    start() {
        const dbus = cockpit.dbus("org.freedesktop.DBus", { bus: "system" });
        dbus.subscribe({ interface: "org.freedesktop.DBus", member: "NameOwnerChanged" },
                       (path, iface, sig, [name, , owner]) => this.nameChanged(name, owner));
        dbus.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames", [])
                .then(([names]) => names.forEach(n => this.nameChanged(n, "x")));
        this.watchConfig();
        this.systemd.start();
    }

    nameChanged(name, owner) {
        if (!name.startsWith(BUS_PREFIX) || name.split(".").length !== 4)
            return;
        if (owner === "") {
            this.byName.delete(name);
            dropClient(name);
        } else if (!this.byName.has(name)) {
            const proxy = client(name).proxy(INSTANCE, OBJ);
            this.byName.set(name, proxy);
            proxy.addEventListener("changed", this.changed);
            proxy.wait(this.changed);
        }
        this.changed();
    }

    watchConfig() {
        const ch = cockpit.channel({ payload: "fslist1", path: this.confdir, watch: true });
        ch.addEventListener("message", (ev, data) => {
            const msg = JSON.parse(data);
            const base = (msg.path || "").split("/").pop();
            const m = CONF_RE.exec(base);
            if (!m)
                return;
            if (msg.event === "deleted")
                this.configured.delete(`${m[1]}@${m[2]}`);
            else if (msg.event === "present" || msg.event === "created")
                this.configured.add(`${m[1]}@${m[2]}`);
            this.systemd.track(unitName(m[1], m[2]));
            this.changed();
        });
    }

    // The instances, sorted by role (from the endpoint proxy down) and
    // name: {key, role, instance, unit, busName, proxy, configured, unitProxy}.
    list() {
        const map = new Map();
        const entry = (role, instance) => {
            const key = `${role}@${instance}`;
            if (!map.has(key)) {
                const unit = unitName(role, instance);
                map.set(key, { key, role, instance, unit, busName: null, proxy: null,
                               configured: this.configured.has(key),
                               unitProxy: this.systemd.unit(unit) });
            }
            return map.get(key);
        };
        for (const key of this.configured)
            entry(...splitKey(key));
        for (const unit of this.systemd.loadedUnits()) {
            const m = UNIT_RE.exec(unit);
            if (m)
                entry(m[1], m[2]);
        }
        for (const [name, proxy] of this.byName) {
            if (!proxy.valid || !proxy.Role)
                continue;
            const e = entry(proxy.Role, proxy.Instance);
            e.busName = name;
            e.proxy = proxy;
        }
        return [...map.values()].sort(compare);
    }

    get(key) {
        return this.list().find(e => e.key === key) || null;
    }
}

function splitKey(key) {
    const at = key.indexOf("@");
    return [key.slice(0, at), key.slice(at + 1)];
}

function compare(a, b) {
    const r = ROLES.indexOf(a.role) - ROLES.indexOf(b.role);
    return r !== 0 ? r : a.instance.localeCompare(b.instance, undefined, { numeric: true });
}
