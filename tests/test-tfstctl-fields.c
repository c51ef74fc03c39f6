/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl's field descriptions: one description gives the table (headers,
 * order, alignment, cell formats) and the JSON (member names, types by the
 * row's types) of the same rows. */
#include "tfstctl-fields.h"
#include "tfstctl-output.h"

#include <glib/gi18n.h>

#define ROW "(ssqtuubxay)"

static char *
upper_cell_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) name = g_variant_get_child_value(row, field->member);

  return g_ascii_strup(g_variant_get_string(name, NULL), -1);
}

static const TfstctlField fields[] = {
    {N_("NAME"), "name", 0, TFSTCTL_FIELD_CUSTOM, .cell = upper_cell_cb},
    {N_("REMOTE"), "address", 1, TFSTCTL_FIELD_ENDPOINT, .port = 2},
    {NULL, "port", 2},
    {N_("SIZE"), "size", 3, TFSTCTL_FIELD_BYTES, TFSTCTL_FIELD_RIGHT},
    {N_("RTT"), "rtt_us", 4, TFSTCTL_FIELD_RTT, TFSTCTL_FIELD_RIGHT},
    {N_("SPI"), "spi", 5, TFSTCTL_FIELD_SPI},
    {N_("UP"), "up", 6, TFSTCTL_FIELD_YES_NO},
    {N_("DELTA"), "delta", 7, TFSTCTL_FIELD_DASH, TFSTCTL_FIELD_RIGHT},
    {NULL, "raw", 8},
    {N_("NOTE"), NULL, 0, TFSTCTL_FIELD_DASH},
};
static const TfstctlFields desc = TFSTCTL_FIELDS(ROW, fields);

static GVariant *
make_rows(void)
{
  static const guint8 raw[] = {0x45, 0x00};
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a" ROW));

  g_variant_builder_add(&b, "(ssqtuubx@ay)", "gw1", "2001:db8::1", (guint16)443, (guint64)512,
                        (guint32)400, (guint32)4096, TRUE, (gint64)-5,
                        g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, raw, sizeof(raw), 1));
  g_variant_builder_add(&b, "(ssqtuubx@ay)", "", "192.0.2.1", (guint16)80, (guint64)0, (guint32)0,
                        (guint32)1, FALSE, (gint64)0,
                        g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, NULL, 0, 1));
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* Output is checked in a subprocess: the printers write to stdout. */
static void
test_table(void)
{
  g_autoptr(GVariant) rows = NULL;

  if (g_test_subprocess()) {
    rows = make_rows();
    tfstctl_fields_print_table(&desc, rows);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  /* Only the fields with a header, in order; RIGHT pads on the left; the
   * last cell is not padded. */
  g_test_trap_assert_stdout(
      "NAME  REMOTE                  SIZE     RTT  SPI         UP   DELTA  NOTE\n"
      "GW1   [2001:db8::1]:443  512 bytes  0.4 ms  0x00001000  yes     -5  gw1\n"
      "      192.0.2.1:80         0 bytes       -  0x00000001  no       -  -\n");
}

static void
test_json(void)
{
  g_autoptr(GVariant) rows = NULL;
  g_autoptr(JsonArray) json = NULL;

  if (g_test_subprocess()) {
    rows = make_rows();
    json = tfstctl_fields_json_rows(&desc, rows);
    tfstctl_output_json_print_array(json);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  /* Every field with a JSON name, the exact values, typed by the row. */
  g_test_trap_assert_stdout("[\n"
                            "  {\n"
                            "    \"name\" : \"gw1\",\n"
                            "    \"address\" : \"2001:db8::1\",\n"
                            "    \"port\" : 443,\n"
                            "    \"size\" : 512,\n"
                            "    \"rtt_us\" : 400,\n"
                            "    \"spi\" : 4096,\n"
                            "    \"up\" : true,\n"
                            "    \"delta\" : -5,\n"
                            "    \"raw\" : \"4500\"\n"
                            "  },\n"
                            "  {\n"
                            "    \"name\" : \"\",\n"
                            "    \"address\" : \"192.0.2.1\",\n"
                            "    \"port\" : 80,\n"
                            "    \"size\" : 0,\n"
                            "    \"rtt_us\" : 0,\n"
                            "    \"spi\" : 1,\n"
                            "    \"up\" : false,\n"
                            "    \"delta\" : 0,\n"
                            "    \"raw\" : \"\"\n"
                            "  }\n"
                            "]\n");
}

/* A property a newer or older instance sends with another type is shown
 * as no rows, not misread. */
static void
test_wrong_type(void)
{
  g_autoptr(GVariant) other = NULL;
  g_autoptr(JsonObject) json = NULL;

  if (g_test_subprocess()) {
    other = g_variant_ref_sink(g_variant_new_strv((const char *[]){"a", NULL}, -1));
    json = json_object_new();
    json_object_set_array_member(json, "none", tfstctl_fields_json_rows(&desc, NULL));
    json_object_set_array_member(json, "other", tfstctl_fields_json_rows(&desc, other));
    json_object_set_member(json, "printed", tfstctl_fields_json_value(other));
    tfstctl_output_json_print_object(json);
    tfstctl_fields_print_table(&desc, other);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  g_test_trap_assert_stdout("{\n"
                            "  \"none\" : [],\n"
                            "  \"other\" : [],\n"
                            "  \"printed\" : \"['a']\"\n"
                            "}\n"
                            "NAME  REMOTE  SIZE  RTT  SPI  UP  DELTA  NOTE\n");
}

static const TfstctlField inner_fields[] = {
    {N_("PROTO"), "protocol", 0},
    {N_("BYTES"), "bytes", 1, .flags = TFSTCTL_FIELD_RIGHT},
};
static const TfstctlFields inner_desc = TFSTCTL_FIELDS("(st)", inner_fields);

static const TfstctlField outer_fields[] = {
    {N_("SPI"), "spi", 0, TFSTCTL_FIELD_SPI},
    {NULL, "sas", 1, .rows = &inner_desc},
    {N_("KIND"), "kind", 2},
};
static const TfstctlFields outer_desc = TFSTCTL_FIELDS("(ua(st)s)", outer_fields);

/* A member that is an array of rows: nested in JSON, a line per nested
 * row in the table, with the outer cells repeated; an outer row without
 * nested rows has no line. */
static void
test_nested(void)
{
  g_autoptr(GVariant) rows = NULL;
  g_autoptr(JsonArray) json = NULL;

  if (g_test_subprocess()) {
    rows = g_variant_ref_sink(g_variant_new_parsed(
        "[(uint32 4096, [('esp', uint64 1), ('ah', 22)], 'other-tunnel'), (7, [], 'x')]"));
    tfstctl_fields_print_table(&outer_desc, rows);
    json = tfstctl_fields_json_rows(&outer_desc, rows);
    tfstctl_output_json_print_array(json);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  g_test_trap_assert_stdout("SPI         PROTO  BYTES  KIND\n"
                            "0x00001000  esp        1  other-tunnel\n"
                            "0x00001000  ah        22  other-tunnel\n"
                            "[\n"
                            "  {\n"
                            "    \"spi\" : 4096,\n"
                            "    \"sas\" : [\n"
                            "      {\n"
                            "        \"protocol\" : \"esp\",\n"
                            "        \"bytes\" : 1\n"
                            "      },\n"
                            "      {\n"
                            "        \"protocol\" : \"ah\",\n"
                            "        \"bytes\" : 22\n"
                            "      }\n"
                            "    ],\n"
                            "    \"kind\" : \"other-tunnel\"\n"
                            "  },\n"
                            "  {\n"
                            "    \"spi\" : 7,\n"
                            "    \"sas\" : [],\n"
                            "    \"kind\" : \"x\"\n"
                            "  }\n"
                            "]\n");
}

static GPtrArray *
words_lines_cb(GVariant *row, const TfstctlField *field)
{
  g_autoptr(GVariant) words = g_variant_get_child_value(row, field->member);
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

  for (gsize i = 0; i < g_variant_n_children(words); i++) {
    g_autoptr(GVariant) word = g_variant_get_child_value(words, i);
    g_ptr_array_add(lines, g_variant_dup_string(word, NULL));
  }
  /* Left out when there is nothing to say at all ("-" as a marker). */
  if (lines->len == 1 && g_str_equal(g_ptr_array_index(lines, 0), "-"))
    return NULL;
  return g_steal_pointer(&lines);
}

static const TfstctlField record_fields[] = {
    {NULL, "id", 0},
    {N_("Label"), "label", 1},
    {N_("Words"), "words", 2, .lines = words_lines_cb},
    {N_("Others"), "others", 3, .lines = words_lines_cb},
    {N_("Gone"), "gone", 4, .lines = words_lines_cb},
    {N_("Size"), "size", 5, TFSTCTL_FIELD_BYTES},
};
static const TfstctlFields record_desc = TFSTCTL_FIELDS("(umsasasast)", record_fields);

/* A record: a line per field with a header, names right-aligned, several
 * lines for lines(), "none" for no lines, nothing for NULL; a maybe is its
 * value or empty in the text and null in JSON. */
static void
test_record(void)
{
  g_autoptr(GVariant) row = NULL;
  g_autoptr(JsonObject) json = NULL;

  if (g_test_subprocess()) {
    row = g_variant_ref_sink(
        g_variant_new_parsed("(uint32 7, @ms nothing, ['a', 'b'], @as [], ['-'], uint64 100)"));
    tfstctl_fields_print_record(&record_desc, row);
    json = tfstctl_fields_json_row(&record_desc, row);
    tfstctl_output_json_print_object(json);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  g_test_trap_assert_stdout(" Label:\n"
                            " Words:  a\n"
                            "         b\n"
                            "Others:  none\n"
                            "  Size:  100 bytes\n"
                            "{\n"
                            "  \"id\" : 7,\n"
                            "  \"label\" : null,\n"
                            "  \"words\" : \"['a', 'b']\",\n"
                            "  \"others\" : \"@as []\",\n"
                            "  \"gone\" : \"['-']\",\n"
                            "  \"size\" : 100\n"
                            "}\n");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfstctl/fields/table", test_table);
  g_test_add_func("/tfstctl/fields/json", test_json);
  g_test_add_func("/tfstctl/fields/wrong-type", test_wrong_type);
  g_test_add_func("/tfstctl/fields/nested", test_nested);
  g_test_add_func("/tfstctl/fields/record", test_record);
  return g_test_run();
}
