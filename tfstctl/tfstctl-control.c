/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl log-level, close and reload: the methods that change an
 * instance (polkit action org.tfst.tfst1.manage).  Silent on success,
 * unless --json asks for a result document; log-level without a level
 * prints it. */

/* systemd's interface for log levels; tfstd serves it next to its own. */
#define LOGCONTROL_INTERFACE "org.freedesktop.LogControl1"
#define LOGCONTROL_PATH      "/org/freedesktop/LogControl1"
#include "tfstctl-bus.h"
#include "tfstctl-output.h"

#include "tfst-log.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <signal.h>

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

/* LEVEL: a syslog name, or 0-3, the configuration's scale, which stands for
 * err, notice, info and debug.  Written only when valid. */
static gboolean
parse_log_level(const char *arg, const char **out_name, GError **error)
{
  int priority = tfst_log_priority_from_string(arg);
  guint64 level;

  if (priority < 0 && g_ascii_string_to_unsigned(arg, 10, 0, 3, &level, NULL))
    priority = tfst_log_level_to_priority((guint)level);
  if (priority < 0) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                _("a log level (emerg, alert, crit, err, warning, notice, info, debug, or 0-3) "
                  "expected, not “%s”"),
                arg);
    return FALSE;
  }
  *out_name = tfst_log_priority_to_string(priority);
  return TRUE;
}

/* org.freedesktop.LogControl1.LogLevel of the instance, as `systemctl
 * service-log-level` reads and writes it: value NULL reads it. */
static GVariant *
log_control_call(TfstctlBus *bus, TfstDbusTfst1Instance *proxy, const char *value, GError **error)
{
  GDBusProxy *p = G_DBUS_PROXY(proxy);
  GVariant *args = value != NULL ? g_variant_new("(ssv)", LOGCONTROL_INTERFACE, "LogLevel",
                                                 g_variant_new_string(value))
                                 : g_variant_new("(ss)", LOGCONTROL_INTERFACE, "LogLevel");

  return g_dbus_connection_call_sync(
      g_dbus_proxy_get_connection(p), g_dbus_proxy_get_name(p), LOGCONTROL_PATH,
      "org.freedesktop.DBus.Properties", value != NULL ? "Set" : "Get", args,
      value != NULL ? G_VARIANT_TYPE_UNIT : G_VARIANT_TYPE("(v)"), tfstctl_bus_call_flags(bus),
      tfstctl_bus_call_timeout(bus), NULL, error);
}

/* Without LEVEL prints the level; with LEVEL changes it. */
static int
log_level_show_or_set(TfstctlOptions *opts, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = open_instance(opts, &bus, &error);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) current = NULL;

  if (proxy == NULL)
    return tfstctl_fail(error);
  reply = log_control_call(bus, proxy, name, &error);
  if (reply == NULL)
    return tfstctl_fail(error);
  if (name == NULL) {
    g_variant_get(reply, "(v)", &current);
    name = g_variant_get_string(current, NULL);
    if (!opts->json)
      g_print("%s\n", name);
  }
  if (opts->json) {
    g_autoptr(JsonObject) json = result_new(proxy);
    json_object_set_string_member(json, "log_level", name);
    tfstctl_output_json_print_object(json);
  }
  return TFSTCTL_EXIT_OK;
}

int
tfstctl_log_level(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  const char *name = NULL;

  ctx = tfstctl_option_context_new(
      _("[LEVEL]"),
      _("Show the log level of an instance, or change it until its next restart or reload.  "
        "LEVEL is a syslog level, as systemctl service-log-level takes it: emerg, alert, crit, "
        "err, warning, notice, info or debug; or 0-3 as in the configuration: 0 errors only "
        "(err), 1 hop and handshake events (notice), 2 sessions (info), 3 protocol detail "
        "(debug)."),
      NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 1, &error) ||
      (argc >= 2 && !parse_log_level(argv[1], &name, &error)))
    return tfstctl_fail(error);
  return log_level_show_or_set(&opts, name);
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

/* Whether the instance never saw the call: no system bus, nobody owns its
 * name, or the owner went away.  A refusal or a denial is an answer. */
static gboolean
not_reached(const GError *error)
{
  return g_error_matches(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED) ||
         g_error_matches(error, TFSTCTL_ERROR, TFSTCTL_ERROR_NOT_FOUND) ||
         g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
         g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
         g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED);
}

/* --signal-fallback: tfstd also reloads on SIGHUP, which needs no bus but
 * cannot report a refusal (that goes to the journal only).  $MAINPID is
 * what systemd gives ExecReload=: the unit's own tfstd. */
static int
reload_by_signal(TfstctlOptions *opts, GError **why)
{
  const char *env = g_getenv("MAINPID");
  guint64 pid;

  if (env == NULL || !g_ascii_string_to_unsigned(env, 10, 2, G_MAXINT, &pid, NULL))
    return tfstctl_fail(*why);
  if (kill((pid_t)pid, SIGHUP) < 0) {
    g_prefix_error(why, _("SIGHUP to process %s failed (%s), and: "), env, g_strerror(errno));
    return tfstctl_fail(*why);
  }
  g_dbus_error_strip_remote_error(*why);
  /* TRANSLATORS: the first %s is why the bus could not be used, the second a
   * process id. */
  g_printerr(_("tfstctl: %s; sent SIGHUP to process %s instead, the result is in its log\n"),
             (*why)->message, env);
  if (opts->json) {
    g_autoptr(JsonObject) json = json_object_new();
    json_object_set_string_member(json, "instance", opts->instance);
    json_object_set_int_member(json, "signalled", (gint64)pid);
    tfstctl_output_json_print_object(json);
  }
  return TFSTCTL_EXIT_OK;
}

static gboolean
reload_over_bus(TfstctlOptions *opts, GError **error)
{
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = open_instance(opts, &bus, error);

  if (proxy == NULL ||
      !tfst_dbus_tfst1_instance_call_reload_sync(proxy, tfstctl_bus_call_flags(bus),
                                                 tfstctl_bus_call_timeout(bus), NULL, error))
    return FALSE;
  if (opts->json) {
    g_autoptr(JsonObject) json = result_new(proxy);
    json_object_set_boolean_member(json, "reloaded", TRUE);
    tfstctl_output_json_print_object(json);
  }
  return TRUE;
}

int
tfstctl_reload(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  gboolean signal_fallback = FALSE;
  const GOptionEntry entries[] = {
      {"signal-fallback", 0, 0, G_OPTION_ARG_NONE, &signal_fallback,
       N_("When the instance is not on the system bus, send SIGHUP to $MAINPID instead (for "
          "ExecReload=)"),
       NULL},
      {NULL},
  };

  ctx = tfstctl_option_context_new(NULL,
                                   _("Make an instance read its configuration again.  An invalid "
                                     "configuration is refused and the running one stays."),
                                   entries, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  if (reload_over_bus(&opts, &error))
    return TFSTCTL_EXIT_OK;
  if (signal_fallback && not_reached(error))
    return reload_by_signal(&opts, &error);
  return tfstctl_fail(error);
}
