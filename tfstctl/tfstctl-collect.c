/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl collect: one tar archive with what support asks for first
 * (docs/diagnostics.md): the versions, the configuration files without
 * key material, each instance's journal and its state as JSON, the units
 * and the generator's output, the kernel values that matter.
 *
 * The archive is written by the tar tool, which every system that runs
 * systemd has: libarchive would be one more library in tfstctl for one
 * command, and tar's output is what support unpacks anyway.  Everything is
 * gathered in a private temporary directory first, so a partial archive
 * is never left behind. */
#include "tfstctl-bus.h"
#include "tfstctl-configs.h"
#include "tfstctl-journal.h"

#include "tfst-bus-name.h"
#include "tfst-config.h"
#include "tfst-version.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/utsname.h>

/* The newest journal entries per instance: a day of a busy instance at
 * LogLevel=1, and a bound on the archive's size. */
#define JOURNAL_MAX_ENTRIES 20000
/* Per file copied: a configuration is small, anything larger is not one. */
#define CONFIG_FILE_MAX (1024 * 1024)

typedef struct {
  char *dir;         /* the temporary directory */
  char *top;         /* the archive's top directory, inside dir */
  char *self;        /* this tfstctl, to run its commands for the JSON */
  GString *manifest; /* what is in the archive and what was left out */
} Collect;

static void
collect_clear(Collect *c)
{
  if (c->dir != NULL) {
    g_autoptr(GError) error = NULL;
    /* rm -r of our own mkdtemp directory: no symlink is followed. */
    const char *argv[] = {"rm", "-rf", "--one-file-system", c->dir, NULL};

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                      &error))
      g_printerr("tfstctl: %s\n", error->message);
  }
  g_clear_pointer(&c->dir, g_free);
  g_clear_pointer(&c->top, g_free);
  g_clear_pointer(&c->self, g_free);
  if (c->manifest != NULL)
    g_string_free(g_steal_pointer(&c->manifest), TRUE);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Collect, collect_clear)

/* ---- writing into the archive's directory */

static void note(Collect *c, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
note(Collect *c, const char *format, ...)
{
  va_list ap;

  va_start(ap, format);
  g_string_append_vprintf(c->manifest, format, ap);
  va_end(ap);
  g_string_append_c(c->manifest, '\n');
}

static void
add_file(Collect *c, const char *rel, const char *contents, gssize len)
{
  g_autofree char *path = g_build_filename(c->top, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_autoptr(GError) error = NULL;

  if (g_mkdir_with_parents(parent, 0700) < 0 ||
      !g_file_set_contents_full(path, contents, len, G_FILE_SET_CONTENTS_NONE, 0600, &error)) {
    note(c, "%s: not written: %s", rel, error != NULL ? error->message : g_strerror(errno));
    return;
  }
  note(c, "%s", rel);
}

/* Runs argv and stores what it printed as rel; a failure is stored too
 * (rel.error), as support wants to know that it failed and why. */
static void
add_command(Collect *c, const char *rel, const char *const *argv)
{
  g_autofree char *out = NULL, *err = NULL, *error_rel = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                    NULL, NULL, &out, &err, &status, &error)) {
    error_rel = g_strconcat(rel, ".error", NULL);
    add_file(c, error_rel, error->message, -1);
    return;
  }
  if (out != NULL && *out != '\0')
    add_file(c, rel, out, -1);
  if (!g_spawn_check_wait_status(status, NULL) || (out == NULL || *out == '\0')) {
    error_rel = g_strconcat(rel, ".error", NULL);
    add_file(c, error_rel, err != NULL && *err != '\0' ? err : "(no output)\n", -1);
  }
}

/* ---- what goes in */

static void
collect_version(Collect *c)
{
  struct utsname u;
  GString *s = g_string_new(NULL);
  g_autofree char *os = g_get_os_info(G_OS_INFO_KEY_PRETTY_NAME);

  g_string_append_printf(s, "tfstctl %s (build level %s)\n", PACKAGE_VERSION, TFST_BUILD_LEVEL);
  if (uname(&u) == 0)
    g_string_append_printf(s, "kernel %s %s %s\n", u.sysname, u.release, u.machine);
  g_string_append_printf(s, "os %s\n", os != NULL ? os : "unknown");
  g_string_append_printf(s, "host %s\n", g_get_host_name());
  add_file(c, "version.txt", s->str, (gssize)s->len);
  g_string_free(s, TRUE);
}

/* A line that carries key material itself (never a tfst setting, which
 * names files: a mistake worth not spreading further). */
static gboolean
line_is_secret(const char *line)
{
  g_autofree char *lower = g_ascii_strdown(line, -1);

  return strstr(lower, "private key") != NULL || strstr(lower, "secret") != NULL ||
         strstr(lower, "password") != NULL || g_str_has_prefix(g_strchug(lower), "psk=");
}

static char *
redacted(const char *text, guint *ret_removed)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  GString *s = g_string_new(NULL);
  guint removed = 0;

  for (guint i = 0; lines[i] != NULL; i++) {
    if (line_is_secret(lines[i])) {
      g_string_append(s, "# (line removed by tfstctl collect: it looks like key material)");
      removed++;
    } else {
      g_string_append(s, lines[i]);
    }
    if (lines[i + 1] != NULL)
      g_string_append_c(s, '\n');
  }
  *ret_removed = removed;
  return g_string_free(s, FALSE);
}

/* Copies `path` as rel when it is a configuration file (*.conf); anything
 * else there (certificates, keys, PSK files) is only named. */
static void
add_config(Collect *c, const char *path, const char *rel)
{
  g_autofree char *text = NULL, *clean = NULL;
  gsize len = 0;
  guint removed = 0;

  if (!g_str_has_suffix(path, ".conf")) {
    note(c,
         "%s: left out (not a configuration file: keys, certificates and PSK files are "
         "never collected)",
         rel);
    return;
  }
  if (!g_file_get_contents(path, &text, &len, NULL) || len > CONFIG_FILE_MAX ||
      !g_utf8_validate(text, (gssize)len, NULL)) {
    note(c, "%s: left out (unreadable, over 1 MiB or not text)", rel);
    return;
  }
  clean = redacted(text, &removed);
  add_file(c, rel, clean, -1);
  if (removed > 0)
    note(c, "%s: %u line(s) removed that looked like key material", rel, removed);
}

/* Every regular file under dir (one level of NAME.conf.d below). */
static void
add_config_dir(Collect *c, const char *dir, const char *rel_base, guint depth)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *rel = g_build_filename(rel_base, name, NULL);

    if (g_file_test(path, G_FILE_TEST_IS_SYMLINK))
      note(c, "%s: left out (a symbolic link)", rel);
    else if (g_file_test(path, G_FILE_TEST_IS_DIR) && depth == 0 &&
             g_str_has_suffix(name, ".conf.d"))
      add_config_dir(c, path, rel, depth + 1);
    else if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
      add_config(c, path, rel);
  }
}

/* The files tfstd reads for one configured instance, in the order they
 * apply (tfst_config_files(), as tfstctl cat prints them), so support
 * sees which of the copied files win. */
static void
add_config_order(Collect *c, const char *name)
{
  static const char *const kind_names[] = {"main", "drop-in", "persisted"};
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GString) s = g_string_new(NULL);
  g_autofree char *instance = NULL;
  g_autofree char *main_path = NULL;
  g_autofree char *rel = g_strdup_printf("instances/%s/config-files.txt", name);
  TfstRole role;

  if (!tfstctl_configs_parse_name(name, &role, &instance, &error))
    return;
  main_path =
      g_strdup_printf("%s/%s@%s.conf", tfstctl_configs_dir(), tfst_role_to_string(role), instance);
  files = tfst_config_files(role, instance, main_path, &error);
  if (files == NULL) {
    note(c, "%s: %s", rel, error->message);
    return;
  }
  for (guint i = 0; i < files->len; i++) {
    const TfstConfigFile *f = g_ptr_array_index(files, i);

    g_string_append_printf(s, "%s %s\n", kind_names[f->kind], f->path);
  }
  add_file(c, rel, s->str, (gssize)s->len);
}

static void
collect_configs(Collect *c, const char *config_dir, const char *state_dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = NULL;

  add_config_dir(c, config_dir, "config/etc", 0);
  /* The drop-ins that persisted live changes override /etc. */
  add_config_dir(c, state_dir, "config/state", 0);
  names = tfstctl_configs_list(NULL, &error);
  if (names == NULL) {
    note(c, "instances/*/config-files.txt: %s", error->message);
    return;
  }
  for (guint i = 0; i < names->len; i++)
    add_config_order(c, g_ptr_array_index(names, i));
}

/* tfstctl --json -i INSTANCE ARGS..., as the file rel. */
static void
add_tfstctl(Collect *c, const char *instance, const char *rel, const char *a1, const char *a2)
{
  g_autofree char *instance_arg = g_strconcat("--instance=", instance, NULL);
  const char *argv[] = {c->self, "--json", "--no-ask-password", instance_arg, a1, a2, NULL};

  add_command(c, rel, argv);
}

static void
collect_instance(Collect *c, const char *instance)
{
  g_autofree char *base = g_build_filename("instances", instance, NULL);
  static const char *const commands[][3] = {
      {"status.json", "status", "--lines=0"},  {"chain.json", "chain", NULL},
      {"sessions.json", "sessions", NULL},     {"stats.json", "stats", NULL},
      {"keepalive.json", "keepalive", "show"}, {"keepalive-audit.json", "keepalive", "audit"},
      {"events.json", "events", NULL},
  };
  g_autoptr(GPtrArray) journal = tfstctl_journal_export(instance, 0, JOURNAL_MAX_ENTRIES);
  g_autofree char *journal_rel = g_build_filename(base, "journal.txt", NULL);
  g_autofree char *text = NULL;

  for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
    g_autofree char *rel = g_build_filename(base, commands[i][0], NULL);
    add_tfstctl(c, instance, rel, commands[i][1], commands[i][2]);
  }
  g_ptr_array_add(journal, NULL);
  text = g_strjoinv("\n", (char **)journal->pdata);
  if (journal->len > 1)
    add_file(c, journal_rel, text, -1);
  else
    note(c, "%s: no journal entries readable (run as root or in group systemd-journal)",
         journal_rel);
}

static void
collect_instances(Collect *c, TfstctlBus *bus)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) instances = tfstctl_bus_list_instances(bus, &error);
  const char *host_argv[] = {c->self, "--json", "ports", NULL};
  const char *spi_argv[] = {c->self, "--json", "spi", "stats", NULL};

  if (instances == NULL) {
    note(c, "instances: the system bus cannot be read: %s", error->message);
    return;
  }
  for (guint i = 0; i < instances->len; i++)
    collect_instance(c, g_ptr_array_index(instances, i));
  add_command(c, "host/ports.json", host_argv);
  add_command(c, "host/spi-stats.json", spi_argv);
}

/* tfst-generator's output: the units and drop-ins it wrote (their names
 * have "tfst" in them, at the top or in a .wants/.d directory), and the
 * targets of its symbolic links.  Nothing else of the directory. */
static void
add_generated(Collect *c, const char *dir, const char *rel_base, guint depth)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *rel = g_build_filename(rel_base, name, NULL);
    g_autofree char *target = NULL, *text = NULL;
    gboolean ours = strstr(name, "tfst") != NULL;

    if ((target = g_file_read_link(path, NULL)) != NULL) {
      if (ours)
        note(c, "%s -> %s (a symbolic link)", rel, target);
    } else if (g_file_test(path, G_FILE_TEST_IS_DIR) && depth == 0) {
      add_generated(c, path, rel, depth + 1);
    } else if (ours && g_file_test(path, G_FILE_TEST_IS_REGULAR) &&
               g_file_get_contents(path, &text, NULL, NULL)) {
      add_file(c, rel, text, -1);
    }
  }
}

static void
collect_units(Collect *c)
{
  const char *cat[] = {"systemctl", "--no-pager", "cat", "tfst*", NULL};
  const char *list[] = {"systemctl", "--no-pager", "--all", "list-units", "tfst*", NULL};
  const char *files[] = {"systemctl", "--no-pager", "list-unit-files", "tfst*", NULL};
  const char *status[] = {"systemctl", "--no-pager", "--full", "status", "tfst*", NULL};
  static const char *const generator_dirs[] = {"/run/systemd/generator",
                                               "/run/systemd/generator.late"};

  add_command(c, "units/systemctl-cat.txt", cat);
  add_command(c, "units/list-units.txt", list);
  add_command(c, "units/list-unit-files.txt", files);
  add_command(c, "units/status.txt", status);
  for (guint i = 0; i < G_N_ELEMENTS(generator_dirs); i++) {
    g_autofree char *rel = g_strconcat("units/", strrchr(generator_dirs[i], '/') + 1, NULL);
    add_generated(c, generator_dirs[i], rel, 0);
  }
}

/* The kernel values that decide ports, keepalive, backlog and binding. */
static const char *const sysctls[] = {
    "kernel/osrelease",
    "net/ipv4/ip_local_port_range",
    "net/ipv4/ip_local_reserved_ports",
    "net/ipv4/ip_nonlocal_bind",
    "net/ipv6/ip_nonlocal_bind",
    "net/ipv4/tcp_keepalive_time",
    "net/ipv4/tcp_keepalive_intvl",
    "net/ipv4/tcp_keepalive_probes",
    "net/ipv4/tcp_retries2",
    "net/ipv4/tcp_fin_timeout",
    "net/ipv4/tcp_syncookies",
    "net/ipv4/tcp_max_syn_backlog",
    "net/core/somaxconn",
    "net/core/rmem_max",
    "net/core/wmem_max",
    "net/ipv4/tcp_rmem",
    "net/ipv4/tcp_wmem",
    "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established",
    "fs/file-nr",
    "fs/nr_open",
};

static void
collect_kernel(Collect *c)
{
  GString *s = g_string_new(NULL);

  for (guint i = 0; i < G_N_ELEMENTS(sysctls); i++) {
    g_autofree char *path = g_build_filename("/proc/sys", sysctls[i], NULL);
    g_autofree char *value = NULL;
    g_autofree char *name = g_strdelimit(g_strdup(sysctls[i]), "/", '.');

    if (g_file_get_contents(path, &value, NULL, NULL))
      g_string_append_printf(s, "%s = %s\n", name, g_strstrip(g_strdelimit(value, "\t\n", ' ')));
    else
      g_string_append_printf(s, "%s: (not available)\n", name);
  }
  /* Kernel TLS: whether the module is there, and its counters. */
  g_string_append_printf(s, "tls module: %s\n",
                         g_file_test("/sys/module/tls", G_FILE_TEST_IS_DIR) ? "loaded"
                                                                            : "not loaded");
  add_file(c, "kernel/sysctl.txt", s->str, (gssize)s->len);
  g_string_free(s, TRUE);
  {
    g_autofree char *tls_stat = NULL;
    if (g_file_get_contents("/proc/net/tls_stat", &tls_stat, NULL, NULL))
      add_file(c, "kernel/tls_stat.txt", tls_stat, -1);
  }
}

/* ---- the archive */

static gboolean
pack(Collect *c, const char *output, GError **error)
{
  g_autofree char *top_name = g_path_get_basename(c->top);
  const char *argv[] = {"tar",       "--create",        "--gzip", "--file",
                        output,      "--directory",     c->dir,   "--owner=0",
                        "--group=0", "--numeric-owner", top_name, NULL};
  int status = 0;
  g_autofree char *err = NULL;

  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                    NULL, NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status(status, NULL)) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED, _("tar could not write “%s”: %s"),
                output, err != NULL ? g_strstrip(err) : "");
    return FALSE;
  }
  return TRUE;
}

static char *
default_output(void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autofree char *when = g_date_time_format(now, "%Y%m%d-%H%M%S");

  return g_strdup_printf("tfst-collect-%s-%s.tar.gz", g_get_host_name(), when);
}

static gboolean
collect_prepare(Collect *c, const char *output, GError **error)
{
  g_autofree char *base = g_path_get_basename(output);
  char *dot = strstr(base, ".tar");

  if (dot != NULL)
    *dot = '\0';
  c->dir = g_dir_make_tmp("tfst-collect-XXXXXX", error);
  if (c->dir == NULL)
    return FALSE;
  c->top = g_build_filename(c->dir,
                            *base != '\0' && !g_str_equal(base, "-") ? base : "tfst-collect", NULL);
  c->self = g_file_read_link("/proc/self/exe", error);
  c->manifest = g_string_new(NULL);
  return c->self != NULL && g_mkdir(c->top, 0700) == 0;
}

int
tfstctl_collect(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_auto(Collect) c = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autofree char *output = NULL, *config_dir = NULL, *state_dir = NULL;
  const GOptionEntry entries[] = {
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
       N_("Write the archive to FILE (default tfst-collect-HOST-TIME.tar.gz here; - for stdout)"),
       N_("FILE")},
      {"config-dir", 0, 0, G_OPTION_ARG_FILENAME, &config_dir,
       N_("Read the configuration files from DIR instead of tfst's directory in the system "
          "configuration directory"),
       N_("DIR")},
      {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
       N_("Read the drop-ins that persisted live changes from DIR instead of tfst's state "
          "directory"),
       N_("DIR")},
      {NULL},
  };

  ctx = tfstctl_option_context_new(
      NULL,
      _("Write one tar archive with what support needs: versions, the configuration files "
        "(without keys, certificates or PSK files), each instance's journal and its state as "
        "JSON, the units and the generator's output, and kernel values.  See MANIFEST.txt "
        "inside for what was left out and why."),
      entries, &opts, FALSE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  if (output == NULL)
    output = default_output();
  /* tfst_config_files() and tfstctl_configs_list() read these, as
   * tfst-generator and tfstd do; set before any thread starts. */
  if (config_dir != NULL)
    g_setenv("TFST_CONFIG_DIR", config_dir, TRUE);
  if (state_dir != NULL)
    g_setenv("STATE_DIRECTORY", state_dir, TRUE);
  if (!collect_prepare(&c, output, &error))
    return tfstctl_fail(error);
  collect_version(&c);
  g_free(state_dir);
  state_dir = tfst_config_state_dir();
  collect_configs(&c, tfstctl_configs_dir(), state_dir);
  bus = tfstctl_bus_new(&opts, &error);
  if (bus != NULL)
    collect_instances(&c, bus);
  else
    note(&c, "instances: no system bus: %s", error->message);
  collect_units(&c);
  collect_kernel(&c);
  add_file(&c, "MANIFEST.txt", c.manifest->str, (gssize)c.manifest->len);
  g_clear_error(&error);
  if (!pack(&c, output, &error))
    return tfstctl_fail(error);
  if (!g_str_equal(output, "-"))
    /* TRANSLATORS: %s is the archive's file name. */
    g_printerr(_("Wrote %s\n"), output);
  return TFSTCTL_EXIT_OK;
}
