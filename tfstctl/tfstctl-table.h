/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Aligned text tables for people: a header row, then cells added one by
 * one, left to right, row after row.  Widths count characters, not bytes,
 * so translated headers line up.  No colours. */
#pragma once

#include <glib.h>

typedef struct _TfstctlTable TfstctlTable;

/* headers: n_columns translated header strings, copied. */
TfstctlTable *tfstctl_table_new(guint n_columns, const char *const *headers);
void tfstctl_table_free(TfstctlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstctlTable, tfstctl_table_free)

/* Numbers read better right-aligned. */
void tfstctl_table_align_right(TfstctlTable *table, guint column);
/* Shows no header row. */
void tfstctl_table_hide_header(TfstctlTable *table);
void tfstctl_table_add(TfstctlTable *table, const char *cell);
void tfstctl_table_take(TfstctlTable *table, char *cell);
void tfstctl_table_add_printf(TfstctlTable *table, const char *format, ...) G_GNUC_PRINTF(2, 3);
guint tfstctl_table_n_rows(const TfstctlTable *table);
/* Prints the table to stdout; a partly filled last row is padded. */
void tfstctl_table_print(const TfstctlTable *table);
