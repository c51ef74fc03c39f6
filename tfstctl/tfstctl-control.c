/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl log-level, close and reload: the methods that change an
 * instance (polkit action org.tfst.tfst1.manage).  Silent on success,
 * unless --json asks for a result document. */
#include "tfstctl-bus.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>

/* One argument after the command name, as an unsigned number. */
static gboolean
parse_number_argument(int argc, char **argv, const char *what, guint64 max, guint64 *out_value,
                      GError **error)
{
  g_autoptr(GError) local_error = NULL;
  guint64 value;

  if (argc < 2) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("%s needs an argument; see --help"),
                argv[0]);
    return FALSE;
  }
  if (!g_ascii_string_to_unsigned(argv[1], 10, 0, max, &value, &local_error)) {
    /* TRANSLATORS: the first %s is what is expected, such as "a session
     * id", the second what was given. */
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("%s expected, not “%s”"), what,
                argv[1]);
    return FALSE;
  }
  *out_value = value;
  return TRUE;
}

/* The bus and the instance, and an agent for the password polkit may ask. */
static TfstDbusTfst1Instance *
open_instance(TfstctlOptions *opts, TfstctlBus **out_bus, GError **error)
{
  TfstDbusTfst1Instance *proxy = tfstctl_bus_open_instance(opts, out_bus, error);

  if (proxy != NULL)
    tfstctl_bus_prepare_auth(*out_bus);
  return proxy;
}

/* --json: {"instance": "relay@2", ...what was done}. */
static JsonObject *
result_new(TfstDbusTfst1Instance *proxy)
{
  JsonObject *json = json_object_new();
  g_autofree char *instance = tfstctl_instance_name(proxy);

  json_object_set_string_member(json, "instance", instance);
  return json;
}

int
tfstctl_log_level(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  guint64 level = 0;

  ctx = tfstctl_option_context_new(_("LEVEL"),
                                   _("Change the log level of an instance until its next restart "
                                     "or reload: 0 errors only, 1 hop and handshake events, 2 "
                                     "sessions, 3 protocol detail."),
                                   NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 1, &error) ||
      !parse_number_argument(argc, argv, _("a log level"), G_MAXUINT32, &level, &error))
    return tfstctl_fail(error);
  proxy = open_instance(&opts, &bus, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  if (!tfst_dbus_tfst1_instance_call_set_log_level_sync(
          proxy, (guint)level, tfstctl_bus_call_flags(bus), tfstctl_bus_call_timeout(bus), NULL,
          &error))
    return tfstctl_fail(error);
  if (opts.json) {
    g_autoptr(JsonObject) json = result_new(proxy);
    json_object_set_int_member(json, "log_level", level);
    tfstctl_output_json_print_object(json);
  }
  return TFSTCTL_EXIT_OK;
}

int
tfstctl_close(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  guint64 id = 0;

  ctx = tfstctl_option_context_new(_("SESSION"),
                                   _("Reset a session: both of its TCP connections are aborted, "
                                     "along the whole chain.  SESSION is the id that “tfstctl "
                                     "sessions” shows."),
                                   NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 1, &error) ||
      !parse_number_argument(argc, argv, _("a session id"), G_MAXUINT64, &id, &error))
    return tfstctl_fail(error);
  proxy = open_instance(&opts, &bus, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  if (!tfst_dbus_tfst1_instance_call_close_session_sync(
          proxy, id, tfstctl_bus_call_flags(bus), tfstctl_bus_call_timeout(bus), NULL, &error))
    return tfstctl_fail(error);
  if (opts.json) {
    g_autoptr(JsonObject) json = result_new(proxy);
    json_object_set_int_member(json, "closed", id);
    tfstctl_output_json_print_object(json);
  }
  return TFSTCTL_EXIT_OK;
}

int
tfstctl_reload(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;

  ctx = tfstctl_option_context_new(NULL,
                                   _("Make an instance read its configuration again.  An invalid "
                                     "configuration is refused and the running one stays."),
                                   NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  proxy = open_instance(&opts, &bus, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  if (!tfst_dbus_tfst1_instance_call_reload_sync(proxy, tfstctl_bus_call_flags(bus),
                                                 tfstctl_bus_call_timeout(bus), NULL, &error))
    return tfstctl_fail(error);
  if (opts.json) {
    g_autoptr(JsonObject) json = result_new(proxy);
    json_object_set_boolean_member(json, "reloaded", TRUE);
    tfstctl_output_json_print_object(json);
  }
  return TFSTCTL_EXIT_OK;
}
