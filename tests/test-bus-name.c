/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-bus-name.h"

#include <gio/gio.h>

static void
test_escape(void)
{
  const struct {
    const char *role, *instance, *name;
  } cases[] = {
      {"relay", "2", "org.tfst.Tfst1.relay_2"},
      {"epproxy", "dmz-1", "org.tfst.Tfst1.epproxy_dmz_2d1"},
      {"gwproxy", "a_b.c", "org.tfst.Tfst1.gwproxy_a_5fb_2ec"},
      {"relay", "", "org.tfst.Tfst1.relay__"},
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *name = tfst_bus_name_for(cases[i].role, cases[i].instance);
    g_assert_cmpstr(name, ==, cases[i].name);
    g_assert_true(g_dbus_is_name(name));
  }
}

/* Any instance string maps to a valid bus name and back to itself. */
static void
test_roundtrip(void)
{
  const char *instances[] = {"2", "x y", "über", "a_b", "__", "1.2.3.4", "-", "z"};

  for (guint i = 0; i < G_N_ELEMENTS(instances); i++) {
    g_autofree char *name = tfst_bus_name_for("relay", instances[i]);
    g_autofree char *role = NULL, *inst = NULL;
    g_assert_true(g_dbus_is_name(name));
    g_assert_true(tfst_bus_name_parse(name, &role, &inst));
    g_assert_cmpstr(role, ==, "relay");
    g_assert_cmpstr(inst, ==, instances[i]);
  }
}

static void
test_parse_bad(void)
{
  const char *bad[] = {
      "org.freedesktop.DBus", "org.tfst.Tfst1.relay", "org.tfst.Tfst1._2",
      "org.tfst.Tfst1.relay_2.x", "org.tfst.Tfst1.relay_zz_", "org.tfst.Tfst1.relay_a_4",
      /* instances no configuration file can have: paths
       * of them would leave tfstctl collect's directory */
      "org.tfst.Tfst1.relay__2e_2e_2f_2e_2e_2f_2e_2e_2fx", "org.tfst.Tfst1.relay_a_2fb",
      "org.tfst.Tfst1.relay__2e_2e", "org.tfst.Tfst1.relay__2e", "org.tfst.Tfst1.relay__",
      "org.tfst.Tfst1.relay_a_0ab", "org.tfst.Tfst1.relay_a_00b"};

  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *role = NULL, *inst = NULL;
    g_assert_false(tfst_bus_name_parse(bad[i], &role, &inst));
    g_assert_null(role);
  }
}

static void
test_instance_valid(void)
{
  const char *good[] = {"2", "a.b", "...", "x y", "über", "-"};
  const char *bad[] = {"", ".", "..", "a/b", "/", "../x", "a\nb", "a\tb", "\x7f"};

  for (guint i = 0; i < G_N_ELEMENTS(good); i++)
    g_assert_true(tfst_bus_name_instance_is_valid(good[i]));
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
    g_assert_false(tfst_bus_name_instance_is_valid(bad[i]));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/bus-name/escape", test_escape);
  g_test_add_func("/bus-name/roundtrip", test_roundtrip);
  g_test_add_func("/bus-name/parse-bad", test_parse_bad);
  g_test_add_func("/bus-name/instance-valid", test_instance_valid);
  return g_test_run();
}
