/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-trace.h"
#include "tfst-error.h"
#include "tfst-packet.h"
#include "tfst-pcap.h"
#include "tfst-trace-ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Packets read per wakeup, so a busy peer cannot starve D-Bus. */
#define TFST_TRACE_BATCH 64

struct TfstTrace {
  char *name;
  char *address; /* normalized by GInetAddress */
  guint16 port;
  gboolean wrap;
  gboolean paused;
  gboolean full;
  struct sock_fprog *program;
  int fd; /* -1 while paused or full */
  guint watch_id;
  TfstTraceRing *ring;
};

gboolean
tfst_trace_check_name(const char *name, GError **error)
{
  gsize len = strlen(name);

  if (len == 0 || len > TFST_TRACE_NAME_MAX ||
      strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != len) {
    g_autofree char *shown = tfst_error_quote_arg(name);
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "invalid trace name “%s”: 1-%d characters from A-Z a-z 0-9 _ . -", shown,
                TFST_TRACE_NAME_MAX);
    return FALSE;
  }
  return TRUE;
}

/* ---- the capture socket ---- */

static void trace_stop_capture(TfstTrace *trace);

/* Loopback packets pass the packet socket twice, leaving and arriving:
 * keep the arrival only. */
static gboolean
is_loopback_echo(const struct sockaddr_ll *from)
{
  return from->sll_pkttype == PACKET_OUTGOING && from->sll_hatype == ARPHRD_LOOPBACK;
}

static gint64
packet_time(struct msghdr *msg)
{
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMP) {
      struct timeval tv;
      memcpy(&tv, CMSG_DATA(c), sizeof(tv));
      return (gint64)tv.tv_sec * G_USEC_PER_SEC + tv.tv_usec;
    }
  }
  return g_get_real_time();
}

/* One packet from the socket into the ring; FALSE when nothing is left to
 * read or the ring is full. */
static gboolean
trace_read_one(TfstTrace *trace)
{
  guint8 data[TFST_PCAP_SNAPLEN];
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(struct timeval))];
  } control;
  struct sockaddr_ll from = {0};
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  struct msghdr msg = {
      .msg_name = &from,
      .msg_namelen = sizeof(from),
      .msg_iov = &iov,
      .msg_iovlen = 1,
      .msg_control = control.buf,
      .msg_controllen = sizeof(control.buf),
  };
  ssize_t n = recvmsg(trace->fd, &msg, MSG_DONTWAIT);
  guint32 captured, wire;

  if (n < 0)
    return errno == EINTR;
  if (is_loopback_echo(&from))
    return TRUE;
  captured = (guint32)MIN((gsize)n, sizeof(data));
  wire = MAX(tfst_packet_wire_length(data, captured), captured);
  if (!tfst_trace_ring_push(trace->ring, packet_time(&msg), wire, data, captured, trace->wrap)) {
    trace->full = TRUE;
    trace_stop_capture(trace);
    return FALSE;
  }
  return TRUE;
}

void
tfst_trace_drain(TfstTrace *trace)
{
  for (guint i = 0; i < TFST_TRACE_BATCH && trace->fd >= 0; i++)
    if (!trace_read_one(trace))
      break;
}

static gboolean
capture_readable_cb(int fd, GIOCondition condition, gpointer user_data)
{
  TfstTrace *trace = user_data;

  tfst_trace_drain(trace);
  /* A full ring stopped the capture and removed this watch already. */
  return trace->fd >= 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static int
open_packet_socket(const struct sock_fprog *program, GError **error)
{
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
  int one = 1;
  int fd;

  /* Protocol 0 receives nothing until bind(), so no packet gets in before
   * the filter is attached. */
  fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int errsv = errno;
    if (errsv == EPERM || errsv == EACCES)
      g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED,
                  "capturing packets needs CAP_NET_RAW, which tfstd does not have (set "
                  "[Diagnostics] PacketTrace=yes, then systemctl daemon-reload and restart "
                  "the instance): socket(AF_PACKET): %s",
                  g_strerror(errsv));
    else if (errsv == EAFNOSUPPORT)
      /* systemd's RestrictAddressFamilies= answers this way. */
      g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED,
                  "capturing packets needs AF_PACKET sockets, which tfstd may not open "
                  "(RestrictAddressFamilies=; [Diagnostics] PacketTrace=yes allows them): %s",
                  g_strerror(errsv));
    else
      tfst_error_from_errno(error, errsv, "cannot open a packet socket");
    return -1;
  }
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, program, sizeof(*program)) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) < 0 ||
      bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
    int errsv = errno;
    close(fd);
    tfst_error_from_errno(error, errsv, "cannot set up the packet socket");
    g_prefix_error(error, "capture: ");
    return -1;
  }
  return fd;
}

static gboolean
trace_start_capture(TfstTrace *trace, GError **error)
{
  int fd = open_packet_socket(trace->program, error);

  if (fd < 0)
    return FALSE;
  trace->fd = fd;
  trace->watch_id = g_unix_fd_add(fd, G_IO_IN, capture_readable_cb, trace);
  return TRUE;
}

static void
trace_stop_capture(TfstTrace *trace)
{
  g_clear_handle_id(&trace->watch_id, g_source_remove);
  if (trace->fd >= 0)
    close(trace->fd);
  trace->fd = -1;
}

/* ---- life cycle ---- */

static char *
normalize_address(const char *address, GError **error)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(address);

  if (inet == NULL) {
    g_autofree char *shown = tfst_error_quote_arg(address);
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "“%s” is not a numeric IPv4 or IPv6 address", shown);
    return NULL;
  }
  return g_inet_address_to_string(inet);
}

TfstTrace *
tfst_trace_new(const char *name, const char *address, guint16 port, guint32 size, gboolean wrap,
               GError **error)
{
  g_autoptr(TfstTrace) trace = g_new0(TfstTrace, 1);
  g_autofree char *expression = NULL;

  trace->fd = -1;
  if (!tfst_trace_check_name(name, error))
    return NULL;
  trace->name = g_strdup(name);
  trace->address = normalize_address(address, error);
  if (trace->address == NULL)
    return NULL;
  if (size < TFST_TRACE_SIZE_MIN || size > TFST_TRACE_SIZE_MAX) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "buffer size %u is out of range %u-%u bytes", size, TFST_TRACE_SIZE_MIN,
                TFST_TRACE_SIZE_MAX);
    return NULL;
  }
  trace->port = port;
  trace->wrap = wrap;
  expression = tfst_pcap_filter_expression(trace->address, port);
  trace->program = tfst_pcap_compile(expression, error);
  if (trace->program == NULL)
    return NULL;
  trace->ring = tfst_trace_ring_new(size);
  if (trace->ring == NULL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot allocate %u bytes for the buffer",
                size);
    return NULL;
  }
  if (!trace_start_capture(trace, error))
    return NULL;
  return g_steal_pointer(&trace);
}

void
tfst_trace_free(TfstTrace *trace)
{
  if (trace == NULL)
    return;
  trace_stop_capture(trace);
  tfst_trace_ring_free(trace->ring);
  tfst_pcap_program_free(trace->program);
  g_free(trace->address);
  g_free(trace->name);
  g_free(trace);
}

const char *
tfst_trace_get_name(const TfstTrace *trace)
{
  return trace->name;
}

guint32
tfst_trace_get_size(const TfstTrace *trace)
{
  return (guint32)tfst_trace_ring_size(trace->ring);
}

gboolean
tfst_trace_set_paused(TfstTrace *trace, gboolean paused, GError **error)
{
  if (paused == trace->paused)
    return TRUE;
  if (paused) {
    /* What the kernel queued before the pause still counts. */
    tfst_trace_drain(trace);
    trace_stop_capture(trace);
  } else if (!trace->full && !trace_start_capture(trace, error)) {
    return FALSE;
  }
  trace->paused = paused;
  return TRUE;
}

const char *
tfst_trace_get_status(const TfstTrace *trace)
{
  if (trace->full)
    return "FULL";
  return tfst_trace_ring_count(trace->ring) == 0 ? "EMPTY" : "ACTIVE";
}

GVariant *
tfst_trace_to_list_entry(const TfstTrace *trace)
{
  return g_variant_new(
      "(ssquuubbs)", trace->name, trace->address, trace->port,
      (guint32)tfst_trace_ring_size(trace->ring), (guint32)tfst_trace_ring_used(trace->ring),
      tfst_trace_ring_count(trace->ring), trace->wrap, trace->paused, tfst_trace_get_status(trace));
}

static void
add_packet_cb(gint64 time_us, guint32 wire_length, const guint8 *data, guint32 captured,
              gpointer user_data)
{
  GVariantBuilder *builder = user_data;
  TfstPacketInfo info;
  g_autofree char *flags = NULL;

  /* The filter passes only TCP over IP, so this holds; keep Show total. */
  if (!tfst_packet_decode(data, captured, &info))
    info = (TfstPacketInfo){.header_length = captured};
  flags = tfst_packet_flags_to_string(info.flags);
  g_variant_builder_add(
      builder, "(tsqsqsuuqu@ay)", (guint64)time_us, info.source, info.source_port, info.destination,
      info.destination_port, flags, info.seq, info.ack, info.window, info.payload_length,
      g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, data, info.header_length, 1));
}

GVariant *
tfst_trace_to_packets(const TfstTrace *trace)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a(tsqsqsuuquay)"));

  tfst_trace_ring_foreach(trace->ring, add_packet_cb, &builder);
  return g_variant_builder_end(&builder);
}

static void
add_record_cb(gint64 time_us, guint32 wire_length, const guint8 *data, guint32 captured,
              gpointer user_data)
{
  tfst_pcap_append_record(user_data, time_us, wire_length, data, captured);
}

GBytes *
tfst_trace_to_records(const TfstTrace *trace, guint *out_count)
{
  GByteArray *records = g_byte_array_sized_new((guint)tfst_trace_ring_used(trace->ring));

  tfst_trace_ring_foreach(trace->ring, add_record_cb, records);
  *out_count = tfst_trace_ring_count(trace->ring);
  return g_byte_array_free_to_bytes(records);
}
