/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The system bus side of tfstctl (see tfstctl-bus.h). */
#include "tfstctl-bus.h"

#include "tfst-bus-name.h"
#include "tfstctl-output.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A password prompt may take a while; the D-Bus default is 25 s. */
#define INTERACTIVE_TIMEOUT_MS (5 * 60 * 1000)
/* How long to wait for pkttyagent to register. */
#define AGENT_READY_TIMEOUT_MS (10 * 1000)

struct _TfstctlBus {
  GDBusConnection *connection;
  gboolean interactive;
  GSubprocess *agent;
};

GQuark
tfstctl_error_quark(void)
{
  return g_quark_from_static_string("tfstctl-error-quark");
}

/* ---- errors */

static const struct {
  const char *name;
  int status;
} remote_errors[] = {
    {"org.freedesktop.DBus.Error.AccessDenied", TFSTCTL_EXIT_ACCESS_DENIED},
    {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", TFSTCTL_EXIT_ACCESS_DENIED},
    {"org.freedesktop.DBus.Error.ServiceUnknown", TFSTCTL_EXIT_NOT_FOUND},
    {"org.freedesktop.DBus.Error.NameHasNoOwner", TFSTCTL_EXIT_NOT_FOUND},
    {"org.tfst.Tfst1.Error.InvalidArgs", TFSTCTL_EXIT_USAGE},
};

int
tfstctl_exit_status(const GError *error)
{
  g_autofree char *name = NULL;

  if (error->domain == TFSTCTL_ERROR)
    return error->code;
  name = g_dbus_error_get_remote_error(error);
  if (name == NULL)
    return TFSTCTL_EXIT_FAILURE;
  for (guint i = 0; i < G_N_ELEMENTS(remote_errors); i++)
    if (g_str_equal(name, remote_errors[i].name))
      return remote_errors[i].status;
  return TFSTCTL_EXIT_FAILURE;
}

int
tfstctl_fail(GError *error)
{
  int status = tfstctl_exit_status(error);

  g_dbus_error_strip_remote_error(error);
  g_printerr("tfstctl: %s\n", error->message);
  return status;
}

/* ---- options */

void
tfstctl_options_clear(TfstctlOptions *opts)
{
  g_clear_pointer(&opts->instance, g_free);
  g_clear_pointer(&opts->output, g_free);
}

/* --json, --json=pretty, --json=short, --json=off as systemd's tools take it. */
static gboolean
json_option_cb(const char *name, const char *value, gpointer data, GError **error)
{
  TfstctlOptions *opts = data;

  if (value == NULL || g_str_equal(value, "pretty") || g_str_equal(value, "short")) {
    opts->json = TRUE;
    opts->json_short = g_strcmp0(value, "short") == 0;
  } else if (g_str_equal(value, "off")) {
    opts->json = FALSE;
  } else {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("%s takes pretty, short or off, not “%s”"), name, value);
    return FALSE;
  }
  return TRUE;
}

static gboolean
configure_output_cb(GOptionContext *ctx, GOptionGroup *group, gpointer data, GError **error)
{
  TfstctlOptions *opts = data;
  g_auto(GStrv) columns = opts->output != NULL ? g_strsplit(opts->output, ",", -1) : NULL;
  TfstctlOutputSettings settings = {opts->json_short, opts->no_legend, columns};

  tfstctl_output_configure(&settings);
  return TRUE;
}

/* The command has an -o of its own (collect -o FILE). */
static gboolean
has_own_output(const GOptionEntry *entries)
{
  for (guint i = 0; entries != NULL && entries[i].long_name != NULL; i++)
    if (entries[i].short_name == 'o' || g_str_equal(entries[i].long_name, "output"))
      return TRUE;
  return FALSE;
}

static GOptionGroup *
main_group_new(TfstctlOptions *opts)
{
  GOptionGroup *group = g_option_group_new(NULL, NULL, NULL, opts, NULL);

  g_option_group_set_translation_domain(group, GETTEXT_PACKAGE);
  g_option_group_set_parse_hooks(group, NULL, configure_output_cb);
  return group;
}

GOptionContext *
tfstctl_option_context_new(const char *parameter_string, const char *summary,
                           const GOptionEntry *entries, TfstctlOptions *opts,
                           gboolean with_instance)
{
  GOptionContext *ctx = g_option_context_new(parameter_string);
  const GOptionEntry instance_entries[] = {
      {"instance", 'i', 0, G_OPTION_ARG_STRING, &opts->instance,
       N_("The instance to talk to, written like the unit instance (default: the only one on the "
          "bus), or a pattern such as 'relay@*' for each that matches"),
       N_("ROLE@INSTANCE")},
      {NULL},
  };
  const GOptionEntry output_entries[] = {
      {"output", 'o', 0, G_OPTION_ARG_STRING, &opts->output,
       N_("Show these columns of the table, in this order"), N_("COLUMN,…")},
      {NULL},
  };
  const GOptionEntry common_entries[] = {
      {"json", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (gpointer)json_option_cb,
       N_("Print JSON instead of text: pretty (the default) or short (one line)"),
       N_("pretty|short|off")},
      {"no-legend", 0, 0, G_OPTION_ARG_NONE, &opts->no_legend,
       N_("Leave out column headers, hints and footers"), NULL},
      {"no-ask-password", 0, 0, G_OPTION_ARG_NONE, &opts->no_ask_password,
       N_("Never ask for a password when an action needs authentication"), NULL},
      {NULL},
  };

  g_option_context_set_summary(ctx, summary);
  /* The group's data is opts, for the callbacks. */
  g_option_context_set_main_group(ctx, main_group_new(opts));
  /* The entries are copied: the stack arrays may go. */
  if (entries != NULL)
    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  if (with_instance)
    g_option_context_add_main_entries(ctx, instance_entries, GETTEXT_PACKAGE);
  if (!has_own_output(entries))
    g_option_context_add_main_entries(ctx, output_entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(ctx, common_entries, GETTEXT_PACKAGE);
  return ctx;
}

void
tfstctl_options_prepare_argv(int argc, char **argv)
{
  /* GOption gives an optional argument the next word when it does not
   * start with "-": "--json status" would be --json=status.  Only the
   * "--json=MODE" form takes a mode, as with systemd's tools. */
  for (int i = 1; i < argc && !g_str_equal(argv[i], "--"); i++)
    if (g_str_equal(argv[i], "--json"))
      argv[i] = (char *)"--json=pretty";
}

gboolean
tfstctl_parse_options(GOptionContext *ctx, int *argc, char ***argv, int max_args, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  tfstctl_options_prepare_argv(*argc, *argv);
  if (!g_option_context_parse(ctx, argc, argv, &local_error)) {
    g_set_error_literal(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, local_error->message);
    return FALSE;
  }
  /* argv[0] is the command name. */
  if (*argc - 1 > max_args) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("unexpected argument “%s”"),
                (*argv)[max_args + 1]);
    return FALSE;
  }
  return TRUE;
}

/* ---- the bus */

TfstctlBus *
tfstctl_bus_new(const TfstctlOptions *opts, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  GDBusConnection *connection;
  TfstctlBus *bus;

  connection = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &local_error);
  if (connection == NULL) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED,
                _("cannot connect to the system bus: %s"), local_error->message);
    return NULL;
  }
  bus = g_new0(TfstctlBus, 1);
  bus->connection = connection;
  bus->interactive = !opts->no_ask_password && isatty(STDIN_FILENO);
  return bus;
}

static void
agent_stop(TfstctlBus *bus)
{
  if (bus->agent == NULL)
    return;
  g_subprocess_send_signal(bus->agent, SIGTERM);
  g_subprocess_wait(bus->agent, NULL, NULL);
  g_clear_object(&bus->agent);
}

void
tfstctl_bus_free(TfstctlBus *bus)
{
  if (bus == NULL)
    return;
  agent_stop(bus);
  g_clear_object(&bus->connection);
  g_free(bus);
}

GDBusCallFlags
tfstctl_bus_call_flags(const TfstctlBus *bus)
{
  return bus->interactive ? G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION
                          : G_DBUS_CALL_FLAGS_NONE;
}

int
tfstctl_bus_call_timeout(const TfstctlBus *bus)
{
  return bus->interactive ? INTERACTIVE_TIMEOUT_MS : -1;
}

/* Waits until pkttyagent closes the notify pipe: it has registered, or
 * given up. */
static void
agent_wait_ready(int fd)
{
  GPollFD pfd = {.fd = fd, .events = G_IO_IN | G_IO_HUP | G_IO_ERR};
  char buf[64];
  gint64 deadline = g_get_monotonic_time() + AGENT_READY_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  for (;;) {
    gint64 left = (deadline - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;
    int n;

    if (left <= 0)
      return;
    n = g_poll(&pfd, 1, (int)left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    n = (int)read(fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
      return;
  }
}

void
tfstctl_bus_prepare_auth(TfstctlBus *bus)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *agent = NULL;
  int fds[2];

  /* root needs no password; without a terminal there is nobody to ask. */
  if (!bus->interactive || bus->agent != NULL || geteuid() == 0)
    return;
  agent = g_find_program_in_path("pkttyagent");
  /* What was printed so far comes before any password prompt. */
  fflush(stdout);
  if (agent == NULL || !g_unix_open_pipe(fds, FD_CLOEXEC, NULL))
    return;
  /* The agent prompts on the terminal, not on stderr; keep its
   * complaints (no polkit on this system) out of tfstctl's output: a
   * refused call says what went wrong. */
  launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_take_fd(launcher, fds[1], 3);
  /* --fallback: an agent that is registered already (a desktop's) wins. */
  bus->agent =
      g_subprocess_launcher_spawn(launcher, NULL, agent, "--notify-fd", "3", "--fallback", NULL);
  /* Drop our copy of the write end, or the pipe never reaches EOF. */
  g_clear_object(&launcher);
  if (bus->agent != NULL)
    agent_wait_ready(fds[0]);
  close(fds[0]);
}

/* ---- instances */

GDBusConnection *
tfstctl_bus_connection(TfstctlBus *bus)
{
  return bus->connection;
}

char *
tfstctl_bus_instance_from_name(const char *bus_name)
{
  g_autofree char *role = NULL;
  g_autofree char *instance = NULL;

  if (!tfst_bus_name_parse(bus_name, &role, &instance))
    return NULL;
  return g_strdup_printf("%s@%s", role, instance);
}

static char *
instance_from_bus_name(const char *bus_name)
{
  return tfstctl_bus_instance_from_name(bus_name);
}

static gboolean
is_instance_bus_name(const char *bus_name)
{
  g_autofree char *instance = instance_from_bus_name(bus_name);

  return instance != NULL;
}

char *
tfstctl_instance_name(TfstDbusTfst1Instance *proxy)
{
  const char *bus_name = g_dbus_proxy_get_name(G_DBUS_PROXY(proxy));
  char *name = instance_from_bus_name(bus_name);

  return name != NULL ? name : g_strdup(bus_name);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
tfstctl_bus_list_instances(TfstctlBus *bus, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  g_autoptr(GPtrArray) instances = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  reply = g_dbus_connection_call_sync(
      bus->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "ListNames", NULL, G_VARIANT_TYPE("(as)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (reply == NULL)
    return NULL;
  g_variant_get(reply, "(as)", &iter);
  while (g_variant_iter_next(iter, "&s", &name)) {
    char *instance = instance_from_bus_name(name);
    if (instance != NULL)
      g_ptr_array_add(instances, instance);
  }
  g_ptr_array_sort(instances, compare_strings);
  return g_steal_pointer(&instances);
}

/* "relay@2" -> "org.tfst.Tfst1.relay_2"; a bus name of an instance is
 * taken as it is. */
static char *
bus_name_for_instance(const char *instance, GError **error)
{
  g_autofree char *role = NULL;
  g_autofree char *bus_name = NULL;
  const char *at = strchr(instance, '@');

  if (g_str_has_prefix(instance, TFST_BUS_PREFIX) && g_dbus_is_name(instance))
    bus_name = g_strdup(instance);
  else if (at != NULL && at != instance && at[1] != '\0') {
    role = g_strndup(instance, (gsize)(at - instance));
    bus_name = tfst_bus_name_for(role, at + 1);
  }
  /* The role becomes part of a bus name element: letters and digits. */
  if (bus_name == NULL || (role != NULL && strchr(role, '_') != NULL) ||
      !g_dbus_is_name(bus_name) || !is_instance_bus_name(bus_name)) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                _("invalid instance “%s”: write ROLE@INSTANCE, for example relay@2"), instance);
    return NULL;
  }
  return g_steal_pointer(&bus_name);
}

/* The only instance on the bus, when no --instance was given. */
static char *
only_instance(TfstctlBus *bus, GError **error)
{
  g_autoptr(GPtrArray) instances = tfstctl_bus_list_instances(bus, error);
  g_autofree char *list = NULL;

  if (instances == NULL)
    return NULL;
  if (instances->len == 1)
    return g_strdup(g_ptr_array_index(instances, 0));
  if (instances->len == 0) {
    g_set_error_literal(error, TFSTCTL_ERROR, TFSTCTL_ERROR_NOT_FOUND,
                        _("no tfst instance is on the system bus"));
    return NULL;
  }
  g_ptr_array_add(instances, NULL);
  list = g_strjoinv(", ", (char **)instances->pdata);
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
              _("several tfst instances are on the system bus (%s); choose one with --instance"),
              list);
  return NULL;
}
/* The bus name of "ROLE@INSTANCE", or of the only instance when NULL, and
 * that instance's name in *out_instance. */
static char *
resolve_bus_name(TfstctlBus *bus, const char *instance, char **out_instance, GError **error)
{
  g_autofree char *chosen = NULL;
  char *bus_name;

  if (instance == NULL) {
    chosen = only_instance(bus, error);
    if (chosen == NULL)
      return NULL;
    instance = chosen;
  }
  bus_name = bus_name_for_instance(instance, error);
  if (bus_name != NULL)
    *out_instance = g_strdup(instance);
  return bus_name;
}

static gboolean
check_owned(GDBusProxy *proxy, const char *instance, GError **error)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner(proxy);

  if (owner != NULL)
    return TRUE;
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_NOT_FOUND,
              _("instance %s is not on the system bus (nobody owns %s)"), instance,
              g_dbus_proxy_get_name(proxy));
  return FALSE;
}

TfstDbusTfst1Instance *
tfstctl_bus_get_instance(TfstctlBus *bus, const char *instance, GError **error)
{
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  g_autofree char *name = NULL;
  g_autofree char *bus_name = resolve_bus_name(bus, instance, &name, error);

  if (bus_name == NULL)
    return NULL;
  proxy = tfst_dbus_tfst1_instance_proxy_new_sync(bus->connection,
                                                  G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START |
                                                      G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
                                                  bus_name, TFST_BUS_OBJECT_PATH, NULL, error);
  if (proxy == NULL || !check_owned(G_DBUS_PROXY(proxy), name, error))
    return NULL;
  return g_steal_pointer(&proxy);
}

TfstDbusTfst1Instance *
tfstctl_bus_open_instance(const TfstctlOptions *opts, TfstctlBus **ret_bus, GError **error)
{
  g_autoptr(TfstctlBus) bus = tfstctl_bus_new(opts, error);
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;

  if (bus == NULL)
    return NULL;
  proxy = tfstctl_bus_get_instance(bus, opts->instance, error);
  if (proxy == NULL)
    return NULL;
  *ret_bus = g_steal_pointer(&bus);
  return g_steal_pointer(&proxy);
}

GDBusProxy *
tfstctl_bus_get_interface(TfstctlBus *bus, const char *instance, const char *interface,
                          GError **error)
{
  g_autoptr(GDBusProxy) proxy = NULL;
  g_autofree char *name = NULL;
  g_autofree char *bus_name = resolve_bus_name(bus, instance, &name, error);

  if (bus_name == NULL)
    return NULL;
  proxy = g_dbus_proxy_new_sync(bus->connection,
                                G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START |
                                    G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
                                    G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
                                NULL, bus_name, TFST_BUS_OBJECT_PATH, interface, NULL, error);
  if (proxy == NULL || !check_owned(proxy, name, error))
    return NULL;
  return g_steal_pointer(&proxy);
}

GVariant *
tfstctl_bus_call(TfstctlBus *bus, GDBusProxy *proxy, const char *method, GVariant *parameters,
                 const char *reply_type, GError **error)
{
  g_autoptr(GVariant) reply =
      g_dbus_proxy_call_sync(proxy, method, parameters, tfstctl_bus_call_flags(bus),
                             tfstctl_bus_call_timeout(bus), NULL, error);

  if (reply == NULL)
    return NULL;
  if (!g_variant_is_of_type(reply, G_VARIANT_TYPE(reply_type))) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED,
                _("the instance answered %s with “%s” instead of “%s”"), method,
                g_variant_get_type_string(reply), reply_type);
    return NULL;
  }
  return g_variant_get_child_value(reply, 0);
}

GVariant *
tfstctl_bus_call_systemd(TfstctlBus *bus, const char *method, GVariant *parameters,
                         const char *reply_type)
{
  return g_dbus_connection_call_sync(
      bus->connection, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
      "org.freedesktop.systemd1.Manager", method, parameters, G_VARIANT_TYPE(reply_type),
      G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL);
}

GVariant *
tfstctl_bus_check_authorization(TfstctlBus *bus, const char *action, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  const char *name = g_dbus_connection_get_unique_name(bus->connection);
  GVariant *subject = g_variant_new_parsed("('system-bus-name', {'name': <%s>})", name);
  GVariant *reply = g_dbus_connection_call_sync(
      bus->connection, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
      "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
      g_variant_new("(@(sa{sv})s@a{ss}us)", subject, action,
                    g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0), 0u, ""),
      G_VARIANT_TYPE("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &local_error);

  if (reply == NULL) {
    g_dbus_error_strip_remote_error(local_error);
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED, _("cannot ask polkit about %s: %s"),
                action, local_error->message);
  }
  return reply;
}
