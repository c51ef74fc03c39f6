/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl keepalive show|set|audit: org.tfst.Tfst1.Keepalive. */
#include "tfst-config.h"
#include "tfst-keepalive.h"
#include "tfstctl-bus.h"
#include "tfstctl-fields.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>
#include <string.h>

#define KEEPALIVE_IFACE "org.tfst.Tfst1.Keepalive"

/* The setting called `name` (any case), with its name as the daemon
 * spells it and its unit; FALSE if there is none. */
static gboolean
find_setting(const char *name, const char **out_name, TfstKeepaliveUnit *out_unit)
{
  const char *n;
  TfstKeepaliveUnit unit;

  for (guint i = 0; tfst_keepalive_setting(i, &n, &unit); i++)
    if (g_ascii_strcasecmp(n, name) == 0) {
      *out_name = n;
      *out_unit = unit;
      return TRUE;
    }
  return FALSE;
}

/* ---- values as people write and read them ---- */

static char *
format_setting(const char *name, GVariant *value)
{
  const char *canonical;
  TfstKeepaliveUnit unit;
  guint32 v;

  if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup(g_variant_get_boolean(value) ? _("yes") : _("no"));
  if (!find_setting(name, &canonical, &unit) || !g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32))
    return g_variant_print(value, FALSE);
  v = g_variant_get_uint32(value);
  switch (unit) {
    case TFST_KEEPALIVE_UNIT_S:
      return v == 0 ? g_strdup(_("unset")) : g_strdup_printf("%us", v);
    case TFST_KEEPALIVE_UNIT_MS:
      if (v == 0)
        return g_strdup(_("kernel default"));
      return v % 1000 == 0 ? g_strdup_printf("%us", v / 1000) : g_strdup_printf("%ums", v);
    default:
      return g_strdup_printf("%u", v);
  }
}

/* The value as the configuration file writes it, or NULL. */
static GVariant *
parse_value(TfstKeepaliveUnit unit, const char *text)
{
  gboolean yes = FALSE;
  guint ms = 0;
  guint64 n = 0;

  switch (unit) {
    case TFST_KEEPALIVE_UNIT_BOOL:
      return tfst_parse_bool(text, &yes) ? g_variant_new_boolean(yes) : NULL;
    case TFST_KEEPALIVE_UNIT_COUNT:
      return g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &n, NULL)
                 ? g_variant_new_uint32((guint32)n)
                 : NULL;
    case TFST_KEEPALIVE_UNIT_S:
      return tfst_parse_timespan_ms(text, &ms) && ms % 1000 == 0 ? g_variant_new_uint32(ms / 1000)
                                                                 : NULL;
    case TFST_KEEPALIVE_UNIT_MS:
      return tfst_parse_timespan_ms(text, &ms) ? g_variant_new_uint32(ms) : NULL;
  }
  return NULL;
}

/* "Idle=30s" -> {"Idle": <uint32 30>}: the units of the configuration file. */
static gboolean
parse_assignment(const char *arg, GVariantBuilder *b, GError **error)
{
  g_auto(GStrv) kv = g_strsplit(arg, "=", 2);
  const char *name = NULL;
  TfstKeepaliveUnit unit = TFST_KEEPALIVE_UNIT_COUNT;
  GVariant *value;

  if (kv[0] == NULL || kv[1] == NULL || !find_setting(kv[0], &name, &unit)) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                _("“%s” is not a setting: write NAME=VALUE with NAME one of Keepalive, Idle, "
                  "Interval, Count, UserTimeout, FirewallTimeout, PingInterval, PingTimeout"),
                arg);
    return FALSE;
  }
  value = parse_value(unit, kv[1]);
  if (value != NULL) {
    g_variant_builder_add(b, "{sv}", name, value);
    return TRUE;
  }
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
              unit == TFST_KEEPALIVE_UNIT_BOOL    ? _("%s: “%s” is not yes or no")
              : unit == TFST_KEEPALIVE_UNIT_COUNT ? _("%s: “%s” is not a whole number")
              : unit == TFST_KEEPALIVE_UNIT_S
                  ? _("%s: “%s” is not a whole number of seconds (examples: 30, 30s, 5min)")
                  : _("%s: “%s” is not a time span (examples: 500ms, 2s, 1min)"),
              name, kv[1]);
  return FALSE;
}

/* ---- show ---- */

static GVariant *
get_settings(GDBusProxy *proxy, TfstctlBus *bus, const char *scope, GError **error)
{
  return tfstctl_bus_call(bus, proxy, "GetSettings", g_variant_new("(s)", scope), "(a{sv})", error);
}

/* "PingInterval" -> "ping_interval_us", "Count" -> "count". */
static char *
json_setting_key(const char *name)
{
  GString *key = g_string_new(NULL);
  const char *known = NULL;
  TfstKeepaliveUnit unit = TFST_KEEPALIVE_UNIT_COUNT;

  for (const char *p = name; *p != '\0'; p++) {
    if (g_ascii_isupper(*p) && p != name)
      g_string_append_c(key, '_');
    g_string_append_c(key, g_ascii_tolower(*p));
  }
  if (find_setting(name, &known, &unit) &&
      (unit == TFST_KEEPALIVE_UNIT_S || unit == TFST_KEEPALIVE_UNIT_MS))
    g_string_append(key, "_us");
  return g_string_free(key, FALSE);
}

static JsonObject *
json_settings(GVariant *settings)
{
  JsonObject *json = json_object_new();
  GVariantIter iter;
  const char *name;
  GVariant *value;

  /* snake_case keys with the unit in the name, times in microseconds as
   * everywhere in tfstctl's JSON: "Idle" 30 -> "idle_us" 30000000. */
  g_variant_iter_init(&iter, settings);
  while (g_variant_iter_loop(&iter, "{&sv}", &name, &value)) {
    g_autofree char *key = json_setting_key(name);
    const char *known = NULL;
    TfstKeepaliveUnit unit = TFST_KEEPALIVE_UNIT_COUNT;
    gint64 scale = 1;

    if (find_setting(name, &known, &unit))
      scale = unit == TFST_KEEPALIVE_UNIT_S    ? G_USEC_PER_SEC
              : unit == TFST_KEEPALIVE_UNIT_MS ? 1000
                                               : 1;
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
      json_object_set_boolean_member(json, key, g_variant_get_boolean(value));
    else if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32))
      json_object_set_int_member(json, key, (gint64)g_variant_get_uint32(value) * scale);
  }
  return json;
}

static void
print_settings(GVariant *hops, GVariant *sessions)
{
  g_autoptr(TfstctlScolsTable) table = tfstctl_output_table_new();
  const char *name;
  TfstKeepaliveUnit unit;

  tfstctl_output_table_new_column(table, N_("SETTING"), 0);
  tfstctl_output_table_new_column(table, N_("HOPS"), 0);
  tfstctl_output_table_new_column(table, N_("SESSIONS"), 0);

  for (guint i = 0; tfst_keepalive_setting(i, &name, &unit); i++) {
    g_autoptr(GVariant) h = hops ? g_variant_lookup_value(hops, name, NULL) : NULL;
    g_autoptr(GVariant) s = sessions ? g_variant_lookup_value(sessions, name, NULL) : NULL;
    struct libscols_line *line;

    if (h == NULL && s == NULL)
      continue;
    line = scols_table_new_line(table, NULL);
    scols_line_set_data(line, 0, name);
    scols_line_refer_data(line, 1, h != NULL ? format_setting(name, h) : g_strdup("-"));
    scols_line_refer_data(line, 2, s != NULL ? format_setting(name, s) : g_strdup("-"));
  }
  tfstctl_output_table_print(table);
}

static int
run_show(GDBusProxy *proxy, TfstctlBus *bus, const TfstctlOptions *opts, const char *scope)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) hops = NULL;
  g_autoptr(GVariant) sessions = NULL;

  if (scope == NULL || g_str_equal(scope, "hops")) {
    hops = get_settings(proxy, bus, "hops", &error);
    if (hops == NULL)
      return tfstctl_fail(error);
  }
  if (scope == NULL || g_str_equal(scope, "sessions")) {
    sessions = get_settings(proxy, bus, "sessions", &error);
    if (sessions == NULL)
      return tfstctl_fail(error);
  }
  if (opts->json) {
    g_autoptr(JsonObject) json = json_object_new();

    if (hops != NULL)
      json_object_set_object_member(json, "hops", json_settings(hops));
    if (sessions != NULL)
      json_object_set_object_member(json, "sessions", json_settings(sessions));
    tfstctl_output_json_print_object(json);
  } else {
    print_settings(hops, sessions);
  }
  return TFSTCTL_EXIT_OK;
}

/* ---- set ---- */

/* The changes as a{sv}, checked before anything is asked of the bus. */
static GVariant *
parse_assignments(char **assignments, GError **error)
{
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

  for (guint i = 0; assignments[i] != NULL; i++)
    if (!parse_assignment(assignments[i], &b, error))
      return NULL;
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* The D-Bus API's flag names in the instance's messages, as the options
 * of this command that set them: a person typed the option. */
static const char *const flag_options[][2] = {
    {"flag ALLOW_FIREWALL_MISMATCH (2)", "--allow-firewall-mismatch"},
    {"ALLOW_FIREWALL_MISMATCH (2)", "--allow-firewall-mismatch"},
    {"PERSIST (1)", "--persist"},
};

static void
name_options(GError *error)
{
  g_autoptr(GString) message = g_string_new(error->message);

  for (guint i = 0; i < G_N_ELEMENTS(flag_options); i++)
    g_string_replace(message, flag_options[i][0], flag_options[i][1], 0);
  g_free(error->message);
  error->message = g_strdup(message->str);
}

static int
run_set(GDBusProxy *proxy, TfstctlBus *bus, const TfstctlOptions *opts, const char *scope,
        guint flags, GVariant *changes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) warnings = NULL;

  tfstctl_bus_prepare_auth(bus);
  warnings = tfstctl_bus_call(
      bus, proxy, "SetSettings",
      g_variant_new("(s@a{sv}u)", scope != NULL ? scope : "hops", changes, flags), "(as)", &error);
  if (warnings == NULL) {
    name_options(error);
    return tfstctl_fail(error);
  }
  if (opts->json) {
    g_autoptr(JsonObject) json = json_object_new();
    JsonArray *array = json_array_new();
    GVariantIter iter;
    const char *w;

    g_variant_iter_init(&iter, warnings);
    while (g_variant_iter_next(&iter, "&s", &w))
      json_array_add_string_element(array, w);
    json_object_set_array_member(json, "warnings", array);
    tfstctl_output_json_print_object(json);
  } else {
    GVariantIter iter;
    const char *w;

    g_variant_iter_init(&iter, warnings);
    while (g_variant_iter_next(&iter, "&s", &w))
      /* TRANSLATORS: %s is the daemon's warning, in English. */
      g_printerr(_("tfstctl: warning: %s\n"), w);
  }
  return TFSTCTL_EXIT_OK;
}

/* ---- audit ---- */

/* One connection of Audit(). */
#define AUDIT_ROW "(sstsssbuuuuutt)"
enum { AUDIT_STATE = 5, AUDIT_KEEPALIVE = 6, AUDIT_TIMER = 7 };

static char *
audit_remote_cell_cb(GVariant *row, const TfstctlField *field)
{
  const char *remote = NULL;

  g_variant_get_child(row, field->member, "&s", &remote);
  return g_strdup(*remote != '\0' ? remote : "*");
}

static gboolean
audit_close_wait(GVariant *row)
{
  const char *state = NULL;

  g_variant_get_child(row, AUDIT_STATE, "&s", &state);
  return g_str_equal(state, "CLOSE-WAIT");
}

/* The peer closed and we did not: worth a look, so it stands out. */
static char *
audit_state_cell_cb(GVariant *row, const TfstctlField *field)
{
  const char *state = NULL;

  g_variant_get_child(row, field->member, "&s", &state);
  return audit_close_wait(row) ? g_strdup_printf("%s!", state) : g_strdup(state);
}

static char *
audit_timer_cell_cb(GVariant *row, const TfstctlField *field)
{
  gboolean keepalive = FALSE;
  guint32 timer = 0;

  g_variant_get_child(row, AUDIT_KEEPALIVE, "b", &keepalive);
  g_variant_get_child(row, field->member, "u", &timer);
  if (timer == 0)
    return g_strdup("-");
  if (keepalive)
    /* TRANSLATORS: the keepalive timer fires in %.1f seconds */
    return g_strdup_printf(_("keepalive %.1fs"), timer / 1000.0);
  return g_strdup_printf("%.1fs", timer / 1000.0);
}

static const TfstctlField audit_fields[] = {
    {N_("KIND"), "kind", 0},
    {N_("PEER"), "peer", 1, TFSTCTL_FIELD_DASH},
    {N_("SESSION"), "session", 2, TFSTCTL_FIELD_DASH},
    {N_("LOCAL"), "local", 3},
    {N_("REMOTE"), "remote", 4, TFSTCTL_FIELD_CUSTOM, .cell = audit_remote_cell_cb},
    {N_("STATE"), "state", AUDIT_STATE, TFSTCTL_FIELD_CUSTOM, .cell = audit_state_cell_cb},
    {NULL, "keepalive", AUDIT_KEEPALIVE},
    {N_("TIMER"), "timer_ms", AUDIT_TIMER, TFSTCTL_FIELD_CUSTOM, .cell = audit_timer_cell_cb},
    {NULL, "probes", 8},
    {N_("RETRANS"), "retransmits", 9, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("RTT"), "rtt_us", 10, TFSTCTL_FIELD_RTT, TFSTCTL_FIELD_RIGHT},
    {NULL, "rttvar_us", 11},
    {N_("ACKED"), "acked_bytes", 12, TFSTCTL_FIELD_BYTES, TFSTCTL_FIELD_RIGHT},
    {N_("RECEIVED"), "received_bytes", 13, TFSTCTL_FIELD_BYTES, TFSTCTL_FIELD_RIGHT},
};
static const TfstctlFields audit_desc = TFSTCTL_FIELDS(AUDIT_ROW, audit_fields);

static void
print_audit(GVariant *conns)
{
  guint close_wait = 0;

  tfstctl_fields_print_table(&audit_desc, conns);
  for (gsize i = 0; i < g_variant_n_children(conns); i++) {
    g_autoptr(GVariant) row = g_variant_get_child_value(conns, i);
    close_wait += audit_close_wait(row);
  }
  if (close_wait > 0)
    g_print(g_dngettext(GETTEXT_PACKAGE,
                        "%u connection in CLOSE-WAIT (!): its peer closed, tfstd did not yet\n",
                        "%u connections in CLOSE-WAIT (!): their peers closed, tfstd did not yet\n",
                        close_wait),
            close_wait);
}

/* An object as every command prints (tfstctl(1), JSON OUTPUT). */
static void
json_audit(GVariant *conns)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_array_member(json, "connections", tfstctl_fields_json_rows(&audit_desc, conns));
  tfstctl_output_json_print_object(json);
}

static int
run_audit(GDBusProxy *proxy, TfstctlBus *bus, const TfstctlOptions *opts)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) conns =
      tfstctl_bus_call(bus, proxy, "Audit", NULL, "(a" AUDIT_ROW ")", &error);

  if (conns == NULL)
    return tfstctl_fail(error);
  if (opts->json)
    json_audit(conns);
  else
    print_audit(conns);
  return TFSTCTL_EXIT_OK;
}

/* ---- command ---- */

static gboolean
check_scope(const char *scope, GError **error)
{
  if (scope == NULL || g_str_equal(scope, "hops") || g_str_equal(scope, "sessions"))
    return TRUE;
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
              _("unknown scope “%s”: use hops or sessions"), scope);
  return FALSE;
}

int
tfstctl_keepalive(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(GDBusProxy) proxy = NULL;
  g_autofree char *scope = NULL;
  g_autoptr(GVariant) changes = NULL;
  gboolean persist = FALSE, allow_mismatch = FALSE;
  const char *sub;
  const GOptionEntry entries[] = {
      {"scope", 0, 0, G_OPTION_ARG_STRING, &scope,
       N_("hops or sessions (show: both by default; set: hops by default)"), N_("SCOPE")},
      {"persist", 0, 0, G_OPTION_ARG_NONE, &persist,
       N_("set: keep the new values across restarts (written to a drop-in)"), NULL},
      {"allow-firewall-mismatch", 0, 0, G_OPTION_ARG_NONE, &allow_mismatch,
       N_("set: accept an Idle or PingInterval not below FirewallTimeout, with a warning"), NULL},
      {NULL},
  };

  ctx = tfstctl_option_context_new(
      _("show|set|audit [NAME=VALUE…]"),
      _("Show or change, live, the keepalive settings of the hops and of the session "
        "connections, or audit every TCP connection of an instance from the kernel.\n\n"
        "set takes NAME=VALUE pairs with the names of the [Keepalive] configuration keys: "
        "Keepalive=yes|no, Idle=, Interval=, FirewallTimeout= (seconds), Count=, UserTimeout=, "
        "PingInterval=, PingTimeout= (time spans such as 500ms or 2s). They apply at once to the "
        "open connections too."),
      entries, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, G_MAXINT, &error))
    return tfstctl_fail(error);
  if (argc < 2) {
    g_printerr(_("tfstctl: keepalive needs show, set or audit; see --help\n"));
    return TFSTCTL_EXIT_USAGE;
  }
  sub = argv[1];
  if (!g_str_equal(sub, "show") && !g_str_equal(sub, "set") && !g_str_equal(sub, "audit")) {
    g_printerr(_("tfstctl: unknown keepalive command “%s”; use show, set or audit\n"), sub);
    return TFSTCTL_EXIT_USAGE;
  }
  if (!check_scope(scope, &error))
    return tfstctl_fail(error);
  if (g_str_equal(sub, "set") ? argc < 3 : argc > 2) {
    g_printerr(g_str_equal(sub, "set") ? _("tfstctl: keepalive set needs NAME=VALUE\n")
                                       : _("tfstctl: too many arguments; see --help\n"));
    return TFSTCTL_EXIT_USAGE;
  }
  if (g_str_equal(sub, "set")) {
    changes = parse_assignments(argv + 2, &error);
    if (changes == NULL)
      return tfstctl_fail(error);
  }
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  proxy = tfstctl_bus_get_interface(bus, opts.instance, KEEPALIVE_IFACE, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  if (g_str_equal(sub, "show"))
    return run_show(proxy, bus, &opts, scope);
  if (g_str_equal(sub, "audit"))
    return run_audit(proxy, bus, &opts);
  return run_set(proxy, bus, &opts, scope, (persist ? 1u : 0u) | (allow_mismatch ? 2u : 0u),
                 changes);
}
