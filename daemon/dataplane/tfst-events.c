/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event sink as the engine sees it: a sink per [Events NAME] section
 * made at start, EVENT and EVENT_ACK handed to the collecting end, the
 * relay or the delivering end by role, hops going down, the active parent
 * changing, and reload. */
#include "tfst-events.h"

#include <string.h>

gboolean
tfst_events_start(TfstEngine *e, GError **error)
{
  TfstEvents *ev = g_new0(TfstEvents, 1);

  e->events = ev;
  ev->sinks = g_ptr_array_new();
  ev->streams = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  ev->relays = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  ev->rl_refused =
      (TfstRatelimit)TFST_RATELIMIT_INIT(TFST_LOG_PEER_INTERVAL_US, TFST_LOG_PEER_BURST);
  for (guint i = 0; i < e->config->events->len; i++) {
    const TfstEventsConf *conf = g_ptr_array_index(e->config->events, i);
    TfstEventSink *s = tfst_event_sink_new(e, conf);

    g_ptr_array_add(ev->sinks, s);
    if (conf->listen->len > 0 && !tfst_event_send_open(s, e->activated, error))
      return FALSE;
    tfst_event_deliver_open(s);
  }
  return TRUE;
}

void
tfst_events_free(TfstEngine *e)
{
  TfstEvents *ev = e->events;

  if (ev == NULL)
    return;
  for (guint i = 0; i < ev->sinks->len; i++) {
    TfstEventSink *s = g_ptr_array_index(ev->sinks, i);
    tfst_event_send_close(s);
    tfst_event_deliver_close(s);
    g_free(s);
  }
  tfst_event_deliver_free_streams(e);
  g_ptr_array_unref(ev->sinks);
  g_hash_table_unref(ev->streams);
  g_hash_table_unref(ev->relays);
  g_free(ev->scratch);
  g_free(ev);
  e->events = NULL;
}

static void
events_recv_event(TfstHop *hop, const TfstFrameHeader *h, const guint8 *p)
{
  TfstEngine *e = hop->engine;
  TfstEventMsg m;
  int r = tfst_frame_decode_event(p, h->length, &m);

  if (r < 0) {
    tfst_hop_protocol_error(hop, "bad EVENT: %s", tfst_frame_strerror(r));
    return;
  }
  if (e->config->role == TFST_ROLE_RELAY)
    tfst_event_relay_frame(e, hop, h, p, &m);
  else if (e->config->role == TFST_ROLE_EPPROXY)
    tfst_event_deliver_frame(e, hop, &m);
  else
    tfst_hop_protocol_error(hop, "EVENT at a gateway proxy");
}

static void
events_recv_ack(TfstHop *hop, const TfstFrameHeader *h, const guint8 *p)
{
  TfstEngine *e = hop->engine;
  TfstEventAckMsg m;
  TfstEventSink *s;
  int r = tfst_frame_decode_event_ack(p, h->length, &m);

  if (r < 0) {
    tfst_hop_protocol_error(hop, "bad EVENT_ACK: %s", tfst_frame_strerror(r));
    return;
  }
  if (e->config->role == TFST_ROLE_RELAY) {
    tfst_event_relay_ack(e, h, p, &m);
    return;
  }
  /* An ack for another origin or a sink we no longer have: stale after a
   * relabelling or reload, harmless. */
  s = tfst_event_sink_find(e, m.stream.sink);
  if (s != NULL && strcmp(m.stream.origin, e->config->label) == 0)
    tfst_event_send_ack(s, &m);
}

void
tfst_events_frame_cb(TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload)
{
  if (hop->engine->events == NULL)
    return;
  if (h->type == TFST_FRAME_EVENT)
    events_recv_event(hop, h, payload);
  else
    events_recv_ack(hop, h, payload);
}

void
tfst_events_hop_room_cb(TfstHop *hop)
{
  TfstEvents *ev = hop->engine->events;

  for (guint i = 0; ev != NULL && i < ev->sinks->len; i++) {
    TfstEventSink *s = g_ptr_array_index(ev->sinks, i);
    if (s->path == hop)
      tfst_event_send_kick(s);
  }
}

void
tfst_events_hop_down(TfstHop *hop)
{
  TfstEvents *ev = hop->engine->events;

  if (ev == NULL)
    return;
  tfst_event_deliver_hop_down(hop->engine, hop);
  for (guint i = 0; i < ev->sinks->len; i++) {
    TfstEventSink *s = g_ptr_array_index(ev->sinks, i);
    if (s->path == hop)
      tfst_event_send_path(s, NULL);
  }
}

/* Failover, failback, the first parent up: unacknowledged events go again
 * on the new path at once, without waiting for a timeout. */
void
tfst_events_parents_changed(TfstEngine *e)
{
  TfstEvents *ev = e->events;
  TfstHop *path = e->active_parent;

  if (ev == NULL)
    return;
  if (path != NULL && !tfst_hop_speaks_events(path))
    path = NULL;
  for (guint i = 0; i < ev->sinks->len; i++) {
    TfstEventSink *s = g_ptr_array_index(ev->sinks, i);
    if (s->input != NULL)
      tfst_event_send_path(s, path);
  }
}

/* ---- reload ---- */

static const TfstEventsConf *
events_conf(TfstConfig *c, const char *name)
{
  for (guint i = 0; i < c->events->len; i++) {
    const TfstEventsConf *ec = g_ptr_array_index(c->events, i);
    if (strcmp(ec->name, name) == 0)
      return ec;
  }
  return NULL;
}

static gboolean
event_addr_equal(const TfstEventAddr *a, const TfstEventAddr *b)
{
  return a->transport == b->transport && tfst_addr_equal(&a->addr, &b->addr, TRUE);
}

static gboolean
listen_equal(const GArray *a, const GArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    if (!event_addr_equal(&g_array_index(a, TfstEventAddr, i), &g_array_index(b, TfstEventAddr, i)))
      return FALSE;
  return TRUE;
}

/* What needs the sockets or the target made again waits for a restart;
 * the spool keys change in place. */
static void
events_reload_one(TfstEngine *e, TfstEventsConf *cur, const TfstEventsConf *next,
                  GPtrArray *restart)
{
  TfstEventSink *s = tfst_event_sink_find(e, cur->name);

  if (!listen_equal(cur->listen, next->listen))
    g_ptr_array_add(restart, g_strdup_printf("[Events %s] Listen=", cur->name));
  if (cur->has_target != next->has_target ||
      (cur->has_target && !event_addr_equal(&cur->target, &next->target)) ||
      cur->target_framing != next->target_framing)
    g_ptr_array_add(restart, g_strdup_printf("[Events %s] Target=", cur->name));
  cur->spool = next->spool;
  if (s != NULL && s->input != NULL)
    tfst_event_send_reload(s);
}

void
tfst_events_reload(TfstEngine *e, TfstConfig *next, GPtrArray *restart)
{
  TfstConfig *cur = e->config;

  for (guint i = 0; i < next->events->len; i++) {
    const TfstEventsConf *n = g_ptr_array_index(next->events, i);
    TfstEventsConf *c = (TfstEventsConf *)events_conf(cur, n->name);

    if (c == NULL)
      g_ptr_array_add(restart, g_strdup_printf("[Events %s] (new)", n->name));
    else
      events_reload_one(e, c, n, restart);
  }
  for (guint i = 0; i < cur->events->len; i++) {
    const TfstEventsConf *c = g_ptr_array_index(cur->events, i);
    if (events_conf(next, c->name) == NULL)
      g_ptr_array_add(restart, g_strdup_printf("[Events %s] (removed)", c->name));
  }
}
