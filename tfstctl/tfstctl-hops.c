/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hops of an instance as rows and tables (see tfstctl-hops.h). */
#include "tfstctl-hops.h"

#include "tfstctl-format.h"

#include <glib/gi18n.h>

/* Members of TFSTCTL_HOPS_ROW. */
enum {
  HOP_DIRECTION,
  HOP_LABEL,
  HOP_ADDRESS,
  HOP_PORT,
  HOP_ROLE,
  HOP_STATE,
  HOP_SINCE,
  HOP_RTT,
  HOP_RECONNECTS,
  HOP_ATTEMPTS,
  HOP_LAST_ERROR,
  HOP_NEXT_ATTEMPT,
  HOP_PREFERENCE,
  HOP_CONNECT,
};

static const TfstctlField json_fields[] = {
    {NULL, "direction", HOP_DIRECTION},
    {NULL, "label", HOP_LABEL},
    {NULL, "address", HOP_ADDRESS},
    {NULL, "port", HOP_PORT},
    {NULL, "role", HOP_ROLE},
    {NULL, "state", HOP_STATE},
    {NULL, "since_us", HOP_SINCE},
    {NULL, "rtt_us", HOP_RTT},
    {NULL, "reconnects", HOP_RECONNECTS},
    {NULL, "attempts", HOP_ATTEMPTS},
    {NULL, "last_error", HOP_LAST_ERROR},
    {NULL, "next_attempt_us", HOP_NEXT_ATTEMPT},
    {NULL, "preference", HOP_PREFERENCE},
    {NULL, "connect", HOP_CONNECT},
};
const TfstctlFields tfstctl_hops_desc = TFSTCTL_FIELDS(TFSTCTL_HOPS_ROW, json_fields);

/* ---- rows from the dictionaries */

static const char *
dict_string(GVariantDict *d, const char *key)
{
  const char *s = NULL;

  return g_variant_dict_lookup(d, key, "&s", &s) ? s : "";
}

/* A number of any unsigned width under key, or 0. */
static guint64
dict_number(GVariantDict *d, const char *key)
{
  g_autoptr(GVariant) v = g_variant_dict_lookup_value(d, key, NULL);

  if (v == NULL)
    return 0;
  if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT16))
    return g_variant_get_uint16(v);
  if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT32))
    return g_variant_get_uint32(v);
  if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT64))
    return g_variant_get_uint64(v);
  return 0;
}

static GVariant *
row_from_dict(GVariant *dict)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(dict);
  gboolean connect = FALSE;

  (void)g_variant_dict_lookup(&d, "connect", "b", &connect);
  /* Narrowed to the row's widths: a value that does not fit is not one
   * tfstd sends. */
  return g_variant_new(TFSTCTL_HOPS_ROW, dict_string(&d, "direction"), dict_string(&d, "label"),
                       dict_string(&d, "address"), (guint16)dict_number(&d, "port"),
                       dict_string(&d, "role"), dict_string(&d, "state"), dict_number(&d, "since"),
                       dict_number(&d, "rtt"), (guint32)dict_number(&d, "reconnects"),
                       (guint32)dict_number(&d, "attempts"), dict_string(&d, "last-error"),
                       dict_number(&d, "next-attempt"), (guint32)dict_number(&d, "preference"),
                       connect);
}

GVariant *
tfstctl_hops_rows(GVariant *hops)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a" TFSTCTL_HOPS_ROW));
  if (hops != NULL && g_variant_is_of_type(hops, G_VARIANT_TYPE("aa{sv}"))) {
    for (gsize i = 0; i < g_variant_n_children(hops); i++) {
      g_autoptr(GVariant) dict = g_variant_get_child_value(hops, i);
      g_variant_builder_add_value(&b, row_from_dict(dict));
    }
  }
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

const char *
tfstctl_hops_parent_role(GVariant *rows, const char *label)
{
  for (gsize i = 0; i < g_variant_n_children(rows); i++) {
    const char *direction, *hop_label, *role;

    g_variant_get_child(rows, i, "(&s&s&sq&s&sttuu&stub)", &direction, &hop_label, NULL, NULL,
                        &role, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (g_str_equal(direction, "parent") && g_str_equal(hop_label, label))
      return role;
  }
  return NULL;
}

/* ---- tables */

/* The words of the role and state values, for people; a value that is
 * not here (a newer tfstd) is shown as it is. */
static const char *const words[][2] = {
    {"active", N_("active")},
    {"standby", N_("standby")},
    {"down", N_("down")},
    {"up", N_("up")},
    {"connecting", N_("connecting")},
    {"handshake", N_("handshake")},
    {"waiting", N_("waiting")},
    /* TRANSLATORS: a peer that connected but whose handshake failed. */
    {"refused", N_("refused")},
};

static char *
word_cell_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) value = g_variant_get_child_value(row, field->member);
  const char *text = g_variant_get_string(value, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
    if (g_str_equal(text, words[i][0]))
      return g_strdup(_(words[i][1]));
  return g_strdup(*text != '\0' ? text : "-");
}

/* A point in time relative to now ("3min 12s ago", "in 5s"), "-" for
 * none: a table cell has no room for the date, and how long ago is what
 * the reader wants to know. */
static char *
time_cell_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) value = g_variant_get_child_value(row, field->member);

  return tfstctl_format_time_relative(g_variant_get_uint64(value));
}

static const TfstctlField parent_fields[] = {
    {N_("LABEL"), NULL, HOP_LABEL, TFSTCTL_FIELD_DASH},
    {N_("ADDRESS"), NULL, HOP_ADDRESS, TFSTCTL_FIELD_ENDPOINT, .port = HOP_PORT},
    {N_("ROLE"), NULL, HOP_ROLE, TFSTCTL_FIELD_CUSTOM, .cell = word_cell_cb},
    {N_("STATE"), NULL, HOP_STATE, TFSTCTL_FIELD_CUSTOM, .cell = word_cell_cb},
    {N_("SINCE"), NULL, HOP_SINCE, TFSTCTL_FIELD_CUSTOM, .cell = time_cell_cb},
    {N_("ATTEMPTS"), NULL, HOP_ATTEMPTS, TFSTCTL_FIELD_PLAIN, TFSTCTL_FIELD_RIGHT},
    {N_("LAST ERROR"), NULL, HOP_LAST_ERROR, TFSTCTL_FIELD_DASH},
    {N_("NEXT ATTEMPT"), NULL, HOP_NEXT_ATTEMPT, TFSTCTL_FIELD_CUSTOM, .cell = time_cell_cb},
};
static const TfstctlFields parent_desc = TFSTCTL_FIELDS(TFSTCTL_HOPS_ROW, parent_fields);

static const TfstctlField child_fields[] = {
    {N_("LABEL"), NULL, HOP_LABEL, TFSTCTL_FIELD_DASH},
    {N_("ADDRESS"), NULL, HOP_ADDRESS, TFSTCTL_FIELD_ENDPOINT, .port = HOP_PORT},
    {N_("STATE"), NULL, HOP_STATE, TFSTCTL_FIELD_CUSTOM, .cell = word_cell_cb},
    {N_("SINCE"), NULL, HOP_SINCE, TFSTCTL_FIELD_CUSTOM, .cell = time_cell_cb},
    {N_("ATTEMPTS"), NULL, HOP_ATTEMPTS, TFSTCTL_FIELD_PLAIN, TFSTCTL_FIELD_RIGHT},
    {N_("LAST ERROR"), NULL, HOP_LAST_ERROR, TFSTCTL_FIELD_DASH},
    {N_("NEXT ATTEMPT"), NULL, HOP_NEXT_ATTEMPT, TFSTCTL_FIELD_CUSTOM, .cell = time_cell_cb},
};
static const TfstctlFields child_desc = TFSTCTL_FIELDS(TFSTCTL_HOPS_ROW, child_fields);

/* Peers that connected and were refused: where from, when, how often and
 * why. */
static const TfstctlField refused_fields[] = {
    {N_("LABEL"), NULL, HOP_LABEL, TFSTCTL_FIELD_DASH},
    {N_("ADDRESS"), NULL, HOP_ADDRESS, TFSTCTL_FIELD_PLAIN},
    {N_("LAST"), NULL, HOP_SINCE, TFSTCTL_FIELD_CUSTOM, .cell = time_cell_cb},
    {N_("ATTEMPTS"), NULL, HOP_ATTEMPTS, TFSTCTL_FIELD_PLAIN, TFSTCTL_FIELD_RIGHT},
    {N_("LAST ERROR"), NULL, HOP_LAST_ERROR, TFSTCTL_FIELD_DASH},
};
static const TfstctlFields refused_desc = TFSTCTL_FIELDS(TFSTCTL_HOPS_ROW, refused_fields);

/* Children that connected to this instance: their state and why their
 * hop last ended. */
static const TfstctlField accepted_fields[] = {
    {N_("LABEL"), NULL, HOP_LABEL, TFSTCTL_FIELD_DASH},
    {N_("ADDRESS"), NULL, HOP_ADDRESS, TFSTCTL_FIELD_ENDPOINT, .port = HOP_PORT},
    {N_("STATE"), NULL, HOP_STATE, TFSTCTL_FIELD_CUSTOM, .cell = word_cell_cb},
    {N_("SINCE"), NULL, HOP_SINCE, TFSTCTL_FIELD_CUSTOM, .cell = time_cell_cb},
    {N_("RECONNECTS"), NULL, HOP_RECONNECTS, TFSTCTL_FIELD_PLAIN, TFSTCTL_FIELD_RIGHT},
    {N_("LAST ERROR"), NULL, HOP_LAST_ERROR, TFSTCTL_FIELD_DASH},
};
static const TfstctlFields accepted_desc = TFSTCTL_FIELDS(TFSTCTL_HOPS_ROW, accepted_fields);

typedef enum {
  SELECT_ALL,
  SELECT_CONNECT,
  SELECT_ACCEPTED,
  SELECT_REFUSED,
} Select;

static gboolean
row_selected(GVariant *row, Select select)
{
  g_autoptr(GVariant) connect = g_variant_get_child_value(row, HOP_CONNECT);
  g_autoptr(GVariant) state = g_variant_get_child_value(row, HOP_STATE);
  gboolean refused = g_str_equal(g_variant_get_string(state, NULL), "refused");

  switch (select) {
    case SELECT_CONNECT:
      return g_variant_get_boolean(connect);
    case SELECT_ACCEPTED:
      return !g_variant_get_boolean(connect) && !refused;
    case SELECT_REFUSED:
      return refused;
    case SELECT_ALL:
    default:
      return TRUE;
  }
}

/* The rows in `direction` that `select` takes. */
static GVariant *
rows_select(GVariant *rows, const char *direction, Select select)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a" TFSTCTL_HOPS_ROW));
  for (gsize i = 0; i < g_variant_n_children(rows); i++) {
    g_autoptr(GVariant) row = g_variant_get_child_value(rows, i);
    g_autoptr(GVariant) dir = g_variant_get_child_value(row, HOP_DIRECTION);

    if (g_str_equal(g_variant_get_string(dir, NULL), direction) && row_selected(row, select))
      g_variant_builder_add_value(&b, row);
  }
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

static void
print_titled(const char *title, const TfstctlFields *desc, GVariant *rows)
{
  if (g_variant_n_children(rows) == 0)
    return;
  g_print("\n%s\n", title);
  tfstctl_fields_print_table(desc, rows);
}

void
tfstctl_hops_print_tables(GVariant *rows)
{
  g_autoptr(GVariant) parents = rows_select(rows, "parent", SELECT_ALL);
  g_autoptr(GVariant) children = rows_select(rows, "child", SELECT_CONNECT);
  g_autoptr(GVariant) accepted = rows_select(rows, "child", SELECT_ACCEPTED);
  g_autoptr(GVariant) refused = rows_select(rows, "child", SELECT_REFUSED);

  /* TRANSLATORS: the title of the table of the hops to the parents. */
  print_titled(_("Parent hops:"), &parent_desc, parents);
  /* TRANSLATORS: the title of the table of the hops to children that
   * this instance opens itself ([Children] Connect=). */
  print_titled(_("Child hops this instance connects to:"), &child_desc, children);
  /* TRANSLATORS: the title of the table of the child hops that the
   * children opened to this instance ([Children] Listen=). */
  print_titled(_("Child hops that connected to this instance:"), &accepted_desc, accepted);
  /* TRANSLATORS: the title of the table of the peers that connected to
   * the children's listener and whose handshake failed. */
  print_titled(_("Children refused during the handshake:"), &refused_desc, refused);
}
