/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tables for people through libsmartcols, JSON for scripts through
 * json-glib.  The libraries do the layout and the syntax; this sets them
 * up the one way tfstctl prints.  Tables: two spaces between columns, no
 * colours, never narrowed to the terminal (a script piping the output and
 * a person reading it see the same lines), the header line left out with
 * --no-legend, the columns picked with -o.  JSON: one document, pretty
 * printed with two spaces or on one line (--json=short); member names are
 * API and never translated. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsmartcols.h>

typedef struct libscols_table TfstctlScolsTable;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstctlScolsTable, scols_unref_table)

/* How the command line asked for output.  Set once, from argv, before
 * anything is printed (STYLE.md: argv results are the one global state). */
typedef struct {
  gboolean json_short; /* --json=short: one line per document */
  gboolean no_legend;  /* --no-legend: no header lines, hints or footers */
  char **columns;      /* -o: the columns to show in this order; NULL: all */
} TfstctlOutputSettings;

void tfstctl_output_configure(const TfstctlOutputSettings *settings);
/* FALSE with --no-legend: leave out header lines, hints and footers. */
gboolean tfstctl_output_legend(void);

/* An empty table; add columns with scols_table_new_column() (the header
 * translated, SCOLS_FL_RIGHT for numbers) and lines with
 * scols_table_new_line(). */
struct libscols_table *tfstctl_output_table_new(void);
/* Prints the table to stdout without trailing whitespace; the header line
 * alone when there are no lines (libsmartcols prints nothing then: this
 * adds an empty line to lay the header out, so print a table once). */
void tfstctl_output_table_print(struct libscols_table *table);
/* A column whose header is `header` translated; -o matches both the
 * untranslated header (the column's name in tfstctl(1)) and the shown one,
 * case does not matter and "-", "_" and " " are the same. */
struct libscols_column *tfstctl_output_table_new_column(struct libscols_table *table,
                                                        const char *header, int flags);

/* Prints the document and a newline to stdout. */
void tfstctl_output_json_print(JsonNode *root);
void tfstctl_output_json_print_object(JsonObject *object);
void tfstctl_output_json_print_array(JsonArray *array);
/* Prints the object on one line (JSON lines, for streams: monitor,
 * dataflow --watch) and flushes stdout so a reader sees it at once. */
void tfstctl_output_json_print_line(JsonObject *object);
/* Flushes stdout: a line of a stream must not wait in a pipe's buffer. */
void tfstctl_output_flush(void);
/* A string member from outside D-Bus (argv, /proc), which need not be
 * UTF-8: invalid bytes are replaced, as JSON must be UTF-8; NULL is null. */
void tfstctl_output_json_set_text(JsonObject *object, const char *key, const char *text);
