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
  const char *bad[] = {"org.freedesktop.DBus",     "org.tfst.Tfst1.relay",
                       "org.tfst.Tfst1._2",        "org.tfst.Tfst1.relay_2.x",
                       "org.tfst.Tfst1.relay_zz_", "org.tfst.Tfst1.relay_a_4"};

  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *role = NULL, *inst = NULL;
    g_assert_false(tfst_bus_name_parse(bad[i], &role, &inst));
    g_assert_null(role);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/bus-name/escape", test_escape);
  g_test_add_func("/bus-name/roundtrip", test_roundtrip);
  g_test_add_func("/bus-name/parse-bad", test_parse_bad);
  return g_test_run();
}
