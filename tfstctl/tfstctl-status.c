/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl status and tfstctl chain: the properties of one instance. */
#include "tfstctl-bus.h"
#include "tfstctl-fields.h"
#include "tfstctl-format.h"
#include "tfstctl-graph.h"
#include "tfstctl-hops.h"
#include "tfstctl-journal.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>

/* The array properties: JSON shows their elements as they are, the text
 * a line each (a sentence per hop, "address:port" per listener). */
#define HOP_ROW  "(ssqbtuu)"
#define LINK_ROW "(si)"
/* The index of TlsCertificates in the status row (STATUS_ROW). */
#define STATUS_TLS_CERTIFICATES 13

static const TfstctlField hop_fields[] = {
    {NULL, "label", 0},    {NULL, "address", 1}, {NULL, "port", 2},       {NULL, "up", 3},
    {NULL, "since_us", 4}, {NULL, "rtt_us", 5},  {NULL, "reconnects", 6},
};
static const TfstctlFields hop_desc = TFSTCTL_FIELDS(HOP_ROW, hop_fields);

static const TfstctlField link_fields[] = {{NULL, "label", 0}, {NULL, "depth", 1}};
static const TfstctlFields link_desc = TFSTCTL_FIELDS(LINK_ROW, link_fields);

/* ChainLinks: lower has a hop to its parent upper. */
static const TfstctlField edge_fields[] = {{NULL, "upper", 0}, {NULL, "lower", 1}};
static const TfstctlFields edge_desc = TFSTCTL_FIELDS("(ss)", edge_fields);
/* The most labels tfstctl chain draws. */
#define GRAPH_MAX_LINES 2000

static const TfstctlField listener_fields[] = {{NULL, "address", 0}, {NULL, "port", 1}};
static const TfstctlFields listener_desc = TFSTCTL_FIELDS("(sq)", listener_fields);

static const TfstctlField tls_certificate_fields[] = {
    {NULL, "section", 0}, {NULL, "mode", 1},   {NULL, "labels", 2},
    {NULL, "subject", 3}, {NULL, "issuer", 4}, {NULL, "expires", 5},
};
static const TfstctlFields tls_certificate_desc =
    TFSTCTL_FIELDS("(sssssx)", tls_certificate_fields);

static const TfstctlField tls_hop_fields[] = {
    {NULL, "side", 0},    {NULL, "label", 1},  {NULL, "peer", 2},    {NULL, "cipher", 3},
    {NULL, "subject", 4}, {NULL, "issuer", 5}, {NULL, "expires", 6}, {NULL, "ktls", 7},
};
static const TfstctlFields tls_hop_desc = TFSTCTL_FIELDS("(ssssssxb)", tls_hop_fields);

/* ---- reading the properties (the strings stay owned by the variants) */

/* The elements of value, an array of row_type; none if it is not one. */
static gsize
n_rows(GVariant *value, const char *array_type)
{
  if (value == NULL || !g_variant_is_of_type(value, G_VARIANT_TYPE(array_type)))
    return 0;
  return g_variant_n_children(value);
}

static gint
compare_links(gconstpointer a, gconstpointer b)
{
  const char *x_label, *y_label;
  gint32 x_depth, y_depth;

  g_variant_get(*(GVariant *const *)a, "(&si)", &x_label, &x_depth);
  g_variant_get(*(GVariant *const *)b, "(&si)", &y_label, &y_depth);
  if (x_depth != y_depth)
    return x_depth < y_depth ? -1 : 1;
  return g_strcmp0(x_label, y_label);
}

/* The Chain property sorted from the endpoint proxy (most negative depth)
 * toward the gateway proxies. */
static GVariant *
chain_sorted(GVariant *value)
{
  g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
  gsize n = n_rows(value, "a" LINK_ROW);

  for (gsize i = 0; i < n; i++)
    g_ptr_array_add(links, g_variant_get_child_value(value, i));
  g_ptr_array_sort(links, compare_links);
  return g_variant_ref_sink(
      g_variant_new_array(G_VARIANT_TYPE(LINK_ROW), (GVariant **)links->pdata, links->len));
}

static char *
self_label(const char *label)
{
  /* TRANSLATORS: marks this instance in the chain; %s is its label. */
  return g_strdup_printf(_("%s (this instance)"), label);
}

/* ---- status as text */

static char *
hop_text(GVariant *hop)
{
  const char *label, *address;
  guint16 port;
  gboolean up;
  guint64 since_usec;
  guint32 rtt_usec, reconnects;
  g_autofree char *endpoint = NULL, *since = NULL, *rtt = NULL;
  GString *s = g_string_new(NULL);

  g_variant_get(hop, "(&s&sqbtuu)", &label, &address, &port, &up, &since_usec, &rtt_usec,
                &reconnects);
  endpoint = tfstctl_format_endpoint(address, port);
  since = tfstctl_format_time(since_usec);
  rtt = tfstctl_format_rtt(rtt_usec);
  g_string_append_printf(s, "%s (%s) ", *label != '\0' ? label : _("no label yet"), endpoint);
  if (since_usec == 0)
    g_string_append(s, up ? _("up") : _("down"));
  else
    /* TRANSLATORS: the state of a hop; %s is a local time. */
    g_string_append_printf(s, up ? _("up since %s") : _("down since %s"), since);
  g_string_append(s, ", ");
  /* TRANSLATORS: %s is the round trip time, such as "0.4 ms", or "-". */
  g_string_append_printf(s, _("RTT %s"), rtt);
  g_string_append(s, ", ");
  g_string_append_printf(
      s, g_dngettext(GETTEXT_PACKAGE, "%u reconnect", "%u reconnects", reconnects), reconnects);
  return g_string_free(s, FALSE);
}

/* A link of the chain as shown, this instance (depth 0) marked. */
static char *
link_text(GVariant *chain, gsize i, gint32 *ret_depth)
{
  const char *label;

  g_variant_get_child(chain, i, "(&si)", &label, ret_depth);
  return *ret_depth == 0 ? self_label(label) : g_strdup(label);
}

/* "ep → relay (this instance) → gw1, gw2": one group per depth. */
static char *
chain_summary(GVariant *chain)
{
  GString *s = g_string_new(NULL);
  gint32 previous = 0;

  for (gsize i = 0; i < g_variant_n_children(chain); i++) {
    gint32 depth = 0;
    g_autofree char *text = link_text(chain, i, &depth);

    if (i > 0)
      g_string_append(s, previous == depth ? ", " : " → ");
    g_string_append(s, text);
    previous = depth;
  }
  return g_string_free(s, FALSE);
}

/* The array member of a field, for its lines. */
static GVariant *
member(GVariant *row, const TfstctlField *field)
{
  return g_variant_get_child_value(row, field->member);
}

static GPtrArray *
listener_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) value = member(row, field);
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  GVariantIter iter;
  const char *address;
  guint16 port;

  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "(&sq)", &address, &port))
    g_ptr_array_add(lines, tfstctl_format_endpoint(address, port));
  return lines;
}

static GPtrArray *
hop_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) value = member(row, field);
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);

  for (gsize i = 0; i < g_variant_n_children(value); i++) {
    g_autoptr(GVariant) hop = g_variant_get_child_value(value, i);
    g_ptr_array_add(lines, hop_text(hop));
  }
  return lines;
}

static char *
chain_cell_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) chain = member(row, field);
  g_autofree char *summary = chain_summary(chain);

  return g_strdup(*summary != '\0' ? summary : _("unknown"));
}

static char *
tls_certificate_text(const char *section, const char *mode, const char *labels, const char *subject,
                     const char *issuer, gint64 expires)
{
  g_autofree char *when = tfstctl_format_time((guint64)MAX(expires, 0) * G_USEC_PER_SEC);

  if (g_str_equal(mode, "psk"))
    /* TRANSLATORS: TLS of a hop section; %s: [Parent] or [Children], then a label. */
    return g_strdup_printf(_("[%s] pre-shared key, identity %s"), section, labels);
  /* TRANSLATORS: TLS of a hop section: the section, the labels the
   * certificate names, its subject, its issuer and when it expires. */
  return g_strdup_printf(_("[%s] certificate for %s: %s, issued by %s, "
                           "expires %s"),
                         section, labels, subject, issuer, when);
}

/* "[Parent] certificate for gw1: CN=gw1, issued by CN=CA, expires ..."; no
 * TLS section at all without TLS. */
static GPtrArray *
tls_certificate_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) value = member(row, field);
  GPtrArray *lines = NULL;
  const char *section, *mode, *labels, *subject, *issuer;
  GVariantIter iter;
  gint64 expires;

  if (g_variant_n_children(value) == 0)
    return NULL;
  lines = g_ptr_array_new_with_free_func(g_free);
  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "(&s&s&s&s&sx)", &section, &mode, &labels, &subject, &issuer,
                             &expires))
    g_ptr_array_add(lines, tls_certificate_text(section, mode, labels, subject, issuer, expires));
  return lines;
}

/* "child gw1 (127.0.0.1:4711) (TLS1.3-X.509)-...; CN=gw1, expires ...; kernel TLS" */
static char *
tls_hop_text(GVariant *hop)
{
  const char *side, *label, *peer, *cipher, *subject, *issuer;
  gint64 expires;
  gboolean ktls;
  g_autofree char *when = NULL;
  GString *s = g_string_new(NULL);

  g_variant_get(hop, "(&s&s&s&s&s&sxb)", &side, &label, &peer, &cipher, &subject, &issuer, &expires,
                &ktls);
  when = tfstctl_format_time((guint64)MAX(expires, 0) * G_USEC_PER_SEC);
  g_string_append_printf(s, "%s %s (%s) %s", g_str_equal(side, "parent") ? _("parent") : _("child"),
                         *label != '\0' ? label : _("no label yet"), peer, cipher);
  if (*subject != '\0')
    /* TRANSLATORS: the peer's certificate: subject, issuer, expiry. */
    g_string_append_printf(s, _("; peer certificate %s, issued by %s, expires %s"), subject, issuer,
                           when);
  g_string_append(s, "; ");
  g_string_append(s, ktls ? _("kernel TLS") : _("TLS in the process (no kernel TLS)"));
  return g_string_free(s, FALSE);
}

/* Shown with the TLS certificates, or not at all. */
static GPtrArray *
tls_hop_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) certificates = g_variant_get_child_value(row, STATUS_TLS_CERTIFICATES);
  g_autoptr(GVariant) value = member(row, field);
  GPtrArray *lines = NULL;

  if (g_variant_n_children(certificates) == 0)
    return NULL;
  lines = g_ptr_array_new_with_free_func(g_free);
  for (gsize i = 0; i < g_variant_n_children(value); i++) {
    g_autoptr(GVariant) hop = g_variant_get_child_value(value, i);
    g_ptr_array_add(lines, tls_hop_text(hop));
  }
  return lines;
}

/* The properties of an instance as one row; a string property an instance
 * does not have is null in JSON and empty in the text. */
#define STATUS_ROW                                                                                 \
  "(ssmsmsmsmsmsua(sq)a" HOP_ROW "a" HOP_ROW "a" LINK_ROW                                          \
  "ua(sssssx)a(ssssssxb)a" TFSTCTL_HOPS_ROW "a(ss))"
/* The index of the hops in the status row. */
#define STATUS_HOPS 15

static const TfstctlField status_fields[] = {
    {NULL, "instance", 0},
    {NULL, "bus_name", 1},
    {N_("Role"), "role", 2},
    {N_("Instance"), "instance_name", 3},
    {N_("Label"), "label", 4},
    {N_("Version"), "version", 5},
    {N_("State"), "state", 6},
    {N_("Log level"), "log_level", 7},
    {N_("Listeners"), "listeners", 8, .rows = &listener_desc, .lines = listener_lines_cb},
    {N_("Parent"), "parent", 9, .rows = &hop_desc, .lines = hop_lines_cb},
    {N_("Children"), "children", 10, .rows = &hop_desc, .lines = hop_lines_cb},
    {N_("Chain"), "chain", 11, TFSTCTL_FIELD_CUSTOM, .rows = &link_desc, .cell = chain_cell_cb},
    {N_("Sessions"), "session_count", 12},
    {N_("TLS"), "tls_certificates", STATUS_TLS_CERTIFICATES, .rows = &tls_certificate_desc,
     .lines = tls_certificate_lines_cb},
    {N_("TLS hops"), "tls_hops", 14, .rows = &tls_hop_desc, .lines = tls_hop_lines_cb},
    /* Tables of their own after the record (tfstctl_hops_print_tables). */
    {NULL, "hops", STATUS_HOPS, .rows = &tfstctl_hops_desc},
    {NULL, "chain_links", 16, .rows = &edge_desc},
};
static const TfstctlFields status_desc = TFSTCTL_FIELDS(STATUS_ROW, status_fields);

/* value, or an empty array of that type when it is missing or of another. */
static GVariant *
array_or_empty(GVariant *value, const char *array_type)
{
  if (value != NULL && g_variant_is_of_type(value, G_VARIANT_TYPE(array_type)))
    return value;
  return g_variant_new_array(G_VARIANT_TYPE(array_type + 1), NULL, 0);
}

static GVariant *
status_row_new(TfstDbusTfst1Instance *proxy, const char *instance)
{
  TfstDbusTfst1Instance *p = proxy;
  g_autoptr(GVariant) chain = chain_sorted(tfst_dbus_tfst1_instance_get_chain(p));
  g_autoptr(GVariant) hops = tfstctl_hops_rows(tfst_dbus_tfst1_instance_get_hops(p));

  /* STATUS_ROW with "@" before each value passed as a GVariant. */
  return g_variant_ref_sink(g_variant_new(
      "(ssmsmsmsmsmsu@a(sq)@a" HOP_ROW "@a" HOP_ROW "@a" LINK_ROW
      "u@a(sssssx)@a(ssssssxb)@a" TFSTCTL_HOPS_ROW "@a(ss))",
      instance, g_dbus_proxy_get_name(G_DBUS_PROXY(p)), tfst_dbus_tfst1_instance_get_role(p),
      tfst_dbus_tfst1_instance_get_instance(p), tfst_dbus_tfst1_instance_get_label(p),
      tfst_dbus_tfst1_instance_get_version(p), tfst_dbus_tfst1_instance_get_state(p),
      tfst_dbus_tfst1_instance_get_log_level(p),
      array_or_empty(tfst_dbus_tfst1_instance_get_listeners(p), "a(sq)"),
      array_or_empty(tfst_dbus_tfst1_instance_get_parent(p), "a" HOP_ROW),
      array_or_empty(tfst_dbus_tfst1_instance_get_children(p), "a" HOP_ROW), chain,
      tfst_dbus_tfst1_instance_get_session_count(p),
      array_or_empty(tfst_dbus_tfst1_instance_get_tls_certificates(p), "a(sssssx)"),
      array_or_empty(tfst_dbus_tfst1_instance_get_tls_hops(p), "a(ssssssxb)"), hops,
      array_or_empty(tfst_dbus_tfst1_instance_get_chain_links(p), "a(ss)")));
}

/* The instance's last journal lines after a blank line, as networkctl
 * status shows them; nothing when there are none or they cannot be read. */
static void
print_journal(const char *instance, guint n)
{
  g_autoptr(GPtrArray) lines = tfstctl_journal_lines(instance, n);

  if (lines->len > 0)
    g_print("\n");
  for (guint i = 0; i < lines->len; i++)
    g_print("%s\n", (const char *)g_ptr_array_index(lines, i));
}

static void
print_status(TfstDbusTfst1Instance *proxy, const char *instance, gboolean json, guint lines)
{
  g_autoptr(GVariant) row = status_row_new(proxy, instance);
  g_autoptr(JsonObject) doc = NULL;

  if (!json) {
    g_autoptr(GVariant) hops = g_variant_get_child_value(row, STATUS_HOPS);

    g_print("%s (%s)\n", instance, g_dbus_proxy_get_name(G_DBUS_PROXY(proxy)));
    tfstctl_fields_print_record(&status_desc, row);
    tfstctl_hops_print_tables(hops);
    print_journal(instance, lines);
    return;
  }
  doc = tfstctl_fields_json_row(&status_desc, row);
  tfstctl_output_json_print_object(doc);
}

/* ---- commands */

/* The instance from -i or, for status, the positional argument. */
static gboolean
pick_instance(TfstctlOptions *opts, int argc, char **argv, GError **error)
{
  if (argc < 2)
    return TRUE;
  if (opts->instance != NULL && !g_str_equal(opts->instance, argv[1])) {
    g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
                _("two different instances given: “%s” and “%s”"), opts->instance, argv[1]);
    return FALSE;
  }
  g_free(opts->instance);
  opts->instance = g_strdup(argv[1]);
  return TRUE;
}

int
tfstctl_status(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  g_autofree char *instance = NULL;
  int lines = 10;
  const GOptionEntry entries[] = {
      {"lines", 'n', 0, G_OPTION_ARG_INT, &lines,
       N_("Show this many of the instance's last journal lines (default 10, 0: none)"), N_("N")},
      {NULL},
  };

  ctx = tfstctl_option_context_new(_("[INSTANCE]"),
                                   _("Show the state of an instance: identity, listeners, the hops "
                                     "to its parent and children with their last errors, the "
                                     "chain, the sessions and the last journal lines."),
                                   entries, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 1, &error) ||
      !pick_instance(&opts, argc, argv, &error))
    return tfstctl_fail(error);
  if (lines < 0) {
    g_set_error(&error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE, _("--lines must be 0 or more, not %d"),
                lines);
    return tfstctl_fail(error);
  }
  proxy = tfstctl_bus_open_instance(&opts, &bus, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  instance = tfstctl_instance_name(proxy);
  print_status(proxy, instance, opts.json, (guint)lines);
  return TFSTCTL_EXIT_OK;
}

/* The chain by depth, for a graph without links (this instance alone). */
static void
print_chain_depths(GVariant *chain)
{
  gint32 top = 0;

  if (g_variant_n_children(chain) == 0) {
    g_print(_("The chain is not known yet.\n"));
    return;
  }
  g_variant_get_child(chain, 0, "(&si)", NULL, &top);
  for (gsize i = 0; i < g_variant_n_children(chain); i++) {
    gint32 depth = 0;
    g_autofree char *text = link_text(chain, i, &depth);
    g_autofree char *indent = g_strnfill((gsize)(depth - top) * 2, ' ');

    g_print("%s%s\n", indent, text);
  }
}

/* What the graph says after a label: this instance, and its parents'
 * part in the choice of the active one. */
static GHashTable *
graph_notes(const char *self, GVariant *hops)
{
  GHashTable *notes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (gsize i = 0; i < g_variant_n_children(hops); i++) {
    const char *direction, *label, *role;

    g_variant_get_child(hops, i, "(&s&s&sq&s&sttuu&stub)", &direction, &label, NULL, NULL, &role,
                        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (!g_str_equal(direction, "parent") || *label == '\0')
      continue;
    if (g_str_equal(role, "active"))
      g_hash_table_insert(notes, g_strdup(label), (gpointer)_("active parent"));
    else if (g_str_equal(role, "standby"))
      g_hash_table_insert(notes, g_strdup(label), (gpointer)_("standby parent"));
  }
  if (self != NULL)
    g_hash_table_insert(notes, g_strdup(self), (gpointer)_("this instance"));
  return notes;
}

static void
print_chain_text(GVariant *chain, GVariant *links, GVariant *hops, const char *self)
{
  g_autoptr(GHashTable) notes = NULL;
  g_autoptr(GPtrArray) lines = NULL;

  if (g_variant_n_children(links) == 0) {
    print_chain_depths(chain);
    return;
  }
  notes = graph_notes(self, hops);
  lines = tfstctl_graph_lines(links, notes, GRAPH_MAX_LINES);
  for (guint i = 0; i < lines->len; i++)
    g_print("%s\n", (const char *)g_ptr_array_index(lines, i));
}

static void
print_chain_json(GVariant *chain, GVariant *links, GVariant *hops, const char *instance)
{
  g_autoptr(JsonObject) json = json_object_new();

  json_object_set_string_member(json, "instance", instance);
  json_object_set_array_member(json, "chain", tfstctl_fields_json_rows(&link_desc, chain));
  json_object_set_array_member(json, "links", tfstctl_fields_json_rows(&edge_desc, links));
  json_object_set_array_member(json, "hops", tfstctl_fields_json_rows(&tfstctl_hops_desc, hops));
  tfstctl_output_json_print_object(json);
}

int
tfstctl_chain(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  g_autoptr(GVariant) chain = NULL, hops = NULL, links = NULL;
  g_autofree char *instance = NULL;

  ctx = tfstctl_option_context_new(NULL,
                                   _("Show the chain as this instance knows it from the "
                                     "handshakes, from the endpoint proxy down to the gateway "
                                     "proxies: every path, a component with several parents "
                                     "under each of them."),
                                   NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  proxy = tfstctl_bus_open_instance(&opts, &bus, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  instance = tfstctl_instance_name(proxy);
  chain = chain_sorted(tfst_dbus_tfst1_instance_get_chain(proxy));
  links =
      g_variant_ref_sink(array_or_empty(tfst_dbus_tfst1_instance_get_chain_links(proxy), "a(ss)"));
  hops = tfstctl_hops_rows(tfst_dbus_tfst1_instance_get_hops(proxy));
  if (opts.json)
    print_chain_json(chain, links, hops, instance);
  else
    print_chain_text(chain, links, hops, tfst_dbus_tfst1_instance_get_label(proxy));
  return TFSTCTL_EXIT_OK;
}
