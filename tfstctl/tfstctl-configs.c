/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfstctl-configs.h"

#include "tfstctl-bus.h"
#include "tfstctl-pattern.h"

#include <glib/gi18n.h>
#include <string.h>

const char *
tfstctl_configs_dir(void)
{
  const char *dir = g_getenv("TFST_CONFIG_DIR");

  return dir != NULL && *dir != '\0' ? dir : SYSCONFDIR "/tfst";
}

gboolean
tfstctl_configs_parse_name(const char *name, TfstRole *out_role, char **out_instance,
                           GError **error)
{
  g_autofree char *base = g_path_get_basename(name);
  const char *at = strchr(base, '@');
  g_autofree char *role_str = NULL;
  g_autofree char *instance = NULL;
  TfstRole role = TFST_ROLE_NONE;

  if (g_str_has_suffix(base, ".conf"))
    base[strlen(base) - strlen(".conf")] = '\0';
  if (at != NULL && at != base && at[1] != '\0') {
    role_str = g_strndup(base, (gsize)(at - base));
    role = tfst_role_from_string(role_str);
    instance = g_strdup(at + 1);
  }
  if (role == TFST_ROLE_NONE || strchr(instance, '/') != NULL) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                _("“%s” names no instance: write ROLE@INSTANCE (ROLE is epproxy, gwproxy or "
                  "relay), for example relay@2"),
                name);
    return FALSE;
  }
  *out_role = role;
  *out_instance = g_steal_pointer(&instance);
  return TRUE;
}

static gint
compare_names_cb(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* As tfst-generator: "<role>@<instance>.conf" of a known role, no hidden
 * files, no "<name>.conf.d" directories. */
static char *
instance_of_file(const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename(dir, file, NULL);
  g_autofree char *instance = NULL;
  TfstRole role;

  if (file[0] == '.' || !g_str_has_suffix(file, ".conf") || g_file_test(path, G_FILE_TEST_IS_DIR) ||
      !tfstctl_configs_parse_name(file, &role, &instance, NULL))
    return NULL;
  return g_strdup_printf("%s@%s", tfst_role_to_string(role), instance);
}

GPtrArray *
tfstctl_configs_list(const char *pattern, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) local = NULL;
  const char *dir_path = tfstctl_configs_dir();
  g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &local);
  const char *file;

  if (dir == NULL && !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED, "%s: %s", dir_path, local->message);
    return NULL;
  }
  while (dir != NULL && (file = g_dir_read_name(dir)) != NULL) {
    char *name = instance_of_file(dir_path, file);

    if (name != NULL && tfstctl_pattern_match(pattern, name))
      g_ptr_array_add(names, name);
    else
      g_free(name);
  }
  g_ptr_array_sort(names, compare_names_cb);
  return g_steal_pointer(&names);
}
