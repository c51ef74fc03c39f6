/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One named trace: a packet socket capturing the TCP traffic with one peer
 * into a fixed-size ring (issue 6, org.tfst.Tfst1.Trace).  Runs on the GLib
 * main context; the kernel filters, so the data plane never waits for it:
 * if the main context falls behind, the kernel drops packets from this
 * socket's queue, never from the forwarded connections. */
#pragma once

#include <gio/gio.h>

/* The contract's limits (dbus/org.tfst.Tfst1.Trace.xml). */
#define TFST_TRACE_NAME_MAX 32
#define TFST_TRACE_SIZE_MIN 4096u
#define TFST_TRACE_SIZE_MAX 67108864u

typedef struct TfstTrace TfstTrace;

/* A name is 1-32 characters from [A-Za-z0-9_.-]; else InvalidArgs. */
gboolean tfst_trace_check_name(const char *name, GError **error);
/* Starts capturing.  Invalid arguments are TFST_ERROR_INVALID_ARGS; a
 * daemon without CAP_NET_RAW gets TFST_ERROR_FAILED saying so. */
TfstTrace *tfst_trace_new(const char *name, const char *address, guint16 port, guint32 size,
                          gboolean wrap, GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Closes the capture socket and frees the buffer. */
void tfst_trace_free(TfstTrace *trace);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstTrace, tfst_trace_free)

const char *tfst_trace_get_name(const TfstTrace *trace);
guint32 tfst_trace_get_size(const TfstTrace *trace);
/* Pausing closes the capture socket; resuming opens a new one, which can
 * fail as tfst_trace_new() can.  The buffer is kept either way. */
gboolean tfst_trace_set_paused(TfstTrace *trace, gboolean paused, GError **error);
/* "EMPTY", "ACTIVE" or "FULL". */
const char *tfst_trace_get_status(const TfstTrace *trace);
/* (name, address, port, size, used, packets, wrap, paused, status) */
GVariant *tfst_trace_to_list_entry(const TfstTrace *trace);
/* a(tsqsqsuuquay): the packets decoded, oldest first. */
GVariant *tfst_trace_to_packets(const TfstTrace *trace);
/* A copy of the packets as tfst_pcap_write() records, and their count. */
GBytes *tfst_trace_to_records(const TfstTrace *trace, guint *out_count);
/* Reads what the capture socket holds now, as its fd watch does (tests). */
void tfst_trace_drain(TfstTrace *trace);
