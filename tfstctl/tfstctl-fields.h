/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One description of a command's fields drives both its table for people
 * and its JSON for scripts, so the two cannot drift apart.  A row is a
 * GVariant tuple as the bus sends it; each field names the tuple member it
 * shows.  The JSON value follows the member's type (strings, booleans,
 * numbers, byte arrays as hex); the table cell follows the field's format. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* How the table shows a member; the JSON always keeps the exact value. */
typedef enum {
  TFSTCTL_FIELD_PLAIN,    /* strings as they are, numbers in decimal */
  TFSTCTL_FIELD_DASH,     /* as PLAIN, but "-" for "" and 0 */
  TFSTCTL_FIELD_BYTES,    /* a number of bytes: "1.5 KiB" */
  TFSTCTL_FIELD_SECONDS,  /* microseconds as whole seconds: "125s" */
  TFSTCTL_FIELD_RTT,      /* microseconds as "0.4 ms", "-" for 0 */
  TFSTCTL_FIELD_YES_NO,   /* a boolean, translated */
  TFSTCTL_FIELD_SPI,      /* an IPsec SPI: "0x00001000" */
  TFSTCTL_FIELD_ENDPOINT, /* an address and the port in member `port` */
  TFSTCTL_FIELD_CUSTOM,   /* whatever cell() returns */
} TfstctlFieldFormat;

typedef enum {
  TFSTCTL_FIELD_LEFT = 0,
  TFSTCTL_FIELD_RIGHT = 1 << 0, /* numbers read better right-aligned */
} TfstctlFieldFlags;

typedef struct _TfstctlField TfstctlField;
typedef struct _TfstctlFields TfstctlFields;

/* The cell of a CUSTOM field, from the whole row (it may combine members). */
typedef char *(*TfstctlFieldCellFunc)(GVariant *row, const TfstctlField *field);
/* A field of a record shown as several lines (char *); NULL leaves the
 * field out of the record. */
typedef GPtrArray *(*TfstctlFieldLinesFunc)(GVariant *row, const TfstctlField *field);

struct _TfstctlField {
  const char *header; /* N_(): the column header; NULL: JSON only */
  const char *json;   /* the member name in JSON (API); NULL: table only */
  guint member;       /* the index of the value in the row tuple */
  TfstctlFieldFormat format;
  TfstctlFieldFlags flags;
  guint port;                /* ENDPOINT: the index of the port */
  TfstctlFieldCellFunc cell; /* CUSTOM */
  /* A member that is an array of rows: JSON nests them as an array of
   * objects; a table shows one line per nested row, its columns (those of
   * `rows`, which nests nothing itself) in this field's place and the
   * other cells of the row repeated; a record shows lines() or cell(). */
  const TfstctlFields *rows;
  TfstctlFieldLinesFunc lines; /* a record: instead of the cell */
};

/* A command's description: its row type and its fields, in output order. */
struct _TfstctlFields {
  const char *row_type; /* a tuple type such as "(tss)" */
  const TfstctlField *fields;
  guint n_fields;
};

#define TFSTCTL_FIELDS(row_type, fields)                                                           \
  {                                                                                                \
    (row_type), (fields), G_N_ELEMENTS(fields)                                                     \
  }

/* The JSON of one value by its type: numbers, booleans and strings as
 * such, a maybe as its value or null, byte arrays as hex, anything else
 * as GVariant text.  These three return a new reference, ready for the
 * json_object_set_*_member() calls that take it. */
JsonNode *tfstctl_fields_json_value(GVariant *value);
/* One row as a JSON object. */
JsonObject *tfstctl_fields_json_row(const TfstctlFields *desc, GVariant *row);
/* rows, an array of desc->row_type, as a JSON array of objects; NULL or
 * rows of another type make an empty array. */
JsonArray *tfstctl_fields_json_rows(const TfstctlFields *desc, GVariant *rows);

/* rows as a table on stdout, a column per field with a header (the
 * header line alone when there are no rows). */
void tfstctl_fields_print_table(const TfstctlFields *desc, GVariant *rows);

/* One row as a record for people: "Header:" and the value, a line per
 * field that has a header, the names right-aligned; a field with lines()
 * takes a line each ("none" for no lines). */
void tfstctl_fields_print_record(const TfstctlFields *desc, GVariant *row);
