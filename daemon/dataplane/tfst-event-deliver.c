/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The delivering end (an endpoint proxy with Target=): EVENT batches from
 * the chain go to the target in order, once each per stream (go-back-N in
 * tfst-event-order.c), and what the target wrote is acknowledged back down
 * the hop the stream's last EVENT came on, at most one EVENT_ACK per
 * stream per turn of the loop.  Memory is bounded: a stream per (origin,
 * sink) a child may claim, TFST_EVENTS_MAX_STREAMS in all, the least
 * recently used idle one forgotten beyond that. */
#include "tfst-events.h"

#include <errno.h>
#include <string.h>

/* An event queued at the target, waiting for written_cb. */
typedef struct {
  guint64 token;
  guint64 epoch;
  guint64 seq;
  TfstEventDeliverStream *stream;
} TfstEventPending;

/* The least recently used stream with nothing queued and no ack owed. */
static gboolean
deliver_forget_one(TfstEvents *ev)
{
  char key[TFST_EVENT_STREAM_KEY_MAX];

  for (GList *l = ev->lru.head; l != NULL; l = l->next) {
    TfstEventDeliverStream *d = l->data;
    if (d->pending > 0 || d->ack_due)
      continue;
    g_queue_unlink(&ev->lru, &d->lru_link);
    tfst_event_sink_stream_key(key, d->origin, d->sink);
    g_hash_table_remove(ev->streams, key);
    return TRUE;
  }
  return FALSE;
}

static TfstEventDeliverStream *
deliver_stream(TfstEvents *ev, const TfstEventStream *st)
{
  char key[TFST_EVENT_STREAM_KEY_MAX];
  TfstEventDeliverStream *d;

  tfst_event_sink_stream_key(key, st->origin, st->sink);
  d = g_hash_table_lookup(ev->streams, key);
  if (d != NULL) {
    g_queue_unlink(&ev->lru, &d->lru_link);
    g_queue_push_tail_link(&ev->lru, &d->lru_link);
    return d;
  }
  if (g_hash_table_size(ev->streams) >= TFST_EVENTS_MAX_STREAMS && !deliver_forget_one(ev))
    return NULL;
  d = g_new0(TfstEventDeliverStream, 1);
  g_strlcpy(d->origin, st->origin, sizeof(d->origin));
  g_strlcpy(d->sink, st->sink, sizeof(d->sink));
  d->lru_link.data = d;
  d->due_link.data = d;
  g_queue_push_tail_link(&ev->lru, &d->lru_link);
  g_hash_table_insert(ev->streams, g_strdup(key), d);
  return d;
}

/* ---- acknowledgements ---- */

static guint32
deliver_status(TfstEngine *e, const TfstEventDeliverStream *d)
{
  TfstEventSink *s = tfst_event_sink_find(e, d->sink);

  if (s == NULL || s->target == NULL)
    return ENOENT;
  if (tfst_event_target_state(s->target) != TFST_EVENT_TARGET_UP)
    return s->target_err != 0 ? s->target_err : ENOTCONN;
  return d->status;
}

static void
deliver_send_ack(TfstEngine *e, TfstEventDeliverStream *d)
{
  TfstEventAckMsg a = {.acked = d->order.acked, .status = deliver_status(e, d)};
  guint8 buf[TFST_FRAME_HEADER_SIZE + 2 * TFST_LABEL_MAX + 32];
  gssize n;

  if (d->hop == NULL || !tfst_hop_speaks_events(d->hop) || d->order.epoch == 0)
    return;
  g_strlcpy(a.stream.origin, d->origin, sizeof(a.stream.origin));
  g_strlcpy(a.stream.sink, d->sink, sizeof(a.stream.sink));
  a.stream.epoch = d->order.epoch;
  n = tfst_frame_encode_event_ack(buf, sizeof(buf), &a);
  if (n > 0)
    tfst_hop_send(d->hop, buf, n);
}

static int
deliver_flush_cb(sd_event_source *src G_GNUC_UNUSED, void *userdata)
{
  TfstEngine *e = userdata;
  GList *l;

  while ((l = g_queue_pop_head_link(&e->events->due)) != NULL) {
    TfstEventDeliverStream *d = l->data;
    d->ack_due = FALSE;
    deliver_send_ack(e, d);
  }
  return 0;
}

static void
deliver_ack_due(TfstEngine *e, TfstEventDeliverStream *d)
{
  TfstEvents *ev = e->events;

  if (d->ack_due)
    return;
  if (ev->ack_flush == NULL &&
      sd_event_add_defer(e->event, &ev->ack_flush, deliver_flush_cb, e) < 0)
    return; /* ENOMEM: the origin sends again after its timeout */
  d->ack_due = TRUE;
  g_queue_push_tail_link(&ev->due, &d->due_link);
  (void)sd_event_source_set_enabled(ev->ack_flush, SD_EVENT_ONESHOT);
}

/* ---- the target ---- */

static void
deliver_written_cb(gpointer user_data, guint64 token)
{
  TfstEventSink *s = user_data;
  TfstEventPending *p;

  while ((p = g_queue_peek_head(&s->written)) != NULL && p->token <= token) {
    TfstEventDeliverStream *d = p->stream;
    g_queue_pop_head(&s->written);
    d->pending--;
    s->c.delivered++;
    if (tfst_event_order_written(&d->order, p->epoch, p->seq))
      deliver_ack_due(s->engine, d);
    g_free(p);
  }
}

/* Every stream of the sink hears at once that the target takes events
 * again (status 0), so its origin sends now instead of after its backed
 * off timeout. */
static void
deliver_target_up(TfstEventSink *s)
{
  for (GList *l = s->engine->events->lru.head; l != NULL; l = l->next) {
    TfstEventDeliverStream *d = l->data;
    if (strcmp(d->sink, s->conf->name) == 0) {
      d->status = 0;
      deliver_ack_due(s->engine, d);
    }
  }
}

/* What the target had queued is gone: each stream expects it again, and
 * hears the target's state with its next ack. */
static void
deliver_state_cb(gpointer user_data, TfstEventTargetState state, int err)
{
  TfstEventSink *s = user_data;
  TfstEventPending *p;

  s->target_err = state == TFST_EVENT_TARGET_UP ? 0 : (guint32)(err != 0 ? err : ENOTCONN);
  if (state == TFST_EVENT_TARGET_UP) {
    deliver_target_up(s);
    return;
  }
  while ((p = g_queue_pop_head(&s->written)) != NULL) {
    p->stream->pending--;
    tfst_event_order_lost(&p->stream->order);
    deliver_ack_due(s->engine, p->stream);
    g_free(p);
  }
}

/* The entry goes in before the send: a UDP target reports the write
 * before it returns. */
static gboolean
deliver_one(TfstEventSink *s, TfstEventDeliverStream *d, const guint8 *data, gsize len, guint64 seq)
{
  TfstEventPending *p = g_new0(TfstEventPending, 1);
  int r;

  p->token = ++s->next_token;
  p->epoch = d->order.epoch;
  p->seq = seq;
  p->stream = d;
  g_queue_push_tail(&s->written, p);
  d->pending++;
  tfst_event_order_taken(&d->order);
  r = tfst_event_target_send(s->target, data, len, p->token);
  if (r == 0) {
    d->status = 0;
    return TRUE;
  }
  g_free(g_queue_pop_tail(&s->written));
  d->pending--;
  d->order.next--;
  d->status = (guint32)-r;
  return FALSE;
}

/* TRUE when every event of the batch was taken or skipped. */
static gboolean
deliver_batch(TfstEventSink *s, TfstEventDeliverStream *d, const TfstEventMsg *m,
              gboolean *out_dups)
{
  gsize off = 0, len;
  const guint8 *data;
  guint64 seq = m->first;

  for (; tfst_frame_event_next(m, &off, &data, &len); seq++) {
    switch (tfst_event_order_verdict(&d->order, seq)) {
      case TFST_EVENT_DUPLICATE:
        s->c.duplicates++;
        *out_dups = TRUE;
        break;
      case TFST_EVENT_GAP:
        return FALSE;
      case TFST_EVENT_TAKE:
        if (!deliver_one(s, d, data, len, seq))
          return FALSE;
        break;
    }
  }
  return TRUE;
}

static void
deliver_refused(TfstEngine *e, TfstHop *hop, const TfstEventMsg *m, const char *why)
{
  TfstLogFields f = {.message_id = TFST_MSGID_PROTOCOL, .peer_label = hop->peer_label};
  TfstEventSink *s = tfst_event_sink_find(e, m->stream.sink);

  tfst_log_limited(e->log, &e->events->rl_refused, LOG_WARNING, &f,
                   "refused EVENT from child %s (%s) for origin %s: %s", hop->peer_label,
                   hop->peer_desc, m->stream.origin, why);
  if (s != NULL)
    tfst_event_sink_drop(s, TFST_EVENT_DROP_NOT_ALLOWED, m->count);
}

void
tfst_event_deliver_frame(TfstEngine *e, TfstHop *hop, const TfstEventMsg *m)
{
  const char *why = tfst_router_origin_refusal(hop, m->stream.origin);
  TfstEventSink *s = tfst_event_sink_find(e, m->stream.sink);
  TfstEventDeliverStream *d;
  gboolean dups = FALSE;

  if (why != NULL) {
    deliver_refused(e, hop, m, why);
    return;
  }
  /* Not told yet (a relay's TELL trails by an announcement interval):
   * the origin sends again. */
  if (!tfst_router_event_origin_known(hop, m->stream.origin))
    return;
  if ((d = deliver_stream(e->events, &m->stream)) == NULL) {
    if (s != NULL)
      tfst_event_sink_drop(s, TFST_EVENT_DROP_CONGESTED, m->count);
    return;
  }
  d->hop = hop;
  tfst_event_order_batch(&d->order, m->stream.epoch, m->base);
  if (s == NULL || s->target == NULL) {
    e->events->unknown_sink += m->count;
    deliver_ack_due(e, d); /* ENOENT: the origin shows it */
    return;
  }
  s->c.received += m->count;
  /* An ack now when the batch brought nothing new to wait for: the
   * origin resent what we have (its ack was lost) or must back off. */
  if (!deliver_batch(s, d, m, &dups) || dups || d->pending == 0)
    deliver_ack_due(e, d);
}

void
tfst_event_deliver_hop_down(TfstEngine *e, TfstHop *hop)
{
  for (GList *l = e->events->lru.head; l != NULL; l = l->next) {
    TfstEventDeliverStream *d = l->data;
    if (d->hop == hop)
      d->hop = NULL;
  }
}

void
tfst_event_deliver_open(TfstEventSink *s)
{
  static const TfstEventTargetCallbacks cb = {
      .written_cb = deliver_written_cb,
      .state_cb = deliver_state_cb,
  };

  if (s->conf->has_target)
    s->target = tfst_event_target_new(s->engine->event, s->engine->log, s->conf, &cb, s);
}

void
tfst_event_deliver_close(TfstEventSink *s)
{
  TfstEventPending *p;

  g_clear_pointer(&s->target, tfst_event_target_free);
  while ((p = g_queue_pop_head(&s->written)) != NULL) {
    p->stream->pending--;
    g_free(p);
  }
}

/* After every sink's deliver_close(): nothing points at a stream. */
void
tfst_event_deliver_free_streams(TfstEngine *e)
{
  TfstEvents *ev = e->events;

  g_queue_init(&ev->lru);
  g_queue_init(&ev->due);
  g_hash_table_remove_all(ev->streams);
  ev->ack_flush = sd_event_source_disable_unref(ev->ack_flush);
}
