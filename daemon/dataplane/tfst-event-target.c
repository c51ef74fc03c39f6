/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-event-target.h"

#include "tfst-buf.h"
#include "tfst-engine-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define BACKOFF_MIN_US (1 * G_USEC_PER_SEC)
#define BACKOFF_MAX_US (30 * G_USEC_PER_SEC)
/* What a collector sends us is read and thrown away (rsyslog sends
 * nothing), at most this much per dispatch. */
#define DISCARD_BUDGET (64u * 1024u)

/* A collector that vanished without a FIN or RST is found by keepalive;
 * TCP_USER_TIMEOUT bounds how long written events may sit unacknowledged
 * by its kernel. */
static const TfstKeepaliveConf target_keepalive = {
    .enabled = TRUE,
    .idle_s = 60,
    .interval_s = 10,
    .count = 6,
    .user_timeout_ms = 60000,
};

/* A queued event: the owner's token, reported once the byte before `end`
 * (an absolute position in the output stream) is in the kernel. */
typedef struct {
  guint64 token;
  guint64 end;
} TargetToken;

struct TfstEventTarget {
  sd_event *event;
  TfstLog *log;
  char *name;
  TfstEventTargetCallbacks cb;
  gpointer user_data;
  TfstEventAddr addr;
  TfstEventFraming framing;
  TfstEventTargetState state;
  int fd;
  sd_event_source *io;
  sd_event_source *timer; /* the next connect */
  /* A state change inside tfst_event_target_send() is told to the owner
   * from the loop, never from inside its own call. */
  gboolean in_send;
  sd_event_source *notify;
  int notify_err;
  guint64 backoff_us;
  char last_error[TFST_HOP_ERROR_MAX];
  TfstRatelimit rl;
  /* TCP */
  TfstBuf out;
  GArray *tokens;  /* TargetToken, oldest first */
  guint64 queued;  /* bytes queued since the connection was made */
  guint64 written; /* of them, bytes the kernel took */
};

static void target_connect(TfstEventTarget *t);

static const char *
target_text(const TfstEventTarget *t, char buf[TFST_ADDR_STRLEN])
{
  return tfst_addr_format(&t->addr.addr, buf);
}

static const char *
transport_text(const TfstEventTarget *t)
{
  return t->addr.transport == TFST_EVENT_UDP ? "udp" : "tcp";
}

static int
notify_cb(sd_event_source *source, void *user_data)
{
  TfstEventTarget *t = user_data;

  t->notify = sd_event_source_disable_unref(t->notify);
  if (t->cb.state_cb != NULL)
    t->cb.state_cb(t->user_data, t->state, t->notify_err);
  return 0;
}

static void
set_state(TfstEventTarget *t, TfstEventTargetState state, int err)
{
  if (t->state == state)
    return;
  t->state = state;
  if (t->in_send) {
    t->notify_err = err;
    if (t->notify == NULL && sd_event_add_defer(t->event, &t->notify, notify_cb, t) < 0)
      t->notify = NULL;
    return;
  }
  if (t->cb.state_cb != NULL)
    t->cb.state_cb(t->user_data, state, err);
}

static int
reconnect_cb(sd_event_source *source, uint64_t usec, void *user_data)
{
  TfstEventTarget *t = user_data;

  t->timer = sd_event_source_disable_unref(t->timer);
  target_connect(t);
  return 0;
}

static void
close_socket(TfstEventTarget *t)
{
  t->io = sd_event_source_disable_unref(t->io);
  if (t->fd >= 0)
    close(t->fd);
  t->fd = -1;
  /* Events not yet in the kernel are gone: their tokens are never
   * reported and the owner sends them again. */
  tfst_buf_clear(&t->out);
  g_array_set_size(t->tokens, 0);
  t->queued = t->written = 0;
}

/* Down until the next attempt, which waits twice as long as the one
 * before (up to BACKOFF_MAX_US). */
static void
target_down(TfstEventTarget *t, int err, const char *why)
{
  char buf[TFST_ADDR_STRLEN];

  close_socket(t);
  tfst_hop_error_text(t->last_error, sizeof(t->last_error), err, why);
  tfst_log_limited(t->log, &t->rl, LOG_WARNING, NULL, "events %s: target %s:%s down: %s", t->name,
                   transport_text(t), target_text(t, buf), t->last_error);
  t->timer = sd_event_source_disable_unref(t->timer);
  if (sd_event_add_time_relative(t->event, &t->timer, CLOCK_MONOTONIC, t->backoff_us, 0,
                                 reconnect_cb, t) < 0)
    t->timer = NULL;
  t->backoff_us = MIN(t->backoff_us * 2, (guint64)BACKOFF_MAX_US);
  set_state(t, TFST_EVENT_TARGET_DOWN, err);
}

static void
target_up(TfstEventTarget *t)
{
  char buf[TFST_ADDR_STRLEN];

  t->backoff_us = BACKOFF_MIN_US;
  tfst_log(t->log, LOG_INFO, "events %s: target %s:%s up", t->name, transport_text(t),
           target_text(t, buf));
  set_state(t, TFST_EVENT_TARGET_UP, 0);
}

/* Reads what the collector sends and drops it: 0, or -errno / -EPIPE at
 * end of stream so the caller can take the target down. */
static int
discard_input(TfstEventTarget *t)
{
  guint8 buf[4096];

  for (gsize total = 0; total < DISCARD_BUDGET;) {
    ssize_t n = recv(t->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno == EAGAIN ? 0 : -errno;
    if (n == 0)
      return t->addr.transport == TFST_EVENT_TCP ? -EPIPE : 0;
    total += (gsize)n;
  }
  return 0;
}

/* ---- UDP ---------------------------------------------------------------- */

/* An ICMP port unreachable for an earlier datagram shows as an error on
 * the connected socket: the next send or this read returns it. */
static int
udp_io_cb(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  TfstEventTarget *t = user_data;
  int r = discard_input(t);

  if (r < 0)
    target_down(t, -r, "sending to the collector failed");
  return 0;
}

static void
udp_drop_oversize(TfstEventTarget *t, gsize len)
{
  const TfstLogFields fields = {.message_id = TFST_MSGID_EVENTS_DROP, .err = EMSGSIZE};
  char buf[TFST_ADDR_STRLEN];

  tfst_log_limited(t->log, &t->rl, LOG_WARNING, &fields,
                   "events %s: an event of %" G_GSIZE_FORMAT " bytes does not fit in a datagram "
                   "to udp:%s, dropped",
                   t->name, len, target_text(t, buf));
}

static int
udp_send(TfstEventTarget *t, const guint8 *data, gsize len, guint64 token)
{
  ssize_t n = send(t->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  int err = errno;

  if (n >= 0) {
    t->cb.written_cb(t->user_data, token);
    return 0;
  }
  /* A full socket buffer: the owner tries again later. */
  if (err == EAGAIN || err == ENOBUFS)
    return -ENOBUFS;
  /* Larger than a datagram can be (65507 bytes over IPv4, 65527 over
   * IPv6; a TCP sender may send up to 65536): it can never go, and trying
   * again would stall every event behind it. */
  if (err == EMSGSIZE) {
    udp_drop_oversize(t, len);
    t->cb.written_cb(t->user_data, token);
    return 0;
  }
  target_down(t, err, "sending to the collector failed");
  return -err;
}

/* ---- TCP ---------------------------------------------------------------- */

/* Tells the owner the newest event now wholly in the kernel. */
static void
report_written(TfstEventTarget *t)
{
  guint done = 0;

  while (done < t->tokens->len && g_array_index(t->tokens, TargetToken, done).end <= t->written)
    done++;
  if (done == 0)
    return;
  {
    guint64 token = g_array_index(t->tokens, TargetToken, done - 1).token;

    g_array_remove_range(t->tokens, 0, done);
    t->cb.written_cb(t->user_data, token);
  }
}

static void
tcp_watch(TfstEventTarget *t)
{
  uint32_t events = EPOLLIN | EPOLLRDHUP;

  if (tfst_buf_len(&t->out) > 0)
    events |= EPOLLOUT;
  (void)sd_event_source_set_io_events(t->io, events);
}

/* FALSE when the target went down. */
static gboolean
tcp_flush(TfstEventTarget *t)
{
  gssize n = tfst_buf_send(&t->out, t->fd);

  if (n < 0) {
    target_down(t, (int)-n, "writing to the collector failed");
    return FALSE;
  }
  t->written += (guint64)n;
  tcp_watch(t);
  report_written(t);
  return TRUE;
}

static void
tcp_connected(TfstEventTarget *t)
{
  int err = tfst_socket_error(t->fd);

  if (err != 0) {
    target_down(t, err, "cannot connect to the collector");
    return;
  }
  (void)tfst_socket_tune(t->fd, &target_keepalive);
  target_up(t);
  if (t->state == TFST_EVENT_TARGET_UP)
    tcp_watch(t);
}

static int
tcp_io_cb(sd_event_source *source, int fd, uint32_t revents, void *user_data)
{
  TfstEventTarget *t = user_data;
  int r;

  if (t->state == TFST_EVENT_TARGET_CONNECTING) {
    tcp_connected(t);
    return 0;
  }
  if ((revents & EPOLLOUT) != 0 && !tcp_flush(t))
    return 0;
  if ((revents & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) == 0)
    return 0;
  r = discard_input(t);
  if (r == -EPIPE)
    target_down(t, EPIPE, "the collector closed the connection");
  else if (r < 0)
    target_down(t, -r, "reading from the collector failed");
  return 0;
}

static gsize
frame_header(const TfstEventTarget *t, gsize len, char buf[16])
{
  if (t->framing == TFST_EVENT_FRAMING_NEWLINE)
    return 0;
  return (gsize)g_snprintf(buf, 16, "%" G_GSIZE_FORMAT " ", len);
}

/* Queued now, written by tcp_io_cb: the events one dispatch sends go out
 * in one write, and written_cb never runs inside the owner's send. */
static int
tcp_send(TfstEventTarget *t, const guint8 *data, gsize len, guint64 token)
{
  char head[16];
  gsize head_len = frame_header(t, len, head);
  gsize frame = head_len + len + (t->framing == TFST_EVENT_FRAMING_NEWLINE);
  TargetToken tok;

  if (tfst_buf_len(&t->out) > 0 && tfst_buf_len(&t->out) + frame > TFST_EVENT_TARGET_QUEUE)
    return -ENOBUFS;
  if (head_len > 0)
    tfst_buf_append(&t->out, head, head_len);
  tfst_buf_append(&t->out, data, len);
  if (t->framing == TFST_EVENT_FRAMING_NEWLINE)
    tfst_buf_append(&t->out, "\n", 1);
  t->queued += frame;
  tok.token = token;
  tok.end = t->queued;
  g_array_append_val(t->tokens, tok);
  tcp_watch(t);
  return 0;
}

/* ---- both --------------------------------------------------------------- */

static int
open_socket(TfstEventTarget *t)
{
  const TfstSockAddr *a = &t->addr.addr;
  int fd;

  if (t->addr.transport == TFST_EVENT_TCP)
    return tfst_socket_connect(a, NULL, NULL);
  fd = socket(a->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0)
    return -errno;
  if (connect(fd, &a->sa, tfst_addr_len(a)) < 0) {
    int err = errno;

    close(fd);
    return -err;
  }
  return fd;
}

static void
target_connect(TfstEventTarget *t)
{
  gboolean tcp = t->addr.transport == TFST_EVENT_TCP;
  int fd = open_socket(t);
  int r;

  if (fd < 0) {
    target_down(t, -fd, "cannot connect to the collector");
    return;
  }
  t->fd = fd;
  r = sd_event_add_io(t->event, &t->io, fd, tcp ? EPOLLOUT : EPOLLIN, tcp ? tcp_io_cb : udp_io_cb,
                      t);
  if (r < 0) {
    target_down(t, -r, "cannot watch the socket");
    return;
  }
  if (tcp)
    set_state(t, TFST_EVENT_TARGET_CONNECTING, 0);
  else
    target_up(t);
}

TfstEventTarget *
tfst_event_target_new(sd_event *event, TfstLog *log, const TfstEventsConf *conf,
                      const TfstEventTargetCallbacks *cb, gpointer user_data)
{
  TfstEventTarget *t = g_new0(TfstEventTarget, 1);
  const TfstRatelimit rl = TFST_RATELIMIT_INIT(TFST_LOG_PEER_INTERVAL_US, TFST_LOG_PEER_BURST);

  g_return_val_if_fail(conf->has_target, NULL);
  t->event = sd_event_ref(event);
  t->log = log;
  t->name = g_strdup(conf->name);
  t->user_data = user_data;
  t->addr = conf->target;
  t->framing = conf->target_framing;
  t->fd = -1;
  t->rl = rl;
  t->backoff_us = BACKOFF_MIN_US;
  t->tokens = g_array_new(FALSE, FALSE, sizeof(TargetToken));
  /* The first state is set before the callbacks are: the owner has no
   * pointer to us yet. */
  t->state = TFST_EVENT_TARGET_CONNECTING;
  target_connect(t);
  t->cb = *cb;
  return t;
}

void
tfst_event_target_free(TfstEventTarget *t)
{
  if (t == NULL)
    return;
  close_socket(t);
  t->timer = sd_event_source_disable_unref(t->timer);
  t->notify = sd_event_source_disable_unref(t->notify);
  tfst_buf_clear(&t->out);
  g_array_unref(t->tokens);
  g_free(t->name);
  sd_event_unref(t->event);
  g_free(t);
}

int
tfst_event_target_send(TfstEventTarget *t, const guint8 *data, gsize len, guint64 token)
{
  int r;

  g_return_val_if_fail(len > 0 && len <= TFST_EVENT_MAX, -EMSGSIZE);
  if (t->state != TFST_EVENT_TARGET_UP)
    return -ENOTCONN;
  if (t->addr.transport == TFST_EVENT_TCP)
    return tcp_send(t, data, len, token);
  t->in_send = TRUE;
  r = udp_send(t, data, len, token);
  t->in_send = FALSE;
  return r;
}

TfstEventTargetState
tfst_event_target_state(const TfstEventTarget *t)
{
  return t->state;
}

const char *
tfst_event_target_last_error(const TfstEventTarget *t)
{
  return t->last_error;
}

void
tfst_event_target_kick(TfstEventTarget *t)
{
  if (t->state != TFST_EVENT_TARGET_DOWN)
    return;
  t->timer = sd_event_source_disable_unref(t->timer);
  t->backoff_us = BACKOFF_MIN_US;
  target_connect(t);
}
