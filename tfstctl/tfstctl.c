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

/* One row per command; D-Bus commands join here. */
static const TfstctlCommand commands[] = {
    {"ports", N_("List the ports of the ITM rule and who holds them"), tfstctl_ports},
};

static char *
commands_description(void)
{
  GString *s = g_string_new(_("Commands:"));

  for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
    g_string_append_printf(s, "\n  %-12s %s", commands[i].name, _(commands[i].summary));
  g_string_append(s, "\n\n");
  g_string_append(s, _("Run “tfstctl COMMAND --help” for the options of a command."));
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

int
main(int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;
  g_autofree char *prgname = NULL;
  const TfstctlCommand *cmd;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print version and build level"), NULL},
      {NULL},
  };

  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
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
    return EXIT_FAILURE;
  }
  if (version) {
    g_print("tfstctl %s (build level %s)\n", PACKAGE_VERSION, TFST_BUILD_LEVEL);
    return EXIT_SUCCESS;
  }
  if (argc < 2) {
    g_printerr(_("tfstctl: no command given; see --help\n"));
    return EXIT_FAILURE;
  }
  cmd = find_command(argv[1]);
  if (cmd == NULL) {
    g_printerr(_("tfstctl: unknown command “%s”; see --help\n"), argv[1]);
    return EXIT_FAILURE;
  }
  /* "Usage: tfstctl ports [OPTION…]" in the command's --help */
  prgname = g_strdup_printf("tfstctl %s", cmd->name);
  g_set_prgname(prgname);
  return cmd->run(argc - 1, argv + 1);
}
