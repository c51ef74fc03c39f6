/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Instance on the control plane (see
 * tfst-instance-interface.h). */
#include "tfst-instance-interface.h"
#include "tfst-dbus-generated.h"
#include "tfst-error.h"
#include "tfst-instance-refresh.h"
#include "tfst-invocation.h"
#include "tfst-version.h"

#define TFST_DATAFLOW_DEFAULT_S 5
#define TFST_DATAFLOW_MAX_S     3600

struct TfstInstanceInterface {
  TfstEngine *engine;
  TfstLog *log;
  TfstReloadFunc reload;
  gpointer reload_data;
  TfstDbusTfst1Instance *instance;
  TfstInstanceRefresh *refresh;
};

/* ---- methods answered by the data plane ---- */

static void
query_for(TfstInstanceInterface *iface, GDBusMethodInvocation *invocation, TfstEngineQueryFunc func,
          gpointer data, GDestroyNotify destroy)
{
  /* The query's reply tuple is the method's reply as it is. */
  tfst_engine_query_async(iface->engine, func, data, destroy, tfst_invocation_return_task_cb,
                          invocation);
}

/* Authorized handlers: user_data is the TfstInstanceInterface unless noted. */

static void
list_sessions_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  GVariant *filter =
      g_variant_get_child_value(g_dbus_method_invocation_get_parameters(invocation), 0);

  query_for(data, invocation, tfst_inspect_list_sessions, filter, (GDestroyNotify)g_variant_unref);
}

static void
close_session_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  guint64 id = 0;

  g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(t)", &id);
  query_for(data, invocation, tfst_inspect_close_session, g_memdup2(&id, sizeof(id)), g_free);
}

static void
get_statistics_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  query_for(data, invocation, tfst_inspect_get_statistics, NULL, NULL);
}

static void
clear_statistics_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  query_for(data, invocation, tfst_inspect_clear_statistics, NULL, NULL);
}

/* Runs on the data-plane thread after the reload command, which the same
 * queue delivered first: when it answers, the new configuration is in
 * force, so `systemctl reload` returns only then. */
static GVariant *
reload_applied(TfstEngine *engine, gpointer data, GError **error)
{
  return g_variant_new("()");
}

static void
reload_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstInstanceInterface *iface = data;
  g_autoptr(GError) error = NULL;

  if (!iface->reload(iface->reload_data, &error))
    g_dbus_method_invocation_return_gerror(invocation, error);
  else
    query_for(iface, invocation, reload_applied, NULL, NULL);
}

static void
set_log_level_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstInstanceInterface *iface = data;
  guint32 level = 0;

  g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(u)", &level);
  if (level > 3) {
    g_dbus_method_invocation_return_error(invocation, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                                          "log level %u is out of range 0-3", level);
    return;
  }
  tfst_log_set_level(iface->log, level);
  /* Passes at any level: LogLevel 0 must not hide the line recording it. */
  tfst_log_change(iface->log, tfst_log_get_target(iface->log), "log level now %u (SetLogLevel)",
                  level);
  tfst_dbus_tfst1_instance_set_log_level(iface->instance, level);
  g_dbus_method_invocation_return_value(invocation, NULL);
}

/* ---- DataFlow: two samples an interval apart ---- */

typedef struct {
  TfstInstanceInterface *iface;
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
flow_interval_over_cb(gpointer data)
{
  flow_sample(data);
  return G_SOURCE_REMOVE;
}

static void
flow_sample_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(TfstFlow) flow = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = tfst_engine_query_finish(flow->iface->engine, res, &error);
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
    g_timeout_add(seconds * 1000, flow_interval_over_cb, g_steal_pointer(&flow));
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
  tfst_engine_query_async(flow->iface->engine, tfst_inspect_flow_sample, g_strdup(flow->target),
                          g_free, flow_sample_cb, flow);
}

static void
data_flow_cb(GDBusMethodInvocation *invocation, gpointer data)
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
  flow->iface = data;
  flow->invocation = g_object_ref(invocation);
  flow->target = g_strdup(target);
  flow->seconds = seconds != 0 ? seconds : TFST_DATAFLOW_DEFAULT_S;
  flow_sample(flow);
}

/* ---- D-Bus entry point: authorize, then run ---- */

static const TfstAuthzMethod instance_methods[] = {
    {"ListSessions", TFST_ACTION_OBSERVE, list_sessions_cb},
    {"GetStatistics", TFST_ACTION_OBSERVE, get_statistics_cb},
    {"DataFlow", TFST_ACTION_OBSERVE, data_flow_cb},
    {"CloseSession", TFST_ACTION_MANAGE, close_session_cb},
    {"ClearStatistics", TFST_ACTION_MANAGE, clear_statistics_cb},
    {"Reload", TFST_ACTION_MANAGE, reload_cb},
    {"SetLogLevel", TFST_ACTION_MANAGE, set_log_level_cb},
};

/* ---- life cycle ---- */

static TfstDbusTfst1Instance *
instance_skeleton_new(const TfstConfig *config, TfstLog *log)
{
  TfstDbusTfst1Instance *instance = tfst_dbus_tfst1_instance_skeleton_new();
  g_autofree char *version = g_strdup_printf("%s (%s)", PACKAGE_VERSION, TFST_BUILD_LEVEL);

  tfst_dbus_tfst1_instance_set_role(instance, tfst_role_to_string(config->role));
  tfst_dbus_tfst1_instance_set_instance(instance, config->instance);
  tfst_dbus_tfst1_instance_set_label(instance, config->label);
  tfst_dbus_tfst1_instance_set_version(instance, version);
  tfst_dbus_tfst1_instance_set_state(instance, "starting");
  tfst_dbus_tfst1_instance_set_log_level(instance, tfst_log_get_level(log));
  return instance;
}

TfstInstanceInterface *
tfst_instance_interface_new(TfstEngine *engine, const TfstConfig *config, TfstLog *log,
                            TfstAuthz *authz, TfstReloadFunc reload, gpointer reload_data)
{
  TfstInstanceInterface *iface = g_new0(TfstInstanceInterface, 1);

  iface->engine = engine;
  iface->log = log;
  iface->reload = reload;
  iface->reload_data = reload_data;
  iface->instance = instance_skeleton_new(config, log);
  tfst_authz_dispatch(authz, G_DBUS_INTERFACE_SKELETON(iface->instance), instance_methods,
                      G_N_ELEMENTS(instance_methods), iface);
  iface->refresh = tfst_instance_refresh_new(engine, iface->instance, log);
  return iface;
}

GDBusInterfaceSkeleton *
tfst_instance_interface_get_skeleton(TfstInstanceInterface *iface)
{
  return G_DBUS_INTERFACE_SKELETON(iface->instance);
}

void
tfst_instance_interface_refresh(TfstInstanceInterface *iface)
{
  tfst_instance_refresh_request(iface->refresh);
}

void
tfst_instance_interface_log_level_changed(TfstInstanceInterface *iface)
{
  tfst_dbus_tfst1_instance_set_log_level(iface->instance, tfst_log_get_level(iface->log));
}

void
tfst_instance_interface_set_state(TfstInstanceInterface *iface, const char *state)
{
  tfst_instance_refresh_set_state(iface->refresh, state);
}

void
tfst_instance_interface_free(TfstInstanceInterface *iface)
{
  g_clear_pointer(&iface->refresh, tfst_instance_refresh_free);
  g_clear_object(&iface->instance);
  g_free(iface);
}
