/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A hop: the one TCP connection between a child and its parent carrying all
 * sessions.  Reads frames, runs the HELLO/WHO/IAM handshake, PING liveness
 * and GOAWAY, batches output, and hands everything else to the callbacks
 * the engine installed (engine->hop_cb): it knows nothing above it. */
#include "tfst-engine-private.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int hop_io_cb(sd_event_source *s, int fd, guint32 revents, void *userdata);
static int hop_flush_cb(sd_event_source *s, void *userdata);
static int hop_timer_cb(sd_event_source *s, guint64 usec, void *userdata);
static void hop_pending_done(TfstHop *hop);
static void hop_wake_waiters(TfstHop *gone);

static const char *
hop_side(const TfstHop *hop)
{
  return hop->direction == TFST_HOP_TO_PARENT ? "parent" : "child";
}

const TfstHopConf *
tfst_hop_conf(const TfstHop *hop)
{
  const TfstConfig *c = hop->engine->config;

  return hop->direction == TFST_HOP_TO_PARENT ? &c->parent : &c->children;
}

/* io_mask is what the hop wants; a paused hop is not read whatever it
 * wants (the connect logic reads a mask without EPOLLIN as "connecting"). */
static void
hop_apply_io(TfstHop *hop)
{
  if (hop->io != NULL)
    sd_event_source_set_io_events(hop->io, hop->rx_paused ? hop->io_mask & ~EPOLLIN : hop->io_mask);
}

static void
hop_set_io(TfstHop *hop, guint32 mask)
{
  if (hop->io_mask == mask || hop->io == NULL)
    return;
  hop->io_mask = mask;
  hop_apply_io(hop);
}

static gssize
hop_write_tls(TfstHop *hop)
{
  gsize sent = 0;

  if (!hop->tls_up)
    return 0;
  while (tfst_buf_len(&hop->out) > 0) {
    gssize n = tfst_tls_send(hop->tls, tfst_buf_peek(&hop->out), tfst_buf_len(&hop->out));

    if (n < 0)
      return n;
    if (n == 0)
      break;
    tfst_buf_consume(&hop->out, n);
    sent += n;
  }
  return (gssize)sent;
}

/* The pipe's bytes could not be spliced (the pool says splice is refused):
 * they go to the front of `out`, copied, ahead of what queued behind. */
static int
hop_tx_pipe_to_out(TfstHop *hop)
{
  int r = tfst_pipe_to_buf(hop->tx_pipe, &hop->out, TRUE);

  tfst_pipe_put(&hop->engine->pipes, g_steal_pointer(&hop->tx_pipe));
  return r;
}

/* The frame whose payload is in tx_pipe: its header, then the payload,
 * spliced.  Bytes written (0: would block), or -errno. */
static gssize
hop_write_pipe(TfstHop *hop)
{
  TfstPipePool *pool = &hop->engine->pipes;
  gsize sent = 0;

  while (hop->tx_hdr_off < TFST_FRAME_HEADER_SIZE) {
    ssize_t n =
        send(hop->fd, hop->tx_hdr + hop->tx_hdr_off, TFST_FRAME_HEADER_SIZE - hop->tx_hdr_off,
             MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
      return errno == EAGAIN ? (gssize)sent : -errno;
    hop->tx_hdr_off += n;
    sent += n;
  }
  while (hop->tx_pipe->len > 0) {
    gssize n = tfst_pipe_drain(pool, hop->tx_pipe, hop->fd, hop->tx_pipe->len,
                               tfst_buf_len(&hop->out) > 0);
    if (n == -EAGAIN)
      return (gssize)sent;
    if (n < 0 && !pool->refused)
      return n;
    if (n < 0) {
      int r = hop_tx_pipe_to_out(hop);
      return r < 0 ? r : (gssize)sent;
    }
    sent += n;
  }
  tfst_pipe_put(pool, g_steal_pointer(&hop->tx_pipe));
  return (gssize)sent;
}

/* Bytes written (0: would block), or -errno: the spliced frame first, then
 * `out`. */
static inline gssize
hop_write(TfstHop *hop)
{
  gssize a = 0, b;

  if (G_UNLIKELY(hop->tls != NULL))
    return hop_write_tls(hop);
  if (hop->tx_pipe != NULL && ((a = hop_write_pipe(hop)) < 0 || hop->tx_pipe != NULL))
    return a;
  b = tfst_buf_send(&hop->out, hop->fd);
  return b < 0 ? b : a + b;
}

/* Nothing queued, in user space or in a pipe */
static inline gboolean
hop_out_empty(const TfstHop *hop)
{
  return tfst_buf_len(&hop->out) == 0 && hop->tx_pipe == NULL;
}

static const char *
hop_write_error(TfstHop *hop, int err)
{
  return hop->tls != NULL ? tfst_tls_last_error(hop->tls) : g_strerror(err);
}

/* The next PING one PingInterval from now (also when it changed live). */
void
tfst_hop_arm_ping(TfstHop *hop)
{
  sd_event_source_set_time_relative(hop->timer,
                                    hop->engine->config->keepalive.ping_interval_ms * 1000ull);
  sd_event_source_set_enabled(hop->timer, SD_EVENT_ON);
}

/* Best effort, for a hop about to close.  Behind queued output the frame
 * is queued too and written as far as the socket takes it now: sent on its
 * own it would land inside a frame that is only partly out. */
void
tfst_hop_send_now(TfstHop *hop, const guint8 *frame, gsize len)
{
  if (!hop_out_empty(hop)) {
    tfst_buf_append(&hop->out, frame, len);
    if (!hop->tls_required || hop->tls_up)
      (void)hop_write(hop);
  } else if (!hop->tls_required) {
    (void)send(hop->fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  } else if (hop->tls_up) {
    (void)tfst_tls_send(hop->tls, frame, len);
  }
}

/* A hop that is not up keeps no output buffer once its HELLO is gone. */
static void
hop_out_drained(TfstHop *hop)
{
  if (hop_out_empty(hop) && (!hop->up || hop->out.cap > 4 * TFST_HOP_OUT_HIGH))
    tfst_buf_clear(&hop->out);
}

/* New output goes out at once when nothing was queued ahead of it, which
 * keeps request/response latency down; what the socket does not take, and
 * everything queued behind, is batched by the deferred flush.  A send error
 * is left to that flush too: closing the hop here would free it under the
 * caller. */
static void
hop_kick(TfstHop *hop, gboolean was_empty)
{
  if (hop->closing || hop->flush == NULL)
    return;
  if (was_empty && hop->io_mask == EPOLLIN && (!hop->tls_required || hop->tls_up)) {
    gssize n = hop_write(hop);
    if (n > 0)
      hop->bytes_written += n;
    if (hop_out_empty(hop)) {
      hop_out_drained(hop);
      return;
    }
  }
  sd_event_source_set_enabled(hop->flush, SD_EVENT_ONESHOT);
}

/* The session exists from the start so that no byte goes out in
 * plaintext; the handshake runs once the socket is connected.  A failure
 * here leaves hop->tls NULL with tls_required set: the first event closes
 * the hop. */
static void
hop_tls_start(TfstHop *hop, const TfstHopConf *conf)
{
  TfstConnector *c = hop->connector;
  GBytes *resume = NULL;
  g_autoptr(GError) error = NULL;

  hop->tls_required = TRUE;
  if (c != NULL && c->tls_resume != NULL && c->tls_resume_creds == conf->tls.creds)
    resume = c->tls_resume;
  hop->tls = tfst_tls_new(conf->tls.creds, c != NULL, hop->fd, resume, &error);
  if (hop->tls == NULL) {
    TfstLogFields f = {.message_id = TFST_MSGID_TLS_REFUSED};
    tfst_log_limited(hop->engine->log, &hop->engine->rl_tls, LOG_ERR, &f, "hop to %s at %s: %s",
                     hop_side(hop), hop->peer_desc, error->message);
  }
}

/* ---- hops that have not finished the handshake (MaxPendingHops=) ---- */

gboolean
tfst_hop_admit(TfstEngine *e, const TfstHopConf *conf, const TfstSockAddr *peer)
{
  TfstLogFields f = {.message_id = TFST_MSGID_HANDSHAKE_BAD};
  char ip[INET6_ADDRSTRLEN];
  guint n =
      GPOINTER_TO_UINT(g_hash_table_lookup(e->pending_by_addr, tfst_addr_format_ip(peer, ip)));
  gboolean total = e->pending_hops >= conf->max_pending;

  if (!total && n < conf->max_pending_per_addr)
    return TRUE;
  tfst_log_limited(e->log, &e->rl_pending, LOG_WARNING, &f,
                   "refused a hop connection from %s: %u connections %s have not finished the "
                   "handshake (%s=%u)",
                   ip, total ? e->pending_hops : n, total ? "in all" : "from this address",
                   total ? "MaxPendingHops" : "MaxPendingHopsPerAddress",
                   total ? conf->max_pending : conf->max_pending_per_addr);
  return FALSE;
}

/* The count of pending hops from one source address, moved up (delta > 0)
 * or down by one; an address with none has no entry. */
static void
pending_by_addr_move(TfstEngine *e, const TfstSockAddr *addr, int delta)
{
  char ip[INET6_ADDRSTRLEN];
  const char *key = tfst_addr_format_ip(addr, ip);
  guint n = GPOINTER_TO_UINT(g_hash_table_lookup(e->pending_by_addr, key));

  n = delta > 0 ? n + 1 : n - MIN(n, 1u);
  if (n > 0)
    g_hash_table_insert(e->pending_by_addr, g_strdup(key), GUINT_TO_POINTER(n));
  else
    g_hash_table_remove(e->pending_by_addr, key);
}

static void
hop_pending_add(TfstHop *hop)
{
  TfstEngine *e = hop->engine;

  hop->pending = TRUE;
  e->pending_hops++;
  e->pending_peak = MAX(e->pending_peak, e->pending_hops);
  pending_by_addr_move(e, &hop->peer_addr, +1);
}

/* After a burst of connections that never finished the handshake the
 * heap is full of free pages glibc keeps: malloc_trim() gives them back
 * once the last of them is gone (10 000 silent connections: RSS 34 MiB at
 * the peak, 20 MiB after; 34 MiB after without the trim). */
static void
hop_pending_done(TfstHop *hop)
{
  TfstEngine *e = hop->engine;

  if (!hop->pending)
    return;
  hop->pending = FALSE;
  e->pending_hops--;
  e->pending_in_bytes -= hop->in_cap - TFST_HOP_IN_INITIAL;
  pending_by_addr_move(e, &hop->peer_addr, -1);
  if (e->pending_hops > 0)
    return;
  if (e->pending_peak >= TFST_HOP_TRIM_PEAK)
    (void)malloc_trim(0);
  e->pending_peak = 0;
}

/* Spread over +0..25 %, so that a burst of connections accepted together
 * does not time out in the same instant. */
static guint64
hop_handshake_deadline_us(const TfstHopConf *conf)
{
  return conf->handshake_timeout_ms * 1000ull * (guint64)g_random_int_range(100, 126) / 100;
}

TfstHop *
tfst_hop_new(TfstEngine *e, TfstHopDirection dir, int fd, TfstConnector *c)
{
  TfstHop *hop = g_new0(TfstHop, 1);
  const TfstHopConf *conf = dir == TFST_HOP_TO_PARENT ? &e->config->parent : &e->config->children;
  socklen_t alen = sizeof(hop->peer_addr);
  guint8 hello[128];
  gssize n;

  hop->engine = e;
  hop->direction = dir;
  hop->connector = c;
  hop->fd = fd;
  hop->in_cap = TFST_HOP_IN_INITIAL;
  hop->in = g_malloc(hop->in_cap);
  hop->streams = g_hash_table_new(NULL, NULL);
  hop->next_id = dir == TFST_HOP_TO_PARENT ? 1 : 2;
  tfst_tell_msg_init(&hop->tell);
  tfst_tell_msg_init(&hop->above);
  if (c != NULL)
    hop->peer_addr = c->addr;
  else if (getpeername(fd, &hop->peer_addr.sa, &alen) < 0)
    memset(&hop->peer_addr, 0, sizeof(hop->peer_addr));
  tfst_addr_format(&hop->peer_addr, hop->peer_desc);
  g_strlcpy(hop->peer_label, "?", sizeof(hop->peer_label));
  if (c == NULL)
    hop_pending_add(hop);
  (void)tfst_socket_tune(fd, &e->config->keepalive);
  (void)tfst_socket_limit_unsent(fd, TFST_HOP_NOTSENT_LOWAT);

  hop->io_mask = c != NULL ? EPOLLOUT : EPOLLIN;
  sd_event_add_io(e->event, &hop->io, fd, hop->io_mask, hop_io_cb, hop);
  sd_event_add_defer(e->event, &hop->flush, hop_flush_cb, hop);
  sd_event_source_set_enabled(hop->flush, SD_EVENT_OFF);
  /* An opener first gets ConnectTimeout for the TCP connect (a firewall that
   * drops SYNs gives no answer), then the handshake deadline. */
  sd_event_add_time_relative(e->event, &hop->timer, CLOCK_MONOTONIC,
                             c != NULL ? e->config->connect_timeout_ms * 1000ull
                                       : hop_handshake_deadline_us(conf),
                             TFST_HOP_TIMER_ACCURACY_US, hop_timer_cb, hop);
  hop->link.data = hop;
  g_queue_push_tail_link(&e->hops, &hop->link);
  if (conf->tls.enabled)
    hop_tls_start(hop, conf);

  n = tfst_frame_encode_hello(hello, sizeof(hello), e->config->role, e->config->label,
                              TFST_FEATURES_OURS);
  g_assert(n > 0);
  tfst_hop_send(hop, hello, n);
  return hop;
}

static void
hop_free(TfstHop *hop)
{
  tfst_pipe_put(&hop->engine->pipes, g_steal_pointer(&hop->tx_pipe));
  g_clear_pointer(&hop->tls, tfst_tls_free);
  g_clear_pointer(&hop->held_tell, g_bytes_unref);
  g_free(hop->in);
  tfst_buf_clear(&hop->out);
  tfst_tell_msg_clear(&hop->tell);
  tfst_tell_msg_clear(&hop->above);
  tfst_tell_msg_clear(&hop->claims);
  g_hash_table_unref(hop->streams);
  g_free(hop);
}

/* The journal line of a closing hop; a handshake that failed is counted
 * and signalled too. */
static void
hop_log_close(TfstHop *hop, int err, const char *why)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_HOP_LOST, .peer_label = hop->peer_label, .err = err};

  if (hop->up) {
    tfst_log_limited(e->log, &e->rl_hop_closed, LOG_WARNING, &f, "hop to %s %s (%s) lost: %s",
                     hop_side(hop), hop->peer_label, hop->peer_desc, why);
    return;
  }
  if (!hop->logged)
    tfst_log_limited(e->log, &e->rl_hop_closed, LOG_WARNING, &f,
                     "hop to %s at %s closed before handshake completed: %s", hop_side(hop),
                     hop->peer_desc, why);
  /* A connect that never succeeded is not a failed handshake, nor is a
   * handshake cut short by our own shutdown. */
  if (!e->stopping && (hop->connector == NULL || (hop->io_mask & EPOLLIN))) {
    e->stats.handshake_failures++;
    tfst_notify_handshake(
        e, FALSE, strcmp(hop->peer_label, "?") != 0 ? hop->peer_label : hop->peer_desc, why);
  }
}

void
tfst_hop_error_text(char *buf, gsize len, int err, const char *why)
{
  const char *name = err > 0 ? strerrorname_np(err) : NULL;

  g_snprintf(buf, len, "%s%s%s", name != NULL ? name : "", name != NULL ? ": " : "", why);
}

/* Tears the hop down at once: every session on it is reset on both sides
 * (lost_cb: a lost hop must never leave a half-open session behind), then
 * down_cb (where the engine schedules the opener's reconnect). */
void
tfst_hop_close(TfstHop *hop, int err, const char *why)
{
  TfstEngine *e = hop->engine;
  gboolean was_up = hop->up;

  if (hop->closing)
    return;
  hop->closing = TRUE;
  tfst_hop_error_text(hop->close_why, sizeof(hop->close_why), err, why);
  if (hop->connector != NULL)
    g_strlcpy(hop->connector->last_error, hop->close_why, sizeof(hop->connector->last_error));
  hop_pending_done(hop);
  hop_log_close(hop, err, why);
  if (was_up)
    hop_wake_waiters(hop);
  e->hop_cb->lost_cb(hop, err != 0 ? err : ECONNRESET);
  g_queue_clear(&hop->blocked);
  g_queue_unlink(&e->hops, &hop->link);
  hop->up = FALSE;
  hop->io = sd_event_source_disable_unref(hop->io);
  hop->flush = sd_event_source_disable_unref(hop->flush);
  hop->timer = sd_event_source_disable_unref(hop->timer);
  hop->drain = sd_event_source_disable_unref(hop->drain);
  close(hop->fd);
  hop->fd = -1;
  e->hop_cb->down_cb(hop, was_up);
  /* A close from inside the hop's own I/O callback is finished there. */
  if (!hop->dispatching)
    hop_free(hop);
}

void
tfst_hop_protocol_error(TfstHop *hop, const char *format, ...)
{
  TfstLogFields f = {.message_id = TFST_MSGID_PROTOCOL, .peer_label = hop->peer_label};
  g_autofree char *msg = NULL;
  va_list ap;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  tfst_log_limited(hop->engine->log, &hop->engine->rl_protocol, LOG_ERR, &f,
                   "protocol error from %s %s (%s): %s; resetting hop", hop_side(hop),
                   hop->peer_label, hop->peer_desc, msg);
  tfst_hop_close(hop, EPROTO, msg);
}

/* Control frames are not flow-controlled: a peer that never reads them
 * would make `out` grow without end.  Above the hard cap the frame is
 * dropped and the next flush closes the hop (closing here would free it
 * under a caller that may be walking the hop list). */
void
tfst_hop_send(TfstHop *hop, const guint8 *frame, gsize len)
{
  gboolean was_empty = tfst_buf_len(&hop->out) == 0;

  if (hop->closing || hop->overflow)
    return;
  if (G_UNLIKELY(tfst_buf_len(&hop->out) + len > TFST_HOP_OUT_MAX)) {
    hop->overflow = TRUE;
    if (hop->flush != NULL)
      sd_event_source_set_enabled(hop->flush, SD_EVENT_ONESHOT);
    return;
  }
  tfst_buf_append(&hop->out, frame, len);
  hop_kick(hop, was_empty);
}

void
tfst_hop_send_u32(TfstHop *hop, guint8 type, guint32 session, guint32 v)
{
  guint8 f[TFST_FRAME_HEADER_SIZE + 4];

  tfst_hop_send(hop, f, tfst_frame_encode_u32(f, sizeof(f), type, session, v));
}

guint8 *
tfst_hop_reserve_data(TfstHop *hop, gsize payload)
{
  return tfst_buf_reserve(&hop->out, TFST_FRAME_HEADER_SIZE + payload) + TFST_FRAME_HEADER_SIZE;
}

void
tfst_hop_commit_data(TfstHop *hop, guint32 session, gsize payload)
{
  gboolean was_empty = tfst_buf_len(&hop->out) == 0;

  tfst_frame_header_encode(hop->out.data + hop->out.tail, TFST_FRAME_DATA, session, payload);
  tfst_buf_commit(&hop->out, TFST_FRAME_HEADER_SIZE + payload);
  hop_kick(hop, was_empty);
}

/* One DATA frame from bytes we do not own (a relay's input buffer): when
 * nothing is queued it goes straight to the socket with one sendmsg, and
 * only what the socket does not take is copied. */
void
tfst_hop_send_data(TfstHop *hop, guint32 session, const guint8 *data, gsize len)
{
  guint8 hdr[TFST_FRAME_HEADER_SIZE];
  gsize sent = 0;

  if (hop->closing)
    return;
  tfst_frame_header_encode(hdr, TFST_FRAME_DATA, session, len);
  if (G_UNLIKELY(hop->tls_required)) {
    /* GnuTLS encrypts from one buffer: header and data go there first. */
    gboolean was_empty = tfst_buf_len(&hop->out) == 0;

    tfst_buf_append(&hop->out, hdr, sizeof(hdr));
    tfst_buf_append(&hop->out, data, len);
    hop_kick(hop, was_empty);
    return;
  }
  if (hop_out_empty(hop) && hop->io_mask == EPOLLIN) {
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)data, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t n = sendmsg(hop->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    sent = n > 0 ? (gsize)n : 0;
    hop->bytes_written += sent;
    if (sent == sizeof(hdr) + len)
      return;
  }
  if (sent < sizeof(hdr))
    tfst_buf_append(&hop->out, hdr + sent, sizeof(hdr) - sent);
  tfst_buf_append(&hop->out, data + (sent > sizeof(hdr) ? sent - sizeof(hdr) : 0),
                  len - (sent > sizeof(hdr) ? sent - sizeof(hdr) : 0));
  sd_event_source_set_enabled(hop->flush, SD_EVENT_ONESHOT);
}

gboolean
tfst_hop_has_room(const TfstHop *hop)
{
  return hop->up && !hop->closing && tfst_buf_len(&hop->out) < TFST_HOP_OUT_HIGH;
}

/* Payload may move through pipes on this hop: plaintext, and the pool
 * has pipes and splice works. */
gboolean
tfst_hop_zero_copy(const TfstHop *hop)
{
  return !hop->tls_required && hop->engine->config->zero_copy &&
         tfst_pipe_pool_usable(&hop->engine->pipes);
}

/* Nothing queued and the socket took everything so far: a spliced frame
 * may start now (it must go out whole before anything else). */
gboolean
tfst_hop_tx_idle(const TfstHop *hop)
{
  return hop->up && !hop->closing && hop_out_empty(hop) && hop->io_mask == EPOLLIN &&
         tfst_hop_zero_copy(hop);
}

/* One DATA frame of the pipe's bytes; the hop owns the pipe from here.
 * Only when tfst_hop_tx_idle(). */
void
tfst_hop_send_pipe(TfstHop *hop, guint32 session, TfstPipe *pipe)
{
  g_assert(hop->tx_pipe == NULL && pipe->len > 0);
  tfst_frame_header_encode(hop->tx_hdr, TFST_FRAME_DATA, session, pipe->len);
  hop->tx_hdr_off = 0;
  hop->tx_pipe = pipe;
  hop_kick(hop, TRUE);
}

gboolean
tfst_hop_speaks_events(const TfstHop *hop)
{
  return hop->up && !hop->closing && (hop->peer_features & TFST_FEATURE_EVENTS) != 0;
}

void
tfst_hop_want_room(TfstHop *hop)
{
  hop->room_wanted = TRUE;
}

void
tfst_hop_block(TfstHop *hop, TfstEnd *end)
{
  if (end->blocked_link.data != NULL)
    return;
  end->blocked_link.data = end;
  g_queue_push_tail_link(&hop->blocked, &end->blocked_link);
}

guint32
tfst_hop_alloc_id(TfstHop *hop)
{
  /* Ids only move forward (2^31 per side before wrapping), so a late frame
   * for a finished session can never be taken for a new one. */
  for (;;) {
    guint32 id = hop->next_id;

    hop->next_id += 2;
    if (hop->next_id < 3)
      hop->next_id = hop->direction == TFST_HOP_TO_PARENT ? 1 : 2;
    if (id != 0 && !g_hash_table_contains(hop->streams, GUINT_TO_POINTER(id)))
      return id;
  }
}

static void
hop_unblock(TfstHop *hop)
{
  /* Each end is popped before it runs: it may block again and re-queue. */
  guint n = hop->blocked.length;

  while (n-- > 0 && !hop->closing && tfst_buf_len(&hop->out) < TFST_HOP_OUT_HIGH) {
    GList *l = g_queue_pop_head_link(&hop->blocked);
    TfstEnd *end = l->data;

    l->data = NULL;
    hop->engine->hop_cb->room_cb(end);
  }
}

static int
hop_drain_cb(sd_event_source *s, guint64 usec, void *userdata)
{
  TfstHop *hop = userdata;
  g_autofree char *why =
      g_strdup_printf("the peer has not read its replies for %u ms (%zu bytes queued)",
                      TFST_HOP_DRAIN_TIMEOUT_MS, tfst_buf_len(&hop->out));

  tfst_hop_close(hop, ETIMEDOUT, why);
  return 0;
}

/* The peer sends faster than it reads what we answer: stop reading it, so
 * that it makes us produce nothing more, and give it a deadline. */
static void
hop_pause(TfstHop *hop)
{
  guint64 deadline_ms =
      MIN(TFST_HOP_DRAIN_TIMEOUT_MS, hop->engine->config->keepalive.ping_timeout_ms);

  hop->rx_paused = TRUE;
  hop_apply_io(hop);
  if (hop->drain == NULL)
    sd_event_add_time_relative(hop->engine->event, &hop->drain, CLOCK_MONOTONIC, deadline_ms * 1000,
                               0, hop_drain_cb, hop);
  else
    sd_event_source_set_time_relative(hop->drain, deadline_ms * 1000);
  sd_event_source_set_enabled(hop->drain, SD_EVENT_ONESHOT);
}

static void
hop_resume(TfstHop *hop)
{
  hop->rx_paused = FALSE;
  hop_apply_io(hop);
  sd_event_source_set_enabled(hop->drain, SD_EVENT_OFF);
}

static void
hop_flush(TfstHop *hop)
{
  gssize r;

  if (G_UNLIKELY(hop->tls_required) && !hop->tls_up)
    return; /* the handshake owns the socket until it completes */
  r = hop_write(hop);
  if (r < 0) {
    tfst_hop_close(hop, (int)-r, hop_write_error(hop, (int)-r));
    return;
  }
  hop->bytes_written += r;
  hop_out_drained(hop);
  if (hop->rx_paused && tfst_buf_len(&hop->out) < TFST_HOP_OUT_PAUSE / 2)
    hop_resume(hop);
  hop_set_io(hop, EPOLLIN | (hop_out_empty(hop) ? 0 : EPOLLOUT));
  /* A spliced frame still going out holds everything behind it. */
  if (tfst_buf_len(&hop->out) < TFST_HOP_OUT_LOW && hop->tx_pipe == NULL && hop->blocked.length > 0)
    hop_unblock(hop);
  if (hop->room_wanted && !hop->closing && tfst_buf_len(&hop->out) < TFST_HOP_OUT_LOW) {
    hop->room_wanted = FALSE;
    hop->engine->hop_cb->hop_room_cb(hop);
  }
}

static gboolean hop_parse(TfstHop *hop);
static void hop_read(TfstHop *hop);

/* Frames left unparsed when the hop was paused, and records GnuTLS holds
 * decrypted: epoll will not announce them again once it is read again. */
static void
hop_parse_held(TfstHop *hop)
{
  if (!hop->closing && !hop->rx_paused && hop->in_len > hop->in_off)
    (void)hop_parse(hop);
  if (!hop->closing && !hop->rx_paused && hop->tls_up && tfst_tls_pending(hop->tls))
    hop_read(hop);
}

static int
hop_flush_cb(sd_event_source *s, void *userdata)
{
  TfstHop *hop = userdata;

  hop->dispatching = TRUE;
  if (hop->overflow) {
    g_autofree char *why = g_strdup_printf("the peer does not read its replies (%zu bytes queued)",
                                           tfst_buf_len(&hop->out));
    tfst_hop_close(hop, ENOBUFS, why);
  } else if (hop->io_mask & EPOLLIN) {
    hop_flush(hop);
    hop_parse_held(hop);
  }
  hop->dispatching = FALSE;
  if (hop->closing)
    hop_free(hop);
  return 0;
}

/* TLS 1.3 tickets arrive after the handshake; by the time the hop is up
 * (TELL_OK read) the server's ticket has been read too. */
static void
hop_tls_keep_ticket(TfstHop *hop)
{
  TfstConnector *c = hop->connector;
  GBytes *ticket = tfst_tls_resume_data(hop->tls);

  if (ticket == NULL)
    return;
  g_clear_pointer(&c->tls_resume, g_bytes_unref);
  g_clear_pointer(&c->tls_resume_creds, tfst_tls_creds_unref);
  c->tls_resume = ticket;
  c->tls_resume_creds = tfst_tls_creds_ref(tfst_tls_creds(hop->tls));
}

static void
hop_set_up(TfstHop *hop)
{
  hop_pending_done(hop);
  hop->up = TRUE;
  hop->up_since_us = g_get_monotonic_time();
  if (hop->connector != NULL)
    hop->connector->attempts = 0;
  if (hop->tls != NULL && hop->connector != NULL)
    hop_tls_keep_ticket(hop);
  /* From now on the timer paces PINGs instead of the handshake deadline. */
  tfst_hop_arm_ping(hop);
}

/* Closes a TLS hop with a TFST_MSGID_TLS_REFUSED entry naming why. */
static void
hop_tls_refused(TfstHop *hop, int err, const char *why)
{
  TfstLogFields f = {.message_id = TFST_MSGID_TLS_REFUSED, .err = err};

  tfst_log_limited(hop->engine->log, &hop->engine->rl_tls, LOG_ERR, &f,
                   "TLS hop to %s at %s refused: %s", hop_side(hop), hop->peer_desc, why);
  tfst_hop_close(hop, err, why);
}

static void
hop_tls_label_refused(TfstHop *hop, const char *label)
{
  g_autofree char *why = NULL;
  const char *accepted = tfst_hop_conf(hop)->tls.peer_labels != NULL
                             ? " (and PeerLabel= must accept the label too)"
                             : "";

  why = g_strdup_printf("the peer announces label '%s' in HELLO, but its certificate names %s%s",
                        label, tfst_tls_peer_labels(hop->tls), accepted);
  tfst_tls_deny(hop->tls);
  hop_tls_refused(hop, EACCES, why);
}

/* Why the peer's HELLO cannot be taken (role, label), NULL when it can. */
static char *
hop_hello_refusal(TfstHop *hop, const TfstHelloMsg *m)
{
  const char *expect = hop->connector != NULL ? hop->connector->expect_label : NULL;
  gboolean ok;

  if (hop->direction == TFST_HOP_TO_PARENT)
    ok = m->role == TFST_ROLE_RELAY || m->role == TFST_ROLE_EPPROXY;
  else
    ok = m->role == TFST_ROLE_RELAY || m->role == TFST_ROLE_GWPROXY;
  if (!ok)
    return g_strdup_printf("peer %s is a %s, which cannot be our %s", m->label,
                           tfst_role_to_string(m->role), hop_side(hop));
  if (strcmp(m->label, hop->engine->config->label) == 0)
    return g_strdup_printf("peer announces this instance's own label %s", m->label);
  if (expect != NULL && strcmp(m->label, expect) != 0)
    return g_strdup_printf("peer announces label %s, but Connect= names %s@%s", m->label, expect,
                           hop->peer_desc);
  return NULL;
}

static void
hop_recv_hello(TfstHop *hop, const guint8 *p, guint32 len)
{
  g_autofree char *why = NULL;
  TfstHelloMsg m;
  int r;

  if (hop->got_hello) {
    tfst_hop_protocol_error(hop, "second HELLO");
    return;
  }
  if ((r = tfst_frame_decode_hello(p, len, &m)) < 0) {
    tfst_hop_protocol_error(hop, "bad HELLO: %s", tfst_frame_strerror(r));
    return;
  }
  if ((why = hop_hello_refusal(hop, &m)) != NULL) {
    tfst_hop_protocol_error(hop, "%s", why);
    return;
  }
  if (hop->tls != NULL && !tfst_tls_label_ok(hop->tls, m.label)) {
    hop_tls_label_refused(hop, m.label);
    return;
  }
  g_strlcpy(hop->peer_label, m.label, sizeof(hop->peer_label));
  hop->peer_features = m.features & TFST_FEATURES_OURS;
  hop->got_hello = TRUE;
  if (hop->direction == TFST_HOP_TO_CHILD) {
    guint8 who[TFST_FRAME_HEADER_SIZE];
    tfst_hop_send(hop, who, tfst_frame_encode_empty(who, sizeof(who), TFST_FRAME_WHO, 0));
  }
}

static void
hop_recv_who(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_HANDSHAKE, .peer_label = hop->peer_label};
  guint8 iam[128];

  if (hop->direction != TFST_HOP_TO_PARENT || !hop->got_hello) {
    tfst_hop_protocol_error(hop, "unexpected WHO");
    return;
  }
  tfst_log_full(e->log, LOG_NOTICE, &f, "routingManager: WHO command received [l=%s]",
                hop->peer_label);
  tfst_hop_send(hop, iam, tfst_frame_encode_iam(iam, sizeof(iam), e->config->label));
  hop->told = TRUE;
  e->hop_cb->tell_cb(hop, TFST_FRAME_WHO, NULL, 0);
}

static void
hop_recv_iam(TfstHop *hop, const guint8 *p, guint32 len)
{
  char label[TFST_LABEL_MAX + 1];
  int r;

  if (hop->direction != TFST_HOP_TO_CHILD || !hop->got_hello || hop->got_iam) {
    tfst_hop_protocol_error(hop, "unexpected IAM");
    return;
  }
  if ((r = tfst_frame_decode_iam(p, len, label)) < 0) {
    tfst_hop_protocol_error(hop, "bad IAM: %s", tfst_frame_strerror(r));
    return;
  }
  if (strcmp(label, hop->peer_label) != 0) {
    tfst_hop_protocol_error(hop, "IAM label %s differs from HELLO label %s", label,
                            hop->peer_label);
    return;
  }
  hop->got_iam = TRUE;
}

static void
hop_apply_tell(TfstHop *hop, guint8 type, const guint8 *p, guint32 len)
{
  gboolean was_up = hop->up;

  if (!was_up)
    hop_set_up(hop);
  hop->engine->hop_cb->tell_cb(hop, type, p, len);
  if (!was_up && !hop->closing)
    hop->engine->hop_cb->up_cb(hop);
}

/* ---- label takeover: a newcomer announcing the label of a child that is
 * up waits while the old hop is asked for a PONG ---- */

/* The child hop that is up under the label `hop` announces, if any. */
static TfstHop *
hop_namesake(const TfstHop *hop)
{
  for (GList *l = hop->engine->hops.head; l != NULL; l = l->next) {
    TfstHop *other = l->data;
    if (other != hop && other->connector == NULL && other->direction == TFST_HOP_TO_CHILD &&
        other->up && strcmp(other->peer_label, hop->peer_label) == 0)
      return other;
  }
  return NULL;
}

static guint
hop_liveness_ms(const TfstHop *hop)
{
  return MIN(TFST_HOP_LIVENESS_MS, hop->engine->config->keepalive.ping_timeout_ms);
}

static void
hop_challenge(TfstHop *old)
{
  gint64 now = g_get_monotonic_time();
  guint8 f[TFST_FRAME_HEADER_SIZE + 8];

  if (old->challenge_us != 0)
    return; /* one check serves every newcomer that arrives meanwhile */
  old->challenge_us = now;
  /* A PING already outstanding serves as well: its PONG proves the same. */
  if (old->ping_sent_us == 0) {
    old->ping_sent_us = now;
    tfst_hop_send(old, f, tfst_frame_encode_u64(f, sizeof(f), TFST_FRAME_PING, (guint64)now));
  }
}

/* TRUE when the TELL is held because the label is taken; the newcomer
 * gets no TELL_OK, and so no sessions, until the check decides. */
static gboolean
hop_takeover_hold(TfstHop *hop, const guint8 *p, guint32 len)
{
  TfstHop *old = hop->takeover_wait ? NULL : hop_namesake(hop);

  if (!hop->takeover_wait && old == NULL)
    return FALSE;
  /* A TELL is a whole subtree: only the last one matters. */
  g_clear_pointer(&hop->held_tell, g_bytes_unref);
  hop->held_tell = g_bytes_new(p, len);
  if (hop->takeover_wait)
    return TRUE;
  hop->takeover_wait = TRUE;
  hop_challenge(old);
  sd_event_source_set_time_relative(hop->timer, hop_liveness_ms(hop) * 1000ull);
  sd_event_source_set_enabled(hop->timer, SD_EVENT_ONESHOT);
  return TRUE;
}

static void
hop_refuse_newcomer(TfstHop *hop, const TfstHop *old)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_HANDSHAKE_BAD, .peer_label = hop->peer_label};
  const char *why = "a child with this label is connected and alive";
  guint8 frame[128];
  gssize n = tfst_frame_encode_goaway(frame, sizeof(frame), EADDRINUSE, why);

  tfst_log_limited(e->log, &e->rl_takeover, LOG_WARNING, &f,
                   "refused hop from %s claiming label %s: the child with that label at %s "
                   "answered a PING",
                   hop->peer_desc, hop->peer_label, old->peer_desc);
  if (n > 0)
    tfst_hop_send_now(hop, frame, n);
  hop->logged = TRUE;
  tfst_hop_close(hop, EADDRINUSE, why);
}

/* The old hop answered: every newcomer waiting for its label is refused. */
static void
hop_challenge_passed(TfstHop *old)
{
  GList *next;

  old->challenge_us = 0;
  for (GList *l = old->engine->hops.head; l != NULL; l = next) {
    TfstHop *other = l->data;
    next = l->next;
    if (other->takeover_wait && strcmp(other->peer_label, old->peer_label) == 0)
      hop_refuse_newcomer(other, old);
  }
}

/* The old hop went away: waiting newcomers need not sit out the deadline. */
static void
hop_wake_waiters(TfstHop *gone)
{
  if (gone->direction != TFST_HOP_TO_CHILD)
    return;
  for (GList *l = gone->engine->hops.head; l != NULL; l = l->next) {
    TfstHop *other = l->data;
    if (other->takeover_wait && strcmp(other->peer_label, gone->peer_label) == 0)
      sd_event_source_set_time_relative(other->timer, 0);
  }
}

/* The newcomer's deadline: an old hop still owing its PONG is taken for
 * dead (the firewall forgot it, or the child restarted behind it). */
static void
hop_takeover_decide(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_HANDSHAKE, .peer_label = hop->peer_label};
  TfstHop *old = hop_namesake(hop);
  g_autoptr(GBytes) tell = g_steal_pointer(&hop->held_tell);

  if (old != NULL && old->challenge_us == 0) {
    hop_refuse_newcomer(hop, old); /* a hop that came up meanwhile */
    return;
  }
  hop->takeover_wait = FALSE;
  if (old != NULL) {
    g_autofree char *why =
        g_strdup_printf("no answer to a PING within %u ms while a new hop from %s claims its label",
                        hop_liveness_ms(hop), hop->peer_desc);
    tfst_log_full(e->log, LOG_NOTICE, &f,
                  "child %s at %s did not answer; the new hop from %s takes over", old->peer_label,
                  old->peer_desc, hop->peer_desc);
    tfst_hop_close(old, ETIMEDOUT, why);
  }
  hop_apply_tell(hop, TFST_FRAME_TELL, g_bytes_get_data(tell, NULL), g_bytes_get_size(tell));
}

static void
hop_recv_tell(TfstHop *hop, const TfstFrameHeader *h, const guint8 *p)
{
  if (h->type == TFST_FRAME_TELL && (hop->direction != TFST_HOP_TO_CHILD || !hop->got_iam)) {
    tfst_hop_protocol_error(hop, "unexpected TELL");
    return;
  }
  if (h->type == TFST_FRAME_TELL_OK && (hop->direction != TFST_HOP_TO_PARENT || !hop->got_hello)) {
    tfst_hop_protocol_error(hop, "unexpected TELL_OK");
    return;
  }
  if (h->type == TFST_FRAME_TELL && !hop->up && hop->connector == NULL &&
      hop_takeover_hold(hop, p, h->length))
    return;
  hop_apply_tell(hop, h->type, p, h->length);
}

static void
hop_recv_pong(TfstHop *hop, const guint8 *p)
{
  guint64 sent = tfst_frame_decode_u64(p);
  gint64 rtt;

  if (sent == 0 || sent != hop->ping_sent_us)
    return; /* a late answer to a PING we gave up on */
  rtt = g_get_monotonic_time() - (gint64)sent;
  hop->srtt_us = hop->srtt_us == 0 ? rtt : (7 * hop->srtt_us + rtt) / 8;
  hop->ping_sent_us = 0;
  if (hop->challenge_us != 0)
    hop_challenge_passed(hop);
}

static void
hop_recv_goaway(TfstHop *hop, const guint8 *p, guint32 len)
{
  char text[256];
  g_autofree char *why = NULL;
  guint32 reason = 0;

  if (tfst_frame_decode_goaway(p, len, &reason, text, sizeof(text)) < 0)
    g_strlcpy(text, "(undecodable reason)", sizeof(text));
  why = g_strdup_printf("peer sent GOAWAY: %s", text);
  /* The reason is the peer's word, not ours: only a plausible errno is
   * passed on to the sessions' resets. */
  tfst_hop_close(hop, reason > 0 && reason < 4096 ? (int)reason : ECONNRESET, why);
}

/* Events flow up (EVENT from a child) and acknowledgements down, and only
 * on a hop whose peer said it knows them. */
static void
hop_recv_event(TfstHop *hop, const TfstFrameHeader *h, const guint8 *p)
{
  TfstHopDirection from = h->type == TFST_FRAME_EVENT ? TFST_HOP_TO_CHILD : TFST_HOP_TO_PARENT;

  if (!(hop->peer_features & TFST_FEATURE_EVENTS)) {
    tfst_hop_protocol_error(hop, "%s, but the peer did not announce events in HELLO",
                            tfst_frame_type_name(h->type));
    return;
  }
  if (hop->direction != from) {
    tfst_hop_protocol_error(hop, "%s from a %s", tfst_frame_type_name(h->type), hop_side(hop));
    return;
  }
  hop->engine->hop_cb->event_cb(hop, h, p);
}

static void
hop_dispatch(TfstHop *hop, const TfstFrameHeader *h, const guint8 *p)
{
  int r = tfst_frame_payload_check(h, p);

  if (r < 0) {
    tfst_hop_protocol_error(hop, "%s frame: %s", tfst_frame_type_name(h->type),
                            tfst_frame_strerror(r));
    return;
  }
  if (h->type != TFST_FRAME_HELLO && !hop->got_hello) {
    tfst_hop_protocol_error(hop, "%s before HELLO", tfst_frame_type_name(h->type));
    return;
  }
  switch (h->type) {
    case TFST_FRAME_HELLO:
      hop_recv_hello(hop, p, h->length);
      break;
    case TFST_FRAME_WHO:
      hop_recv_who(hop);
      break;
    case TFST_FRAME_IAM:
      hop_recv_iam(hop, p, h->length);
      break;
    case TFST_FRAME_TELL:
    case TFST_FRAME_TELL_OK:
      hop_recv_tell(hop, h, p);
      break;
    case TFST_FRAME_PING: {
      guint8 f[TFST_FRAME_HEADER_SIZE + 8];
      tfst_hop_send(hop, f,
                    tfst_frame_encode_u64(f, sizeof(f), TFST_FRAME_PONG, tfst_frame_decode_u64(p)));
      break;
    }
    case TFST_FRAME_PONG:
      hop_recv_pong(hop, p);
      break;
    case TFST_FRAME_GOAWAY:
      hop_recv_goaway(hop, p, h->length);
      break;
    case TFST_FRAME_EVENT:
    case TFST_FRAME_EVENT_ACK:
      /* Not before the hop is up: hop_frame_allowed() refused it. */
      hop_recv_event(hop, h, p);
      break;
    default:
      if (!hop->up) {
        tfst_hop_protocol_error(hop, "%s before the handshake completed",
                                tfst_frame_type_name(h->type));
        return;
      }
      hop->engine->hop_cb->frame_cb(hop, h, p);
  }
}

/* Until the hop is up only the handshake is answered. */
static gboolean
hop_frame_allowed(const TfstHop *hop, guint8 type)
{
  switch (type) {
    case TFST_FRAME_HELLO:
    case TFST_FRAME_WHO:
    case TFST_FRAME_IAM:
    case TFST_FRAME_GOAWAY:
      return TRUE;
    /* The large handshake frames only where they are due, so that nothing
     * else makes us buffer up to a maximum-size frame before the peer is
     * known. */
    case TFST_FRAME_TELL:
      return hop->up || hop->got_iam;
    case TFST_FRAME_TELL_OK:
      return hop->up || (hop->direction == TFST_HOP_TO_PARENT && hop->got_hello);
    default:
      return hop->up;
  }
}

/* Room for a whole frame of `need` bytes from in_off: before the hop is up
 * just that much (a handshake frame as its header announces it), within
 * what all pending hops may hold together.  FALSE when the hop was closed. */
static gboolean
hop_in_grow(TfstHop *hop, gsize need)
{
  TfstEngine *e = hop->engine;

  if (hop->in_off > 0) {
    memmove(hop->in, hop->in + hop->in_off, hop->in_len - hop->in_off);
    hop->in_len -= hop->in_off;
    hop->in_off = 0;
  }
  if (need <= hop->in_cap)
    return TRUE;
  if (hop->pending) {
    if (e->pending_in_bytes + (need - hop->in_cap) > TFST_HOP_PENDING_IN_BUDGET) {
      tfst_hop_protocol_error(hop,
                              "a %zu-byte handshake frame while other unfinished handshakes "
                              "hold %zu bytes",
                              need, e->pending_in_bytes);
      return FALSE;
    }
    e->pending_in_bytes += need - hop->in_cap;
  }
  hop->in_cap = hop->up ? TFST_HOP_IN_SIZE : need;
  hop->in = g_realloc(hop->in, hop->in_cap);
  return TRUE;
}

/* Checks the header of the next frame; FALSE when the hop was closed. */
static gboolean
hop_check_header(TfstHop *hop, const guint8 *p, TfstFrameHeader *h)
{
  int r = tfst_frame_header_decode(p, hop->in_len - hop->in_off, h);

  if (r < 0) {
    if (!hop->got_hello && !hop->tls_required && p[0] == 0x16)
      tfst_hop_protocol_error(hop, "the peer speaks TLS (a TLS handshake record); this side has "
                                   "TLS=no: set TLS=yes on both sides of the hop");
    else
      tfst_hop_protocol_error(hop, "frame header: %s", tfst_frame_strerror(r));
    return FALSE;
  }
  if (!hop_frame_allowed(hop, h->type)) {
    tfst_hop_protocol_error(hop, "%s before the handshake completed",
                            tfst_frame_type_name(h->type));
    return FALSE;
  }
  return TRUE;
}

/* A DATA frame mostly still in the socket: its consumer may take the rest
 * spliced (hop_read_piece()).  TRUE when it does; the input buffer is then
 * empty. */
static gboolean
hop_splice_begin(TfstHop *hop, const TfstFrameHeader *h, const guint8 *p)
{
  guint32 have = hop->in_len - hop->in_off - TFST_FRAME_HEADER_SIZE;

  if (h->type != TFST_FRAME_DATA || h->length - have < TFST_SPLICE_MIN ||
      !tfst_hop_zero_copy(hop) ||
      !hop->engine->hop_cb->splice_cb(hop, h, p + TFST_FRAME_HEADER_SIZE, have))
    return FALSE;
  hop->rx_left = h->length - have;
  hop->rx_session = h->session;
  hop->rx_header_only = TRUE;
  hop->in_off = hop->in_len = 0;
  return TRUE;
}

/* Parses every whole frame in the input buffer; returns FALSE when the hop
 * was closed while doing so.  Stops early when the hop's output is so full
 * that the peer is evidently not reading it (the rest waits in `in`). */
static gboolean
hop_parse(TfstHop *hop)
{
  while (hop->in_len - hop->in_off >= TFST_FRAME_HEADER_SIZE) {
    const guint8 *p = hop->in + hop->in_off;
    TfstFrameHeader h;

    if (!hop_check_header(hop, p, &h))
      return FALSE;
    if (hop->in_len - hop->in_off < TFST_FRAME_HEADER_SIZE + h.length) {
      if (hop_splice_begin(hop, &h, p))
        return TRUE;
      if (hop->closing)
        return FALSE;
      if (hop->in_cap - hop->in_off < TFST_FRAME_HEADER_SIZE + h.length &&
          !hop_in_grow(hop, TFST_FRAME_HEADER_SIZE + h.length))
        return FALSE;
      break;
    }
    hop_dispatch(hop, &h, p + TFST_FRAME_HEADER_SIZE);
    if (hop->closing)
      return FALSE;
    hop->in_off += TFST_FRAME_HEADER_SIZE + h.length;
    if (G_UNLIKELY(tfst_buf_len(&hop->out) >= TFST_HOP_OUT_PAUSE)) {
      hop_pause(hop);
      return TRUE;
    }
  }
  if (hop->in_off == hop->in_len)
    hop->in_off = hop->in_len = 0;
  return TRUE;
}

/* Room to receive into; the unparsed rest moves to the front only when the
 * tail gets short, not after every read.  Once up, the buffer holds a whole
 * frame of the maximum size plus this slack, so a frame always fits; before,
 * hop_parse() grows it to the frame the header announces. */
static gsize
hop_in_room(TfstHop *hop)
{
  if (G_UNLIKELY(hop->up && hop->in_cap < TFST_HOP_IN_SIZE)) {
    hop->in_cap = TFST_HOP_IN_SIZE;
    hop->in = g_realloc(hop->in, hop->in_cap);
  }
  if (hop->in_cap - hop->in_len < MIN(TFST_HOP_IN_SLACK, hop->in_cap / 2) && hop->in_off > 0) {
    memmove(hop->in, hop->in + hop->in_off, hop->in_len - hop->in_off);
    hop->in_len -= hop->in_off;
    hop->in_off = 0;
  }
  return hop->in_cap - hop->in_len;
}

static void
hop_read_eof(TfstHop *hop)
{
  if (hop->rx_left > 0)
    tfst_hop_protocol_error(hop, "connection closed inside a frame (%u payload bytes missing)",
                            hop->rx_left);
  else if (hop->in_len > hop->in_off)
    tfst_hop_protocol_error(hop, "connection closed inside a frame (truncated frame, %zu bytes)",
                            hop->in_len - hop->in_off);
  else
    tfst_hop_close(hop, ECONNRESET, "connection closed by peer");
}

/* A record (16 KiB at most) per call, so a larger budget than plain
 * reads; what GnuTLS already holds decrypted is read on regardless, since
 * epoll will not announce it. */
static void
hop_read_tls(TfstHop *hop)
{
  for (int round = 0;
       !hop->closing && !hop->rx_paused && (round < 64 || tfst_tls_pending(hop->tls)); round++) {
    gsize room = hop_in_room(hop);
    gssize n = tfst_tls_recv(hop->tls, hop->in + hop->in_len, room);

    if (n == 0) {
      hop_read_eof(hop);
      return;
    }
    if (n == -EINTR)
      continue;
    if (n == -EAGAIN)
      return;
    if (n < 0) {
      if (n == -EACCES)
        hop_tls_refused(hop, (int)-n, tfst_tls_last_error(hop->tls));
      else
        tfst_hop_close(hop, (int)-n, tfst_tls_last_error(hop->tls));
      return;
    }
    hop->in_len += n;
    hop->bytes_read += n;
    if (!hop_parse(hop))
      return;
  }
}

/* The next piece of a spliced payload: into a pipe, or copied where no
 * pipe is to be had.  Bytes read, 0 at end of file, or -errno. */
static gssize
hop_read_piece(TfstHop *hop)
{
  TfstPipePool *pool = &hop->engine->pipes;
  TfstPipe *pipe = tfst_pipe_get(pool);
  gssize n = -EAGAIN;

  if (pipe != NULL &&
      (n = tfst_pipe_fill(pool, pipe, hop->fd, MIN(hop->rx_left, TFST_PIPE_SIZE))) <= 0) {
    tfst_pipe_put(pool, g_steal_pointer(&pipe));
    if (!pool->refused)
      return n;
  }
  if (pipe == NULL) {
    n = recv(hop->fd, hop->in, MIN(hop->rx_left, hop->in_cap), MSG_DONTWAIT);
    if (n <= 0)
      return n < 0 ? -errno : 0;
  }
  hop->rx_left -= n;
  hop->bytes_read += n;
  hop->engine->hop_cb->piece_cb(hop, hop->rx_session, pipe, hop->in, n);
  if (!hop->closing && tfst_buf_len(&hop->out) >= TFST_HOP_OUT_PAUSE)
    hop_pause(hop);
  return n;
}

/* How much to read: after a spliced DATA frame only the next header, so
 * that the payload behind it is not copied in with it. */
static gsize
hop_read_want(TfstHop *hop, gsize room)
{
  gsize have = hop->in_len - hop->in_off;

  if (hop->rx_header_only && have < TFST_FRAME_HEADER_SIZE)
    return MIN(room, TFST_FRAME_HEADER_SIZE - have);
  hop->rx_header_only = FALSE;
  return room;
}

/* One read: bytes, 0 at end of file, or -errno; *room is 0 when it was a
 * piece of a spliced payload (nothing went into the input buffer). */
static gssize
hop_read_once(TfstHop *hop, gsize *room)
{
  ssize_t n;

  if (hop->rx_left > 0) {
    *room = 0;
    return hop_read_piece(hop);
  }
  *room = hop_read_want(hop, hop_in_room(hop));
  n = recv(hop->fd, hop->in + hop->in_len, *room, MSG_DONTWAIT);
  return n < 0 ? -errno : n;
}

static void
hop_read(TfstHop *hop)
{
  if (G_UNLIKELY(hop->tls != NULL)) {
    hop_read_tls(hop);
    return;
  }
  /* Bounded so one busy hop cannot starve the other sockets. */
  for (int round = 0; round < 8 && !hop->closing && !hop->rx_paused; round++) {
    gsize room;
    gssize n = hop_read_once(hop, &room);

    if (n == 0) {
      hop_read_eof(hop);
      return;
    }
    if (n == -EINTR)
      continue;
    if (n < 0) {
      if (n != -EAGAIN)
        tfst_hop_close(hop, (int)-n, g_strerror((int)-n));
      return;
    }
    if (room == 0)
      continue;
    hop->in_len += n;
    hop->bytes_read += n;
    if (!hop_parse(hop))
      return;
    if ((gsize)n < room)
      return;
  }
}

/* One step of the TLS handshake; TRUE once TLS is up and frames may
 * flow. */
static gboolean
hop_tls_step(TfstHop *hop)
{
  TfstLogFields f = {.message_id = TFST_MSGID_TLS_HANDSHAKE};
  g_autofree char *why = NULL;
  guint32 events = 0;

  if (hop->tls == NULL) {
    hop_tls_refused(hop, EPROTO, "cannot start a TLS session");
    return FALSE;
  }
  switch (tfst_tls_handshake(hop->tls, &events, &why)) {
    case TFST_TLS_HS_AGAIN:
      /* EPOLLIN always: the connect logic reads a mask without it as
       * "still connecting". */
      hop_set_io(hop, EPOLLIN | events);
      return FALSE;
    case TFST_TLS_HS_FAILED:
      hop_tls_refused(hop, EACCES, why);
      return FALSE;
    case TFST_TLS_HS_DONE:
      break;
  }
  hop->tls_up = TRUE;
  tfst_log_full(hop->engine->log, LOG_NOTICE, &f, "TLS hop to %s at %s established: %s",
                hop_side(hop), hop->peer_desc, tfst_tls_describe(hop->tls));
  hop_set_io(hop, EPOLLIN);
  return TRUE;
}

static int
hop_io_cb(sd_event_source *s, int fd, guint32 revents, void *userdata)
{
  TfstHop *hop = userdata;

  hop->dispatching = TRUE;
  if (hop->connector != NULL && !(hop->io_mask & EPOLLIN)) {
    int err = tfst_socket_error(fd);
    if (err != 0) {
      g_autofree char *why = g_strdup_printf("cannot connect: %s", g_strerror(err));
      tfst_hop_close(hop, err, why);
    } else {
      hop_set_io(hop, EPOLLIN | EPOLLOUT);
      sd_event_source_set_time_relative(hop->timer,
                                        tfst_hop_conf(hop)->handshake_timeout_ms * 1000ull);
      sd_event_source_set_enabled(hop->timer, SD_EVENT_ONESHOT);
    }
  }
  if (G_UNLIKELY(hop->tls_required && !hop->tls_up)) {
    /* Once up: the queued HELLO goes out, and the peer's may already be
     * decrypted inside GnuTLS. */
    if (!hop->closing && hop_tls_step(hop)) {
      hop_flush(hop);
      if (!hop->closing)
        hop_read(hop);
    }
  } else {
    if (!hop->closing && (revents & EPOLLOUT)) {
      hop_flush(hop);
      hop_parse_held(hop);
    }
    /* HUP and ERR come even when we do not ask to read: a paused hop
     * whose peer is gone is closed rather than polled for ever. */
    if (!hop->closing && hop->rx_paused && (revents & (EPOLLHUP | EPOLLERR)))
      tfst_hop_close(hop, ECONNRESET, "connection lost while its replies were queued");
    if (!hop->closing && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
      hop_read(hop);
  }
  hop->dispatching = FALSE;
  if (hop->closing)
    hop_free(hop);
  return 0;
}

static int
hop_timer_cb(sd_event_source *s, guint64 usec, void *userdata)
{
  TfstHop *hop = userdata;
  const TfstKeepaliveConf *ka = &hop->engine->config->keepalive;
  gint64 now = g_get_monotonic_time();
  guint8 f[TFST_FRAME_HEADER_SIZE + 8];

  if (hop->connector != NULL && !(hop->io_mask & EPOLLIN)) {
    g_autofree char *why =
        g_strdup_printf("cannot connect: no answer within %u ms (ConnectTimeout=)",
                        hop->engine->config->connect_timeout_ms);
    tfst_hop_close(hop, ETIMEDOUT, why);
    return 0;
  }
  if (hop->takeover_wait) {
    hop->dispatching = TRUE;
    hop_takeover_decide(hop);
    hop->dispatching = FALSE;
    if (hop->closing)
      hop_free(hop);
    return 0;
  }
  if (!hop->up) {
    g_autofree char *why = g_strdup_printf(
        "%shandshake not completed within %u ms (HandshakeTimeout=)",
        hop->tls_required && !hop->tls_up ? "TLS " : "", tfst_hop_conf(hop)->handshake_timeout_ms);
    tfst_hop_close(hop, ETIMEDOUT, why);
    return 0;
  }
  if (hop->ping_sent_us != 0 && now - (gint64)hop->ping_sent_us >= ka->ping_timeout_ms * 1000ll) {
    g_autofree char *why = g_strdup_printf("no PONG within %u ms", ka->ping_timeout_ms);
    tfst_hop_close(hop, ETIMEDOUT, why);
    return 0;
  }
  if (hop->ping_sent_us == 0) {
    hop->ping_sent_us = now;
    tfst_hop_send(hop, f, tfst_frame_encode_u64(f, sizeof(f), TFST_FRAME_PING, (guint64)now));
  }
  sd_event_source_set_time_relative(
      s, MIN(ka->ping_interval_ms,
             ka->ping_timeout_ms - (guint)((now - (gint64)hop->ping_sent_us) / 1000)) *
             1000ull);
  sd_event_source_set_enabled(s, SD_EVENT_ON);
  return 0;
}
