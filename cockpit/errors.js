// SPDX-License-Identifier: GPL-2.0-or-later
// What a failed call tells the user.  Authorization stays in polkit: the
// page only reports the daemon's AccessDenied and points at Cockpit's
// administrative access switch.

import { _, el } from "./util.js";

export const ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied";
// What systemd (through polkit) answers a user without administrative
// access instead of AccessDenied.
export const INTERACTIVE_AUTH = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired";

export function isAccessDenied(err) {
    return err && (err.name === ACCESS_DENIED || err.name === INTERACTIVE_AUTH ||
                   err.problem === "access-denied" ||
                   err.problem === "not-authorized");
}

export function errorText(err) {
    if (isAccessDenied(err))
        return _("You need administrative access to do this.");
    if (err && err.message)
        return err.message;
    return String(err);
}

// An inline alert; for AccessDenied it names the switch in Cockpit's top
// bar that grants administrative access to the session.
export function errorAlert(err) {
    const denied = isAccessDenied(err);
    return el("div", { class: "alert alert-danger", role: "alert", "data-denied": denied ? "1" : null },
              el("strong", { class: "alert-title" }, errorText(err)),
              denied
                  ? el("span", { class: "alert-hint" },
                       _("Turn on administrative access with the “Limited access” button at the top of Cockpit, then try again."))
                  : null);
}

// Runs a promise, showing its failure in slot (an element) and clearing
// the slot on success.
export function report(slot, promise) {
    slot.replaceChildren();
    return promise.catch(err => {
        slot.replaceChildren(errorAlert(err));
        throw err;
    });
}
