/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Instance configuration: files are merged key by key (main file first, then
 * the drop-ins in name order), and every value remembers the file it came
 * from, so that an error names the file and line the administrator has to
 * edit.  The merged values are then checked section by section. */
#include "tfst-config.h"

#include "tfst-addr.h"
#include "tfst-bus-name.h"
#include "tfst-config-schema.h"
#include "tfst-error.h"
#include "tfst-file.h"
#include "tfst-log.h"

#include <arpa/inet.h>
#include <string.h>

/* Far larger than any real configuration; stops a wrong --config (a log
 * file) from being read into memory.  Devices and FIFOs are refused. */
#define CONF_FILE_MAX TFST_FILE_MAX

#define ORIGINAL_DESTINATION "original-destination"
/* Warnings kept per load (duplicate keys and sections); more are counted. */
#define MAX_WARNINGS 20

/* ---- paths ---- */

char *
tfst_config_default_path(TfstRole role, const char *instance)
{
  return g_strdup_printf("%s/tfst/%s@%s.conf", SYSCONFDIR, tfst_role_to_string(role), instance);
}

/* systemd's StateDirectory=tfst sets $STATE_DIRECTORY; outside systemd
 * the same place is assumed. */
char *
tfst_config_state_dir(void)
{
  const char *state = g_getenv("STATE_DIRECTORY");

  /* With several StateDirectory= entries the first one is ours. */
  if (state != NULL && *state != '\0')
    return g_strndup(state, strcspn(state, ":"));
  return g_strdup(TFST_STATE_DIR);
}

char *
tfst_config_persist_dir(TfstRole role, const char *instance)
{
  g_autofree char *base = tfst_config_state_dir();

  return g_strdup_printf("%s/%s@%s.conf.d", base, tfst_role_to_string(role), instance);
}

/* One directory per instance, so that two instances of one host never
 * share a spool, and one per sink below it. */
char *
tfst_config_spool_dir(const TfstConfig *config, const char *name)
{
  g_autofree char *base = tfst_config_state_dir();
  g_autofree char *inst =
      g_strdup_printf("%s@%s.spool", tfst_role_to_string(config->role), config->instance);

  g_return_val_if_fail(name != NULL && strchr(name, '/') == NULL, NULL);
  return g_build_filename(base, inst, name, NULL);
}

guint16
tfst_config_rule_port(const TfstConfig *config, guint k)
{
  guint64 port = config->port_base + ((guint64)config->port_skip + k) * PORT_STRIDE;

  return port > G_MAXUINT16 ? 0 : (guint16)port;
}

static const char *
format_ms(guint ms, char buf[32])
{
  if (ms != 0 && ms % (3600 * MS_PER_S) == 0)
    g_snprintf(buf, 32, "%uh", ms / (3600 * MS_PER_S));
  else if (ms != 0 && ms % (60 * MS_PER_S) == 0)
    g_snprintf(buf, 32, "%umin", ms / (60 * MS_PER_S));
  else if (ms % MS_PER_S == 0)
    g_snprintf(buf, 32, "%us", ms / MS_PER_S);
  else
    g_snprintf(buf, 32, "%ums", ms);
  return buf;
}

static const char *
format_size(guint64 bytes, char buf[32])
{
  static const struct {
    guint64 factor;
    const char *suffix;
  } units[] = {{1024ull * 1024 * 1024, "G"}, {1024 * 1024, "M"}, {1024, "K"}};

  for (gsize i = 0; i < G_N_ELEMENTS(units); i++) {
    if (bytes != 0 && bytes % units[i].factor == 0) {
      g_snprintf(buf, 32, "%" G_GUINT64_FORMAT "%s", bytes / units[i].factor, units[i].suffix);
      return buf;
    }
  }
  g_snprintf(buf, 32, "%" G_GUINT64_FORMAT, bytes);
  return buf;
}

/* ---- files, merged values and error locations ---- */

typedef struct {
  char *path; /* as named in messages */
  char *text;
  /* Built in one pass over the text, so that locating a key costs a lookup,
   * not a scan of the file (16 000 forwards took 46 s when it did). */
  GHashTable *key_lines;   /* "group\nkey" -> last line setting it */
  GHashTable *group_lines; /* group -> line of its first header */
} ConfFile;

typedef struct {
  char *value;    /* unescaped and stripped; "" resets the key to its default */
  ConfFile *file; /* the file that supplied it (the last one that set the key) */
} ConfValue;

typedef struct {
  char *name;
  ConfFile *file; /* first file with this section: where its header is reported */
  GHashTable *values;
  GPtrArray *keys; /* key names in order of first appearance */
} ConfGroup;

typedef struct {
  TfstRole role;
  char *main_path;
  gboolean main_missing;
  GPtrArray *files;  /* ConfFile, in merge order */
  GPtrArray *groups; /* ConfGroup, in order of first appearance */
  GHashTable *group_index;
  GPtrArray *warnings; /* char *, at most MAX_WARNINGS */
  guint n_warnings;    /* including those not kept */
} Loader;

static void
conf_file_free(ConfFile *f)
{
  g_free(f->path);
  g_free(f->text);
  g_clear_pointer(&f->key_lines, g_hash_table_unref);
  g_clear_pointer(&f->group_lines, g_hash_table_unref);
  g_free(f);
}

static void
conf_value_free(ConfValue *v)
{
  g_free(v->value);
  g_free(v);
}

static void
conf_group_free(ConfGroup *g)
{
  g_free(g->name);
  g_hash_table_unref(g->values);
  g_ptr_array_unref(g->keys);
  g_free(g);
}

static void
loader_init(Loader *l, TfstRole role, const char *main_path)
{
  l->role = role;
  l->main_path = g_strdup(main_path);
  l->files = g_ptr_array_new_with_free_func((GDestroyNotify)conf_file_free);
  l->groups = g_ptr_array_new_with_free_func((GDestroyNotify)conf_group_free);
  l->group_index = g_hash_table_new(g_str_hash, g_str_equal);
  l->warnings = g_ptr_array_new_with_free_func(g_free);
}

static void
loader_clear(Loader *l)
{
  g_clear_pointer(&l->main_path, g_free);
  g_clear_pointer(&l->group_index, g_hash_table_unref);
  g_clear_pointer(&l->groups, g_ptr_array_unref);
  g_clear_pointer(&l->files, g_ptr_array_unref);
  g_clear_pointer(&l->warnings, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Loader, loader_clear)

static ConfGroup *
loader_group(Loader *l, const char *group)
{
  return g_hash_table_lookup(l->group_index, group);
}

static ConfValue *
loader_value(Loader *l, const char *group, const char *key)
{
  ConfGroup *g = loader_group(l, group);

  return g != NULL ? g_hash_table_lookup(g->values, key) : NULL;
}

/* The value of group/key, or NULL when unset or reset with "Key=". */
static const char *
lookup(Loader *l, const char *group, const char *key)
{
  ConfValue *v = loader_value(l, group, key);

  return v != NULL && v->value[0] != '\0' ? v->value : NULL;
}

static gboolean
is_set(Loader *l, const char *group, const char *key)
{
  return lookup(l, group, key) != NULL;
}

/* Name of a "[Name]" header line (stripped), or NULL when line is none. */
static char *
header_name(const char *line)
{
  const char *end;

  if (line[0] != '[')
    return NULL;
  end = strrchr(line, ']');
  if (end == NULL)
    return NULL;
  return g_strndup(line + 1, end - line - 1);
}

static char *
line_key(const char *group, const char *key)
{
  return g_strconcat(group, "\n", key, NULL);
}

/* 1-based line of "Key=" in [group] (the last one: GKeyFile keeps the last
 * of duplicates), or of the first [group] header when key is NULL; 0 when
 * the text does not contain it. */
static guint
find_line(const ConfFile *f, const char *group, const char *key)
{
  g_autofree char *k = NULL;

  if (key == NULL)
    return GPOINTER_TO_UINT(g_hash_table_lookup(f->group_lines, group));
  k = line_key(group, key);
  return GPOINTER_TO_UINT(g_hash_table_lookup(f->key_lines, k));
}

/* Sets "FILE:LINE: [group] key=: reason"; LINE is left out when unknown,
 * "[group]" and "key=" when NULL. */
static void
set_located_error(GError **error, const char *path, guint line, const char *group, const char *key,
                  const char *reason)
{
  g_autoptr(GString) msg = g_string_new(path);

  if (line > 0)
    g_string_append_printf(msg, ":%u", line);
  g_string_append(msg, ": ");
  if (group != NULL && key != NULL)
    g_string_append_printf(msg, "[%s] %s=: ", group, key);
  else if (group != NULL)
    g_string_append_printf(msg, "[%s]: ", group);
  g_string_append(msg, reason);
  g_set_error_literal(error, TFST_ERROR, TFST_ERROR_CONFIG, msg->str);
}

/* Reports an error about group/key at the file and line that set it, or at
 * the section header when the key is not set there, or at the main file when
 * neither is in any file.  Always returns FALSE. */
static gboolean conf_error(Loader *l, GError **error, const char *group, const char *key,
                           const char *format, ...) G_GNUC_PRINTF(5, 6);

static gboolean
conf_error(Loader *l, GError **error, const char *group, const char *key, const char *format, ...)
{
  g_autofree char *reason = NULL;
  ConfValue *v = key != NULL ? loader_value(l, group, key) : NULL;
  ConfGroup *g = group != NULL ? loader_group(l, group) : NULL;
  va_list ap;

  va_start(ap, format);
  reason = g_strdup_vprintf(format, ap);
  va_end(ap);
  if (v != NULL) {
    set_located_error(error, v->file->path, find_line(v->file, group, key), group, key, reason);
  } else if (g != NULL) {
    set_located_error(error, g->file->path, find_line(g->file, group, NULL), group, key, reason);
  } else {
    g_autofree char *full = l->main_missing
                                ? g_strdup_printf("%s (the file does not exist)", reason)
                                : g_steal_pointer(&reason);

    set_located_error(error, l->main_path, 0, group, key, full);
  }
  return FALSE;
}

/* Of two keys of group, the one assigned later (later file, or later line
 * in the same file): most likely the assignment the administrator just
 * added, so the one to point at. */
static const char *
later_key(Loader *l, const char *group, const char *a, const char *b)
{
  ConfValue *va = is_set(l, group, a) ? loader_value(l, group, a) : NULL;
  ConfValue *vb = is_set(l, group, b) ? loader_value(l, group, b) : NULL;
  guint ia = 0, ib = 0;

  if (va == NULL || vb == NULL)
    return va != NULL ? a : b;
  g_ptr_array_find(l->files, va->file, &ia);
  g_ptr_array_find(l->files, vb->file, &ib);
  if (ia == ib) {
    ia = find_line(va->file, group, a);
    ib = find_line(vb->file, group, b);
  }
  return ia > ib ? a : b;
}

/* Errors are G_FILE_ERROR with the bare reason so the caller can tell a
 * missing file apart and word the message itself. */
static char *
read_text(const char *path, GError **error)
{
  gsize len = 0;
  g_autofree char *text = tfst_file_read(path, CONF_FILE_MAX, &len, error);

  if (text == NULL)
    return NULL;
  if (memchr(text, '\0', len) != NULL) {
    g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "contains a NUL byte");
    return NULL;
  }
  return g_steal_pointer(&text);
}

/* Why a stripped, non-comment line is not key-file syntax, or NULL. */
static const char *
line_syntax_error(const char *line, gboolean in_group)
{
  if (line[0] == '[')
    return g_str_has_suffix(line, "]") && strlen(line) >= 3
               ? NULL
               : "malformed section header, expected [Section]";
  if (strchr(line, '=') == NULL)
    return "expected Key=Value, [Section] or a # comment";
  if (line[0] == '=')
    return "missing key name before '='";
  if (!in_group)
    return "Key=Value before the first [Section]";
  return NULL;
}

static void loader_warn(Loader *l, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* Warnings do not stop the load; only the first few are kept, so that a
 * generated file with thousands of duplicates yields a short report. */
static void
loader_warn(Loader *l, const char *format, ...)
{
  va_list ap;

  if (l->n_warnings++ >= MAX_WARNINGS)
    return;
  va_start(ap, format);
  g_ptr_array_add(l->warnings, g_strdup_vprintf(format, ap));
  va_end(ap);
}

/* A second [group] header in one file: GKeyFile merges it silently. */
static void
index_group(Loader *l, ConfFile *f, const char *group, guint line)
{
  guint first = GPOINTER_TO_UINT(g_hash_table_lookup(f->group_lines, group));

  if (first != 0) {
    loader_warn(l, "%s:%u: [%s] appears again (first at line %u); the sections are merged", f->path,
                line, group, first);
    return;
  }
  g_hash_table_insert(f->group_lines, g_strdup(group), GUINT_TO_POINTER(line));
}

/* A key set twice in one section of one file: GKeyFile keeps the last
 * value silently, which hides a mistaken copy and paste. */
static void
index_key(Loader *l, ConfFile *f, const char *group, const char *key, guint line)
{
  char *k = line_key(group, key);
  guint before = GPOINTER_TO_UINT(g_hash_table_lookup(f->key_lines, k));

  if (before != 0)
    loader_warn(l, "%s:%u: [%s] %s= is set again (before at line %u); the last value counts",
                f->path, line, group, key, before);
  g_hash_table_replace(f->key_lines, k, GUINT_TO_POINTER(line));
}

/* One line of f (number n, stripped); *group is the section it is in. */
static gboolean
lint_line(Loader *l, ConfFile *f, const char *line, guint n, char **group, GError **error)
{
  g_autofree char *key = NULL;
  const char *reason;

  if (line[0] == '\0' || line[0] == '#')
    return TRUE;
  reason = line_syntax_error(line, *group != NULL);
  if (reason != NULL) {
    set_located_error(error, f->path, n, NULL, NULL, reason);
    return FALSE;
  }
  if (line[0] == '[') {
    g_free(*group);
    *group = header_name(line);
    index_group(l, f, *group, n);
    return TRUE;
  }
  key = g_strchomp(g_strndup(line, strcspn(line, "=")));
  if (strchr(key, '[') != NULL) {
    set_located_error(error, f->path, n, *group, key,
                      "unknown key: localized keys (Key[locale]=) are not supported");
    return FALSE;
  }
  index_key(l, f, *group, key, n);
  return TRUE;
}

/* Checks the line syntax before GKeyFile does, because GKeyFile's messages
 * carry no line number, and rejects localized keys, which GKeyFile would
 * hide from the unknown-key check.  Indexes the lines of keys and headers
 * on the way. */
static gboolean
lint_text(Loader *l, ConfFile *f, GError **error)
{
  g_auto(GStrv) lines = g_strsplit(f->text, "\n", -1);
  g_autofree char *group = NULL;

  for (guint i = 0; lines[i] != NULL; i++) {
    if (!g_utf8_validate(lines[i], -1, NULL)) {
      set_located_error(error, f->path, i + 1, NULL, NULL, "line is not valid UTF-8");
      return FALSE;
    }
    if (!lint_line(l, f, g_strstrip(lines[i]), i + 1, &group, error))
      return FALSE;
  }
  return TRUE;
}

static ConfGroup *
loader_add_group(Loader *l, const char *name, ConfFile *f)
{
  ConfGroup *g = loader_group(l, name);

  if (g != NULL)
    return g;
  g = g_new0(ConfGroup, 1);
  g->name = g_strdup(name);
  g->file = f;
  g->values =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)conf_value_free);
  g->keys = g_ptr_array_new();
  g_ptr_array_add(l->groups, g);
  g_hash_table_insert(l->group_index, g->name, g);
  return g;
}

static void
group_set(ConfGroup *g, const char *key, char *value, ConfFile *f)
{
  ConfValue *v = g_new0(ConfValue, 1);
  gboolean is_new = !g_hash_table_contains(g->values, key);

  v->value = g_strstrip(value);
  v->file = f;
  /* insert, not replace: the existing key string stays, g->keys borrows it */
  g_hash_table_insert(g->values, g_strdup(key), v);
  if (is_new) {
    /* borrow the hash table's copy of the key: it lives as long as g */
    gpointer stored_key = NULL;

    g_hash_table_lookup_extended(g->values, key, &stored_key, NULL);
    g_ptr_array_add(g->keys, stored_key);
  }
}

/* Later files override earlier ones key by key. */
static gboolean
loader_merge(Loader *l, ConfFile *f, GKeyFile *kf, GError **error)
{
  g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

  for (guint i = 0; groups[i] != NULL; i++) {
    ConfGroup *g = loader_add_group(l, groups[i], f);
    g_auto(GStrv) keys = g_key_file_get_keys(kf, groups[i], NULL, NULL);

    for (guint j = 0; keys != NULL && keys[j] != NULL; j++) {
      g_autoptr(GError) local = NULL;
      /* on a bad escape GKeyFile returns a string and sets the error */
      g_autofree char *value = g_key_file_get_string(kf, groups[i], keys[j], &local);

      if (local != NULL) {
        set_located_error(error, f->path, find_line(f, groups[i], keys[j]), groups[i], keys[j],
                          "invalid escape sequence in the value");
        return FALSE;
      }
      group_set(g, keys[j], g_steal_pointer(&value), f);
    }
  }
  return TRUE;
}

/* Blanks out "# comment" after a space or tab, which GKeyFile would keep as
 * part of the value ("Listen=1.2.3.4:5  # hop").  No value tfst accepts
 * contains '#', and blanking keeps line numbers and columns intact. */
static void
blank_trailing_comments(char *text)
{
  char *line = text;

  while (*line != '\0') {
    char *end = strchrnul(line, '\n');
    char *p = line;

    while (p < end && g_ascii_isspace(*p))
      p++;
    for (; p < end && *p != '#'; p++) {
      if ((p[0] == ' ' || p[0] == '\t') && p + 1 < end && p[1] == '#') {
        memset(p + 1, ' ', end - p - 1);
        break;
      }
    }
    line = *end == '\n' ? end + 1 : end;
  }
}

static gboolean
loader_add_text(Loader *l, const char *path, char *text, GError **error)
{
  ConfFile *f = g_new0(ConfFile, 1);
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) local = NULL;

  f->path = g_strdup(path);
  f->text = text;
  f->key_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  f->group_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_ptr_array_add(l->files, f);
  blank_trailing_comments(f->text);
  if (!lint_text(l, f, error))
    return FALSE;
  if (!g_key_file_load_from_data(kf, f->text, -1, G_KEY_FILE_NONE, &local)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "%s: %s", f->path, local->message);
    return FALSE;
  }
  return loader_merge(l, f, kf, error);
}

static gboolean
loader_add_file(Loader *l, const char *path, gboolean missing_ok, GError **error)
{
  g_autoptr(GError) local = NULL;
  char *text = read_text(path, &local);

  if (text == NULL) {
    if (missing_ok && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      l->main_missing = TRUE;
      return TRUE;
    }
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "%s: cannot read the file: %s", path,
                local->message);
    return FALSE;
  }
  return loader_add_text(l, path, text, error);
}

static int
compare_names_cb(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
config_file_free(TfstConfigFile *f)
{
  g_free(f->path);
  g_free(f);
}

static void
add_config_file(GPtrArray *files, char *path, TfstConfigFileKind kind)
{
  TfstConfigFile *f = g_new0(TfstConfigFile, 1);

  f->path = path;
  f->kind = kind;
  g_ptr_array_add(files, f);
}

/* DIR/NAME.conf in byte order of NAME; other names are ignored so that
 * editor backups ("x.conf~") and disabled files ("x.conf.off") stay inert.
 * A missing directory has no drop-ins. */
static gboolean
add_dropins(GPtrArray *files, const char *dir_path, TfstConfigFileKind kind, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &local);
  const char *name;

  if (dir == NULL) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
        g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
      return TRUE;
    g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "%s: %s", dir_path, local->message);
    return FALSE;
  }
  while ((name = g_dir_read_name(dir)) != NULL) {
    if (name[0] != '.' && g_str_has_suffix(name, ".conf"))
      g_ptr_array_add(names, g_strdup(name));
  }
  g_ptr_array_sort(names, compare_names_cb);
  for (guint i = 0; i < names->len; i++) {
    char *path = g_build_filename(dir_path, g_ptr_array_index(names, i), NULL);

    if (g_file_test(path, G_FILE_TEST_IS_DIR))
      g_free(path);
    else
      add_config_file(files, path, kind);
  }
  return TRUE;
}

static gboolean
check_instance_name(const char *instance, GError **error)
{
  /* The same rule as for the instance in a bus name, so that every
   * instance that can start is one tfstctl lists. */
  if (tfst_bus_name_instance_is_valid(instance))
    return TRUE;
  g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
              "'%s' cannot name a configuration file: the instance name must be non-empty, not "
              "'.' or '..', and contain no '/' or control characters",
              instance);
  return FALSE;
}

GPtrArray *
tfst_config_files(TfstRole role, const char *instance, const char *path, GError **error)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func((GDestroyNotify)config_file_free);
  g_autofree char *dropins = NULL;
  g_autofree char *persisted = NULL;

  g_return_val_if_fail(tfst_role_is_valid(role), NULL);
  g_return_val_if_fail(instance != NULL, NULL);
  /* The persisted drop-ins are found by instance name, also with --config. */
  if (!check_instance_name(instance, error))
    return NULL;
  add_config_file(files, path != NULL ? g_strdup(path) : tfst_config_default_path(role, instance),
                  TFST_CONFIG_FILE_MAIN);
  dropins = g_strconcat(((TfstConfigFile *)files->pdata[0])->path, ".d", NULL);
  /* Settings persisted at run time (SetSettings with PERSIST) come last,
   * like systemctl set-property's system.control over /etc. */
  persisted = tfst_config_persist_dir(role, instance);
  if (!add_dropins(files, dropins, TFST_CONFIG_FILE_DROPIN, error) ||
      !add_dropins(files, persisted, TFST_CONFIG_FILE_PERSISTED, error))
    return NULL;
  return g_steal_pointer(&files);
}

/* ---- typed values ---- */

static gboolean
get_uint(Loader *l, const char *group, const char *key, guint min, guint max, guint *inout,
         GError **error)
{
  const char *v = lookup(l, group, key);
  guint64 n;

  if (v == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned(v, 10, min, max, &n, NULL))
    return conf_error(l, error, group, key, "'%s' is not a whole number in the range %u-%u", v, min,
                      max);
  *inout = (guint)n;
  return TRUE;
}

/* 0-3 (the original toolbox's scale) or a syslog name, as systemctl
 * service-log-level takes it. */
static gboolean
get_log_level(Loader *l, const char *group, const char *key, int *inout_priority, GError **error)
{
  const char *v = lookup(l, group, key);
  int priority = v != NULL ? tfst_log_priority_from_string(v) : -1;
  guint64 n;

  if (v == NULL)
    return TRUE;
  if (priority < 0 && g_ascii_string_to_unsigned(v, 10, 0, 3, &n, NULL))
    priority = tfst_log_level_to_priority((guint)n);
  if (priority < 0)
    return conf_error(l, error, group, key,
                      "'%s' is not a log level: 0-3, or emerg, alert, crit, err, warning, notice, "
                      "info, debug",
                      v);
  *inout_priority = priority;
  return TRUE;
}

static gboolean
get_timespan(Loader *l, const char *group, const char *key, guint min_ms, guint max_ms,
             guint *inout_ms, GError **error)
{
  const char *v = lookup(l, group, key);
  char buf[32];
  guint ms;

  if (v == NULL)
    return TRUE;
  if (!tfst_parse_timespan_ms(v, &ms))
    return conf_error(l, error, group, key,
                      "'%s' is not a time span (examples: 30, 30s, 500ms, 5min, 1h)", v);
  if (ms < min_ms)
    return conf_error(l, error, group, key, "'%s' is too short (minimum %s)", v,
                      format_ms(min_ms, buf));
  if (ms > max_ms)
    return conf_error(l, error, group, key, "'%s' is too long (maximum %s)", v,
                      format_ms(max_ms, buf));
  *inout_ms = ms;
  return TRUE;
}

/* For socket options that count whole seconds. */
static gboolean
get_seconds(Loader *l, const char *group, const char *key, guint min_s, guint max_s, guint *inout_s,
            GError **error)
{
  guint ms = *inout_s * MS_PER_S;

  if (!get_timespan(l, group, key, min_s * MS_PER_S, max_s * MS_PER_S, &ms, error))
    return FALSE;
  if (ms % MS_PER_S != 0)
    return conf_error(l, error, group, key, "'%s' is not a whole number of seconds",
                      lookup(l, group, key));
  *inout_s = ms / MS_PER_S;
  return TRUE;
}

static gboolean
get_bool(Loader *l, const char *group, const char *key, gboolean *inout, GError **error)
{
  const char *v = lookup(l, group, key);

  if (v == NULL || tfst_parse_bool(v, inout))
    return TRUE;
  return conf_error(l, error, group, key, "'%s' is not a boolean (yes or no)", v);
}

static gboolean
get_size(Loader *l, const char *group, const char *key, guint32 min, guint32 max, guint32 *inout,
         GError **error)
{
  const char *v = lookup(l, group, key);
  char buf[32];
  guint32 n;

  if (v == NULL)
    return TRUE;
  if (!tfst_parse_size(v, &n))
    return conf_error(l, error, group, key, "'%s' is not a size (examples: 65536, 64K, 16M)", v);
  if (n < min)
    return conf_error(l, error, group, key, "'%s' is too small (minimum %s)", v,
                      format_size(min, buf));
  if (n > max)
    return conf_error(l, error, group, key, "'%s' is too large (maximum %s)", v,
                      format_size(max, buf));
  *inout = n;
  return TRUE;
}

/* Sizes that may exceed 4G (SpoolSize=). */
static gboolean
get_size64(Loader *l, const char *group, const char *key, guint64 min, guint64 *inout,
           GError **error)
{
  const char *v = lookup(l, group, key);
  char buf[32];
  guint64 n;

  if (v == NULL)
    return TRUE;
  if (!tfst_parse_size64(v, &n))
    return conf_error(l, error, group, key, "'%s' is not a size (examples: 1048576, 512M, 2G)", v);
  if (n < min)
    return conf_error(l, error, group, key, "'%s' is too small (minimum %s)", v,
                      format_size(min, buf));
  *inout = n;
  return TRUE;
}

static gboolean
get_addr(Loader *l, const char *group, const char *key, gboolean port_required, TfstSockAddr *out,
         GError **error)
{
  g_autoptr(GError) local = NULL;
  const char *v = lookup(l, group, key);

  if (!tfst_addr_parse(v, port_required, out, &local))
    return conf_error(l, error, group, key, "%s", local->message);
  return TRUE;
}

static gboolean
get_string(Loader *l, const char *group, const char *key, char **out)
{
  const char *v = lookup(l, group, key);

  if (v != NULL) {
    g_free(*out);
    *out = g_strdup(v);
  }
  return TRUE;
}

static gboolean
get_label(Loader *l, const char *group, const char *key, char **out, GError **error)
{
  const char *v = lookup(l, group, key);

  if (v == NULL)
    return TRUE;
  if (!tfst_label_is_valid(v))
    return conf_error(l, error, group, key,
                      "'%s' is not a valid label (1-%d characters of A-Z a-z 0-9 . _ -)", v,
                      TFST_LABEL_MAX);
  g_free(*out);
  *out = g_strdup(v);
  return TRUE;
}

/* ---- [Instance] ---- */

static gboolean
parse_networks(Loader *l, TfstConfig *c, GError **error)
{
  const char *v = lookup(l, "Instance", "Networks");
  g_auto(GStrv) tokens = NULL;

  if (v == NULL)
    return TRUE;
  tokens = g_strsplit_set(v, " \t,;", -1);
  for (guint i = 0; tokens[i] != NULL; i++) {
    g_autofree char *reason = NULL;
    TfstNetworkEntry e;

    if (tokens[i][0] == '\0')
      continue;
    if (!tfst_parse_network(tokens[i], &e, &reason))
      return conf_error(l, error, "Instance", "Networks", "%s", reason);
    g_array_append_val(c->networks, e);
  }
  return TRUE;
}

static gboolean
parse_instance(Loader *l, TfstConfig *c, GError **error)
{
  return get_label(l, "Instance", "Label", &c->label, error) &&
         get_log_level(l, "Instance", "LogLevel", &c->log_priority, error) &&
         get_uint(l, "Instance", "MaxSessions", 1, MAX_MAX_SESSIONS, &c->max_sessions, error) &&
         get_uint(l, "Instance", "MaxSessionsPerChild", 1, MAX_MAX_SESSIONS,
                  &c->max_sessions_per_child, error) &&
         get_uint(l, "Instance", "OpenRate", 0, MAX_MAX_SESSIONS, &c->open_rate, error) &&
         parse_networks(l, c, error);
}

/* Half by default: one child hop that fills its share still leaves the other
 * half to every other child and to this instance's own forwards. */
guint
tfst_config_child_sessions(const TfstConfig *config)
{
  if (config->max_sessions_per_child != 0)
    return config->max_sessions_per_child;
  return config->max_sessions - config->max_sessions / 2;
}

/* ---- [Parent] and [Children] ---- */

static gboolean
parse_hop_listen(Loader *l, const char *group, TfstHopConf *hop, GError **error)
{
  const char *v = lookup(l, group, "Listen");
  TfstSockAddr a;

  if (strpbrk(v, " \t;,") != NULL)
    return conf_error(l, error, group, "Listen", "'%s': Listen= takes a single address", v);
  if (!get_addr(l, group, "Listen", FALSE, &a, error))
    return FALSE;
  hop->listen = TRUE;
  hop->port_from_rule = tfst_addr_port(&a) == 0;
  g_array_append_val(hop->addrs, a);
  return TRUE;
}

/* One word of Connect=: ADDRESS:PORT, or LABEL@ADDRESS:PORT to pin the
 * label the peer at that address must announce. */
static gboolean
parse_connect_word(Loader *l, const char *group, const char *word, TfstSockAddr *a, char **label,
                   GError **error)
{
  const char *at = strchr(word, '@');
  g_autoptr(GError) local = NULL;

  *label = at != NULL ? g_strndup(word, at - word) : NULL;
  if (*label != NULL && !tfst_label_is_valid(*label))
    return conf_error(l, error, group, "Connect",
                      "'%s': the label before @ must be 1-63 characters of A-Z, a-z, 0-9, '.', "
                      "'_' and '-'",
                      word);
  if (!tfst_addr_parse(at != NULL ? at + 1 : word, TRUE, a, &local))
    return conf_error(l, error, group, "Connect", "%s", local->message);
  return TRUE;
}

static gboolean
parse_hop_connect(Loader *l, const char *group, TfstHopConf *hop, GError **error)
{
  const char *v = lookup(l, group, "Connect");
  g_auto(GStrv) tokens = g_strsplit_set(v, " \t;,", -1);

  hop->listen = FALSE;
  for (guint i = 0; tokens[i] != NULL; i++) {
    g_autofree char *label = NULL;
    TfstSockAddr a;

    if (tokens[i][0] == '\0')
      continue;
    if (!parse_connect_word(l, group, tokens[i], &a, &label, error))
      return FALSE;
    for (guint j = 0; j < hop->addrs->len; j++) {
      if (tfst_addr_equal(&g_array_index(hop->addrs, TfstSockAddr, j), &a, TRUE))
        return conf_error(l, error, group, "Connect", "'%s' is listed twice", tokens[i]);
    }
    g_array_append_val(hop->addrs, a);
    g_ptr_array_add(hop->expect_labels, g_steal_pointer(&label));
  }
  if (hop->addrs->len == 0)
    return conf_error(l, error, group, "Connect", "no address given");
  return TRUE;
}

/* Keys that only mean something when this side opens the connection. */
static gboolean
check_connect_only(Loader *l, const char *group, GError **error)
{
  static const char *const keys[] = {"LocalAddress", "SourcePorts", "ReconnectMin", "ReconnectMax"};

  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    if (is_set(l, group, keys[i]))
      return conf_error(l, error, group, keys[i],
                        "only applies with Connect=; with Listen= the other side connects");
  }
  return TRUE;
}

/* Connections that have not finished the handshake are what a flood from
 * the less secure zone costs us; only an accepting side has them. */
static gboolean
parse_hop_pending(Loader *l, const char *group, TfstHopConf *hop, GError **error)
{
  static const char *const keys[] = {"MaxPendingHops", "MaxPendingHopsPerAddress"};

  if (!hop->listen) {
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
      if (is_set(l, group, keys[i]))
        return conf_error(l, error, group, keys[i],
                          "only applies with Listen=; with Connect= this side opens the hop");
    return TRUE;
  }
  return get_uint(l, group, "MaxPendingHops", 1, MAX_MAX_PENDING, &hop->max_pending, error) &&
         get_uint(l, group, "MaxPendingHopsPerAddress", 1, MAX_MAX_PENDING,
                  &hop->max_pending_per_addr, error);
}

static gboolean
parse_local_address(Loader *l, const char *group, TfstHopConf *hop, GError **error)
{
  TfstSockAddr a;
  char buf[TFST_ADDR_STRLEN];

  if (!is_set(l, group, "LocalAddress"))
    return TRUE;
  if (!get_addr(l, group, "LocalAddress", FALSE, &a, error))
    return FALSE;
  if (tfst_addr_port(&a) != 0)
    return conf_error(l, error, group, "LocalAddress",
                      "takes an address without a port (see SourcePorts=)");
  for (guint i = 0; i < hop->addrs->len; i++) {
    const TfstSockAddr *dst = &g_array_index(hop->addrs, TfstSockAddr, i);

    if (dst->sa.sa_family != a.sa.sa_family)
      return conf_error(l, error, group, "LocalAddress",
                        "address family differs from Connect= address %s",
                        tfst_addr_format(dst, buf));
  }
  hop->have_local = TRUE;
  hop->local = a;
  return TRUE;
}

static gboolean
parse_source_ports(Loader *l, const char *group, TfstHopConf *hop, GError **error)
{
  const char *v = lookup(l, group, "SourcePorts");
  g_auto(GStrv) parts = NULL;
  guint64 lo, hi;

  if (v == NULL)
    return TRUE;
  parts = g_strsplit(v, "-", 2);
  if (!g_ascii_string_to_unsigned(parts[0], 10, 1, G_MAXUINT16, &lo, NULL) ||
      (parts[1] != NULL && !g_ascii_string_to_unsigned(parts[1], 10, 1, G_MAXUINT16, &hi, NULL)))
    return conf_error(l, error, group, "SourcePorts",
                      "'%s' is not a port range LOW-HIGH within 1-65535", v);
  if (parts[1] == NULL)
    hi = lo;
  if (lo > hi)
    return conf_error(l, error, group, "SourcePorts", "'%s': the range starts above its end", v);
  hop->sport_lo = (guint16)lo;
  hop->sport_hi = (guint16)hi;
  return TRUE;
}

static gboolean
parse_reconnect(Loader *l, const char *group, TfstHopConf *hop, GError **error)
{
  char min_buf[32], max_buf[32];

  if (!get_timespan(l, group, "ReconnectMin", MIN_RECONNECT_MS, G_MAXUINT, &hop->reconnect_min_ms,
                    error) ||
      !get_timespan(l, group, "ReconnectMax", MIN_RECONNECT_MS, G_MAXUINT, &hop->reconnect_max_ms,
                    error))
    return FALSE;
  if (hop->reconnect_max_ms < hop->reconnect_min_ms)
    return conf_error(l, error, group, later_key(l, group, "ReconnectMin", "ReconnectMax"),
                      "ReconnectMax= (%s) is below ReconnectMin= (%s)",
                      format_ms(hop->reconnect_max_ms, max_buf),
                      format_ms(hop->reconnect_min_ms, min_buf));
  return TRUE;
}

/* An epproxy's [Children] without Listen= or Connect= listens on every
 * address at the port the [Ports] rule gives. */
static void
hop_default_listen(TfstHopConf *hop)
{
  TfstSockAddr any = {0};

  any.in.sin_family = AF_INET;
  any.in.sin_addr.s_addr = htonl(INADDR_ANY);
  hop->configured = TRUE;
  hop->listen = TRUE;
  hop->port_from_rule = TRUE;
  g_array_append_val(hop->addrs, any);
}

static gboolean
parse_hop(Loader *l, const char *group, gboolean default_listen, TfstHopConf *hop, GError **error)
{
  gboolean has_listen = is_set(l, group, "Listen");
  gboolean has_connect = is_set(l, group, "Connect");

  hop->configured = TRUE;
  if (has_listen && has_connect)
    return conf_error(l, error, group, later_key(l, group, "Listen", "Connect"),
                      "Listen= and Connect= exclude each other: this side either accepts the "
                      "hop connection or opens it (an empty \"Listen=\" or \"Connect=\" in a "
                      "drop-in removes the other)");
  if (has_listen)
    return parse_hop_listen(l, group, hop, error) && check_connect_only(l, group, error) &&
           parse_hop_pending(l, group, hop, error);
  if (!has_connect && default_listen) {
    hop_default_listen(hop);
    return check_connect_only(l, group, error) && parse_hop_pending(l, group, hop, error);
  }
  if (!has_connect)
    return conf_error(l, error, group, NULL,
                      "needs Listen=ADDRESS[:PORT] (this side accepts the hop connection) or "
                      "Connect=ADDRESS:PORT (this side opens it)");
  return parse_hop_connect(l, group, hop, error) && parse_hop_pending(l, group, hop, error) &&
         parse_local_address(l, group, hop, error) && parse_source_ports(l, group, hop, error) &&
         parse_reconnect(l, group, hop, error);
}

/* Which hop sections each role has: the chain is epproxy (root) - relays -
 * gwproxy (leaves). */
static gboolean
check_role(Loader *l, GError **error)
{
  const char *role = tfst_role_to_string(l->role);
  gboolean has_parent = loader_group(l, "Parent") != NULL;
  gboolean has_children = loader_group(l, "Children") != NULL;

  if (l->role == TFST_ROLE_EPPROXY && has_parent)
    return conf_error(l, error, "Parent", NULL,
                      "an epproxy is the root of the chain and has no parent; remove this "
                      "section");
  if (l->role == TFST_ROLE_GWPROXY && has_children)
    return conf_error(l, error, "Children", NULL,
                      "a gwproxy is a leaf of the chain and has no children; remove this "
                      "section");
  if (l->role != TFST_ROLE_EPPROXY && !has_parent)
    return conf_error(l, error, "Parent", NULL,
                      "a %s needs a [Parent] section with Connect= or Listen=", role);
  if (l->role == TFST_ROLE_RELAY && !has_children)
    return conf_error(l, error, "Children", NULL,
                      "a relay needs a [Children] section with Listen= or Connect=");
  return TRUE;
}

/* A relay that listens for its parent and its children needs two
 * addresses; with both ports from the rule they would be the same one. */
static gboolean
check_hop_listen_conflict(Loader *l, TfstConfig *c, GError **error)
{
  const TfstHopConf *p = &c->parent, *ch = &c->children;

  if (!p->listen || !ch->listen || p->addrs->len != 1 || ch->addrs->len != 1 ||
      p->port_from_rule != ch->port_from_rule)
    return TRUE;
  if (!tfst_addr_equal(&g_array_index(p->addrs, TfstSockAddr, 0),
                       &g_array_index(ch->addrs, TfstSockAddr, 0), TRUE))
    return TRUE;
  return conf_error(l, error, "Parent", "Listen",
                    "the same address and port as [Children] Listen=%s; give one of them its "
                    "own port",
                    p->port_from_rule ? " (both take the port from the [Ports] rule)" : "");
}

/* ---- TLS of a hop ---- */

static const char *const tls_only_keys[] = {
    "Certificate", "Key", "TrustedCA", "PeerLabel", "PSKFile", "TLSPriority", "TLSMinVersion"};

static gboolean
get_path(Loader *l, const char *group, const char *key, char **out, GError **error)
{
  const char *v = lookup(l, group, key);

  if (v == NULL)
    return TRUE;
  if (!g_path_is_absolute(v))
    return conf_error(l, error, group, key, "'%s' is not an absolute path", v);
  g_free(*out);
  *out = g_strdup(v);
  return TRUE;
}

static gboolean
parse_peer_labels(Loader *l, const char *group, TfstTlsConf *tls, GError **error)
{
  const char *v = lookup(l, group, "PeerLabel");
  g_auto(GStrv) tokens = NULL;
  g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);

  if (v == NULL)
    return TRUE;
  tokens = g_strsplit_set(v, " \t,", -1);
  for (guint i = 0; tokens[i] != NULL; i++) {
    if (tokens[i][0] == '\0')
      continue;
    if (!tfst_label_is_valid(tokens[i]))
      return conf_error(l, error, group, "PeerLabel",
                        "'%s' is not a valid label (1-%d characters of A-Z a-z 0-9 . _ -)",
                        tokens[i], TFST_LABEL_MAX);
    g_ptr_array_add(labels, g_strdup(tokens[i]));
  }
  if (labels->len == 0)
    return conf_error(l, error, group, "PeerLabel", "no label given");
  g_ptr_array_add(labels, NULL);
  tls->peer_labels = (char **)g_ptr_array_free(g_steal_pointer(&labels), FALSE);
  return TRUE;
}

static gboolean
parse_tls_version(Loader *l, const char *group, TfstTlsConf *tls, GError **error)
{
  const char *v = lookup(l, group, "TLSMinVersion");

  if (v == NULL)
    return TRUE;
  if (is_set(l, group, "TLSPriority"))
    return conf_error(l, error, group, later_key(l, group, "TLSMinVersion", "TLSPriority"),
                      "TLSMinVersion= and TLSPriority= exclude each other: a priority string "
                      "names its protocol versions itself");
  if (strcmp(v, "1.3") == 0)
    tls->min_version = 13;
  else if (strcmp(v, "1.2") == 0)
    tls->min_version = 12;
  else
    return conf_error(l, error, group, "TLSMinVersion", "'%s' is not 1.2 or 1.3", v);
  return TRUE;
}

/* Which keys a mode needs and which it excludes, before any file is read. */
static gboolean
check_tls_keys(Loader *l, const char *group, GError **error)
{
  gboolean psk = is_set(l, group, "PSKFile");

  if (psk) {
    static const char *const x509_keys[] = {"Certificate", "Key", "TrustedCA"};
    for (gsize i = 0; i < G_N_ELEMENTS(x509_keys); i++)
      if (is_set(l, group, x509_keys[i]))
        return conf_error(l, error, group, x509_keys[i],
                          "PSKFile= and %s= exclude each other: PSK mode uses no certificates",
                          x509_keys[i]);
    return TRUE;
  }
  if (is_set(l, group, "Key") && !is_set(l, group, "Certificate"))
    return conf_error(l, error, group, "Key", "needs Certificate= (the certificate of this key)");
  if (is_set(l, group, "Certificate") && !is_set(l, group, "Key"))
    return conf_error(l, error, group, "Certificate",
                      "needs Key= (the private key of this certificate)");
  if (!is_set(l, group, "Certificate"))
    return conf_error(l, error, group, "TLS",
                      "TLS=yes needs Certificate= and Key= (or PSKFile= for PSK mode)");
  if (!is_set(l, group, "TrustedCA"))
    return conf_error(l, error, group, "TLS",
                      "TLS=yes needs TrustedCA= (a file or directory of CA certificates) to "
                      "verify the peer's certificate");
  return TRUE;
}

/* Only the settings: the credentials are built by the data plane
 * (tfst_tls_creds_load), so that loading a configuration reads no key. */
static gboolean
parse_hop_tls(Loader *l, const char *group, TfstHopConf *hop, GError **error)
{
  TfstTlsConf *tls = &hop->tls;

  if (!get_timespan(l, group, "HandshakeTimeout", MIN_HANDSHAKE_MS, MAX_HANDSHAKE_MS,
                    &hop->handshake_timeout_ms, error) ||
      !get_bool(l, group, "TLS", &tls->enabled, error))
    return FALSE;
  if (!tls->enabled) {
    for (gsize i = 0; i < G_N_ELEMENTS(tls_only_keys); i++)
      if (is_set(l, group, tls_only_keys[i]))
        return conf_error(l, error, group, tls_only_keys[i], "only applies with TLS=yes");
    return TRUE;
  }
  return check_tls_keys(l, group, error) &&
         get_path(l, group, "Certificate", &tls->certificate, error) &&
         get_path(l, group, "Key", &tls->key, error) &&
         get_path(l, group, "TrustedCA", &tls->trusted_ca, error) &&
         get_path(l, group, "PSKFile", &tls->psk_file, error) &&
         parse_peer_labels(l, group, tls, error) && parse_tls_version(l, group, tls, error) &&
         get_string(l, group, "TLSPriority", &tls->priority);
}

/* ---- [Children] what a child may claim ---- */

static const char *const trust_keys[] = {"AllowLabels", "AllowNetworks", "AllowForwards",
                                         "MaxTellEntries"};

static void
allow_rule_free(TfstAllowRule *r)
{
  g_free(r->child);
  g_strfreev(r->globs);
  g_clear_pointer(&r->networks, g_array_unref);
  g_free(r);
}

/* Label characters plus the glob characters * and ?. */
static gboolean
is_label_glob(const char *s)
{
  if (s[0] == '\0' || strlen(s) > TFST_LABEL_MAX)
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isalnum(*s) && strchr("._-*?", *s) == NULL)
      return FALSE;
  return TRUE;
}

/* The ITEMs of one "CHILD:ITEM[,ITEM...]" word into rule; NULL or a reason. */
static char *
parse_allow_items(const char *key, const char *items, TfstAllowRule *r)
{
  g_auto(GStrv) parts = g_strsplit(items, ",", -1);
  g_autoptr(GPtrArray) globs = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; parts[i] != NULL; i++) {
    char *reason = NULL;
    TfstNetworkEntry n;

    if (strcmp(key, "AllowNetworks") != 0) {
      if (!is_label_glob(parts[i]))
        return g_strdup_printf("'%s' is not a label pattern (A-Z a-z 0-9 . _ - and * ?)", parts[i]);
      g_ptr_array_add(globs, g_strdup(parts[i]));
    } else if (tfst_parse_network(parts[i], &n, &reason)) {
      g_array_append_val(r->networks, n);
    } else {
      return reason;
    }
  }
  g_ptr_array_add(globs, NULL);
  r->globs = (GStrv)g_ptr_array_free(g_steal_pointer(&globs), FALSE);
  return NULL;
}

static char *
parse_allow_word(const char *key, const char *word, GPtrArray *rules)
{
  const char *colon = strchr(word, ':');
  g_autofree char *child = colon != NULL ? g_strndup(word, colon - word) : NULL;
  TfstAllowRule *r;
  char *reason;

  if (child == NULL || !is_label_glob(child) || colon[1] == '\0')
    return g_strdup_printf("'%s' is not CHILD:ITEM[,ITEM...] (CHILD is a label or a pattern "
                           "such as gw-*; '*:' names every child)",
                           word);
  r = g_new0(TfstAllowRule, 1);
  r->child = g_steal_pointer(&child);
  r->networks = g_array_new(FALSE, TRUE, sizeof(TfstNetworkEntry));
  g_ptr_array_add(rules, r);
  reason = parse_allow_items(key, colon + 1, r);
  return reason;
}

static gboolean
parse_allow(Loader *l, const char *key, GPtrArray **out, GError **error)
{
  const char *v = lookup(l, "Children", key);
  g_auto(GStrv) words = NULL;
  g_autoptr(GPtrArray) rules = NULL;

  if (v == NULL || v[0] == '\0')
    return TRUE; /* unset or reset: every child may claim anything */
  rules = g_ptr_array_new_with_free_func((GDestroyNotify)allow_rule_free);
  words = g_strsplit_set(v, " \t", -1);
  for (guint i = 0; words[i] != NULL; i++) {
    g_autofree char *reason = NULL;

    if (words[i][0] != '\0' && (reason = parse_allow_word(key, words[i], rules)) != NULL)
      return conf_error(l, error, "Children", key, "%s", reason);
  }
  *out = g_steal_pointer(&rules);
  return TRUE;
}

static gboolean
parse_trust(Loader *l, TfstConfig *c, GError **error)
{
  TfstTrustConf *t = &c->trust;

  for (gsize i = 0; i < G_N_ELEMENTS(trust_keys); i++)
    if (is_set(l, "Parent", trust_keys[i]))
      return conf_error(l, error, "Parent", trust_keys[i],
                        "only applies in [Children]: a parent is trusted");
  return parse_allow(l, "AllowLabels", &t->labels, error) &&
         parse_allow(l, "AllowNetworks", &t->networks, error) &&
         parse_allow(l, "AllowForwards", &t->forwards, error) &&
         get_uint(l, "Children", "MaxTellEntries", 1, 1000000, &t->max_tell_entries, error);
}

/* MaxParents=: how many parents a Listen= side accepts (with Connect=,
 * every address listed is one); FailbackDelay=: a time span or "never". */
static gboolean
parse_redundancy(Loader *l, TfstConfig *c, GError **error)
{
  static const char *const keys[] = {"MaxParents", "FailbackDelay"};
  const char *delay = lookup(l, "Parent", "FailbackDelay");

  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
    if (is_set(l, "Children", keys[i]))
      return conf_error(l, error, "Children", keys[i], "only applies in [Parent]");
  if (is_set(l, "Parent", "MaxParents") && !c->parent.listen)
    return conf_error(l, error, "Parent", "MaxParents",
                      "only applies with Listen=; with Connect= every address listed is a "
                      "parent");
  if (!get_uint(l, "Parent", "MaxParents", 1, TFST_MAX_PARENTS, &c->max_parents, error))
    return FALSE;
  if (delay != NULL && g_ascii_strcasecmp(delay, "never") == 0) {
    c->failback_delay_ms = TFST_FAILBACK_NEVER;
    return TRUE;
  }
  /* The generic time span message would hide that "never" is allowed. */
  if (delay != NULL && !tfst_parse_timespan_ms(delay, &(guint){0}))
    return conf_error(l, error, "Parent", "FailbackDelay",
                      "'%s' is neither a time span (examples: 0, 30s, 5min) nor never", delay);
  return get_timespan(l, "Parent", "FailbackDelay", 0, TFST_FAILBACK_NEVER - 1,
                      &c->failback_delay_ms, error);
}

static gboolean
parse_hops(Loader *l, TfstConfig *c, GError **error)
{
  gboolean is_ep = l->role == TFST_ROLE_EPPROXY;

  if (!check_role(l, error))
    return FALSE;
  if (loader_group(l, "Parent") != NULL && !parse_hop(l, "Parent", FALSE, &c->parent, error))
    return FALSE;
  if (loader_group(l, "Children") != NULL) {
    if (!parse_hop(l, "Children", is_ep, &c->children, error))
      return FALSE;
  } else if (is_ep) {
    hop_default_listen(&c->children);
  }
  if (loader_group(l, "Parent") != NULL && !parse_hop_tls(l, "Parent", &c->parent, error))
    return FALSE;
  if (loader_group(l, "Children") != NULL && !parse_hop_tls(l, "Children", &c->children, error))
    return FALSE;
  return parse_trust(l, c, error) && parse_redundancy(l, c, error) &&
         check_hop_listen_conflict(l, c, error);
}

/* ---- [Keepalive] [Session] [Ports] ---- */

static gboolean
check_ping(Loader *l, TfstKeepaliveConf *k, GError **error)
{
  char a[32], b[32];

  if (k->ping_timeout_ms <= k->ping_interval_ms)
    return conf_error(l, error, "Keepalive",
                      later_key(l, "Keepalive", "PingInterval", "PingTimeout"),
                      "PingTimeout= (%s) must be longer than PingInterval= (%s)",
                      format_ms(k->ping_timeout_ms, a), format_ms(k->ping_interval_ms, b));
  /* An idle hop carries a PING every PingInterval; a firewall that forgets
   * the connection sooner would silently cut the chain. */
  if (k->firewall_timeout_s != 0 &&
      (guint64)k->ping_interval_ms >= (guint64)k->firewall_timeout_s * MS_PER_S)
    return conf_error(
        l, error, "Keepalive", later_key(l, "Keepalive", "FirewallTimeout", "PingInterval"),
        "PingInterval= (%s) must be shorter than FirewallTimeout= (%s), or the "
        "firewall drops idle hop connections",
        format_ms(k->ping_interval_ms, a), format_ms(k->firewall_timeout_s * MS_PER_S, b));
  return TRUE;
}

/* The keys [Keepalive] and [SessionKeepalive] share. */
static gboolean
parse_tcp_keepalive(Loader *l, const char *g, TfstKeepaliveConf *k, GError **error)
{
  return get_bool(l, g, "Keepalive", &k->enabled, error) &&
         get_seconds(l, g, "Idle", 1, MAX_KEEP_S, &k->idle_s, error) &&
         get_seconds(l, g, "Interval", 1, MAX_KEEP_S, &k->interval_s, error) &&
         get_uint(l, g, "Count", 1, MAX_KEEPCNT, &k->count, error) &&
         get_timespan(l, g, "UserTimeout", 0, G_MAXINT, &k->user_timeout_ms, error) &&
         get_seconds(l, g, "FirewallTimeout", 0, G_MAXUINT / MS_PER_S, &k->firewall_timeout_s,
                     error);
}

/* [Keepalive] is for hops and, key by key, the default of the session
 * sockets, which [SessionKeepalive] may override. */
static gboolean
parse_keepalive(Loader *l, TfstConfig *c, GError **error)
{
  TfstKeepaliveConf *k = &c->keepalive;
  const char *g = "Keepalive";

  if (!parse_tcp_keepalive(l, g, k, error) ||
      !get_timespan(l, g, "PingInterval", MIN_PING_INTERVAL_MS, G_MAXUINT, &k->ping_interval_ms,
                    error) ||
      !get_timespan(l, g, "PingTimeout", MIN_PING_INTERVAL_MS, G_MAXUINT, &k->ping_timeout_ms,
                    error) ||
      !check_ping(l, k, error))
    return FALSE;
  c->session_keepalive = *k;
  c->session_keepalive.ping_interval_ms = 0;
  c->session_keepalive.ping_timeout_ms = 0;
  return parse_tcp_keepalive(l, "SessionKeepalive", &c->session_keepalive, error);
}

static gboolean
parse_diagnostics(Loader *l, TfstConfig *c, GError **error)
{
  return get_bool(l, "Diagnostics", "PacketTrace", &c->packet_trace, error) &&
         get_bool(l, "Diagnostics", "IPsec", &c->ipsec, error);
}

static gboolean
parse_session(Loader *l, TfstConfig *c, GError **error)
{
  const char *g = "Session";
  char a[32], b[32];

  if (!get_timespan(l, g, "ConnectTimeout", 1, G_MAXUINT, &c->connect_timeout_ms, error) ||
      !get_timespan(l, g, "CloseTimeout", 1, G_MAXUINT, &c->close_timeout_ms, error) ||
      !get_timespan(l, g, "IdleTimeout", 0, G_MAXUINT, &c->idle_timeout_ms, error) ||
      !get_size(l, g, "InitialWindow", MIN_INITIAL_WINDOW, MAX_INITIAL_WINDOW, &c->initial_window,
                error) ||
      !get_size(l, g, "MaxWindow", MIN_INITIAL_WINDOW, MAX_MAX_WINDOW, &c->max_window, error) ||
      !get_bool(l, g, "ZeroCopy", &c->zero_copy, error))
    return FALSE;
  if (c->max_window < c->initial_window)
    return conf_error(l, error, g, later_key(l, g, "InitialWindow", "MaxWindow"),
                      "MaxWindow= (%s) is below InitialWindow= (%s)", format_size(c->max_window, a),
                      format_size(c->initial_window, b));
  return TRUE;
}

static gboolean
parse_ports(Loader *l, TfstConfig *c, GError **error)
{
  const char *g = "Ports";
  guint base = c->port_base, skip = c->port_skip, count = c->port_count;
  guint64 last;

  if (!get_uint(l, g, "Base", 1, G_MAXUINT16, &base, error) ||
      !get_uint(l, g, "Skip", 0, G_MAXUINT16, &skip, error) ||
      !get_uint(l, g, "Count", 1, G_MAXUINT16, &count, error))
    return FALSE;
  last = base + ((guint64)skip + count - 1) * PORT_STRIDE;
  if (last > G_MAXUINT16) {
    const char *key = is_set(l, g, "Count") ? "Count" : is_set(l, g, "Skip") ? "Skip" : "Base";

    return conf_error(l, error, g, key,
                      "the port rule Base + (Skip + k) * %u gives %" G_GUINT64_FORMAT
                      " for the last of Count=%u instances, above 65535",
                      PORT_STRIDE, last, count);
  }
  c->port_base = (guint16)base;
  c->port_skip = (guint16)skip;
  c->port_count = (guint16)count;
  return TRUE;
}

/* ---- [Forward NAME] ---- */

static void
forward_conf_free(TfstForwardConf *f)
{
  g_free(f->name);
  g_free(f->route);
  g_free(f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstForwardConf, forward_conf_free)

static gboolean
parse_forward_target(Loader *l, const char *group, TfstForwardConf *f, GError **error)
{
  if (g_strcmp0(lookup(l, group, "Target"), ORIGINAL_DESTINATION) == 0) {
    f->target_kind = TFST_TARGET_ORIGINAL_DST;
    return TRUE;
  }
  f->target_kind = TFST_TARGET_ADDRESS;
  return get_addr(l, group, "Target", TRUE, &f->target, error);
}

/* Route= and Destination= describe connections accepted at this end. */
static gboolean
parse_forward_downcall(Loader *l, const char *group, TfstForwardConf *f, GError **error)
{
  if (!f->has_listen) {
    const char *key = is_set(l, group, "Route") ? "Route" : "Destination";

    if (is_set(l, group, key))
      return conf_error(l, error, group, key,
                        "only applies with Listen= (connections accepted at this end)");
    return TRUE;
  }
  if (is_set(l, group, "Route") && l->role == TFST_ROLE_GWPROXY)
    return conf_error(l, error, group, "Route",
                      "a gwproxy has no children: its forwards always go to the parent");
  if (!get_label(l, group, "Route", &f->route, error))
    return FALSE;
  if (is_set(l, group, "Destination")) {
    f->has_destination = TRUE;
    return get_addr(l, group, "Destination", TRUE, &f->destination, error);
  }
  return TRUE;
}

static TfstForwardConf *
parse_forward(Loader *l, const char *group, GError **error)
{
  g_autoptr(TfstForwardConf) f = g_new0(TfstForwardConf, 1);
  gboolean has_listen = is_set(l, group, "Listen");
  gboolean has_target = is_set(l, group, "Target");

  f->name = g_strdup(tfst_config_schema_forward_name(group));
  if (has_listen && has_target) {
    conf_error(l, error, group, later_key(l, group, "Listen", "Target"),
               "Listen= and Target= exclude each other: a forward accepts connections at one "
               "end of the chain (Listen=) and connects to the service at the other (Target=)");
    return NULL;
  }
  if (!has_listen && !has_target) {
    conf_error(l, error, group, NULL,
               "needs Listen=ADDRESS:PORT (clients connect here) or Target=ADDRESS:PORT or "
               "Target=" ORIGINAL_DESTINATION " (this end connects to the service)");
    return NULL;
  }
  f->has_listen = has_listen;
  if (has_listen && !get_addr(l, group, "Listen", TRUE, &f->listen, error))
    return NULL;
  if (has_target && !parse_forward_target(l, group, f, error))
    return NULL;
  if (!parse_forward_downcall(l, group, f, error))
    return NULL;
  return g_steal_pointer(&f);
}

/* Forwards seen so far, by name and by listening address: a lookup each,
 * so that thousands of forwards load in linear time. */
typedef struct {
  GHashTable *names;   /* name -> TfstForwardConf (borrowed) */
  GHashTable *listens; /* formatted Listen= -> TfstForwardConf (borrowed) */
} ForwardIndex;

static void
forward_index_clear(ForwardIndex *x)
{
  g_clear_pointer(&x->names, g_hash_table_unref);
  g_clear_pointer(&x->listens, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ForwardIndex, forward_index_clear)

static gboolean
check_tfst_config_schema_forward_name(Loader *l, ForwardIndex *x, const char *group, GError **error)
{
  const char *name = tfst_config_schema_forward_name(group);

  if (*name == '\0')
    return conf_error(l, error, group, NULL, "a forward needs a name: [Forward NAME]");
  if (!tfst_label_is_valid(name))
    return conf_error(l, error, group, NULL,
                      "'%s' is not a valid forward name (1-%d characters of A-Z a-z 0-9 . _ -)",
                      name, TFST_LABEL_MAX);
  if (g_hash_table_contains(x->names, name))
    return conf_error(l, error, group, NULL, "forward '%s' is defined twice", name);
  return TRUE;
}

/* Two listeners on one address would fail at bind time with a less helpful
 * message, and only on the second start. */
static gboolean
check_listen_conflict(Loader *l, TfstConfig *c, ForwardIndex *x, const char *group,
                      const TfstForwardConf *f, GError **error)
{
  char buf[TFST_ADDR_STRLEN];
  const TfstHopConf *hops[] = {&c->parent, &c->children};
  const char *hop_names[] = {"Parent", "Children"};
  /* the formatted address is canonical: equal addresses format alike */
  const TfstForwardConf *other = g_hash_table_lookup(x->listens, tfst_addr_format(&f->listen, buf));

  if (other != NULL)
    return conf_error(l, error, group, "Listen", "%s is already used by [Forward %s] Listen=", buf,
                      other->name);
  for (gsize i = 0; i < G_N_ELEMENTS(hops); i++) {
    const TfstHopConf *h = hops[i];

    if (h->listen && !h->port_from_rule && h->addrs->len == 1 &&
        tfst_addr_equal(&g_array_index(h->addrs, TfstSockAddr, 0), &f->listen, TRUE))
      return conf_error(l, error, group, "Listen",
                        "%s is already used by [%s] Listen=", tfst_addr_format(&f->listen, buf),
                        hop_names[i]);
  }
  return TRUE;
}

static void
forward_index_add(ForwardIndex *x, TfstForwardConf *f)
{
  char buf[TFST_ADDR_STRLEN];

  g_hash_table_insert(x->names, f->name, f);
  if (f->has_listen)
    g_hash_table_insert(x->listens, g_strdup(tfst_addr_format(&f->listen, buf)), f);
}

static gboolean
parse_forwards(Loader *l, TfstConfig *c, GError **error)
{
  g_auto(ForwardIndex) x = {
      .names = g_hash_table_new(g_str_hash, g_str_equal),
      .listens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
  };

  for (guint i = 0; i < l->groups->len; i++) {
    ConfGroup *g = g_ptr_array_index(l->groups, i);
    g_autoptr(TfstForwardConf) f = NULL;

    if (tfst_config_schema_forward_name(g->name) == NULL)
      continue;
    if (!check_tfst_config_schema_forward_name(l, &x, g->name, error))
      return FALSE;
    f = parse_forward(l, g->name, error);
    if (f == NULL)
      return FALSE;
    if (f->has_listen && !check_listen_conflict(l, c, &x, g->name, f, error))
      return FALSE;
    forward_index_add(&x, f);
    g_ptr_array_add(c->forwards, g_steal_pointer(&f));
  }
  return TRUE;
}

/* ---- [Events NAME] ---- */

static const char *const spool_keys[] = {"SpoolSize", "SpoolSync", "SpoolFull"};

static void
events_conf_free(TfstEventsConf *e)
{
  g_free(e->name);
  g_clear_pointer(&e->listen, g_array_unref);
  g_free(e);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstEventsConf, events_conf_free)

static TfstEventsConf *
events_conf_new(const char *name)
{
  TfstEventsConf *e = g_new0(TfstEventsConf, 1);

  e->name = g_strdup(name);
  e->listen = g_array_new(FALSE, TRUE, sizeof(TfstEventAddr));
  e->target_framing = TFST_EVENT_FRAMING_OCTET;
  e->spool.max_bytes = TFST_DEFAULT_SPOOL_SIZE;
  e->spool.sync_ms = TFST_DEFAULT_SPOOL_SYNC_MS;
  e->spool.full = TFST_SPOOL_FULL_DROP_OLDEST;
  return e;
}

/* "udp:ADDRESS:PORT" or "tcp:ADDRESS:PORT"; NULL, or why not (free it). */
static char *
parse_event_addr(const char *word, TfstEventAddr *out)
{
  g_autoptr(GError) local = NULL;
  TfstEventAddr a = {0};

  if (g_str_has_prefix(word, "udp:"))
    a.transport = TFST_EVENT_UDP;
  else if (g_str_has_prefix(word, "tcp:"))
    a.transport = TFST_EVENT_TCP;
  else
    return g_strdup_printf("'%s' does not start with udp: or tcp: (examples: udp:0.0.0.0:514, "
                           "tcp:[::1]:601)",
                           word);
  if (!tfst_addr_parse(word + strlen("udp:"), TRUE, &a.addr, &local))
    return g_strdup_printf("'%s': %s", word, local->message);
  *out = a;
  return NULL;
}

/* "udp:1.2.3.4:514": equal sockets format alike. */
static char *
format_event_addr(const TfstEventAddr *a)
{
  char buf[TFST_ADDR_STRLEN];

  return g_strdup_printf("%s:%s", a->transport == TFST_EVENT_UDP ? "udp" : "tcp",
                         tfst_addr_format(&a->addr, buf));
}

/* Listen= of this or an earlier sink already on the same socket, or a TCP
 * one on the address of a forward or a hop: bind() would fail later, with
 * a less helpful message. */
static char *
event_listen_conflict(TfstConfig *c, GHashTable *taken, const TfstEventAddr *a)
{
  g_autofree char *text = format_event_addr(a);
  const char *owner = g_hash_table_lookup(taken, text);
  const TfstHopConf *hops[] = {&c->parent, &c->children};
  const char *hop_names[] = {"Parent", "Children"};

  if (owner != NULL)
    return g_strdup_printf("%s is already used by [Events %s] Listen=", text, owner);
  if (a->transport != TFST_EVENT_TCP)
    return NULL;
  for (guint i = 0; i < c->forwards->len; i++) {
    const TfstForwardConf *f = g_ptr_array_index(c->forwards, i);

    if (f->has_listen && tfst_addr_equal(&f->listen, &a->addr, TRUE))
      return g_strdup_printf("%s is already used by [Forward %s] Listen=", text, f->name);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(hops); i++) {
    const TfstHopConf *h = hops[i];

    if (h->listen && !h->port_from_rule && h->addrs->len == 1 &&
        tfst_addr_equal(&g_array_index(h->addrs, TfstSockAddr, 0), &a->addr, TRUE))
      return g_strdup_printf("%s is already used by [%s] Listen=", text, hop_names[i]);
  }
  return NULL;
}

/* taken: "udp:ADDRESS:PORT" -> name of the sink listening there. */
static gboolean
parse_events_listen(Loader *l, TfstConfig *c, const char *group, TfstEventsConf *e,
                    GHashTable *taken, GError **error)
{
  g_auto(GStrv) words = g_strsplit_set(lookup(l, group, "Listen"), " \t;,", -1);

  for (guint i = 0; words[i] != NULL; i++) {
    g_autofree char *reason = NULL;
    TfstEventAddr a;

    if (words[i][0] == '\0')
      continue;
    reason = parse_event_addr(words[i], &a);
    if (reason == NULL)
      reason = event_listen_conflict(c, taken, &a);
    if (reason != NULL)
      return conf_error(l, error, group, "Listen", "%s", reason);
    g_array_append_val(e->listen, a);
    g_hash_table_insert(taken, format_event_addr(&a), e->name);
  }
  if (e->listen->len == 0)
    return conf_error(l, error, group, "Listen", "no address given");
  return TRUE;
}

static gboolean
parse_events_target(Loader *l, const char *group, TfstEventsConf *e, GError **error)
{
  const char *v = lookup(l, group, "Target");
  g_autofree char *reason = NULL;

  if (strpbrk(v, " \t;,") != NULL)
    return conf_error(l, error, group, "Target", "'%s': Target= takes a single address", v);
  reason = parse_event_addr(v, &e->target);
  if (reason != NULL)
    return conf_error(l, error, group, "Target", "%s", reason);
  e->has_target = TRUE;
  return TRUE;
}

static gboolean
parse_events_framing(Loader *l, const char *group, TfstEventsConf *e, GError **error)
{
  const char *v = lookup(l, group, "TargetFraming");

  if (v == NULL)
    return TRUE;
  if (!e->has_target)
    return conf_error(l, error, group, "TargetFraming", "only applies with Target=");
  if (e->target.transport != TFST_EVENT_TCP)
    return conf_error(l, error, group, "TargetFraming",
                      "only applies with a tcp: Target=; a udp: target gets one datagram per "
                      "event");
  if (strcmp(v, "octet-counted") == 0)
    e->target_framing = TFST_EVENT_FRAMING_OCTET;
  else if (strcmp(v, "newline") == 0)
    e->target_framing = TFST_EVENT_FRAMING_NEWLINE;
  else
    return conf_error(l, error, group, "TargetFraming", "'%s' is not octet-counted or newline", v);
  return TRUE;
}

/* A time span, or "always": after every batch of events read. */
static gboolean
parse_spool_sync(Loader *l, const char *group, TfstSpoolConf *s, GError **error)
{
  const char *v = lookup(l, group, "SpoolSync");

  if (v != NULL && g_ascii_strcasecmp(v, "always") == 0) {
    s->sync_ms = TFST_SPOOL_SYNC_ALWAYS;
    return TRUE;
  }
  /* The generic time span message would hide that "always" is allowed. */
  if (v != NULL && !tfst_parse_timespan_ms(v, &s->sync_ms))
    return conf_error(l, error, group, "SpoolSync",
                      "'%s' is neither a time span (examples: 100ms, 1s) nor always", v);
  return TRUE;
}

static gboolean
parse_spool_full(Loader *l, const char *group, TfstSpoolConf *s, GError **error)
{
  static const char *const names[] = {"drop-oldest", "drop-newest", "block"};
  const char *v = lookup(l, group, "SpoolFull");

  if (v == NULL)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    if (strcmp(v, names[i]) == 0) {
      s->full = (TfstSpoolFull)i;
      return TRUE;
    }
  }
  return conf_error(l, error, group, "SpoolFull", "'%s' is not drop-oldest, drop-newest or block",
                    v);
}

/* The spool is where events are collected: only with Listen=. */
static gboolean
parse_events_spool(Loader *l, const char *group, TfstEventsConf *e, GError **error)
{
  if (e->listen->len == 0) {
    for (gsize i = 0; i < G_N_ELEMENTS(spool_keys); i++)
      if (is_set(l, group, spool_keys[i]))
        return conf_error(l, error, group, spool_keys[i],
                          "only applies with Listen=: the spool is at the collecting end");
    return TRUE;
  }
  return get_size64(l, group, "SpoolSize", TFST_SPOOL_SIZE_MIN, &e->spool.max_bytes, error) &&
         parse_spool_sync(l, group, &e->spool, error) &&
         parse_spool_full(l, group, &e->spool, error);
}

/* Events travel up the chain: collected at a gwproxy, delivered at the
 * epproxy; a relay carries every sink without being told. */
static gboolean
check_events_role(Loader *l, const char *group, GError **error)
{
  gboolean has_listen = is_set(l, group, "Listen");
  gboolean has_target = is_set(l, group, "Target");

  if (l->role == TFST_ROLE_RELAY)
    return conf_error(l, error, group, NULL,
                      "a relay needs no [Events] section: it carries the events of every sink "
                      "from its children to its parent; remove this section");
  if (has_listen && l->role != TFST_ROLE_GWPROXY)
    return conf_error(l, error, group, "Listen",
                      "only a gwproxy collects events: they travel up the chain to the epproxy, "
                      "which delivers them to Target=");
  if (has_target && l->role != TFST_ROLE_EPPROXY)
    return conf_error(l, error, group, "Target",
                      "only an epproxy delivers events: a gwproxy collects them with Listen= "
                      "and sends them up the chain");
  if (!has_listen && !has_target)
    return conf_error(l, error, group, NULL,
                      "needs Listen=udp:|tcp:ADDRESS:PORT (a gwproxy collects events there) or "
                      "Target=udp:|tcp:ADDRESS:PORT (an epproxy delivers them there)");
  return TRUE;
}

static gboolean
check_events_name(Loader *l, TfstConfig *c, const char *group, GError **error)
{
  const char *name = tfst_config_schema_events_name(group);

  if (*name == '\0')
    return conf_error(l, error, group, NULL, "an event sink needs a name: [Events NAME]");
  if (!tfst_label_is_valid(name))
    return conf_error(l, error, group, NULL,
                      "'%s' is not a valid event sink name (1-%d characters of A-Z a-z 0-9 . _ -)",
                      name, TFST_LABEL_MAX);
  if (tfst_config_events(c, name) != NULL)
    return conf_error(l, error, group, NULL, "event sink '%s' is defined twice", name);
  return TRUE;
}

static TfstEventsConf *
parse_events_section(Loader *l, TfstConfig *c, const char *group, GHashTable *taken, GError **error)
{
  g_autoptr(TfstEventsConf) e = NULL;

  if (!check_events_name(l, c, group, error) || !check_events_role(l, group, error))
    return NULL;
  e = events_conf_new(tfst_config_schema_events_name(group));
  if (is_set(l, group, "Listen") && !parse_events_listen(l, c, group, e, taken, error))
    return NULL;
  if (is_set(l, group, "Target") && !parse_events_target(l, group, e, error))
    return NULL;
  if (!parse_events_framing(l, group, e, error) || !parse_events_spool(l, group, e, error))
    return NULL;
  return g_steal_pointer(&e);
}

static gboolean
parse_events(Loader *l, TfstConfig *c, GError **error)
{
  g_autoptr(GHashTable) taken = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < l->groups->len; i++) {
    const ConfGroup *g = g_ptr_array_index(l->groups, i);
    TfstEventsConf *e;

    if (tfst_config_schema_events_name(g->name) == NULL)
      continue;
    e = parse_events_section(l, c, g->name, taken, error);
    if (e == NULL)
      return FALSE;
    g_ptr_array_add(c->events, e);
  }
  return TRUE;
}

/* ---- structure: unknown sections and keys ---- */

static gboolean
check_keys(Loader *l, const ConfGroup *g, const TfstConfigSection *info, GError **error)
{
  for (guint i = 0; i < g->keys->len; i++) {
    const char *key = g_ptr_array_index(g->keys, i);
    g_autofree char *known = NULL;
    g_autofree char *hint = NULL;
    const char *close;

    if (g_strv_contains(info->keys, key))
      continue;
    known = g_strjoinv("=, ", (char **)info->keys);
    close = tfst_config_schema_suggest(key, info->keys);
    hint = close != NULL ? g_strdup_printf(" (did you mean %s=?)", close) : g_strdup("");
    return conf_error(l, error, g->name, key, "unknown key%s; the keys of [%s] are %s=", hint,
                      info->name, known);
  }
  return TRUE;
}

static gboolean
check_structure(Loader *l, GError **error)
{
  for (guint i = 0; i < l->groups->len; i++) {
    const ConfGroup *g = g_ptr_array_index(l->groups, i);
    const TfstConfigSection *info = tfst_config_schema_section(g->name);

    if (info == NULL) {
      const char *close = tfst_config_schema_suggest_section(g->name);
      gboolean named = g_strcmp0(close, TFST_CONFIG_FORWARD_PREFIX) == 0 ||
                       g_strcmp0(close, TFST_CONFIG_EVENTS_PREFIX) == 0;
      g_autofree char *hint =
          close != NULL ? g_strdup_printf(" (did you mean [%s%s]?)", close, named ? " NAME" : "")
                        : g_strdup("");

      return conf_error(l, error, g->name, NULL,
                        "unknown section%s; the sections are [Instance], [Parent], [Children], "
                        "[Keepalive], [SessionKeepalive], [Session], [Ports], [Diagnostics], "
                        "[Forward NAME] and [Events NAME]",
                        hint);
    }
    if (!check_keys(l, g, info, error))
      return FALSE;
  }
  return TRUE;
}

/* ---- assembly ---- */

static TfstConfig *
config_new(TfstRole role, const char *instance)
{
  TfstConfig *c = g_new0(TfstConfig, 1);

  c->role = role;
  c->instance = g_strdup(instance);
  tfst_config_schema_set_defaults(c);
  c->forwards = g_ptr_array_new_with_free_func((GDestroyNotify)forward_conf_free);
  c->events = g_ptr_array_new_with_free_func((GDestroyNotify)events_conf_free);
  c->origins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  return c;
}

static char *
origin_key(const char *group, const char *key)
{
  return g_strconcat(group, "\n", key, NULL);
}

/* A named section as its origin is looked up: "Forward NAME" and "Events
 * NAME" with one space, whatever blanks the file has. */
static char *
origin_group(const char *group)
{
  const char *fwd = tfst_config_schema_forward_name(group);
  const char *events = tfst_config_schema_events_name(group);

  if (fwd != NULL)
    return g_strconcat(TFST_CONFIG_FORWARD_PREFIX " ", fwd, NULL);
  if (events != NULL)
    return g_strconcat(TFST_CONFIG_EVENTS_PREFIX " ", events, NULL);
  return g_strdup(group);
}

/* The loader and its file texts are gone after loading; keep the location
 * of the few keys a later check may have to point at: the addresses
 * (tfst-host-addrs.c, the event sockets) and the TLS files
 * (tfst_tls_creds_load). */
static void
record_origins(Loader *l, TfstConfig *c)
{
  static const char *const keys[] = {"Listen",      "Connect", "LocalAddress", "Target",
                                     "Destination", "TLS",     "Certificate",  "Key",
                                     "TrustedCA",   "PSKFile", "TLSPriority",  "TLSMinVersion"};

  for (guint i = 0; i < l->groups->len; i++) {
    const ConfGroup *g = g_ptr_array_index(l->groups, i);
    g_autofree char *group = origin_group(g->name);

    for (gsize k = 0; k < G_N_ELEMENTS(keys); k++) {
      const ConfValue *v = is_set(l, g->name, keys[k]) ? loader_value(l, g->name, keys[k]) : NULL;
      guint line;

      if (v == NULL)
        continue;
      line = find_line(v->file, g->name, keys[k]);
      g_hash_table_insert(c->origins, origin_key(group, keys[k]),
                          line > 0 ? g_strdup_printf("%s:%u", v->file->path, line)
                                   : g_strdup(v->file->path));
    }
  }
}

static TfstConfig *
loader_build(Loader *l, const char *instance, GError **error)
{
  g_autoptr(TfstConfig) c = config_new(l->role, instance);

  if (!check_structure(l, error) || !parse_instance(l, c, error) || !parse_hops(l, c, error) ||
      !parse_keepalive(l, c, error) || !parse_session(l, c, error) || !parse_ports(l, c, error) ||
      !parse_diagnostics(l, c, error) || !parse_forwards(l, c, error) || !parse_events(l, c, error))
    return NULL;
  record_origins(l, c);
  if (l->n_warnings > MAX_WARNINGS)
    g_ptr_array_add(l->warnings,
                    g_strdup_printf("%u more warnings like these", l->n_warnings - MAX_WARNINGS));
  c->warnings = g_steal_pointer(&l->warnings);
  return g_steal_pointer(&c);
}

const char *
tfst_config_origin(const TfstConfig *config, const char *group, const char *key)
{
  g_autofree char *k = NULL;

  g_return_val_if_fail(config != NULL, NULL);
  k = origin_key(group, key);
  return g_hash_table_lookup(config->origins, k);
}

void
tfst_config_set_error(const TfstConfig *config, GError **error, const char *group, const char *key,
                      const char *reason)
{
  const char *origin = tfst_config_origin(config, group, key);

  if (origin == NULL)
    origin = config->path != NULL ? config->path : "<data>";
  g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG, "%s: [%s] %s=: %s", origin, group, key, reason);
}

/* Without --config, the instance name becomes part of a path below
 * SYSCONFDIR. */
TfstConfig *
tfst_config_load(TfstRole role, const char *instance, const char *path, GError **error)
{
  g_auto(Loader) l = {0};
  g_autoptr(GPtrArray) files = NULL;
  TfstConfig *c;

  g_return_val_if_fail(tfst_role_is_valid(role), NULL);
  g_return_val_if_fail(instance != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  files = tfst_config_files(role, instance, path, error);
  if (files == NULL)
    return NULL;
  loader_init(&l, role, ((TfstConfigFile *)files->pdata[0])->path);
  for (guint i = 0; i < files->len; i++) {
    const TfstConfigFile *f = g_ptr_array_index(files, i);
    /* a missing default file means all defaults; a missing --config does not */
    gboolean missing_ok = f->kind == TFST_CONFIG_FILE_MAIN && path == NULL;

    if (!loader_add_file(&l, f->path, missing_ok, error))
      return NULL;
  }
  c = loader_build(&l, instance, error);
  if (c != NULL)
    c->path = g_strdup(l.main_path);
  return c;
}

TfstConfig *
tfst_config_load_from_data(TfstRole role, const char *instance, const char *data, const char *name,
                           GError **error)
{
  g_auto(Loader) l = {0};

  g_return_val_if_fail(tfst_role_is_valid(role), NULL);
  g_return_val_if_fail(instance != NULL, NULL);
  g_return_val_if_fail(data != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (name == NULL)
    name = "<data>";
  loader_init(&l, role, name);
  if (!loader_add_text(&l, name, g_strdup(data), error))
    return NULL;
  return loader_build(&l, instance, error);
}

static void
hop_clear(TfstHopConf *hop)
{
  g_clear_pointer(&hop->addrs, g_array_unref);
  g_clear_pointer(&hop->expect_labels, g_ptr_array_unref);
  tfst_tls_conf_clear(&hop->tls);
}

void
tfst_config_free(TfstConfig *config)
{
  if (config == NULL)
    return;
  g_free(config->instance);
  g_free(config->path);
  g_free(config->label);
  g_clear_pointer(&config->networks, g_array_unref);
  hop_clear(&config->parent);
  hop_clear(&config->children);
  g_clear_pointer(&config->trust.labels, g_ptr_array_unref);
  g_clear_pointer(&config->trust.networks, g_ptr_array_unref);
  g_clear_pointer(&config->trust.forwards, g_ptr_array_unref);
  g_clear_pointer(&config->forwards, g_ptr_array_unref);
  g_clear_pointer(&config->events, g_ptr_array_unref);
  g_clear_pointer(&config->origins, g_hash_table_unref);
  g_clear_pointer(&config->warnings, g_ptr_array_unref);
  g_free(config);
}

/* The [Forward] section named `name`, or NULL. */
const TfstForwardConf *
tfst_config_forward(const TfstConfig *config, const char *name)
{
  for (guint i = 0; i < config->forwards->len; i++) {
    const TfstForwardConf *fw = g_ptr_array_index(config->forwards, i);
    if (g_strcmp0(fw->name, name) == 0)
      return fw;
  }
  return NULL;
}

const TfstEventsConf *
tfst_config_events(const TfstConfig *config, const char *name)
{
  for (guint i = 0; i < config->events->len; i++) {
    const TfstEventsConf *e = g_ptr_array_index(config->events, i);

    if (g_strcmp0(e->name, name) == 0)
      return e;
  }
  return NULL;
}
