// SPDX-License-Identifier: GPL-2.0-or-later
// Formatting and DOM helpers shared by the views: nothing here talks to
// the bus.

export const _ = cockpit.gettext;

// el("td", {class: "num"}, "12") builds an element; children may be
// strings, nodes, arrays or null (skipped).
export function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false)
            continue;
        if (k.startsWith("on"))
            e.addEventListener(k.slice(2), v);
        else if (k === "text")
            e.textContent = v;
        else if (k === "style")
            Object.assign(e.style, v); // CSSOM: the page's CSP refuses style attributes
        else
            e.setAttribute(k, v === true ? "" : v);
    }
    append(e, children);
    return e;
}

function append(e, children) {
    for (const c of children.flat(Infinity)) {
        if (c === null || c === undefined || c === false)
            continue;
        e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

export function clear(node) {
    while (node.firstChild)
        node.firstChild.remove();
    return node;
}

// Bytes as people read them: 1.5 MiB.
export function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    n = Number(n);
    while (n >= 1024 && i < units.length - 1) {
        n /= 1024;
        i++;
    }
    return (i === 0 ? String(n) : n.toFixed(1)) + "\u00a0" + units[i];
}

// A duration in microseconds: "250 ms", "3 s", "4 min", "2 h", "3 d".
export function duration(us) {
    const s = Number(us) / 1e6;
    if (s < 1)
        return cockpit.format(_("$0 ms"), Math.round(s * 1000));
    if (s < 120)
        return cockpit.format(_("$0 s"), Math.round(s));
    if (s < 7200)
        return cockpit.format(_("$0 min"), Math.round(s / 60));
    if (s < 172800)
        return cockpit.format(_("$0 h"), Math.round(s / 3600));
    return cockpit.format(_("$0 d"), Math.round(s / 86400));
}

// A CLOCK_REALTIME point in microseconds, 0 meaning never.
export function since(us) {
    if (!Number(us))
        return _("never");
    return new Date(Number(us) / 1000).toLocaleString();
}

export function rtt(us) {
    return Number(us) ? cockpit.format(_("$0 ms"), (Number(us) / 1000).toFixed(1)) : "—";
}

// cockpit.dbus hands variants of a{sv} as {t, v}: plain values instead.
export function unvariant(dict) {
    const out = {};
    for (const [k, v] of Object.entries(dict || {}))
        out[k] = (v && typeof v === "object" && "v" in v && "t" in v) ? v.v : v;
    return out;
}

export function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
        if (timer !== null)
            return;
        timer = window.setTimeout(() => {
            timer = null;
            fn(...args);
        }, ms);
    };
}
