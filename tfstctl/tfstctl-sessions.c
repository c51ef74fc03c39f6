/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl sessions: the sessions an instance carries (ListSessions). */
#include "tfstctl-bus.h"
#include "tfstctl-fields.h"
#include "tfstctl-output.h"
#include "tfstctl-values.h"

#include <glib/gi18n.h>

/* One element of ListSessions(). */
static const TfstctlField session_fields[] = {
    {N_("ID"), "id", 0, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("FORWARD"), "forward", 1},
    {N_("DIR"), "direction", 2},
    {N_("CLIENT"), "client", 3},
    {N_("TARGET"), "target", 4},
    {N_("STATE"), "state", 5},
    {N_("TO-TARGET"), "to_target_bytes", 6, TFSTCTL_FIELD_BYTES, TFSTCTL_FIELD_RIGHT},
    {N_("TO-CLIENT"), "to_client_bytes", 7, TFSTCTL_FIELD_BYTES, TFSTCTL_FIELD_RIGHT},
    {N_("AGE"), "age_us", 8, TFSTCTL_FIELD_SECONDS, TFSTCTL_FIELD_RIGHT},
    {N_("IDLE"), "idle_us", 9, TFSTCTL_FIELD_SECONDS, TFSTCTL_FIELD_RIGHT},
};
static const TfstctlFields session_desc = TFSTCTL_FIELDS("(tssssstttt)", session_fields);

typedef struct {
  char *remote;
  char *forward;
  char *direction;
  char *state;
} Filter;

static void
filter_clear(Filter *filter)
{
  g_clear_pointer(&filter->remote, g_free);
  g_clear_pointer(&filter->forward, g_free);
  g_clear_pointer(&filter->direction, g_free);
  g_clear_pointer(&filter->state, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Filter, filter_clear)

/* The values tfstctl(1) lists; the instance would just match nothing. */
static const char *const states[] = {
    "opening", "open", "half-closed-client", "half-closed-target", "closing", NULL,
};
static const char *const directions[] = {"upcall", "downcall", NULL};

/* The a{sv} filter of ListSessions(); only the keys given are set. */
static GVariant *
filter_to_variant(const Filter *filter, GError **error)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

  if ((filter->state != NULL &&
       !tfstctl_values_check_word("--state", filter->state, states, error)) ||
      (filter->direction != NULL &&
       !tfstctl_values_check_word("--direction", filter->direction, directions, error)))
    return NULL;

  if (filter->remote != NULL) {
    if (!g_hostname_is_ip_address(filter->remote)) {
      g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                  _("--remote needs a numeric IP address, not “%s”"), filter->remote);
      return NULL;
    }
    g_variant_builder_add(&builder, "{sv}", "remote", g_variant_new_string(filter->remote));
  }
  if (filter->forward != NULL)
    g_variant_builder_add(&builder, "{sv}", "forward", g_variant_new_string(filter->forward));
  if (filter->direction != NULL)
    g_variant_builder_add(&builder, "{sv}", "direction", g_variant_new_string(filter->direction));
  if (filter->state != NULL)
    g_variant_builder_add(&builder, "{sv}", "state", g_variant_new_string(filter->state));
  return g_variant_builder_end(&builder);
}

static void
print_json(GVariant *sessions, const char *instance)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_string_member(json, "instance", instance);
  json_object_set_array_member(json, "sessions", tfstctl_fields_json_rows(&session_desc, sessions));
  tfstctl_output_json_print_object(json);
}

int
tfstctl_sessions(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_auto(Filter) filter = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  g_autoptr(GVariant) filter_variant = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *instance = NULL;
  const GOptionEntry entries[] = {
      {"remote", 0, 0, G_OPTION_ARG_STRING, &filter.remote,
       N_("Only sessions whose client or target has this address"), N_("IP")},
      {"forward", 0, 0, G_OPTION_ARG_STRING, &filter.forward,
       N_("Only sessions of this forward ([Forward NAME])"), N_("NAME")},
      {"direction", 0, 0, G_OPTION_ARG_STRING, &filter.direction,
       N_("Only upcall or only downcall sessions"), N_("DIRECTION")},
      {"state", 0, 0, G_OPTION_ARG_STRING, &filter.state,
       N_("Only sessions in this state (opening, open, half-closed-client, half-closed-target, "
          "closing)"),
       N_("STATE")},
      {NULL},
  };

  ctx = tfstctl_option_context_new(NULL,
                                   _("List the sessions an instance carries, with their addresses, "
                                     "state, bytes each way, age and idle time."),
                                   entries, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  filter_variant = filter_to_variant(&filter, &error);
  if (filter_variant == NULL)
    return tfstctl_fail(error);
  g_variant_ref_sink(filter_variant);
  proxy = tfstctl_bus_open_instance(&opts, &bus, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  if (!tfst_dbus_tfst1_instance_call_list_sessions_sync(
          proxy, filter_variant, tfstctl_bus_call_flags(bus), tfstctl_bus_call_timeout(bus), &reply,
          NULL, &error))
    return tfstctl_fail(error);
  instance = tfstctl_instance_name(proxy);
  if (opts.json)
    print_json(reply, instance);
  else if (g_variant_n_children(reply) == 0)
    g_print(_("No sessions.\n"));
  else
    tfstctl_fields_print_table(&session_desc, reply);
  return TFSTCTL_EXIT_OK;
}
