/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event sinks of an instance as rows, records and JSON (see
 * tfstctl-sinks.h). */
#include "tfstctl-sinks.h"

#include "tfstctl-format.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>
#include <string.h>

/* Members of TFSTCTL_SINKS_ROW. */
enum {
  SINK_NAME,
  SINK_ROLE,
  SINK_ORIGIN,
  SINK_PATH,
  SINK_LISTEN,
  SINK_TARGET,
  SINK_TARGET_STATE,
  SINK_TARGET_ERROR,
  SINK_RECEIVED,
  SINK_SPOOLED,
  SINK_FORWARDED,
  SINK_RESENT,
  SINK_ACKNOWLEDGED,
  SINK_DELIVERED,
  SINK_DUPLICATES,
  SINK_DROPPED,
  SINK_MALFORMED,
  SINK_SPOOL_BYTES,
  SINK_SPOOL_EVENTS,
  SINK_SPOOL_CAPACITY,
  SINK_OLDEST,
  SINK_FAR_END,
  SINK_CONNECTIONS,
  SINK_PRESENT,
};

/* The dictionary key and type of each member before SINK_PRESENT, in
 * member order (org.tfst.Tfst1.Events.xml). */
static const struct {
  const char *key;
  const char *type;
} sink_keys[] = {
    {"Name", "s"},         {"Role", "s"},          {"Origin", "s"},
    {"Path", "s"},         {"Listen", "as"},       {"Target", "s"},
    {"TargetState", "s"},  {"TargetError", "s"},   {"Received", "t"},
    {"Spooled", "t"},      {"Forwarded", "t"},     {"Resent", "t"},
    {"Acknowledged", "t"}, {"Delivered", "t"},     {"Duplicates", "t"},
    {"Dropped", "a{st}"},  {"Malformed", "a{st}"}, {"SpoolBytes", "t"},
    {"SpoolEvents", "t"},  {"SpoolCapacity", "t"}, {"OldestUnackedAge", "t"},
    {"FarEndStatus", "s"}, {"Connections", "u"},
};
G_STATIC_ASSERT(G_N_ELEMENTS(sink_keys) == SINK_PRESENT);

/* ---- rows from the dictionaries */

/* "", 0 or an empty array of `type`. */
static GVariant *
empty_value(const GVariantType *type)
{
  if (g_variant_type_is_array(type))
    return g_variant_new_array(g_variant_type_element(type), NULL, 0);
  if (g_variant_type_equal(type, G_VARIANT_TYPE_STRING))
    return g_variant_new_string("");
  if (g_variant_type_equal(type, G_VARIANT_TYPE_UINT32))
    return g_variant_new_uint32(0);
  return g_variant_new_uint64(0);
}

static GVariant *
row_from_dict(GVariant *dict)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(dict);
  GVariantBuilder b;
  guint64 present = 0;

  g_variant_builder_init(&b, G_VARIANT_TYPE(TFSTCTL_SINKS_ROW));
  for (guint i = 0; i < G_N_ELEMENTS(sink_keys); i++) {
    const GVariantType *type = G_VARIANT_TYPE(sink_keys[i].type);
    g_autoptr(GVariant) v = g_variant_dict_lookup_value(&d, sink_keys[i].key, type);

    if (v != NULL)
      present |= G_GUINT64_CONSTANT(1) << i;
    g_variant_builder_add_value(&b, v != NULL ? v : empty_value(type));
  }
  g_variant_builder_add(&b, "t", present);
  return g_variant_builder_end(&b);
}

GVariant *
tfstctl_sinks_rows(GVariant *sinks)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a" TFSTCTL_SINKS_ROW));
  if (sinks != NULL && g_variant_is_of_type(sinks, G_VARIANT_TYPE("aa{sv}"))) {
    for (gsize i = 0; i < g_variant_n_children(sinks); i++) {
      g_autoptr(GVariant) dict = g_variant_get_child_value(sinks, i);
      g_variant_builder_add_value(&b, row_from_dict(dict));
    }
  }
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

static char *
row_string(GVariant *row, guint member)
{
  g_autoptr(GVariant) v = g_variant_get_child_value(row, member);

  return g_variant_dup_string(v, NULL);
}

static guint64
row_uint64(GVariant *row, guint member)
{
  g_autoptr(GVariant) v = g_variant_get_child_value(row, member);

  return g_variant_get_uint64(v);
}

static gboolean
row_has(GVariant *row, guint member)
{
  return (row_uint64(row, SINK_PRESENT) & (G_GUINT64_CONSTANT(1) << member)) != 0;
}

GVariant *
tfstctl_sinks_select(GVariant *rows, const char *name)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a" TFSTCTL_SINKS_ROW));
  for (gsize i = 0; i < g_variant_n_children(rows); i++) {
    g_autoptr(GVariant) row = g_variant_get_child_value(rows, i);
    g_autofree char *row_name = row_string(row, SINK_NAME);

    if (name == NULL || g_str_equal(row_name, name))
      g_variant_builder_add_value(&b, row);
  }
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* ---- JSON */

/* The members of one type each; listen, dropped and malformed are added
 * as an array and objects. */
static const TfstctlField json_fields[] = {
    {NULL, "name", SINK_NAME},
    {NULL, "role", SINK_ROLE},
    {NULL, "origin", SINK_ORIGIN},
    {NULL, "path", SINK_PATH},
    {NULL, "target", SINK_TARGET},
    {NULL, "target_state", SINK_TARGET_STATE},
    {NULL, "target_error", SINK_TARGET_ERROR},
    {NULL, "received", SINK_RECEIVED},
    {NULL, "spooled", SINK_SPOOLED},
    {NULL, "forwarded", SINK_FORWARDED},
    {NULL, "resent", SINK_RESENT},
    {NULL, "acknowledged", SINK_ACKNOWLEDGED},
    {NULL, "delivered", SINK_DELIVERED},
    {NULL, "duplicates", SINK_DUPLICATES},
    {NULL, "spool_bytes", SINK_SPOOL_BYTES},
    {NULL, "spool_events", SINK_SPOOL_EVENTS},
    {NULL, "spool_capacity_bytes", SINK_SPOOL_CAPACITY},
    {NULL, "oldest_unacked_age_us", SINK_OLDEST},
    {NULL, "far_end_status", SINK_FAR_END},
    {NULL, "connections", SINK_CONNECTIONS},
};
static const TfstctlFields json_desc = TFSTCTL_FIELDS(TFSTCTL_SINKS_ROW, json_fields);

static JsonObject *
json_counts(GVariant *row, guint member)
{
  g_autoptr(GVariant) map = g_variant_get_child_value(row, member);
  JsonObject *object = json_object_new();
  GVariantIter iter;
  const char *reason;
  guint64 n;

  g_variant_iter_init(&iter, map);
  while (g_variant_iter_next(&iter, "{&st}", &reason, &n))
    json_object_set_int_member(object, reason, (gint64)n);
  return object;
}

static JsonArray *
json_strings(GVariant *row, guint member)
{
  g_autoptr(GVariant) strv = g_variant_get_child_value(row, member);
  JsonArray *array = json_array_new();
  GVariantIter iter;
  const char *s;

  g_variant_iter_init(&iter, strv);
  while (g_variant_iter_next(&iter, "&s", &s))
    json_array_add_string_element(array, s);
  return array;
}

/* Like the dictionary, the object has only the keys the sink has. */
static JsonObject *
json_sink(GVariant *row)
{
  JsonObject *object = tfstctl_fields_json_row(&json_desc, row);

  for (guint i = 0; i < G_N_ELEMENTS(json_fields); i++)
    if (!row_has(row, json_fields[i].member))
      json_object_remove_member(object, json_fields[i].json);
  if (row_has(row, SINK_LISTEN))
    json_object_set_array_member(object, "listen", json_strings(row, SINK_LISTEN));
  if (row_has(row, SINK_DROPPED))
    json_object_set_object_member(object, "dropped", json_counts(row, SINK_DROPPED));
  if (row_has(row, SINK_MALFORMED))
    json_object_set_object_member(object, "malformed", json_counts(row, SINK_MALFORMED));
  return object;
}

JsonArray *
tfstctl_sinks_json(GVariant *rows)
{
  JsonArray *array = json_array_new();

  for (gsize i = 0; i < g_variant_n_children(rows); i++) {
    g_autoptr(GVariant) row = g_variant_get_child_value(rows, i);
    json_array_add_object_element(array, json_sink(row));
  }
  return array;
}

/* ---- values for people */

/* 268435456 -> "256 MiB": a configured size reads as it was written. */
static char *
size_text(guint64 bytes)
{
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
  char *text, *nbsp;

  for (int i = G_N_ELEMENTS(units) - 1; i >= 0; i--) {
    guint64 unit = G_GUINT64_CONSTANT(1) << (10 * (i + 1));

    if (bytes >= unit && bytes % unit == 0)
      return g_strdup_printf("%" G_GUINT64_FORMAT " %s", bytes / unit, units[i]);
  }
  /* g_format_size() puts a no-break space before the unit, which tables
   * in a locale that is not UTF-8 show as "\xc2\xa0": a plain one. */
  text = tfstctl_format_bytes(bytes);
  nbsp = strstr(text, "\u00a0");
  if (nbsp != NULL) {
    *nbsp = ' ';
    memmove(nbsp + 1, nbsp + 2, strlen(nbsp + 2) + 1);
  }
  return text;
}

char *
tfstctl_sinks_format_spool(guint64 used, guint64 capacity)
{
  g_autofree char *u = size_text(used);
  g_autofree char *c = NULL;

  if (capacity == 0)
    return g_steal_pointer(&u);
  c = size_text(capacity);
  /* TRANSLATORS: the spool's use: "12.3 MiB of 256 MiB (4.8 %)". */
  return g_strdup_printf(_("%s of %s (%.1f %%)"), u, c, 100.0 * (double)used / (double)capacity);
}

char *
tfstctl_sinks_format_age(guint64 usec)
{
  guint64 s = usec / G_USEC_PER_SEC;

  if (usec == 0)
    return g_strdup(_("none"));
  if (s < 10)
    return g_strdup_printf("%.1fs", (double)usec / G_USEC_PER_SEC);
  if (s < 60)
    return g_strdup_printf("%" G_GUINT64_FORMAT "s", s);
  if (s < 3600)
    return g_strdup_printf("%" G_GUINT64_FORMAT "m %02" G_GUINT64_FORMAT "s", s / 60, s % 60);
  return g_strdup_printf("%" G_GUINT64_FORMAT "h %02" G_GUINT64_FORMAT "m", s / 3600, s / 60 % 60);
}

/* The words of the role and state values; a value that is not here (a
 * newer tfstd) is shown as it is. */
static const char *const words[][2] = {
    /* TRANSLATORS: the role of an event sink: it takes events from senders. */
    {"collect", N_("collecting end")},
    /* TRANSLATORS: the role of an event sink: it writes events to the collector. */
    {"deliver", N_("delivering end")},
    /* TRANSLATORS: events of a sink that a relay passes on. */
    {"relay", N_("relayed")},
    {"up", N_("up")},
    {"connecting", N_("connecting")},
    {"down", N_("down")},
};

static char *
word(const char *text)
{
  for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
    if (g_str_equal(text, words[i][0]))
      return g_strdup(_(words[i][1]));
  return g_strdup(*text != '\0' ? text : "-");
}

/* ---- records */

static GPtrArray *
one_line(char *text)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);

  g_ptr_array_add(lines, text);
  return lines;
}

/* Any member the sink has, as one line: the field's cell, or the value
 * ("-" for ""); nothing when the sink has no such key. */
static GPtrArray *
present_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) v = NULL;

  if (!row_has(row, field->member))
    return NULL;
  if (field->cell != NULL)
    return one_line(field->cell(row, field));
  v = g_variant_get_child_value(row, field->member);
  if (g_variant_is_of_type(v, G_VARIANT_TYPE_STRING))
    return one_line(word(g_variant_get_string(v, NULL)));
  if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT32))
    return one_line(g_strdup_printf("%u", g_variant_get_uint32(v)));
  return one_line(g_strdup_printf("%" G_GUINT64_FORMAT, g_variant_get_uint64(v)));
}

/* The Listen= addresses, one a line. */
static GPtrArray *
listen_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) strv = NULL;
  GPtrArray *lines;
  GVariantIter iter;
  const char *address;

  if (!row_has(row, field->member))
    return NULL;
  strv = g_variant_get_child_value(row, field->member);
  lines = g_ptr_array_new_with_free_func(g_free);
  g_variant_iter_init(&iter, strv);
  while (g_variant_iter_next(&iter, "&s", &address))
    g_ptr_array_add(lines, g_strdup(address));
  return lines;
}

/* Counts by reason, "spool-full: 3" a line ("none" for no lines). */
static GPtrArray *
counts_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) map = NULL;
  GPtrArray *lines;
  GVariantIter iter;
  const char *reason;
  guint64 n;

  if (!row_has(row, field->member))
    return NULL;
  map = g_variant_get_child_value(row, field->member);
  lines = g_ptr_array_new_with_free_func(g_free);
  g_variant_iter_init(&iter, map);
  while (g_variant_iter_next(&iter, "{&st}", &reason, &n))
    g_ptr_array_add(lines, g_strdup_printf("%s: %" G_GUINT64_FORMAT, reason, n));
  return lines;
}

static char *
error_cell_cb(GVariant *row, const TfstctlField *field)
{
  g_autofree char *text = row_string(row, field->member);

  return g_strdup(*text != '\0' ? text : _("none"));
}

static char *
far_end_cell_cb(GVariant *row, const TfstctlField *field)
{
  g_autofree char *text = row_string(row, field->member);

  /* TRANSLATORS: the delivering end reports no problem. */
  return g_strdup(*text != '\0' ? text : _("ok"));
}

static char *
age_cell_cb(GVariant *row, const TfstctlField *field)
{
  return tfstctl_sinks_format_age(row_uint64(row, field->member));
}

/* Spool use with the number of events: shown where the sink has a spool. */
static GPtrArray *
spool_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autofree char *use = NULL;
  g_autofree char *count = NULL;
  guint64 events = row_uint64(row, SINK_SPOOL_EVENTS);

  if (!row_has(row, SINK_SPOOL_BYTES) && !row_has(row, SINK_SPOOL_CAPACITY))
    return NULL;
  use = tfstctl_sinks_format_spool(row_uint64(row, SINK_SPOOL_BYTES),
                                   row_uint64(row, SINK_SPOOL_CAPACITY));
  /* The number as text: a G_GUINT64_FORMAT in the message would hide it
   * from xgettext. */
  count = g_strdup_printf("%" G_GUINT64_FORMAT, events);
  /* TRANSLATORS: the spool's use ("12.3 MiB of 256 MiB (4.8 %)") and the
   * number of events it holds. */
  return one_line(g_strdup_printf(
      g_dngettext(GETTEXT_PACKAGE, "%s, %s event", "%s, %s events", (gulong)MIN(events, 1000000)),
      use, count));
}

#define PRESENT(header, member)                                                                    \
  {                                                                                                \
    (header), NULL, (member), .lines = present_lines_cb                                            \
  }
#define PRESENT_CELL(header, member, cell_cb)                                                      \
  {                                                                                                \
    (header), NULL, (member), TFSTCTL_FIELD_CUSTOM, .cell = (cell_cb), .lines = present_lines_cb   \
  }

static const TfstctlField record_fields[] = {
    PRESENT(N_("Origin"), SINK_ORIGIN),
    {N_("Listen"), NULL, SINK_LISTEN, .lines = listen_lines_cb},
    PRESENT(N_("Target"), SINK_TARGET),
    PRESENT(N_("Target state"), SINK_TARGET_STATE),
    PRESENT_CELL(N_("Target error"), SINK_TARGET_ERROR, error_cell_cb),
    PRESENT(N_("Path"), SINK_PATH),
    PRESENT(N_("Connections"), SINK_CONNECTIONS),
    PRESENT(N_("Received"), SINK_RECEIVED),
    PRESENT(N_("Spooled"), SINK_SPOOLED),
    PRESENT(N_("Forwarded"), SINK_FORWARDED),
    PRESENT(N_("Resent"), SINK_RESENT),
    PRESENT(N_("Acknowledged"), SINK_ACKNOWLEDGED),
    PRESENT(N_("Delivered"), SINK_DELIVERED),
    PRESENT(N_("Duplicates"), SINK_DUPLICATES),
    {N_("Dropped"), NULL, SINK_DROPPED, .lines = counts_lines_cb},
    {N_("Malformed"), NULL, SINK_MALFORMED, .lines = counts_lines_cb},
    {N_("Spool"), NULL, SINK_SPOOL_BYTES, .lines = spool_lines_cb},
    PRESENT_CELL(N_("Oldest unacknowledged"), SINK_OLDEST, age_cell_cb),
    PRESENT_CELL(N_("Far end"), SINK_FAR_END, far_end_cell_cb),
};
static const TfstctlFields record_desc = TFSTCTL_FIELDS(TFSTCTL_SINKS_ROW, record_fields);

static void
print_title(GVariant *row)
{
  g_autofree char *name = row_string(row, SINK_NAME);
  g_autofree char *role = row_string(row, SINK_ROLE);
  g_autofree char *role_text = word(role);

  /* TRANSLATORS: the title of a sink's record: its name ([Events NAME])
   * and its role ("collecting end", "delivering end", "relayed"). */
  g_print(_("Sink %s (%s):\n"), name, role_text);
}

void
tfstctl_sinks_print(GVariant *rows)
{
  if (g_variant_n_children(rows) == 0) {
    g_print(_("No event sinks ([Events] sections) on this instance.\n"));
    return;
  }
  for (gsize i = 0; i < g_variant_n_children(rows); i++) {
    g_autoptr(GVariant) row = g_variant_get_child_value(rows, i);

    if (i > 0)
      g_print("\n");
    print_title(row);
    tfstctl_fields_print_record(&record_desc, row);
  }
}
