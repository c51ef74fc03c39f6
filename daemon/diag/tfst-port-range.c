/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One range of ports in the kernel's notations (see tfst-port-range.h). */
#include "tfst-port-range.h"
#include "tfst-error.h"

#include <string.h>

static gboolean
parse_port(const char *text, guint16 *out, GError **error)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT16, &v, error)) {
    g_prefix_error(error, "port \"%s\": ", text);
    return FALSE;
  }
  *out = (guint16)v;
  return TRUE;
}

gboolean
tfst_port_range_parse(const char *text, TfstPortRange *out_range, GError **error)
{
  g_auto(GStrv) fields = g_strsplit_set(text, " \t\n", -1);
  const char *num[2];
  guint n = 0;
  TfstPortRange r;

  for (guint i = 0; fields[i] != NULL; i++) {
    if (*fields[i] == '\0')
      continue;
    if (n == 2) {
      n = 3;
      break;
    }
    num[n++] = fields[i];
  }
  if (n != 2) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "port range \"%s\": expected two numbers", text);
    return FALSE;
  }
  if (!parse_port(num[0], &r.lo, error) || !parse_port(num[1], &r.hi, error))
    return FALSE;
  if (r.lo > r.hi) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "port range \"%s\": low end above high end", text);
    return FALSE;
  }
  *out_range = r;
  return TRUE;
}

gboolean
tfst_port_range_parse_item(const char *text, TfstPortRange *out_range, GError **error)
{
  g_autofree char *item = g_strstrip(g_strdup(text));
  char *dash = strchr(item, '-');
  TfstPortRange r;

  if (dash != NULL)
    *dash = '\0';
  if (!parse_port(item, &r.lo, error) || !parse_port(dash != NULL ? dash + 1 : item, &r.hi, error))
    return FALSE;
  if (r.lo > r.hi) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS, "range %u-%u is reversed", r.lo, r.hi);
    return FALSE;
  }
  *out_range = r;
  return TRUE;
}
