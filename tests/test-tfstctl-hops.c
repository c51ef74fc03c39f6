/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl's view of the Hops property: dictionaries to rows (missing keys
 * and other types read as empty, unknown keys ignored), the role of a
 * parent, the tables of tfstctl status and the JSON. */
#include "tfstctl-hops.h"
#include "tfstctl-output.h"

static GVariant *
hop_dict(const char *direction, const char *label, const char *role, const char *state,
         gboolean connect)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(NULL);

  g_variant_dict_insert(&d, "direction", "s", direction);
  g_variant_dict_insert(&d, "label", "s", label);
  g_variant_dict_insert(&d, "address", "s", "192.0.2.1");
  g_variant_dict_insert(&d, "port", "q", (guint16)1918);
  g_variant_dict_insert(&d, "role", "s", role);
  g_variant_dict_insert(&d, "state", "s", state);
  g_variant_dict_insert(&d, "attempts", "u", (guint32)3);
  g_variant_dict_insert(&d, "connect", "b", connect);
  return g_variant_dict_end(&d);
}

static GVariant *
make_hops(void)
{
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
  g_auto(GVariantDict) odd = G_VARIANT_DICT_INIT(NULL);

  g_variant_builder_add_value(&b, hop_dict("parent", "relayA", "active", "up", TRUE));
  g_variant_builder_add_value(&b, hop_dict("parent", "", "down", "waiting", TRUE));
  g_variant_builder_add_value(&b, hop_dict("child", "gw1", "", "up", FALSE));
  g_variant_builder_add_value(&b, hop_dict("child", "gw2", "", "connecting", TRUE));
  /* From a newer tfstd: a new key, a key of another type, a new state. */
  g_variant_dict_insert(&odd, "direction", "s", "child");
  g_variant_dict_insert(&odd, "label", "s", "gw3");
  g_variant_dict_insert(&odd, "state", "s", "probing");
  g_variant_dict_insert(&odd, "attempts", "s", "many");
  g_variant_dict_insert(&odd, "last-error", "s", "ECONNREFUSED: cannot connect");
  g_variant_dict_insert(&odd, "next-attempt", "t", (guint64)0);
  g_variant_dict_insert(&odd, "colour", "s", "blue");
  g_variant_dict_insert(&odd, "connect", "b", TRUE);
  g_variant_builder_add_value(&b, g_variant_dict_end(&odd));
  /* A peer refused during its handshake. */
  g_variant_builder_add_value(&b, hop_dict("child", "evil", "", "refused", FALSE));
  return g_variant_ref_sink(g_variant_builder_end(&b));
}

static void
test_rows(void)
{
  g_autoptr(GVariant) hops = make_hops();
  g_autoptr(GVariant) rows = tfstctl_hops_rows(hops);
  g_autoptr(GVariant) none = tfstctl_hops_rows(NULL);
  g_autoptr(GVariant) other =
      g_variant_ref_sink(g_variant_new_strv((const char *[]){"a", NULL}, -1));
  g_autoptr(GVariant) from_other = tfstctl_hops_rows(other);
  g_autoptr(GVariant) odd = NULL;
  const char *state, *error;
  guint32 attempts;

  g_assert_true(g_variant_is_of_type(rows, G_VARIANT_TYPE("a" TFSTCTL_HOPS_ROW)));
  g_assert_cmpuint(g_variant_n_children(rows), ==, 6);
  g_assert_cmpuint(g_variant_n_children(none), ==, 0);
  g_assert_cmpuint(g_variant_n_children(from_other), ==, 0);
  odd = g_variant_get_child_value(rows, 4);
  g_variant_get(odd, "(&s&s&sq&s&sttuu&stub)", NULL, NULL, NULL, NULL, NULL, &state, NULL, NULL,
                NULL, &attempts, &error, NULL, NULL, NULL);
  g_assert_cmpstr(state, ==, "probing");
  g_assert_cmpuint(attempts, ==, 0);
  g_assert_cmpstr(error, ==, "ECONNREFUSED: cannot connect");
  g_assert_cmpstr(tfstctl_hops_parent_role(rows, "relayA"), ==, "active");
  g_assert_null(tfstctl_hops_parent_role(rows, "gw1"));
}

/* Parents, the children this instance connects to, those that connected
 * to it, then those refused during the handshake; values it does not know
 * are shown as they are. */
static void
test_tables(void)
{
  g_autoptr(GVariant) hops = NULL, rows = NULL;

  if (g_test_subprocess()) {
    hops = make_hops();
    rows = tfstctl_hops_rows(hops);
    tfstctl_hops_print_tables(rows);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  g_test_trap_assert_stdout(
      "\nParent hops:\n"
      "LABEL   ADDRESS         ROLE    STATE    SINCE  ATTEMPTS  LAST ERROR  NEXT ATTEMPT\n"
      "relayA  192.0.2.1:1918  active  up       -             3  -           -\n"
      "-       192.0.2.1:1918  down    waiting  -             3  -           -\n"
      "\nChild hops this instance connects to:\n"
      "LABEL  ADDRESS         STATE       SINCE  ATTEMPTS  LAST ERROR                    NEXT "
      "ATTEMPT\n"
      "gw2    192.0.2.1:1918  connecting  -             3  -                             -\n"
      "gw3    *:0             probing     -             0  ECONNREFUSED: cannot connect  -\n"
      "\nChild hops that connected to this instance:\n"
      "LABEL  ADDRESS         STATE  SINCE  RECONNECTS  LAST ERROR\n"
      "gw1    192.0.2.1:1918  up     -               0  -\n"
      "\nChildren refused during the handshake:\n"
      "LABEL  ADDRESS    LAST  ATTEMPTS  LAST ERROR\n"
      "evil   192.0.2.1  -            3  -\n");
}

static void
test_json(void)
{
  g_autoptr(GVariant) hops = NULL, rows = NULL;
  g_autoptr(JsonArray) json = NULL;

  if (g_test_subprocess()) {
    hops = make_hops();
    rows = tfstctl_hops_rows(hops);
    json = tfstctl_fields_json_rows(&tfstctl_hops_desc, rows);
    json_array_remove_element(json, 5);
    json_array_remove_element(json, 4);
    json_array_remove_element(json, 3);
    json_array_remove_element(json, 2);
    json_array_remove_element(json, 1);
    tfstctl_output_json_print_array(json);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  g_test_trap_assert_stdout("[\n"
                            "  {\n"
                            "    \"direction\" : \"parent\",\n"
                            "    \"label\" : \"relayA\",\n"
                            "    \"address\" : \"192.0.2.1\",\n"
                            "    \"port\" : 1918,\n"
                            "    \"role\" : \"active\",\n"
                            "    \"state\" : \"up\",\n"
                            "    \"since_us\" : 0,\n"
                            "    \"rtt_us\" : 0,\n"
                            "    \"reconnects\" : 0,\n"
                            "    \"attempts\" : 3,\n"
                            "    \"last_error\" : \"\",\n"
                            "    \"next_attempt_us\" : 0,\n"
                            "    \"preference\" : 0,\n"
                            "    \"connect\" : true\n"
                            "  }\n"
                            "]\n");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfstctl/hops/rows", test_rows);
  g_test_add_func("/tfstctl/hops/tables", test_tables);
  g_test_add_func("/tfstctl/hops/json", test_json);
  return g_test_run();
}
