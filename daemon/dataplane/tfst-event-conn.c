/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One TCP sender of an [Events] Listen=tcp: socket: its RFC 6587 framing,
 * a read budget per dispatch, holding an event the owner cannot take yet,
 * and the caps on connections. */
#include "tfst-event-input-private.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <unistd.h>

/* A sender whose host vanished (or whose firewall state expired) would
 * hold its connection slot for ever: keepalive finds it within minutes. */
#define CONN_KEEPIDLE_S  120
#define CONN_KEEPINTVL_S 30
#define CONN_KEEPCNT     4

struct TfstEventConn {
  TfstEventInput *input;
  GList link; /* in input->conns */
  int fd;
  TfstSockAddr peer;
  char peer_text[TFST_ADDR_STRLEN];
  sd_event_source *io;
  TfstSyslogFraming *framing;
  /* An event the owner could not take (-ENOSPC): it points into the
   * framing buffer, which stays untouched until it is taken. */
  const guint8 *held;
  gsize held_len;
  gboolean eof; /* the sender closed; closed here once nothing is held */
};

typedef enum {
  CONN_GO,     /* read on */
  CONN_HELD,   /* an event waits for tfst_event_input_resume() */
  CONN_CLOSED, /* freed */
} ConnState;

static const char *const malformed_text[TFST_EVENT_MALFORMED_KINDS] = {
    [TFST_EVENT_MALFORMED_OVERSIZE] = "an event above 65536 bytes",
    [TFST_EVENT_MALFORMED_TRUNCATED] = "a connection closed inside an octet-counted event",
    [TFST_EVENT_MALFORMED_FRAMING] = "no octet count where one must be (RFC 6587)",
    [TFST_EVENT_MALFORMED_EMPTY] = "an empty event",
};

void
tfst_event_conn_malformed(TfstEventInput *in, TfstEventMalformed why, const char *peer,
                          const char *then)
{
  const TfstLogFields fields = {.message_id = TFST_MSGID_EVENTS_DROP};

  in->counters.malformed[why]++;
  if (in->cb.malformed_cb != NULL)
    in->cb.malformed_cb(in->user_data, why, peer);
  tfst_log_limited(in->log, &in->rl_malformed, LOG_WARNING, &fields,
                   "events %s: %s from %s, dropped%s", in->name, malformed_text[why], peer, then);
}

void
tfst_event_conn_free(TfstEventConn *c)
{
  TfstEventInput *in = c->input;

  g_queue_unlink(&in->conns, &c->link);
  in->counters.open_connections--;
  sd_event_source_disable_unref(c->io);
  close(c->fd);
  tfst_syslog_framing_free(c->framing);
  g_free(c);
}

static gboolean
conn_deliver(TfstEventConn *c, const guint8 *data, gsize len)
{
  TfstEventInput *in = c->input;

  if (in->cb.event_cb(in->user_data, data, len, TRUE) == -ENOSPC) {
    c->held = data;
    c->held_len = len;
    sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
    return FALSE;
  }
  in->counters.tcp_events++;
  return TRUE;
}

static TfstEventMalformed
malformed_kind(TfstSyslogFramingResult r)
{
  switch (r) {
    case TFST_SYSLOG_FRAMING_EMPTY:
      return TFST_EVENT_MALFORMED_EMPTY;
    case TFST_SYSLOG_FRAMING_OVERSIZE:
      return TFST_EVENT_MALFORMED_OVERSIZE;
    case TFST_SYSLOG_FRAMING_TRUNCATED:
      return TFST_EVENT_MALFORMED_TRUNCATED;
    default:
      return TFST_EVENT_MALFORMED_FRAMING;
  }
}

/* Every event in what was read so far. */
static ConnState
conn_parse(TfstEventConn *c)
{
  const guint8 *data = NULL;
  gsize len = 0;

  for (;;) {
    TfstSyslogFramingResult r = tfst_syslog_framing_next(c->framing, &data, &len);
    gboolean lost;

    if (r == TFST_SYSLOG_FRAMING_NONE)
      return CONN_GO;
    if (r == TFST_SYSLOG_FRAMING_EVENT) {
      if (!conn_deliver(c, data, len))
        return CONN_HELD;
      continue;
    }
    lost = tfst_syslog_framing_lost(c->framing);
    tfst_event_conn_malformed(c->input, malformed_kind(r), c->peer_text,
                              lost ? ", connection closed" : "");
    if (lost) {
      tfst_event_conn_free(c);
      return CONN_CLOSED;
    }
  }
}

/* The sender closed (or reset) the connection: an unterminated last line
 * is an event, an unfinished octet-counted one is truncated. */
static void
conn_finish(TfstEventConn *c)
{
  const guint8 *data = NULL;
  gsize len = 0;
  TfstSyslogFramingResult r = tfst_syslog_framing_finish(c->framing, &data, &len);

  if (r == TFST_SYSLOG_FRAMING_EVENT && !conn_deliver(c, data, len))
    return;
  if (r == TFST_SYSLOG_FRAMING_TRUNCATED)
    tfst_event_conn_malformed(c->input, TFST_EVENT_MALFORMED_TRUNCATED, c->peer_text, "");
  tfst_event_conn_free(c);
}

/* At most TFST_EVENT_CONN_READ_BUDGET bytes: the socket stays readable,
 * so the loop comes back to it after its other sources had their turn. */
static void
conn_read(TfstEventConn *c)
{
  gsize budget = TFST_EVENT_CONN_READ_BUDGET;

  while (budget > 0) {
    gsize room = 0;
    guint8 *p = tfst_syslog_framing_space(c->framing, &room);
    ssize_t n = recv(c->fd, p, MIN(room, budget), 0);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) {
      c->eof = TRUE;
      sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
      conn_finish(c);
      return;
    }
    tfst_syslog_framing_commit(c->framing, (gsize)n);
    budget -= (gsize)n;
    if (conn_parse(c) != CONN_GO)
      return;
  }
}

static int
conn_io_cb(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  TfstEventConn *c = user_data;
  TfstEventInput *in = c->input;
  guint64 before = in->counters.tcp_events;

  conn_read(c);
  if (in->counters.tcp_events != before && in->cb.batch_cb != NULL)
    in->cb.batch_cb(in->user_data);
  return 0;
}

static guint
conns_from(TfstEventInput *in, const TfstSockAddr *peer)
{
  guint n = 0;

  for (GList *l = in->conns.head; l != NULL; l = l->next) {
    const TfstEventConn *c = l->data;

    n += tfst_addr_equal(&c->peer, peer, FALSE);
  }
  return n;
}

static const char *
refuse_reason(TfstEventInput *in, const TfstSockAddr *peer)
{
  if (in->counters.open_connections >= TFST_EVENT_INPUT_MAX_CONNS)
    return "the input has 512 connections open already";
  if (conns_from(in, peer) >= TFST_EVENT_INPUT_MAX_CONNS_PER_IP)
    return "that address has 64 connections open already";
  return NULL;
}

static void
conn_tune(int fd)
{
  const int on = 1, idle = CONN_KEEPIDLE_S, intvl = CONN_KEEPINTVL_S, cnt = CONN_KEEPCNT;

  (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void
tfst_event_conn_new(TfstEventInput *in, int fd, const TfstSockAddr *peer)
{
  const char *why = refuse_reason(in, peer);
  TfstEventConn *c;
  char buf[TFST_ADDR_STRLEN];

  if (why != NULL) {
    in->counters.refused_connections++;
    tfst_log_limited(in->log, &in->rl_refused, LOG_WARNING, NULL,
                     "events %s: connection from %s refused: %s", in->name,
                     tfst_addr_format(peer, buf), why);
    close(fd);
    return;
  }
  c = g_new0(TfstEventConn, 1);
  c->input = in;
  c->fd = fd;
  c->peer = *peer;
  tfst_addr_format(peer, c->peer_text);
  c->framing = tfst_syslog_framing_new();
  c->link.data = c;
  conn_tune(fd);
  g_queue_push_tail_link(&in->conns, &c->link);
  in->counters.connections++;
  in->counters.open_connections++;
  if (sd_event_add_io(in->event, &c->io, fd, EPOLLIN, conn_io_cb, c) < 0) {
    tfst_event_conn_free(c);
    return;
  }
  if (in->paused)
    sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
}

void
tfst_event_conn_pause_all(TfstEventInput *in)
{
  for (GList *l = in->conns.head; l != NULL; l = l->next) {
    TfstEventConn *c = l->data;

    sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
  }
}

/* The held event first, then what was read after it, then reading again. */
static void
conn_resume(TfstEventConn *c)
{
  if (c->held != NULL) {
    const guint8 *data = c->held;

    c->held = NULL;
    if (!conn_deliver(c, data, c->held_len))
      return;
  }
  if (c->eof) {
    conn_finish(c);
    return;
  }
  if (conn_parse(c) == CONN_GO && !c->input->paused)
    sd_event_source_set_enabled(c->io, SD_EVENT_ON);
}

void
tfst_event_conn_resume_all(TfstEventInput *in)
{
  guint64 before = in->counters.tcp_events;
  GList *l = in->conns.head;

  /* The owner may pause again from its callback. */
  while (l != NULL && !in->paused) {
    TfstEventConn *c = l->data;

    l = l->next;
    conn_resume(c);
  }
  if (in->counters.tcp_events != before && in->cb.batch_cb != NULL)
    in->cb.batch_cb(in->user_data);
}
