/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl stats: the counters since the last clear (GetStatistics), or
 * with --clear exactly the counters it cleared (ClearStatistics returns
 * them: reading and clearing are one step in the instance). */
#include "tfstctl-bus.h"
#include "tfstctl-fields.h"
#include "tfstctl-format.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>
#include <string.h>

/* ---- text */

static void
add_uint_row(struct libscols_table *table, const char *name, guint64 value)
{
  struct libscols_line *line = scols_table_new_line(table, NULL);

  scols_line_set_data(line, 0, name);
  /* Byte counters get a readable size next to the exact number. */
  if (strstr(name, "Bytes") != NULL && value >= 1024) {
    g_autofree char *size = tfstctl_format_bytes(value);
    scols_line_refer_data(line, 1, g_strdup_printf("%" G_GUINT64_FORMAT " (%s)", value, size));
  } else {
    scols_line_refer_data(line, 1, g_strdup_printf("%" G_GUINT64_FORMAT, value));
  }
}

/* SessionsFailedByErrno: one row per errno, "SessionsFailedByErrno.ECONNREFUSED". */
static void
add_map_rows(struct libscols_table *table, const char *name, GVariant *map)
{
  GVariantIter iter;
  const char *key;
  guint64 value;

  g_variant_iter_init(&iter, map);
  while (g_variant_iter_next(&iter, "{&st}", &key, &value)) {
    g_autofree char *row = g_strdup_printf("%s.%s", name, key);
    add_uint_row(table, row, value);
  }
}

static void
add_counter_rows(struct libscols_table *table, const char *name, GVariant *value)
{
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64)) {
    add_uint_row(table, name, g_variant_get_uint64(value));
  } else if (g_variant_is_of_type(value, G_VARIANT_TYPE("a{st}"))) {
    add_map_rows(table, name, value);
  } else {
    /* A newer instance may send other types: show them as they are. */
    struct libscols_line *line = scols_table_new_line(table, NULL);

    scols_line_set_data(line, 0, name);
    scols_line_refer_data(line, 1, g_variant_print(value, FALSE));
  }
}

static void
print_text(GVariant *counters, guint64 since_usec, gboolean cleared)
{
  g_autoptr(TfstctlScolsTable) table = tfstctl_output_table_new();
  g_autofree char *since = tfstctl_format_time(since_usec);
  GVariantIter iter;
  const char *name;
  GVariant *value;

  if (tfstctl_output_legend() && cleared)
    /* TRANSLATORS: %s is the local time of the previous clear. */
    g_print(_("Cleared these counters, counted since %s:\n"), since);
  else if (tfstctl_output_legend())
    /* TRANSLATORS: %s is the local time of the last clear. */
    g_print(_("Counters since %s\n"), since);
  tfstctl_output_table_new_column(table, N_("NAME"), 0);
  tfstctl_output_table_new_column(table, N_("VALUE"), 0);
  g_variant_iter_init(&iter, counters);
  while (g_variant_iter_loop(&iter, "{&sv}", &name, &value))
    add_counter_rows(table, name, value);
  tfstctl_output_table_print(table);
}

/* ---- JSON */

static JsonNode *
json_counter(GVariant *value)
{
  g_autoptr(JsonObject) map = NULL;
  GVariantIter iter;
  const char *key;
  guint64 n;

  /* A newer instance may send other types: numbers, booleans and strings
   * as such, anything else as text. */
  if (!g_variant_is_of_type(value, G_VARIANT_TYPE("a{st}")))
    return tfstctl_fields_json_value(value);
  map = json_object_new();
  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "{&st}", &key, &n))
    json_object_set_int_member(map, key, (gint64)n);
  return json_node_init_object(json_node_alloc(), map);
}

/* "SessionsFailedByErrno" -> "sessions_failed_by_errno", the JSON style of
 * tfstctl(1); a name already in that style stays as it is. */
static char *
snake_case(const char *name)
{
  GString *s = g_string_new(NULL);

  for (const char *p = name; *p != '\0'; p++) {
    if (g_ascii_isupper(*p) && p != name)
      g_string_append_c(s, '_');
    g_string_append_c(s, g_ascii_tolower(*p));
  }
  return g_string_free(s, FALSE);
}

/* Byte counters carry the unit in their name: "upcall_bytes_to_target"
 * already does; the others are counts. */
static void
print_json(GVariant *counters, guint64 since, guint64 cleared, const char *instance)
{
  g_autoptr(JsonObject) json = json_object_new();
  JsonObject *counters_json = json_object_new();
  GVariantIter iter;
  const char *name;
  GVariant *value;

  json_object_set_string_member(json, "instance", instance);
  json_object_set_int_member(json, "since_us", (gint64)since);
  if (cleared != 0)
    json_object_set_int_member(json, "cleared_us", (gint64)cleared);
  else
    json_object_set_null_member(json, "cleared_us");
  g_variant_iter_init(&iter, counters);
  while (g_variant_iter_loop(&iter, "{&sv}", &name, &value)) {
    g_autofree char *key = snake_case(name);
    json_object_set_member(counters_json, key, json_counter(value));
  }
  json_object_set_object_member(json, "counters", counters_json);
  tfstctl_output_json_print_object(json);
}

/* ---- command */

/* The counters, cleared in the same step with `clear`. */
static gboolean
fetch_counters(TfstctlBus *bus, TfstDbusTfst1Instance *proxy, gboolean clear, GVariant **counters,
               guint64 *since, guint64 *cleared, GError **error)
{
  if (!clear)
    return tfst_dbus_tfst1_instance_call_get_statistics_sync(proxy, tfstctl_bus_call_flags(bus),
                                                             tfstctl_bus_call_timeout(bus),
                                                             counters, since, NULL, error);
  tfstctl_bus_prepare_auth(bus);
  return tfst_dbus_tfst1_instance_call_clear_statistics_sync(proxy, tfstctl_bus_call_flags(bus),
                                                             tfstctl_bus_call_timeout(bus),
                                                             counters, since, cleared, NULL, error);
}

int
tfstctl_stats(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  g_autoptr(GVariant) counters = NULL;
  g_autofree char *instance = NULL;
  guint64 since = 0;
  guint64 cleared = 0;
  gboolean clear = FALSE;
  const GOptionEntry entries[] = {
      {"clear", 0, 0, G_OPTION_ARG_NONE, &clear,
       N_("Set the counters to zero and print exactly the values that were cleared"), NULL},
      {NULL},
  };

  ctx = tfstctl_option_context_new(NULL,
                                   _("Print the counters of an instance since they were last "
                                     "cleared: sessions opened, closed and failed and why, hop "
                                     "reconnects, handshake failures, bytes each way."),
                                   entries, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  proxy = tfstctl_bus_open_instance(&opts, &bus, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  if (!fetch_counters(bus, proxy, clear, &counters, &since, &cleared, &error))
    return tfstctl_fail(error);
  instance = tfstctl_instance_name(proxy);
  if (opts.json)
    print_json(counters, since, cleared, instance);
  else
    print_text(counters, since, clear);
  return TFSTCTL_EXIT_OK;
}
