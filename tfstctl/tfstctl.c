/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl: command-line client for tfst instances. */
#include "tfstctl.h"
#include "tfst-version.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>

typedef struct {
  const char *name;
  const char *summary; /* N_(): translated when shown */
  int (*run)(int argc, char **argv);
} TfstctlCommand;

/* One row per command, in the order --help lists them. */
static const TfstctlCommand commands[] = {
    {"list", N_("List the instances on the system bus"), tfstctl_list},
    {"status", N_("Show the state of an instance, its hops and its chain"), tfstctl_status},
    {"chain", N_("Show the chain of labels as an instance knows it"), tfstctl_chain},
    {"monitor", N_("Print hop, failover, session and state events as they happen"),
     tfstctl_monitor},
    {"sessions", N_("List the sessions of an instance"), tfstctl_sessions},
    {"stats", N_("Show the counters of an instance, optionally clear them"), tfstctl_stats},
    {"dataflow", N_("Measure the data moving through a session, a hop or an instance"),
     tfstctl_dataflow},
    {"keepalive", N_("Show or change keepalive settings live, audit the TCP connections"),
     tfstctl_keepalive},
    {"log-level", N_("Show or change the log level of an instance"), tfstctl_log_level},
    {"close", N_("Reset a session"), tfstctl_close},
    {"reload", N_("Make an instance read its configuration again"), tfstctl_reload},
    {"check", N_("Check configurations without starting anything"), tfstctl_check},
    {"cat", N_("Print every file of an instance's configuration, in the order they apply"),
     tfstctl_cat},
    {"ports", N_("List the ports of the ITM rule and who holds them"), tfstctl_ports},
    {"trace", N_("Capture the packets exchanged with one peer: define, list, show, export"),
     tfstctl_trace},
    {"spi", N_("List IPsec SAs, check an SPI, find colliding SPIs, IPsec counters"), tfstctl_spi},
    {"events", N_("Show the event sinks: counters, spool, target; push events now"),
     tfstctl_events},
    {"collect", N_("Write one archive with everything support asks for"), tfstctl_collect},
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

/* The options of the D-Bus commands may also come before the command
 * name, as with systemctl: "tfstctl --json -i relay@2 status". */
typedef struct {
  char *instance;
  gboolean json;
  gboolean no_ask_password;
} GlobalOptions;

static void
global_options_clear(GlobalOptions *global)
{
  g_clear_pointer(&global->instance, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(GlobalOptions, global_options_clear)

/* The command's argv: its name, the global options given, then the rest.
 * Returns the strings to free; *out_args gets a shallow copy for the
 * command, whose option parser may reorder it. */
static GStrv
command_argv(int argc, char **argv, const GlobalOptions *global, char ***out_args)
{
  GPtrArray *args = g_ptr_array_new();

  g_ptr_array_add(args, g_strdup(argv[1]));
  if (global->json)
    g_ptr_array_add(args, g_strdup("--json"));
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

int
main(int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;
  g_autofree char *prgname = NULL;
  g_auto(GStrv) cmd_strings = NULL;
  g_autofree char **cmd_argv = NULL;
  const TfstctlCommand *cmd;
  g_auto(GlobalOptions) global = {0};
  gboolean version = FALSE;
  GOptionEntry entries[] = {
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print version and build level"), NULL},
      {"instance", 'i', 0, G_OPTION_ARG_STRING, &global.instance,
       N_("The instance to talk to, written like the unit instance (default: the only one on the "
          "bus)"),
       N_("ROLE@INSTANCE")},
      {"json", 0, 0, G_OPTION_ARG_NONE, &global.json, N_("Print one JSON document instead of text"),
       NULL},
      {"no-ask-password", 0, 0, G_OPTION_ARG_NONE, &global.no_ask_password,
       N_("Never ask for a password when an action needs authentication"), NULL},
      {NULL},
  };

  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, locale_dir());
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);

  ctx = g_option_context_new(_("COMMAND [OPTION…]"));
  g_option_context_set_summary(ctx, _("Control and inspect tfst instances"));
  description = commands_description();
  g_option_context_set_description(ctx, description);
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  /* Stop at the command name: what follows are the command's options. */
  g_option_context_set_strict_posix(ctx, TRUE);
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    g_printerr("tfstctl: %s\n", error->message);
    return TFSTCTL_EXIT_USAGE;
  }
  if (version) {
    g_print("tfstctl %s (build level %s)\n", PACKAGE_VERSION, TFST_BUILD_LEVEL);
    return EXIT_SUCCESS;
  }
  if (argc < 2) {
    g_printerr(_("tfstctl: no command given; see --help\n"));
    return TFSTCTL_EXIT_USAGE;
  }
  cmd = find_command(argv[1]);
  if (cmd == NULL) {
    g_printerr(_("tfstctl: unknown command “%s”; see --help\n"), argv[1]);
    return TFSTCTL_EXIT_USAGE;
  }
  /* "Usage: tfstctl ports [OPTION…]" in the command's --help */
  prgname = g_strdup_printf("tfstctl %s", cmd->name);
  g_set_prgname(prgname);
  cmd_strings = command_argv(argc, argv, &global, &cmd_argv);
  return cmd->run((int)g_strv_length(cmd_strings), cmd_argv);
}
