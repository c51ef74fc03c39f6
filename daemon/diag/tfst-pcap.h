/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What tfst takes from libpcap: compiling a capture filter to classic BPF
 * for a packet socket, and writing pcap files.  The captures themselves
 * use plain AF_PACKET sockets (tfst-trace.c). */
#pragma once

#include <gio/gio.h>
#include <linux/filter.h>

/* Packets are captured without their link-layer header (AF_PACKET
 * SOCK_DGRAM), so filters and files are LINKTYPE_RAW: IPv4 or IPv6 from
 * the first byte.  Up to this many bytes of each packet are kept: every IP
 * and TCP header, and the start of the payload. */
#define TFST_PCAP_SNAPLEN 256

/* The filter expression for TCP packets with the peer `address` and, unless
 * `port` is 0, its port `port` (on the peer's side of the connection). */
char *tfst_pcap_filter_expression(const char *address, guint16 port);
/* Compiles `expression` for raw IP with TFST_PCAP_SNAPLEN; the program is
 * ready for SO_ATTACH_FILTER and freed with tfst_pcap_program_free(). */
struct sock_fprog *tfst_pcap_compile(const char *expression,
                                     GError **error) G_GNUC_WARN_UNUSED_RESULT;
void tfst_pcap_program_free(struct sock_fprog *program);

typedef struct sock_fprog TfstSockFprog;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstSockFprog, tfst_pcap_program_free)

/* pcap records as tfst_pcap_write() takes them: a packet is a 16-byte
 * header (gint64 time in microseconds, guint32 captured, guint32 wire
 * length, host byte order) followed by `captured` bytes. */
void tfst_pcap_append_record(GByteArray *records, gint64 time_us, guint32 wire_length,
                             const guint8 *data, guint32 captured);
/* Writes a pcap file (microsecond timestamps, LINKTYPE_RAW) of `records` to
 * `fd`, which stays open.  Blocks while a pipe is full: call it in a
 * thread.  Returns the number of packets written, or -1 with `error`. */
gint64 tfst_pcap_write(int fd, GBytes *records, GError **error);
