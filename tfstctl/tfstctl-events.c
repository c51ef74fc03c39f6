/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl events [NAME] [--flush] [--clear]: org.tfst.Tfst1.Events, the
 * event sinks of an instance (docs/events.md). */
#include "tfstctl-bus.h"
#include "tfstctl-output.h"
#include "tfstctl-sinks.h"

#include <glib/gi18n.h>

#define EVENTS_IFACE "org.tfst.Tfst1.Events"

/* A method without a reply value. */
static gboolean
call_void(TfstctlBus *bus, GDBusProxy *proxy, const char *method, GVariant *args, GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  tfstctl_bus_prepare_auth(bus);
  reply = g_dbus_proxy_call_sync(proxy, method, args, tfstctl_bus_call_flags(bus),
                                 tfstctl_bus_call_timeout(bus), NULL, error);
  return reply != NULL;
}

/* The sinks as rows, only the one called `name` unless that is NULL: a
 * name the instance does not have is an error naming it. */
static GVariant *
get_rows(TfstctlBus *bus, GDBusProxy *proxy, const char *name, GError **error)
{
  g_autoptr(GVariant) sinks = tfstctl_bus_call(bus, proxy, "GetSinks", NULL, "(aa{sv})", error);
  g_autoptr(GVariant) rows = NULL;
  g_autoptr(GVariant) selected = NULL;

  if (sinks == NULL)
    return NULL;
  rows = tfstctl_sinks_rows(sinks);
  selected = tfstctl_sinks_select(rows, name);
  if (name != NULL && g_variant_n_children(selected) == 0) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED,
                _("the instance has no event sink named “%s” (no [Events %s] section)"), name,
                name);
    return NULL;
  }
  return g_steal_pointer(&selected);
}

static void
print_rows(GDBusProxy *proxy, const TfstctlOptions *opts, GVariant *rows)
{
  g_autoptr(JsonObject) json = NULL;
  g_autofree char *instance = NULL;

  if (!opts->json) {
    tfstctl_sinks_print(rows);
    return;
  }
  /* tfstctl_instance_name() only reads the proxy's bus name. */
  instance = tfstctl_instance_name((TfstDbusTfst1Instance *)proxy);
  json = json_object_new();
  json_object_set_string_member(json, "instance", instance);
  json_object_set_array_member(json, "sinks", tfstctl_sinks_json(rows));
  tfstctl_output_json_print_object(json);
}

/* --flush before the counters are shown (they show its effect),
 * --clear after (as tfstctl stats --clear). */
static int
run(TfstctlBus *bus, GDBusProxy *proxy, const TfstctlOptions *opts, const char *name,
    gboolean flush, gboolean clear)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) rows = NULL;

  if (flush && !call_void(bus, proxy, "Flush", g_variant_new("(s)", name ? name : ""), &error))
    return tfstctl_fail(error);
  rows = get_rows(bus, proxy, name, &error);
  if (rows == NULL)
    return tfstctl_fail(error);
  print_rows(proxy, opts, rows);
  if (clear && !call_void(bus, proxy, "ClearStatistics", NULL, &error))
    return tfstctl_fail(error);
  return TFSTCTL_EXIT_OK;
}

int
tfstctl_events(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(GDBusProxy) proxy = NULL;
  gboolean flush = FALSE, clear = FALSE;
  const GOptionEntry entries[] = {
      {"flush", 0, 0, G_OPTION_ARG_NONE, &flush,
       N_("Send the unacknowledged events again now and reconnect a target that is down, then "
          "show the sinks"),
       NULL},
      {"clear", 0, 0, G_OPTION_ARG_NONE, &clear,
       N_("Set the counters of every sink to zero after printing them"), NULL},
      {NULL},
  };

  ctx = tfstctl_option_context_new(
      _("[NAME]"),
      _("Show the event sinks of an instance ([Events NAME] sections, or at a relay the event "
        "streams passing through): events received, spooled, forwarded, resent, acknowledged "
        "and delivered, dropped and malformed ones by reason, the spool's use, the age of the "
        "oldest unacknowledged event, and the state of the target. NAME shows one sink."),
      entries, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 1, &error))
    return tfstctl_fail(error);
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  proxy = tfstctl_bus_get_interface(bus, opts.instance, EVENTS_IFACE, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  return run(bus, proxy, &opts, argc > 1 ? argv[1] : NULL, flush, clear);
}
