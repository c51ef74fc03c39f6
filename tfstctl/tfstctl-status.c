/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl status and tfstctl chain: the properties of one instance. */
#include "tfstctl-bus.h"
#include "tfstctl-format.h"
#include "tfstctl-json.h"
#include "tfstctl-table.h"

#include <glib/gi18n.h>

/* One element of Parent or Children: a(ssqbtuu). */
typedef struct {
  const char *label;
  const char *address;
  guint16 port;
  gboolean up;
  guint64 since;
  guint32 rtt;
  guint32 reconnects;
} Hop;

/* One element of Chain: a(si). */
typedef struct {
  const char *label;
  gint32 depth;
} ChainLink;

/* ---- reading the properties (the strings stay owned by the variants) */

static GArray *
hops_from_variant(GVariant *value)
{
  GArray *hops = g_array_new(FALSE, TRUE, sizeof(Hop));
  GVariantIter iter;
  Hop hop;

  if (value == NULL || !g_variant_is_of_type(value, G_VARIANT_TYPE("a(ssqbtuu)")))
    return hops;
  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "(&s&sqbtuu)", &hop.label, &hop.address, &hop.port, &hop.up,
                             &hop.since, &hop.rtt, &hop.reconnects))
    g_array_append_val(hops, hop);
  return hops;
}

static gint
compare_links(gconstpointer a, gconstpointer b)
{
  const ChainLink *x = a;
  const ChainLink *y = b;

  if (x->depth != y->depth)
    return x->depth < y->depth ? -1 : 1;
  return g_strcmp0(x->label, y->label);
}

/* Sorted from the endpoint proxy (most negative depth) toward the gateway
 * proxies. */
static GArray *
chain_from_variant(GVariant *value)
{
  GArray *chain = g_array_new(FALSE, TRUE, sizeof(ChainLink));
  GVariantIter iter;
  ChainLink link;

  if (value == NULL || !g_variant_is_of_type(value, G_VARIANT_TYPE("a(si)")))
    return chain;
  g_variant_iter_init(&iter, value);
  while (g_variant_iter_next(&iter, "(&si)", &link.label, &link.depth))
    g_array_append_val(chain, link);
  g_array_sort(chain, compare_links);
  return chain;
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
hop_text(const Hop *hop)
{
  g_autofree char *endpoint = tfstctl_format_endpoint(hop->address, hop->port);
  g_autofree char *since = tfstctl_format_time(hop->since);
  g_autofree char *rtt = tfstctl_format_rtt(hop->rtt);
  GString *s = g_string_new(NULL);

  g_string_append_printf(s, "%s (%s) ", *hop->label != '\0' ? hop->label : _("no label yet"),
                         endpoint);
  if (hop->since == 0)
    g_string_append(s, hop->up ? _("up") : _("down"));
  else
    /* TRANSLATORS: the state of a hop; %s is a local time. */
    g_string_append_printf(s, hop->up ? _("up since %s") : _("down since %s"), since);
  g_string_append(s, ", ");
  /* TRANSLATORS: %s is the round trip time, such as "0.4 ms", or "-". */
  g_string_append_printf(s, _("RTT %s"), rtt);
  g_string_append(s, ", ");
  g_string_append_printf(
      s, g_dngettext(GETTEXT_PACKAGE, "%u reconnect", "%u reconnects", hop->reconnects),
      hop->reconnects);
  return g_string_free(s, FALSE);
}

/* "ep → relay (this instance) → gw1, gw2": one group per depth. */
static char *
chain_summary(const GArray *chain)
{
  GString *s = g_string_new(NULL);

  for (guint i = 0; i < chain->len; i++) {
    const ChainLink *link = &g_array_index(chain, ChainLink, i);
    g_autofree char *text = NULL;

    if (i > 0) {
      gboolean same_depth = g_array_index(chain, ChainLink, i - 1).depth == link->depth;
      g_string_append(s, same_depth ? ", " : " → ");
    }
    text = link->depth == 0 ? self_label(link->label) : g_strdup(link->label);
    g_string_append(s, text);
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
hop_lines(const GArray *hops)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);

  for (guint i = 0; i < hops->len; i++)
    g_ptr_array_add(lines, hop_text(&g_array_index(hops, Hop, i)));
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
  g_autoptr(GArray) parent = hops_from_variant(tfst_dbus_tfst1_instance_get_parent(proxy));
  g_autoptr(GArray) children = hops_from_variant(tfst_dbus_tfst1_instance_get_children(proxy));
  g_autoptr(GArray) chain = chain_from_variant(tfst_dbus_tfst1_instance_get_chain(proxy));
  g_autoptr(GPtrArray) listeners = listener_lines(tfst_dbus_tfst1_instance_get_listeners(proxy));
  g_autoptr(GPtrArray) parent_lines = hop_lines(parent);
  g_autoptr(GPtrArray) children_lines = hop_lines(children);
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
json_hops(TfstctlJson *json, const char *key, const GArray *hops)
{
  tfstctl_json_begin_array(json, key);
  for (guint i = 0; i < hops->len; i++) {
    const Hop *hop = &g_array_index(hops, Hop, i);
    tfstctl_json_begin_object(json, NULL);
    tfstctl_json_string(json, "label", hop->label);
    tfstctl_json_string(json, "address", hop->address);
    tfstctl_json_uint(json, "port", hop->port);
    tfstctl_json_bool(json, "up", hop->up);
    tfstctl_json_uint(json, "since", hop->since);
    tfstctl_json_uint(json, "rtt", hop->rtt);
    tfstctl_json_uint(json, "reconnects", hop->reconnects);
    tfstctl_json_end_object(json);
  }
  tfstctl_json_end_array(json);
}

static void
json_chain(TfstctlJson *json, const GArray *chain)
{
  tfstctl_json_begin_array(json, "chain");
  for (guint i = 0; i < chain->len; i++) {
    const ChainLink *link = &g_array_index(chain, ChainLink, i);
    tfstctl_json_begin_object(json, NULL);
    tfstctl_json_string(json, "label", link->label);
    tfstctl_json_int(json, "depth", link->depth);
    tfstctl_json_end_object(json);
  }
  tfstctl_json_end_array(json);
}

static void
json_listeners(TfstctlJson *json, GVariant *value)
{
  GVariantIter iter;
  const char *address;
  guint16 port;

  tfstctl_json_begin_array(json, "listeners");
  if (value != NULL && g_variant_is_of_type(value, G_VARIANT_TYPE("a(sq)"))) {
    g_variant_iter_init(&iter, value);
    while (g_variant_iter_next(&iter, "(&sq)", &address, &port)) {
      tfstctl_json_begin_object(json, NULL);
      tfstctl_json_string(json, "address", address);
      tfstctl_json_uint(json, "port", port);
      tfstctl_json_end_object(json);
    }
  }
  tfstctl_json_end_array(json);
}

static void
json_tls(TfstctlJson *json, GVariant *certs, GVariant *hops)
{
  const char *section, *mode, *labels, *subject, *issuer, *side, *label, *peer, *cipher;
  GVariantIter iter;
  gint64 expires;
  gboolean ktls;

  tfstctl_json_begin_array(json, "tls_certificates");
  if (certs != NULL && g_variant_is_of_type(certs, G_VARIANT_TYPE("a(sssssx)"))) {
    g_variant_iter_init(&iter, certs);
    while (g_variant_iter_next(&iter, "(&s&s&s&s&sx)", &section, &mode, &labels, &subject, &issuer,
                               &expires)) {
      tfstctl_json_begin_object(json, NULL);
      tfstctl_json_string(json, "section", section);
      tfstctl_json_string(json, "mode", mode);
      tfstctl_json_string(json, "labels", labels);
      tfstctl_json_string(json, "subject", subject);
      tfstctl_json_string(json, "issuer", issuer);
      tfstctl_json_int(json, "expires", expires);
      tfstctl_json_end_object(json);
    }
  }
  tfstctl_json_end_array(json);
  tfstctl_json_begin_array(json, "tls_hops");
  if (hops != NULL && g_variant_is_of_type(hops, G_VARIANT_TYPE("a(ssssssxb)"))) {
    g_variant_iter_init(&iter, hops);
    while (g_variant_iter_next(&iter, "(&s&s&s&s&s&sxb)", &side, &label, &peer, &cipher, &subject,
                               &issuer, &expires, &ktls)) {
      tfstctl_json_begin_object(json, NULL);
      tfstctl_json_string(json, "side", side);
      tfstctl_json_string(json, "label", label);
      tfstctl_json_string(json, "peer", peer);
      tfstctl_json_string(json, "cipher", cipher);
      tfstctl_json_string(json, "subject", subject);
      tfstctl_json_string(json, "issuer", issuer);
      tfstctl_json_int(json, "expires", expires);
      tfstctl_json_bool(json, "ktls", ktls);
      tfstctl_json_end_object(json);
    }
  }
  tfstctl_json_end_array(json);
}

static void
print_status_json(TfstDbusTfst1Instance *proxy, const char *instance)
{
  g_autoptr(GArray) parent = hops_from_variant(tfst_dbus_tfst1_instance_get_parent(proxy));
  g_autoptr(GArray) children = hops_from_variant(tfst_dbus_tfst1_instance_get_children(proxy));
  g_autoptr(GArray) chain = chain_from_variant(tfst_dbus_tfst1_instance_get_chain(proxy));
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
  json_listeners(json, tfst_dbus_tfst1_instance_get_listeners(proxy));
  json_hops(json, "parent", parent);
  json_hops(json, "children", children);
  json_chain(json, chain);
  tfstctl_json_uint(json, "session_count", tfst_dbus_tfst1_instance_get_session_count(proxy));
  json_tls(json, tfst_dbus_tfst1_instance_get_tls_certificates(proxy),
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
print_chain_text(const GArray *chain)
{
  gint32 top;

  if (chain->len == 0) {
    g_print(_("The chain is not known yet.\n"));
    return;
  }
  top = g_array_index(chain, ChainLink, 0).depth;
  for (guint i = 0; i < chain->len; i++) {
    const ChainLink *link = &g_array_index(chain, ChainLink, i);
    g_autofree char *text = link->depth == 0 ? self_label(link->label) : g_strdup(link->label);
    g_autofree char *indent = g_strnfill((gsize)(link->depth - top) * 2, ' ');

    g_print("%s%s\n", indent, text);
  }
}

static void
print_chain_json(const GArray *chain, const char *instance)
{
  g_autoptr(TfstctlJson) json = tfstctl_json_new();

  tfstctl_json_begin_object(json, NULL);
  tfstctl_json_string(json, "instance", instance);
  json_chain(json, chain);
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
  g_autoptr(GArray) chain = NULL;
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
  chain = chain_from_variant(tfst_dbus_tfst1_instance_get_chain(proxy));
  if (opts.json)
    print_chain_json(chain, instance);
  else
    print_chain_text(chain);
  return TFSTCTL_EXIT_OK;
}
