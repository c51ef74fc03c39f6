/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sorted, merged lists of port ranges (see tfst-port-list.h). */
#include "tfst-port-list.h"

static gint
range_cmp(gconstpointer a, gconstpointer b)
{
  const TfstPortRange *x = a;
  const TfstPortRange *y = b;

  return (gint)x->lo - (gint)y->lo;
}

/* Sorts and merges overlapping or adjacent ranges in place. */
static void
port_list_normalize(GArray *list)
{
  guint out = 0;

  if (list->len == 0)
    return;
  g_array_sort(list, range_cmp);
  for (guint i = 1; i < list->len; i++) {
    TfstPortRange *cur = &g_array_index(list, TfstPortRange, out);
    const TfstPortRange *next = &g_array_index(list, TfstPortRange, i);

    if ((guint)next->lo <= (guint)cur->hi + 1) {
      cur->hi = MAX(cur->hi, next->hi);
    } else {
      out++;
      g_array_index(list, TfstPortRange, out) = *next;
    }
  }
  g_array_set_size(list, out + 1);
}

GArray *
tfst_port_list_parse(const char *text, GError **error)
{
  g_autoptr(GArray) list = g_array_new(FALSE, FALSE, sizeof(TfstPortRange));
  g_autofree char *copy = g_strstrip(g_strdup(text));
  g_auto(GStrv) items = NULL;

  if (*copy == '\0')
    return g_steal_pointer(&list);
  items = g_strsplit(copy, ",", -1);
  for (guint i = 0; items[i] != NULL; i++) {
    TfstPortRange r;

    if (!tfst_port_range_parse_item(items[i], &r, error)) {
      g_prefix_error(error, "port list \"%s\": ", text);
      return NULL;
    }
    g_array_append_val(list, r);
  }
  port_list_normalize(list);
  return g_steal_pointer(&list);
}

gboolean
tfst_port_list_contains(const GArray *list, guint16 port)
{
  for (guint i = 0; list != NULL && i < list->len; i++) {
    const TfstPortRange *r = &g_array_index(list, TfstPortRange, i);
    if (port >= r->lo && port <= r->hi)
      return TRUE;
  }
  return FALSE;
}

void
tfst_port_list_add(GArray *list, guint16 port)
{
  TfstPortRange r = {port, port};

  g_array_append_val(list, r);
  port_list_normalize(list);
}

char *
tfst_port_list_format(const GArray *list)
{
  GString *s = g_string_new(NULL);

  for (guint i = 0; i < list->len; i++) {
    const TfstPortRange *r = &g_array_index(list, TfstPortRange, i);

    if (i > 0)
      g_string_append_c(s, ',');
    if (r->lo == r->hi)
      g_string_append_printf(s, "%u", r->lo);
    else
      g_string_append_printf(s, "%u-%u", r->lo, r->hi);
  }
  return g_string_free(s, FALSE);
}
