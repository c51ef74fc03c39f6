/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the trace building blocks: the TCP/IP decoder
 * (daemon/diag/tfst-packet.c), the packet ring (daemon/diag/tfst-trace-ring.c), the
 * capture filter and pcap writer (daemon/diag/tfst-pcap.c) and argument checks
 * of a trace (daemon/diag/tfst-trace.c).  Packets are built byte by byte and
 * decoded from exact-size heap copies, so ASan catches any over-read. */
#include "tfst-error.h"
#include "tfst-packet.h"
#include "tfst-pcap.h"
#include "tfst-trace-ring.h"
#include "tfst-trace.h"
#include "tfst-test-util.h"

#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* ---- builders ---- */

/* A TCP header of 20 + options bytes. */
static void
put_tcp(guint8 *t, guint16 sport, guint16 dport, guint32 seq, guint32 ack, guint8 flags,
        guint16 window, gsize options)
{
  tfst_test_put_be16(t, sport);
  tfst_test_put_be16(t + 2, dport);
  tfst_test_put_be32(t + 4, seq);
  tfst_test_put_be32(t + 8, ack);
  t[12] = (guint8)(((20 + options) / 4) << 4);
  t[13] = flags;
  tfst_test_put_be16(t + 14, window);
  for (gsize i = 0; i < options; i++)
    t[20 + i] = 1; /* NOP */
}

/* IPv4 (20-byte header) + TCP + payload of `payload` bytes; returns the
 * length, the buffer is big enough. */
static gsize
build_ipv4(guint8 *p, const char *src, const char *dst, guint16 sport, guint16 dport, guint8 flags,
           gsize options, gsize payload)
{
  gsize total = 20 + 20 + options + payload;

  memset(p, 0, total);
  p[0] = 0x45;
  tfst_test_put_be16(p + 2, (guint16)total);
  p[8] = 64;
  p[9] = 6;
  g_assert_cmpint(inet_pton(AF_INET, src, p + 12), ==, 1);
  g_assert_cmpint(inet_pton(AF_INET, dst, p + 16), ==, 1);
  put_tcp(p + 20, sport, dport, 0x01020304, 0xa0b0c0d0, flags, 0xfedc, options);
  return total;
}

static gsize
build_ipv6(guint8 *p, const char *src, const char *dst, guint16 sport, guint16 dport, guint8 flags,
           gsize payload)
{
  gsize total = 40 + 20 + payload;

  memset(p, 0, total);
  p[0] = 0x60;
  tfst_test_put_be16(p + 4, (guint16)(20 + payload));
  p[6] = 6;
  p[7] = 64;
  g_assert_cmpint(inet_pton(AF_INET6, src, p + 8), ==, 1);
  g_assert_cmpint(inet_pton(AF_INET6, dst, p + 24), ==, 1);
  put_tcp(p + 40, sport, dport, 7, 8, flags, 512, 0);
  return total;
}

static gboolean
decode_copy(const guint8 *p, gsize n, TfstPacketInfo *info)
{
  g_autofree guint8 *copy = g_memdup2(p, n);

  return tfst_packet_decode(copy, n, info);
}

/* ---- decoder ---- */

static void
test_decode_ipv4(void)
{
  guint8 p[200];
  gsize n = build_ipv4(p, "192.0.2.1", "198.51.100.7", 40000, 443, TFST_TCP_SYN, 20, 0);
  TfstPacketInfo info;

  g_assert_true(decode_copy(p, n, &info));
  g_assert_cmpstr(info.source, ==, "192.0.2.1");
  g_assert_cmpstr(info.destination, ==, "198.51.100.7");
  g_assert_cmpuint(info.source_port, ==, 40000);
  g_assert_cmpuint(info.destination_port, ==, 443);
  g_assert_cmphex(info.seq, ==, 0x01020304);
  g_assert_cmphex(info.ack, ==, 0xa0b0c0d0);
  g_assert_cmpuint(info.window, ==, 0xfedc);
  g_assert_cmphex(info.flags, ==, TFST_TCP_SYN);
  g_assert_cmpuint(info.payload_length, ==, 0);
  g_assert_cmpuint(info.header_length, ==, 60);
  g_assert_cmpuint(tfst_packet_wire_length(p, n), ==, 60);
}

static void
test_decode_ipv6_payload(void)
{
  guint8 p[400];
  gsize n =
      build_ipv6(p, "2001:db8::1", "2001:db8::2", 1918, 50000, TFST_TCP_PSH | TFST_TCP_ACK, 300);
  TfstPacketInfo info;

  g_assert_true(decode_copy(p, n, &info));
  g_assert_cmpstr(info.source, ==, "2001:db8::1");
  g_assert_cmpstr(info.destination, ==, "2001:db8::2");
  g_assert_cmpuint(info.payload_length, ==, 300);
  g_assert_cmpuint(info.header_length, ==, 60);
  /* Only the snap length was captured: the lengths still come from IP. */
  g_assert_true(decode_copy(p, 100, &info));
  g_assert_cmpuint(info.payload_length, ==, 300);
  g_assert_cmpuint(info.header_length, ==, 60);
  g_assert_cmpuint(tfst_packet_wire_length(p, 100), ==, 360);
}

static void
test_decode_rejects(void)
{
  guint8 p[200];
  gsize n = build_ipv4(p, "192.0.2.1", "192.0.2.2", 1, 2, TFST_TCP_ACK, 0, 10);
  TfstPacketInfo info;

  /* Every cut inside the headers. */
  for (gsize cut = 0; cut < 40; cut++)
    g_assert_false(decode_copy(p, cut, &info));
  g_assert_true(decode_copy(p, n, &info));
  p[9] = 17; /* UDP */
  g_assert_false(decode_copy(p, n, &info));
  p[9] = 6;
  tfst_test_put_be16(p + 6, 0x0010); /* a later fragment */
  g_assert_false(decode_copy(p, n, &info));
  tfst_test_put_be16(p + 6, 0);
  p[0] = 0x44; /* IHL below 5 */
  g_assert_false(decode_copy(p, n, &info));
  p[0] = 0x45;
  p[32] = 0x40; /* TCP data offset 4 */
  g_assert_false(decode_copy(p, n, &info));
  p[0] = 0x25; /* IP version 2 */
  g_assert_false(decode_copy(p, n, &info));
}

static void
test_flags_string(void)
{
  g_autofree char *all = tfst_packet_flags_to_string(0xff);
  g_autofree char *none = tfst_packet_flags_to_string(0);
  g_autofree char *synack = tfst_packet_flags_to_string(TFST_TCP_ACK | TFST_TCP_SYN);
  g_autofree char *rst = tfst_packet_flags_to_string(TFST_TCP_RST | TFST_TCP_ACK);

  g_assert_cmpstr(all, ==, "SYN,FIN,RST,PSH,ACK,URG,ECE,CWR");
  g_assert_cmpstr(none, ==, "");
  g_assert_cmpstr(synack, ==, "SYN,ACK");
  g_assert_cmpstr(rst, ==, "RST,ACK");
}

/* ---- ring ---- */

typedef struct {
  GArray *times;
  gboolean intact;
} Seen;

static void
collect(gint64 time_us, guint32 wire_length, const guint8 *data, guint32 captured,
        gpointer user_data)
{
  Seen *seen = user_data;

  g_array_append_val(seen->times, time_us);
  /* Each packet is filled with its time's low byte; its length is
   * 10 + time % 50 bytes. */
  if (captured != 10 + time_us % 50 || wire_length != captured + 1000)
    seen->intact = FALSE;
  for (guint32 i = 0; i < captured; i++)
    if (data[i] != (guint8)time_us)
      seen->intact = FALSE;
}

static gboolean
push(TfstTraceRing *ring, gint64 t, gboolean wrap)
{
  guint8 data[64];
  guint32 n = (guint32)(10 + t % 50);

  memset(data, (guint8)t, n);
  return tfst_trace_ring_push(ring, t, n + 1000, data, n, wrap);
}

static void
test_ring_wrap(void)
{
  g_autoptr(TfstTraceRing) ring = tfst_trace_ring_new(4096);
  Seen seen = {g_array_new(FALSE, FALSE, sizeof(gint64)), TRUE};
  guint max_count = 0;

  /* Far more than fits: records cross the end of the buffer many times. */
  for (gint64 t = 1; t <= 2000; t++) {
    g_assert_true(push(ring, t, TRUE));
    g_assert_cmpuint(tfst_trace_ring_used(ring), <=, 4096);
    max_count = MAX(max_count, tfst_trace_ring_count(ring));
  }
  g_assert_cmpuint(max_count, <, 4096 / (16 + 10));
  tfst_trace_ring_foreach(ring, collect, &seen);
  g_assert_true(seen.intact);
  g_assert_cmpuint(seen.times->len, ==, tfst_trace_ring_count(ring));
  /* The newest are kept, in order, without a gap; the oldest are gone. */
  g_assert_cmpint(g_array_index(seen.times, gint64, seen.times->len - 1), ==, 2000);
  for (guint i = 1; i < seen.times->len; i++)
    g_assert_cmpint(g_array_index(seen.times, gint64, i), ==,
                    g_array_index(seen.times, gint64, i - 1) + 1);
  g_assert_cmpint(g_array_index(seen.times, gint64, 0), >, 1);
  /* Full but for less than the next record's cost. */
  g_assert_cmpuint(4096 - tfst_trace_ring_used(ring), <, 16 + 60);
  g_array_unref(seen.times);
}

static void
test_ring_full(void)
{
  g_autoptr(TfstTraceRing) ring = tfst_trace_ring_new(4096);
  Seen seen = {g_array_new(FALSE, FALSE, sizeof(gint64)), TRUE};
  gint64 t = 1;
  guint count;
  gsize used;

  while (push(ring, t, FALSE))
    t++;
  count = tfst_trace_ring_count(ring);
  used = tfst_trace_ring_used(ring);
  g_assert_cmpuint(count, ==, t - 1);
  /* Without wrap nothing is dropped. */
  g_assert_false(push(ring, t, FALSE));
  g_assert_cmpuint(tfst_trace_ring_count(ring), ==, count);
  g_assert_cmpuint(tfst_trace_ring_used(ring), ==, used);
  tfst_trace_ring_foreach(ring, collect, &seen);
  g_assert_true(seen.intact);
  g_assert_cmpint(g_array_index(seen.times, gint64, 0), ==, 1);
  g_array_unref(seen.times);
}

static void
test_ring_too_big(void)
{
  g_autoptr(TfstTraceRing) ring = tfst_trace_ring_new(64);
  guint8 data[100] = {0};

  g_assert_false(tfst_trace_ring_push(ring, 1, 100, data, 100, TRUE));
  g_assert_true(tfst_trace_ring_push(ring, 2, 48, data, 48, TRUE));
  g_assert_cmpuint(tfst_trace_ring_used(ring), ==, 64);
  g_assert_true(tfst_trace_ring_push(ring, 3, 1, data, 1, TRUE));
  g_assert_cmpuint(tfst_trace_ring_count(ring), ==, 1);
  g_assert_cmpuint(tfst_trace_ring_used(ring), ==, 17);
}

/* ---- filter and pcap ---- */

static guint
run_filter(const struct sock_fprog *prog, const guint8 *p, gsize n)
{
  return bpf_filter((const struct bpf_insn *)prog->filter, p, (guint)n, (guint)n);
}

static void
test_filter(void)
{
  g_autofree char *expr = tfst_pcap_filter_expression("192.0.2.1", 40000);
  g_autofree char *expr_any = tfst_pcap_filter_expression("2001:db8::1", 0);
  g_autoptr(TfstSockFprog) prog = tfst_pcap_compile(expr, NULL);
  g_autoptr(TfstSockFprog) prog_any = tfst_pcap_compile(expr_any, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstSockFprog) bad = NULL;
  guint8 p[400];
  gsize n;

  g_assert_nonnull(prog);
  g_assert_nonnull(prog_any);
  /* The peer's side of the connection, both directions, snapped. */
  n = build_ipv4(p, "192.0.2.1", "192.0.2.9", 40000, 443, TFST_TCP_SYN, 0, 300);
  g_assert_cmpuint(run_filter(prog, p, n), ==, TFST_PCAP_SNAPLEN);
  n = build_ipv4(p, "192.0.2.9", "192.0.2.1", 443, 40000, TFST_TCP_ACK, 0, 0);
  g_assert_cmpuint(run_filter(prog, p, n), !=, 0);
  /* Our port 40000 toward the peer's other port: not that connection. */
  n = build_ipv4(p, "192.0.2.9", "192.0.2.1", 40000, 443, TFST_TCP_ACK, 0, 0);
  g_assert_cmpuint(run_filter(prog, p, n), ==, 0);
  n = build_ipv4(p, "192.0.2.2", "192.0.2.9", 40000, 443, TFST_TCP_ACK, 0, 0);
  g_assert_cmpuint(run_filter(prog, p, n), ==, 0);
  p[9] = 17;
  n = build_ipv4(p, "192.0.2.1", "192.0.2.9", 40000, 443, TFST_TCP_ACK, 0, 0);
  p[9] = 17;
  g_assert_cmpuint(run_filter(prog, p, n), ==, 0);
  /* IPv6, any port. */
  n = build_ipv6(p, "2001:db8::2", "2001:db8::1", 5, 6, TFST_TCP_ACK, 0);
  g_assert_cmpuint(run_filter(prog_any, p, n), !=, 0);
  n = build_ipv6(p, "2001:db8::2", "2001:db8::3", 5, 6, TFST_TCP_ACK, 0);
  g_assert_cmpuint(run_filter(prog_any, p, n), ==, 0);
  n = build_ipv4(p, "192.0.2.1", "192.0.2.9", 5, 6, TFST_TCP_ACK, 0, 0);
  g_assert_cmpuint(run_filter(prog_any, p, n), ==, 0);

  bad = tfst_pcap_compile("tcp and and", &error);
  g_assert_null(bad);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
}

static GBytes *
three_records(void)
{
  GByteArray *records = g_byte_array_new();
  guint8 p[400];

  for (guint i = 0; i < 3; i++) {
    gsize n = build_ipv4(p, "192.0.2.1", "192.0.2.9", 40000, 443, TFST_TCP_ACK, 0, 100 * i);
    guint32 captured = (guint32)MIN(n, TFST_PCAP_SNAPLEN);
    tfst_pcap_append_record(records, 1700000000123456 + i, (guint32)n, p, captured);
  }
  return g_byte_array_free_to_bytes(records);
}

static void
test_pcap_write(void)
{
  g_autoptr(GBytes) records = three_records();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  char errbuf[PCAP_ERRBUF_SIZE];
  struct pcap_pkthdr *h;
  const u_char *data;
  pcap_t *pcap;
  int fd = g_file_open_tmp("tfst-trace-XXXXXX.pcap", &path, &error);
  guint i = 0;

  g_assert_no_error(error);
  g_assert_cmpint(tfst_pcap_write(fd, records, &error), ==, 3);
  g_assert_no_error(error);
  /* The caller's descriptor stays open. */
  g_assert_cmpint(write(fd, "", 0), ==, 0);
  close(fd);
  pcap = pcap_open_offline(path, errbuf);
  g_assert_nonnull(pcap);
  g_assert_cmpint(pcap_datalink(pcap), ==, DLT_RAW);
  while (pcap_next_ex(pcap, &h, &data) == 1) {
    g_assert_cmpint(h->ts.tv_sec, ==, 1700000000);
    g_assert_cmpint(h->ts.tv_usec, ==, 123456 + i);
    g_assert_cmpuint(h->len, ==, 40 + 100 * i);
    g_assert_cmpuint(h->caplen, ==, MIN(h->len, TFST_PCAP_SNAPLEN));
    g_assert_cmpuint(data[0], ==, 0x45);
    i++;
  }
  g_assert_cmpuint(i, ==, 3);
  pcap_close(pcap);
  unlink(path);
}

static void
test_pcap_write_error(void)
{
  g_autoptr(GBytes) records = three_records();
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_cmpint(pipe(fds), ==, 0);
  close(fds[0]);
  g_assert_cmpint(tfst_pcap_write(fds[1], records, &error), ==, -1);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_FAILED);
  close(fds[1]);
}

/* ---- trace arguments (checked before any socket is opened) ---- */

static void
test_trace_names(void)
{
  const char *good[] = {"a", "web-1", "x.y_Z", "abcdefghijabcdefghijabcdefghij12"};
  const char *bad[] = {"", "a b", "tab\t", "ä", "a/b", "abcdefghijabcdefghijabcdefghij123"};

  for (guint i = 0; i < G_N_ELEMENTS(good); i++)
    g_assert_true(tfst_trace_check_name(good[i], NULL));
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_false(tfst_trace_check_name(bad[i], &error));
    g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
  }
}

static void
test_trace_bad_arguments(void)
{
  const struct {
    const char *name, *address;
    guint32 size;
    const char *says;
  } cases[] = {
      {"t", "example.org", 65536, "address"},
      {"t", "192.0.2.1/24", 65536, "address"},
      {"t", "", 65536, "address"},
      {"t", "192.0.2.1", 4095, "4096-67108864"},
      {"t", "192.0.2.1", 67108865, "4096-67108864"},
      {"bad name", "192.0.2.1", 65536, "name"},
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(TfstTrace) trace =
        tfst_trace_new(cases[i].name, cases[i].address, 0, cases[i].size, TRUE, &error);
    g_assert_null(trace);
    g_assert_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS);
    g_assert_nonnull(strstr(error->message, cases[i].says));
  }
}

int
main(int argc, char **argv)
{
  signal(SIGPIPE, SIG_IGN); /* as tfstd does */
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/packet/decode-ipv4", test_decode_ipv4);
  g_test_add_func("/tfst/packet/decode-ipv6-payload", test_decode_ipv6_payload);
  g_test_add_func("/tfst/packet/decode-rejects", test_decode_rejects);
  g_test_add_func("/tfst/packet/flags-string", test_flags_string);
  g_test_add_func("/tfst/trace-ring/wrap", test_ring_wrap);
  g_test_add_func("/tfst/trace-ring/full", test_ring_full);
  g_test_add_func("/tfst/trace-ring/too-big", test_ring_too_big);
  g_test_add_func("/tfst/pcap/filter", test_filter);
  g_test_add_func("/tfst/pcap/write", test_pcap_write);
  g_test_add_func("/tfst/pcap/write-error", test_pcap_write_error);
  g_test_add_func("/tfst/trace/names", test_trace_names);
  g_test_add_func("/tfst/trace/bad-arguments", test_trace_bad_arguments);
  return g_test_run();
}
