/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tfst.Tfst1.Events on the control plane (see tfst-events-interface.h):
 * every sink lives on the data plane, so each method is one engine query
 * (tfst-inspect-events.c) behind its polkit check. */
#include "tfst-events-interface.h"
#include "tfst-dbus-generated.h"
#include "tfst-error.h"
#include "tfst-invocation.h"

typedef struct {
  TfstEngine *engine;
} TfstEventsState;

/* A Flush() in progress: the name is kept for the error message. */
typedef struct {
  TfstEngine *engine;
  GDBusMethodInvocation *invocation;
  char *name;
} FlushCall;

static void
flush_call_free(FlushCall *call)
{
  g_clear_object(&call->invocation);
  g_free(call->name);
  g_free(call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FlushCall, flush_call_free)

static void
get_sinks_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstEventsState *es = data;

  tfst_engine_query_async(es->engine, tfst_inspect_events, NULL, NULL,
                          tfst_invocation_return_task_cb, invocation);
}

static void
clear_statistics_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstEventsState *es = data;

  tfst_engine_query_async(es->engine, tfst_inspect_events_clear, NULL, NULL,
                          tfst_invocation_return_task_cb, invocation);
}

/* The data plane's errors in the project's domain: a sink it does not
 * have is NotFound naming it, anything else Failed with its message. */
static void
flush_return_error(FlushCall *call, const GError *error)
{
  g_autofree char *shown = tfst_error_quote_arg(call->name);
  GDBusMethodInvocation *invocation = g_steal_pointer(&call->invocation);

  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    g_dbus_method_invocation_return_error(invocation, TFST_ERROR, TFST_ERROR_NOT_FOUND,
                                          "no event sink “%s” here (no [Events %s] section)", shown,
                                          shown);
  else if (error->domain == TFST_ERROR)
    g_dbus_method_invocation_return_gerror(invocation, error);
  else
    g_dbus_method_invocation_return_error(invocation, TFST_ERROR, TFST_ERROR_FAILED,
                                          "flushing the event sinks failed: %s", error->message);
}

static void
flush_done_cb(GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(FlushCall) call = data;
  g_autoptr(GError) error = NULL;
  /* (u): how many sinks it applied to; the method returns nothing. */
  g_autoptr(GVariant) reply = tfst_engine_query_finish(call->engine, res, &error);

  if (reply == NULL) {
    flush_return_error(call, error);
    return;
  }
  g_dbus_method_invocation_return_value(g_steal_pointer(&call->invocation), NULL);
}

static void
flush_cb(GDBusMethodInvocation *invocation, gpointer data)
{
  TfstEventsState *es = data;
  FlushCall *call = g_new0(FlushCall, 1);
  const char *name = NULL;

  g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s)", &name);
  call->engine = es->engine;
  /* The reference the dispatch handed over; answering consumes it. */
  call->invocation = invocation;
  call->name = g_strdup(name);
  tfst_engine_query_async(es->engine, tfst_inspect_events_flush, g_strdup(name), g_free,
                          flush_done_cb, call);
}

static const TfstAuthzMethod events_methods[] = {
    {"GetSinks", TFST_ACTION_OBSERVE, get_sinks_cb},
    {"ClearStatistics", TFST_ACTION_MANAGE, clear_statistics_cb},
    {"Flush", TFST_ACTION_MANAGE, flush_cb},
};

GDBusInterfaceSkeleton *
tfst_events_interface_new(TfstAuthz *authz, TfstEngine *engine)
{
  g_autoptr(TfstDbusTfst1Events) skel = tfst_dbus_tfst1_events_skeleton_new();
  TfstEventsState *es = g_new0(TfstEventsState, 1);

  es->engine = engine;
  g_object_set_data_full(G_OBJECT(skel), "tfst-events-interface", es, g_free);
  tfst_authz_dispatch(authz, G_DBUS_INTERFACE_SKELETON(skel), events_methods,
                      G_N_ELEMENTS(events_methods), es);
  return G_DBUS_INTERFACE_SKELETON(g_steal_pointer(&skel));
}
