/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-pcap.h"
#include "tfst-error.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef pcap_t TfstPcap;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstPcap, pcap_close)

typedef struct {
  gint64 time_us;
  guint32 captured;
  guint32 wire_length;
} Record;

char *
tfst_pcap_filter_expression(const char *address, guint16 port)
{
  if (port == 0)
    return g_strdup_printf("tcp and host %s", address);
  /* "tcp port P" alone would also match our own port P toward another
   * peer's ephemeral port; tie the port to the peer's side. */
  return g_strdup_printf("tcp and ((src host %s and src port %u) or (dst host %s and dst port %u))",
                         address, port, address, port);
}

struct sock_fprog *
tfst_pcap_compile(const char *expression, GError **error)
{
  g_autoptr(TfstPcap) pcap = pcap_open_dead(DLT_RAW, TFST_PCAP_SNAPLEN);
  struct bpf_program bpf = {0};
  struct sock_fprog *program;

  if (pcap == NULL) {
    g_set_error_literal(error, TFST_ERROR, TFST_ERROR_FAILED, "libpcap: pcap_open_dead failed");
    return NULL;
  }
  if (pcap_compile(pcap, &bpf, expression, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS, "capture filter “%s”: %s", expression,
                pcap_geterr(pcap));
    return NULL;
  }
  /* struct bpf_insn and struct sock_filter share one layout (libpcap
   * attaches its programs to the kernel the same way). */
  G_STATIC_ASSERT(sizeof(struct bpf_insn) == sizeof(struct sock_filter));
  program = g_new0(struct sock_fprog, 1);
  program->len = (unsigned short)bpf.bf_len;
  program->filter = g_memdup2(bpf.bf_insns, sizeof(struct sock_filter) * bpf.bf_len);
  pcap_freecode(&bpf);
  return program;
}

void
tfst_pcap_program_free(struct sock_fprog *program)
{
  if (program == NULL)
    return;
  g_free(program->filter);
  g_free(program);
}

void
tfst_pcap_append_record(GByteArray *records, gint64 time_us, guint32 wire_length,
                        const guint8 *data, guint32 captured)
{
  Record r = {.time_us = time_us, .captured = captured, .wire_length = wire_length};

  g_byte_array_append(records, (const guint8 *)&r, sizeof(r));
  g_byte_array_append(records, data, captured);
}

static void
close_file(FILE *file)
{
  fclose(file);
}
typedef FILE TfstFile;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstFile, close_file)

/* A stdio stream on a copy of fd: the stream closes its own descriptor,
 * the caller's stays open. */
static FILE *
stream_for_fd(int fd, GError **error)
{
  int copy = dup(fd);
  FILE *file = copy >= 0 ? fdopen(copy, "w") : NULL;

  if (file == NULL) {
    int errsv = errno;
    if (copy >= 0)
      close(copy);
    tfst_error_from_errno(error, errsv, "cannot use the file descriptor");
  }
  return file;
}

/* One pcap packet per record of tfst_pcap_append_record(); returns how
 * many. */
static gint64
dump_records(pcap_dumper_t *dumper, GBytes *records)
{
  gsize size = 0;
  const guint8 *p = g_bytes_get_data(records, &size);
  gsize at = 0;
  gint64 n = 0;

  while (at + sizeof(Record) <= size) {
    Record r;
    struct pcap_pkthdr h = {0};

    memcpy(&r, p + at, sizeof(r));
    at += sizeof(r);
    h.ts.tv_sec = (time_t)(r.time_us / G_USEC_PER_SEC);
    h.ts.tv_usec = (suseconds_t)(r.time_us % G_USEC_PER_SEC);
    h.caplen = r.captured;
    h.len = MAX(r.wire_length, r.captured);
    pcap_dump((u_char *)dumper, &h, p + at);
    at += r.captured;
    n++;
  }
  return n;
}

gint64
tfst_pcap_write(int fd, GBytes *records, GError **error)
{
  g_autoptr(TfstPcap) pcap =
      pcap_open_dead_with_tstamp_precision(DLT_RAW, TFST_PCAP_SNAPLEN, PCAP_TSTAMP_PRECISION_MICRO);
  g_autoptr(TfstFile) file = stream_for_fd(fd, error);
  pcap_dumper_t *dumper;
  gint64 n;

  if (file == NULL)
    return -1;
  dumper = pcap_dump_fopen(pcap, file);
  if (dumper == NULL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot write the pcap header: %s",
                pcap_geterr(pcap));
    return -1;
  }
  n = dump_records(dumper, records);
  /* pcap_dump() reports nothing; the stream remembers write errors. */
  if (pcap_dump_flush(dumper) != 0 || ferror(file)) {
    int errsv = errno;
    pcap_dump_close(dumper); /* closes the stream too */
    file = NULL;
    /* The contract: every write error is org.tfst.Tfst1.Error.Failed. */
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot write the pcap file: %s",
                g_strerror(errsv != 0 ? errsv : EIO));
    return -1;
  }
  pcap_dump_close(dumper);
  file = NULL;
  return n;
}
