/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Instance on the control plane (see tfst-service.h). */
#include "tfst-service.h"
#include "tfst-busname.h"
#include "tfst-dbus-generated.h"
#include "tfst-error.h"
#include "tfst-invocation.h"
#include "tfst-keepalive-service.h"
#include "tfst-trace-interface.h"
#include "tfst-ipsec.h"
#include "tfst-version.h"

/* PropertiesChanged at most 4 times a second, SessionsChanged once. */
#define TFST_REFRESH_GAP_US         (250 * 1000)
#define TFST_SESSIONS_SIGNAL_GAP_US G_USEC_PER_SEC
#define TFST_DATAFLOW_DEFAULT_S     5
#define TFST_DATAFLOW_MAX_S         3600

struct TfstService {
  TfstEngine *engine;
  TfstLog *log;
  TfstAuthz *authz;
  TfstReloadFunc reload;
  gpointer reload_data;
  TfstDbusTfst1Instance *instance;
  GPtrArray *interfaces; /* GDBusInterfaceSkeleton: Keepalive, Ipsec, Trace */
  char *state_override;

  gboolean refreshing; /* a snapshot query is out */
  gboolean dirty;      /* changed since that query went out */
  guint refresh_id;    /* timeout that spaces snapshots */
  gint64 last_refresh_us;
  guint64 signalled_opened, signalled_ended;
  gint64 last_sessions_signal_us;
  guint sessions_signal_id;
};

static const TfstEngineObserver service_observer;

/* ---- properties from engine snapshots ---- */

static void service_refresh(TfstService *svc);

static void apply_snapshot(TfstService *svc, GVariant *snap);

static void
on_snapshot(GObject *source, GAsyncResult *res, gpointer data)
{
  TfstService *svc = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) snap = tfst_engine_query_finish(svc->engine, res, &error);

  svc->refreshing = FALSE;
  svc->last_refresh_us = g_get_monotonic_time();
  if (snap != NULL)
    apply_snapshot(svc, snap);
  if (svc->dirty)
    service_refresh(svc);
}

static gboolean
on_refresh_due(gpointer data)
{
  TfstService *svc = data;

  svc->refresh_id = 0;
  svc->dirty = FALSE;
  svc->refreshing = TRUE;
  tfst_engine_query_async(svc->engine, tfst_inspect_snapshot, NULL, NULL, on_snapshot, svc);
  return G_SOURCE_REMOVE;
}

/* Coalesces bursts of changes into one snapshot per TFST_REFRESH_GAP_US. */
static void
service_refresh(TfstService *svc)
{
  gint64 wait_us;

  svc->dirty = TRUE;
  if (svc->refreshing || svc->refresh_id != 0)
    return;
  wait_us = svc->last_refresh_us + TFST_REFRESH_GAP_US - g_get_monotonic_time();
  svc->refresh_id =
      g_timeout_add(wait_us > 0 ? (guint)(wait_us / 1000) + 1 : 0, on_refresh_due, svc);
}

static gboolean
on_sessions_signal_due(gpointer data)
{
  TfstService *svc = data;

  svc->sessions_signal_id = 0;
  service_refresh(svc);
  return G_SOURCE_REMOVE;
}

static void
maybe_signal_sessions(TfstService *svc, guint64 opened, guint64 ended, guint current)
{
  gint64 now = g_get_monotonic_time();
  gint64 wait_us = svc->last_sessions_signal_us + TFST_SESSIONS_SIGNAL_GAP_US - now;

  if (opened == svc->signalled_opened && ended == svc->signalled_ended)
    return;
  if (wait_us > 0) {
    if (svc->sessions_signal_id == 0)
      svc->sessions_signal_id =
          g_timeout_add((guint)(wait_us / 1000) + 1, on_sessions_signal_due, svc);
    return;
  }
  tfst_dbus_tfst1_instance_emit_sessions_changed(
      svc->instance, (guint)MIN(opened - svc->signalled_opened, G_MAXUINT32),
      (guint)MIN(ended - svc->signalled_ended, G_MAXUINT32), current);
  svc->signalled_opened = opened;
  svc->signalled_ended = ended;
  svc->last_sessions_signal_us = now;
}

static void
apply_snapshot(TfstService *svc, GVariant *snap)
{
  g_autoptr(GVariant) listeners = NULL, parent = NULL, children = NULL, chain = NULL;
  g_autoptr(GVariant) tls_certs = NULL, tls_hops = NULL;
  const char *state;
  guint32 sessions;
  guint64 opened, ended;

  g_variant_get(snap, "(&s@a(sq)@a(ssqbtuu)@a(ssqbtuu)@a(si)utt@a(sssssx)@a(ssssssxb))", &state,
                &listeners, &parent, &children, &chain, &sessions, &opened, &ended, &tls_certs,
                &tls_hops);
  tfst_dbus_tfst1_instance_set_state(svc->instance,
                                     svc->state_override ? svc->state_override : state);
  tfst_dbus_tfst1_instance_set_log_level(svc->instance, (guint)g_atomic_int_get(&svc->log->level));
  tfst_dbus_tfst1_instance_set_listeners(svc->instance, listeners);
  tfst_dbus_tfst1_instance_set_parent(svc->instance, parent);
  tfst_dbus_tfst1_instance_set_children(svc->instance, children);
  tfst_dbus_tfst1_instance_set_chain(svc->instance, chain);
  tfst_dbus_tfst1_instance_set_session_count(svc->instance, sessions);
  tfst_dbus_tfst1_instance_set_tls_certificates(svc->instance, tls_certs);
  tfst_dbus_tfst1_instance_set_tls_hops(svc->instance, tls_hops);
  maybe_signal_sessions(svc, opened, ended, sessions);
}

static void
on_engine_changed(gpointer data)
{
  service_refresh(data);
}

static void
on_engine_handshake(gpointer data, gboolean ok, const char *label, const char *reason)
{
  TfstService *svc = data;

  if (ok)
    tfst_dbus_tfst1_instance_emit_handshake_completed(svc->instance, label);
  else
    tfst_dbus_tfst1_instance_emit_handshake_failed(svc->instance, label, reason ? reason : "");
}

static const TfstEngineObserver service_observer = {
    .changed = on_engine_changed,
    .handshake = on_engine_handshake,
};

void
tfst_service_set_state(TfstService *svc, const char *state)
{
  g_free(svc->state_override);
  svc->state_override = g_strdup(state);
  if (state != NULL)
    tfst_dbus_tfst1_instance_set_state(svc->instance, state);
  service_refresh(svc);
}

/* ---- methods answered by the data plane ---- */

static void
query_for(TfstService *svc, GDBusMethodInvocation *invocation, TfstEngineQueryFunc func,
          gpointer data, GDestroyNotify destroy)
{
  /* The query's reply tuple is the method's reply as it is. */
  tfst_engine_query_async(svc->engine, func, data, destroy, tfst_invocation_return_task,
                          invocation);
}

/* Authorized handlers: user_data is the TfstService unless noted. */

static void
do_list_sessions(GDBusMethodInvocation *invocation, gpointer data)
{
  GVariant *filter =
      g_variant_get_child_value(g_dbus_method_invocation_get_parameters(invocation), 0);

  query_for(data, invocation, tfst_inspect_list_sessions, filter, (GDestroyNotify)g_variant_unref);
}

static void
do_close_session(GDBusMethodInvocation *invocation, gpointer data)
{
  guint64 id = 0;

  g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(t)", &id);
  query_for(data, invocation, tfst_inspect_close_session, g_memdup2(&id, sizeof(id)), g_free);
}

static void
do_get_statistics(GDBusMethodInvocation *invocation, gpointer data)
{
  query_for(data, invocation, tfst_inspect_get_statistics, NULL, NULL);
}

static void
do_clear_statistics(GDBusMethodInvocation *invocation, gpointer data)
{
  query_for(data, invocation, tfst_inspect_clear_statistics, NULL, NULL);
}

static void
do_reload(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstService *svc = data;
  g_autoptr(GError) error = NULL;

  if (!svc->reload(svc->reload_data, &error))
    g_dbus_method_invocation_return_gerror(invocation, error);
  else
    g_dbus_method_invocation_return_value(invocation, NULL);
}

static void
do_set_log_level(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstService *svc = data;
  guint32 level = 0;

  g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(u)", &level);
  if (level > 3) {
    g_dbus_method_invocation_return_error(invocation, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                                          "log level %u is out of range 0-3", level);
    return;
  }
  tfst_log_set_level(svc->log, level);
  tfst_log(svc->log, LOG_NOTICE, "log level now %u (SetLogLevel)", level);
  tfst_dbus_tfst1_instance_set_log_level(svc->instance, level);
  g_dbus_method_invocation_return_value(invocation, NULL);
}

/* ---- DataFlow: two samples an interval apart ---- */

typedef struct {
  TfstService *svc;
  GDBusMethodInvocation *invocation;
  char *target;
  guint seconds;
  guint64 sent, received, token;
  gboolean first_done;
} TfstFlow;

static void
flow_free(TfstFlow *flow)
{
  g_clear_object(&flow->invocation);
  g_free(flow->target);
  g_free(flow);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstFlow, flow_free)

static void flow_sample(TfstFlow *flow);

static gboolean
on_flow_interval_over(gpointer data)
{
  flow_sample(data);
  return G_SOURCE_REMOVE;
}

static void
on_flow_sample(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(TfstFlow) flow = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = tfst_engine_query_finish(flow->svc->engine, res, &error);
  guint64 sent, received, token;

  if (v == NULL) {
    if (flow->first_done)
      g_prefix_error(&error, "during the interval: ");
    g_dbus_method_invocation_return_gerror(flow->invocation, error);
    return;
  }
  g_variant_get(v, "(ttt)", &sent, &received, &token);
  if (!flow->first_done) {
    flow->first_done = TRUE;
    flow->sent = sent;
    flow->received = received;
    flow->token = token;
    guint seconds = flow->seconds;
    /* Not g_timeout_add_seconds(): that one may fire up to a second early. */
    g_timeout_add(seconds * 1000, on_flow_interval_over, g_steal_pointer(&flow));
    return;
  }
  if (token != flow->token) {
    g_autofree char *shown = tfst_error_quote_arg(flow->target);

    g_dbus_method_invocation_return_error(flow->invocation, TFST_ERROR, TFST_ERROR_NOT_FOUND,
                                          "'%s' went away during the interval", shown);
    return;
  }
  g_dbus_method_invocation_return_value(
      flow->invocation, g_variant_new("(tt)", sent - flow->sent, received - flow->received));
}

static void
flow_sample(TfstFlow *flow)
{
  tfst_engine_query_async(flow->svc->engine, tfst_inspect_flow_sample, g_strdup(flow->target),
                          g_free, on_flow_sample, flow);
}

static void
do_data_flow(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstFlow *flow;
  const char *target;
  guint32 seconds;

  g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&su)", &target, &seconds);
  if (seconds > TFST_DATAFLOW_MAX_S) {
    g_dbus_method_invocation_return_error(invocation, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                                          "interval of %u s is out of range 1-%u", seconds,
                                          TFST_DATAFLOW_MAX_S);
    return;
  }
  flow = g_new0(TfstFlow, 1);
  flow->svc = data;
  flow->invocation = g_object_ref(invocation);
  flow->target = g_strdup(target);
  flow->seconds = seconds != 0 ? seconds : TFST_DATAFLOW_DEFAULT_S;
  flow_sample(flow);
}

/* ---- D-Bus entry point: authorize, then run ---- */

static const TfstAuthzMethod instance_methods[] = {
    {"ListSessions", TFST_ACTION_OBSERVE, do_list_sessions},
    {"GetStatistics", TFST_ACTION_OBSERVE, do_get_statistics},
    {"DataFlow", TFST_ACTION_OBSERVE, do_data_flow},
    {"CloseSession", TFST_ACTION_MANAGE, do_close_session},
    {"ClearStatistics", TFST_ACTION_MANAGE, do_clear_statistics},
    {"Reload", TFST_ACTION_MANAGE, do_reload},
    {"SetLogLevel", TFST_ACTION_MANAGE, do_set_log_level},
};

/* ---- life cycle ---- */

TfstService *
tfst_service_new(TfstEngine *engine, const TfstConfig *config, TfstLog *log, TfstAuthz *authz,
                 TfstReloadFunc reload, gpointer reload_data)
{
  TfstService *svc = g_new0(TfstService, 1);
  g_autofree char *version = g_strdup_printf("%s (%s)", PACKAGE_VERSION, TFST_BUILD_LEVEL);

  svc->engine = engine;
  svc->log = log;
  svc->authz = authz;
  svc->reload = reload;
  svc->reload_data = reload_data;
  svc->instance = tfst_dbus_tfst1_instance_skeleton_new();
  tfst_dbus_tfst1_instance_set_role(svc->instance, tfst_role_to_string(config->role));
  tfst_dbus_tfst1_instance_set_instance(svc->instance, config->instance);
  tfst_dbus_tfst1_instance_set_label(svc->instance, config->label);
  tfst_dbus_tfst1_instance_set_version(svc->instance, version);
  tfst_dbus_tfst1_instance_set_state(svc->instance, "starting");
  tfst_dbus_tfst1_instance_set_log_level(svc->instance, (guint)g_atomic_int_get(&log->level));
  tfst_authz_dispatch(authz, G_DBUS_INTERFACE_SKELETON(svc->instance), instance_methods,
                      G_N_ELEMENTS(instance_methods), svc);
  /* The other interfaces: one self-contained module each. */
  svc->interfaces = g_ptr_array_new_with_free_func(g_object_unref);
  g_ptr_array_add(svc->interfaces, tfst_keepalive_interface_new(authz, engine, config));
  g_ptr_array_add(svc->interfaces, tfst_ipsec_interface_new(authz, log));
  g_ptr_array_add(svc->interfaces, tfst_trace_interface_new(authz, log));
  tfst_engine_set_observer(engine, &service_observer, svc);
  return svc;
}

void
tfst_service_attach(TfstService *svc, TfstBus *bus)
{
  tfst_bus_add_interface(bus, G_DBUS_INTERFACE_SKELETON(svc->instance));
  for (guint i = 0; i < svc->interfaces->len; i++)
    tfst_bus_add_interface(bus, g_ptr_array_index(svc->interfaces, i));
  service_refresh(svc);
}

void
tfst_service_free(TfstService *svc)
{
  if (svc->refresh_id != 0)
    g_source_remove(svc->refresh_id);
  if (svc->sessions_signal_id != 0)
    g_source_remove(svc->sessions_signal_id);
  g_clear_object(&svc->instance);
  g_ptr_array_unref(svc->interfaces);
  g_free(svc->state_override);
  g_free(svc);
}
