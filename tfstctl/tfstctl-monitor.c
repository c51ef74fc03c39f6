/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl monitor: a live stream of what the instances say on the bus,
 * one line each with a timestamp (as `networkctl monitor`, `busctl
 * monitor`): their signals, hops going up and down (from the Hops
 * property), State changes, instances appearing and vanishing.  --json
 * prints JSON lines, one object per event. */
#include "tfstctl-bus.h"
#include "tfstctl-format.h"
#include "tfstctl-output.h"
#include "tfstctl-pattern.h"

#include "tfst-bus-name.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <string.h>

#define INSTANCE_INTERFACE   "org.tfst.Tfst1.Instance"
#define PROPERTIES_INTERFACE "org.freedesktop.DBus.Properties"

typedef struct {
  GDBusConnection *connection;
  const char *pattern; /* -i: an instance name or a glob, NULL for all */
  gboolean json;
  GHashTable *owners; /* unique name -> "ROLE@INSTANCE" */
  GHashTable *hops;   /* "ROLE@INSTANCE\nhop key" -> hop_value() */
  GMainLoop *loop;
} Monitor;

/* ---- one event, as a line */

/* "2026-12-03 08:16:20.123" in local time. */
static char *
timestamp_text(gint64 usec)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(usec / G_USEC_PER_SEC);
  g_autofree char *base = g_date_time_format(t, "%Y-%m-%d %H:%M:%S");

  return g_strdup_printf("%s.%03d", base, (int)(usec % G_USEC_PER_SEC / 1000));
}

/* The event: `event` names it for JSON, `text` says it for people, `data`
 * (may be NULL; floating: taken, else borrowed) holds its members. */
static void
emit(Monitor *m, const char *instance, const char *event, const char *text, GVariant *data)
{
  gint64 now = g_get_real_time();

  if (m->json) {
    g_autoptr(JsonObject) o = json_object_new();

    json_object_set_int_member(o, "time_us", now);
    json_object_set_string_member(o, "instance", instance);
    json_object_set_string_member(o, "event", event);
    if (data != NULL)
      json_object_set_member(o, "data", json_gvariant_serialize(data));
    tfstctl_output_json_print_line(o);
  } else {
    g_autofree char *when = timestamp_text(now);

    g_print("%s %s: %s\n", when, instance, text);
    tfstctl_output_flush();
  }
  if (data != NULL)
    g_variant_unref(g_variant_ref_sink(data));
}

/* ---- signals: their arguments by name from the interface description */

static GDBusInterfaceInfo *
interface_info(const char *interface)
{
  if (g_str_equal(interface, INSTANCE_INTERFACE))
    return tfst_dbus_tfst1_instance_interface_info();
  if (g_str_equal(interface, "org.tfst.Tfst1.Ipsec"))
    return tfst_dbus_tfst1_ipsec_interface_info();
  if (g_str_equal(interface, "org.tfst.Tfst1.Events"))
    return tfst_dbus_tfst1_events_interface_info();
  return NULL;
}

/* The parameters as a{sv} named as in the XML ("arg0", ... for a signal
 * tfstctl does not know: a newer tfstd). */
static GVariant *
named_args(const char *interface, const char *signal, GVariant *parameters)
{
  GDBusInterfaceInfo *info = interface_info(interface);
  GDBusSignalInfo *sig = info != NULL ? g_dbus_interface_info_lookup_signal(info, signal) : NULL;
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  for (gsize i = 0; i < g_variant_n_children(parameters); i++) {
    g_autoptr(GVariant) v = g_variant_get_child_value(parameters, i);
    g_autofree char *fallback = g_strdup_printf("arg%" G_GSIZE_FORMAT, i);
    const char *name = fallback;

    if (sig != NULL && sig->args != NULL && i < g_strv_length((char **)sig->args))
      name = sig->args[i]->name;
    g_variant_builder_add(&b, "{sv}", name, v);
  }
  return g_variant_builder_end(&b);
}

/* "failed_over" from "ParentSwitched": JSON names are snake_case. */
static char *
snake_case(const char *camel)
{
  GString *s = g_string_new(NULL);

  for (const char *p = camel; *p != '\0'; p++) {
    if (g_ascii_isupper(*p) && p != camel)
      g_string_append_c(s, '_');
    g_string_append_c(s, g_ascii_tolower(*p));
  }
  return g_string_free(s, FALSE);
}

static char *
signal_text(const char *signal, GVariant *p)
{
  const char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  guint32 x = 0, y = 0, z = 0;

  if (g_str_equal(signal, "HandshakeCompleted") && g_variant_is_of_type(p, G_VARIANT_TYPE("(s)"))) {
    g_variant_get(p, "(&s)", &a);
    return g_strdup_printf(_("handshake with %s completed"), a);
  }
  if (g_str_equal(signal, "HandshakeFailed") && g_variant_is_of_type(p, G_VARIANT_TYPE("(ss)"))) {
    g_variant_get(p, "(&s&s)", &a, &b);
    return g_strdup_printf(_("handshake with %s failed: %s"), a, b);
  }
  if (g_str_equal(signal, "ParentSwitched") && g_variant_is_of_type(p, G_VARIANT_TYPE("(ssss)"))) {
    g_variant_get(p, "(&s&s&s&s)", &a, &b, &c, &d);
    /* TRANSLATORS: "failover" or "failback" (not translated), from a
     * parent to a parent ("-" for none), then why. */
    return g_strdup_printf(_("%s from %s to %s: %s"), a, *b != '\0' ? b : "-", *c != '\0' ? c : "-",
                           d);
  }
  if (g_str_equal(signal, "SessionRefused") && g_variant_is_of_type(p, G_VARIANT_TYPE("(sss)"))) {
    g_variant_get(p, "(&s&s&s)", &a, &b, &c);
    if (*a == '\0')
      return g_strdup_printf(_("session refused: %s"), c);
    return g_strdup_printf(_("session of child %s refused: %s"), a, c);
  }
  if (g_str_equal(signal, "SessionsChanged") && g_variant_is_of_type(p, G_VARIANT_TYPE("(uuu)"))) {
    g_variant_get(p, "(uuu)", &x, &y, &z);
    return g_strdup_printf(_("sessions: %u opened, %u ended, %u now"), x, y, z);
  }
  return NULL;
}

static void
on_tfst_signal(Monitor *m, const char *instance, const char *interface, const char *signal,
               GVariant *parameters)
{
  g_autofree char *event = snake_case(signal);
  g_autofree char *text = signal_text(signal, parameters);

  if (text == NULL) {
    g_autofree char *args = g_variant_print(parameters, FALSE);
    text = g_strdup_printf("%s.%s %s", interface, signal, args);
  }
  emit(m, instance, event, text, named_args(interface, signal, parameters));
}

/* ---- hops: what changed in the Hops property */

static const char *
dict_str(GVariantDict *d, const char *key)
{
  const char *s = NULL;

  return g_variant_dict_lookup(d, key, "&s", &s) ? s : "";
}

/* What identifies a hop across snapshots: a connector by its configured
 * peer, an accepted peer by its label, a refused one by its address. */
static char *
hop_key(const char *instance, GVariantDict *d)
{
  gboolean connect = FALSE;
  const char *state = dict_str(d, "state");
  guint16 port = 0;

  (void)g_variant_dict_lookup(d, "connect", "b", &connect);
  (void)g_variant_dict_lookup(d, "port", "q", &port);
  if (connect)
    return g_strdup_printf("%s\n%s connect %s %u", instance, dict_str(d, "direction"),
                           dict_str(d, "address"), port);
  if (g_str_equal(state, "refused"))
    return g_strdup_printf("%s\n%s refused %s", instance, dict_str(d, "direction"),
                           dict_str(d, "address"));
  return g_strdup_printf("%s\n%s label %s", instance, dict_str(d, "direction"),
                         dict_str(d, "label"));
}

static char *
hop_text(GVariantDict *d, const char *state)
{
  const char *label = dict_str(d, "label");
  const char *error = dict_str(d, "last-error");
  guint16 port = 0;
  g_autofree char *endpoint = NULL;
  gboolean parent = g_str_equal(dict_str(d, "direction"), "parent");
  GString *s = g_string_new(NULL);

  (void)g_variant_dict_lookup(d, "port", "q", &port);
  endpoint = tfstctl_format_endpoint(dict_str(d, "address"), port);
  /* TRANSLATORS: "hop to parent LABEL (ADDRESS:PORT) STATE", the state
   * as in the Hops property (up, down, waiting, refused...). */
  g_string_append_printf(s, parent ? _("hop to parent %s (%s) %s") : _("hop to child %s (%s) %s"),
                         *label != '\0' ? label : "-", endpoint, state);
  if (!g_str_equal(state, "up") && *error != '\0')
    g_string_append_printf(s, ": %s", error);
  return g_string_free(s, FALSE);
}

/* The hop's dictionary with JSON's key style ("last_error"). */
static GVariant *
snake_keys(GVariant *dict)
{
  GVariantBuilder b;
  GVariantIter it;
  const char *key;
  GVariant *value;

  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init(&it, dict);
  while (g_variant_iter_loop(&it, "{&sv}", &key, &value)) {
    g_autofree char *name = g_strdelimit(g_strdup(key), "-", '_');
    g_variant_builder_add(&b, "{sv}", name, value);
  }
  return g_variant_builder_end(&b);
}

/* What makes a line: the state, and when it was entered (the property
 * trails the engine by up to a quarter of a second, so a hop can go
 * down and up again between two values: its `since` tells); for a
 * refused peer, each new attempt. */
static char *
hop_value(GVariantDict *d)
{
  const char *state = dict_str(d, "state");
  guint64 since = 0;
  guint32 attempts = 0;

  (void)g_variant_dict_lookup(d, "since", "t", &since);
  if (g_str_equal(state, "refused"))
    (void)g_variant_dict_lookup(d, "attempts", "u", &attempts);
  return g_strdup_printf("%s\n%" G_GUINT64_FORMAT "\n%u", state, since, attempts);
}

/* One hop of a new Hops value, into `fresh`: a line when it changed;
 * silent when seeding. */
static void
hop_seen(Monitor *m, const char *instance, GVariant *hop, gboolean seed, GHashTable *fresh)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(hop);
  char *key = hop_key(instance, &d);
  g_autofree char *value = hop_value(&d);

  if (!seed && g_strcmp0(g_hash_table_lookup(m->hops, key), value) != 0) {
    g_autofree char *text = hop_text(&d, dict_str(&d, "state"));
    emit(m, instance, "hop_changed", text, snake_keys(hop));
  }
  g_hash_table_replace(fresh, key, g_steal_pointer(&value));
}

static void
forget_hops(Monitor *m, const char *instance)
{
  g_autofree char *prefix = g_strconcat(instance, "\n", NULL);
  GHashTableIter it;
  gpointer key;

  g_hash_table_iter_init(&it, m->hops);
  while (g_hash_table_iter_next(&it, &key, NULL))
    if (g_str_has_prefix(key, prefix))
      g_hash_table_iter_remove(&it);
}

/* The instance's hops are then exactly those of the new value: a peer
 * that dropped out of the list (the refused ones are the last 16
 * addresses) is forgotten, so a long monitor of a scanned host stays
 * small. */
static void
hops_seen(Monitor *m, const char *instance, GVariant *hops, gboolean seed)
{
  g_autoptr(GHashTable) fresh = NULL;
  GHashTableIter it;
  gpointer key, value;

  if (!g_variant_is_of_type(hops, G_VARIANT_TYPE("aa{sv}")))
    return;
  fresh = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  for (gsize i = 0; i < g_variant_n_children(hops); i++) {
    g_autoptr(GVariant) hop = g_variant_get_child_value(hops, i);
    hop_seen(m, instance, hop, seed, fresh);
  }
  forget_hops(m, instance);
  g_hash_table_iter_init(&it, fresh);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    g_hash_table_iter_steal(&it);
    g_hash_table_insert(m->hops, key, value);
  }
}

static void
on_properties_changed(Monitor *m, const char *instance, GVariant *parameters)
{
  const char *interface;
  g_autoptr(GVariant) changed = NULL;
  g_autoptr(GVariant) hops = NULL;
  const char *state = NULL;

  if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sa{sv}as)")))
    return;
  g_variant_get(parameters, "(&s@a{sv}@as)", &interface, &changed, NULL);
  if (!g_str_equal(interface, INSTANCE_INTERFACE))
    return;
  if (g_variant_lookup(changed, "State", "&s", &state)) {
    /* TRANSLATORS: the State property: running, degraded, ... */
    g_autofree char *text = g_strdup_printf(_("state %s"), state);
    emit(m, instance, "state_changed", text, g_variant_new_parsed("{'state': <%s>}", state));
  }
  hops = g_variant_lookup_value(changed, "Hops", G_VARIANT_TYPE("aa{sv}"));
  if (hops != NULL)
    hops_seen(m, instance, hops, FALSE);
}

static void
signal_cb(GDBusConnection *connection, const char *sender, const char *path, const char *interface,
          const char *signal, GVariant *parameters, gpointer data)
{
  Monitor *m = data;
  const char *instance = g_hash_table_lookup(m->owners, sender);

  /* Anyone may send a signal with this path: only the instances count. */
  if (instance == NULL)
    return;
  if (g_str_equal(interface, PROPERTIES_INTERFACE))
    on_properties_changed(m, instance, parameters);
  else
    on_tfst_signal(m, instance, interface, signal, parameters);
}

/* ---- instances coming and going */

static gboolean
wanted(Monitor *m, const char *instance)
{
  return tfstctl_pattern_match(m->pattern, instance);
}

/* The Hops an instance has now, so only changes make lines. */
static void
seed_hops(Monitor *m, const char *owner, const char *instance)
{
  g_autoptr(GVariant) reply =
      g_dbus_connection_call_sync(m->connection, owner, TFST_BUS_OBJECT_PATH, PROPERTIES_INTERFACE,
                                  "Get", g_variant_new("(ss)", INSTANCE_INTERFACE, "Hops"),
                                  G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  g_autoptr(GVariant) hops = NULL;

  if (reply == NULL)
    return;
  g_variant_get(reply, "(v)", &hops);
  hops_seen(m, instance, hops, TRUE);
}

static void
name_owner_changed_cb(GDBusConnection *connection, const char *sender, const char *path,
                      const char *interface, const char *signal, GVariant *parameters,
                      gpointer data)
{
  Monitor *m = data;
  const char *name, *old_owner, *new_owner;
  g_autofree char *instance = NULL;

  g_variant_get(parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
  instance = tfstctl_bus_instance_from_name(name);
  if (instance == NULL || !wanted(m, instance))
    return;
  if (*old_owner != '\0') {
    g_hash_table_remove(m->owners, old_owner);
    forget_hops(m, instance);
    emit(m, instance, "instance_vanished", _("left the bus"), NULL);
  }
  if (*new_owner != '\0') {
    g_hash_table_insert(m->owners, g_strdup(new_owner), g_strdup(instance));
    emit(m, instance, "instance_appeared", _("appeared on the bus"), NULL);
    seed_hops(m, new_owner, instance);
  }
}

/* The instances on the bus now, with their unique names. */
static void
add_present(Monitor *m, TfstctlBus *bus)
{
  g_autoptr(GPtrArray) instances = tfstctl_bus_list_instances(bus, NULL);

  for (guint i = 0; instances != NULL && i < instances->len; i++) {
    const char *instance = g_ptr_array_index(instances, i);
    g_auto(GStrv) parts = g_strsplit(instance, "@", 2);
    g_autofree char *name = tfst_bus_name_for(parts[0], parts[1]);
    g_autoptr(GVariant) reply = NULL;
    const char *owner;

    if (!wanted(m, instance))
      continue;
    reply = g_dbus_connection_call_sync(
        m->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
        "GetNameOwner", g_variant_new("(s)", name), G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE,
        -1, NULL, NULL);
    if (reply == NULL)
      continue;
    g_variant_get(reply, "(&s)", &owner);
    g_hash_table_insert(m->owners, g_strdup(owner), g_strdup(instance));
    seed_hops(m, owner, instance);
  }
}

static gboolean
quit_cb(gpointer data)
{
  g_main_loop_quit(data);
  return G_SOURCE_CONTINUE;
}

/* Subscribed before the instances are listed, so nothing that happens in
 * between is missed. */
static void
subscribe(Monitor *m)
{
  (void)g_dbus_connection_signal_subscribe(
      m->connection, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
      "/org/freedesktop/DBus", "org.tfst.Tfst1", G_DBUS_SIGNAL_FLAGS_MATCH_ARG0_NAMESPACE,
      name_owner_changed_cb, m, NULL);
  (void)g_dbus_connection_signal_subscribe(m->connection, NULL, NULL, NULL, TFST_BUS_OBJECT_PATH,
                                           NULL, G_DBUS_SIGNAL_FLAGS_NONE, signal_cb, m, NULL);
}

static gboolean
check_pattern(const char *pattern, GError **error)
{
  if (pattern == NULL || tfstctl_pattern_is(pattern) || strchr(pattern, '@') != NULL)
    return TRUE;
  g_set_error(error, TFSTCTL_ERROR, TFSTCTL_ERROR_USAGE,
              _("invalid instance “%s”: write ROLE@INSTANCE, for example relay@2, or a glob "
                "such as relay@*"),
              pattern);
  return FALSE;
}

int
tfstctl_monitor(int argc, char **argv)
{
  g_auto(TfstctlOptions) opts = {0};
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstctlBus) bus = NULL;
  g_autoptr(GHashTable) owners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) hops = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  Monitor m = {.owners = owners, .hops = hops, .loop = loop};

  ctx = tfstctl_option_context_new(
      NULL,
      _("Print what the instances report as it happens, one line each with the time: hops "
        "coming up and going down with the reason, handshakes, failovers, refused sessions, "
        "state changes, instances starting and stopping.  All instances unless -i names one "
        "(a glob such as relay@* names several).  Runs until interrupted."),
      NULL, &opts, TRUE);
  if (!tfstctl_parse_options(ctx, &argc, &argv, 0, &error) || !check_pattern(opts.instance, &error))
    return tfstctl_fail(error);
  bus = tfstctl_bus_new(&opts, &error);
  if (bus == NULL)
    return tfstctl_fail(error);
  m.connection = tfstctl_bus_connection(bus);
  m.pattern = opts.instance;
  m.json = opts.json;
  subscribe(&m);
  add_present(&m, bus);
  /* On stderr, as busctl monitor does: the stream on stdout stays events
   * only, and a script knows the subscription is in place. */
  g_printerr(_("Monitoring; press Ctrl+C to stop.\n"));
  g_unix_signal_add(SIGINT, quit_cb, loop);
  g_unix_signal_add(SIGTERM, quit_cb, loop);
  g_main_loop_run(loop);
  return TFSTCTL_EXIT_OK;
}
