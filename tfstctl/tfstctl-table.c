/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Aligned text tables (see tfstctl-table.h). */
#include "tfstctl-table.h"

#include <stdarg.h>

#define COLUMN_GAP 2

struct _TfstctlTable {
  guint n_columns;
  GPtrArray *cells; /* char *, the header row first */
  gboolean *right;
  gboolean show_header;
};

TfstctlTable *
tfstctl_table_new(guint n_columns, const char *const *headers)
{
  TfstctlTable *table = g_new0(TfstctlTable, 1);

  g_return_val_if_fail(n_columns > 0, NULL);
  table->n_columns = n_columns;
  table->cells = g_ptr_array_new_with_free_func(g_free);
  table->right = g_new0(gboolean, n_columns);
  table->show_header = TRUE;
  for (guint i = 0; i < n_columns; i++)
    g_ptr_array_add(table->cells, g_strdup(headers[i]));
  return table;
}

void
tfstctl_table_free(TfstctlTable *table)
{
  if (table == NULL)
    return;
  g_ptr_array_unref(table->cells);
  g_free(table->right);
  g_free(table);
}

void
tfstctl_table_align_right(TfstctlTable *table, guint column)
{
  g_return_if_fail(column < table->n_columns);
  table->right[column] = TRUE;
}

void
tfstctl_table_hide_header(TfstctlTable *table)
{
  table->show_header = FALSE;
}

void
tfstctl_table_take(TfstctlTable *table, char *cell)
{
  g_ptr_array_add(table->cells, cell != NULL ? cell : g_strdup(""));
}

void
tfstctl_table_add(TfstctlTable *table, const char *cell)
{
  tfstctl_table_take(table, g_strdup(cell));
}

void
tfstctl_table_add_printf(TfstctlTable *table, const char *format, ...)
{
  va_list ap;

  va_start(ap, format);
  tfstctl_table_take(table, g_strdup_vprintf(format, ap));
  va_end(ap);
}

guint
tfstctl_table_n_rows(const TfstctlTable *table)
{
  return (table->cells->len + table->n_columns - 1) / table->n_columns - 1;
}

static const char *
cell_at(const TfstctlTable *table, guint row, guint column)
{
  guint i = row * table->n_columns + column;

  return i < table->cells->len ? g_ptr_array_index(table->cells, i) : "";
}

static void
append_padding(GString *line, glong n)
{
  for (glong i = 0; i < n; i++)
    g_string_append_c(line, ' ');
}

static void
print_row(const TfstctlTable *table, guint row, const guint *widths)
{
  g_autoptr(GString) line = g_string_new(NULL);

  for (guint c = 0; c < table->n_columns; c++) {
    const char *text = cell_at(table, row, c);
    glong pad = (glong)widths[c] - g_utf8_strlen(text, -1);

    if (c > 0)
      append_padding(line, COLUMN_GAP);
    if (table->right[c])
      append_padding(line, pad);
    g_string_append(line, text);
    if (!table->right[c])
      append_padding(line, pad);
  }
  g_strchomp(line->str);
  g_print("%s\n", line->str);
}

void
tfstctl_table_print(const TfstctlTable *table)
{
  guint n_rows = tfstctl_table_n_rows(table) + 1;
  g_autofree guint *widths = g_new0(guint, table->n_columns);

  for (guint r = table->show_header ? 0 : 1; r < n_rows; r++)
    for (guint c = 0; c < table->n_columns; c++)
      widths[c] = MAX(widths[c], (guint)g_utf8_strlen(cell_at(table, r, c), -1));
  for (guint r = table->show_header ? 0 : 1; r < n_rows; r++)
    print_row(table, r, widths);
}
