/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl spi: the kernel's IPsec SAs in an instance's network namespace
 * and their SPI conflicts (org.tfst.Tfst1.Ipsec).  Finding conflicts is a
 * successful answer, not a failure: both check and conflicts exit with 0
 * and scripts read --json (tfstctl(1)). */
#include "tfstctl-bus.h"
#include "tfstctl-fields.h"
#include "tfstctl-output.h"

#include "tfst-xfrm.h"

#include <glib/gi18n.h>

#define IPSEC_INTERFACE "org.tfst.Tfst1.Ipsec"
/* What tfst-xfrm-kernel.c reads in the instance's namespace. */
#define XFRM_STAT_PATH "/proc/net/xfrm_stat"

/* args: the n_args arguments after the subcommand's name. */
typedef int (*SpiCommandFunc)(GDBusProxy *proxy, TfstctlBus *bus, const TfstctlOptions *opts,
                              char **args, int n_args);

static char *
spi_text(guint32 spi)
{
  return g_strdup_printf("0x%08x", spi);
}

/* "4096" or "0x1000", as ip xfrm accepts them. */
static gboolean
parse_spi(const char *text, guint32 *ret_spi, GError **error)
{
  guint64 value = 0;
  gboolean hex = g_ascii_strncasecmp(text, "0x", 2) == 0;

  if (!g_ascii_string_to_unsigned(hex ? text + 2 : text, hex ? 16 : 10, 0, G_MAXUINT32, &value,
                                  NULL)) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                _("SPI “%s” is not a number from 0 to 4294967295 (decimal or 0x hex)"), text);
    return FALSE;
  }
  *ret_spi = (guint32)value;
  return TRUE;
}

static const char *
kind_text(const char *kind)
{
  if (g_strcmp0(kind, "same-destination") == 0)
    return _("same-destination: the kernel refuses a second SA with this SPI, destination and "
             "protocol");
  if (g_strcmp0(kind, "other-tunnel") == 0)
    return _("other-tunnel: the same SPI on another tunnel; the kernel accepts it, but peers and "
             "tools mix the tunnels up");
  return NULL;
}

/* ---- list */

/* One SA of ListSAs(). */
#define SA_ROW "(ussssuttuuu)"

static const TfstctlField sa_fields[] = {
    {N_("SPI"), "spi", 0, TFSTCTL_FIELD_SPI},
    {N_("PROTO"), "protocol", 1},
    {N_("SOURCE"), "source", 2},
    {N_("DESTINATION"), "destination", 3},
    {N_("MODE"), "mode", 4},
    {N_("REQID"), "reqid", 5, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("BYTES"), "bytes", 6, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("PACKETS"), "packets", 7, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("REPLAY-WINDOW"), "replay_window_failures", 8, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("REPLAY"), "replay_failures", 9, .flags = TFSTCTL_FIELD_RIGHT},
    {N_("INTEGRITY"), "integrity_failures", 10, .flags = TFSTCTL_FIELD_RIGHT},
};
static const TfstctlFields sa_desc = TFSTCTL_FIELDS(SA_ROW, sa_fields);

static void
list_text(GVariant *sas)
{
  if (g_variant_n_children(sas) == 0) {
    g_print("%s\n", _("No IPsec SAs."));
    return;
  }
  tfstctl_fields_print_table(&sa_desc, sas);
}

static void
list_json(GVariant *sas)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_array_member(json, "sas", tfstctl_fields_json_rows(&sa_desc, sas));
  tfstctl_output_json_print_object(json);
}

static int
spi_list(GDBusProxy *proxy, TfstctlBus *bus, const TfstctlOptions *opts, char **args, int n_args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) sas = tfstctl_bus_call(bus, proxy, "ListSAs", NULL, "(a" SA_ROW ")", &error);

  if (sas == NULL)
    return tfstctl_fail(error);
  if (opts->json)
    list_json(sas);
  else
    list_text(sas);
  return TFSTCTL_EXIT_OK;
}

/* ---- check */

/* One conflict of CheckSpi(). */
#define CONFLICT_ROW "(usssss)"

static const TfstctlField conflict_fields[] = {
    {N_("SPI"), "spi", 0, TFSTCTL_FIELD_SPI},
    {N_("PROTO"), "protocol", 1},
    {N_("SOURCE"), "source", 2},
    {N_("DESTINATION"), "destination", 3},
    {N_("MODE"), "mode", 4},
    {N_("CONFLICT"), "kind", 5},
};
static const TfstctlFields conflict_desc = TFSTCTL_FIELDS(CONFLICT_ROW, conflict_fields);

/* The explanation of each kind of conflict among `kinds`. */
static void
print_kinds(GHashTable *kinds)
{
  for (const char *const *k = (const char *const[]){"same-destination", "other-tunnel", NULL};
       *k != NULL; k++) {
    if (g_hash_table_contains(kinds, *k))
      g_print("  %s\n", kind_text(*k));
  }
}

static void
check_text(GVariant *conflicts, guint32 spi, const char *destination, const char *protocol)
{
  g_autoptr(GHashTable) kinds = g_hash_table_new(g_str_hash, g_str_equal);
  g_autofree char *spi_str = spi_text(spi);
  guint n = (guint)g_variant_n_children(conflicts);

  if (n == 0) {
    /* TRANSLATORS: SPI 0x00001000 is free for esp to 10.0.0.2. */
    g_print(_("SPI %s is free for %s to %s: no conflicts.\n"), spi_str, protocol, destination);
    return;
  }
  for (guint i = 0; i < n; i++) {
    const char *kind = NULL;
    g_variant_get_child(conflicts, i, "(ussss&s)", NULL, NULL, NULL, NULL, NULL, &kind);
    g_hash_table_add(kinds, (gpointer)kind);
  }
  g_print(g_dngettext(GETTEXT_PACKAGE, "SPI %s for %s to %s collides with %u SA:\n",
                      "SPI %s for %s to %s collides with %u SAs:\n", n),
          spi_str, protocol, destination, n);
  tfstctl_fields_print_table(&conflict_desc, conflicts);
  print_kinds(kinds);
}

static void
check_json(GVariant *conflicts, guint32 spi, const char *destination, const char *protocol)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_int_member(json, "spi", spi);
  json_object_set_string_member(json, "destination", destination);
  json_object_set_string_member(json, "protocol", protocol);
  json_object_set_array_member(json, "conflicts",
                               tfstctl_fields_json_rows(&conflict_desc, conflicts));
  tfstctl_output_json_print_object(json);
}

/* Before connecting, so bad usage is exit status 2 with or without a bus. */
static gboolean
check_usage(char **args, int n_args, guint32 *ret_spi, GError **error)
{
  if (n_args != 3) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                _("spi check needs SPI, DESTINATION and PROTOCOL (esp, ah or comp)"));
    return FALSE;
  }
  return parse_spi(args[0], ret_spi, error);
}

static int
spi_check(GDBusProxy *proxy, TfstctlBus *bus, const TfstctlOptions *opts, char **args, int n_args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) conflicts = NULL;
  guint32 spi = 0;

  if (!check_usage(args, n_args, &spi, &error))
    return tfstctl_fail(error);
  conflicts =
      tfstctl_bus_call(bus, proxy, "CheckSpi", g_variant_new("(uss)", spi, args[1], args[2]),
                       "(a" CONFLICT_ROW ")", &error);
  if (conflicts == NULL)
    return tfstctl_fail(error);
  if (opts->json)
    check_json(conflicts, spi, args[1], args[2]);
  else
    check_text(conflicts, spi, args[1], args[2]);
  return TFSTCTL_EXIT_OK;
}

/* ---- conflicts */

/* One group of FindConflicts(): an SPI, the kind of conflict and the SAs
 * that share it.  The table has a line per SA. */
#define GROUP_ROW "(usa(sss))"

static const TfstctlField group_sa_fields[] = {
    {N_("PROTO"), "protocol", 0},
    {N_("SOURCE"), "source", 1},
    {N_("DESTINATION"), "destination", 2},
};
static const TfstctlFields group_sa_desc = TFSTCTL_FIELDS("(sss)", group_sa_fields);

static const TfstctlField group_fields[] = {
    {N_("SPI"), "spi", 0, TFSTCTL_FIELD_SPI},
    {N_("CONFLICT"), "kind", 1},
    {NULL, "sas", 2, .rows = &group_sa_desc},
};
static const TfstctlFields group_desc = TFSTCTL_FIELDS(GROUP_ROW, group_fields);

static void
conflicts_text(GVariant *groups)
{
  g_autoptr(GHashTable) kinds = g_hash_table_new(g_str_hash, g_str_equal);
  gsize n = g_variant_n_children(groups);

  if (n == 0) {
    g_print("%s\n", _("No colliding SPIs: no conflicts."));
    return;
  }
  for (gsize i = 0; i < n; i++) {
    const char *kind = NULL;
    g_variant_get_child(groups, i, "(u&s@a(sss))", NULL, &kind, NULL);
    g_hash_table_add(kinds, (gpointer)kind);
  }
  tfstctl_fields_print_table(&group_desc, groups);
  print_kinds(kinds);
}

static void
conflicts_json(GVariant *groups)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_array_member(json, "conflicts", tfstctl_fields_json_rows(&group_desc, groups));
  tfstctl_output_json_print_object(json);
}

static int
spi_conflicts(GDBusProxy *proxy, TfstctlBus *bus, const TfstctlOptions *opts, char **args,
              int n_args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) groups =
      tfstctl_bus_call(bus, proxy, "FindConflicts", NULL, "(a" GROUP_ROW ")", &error);

  if (groups == NULL)
    return tfstctl_fail(error);
  if (opts->json)
    conflicts_json(groups);
  else
    conflicts_text(groups);
  return TFSTCTL_EXIT_OK;
}

/* ---- stats */

static int print_stats(GVariant *counters, const TfstctlOptions *opts);

static int
spi_stats(GDBusProxy *proxy, TfstctlBus *bus, const TfstctlOptions *opts, char **args, int n_args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) counters =
      tfstctl_bus_call(bus, proxy, "Statistics", NULL, "(a{st})", &error);

  if (counters == NULL)
    return tfstctl_fail(error);
  return print_stats(counters, opts);
}

/* spi stats without -i: the counters are the kernel's, host-wide; read
 * them here, as ip xfrm and ipsecstat do, with or without an instance. */
static int
spi_stats_here(const TfstctlOptions *opts)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GVariant) counters = NULL;

  if (!g_file_get_contents(XFRM_STAT_PATH, &text, NULL, &error)) {
    g_prefix_error(&error, _("cannot read the kernel's IPsec counters: "));
    return tfstctl_fail(error);
  }
  counters = tfst_xfrm_parse_stat(text, &error);
  if (counters == NULL)
    return tfstctl_fail(error);
  g_variant_ref_sink(counters);
  return print_stats(counters, opts);
}

static int
print_stats(GVariant *counters, const TfstctlOptions *opts)
{
  GVariantIter iter;
  const char *name;
  guint64 value;

  g_variant_iter_init(&iter, counters);
  if (opts->json) {
    g_autoptr(JsonObject) json = json_object_new();
    JsonObject *counters_json = json_object_new();

    while (g_variant_iter_next(&iter, "{&st}", &name, &value))
      json_object_set_int_member(counters_json, name, (gint64)value);
    json_object_set_object_member(json, "counters", counters_json);
    tfstctl_output_json_print_object(json);
  } else {
    g_autoptr(TfstctlScolsTable) table = tfstctl_output_table_new();

    tfstctl_output_table_new_column(table, N_("NAME"), 0);
    tfstctl_output_table_new_column(table, N_("VALUE"), SCOLS_FL_RIGHT);
    while (g_variant_iter_next(&iter, "{&st}", &name, &value)) {
      struct libscols_line *line = scols_table_new_line(table, NULL);

      scols_line_set_data(line, 0, name);
      scols_line_refer_data(line, 1, g_strdup_printf("%" G_GUINT64_FORMAT, value));
    }
    tfstctl_output_table_print(table);
  }
  return TFSTCTL_EXIT_OK;
}

/* ---- command */

static const struct {
  const char *name;
  int n_args; /* exactly so many */
  SpiCommandFunc func;
} spi_commands[] = {
    {"list", 0, spi_list},
    {"check", 3, spi_check},
    {"conflicts", 0, spi_conflicts},
    {"stats", 0, spi_stats},
};

int
tfstctl_spi(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(GDBusProxy) proxy = NULL;
  guint32 spi = 0;

  ctx = tfstctl_option_context_new(
      _("list | check SPI DESTINATION PROTOCOL | conflicts | stats"),
      _("Show the kernel's IPsec SAs in the instance's network namespace (list), check a "
        "proposed SPI against them (check; SPI in decimal or 0x hex, PROTOCOL esp, ah or comp), "
        "find SPIs that collide (conflicts), or show the kernel's IPsec error counters (stats). "
        "check and conflicts exit with 0 whether or not they find conflicts; with --json an "
        "empty \"conflicts\" array means none."),
      NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 4, &error))
    return tfstctl_fail(error);
  if (argc < 2) {
    g_set_error(&error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                _("spi needs a subcommand: list, check, conflicts or stats"));
    return tfstctl_fail(error);
  }
  for (guint i = 0; i < G_N_ELEMENTS(spi_commands); i++) {
    if (g_strcmp0(argv[1], spi_commands[i].name) != 0)
      continue;
    if (spi_commands[i].n_args == 0 && argc > 2) {
      g_set_error(&error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("unexpected argument “%s”"),
                  argv[2]);
      return tfstctl_fail(error);
    }
    if (g_strcmp0(argv[1], "check") == 0 && !check_usage(argv + 2, argc - 2, &spi, &error))
      return tfstctl_fail(error);
    if (spi_commands[i].func == spi_stats && opts.instance == NULL)
      return spi_stats_here(&opts);
    bus = tfstctl_bus_new(&opts, &error);
    if (bus == NULL)
      return tfstctl_fail(error);
    proxy = tfstctl_bus_get_interface(bus, opts.instance, IPSEC_INTERFACE, &error);
    if (proxy == NULL)
      return tfstctl_fail(error);
    return spi_commands[i].func(proxy, bus, &opts, argv + 2, argc - 2);
  }
  g_set_error(&error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
              _("unknown spi subcommand “%s” (list, check, conflicts or stats)"), argv[1]);
  return tfstctl_fail(error);
}
