/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sessions: one client connection carried across the chain.  A session has
 * two ends, each a TCP socket or a stream on a hop; bytes entering one end
 * leave through the other.  Per-stream credit bounds what we buffer, so one
 * stalled reader only ever stalls its own session. */
#include "tfst-engine-private.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static gboolean end_try_fin(TfstEnd *p);
static void socket_update_io(TfstEnd *end);

static inline TfstEnd *
peer_of(TfstEnd *e)
{
  TfstSession *s = e->session;
  return e == &s->end[0] ? &s->end[1] : &s->end[0];
}

static gint64
now_us(TfstEngine *e)
{
  guint64 t = 0;

  sd_event_now(e->event, CLOCK_MONOTONIC, &t);
  return (gint64)t;
}

/* The engine starts zeroed: each window is set up on its first use. */
static TfstRatelimit *
session_rl(TfstEngine *e, TfstSessionLogKind kind)
{
  TfstRatelimit *rl = &e->session_rl[kind];

  if (rl->interval_us == 0)
    *rl = (TfstRatelimit)TFST_RATELIMIT_INIT(TFST_LOG_PEER_INTERVAL_US, TFST_LOG_PEER_BURST);
  return rl;
}

static TfstSession *
session_new(TfstEngine *e)
{
  TfstSession *s = g_new0(TfstSession, 1);

  s->engine = e;
  s->id = ++e->next_session_id;
  s->state = TFST_SESSION_OPENING;
  for (int i = 0; i < 2; i++) {
    s->end[i].session = s;
    s->end[i].fd = -1;
  }
  s->last_activity_us = now_us(e);
  s->started_us = s->last_activity_us;
  s->link.data = s;
  g_queue_push_tail_link(&e->sessions, &s->link);
  return s;
}

/* Session sockets live in the engine's own epoll set (see
 * tfst_session_dispatch_cb), registered only while we want an event. */
static void
socket_unregister(TfstEnd *end)
{
  if (end->registered)
    (void)epoll_ctl(end->session->engine->sess_epfd, EPOLL_CTL_DEL, end->fd, NULL);
  end->registered = FALSE;
}

/* close() takes a socket out of the epoll set by itself (nothing dups
 * session sockets): an EPOLL_CTL_DEL first would be one more syscall per
 * socket and session. */
static void
socket_close(TfstEnd *end, gboolean reset)
{
  end->registered = FALSE;
  if (reset)
    tfst_socket_reset_close(end->fd);
  else
    close(end->fd);
  end->fd = -1;
}

static void
end_release(TfstEnd *end)
{
  if (end->fd >= 0)
    socket_close(end, FALSE);
  end->fd = -1;
  if (end->kind == TFST_END_STREAM && end->hop != NULL) {
    if (end->charged)
      end->hop->child_sessions--;
    g_hash_table_remove(end->hop->streams, GUINT_TO_POINTER(end->id));
    if (end->blocked_link.data != NULL)
      g_queue_unlink(&end->hop->blocked, &end->blocked_link);
    end->hop->window_total -= end->window;
    end->hop = NULL;
  }
  tfst_pipe_put(&end->session->engine->pipes, g_steal_pointer(&end->pipe));
  tfst_buf_clear(&end->out);
}

/* Inside a dispatch batch a later event may still point at this session:
 * it is released at once but freed only when the batch is over. */
static void
session_free(TfstSession *s)
{
  TfstEngine *e = s->engine;

  end_release(&s->end[0]);
  end_release(&s->end[1]);
  s->timer = sd_event_source_disable_unref(s->timer);
  g_clear_pointer(&s->forward, g_ref_string_release);
  g_clear_pointer(&s->origin, g_ref_string_release);
  g_clear_pointer(&s->route, g_ref_string_release);
  tfst_counters_session_freed(s);
  g_queue_unlink(&e->sessions, &s->link);
  if (e->dispatching) {
    s->dead = TRUE;
    g_queue_push_tail_link(&e->graveyard, &s->link);
    return;
  }
  g_free(s);
}

static void
stream_attach(TfstEnd *end, TfstHop *hop, guint32 id, guint32 window)
{
  end->kind = TFST_END_STREAM;
  end->hop = hop;
  end->id = id;
  end->window = window;
  end->recv_allowance = window;
  hop->window_total += window;
  g_hash_table_insert(hop->streams, GUINT_TO_POINTER(id), end);
}

static void socket_set_mask(TfstEnd *end, guint32 mask);

static void
socket_attach(TfstEnd *end, int fd, guint32 mask)
{
  end->kind = TFST_END_SOCKET;
  end->fd = fd;
  socket_set_mask(end, mask);
}

/* Ends the session at once: sockets are closed with a reset and streams get
 * RST (or OPEN_FAIL when we never answered their OPEN).  `origin` is the end
 * the failure came from; it is told nothing. */
void
tfst_session_abort(TfstSession *s, int err, TfstEnd *origin)
{
  for (int i = 0; i < 2; i++) {
    TfstEnd *end = &s->end[i];

    if (end == origin)
      continue;
    if (end->kind == TFST_END_SOCKET && end->fd >= 0) {
      socket_close(end, TRUE);
    } else if (end->hop != NULL && !end->hop->closing) {
      guint8 type = !end->we_opened && !end->opened ? TFST_FRAME_OPEN_FAIL : TFST_FRAME_RST;
      tfst_hop_send_u32(end->hop, type, end->id, (guint32)err);
    }
  }
  tfst_counters_session_ended(s, err, origin);
  tfst_log_limited(s->engine->log, session_rl(s->engine, TFST_SESSION_LOG_RESET), LOG_INFO,
                   &(TfstLogFields){.session = s->id, .err = err},
                   "session rs=%" G_GUINT64_FORMAT " reset: %s", s->id, g_strerror(err));
  session_free(s);
}

/* Normal end: both directions closed and flushed. */
static gboolean
session_check_done(TfstSession *s)
{
  for (int i = 0; i < 2; i++)
    if (!s->end[i].in_eof || !s->end[i].fin_done)
      return TRUE;
  tfst_log_full(s->engine->log, LOG_DEBUG, &(TfstLogFields){.session = s->id},
                "session rs=%" G_GUINT64_FORMAT " closed", s->id);
  s->engine->stats.closed++;
  s->counted = TRUE;
  session_free(s);
  return FALSE;
}

/* ---- timers: open deadline, unconfirmed close, idle cap ---- */

static int session_timer_cb(sd_event_source *src, guint64 usec, void *userdata);
static void target_failed(TfstSession *s, int err);

static gint64
session_deadline(TfstSession *s)
{
  const TfstConfig *c = s->engine->config;
  gint64 d = G_MAXINT64;

  /* The far end gets ConnectTimeout for its connect; we wait a little longer
   * so its OPEN_FAIL, not our timer, reports the cause. */
  if (s->state == TFST_SESSION_OPENING)
    return s->last_activity_us +
           (c->connect_timeout_ms + (s->end[1].connecting ? 0 : 5000)) * 1000ll;
  if (s->half_closed_us != 0)
    d = s->last_activity_us + c->close_timeout_ms * 1000ll;
  if (c->idle_timeout_ms > 0)
    d = MIN(d, s->last_activity_us + c->idle_timeout_ms * 1000ll);
  return d;
}

static void
session_arm_timer(TfstSession *s)
{
  gint64 d = session_deadline(s);

  /* An open, idle session needs no timer at all: free it rather than keep
   * a disabled one, which would cost every idle session an sd-event source. */
  if (d == G_MAXINT64) {
    s->timer = sd_event_source_disable_unref(s->timer);
    return;
  }
  if (s->timer == NULL) {
    sd_event_add_time(s->engine->event, &s->timer, CLOCK_MONOTONIC, d, 10 * 1000, session_timer_cb,
                      s);
    return;
  }
  sd_event_source_set_time(s->timer, d);
  sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static int
session_timer_cb(sd_event_source *src, guint64 usec, void *userdata)
{
  TfstSession *s = userdata;
  TfstEngine *e = s->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_CLOSE_ABORT, .session = s->id, .err = ETIMEDOUT};
  TfstRatelimit *rl = session_rl(e, TFST_SESSION_LOG_TIMEOUT);

  /* Activity only stamps a time; the deadline is re-derived here so busy
   * sessions cost no timer updates. */
  if (session_deadline(s) > now_us(e)) {
    session_arm_timer(s);
    return 0;
  }
  if (s->state == TFST_SESSION_OPENING && s->end[1].connecting) {
    target_failed(s, ETIMEDOUT);
    return 0;
  }
  if (s->state == TFST_SESSION_OPENING) {
    tfst_log_limited(e->log, rl, LOG_WARNING, &f,
                     "session rs=%" G_GUINT64_FORMAT " not opened in time", s->id);
  } else if (s->half_closed_us != 0) {
    tfst_log_limited(e->log, rl, LOG_WARNING, &f,
                     "session rs=%" G_GUINT64_FORMAT
                     " aborted: peer did not confirm close within %u ms",
                     s->id, e->config->close_timeout_ms);
    e->stats.aborted_close++;
    s->counted = TRUE;
  } else {
    tfst_log_limited(e->log, rl, LOG_NOTICE, &f,
                     "session rs=%" G_GUINT64_FORMAT " aborted: idle for %u ms", s->id,
                     e->config->idle_timeout_ms);
    e->stats.idle_timeout++;
    s->counted = TRUE;
  }
  tfst_session_abort(s, ETIMEDOUT, NULL);
  return 0;
}

static void
session_touch(TfstSession *s)
{
  s->last_activity_us = now_us(s->engine);
}

/* ---- flow control ---- */

static void
stream_send_credit(TfstEnd *e)
{
  const TfstConfig *c = e->session->engine->config;
  TfstHop *hop = e->hop;
  gint64 now = now_us(e->session->engine);
  guint32 extra = 0;

  /* Half a window drained within two round trips means the window, not the
   * reader, limits this session: double it (bandwidth-delay product). */
  if (e->last_credit_us != 0 && now - e->last_credit_us < MAX(2 * hop->srtt_us, 2000) &&
      e->window < c->max_window && hop->window_total < TFST_HOP_WINDOW_BUDGET) {
    extra = MIN(e->window, c->max_window - e->window);
    e->window += extra;
    hop->window_total += extra;
  }
  e->last_credit_us = now;
  e->recv_allowance += e->to_credit + extra;
  tfst_hop_send_u32(hop, TFST_FRAME_CREDIT, e->id, e->to_credit + extra);
  e->to_credit = 0;
}

/* n bytes that came in through `from` have left the process. */
static void
end_consumed(TfstEnd *from, gsize n)
{
  if (from->kind == TFST_END_SOCKET) {
    socket_update_io(from);
    return;
  }
  from->to_credit += n;
  if (from->hop != NULL && !from->in_eof && from->to_credit >= from->window / 2)
    stream_send_credit(from);
}

static gboolean
stream_can_send(const TfstEnd *p)
{
  return p->opened && p->send_credit > 0 && tfst_buf_len(&p->out) == 0 && !p->fin_done &&
         p->hop != NULL && tfst_hop_has_room(p->hop);
}

/* A socket end may be read now.  Bulk goes through a pipe, and a spliced
 * frame needs the hop to itself: a bulk reader waits for that rather than
 * copy (it would keep the hop from ever being free again). */
static gboolean
socket_can_read(const TfstEnd *end, const TfstEnd *p)
{
  return stream_can_send(p) &&
         (!end->bulk || !tfst_hop_zero_copy(p->hop) || tfst_hop_tx_idle(p->hop));
}

/* Moves queued bytes of a stream end onto its hop as credit and room allow. */
static gboolean
stream_flush(TfstEnd *p)
{
  gsize moved = 0;

  while (tfst_buf_len(&p->out) > 0 && p->send_credit > 0 && tfst_hop_has_room(p->hop)) {
    gsize n = MIN(MIN(tfst_buf_len(&p->out), (gsize)p->send_credit), TFST_DATA_CHUNK);

    tfst_hop_send_data(p->hop, p->id, tfst_buf_peek(&p->out), n);
    tfst_buf_consume(&p->out, n);
    p->send_credit -= n;
    p->bytes_out += n;
    moved += n;
  }
  if (tfst_buf_len(&p->out) == 0)
    tfst_buf_clear(&p->out);
  else if (p->send_credit > 0)
    tfst_hop_block(p->hop, p);
  if (moved > 0)
    end_consumed(peer_of(p), moved);
  return end_try_fin(p);
}

static void
socket_set_mask(TfstEnd *end, guint32 mask)
{
  int epfd = end->session->engine->sess_epfd;
  struct epoll_event ev = {.events = mask, .data.ptr = end};

  if (end->fd < 0 || (end->io_mask == mask && end->registered == (mask != 0)))
    return;
  end->io_mask = mask;
  /* With no interest at all the socket leaves the set: epoll reports
   * HUP/ERR regardless of the mask and would spin. */
  if (mask == 0) {
    socket_unregister(end);
    return;
  }
  if (epoll_ctl(epfd, end->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, end->fd, &ev) == 0)
    end->registered = TRUE;
}

static void
socket_update_io(TfstEnd *end)
{
  TfstEnd *p = peer_of(end);
  guint32 mask = 0;

  if (end->connecting)
    return;
  if (!end->in_eof && end->session->state == TFST_SESSION_OPEN) {
    if (socket_can_read(end, p))
      mask |= EPOLLIN;
    else if (p->opened && p->send_credit > 0 && p->hop != NULL && tfst_buf_len(&p->out) == 0)
      tfst_hop_block(p->hop, p);
  }
  if (tfst_buf_len(&end->out) > 0 || end->pipe != NULL)
    mask |= EPOLLOUT;
  socket_set_mask(end, mask);
}

static gboolean
end_try_fin(TfstEnd *p)
{
  TfstSession *s = p->session;

  /* A FIN that arrives while the session is opening waits for the target
   * connect or the OPEN_OK: see session_send_fins(). */
  if (!p->out_fin || p->fin_done || tfst_buf_len(&p->out) > 0 || p->pipe != NULL || p->connecting ||
      (p->kind == TFST_END_STREAM && !p->opened))
    return TRUE;
  p->fin_done = TRUE;
  if (p->kind == TFST_END_SOCKET) {
    (void)shutdown(p->fd, SHUT_WR);
  } else if (p->hop != NULL) {
    guint8 f[TFST_FRAME_HEADER_SIZE];
    tfst_hop_send(p->hop, f, tfst_frame_encode_empty(f, sizeof(f), TFST_FRAME_FIN, p->id));
  }
  /* The other direction now has CloseTimeout of silence to finish in. */
  if (s->half_closed_us == 0) {
    s->half_closed_us = now_us(s->engine);
    session_arm_timer(s);
  }
  return session_check_done(s);
}

/* ---- moving bytes ---- */

/* Bytes that arrived on stream end `from` go out through its peer. */
static gboolean
session_deliver(TfstEnd *from, const guint8 *data, gsize len)
{
  TfstEnd *p = peer_of(from);
  gsize done = 0;

  from->bytes_in += len;
  session_touch(from->session);
  if (p->kind == TFST_END_SOCKET) {
    if (tfst_buf_len(&p->out) == 0 && p->pipe == NULL && !p->connecting) {
      ssize_t n = send(p->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        tfst_session_abort(from->session, errno, p);
        return FALSE;
      }
      done = n > 0 ? (gsize)n : 0;
    }
    if (done < len) {
      tfst_buf_append(&p->out, data + done, len - done);
      socket_update_io(p);
    }
  } else if (tfst_buf_len(&p->out) == 0) {
    done = MIN(len, (gsize)MAX(p->send_credit, 0));
    if (done > 0 && tfst_hop_has_room(p->hop)) {
      tfst_hop_send_data(p->hop, p->id, data, done);
      p->send_credit -= done;
    } else {
      done = 0;
    }
    if (done < len) {
      tfst_buf_append(&p->out, data + done, len - done);
      if (p->send_credit > 0)
        tfst_hop_block(p->hop, p);
    }
  } else {
    tfst_buf_append(&p->out, data, len);
  }
  p->bytes_out += done;
  if (done > 0)
    end_consumed(from, done);
  return TRUE;
}

static gboolean
socket_eof(TfstEnd *end)
{
  TfstEnd *p = peer_of(end);

  session_touch(end->session);
  end->in_eof = TRUE;
  p->out_fin = TRUE;
  socket_update_io(end);
  return end_try_fin(p);
}

/* Bytes read from a socket end went onto its peer's hop. */
static void
socket_took(TfstEnd *end, gsize n)
{
  TfstEnd *p = peer_of(end);

  session_touch(end->session);
  p->send_credit -= n;
  end->bytes_in += n;
  p->bytes_out += n;
  end->bulk = n >= TFST_SPLICE_MIN && tfst_hop_zero_copy(p->hop);
  socket_update_io(end);
}

static gboolean socket_read_copy(TfstEnd *end);

/* Bulk: the socket's bytes go to the hop through a pipe, as one DATA frame
 * (the hop is idle: socket_can_read()). */
static gboolean
socket_read_splice(TfstEnd *end)
{
  TfstEnd *p = peer_of(end);
  TfstPipePool *pool = &end->session->engine->pipes;
  TfstPipe *pipe = tfst_pipe_get(pool);
  gssize n = -EAGAIN;

  if (pipe != NULL)
    n = tfst_pipe_fill(pool, pipe, end->fd, MIN((gsize)p->send_credit, TFST_DATA_CHUNK));
  if (n > 0) {
    tfst_hop_send_pipe(p->hop, p->id, pipe);
    socket_took(end, n);
    return TRUE;
  }
  tfst_pipe_put(pool, pipe);
  if (n == 0)
    return socket_eof(end);
  if (pipe == NULL || pool->refused) {
    end->bulk = FALSE;
    return socket_read_copy(end);
  }
  if (n == -EAGAIN || n == -EINTR)
    return TRUE;
  tfst_session_abort(end->session, (int)-n, end);
  return FALSE;
}

/* Small reads: straight into the hop's output buffer, one copy. */
static gboolean
socket_read_copy(TfstEnd *end)
{
  TfstEnd *p = peer_of(end);
  gsize n = MIN((gsize)p->send_credit, TFST_DATA_CHUNK);
  guint8 *buf = tfst_hop_reserve_data(p->hop, n);
  ssize_t r = recv(end->fd, buf, n, MSG_DONTWAIT);

  if (r < 0) {
    if (errno == EAGAIN || errno == EINTR)
      return TRUE;
    tfst_session_abort(end->session, errno, end);
    return FALSE;
  }
  if (r == 0)
    return socket_eof(end);
  tfst_hop_commit_data(p->hop, p->id, r);
  socket_took(end, r);
  return TRUE;
}

/* A client or target socket is readable. */
static gboolean
socket_read(TfstEnd *end)
{
  TfstEnd *p = peer_of(end);

  if (end->in_eof || !socket_can_read(end, p)) {
    socket_update_io(end);
    return TRUE;
  }
  if (end->bulk && tfst_hop_tx_idle(p->hop))
    return socket_read_splice(end);
  return socket_read_copy(end);
}

/* The end's pipe into its socket: bytes moved (0: would block) or -errno. */
static gssize
socket_drain_pipe(TfstEnd *end)
{
  TfstPipePool *pool = &end->session->engine->pipes;
  gssize n = tfst_pipe_drain(pool, end->pipe, end->fd, end->pipe->len, tfst_buf_len(&end->out) > 0);

  if (n < 0 && pool->refused)
    n = tfst_pipe_to_buf(end->pipe, &end->out, TRUE);
  if (n == -EAGAIN || n == -EINTR)
    n = 0;
  if (end->pipe->len == 0)
    tfst_pipe_put(pool, g_steal_pointer(&end->pipe));
  return n;
}

/* What is queued for a socket end, the pipe first: bytes written or -errno. */
static gssize
socket_write(TfstEnd *end)
{
  gssize a = 0, b;

  if (end->pipe != NULL && ((a = socket_drain_pipe(end)) < 0 || end->pipe != NULL))
    return a;
  b = tfst_buf_send(&end->out, end->fd);
  return b < 0 ? b : a + b;
}

static gboolean
socket_flush(TfstEnd *end)
{
  gssize written = socket_write(end);

  if (written < 0) {
    tfst_session_abort(end->session, (int)-written, end);
    return FALSE;
  }
  if (tfst_buf_len(&end->out) == 0)
    tfst_buf_clear(&end->out);
  end->bytes_out += written;
  if (written > 0)
    end_consumed(peer_of(end), written);
  socket_update_io(end);
  return end_try_fin(end);
}

/* ---- establishing ---- */

/* FINs that arrived while the session was opening; FALSE when that ended
 * it (it is freed). */
static gboolean
session_send_fins(TfstSession *s)
{
  return end_try_fin(&s->end[0]) && end_try_fin(&s->end[1]);
}

static void
session_opened(TfstSession *s)
{
  s->state = TFST_SESSION_OPEN;
  s->engine->stats.opened++;
  s->engine->total_opened++;
  tfst_notify_changed(s->engine);
  session_touch(s);
  session_arm_timer(s);
  for (int i = 0; i < 2; i++)
    if (s->end[i].kind == TFST_END_SOCKET)
      socket_update_io(&s->end[i]);
  if (!session_send_fins(s))
    return;
  /* Most clients speak first, and their first bytes have usually arrived
   * by the time OPEN_OK does: reading them now spares the trip through
   * epoll (two epoll_wait calls) that would announce them.  A client that
   * waits for the server costs one recv that finds nothing.  Callers touch
   * nothing of the session after this (it may end here). */
  if (s->originated && s->end[0].kind == TFST_END_SOCKET && s->end[0].fd >= 0)
    (void)socket_read(&s->end[0]);
}

static void
target_connected(TfstEnd *end)
{
  TfstSession *s = end->session;
  TfstEnd *up = &s->end[0];

  end->connecting = FALSE;
  (void)tfst_socket_tune_new(end->fd, &s->engine->config->session_keepalive);
  up->opened = TRUE;
  tfst_hop_send_u32(up->hop, TFST_FRAME_OPEN_OK, up->id, up->window);
  session_opened(s);
}

static void
target_failed(TfstSession *s, int err)
{
  TfstLogFields f = {.message_id = TFST_MSGID_OPEN_FAILED, .session = s->id, .err = err};
  char buf[TFST_ADDR_STRLEN];

  tfst_log_limited(s->engine->log, session_rl(s->engine, TFST_SESSION_LOG_TARGET), LOG_WARNING, &f,
                   "multiplex.newsessopen: cannot open connection (%s) [rs=%" G_GUINT64_FORMAT
                   " forward=%s target=%s]",
                   g_strerror(err), s->id, s->forward, tfst_addr_format(&s->dest, buf));
  tfst_session_abort(s, err, &s->end[1]);
}

static void
socket_event(TfstEnd *end, guint32 revents)
{
  int fd = end->fd;

  /* A connect that failed reports EPOLLERR; writable alone means it is
   * established, and asking SO_ERROR then would cost every session a
   * syscall. */
  if (end->connecting) {
    int err = revents & (EPOLLERR | EPOLLHUP) ? tfst_socket_error(fd) : 0;
    if (err != 0)
      target_failed(end->session, err);
    else
      target_connected(end);
    return;
  }
  if ((revents & EPOLLERR) && !(revents & EPOLLIN)) {
    int err = tfst_socket_error(fd);
    tfst_session_abort(end->session, err != 0 ? err : ECONNRESET, end);
    return;
  }
  if ((revents & EPOLLOUT) && !socket_flush(end))
    return;
  if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
    (void)socket_read(end);
}

/* sd-event sees all session sockets as one source and we drain a batch of
 * their events per wake-up.  Giving each socket its own sd-event source
 * costs an epoll_wait per event, and with thousands of sockets ready at
 * once (a mass close) that is quadratic. */
int
tfst_session_dispatch_cb(sd_event_source *src, int fd, guint32 revents, void *userdata)
{
  TfstEngine *e = userdata;
  struct epoll_event ev[256];
  int n = epoll_wait(fd, ev, G_N_ELEMENTS(ev), 0);

  e->dispatching = TRUE;
  for (int i = 0; i < n; i++) {
    TfstEnd *end = ev[i].data.ptr;
    if (!end->session->dead && end->fd >= 0)
      socket_event(end, ev[i].events);
  }
  e->dispatching = FALSE;
  while (e->graveyard.head != NULL)
    g_free(g_queue_pop_head_link(&e->graveyard)->data);
  return 0;
}

static gboolean
session_limit_reached(TfstEngine *e)
{
  if (e->sessions.length < e->config->max_sessions)
    return FALSE;
  e->stats.refused_limit++;
  tfst_log_limited(e->log, session_rl(e, TFST_SESSION_LOG_LIMIT), LOG_WARNING,
                   &(TfstLogFields){.message_id = TFST_MSGID_MAX_SESSIONS},
                   "maximum of %u sessions reached; refusing new sessions (MaxSessions=)",
                   e->config->max_sessions);
  tfst_notify_session_refused(e, "", "max-sessions", "maximum of sessions reached (MaxSessions=)");
  return TRUE;
}

/* Token bucket of OpenRate= opens per second, holding at most one second's
 * worth: a child may open a burst of that many, then that many a second. */
static gboolean
open_rate_pass(TfstHop *hop, guint rate, gint64 now)
{
  if (rate == 0)
    return TRUE;
  if (hop->open_refill_us == 0)
    hop->open_tokens = rate;
  else
    hop->open_tokens =
        MIN((double)rate, hop->open_tokens + (double)(now - hop->open_refill_us) * rate / 1e6);
  hop->open_refill_us = now;
  if (hop->open_tokens < 1.0)
    return FALSE;
  hop->open_tokens -= 1.0;
  return TRUE;
}

/* One child hop may hold only its share of the sessions and open them only
 * so fast, so that it can neither starve the other children nor make the
 * endpoint proxy open connections into the secure zone without bound. */
static gboolean
child_share_full(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  guint max = tfst_config_child_sessions(e->config);

  if (hop->child_sessions < max)
    return FALSE;
  e->stats.refused_limit++;
  e->stats.refused_child_limit++;
  tfst_log_limited(
      e->log, session_rl(e, TFST_SESSION_LOG_CHILD_LIMIT), LOG_WARNING,
      &(TfstLogFields){.message_id = TFST_MSGID_MAX_SESSIONS, .peer_label = hop->peer_label},
      "child %s (%s) holds %u sessions; refusing its new sessions "
      "(MaxSessionsPerChild=%u)",
      hop->peer_label, hop->peer_desc, hop->child_sessions, max);
  tfst_notify_session_refused(e, hop->peer_label, "max-sessions-per-child",
                              "the child holds its share of the sessions (MaxSessionsPerChild=)");
  return TRUE;
}

static gboolean
child_too_fast(TfstHop *hop)
{
  TfstEngine *e = hop->engine;

  if (open_rate_pass(hop, e->config->open_rate, now_us(e)))
    return FALSE;
  e->stats.refused_limit++;
  e->stats.refused_open_rate++;
  tfst_log_limited(
      e->log, session_rl(e, TFST_SESSION_LOG_OPEN_RATE), LOG_WARNING,
      &(TfstLogFields){.message_id = TFST_MSGID_MAX_SESSIONS, .peer_label = hop->peer_label},
      "child %s (%s) opens sessions faster than OpenRate=%u per second; "
      "refusing its new sessions",
      hop->peer_label, hop->peer_desc, e->config->open_rate);
  tfst_notify_session_refused(e, hop->peer_label, "open-rate",
                              "the child opens sessions faster than OpenRate=");
  return TRUE;
}

/* 0 when a child may open one more session, else the OPEN_FAIL errno. */
static int
child_over_limit(TfstHop *hop)
{
  if (child_share_full(hop))
    return EDQUOT;
  return child_too_fast(hop) ? EAGAIN : 0;
}

static void
send_open(TfstSession *s, TfstEnd *out_end)
{
  const char *route = s->route;

  TfstOpenMsg m = {0};
  guint8 f[512];

  g_strlcpy(m.forward, s->forward != NULL ? s->forward : "", sizeof(m.forward));
  g_strlcpy(m.origin, s->origin != NULL ? s->origin : "", sizeof(m.origin));
  if (route != NULL)
    g_strlcpy(m.route, route, sizeof(m.route));
  m.client = s->client;
  m.dest = s->dest;
  m.window = out_end->window;
  out_end->we_opened = TRUE;
  tfst_hop_send(out_end->hop, f, tfst_frame_encode_open(f, sizeof(f), out_end->id, &m));
}

void
tfst_session_accept(TfstEngine *e, TfstListener *l, int fd, const TfstSockAddr *peer)
{
  const TfstForwardConf *fw = l->forward;
  g_autofree char *why = NULL;
  const char *route = NULL;
  TfstHop *hop = NULL;
  TfstSockAddr dest = {0};
  TfstSession *s;

  if (session_limit_reached(e)) {
    tfst_socket_reset_close(fd);
    return;
  }
  if (!tfst_socket_original_dst(fd, peer->sa.sa_family, &dest) && fw->has_destination)
    dest = fw->destination;
  if (e->config->role == TFST_ROLE_GWPROXY) {
    hop = tfst_parents_for(e, fw->name);
    if (hop == NULL)
      why = g_strdup("no parent hop is up whose chain serves it");
  } else {
    route = tfst_router_downcall_route(e, fw, &dest);
    hop = route != NULL ? tfst_router_child_for(e, route) : NULL;
    if (hop == NULL)
      why = route == NULL ? g_strdup("no gateway proxy serves it (set Route= or Destination=)")
                          : g_strdup_printf("gateway proxy %s is not reachable", route);
  }
  if (hop == NULL) {
    char buf[TFST_ADDR_STRLEN];
    tfst_log_limited(e->log, session_rl(e, TFST_SESSION_LOG_REFUSED), LOG_WARNING,
                     &(TfstLogFields){.err = EHOSTUNREACH},
                     "forward %s: refusing session from %s: %s", fw->name,
                     tfst_addr_format(peer, buf), why);
    tfst_socket_reset_close(fd);
    return;
  }

  s = session_new(e);
  s->originated = TRUE;
  s->upcall = e->config->role == TFST_ROLE_GWPROXY;
  s->forward = g_ref_string_new_intern(fw->name);
  s->origin = g_ref_string_new_intern(e->config->label);
  s->client = *peer;
  s->dest = dest;
  tfst_socket_tune_accepted(l, fd, &e->config->session_keepalive);
  socket_attach(&s->end[0], fd, 0);
  stream_attach(&s->end[1], hop, tfst_hop_alloc_id(hop), e->config->initial_window);
  s->route = route != NULL ? g_ref_string_new_intern(route) : NULL;
  send_open(s, &s->end[1]);
  session_arm_timer(s);
}

static void
open_fail(TfstHop *hop, guint32 id, int err)
{
  tfst_hop_send_u32(hop, TFST_FRAME_OPEN_FAIL, id, (guint32)err);
}

/* The end of the chain: connect to the forward's target. */
static void
session_terminate(TfstSession *s, const TfstOpenMsg *m)
{
  TfstEngine *e = s->engine;
  const TfstForwardConf *fw = tfst_config_forward(e->config, m->forward);
  int fd;

  if (fw == NULL || fw->has_listen) {
    tfst_log_limited(e->log, session_rl(e, TFST_SESSION_LOG_NO_TARGET), LOG_WARNING,
                     &(TfstLogFields){.session = s->id, .err = ENOENT},
                     "session rs=%" G_GUINT64_FORMAT ": forward '%s' has no Target= here", s->id,
                     m->forward);
    tfst_session_abort(s, ENOENT, &s->end[1]);
    return;
  }
  if (fw->target_kind == TFST_TARGET_ADDRESS)
    s->dest = fw->target;
  if (s->dest.sa.sa_family == 0) {
    tfst_session_abort(s, EHOSTUNREACH, &s->end[1]);
    return;
  }
  fd = tfst_socket_connect(&s->dest, NULL, NULL);
  if (fd < 0) {
    target_failed(s, -fd);
    return;
  }
  socket_attach(&s->end[1], fd, EPOLLOUT);
  s->end[1].connecting = TRUE;
  session_arm_timer(s);
}

static void
session_recv_open(TfstHop *hop, guint32 id, const TfstOpenMsg *m)
{
  TfstEngine *e = hop->engine;
  TfstRole role = e->config->role;
  gboolean upcall = hop->direction == TFST_HOP_TO_CHILD;
  TfstHop *next = NULL;
  TfstSession *s;
  int err;

  if ((id & 1) != (upcall ? 1u : 0u)) {
    tfst_hop_protocol_error(hop, "OPEN with session id %u of the wrong parity", id);
    return;
  }
  if (g_hash_table_contains(hop->streams, GUINT_TO_POINTER(id))) {
    tfst_hop_protocol_error(hop, "OPEN for session id %u already in use", id);
    return;
  }
  if (session_limit_reached(e)) {
    open_fail(hop, id, ENOBUFS);
    return;
  }
  if (upcall && !tfst_router_check_open(hop, m)) {
    open_fail(hop, id, EACCES);
    return;
  }
  if (upcall && (err = child_over_limit(hop)) != 0) {
    open_fail(hop, id, err);
    return;
  }

  if (role == TFST_ROLE_RELAY) {
    next = upcall ? tfst_parents_for(e, m->forward) : tfst_router_child_for(e, m->route);
    if (next == NULL) {
      open_fail(hop, id, upcall ? ENETUNREACH : EHOSTUNREACH);
      return;
    }
  } else if (!upcall && m->route[0] != '\0' && strcmp(m->route, e->config->label) != 0) {
    open_fail(hop, id, EHOSTUNREACH);
    return;
  }

  s = session_new(e);
  s->upcall = upcall;
  s->forward = g_ref_string_new_intern(m->forward);
  /* Relays pass ORIGIN on unchanged: the endpoint proxy learns which
   * gateway proxy an endpoint sits behind, not which relay. */
  s->origin = g_ref_string_new_intern(m->origin);
  s->route = m->route[0] != '\0' ? g_ref_string_new_intern(m->route) : NULL;
  s->client = m->client;
  s->dest = m->dest;
  stream_attach(&s->end[0], hop, id, e->config->initial_window);
  s->end[0].send_credit = m->window;
  s->end[0].charged = upcall;
  hop->child_sessions += upcall ? 1 : 0;
  if (next != NULL) {
    stream_attach(&s->end[1], next, tfst_hop_alloc_id(next), e->config->initial_window);
    send_open(s, &s->end[1]);
    session_arm_timer(s);
  } else {
    session_terminate(s, m);
  }
}

static void
end_recv_open_ok(TfstEnd *end, guint32 window)
{
  TfstSession *s = end->session;

  end->opened = TRUE;
  end->send_credit = window;
  if (!s->originated) {
    /* A relay answers downstream only now, so a failure further up still
     * travels back as OPEN_FAIL. */
    TfstEnd *down = &s->end[0];
    down->opened = TRUE;
    tfst_hop_send_u32(down->hop, TFST_FRAME_OPEN_OK, down->id, down->window);
  }
  session_opened(s);
}

static gboolean session_retry_open(TfstEnd *end, const TfstHop *failed);

/* Where a session that `failed` could not open may go instead: the next
 * parent hop for an upcall, another path to its gateway proxy for a
 * downcall; NULL when there is none. */
static TfstHop *
session_other_path(TfstSession *s, const TfstHop *failed)
{
  return s->upcall ? tfst_parents_other(s->engine, s->forward, failed)
                   : tfst_router_child_except(s->engine, s->route, failed);
}

/* Takes a stream end off its hop (the streams table aside), keeping the
 * session. */
static void
stream_detach(TfstEnd *end)
{
  TfstHop *hop = end->hop;

  if (end->blocked_link.data != NULL)
    g_queue_unlink(&hop->blocked, &end->blocked_link);
  end->blocked_link.data = NULL;
  hop->window_total -= end->window;
  end->hop = NULL;
}

/* ENETUNREACH from a parent: it has no path up any more (its own parent
 * went away); EHOSTUNREACH from a child: no path down to the gateway
 * proxy.  The session may still find one through another hop. */
static gboolean
end_retry_unreachable(TfstEnd *end, guint32 err)
{
  TfstHop *hop = end->hop;
  gboolean up = hop != NULL && hop->direction == TFST_HOP_TO_PARENT;

  if (hop == NULL || err != (up ? ENETUNREACH : EHOSTUNREACH) ||
      session_other_path(end->session, hop) == NULL)
    return FALSE;
  g_hash_table_remove(hop->streams, GUINT_TO_POINTER(end->id));
  stream_detach(end);
  return session_retry_open(end, hop);
}

static void
end_recv_open_fail(TfstEnd *end, guint32 err)
{
  TfstSession *s = end->session;

  if (end_retry_unreachable(end, err))
    return;

  if (s->originated) {
    TfstLogFields f = {.message_id = TFST_MSGID_OPEN_FAILED, .session = s->id, .err = (int)err};
    tfst_log_limited(
        s->engine->log, session_rl(s->engine, TFST_SESSION_LOG_OPENFAIL), LOG_WARNING, &f,
        "routedSessionCreate: [rs=%" G_GUINT64_FORMAT "] open session failed (e=%u)", s->id, err);
  }
  tfst_session_abort(s, err != 0 ? (int)err : ECONNREFUSED, end);
}

static void
end_recv_data(TfstEnd *end, const guint8 *p, guint32 len)
{
  if (!end->opened || end->in_eof) {
    tfst_hop_protocol_error(end->hop, "DATA on session %u %s", end->id,
                            end->in_eof ? "after FIN" : "before it was opened");
    return;
  }
  if ((gint64)len > end->recv_allowance) {
    tfst_hop_protocol_error(
        end->hop, "session %u exceeded its flow-control window (%u > %" G_GINT64_FORMAT ")",
        end->id, len, end->recv_allowance);
    return;
  }
  end->recv_allowance -= len;
  (void)session_deliver(end, p, len);
}

/* ---- zero copy: a DATA payload arriving through pipes ---- */

/* The pipe's bytes copied behind what p already queues (a pipe of its own
 * still draining, bytes in `out`, no credit or no idle hop). */
static gboolean
end_queue_pipe(TfstEnd *p, TfstPipe *pipe)
{
  gboolean was_empty = tfst_buf_len(&p->out) == 0;
  int r = tfst_pipe_to_buf(pipe, &p->out, FALSE);

  tfst_pipe_put(&p->session->engine->pipes, pipe);
  if (r < 0) {
    tfst_session_abort(p->session, -r, NULL);
    return FALSE;
  }
  if (p->kind == TFST_END_SOCKET) {
    socket_update_io(p);
    return TRUE;
  }
  return was_empty ? stream_flush(p) : TRUE;
}

/* Bytes that arrived on stream end `from` in a pipe go out through its
 * peer: spliced into the target socket, or on to the next hop as a DATA
 * frame of their own (a relay), else copied. */
static gboolean
session_deliver_pipe(TfstEnd *from, TfstPipe *pipe)
{
  TfstEnd *p = peer_of(from);
  gsize len = pipe->len;

  from->bytes_in += len;
  session_touch(from->session);
  if (p->kind == TFST_END_SOCKET && p->pipe == NULL && tfst_buf_len(&p->out) == 0) {
    p->pipe = pipe;
    return socket_flush(p);
  }
  if (p->kind == TFST_END_STREAM && tfst_buf_len(&p->out) == 0 && p->send_credit >= (gint64)len &&
      tfst_hop_tx_idle(p->hop)) {
    tfst_hop_send_pipe(p->hop, p->id, pipe);
    p->send_credit -= len;
    p->bytes_out += len;
    end_consumed(from, len);
    return TRUE;
  }
  return end_queue_pipe(p, pipe);
}

/* hop_cb->splice_cb: a DATA frame mostly still in the hop socket.  Taken
 * when it is one the normal path would accept (else that path reads it
 * whole and says what is wrong); its window is charged at once. */
gboolean
tfst_session_splice_cb(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload, guint32 len)
{
  TfstEnd *end = g_hash_table_lookup(hop->streams, GUINT_TO_POINTER(h->session));

  if (end == NULL || !end->opened || end->in_eof || (gint64)h->length > end->recv_allowance)
    return FALSE;
  end->recv_allowance -= h->length;
  if (len > 0)
    (void)session_deliver(end, payload, len);
  return TRUE;
}

/* hop_cb->piece_cb: the next part of that payload.  A session gone since
 * (reset) drops it, as a late frame is dropped. */
void
tfst_session_piece_cb(TfstHop *hop, guint32 id, TfstPipe *pipe, const guint8 *data, gsize len)
{
  TfstEnd *end = g_hash_table_lookup(hop->streams, GUINT_TO_POINTER(id));

  if (end == NULL)
    tfst_pipe_put(&hop->engine->pipes, pipe);
  else if (pipe == NULL)
    (void)session_deliver(end, data, len);
  else
    (void)session_deliver_pipe(end, pipe);
}

static void
end_recv_fin(TfstEnd *end)
{
  TfstEnd *p = peer_of(end);

  if (end->in_eof) {
    tfst_hop_protocol_error(end->hop, "second FIN on session %u", end->id);
    return;
  }
  end->in_eof = TRUE;
  session_touch(end->session);
  p->out_fin = TRUE;
  if (p->kind == TFST_END_STREAM ? stream_flush(p) : end_try_fin(p))
    (void)session_check_done(end->session);
}

static void
end_recv_credit(TfstEnd *end, guint32 v)
{
  TfstEnd *p = peer_of(end);

  if (end->send_credit + v > G_MAXINT32) {
    tfst_hop_protocol_error(end->hop, "session %u credit overflow", end->id);
    return;
  }
  end->send_credit += v;
  if (!stream_flush(end))
    return;
  if (p->kind == TFST_END_SOCKET)
    socket_update_io(p);
}

/* The errno of an OPEN_FAIL or RST.  0 and values Linux has no name for
 * read as the default: a peer cycling through every u32 would otherwise
 * leave a g_strerror() text and a statistics entry behind for each. */
static guint32
peer_errno(guint32 v, guint32 dflt)
{
  return tfst_counters_errno_is_known(v) ? v : dflt;
}

void
tfst_session_frame_cb(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload)
{
  TfstEnd *end;
  guint32 v = 0;
  int r;

  if (h->type == TFST_FRAME_OPEN) {
    TfstOpenMsg m;
    if ((r = tfst_frame_decode_open(payload, h->length, &m)) < 0) {
      tfst_hop_protocol_error(hop, "bad OPEN: %s", tfst_frame_strerror(r));
      return;
    }
    session_recv_open(hop, h->session, &m);
    return;
  }
  end = g_hash_table_lookup(hop->streams, GUINT_TO_POINTER(h->session));
  /* Frames the peer sent before it saw our RST are expected: drop them. */
  if (end == NULL)
    return;
  if (h->length == 4)
    (void)tfst_frame_decode_u32(h, payload, &v);
  switch (h->type) {
    case TFST_FRAME_OPEN_OK:
    case TFST_FRAME_OPEN_FAIL:
      if (!end->we_opened || end->opened) {
        tfst_hop_protocol_error(hop, "unexpected %s for session %u", tfst_frame_type_name(h->type),
                                h->session);
        return;
      }
      if (h->type == TFST_FRAME_OPEN_OK)
        end_recv_open_ok(end, v);
      else
        end_recv_open_fail(end, peer_errno(v, ECONNREFUSED));
      break;
    case TFST_FRAME_DATA:
      end_recv_data(end, payload, h->length);
      break;
    case TFST_FRAME_FIN:
      end_recv_fin(end);
      break;
    case TFST_FRAME_RST:
      tfst_session_abort(end->session, (int)peer_errno(v, ECONNRESET), end);
      break;
    case TFST_FRAME_CREDIT:
      end_recv_credit(end, v);
      break;
    default:
      tfst_hop_protocol_error(hop, "unexpected %s", tfst_frame_type_name(h->type));
  }
}

/* A session still opening on a hop that is lost (OPEN sent, no answer, so
 * none of the client's bytes went on: they are read only once the stream
 * is open) is opened again on the next path, invisibly to the client: an
 * upcall on the next parent hop, a downcall on another child hop that
 * reaches its gateway proxy.  Its ConnectTimeout= keeps running, which
 * bounds the tries. */
static gboolean
session_retry_open(TfstEnd *end, const TfstHop *failed)
{
  TfstSession *s = end->session;
  TfstHop *next;

  if (s->state != TFST_SESSION_OPENING || end != &s->end[1] || !end->we_opened || end->opened ||
      s->open_retries >= TFST_SESSION_OPEN_RETRIES)
    return FALSE;
  if ((next = session_other_path(s, failed)) == NULL)
    return FALSE;
  s->open_retries++;
  memset(end, 0, sizeof(*end));
  end->session = s;
  end->fd = -1;
  stream_attach(end, next, tfst_hop_alloc_id(next), s->engine->config->initial_window);
  send_open(s, end);
  return TRUE;
}

/* One stream of a lost hop, already detached from it. */
static void
end_lost(TfstHop *hop, TfstEnd *end, int err)
{
  TfstSession *s = end->session;

  if (session_retry_open(end, hop))
    return;
  /* Not opened yet and no other path here: the side it came from may have
   * one, and ENETUNREACH / EHOSTUNREACH tell it to try
   * (end_retry_unreachable). */
  if (!s->originated && s->state == TFST_SESSION_OPENING && end == &s->end[1])
    tfst_session_abort(s, s->upcall ? ENETUNREACH : EHOSTUNREACH, end);
  else if (s->originated && s->state == TFST_SESSION_OPENING)
    end_recv_open_fail(end, (guint32)err);
  else
    tfst_session_abort(s, err, end);
}

void
tfst_session_lost_cb(TfstHop *hop, int err)
{
  g_autoptr(GList) ends = g_hash_table_get_values(hop->streams);

  /* A GOAWAY reason is the peer's word too. */
  err = (int)peer_errno((guint32)err, ECONNRESET);
  g_hash_table_remove_all(hop->streams);
  for (GList *l = ends; l != NULL; l = l->next) {
    TfstEnd *end = l->data;

    stream_detach(end);
    end_lost(hop, end, err);
  }
}

void
tfst_session_room_cb(TfstEnd *end)
{
  TfstEnd *p = peer_of(end);

  if (tfst_buf_len(&end->out) > 0 && !stream_flush(end))
    return;
  if (p->kind == TFST_END_SOCKET)
    socket_update_io(p);
}
