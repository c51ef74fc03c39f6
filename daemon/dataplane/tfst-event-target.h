/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Event output of one [Events NAME] section at its delivering end: the
 * Target= collector.  udp: one datagram per event; tcp: one connection,
 * reconnected with backoff, RFC 6587 octet-counted frames or, with
 * TargetFraming=newline, the event and LF.  An event counts as delivered
 * once the kernel took it (sent, or written to the TCP socket); the owner
 * learns that, in order, through written_cb with the token it passed.
 * Runs on the data-plane thread's sd-event loop. */
#pragma once

#include "tfst-config.h"
#include "tfst-log.h"

#include <systemd/sd-event.h>

typedef struct TfstEventTarget TfstEventTarget;

/* Bytes queued in user space for a TCP target before events are refused
 * (-ENOBUFS) until it drains. */
#define TFST_EVENT_TARGET_QUEUE (1024u * 1024u)

typedef enum {
  TFST_EVENT_TARGET_DOWN,       /* not connected, next attempt scheduled */
  TFST_EVENT_TARGET_CONNECTING, /* TCP connect in progress */
  TFST_EVENT_TARGET_UP,         /* taking events */
} TfstEventTargetState;

typedef struct {
  /* Every event queued with `token` up to this one is in the kernel now. */
  void (*written_cb)(gpointer user_data, guint64 token);
  /* The state changed (up, down with its error); queued events that were
   * not written are gone: their tokens are never reported. */
  void (*state_cb)(gpointer user_data, TfstEventTargetState state, int err);
} TfstEventTargetCallbacks;

TfstEventTarget *tfst_event_target_new(sd_event *event, TfstLog *log, const TfstEventsConf *conf,
                                       const TfstEventTargetCallbacks *cb, gpointer user_data);
void tfst_event_target_free(TfstEventTarget *t);
/* Queues one event.  Returns 0 when queued (written_cb reports `token`
 * later, or before returning for UDP), -ENOBUFS when the queue is full,
 * -ENOTCONN when the target is not up, -errno of a failed send (UDP).
 * An event too large for one UDP datagram (above 65507 bytes over IPv4)
 * is dropped with a journal line and reported written, so that it cannot
 * stall the events behind it.  No state_cb runs inside this call: a send
 * that takes the target down (ECONNREFUSED) returns the error, and the
 * owner hears of the state from the loop afterwards. */
int tfst_event_target_send(TfstEventTarget *t, const guint8 *data, gsize len, guint64 token);
TfstEventTargetState tfst_event_target_state(const TfstEventTarget *t);
/* "ECONNREFUSED: Connection refused" of the last failure, "" when none. */
const char *tfst_event_target_last_error(const TfstEventTarget *t);
/* Try to connect now (Flush()). */
void tfst_event_target_kick(TfstEventTarget *t);
