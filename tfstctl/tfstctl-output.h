/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tables for people through libsmartcols.  The library does the layout;
 * this sets it up the one way tfstctl prints: two spaces between columns,
 * no colours, never narrowed to the terminal (a script piping the output
 * and a person reading it see the same lines). */
#pragma once

#include <glib.h>
#include <libsmartcols.h>

typedef struct libscols_table TfstctlScolsTable;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstctlScolsTable, scols_unref_table)

/* An empty table; add columns with scols_table_new_column() (the header
 * translated, SCOLS_FL_RIGHT for numbers) and lines with
 * scols_table_new_line(). */
struct libscols_table *tfstctl_output_table_new(void);
/* Prints the table to stdout without trailing whitespace; the header line
 * alone when there are no lines (libsmartcols prints nothing then). */
void tfstctl_output_table_print(struct libscols_table *table);
