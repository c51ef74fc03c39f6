/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl check [FILE…]: validates configurations without starting
 * anything, as sshd -t and haproxy -c do.  Each set (main file, drop-ins,
 * persisted settings) is checked by `tfstd --check-config`, so that the
 * verdict and the messages are exactly those of a start, TLS files
 * included, without tfstctl linking GnuTLS (tests/check-linkage.py). */
#include "tfstctl-bus.h"
#include "tfstctl-configs.h"
#include "tfstctl-output.h"
#include "tfstctl-pattern.h"

#include "tfst-config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <sys/wait.h>

typedef struct {
  char *name; /* ROLE@INSTANCE */
  TfstRole role;
  char *instance;
  char *path;     /* the main file */
  gboolean given; /* path is a FILE argument, not the configured one */
} CheckSet;

static void
check_set_free(CheckSet *s)
{
  g_free(s->name);
  g_free(s->instance);
  g_free(s->path);
  g_free(s);
}

/* TFSTD is for the test suite, which runs the build tree's tfstd. */
static const char *
tfstd_path(void)
{
  const char *path = g_getenv("TFSTD");

  return path != NULL && *path != '\0' ? path : TFSTD_PATH;
}

/* `name` says the instance (-i or the file's name ROLE@INSTANCE.conf);
 * `path` is the main file, NULL: the one in the configuration directory. */
static gboolean
add_set(GPtrArray *sets, const char *name, const char *path, GError **error)
{
  CheckSet *s = g_new0(CheckSet, 1);

  g_ptr_array_add(sets, s);
  if (!tfstctl_configs_parse_name(name, &s->role, &s->instance, error))
    return FALSE;
  s->name = g_strdup_printf("%s@%s", tfst_role_to_string(s->role), s->instance);
  s->given = path != NULL;
  s->path =
      path != NULL ? g_strdup(path) : g_strdup_printf("%s/%s.conf", tfstctl_configs_dir(), s->name);
  return TRUE;
}

/* FILE arguments: the instance from -i (no pattern then) or the name. */
static gboolean
add_file_sets(GPtrArray *sets, const char *instance, int argc, char **argv, GError **error)
{
  if (tfstctl_pattern_is(instance)) {
    g_set_error_literal(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                        _("with FILE arguments, -i names one instance, not a pattern"));
    return FALSE;
  }
  for (int i = 1; i < argc; i++) {
    if (add_set(sets, instance != NULL ? instance : argv[i], argv[i], error))
      continue;
    if (instance == NULL) {
      g_clear_error(error);
      g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                  _("cannot tell which instance %s is for: name the file ROLE@INSTANCE.conf or "
                    "give -i ROLE@INSTANCE"),
                  argv[i]);
    }
    return FALSE;
  }
  return TRUE;
}

/* No FILE: the instance -i names, or every configured instance (those
 * whose names match when -i is a pattern). */
static gboolean
add_configured_sets(GPtrArray *sets, const char *instance, GError **error)
{
  g_autoptr(GPtrArray) names = NULL;

  if (instance != NULL && !tfstctl_pattern_is(instance))
    return add_set(sets, instance, NULL, error);
  names = tfstctl_configs_list(instance, error);
  if (names == NULL)
    return FALSE;
  if (names->len == 0 && instance != NULL) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_NOT_FOUND,
                _("no configured instance matches “%s” in %s"), instance, tfstctl_configs_dir());
    return FALSE;
  }
  for (guint i = 0; i < names->len; i++)
    if (!add_set(sets, g_ptr_array_index(names, i), NULL, error))
      return FALSE;
  return TRUE;
}

typedef struct {
  int status; /* tfstd's exit status; -1: it did not run or died */
  char *out;
  char *err;
} CheckResult;

static void
check_result_clear(CheckResult *r)
{
  g_clear_pointer(&r->out, g_free);
  g_clear_pointer(&r->err, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CheckResult, check_result_clear)

/* A configured instance is checked as it starts, without --config: a
 * missing main file then means the defaults (drop-ins may still apply).
 * TFST_CONFIG_DIR is tfstctl's alone: tfstd needs the path then. */
static gboolean
needs_config_option(const CheckSet *s)
{
  return s->given || !g_str_equal(tfstctl_configs_dir(), SYSCONFDIR "/tfst");
}

static gboolean
run_check(const CheckSet *s, CheckResult *r, GError **error)
{
  g_autofree char *role = g_strconcat("--role=", tfst_role_to_string(s->role), NULL);
  g_autofree char *instance = g_strconcat("--instance=", s->instance, NULL);
  g_autofree char *config = needs_config_option(s) ? g_strconcat("--config=", s->path, NULL) : NULL;
  const char *argv[] = {tfstd_path(), "--check-config", role, instance, config, NULL};
  int wait_status = 0;

  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r->out, &r->err,
                    &wait_status, error)) {
    g_prefix_error(error, _("cannot run %s: "), argv[0]);
    return FALSE;
  }
  r->status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  return TRUE;
}

static JsonObject *
result_json(const CheckSet *s, const CheckResult *r)
{
  JsonObject *o = json_object_new();
  g_auto(GStrv) lines = g_strsplit(r->err, "\n", -1);
  JsonArray *messages = json_array_new();

  json_object_set_string_member(o, "instance", s->name);
  tfstctl_output_json_set_text(o, "config", s->path);
  json_object_set_boolean_member(o, "valid", r->status == 0);
  json_object_set_int_member(o, "exit_status", r->status);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      json_array_add_string_element(messages, lines[i]);
  json_object_set_array_member(o, "messages", messages);
  return o;
}

/* The worst outcome wins: an invalid configuration (78) over a tfstd
 * that could not check (1). */
static int
combine(int status, int result)
{
  if (status == TFST_EXIT_CONFIG || result == TFST_EXIT_CONFIG)
    return TFST_EXIT_CONFIG;
  return status != 0 ? status : result;
}

static int
check_one(const CheckSet *s, JsonArray *json)
{
  g_auto(CheckResult) r = {-1, NULL, NULL};
  g_autoptr(GError) error = NULL;

  if (!run_check(s, &r, &error))
    return tfstctl_fail(error);
  if (json != NULL) {
    json_array_add_object_element(json, result_json(s, &r));
  } else {
    fputs(r.err, stderr);
    fputs(r.out, stdout);
    fflush(stdout);
  }
  if (r.status == 0 || r.status == TFST_EXIT_CONFIG)
    return r.status;
  if (json == NULL)
    g_printerr(_("tfstctl: %s could not check %s (exit status %d)\n"), tfstd_path(), s->name,
               r.status);
  return TFSTCTL_EXIT_FAILURE;
}

int
tfstctl_check(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func((GDestroyNotify)check_set_free);
  g_autoptr(JsonArray) json = NULL;
  int status = TFSTCTL_EXIT_OK;

  ctx = tfstctl_option_context_new(
      _("[FILE…]"),
      _("Check configurations without starting anything: the main file, its drop-ins and the "
        "settings persisted at run time, with the files they name, as tfstd --check-config "
        "does. Without FILE, every instance configured (or those -i matches). A FILE named "
        "ROLE@INSTANCE.conf says its instance, otherwise -i does. Exit status 0 when all are "
        "valid, 78 when one is not."),
      NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, G_MAXINT, &error))
    return tfstctl_fail(error);
  if (!(argc > 1 ? add_file_sets(sets, opts.instance, argc, argv, &error)
                 : add_configured_sets(sets, opts.instance, &error)))
    return tfstctl_fail(error);
  if (sets->len == 0)
    g_printerr(_("tfstctl: no instance is configured in %s\n"), tfstctl_configs_dir());
  if (opts.json)
    json = json_array_new();
  for (guint i = 0; i < sets->len; i++)
    status = combine(status, check_one(g_ptr_array_index(sets, i), json));
  if (json != NULL) {
    g_autoptr(JsonObject) doc = json_object_new();

    /* One object, as every command prints (tfstctl(1), JSON OUTPUT). */
    json_object_set_array_member(doc, "instances", g_steal_pointer(&json));
    tfstctl_output_json_print_object(doc);
  }
  return status;
}
