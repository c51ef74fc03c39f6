/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl list: every tfst instance on the system bus. */
#include "tfstctl-bus.h"
#include "tfstctl-fields.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>

/* One instance as listed: (instance, role, label, state, sessions); the
 * strings are empty when the instance went away or serves no properties
 * yet. */
#define LIST_ROW "(ssssu)"

static const TfstctlField list_fields[] = {
    {N_("INSTANCE"), "instance", 0},
    {NULL, "role", 1},
    {N_("LABEL"), "label", 2},
    {N_("STATE"), "state", 3},
    {N_("SESSIONS"), "session_count", 4, .flags = TFSTCTL_FIELD_RIGHT},
};
static const TfstctlFields list_desc = TFSTCTL_FIELDS(LIST_ROW, list_fields);

static const char *
str_or_empty(const char *s)
{
  return s != NULL ? s : "";
}

static GVariant *
list_row_new(TfstctlBus *bus, const char *instance)
{
  /* An instance that left the bus since ListNames still gets its row. */
  g_autoptr(TfstDbusTfst1Instance) proxy = tfstctl_bus_get_instance(bus, instance, NULL);

  if (proxy == NULL)
    return g_variant_new(LIST_ROW, instance, "", "", "", 0);
  return g_variant_new(LIST_ROW, instance, str_or_empty(tfst_dbus_tfst1_instance_get_role(proxy)),
                       str_or_empty(tfst_dbus_tfst1_instance_get_label(proxy)),
                       str_or_empty(tfst_dbus_tfst1_instance_get_state(proxy)),
                       tfst_dbus_tfst1_instance_get_session_count(proxy));
}

static GVariant *
list_rows_new(TfstctlBus *bus, const GPtrArray *instances)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a" LIST_ROW));

  for (guint i = 0; i < instances->len; i++)
    g_variant_builder_add_value(&builder, list_row_new(bus, g_ptr_array_index(instances, i)));
  return g_variant_ref_sink(g_variant_builder_end(&builder));
}

static void
print_json(GVariant *rows)
{
  g_autoptr(JsonArray) json = tfstctl_fields_json_rows(&list_desc, rows);

  tfstctl_output_json_print_array(json);
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
  rows = list_rows_new(bus, instances);
  if (opts.json)
    print_json(rows);
  else if (instances->len == 0)
    g_print(_("No tfst instance is on the system bus.\n"));
  else
    tfstctl_fields_print_table(&list_desc, rows);
  return TFSTCTL_EXIT_OK;
}
