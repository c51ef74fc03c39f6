/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tables through libsmartcols, JSON through json-glib (see tfstctl-output.h). */
#include "tfstctl-output.h"

#include "tfstctl.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <stdlib.h>

#define COLUMN_SEPARATOR "  "

/* The argv results of tfstctl_output_configure(), never changed after. */
static TfstctlOutputSettings settings;

void
tfstctl_output_configure(const TfstctlOutputSettings *new_settings)
{
  g_strfreev(settings.columns);
  settings = *new_settings;
  settings.columns = g_strdupv(new_settings->columns);
}

gboolean
tfstctl_output_legend(void)
{
  return !settings.no_legend;
}

struct libscols_table *
tfstctl_output_table_new(void)
{
  struct libscols_table *table = scols_new_table();

  g_assert(table != NULL); /* NULL only without memory, as g_malloc() aborts */
  scols_table_set_column_separator(table, COLUMN_SEPARATOR);
  scols_table_set_termforce(table, SCOLS_TERMFORCE_NEVER);
  scols_table_enable_noheadings(table, settings.no_legend);
  return table;
}

struct libscols_column *
tfstctl_output_table_new_column(struct libscols_table *table, const char *header, int flags)
{
  struct libscols_column *column = scols_table_new_column(table, _(header), 0, flags);

  /* The untranslated header, for -o; header strings are static. */
  scols_cell_set_userdata(scols_column_get_header(column), (void *)header);
  return column;
}

/* "Last Error", "last_error" -> "last-error" */
static char *
column_key(const char *name)
{
  char *key = g_utf8_strdown(name, -1);

  g_strdelimit(key, " _", '-');
  return key;
}

static gboolean
column_is(struct libscols_column *column, const char *wanted)
{
  struct libscols_cell *header = scols_column_get_header(column);
  const char *untranslated = scols_cell_get_userdata(header);
  g_autofree char *key = column_key(wanted);
  g_autofree char *shown = column_key(scols_cell_get_data(header));
  g_autofree char *name = untranslated != NULL ? column_key(untranslated) : NULL;

  return g_str_equal(key, shown) || g_strcmp0(key, name) == 0;
}

static struct libscols_column *
find_column(struct libscols_table *table, const char *wanted)
{
  for (size_t i = 0; i < scols_table_get_ncols(table); i++)
    if (column_is(scols_table_get_column(table, i), wanted))
      return scols_table_get_column(table, i);
  return NULL;
}

static char *
column_names(struct libscols_table *table)
{
  g_autoptr(GString) names = g_string_new(NULL);

  for (size_t i = 0; i < scols_table_get_ncols(table); i++) {
    struct libscols_cell *header = scols_column_get_header(scols_table_get_column(table, i));
    g_string_append_printf(names, "%s%s", i > 0 ? ", " : "", scols_cell_get_data(header));
  }
  return g_strdup(names->str);
}

/* -o is usage: a column this table does not have ends tfstctl with exit
 * status 2 before anything of the table was printed. */
static void G_GNUC_NORETURN
unknown_column(struct libscols_table *table, const char *wanted)
{
  g_autofree char *names = column_names(table);

  g_printerr(_("tfstctl: -o/--output: no column “%s”; the columns are: %s\n"), wanted, names);
  exit(TFSTCTL_EXIT_USAGE);
}

/* Hides the columns -o does not name and puts the others in its order. */
static void
select_columns(struct libscols_table *table)
{
  struct libscols_column *previous = NULL;

  /* A record (tfstctl_fields_print_record) has no column names. */
  if (settings.columns == NULL || scols_table_get_ncols(table) == 0 ||
      *scols_cell_get_data(scols_column_get_header(scols_table_get_column(table, 0))) == '\0')
    return;
  for (size_t i = 0; i < scols_table_get_ncols(table); i++) {
    struct libscols_column *column = scols_table_get_column(table, i);
    scols_column_set_flags(column, scols_column_get_flags(column) | SCOLS_FL_HIDDEN);
  }
  for (guint i = 0; settings.columns[i] != NULL; i++) {
    struct libscols_column *column = find_column(table, settings.columns[i]);

    if (column == NULL)
      unknown_column(table, settings.columns[i]);
    scols_column_set_flags(column, scols_column_get_flags(column) & ~SCOLS_FL_HIDDEN);
    scols_table_move_column(table, previous, column);
    previous = column;
  }
}

/* The first n_lines lines of text (all: G_MAXUINT).  libsmartcols pads
 * every cell but the last one of a line, and an empty last cell leaves the
 * separator and padding before it: trailing whitespace goes. */
static void
print_lines(const char *text, guint n_lines)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

  for (guint i = 0; lines[i] != NULL && i < n_lines; i++) {
    /* The text ends in a newline or not; nothing follows the last one. */
    if (lines[i + 1] == NULL && *lines[i] == '\0')
      break;
    g_print("%s\n", g_strchomp(lines[i]));
  }
}

void
tfstctl_output_table_print(struct libscols_table *table)
{
  g_autofree char *text = NULL;
  guint n_lines = G_MAXUINT;
  int rc;

  select_columns(table);
  /* libsmartcols prints nothing at all for a table without lines; an
   * empty line gets the header laid out as it would be, then goes. */
  if (scols_table_get_nlines(table) == 0) {
    if (scols_table_is_noheadings(table))
      return;
    scols_table_new_line(table, NULL);
    n_lines = 1;
  }
  rc = scols_print_table_to_string(table, &text);
  if (rc != 0)
    g_warning("cannot lay out a table: %s", g_strerror(-rc)); /* only out of memory */
  else
    print_lines(text, n_lines);
}

void
tfstctl_output_json_print(JsonNode *root)
{
  g_autoptr(JsonGenerator) generator = json_generator_new();
  g_autofree char *text = NULL;

  json_generator_set_pretty(generator, !settings.json_short);
  json_generator_set_indent(generator, 2);
  json_generator_set_root(generator, root);
  text = json_generator_to_data(generator, NULL);
  g_print("%s\n", text);
}

void
tfstctl_output_json_print_object(JsonObject *object)
{
  g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), object);

  tfstctl_output_json_print(root);
}

void
tfstctl_output_json_print_array(JsonArray *array)
{
  g_autoptr(JsonNode) root = json_node_init_array(json_node_alloc(), array);

  tfstctl_output_json_print(root);
}

void
tfstctl_output_json_print_line(JsonObject *object)
{
  g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), object);
  g_autoptr(JsonGenerator) generator = json_generator_new();
  g_autofree char *text = NULL;

  json_generator_set_root(generator, root);
  text = json_generator_to_data(generator, NULL);
  g_print("%s\n", text);
  tfstctl_output_flush();
}

void
tfstctl_output_flush(void)
{
  (void)fflush(stdout);
}

void
tfstctl_output_json_set_text(JsonObject *object, const char *key, const char *text)
{
  g_autofree char *valid = NULL;

  if (text == NULL) {
    json_object_set_null_member(object, key);
    return;
  }
  valid = g_utf8_make_valid(text, -1);
  json_object_set_string_member(object, key, valid);
}
