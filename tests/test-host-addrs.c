/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-addr.h"
#include "tfst-config.h"
#include "tfst-error.h"
#include "tfst-host-addrs.h"
#include "tfst-test-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* TEST-NET-1 (RFC 5737): documentation only, on no real host's interface
 * (checked, since a lab may still use the range). */
#define NOT_LOCAL_V4 "192.0.2.55"

static TfstSockAddr
ip(const char *text)
{
  TfstSockAddr a;

  g_assert_true(tfst_addr_parse(text, FALSE, &a, NULL));
  return a;
}

/* A sysctl directory with ipv4/ and ipv6/ip_nonlocal_bind, so the real
 * settings of the test host cannot change the outcome. */
static char *
fake_sysctl(gboolean v4, gboolean v6)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("tfst-host-addrs-XXXXXX", &error);
  g_autofree char *d4 = NULL;
  g_autofree char *d6 = NULL;
  g_autofree char *f4 = NULL;
  g_autofree char *f6 = NULL;

  g_assert_no_error(error);
  d4 = g_build_filename(dir, "ipv4", NULL);
  d6 = g_build_filename(dir, "ipv6", NULL);
  f4 = g_build_filename(d4, "ip_nonlocal_bind", NULL);
  f6 = g_build_filename(d6, "ip_nonlocal_bind", NULL);
  g_assert_cmpint(g_mkdir(d4, 0700), ==, 0);
  g_assert_cmpint(g_mkdir(d6, 0700), ==, 0);
  g_assert_true(g_file_set_contents(f4, v4 ? "1\n" : "0\n", -1, NULL));
  g_assert_true(g_file_set_contents(f6, v6 ? "1\n" : "0\n", -1, NULL));
  return dir;
}

/* TRUE when this host really has the address (bind() succeeds without
 * ip_nonlocal_bind in the way: IP_FREEBIND is not set). */
static gboolean
host_can_bind(const char *text)
{
  TfstSockAddr a = ip(text);
  int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = bind(fd, &a.sa, tfst_addr_len(&a)) == 0;
  close(fd);
  return ok;
}

static gboolean
ipv6_disabled(void)
{
  g_autofree char *text = NULL;
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return TRUE;
  close(fd);
  if (g_file_get_contents("/proc/sys/net/ipv6/conf/lo/disable_ipv6", &text, NULL, NULL))
    return g_str_has_prefix(text, "1");
  return FALSE;
}

static TfstHostAddrs *
load_host(const GArray *probe, gboolean nonlocal_v4, gboolean nonlocal_v6)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = fake_sysctl(nonlocal_v4, nonlocal_v6);
  TfstHostAddrs *h = tfst_host_addrs_load(probe, dir, &error);

  tfst_test_remove_tree(dir);
  if (h == NULL)
    g_test_message("netlink: %s", error->message);
  return h;
}

static TfstConfig *
gw_config(const char *text)
{
  g_autoptr(GError) error = NULL;
  TfstConfig *c = tfst_config_load_from_data(TFST_ROLE_GWPROXY, "t", text, "test.conf", &error);

  g_assert_no_error(error);
  return c;
}

/* ---- against the real host */

static void
test_loopback_ipv4(void)
{
  g_autoptr(GArray) probe = g_array_new(FALSE, TRUE, sizeof(TfstSockAddr));
  g_autoptr(TfstHostAddrs) h = NULL;
  TfstSockAddr lo = ip("127.0.0.1"), lo9 = ip("127.0.0.9");

  g_array_append_val(probe, lo9);
  h = load_host(probe, FALSE, FALSE);
  if (h == NULL) {
    g_test_skip("cannot read the host's addresses over netlink");
    return;
  }
  g_assert_cmpint(tfst_host_addrs_classify(h, &lo), ==, TFST_BIND_LOCAL);
  /* the rest of 127.0.0.0/8 binds too (local route of lo) */
  g_assert_cmpint(tfst_host_addrs_classify(h, &lo9), ==, TFST_BIND_LOCAL);
  lo = ip("::ffff:127.0.0.1");
  g_assert_cmpint(tfst_host_addrs_classify(h, &lo), ==, TFST_BIND_LOCAL);
}

static void
test_loopback_ipv6(void)
{
  g_autoptr(TfstHostAddrs) h = NULL;
  TfstSockAddr lo = ip("::1");

  if (ipv6_disabled()) {
    g_test_skip("IPv6 is disabled on this host");
    return;
  }
  h = load_host(NULL, FALSE, FALSE);
  if (h == NULL) {
    g_test_skip("cannot read the host's addresses over netlink");
    return;
  }
  g_assert_cmpint(tfst_host_addrs_classify(h, &lo), ==, TFST_BIND_LOCAL);
}

static void
test_test_net_not_local(void)
{
  g_autoptr(GArray) probe = g_array_new(FALSE, TRUE, sizeof(TfstSockAddr));
  g_autoptr(TfstHostAddrs) h = NULL;
  g_autoptr(TfstHostAddrs) h_nonlocal = NULL;
  TfstSockAddr a = ip(NOT_LOCAL_V4);

  if (host_can_bind(NOT_LOCAL_V4)) {
    g_test_skip("this host can bind " NOT_LOCAL_V4);
    return;
  }
  g_array_append_val(probe, a);
  h = load_host(probe, FALSE, FALSE);
  h_nonlocal = load_host(probe, TRUE, FALSE);
  if (h == NULL || h_nonlocal == NULL) {
    g_test_skip("cannot read the host's addresses over netlink");
    return;
  }
  g_assert_cmpint(tfst_host_addrs_classify(h, &a), ==, TFST_BIND_NOT_LOCAL);
  g_assert_cmpint(tfst_host_addrs_classify(h_nonlocal, &a), ==, TFST_BIND_NONLOCAL);
  /* a mapped address is bound by an AF_INET6 socket: the IPv6 setting counts */
  a = ip("::ffff:" NOT_LOCAL_V4);
  g_assert_cmpint(tfst_host_addrs_classify(h_nonlocal, &a), ==, TFST_BIND_NOT_LOCAL);
}

static const TfstHostAddrsNote *
only_note(const GArray *notes)
{
  g_assert_cmpuint(notes->len, ==, 1);
  g_test_message("%s", g_array_index(notes, TfstHostAddrsNote, 0).text);
  return &g_array_index(notes, TfstHostAddrsNote, 0);
}

/* Not an error any more (the address may come later, FreeBind): a note
 * that names the line, lists the host's addresses and says what happens
 * until the address arrives. */
static void
test_note_lists_host(void)
{
  g_autoptr(TfstConfig) c = gw_config("[Instance]\n"
                                      "Label=gw\n"
                                      "[Parent]\n"
                                      "Connect=127.0.0.1:26801\n"
                                      "LocalAddress=" NOT_LOCAL_V4 "\n");
  g_autoptr(GArray) probe = g_array_new(FALSE, TRUE, sizeof(TfstSockAddr));
  g_autoptr(TfstHostAddrs) h = NULL;
  g_autoptr(TfstHostAddrs) h_nonlocal = NULL;
  g_autoptr(GArray) notes = NULL;
  g_autoptr(GArray) none = NULL;
  const TfstHostAddrsNote *n;

  if (host_can_bind(NOT_LOCAL_V4)) {
    g_test_skip("this host can bind " NOT_LOCAL_V4);
    return;
  }
  g_array_append_val(probe, c->parent.local);
  h = load_host(probe, FALSE, FALSE);
  h_nonlocal = load_host(probe, TRUE, TRUE);
  if (h == NULL || h_nonlocal == NULL) {
    g_test_skip("cannot read the host's addresses over netlink");
    return;
  }
  notes = tfst_host_addrs_check_config(h, c, NULL);
  n = only_note(notes);
  g_assert_cmpint(n->priority, ==, LOG_NOTICE);
  g_assert_true(g_str_has_prefix(n->text, "test.conf:5: [Parent] LocalAddress=: " NOT_LOCAL_V4
                                          " is not an address of this host (yet); hops are "
                                          "opened from it once it is assigned"));
  g_assert_nonnull(strstr(n->text, "this host has: "));
  g_assert_nonnull(strstr(n->text, "127.0.0.1 (lo"));
  none = tfst_host_addrs_check_config(h_nonlocal, c, NULL);
  g_assert_cmpuint(none->len, ==, 0);
}

/* An [Events] Listen= address is checked like the hop and forward
 * listeners: the error names the section and the line. */
static void
test_events_listen_checked(void)
{
  g_autoptr(TfstConfig) c = gw_config("[Instance]\n"
                                      "Label=gw\n"
                                      "[Parent]\n"
                                      "Connect=127.0.0.1:26801\n"
                                      "[Events syslog]\n"
                                      "Listen=udp:127.0.0.1:26802 tcp:" NOT_LOCAL_V4 ":26803\n");
  g_autoptr(GArray) probe = g_array_new(FALSE, TRUE, sizeof(TfstSockAddr));
  g_autoptr(TfstHostAddrs) h = NULL;
  g_autoptr(GArray) notes = NULL;
  const TfstEventsConf *ev = tfst_config_events(c, "syslog");

  if (host_can_bind(NOT_LOCAL_V4)) {
    g_test_skip("this host can bind " NOT_LOCAL_V4);
    return;
  }
  g_assert_nonnull(ev);
  g_array_append_val(probe, g_array_index(ev->listen, TfstEventAddr, 1).addr);
  h = load_host(probe, FALSE, FALSE);
  if (h == NULL) {
    g_test_skip("cannot read the host's addresses over netlink");
    return;
  }
  notes = tfst_host_addrs_check_config(h, c, NULL);
  g_assert_true(g_str_has_prefix(only_note(notes)->text,
                                 "test.conf:6: [Events syslog] Listen=: " NOT_LOCAL_V4
                                 " is not an address of this host (yet); listening with "
                                 "IP_FREEBIND"));
}

/* With the location taken from a drop-in: the note points at the file that
 * set the key. */
static void
test_check_names_dropin(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp("tfst-host-addrs-XXXXXX", &error);
  g_autofree char *main_path = g_build_filename(dir, "gwproxy@t.conf", NULL);
  g_autofree char *dropin_dir = g_strconcat(main_path, ".d", NULL);
  g_autofree char *dropin = g_build_filename(dropin_dir, "50-fwd.conf", NULL);
  g_autofree char *expect = NULL;
  g_autofree char *prefix = NULL;
  g_autoptr(TfstConfig) c = NULL;
  g_autoptr(GArray) probe = g_array_new(FALSE, TRUE, sizeof(TfstSockAddr));
  g_autoptr(TfstHostAddrs) h = NULL;
  g_autoptr(GArray) notes = NULL;

  g_assert_no_error(error);
  if (host_can_bind(NOT_LOCAL_V4)) {
    tfst_test_remove_tree(dir);
    g_test_skip("this host can bind " NOT_LOCAL_V4);
    return;
  }
  g_assert_true(g_file_set_contents(main_path,
                                    "[Parent]\nConnect=127.0.0.1:26801\n"
                                    "[Forward x]\nListen=127.0.0.1:26810\n",
                                    -1, NULL));
  g_assert_cmpint(g_mkdir(dropin_dir, 0700), ==, 0);
  g_assert_true(g_file_set_contents(dropin, "# moved\n[Forward x]\nListen=" NOT_LOCAL_V4 ":26810\n",
                                    -1, NULL));
  c = tfst_config_load(TFST_ROLE_GWPROXY, "t", main_path, &error);
  g_assert_no_error(error);
  expect = g_strdup_printf("%s:2", main_path);
  g_assert_cmpstr(tfst_config_origin(c, "Parent", "Connect"), ==, expect);
  g_assert_null(tfst_config_origin(c, "Parent", "LocalAddress"));

  g_array_append_val(probe, tfst_config_forward(c, "x")->listen);
  h = load_host(probe, FALSE, FALSE);
  if (h == NULL) {
    tfst_test_remove_tree(dir);
    g_test_skip("cannot read the host's addresses over netlink");
    return;
  }
  notes = tfst_host_addrs_check_config(h, c, NULL);
  prefix = g_strdup_printf(
      "%s:3: [Forward x] Listen=: " NOT_LOCAL_V4 " is not an address of this host (yet)", dropin);
  g_assert_true(g_str_has_prefix(only_note(notes)->text, prefix));
  g_assert_nonnull(strstr(only_note(notes)->text, "127.0.0.1 (lo"));
  tfst_test_remove_tree(dir);
}

static void
test_check_local_passes(void)
{
  g_autoptr(TfstConfig) c = gw_config("[Parent]\n"
                                      "Connect=127.0.0.1:26801\n"
                                      "LocalAddress=127.0.0.1\n"
                                      "[Forward a]\n"
                                      "Listen=127.0.0.1:26810\n"
                                      "[Forward b]\n"
                                      "Listen=0.0.0.0:26811\n"
                                      "[Forward c]\n"
                                      "Listen=[::]:26812\n");
  g_autoptr(GArray) probe = g_array_new(FALSE, TRUE, sizeof(TfstSockAddr));
  g_autoptr(TfstHostAddrs) h = NULL;
  g_autoptr(GArray) notes = NULL;

  g_array_append_val(probe, c->parent.local);
  h = load_host(probe, FALSE, FALSE);
  if (h == NULL) {
    g_test_skip("cannot read the host's addresses over netlink");
    return;
  }
  notes = tfst_host_addrs_check_config(h, c, NULL);
  g_assert_cmpuint(notes->len, ==, 0);
}

/* ---- rules, on a hand-built host */

static TfstHostAddrs *
fake_host(void)
{
  TfstHostAddrs *h = tfst_host_addrs_new();
  TfstSockAddr a;

  a = ip("127.0.0.1");
  tfst_host_addrs_add(h, "lo", &a, 8, TFST_HOST_ADDR_LOOPBACK);
  a = ip("::1");
  tfst_host_addrs_add(h, "lo", &a, 128, TFST_HOST_ADDR_LOOPBACK);
  a = ip("10.0.0.5");
  tfst_host_addrs_add(h, "eth0", &a, 24, 0);
  a = ip("10.1.0.5");
  tfst_host_addrs_add(h, "eth1", &a, 24, TFST_HOST_ADDR_DOWN);
  a = ip("fd00::5");
  tfst_host_addrs_add(h, "eth1", &a, 64, TFST_HOST_ADDR_DOWN | TFST_HOST_ADDR_TENTATIVE);
  a = ip("fd00::6");
  tfst_host_addrs_add(h, "eth0", &a, 64, TFST_HOST_ADDR_DADFAILED);
  a = ip("203.0.113.0");
  tfst_host_addrs_add_local_route(h, &a, 24);
  return h;
}

static void
test_rules(void)
{
  g_autoptr(TfstHostAddrs) h = fake_host();
  static const struct {
    const char *addr;
    TfstBindCheck want;
  } cases[] = {
      {"0.0.0.0", TFST_BIND_WILDCARD},
      {"::", TFST_BIND_WILDCARD},
      {"::ffff:0.0.0.0", TFST_BIND_WILDCARD},
      {"127.0.0.1", TFST_BIND_LOCAL},
      {"127.1.2.3", TFST_BIND_LOCAL}, /* in lo's prefix */
      {"::1", TFST_BIND_LOCAL},
      {"10.0.0.5", TFST_BIND_LOCAL},
      {"10.0.0.6", TFST_BIND_NOT_LOCAL}, /* on eth0's network, not eth0's */
      {"10.1.0.5", TFST_BIND_LOCAL},     /* interface down: still binds */
      {"::ffff:10.0.0.5", TFST_BIND_LOCAL},
      {"::ffff:10.0.0.6", TFST_BIND_NOT_LOCAL},
      {"fd00::5", TFST_BIND_LOCAL}, /* tentative: configured, binds once DAD is done */
      {"fd00::6", TFST_BIND_DAD_FAILED},
      {"fd00::7", TFST_BIND_NOT_LOCAL},
      {"203.0.113.77", TFST_BIND_LOCAL}, /* AnyIP local route */
      {"192.0.2.55", TFST_BIND_NOT_LOCAL},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    TfstSockAddr a = ip(cases[i].addr);

    g_test_message("%s", cases[i].addr);
    g_assert_cmpint(tfst_host_addrs_classify(h, &a), ==, cases[i].want);
  }
}

static void
test_nonlocal_bind(void)
{
  g_autoptr(TfstHostAddrs) h = fake_host();
  TfstSockAddr v4 = ip("192.0.2.55"), v6 = ip("2001:db8::1"), mapped = ip("::ffff:192.0.2.55"),
               dad = ip("fd00::6");

  tfst_host_addrs_set_nonlocal_bind(h, TRUE, FALSE);
  g_assert_cmpint(tfst_host_addrs_classify(h, &v4), ==, TFST_BIND_NONLOCAL);
  g_assert_cmpint(tfst_host_addrs_classify(h, &v6), ==, TFST_BIND_NOT_LOCAL);
  g_assert_cmpint(tfst_host_addrs_classify(h, &mapped), ==, TFST_BIND_NOT_LOCAL);
  tfst_host_addrs_set_nonlocal_bind(h, FALSE, TRUE);
  g_assert_cmpint(tfst_host_addrs_classify(h, &v4), ==, TFST_BIND_NOT_LOCAL);
  g_assert_cmpint(tfst_host_addrs_classify(h, &v6), ==, TFST_BIND_NONLOCAL);
  g_assert_cmpint(tfst_host_addrs_classify(h, &mapped), ==, TFST_BIND_NONLOCAL);
  g_assert_cmpint(tfst_host_addrs_classify(h, &dad), ==, TFST_BIND_NONLOCAL);
}

static void
test_describe(void)
{
  g_autoptr(TfstHostAddrs) h = fake_host();
  g_autoptr(TfstHostAddrs) empty = tfst_host_addrs_new();
  g_autoptr(TfstHostAddrs) many = tfst_host_addrs_new();
  g_autofree char *text = tfst_host_addrs_describe(h);
  g_autofree char *none = tfst_host_addrs_describe(empty);
  g_autofree char *long_text = NULL;

  g_assert_cmpstr(text, ==,
                  "127.0.0.1 (lo), ::1 (lo), 10.0.0.5 (eth0), 10.1.0.5 (eth1, down), "
                  "fd00::5 (eth1, down, tentative), fd00::6 (eth0, duplicate)");
  g_assert_cmpstr(none, ==, "no addresses at all");
  for (guint i = 1; i <= 40; i++) {
    g_autofree char *s = g_strdup_printf("10.2.0.%u", i);
    TfstSockAddr a = ip(s);

    tfst_host_addrs_add(many, "eth2", &a, 24, 0);
  }
  long_text = tfst_host_addrs_describe(many);
  g_assert_true(g_str_has_prefix(long_text, "10.2.0.1 (eth2), 10.2.0.2 (eth2)"));
  g_assert_true(g_str_has_suffix(long_text, "10.2.0.32 (eth2) and 8 more (ip -brief address "
                                            "shows them all)"));
}

static void
test_config_messages(void)
{
  g_autoptr(TfstHostAddrs) h = fake_host();
  g_autoptr(TfstConfig) fwd = gw_config("[Parent]\n"
                                        "Connect=10.0.0.1:26801\n"
                                        "LocalAddress=10.0.0.5\n"
                                        "[Forward web]\n"
                                        "Listen=[fd00::7]:26810\n");
  g_autoptr(TfstConfig) dad = gw_config("[Parent]\n"
                                        "Connect=[fd00::1]:26801\n"
                                        "LocalAddress=fd00::6\n");
  g_autoptr(TfstConfig) relay = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) fwd_notes = tfst_host_addrs_check_config(h, fwd, NULL);
  g_autoptr(GArray) dad_notes = tfst_host_addrs_check_config(h, dad, NULL);
  g_autoptr(GArray) relay_notes = NULL;

  g_assert_cmpstr(only_note(fwd_notes)->text, ==,
                  "test.conf:5: [Forward web] Listen=: fd00::7 is not an address of this host "
                  "(yet); listening with IP_FREEBIND: connections are accepted as soon as it is "
                  "assigned; this host has: 127.0.0.1 (lo), ::1 (lo), 10.0.0.5 (eth0), 10.1.0.5 "
                  "(eth1, down), fd00::5 (eth1, down, tentative), fd00::6 (eth0, duplicate)");
  g_assert_cmpint(only_note(fwd_notes)->priority, ==, LOG_NOTICE);

  g_assert_true(g_str_has_prefix(only_note(dad_notes)->text,
                                 "test.conf:3: [Parent] LocalAddress=: fd00::6 is on this host, "
                                 "but IPv6 duplicate address detection failed"));
  g_assert_cmpint(only_note(dad_notes)->priority, ==, LOG_WARNING);

  /* hop listeners; the port may come from the [Ports] rule */
  relay = tfst_config_load_from_data(TFST_ROLE_RELAY, "2",
                                     "[Parent]\nListen=10.1.0.5\n[Children]\nListen=10.0.0.9\n",
                                     "relay.conf", &error);
  g_assert_no_error(error);
  relay_notes = tfst_host_addrs_check_config(h, relay, NULL);
  g_assert_true(g_str_has_prefix(only_note(relay_notes)->text,
                                 "relay.conf:4: [Children] Listen=: 10.0.0.9 is not an address "
                                 "of this host (yet)"));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/host-addrs/loopback-ipv4", test_loopback_ipv4);
  g_test_add_func("/tfst/host-addrs/loopback-ipv6", test_loopback_ipv6);
  g_test_add_func("/tfst/host-addrs/test-net-not-local", test_test_net_not_local);
  g_test_add_func("/tfst/host-addrs/note-lists-host", test_note_lists_host);
  g_test_add_func("/tfst/host-addrs/events-listen-checked", test_events_listen_checked);
  g_test_add_func("/tfst/host-addrs/check-names-dropin", test_check_names_dropin);
  g_test_add_func("/tfst/host-addrs/check-local-passes", test_check_local_passes);
  g_test_add_func("/tfst/host-addrs/rules", test_rules);
  g_test_add_func("/tfst/host-addrs/nonlocal-bind", test_nonlocal_bind);
  g_test_add_func("/tfst/host-addrs/describe", test_describe);
  g_test_add_func("/tfst/host-addrs/config-messages", test_config_messages);
  return g_test_run();
}
