/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl permissions: which polkit actions of tfst the caller is allowed,
 * as "nmcli general permissions" says it: yes, auth (after a password) or
 * no.  It asks polkit directly, for this process's connection to the
 * system bus, exactly as tfstd asks for a method call from it. */
#include "tfstctl-bus.h"
#include "tfstctl-fields.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>
#include <unistd.h>

/* polkit/org.tfst.Tfst1.policy.in and the commands that need each action
 * (tfstctl(1), AUTHORIZATION).  list, status, chain and monitor read
 * public properties and signals; check and cat read files only. */
static const struct {
  const char *action;
  const char *commands;
} actions[] = {
    {"org.tfst.tfst1.observe",
     "sessions, stats, dataflow, spi, events, keepalive audit, trace list, collect"},
    {"org.tfst.tfst1.manage", "stats --clear, events --flush/--clear, log-level, close, reload"},
    {"org.tfst.tfst1.tune", "keepalive set"},
    {"org.tfst.tfst1.trace", "trace define/show/export/delete"},
};

/* One action: (action, allowed, commands). */
#define PERMISSION_ROW "(sss)"

static const TfstctlField permission_fields[] = {
    {N_("ACTION"), "action", 0},
    {N_("ALLOWED"), "allowed", 1},
    {N_("COMMANDS"), "commands", 2},
};
static const TfstctlFields permission_desc = TFSTCTL_FIELDS(PERMISSION_ROW, permission_fields);

/* "yes", "auth" (polkit would ask for a password) or "no"; root is always
 * allowed by tfstd without asking polkit (daemon/bus/tfst-authz.c). */
static const char *
check_action(TfstctlBus *bus, const char *action, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean authorized = FALSE;
  gboolean challenge = FALSE;

  if (geteuid() == 0)
    return "yes";
  reply = tfstctl_bus_check_authorization(bus, action, error);
  if (reply == NULL)
    return NULL;
  g_variant_get(reply, "((bba{ss}))", &authorized, &challenge, NULL);
  return authorized ? "yes" : challenge ? "auth" : "no";
}

static GVariant *
permission_rows_new(TfstctlBus *bus, GError **error)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a" PERMISSION_ROW));

  for (guint i = 0; i < G_N_ELEMENTS(actions); i++) {
    const char *allowed = check_action(bus, actions[i].action, error);

    if (allowed == NULL)
      return NULL;
    g_variant_builder_add(&builder, PERMISSION_ROW, actions[i].action, allowed,
                          actions[i].commands);
  }
  return g_variant_ref_sink(g_variant_builder_end(&builder));
}

static void
print_json(GVariant *rows)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_array_member(json, "permissions",
                               tfstctl_fields_json_rows(&permission_desc, rows));
  tfstctl_output_json_print_object(json);
}

int
tfstctl_permissions(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(GVariant) rows = NULL;

  ctx = tfstctl_option_context_new(
      NULL,
      _("Show which polkit actions of tfst the caller is allowed: yes, auth (after an "
        "administrator's password) or no, and the commands that need each."),
      NULL, &opts, FALSE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  rows = permission_rows_new(bus, &error);
  if (rows == NULL)
    return tfstctl_fail(error);
  if (opts.json)
    print_json(rows);
  else
    tfstctl_fields_print_table(&permission_desc, rows);
  return TFSTCTL_EXIT_OK;
}
