/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl-output: what tfstctl asks of libsmartcols and json-glib beyond
 * their defaults, so a library update that changes it shows up here. */
#include "tfstctl-format.h"
#include "tfstctl-output.h"

#include <locale.h>
#include <string.h>

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

/* -o picks and orders columns by the untranslated header in any case;
 * --no-legend drops the header line; --json=short prints one line. */
static void
test_settings(void)
{
  if (g_test_subprocess()) {
    char *columns[] = {(char *)"note", (char *)"Name", NULL};
    TfstctlOutputSettings settings = {TRUE, TRUE, columns};
    g_autoptr(TfstctlScolsTable) table = NULL;
    g_autoptr(JsonObject) json = json_object_new();

    tfstctl_output_configure(&settings);
    table = tfstctl_output_table_new();
    tfstctl_output_table_new_column(table, "NAME", 0);
    tfstctl_output_table_new_column(table, "SIZE", SCOLS_FL_RIGHT);
    tfstctl_output_table_new_column(table, "NOTE", 0);
    add_line(table, "a", "1", "x");
    tfstctl_output_table_print(table);
    json_object_set_int_member(json, "size_bytes", 1);
    json_object_set_array_member(json, "list", json_array_new());
    tfstctl_output_json_print_object(json);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  /* (libsmartcols keeps the header's width without the header line) */
  g_test_trap_assert_stdout("x     a\n{\"size_bytes\":1,\"list\":[]}\n");
}

/* An unknown -o column is usage (exit 2) naming the columns there are. */
static void
test_unknown_column(void)
{
  if (g_test_subprocess()) {
    char *columns[] = {(char *)"bogus", NULL};
    TfstctlOutputSettings settings = {FALSE, FALSE, columns};
    g_autoptr(TfstctlScolsTable) table = NULL;

    tfstctl_output_configure(&settings);
    table = tfstctl_output_table_new();
    tfstctl_output_table_new_column(table, "NAME", 0);
    add_line(table, "a", NULL, NULL);
    tfstctl_output_table_print(table);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed();
  g_test_trap_assert_stdout("");
  g_test_trap_assert_stderr("*no column “bogus”; the columns are: NAME*");
}

static void
test_durations(void)
{
  static const struct {
    guint64 usec;
    const char *text;
  } cases[] = {
      {0, "0s"},
      {450 * 1000, "450ms"},
      {12 * G_USEC_PER_SEC + 345678, "12s"},
      {192 * G_USEC_PER_SEC, "3min 12s"},
      {G_GUINT64_CONSTANT(3907) * G_USEC_PER_SEC, "1h 5min"},
      {G_GUINT64_CONSTANT(183600) * G_USEC_PER_SEC, "2d 3h"},
      {G_GUINT64_CONSTANT(3607) * G_USEC_PER_SEC, "1h 7s"},
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *text = tfstctl_format_duration(cases[i].usec);
    g_assert_cmpstr(text, ==, cases[i].text);
  }
  /* whole seconds only */
  g_autofree char *seconds = tfstctl_format_seconds(125 * G_USEC_PER_SEC + 999999);
  g_assert_cmpstr(seconds, ==, "2min 5s");
}

static void
test_relative(void)
{
  gint64 now = g_get_real_time();
  g_autofree char *ago = tfstctl_format_time_relative((guint64)(now - 192 * G_USEC_PER_SEC));
  g_autofree char *soon = tfstctl_format_time_relative((guint64)(now + 65 * G_USEC_PER_SEC));
  g_autofree char *none = tfstctl_format_time_relative(0);
  g_autofree char *both = tfstctl_format_time((guint64)(now - 5 * G_USEC_PER_SEC));

  /* The clock moves while the test runs, never by a minute. */
  g_assert_true(g_str_equal(ago, "3min 12s ago") || g_str_equal(ago, "3min 13s ago"));
  g_assert_true(g_str_equal(soon, "in 1min 5s") || g_str_equal(soon, "in 1min 4s"));
  g_assert_cmpstr(none, ==, "-");
  g_assert_true(g_str_has_suffix(both, "s ago"));
  g_assert_nonnull(strstr(both, "; "));
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
  g_test_add_func("/tfstctl/output/settings", test_settings);
  g_test_add_func("/tfstctl/output/unknown-column", test_unknown_column);
  g_test_add_func("/tfstctl/format/durations", test_durations);
  g_test_add_func("/tfstctl/format/relative", test_relative);
  return g_test_run();
}
