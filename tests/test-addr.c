/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-addr.h"
#include "tfst-error.h"

#include <string.h>

static void
test_parse_v4(void)
{
  g_autoptr(GError) error = NULL;
  TfstSockAddr a;
  char buf[TFST_ADDR_STRLEN];
  char ip[INET6_ADDRSTRLEN];

  g_assert_true(tfst_addr_parse("127.0.0.1:1918", TRUE, &a, &error));
  g_assert_no_error(error);
  g_assert_cmpint(a.sa.sa_family, ==, AF_INET);
  g_assert_cmpuint(tfst_addr_port(&a), ==, 1918);
  g_assert_cmpstr(tfst_addr_format(&a, buf), ==, "127.0.0.1:1918");
  g_assert_cmpstr(tfst_addr_format_ip(&a, ip), ==, "127.0.0.1");
  memset(&a, 0, sizeof(a));
  g_assert_cmpstr(tfst_addr_format_ip(&a, ip), ==, "");
}

static void
test_parse_v6(void)
{
  TfstSockAddr a;
  char buf[TFST_ADDR_STRLEN];
  char ip[INET6_ADDRSTRLEN];

  g_assert_true(tfst_addr_parse("[::1]:6014", TRUE, &a, NULL));
  g_assert_cmpint(a.sa.sa_family, ==, AF_INET6);
  g_assert_cmpstr(tfst_addr_format(&a, buf), ==, "[::1]:6014");
  g_assert_cmpstr(tfst_addr_format_ip(&a, ip), ==, "::1");
  g_assert_true(tfst_addr_parse("::1", FALSE, &a, NULL));
  g_assert_cmpuint(tfst_addr_port(&a), ==, 0);
}

static void
test_parse_bad(void)
{
  const char *bad[] = {"",     "localhost:80", "1.2.3.4:0",     "1.2.3.4:65536", "1.2.3.4:x",
                       "[::1", "[::1]x",       "1.2.3.4:80:90", "300.1.1.1:80"};
  TfstSockAddr a;

  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_assert_false(tfst_addr_parse(bad[i], TRUE, &a, &error));
    g_assert_error(error, TFST_ERROR, TFST_ERROR_ADDRESS);
  }
  {
    g_autoptr(GError) error = NULL;
    g_assert_false(tfst_addr_parse("10.0.0.1", TRUE, &a, &error));
    g_assert_nonnull(strstr(error->message, "port is required"));
  }
}

static void
test_network(void)
{
  TfstSockAddr a;
  const guint8 net[4] = {10, 1, 0, 0};

  g_assert_true(tfst_addr_parse_ip("10.1.200.3", &a));
  g_assert_true(tfst_addr_in_network(&a, AF_INET, net, 16));
  g_assert_true(tfst_addr_parse_ip("10.2.0.1", &a));
  g_assert_false(tfst_addr_in_network(&a, AF_INET, net, 16));
  g_assert_true(tfst_addr_in_network(&a, AF_INET, net, 0));
  g_assert_true(tfst_addr_parse_ip("10.1.128.1", &a));
  g_assert_false(tfst_addr_in_network(&a, AF_INET, (const guint8[]){10, 1, 0, 0}, 17));
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/addr/parse-v4", test_parse_v4);
  g_test_add_func("/tfst/addr/parse-v6", test_parse_v6);
  g_test_add_func("/tfst/addr/parse-bad", test_parse_bad);
  g_test_add_func("/tfst/addr/network", test_network);
  return g_test_run();
}
