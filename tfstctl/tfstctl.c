/* tfstctl: command-line client for tfst instances. */
#include "tfst-version.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print version and build level"), NULL},
      {NULL},
  };

  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);

  ctx = g_option_context_new(_("COMMAND"));
  g_option_context_set_summary(ctx, _("Control and inspect tfst instances"));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    g_printerr("tfstctl: %s\n", error->message);
    return EXIT_FAILURE;
  }
  if (version) {
    g_print("tfstctl %s (build level %s)\n", PACKAGE_VERSION, TFST_BUILD_LEVEL);
    return EXIT_SUCCESS;
  }
  g_printerr(_("tfstctl: no command given; see --help\n"));
  return EXIT_FAILURE;
}
