/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl list: every tfst instance on the system bus. */
#include "tfstctl-bus.h"
#include "tfstctl-json.h"
#include "tfstctl-table.h"

#include <glib/gi18n.h>

/* One instance as listed; the strings are empty when the instance went
 * away or serves no properties yet. */
typedef struct {
  char *instance;
  char *role;
  char *label;
  char *state;
  guint sessions;
} ListRow;

static void
list_row_free(ListRow *row)
{
  g_free(row->instance);
  g_free(row->role);
  g_free(row->label);
  g_free(row->state);
  g_free(row);
}

static char *
dup_or_empty(const char *s)
{
  return g_strdup(s != NULL ? s : "");
}

static ListRow *
list_row_new(TfstctlBus *bus, const char *instance)
{
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  ListRow *row = g_new0(ListRow, 1);

  row->instance = g_strdup(instance);
  /* An instance that left the bus since ListNames still gets its row. */
  proxy = tfstctl_bus_get_instance(bus, instance, NULL);
  row->role = dup_or_empty(proxy != NULL ? tfst_dbus_tfst1_instance_get_role(proxy) : NULL);
  row->label = dup_or_empty(proxy != NULL ? tfst_dbus_tfst1_instance_get_label(proxy) : NULL);
  row->state = dup_or_empty(proxy != NULL ? tfst_dbus_tfst1_instance_get_state(proxy) : NULL);
  row->sessions = proxy != NULL ? tfst_dbus_tfst1_instance_get_session_count(proxy) : 0;
  return row;
}

static void
print_table(const GPtrArray *rows)
{
  const char *headers[] = {_("INSTANCE"), _("LABEL"), _("STATE"), _("SESSIONS")};
  g_autoptr(TfstctlTable) table = tfstctl_table_new(G_N_ELEMENTS(headers), headers);

  if (rows->len == 0) {
    g_print(_("No tfst instance is on the system bus.\n"));
    return;
  }
  tfstctl_table_align_right(table, 3);
  for (guint i = 0; i < rows->len; i++) {
    const ListRow *row = g_ptr_array_index(rows, i);
    tfstctl_table_add(table, row->instance);
    tfstctl_table_add(table, row->label);
    tfstctl_table_add(table, row->state);
    tfstctl_table_add_printf(table, "%u", row->sessions);
  }
  tfstctl_table_print(table);
}

static void
print_json(const GPtrArray *rows)
{
  g_autoptr(TfstctlJson) json = tfstctl_json_new();

  tfstctl_json_begin_array(json, NULL);
  for (guint i = 0; i < rows->len; i++) {
    const ListRow *row = g_ptr_array_index(rows, i);
    tfstctl_json_begin_object(json, NULL);
    tfstctl_json_string(json, "instance", row->instance);
    tfstctl_json_string(json, "role", row->role);
    tfstctl_json_string(json, "label", row->label);
    tfstctl_json_string(json, "state", row->state);
    tfstctl_json_uint(json, "session_count", row->sessions);
    tfstctl_json_end_object(json);
  }
  tfstctl_json_end_array(json);
  tfstctl_json_print(json);
}

int
tfstctl_list(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(GPtrArray) instances = NULL;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)list_row_free);

  ctx = tfstctl_option_context_new(
      NULL, _("List the tfst instances on the system bus with their label, state and sessions."),
      NULL, &opts, FALSE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  instances = tfstctl_bus_list_instances(bus, &error);
  if (instances == NULL)
    return tfstctl_fail(error);
  for (guint i = 0; i < instances->len; i++)
    g_ptr_array_add(rows, list_row_new(bus, g_ptr_array_index(instances, i)));
  if (opts.json)
    print_json(rows);
  else
    print_table(rows);
  return TFSTCTL_EXIT_OK;
}
