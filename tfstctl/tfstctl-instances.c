/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Instances by pattern and by configuration (see tfstctl-instances.h). */
#include "tfstctl-instances.h"

#include "tfstctl-output.h"
#include "tfstctl-pattern.h"

#include <glib/gi18n.h>
#include <string.h>

/* The value of the last -i/--instance in argv (as GOption takes the last
 * one) and its index; -1 when there is none.  *ret_split says whether the
 * value is a separate argument ("-i X", "--instance X"). */
static int
find_instance_option(int argc, char **argv, const char **ret_value, gboolean *ret_split)
{
  int found = -1;

  for (int i = 1; i < argc && !g_str_equal(argv[i], "--"); i++) {
    gboolean split = (g_str_equal(argv[i], "-i") || g_str_equal(argv[i], "--instance"));

    if (split && i + 1 < argc) {
      *ret_value = argv[i + 1];
      *ret_split = TRUE;
      found = i++;
    } else if (g_str_has_prefix(argv[i], "--instance=") || g_str_has_prefix(argv[i], "-i")) {
      *ret_value = argv[i] + (argv[i][1] == 'i' ? 2 : strlen("--instance="));
      *ret_split = FALSE;
      found = i;
    }
  }
  return found;
}

static GPtrArray *
matching_instances(const char *pattern, GError **error)
{
  TfstctlOptions opts = {.no_ask_password = TRUE};
  g_autoptr(TfstctlBus) bus = tfstctl_bus_new(&opts, error);
  g_autoptr(GPtrArray) all = bus != NULL ? tfstctl_bus_list_instances(bus, error) : NULL;
  g_autoptr(GPtrArray) matching = g_ptr_array_new_with_free_func(g_free);

  if (all == NULL)
    return NULL;
  for (guint i = 0; i < all->len; i++)
    if (tfstctl_pattern_match(pattern, g_ptr_array_index(all, i)))
      g_ptr_array_add(matching, g_strdup(g_ptr_array_index(all, i)));
  if (matching->len == 0) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_NOT_FOUND,
                _("no instance on the system bus matches “%s”"), pattern);
    return NULL;
  }
  return g_steal_pointer(&matching);
}

/* argv with the -i at `at` (one or two arguments) naming `instance`. */
static char **
argv_for(int argc, char **argv, int at, gboolean split, const char *instance)
{
  GPtrArray *args = g_ptr_array_new();

  for (int i = 0; i < argc; i++) {
    if (i == at)
      g_ptr_array_add(args, g_strconcat("--instance=", instance, NULL));
    else if (!(split && i == at + 1))
      g_ptr_array_add(args, g_strdup(argv[i]));
  }
  g_ptr_array_add(args, NULL);
  return (char **)g_ptr_array_free(args, FALSE);
}

static int
run_one(int (*run)(int argc, char **argv), int argc, char **argv, int at, gboolean split,
        const char *instance)
{
  g_auto(GStrv) args = argv_for(argc, argv, at, split, instance);
  /* The command's option parser reorders its argv: give it a copy. */
  g_autofree char **shallow = g_memdup2(args, (g_strv_length(args) + 1) * sizeof(char *));

  return run((int)g_strv_length(args), shallow);
}

static gboolean
wants_json(int argc, char **argv)
{
  for (int i = 1; i < argc && !g_str_equal(argv[i], "--"); i++)
    if (g_str_equal(argv[i], "--json") || g_str_has_prefix(argv[i], "--json=p") ||
        g_str_has_prefix(argv[i], "--json=s"))
      return TRUE;
  return FALSE;
}

int
tfstctl_instances_run_one(int (*run)(int argc, char **argv), int argc, char **argv)
{
  const char *pattern = NULL;
  gboolean split = FALSE;

  if (find_instance_option(argc, argv, &pattern, &split) >= 0 && tfstctl_pattern_is(pattern)) {
    /* TRANSLATORS: the command's name, then the pattern given to -i */
    g_printerr(_("tfstctl: %s takes one instance, not a pattern (“%s”): what it names belongs "
                 "to one instance\n"),
               argv[0], pattern);
    return TFSTCTL_EXIT_USAGE;
  }
  return run(argc, argv);
}

int
tfstctl_instances_run(int (*run)(int argc, char **argv), int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) instances = NULL;
  const char *pattern = NULL;
  gboolean split = FALSE;
  gboolean text;
  int at = find_instance_option(argc, argv, &pattern, &split);
  int status = TFSTCTL_EXIT_OK;

  if (at < 0 || !tfstctl_pattern_is(pattern))
    return run(argc, argv);
  instances = matching_instances(pattern, &error);
  if (instances == NULL)
    return tfstctl_fail(error);
  text = !wants_json(argc, argv);
  for (guint i = 0; i < instances->len; i++) {
    const char *instance = g_ptr_array_index(instances, i);
    int rc;

    /* A block per instance, as systemctl status prints one per unit. */
    if (text && i > 0)
      g_print("\n");
    if (text && tfstctl_output_legend())
      g_print("● %s\n", instance);
    rc = run_one(run, argc, argv, at, split, instance);
    if (status == TFSTCTL_EXIT_OK)
      status = rc;
  }
  return status;
}
