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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The newest journal entries per instance: a day of a busy instance at
 * LogLevel=1, and a bound on the archive's size. */
#define JOURNAL_MAX_ENTRIES 20000
/* Per file copied: a configuration is small, anything larger is not one. */
#define CONFIG_FILE_MAX (1024 * 1024)

typedef int CollectFd;
static void
fd_close(int fd)
{
  if (fd >= 0)
    close(fd);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(CollectFd, fd_close, -1)
typedef DIR CollectDir;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CollectDir, closedir)

typedef struct {
  char *output;      /* the archive, created by collect_prepare(), NULL for stdout */
  int out_fd;        /* open on output: tar writes its stdout there */
  gboolean packed;   /* output is complete: keep it */
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
  /* Never a partial archive: only one that tar completed stays. */
  if (c->output != NULL && !c->packed)
    (void)g_unlink(c->output);
  g_clear_pointer(&c->output, g_free);
  fd_close(c->out_fd);
  c->out_fd = -1;
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

/* Whether rel stays below the archive's top directory: instance names come
 * from the bus and file names from directories that others may write. */
static gboolean
rel_is_inside(const char *rel)
{
  g_auto(GStrv) parts = g_strsplit(rel, "/", -1);

  if (g_path_is_absolute(rel))
    return FALSE;
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal(parts[i], ".."))
      return FALSE;
  return TRUE;
}

static void
add_file(Collect *c, const char *rel, const char *contents, gssize len)
{
  g_autofree char *path = g_build_filename(c->top, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_autoptr(GError) error = NULL;

  if (!rel_is_inside(rel)) {
    note(c, "%s: not written: the name leaves the archive's directory", rel);
    return;
  }
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

/* ---- configuration files, without key material */

/* name below dfd (AT_FDCWD: name is a path) when it is a regular file of
 * at most max bytes, read from the descriptor that was checked and never
 * through a symbolic link: collect runs as root and the state directory
 * belongs to the user tfst. */
static char *
read_regular_at(int dfd, const char *name, gsize max, gsize *ret_len)
{
  g_auto(CollectFd) fd =
      openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  g_autofree char *buf = NULL;
  struct stat st;
  gsize len = 0;
  gssize n = 1;

  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (guint64)st.st_size > max)
    return NULL;
  buf = g_malloc(max + 1);
  while (len <= max && (n = read(fd, buf + len, max + 1 - len)) > 0)
    len += (gsize)n;
  if (n < 0 || len > max)
    return NULL;
  buf[len] = '\0';
  *ret_len = len;
  return g_steal_pointer(&buf);
}

/* The value of `key = value` (any case, spaces around '=') in a stripped
 * line, or NULL. */
static const char *
key_value(const char *line, const char *key)
{
  const char *p = line + strlen(key);

  if (g_ascii_strncasecmp(line, key, strlen(key)) != 0)
    return NULL;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p != '=')
    return NULL;
  for (p++; *p == ' ' || *p == '\t';)
    p++;
  return p;
}

/* A PSK file's line, LABEL:HEXKEY (docs/configuration.md), the key at
 * least 16 bytes. */
static gboolean
is_psk_line(const char *line)
{
  const char *colon = strrchr(line, ':');
  gsize digits = 0;

  if (colon == NULL || colon == line)
    return FALSE;
  for (const char *p = colon + 1; *p != '\0'; p++, digits++)
    if (!g_ascii_isxdigit(*p))
      return FALSE;
  return digits >= 32;
}

/* A line that carries key material itself (never a tfst setting, which
 * names files: a mistake worth not spreading further). */
static gboolean
line_is_secret(const char *line)
{
  g_autofree char *lower = g_ascii_strdown(line, -1);
  const char *s = g_strstrip(lower);

  return strstr(s, "private key") != NULL || strstr(s, "secret") != NULL ||
         strstr(s, "password") != NULL || key_value(s, "psk") != NULL || is_psk_line(s);
}

/* Whether to drop line: a secret, or any line of a PEM block (BEGIN to
 * END: its base64 body is the key). */
static gboolean
line_removed(const char *line, gboolean *in_pem)
{
  if (strstr(line, "-----BEGIN ") != NULL)
    *in_pem = TRUE;
  if (*in_pem) {
    *in_pem = strstr(line, "-----END ") == NULL;
    return TRUE;
  }
  return line_is_secret(line);
}

static char *
redacted(const char *text, guint *ret_removed)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  GString *s = g_string_new(NULL);
  guint removed = 0;
  gboolean in_pem = FALSE;

  for (guint i = 0; lines[i] != NULL; i++) {
    if (line_removed(lines[i], &in_pem)) {
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

/* A file found in a configuration directory; text NULL when it is not
 * copied (why is in the manifest already). */
typedef struct {
  char *path; /* canonical, to compare with the files settings name */
  char *rel;
  char *text;
} ConfigEntry;

static void
config_entry_free(ConfigEntry *e)
{
  g_free(e->path);
  g_free(e->rel);
  g_free(e->text);
  g_free(e);
}

/* Reads name (in dfd) when it is a configuration file (*.conf); anything
 * else there (certificates, keys, PSK files) is only named. */
static void
scan_config(Collect *c, int dfd, const char *name, ConfigEntry *e)
{
  gsize len = 0;

  if (!g_str_has_suffix(name, ".conf")) {
    note(c,
         "%s: left out (not a configuration file: keys, certificates and PSK files are "
         "never collected)",
         e->rel);
    return;
  }
  e->text = read_regular_at(dfd, name, CONFIG_FILE_MAX, &len);
  if (e->text == NULL || !g_utf8_validate(e->text, (gssize)len, NULL)) {
    g_clear_pointer(&e->text, g_free);
    note(c, "%s: left out (unreadable, over 1 MiB, not a regular file or not text)", e->rel);
  }
}

static void scan_config_dir(Collect *c, int dfd, const char *dir, const char *rel_base, guint depth,
                            GPtrArray *entries);

static void
scan_config_entry(Collect *c, int dfd, const char *dir, const char *name, const char *rel_base,
                  guint depth, GPtrArray *entries)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autofree char *rel = g_build_filename(rel_base, name, NULL);
  struct stat st;

  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return;
  if (S_ISLNK(st.st_mode)) {
    note(c, "%s: left out (a symbolic link)", rel);
  } else if (S_ISDIR(st.st_mode) && depth == 0 && g_str_has_suffix(name, ".conf.d")) {
    g_auto(CollectFd) sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (sub >= 0)
      scan_config_dir(c, sub, path, rel, depth + 1, entries);
  } else if (S_ISREG(st.st_mode)) {
    ConfigEntry *e = g_new0(ConfigEntry, 1);

    e->path = g_canonicalize_filename(path, NULL);
    e->rel = g_steal_pointer(&rel);
    scan_config(c, dfd, name, e);
    g_ptr_array_add(entries, e);
  }
}

/* Every regular file in dfd (the directory dir), one level of NAME.conf.d
 * below, into entries. */
static void
scan_config_dir(Collect *c, int dfd, const char *dir, const char *rel_base, guint depth,
                GPtrArray *entries)
{
  int fd = dup(dfd);
  g_autoptr(CollectDir) d = fd >= 0 ? fdopendir(fd) : NULL;
  struct dirent *de;

  if (d == NULL) {
    fd_close(fd);
    return;
  }
  while ((de = readdir(d)) != NULL)
    if (!g_str_equal(de->d_name, ".") && !g_str_equal(de->d_name, ".."))
      scan_config_entry(c, dfd, dir, de->d_name, rel_base, depth, entries);
}

static void
scan_config_top(Collect *c, const char *dir, const char *rel_base, GPtrArray *entries)
{
  g_auto(CollectFd) dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (dfd >= 0)
    scan_config_dir(c, dfd, dir, rel_base, 0, entries);
}

/* The files that the settings naming files (tfst-config.c: Certificate=,
 * Key=, TrustedCA=, PSKFile=) name in any of the configuration files:
 * never copied, whatever their names. */
static GHashTable *
named_files(GPtrArray *entries)
{
  static const char *const keys[] = {"Certificate", "Key", "TrustedCA", "PSKFile"};
  GHashTable *named = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < entries->len; i++) {
    const ConfigEntry *e = g_ptr_array_index(entries, i);
    g_auto(GStrv) lines = e->text != NULL ? g_strsplit(e->text, "\n", -1) : NULL;

    for (guint l = 0; lines != NULL && lines[l] != NULL; l++)
      for (guint k = 0; k < G_N_ELEMENTS(keys); k++) {
        const char *value = key_value(g_strstrip(lines[l]), keys[k]);

        if (value != NULL && *value != '\0')
          g_hash_table_add(named, g_canonicalize_filename(value, NULL));
      }
  }
  return named;
}

static void
add_config(Collect *c, const ConfigEntry *e, GHashTable *named)
{
  g_autofree char *clean = NULL;
  guint removed = 0;

  if (g_hash_table_contains(named, e->path)) {
    note(c, "%s: left out (a configuration names it as a key, certificate or PSK file)", e->rel);
    return;
  }
  if (e->text == NULL)
    return;
  clean = redacted(e->text, &removed);
  add_file(c, e->rel, clean, -1);
  if (removed > 0)
    note(c, "%s: %u line(s) removed that looked like key material", e->rel, removed);
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

  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify)config_entry_free);
  g_autoptr(GHashTable) named = NULL;

  scan_config_top(c, config_dir, "config/etc", entries);
  /* The drop-ins that persisted live changes override /etc. */
  scan_config_top(c, state_dir, "config/state", entries);
  named = named_files(entries);
  for (guint i = 0; i < entries->len; i++)
    add_config(c, g_ptr_array_index(entries, i), named);
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
    gsize len = 0;
    gboolean ours = strstr(name, "tfst") != NULL;

    if ((target = g_file_read_link(path, NULL)) != NULL) {
      if (ours)
        note(c, "%s -> %s (a symbolic link)", rel, target);
    } else if (g_file_test(path, G_FILE_TEST_IS_DIR) && depth == 0) {
      add_generated(c, path, rel, depth + 1);
    } else if (ours && (text = read_regular_at(AT_FDCWD, path, CONFIG_FILE_MAX, &len)) != NULL) {
      add_file(c, rel, text, (gssize)len);
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
pack(Collect *c, GError **error)
{
  g_autofree char *top_name = g_path_get_basename(c->top);
  /* tar writes to its standard output, our file: it never sees the name,
   * so a name with a colon is not a remote archive. */
  const char *argv[] = {"tar",       "--create",        "--gzip", "--file",
                        "-",         "--directory",     c->dir,   "--owner=0",
                        "--group=0", "--numeric-owner", top_name, NULL};
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) tar = NULL;
  g_autofree char *err = NULL;

  if (c->out_fd >= 0)
    g_subprocess_launcher_take_stdout_fd(launcher, g_steal_fd(&c->out_fd));
  tar = g_subprocess_launcher_spawnv(launcher, argv, error);
  if (tar == NULL || !g_subprocess_communicate_utf8(tar, NULL, NULL, NULL, &err, error))
    return FALSE;
  if (!g_subprocess_get_if_exited(tar) || g_subprocess_get_exit_status(tar) != 0) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED, _("tar could not write “%s”: %s"),
                c->output != NULL ? c->output : "-", err != NULL ? g_strstrip(err) : "");
    return FALSE;
  }
  c->packed = TRUE;
  return TRUE;
}

static char *
default_output(void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local();
  g_autofree char *when = g_date_time_format(now, "%Y%m%d-%H%M%S");

  return g_strdup_printf("tfst-collect-%s-%s.tar.gz", g_get_host_name(), when);
}

/* The archive's top directory: the output's name without .tar...; a name
 * that is no file name ("/", "..tar.gz", "-") gives tfst-collect. */
static char *
top_name(const char *output)
{
  g_autofree char *base = g_path_get_basename(output);
  char *dot = strstr(base, ".tar");

  if (dot != NULL)
    *dot = '\0';
  if (*base == '\0' || strchr(base, '/') != NULL || g_str_equal(base, "-") ||
      g_str_equal(base, ".") || g_str_equal(base, ".."))
    return g_strdup("tfst-collect");
  return g_steal_pointer(&base);
}

/* The archive is created here, new and private (a root's collect may hold
 * what others must not read, often in /tmp), before anything is gathered:
 * a name that cannot be written fails at once. */
static gboolean
open_output(Collect *c, const char *output, GError **error)
{
  int saved;

  if (g_str_equal(output, "-"))
    return TRUE;
  c->out_fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
  if (c->out_fd >= 0) {
    c->output = g_strdup(output);
    return TRUE;
  }
  saved = errno;
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED, _("Cannot create “%s”: %s"), output,
              g_strerror(saved));
  return FALSE;
}

static gboolean
collect_prepare(Collect *c, const char *output, GError **error)
{
  g_autofree char *top = top_name(output);
  int saved;

  c->manifest = g_string_new(NULL);
  if (!open_output(c, output, error))
    return FALSE;
  c->dir = g_dir_make_tmp("tfst-collect-XXXXXX", error);
  if (c->dir == NULL)
    return FALSE;
  c->top = g_build_filename(c->dir, top, NULL);
  c->self = g_file_read_link("/proc/self/exe", error);
  if (c->self == NULL)
    return FALSE;
  if (g_mkdir(c->top, 0700) == 0)
    return TRUE;
  saved = errno;
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_FAILED, _("Cannot create “%s”: %s"), c->top,
              g_strerror(saved));
  return FALSE;
}

/* Everything into c's directory, the manifest last. */
static void
collect_gather(Collect *c, const TfstctlOptions *opts)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autofree char *state_dir = tfst_config_state_dir();

  collect_version(c);
  collect_configs(c, tfstctl_configs_dir(), state_dir);
  bus = tfstctl_bus_new(opts, &error);
  if (bus != NULL)
    collect_instances(c, bus);
  else
    note(c, "instances: no system bus: %s", error->message);
  collect_units(c);
  collect_kernel(c);
  add_file(c, "MANIFEST.txt", c->manifest->str, (gssize)c->manifest->len);
}

typedef struct {
  char *output;
  char *config_dir;
  char *state_dir;
} CollectArgs;

static void
collect_args_clear(CollectArgs *args)
{
  g_clear_pointer(&args->output, g_free);
  g_clear_pointer(&args->config_dir, g_free);
  g_clear_pointer(&args->state_dir, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CollectArgs, collect_args_clear)

static gboolean
parse_collect_options(int *argc, char ***argv, TfstctlOptions *opts, CollectArgs *args,
                      GError **error)
{
  const GOptionEntry entries[] = {
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &args->output,
       N_("Write the archive to FILE (default tfst-collect-HOST-TIME.tar.gz here; - for stdout)"),
       N_("FILE")},
      {"config-dir", 0, 0, G_OPTION_ARG_FILENAME, &args->config_dir,
       N_("Read the configuration files from DIR instead of tfst's directory in the system "
          "configuration directory"),
       N_("DIR")},
      {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &args->state_dir,
       N_("Read the drop-ins that persisted live changes from DIR instead of tfst's state "
          "directory"),
       N_("DIR")},
      {NULL},
  };
  g_autoptr(GOptionContext) ctx = tfstctl_option_context_new(
      NULL,
      _("Write one tar archive with what support needs: versions, the configuration files "
        "(without keys, certificates or PSK files), each instance's journal and its state as "
        "JSON, the units and the generator's output, and kernel values.  See MANIFEST.txt "
        "inside for what was left out and why."),
      entries, opts, FALSE);

  return tfstctl_parse_options(ctx, argc, argv, 0, error);
}

int
tfstctl_collect(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_auto(Collect) c = {.out_fd = -1};
  g_autoptr(GError) error = NULL;
  g_auto(CollectArgs) args = {0};

  if (!parse_collect_options(&argc, &argv, &opts, &args, &error))
    return tfstctl_fail(error);
  if (args.output == NULL)
    args.output = default_output();
  /* tfst_config_files() and tfstctl_configs_list() read these, as
   * tfst-generator and tfstd do; set before any thread starts. */
  if (args.config_dir != NULL)
    g_setenv("TFST_CONFIG_DIR", args.config_dir, TRUE);
  if (args.state_dir != NULL)
    g_setenv("STATE_DIRECTORY", args.state_dir, TRUE);
  if (!collect_prepare(&c, args.output, &error))
    return tfstctl_fail(error);
  collect_gather(&c, &opts);
  if (!pack(&c, &error))
    return tfstctl_fail(error);
  if (c.output != NULL)
    /* TRANSLATORS: %s is the archive's file name. */
    g_printerr(_("Wrote %s\n"), c.output);
  return TFSTCTL_EXIT_OK;
}
