// SPDX-License-Identifier: GPL-2.0-or-later
// The tfst D-Bus API as the page uses it: names, interfaces, and one
// cockpit.dbus client per instance on the system bus.  superuser "try"
// makes the calls as root once the user turned on administrative access
// in Cockpit, and as the user otherwise; polkit decides either way.

export const BUS_PREFIX = "org.tfst.Tfst1.";
export const OBJ = "/org/tfst/Tfst1";
export const INSTANCE = "org.tfst.Tfst1.Instance";
export const KEEPALIVE = "org.tfst.Tfst1.Keepalive";
export const TRACE = "org.tfst.Tfst1.Trace";
export const IPSEC = "org.tfst.Tfst1.Ipsec";
export const EVENTS = "org.tfst.Tfst1.Events";
export const ROLES = ["epproxy", "relay", "gwproxy"];

const clients = new Map();

export function client(name) {
    let c = clients.get(name);
    if (!c) {
        c = cockpit.dbus(name, { bus: "system", superuser: "try" });
        clients.set(name, c);
    }
    return c;
}

export function dropClient(name) {
    const c = clients.get(name);
    if (c) {
        clients.delete(name);
        c.close();
    }
}

// Calls method of iface at OBJ on bus name; resolves to the reply's
// out arguments (an array).
export function call(name, iface, method, args, options) {
    return client(name).call(OBJ, iface, method, args || [], options);
}

// Subscribes to a signal of the instance; returns the subscription
// (call .remove()).
export function subscribe(name, iface, member, fn) {
    return client(name).subscribe({ path: OBJ, interface: iface, member },
                                  (path, ifc, sig, args) => fn(args));
}

// "tfst-relay@2.service"
export function unitName(role, instance) {
    return `tfst-${role}@${instance}.service`;
}
