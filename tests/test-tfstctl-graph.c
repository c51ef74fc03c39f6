/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl chain's drawing of the chain graph: a label with several parents
 * under each of them and marked with the others, notes after labels, and
 * whatever the links say (a loop, too many paths) drawn in bounded lines. */
#include "tfstctl-graph.h"

#include <locale.h>

static GVariant *
links_new(const char *const pairs[][2], gsize n)
{
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a(ss)"));

  for (gsize i = 0; i < n; i++)
    g_variant_builder_add(&b, "(ss)", pairs[i][0], pairs[i][1]);
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* The lines joined with newlines, tree glyphs as ASCII so one expectation
 * holds in any locale. */
static char *
joined(GPtrArray *lines)
{
  g_autoptr(GString) s = g_string_new(NULL);

  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf(s, "%s\n", (const char *)g_ptr_array_index(lines, i));
  g_string_replace(s, "├─", "|-", 0);
  g_string_replace(s, "└─", "`-", 0);
  g_string_replace(s, "│", "|", 0);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static void
test_diamond(void)
{
  /* Unsorted, as a client may get them: the drawing sorts. */
  static const char *const pairs[][2] = {
      {"relayB", "gw1"}, {"ep", "relayB"}, {"ep", "relayA"}, {"relayA", "gw1"}, {"relayA", "gw2"},
  };
  g_autoptr(GVariant) links = links_new(pairs, G_N_ELEMENTS(pairs));
  g_autoptr(GHashTable) notes = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *text = NULL;

  g_hash_table_insert(notes, "gw1", "this instance");
  g_hash_table_insert(notes, "relayA", "active parent");
  lines = tfstctl_graph_lines(links, notes, 100);
  text = joined(lines);
  g_assert_cmpstr(text, ==,
                  "ep\n"
                  "|- relayA (active parent)\n"
                  "| |- gw1 (this instance, also via relayB)\n"
                  "| `- gw2\n"
                  "`- relayB\n"
                  "  `- gw1 (this instance, also via relayA)\n");
}

/* Two roots (two endpoint proxies), a label below both. */
static void
test_two_roots(void)
{
  static const char *const pairs[][2] = {
      {"ep1", "relay"},
      {"ep2", "relay"},
      {"relay", "gw"},
  };
  g_autoptr(GVariant) links = links_new(pairs, G_N_ELEMENTS(pairs));
  g_autoptr(GPtrArray) lines = tfstctl_graph_lines(links, NULL, 100);
  g_autofree char *text = joined(lines);

  g_assert_cmpstr(text, ==,
                  "ep1\n"
                  "`- relay (also via ep2)\n"
                  "  `- gw\n"
                  "ep2\n"
                  "`- relay (also via ep1)\n"
                  "  `- gw\n");
}

/* Links a peer should never send: a loop ends where it closes. */
static void
test_loop(void)
{
  static const char *const pairs[][2] = {{"a", "b"}, {"b", "c"}, {"c", "a"}};
  g_autoptr(GVariant) links = links_new(pairs, G_N_ELEMENTS(pairs));
  g_autoptr(GPtrArray) lines = tfstctl_graph_lines(links, NULL, 100);
  g_autofree char *text = joined(lines);

  g_assert_cmpstr(text, ==,
                  "a (also via c)\n"
                  "`- b\n"
                  "  `- c\n");
}

/* Layers of two labels, each below both of the layer above: the paths
 * double with each layer, the lines stop at the bound. */
static void
test_bounded(void)
{
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a(ss)"));
  g_autoptr(GVariant) links = NULL;
  g_autoptr(GPtrArray) lines = NULL;

  for (int layer = 0; layer < 40; layer++)
    for (int up = 0; up < 2; up++)
      for (int down = 0; down < 2; down++) {
        g_autofree char *u = layer == 0 ? g_strdup("root") : g_strdup_printf("l%d-%d", layer, up);
        g_autofree char *l = g_strdup_printf("l%d-%d", layer + 1, down);
        g_variant_builder_add(&b, "(ss)", u, l);
      }
  links = g_variant_ref_sink(g_variant_builder_end(&b));
  lines = tfstctl_graph_lines(links, NULL, 50);
  g_assert_cmpuint(lines->len, ==, 51);
  g_assert_cmpstr(g_ptr_array_index(lines, 0), ==, "root");
  g_assert_true(g_str_has_suffix(g_ptr_array_index(lines, 50), "see --json)"));
}

static void
test_none(void)
{
  g_autoptr(GVariant) empty =
      g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("(ss)"), NULL, 0));
  g_autoptr(GVariant) other =
      g_variant_ref_sink(g_variant_new_strv((const char *[]){"a", NULL}, -1));
  g_autoptr(GPtrArray) a = tfstctl_graph_lines(NULL, NULL, 10);
  g_autoptr(GPtrArray) b = tfstctl_graph_lines(empty, NULL, 10);
  g_autoptr(GPtrArray) c = tfstctl_graph_lines(other, NULL, 10);

  g_assert_cmpuint(a->len + b->len + c->len, ==, 0);
}

int
main(int argc, char **argv)
{
  setlocale(LC_ALL, "");
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfstctl/graph/diamond", test_diamond);
  g_test_add_func("/tfstctl/graph/two-roots", test_two_roots);
  g_test_add_func("/tfstctl/graph/loop", test_loop);
  g_test_add_func("/tfstctl/graph/bounded", test_bounded);
  g_test_add_func("/tfstctl/graph/none", test_none);
  return g_test_run();
}
