/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event sink's answers to the control plane (org.tfst.Tfst1.Events):
 * GetSinks, ClearStatistics and Flush, built on the data-plane thread.
 * The keys are those docs/events.md and org.tfst.Tfst1.Events.xml list;
 * a key that does not apply to a sink is left out. */
#include "tfst-engine.h"
#include "tfst-events.h"

#include <string.h>

static void
add_t(GVariantBuilder *b, const char *key, guint64 v)
{
  g_variant_builder_add(b, "{sv}", key, g_variant_new_uint64(v));
}

static void
add_s(GVariantBuilder *b, const char *key, const char *v)
{
  g_variant_builder_add(b, "{sv}", key, g_variant_new_string(v));
}

/* errno 0 is "", else its name ("ECONNREFUSED"), else the number. */
static char *
errno_text(guint32 err)
{
  const char *name = err != 0 && err < 4096 ? strerrorname_np((int)err) : NULL;

  if (err == 0)
    return g_strdup("");
  return name != NULL ? g_strdup(name) : g_strdup_printf("%u", err);
}

static GVariant *
dropped_dict(const guint64 *dropped)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a{st}"));
  for (guint i = 0; i < TFST_EVENT_DROP_KINDS; i++)
    if (dropped[i] > 0)
      g_variant_builder_add(&b, "{st}", tfst_event_sink_drop_name(i), dropped[i]);
  return g_variant_builder_end(&b);
}

static GVariant *
malformed_dict(const guint64 *malformed)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a{st}"));
  for (guint i = 0; i < TFST_EVENT_MALFORMED_KINDS; i++)
    if (malformed[i] > 0)
      g_variant_builder_add(&b, "{st}", tfst_event_sink_malformed_name(i), malformed[i]);
  return g_variant_builder_end(&b);
}

static GVariant *
listen_list(const TfstEventsConf *conf)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("as"));
  for (guint i = 0; i < conf->listen->len; i++) {
    g_autofree char *a =
        tfst_event_sink_format_addr(&g_array_index(conf->listen, TfstEventAddr, i));
    g_variant_builder_add(&b, "s", a);
  }
  return g_variant_builder_end(&b);
}

static void
collect_spool(GVariantBuilder *b, TfstEventSink *s, guint64 *dropped)
{
  gint64 oldest = s->spool != NULL ? tfst_spool_oldest_rt(s->spool) : 0;

  add_t(b, "SpoolBytes", s->spool != NULL ? tfst_spool_bytes(s->spool) : 0);
  add_t(b, "SpoolEvents", s->spool != NULL ? tfst_spool_events(s->spool) : 0);
  add_t(b, "SpoolCapacity", s->conf->spool.max_bytes);
  add_t(b, "OldestUnackedAge", oldest > 0 ? (guint64)MAX(g_get_real_time() - oldest, 1) : 0);
  if (s->spool != NULL)
    dropped[TFST_EVENT_DROP_POLICY_OLDEST] =
        tfst_spool_counters(s->spool)->dropped_oldest - s->oldest_base;
}

static void
collect_keys(GVariantBuilder *b, TfstEventSink *s, guint64 *dropped)
{
  g_autofree char *far = errno_text(s->far_status);
  const TfstEventInputCounters *in = tfst_event_input_counters(s->input);

  add_s(b, "Role", "collect");
  g_variant_builder_add(b, "{sv}", "Listen", listen_list(s->conf));
  add_s(b, "Path", s->path != NULL ? s->path->peer_label : "");
  add_t(b, "Spooled", s->c.spooled);
  add_t(b, "Forwarded", s->c.forwarded);
  add_t(b, "Resent", s->c.resent);
  add_t(b, "Acknowledged", s->c.acknowledged);
  add_s(b, "FarEndStatus", far);
  g_variant_builder_add(b, "{sv}", "Connections", g_variant_new_uint32(in->open_connections));
  collect_spool(b, s, dropped);
}

static const char *
target_state_name(TfstEventTargetState st)
{
  switch (st) {
    case TFST_EVENT_TARGET_UP:
      return "up";
    case TFST_EVENT_TARGET_CONNECTING:
      return "connecting";
    default:
      return "down";
  }
}

static void
deliver_keys(GVariantBuilder *b, TfstEventSink *s)
{
  g_autofree char *target = tfst_event_sink_format_addr(&s->conf->target);

  add_s(b, "Role", "deliver");
  add_s(b, "Target", target);
  add_s(b, "TargetState", target_state_name(tfst_event_target_state(s->target)));
  add_s(b, "TargetError", tfst_event_target_last_error(s->target));
  add_t(b, "Delivered", s->c.delivered);
  add_t(b, "Duplicates", s->c.duplicates);
}

static GVariant *
sink_dict(TfstEventSink *s)
{
  GVariantBuilder b;
  guint64 dropped[TFST_EVENT_DROP_KINDS];

  memcpy(dropped, s->c.dropped, sizeof(dropped));
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  add_s(&b, "Name", s->conf->name);
  if (s->input != NULL)
    collect_keys(&b, s, dropped);
  else if (s->target != NULL)
    deliver_keys(&b, s);
  add_t(&b, "Received", s->c.received);
  g_variant_builder_add(&b, "{sv}", "Dropped", dropped_dict(dropped));
  g_variant_builder_add(&b, "{sv}", "Malformed", malformed_dict(s->c.malformed));
  return g_variant_builder_end(&b);
}

static GVariant *
relay_dict(const TfstEventRelayStream *r)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  add_s(&b, "Name", r->sink);
  add_s(&b, "Origin", r->origin);
  add_s(&b, "Role", "relay");
  add_s(&b, "Path", r->path);
  add_t(&b, "Received", r->received);
  add_t(&b, "Forwarded", r->forwarded);
  add_t(&b, "Acknowledged", r->acks);
  g_variant_builder_add(&b, "{sv}", "Dropped", dropped_dict(r->dropped));
  return g_variant_builder_end(&b);
}

GVariant *
tfst_inspect_events(TfstEngine *e, gpointer data G_GNUC_UNUSED, GError **error G_GNUC_UNUSED)
{
  TfstEvents *ev = e->events;
  GVariantBuilder b;
  GHashTableIter it;
  gpointer value;

  g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
  for (guint i = 0; ev != NULL && i < ev->sinks->len; i++)
    g_variant_builder_add_value(&b, sink_dict(g_ptr_array_index(ev->sinks, i)));
  if (ev != NULL) {
    g_hash_table_iter_init(&it, ev->relays);
    while (g_hash_table_iter_next(&it, NULL, &value))
      g_variant_builder_add_value(&b, relay_dict(value));
  }
  return g_variant_new("(aa{sv})", &b);
}

GVariant *
tfst_inspect_events_clear(TfstEngine *e, gpointer data G_GNUC_UNUSED, GError **error G_GNUC_UNUSED)
{
  TfstEvents *ev = e->events;

  for (guint i = 0; ev != NULL && i < ev->sinks->len; i++)
    tfst_event_sink_clear(g_ptr_array_index(ev->sinks, i));
  if (ev != NULL) {
    tfst_event_relay_clear(e);
    ev->unknown_sink = 0;
  }
  return g_variant_new("()");
}

GVariant *
tfst_inspect_events_flush(TfstEngine *e, gpointer data, GError **error)
{
  const char *name = data != NULL ? data : "";
  TfstEvents *ev = e->events;
  guint n = 0;

  for (guint i = 0; ev != NULL && i < ev->sinks->len; i++) {
    TfstEventSink *s = g_ptr_array_index(ev->sinks, i);
    if (name[0] != '\0' && strcmp(name, s->conf->name) != 0)
      continue;
    tfst_event_send_flush(s);
    if (s->target != NULL)
      tfst_event_target_kick(s->target);
    n++;
  }
  if (name[0] != '\0' && n == 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no [Events %s] section", name);
    return NULL;
  }
  return g_variant_new("(u)", n);
}
