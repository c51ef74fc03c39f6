/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small JSON writer for --json: one document, pretty-printed, built in
 * order.  Keys are API and never translated.  No json-glib dependency. */
#pragma once

#include <glib.h>

typedef struct _TfstctlJson TfstctlJson;

TfstctlJson *tfstctl_json_new(void);
void tfstctl_json_free(TfstctlJson *json);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstctlJson, tfstctl_json_free)

/* key is the member name inside an object and NULL inside an array or for
 * the top-level value. */
void tfstctl_json_begin_object(TfstctlJson *json, const char *key);
void tfstctl_json_end_object(TfstctlJson *json);
void tfstctl_json_begin_array(TfstctlJson *json, const char *key);
void tfstctl_json_end_array(TfstctlJson *json);
/* value NULL writes null. */
void tfstctl_json_string(TfstctlJson *json, const char *key, const char *value);
void tfstctl_json_uint(TfstctlJson *json, const char *key, guint64 value);
void tfstctl_json_int(TfstctlJson *json, const char *key, gint64 value);
void tfstctl_json_double(TfstctlJson *json, const char *key, double value);
void tfstctl_json_bool(TfstctlJson *json, const char *key, gboolean value);
void tfstctl_json_null(TfstctlJson *json, const char *key);
/* Writes the document and a newline to stdout. */
void tfstctl_json_print(TfstctlJson *json);

/* Appends text as a JSON string literal (NULL: null); invalid UTF-8 is
 * replaced. */
void tfstctl_json_append_string(GString *out, const char *text);
