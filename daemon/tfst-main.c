/* tfstd: argv, locale, signals and the main loop; everything else lives in
 * the daemon library. */
#include "tfst-config.h"
#include "tfst-error.h"
#include "tfst-version.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *role_str = NULL;
  g_autofree char *instance = NULL;
  g_autofree char *config_path = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
      {"role", 0, 0, G_OPTION_ARG_STRING, &role_str,
       N_("Component role: epproxy, gwproxy or relay"), N_("ROLE")},
      {"instance", 0, 0, G_OPTION_ARG_STRING, &instance, N_("Instance name (the unit's %i)"),
       N_("NAME")},
      {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
       N_("Configuration file (default /etc/tfst/ROLE@INSTANCE.conf)"), N_("FILE")},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print version and build level"), NULL},
      {NULL},
  };

  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);

  ctx = g_option_context_new(NULL);
  g_option_context_set_summary(ctx,
                               _("tfst component daemon: endpoint proxy, gateway proxy or relay"));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    g_printerr("tfstd: %s\n", error->message);
    return EXIT_FAILURE;
  }
  if (version) {
    g_print("tfstd %s (build level %s)\n", PACKAGE_VERSION, TFST_BUILD_LEVEL);
    return EXIT_SUCCESS;
  }
  g_printerr("tfstd: data plane not built yet\n");
  return EXIT_FAILURE;
}
