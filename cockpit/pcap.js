// SPDX-License-Identifier: GPL-2.0-or-later
// A pcap file (LINKTYPE_RAW, the format Trace.Export writes) made from
// the packets Trace.Show returns.  Export hands the daemon a file
// descriptor, which cockpit.dbus cannot pass; Show carries the same
// captured IP and TCP headers, so the page writes the file itself.

const LINKTYPE_RAW = 101;

function base64Bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++)
        out[i] = s.charCodeAt(i);
    return out;
}

// packets: Show()'s a(tsqsqsuuquay); headers arrive base64-encoded (or as
// an array of numbers).  Returns a Blob.
export function pcapBlob(packets) {
    const parts = [];
    const head = new DataView(new ArrayBuffer(24));
    head.setUint32(0, 0xa1b2c3d4, true);
    head.setUint16(4, 2, true);
    head.setUint16(6, 4, true);
    head.setUint32(16, 65535, true);
    head.setUint32(20, LINKTYPE_RAW, true);
    parts.push(head);
    for (const p of packets) {
        const time = p[0];
        const length = p[9];
        const bytes = typeof p[10] === "string" ? base64Bytes(p[10]) : Uint8Array.from(p[10]);
        const rec = new DataView(new ArrayBuffer(16));
        rec.setUint32(0, Math.floor(time / 1e6), true);
        rec.setUint32(4, time % 1e6, true);
        rec.setUint32(8, bytes.length, true);
        rec.setUint32(12, bytes.length + length, true);
        parts.push(rec, bytes);
    }
    return new Blob(parts, { type: "application/vnd.tcpdump.pcap" });
}
