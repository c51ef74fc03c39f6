/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A fixed-size byte ring of captured packets for one trace: the memory is
 * allocated once at its size and never grows.  Each packet costs a 16-byte
 * record header plus its captured bytes, as in a pcap file, so "used" is
 * what an export writes after the file header. */
#pragma once

#include <glib.h>

#define TFST_TRACE_RECORD_HEADER 16

typedef struct TfstTraceRing TfstTraceRing;

/* NULL when `size` bytes cannot be allocated. */
TfstTraceRing *tfst_trace_ring_new(gsize size) G_GNUC_WARN_UNUSED_RESULT;
void tfst_trace_ring_free(TfstTraceRing *ring);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstTraceRing, tfst_trace_ring_free)

/* Appends a packet.  When it does not fit, `wrap` drops the oldest packets
 * until it does; without wrap nothing is dropped and FALSE says the ring is
 * full.  A packet larger than the whole ring is refused (FALSE). */
gboolean tfst_trace_ring_push(TfstTraceRing *ring, gint64 time_us, guint32 wire_length,
                              const guint8 *data, guint32 captured, gboolean wrap);
gsize tfst_trace_ring_size(const TfstTraceRing *ring);
gsize tfst_trace_ring_used(const TfstTraceRing *ring);
guint tfst_trace_ring_count(const TfstTraceRing *ring);

typedef void (*TfstTraceRingFunc)(gint64 time_us, guint32 wire_length, const guint8 *data,
                                  guint32 captured, gpointer user_data);
/* Calls func for every packet, oldest first; data is valid during the call. */
void tfst_trace_ring_foreach(const TfstTraceRing *ring, TfstTraceRingFunc func, gpointer user_data);
