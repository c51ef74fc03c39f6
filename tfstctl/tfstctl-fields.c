/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tables and JSON from one description of the fields (see tfstctl-fields.h). */
#include "tfstctl-fields.h"

#include "tfstctl-format.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>

/* ---- values */

/* An unsigned number of any width; FALSE for other types. */
static gboolean
value_as_uint(GVariant *value, guint64 *ret_value)
{
  switch (g_variant_classify(value)) {
    case G_VARIANT_CLASS_BYTE:
      *ret_value = g_variant_get_byte(value);
      return TRUE;
    case G_VARIANT_CLASS_UINT16:
      *ret_value = g_variant_get_uint16(value);
      return TRUE;
    case G_VARIANT_CLASS_UINT32:
      *ret_value = g_variant_get_uint32(value);
      return TRUE;
    case G_VARIANT_CLASS_UINT64:
      *ret_value = g_variant_get_uint64(value);
      return TRUE;
    default:
      return FALSE;
  }
}

/* A signed number of any width; FALSE for other types. */
static gboolean
value_as_int(GVariant *value, gint64 *ret_value)
{
  switch (g_variant_classify(value)) {
    case G_VARIANT_CLASS_INT16:
      *ret_value = g_variant_get_int16(value);
      return TRUE;
    case G_VARIANT_CLASS_INT32:
      *ret_value = g_variant_get_int32(value);
      return TRUE;
    case G_VARIANT_CLASS_INT64:
      *ret_value = g_variant_get_int64(value);
      return TRUE;
    default:
      return FALSE;
  }
}

/* Unsigned numbers as they are, anything else as 0. */
static guint64
value_uint(GVariant *value)
{
  guint64 n = 0;

  return value_as_uint(value, &n) ? n : 0;
}

static char *
hex_text(GVariant *bytes)
{
  gsize n = 0;
  const guint8 *b = g_variant_get_fixed_array(bytes, &n, 1);
  GString *s = g_string_sized_new(n * 2);

  for (gsize i = 0; i < n; i++)
    g_string_append_printf(s, "%02x", b[i]);
  return g_string_free(s, FALSE);
}

/* ---- JSON */

static JsonNode *
maybe_json(GVariant *maybe)
{
  g_autoptr(GVariant) value = g_variant_get_maybe(maybe);

  return value != NULL ? tfstctl_fields_json_value(value) : json_node_new(JSON_NODE_NULL);
}

static JsonNode *
string_json(const char *text)
{
  return json_node_init_string(json_node_alloc(), text);
}

/* json-glib keeps numbers as gint64: an unsigned one above G_MAXINT64
 * (none that tfstd sends comes near) would wrap. */
JsonNode *
tfstctl_fields_json_value(GVariant *value)
{
  g_autofree char *text = NULL;
  guint64 u = 0;
  gint64 i = 0;

  if (g_variant_is_of_type(value, G_VARIANT_TYPE_MAYBE))
    return maybe_json(value);
  if (value_as_uint(value, &u))
    return json_node_init_int(json_node_alloc(), (gint64)u);
  if (value_as_int(value, &i))
    return json_node_init_int(json_node_alloc(), i);
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
    return json_node_init_boolean(json_node_alloc(), g_variant_get_boolean(value));
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
    return string_json(g_variant_get_string(value, NULL));
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_BYTESTRING))
    return string_json((text = hex_text(value)));
  return string_json((text = g_variant_print(value, TRUE)));
}

JsonObject *
tfstctl_fields_json_row(const TfstctlFields *desc, GVariant *row)
{
  JsonObject *object = json_object_new();

  g_return_val_if_fail(g_variant_is_of_type(row, G_VARIANT_TYPE(desc->row_type)), object);
  for (guint i = 0; i < desc->n_fields; i++) {
    const TfstctlField *f = &desc->fields[i];
    g_autoptr(GVariant) value = NULL;

    if (f->json == NULL)
      continue;
    value = g_variant_get_child_value(row, f->member);
    if (f->rows != NULL)
      json_object_set_array_member(object, f->json, tfstctl_fields_json_rows(f->rows, value));
    else
      json_object_set_member(object, f->json, tfstctl_fields_json_value(value));
  }
  return object;
}

/* rows is an array of desc's rows. */
static gboolean
rows_fit(const TfstctlFields *desc, GVariant *rows)
{
  g_autofree char *type = g_strconcat("a", desc->row_type, NULL);

  g_return_val_if_fail(g_variant_type_string_is_valid(type), FALSE);
  return rows != NULL && g_variant_is_of_type(rows, G_VARIANT_TYPE(type));
}

JsonArray *
tfstctl_fields_json_rows(const TfstctlFields *desc, GVariant *rows)
{
  gsize n = rows_fit(desc, rows) ? g_variant_n_children(rows) : 0;
  JsonArray *array = json_array_sized_new((guint)n);

  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) row = g_variant_get_child_value(rows, i);
    json_array_add_object_element(array, tfstctl_fields_json_row(desc, row));
  }
  return array;
}

/* ---- table */

static char *
plain_text(GVariant *value)
{
  g_autoptr(GVariant) just = NULL;
  guint64 u = 0;
  gint64 i = 0;

  /* A maybe shows its value, or nothing. */
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_MAYBE)) {
    just = g_variant_get_maybe(value);
    return just != NULL ? plain_text(just) : g_strdup("");
  }
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
    return g_variant_dup_string(value, NULL);
  if (value_as_uint(value, &u))
    return g_strdup_printf("%" G_GUINT64_FORMAT, u);
  if (value_as_int(value, &i))
    return g_strdup_printf("%" G_GINT64_FORMAT, i);
  if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup(g_variant_get_boolean(value) ? _("yes") : _("no"));
  return g_variant_print(value, FALSE);
}

/* "" and 0, signed or not. */
static gboolean
is_empty(GVariant *value)
{
  gint64 i = 0;

  if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
    return *g_variant_get_string(value, NULL) == '\0';
  if (value_as_int(value, &i))
    return i == 0;
  return value_uint(value) == 0;
}

static char *
endpoint_text(GVariant *row, GVariant *address, guint port_member)
{
  g_autoptr(GVariant) port = g_variant_get_child_value(row, port_member);

  return tfstctl_format_endpoint(g_variant_get_string(address, NULL), (guint16)value_uint(port));
}

static char *
cell_text(GVariant *row, const TfstctlField *f)
{
  g_autoptr(GVariant) value = g_variant_get_child_value(row, f->member);

  switch (f->format) {
    case TFSTCTL_FIELD_DASH:
      return is_empty(value) ? g_strdup("-") : plain_text(value);
    case TFSTCTL_FIELD_BYTES:
      return tfstctl_format_bytes(value_uint(value));
    case TFSTCTL_FIELD_SECONDS:
      return tfstctl_format_seconds(value_uint(value));
    case TFSTCTL_FIELD_RTT:
      return tfstctl_format_rtt(value_uint(value));
    case TFSTCTL_FIELD_YES_NO:
      return g_strdup(g_variant_get_boolean(value) ? _("yes") : _("no"));
    case TFSTCTL_FIELD_SPI:
      return g_strdup_printf("0x%08x", (guint32)value_uint(value));
    case TFSTCTL_FIELD_ENDPOINT:
      return endpoint_text(row, value, f->port);
    case TFSTCTL_FIELD_CUSTOM:
      return f->cell(row, f);
    case TFSTCTL_FIELD_PLAIN:
    default:
      return plain_text(value);
  }
}

/* desc's columns, nested ones in place: headers and alignment. */
static void
add_columns(struct libscols_table *table, const TfstctlFields *desc)
{
  for (guint i = 0; i < desc->n_fields; i++) {
    const TfstctlField *f = &desc->fields[i];
    int flags = (f->flags & TFSTCTL_FIELD_RIGHT) != 0 ? SCOLS_FL_RIGHT : 0;

    if (f->rows != NULL)
      add_columns(table, f->rows);
    else if (f->header != NULL)
      tfstctl_output_table_new_column(table, f->header, flags);
  }
}

/* The cells of one line from *column on: row's, with those of `nested`
 * (an element of the member a nesting field names) in that field's place. */
static void
add_cells(struct libscols_line *line, guint *column, const TfstctlFields *desc, GVariant *row,
          GVariant *nested)
{
  for (guint i = 0; i < desc->n_fields; i++) {
    const TfstctlField *f = &desc->fields[i];

    if (f->rows != NULL)
      add_cells(line, column, f->rows, nested, NULL);
    else if (f->header != NULL)
      scols_line_refer_data(line, (*column)++, cell_text(row, f));
  }
}

static void
add_line(struct libscols_table *table, const TfstctlFields *desc, GVariant *row, GVariant *nested)
{
  guint column = 0;

  add_cells(scols_table_new_line(table, NULL), &column, desc, row, nested);
}

static const TfstctlField *
nesting_field(const TfstctlFields *desc)
{
  for (guint i = 0; i < desc->n_fields; i++)
    if (desc->fields[i].rows != NULL)
      return &desc->fields[i];
  return NULL;
}

static void
table_add(struct libscols_table *table, const TfstctlFields *desc, GVariant *row)
{
  const TfstctlField *f = nesting_field(desc);
  g_autoptr(GVariant) nested = NULL;
  gsize n;

  if (f == NULL) {
    add_line(table, desc, row, NULL);
    return;
  }
  nested = g_variant_get_child_value(row, f->member);
  n = rows_fit(f->rows, nested) ? g_variant_n_children(nested) : 0;
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) element = g_variant_get_child_value(nested, i);
    add_line(table, desc, row, element);
  }
}

void
tfstctl_fields_print_table(const TfstctlFields *desc, GVariant *rows)
{
  g_autoptr(TfstctlScolsTable) table = tfstctl_output_table_new();
  gsize n = rows_fit(desc, rows) ? g_variant_n_children(rows) : 0;

  add_columns(table, desc);
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GVariant) row = g_variant_get_child_value(rows, i);
    table_add(table, desc, row);
  }
  tfstctl_output_table_print(table);
}

/* ---- record */

/* A line of a record: the name (NULL: none) and the value, taken. */
static void
add_record_line(struct libscols_table *table, const char *name, char *value)
{
  struct libscols_line *line = scols_table_new_line(table, NULL);

  if (name != NULL)
    scols_line_refer_data(line, 0, g_strdup_printf("%s:", name));
  scols_line_refer_data(line, 1, value);
}

static void
add_record_lines(struct libscols_table *table, const char *name, const GPtrArray *lines)
{
  if (lines->len == 0)
    add_record_line(table, name, g_strdup(_("none")));
  for (guint i = 0; i < lines->len; i++)
    add_record_line(table, i == 0 ? name : NULL, g_strdup(g_ptr_array_index(lines, i)));
}

static void
add_record_field(struct libscols_table *table, const TfstctlField *f, GVariant *row)
{
  g_autoptr(GPtrArray) lines = NULL;

  if (f->lines == NULL) {
    add_record_line(table, _(f->header), cell_text(row, f));
    return;
  }
  lines = f->lines(row, f);
  if (lines != NULL)
    add_record_lines(table, _(f->header), lines);
}

void
tfstctl_fields_print_record(const TfstctlFields *desc, GVariant *row)
{
  g_autoptr(TfstctlScolsTable) table = NULL;

  g_return_if_fail(g_variant_is_of_type(row, G_VARIANT_TYPE(desc->row_type)));
  table = tfstctl_output_table_new();
  scols_table_enable_noheadings(table, TRUE);
  scols_table_new_column(table, "", 0, SCOLS_FL_RIGHT);
  scols_table_new_column(table, "", 0, 0);
  for (guint i = 0; i < desc->n_fields; i++)
    if (desc->fields[i].header != NULL)
      add_record_field(table, &desc->fields[i], row);
  tfstctl_output_table_print(table);
}
