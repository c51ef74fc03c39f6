/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Event input of one [Events NAME] section at its collecting end: the
 * Listen= sockets.  UDP takes one event per datagram; a TCP connection is
 * framed by RFC 6587, octet counting or newline-terminated, detected from
 * its first byte.  Every event is handed to the owner's callback; framing
 * errors are counted by reason, and a connection whose framing is lost is
 * closed.  Memory is bounded: one TFST_EVENT_MAX-sized buffer per TCP
 * connection, at most TFST_EVENT_INPUT_MAX_CONNS connections per section.
 * Runs on the data-plane thread's sd-event loop. */
#pragma once

#include "tfst-config.h"
#include "tfst-log.h"

#include <systemd/sd-event.h>

typedef struct TfstEventInput TfstEventInput;

#define TFST_EVENT_INPUT_MAX_CONNS        512u
#define TFST_EVENT_INPUT_MAX_CONNS_PER_IP 64u

typedef enum {
  TFST_EVENT_MALFORMED_OVERSIZE,  /* above TFST_EVENT_MAX (datagram, count or line) */
  TFST_EVENT_MALFORMED_TRUNCATED, /* a TCP sender closed inside an octet-counted event */
  TFST_EVENT_MALFORMED_FRAMING,   /* not a count where one must be: connection closed */
  TFST_EVENT_MALFORMED_EMPTY,     /* an empty datagram or frame */
  TFST_EVENT_MALFORMED_KINDS,
} TfstEventMalformed;

typedef struct {
  /* One event (1 ... TFST_EVENT_MAX bytes, without its framing).  Returns
   * 0 when taken, or -ENOSPC when the owner cannot take it now (a full
   * spool with SpoolFull=block, or a sync in progress with
   * SpoolSync=always): a TCP connection then keeps the event and stops
   * reading until tfst_event_input_resume(); a datagram is dropped by the
   * owner and counted there. */
  int (*event_cb)(gpointer user_data, const guint8 *data, gsize len, gboolean from_tcp);
  /* A framing error (counted by the input too).  `peer` names the sender. */
  void (*malformed_cb)(gpointer user_data, TfstEventMalformed why, const char *peer);
  /* A read batch ended (a good moment to start a sync with SpoolSync=always). */
  void (*batch_cb)(gpointer user_data);
} TfstEventInputCallbacks;

typedef struct {
  guint64 datagrams;
  guint64 tcp_events;
  guint64 connections;         /* TCP connections accepted */
  guint64 refused_connections; /* over the caps */
  guint64 malformed[TFST_EVENT_MALFORMED_KINDS];
  guint64 kernel_drops; /* SO_RXQ_OVFL: datagrams the socket buffer dropped */
  guint open_connections;
} TfstEventInputCounters;

/* Binds (or takes from `activated`, fds passed by systemd, matching by
 * address and socket type) every Listen= address of `conf`.  Fails with a
 * GError naming the address (TFST_ERROR_CONFIG / G_IO_ERROR). */
TfstEventInput *tfst_event_input_new(sd_event *event, TfstLog *log, const TfstEventsConf *conf,
                                     GPtrArray *activated, const TfstEventInputCallbacks *cb,
                                     gpointer user_data, GError **error);
void tfst_event_input_free(TfstEventInput *in);
/* Stop and restart reading TCP connections (UDP sockets keep being read:
 * the owner drops and counts what it cannot take).  Held events are
 * offered again from the loop after resume, not inside the call. */
void tfst_event_input_pause(TfstEventInput *in);
void tfst_event_input_resume(TfstEventInput *in);
/* The addresses listened on (TfstEventAddr), in Listen= order, with the
 * port the kernel chose where Listen= said port 0. */
const GArray *tfst_event_input_addrs(const TfstEventInput *in);
const TfstEventInputCounters *tfst_event_input_counters(const TfstEventInput *in);
void tfst_event_input_clear_counters(TfstEventInput *in);
