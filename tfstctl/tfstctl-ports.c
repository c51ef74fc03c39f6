/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl ports: the ITM rule's ports on this host, whether each is free,
 * and who holds it.  Reads the kernel directly (inet_diag, /proc), so it
 * works with no tfstd running. */
#include "tfstctl-bus.h"
#include "tfstctl-output.h"

#include "tfst-addr.h"
#include "tfst-ports.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BASE 1918

typedef enum {
  PORT_FREE,
  PORT_IN_USE,
  PORT_RESERVED,
  PORT_EPHEMERAL,
} PortState;

/* JSON names are API; table labels are translated. */
static const struct {
  const char *json;
  const char *label;
} port_states[] = {
    [PORT_FREE] = {"free", N_("free")},
    [PORT_IN_USE] = {"in-use", N_("in use")},
    [PORT_RESERVED] = {"reserved", N_("reserved")},
    [PORT_EPHEMERAL] = {"ephemeral-range", N_("ephemeral-range")},
};

typedef struct {
  guint16 port;
  PortState state;
  gboolean reserved;
  gboolean ephemeral;
  GPtrArray *owners; /* borrowed TfstPortOwner */
} PortRow;

static void
port_row_clear(PortRow *row)
{
  g_clear_pointer(&row->owners, g_ptr_array_unref);
}

static GArray *
build_rows(const GArray *ports, const GPtrArray *owners, const TfstPortSysctl *sysctl)
{
  GArray *rows = g_array_sized_new(FALSE, TRUE, sizeof(PortRow), ports->len);

  g_array_set_clear_func(rows, (GDestroyNotify)port_row_clear);
  for (guint i = 0; i < ports->len; i++) {
    PortRow row = {.port = g_array_index(ports, guint16, i)};

    row.owners = g_ptr_array_new();
    for (guint j = 0; j < owners->len; j++) {
      TfstPortOwner *o = g_ptr_array_index(owners, j);
      if (o->port == row.port)
        g_ptr_array_add(row.owners, o);
    }
    row.reserved = sysctl != NULL && tfst_port_sysctl_is_reserved(sysctl, row.port);
    row.ephemeral = sysctl != NULL && tfst_port_sysctl_is_ephemeral(sysctl, row.port);
    if (row.owners->len > 0)
      row.state = PORT_IN_USE;
    else if (row.reserved)
      row.state = PORT_RESERVED;
    else if (row.ephemeral)
      row.state = PORT_EPHEMERAL;
    else
      row.state = PORT_FREE;
    g_array_append_val(rows, row);
  }
  return rows;
}

/* ---- table */

static char *
holder_cell(const TfstPortOwner *o)
{
  GString *s = g_string_new(NULL);

  if (o->pid != 0) {
    g_string_append_printf(s, "%d %s", (int)o->pid, o->comm);
    if (o->unit != NULL)
      g_string_append_printf(s, " %s", o->unit);
  } else if (o->hidden) {
    g_string_append_printf(s, _("hidden, uid %u (run as root to see it)"), o->uid);
  } else {
    g_string_append_printf(s, _("no process, uid %u"), o->uid);
  }
  if (o->tcp_state != TCP_LISTEN)
    g_string_append_printf(s, " (%s)", tfst_tcp_state_to_string(o->tcp_state));
  return g_string_free(s, FALSE);
}

static char *
held_by_text(const PortRow *row)
{
  g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; i < row->owners->len; i++) {
    g_autofree char *cell = holder_cell(g_ptr_array_index(row->owners, i));
    /* The IPv4 and IPv6 listeners of one process read the same. */
    if (!g_ptr_array_find_with_equal_func(cells, cell, g_str_equal, NULL))
      g_ptr_array_add(cells, g_steal_pointer(&cell));
  }
  g_ptr_array_add(cells, NULL);
  return g_strjoinv(", ", (char **)cells->pdata);
}

static void
print_hints(const GArray *rows, const TfstPortSysctl *sysctl)
{
  g_autoptr(GArray) merged = NULL;
  g_autofree char *list = NULL;
  gboolean ephemeral = FALSE;
  gboolean hidden = FALSE;

  if (sysctl != NULL)
    merged = g_array_copy(sysctl->reserved);
  for (guint i = 0; i < rows->len; i++) {
    const PortRow *row = &g_array_index(rows, PortRow, i);
    if (row->ephemeral && !row->reserved) {
      ephemeral = TRUE;
      tfst_port_list_add(merged, row->port);
    }
    for (guint j = 0; j < row->owners->len; j++)
      hidden |= ((const TfstPortOwner *)g_ptr_array_index(row->owners, j))->hidden;
  }
  if (ephemeral) {
    list = tfst_port_list_format(merged);
    g_print("\n");
    g_print(_("Ports inside the ephemeral range %u-%u (net.ipv4.ip_local_port_range) may be "
              "taken by outgoing connections. Reserve them with:\n"),
            sysctl->ephemeral.lo, sysctl->ephemeral.hi);
    g_print("  sysctl -w net.ipv4.ip_local_reserved_ports=%s\n", list);
    g_print(_("and add that setting to a file in /etc/sysctl.d/.\n"));
  }
  if (hidden) {
    g_print("\n");
    g_print(_("Some sockets belong to processes this user cannot see; run as root to see "
              "them.\n"));
  }
}

/* The widths stay the same whatever the ports' states: five digits, and
 * the longest state label.  A width hint is only a minimum with
 * SCOLS_FL_STRICTWIDTH (without, libsmartcols takes it as a maximum). */
static struct libscols_table *
table_new(void)
{
  struct libscols_table *table = tfstctl_output_table_new();
  size_t w_state = 0;

  for (guint i = 0; i < G_N_ELEMENTS(port_states); i++)
    w_state = MAX(w_state, (size_t)g_utf8_strlen(_(port_states[i].label), -1));
  scols_column_set_whint(tfstctl_output_table_new_column(table, N_("PORT"), SCOLS_FL_STRICTWIDTH),
                         5);
  scols_column_set_whint(tfstctl_output_table_new_column(table, N_("STATE"), SCOLS_FL_STRICTWIDTH),
                         (double)w_state);
  tfstctl_output_table_new_column(table, N_("HELD BY"), 0);
  return table;
}

static void
print_table(const GArray *rows, const TfstPortSysctl *sysctl)
{
  g_autoptr(TfstctlScolsTable) table = table_new();

  for (guint i = 0; i < rows->len; i++) {
    const PortRow *row = &g_array_index(rows, PortRow, i);
    struct libscols_line *line = scols_table_new_line(table, NULL);

    scols_line_refer_data(line, 0, g_strdup_printf("%u", row->port));
    scols_line_set_data(line, 1, _(port_states[row->state].label));
    scols_line_refer_data(line, 2, held_by_text(row));
  }
  tfstctl_output_table_print(table);
  if (tfstctl_output_legend())
    print_hints(rows, sysctl);
}

/* ---- JSON */

static JsonObject *
json_owner(const TfstPortOwner *o)
{
  JsonObject *json = json_object_new();
  char addr[TFST_ADDR_STRLEN];

  if (o->pid != 0)
    json_object_set_int_member(json, "pid", o->pid);
  else
    json_object_set_null_member(json, "pid");
  /* From /proc and systemd: not necessarily UTF-8. */
  tfstctl_output_json_set_text(json, "comm", o->comm);
  tfstctl_output_json_set_text(json, "unit", o->unit);
  json_object_set_int_member(json, "uid", o->uid);
  json_object_set_boolean_member(json, "hidden", o->hidden);
  json_object_set_string_member(json, "tcp_state", tfst_tcp_state_to_string(o->tcp_state));
  json_object_set_string_member(json, "local", tfst_addr_format(&o->local, addr));
  return json;
}

static JsonObject *
json_row(const PortRow *row)
{
  JsonObject *json = json_object_new();
  JsonArray *held_by = json_array_sized_new(row->owners->len);

  json_object_set_int_member(json, "port", row->port);
  json_object_set_string_member(json, "state", port_states[row->state].json);
  json_object_set_boolean_member(json, "reserved", row->reserved);
  json_object_set_boolean_member(json, "ephemeral", row->ephemeral);
  for (guint j = 0; j < row->owners->len; j++)
    json_array_add_object_element(held_by, json_owner(g_ptr_array_index(row->owners, j)));
  json_object_set_array_member(json, "held_by", held_by);
  return json;
}

/* An object as every command prints (tfstctl(1), JSON OUTPUT). */
static void
print_json(const GArray *rows)
{
  g_autoptr(JsonObject) json = json_object_new();
  JsonArray *ports = json_array_sized_new(rows->len);

  for (guint i = 0; i < rows->len; i++)
    json_array_add_object_element(ports, json_row(&g_array_index(rows, PortRow, i)));
  json_object_set_array_member(json, "ports", ports);
  tfstctl_output_json_print_object(json);
}

static gboolean
check_range(const char *option, gint value, gint lo, gint hi)
{
  if (value >= lo && value <= hi)
    return TRUE;
  g_printerr(_("tfstctl ports: %s must be between %d and %d\n"), option, lo, hi);
  return FALSE;
}

int
tfstctl_ports(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ports = NULL;
  g_autoptr(TfstPortSysctl) sysctl = NULL;
  g_autoptr(GPtrArray) owners = NULL;
  g_autoptr(GArray) rows = NULL;
  gint base = DEFAULT_BASE;
  gint skip = 0;
  gint count = 0;
  GOptionEntry entries[] = {
      {"base", 0, 0, G_OPTION_ARG_INT, &base, N_("First port of the rule (default 1918)"),
       N_("PORT")},
      {"skip", 0, 0, G_OPTION_ARG_INT, &skip,
       N_("Start at Base + SKIP × 4096, as [Ports] Skip= (default 0)"), N_("SKIP")},
      {"count", 0, 0, G_OPTION_ARG_INT, &count,
       N_("List at most COUNT ports (default: all up to 65535)"), N_("COUNT")},
      {NULL},
  };

  /* The output options every command has; no instance: this reads the
   * kernel of the host. */
  ctx = tfstctl_option_context_new(NULL,
                                   _("List the ports Base + (Skip + k) × 4096 of the ITM rule, "
                                     "whether each is free, reserved or inside the ephemeral "
                                     "range, and which process and unit holds it."),
                                   entries, &opts, FALSE);
  tfstctl_options_prepare_argv(argc, argv);
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    g_printerr("tfstctl ports: %s\n", error->message);
    return TFSTCTL_EXIT_USAGE;
  }
  if (argc > 1) {
    g_printerr(_("tfstctl ports: unexpected argument “%s”\n"), argv[1]);
    return TFSTCTL_EXIT_USAGE;
  }
  if (!check_range("--base", base, 1, G_MAXUINT16) ||
      !check_range("--skip", skip, 0, G_MAXUINT16) ||
      !check_range("--count", count, 0, G_MAXUINT16))
    return TFSTCTL_EXIT_USAGE;
  ports = tfst_ports_candidates((guint)base, (guint)skip, (guint)count);
  if (ports->len == 0) {
    g_printerr(_("tfstctl ports: no port of the rule fits below 65536\n"));
    return EXIT_FAILURE;
  }

  sysctl = tfst_port_sysctl_load(NULL, &error);
  if (sysctl == NULL) {
    g_printerr(_("tfstctl ports: warning: cannot read the port settings of the kernel: %s\n"),
               error->message);
    g_clear_error(&error);
  }
  owners = tfst_port_owners_lookup(&g_array_index(ports, guint16, 0), ports->len,
                                   TFST_PORT_OWNERS_CONNECTIONS, &error);
  if (owners == NULL) {
    g_printerr(_("tfstctl ports: cannot list the sockets: %s\n"), error->message);
    return EXIT_FAILURE;
  }
  rows = build_rows(ports, owners, sysctl);
  if (opts.json)
    print_json(rows);
  else
    print_table(rows, sysctl);
  return EXIT_SUCCESS;
}
