/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl events: GetSinks() dictionaries to rows (missing keys and other
 * types read as empty and as absent, unknown keys ignored), choosing a
 * sink by name, the spool and age values, the records and the JSON (only
 * the keys a sink has, in both). */
#include "tfstctl-output.h"
#include "tfstctl-sinks.h"

static GVariant *
counts(const char *reason, guint64 n)
{
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a{st}"));

  if (reason != NULL)
    g_variant_builder_add(&b, "{st}", reason, n);
  return g_variant_builder_end(&b);
}

static GVariant *
collect_dict(void)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(NULL);
  const char *listen[] = {"udp:0.0.0.0:514", "tcp:[::1]:6514", NULL};

  g_variant_dict_insert(&d, "Name", "s", "syslog");
  g_variant_dict_insert(&d, "Role", "s", "collect");
  g_variant_dict_insert_value(&d, "Listen", g_variant_new_strv(listen, -1));
  g_variant_dict_insert(&d, "Path", "s", "relay1");
  g_variant_dict_insert(&d, "Received", "t", (guint64)1000);
  g_variant_dict_insert(&d, "Spooled", "t", (guint64)997);
  g_variant_dict_insert(&d, "Forwarded", "t", (guint64)990);
  g_variant_dict_insert(&d, "Resent", "t", (guint64)12);
  g_variant_dict_insert(&d, "Acknowledged", "t", (guint64)980);
  g_variant_dict_insert_value(&d, "Dropped", counts("spool-full", 3));
  g_variant_dict_insert_value(&d, "Malformed", counts(NULL, 0));
  g_variant_dict_insert(&d, "SpoolBytes", "t", (guint64)12897485);
  g_variant_dict_insert(&d, "SpoolEvents", "t", (guint64)17);
  g_variant_dict_insert(&d, "SpoolCapacity", "t", (guint64)256 * 1024 * 1024);
  g_variant_dict_insert(&d, "OldestUnackedAge", "t", (guint64)185 * G_USEC_PER_SEC);
  g_variant_dict_insert(&d, "FarEndStatus", "s", "");
  g_variant_dict_insert(&d, "Connections", "u", (guint32)2);
  return g_variant_dict_end(&d);
}

static GVariant *
deliver_dict(void)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(NULL);

  g_variant_dict_insert(&d, "Name", "s", "traps");
  g_variant_dict_insert(&d, "Role", "s", "deliver");
  g_variant_dict_insert(&d, "Target", "s", "tcp:127.0.0.1:10514");
  g_variant_dict_insert(&d, "TargetState", "s", "down");
  g_variant_dict_insert(&d, "TargetError", "s", "ECONNREFUSED: Connection refused");
  g_variant_dict_insert(&d, "Path", "s", "relay1");
  g_variant_dict_insert(&d, "Received", "t", (guint64)50);
  g_variant_dict_insert(&d, "Delivered", "t", (guint64)40);
  g_variant_dict_insert(&d, "Duplicates", "t", (guint64)2);
  return g_variant_dict_end(&d);
}

/* From a newer tfstd: a new role, a key of another type, a new key. */
static GVariant *
odd_dict(void)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(NULL);

  g_variant_dict_insert(&d, "Name", "s", "odd");
  g_variant_dict_insert(&d, "Role", "s", "mirror");
  g_variant_dict_insert(&d, "Received", "u", (guint32)5);
  g_variant_dict_insert(&d, "Colour", "s", "blue");
  return g_variant_dict_end(&d);
}

/* A stream a relay passes on: its origin, no spool. */
static GVariant *
relay_dict(void)
{
  g_auto(GVariantDict) d = G_VARIANT_DICT_INIT(NULL);

  g_variant_dict_insert(&d, "Name", "s", "syslog");
  g_variant_dict_insert(&d, "Origin", "s", "gw1");
  g_variant_dict_insert(&d, "Role", "s", "relay");
  g_variant_dict_insert(&d, "Path", "s", "ep");
  g_variant_dict_insert(&d, "Received", "t", (guint64)7);
  g_variant_dict_insert(&d, "Forwarded", "t", (guint64)6);
  g_variant_dict_insert_value(&d, "Dropped", counts("congested", 1));
  return g_variant_dict_end(&d);
}

static GVariant *
make_rows(void)
{
  g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
  g_autoptr(GVariant) sinks = NULL;

  g_variant_builder_add_value(&b, collect_dict());
  g_variant_builder_add_value(&b, deliver_dict());
  g_variant_builder_add_value(&b, odd_dict());
  g_variant_builder_add_value(&b, relay_dict());
  sinks = g_variant_ref_sink(g_variant_builder_end(&b));
  return tfstctl_sinks_rows(sinks);
}

static void
test_rows(void)
{
  g_autoptr(GVariant) rows = make_rows();
  g_autoptr(GVariant) none = tfstctl_sinks_rows(NULL);
  g_autoptr(GVariant) other =
      g_variant_ref_sink(g_variant_new_strv((const char *[]){"a", NULL}, -1));
  g_autoptr(GVariant) from_other = tfstctl_sinks_rows(other);
  g_autoptr(GVariant) odd = NULL;
  g_autoptr(GVariant) received = NULL;
  g_autoptr(GVariant) present = NULL;

  g_assert_true(g_variant_is_of_type(rows, G_VARIANT_TYPE("a" TFSTCTL_SINKS_ROW)));
  g_assert_cmpuint(g_variant_n_children(rows), ==, 4);
  g_assert_cmpuint(g_variant_n_children(none), ==, 0);
  g_assert_cmpuint(g_variant_n_children(from_other), ==, 0);
  odd = g_variant_get_child_value(rows, 2);
  received = g_variant_get_child_value(odd, 8);
  present = g_variant_get_child_value(odd, 23);
  /* Received had the wrong type: 0, and absent; Name and Role present. */
  g_assert_cmpuint(g_variant_get_uint64(received), ==, 0);
  g_assert_cmpuint(g_variant_get_uint64(present), ==, 0x3);
}

static void
test_select(void)
{
  g_autoptr(GVariant) rows = make_rows();
  g_autoptr(GVariant) all = tfstctl_sinks_select(rows, NULL);
  g_autoptr(GVariant) syslog = tfstctl_sinks_select(rows, "syslog");
  g_autoptr(GVariant) traps = tfstctl_sinks_select(rows, "traps");
  g_autoptr(GVariant) nothing = tfstctl_sinks_select(rows, "trap");
  g_autoptr(GVariant) first = NULL;
  const char *name = NULL;

  g_assert_cmpuint(g_variant_n_children(all), ==, 4);
  /* The collecting end and a stream relayed through: both named syslog. */
  g_assert_cmpuint(g_variant_n_children(syslog), ==, 2);
  g_assert_cmpuint(g_variant_n_children(traps), ==, 1);
  g_assert_cmpuint(g_variant_n_children(nothing), ==, 0);
  first = g_variant_get_child_value(traps, 0);
  g_variant_get_child(first, 0, "&s", &name);
  g_assert_cmpstr(name, ==, "traps");
}

static void
check_text(char *text, const char *expected)
{
  g_assert_cmpstr(text, ==, expected);
  g_free(text);
}

static void
test_values(void)
{
  check_text(tfstctl_sinks_format_spool(12897485, 256 * 1024 * 1024),
             "12.3 MiB of 256 MiB (4.8 %)");
  check_text(tfstctl_sinks_format_spool(0, 1024 * 1024), "0 bytes of 1 MiB (0.0 %)");
  check_text(tfstctl_sinks_format_spool(3 * 1024 * 1024 * 1024ull, 3 * 1024 * 1024 * 1024ull),
             "3 GiB of 3 GiB (100.0 %)");
  check_text(tfstctl_sinks_format_spool(1536, 0), "1.5 KiB");
  check_text(tfstctl_sinks_format_age(0), "none");
  check_text(tfstctl_sinks_format_age(400000), "0.4s");
  check_text(tfstctl_sinks_format_age(42 * G_USEC_PER_SEC + 900000), "42s");
  check_text(tfstctl_sinks_format_age((guint64)185 * G_USEC_PER_SEC), "3m 05s");
  check_text(tfstctl_sinks_format_age((guint64)7260 * G_USEC_PER_SEC), "2h 01m");
}

/* Each sink shows what applies to it: the collecting end no target, the
 * delivering end no spool; Dropped lists reasons, "none" when empty. */
static void
test_records(void)
{
  g_autoptr(GVariant) rows = NULL;
  g_autoptr(GVariant) none = NULL;

  if (g_test_subprocess()) {
    rows = make_rows();
    tfstctl_sinks_print(rows);
    none = tfstctl_sinks_rows(NULL);
    tfstctl_sinks_print(none);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  g_test_trap_assert_stdout("Sink syslog (collecting end):\n"
                            "               Listen:  udp:0.0.0.0:514\n"
                            "                        tcp:[::1]:6514\n"
                            "                 Path:  relay1\n"
                            "          Connections:  2\n"
                            "             Received:  1000\n"
                            "              Spooled:  997\n"
                            "            Forwarded:  990\n"
                            "               Resent:  12\n"
                            "         Acknowledged:  980\n"
                            "              Dropped:  spool-full: 3\n"
                            "            Malformed:  none\n"
                            "                Spool:  12.3 MiB of 256 MiB (4.8 %), 17 events\n"
                            "Oldest unacknowledged:  3m 05s\n"
                            "              Far end:  ok\n"
                            "\n"
                            "Sink traps (delivering end):\n"
                            "      Target:  tcp:127.0.0.1:10514\n"
                            "Target state:  down\n"
                            "Target error:  ECONNREFUSED: Connection refused\n"
                            "        Path:  relay1\n"
                            "    Received:  50\n"
                            "   Delivered:  40\n"
                            "  Duplicates:  2\n"
                            "\n"
                            "Sink odd (mirror):\n"
                            "\n"
                            "Sink syslog (relayed):\n"
                            "   Origin:  gw1\n"
                            "     Path:  ep\n"
                            " Received:  7\n"
                            "Forwarded:  6\n"
                            "  Dropped:  congested: 1\n"
                            "No event sinks ([Events] sections) on this instance.\n");
}

static void
test_json(void)
{
  g_autoptr(GVariant) rows = NULL;
  g_autoptr(JsonArray) json = NULL;

  if (g_test_subprocess()) {
    rows = make_rows();
    json = tfstctl_sinks_json(rows);
    tfstctl_output_json_print_array(json);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  g_test_trap_assert_stdout("[\n"
                            "  {\n"
                            "    \"name\" : \"syslog\",\n"
                            "    \"role\" : \"collect\",\n"
                            "    \"path\" : \"relay1\",\n"
                            "    \"received\" : 1000,\n"
                            "    \"spooled\" : 997,\n"
                            "    \"forwarded\" : 990,\n"
                            "    \"resent\" : 12,\n"
                            "    \"acknowledged\" : 980,\n"
                            "    \"spool_bytes\" : 12897485,\n"
                            "    \"spool_events\" : 17,\n"
                            "    \"spool_capacity_bytes\" : 268435456,\n"
                            "    \"oldest_unacked_age_us\" : 185000000,\n"
                            "    \"far_end_status\" : \"\",\n"
                            "    \"connections\" : 2,\n"
                            "    \"listen\" : [\n"
                            "      \"udp:0.0.0.0:514\",\n"
                            "      \"tcp:[::1]:6514\"\n"
                            "    ],\n"
                            "    \"dropped\" : {\n"
                            "      \"spool-full\" : 3\n"
                            "    },\n"
                            "    \"malformed\" : {    }\n"
                            "  },\n"
                            "  {\n"
                            "    \"name\" : \"traps\",\n"
                            "    \"role\" : \"deliver\",\n"
                            "    \"path\" : \"relay1\",\n"
                            "    \"target\" : \"tcp:127.0.0.1:10514\",\n"
                            "    \"target_state\" : \"down\",\n"
                            "    \"target_error\" : \"ECONNREFUSED: Connection refused\",\n"
                            "    \"received\" : 50,\n"
                            "    \"delivered\" : 40,\n"
                            "    \"duplicates\" : 2\n"
                            "  },\n"
                            "  {\n"
                            "    \"name\" : \"odd\",\n"
                            "    \"role\" : \"mirror\"\n"
                            "  },\n"
                            "  {\n"
                            "    \"name\" : \"syslog\",\n"
                            "    \"role\" : \"relay\",\n"
                            "    \"origin\" : \"gw1\",\n"
                            "    \"path\" : \"ep\",\n"
                            "    \"received\" : 7,\n"
                            "    \"forwarded\" : 6,\n"
                            "    \"dropped\" : {\n"
                            "      \"congested\" : 1\n"
                            "    }\n"
                            "  }\n"
                            "]\n");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfstctl/sinks/rows", test_rows);
  g_test_add_func("/tfstctl/sinks/select", test_select);
  g_test_add_func("/tfstctl/sinks/values", test_values);
  g_test_add_func("/tfstctl/sinks/records", test_records);
  g_test_add_func("/tfstctl/sinks/json", test_json);
  return g_test_run();
}
