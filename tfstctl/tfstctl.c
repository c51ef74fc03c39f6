/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl: command-line client for tfst instances. */
#include "tfstctl.h"
#include "tfstctl-bus.h"
#include "tfstctl-instances.h"
#include "tfst-version.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>

typedef enum {
  /* list, ports, permissions and collect take no instance (host-wide);
   * monitor, check and cat match -i themselves. */
  SCOPE_HOST,
  /* Talks to one instance: -i PATTERN runs it for every one that matches. */
  SCOPE_EACH,
  /* Names something of one instance (a session id): no pattern. */
  SCOPE_ONE,
} TfstctlScope;

typedef struct {
  const char *name;
  const char *summary; /* N_(): translated when shown */
  int (*run)(int argc, char **argv);
  TfstctlScope scope;
} TfstctlCommand;

/* One row per command, in the order --help lists them. */
static const TfstctlCommand commands[] = {
    {"list", N_("List the instances, running or configured (the default command)"), tfstctl_list,
     SCOPE_HOST},
    {"status", N_("Show the state of an instance, its hops and its chain"), tfstctl_status,
     SCOPE_EACH},
    {"chain", N_("Show the chain of labels as an instance knows it"), tfstctl_chain, SCOPE_EACH},
    /* One stream for every instance -i matches, not one run each. */
    {"monitor", N_("Print hop, failover, session and state events as they happen"), tfstctl_monitor,
     SCOPE_HOST},
    {"sessions", N_("List the sessions of an instance"), tfstctl_sessions, SCOPE_EACH},
    {"stats", N_("Show the counters of an instance, optionally clear them"), tfstctl_stats,
     SCOPE_EACH},
    {"dataflow", N_("Measure the data moving through a session, a hop or an instance"),
     tfstctl_dataflow, SCOPE_EACH},
    {"keepalive", N_("Show or change keepalive settings live, audit the TCP connections"),
     tfstctl_keepalive, SCOPE_EACH},
    {"log-level", N_("Show or change the log level of an instance"), tfstctl_log_level, SCOPE_EACH},
    {"close", N_("Reset a session"), tfstctl_close, SCOPE_ONE},
    {"reload", N_("Make an instance read its configuration again"), tfstctl_reload, SCOPE_EACH},
    /* check and cat read the configuration, not the bus: they match -i
     * against the configured instances themselves. */
    {"check", N_("Check configurations without starting anything"), tfstctl_check, SCOPE_HOST},
    {"cat", N_("Print every file of an instance's configuration, in the order they apply"),
     tfstctl_cat, SCOPE_HOST},
    {"ports", N_("List the ports of the ITM rule and who holds them"), tfstctl_ports, SCOPE_HOST},
    {"trace", N_("Capture the packets exchanged with one peer: define, list, show, export"),
     tfstctl_trace, SCOPE_EACH},
    {"spi", N_("List IPsec SAs, check an SPI, find colliding SPIs, IPsec counters"), tfstctl_spi,
     SCOPE_EACH},
    {"events", N_("Show the event sinks: counters, spool, target; push events now"), tfstctl_events,
     SCOPE_EACH},
    {"collect", N_("Write one archive with everything support asks for"), tfstctl_collect,
     SCOPE_HOST},
    {"permissions", N_("Show which tfst actions the caller is allowed"), tfstctl_permissions,
     SCOPE_HOST},
};

static char *
commands_description(void)
{
  GString *s = g_string_new(_("Commands:"));

  for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
    g_string_append_printf(s, "\n  %-12s %s", commands[i].name, _(commands[i].summary));
  g_string_append(s, "\n\n");
  g_string_append(s, _("Run “tfstctl COMMAND --help” for the options of a command."));
  g_string_append(s, "\n\n");
  g_string_append(s, _("Exit status: 0 success, 1 failure, 2 bad usage, 3 instance not found or "
                       "not on the bus, 4 access denied."));
  return g_string_free(s, FALSE);
}

static const TfstctlCommand *
find_command(const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
    if (g_str_equal(commands[i].name, name))
      return &commands[i];
  return NULL;
}

/* The command's argv: its name, the global options given (the options of
 * the D-Bus commands may also come before the command name, as with
 * systemctl: "tfstctl --json -i relay@2 status"), then the rest.  Returns
 * the strings to free; *out_args gets a shallow copy for the command,
 * whose option parser may reorder it. */
static GStrv
command_argv(int argc, char **argv, const TfstctlOptions *global, char ***out_args)
{
  GPtrArray *args = g_ptr_array_new();

  g_ptr_array_add(args, g_strdup(argv[1]));
  if (global->json)
    g_ptr_array_add(args, g_strdup(global->json_short ? "--json=short" : "--json=pretty"));
  if (global->no_legend)
    g_ptr_array_add(args, g_strdup("--no-legend"));
  if (global->output != NULL)
    g_ptr_array_add(args, g_strconcat("--output=", global->output, NULL));
  if (global->no_ask_password)
    g_ptr_array_add(args, g_strdup("--no-ask-password"));
  if (global->instance != NULL)
    g_ptr_array_add(args, g_strconcat("--instance=", global->instance, NULL));
  for (int i = 2; i < argc; i++)
    g_ptr_array_add(args, g_strdup(argv[i]));
  g_ptr_array_add(args, NULL);
  *out_args = g_memdup2(args->pdata, args->len * sizeof(char *));
  return (GStrv)g_ptr_array_free(args, FALSE);
}

/* TFST_LOCALEDIR lets the test suite use the catalogs of the build tree;
 * it only changes the language of this process's own messages. */
static const char *
locale_dir(void)
{
  const char *dir = g_getenv("TFST_LOCALEDIR");

  return dir != NULL && *dir != '\0' ? dir : LOCALEDIR;
}

static void
setup_locale(void)
{
  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, locale_dir());
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);
}

/* Runs the command with its argv (see command_argv()). */
static int
dispatch(const TfstctlCommand *cmd, int argc, char **argv, const TfstctlOptions *global)
{
  g_autofree char *prgname = NULL;
  g_auto(GStrv) cmd_strings = NULL;
  g_autofree char **cmd_argv = NULL;
  int cmd_argc;

  /* collect's own -o is its archive: a global -o (columns) before it
   * would become the file name. */
  if (global->output != NULL && g_str_equal(cmd->name, "collect")) {
    g_printerr(_("tfstctl: -o before “collect” names table columns, which collect has none "
                 "of; give the archive as “tfstctl collect -o FILE”\n"));
    return TFSTCTL_EXIT_USAGE;
  }
  /* "Usage: tfstctl ports [OPTION…]" in the command's --help */
  prgname = g_strdup_printf("tfstctl %s", cmd->name);
  g_set_prgname(prgname);
  cmd_strings = command_argv(argc, argv, global, &cmd_argv);
  cmd_argc = (int)g_strv_length(cmd_strings);
  if (cmd->scope == SCOPE_ONE)
    return tfstctl_instances_run_one(cmd->run, cmd_argc, cmd_argv);
  if (cmd->scope == SCOPE_EACH)
    return tfstctl_instances_run(cmd->run, cmd_argc, cmd_argv);
  return cmd->run(cmd_argc, cmd_argv);
}

static GOptionContext *
main_context_new(TfstctlOptions *global, gboolean *version)
{
  g_autofree char *description = commands_description();
  const GOptionEntry entries[] = {
      {"version", 0, 0, G_OPTION_ARG_NONE, version, N_("Print version and build level"), NULL},
      {NULL},
  };
  GOptionContext *ctx = tfstctl_option_context_new(
      _("[COMMAND [OPTION…]]"), _("Control and inspect tfst instances"), entries, global, TRUE);

  g_option_context_set_description(ctx, description);
  /* Stop at the command name: what follows are the command's options. */
  g_option_context_set_strict_posix(ctx, TRUE);
  return ctx;
}

int
main(int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  const TfstctlCommand *cmd;
  g_auto(TfstctlOptions) global = {0};
  gboolean version = FALSE;
  char *overview[] = {argv[0], (char *)"list", NULL};

  setup_locale();
  ctx = main_context_new(&global, &version);
  tfstctl_options_prepare_argv(argc, argv);
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    g_printerr("tfstctl: %s\n", error->message);
    return TFSTCTL_EXIT_USAGE;
  }
  if (version) {
    g_print("tfstctl %s (build level %s)\n", PACKAGE_VERSION, TFST_BUILD_LEVEL);
    return EXIT_SUCCESS;
  }
  /* No command: the overview of every instance, as networkctl gives. */
  if (argc < 2) {
    argc = 2;
    argv = overview;
  }
  cmd = find_command(argv[1]);
  if (cmd == NULL) {
    g_printerr(_("tfstctl: unknown command “%s”; see --help\n"), argv[1]);
    return TFSTCTL_EXIT_USAGE;
  }
  return dispatch(cmd, argc, argv, &global);
}
