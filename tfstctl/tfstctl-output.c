/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tables through libsmartcols, JSON through json-glib (see tfstctl-output.h). */
#include "tfstctl-output.h"

#include <stdio.h>

#define COLUMN_SEPARATOR "  "

struct libscols_table *
tfstctl_output_table_new(void)
{
  struct libscols_table *table = scols_new_table();

  g_assert(table != NULL); /* NULL only without memory, as g_malloc() aborts */
  scols_table_set_column_separator(table, COLUMN_SEPARATOR);
  scols_table_set_termforce(table, SCOLS_TERMFORCE_NEVER);
  return table;
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

  json_generator_set_pretty(generator, TRUE);
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
