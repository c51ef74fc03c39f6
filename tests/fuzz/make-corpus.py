#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the seed corpora in corpus/TARGET/: small valid inputs, one per
message or configuration shape, built from docs/protocol.md's layouts.
Run it again after a protocol change; libFuzzer mutates from these."""
import os
import struct
import sys

HELLO, WHO, IAM, TELL, TELL_OK, OPEN, OPEN_OK, OPEN_FAIL, DATA, FIN, RST, CREDIT, PING, PONG, \
    GOAWAY, EVENT, EVENT_ACK = range(1, 18)
LABEL, ROLE, CHAIN, NETWORK, FORWARD, CLIENT, DEST, ORIGIN, ROUTE, WINDOW, TEXT, ROOTED = \
    range(1, 13)


def tlv(tag, value):
    return struct.pack(">BH", tag, len(value)) + value


def frame(ftype, payload=b"", session=0):
    return struct.pack(">BBHII", 1, ftype, 0, session, len(payload)) + payload


def owned(owner, rest):
    return bytes([len(owner)]) + owner + rest


def addr4(a, port):
    return bytes([4]) + struct.pack(">H", port) + bytes(a)


def addr6(a, port):
    return bytes([6]) + struct.pack(">H", port) + bytes(a)


def hello(role, label):
    return b"TFST\x01\x01" + tlv(ROLE, bytes([role])) + tlv(LABEL, label)


def event_stream(origin, sink, epoch):
    return owned(origin, b"") + owned(sink, b"") + struct.pack(">Q", epoch)


def event_payload(origin, sink, epoch, base, first, events):
    p = event_stream(origin, sink, epoch) + struct.pack(">QQ", base, first)
    for e in events:
        p += struct.pack(">I", len(e)) + e
    return p


def event_ack_payload(origin, sink, epoch, acked, status):
    return event_stream(origin, sink, epoch) + struct.pack(">QI", acked, status)


def tell_payload(label, chain, networks=(), forwards=(), rooted=None):
    p = tlv(LABEL, label)
    for depth, lab in chain:
        p += tlv(CHAIN, bytes([depth]) + lab)
    for owner, fam, prefix, a in networks:
        p += tlv(NETWORK, owned(owner, bytes([fam, prefix]) + bytes(a)))
    for owner, name in forwards:
        p += tlv(FORWARD, owned(owner, name))
    if rooted is not None:
        p += tlv(ROOTED, bytes([rooted]))
    return p


def open_payload(origin, window, forward=None, route=None, client=None, dest=None):
    p = b""
    if forward:
        p += tlv(FORWARD, forward)
    p += tlv(ORIGIN, origin)
    if route:
        p += tlv(ROUTE, route)
    if client:
        p += tlv(CLIENT, client)
    if dest:
        p += tlv(DEST, dest)
    return p + tlv(WINDOW, struct.pack(">I", window))


V6 = bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1])
TELL_GW = tell_payload(b"relay1", [(0, b"relay1"), (1, b"gw1"), (1, b"gw2")],
                       [(b"gw1", 4, 24, [198, 51, 100, 0]), (b"gw2", 6, 48, V6)],
                       [(b"gw1", b"gateway"), (b"gw2", b"endpoint")])
TELL_OK_EP = tell_payload(b"ep", [(0, b"ep"), (1, b"relay0")], rooted=1)
OPEN_UP = open_payload(b"gw1", 262144, forward=b"gateway", client=addr4([10, 0, 0, 5], 40000),
                       dest=addr4([10, 0, 0, 80], 9494))
OPEN_DOWN = open_payload(b"ep", 65536, forward=b"endpoint", route=b"gw1",
                         client=addr6(V6, 5000), dest=addr6(V6, 22))
GOAWAY_P = struct.pack(">I", 4) + tlv(TEXT, b"shutting down")

CONFIGS = {
    "ep": (1, "[Instance]\nLabel=ep\nLogLevel=3\nMaxSessions=500\n[Children]\n"
              "Listen=10.0.0.10:1918\nHandshakeTimeout=5s\n[Forward gateway]\n"
              "Target=10.0.0.80:9494\n[Forward endpoint]\nListen=10.0.0.10:9495\nRoute=gw1\n"
              "Destination=198.51.100.7:22\n[Session]\nCloseTimeout=2s\nInitialWindow=256K\n"
              "MaxWindow=4MiB\n"),
    "relay": (3, "# relay\n[Instance]\nLabel=relay1\n[Parent]\nConnect=10.0.0.10:1918;"
                 "10.0.0.11:1918\nLocalAddress=10.0.1.10\nSourcePorts=40000-40009\n"
                 "ReconnectMin=1s\nReconnectMax=1min\n[Children]\nListen=192.0.2.10\n"
                 "[Ports]\nBase=1918\nCount=10\n[Keepalive]\nFirewallTimeout=60s\n"
                 "PingInterval=20s\nPingTimeout=1min\nIdle=45s\nInterval=10s\nCount=5\n"
                 "UserTimeout=30s\n"),
    "gw": (2, "[Instance]\nLabel=gw1\nNetworks=198.51.100.0/24 2001:db8::/32\n[Parent]\n"
              "Listen=[2001:db8::20]:1918\nTLS=yes\nCertificate=/etc/tfst/gw.crt\n"
              "Key=/etc/tfst/gw.key\nTrustedCA=/etc/tfst/ca.crt\nPeerLabel=relay1\n"
              "TLSMinVersion=1.3\n[Forward gateway]\nListen=0.0.0.0:9494\n"
              "[Forward endpoint]\nTarget=original-destination\n"),
    "psk": (3, "[Instance]\nLabel=relay2\n[Parent]\nConnect=10.0.0.10:1918\nTLS=yes\n"
               "PSKFile=/etc/tfst/psk\n[Children]\nListen=192.0.2.10:1918\nTLS=yes\n"
               "PSKFile=/etc/tfst/psk\n[Diagnostics]\nPacketTrace=yes\n"),
}


def ip4_tcp(flags, payload=b"", options=b""):
    doff = (20 + len(options)) // 4
    tcp = struct.pack(">HHIIBBHHH", 40000, 1918, 1, 2, doff << 4, flags, 65535, 0, 0) + options
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 1, 0, 64, 6, 0, bytes([10, 0, 0, 1]),
                     bytes([10, 0, 0, 2]))
    return ip + tcp + payload


def ip6_tcp(flags, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", 5000, 22, 7, 8, 5 << 4, flags, 1024, 0, 0)
    ip = struct.pack(">IHBB16s16s", 6 << 28, len(tcp) + len(payload), 6, 64, V6, V6)
    return ip + tcp + payload


def router_input(children, tell_ok, queries):
    out = bytes([len(children) - 1])
    for c in children + [tell_ok]:
        out += struct.pack(">H", len(c)) + c
    return out + b"".join(queries)


def merge_input(mode, steps):
    out = bytes([mode])
    for sel, payload in steps:
        out += bytes([sel]) + struct.pack(">H", len(payload)) + payload
    return out


def seeds():
    gw1 = tell_payload(b"gw1", [(0, b"gw1")], [(b"gw1", 4, 24, [198, 51, 100, 0])],
                       [(b"gw1", b"endpoint")])
    gw2 = tell_payload(b"gw2", [(0, b"gw2")], [(b"gw2", 4, 16, [198, 51, 0, 0])],
                       [(b"gw2", b"endpoint"), (b"gw2", b"web")])
    return {
        "fuzz-frame": {
            "handshake": frame(HELLO, hello(3, b"relay1")) + frame(TELL, TELL_GW)
            + frame(PING, struct.pack(">Q", 12345)),
            "iam": frame(WHO) + frame(IAM, tlv(LABEL, b"ep")),
            "tell-ok": frame(TELL_OK, TELL_OK_EP),
            "session": frame(OPEN, OPEN_UP, 1) + frame(OPEN_OK, struct.pack(">I", 65536), 1)
            + frame(DATA, b"GET / HTTP/1.0\r\n\r\n", 1) + frame(CREDIT, struct.pack(">I", 18), 1)
            + frame(FIN, b"", 1),
            "refused": frame(OPEN, OPEN_DOWN, 2) + frame(OPEN_FAIL, struct.pack(">I", 111), 2)
            + frame(RST, struct.pack(">I", 104), 3),
            "goaway": frame(PONG, struct.pack(">Q", 1)) + frame(GOAWAY, GOAWAY_P),
        },
        "fuzz-hello": {
            "hello-relay": b"\x00" + hello(3, b"relay1"),
            "hello-gw": b"\x00" + hello(2, b"gw-1.example_a"),
            "iam": b"\x01" + tlv(LABEL, b"ep"),
            "goaway": b"\x02" + GOAWAY_P,
        },
        "fuzz-event": {
            "event-one": b"\x00" + event_payload(b"gw1", b"syslog", 7, 1, 1, [b"<13>hello"]),
            "event-batch": b"\x00" + event_payload(b"gw-1.site_a", b"traps", 2**63, 5, 9,
                                                   [b"a", b"<34>1 2026-12-03T07:00:00Z h a - - - x",
                                                    b"\x00\xff" * 40]),
            "ack": b"\x01" + event_ack_payload(b"gw1", b"syslog", 7, 3, 0),
            "ack-enoent": b"\x01" + event_ack_payload(b"gw1", b"syslog", 7, 0, 2),
        },
        "fuzz-open": {"upcall": OPEN_UP, "downcall": OPEN_DOWN,
                      "minimal": open_payload(b"gw1", 1)},
        "fuzz-tell": {"tell": b"\x00" + TELL_GW, "tell-ok": b"\x01" + TELL_OK_EP,
                      "tell-self": b"\x00" + tell_payload(b"gw1", [(0, b"gw1")])},
        "fuzz-router": {
            "two-gw": router_input([gw1, gw2], TELL_OK_EP, [
                b"\x00" + bytes([198, 51, 100, 9]) + b"\x01",
                b"\x01" + bytes([198, 51, 100, 9]) + b"\x00",
                b"\x01" + bytes([198, 51, 7, 1]) + b"\x01",
                b"\x02\x00\x00\x00\x00\x02"]),
            "relay": router_input([TELL_GW], TELL_OK_EP,
                                  [b"\x01" + bytes([198, 51, 100, 1]) + b"\x00"]),
        },
        "fuzz-merge": {
            "two-gw": merge_input(1 | 4, [(0, gw1), (1, gw2), (2, TELL_OK_EP), (0, gw1)]),
            "relay-below": merge_input(0, [(0, TELL_GW), (1, TELL_OK_EP)]),
            "close": merge_input(2 | 4, [(0, gw1), (1, gw2), (0x80, b""), (3, TELL_OK_EP),
                                         (2, gw2)]),
        },
        "fuzz-config": {k: bytes([r]) + t.encode() for k, (r, t) in CONFIGS.items()},
        "fuzz-packet": {
            "syn4": ip4_tcp(0x02, options=b"\x02\x04\x05\xb4"),
            "ack4-data": ip4_tcp(0x18, b"hello"),
            "fin6": ip6_tcp(0x11),
            "rst6-data": ip6_tcp(0x14, b"xyz"),
        },
    }


def main():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    for target, files in seeds().items():
        os.makedirs(os.path.join(top, target), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(top, target, name), "wb") as f:
                f.write(data)
    return 0


sys.exit(main())
