/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl sessions: the sessions an instance carries (ListSessions). */
#include "tfstctl-bus.h"
#include "tfstctl-format.h"
#include "tfstctl-json.h"
#include "tfstctl-table.h"

#include <glib/gi18n.h>

/* One element of ListSessions(): (tssssstttt). */
typedef struct {
  guint64 id;
  const char *forward;
  const char *direction;
  const char *client;
  const char *target;
  const char *state;
  guint64 to_target;
  guint64 to_client;
  guint64 age;
  guint64 idle;
} Session;

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

/* The a{sv} filter of ListSessions(); only the keys given are set. */
static GVariant *
filter_to_variant(const Filter *filter, GError **error)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

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

/* The strings stay owned by the reply. */
static GArray *
sessions_from_variant(GVariant *value)
{
  GArray *sessions = g_array_new(FALSE, TRUE, sizeof(Session));
  GVariantIter iter;
  Session s;

  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "(t&s&s&s&s&stttt)", &s.id, &s.forward, &s.direction, &s.client,
                             &s.target, &s.state, &s.to_target, &s.to_client, &s.age, &s.idle))
    g_array_append_val(sessions, s);
  return sessions;
}

static void
print_table(const GArray *sessions)
{
  const char *headers[] = {
      _("ID"),    _("FORWARD"),   _("DIR"),       _("CLIENT"), _("TARGET"),
      _("STATE"), _("TO-TARGET"), _("TO-CLIENT"), _("AGE"),    _("IDLE"),
  };
  g_autoptr(TfstctlTable) table = tfstctl_table_new(G_N_ELEMENTS(headers), headers);

  if (sessions->len == 0) {
    g_print(_("No sessions.\n"));
    return;
  }
  tfstctl_table_align_right(table, 0);
  for (guint c = 6; c < G_N_ELEMENTS(headers); c++)
    tfstctl_table_align_right(table, c);
  for (guint i = 0; i < sessions->len; i++) {
    const Session *s = &g_array_index(sessions, Session, i);
    tfstctl_table_add_printf(table, "%" G_GUINT64_FORMAT, s->id);
    tfstctl_table_add(table, s->forward);
    tfstctl_table_add(table, s->direction);
    tfstctl_table_add(table, s->client);
    tfstctl_table_add(table, s->target);
    tfstctl_table_add(table, s->state);
    tfstctl_table_take(table, tfstctl_format_bytes(s->to_target));
    tfstctl_table_take(table, tfstctl_format_bytes(s->to_client));
    tfstctl_table_take(table, tfstctl_format_seconds(s->age));
    tfstctl_table_take(table, tfstctl_format_seconds(s->idle));
  }
  tfstctl_table_print(table);
}

static void
print_json(const GArray *sessions, const char *instance)
{
  g_autoptr(TfstctlJson) json = tfstctl_json_new();

  tfstctl_json_begin_object(json, NULL);
  tfstctl_json_string(json, "instance", instance);
  tfstctl_json_begin_array(json, "sessions");
  for (guint i = 0; i < sessions->len; i++) {
    const Session *s = &g_array_index(sessions, Session, i);
    tfstctl_json_begin_object(json, NULL);
    tfstctl_json_uint(json, "id", s->id);
    tfstctl_json_string(json, "forward", s->forward);
    tfstctl_json_string(json, "direction", s->direction);
    tfstctl_json_string(json, "client", s->client);
    tfstctl_json_string(json, "target", s->target);
    tfstctl_json_string(json, "state", s->state);
    tfstctl_json_uint(json, "bytes_to_target", s->to_target);
    tfstctl_json_uint(json, "bytes_to_client", s->to_client);
    tfstctl_json_uint(json, "age", s->age);
    tfstctl_json_uint(json, "idle", s->idle);
    tfstctl_json_end_object(json);
  }
  tfstctl_json_end_array(json);
  tfstctl_json_end_object(json);
  tfstctl_json_print(json);
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
  g_autoptr(GArray) sessions = NULL;
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
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  proxy = tfstctl_bus_get_instance(bus, opts.instance, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  if (!tfst_dbus_tfst1_instance_call_list_sessions_sync(
          proxy, filter_variant, tfstctl_bus_call_flags(bus), tfstctl_bus_call_timeout(bus), &reply,
          NULL, &error))
    return tfstctl_fail(error);
  sessions = sessions_from_variant(reply);
  instance = tfstctl_instance_name(proxy);
  if (opts.json)
    print_json(sessions, instance);
  else
    print_table(sessions);
  return TFSTCTL_EXIT_OK;
}
