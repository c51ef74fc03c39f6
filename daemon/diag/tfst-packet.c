/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-packet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define IPV4_MIN_HEADER 20
#define IPV6_HEADER     40
#define TCP_MIN_HEADER  20

static guint16
get16(const guint8 *p)
{
  return (guint16)((p[0] << 8) | p[1]);
}

static guint32
get32(const guint8 *p)
{
  return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

/* The IP part: addresses, where TCP starts, and the IP payload length (the
 * TCP header plus data) as the IP header states it. */
static gboolean
decode_ip(const guint8 *data, gsize captured, TfstPacketInfo *info, gsize *out_tcp_offset,
          guint32 *out_ip_payload)
{
  if (captured < 1)
    return FALSE;
  switch (data[0] >> 4) {
    case 4: {
      gsize ihl = (gsize)(data[0] & 0x0f) * 4;
      guint16 total;

      /* A fragment other than the first has no TCP header at its start. */
      if (captured < IPV4_MIN_HEADER || ihl < IPV4_MIN_HEADER || captured < ihl ||
          data[9] != IPPROTO_TCP || (get16(data + 6) & 0x1fff) != 0)
        return FALSE;
      total = get16(data + 2);
      inet_ntop(AF_INET, data + 12, info->source, sizeof(info->source));
      inet_ntop(AF_INET, data + 16, info->destination, sizeof(info->destination));
      *out_tcp_offset = ihl;
      *out_ip_payload = total > ihl ? total - (guint32)ihl : 0;
      return TRUE;
    }
    case 6:
      /* The capture filter only passes TCP right after the fixed header;
       * extension headers are not followed. */
      if (captured < IPV6_HEADER || data[6] != IPPROTO_TCP)
        return FALSE;
      inet_ntop(AF_INET6, data + 8, info->source, sizeof(info->source));
      inet_ntop(AF_INET6, data + 24, info->destination, sizeof(info->destination));
      *out_tcp_offset = IPV6_HEADER;
      *out_ip_payload = get16(data + 4);
      return TRUE;
    default:
      return FALSE;
  }
}

gboolean
tfst_packet_decode(const guint8 *data, gsize captured, TfstPacketInfo *out_info)
{
  TfstPacketInfo info = {0};
  gsize tcp, doff;
  guint32 ip_payload = 0;
  const guint8 *t;

  if (!decode_ip(data, captured, &info, &tcp, &ip_payload))
    return FALSE;
  if (captured < tcp + TCP_MIN_HEADER)
    return FALSE;
  t = data + tcp;
  doff = (gsize)(t[12] >> 4) * 4;
  if (doff < TCP_MIN_HEADER)
    return FALSE;
  info.source_port = get16(t);
  info.destination_port = get16(t + 2);
  info.seq = get32(t + 4);
  info.ack = get32(t + 8);
  info.flags = t[13];
  info.window = get16(t + 14);
  info.payload_length = ip_payload > doff ? ip_payload - (guint32)doff : 0;
  /* Options cut off by the snap length still count as captured header. */
  info.header_length = (guint32)MIN(captured, tcp + doff);
  *out_info = info;
  return TRUE;
}

guint32
tfst_packet_wire_length(const guint8 *data, gsize captured)
{
  if (captured >= IPV4_MIN_HEADER && data[0] >> 4 == 4)
    return get16(data + 2);
  if (captured >= IPV6_HEADER && data[0] >> 4 == 6)
    return IPV6_HEADER + (guint32)get16(data + 4);
  return 0;
}

char *
tfst_packet_flags_to_string(guint8 flags)
{
  static const struct {
    guint8 bit;
    const char *name;
  } order[] = {
      {TFST_TCP_SYN, "SYN"}, {TFST_TCP_FIN, "FIN"}, {TFST_TCP_RST, "RST"}, {TFST_TCP_PSH, "PSH"},
      {TFST_TCP_ACK, "ACK"}, {TFST_TCP_URG, "URG"}, {TFST_TCP_ECE, "ECE"}, {TFST_TCP_CWR, "CWR"},
  };
  GString *s = g_string_new(NULL);

  for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
    if ((flags & order[i].bit) == 0)
      continue;
    if (s->len > 0)
      g_string_append_c(s, ',');
    g_string_append(s, order[i].name);
  }
  return g_string_free(s, FALSE);
}
