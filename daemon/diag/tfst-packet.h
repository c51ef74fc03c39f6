/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Decoding of captured IPv4/IPv6 TCP packets for org.tfst.Tfst1.Trace.
 * Pure functions over bytes: no sockets, no libpcap, so the unit tests
 * feed them hand-built packets. */
#pragma once

#include <gio/gio.h>

/* TCP flag bits as in the header's 13th byte. */
#define TFST_TCP_FIN 0x01
#define TFST_TCP_SYN 0x02
#define TFST_TCP_RST 0x04
#define TFST_TCP_PSH 0x08
#define TFST_TCP_ACK 0x10
#define TFST_TCP_URG 0x20
#define TFST_TCP_ECE 0x40
#define TFST_TCP_CWR 0x80

typedef struct {
  char source[48]; /* INET6_ADDRSTRLEN with room to spare */
  char destination[48];
  guint16 source_port;
  guint16 destination_port;
  guint8 flags;
  guint32 seq;
  guint32 ack;
  guint16 window;
  guint32 payload_length; /* from the IP length fields, not the capture */
  guint32 header_length;  /* IP + TCP headers, within the captured bytes */
} TfstPacketInfo;

/* Decodes an IP packet (no link-layer header) carrying TCP.  FALSE when the
 * captured bytes do not hold a whole IPv4/IPv6 and TCP header. */
gboolean tfst_packet_decode(const guint8 *data, gsize captured,
                            TfstPacketInfo *out_info) G_GNUC_WARN_UNUSED_RESULT;
/* The length of the packet on the wire according to its IP header, or 0
 * when there is no IP header to tell. */
guint32 tfst_packet_wire_length(const guint8 *data, gsize captured);
/* "SYN,ACK": the flags set, in the order the Trace API defines
 * (SYN, FIN, RST, PSH, ACK, URG, ECE, CWR); "" for none. */
char *tfst_packet_flags_to_string(guint8 flags);
