/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The chain graph as a tree (see tfstctl-graph.h). */
#include "tfstctl-graph.h"

#include <glib/gi18n.h>

typedef struct {
  GHashTable *below; /* upper -> GPtrArray of lowers (borrowed strings) */
  GHashTable *above; /* lower -> GPtrArray of uppers */
  GHashTable *notes;
  GHashTable *path; /* the labels from the root to here: a loop stops */
  GPtrArray *lines;
  guint max_lines;
  gboolean left_out;
  gboolean utf8;
} TfstctlGraph;

static void
add_edge(GHashTable *table, const char *from, const char *to)
{
  GPtrArray *list = g_hash_table_lookup(table, from);

  if (list == NULL) {
    list = g_ptr_array_new();
    g_hash_table_insert(table, (gpointer)from, list);
  }
  g_ptr_array_add(list, (gpointer)to);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static void
sort_lists(GHashTable *table)
{
  GHashTableIter it;
  gpointer list;

  g_hash_table_iter_init(&it, table);
  while (g_hash_table_iter_next(&it, NULL, &list))
    g_ptr_array_sort(list, compare_strings);
}

/* "also via relayB, relayC": the parents of label other than `via`. */
static char *
also_via(TfstctlGraph *g, const char *label, const char *via)
{
  GPtrArray *uppers = g_hash_table_lookup(g->above, label);
  g_autoptr(GString) others = g_string_new(NULL);

  for (guint i = 0; uppers != NULL && i < uppers->len; i++) {
    const char *u = g_ptr_array_index(uppers, i);
    if (g_strcmp0(u, via) == 0)
      continue;
    g_string_append_printf(others, "%s%s", others->len > 0 ? ", " : "", u);
  }
  if (others->len == 0)
    return NULL;
  /* TRANSLATORS: after a label in the chain drawn as a tree: it is also
   * below these other parents (labels, comma separated). */
  return g_strdup_printf(_("also via %s"), others->str);
}

/* "gw1 (this instance, also via relayB)" */
static char *
label_text(TfstctlGraph *g, const char *label, const char *via)
{
  const char *note = g->notes != NULL ? g_hash_table_lookup(g->notes, label) : NULL;
  g_autofree char *also = also_via(g, label, via);
  g_autofree char *both = NULL;

  if (note == NULL && also == NULL)
    return g_strdup(label);
  if (note != NULL && also != NULL)
    both = g_strdup_printf("%s, %s", note, also);
  /* TRANSLATORS: a label in the chain and what to say about it. */
  return g_strdup_printf(_("%s (%s)"), label, both != NULL ? both : note != NULL ? note : also);
}

static void draw(TfstctlGraph *g, const char *label, const char *via, const char *prefix,
                 gboolean last);

static void
draw_below(TfstctlGraph *g, const char *label, const char *prefix)
{
  GPtrArray *lowers = g_hash_table_lookup(g->below, label);

  g_hash_table_add(g->path, (gpointer)label);
  for (guint i = 0; lowers != NULL && i < lowers->len; i++) {
    const char *lower = g_ptr_array_index(lowers, i);
    if (!g_hash_table_contains(g->path, lower))
      draw(g, lower, label, prefix, i + 1 == lowers->len);
  }
  g_hash_table_remove(g->path, label);
}

/* One label under `via` (NULL: a root) and everything below it. */
static void
draw(TfstctlGraph *g, const char *label, const char *via, const char *prefix, gboolean last)
{
  const char *branch = g->utf8 ? (last ? "└─ " : "├─ ") : (last ? "`- " : "|- ");
  const char *stem = g->utf8 ? (last ? "   " : "│  ") : (last ? "   " : "|  ");
  g_autofree char *text = NULL, *below = NULL;

  if (g->lines->len >= g->max_lines) {
    g->left_out = TRUE;
    return;
  }
  text = label_text(g, label, via);
  g_ptr_array_add(g->lines, g_strconcat(prefix, via != NULL ? branch : "", text, NULL));
  below = g_strconcat(prefix, via != NULL ? stem : "", NULL);
  draw_below(g, label, below);
}

/* The labels that are no one's lower, sorted; when a loop leaves none,
 * the smallest upper. */
static GPtrArray *
roots(TfstctlGraph *g)
{
  GPtrArray *out = g_ptr_array_new();
  g_autoptr(GPtrArray) uppers = g_ptr_array_new();
  GHashTableIter it;
  gpointer upper;

  g_hash_table_iter_init(&it, g->below);
  while (g_hash_table_iter_next(&it, &upper, NULL))
    g_ptr_array_add(uppers, upper);

  g_ptr_array_sort(uppers, compare_strings);
  for (guint i = 0; i < uppers->len; i++)
    if (!g_hash_table_contains(g->above, g_ptr_array_index(uppers, i)))
      g_ptr_array_add(out, g_ptr_array_index(uppers, i));
  if (out->len == 0 && uppers->len > 0)
    g_ptr_array_add(out, g_ptr_array_index(uppers, 0));
  return out;
}

static void
graph_load(TfstctlGraph *g, GVariant *links)
{
  for (gsize i = 0; links != NULL && i < g_variant_n_children(links); i++) {
    const char *upper, *lower;

    g_variant_get_child(links, i, "(&s&s)", &upper, &lower);
    add_edge(g->below, upper, lower);
    add_edge(g->above, lower, upper);
  }
  sort_lists(g->below);
  sort_lists(g->above);
}

GPtrArray *
tfstctl_graph_lines(GVariant *links, GHashTable *notes, guint max_lines)
{
  TfstctlGraph g = {
      .below =
          g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref),
      .above =
          g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref),
      .notes = notes,
      .path = g_hash_table_new(g_str_hash, g_str_equal),
      .lines = g_ptr_array_new_with_free_func(g_free),
      .max_lines = max_lines,
      .utf8 = g_get_charset(NULL),
  };
  g_autoptr(GPtrArray) tops = NULL;

  if (links != NULL && g_variant_is_of_type(links, G_VARIANT_TYPE("a(ss)")))
    graph_load(&g, links);
  tops = roots(&g);
  for (guint i = 0; i < tops->len; i++)
    draw(&g, g_ptr_array_index(tops, i), NULL, "", TRUE);
  if (g.left_out)
    /* TRANSLATORS: after the chain drawn as a tree, when it is too big. */
    g_ptr_array_add(g.lines, g_strdup(_("… (the rest is left out: see --json)")));
  g_hash_table_unref(g.below);
  g_hash_table_unref(g.above);
  g_hash_table_unref(g.path);
  return g.lines;
}
