/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by tfst-event-input.c (sockets, UDP, accepting) and
 * tfst-event-conn.c (one TCP sender).  The connection file uses nothing of
 * the input file, so the two link without a circle. */
#pragma once

#include "tfst-addr.h"
#include "tfst-event-input.h"
#include "tfst-syslog-framing.h"

#include <sys/socket.h>

/* Datagrams per recvmmsg(), each into a buffer one byte larger than the
 * largest event so that a bigger one shows as truncated (MSG_TRUNC). */
#define TFST_EVENT_INPUT_UDP_BATCH 16u
#define TFST_EVENT_INPUT_UDP_BUF   (TFST_EVENT_MAX + 1u)
/* Bytes read from one TCP connection per dispatch: a flooding sender
 * yields to the other connections and to the data plane after this. */
#define TFST_EVENT_CONN_READ_BUDGET (256u * 1024u)

/* A Listen= socket: UDP, or a TCP listener. */
typedef struct {
  TfstEventInput *input;
  int fd;
  sd_event_source *io;
  sd_event_source *retry;    /* a listener out of fds accepts again later */
  guint32 kernel_drops_seen; /* UDP: the last SO_RXQ_OVFL count */
} TfstEventSocket;

typedef struct TfstEventConn TfstEventConn;

struct TfstEventInput {
  sd_event *event;
  TfstLog *log;
  char *name;
  TfstEventInputCallbacks cb;
  gpointer user_data;
  GPtrArray *activated; /* while setting up only */
  GPtrArray *sockets;   /* TfstEventSocket */
  GArray *addrs;        /* TfstEventAddr, bound */
  GQueue conns;         /* TfstEventConn */
  gboolean paused;
  sd_event_source *resume; /* held events are retried from the loop */
  TfstEventInputCounters counters;
  TfstRatelimit rl_malformed;
  TfstRatelimit rl_refused;
  /* UDP: one batch of buffers shared by every UDP socket of the input
   * (the pages of a large buffer are only touched by large datagrams). */
  guint8 *udp_buf;
  struct mmsghdr udp_msgs[TFST_EVENT_INPUT_UDP_BATCH];
  struct iovec udp_iov[TFST_EVENT_INPUT_UDP_BATCH];
  TfstSockAddr udp_from[TFST_EVENT_INPUT_UDP_BATCH];
  guint8 udp_control[TFST_EVENT_INPUT_UDP_BATCH][CMSG_SPACE(sizeof(guint32))];
};

/* Counts a malformed input, tells the owner and logs it (rate limited);
 * `then` ends the line (", connection closed" or ""). */
void tfst_event_conn_malformed(TfstEventInput *in, TfstEventMalformed why, const char *peer,
                               const char *then);
/* Takes an accepted connection (closed at once, counted as refused, over
 * the caps). */
void tfst_event_conn_new(TfstEventInput *in, int fd, const TfstSockAddr *peer);
void tfst_event_conn_free(TfstEventConn *c);
void tfst_event_conn_pause_all(TfstEventInput *in);
void tfst_event_conn_resume_all(TfstEventInput *in);
