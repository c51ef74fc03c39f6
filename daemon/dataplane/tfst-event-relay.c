/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Events through a relay: an EVENT from a child goes up unchanged on the
 * active parent hop, an EVENT_ACK from the parent down to the child whose
 * subtree has the origin.  The relay keeps no events: what it cannot pass
 * on at once (no parent that speaks events, the parent hop's output full)
 * is dropped and counted, and the origin sends it again.  Per stream
 * counters for GetSinks, TFST_EVENTS_MAX_STREAMS at most. */
#include "tfst-events.h"

#include <string.h>

/* The stream longest without an event makes room for a new one. */
static void
relay_forget_oldest(GHashTable *relays)
{
  GHashTableIter it;
  gpointer key, value;
  gpointer oldest = NULL;
  gint64 oldest_us = G_MAXINT64;

  g_hash_table_iter_init(&it, relays);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    TfstEventRelayStream *r = value;
    if (r->last_us < oldest_us) {
      oldest_us = r->last_us;
      oldest = key;
    }
  }
  if (oldest != NULL)
    g_hash_table_remove(relays, oldest);
}

static TfstEventRelayStream *
relay_stream(TfstEngine *e, const TfstEventStream *st, gboolean create)
{
  GHashTable *relays = e->events->relays;
  char key[TFST_EVENT_STREAM_KEY_MAX];
  TfstEventRelayStream *r;

  tfst_event_sink_stream_key(key, st->origin, st->sink);
  r = g_hash_table_lookup(relays, key);
  if (r != NULL || !create)
    return r;
  if (g_hash_table_size(relays) >= TFST_EVENTS_MAX_STREAMS)
    relay_forget_oldest(relays);
  r = g_new0(TfstEventRelayStream, 1);
  g_strlcpy(r->origin, st->origin, sizeof(r->origin));
  g_strlcpy(r->sink, st->sink, sizeof(r->sink));
  g_hash_table_insert(relays, g_strdup(key), r);
  return r;
}

/* The frame as it came, header and payload in one buffer for the hop. */
static void
relay_send(TfstEngine *e, TfstHop *to, const TfstFrameHeader *h, const guint8 *payload)
{
  TfstEvents *ev = e->events;

  if (ev->scratch == NULL)
    ev->scratch = g_malloc(TFST_EVENTS_FRAME_CAP);
  tfst_frame_header_encode(ev->scratch, h->type, 0, h->length);
  memcpy(ev->scratch + TFST_FRAME_HEADER_SIZE, payload, h->length);
  tfst_hop_send(to, ev->scratch, TFST_FRAME_HEADER_SIZE + h->length);
}

static void
relay_drop(TfstEngine *e, TfstEventRelayStream *r, TfstEventDrop why, guint32 n)
{
  TfstLogFields f = {.message_id = TFST_MSGID_EVENTS_DROP};

  r->dropped[why] += n;
  tfst_log_limited(e->log, &e->events->rl_refused, LOG_WARNING, &f,
                   "dropped %u event%s from %s for sink %s passing through: %s", n,
                   n == 1 ? "" : "s", r->origin, r->sink, tfst_event_sink_drop_name(why));
}

void
tfst_event_relay_frame(TfstEngine *e, TfstHop *hop, const TfstFrameHeader *h, const guint8 *payload,
                       const TfstEventMsg *m)
{
  TfstLogFields f = {.message_id = TFST_MSGID_PROTOCOL, .peer_label = hop->peer_label};
  const char *why = tfst_router_origin_refusal(hop, m->stream.origin);
  TfstHop *up = e->active_parent;
  TfstEventRelayStream *r;

  if (why != NULL) {
    tfst_log_limited(e->log, &e->events->rl_refused, LOG_WARNING, &f,
                     "refused EVENT from child %s (%s) for origin %s: %s", hop->peer_label,
                     hop->peer_desc, m->stream.origin, why);
    return;
  }
  /* Not told yet (its TELL trails by an announcement interval): the
   * origin sends again. */
  if (!tfst_router_event_origin_known(hop, m->stream.origin))
    return;
  r = relay_stream(e, &m->stream, TRUE);
  r->received += m->count;
  r->last_us = g_get_monotonic_time();
  if (up == NULL || !tfst_hop_speaks_events(up)) {
    r->path[0] = '\0';
    relay_drop(e, r, TFST_EVENT_DROP_NO_PATH, m->count);
  } else if (!tfst_hop_has_room(up)) {
    relay_drop(e, r, TFST_EVENT_DROP_CONGESTED, m->count);
  } else {
    g_strlcpy(r->path, up->peer_label, sizeof(r->path));
    relay_send(e, up, h, payload);
    r->forwarded += m->count;
  }
}

void
tfst_event_relay_ack(TfstEngine *e, const TfstFrameHeader *h, const guint8 *payload,
                     const TfstEventAckMsg *m)
{
  TfstHop *down = tfst_router_child_for(e, m->stream.origin);
  TfstEventRelayStream *r = relay_stream(e, &m->stream, FALSE);

  if (r != NULL)
    r->acks++;
  if (down != NULL && tfst_hop_speaks_events(down))
    relay_send(e, down, h, payload);
}

void
tfst_event_relay_clear(TfstEngine *e)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init(&it, e->events->relays);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    TfstEventRelayStream *r = value;
    r->received = r->forwarded = r->acks = 0;
    memset(r->dropped, 0, sizeof(r->dropped));
  }
}
