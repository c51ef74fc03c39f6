/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl-output: what tfstctl asks of libsmartcols and json-glib beyond
 * their defaults, so a library update that changes it shows up here. */
#include "tfstctl-output.h"

#include <locale.h>

static void
add_line(struct libscols_table *table, const char *a, const char *b, const char *c)
{
  struct libscols_line *line = scols_table_new_line(table, NULL);

  scols_line_set_data(line, 0, a);
  scols_line_set_data(line, 1, b);
  scols_line_set_data(line, 2, c);
}

static struct libscols_table *
table_new(void)
{
  struct libscols_table *table = tfstctl_output_table_new();

  scols_table_new_column(table, "NAME", 0, 0);
  scols_table_new_column(table, "SIZE", 0, SCOLS_FL_RIGHT);
  scols_table_new_column(table, "NOTE", 0, 0);
  return table;
}

/* Output is checked in a subprocess: the printers write to stdout. */
static void
test_table(void)
{
  if (g_test_subprocess()) {
    g_autoptr(TfstctlScolsTable) table = table_new();

    add_line(table, "a", "5", "");          /* empty last cell */
    add_line(table, "abcdef", "512", NULL); /* no last cell */
    add_line(table, "b", "", "note");       /* empty right-aligned cell */
    tfstctl_output_table_print(table);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  /* Two spaces between columns, headers aligned as their columns, no
   * trailing whitespace however the line ends. */
  g_test_trap_assert_stdout("NAME    SIZE  NOTE\n"
                            "a          5\n"
                            "abcdef   512\n"
                            "b             note\n");
}

/* libsmartcols alone prints nothing for a table without lines. */
static void
test_empty(void)
{
  if (g_test_subprocess()) {
    g_autoptr(TfstctlScolsTable) table = table_new();
    g_autoptr(TfstctlScolsTable) bare = tfstctl_output_table_new();

    scols_table_new_column(table, "WIDE", 8, SCOLS_FL_STRICTWIDTH);
    tfstctl_output_table_print(table);
    scols_table_enable_noheadings(bare, TRUE);
    scols_table_new_column(bare, "", 0, 0);
    tfstctl_output_table_print(bare);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  /* The header alone, laid out with the width hint; nothing at all
   * without a header. */
  g_test_trap_assert_stdout("NAME  SIZE  NOTE  WIDE\n");
}

static void
test_json(void)
{
  if (g_test_subprocess()) {
    g_autoptr(JsonObject) json = json_object_new();

    tfstctl_output_json_set_text(json, "file", "caf\xc3\xa9-\xff.pcap");
    tfstctl_output_json_set_text(json, "none", NULL);
    json_object_set_string_member(json, "quoted", "a\"b\\c\n");
    json_object_set_array_member(json, "empty", json_array_new());
    tfstctl_output_json_print_object(json);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  /* Member order as set; bytes that are not UTF-8 replaced (U+FFFD). */
  g_test_trap_assert_stdout("{\n"
                            "  \"file\" : \"caf\xc3\xa9-\xef\xbf\xbd.pcap\",\n"
                            "  \"none\" : null,\n"
                            "  \"quoted\" : \"a\\\"b\\\\c\\n\",\n"
                            "  \"empty\" : []\n"
                            "}\n");
}

int
main(int argc, char **argv)
{
  /* g_print() converts to the locale's charset: UTF-8 shows as it is. */
  setlocale(LC_ALL, "C.UTF-8");
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfstctl/output/table", test_table);
  g_test_add_func("/tfstctl/output/empty", test_empty);
  g_test_add_func("/tfstctl/output/json", test_json);
  return g_test_run();
}
