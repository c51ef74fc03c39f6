/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON output for --json (see tfstctl-json.h). */
#include "tfstctl-json.h"

#include <math.h>

struct _TfstctlJson {
  GString *out;
  GArray *counts; /* guint: members written so far, one per open container */
};

TfstctlJson *
tfstctl_json_new(void)
{
  TfstctlJson *json = g_new0(TfstctlJson, 1);

  json->out = g_string_new(NULL);
  json->counts = g_array_new(FALSE, TRUE, sizeof(guint));
  return json;
}

void
tfstctl_json_free(TfstctlJson *json)
{
  if (json == NULL)
    return;
  g_string_free(json->out, TRUE);
  g_array_unref(json->counts);
  g_free(json);
}

void
tfstctl_json_append_string(GString *out, const char *text)
{
  g_autofree char *valid = NULL;

  if (text == NULL) {
    g_string_append(out, "null");
    return;
  }
  valid = g_utf8_make_valid(text, -1);
  g_string_append_c(out, '"');
  for (const char *p = valid; *p != '\0'; p++) {
    guchar c = (guchar)*p;
    switch (c) {
      case '"':
        g_string_append(out, "\\\"");
        break;
      case '\\':
        g_string_append(out, "\\\\");
        break;
      case '\n':
        g_string_append(out, "\\n");
        break;
      case '\t':
        g_string_append(out, "\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          g_string_append_printf(out, "\\u%04x", c);
        else
          g_string_append_c(out, (char)c);
    }
  }
  g_string_append_c(out, '"');
}

static void
indent(TfstctlJson *json, guint depth)
{
  g_string_append_c(json->out, '\n');
  for (guint i = 0; i < depth; i++)
    g_string_append(json->out, "  ");
}

/* The separator, indentation and key that precede every value. */
static void
begin_value(TfstctlJson *json, const char *key)
{
  guint depth = json->counts->len;

  if (depth > 0) {
    guint *count = &g_array_index(json->counts, guint, depth - 1);
    if (*count > 0)
      g_string_append_c(json->out, ',');
    (*count)++;
    indent(json, depth);
  }
  if (key != NULL) {
    tfstctl_json_append_string(json->out, key);
    g_string_append(json->out, ": ");
  }
}

static void
begin_container(TfstctlJson *json, const char *key, char open)
{
  guint zero = 0;

  begin_value(json, key);
  g_string_append_c(json->out, open);
  g_array_append_val(json->counts, zero);
}

static void
end_container(TfstctlJson *json, char close)
{
  guint depth = json->counts->len;

  g_return_if_fail(depth > 0);
  if (g_array_index(json->counts, guint, depth - 1) > 0)
    indent(json, depth - 1);
  g_array_set_size(json->counts, depth - 1);
  g_string_append_c(json->out, close);
}

void
tfstctl_json_begin_object(TfstctlJson *json, const char *key)
{
  begin_container(json, key, '{');
}

void
tfstctl_json_end_object(TfstctlJson *json)
{
  end_container(json, '}');
}

void
tfstctl_json_begin_array(TfstctlJson *json, const char *key)
{
  begin_container(json, key, '[');
}

void
tfstctl_json_end_array(TfstctlJson *json)
{
  end_container(json, ']');
}

void
tfstctl_json_string(TfstctlJson *json, const char *key, const char *value)
{
  begin_value(json, key);
  tfstctl_json_append_string(json->out, value);
}

void
tfstctl_json_uint(TfstctlJson *json, const char *key, guint64 value)
{
  begin_value(json, key);
  g_string_append_printf(json->out, "%" G_GUINT64_FORMAT, value);
}

void
tfstctl_json_int(TfstctlJson *json, const char *key, gint64 value)
{
  begin_value(json, key);
  g_string_append_printf(json->out, "%" G_GINT64_FORMAT, value);
}

void
tfstctl_json_double(TfstctlJson *json, const char *key, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite(value)) {
    tfstctl_json_null(json, key);
    return;
  }
  begin_value(json, key);
  /* Not printf: the decimal point must not follow the locale. */
  g_string_append(json->out, g_ascii_formatd(buf, sizeof(buf), "%.3f", value));
}

void
tfstctl_json_bool(TfstctlJson *json, const char *key, gboolean value)
{
  begin_value(json, key);
  g_string_append(json->out, value ? "true" : "false");
}

void
tfstctl_json_null(TfstctlJson *json, const char *key)
{
  begin_value(json, key);
  g_string_append(json->out, "null");
}

void
tfstctl_json_print(TfstctlJson *json)
{
  g_warn_if_fail(json->counts->len == 0);
  g_print("%s\n", json->out->str);
}
