/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl list (and tfstctl without a command): every tfst instance of the
 * host, on the bus or configured, as networkctl lists links. */
#include "tfstctl-bus.h"
#include "tfstctl-configs.h"
#include "tfstctl-fields.h"
#include "tfstctl-instances.h"
#include "tfstctl-output.h"
#include "tfstctl-pattern.h"

#include <glib/gi18n.h>
#include <string.h>

/* One instance as listed: (instance, role, label, state, sessions,
 * unit_state, configured); the label is empty when the instance is not
 * on the bus, whose state is then "stopped". */
#define LIST_ROW "(ssssusb)"

static const TfstctlField list_fields[] = {
    {N_("INSTANCE"), "instance", 0},
    {NULL, "role", 1},
    {N_("LABEL"), "label", 2, TFSTCTL_FIELD_DASH},
    {N_("STATE"), "state", 3},
    {N_("SESSIONS"), "session_count", 4, TFSTCTL_FIELD_DASH, TFSTCTL_FIELD_RIGHT},
    {N_("UNIT"), "unit_state", 5, TFSTCTL_FIELD_DASH},
    {NULL, "configured", 6},
};
static const TfstctlFields list_desc = TFSTCTL_FIELDS(LIST_ROW, list_fields);

/* systemd's ActiveState of each loaded tfst unit, by instance name;
 * empty when systemd cannot be asked (no systemd, a private test bus). */
typedef GHashTable UnitStates;

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static const char *
str_or_empty(const char *s)
{
  return s != NULL ? s : "";
}

/* "tfst-relay@2.service" -> "relay@2" */
static char *
unit_instance(const char *unit)
{
  if (!g_str_has_prefix(unit, "tfst-") || !g_str_has_suffix(unit, ".service"))
    return NULL;
  return g_strndup(unit + strlen("tfst-"), strlen(unit) - strlen("tfst-") - strlen(".service"));
}

static GHashTable *
unit_states_new(TfstctlBus *bus)
{
  GHashTable *states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  const char *patterns[] = {"tfst-*@*.service", NULL};
  g_autoptr(GVariant) reply = tfstctl_bus_call_systemd(
      bus, "ListUnitsByPatterns", g_variant_new("(@as^as)", g_variant_new_strv(NULL, 0), patterns),
      "(a(ssssssouso))");
  g_autoptr(GVariantIter) iter = NULL;
  const char *unit;
  const char *active;

  if (reply == NULL)
    return states;
  g_variant_get(reply, "(a(ssssssouso))", &iter);
  while (g_variant_iter_next(iter, "(&s&s&s&s&s&s&ou&s&o)", &unit, NULL, NULL, &active, NULL, NULL,
                             NULL, NULL, NULL, NULL)) {
    char *instance = unit_instance(unit);
    if (instance != NULL)
      g_hash_table_replace(states, instance, g_strdup(active));
  }
  return states;
}

static GVariant *
list_row_new(TfstctlBus *bus, const char *instance, GHashTable *units, GHashTable *configured)
{
  /* An instance that left the bus since ListNames is listed as stopped. */
  g_autoptr(TfstDbusTfst1Instance) proxy = tfstctl_bus_get_instance(bus, instance, NULL);
  const char *unit = str_or_empty(g_hash_table_lookup(units, instance));
  gboolean conf = g_hash_table_contains(configured, instance);

  g_autofree char *role = g_strndup(instance, strcspn(instance, "@"));

  if (proxy == NULL)
    return g_variant_new(LIST_ROW, instance, role, "", "stopped", 0, unit, conf);
  return g_variant_new(LIST_ROW, instance, str_or_empty(tfst_dbus_tfst1_instance_get_role(proxy)),
                       str_or_empty(tfst_dbus_tfst1_instance_get_label(proxy)),
                       str_or_empty(tfst_dbus_tfst1_instance_get_state(proxy)),
                       tfst_dbus_tfst1_instance_get_session_count(proxy), unit, conf);
}

static void
add_names(GHashTable *set, const GPtrArray *names)
{
  for (guint i = 0; i < names->len; i++)
    g_hash_table_add(set, g_strdup(g_ptr_array_index(names, i)));
}

/* The instances to list, sorted: on the bus, configured, or with a unit,
 * those matching the -i pattern when there is one. */
static GPtrArray *
all_names(GHashTable *on_bus, GHashTable *configured, GHashTable *units, const char *pattern)
{
  g_autoptr(GHashTable) all = g_hash_table_new(g_str_hash, g_str_equal);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  GHashTableIter iter;
  const char *name;

  g_hash_table_iter_init(&iter, on_bus);
  while (g_hash_table_iter_next(&iter, (gpointer *)&name, NULL))
    g_hash_table_add(all, (gpointer)name);
  g_hash_table_iter_init(&iter, configured);
  while (g_hash_table_iter_next(&iter, (gpointer *)&name, NULL))
    g_hash_table_add(all, (gpointer)name);
  g_hash_table_iter_init(&iter, units);
  while (g_hash_table_iter_next(&iter, (gpointer *)&name, NULL))
    g_hash_table_add(all, (gpointer)name);
  g_hash_table_iter_init(&iter, all);
  while (g_hash_table_iter_next(&iter, (gpointer *)&name, NULL))
    if (tfstctl_pattern_match(pattern, name))
      g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, compare_strings);
  return names;
}

static GVariant *
list_rows_new(TfstctlBus *bus, const GPtrArray *bus_instances, const char *pattern)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a" LIST_ROW));
  g_autoptr(GHashTable) units = unit_states_new(bus);
  g_autoptr(GHashTable) on_bus = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) configured = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  /* an unreadable directory: only what the bus and systemd know */
  g_autoptr(GPtrArray) conf_names = tfstctl_configs_list(NULL, NULL);
  g_autoptr(GPtrArray) names = NULL;

  add_names(on_bus, bus_instances);
  if (conf_names != NULL)
    add_names(configured, conf_names);
  names = all_names(on_bus, configured, units, pattern);
  for (guint i = 0; i < names->len; i++)
    g_variant_builder_add_value(&builder,
                                list_row_new(bus, g_ptr_array_index(names, i), units, configured));
  return g_variant_ref_sink(g_variant_builder_end(&builder));
}

static void
print_json(GVariant *rows)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_array_member(json, "instances", tfstctl_fields_json_rows(&list_desc, rows));
  tfstctl_output_json_print_object(json);
}

int
tfstctl_list(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(GPtrArray) instances = NULL;
  g_autoptr(GVariant) rows = NULL;

  ctx = tfstctl_option_context_new(
      NULL,
      _("List the tfst instances of this host, on the system bus or configured in "
        "/etc/tfst, with their label, state, sessions and the state of their unit; -i PATTERN "
        "lists those whose name matches."),
      NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  instances = tfstctl_bus_list_instances(bus, &error);
  if (instances == NULL)
    return tfstctl_fail(error);
  rows = list_rows_new(bus, instances, opts.instance);
  if (opts.json)
    print_json(rows);
  else if (g_variant_n_children(rows) == 0)
    g_print(_("No tfst instance is configured or on the system bus.\n"));
  else
    tfstctl_fields_print_table(&list_desc, rows);
  return TFSTCTL_EXIT_OK;
}
