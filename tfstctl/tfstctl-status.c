/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl status and tfstctl chain: the properties of one instance. */
#include "tfstctl-bus.h"
#include "tfstctl-fields.h"
#include "tfstctl-format.h"

#include <glib/gi18n.h>

/* The array properties: JSON shows their elements as they are, the text
 * a line each (a sentence per hop, "address:port" per listener). */
#define HOP_ROW  "(ssqbtuu)"
#define LINK_ROW "(si)"

static const TfstctlField hop_fields[] = {
    {NULL, "label", 0}, {NULL, "address", 1}, {NULL, "port", 2},       {NULL, "up", 3},
    {NULL, "since", 4}, {NULL, "rtt", 5},     {NULL, "reconnects", 6},
};
static const TfstctlFields hop_desc = TFSTCTL_FIELDS(HOP_ROW, hop_fields);

static const TfstctlField link_fields[] = {{NULL, "label", 0}, {NULL, "depth", 1}};
static const TfstctlFields link_desc = TFSTCTL_FIELDS(LINK_ROW, link_fields);

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

static const char *
str_or_empty(const char *s)
{
  return s != NULL ? s : "";
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

/* A field with one value per line; the first line carries the name. */
static void
add_field_lines(TfstctlTable *table, const char *name, GPtrArray *lines)
{
  if (lines->len == 0) {
    tfstctl_table_add_printf(table, "%s:", name);
    tfstctl_table_add(table, _("none"));
    return;
  }
  for (guint i = 0; i < lines->len; i++) {
    if (i == 0)
      tfstctl_table_add_printf(table, "%s:", name);
    else
      tfstctl_table_add(table, "");
    tfstctl_table_add(table, g_ptr_array_index(lines, i));
  }
}

static void
add_field(TfstctlTable *table, const char *name, const char *value)
{
  tfstctl_table_add_printf(table, "%s:", name);
  tfstctl_table_add(table, value);
}

static GPtrArray *
listener_lines(GVariant *value)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  GVariantIter iter;
  const char *address;
  guint16 port;

  if (value == NULL || !g_variant_is_of_type(value, G_VARIANT_TYPE("a(sq)")))
    return lines;
  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "(&sq)", &address, &port))
    g_ptr_array_add(lines, tfstctl_format_endpoint(address, port));
  return lines;
}

static GPtrArray *
hop_lines(GVariant *value)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  gsize n = n_rows(value, "a" HOP_ROW);

  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) hop = g_variant_get_child_value(value, i);
    g_ptr_array_add(lines, hop_text(hop));
  }
  return lines;
}

/* "Parent: x509 gw1, CN=gw1 (issuer CN=CA), expires 2027-01-01 ..." */
static GPtrArray *
tls_certificate_lines(GVariant *value)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  const char *section, *mode, *labels, *subject, *issuer;
  GVariantIter iter;
  gint64 expires;

  if (value == NULL || !g_variant_is_of_type(value, G_VARIANT_TYPE("a(sssssx)")))
    return lines;
  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "(&s&s&s&s&sx)", &section, &mode, &labels, &subject, &issuer,
                             &expires)) {
    g_autofree char *when = tfstctl_format_time((guint64)MAX(expires, 0) * G_USEC_PER_SEC);

    if (g_str_equal(mode, "psk"))
      /* TRANSLATORS: TLS of a hop section; %s: [Parent] or [Children], then a label. */
      g_ptr_array_add(lines,
                      g_strdup_printf(_("[%s] pre-shared key, identity %s"), section, labels));
    else
      /* TRANSLATORS: TLS of a hop section: the section, the labels the
       * certificate names, its subject, its issuer and when it expires. */
      g_ptr_array_add(lines, g_strdup_printf(_("[%s] certificate for %s: %s, issued by %s, "
                                               "expires %s"),
                                             section, labels, subject, issuer, when));
  }
  return lines;
}

/* "child gw1 (127.0.0.1:4711) (TLS1.3-X.509)-...; CN=gw1, expires ...; kernel TLS" */
static GPtrArray *
tls_hop_lines(GVariant *value)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  const char *side, *label, *peer, *cipher, *subject, *issuer;
  GVariantIter iter;
  gint64 expires;
  gboolean ktls;

  if (value == NULL || !g_variant_is_of_type(value, G_VARIANT_TYPE("a(ssssssxb)")))
    return lines;
  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "(&s&s&s&s&s&sxb)", &side, &label, &peer, &cipher, &subject,
                             &issuer, &expires, &ktls)) {
    g_autofree char *when = tfstctl_format_time((guint64)MAX(expires, 0) * G_USEC_PER_SEC);
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "%s %s (%s) %s",
                           g_str_equal(side, "parent") ? _("parent") : _("child"),
                           *label != '\0' ? label : _("no label yet"), peer, cipher);
    if (*subject != '\0')
      /* TRANSLATORS: the peer's certificate: subject, issuer, expiry. */
      g_string_append_printf(s, _("; peer certificate %s, issued by %s, expires %s"), subject,
                             issuer, when);
    g_string_append(s, "; ");
    g_string_append(s, ktls ? _("kernel TLS") : _("TLS in the process (no kernel TLS)"));
    g_ptr_array_add(lines, g_string_free(s, FALSE));
  }
  return lines;
}

static void
print_status_text(TfstDbusTfst1Instance *proxy, const char *instance)
{
  g_autoptr(GVariant) chain = chain_sorted(tfst_dbus_tfst1_instance_get_chain(proxy));
  g_autoptr(GPtrArray) listeners = listener_lines(tfst_dbus_tfst1_instance_get_listeners(proxy));
  g_autoptr(GPtrArray) parent_lines = hop_lines(tfst_dbus_tfst1_instance_get_parent(proxy));
  g_autoptr(GPtrArray) children_lines = hop_lines(tfst_dbus_tfst1_instance_get_children(proxy));
  g_autofree char *summary = chain_summary(chain);
  g_autoptr(GPtrArray) tls_certs =
      tls_certificate_lines(tfst_dbus_tfst1_instance_get_tls_certificates(proxy));
  g_autoptr(GPtrArray) tls_hops = tls_hop_lines(tfst_dbus_tfst1_instance_get_tls_hops(proxy));
  const char *headers[] = {"", ""};
  g_autoptr(TfstctlTable) table = tfstctl_table_new(2, headers);

  tfstctl_table_hide_header(table);
  tfstctl_table_align_right(table, 0);
  g_print("%s (%s)\n", instance, g_dbus_proxy_get_name(G_DBUS_PROXY(proxy)));
  add_field(table, _("Role"), str_or_empty(tfst_dbus_tfst1_instance_get_role(proxy)));
  add_field(table, _("Instance"), str_or_empty(tfst_dbus_tfst1_instance_get_instance(proxy)));
  add_field(table, _("Label"), str_or_empty(tfst_dbus_tfst1_instance_get_label(proxy)));
  add_field(table, _("Version"), str_or_empty(tfst_dbus_tfst1_instance_get_version(proxy)));
  add_field(table, _("State"), str_or_empty(tfst_dbus_tfst1_instance_get_state(proxy)));
  tfstctl_table_add_printf(table, "%s:", _("Log level"));
  tfstctl_table_add_printf(table, "%u", tfst_dbus_tfst1_instance_get_log_level(proxy));
  add_field_lines(table, _("Listeners"), listeners);
  add_field_lines(table, _("Parent"), parent_lines);
  add_field_lines(table, _("Children"), children_lines);
  add_field(table, _("Chain"), *summary != '\0' ? summary : _("unknown"));
  tfstctl_table_add_printf(table, "%s:", _("Sessions"));
  tfstctl_table_add_printf(table, "%u", tfst_dbus_tfst1_instance_get_session_count(proxy));
  if (tls_certs->len > 0) {
    add_field_lines(table, _("TLS"), tls_certs);
    add_field_lines(table, _("TLS hops"), tls_hops);
  }
  tfstctl_table_print(table);
}

/* ---- status as JSON */

static void
print_status_json(TfstDbusTfst1Instance *proxy, const char *instance)
{
  g_autoptr(GVariant) chain = chain_sorted(tfst_dbus_tfst1_instance_get_chain(proxy));
  g_autoptr(TfstctlJson) json = tfstctl_json_new();

  tfstctl_json_begin_object(json, NULL);
  tfstctl_json_string(json, "instance", instance);
  tfstctl_json_string(json, "bus_name", g_dbus_proxy_get_name(G_DBUS_PROXY(proxy)));
  tfstctl_json_string(json, "role", tfst_dbus_tfst1_instance_get_role(proxy));
  tfstctl_json_string(json, "instance_name", tfst_dbus_tfst1_instance_get_instance(proxy));
  tfstctl_json_string(json, "label", tfst_dbus_tfst1_instance_get_label(proxy));
  tfstctl_json_string(json, "version", tfst_dbus_tfst1_instance_get_version(proxy));
  tfstctl_json_string(json, "state", tfst_dbus_tfst1_instance_get_state(proxy));
  tfstctl_json_uint(json, "log_level", tfst_dbus_tfst1_instance_get_log_level(proxy));
  tfstctl_fields_json_rows(json, "listeners", &listener_desc,
                           tfst_dbus_tfst1_instance_get_listeners(proxy));
  tfstctl_fields_json_rows(json, "parent", &hop_desc, tfst_dbus_tfst1_instance_get_parent(proxy));
  tfstctl_fields_json_rows(json, "children", &hop_desc,
                           tfst_dbus_tfst1_instance_get_children(proxy));
  tfstctl_fields_json_rows(json, "chain", &link_desc, chain);
  tfstctl_json_uint(json, "session_count", tfst_dbus_tfst1_instance_get_session_count(proxy));
  tfstctl_fields_json_rows(json, "tls_certificates", &tls_certificate_desc,
                           tfst_dbus_tfst1_instance_get_tls_certificates(proxy));
  tfstctl_fields_json_rows(json, "tls_hops", &tls_hop_desc,
                           tfst_dbus_tfst1_instance_get_tls_hops(proxy));
  tfstctl_json_end_object(json);
  tfstctl_json_print(json);
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

  ctx = tfstctl_option_context_new(_("[INSTANCE]"),
                                   _("Show the state of an instance: identity, listeners, the hops "
                                     "to its parent and children, the chain and the sessions."),
                                   NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 1, &error) ||
      !pick_instance(&opts, argc, argv, &error))
    return tfstctl_fail(error);
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  proxy = tfstctl_bus_get_instance(bus, opts.instance, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  instance = tfstctl_instance_name(proxy);
  if (opts.json)
    print_status_json(proxy, instance);
  else
    print_status_text(proxy, instance);
  return TFSTCTL_EXIT_OK;
}

static void
print_chain_text(GVariant *chain)
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

static void
print_chain_json(GVariant *chain, const char *instance)
{
  g_autoptr(TfstctlJson) json = tfstctl_json_new();

  tfstctl_json_begin_object(json, NULL);
  tfstctl_json_string(json, "instance", instance);
  tfstctl_fields_json_rows(json, "chain", &link_desc, chain);
  tfstctl_json_end_object(json);
  tfstctl_json_print(json);
}

int
tfstctl_chain(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(TfstDbusTfst1Instance) proxy = NULL;
  g_autoptr(GVariant) chain = NULL;
  g_autofree char *instance = NULL;

  ctx = tfstctl_option_context_new(NULL,
                                   _("Show the chain as this instance knows it from the "
                                     "handshakes, from the endpoint proxy down to the gateway "
                                     "proxies."),
                                   NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error))
    return tfstctl_fail(error);
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  proxy = tfstctl_bus_get_instance(bus, opts.instance, &error);
  if (proxy == NULL)
    return tfstctl_fail(error);
  instance = tfstctl_instance_name(proxy);
  chain = chain_sorted(tfst_dbus_tfst1_instance_get_chain(proxy));
  if (opts.json)
    print_chain_json(chain, instance);
  else
    print_chain_text(chain);
  return TFSTCTL_EXIT_OK;
}
