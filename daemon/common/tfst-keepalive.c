/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Keepalive settings over D-Bus (see tfst-keepalive.h). */
#include "tfst-keepalive.h"
#include "tfst-error.h"
#include "tfst-file.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stddef.h>

typedef struct {
  const char *name;
  gsize offset; /* of the guint (or gboolean) in TfstKeepaliveConf */
  TfstKeepaliveUnit unit;
  guint min;
  guint max;
  gboolean hops_only;
} KeyInfo;

/* In the order GetSettings() lists them and drop-ins write them. */
static const KeyInfo keys[] = {
    {"Keepalive", offsetof(TfstKeepaliveConf, enabled), TFST_KEEPALIVE_UNIT_BOOL, 0, 1, FALSE},
    {"Idle", offsetof(TfstKeepaliveConf, idle_s), TFST_KEEPALIVE_UNIT_S, 1, TFST_KEEPALIVE_MAX_S,
     FALSE},
    {"Interval", offsetof(TfstKeepaliveConf, interval_s), TFST_KEEPALIVE_UNIT_S, 1,
     TFST_KEEPALIVE_MAX_S, FALSE},
    {"Count", offsetof(TfstKeepaliveConf, count), TFST_KEEPALIVE_UNIT_COUNT, 1,
     TFST_KEEPALIVE_MAX_COUNT, FALSE},
    {"UserTimeout", offsetof(TfstKeepaliveConf, user_timeout_ms), TFST_KEEPALIVE_UNIT_MS, 0,
     G_MAXINT, FALSE},
    {"FirewallTimeout", offsetof(TfstKeepaliveConf, firewall_timeout_s), TFST_KEEPALIVE_UNIT_S, 0,
     G_MAXUINT / 1000, FALSE},
    {"PingInterval", offsetof(TfstKeepaliveConf, ping_interval_ms), TFST_KEEPALIVE_UNIT_MS,
     TFST_PING_INTERVAL_MIN_MS, G_MAXUINT, TRUE},
    {"PingTimeout", offsetof(TfstKeepaliveConf, ping_timeout_ms), TFST_KEEPALIVE_UNIT_MS,
     TFST_PING_INTERVAL_MIN_MS, G_MAXUINT, TRUE},
};

gboolean
tfst_keepalive_setting(guint i, const char **out_name, TfstKeepaliveUnit *out_unit)
{
  if (i >= G_N_ELEMENTS(keys))
    return FALSE;
  *out_name = keys[i].name;
  *out_unit = keys[i].unit;
  return TRUE;
}

static gboolean
is_bool(const KeyInfo *k)
{
  return k->unit == TFST_KEEPALIVE_UNIT_BOOL;
}

static guint *
field(TfstKeepaliveConf *ka, const KeyInfo *k)
{
  return (guint *)((char *)ka + k->offset);
}

static const KeyInfo *
find_key(const char *name, gboolean hops)
{
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
    if (g_str_equal(keys[i].name, name) && (hops || !keys[i].hops_only))
      return &keys[i];
  return NULL;
}

static char *
key_list(gboolean hops)
{
  g_autoptr(GString) s = g_string_new(NULL);

  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
    if (hops || !keys[i].hops_only)
      g_string_append_printf(s, "%s%s", s->len > 0 ? ", " : "", keys[i].name);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

void
tfst_keepalive_update_free(TfstKeepaliveUpdate *update)
{
  if (update == NULL)
    return;
  g_clear_pointer(&update->changes, g_variant_unref);
  g_free(update->summary);
  g_free(update);
}

gboolean
tfst_keepalive_parse_scope(const char *scope, gboolean *out_hops, GError **error)
{
  if (g_strcmp0(scope, "hops") == 0 || g_strcmp0(scope, "sessions") == 0) {
    *out_hops = g_str_equal(scope, "hops");
    return TRUE;
  }
  {
    g_autofree char *shown = tfst_error_quote_arg(scope);

    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "unknown scope '%s': use \"hops\" or \"sessions\"", shown);
  }
  return FALSE;
}

GVariant *
tfst_keepalive_to_variant(const TfstKeepaliveConf *ka, gboolean hops)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    const KeyInfo *k = &keys[i];
    guint v = *field((TfstKeepaliveConf *)ka, k);

    if (k->hops_only && !hops)
      continue;
    g_variant_builder_add(&b, "{sv}", k->name,
                          is_bool(k) ? g_variant_new_boolean(v != 0) : g_variant_new_uint32(v));
  }
  return g_variant_builder_end(&b);
}

static gboolean
set_one(TfstKeepaliveConf *ka, gboolean hops, const char *name, GVariant *value, GError **error)
{
  const KeyInfo *k = find_key(name, hops);
  const GVariantType *want;
  guint v;

  if (k == NULL) {
    g_autofree char *known = key_list(hops);
    g_autofree char *shown = tfst_error_quote_arg(name);

    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "unknown setting '%s'%s; the settings are %s", shown,
                !hops && find_key(name, TRUE) != NULL ? " for sessions (it is for hops only)" : "",
                known);
    return FALSE;
  }
  want = is_bool(k) ? G_VARIANT_TYPE_BOOLEAN : G_VARIANT_TYPE_UINT32;
  if (!g_variant_is_of_type(value, want)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS, "%s must be of type '%s', not '%s'",
                name, (const char *)want, g_variant_get_type_string(value));
    return FALSE;
  }
  v = is_bool(k) ? (guint)g_variant_get_boolean(value) : g_variant_get_uint32(value);
  if (v < k->min || v > k->max) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS, "%s=%u is out of range (%u-%u%s)", name,
                v, k->min, k->max,
                k->unit == TFST_KEEPALIVE_UNIT_S    ? " s"
                : k->unit == TFST_KEEPALIVE_UNIT_MS ? " ms"
                                                    : "");
    return FALSE;
  }
  *field(ka, k) = v;
  return TRUE;
}

/* The firewall drops an idle connection's state after FirewallTimeout;
 * something must cross it sooner.  Refused unless the caller said a
 * mismatch is fine, then only a warning. */
static gboolean
check_firewall(const TfstKeepaliveConf *ka, gboolean hops, guint flags, GPtrArray *warnings,
               GError **error)
{
  gboolean allow = (flags & TFST_KEEPALIVE_ALLOW_FIREWALL_MISMATCH) != 0;
  guint64 fw_ms = (guint64)ka->firewall_timeout_s * 1000;
  g_autofree char *why = NULL;

  if (fw_ms == 0)
    return TRUE;
  if (ka->enabled && ka->idle_s >= ka->firewall_timeout_s)
    why = g_strdup_printf("Idle=%u s is not below FirewallTimeout=%u s: the firewall forgets an "
                          "idle connection before the first keepalive probe crosses it",
                          ka->idle_s, ka->firewall_timeout_s);
  else if (hops && ka->ping_interval_ms >= fw_ms)
    why = g_strdup_printf("PingInterval=%u ms is not below FirewallTimeout=%u s: the firewall "
                          "forgets an idle hop between two PINGs",
                          ka->ping_interval_ms, ka->firewall_timeout_s);
  else if (!hops && !ka->enabled)
    g_ptr_array_add(warnings,
                    g_strdup_printf("Keepalive is off: the firewall drops the state of sessions "
                                    "idle for more than FirewallTimeout=%u s",
                                    ka->firewall_timeout_s));
  if (why == NULL)
    return TRUE;
  if (!allow) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "%s; lower it, or pass flag ALLOW_FIREWALL_MISMATCH (2) to accept it", why);
    return FALSE;
  }
  /* The configuration loader refuses PingInterval >= FirewallTimeout: a
   * persisted mismatch would stop the next start. */
  if (hops && ka->ping_interval_ms >= fw_ms && (flags & TFST_KEEPALIVE_PERSIST)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "%s; such a setting cannot be persisted (the configuration refuses it)", why);
    return FALSE;
  }
  g_ptr_array_add(warnings, g_steal_pointer(&why));
  return TRUE;
}

gboolean
tfst_keepalive_merge(TfstKeepaliveConf *ka, gboolean hops, GVariant *changes, guint flags,
                     GPtrArray *warnings, GError **error)
{
  TfstKeepaliveConf next = *ka;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  if (flags & ~TFST_KEEPALIVE_FLAGS_ALL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "unknown flags 0x%x: the flags are PERSIST (1) and ALLOW_FIREWALL_MISMATCH (2)",
                flags & ~TFST_KEEPALIVE_FLAGS_ALL);
    return FALSE;
  }
  g_variant_iter_init(&iter, changes);
  while (g_variant_iter_loop(&iter, "{&sv}", &name, &value))
    if (!set_one(&next, hops, name, value, error)) {
      g_variant_unref(value); /* g_variant_iter_loop() owns it only while looping */
      return FALSE;
    }
  if (hops && next.ping_timeout_ms <= next.ping_interval_ms) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "PingTimeout=%u ms must be longer than PingInterval=%u ms", next.ping_timeout_ms,
                next.ping_interval_ms);
    return FALSE;
  }
  if (!check_firewall(&next, hops, flags, warnings, error))
    return FALSE;
  *ka = next;
  return TRUE;
}

static void
append_value(GString *s, const KeyInfo *k, GVariant *value)
{
  if (is_bool(k))
    g_string_append(s, g_variant_get_boolean(value) ? "yes" : "no");
  else if (k->unit == TFST_KEEPALIVE_UNIT_MS)
    g_string_append_printf(s, "%ums", g_variant_get_uint32(value));
  else
    g_string_append_printf(s, "%u", g_variant_get_uint32(value));
}

char *
tfst_keepalive_describe(GVariant *changes)
{
  g_autoptr(GString) s = g_string_new(NULL);
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_iter_init(&iter, changes);
  while (g_variant_iter_loop(&iter, "{&sv}", &name, &value)) {
    const KeyInfo *k = find_key(name, TRUE);

    g_string_append_printf(s, "%s%s=", s->len > 0 ? " " : "", name);
    if (k != NULL &&
        g_variant_is_of_type(value, is_bool(k) ? G_VARIANT_TYPE_BOOLEAN : G_VARIANT_TYPE_UINT32))
      append_value(s, k, value);
    else
      g_string_append(s, "?");
  }
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *
value_text(const KeyInfo *k, GVariant *value)
{
  g_autoptr(GString) s = g_string_new(NULL);

  append_value(s, k, value);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

char *
tfst_keepalive_dropin(const char *existing, GVariant *changes, gboolean hops, GError **error)
{
  const char *group = hops ? "Keepalive" : "SessionKeepalive";
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) local = NULL;

  if (existing != NULL &&
      !g_key_file_load_from_data(kf, existing, -1, G_KEY_FILE_KEEP_COMMENTS, &local)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot read the persisted settings: %s",
                local->message);
    return NULL;
  }
  if (existing == NULL)
    (void)g_key_file_set_comment(kf, NULL, NULL,
                                 " Written by tfstd for org.tfst.Tfst1.Keepalive.SetSettings "
                                 "(PERSIST):\n the settings changed over D-Bus. Read after the "
                                 "drop-ins in /etc;\n delete this file and reload to go back to "
                                 "them.",
                                 NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    g_autoptr(GVariant) value = g_variant_lookup_value(changes, keys[i].name, NULL);
    g_autofree char *text = NULL;

    if (value == NULL || (keys[i].hops_only && !hops))
      continue;
    text = value_text(&keys[i], value);
    g_key_file_set_value(kf, group, keys[i].name, text);
  }
  return g_key_file_to_data(kf, NULL, NULL);
}

static char *
persist_path(TfstRole role, const char *instance, gboolean hops)
{
  g_autofree char *dir = tfst_config_persist_dir(role, instance);

  return g_build_filename(dir, hops ? "50-keepalive.conf" : "50-session-keepalive.conf", NULL);
}

/* Only the keys changed over D-Bus are written, merged with what earlier
 * calls persisted, so that a later edit in /etc of another key still
 * takes effect (as with systemctl set-property). */
char *
tfst_keepalive_persist(TfstRole role, const char *instance, GVariant *changes, gboolean hops,
                       GError **error)
{
  g_autofree char *path = persist_path(role, instance, hops);
  g_autofree char *dir = g_path_get_dirname(path);
  g_autofree char *existing = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;

  /* bounded and regular only, as the loader reads it at the next start */
  existing = tfst_file_read(path, TFST_FILE_MAX, NULL, &local);
  if (existing == NULL && !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot read %s: %s", path, local->message);
    return NULL;
  }
  text = tfst_keepalive_dropin(existing, changes, hops, error);
  if (text == NULL) {
    g_prefix_error(error, "%s: ", path);
    return NULL;
  }
  if (g_mkdir_with_parents(dir, 0755) < 0) {
    tfst_error_from_errno(error, errno, "cannot create %s", dir);
    return NULL;
  }
  g_clear_error(&local);
  if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local)) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot write %s: %s", path, local->message);
    return NULL;
  }
  return g_steal_pointer(&path);
}
