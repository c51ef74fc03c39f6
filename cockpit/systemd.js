// SPDX-License-Identifier: GPL-2.0-or-later
// The tfst units through systemd's D-Bus API: which are loaded and in
// what state (live: Subscribe() makes systemd send PropertiesChanged),
// and start, stop, restart, enable.  When systemd is not on the bus
// (a container without it, the tests' private bus) reachable() is false
// and the page says so instead of offering the actions.

const SD = "org.freedesktop.systemd1";
const SD_PATH = "/org/freedesktop/systemd1";
const MANAGER = "org.freedesktop.systemd1.Manager";
const UNIT = "org.freedesktop.systemd1.Unit";
const TFST_UNIT_RE = /^tfst-(epproxy|relay|gwproxy)@.+\.service$/;

export class Systemd extends EventTarget {
    constructor() {
        super();
        this.state = "connecting"; // "connecting", "reachable", "unreachable"
        this.error = null;
        this.units = new Map(); // unit name -> cockpit proxy of its Unit interface
        this.wanted = new Set(); // units asked for before systemd answered
        // UnitFileState as of the last UnitFilesChanged: systemd sends no
        // PropertiesChanged for it when a unit is enabled or disabled.
        this.fileStates = new Map();
        this.client = cockpit.dbus(SD, { bus: "system", superuser: "try" });
    }

    changed() {
        this.dispatchEvent(new Event("changed"));
    }

    start() {
        this.client.call(SD_PATH, MANAGER, "Subscribe", [])
                .then(() => {
                    this.state = "reachable";
                    // systemd announces every unit loaded on the host;
                    // only tfst's are looked up and drawn again.
                    this.client.subscribe({ interface: MANAGER, member: "UnitNew" },
                                          (path, iface, sig, [id]) => {
                                              if (TFST_UNIT_RE.test(id))
                                                  this.refresh();
                                          });
                    this.client.subscribe({ interface: MANAGER, member: "UnitFilesChanged" },
                                          () => this.refreshFileStates());
                    this.wanted.forEach(u => this.track(u));
                    return this.refresh();
                })
                .catch(err => {
                    this.state = "unreachable";
                    this.error = err;
                    this.changed();
                });
    }

    // Every loaded tfst unit; calls track() for each.
    refresh() {
        return this.client.call(SD_PATH, MANAGER, "ListUnitsByPatterns", [[], ["tfst-*@*.service"]])
                .then(([units]) => {
                    for (const u of units)
                        this.track(u[0]);
                    this.changed();
                });
    }

    // A live proxy for unit (loading it, so a configured but stopped
    // instance shows its unit file state too).
    track(unit) {
        if (this.state !== "reachable") {
            this.wanted.add(unit);
            return;
        }
        if (this.units.has(unit))
            return;
        this.units.set(unit, null);
        this.client.call(SD_PATH, MANAGER, "LoadUnit", [unit])
                .then(([path]) => {
                    const proxy = this.client.proxy(UNIT, path);
                    this.units.set(unit, proxy);
                    proxy.addEventListener("changed", () => this.changed());
                    return proxy.wait(() => this.changed());
                })
                .catch(() => this.units.delete(unit));
    }

    refreshFileStates() {
        for (const unit of this.units.keys()) {
            this.client.call(SD_PATH, MANAGER, "GetUnitFileState", [unit])
                    .then(([state]) => {
                        this.fileStates.set(unit, state);
                        this.changed();
                    })
                    .catch(() => {});
        }
    }

    // enabled, disabled, static, ...
    fileState(unit) {
        const p = this.unit(unit);
        return this.fileStates.get(unit) || (p && p.UnitFileState) || "";
    }

    unit(unit) {
        const p = this.units.get(unit);
        return p && p.valid ? p : null;
    }

    loadedUnits() {
        return [...this.units.keys()];
    }

    // action: "start", "stop", "restart" or "enable".
    run(action, unit) {
        const c = this.client;
        if (action === "enable") {
            return c.call(SD_PATH, MANAGER, "EnableUnitFiles", [[unit], false, false])
                    .then(() => c.call(SD_PATH, MANAGER, "Reload", []));
        }
        const method = { start: "StartUnit", stop: "StopUnit", restart: "RestartUnit" }[action];
        return c.call(SD_PATH, MANAGER, method, [unit, "replace"]);
    }
}
