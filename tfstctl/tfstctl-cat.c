/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl cat: every file that makes up an instance's configuration, in
 * the order they apply, each under a "# PATH" line, as systemctl cat shows
 * a unit and its drop-ins.  The list is the loader's own
 * (tfst_config_files), so it cannot drift from what tfstd reads.  Drop-ins
 * persisted at run time are marked: they override /etc, which is easy to
 * miss when editing /etc. */
#include "tfstctl-bus.h"
#include "tfstctl-configs.h"
#include "tfstctl-output.h"
#include "tfstctl-pattern.h"

#include "tfst-config.h"
#include "tfst-file.h"

#include <glib/gi18n.h>

static const char *const kind_names[] = {"main", "drop-in", "persisted"};

/* -i PATTERN or one ROLE@INSTANCE argument; a pattern may name several. */
static GPtrArray *
chosen_instances(const TfstctlOptions *opts, int argc, char **argv, GError **error)
{
  const char *name = argc > 1 ? argv[1] : opts->instance;
  GPtrArray *names;

  if (name == NULL || (argc > 1 && opts->instance != NULL)) {
    g_set_error_literal(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                        _("name one instance: tfstctl cat -i ROLE@INSTANCE"));
    return NULL;
  }
  if (!tfstctl_pattern_is(name)) {
    names = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(names, g_strdup(name));
    return names;
  }
  names = tfstctl_configs_list(name, error);
  if (names != NULL && names->len == 0) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_NOT_FOUND,
                _("no configured instance matches “%s” in %s"), name, tfstctl_configs_dir());
    g_clear_pointer(&names, g_ptr_array_unref);
  }
  return names;
}

/* The files of one instance; an instance without any is not found, as
 * systemctl cat says of a unit without files. */
static GPtrArray *
instance_files(const char *name, GError **error)
{
  g_autofree char *instance = NULL;
  g_autofree char *main_path = NULL;
  g_autoptr(GPtrArray) files = NULL;
  TfstRole role;

  if (!tfstctl_configs_parse_name(name, &role, &instance, error))
    return NULL;
  main_path =
      g_strdup_printf("%s/%s@%s.conf", tfstctl_configs_dir(), tfst_role_to_string(role), instance);
  files = tfst_config_files(role, instance, main_path, error);
  if (files == NULL)
    return NULL;
  if (files->len == 1 && !g_file_test(main_path, G_FILE_TEST_EXISTS)) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_NOT_FOUND,
                _("%s has no configuration files (there is no %s)"), name, main_path);
    return NULL;
  }
  return g_steal_pointer(&files);
}

/* NULL and a message on stderr when the file cannot be read (a persisted
 * drop-in below a state directory only tfst may read, for one). */
static char *
read_file(const TfstConfigFile *f, gboolean *inout_failed)
{
  g_autoptr(GError) error = NULL;
  char *text = tfst_file_read(f->path, TFST_FILE_MAX, NULL, &error);

  if (text == NULL && !(f->kind == TFST_CONFIG_FILE_MAIN &&
                        g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))) {
    g_printerr(_("tfstctl: %s: cannot read the file: %s\n"), f->path, error->message);
    *inout_failed = TRUE;
  }
  return text;
}

static void
print_file(const TfstConfigFile *f, const char *text, gboolean first)
{
  if (!first)
    g_print("\n");
  g_print("# %s\n", f->path);
  if (f->kind == TFST_CONFIG_FILE_MAIN && text == NULL)
    g_print("# %s\n", _("This file does not exist: the defaults apply."));
  if (f->kind == TFST_CONFIG_FILE_PERSISTED)
    g_print("# %s\n", _("Changed at run time (--persist): overrides the files above."));
  if (text != NULL) {
    g_print("%s", text);
    if (*text != '\0' && !g_str_has_suffix(text, "\n"))
      g_print("\n");
  }
}

static JsonObject *
file_json(const char *name, const TfstConfigFile *f, const char *text)
{
  JsonObject *o = json_object_new();

  json_object_set_string_member(o, "instance", name);
  tfstctl_output_json_set_text(o, "path", f->path);
  json_object_set_string_member(o, "kind", kind_names[f->kind]);
  json_object_set_boolean_member(o, "exists", text != NULL);
  tfstctl_output_json_set_text(o, "text", text);
  return o;
}

static gboolean
cat_instance(const char *name, JsonArray *json, gboolean *inout_first, gboolean *inout_failed,
             GError **error)
{
  g_autoptr(GPtrArray) files = instance_files(name, error);

  if (files == NULL)
    return FALSE;
  for (guint i = 0; i < files->len; i++) {
    const TfstConfigFile *f = g_ptr_array_index(files, i);
    g_autofree char *text = read_file(f, inout_failed);

    if (json != NULL)
      json_array_add_object_element(json, file_json(name, f, text));
    else
      print_file(f, text, *inout_first);
    *inout_first = FALSE;
  }
  return TRUE;
}

int
tfstctl_cat(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(JsonArray) json = NULL;
  gboolean first = TRUE, failed = FALSE;

  ctx = tfstctl_option_context_new(
      _("[ROLE@INSTANCE]"),
      _("Print every file of an instance's configuration in the order they apply, each under a "
        "line with its path: the main file, its drop-ins, then the settings persisted at run "
        "time, which override both."),
      NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 1, &error))
    return tfstctl_fail(error);
  names = chosen_instances(&opts, argc, argv, &error);
  if (names == NULL)
    return tfstctl_fail(error);
  if (opts.json)
    json = json_array_new();
  for (guint i = 0; i < names->len; i++)
    if (!cat_instance(g_ptr_array_index(names, i), json, &first, &failed, &error))
      return tfstctl_fail(error);
  if (json != NULL) {
    g_autoptr(JsonObject) doc = json_object_new();

    /* One object, as every command prints (tfstctl(1), JSON OUTPUT). */
    json_object_set_array_member(doc, "files", g_steal_pointer(&json));
    tfstctl_output_json_print_object(doc);
  }
  return failed ? TFSTCTL_EXIT_FAILURE : TFSTCTL_EXIT_OK;
}
