/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The collecting end of an [Events NAME] section (a gateway proxy with
 * Listen=): every event a sender hands over goes into the spool first, then
 * up the active parent hop in EVENT batches, at most a window of them
 * unacknowledged; an EVENT_ACK trims the spool.  No ack progress for the
 * retransmission timeout, or another parent hop: back to the first
 * unacknowledged event and send again from there (go-back-N; the far end
 * skips what it has). */
#include "tfst-events.h"

#include <errno.h>
#include <string.h>

static void send_pump(TfstEventSink *s);

static void
send_log_error(TfstEventSink *s, int err, const char *what)
{
  TfstLogFields f = {.message_id = TFST_MSGID_SPOOL_ERROR, .err = err};

  tfst_log_limited(s->engine->log, &s->rl_error, LOG_ERR, &f, "[Events %s] spool %s failed: %s",
                   s->conf->name, what, g_strerror(err));
}

static void
send_arm_pump(TfstEventSink *s)
{
  if (s->pump != NULL)
    (void)sd_event_source_set_enabled(s->pump, SD_EVENT_ONESHOT);
}

/* The first event not acknowledged that the spool still holds (drop-oldest
 * may have removed some the far end never saw). */
static guint64
send_base(const TfstEventSink *s)
{
  return MAX(s->acked + 1, tfst_spool_first_seq(s->spool));
}

static void
send_recount(TfstEventSink *s)
{
  guint64 base = send_base(s);

  s->send_next = MAX(s->send_next, base);
  s->inflight_bytes = 0;
  for (guint64 q = base; q < s->send_next; q++)
    s->inflight_bytes += s->inflight_len[q % TFST_EVENTS_WINDOW_EVENTS];
}

static void
send_go_back(TfstEventSink *s)
{
  s->send_next = send_base(s);
  s->inflight_bytes = 0;
}

static gboolean
send_window_open(const TfstEventSink *s)
{
  return s->send_next - send_base(s) < TFST_EVENTS_WINDOW_EVENTS &&
         s->inflight_bytes < TFST_EVENTS_WINDOW_BYTES;
}

/* Armed while events are in flight; `restart` after ack progress. */
static void
send_arm_rto(TfstEventSink *s, gboolean restart)
{
  int on = SD_EVENT_OFF;

  if (s->send_next <= send_base(s)) {
    (void)sd_event_source_set_enabled(s->rto, SD_EVENT_OFF);
    return;
  }
  (void)sd_event_source_get_enabled(s->rto, &on);
  if (on != SD_EVENT_OFF && !restart)
    return;
  (void)sd_event_source_set_time_relative(s->rto, s->rto_ms * 1000ull);
  (void)sd_event_source_set_enabled(s->rto, SD_EVENT_ONESHOT);
}

/* Appends the event at send_next to the frame; returns the frame's new
 * size, or a negative status when it did not fit or could not be read. */
static gssize
send_add_one(TfstEventSink *s, gsize used)
{
  guint64 seq = s->send_next;
  gsize len = 0;
  gint64 rt;
  gssize n;
  int r = tfst_spool_read(s->spool, &seq, s->event_buf, TFST_EVENT_MAX, &len, &rt);

  if (r < 0) {
    if (r != -ENOENT)
      send_log_error(s, -r, "read");
    return r;
  }
  n = tfst_frame_event_add(s->frame, TFST_EVENTS_FRAME_CAP, used, s->event_buf, len);
  if (n < 0)
    return n;
  s->inflight_len[s->send_next % TFST_EVENTS_WINDOW_EVENTS] = (guint32)len;
  s->inflight_bytes += len;
  if (s->send_next <= s->sent_high) {
    s->c.resent++;
  } else {
    s->c.forwarded++;
    s->sent_high = s->send_next;
  }
  s->send_next++;
  return n;
}

/* One EVENT from send_next on, as many events as fit the frame and the
 * window; its size, or a negative status when not even one went in. */
static gssize
send_build(TfstEventSink *s)
{
  TfstEventStream st = {.epoch = tfst_spool_epoch(s->spool)};
  gssize used;

  g_strlcpy(st.origin, s->engine->config->label, sizeof(st.origin));
  g_strlcpy(st.sink, s->conf->name, sizeof(st.sink));
  used = tfst_frame_event_begin(s->frame, TFST_EVENTS_FRAME_CAP, &st, send_base(s), s->send_next);
  while (used > 0 && s->send_next < tfst_spool_next_seq(s->spool) && send_window_open(s)) {
    gssize n = send_add_one(s, used);
    if (n < 0)
      break;
    used = n;
  }
  return used < 0 ? used : tfst_frame_event_end(s->frame, used);
}

static gboolean
send_has_path(const TfstEventSink *s)
{
  return s->spool != NULL && s->path != NULL && tfst_hop_speaks_events(s->path);
}

/* A few frames per turn, so a full spool does not keep the loop from the
 * sessions; the rest on the next turn. */
static void
send_pump(TfstEventSink *s)
{
  guint frames = 0;

  if (!send_has_path(s))
    return;
  if (s->send_next < tfst_spool_first_seq(s->spool))
    send_recount(s);
  while (s->send_next < tfst_spool_next_seq(s->spool) && send_window_open(s)) {
    gssize n;
    if (!tfst_hop_has_room(s->path)) {
      tfst_hop_want_room(s->path);
      break;
    }
    if (frames++ == 8) {
      send_arm_pump(s);
      break;
    }
    if ((n = send_build(s)) <= 0)
      break;
    tfst_hop_send(s->path, s->frame, n);
  }
  send_arm_rto(s, FALSE);
}

static int
send_pump_cb(sd_event_source *src G_GNUC_UNUSED, void *userdata)
{
  send_pump(userdata);
  return 0;
}

/* No ack progress for a whole RTO: the batches (or their acks) are lost,
 * or the far end could not deliver; send again, backing off to 8 s. */
static int
send_rto_cb(sd_event_source *src G_GNUC_UNUSED, guint64 usec G_GNUC_UNUSED, void *userdata)
{
  TfstEventSink *s = userdata;

  if (s->spool == NULL)
    return 0;
  s->rto_ms = MIN(s->rto_ms * 2, TFST_EVENTS_RTO_MAX_MS);
  send_go_back(s);
  send_pump(s);
  return 0;
}

static void
send_maybe_resume(TfstEventSink *s)
{
  if (s->input_paused && !s->syncing && tfst_spool_has_room(s->spool, TFST_EVENT_MAX)) {
    s->input_paused = FALSE;
    tfst_event_input_resume(s->input);
  }
}

void
tfst_event_send_ack(TfstEventSink *s, const TfstEventAckMsg *m)
{
  guint64 acked, base;
  gboolean was_down;

  if (s->spool == NULL || m->stream.epoch != tfst_spool_epoch(s->spool))
    return; /* for a spool that is gone */
  was_down = s->far_status != 0;
  s->far_status = m->status;
  acked = MIN(m->acked, tfst_spool_next_seq(s->spool) - 1);
  base = send_base(s);
  if (acked < base) {
    /* The far end's target is back: what it refused goes again now. */
    if (was_down && m->status == 0)
      tfst_event_send_flush(s);
    return;
  }
  s->c.acknowledged += acked - base + 1;
  s->acked = acked;
  tfst_spool_trim(s->spool, acked);
  s->rto_ms = TFST_EVENTS_RTO_MIN_MS;
  send_recount(s);
  send_arm_rto(s, TRUE);
  send_maybe_resume(s);
  tfst_event_sink_check_fill(s);
  send_arm_pump(s);
}

void
tfst_event_send_path(TfstEventSink *s, TfstHop *hop)
{
  if (hop == s->path)
    return;
  s->path = hop;
  if (s->spool == NULL)
    return;
  send_go_back(s);
  s->rto_ms = TFST_EVENTS_RTO_MIN_MS;
  send_arm_pump(s);
}

void
tfst_event_send_kick(TfstEventSink *s)
{
  send_arm_pump(s);
}

void
tfst_event_send_flush(TfstEventSink *s)
{
  if (s->spool == NULL)
    return;
  s->rto_ms = TFST_EVENTS_RTO_MIN_MS;
  send_go_back(s);
  send_pump(s);
}

guint64
tfst_event_send_epoch(const TfstEventSink *s)
{
  return s->spool != NULL ? tfst_spool_epoch(s->spool) : 0;
}

/* ---- the input: every event into the spool ---- */

/* The spool did not take it: with SpoolFull=block a TCP sender waits
 * (the input keeps the event); everything else is counted. */
static int
send_refused(TfstEventSink *s, int r, gboolean from_tcp)
{
  gboolean block = s->conf->spool.full == TFST_SPOOL_FULL_BLOCK;

  if (r == -ENOSPC && block && from_tcp) {
    s->input_paused = TRUE;
    return -ENOSPC;
  }
  s->c.received++;
  if (r == -ENOSPC) {
    tfst_event_sink_drop(s, block ? TFST_EVENT_DROP_BLOCK_UDP : TFST_EVENT_DROP_SPOOL_FULL, 1);
  } else if (r == -EMSGSIZE) {
    s->c.malformed[TFST_EVENT_MALFORMED_OVERSIZE]++;
  } else {
    send_log_error(s, -r, "write");
    tfst_event_sink_drop(s, TFST_EVENT_DROP_SPOOL_ERROR, 1);
  }
  return 0;
}

static int
send_event_cb(gpointer user_data, const guint8 *data, gsize len, gboolean from_tcp)
{
  TfstEventSink *s = user_data;
  guint64 seq;
  int r;

  if (s->spool == NULL) {
    s->c.received++;
    tfst_event_sink_drop(s, TFST_EVENT_DROP_SPOOL_ERROR, 1);
    return 0;
  }
  /* SpoolSync=always: a TCP sender's next batch waits until the last one
   * is on the disk (a datagram cannot wait: it goes in). */
  if (s->syncing && from_tcp) {
    s->input_paused = TRUE;
    return -ENOSPC;
  }
  r = tfst_spool_append(s->spool, data, len, g_get_real_time(), &seq);
  if (r < 0)
    return send_refused(s, r, from_tcp);
  s->c.received++;
  s->c.spooled++;
  tfst_event_sink_check_fill(s);
  send_arm_pump(s);
  return 0;
}

static void
send_malformed_cb(gpointer user_data, TfstEventMalformed why, const char *peer G_GNUC_UNUSED)
{
  TfstEventSink *s = user_data;

  if (why < TFST_EVENT_MALFORMED_KINDS)
    s->c.malformed[why]++;
}

static void
send_batch_cb(gpointer user_data)
{
  TfstEventSink *s = user_data;

  if (s->spool != NULL && s->conf->spool.sync_ms == TFST_SPOOL_SYNC_ALWAYS &&
      tfst_spool_dirty(s->spool)) {
    s->syncing = TRUE;
    tfst_spool_sync_start(s->spool);
  }
}

/* ---- durability: SpoolSync= ---- */

static int
send_sync_io_cb(sd_event_source *src G_GNUC_UNUSED, int fd G_GNUC_UNUSED,
                guint32 revents G_GNUC_UNUSED, void *userdata)
{
  TfstEventSink *s = userdata;
  guint64 durable = 0;
  int r = tfst_spool_sync_finish(s->spool, &durable);

  if (r < 0 && r != -EAGAIN)
    send_log_error(s, -r, "fdatasync");
  if (r != -EAGAIN) {
    s->syncing = FALSE;
    send_maybe_resume(s);
  }
  return 0;
}

/* With SpoolSync=always the input's batch_cb syncs; the timer then only
 * looks once a second whether the setting changed. */
static int
send_sync_timer_cb(sd_event_source *src, guint64 usec G_GNUC_UNUSED, void *userdata)
{
  TfstEventSink *s = userdata;
  guint ms = s->conf->spool.sync_ms;

  if (s->spool != NULL && tfst_spool_dirty(s->spool))
    tfst_spool_sync_start(s->spool);
  (void)sd_event_source_set_time_relative(src,
                                          (ms == TFST_SPOOL_SYNC_ALWAYS ? 1000 : ms) * 1000ull);
  (void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
  return 0;
}

/* ---- the spool itself: opened at start, retried every 10 s ---- */

static void
send_spool_problems(TfstEventSink *s, GPtrArray *problems)
{
  TfstLogFields f = {.message_id = TFST_MSGID_SPOOL_DAMAGED};

  for (guint i = 0; i < problems->len; i++)
    tfst_log_full(s->engine->log, LOG_ERR, &f, "[Events %s] %s", s->conf->name,
                  (const char *)g_ptr_array_index(problems, i));
}

static void
send_spool_ready(TfstEventSink *s, const char *dir)
{
  guint64 first = tfst_spool_first_seq(s->spool);

  s->acked = first - 1;
  s->send_next = first;
  s->sent_high = first - 1;
  s->inflight_bytes = 0;
  s->oldest_base = tfst_spool_counters(s->spool)->dropped_oldest;
  (void)sd_event_add_io(s->engine->event, &s->sync_io, tfst_spool_sync_fd(s->spool), EPOLLIN,
                        send_sync_io_cb, s);
  tfst_log(s->engine->log, LOG_NOTICE, "[Events %s] spool %s: %" G_GUINT64_FORMAT " events held",
           s->conf->name, dir, tfst_spool_events(s->spool));
  tfst_event_sink_check_fill(s);
  send_arm_pump(s);
}

static void send_arm_retry(TfstEventSink *s);

static gboolean
send_spool_open(TfstEventSink *s)
{
  TfstLogFields f = {.message_id = TFST_MSGID_SPOOL_ERROR};
  g_autofree char *dir = tfst_config_spool_dir(s->engine->config, s->conf->name);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;

  s->spool = tfst_spool_open(dir, &s->conf->spool, problems, &error);
  send_spool_problems(s, problems);
  if (s->spool == NULL) {
    tfst_log_limited(s->engine->log, &s->rl_error, LOG_ERR, &f,
                     "[Events %s] cannot open the spool in %s: %s; events are dropped until it "
                     "opens (next attempt in %u s)",
                     s->conf->name, dir, error->message, TFST_EVENTS_SPOOL_RETRY_MS / 1000);
    send_arm_retry(s);
    return FALSE;
  }
  send_spool_ready(s, dir);
  return TRUE;
}

static int
send_retry_cb(sd_event_source *src G_GNUC_UNUSED, guint64 usec G_GNUC_UNUSED, void *userdata)
{
  (void)send_spool_open(userdata);
  return 0;
}

static void
send_arm_retry(TfstEventSink *s)
{
  if (s->spool_retry == NULL &&
      sd_event_add_time_relative(s->engine->event, &s->spool_retry, CLOCK_MONOTONIC,
                                 TFST_EVENTS_SPOOL_RETRY_MS * 1000ull, 0, send_retry_cb, s) < 0)
    return;
  (void)sd_event_source_set_time_relative(s->spool_retry, TFST_EVENTS_SPOOL_RETRY_MS * 1000ull);
  (void)sd_event_source_set_enabled(s->spool_retry, SD_EVENT_ONESHOT);
}

static void
send_add_sources(TfstEventSink *s)
{
  sd_event *ev = s->engine->event;

  (void)sd_event_add_defer(ev, &s->pump, send_pump_cb, s);
  (void)sd_event_source_set_enabled(s->pump, SD_EVENT_OFF);
  (void)sd_event_add_time_relative(ev, &s->rto, CLOCK_MONOTONIC, TFST_EVENTS_RTO_MIN_MS * 1000ull,
                                   10 * 1000, send_rto_cb, s);
  (void)sd_event_source_set_enabled(s->rto, SD_EVENT_OFF);
  (void)sd_event_add_time_relative(ev, &s->sync_timer, CLOCK_MONOTONIC, 1000, 5 * 1000,
                                   send_sync_timer_cb, s);
}

gboolean
tfst_event_send_open(TfstEventSink *s, GPtrArray *activated, GError **error)
{
  static const TfstEventInputCallbacks cb = {
      .event_cb = send_event_cb,
      .malformed_cb = send_malformed_cb,
      .batch_cb = send_batch_cb,
  };

  s->inflight_len = g_new0(guint32, TFST_EVENTS_WINDOW_EVENTS);
  s->frame = g_malloc(TFST_EVENTS_FRAME_CAP);
  s->event_buf = g_malloc(TFST_EVENT_MAX);
  s->input =
      tfst_event_input_new(s->engine->event, s->engine->log, s->conf, activated, &cb, s, error);
  if (s->input == NULL)
    return FALSE;
  send_add_sources(s);
  (void)send_spool_open(s);
  return TRUE;
}

void
tfst_event_send_reload(TfstEventSink *s)
{
  if (s->spool != NULL)
    tfst_spool_set_conf(s->spool, &s->conf->spool);
  if (s->spool != NULL)
    send_maybe_resume(s);
}

void
tfst_event_send_close(TfstEventSink *s)
{
  s->pump = sd_event_source_disable_unref(s->pump);
  s->rto = sd_event_source_disable_unref(s->rto);
  s->sync_timer = sd_event_source_disable_unref(s->sync_timer);
  s->sync_io = sd_event_source_disable_unref(s->sync_io);
  s->spool_retry = sd_event_source_disable_unref(s->spool_retry);
  g_clear_pointer(&s->input, tfst_event_input_free);
  g_clear_pointer(&s->spool, tfst_spool_free);
  g_clear_pointer(&s->inflight_len, g_free);
  g_clear_pointer(&s->frame, g_free);
  g_clear_pointer(&s->event_buf, g_free);
  s->path = NULL;
}
