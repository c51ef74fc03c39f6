/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The chain graph as a tree (see tfstctl-graph.h), laid out by
 * libsmartcols as lsblk and findmnt draw theirs. */
#include "tfstctl-graph.h"

#include "tfstctl-output.h"

#include <glib/gi18n.h>

typedef struct {
  GHashTable *below; /* upper -> GPtrArray of lowers (borrowed strings) */
  GHashTable *above; /* lower -> GPtrArray of uppers */
  GHashTable *notes;
  GHashTable *path;             /* the labels from the root to here: a loop stops */
  struct libscols_table *table; /* one tree column */
  guint n_lines;
  guint max_lines;
  gboolean left_out;
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

static void draw(TfstctlGraph *g, const char *label, const char *via, struct libscols_line *parent);

static void
draw_below(TfstctlGraph *g, const char *label, struct libscols_line *line)
{
  GPtrArray *lowers = g_hash_table_lookup(g->below, label);

  g_hash_table_add(g->path, (gpointer)label);
  for (guint i = 0; lowers != NULL && i < lowers->len; i++) {
    const char *lower = g_ptr_array_index(lowers, i);
    if (!g_hash_table_contains(g->path, lower))
      draw(g, lower, label, line);
  }
  g_hash_table_remove(g->path, label);
}

/* One label under `via` (NULL: a root, parent NULL) and everything below. */
static void
draw(TfstctlGraph *g, const char *label, const char *via, struct libscols_line *parent)
{
  struct libscols_line *line;

  if (g->n_lines >= g->max_lines) {
    g->left_out = TRUE;
    return;
  }
  line = scols_table_new_line(g->table, parent);
  scols_line_refer_data(line, 0, label_text(g, label, via));
  g->n_lines++;
  draw_below(g, label, line);
}

/* The tree's branches: a space after each branch (libsmartcols indents
 * a level by two columns, the width of the vertical line), ASCII when the
 * locale cannot show the box-drawing characters. */
static void
set_symbols(struct libscols_table *table, gboolean utf8)
{
  struct libscols_symbols *symbols = scols_new_symbols();

  g_assert(symbols != NULL); /* NULL only without memory */
  scols_symbols_set_branch(symbols, utf8 ? "├─ " : "|- ");
  scols_symbols_set_vertical(symbols, utf8 ? "│ " : "| ");
  scols_symbols_set_right(symbols, utf8 ? "└─ " : "`- ");
  scols_table_set_symbols(table, symbols);
  scols_unref_symbols(symbols);
}

static struct libscols_table *
tree_table_new(gboolean utf8)
{
  struct libscols_table *table = tfstctl_output_table_new();

  scols_table_enable_noheadings(table, TRUE);
  scols_table_new_column(table, "", 0, SCOLS_FL_TREE);
  set_symbols(table, utf8);
  return table;
}

/* The laid out tree, a string per line without trailing whitespace. */
static GPtrArray *
tree_lines(struct libscols_table *table)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *text = NULL;
  g_auto(GStrv) split = NULL;

  if (scols_table_get_nlines(table) == 0 || scols_print_table_to_string(table, &text) != 0)
    return lines;
  split = g_strsplit(text, "\n", -1);
  for (guint i = 0; split[i] != NULL; i++)
    if (*g_strchomp(split[i]) != '\0')
      g_ptr_array_add(lines, g_strdup(split[i]));
  return lines;
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
      .table = tree_table_new(g_get_charset(NULL)),
      .max_lines = max_lines,
  };
  g_autoptr(GPtrArray) tops = NULL;
  GPtrArray *lines;

  if (links != NULL && g_variant_is_of_type(links, G_VARIANT_TYPE("a(ss)")))
    graph_load(&g, links);
  tops = roots(&g);
  for (guint i = 0; i < tops->len; i++)
    draw(&g, g_ptr_array_index(tops, i), NULL, NULL);
  lines = tree_lines(g.table);
  if (g.left_out)
    /* TRANSLATORS: after the chain drawn as a tree, when it is too big. */
    g_ptr_array_add(lines, g_strdup(_("… (the rest is left out: see --json)")));
  scols_unref_table(g.table);
  g_hash_table_unref(g.below);
  g_hash_table_unref(g.above);
  g_hash_table_unref(g.path);
  return lines;
}
