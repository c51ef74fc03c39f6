/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Instance properties and signals that follow the engine (see
 * tfst-instance-refresh.h). */
#include "tfst-instance-refresh.h"

/* PropertiesChanged at most 4 times a second, SessionsChanged once. */
#define TFST_REFRESH_GAP_US         (250 * 1000)
#define TFST_SESSIONS_SIGNAL_GAP_US G_USEC_PER_SEC

struct TfstInstanceRefresh {
  TfstEngine *engine;
  TfstLog *log;
  TfstDbusTfst1Instance *instance;
  char *state_override;

  gboolean refreshing; /* a snapshot query is out */
  gboolean dirty;      /* changed since that query went out */
  guint refresh_id;    /* timeout that spaces snapshots */
  gint64 last_refresh_us;
  guint64 signalled_opened, signalled_ended;
  gint64 last_sessions_signal_us;
  guint sessions_signal_id;
};

static void apply_snapshot(TfstInstanceRefresh *r, GVariant *snap);

static void
snapshot_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  TfstInstanceRefresh *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) snap = tfst_engine_query_finish(r->engine, res, &error);

  r->refreshing = FALSE;
  r->last_refresh_us = g_get_monotonic_time();
  if (snap != NULL)
    apply_snapshot(r, snap);
  if (r->dirty)
    tfst_instance_refresh_request(r);
}

static gboolean
refresh_due_cb(gpointer data)
{
  TfstInstanceRefresh *r = data;

  r->refresh_id = 0;
  r->dirty = FALSE;
  r->refreshing = TRUE;
  tfst_engine_query_async(r->engine, tfst_inspect_snapshot, NULL, NULL, snapshot_cb, r);
  return G_SOURCE_REMOVE;
}

/* Coalesces bursts of changes into one snapshot per TFST_REFRESH_GAP_US. */
void
tfst_instance_refresh_request(TfstInstanceRefresh *r)
{
  gint64 wait_us;

  r->dirty = TRUE;
  if (r->refreshing || r->refresh_id != 0)
    return;
  wait_us = r->last_refresh_us + TFST_REFRESH_GAP_US - g_get_monotonic_time();
  r->refresh_id = g_timeout_add(wait_us > 0 ? (guint)(wait_us / 1000) + 1 : 0, refresh_due_cb, r);
}

static gboolean
sessions_signal_due_cb(gpointer data)
{
  TfstInstanceRefresh *r = data;

  r->sessions_signal_id = 0;
  tfst_instance_refresh_request(r);
  return G_SOURCE_REMOVE;
}

static void
maybe_signal_sessions(TfstInstanceRefresh *r, guint64 opened, guint64 ended, guint current)
{
  gint64 now = g_get_monotonic_time();
  gint64 wait_us = r->last_sessions_signal_us + TFST_SESSIONS_SIGNAL_GAP_US - now;

  if (opened == r->signalled_opened && ended == r->signalled_ended)
    return;
  if (wait_us > 0) {
    if (r->sessions_signal_id == 0)
      r->sessions_signal_id = g_timeout_add((guint)(wait_us / 1000) + 1, sessions_signal_due_cb, r);
    return;
  }
  tfst_dbus_tfst1_instance_emit_sessions_changed(
      r->instance, (guint)MIN(opened - r->signalled_opened, G_MAXUINT32),
      (guint)MIN(ended - r->signalled_ended, G_MAXUINT32), current);
  r->signalled_opened = opened;
  r->signalled_ended = ended;
  r->last_sessions_signal_us = now;
}

static void
apply_snapshot(TfstInstanceRefresh *r, GVariant *snap)
{
  g_autoptr(GVariant) listeners = NULL, parent = NULL, children = NULL, chain = NULL;
  g_autoptr(GVariant) tls_certs = NULL, tls_hops = NULL, hops = NULL, links = NULL;
  const char *state;
  guint32 sessions;
  guint64 opened, ended;

  g_variant_get(snap,
                "(&s@a(sq)@a(ssqbtuu)@a(ssqbtuu)@a(si)utt@a(sssssx)@a(ssssssxb)@aa{sv}@a(ss))",
                &state, &listeners, &parent, &children, &chain, &sessions, &opened, &ended,
                &tls_certs, &tls_hops, &hops, &links);
  tfst_dbus_tfst1_instance_set_state(r->instance, r->state_override ? r->state_override : state);
  tfst_dbus_tfst1_instance_set_log_level(r->instance, tfst_log_get_level(r->log));
  tfst_dbus_tfst1_instance_set_listeners(r->instance, listeners);
  tfst_dbus_tfst1_instance_set_parent(r->instance, parent);
  tfst_dbus_tfst1_instance_set_children(r->instance, children);
  tfst_dbus_tfst1_instance_set_chain(r->instance, chain);
  tfst_dbus_tfst1_instance_set_session_count(r->instance, sessions);
  tfst_dbus_tfst1_instance_set_tls_certificates(r->instance, tls_certs);
  tfst_dbus_tfst1_instance_set_tls_hops(r->instance, tls_hops);
  tfst_dbus_tfst1_instance_set_hops(r->instance, hops);
  tfst_dbus_tfst1_instance_set_chain_links(r->instance, links);
  maybe_signal_sessions(r, opened, ended, sessions);
}

static void
engine_changed_cb(gpointer data)
{
  tfst_instance_refresh_request(data);
}

static void
engine_handshake_cb(gpointer data, gboolean ok, const char *label, const char *reason)
{
  TfstInstanceRefresh *r = data;

  if (ok)
    tfst_dbus_tfst1_instance_emit_handshake_completed(r->instance, label);
  else
    tfst_dbus_tfst1_instance_emit_handshake_failed(r->instance, label, reason ? reason : "");
}

static void
engine_parent_switched_cb(gpointer data, const char *kind, const char *from, const char *to,
                          const char *reason)
{
  TfstInstanceRefresh *r = data;

  tfst_dbus_tfst1_instance_emit_parent_switched(r->instance, kind, from, to, reason);
}

static void
engine_session_refused_cb(gpointer data, const char *label, const char *limit, const char *reason)
{
  TfstInstanceRefresh *r = data;

  tfst_dbus_tfst1_instance_emit_session_refused(r->instance, label, limit, reason);
}

static const TfstEngineObserver refresh_observer = {
    .changed = engine_changed_cb,
    .handshake = engine_handshake_cb,
    .parent_switched = engine_parent_switched_cb,
    .session_refused = engine_session_refused_cb,
};

void
tfst_instance_refresh_set_state(TfstInstanceRefresh *r, const char *state)
{
  g_free(r->state_override);
  r->state_override = g_strdup(state);
  if (state != NULL)
    tfst_dbus_tfst1_instance_set_state(r->instance, state);
  tfst_instance_refresh_request(r);
}

TfstInstanceRefresh *
tfst_instance_refresh_new(TfstEngine *engine, TfstDbusTfst1Instance *instance, TfstLog *log)
{
  TfstInstanceRefresh *r = g_new0(TfstInstanceRefresh, 1);

  r->engine = engine;
  r->log = log;
  r->instance = g_object_ref(instance);
  tfst_engine_set_observer(engine, &refresh_observer, r);
  return r;
}

void
tfst_instance_refresh_free(TfstInstanceRefresh *r)
{
  if (r->refresh_id != 0)
    g_source_remove(r->refresh_id);
  if (r->sessions_signal_id != 0)
    g_source_remove(r->sessions_signal_id);
  g_clear_object(&r->instance);
  g_free(r->state_override);
  g_free(r);
}
