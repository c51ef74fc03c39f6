/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-addr.h"
#include "tfst-config-schema.h"
#include "tfst-config.h"
#include "tfst-error.h"
#include "tfst-file.h"
#include "tfst-keepalive.h"
#include "tfst-log.h"
#include "tfst-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EP TFST_ROLE_EPPROXY
#define GW TFST_ROLE_GWPROXY
#define RL TFST_ROLE_RELAY

/* Minimal valid bodies per role, for tests that vary other sections. */
#define GW_PARENT "[Parent]\nConnect=127.0.0.1:21002\n"
#define RL_HOPS   "[Parent]\nConnect=127.0.0.1:21001\n[Children]\nListen=127.0.0.1:21002\n"

typedef struct {
  TfstRole role;
  const char *data;
  const char *expect; /* substring of the error message */
} ErrorCase;

static TfstConfig *
load(TfstRole role, const char *data)
{
  g_autoptr(GError) error = NULL;
  TfstConfig *c = tfst_config_load_from_data(role, "test", data, "t.conf", &error);

  g_assert_no_error(error);
  g_assert_nonnull(c);
  return c;
}

static void
assert_error(TfstRole role, const char *data, const char *expect)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = tfst_config_load_from_data(role, "test", data, "t.conf", &error);

  g_assert_null(c);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_CONFIG);
  if (strstr(error->message, expect) == NULL)
    g_error("config:\n%s\nexpected '%s' in '%s'", data, expect, error->message);
}

static void
assert_errors(const ErrorCase *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    assert_error(cases[i].role, cases[i].data, cases[i].expect);
}

static const char *
fmt(const TfstSockAddr *a)
{
  static char buf[TFST_ADDR_STRLEN];

  return tfst_addr_format(a, buf);
}

static const TfstSockAddr *
hop_addr(const TfstHopConf *h, guint i)
{
  g_assert_cmpuint(i, <, h->addrs->len);
  return &g_array_index(h->addrs, TfstSockAddr, i);
}

static const TfstForwardConf *
forward(const TfstConfig *c, guint i)
{
  g_assert_cmpuint(i, <, c->forwards->len);
  return g_ptr_array_index(c->forwards, i);
}

/* ---- syntax of values ---- */

static void
test_role_strings(void)
{
  g_assert_cmpstr(tfst_role_to_string(EP), ==, "epproxy");
  g_assert_cmpstr(tfst_role_to_string(GW), ==, "gwproxy");
  g_assert_cmpstr(tfst_role_to_string(RL), ==, "relay");
  g_assert_cmpstr(tfst_role_to_string(TFST_ROLE_NONE), ==, "none");
  g_assert_cmpint(tfst_role_from_string("epproxy"), ==, EP);
  g_assert_cmpint(tfst_role_from_string("gwproxy"), ==, GW);
  g_assert_cmpint(tfst_role_from_string("relay"), ==, RL);
  g_assert_cmpint(tfst_role_from_string("Relay"), ==, TFST_ROLE_NONE);
  g_assert_cmpint(tfst_role_from_string(""), ==, TFST_ROLE_NONE);
  g_assert_cmpint(tfst_role_from_string(NULL), ==, TFST_ROLE_NONE);
}

static void
test_default_path(void)
{
  g_autofree char *p = tfst_config_default_path(RL, "r1");

  g_assert_cmpstr(p, ==, SYSCONFDIR "/tfst/relay@r1.conf");
}

static void
test_timespan(void)
{
  const struct {
    const char *text;
    guint ms;
  } good[] = {
      {"0", 0},
      {"30", 30000},
      {"30s", 30000},
      {"30sec", 30000},
      {"500ms", 500},
      {"5min", 300000},
      {"5m", 300000},
      {"1h", 3600000},
      {"2d", 172800000},
      {"1min 30s", 90000},
      {"1h30min", 5400000},
      {"1MIN", 60000},
      {"4294967295ms", G_MAXUINT},
  };
  const char *bad[] = {"",
                       "-5",
                       "-5s",
                       "+5",
                       "5 s x",
                       "1.5s",
                       "5 min",
                       "s",
                       "5w",
                       " 5",
                       "5;",
                       "0x10",
                       "4294967296ms",
                       "49710d",
                       "99999999999999999999"};

  for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
    guint ms = 12345;

    if (!tfst_parse_timespan_ms(good[i].text, &ms))
      g_error("'%s' rejected", good[i].text);
    g_assert_cmpuint(ms, ==, good[i].ms);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    guint ms = 12345;

    if (tfst_parse_timespan_ms(bad[i], &ms))
      g_error("'%s' accepted", bad[i]);
    g_assert_cmpuint(ms, ==, 12345); /* untouched on failure */
  }
  g_assert_false(tfst_parse_timespan_ms(NULL, NULL));
}

static void
test_size(void)
{
  const struct {
    const char *text;
    guint32 bytes;
  } good[] = {
      {"0", 0},
      {"65536", 65536},
      {"64K", 65536},
      {"64k", 65536},
      {"64KiB", 65536},
      {"16M", 16777216},
      {"1G", 1073741824},
      {"3G", 3221225472u},
      {"4294967295", G_MAXUINT32},
      {"1GiB", 1073741824},
  };
  const char *bad[] = {"",           "-1", "64 K", "64KB", "1.5M", "4G",
                       "4294967296", "K",  "16T",  " 1",   "1 "};

  for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
    guint32 n = 7;

    if (!tfst_parse_size(good[i].text, &n))
      g_error("'%s' rejected", good[i].text);
    g_assert_cmpuint(n, ==, good[i].bytes);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    guint32 n = 7;

    if (tfst_parse_size(bad[i], &n))
      g_error("'%s' accepted", bad[i]);
    g_assert_cmpuint(n, ==, 7);
  }
}

/* SpoolSize= may exceed 4G. */
static void
test_size64(void)
{
  const char *bad[] = {"", "-1", "64 K", "1.5M", "18446744073709551616", "17179869184G", "16T"};
  guint64 n = 7;

  g_assert_true(tfst_parse_size64("4G", &n));
  g_assert_cmpuint(n, ==, 4ull << 30);
  g_assert_true(tfst_parse_size64("1024GiB", &n));
  g_assert_cmpuint(n, ==, 1ull << 40);
  g_assert_true(tfst_parse_size64("1000000000000000000", &n));
  g_assert_cmpuint(n, ==, G_GUINT64_CONSTANT(1000000000000000000));
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    n = 7;
    if (tfst_parse_size64(bad[i], &n))
      g_error("'%s' accepted", bad[i]);
    g_assert_cmpuint(n, ==, 7);
  }
}

/* ---- defaults and every key ---- */

static void
test_defaults(void)
{
  g_autoptr(TfstConfig) c = load(EP, "");

  g_assert_cmpint(c->role, ==, EP);
  g_assert_cmpstr(c->instance, ==, "test");
  g_assert_null(c->path);
  g_assert_cmpstr(c->label, ==, "epproxy-test");
  g_assert_cmpint(c->log_priority, ==, LOG_NOTICE);
  g_assert_cmpuint(c->max_sessions, ==, 10000);
  /* One child hop may hold half the sessions, and open 5000 a second. */
  g_assert_cmpuint(tfst_config_child_sessions(c), ==, 5000);
  g_assert_cmpuint(c->open_rate, ==, 5000);
  g_assert_cmpuint(c->networks->len, ==, 0);

  g_assert_false(c->parent.configured);
  g_assert_cmpuint(c->parent.addrs->len, ==, 0);
  /* an epproxy listens for children on every address, port from the rule */
  g_assert_true(c->children.configured);
  g_assert_true(c->children.listen);
  g_assert_true(c->children.port_from_rule);
  g_assert_cmpstr(fmt(hop_addr(&c->children, 0)), ==, "0.0.0.0:0");
  g_assert_false(c->children.have_local);
  g_assert_cmpuint(c->children.sport_lo, ==, 0);
  g_assert_cmpuint(c->children.sport_hi, ==, 0);
  g_assert_cmpuint(c->children.reconnect_min_ms, ==, 1000);
  g_assert_cmpuint(c->children.reconnect_max_ms, ==, 60000);

  g_assert_cmpuint(c->keepalive.idle_s, ==, 300);
  g_assert_cmpuint(c->keepalive.interval_s, ==, 30);
  g_assert_cmpuint(c->keepalive.count, ==, 4);
  g_assert_cmpuint(c->keepalive.user_timeout_ms, ==, 0);
  g_assert_cmpuint(c->keepalive.firewall_timeout_s, ==, 0);
  g_assert_cmpuint(c->keepalive.ping_interval_ms, ==, 15000);
  g_assert_cmpuint(c->keepalive.ping_timeout_ms, ==, 45000);

  g_assert_cmpuint(c->connect_timeout_ms, ==, 10000);
  g_assert_cmpuint(c->close_timeout_ms, ==, 30000);
  g_assert_cmpuint(c->idle_timeout_ms, ==, 0);
  g_assert_cmpuint(c->initial_window, ==, 256 * 1024);
  g_assert_cmpuint(c->max_window, ==, 16 * 1024 * 1024);

  g_assert_cmpuint(c->port_base, ==, 1918);
  g_assert_cmpuint(c->port_skip, ==, 0);
  g_assert_cmpuint(c->port_count, ==, 1);
  g_assert_cmpuint(tfst_config_rule_port(c, 0), ==, 1918);
  g_assert_cmpuint(c->forwards->len, ==, 0);
}

static void
test_default_label(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) a = NULL;
  g_autoptr(TfstConfig) b = NULL;
  g_autofree char *long_instance = g_strnfill(100, 'x');

  a = tfst_config_load_from_data(RL, "a b/c:\xc3\xa4", RL_HOPS, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(a->label, ==, "relay-a-b-c---");
  g_assert_true(tfst_label_is_valid(a->label));

  b = tfst_config_load_from_data(GW, long_instance, GW_PARENT, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(strlen(b->label), ==, TFST_LABEL_MAX);
  g_assert_true(g_str_has_prefix(b->label, "gwproxy-xxx"));
  g_assert_true(tfst_label_is_valid(b->label));
}

static void
test_every_key(void)
{
  g_autoptr(TfstConfig) c = load(RL, "# every key of a relay\n"
                                     "[Instance]\n"
                                     "Label=relay1\n"
                                     "LogLevel=3\n"
                                     "MaxSessions=500\n"
                                     "MaxSessionsPerChild=400\n"
                                     "OpenRate=50\n"
                                     "Networks=10.1.0.0/16, fd00::/8 192.168.7.9\n"
                                     "[Parent]\n"
                                     "Listen=[::]\n"
                                     "MaxParents=2\n"
                                     "FailbackDelay=2min\n"
                                     "[Children]\n"
                                     "Connect=10.0.0.1:6000; 10.0.0.2:6001 10.0.0.3:6002\n"
                                     "LocalAddress=10.0.0.254\n"
                                     "SourcePorts=40000-40099\n"
                                     "ReconnectMin=500ms\n"
                                     "ReconnectMax=2min\n"
                                     "[Keepalive]\n"
                                     "Idle=1min\n"
                                     "Interval=10\n"
                                     "Count=5\n"
                                     "UserTimeout=90s\n"
                                     "FirewallTimeout=1h\n"
                                     "PingInterval=20s\n"
                                     "PingTimeout=1min\n"
                                     "[Session]\n"
                                     "ConnectTimeout=5s\n"
                                     "CloseTimeout=2s\n"
                                     "IdleTimeout=1h\n"
                                     "InitialWindow=64K\n"
                                     "MaxWindow=32M\n"
                                     "[Ports]\n"
                                     "Base=2000\n"
                                     "Skip=2\n"
                                     "Count=3\n"
                                     "[Forward web]\n"
                                     "Listen=127.0.0.1:8080\n"
                                     "Route=gw1\n"
                                     "Destination=10.1.2.3:80\n"
                                     "[Forward back]\n"
                                     "Target=original-destination\n");
  const TfstNetworkEntry *n;
  const guint8 v4[4] = {10, 1, 0, 0};
  const guint8 host[4] = {192, 168, 7, 9};
  const TfstForwardConf *f;

  g_assert_cmpstr(c->label, ==, "relay1");
  g_assert_cmpint(c->log_priority, ==, LOG_DEBUG);
  g_assert_cmpuint(c->max_sessions, ==, 500);
  g_assert_cmpuint(tfst_config_child_sessions(c), ==, 400);
  g_assert_cmpuint(c->open_rate, ==, 50);
  g_assert_cmpuint(c->networks->len, ==, 3);
  n = &g_array_index(c->networks, TfstNetworkEntry, 0);
  g_assert_cmpstr(n->owner, ==, "");
  g_assert_cmpint(n->family, ==, AF_INET);
  g_assert_cmpuint(n->prefix, ==, 16);
  g_assert_cmpmem(n->addr, 4, v4, 4);
  n = &g_array_index(c->networks, TfstNetworkEntry, 1);
  g_assert_cmpint(n->family, ==, AF_INET6);
  g_assert_cmpuint(n->prefix, ==, 8);
  g_assert_cmpuint(n->addr[0], ==, 0xfd);
  g_assert_cmpuint(n->addr[1], ==, 0);
  n = &g_array_index(c->networks, TfstNetworkEntry, 2);
  g_assert_cmpuint(n->prefix, ==, 32);
  g_assert_cmpmem(n->addr, 4, host, 4);

  g_assert_true(c->parent.configured);
  g_assert_true(c->parent.listen);
  g_assert_true(c->parent.port_from_rule);
  g_assert_cmpstr(fmt(hop_addr(&c->parent, 0)), ==, "[::]:0");
  g_assert_cmpuint(c->max_parents, ==, 2);
  g_assert_cmpuint(c->failback_delay_ms, ==, 120000);

  g_assert_true(c->children.configured);
  g_assert_false(c->children.listen);
  g_assert_false(c->children.port_from_rule);
  g_assert_cmpuint(c->children.addrs->len, ==, 3);
  g_assert_cmpstr(fmt(hop_addr(&c->children, 0)), ==, "10.0.0.1:6000");
  g_assert_cmpstr(fmt(hop_addr(&c->children, 1)), ==, "10.0.0.2:6001");
  g_assert_cmpstr(fmt(hop_addr(&c->children, 2)), ==, "10.0.0.3:6002");
  g_assert_true(c->children.have_local);
  g_assert_cmpstr(fmt(&c->children.local), ==, "10.0.0.254:0");
  g_assert_cmpuint(c->children.sport_lo, ==, 40000);
  g_assert_cmpuint(c->children.sport_hi, ==, 40099);
  g_assert_cmpuint(c->children.reconnect_min_ms, ==, 500);
  g_assert_cmpuint(c->children.reconnect_max_ms, ==, 120000);

  g_assert_cmpuint(c->keepalive.idle_s, ==, 60);
  g_assert_cmpuint(c->keepalive.interval_s, ==, 10);
  g_assert_cmpuint(c->keepalive.count, ==, 5);
  g_assert_cmpuint(c->keepalive.user_timeout_ms, ==, 90000);
  g_assert_cmpuint(c->keepalive.firewall_timeout_s, ==, 3600);
  g_assert_cmpuint(c->keepalive.ping_interval_ms, ==, 20000);
  g_assert_cmpuint(c->keepalive.ping_timeout_ms, ==, 60000);

  g_assert_cmpuint(c->connect_timeout_ms, ==, 5000);
  g_assert_cmpuint(c->close_timeout_ms, ==, 2000);
  g_assert_cmpuint(c->idle_timeout_ms, ==, 3600000);
  g_assert_cmpuint(c->initial_window, ==, 65536);
  g_assert_cmpuint(c->max_window, ==, 32 * 1024 * 1024);

  g_assert_cmpuint(c->port_base, ==, 2000);
  g_assert_cmpuint(c->port_skip, ==, 2);
  g_assert_cmpuint(c->port_count, ==, 3);
  g_assert_cmpuint(tfst_config_rule_port(c, 0), ==, 2000 + 2 * 4096);
  g_assert_cmpuint(tfst_config_rule_port(c, 2), ==, 2000 + 4 * 4096);

  g_assert_cmpuint(c->forwards->len, ==, 2);
  f = forward(c, 0);
  g_assert_cmpstr(f->name, ==, "web");
  g_assert_true(f->has_listen);
  g_assert_cmpstr(fmt(&f->listen), ==, "127.0.0.1:8080");
  g_assert_cmpint(f->target_kind, ==, TFST_TARGET_NONE);
  g_assert_cmpstr(f->route, ==, "gw1");
  g_assert_true(f->has_destination);
  g_assert_cmpstr(fmt(&f->destination), ==, "10.1.2.3:80");
  f = forward(c, 1);
  g_assert_cmpstr(f->name, ==, "back");
  g_assert_false(f->has_listen);
  g_assert_cmpint(f->target_kind, ==, TFST_TARGET_ORIGINAL_DST);
  g_assert_null(f->route);
  g_assert_false(f->has_destination);
}

/* The three configurations of the runtime contract, verbatim, with their
 * trailing comments. */
static void
test_chain_examples(void)
{
  g_autoptr(TfstConfig) ep =
      load(EP, "# epproxy\n"
               "[Instance]\n"
               "Label=ep\n"
               "[Children]\n"
               "Listen=127.0.0.1:21001          # children hop listener (or "
               "Connect=ADDR:PORT;ADDR:PORT when this side opens)\n"
               "[Forward web]                   # upcall forward: clients connect at the gwproxy, "
               "epproxy connects Target\n"
               "Target=127.0.0.1:21080\n"
               "[Forward mgmt]                  # downcall forward: gateway connects here, carried "
               "down to a gwproxy\n"
               "Listen=127.0.0.1:21081\n"
               "Route=gw1                       # optional: which gwproxy label; otherwise "
               "learned/network/unique-owner routing\n"
               "[Session]\n"
               "CloseTimeout=2s\n");
  g_autoptr(TfstConfig) relay =
      load(RL, "# relay\n"
               "[Instance]\n"
               "Label=relay1\n"
               "[Parent]\n"
               "Connect=127.0.0.1:21001         # or Listen=ADDR:PORT (then the parent must "
               "Connect= to it)\n"
               "[Children]\n"
               "Listen=127.0.0.1:21002\n");
  g_autoptr(TfstConfig) gw =
      load(GW, "# gwproxy\n"
               "[Instance]\n"
               "Label=gw1\n"
               "Networks=10.1.0.0/16            # optional, announced upward for downcall "
               "routing\n"
               "[Parent]\n"
               "Connect=127.0.0.1:21002\n"
               "[Forward web]\n"
               "Listen=127.0.0.1:21010\n"
               "[Forward mgmt]\n"
               "Target=127.0.0.1:21090          # or Target=original-destination\n");

  g_assert_cmpstr(ep->label, ==, "ep");
  g_assert_false(ep->children.port_from_rule);
  g_assert_cmpstr(fmt(hop_addr(&ep->children, 0)), ==, "127.0.0.1:21001");
  g_assert_cmpstr(forward(ep, 0)->name, ==, "web");
  g_assert_cmpint(forward(ep, 0)->target_kind, ==, TFST_TARGET_ADDRESS);
  g_assert_cmpstr(fmt(&forward(ep, 0)->target), ==, "127.0.0.1:21080");
  g_assert_cmpstr(forward(ep, 1)->name, ==, "mgmt");
  g_assert_cmpstr(forward(ep, 1)->route, ==, "gw1");
  g_assert_cmpuint(ep->close_timeout_ms, ==, 2000);

  g_assert_false(relay->parent.listen);
  g_assert_cmpstr(fmt(hop_addr(&relay->parent, 0)), ==, "127.0.0.1:21001");
  g_assert_true(relay->children.listen);

  g_assert_false(gw->children.configured);
  g_assert_cmpuint(gw->children.addrs->len, ==, 0);
  g_assert_cmpuint(gw->networks->len, ==, 1);
  g_assert_true(forward(gw, 0)->has_listen);
  g_assert_cmpstr(fmt(&forward(gw, 1)->target), ==, "127.0.0.1:21090");
}

/* Unidirectional firewalls: the more secure side opens every connection,
 * so the parent connects down to a listening child. */
static void
test_reverse_direction(void)
{
  g_autoptr(TfstConfig) ep = load(EP, "[Children]\nConnect=192.0.2.10:1918\n"
                                      "LocalAddress=192.0.2.1\nSourcePorts=1024\n");
  g_autoptr(TfstConfig) relay = load(RL, "[Parent]\nListen=192.0.2.10:1918\n"
                                         "[Children]\nConnect=198.51.100.5:1918 "
                                         "198.51.100.6:1918\n");

  g_assert_false(ep->children.listen);
  g_assert_cmpuint(ep->children.sport_lo, ==, 1024);
  g_assert_cmpuint(ep->children.sport_hi, ==, 1024);
  g_assert_cmpstr(fmt(&ep->children.local), ==, "192.0.2.1:0");
  g_assert_true(relay->parent.listen);
  g_assert_false(relay->parent.port_from_rule);
  g_assert_cmpuint(relay->children.addrs->len, ==, 2);
}

static void
test_role_rules(void)
{
  const ErrorCase cases[] = {
      {EP, "[Parent]\nConnect=10.0.0.1:1\n",
       "t.conf:1: [Parent]: an epproxy is the root of the chain and has no parent"},
      {RL, "[Children]\nListen=10.0.0.1:1\n", "t.conf: [Parent]: a relay needs a [Parent]"},
      {RL, "[Parent]\nConnect=10.0.0.1:1\n", "t.conf: [Children]: a relay needs a [Children]"},
      {GW, "", "t.conf: [Parent]: a gwproxy needs a [Parent]"},
      {GW, GW_PARENT "\n[Children]\nListen=10.0.0.1:1\n",
       "t.conf:4: [Children]: a gwproxy is a leaf of the chain and has no children"},
      {RL, "[Parent]\nListen=127.0.0.1\n[Children]\nListen=127.0.0.1\n",
       "t.conf:2: [Parent] Listen=: the same address and port as [Children] Listen= (both take "
       "the port from the [Ports] rule)"},
      {RL, "[Parent]\nListen=127.0.0.1:7000\n[Children]\nListen=127.0.0.1:7000\n",
       "t.conf:2: [Parent] Listen=: the same address and port as [Children] Listen=;"},
  };

  assert_errors(cases, G_N_ELEMENTS(cases));
}

/* ---- errors, section by section ---- */

static void
test_instance_errors(void)
{
  const ErrorCase cases[] = {
      {EP, "[Instance]\nLabel=has space\n", "t.conf:2: [Instance] Label=: 'has space' is not a"},
      {EP, "[Instance]\nLabel=a/b\n", "[Instance] Label=: 'a/b' is not a valid label"},
      {EP, "[Instance]\nLogLevel=4\n",
       "t.conf:2: [Instance] LogLevel=: '4' is not a log level: 0-3, or emerg, alert, crit, err, "
       "warning, notice, info, debug"},
      {EP, "[Instance]\nLogLevel=-1\n", "[Instance] LogLevel=: '-1'"},
      {EP, "[Instance]\nLogLevel=verbose\n", "[Instance] LogLevel=: 'verbose'"},
      {EP, "[Instance]\nLogLevel=DEBUG\n", "[Instance] LogLevel=: 'DEBUG'"},
      {EP, "[Instance]\nMaxSessions=0\n",
       "[Instance] MaxSessions=: '0' is not a whole number "
       "in the range 1-1000000"},
      {EP, "[Instance]\nMaxSessions=1000001\n", "[Instance] MaxSessions=: '1000001'"},
      {EP, "[Instance]\nMaxSessionsPerChild=0\n",
       "[Instance] MaxSessionsPerChild=: '0' is not a whole number in the range 1-1000000"},
      {EP, "[Instance]\nOpenRate=fast\n",
       "[Instance] OpenRate=: 'fast' is not a whole number in the range 0-1000000"},
      {EP, "[Instance]\nNetworks=10.1.2.0/16\n",
       "[Instance] Networks=: '10.1.2.0/16' has host bits set (did you mean 10.1.0.0/16?)"},
      {EP, "[Instance]\nNetworks=fd00::1/8\n", "has host bits set (did you mean fd00::/8?)"},
      {EP, "[Instance]\nNetworks=10.0.0.0/33\n", "'10.0.0.0/33': the prefix length must be 0-32"},
      {EP, "[Instance]\nNetworks=::/129\n", "the prefix length must be 0-128"},
      {EP, "[Instance]\nNetworks=10.0.0.0/\n", "the prefix length"},
      {EP, "[Instance]\nNetworks=intranet\n", "'intranet' is not an IPv4 or IPv6 network"},
      {EP, "[Instance]\nNetworks=10.0.0.0/8 lan\n", "'lan' is not an IPv4 or IPv6 network"},
  };
  g_autoptr(TfstConfig) c = load(EP, "[Instance]\nLogLevel=0\nNetworks=0.0.0.0/0;::/0\n");

  g_assert_cmpint(c->log_priority, ==, LOG_ERR);
  /* The syslog names, as systemctl service-log-level takes them. */
  for (int prio = LOG_EMERG; prio <= LOG_DEBUG; prio++) {
    g_autofree char *text =
        g_strdup_printf("[Instance]\nLogLevel=%s\n", tfst_log_priority_to_string(prio));
    g_autoptr(TfstConfig) named = load(EP, text);

    g_assert_cmpint(named->log_priority, ==, prio);
  }
  g_assert_cmpuint(c->networks->len, ==, 2);
  g_assert_cmpuint(g_array_index(c->networks, TfstNetworkEntry, 0).prefix, ==, 0);
  assert_errors(cases, G_N_ELEMENTS(cases));
}

static void
test_hop_errors(void)
{
  const ErrorCase cases[] = {
      {RL, "[Parent]\nListen=10.0.0.1:1\nConnect=10.0.0.2:1\n[Children]\nListen=10.0.0.1:2\n",
       "t.conf:3: [Parent] Connect=: Listen= and Connect= exclude each other"},
      {RL, "[Parent]\nLocalAddress=10.0.0.1\n[Children]\nListen=10.0.0.1:2\n",
       "t.conf:1: [Parent]: needs Listen=ADDRESS[:PORT]"},
      {GW, "[Parent]\nConnect=10.0.0.1:1 10.0.0.2:1,10.0.0.1:1\n",
       "t.conf:2: [Parent] Connect=: '10.0.0.1:1' is listed twice"},
      {GW, "[Parent]\nConnect=10.0.0.1\n", "[Parent] Connect=: '10.0.0.1': a port is required"},
      {GW, "[Parent]\nConnect=gateway.example:80\n", "[Parent] Connect=: 'gateway.example'"},
      {GW, "[Parent]\nConnect=;\n", "[Parent] Connect=: no address given"},
      {EP, "[Children]\nConnect=10.0.0.1:1;10.0.0.1:1\n",
       "[Children] Connect=: '10.0.0.1:1' is listed twice"},
      {EP, "[Children]\nListen=10.0.0.1:1 10.0.0.2:1\n",
       "[Children] Listen=: '10.0.0.1:1 10.0.0.2:1': Listen= takes a single address"},
      {EP, "[Children]\nListen=10.0.0.1:99999\n", "[Children] Listen=: '10.0.0.1:99999': port"},
      {EP, "[Children]\nListen=10.0.0.1:1\nSourcePorts=1000-2000\n",
       "t.conf:3: [Children] SourcePorts=: only applies with Connect="},
      {EP, "[Children]\nListen=10.0.0.1:1\nLocalAddress=10.0.0.1\n",
       "[Children] LocalAddress=: only applies with Connect="},
      {EP, "[Children]\nReconnectMax=5s\n", "[Children] ReconnectMax=: only applies with Connect="},
      {GW, GW_PARENT "LocalAddress=10.0.0.1:5\n",
       "t.conf:3: [Parent] LocalAddress=: takes an address without a port"},
      {GW, GW_PARENT "LocalAddress=::1\n",
       "[Parent] LocalAddress=: address family differs from Connect= address 127.0.0.1:21002"},
      {GW, GW_PARENT "LocalAddress=localhost\n", "[Parent] LocalAddress=: 'localhost'"},
      {GW, GW_PARENT "SourcePorts=2000-1000\n",
       "[Parent] SourcePorts=: '2000-1000': the range starts above its end"},
      {GW, GW_PARENT "SourcePorts=0-10\n", "[Parent] SourcePorts=: '0-10' is not a port range"},
      {GW, GW_PARENT "SourcePorts=1-65536\n", "'1-65536' is not a port range"},
      {GW, GW_PARENT "SourcePorts=1-2-3\n", "'1-2-3' is not a port range"},
      {GW, GW_PARENT "SourcePorts=-5\n", "'-5' is not a port range"},
      {GW, GW_PARENT "SourcePorts=5-\n", "'5-' is not a port range"},
      {GW, GW_PARENT "ReconnectMin=10ms\n",
       "[Parent] ReconnectMin=: '10ms' is too short "
       "(minimum 100ms)"},
      {GW, GW_PARENT "ReconnectMin=2min\n",
       "t.conf:3: [Parent] ReconnectMin=: ReconnectMax= (1min) is below ReconnectMin= (2min)"},
      {GW, GW_PARENT "ReconnectMax=2min\nReconnectMin=5min\n",
       "t.conf:4: [Parent] ReconnectMin=: ReconnectMax= (2min)"},
      {GW, GW_PARENT "ReconnectMin=soon\n", "[Parent] ReconnectMin=: 'soon' is not a time span"},
  };
  g_autoptr(TfstConfig) c = load(GW, GW_PARENT "ReconnectMin=5s\nReconnectMax=5s\n");

  g_assert_cmpuint(c->parent.reconnect_min_ms, ==, 5000);
  g_assert_cmpuint(c->parent.reconnect_max_ms, ==, 5000);
  assert_errors(cases, G_N_ELEMENTS(cases));
}

/* MaxPendingHops=, MaxPendingHopsPerAddress=: only where this side
 * accepts hops (an epproxy's default [Children] included). */
static void
test_pending_hops(void)
{
  const ErrorCase cases[] = {
      {GW, GW_PARENT "MaxPendingHops=10\n",
       "t.conf:3: [Parent] MaxPendingHops=: only applies with Listen="},
      {EP, "[Children]\nConnect=10.0.0.1:1\nMaxPendingHopsPerAddress=5\n",
       "t.conf:3: [Children] MaxPendingHopsPerAddress=: only applies with Listen="},
      {EP, "[Children]\nMaxPendingHops=0\n",
       "[Children] MaxPendingHops=: '0' is not a whole number in the range 1-1000000"},
      {EP, "[Children]\nMaxPendingHopsPerAddress=many\n",
       "[Children] MaxPendingHopsPerAddress=: 'many' is not a whole number"},
  };
  g_autoptr(TfstConfig) d = load(EP, "");
  g_autoptr(TfstConfig) c =
      load(RL, "[Parent]\nListen=127.0.0.1:1\nMaxPendingHops=3\n[Children]\nListen=127.0.0.1:2\n"
               "MaxPendingHops=100\nMaxPendingHopsPerAddress=7\n");

  g_assert_cmpuint(d->children.max_pending, ==, 1024);
  g_assert_cmpuint(d->children.max_pending_per_addr, ==, 64);
  g_assert_cmpuint(c->parent.max_pending, ==, 3);
  g_assert_cmpuint(c->parent.max_pending_per_addr, ==, 64);
  g_assert_cmpuint(c->children.max_pending, ==, 100);
  g_assert_cmpuint(c->children.max_pending_per_addr, ==, 7);
  assert_errors(cases, G_N_ELEMENTS(cases));
}

/* Several parents: [Parent] Connect= lists them in order of preference,
 * a Listen= side takes up to MaxParents=, FailbackDelay= says when new
 * sessions move back to a preferred parent. */
static void
test_redundancy(void)
{
  const ErrorCase cases[] = {
      {GW, "[Parent]\nConnect=10.0.0.1:1, 10.0.0.2:1;10.0.0.1:1\n",
       "t.conf:2: [Parent] Connect=: '10.0.0.1:1' is listed twice"},
      {GW, "[Parent]\nConnect=[2001:db8::1]:1 [2001:db8:0::1]:1\n",
       "t.conf:2: [Parent] Connect=: '[2001:db8:0::1]:1' is listed twice"},
      {RL, "[Parent]\nListen=127.0.0.1:1\nMaxParents=0\n[Children]\nListen=127.0.0.1:2\n",
       "t.conf:3: [Parent] MaxParents=: '0' is not a whole number in the range 1-64"},
      {GW, "[Parent]\nListen=127.0.0.1:1\nMaxParents=65\n",
       "t.conf:3: [Parent] MaxParents=: '65' is not a whole number in the range 1-64"},
      {GW, "[Parent]\nListen=127.0.0.1:1\nMaxParents=two\n",
       "t.conf:3: [Parent] MaxParents=: 'two' is not a whole number"},
      {GW, "[Parent]\nConnect=10.0.0.1:1 10.0.0.2:1\nMaxParents=2\n",
       "t.conf:3: [Parent] MaxParents=: only applies with Listen=; with Connect= every address "
       "listed is a parent"},
      {RL, RL_HOPS "MaxParents=2\n", "t.conf:5: [Children] MaxParents=: only applies in [Parent]"},
      {EP, "[Children]\nFailbackDelay=1s\n",
       "t.conf:2: [Children] FailbackDelay=: only applies in [Parent]"},
      {GW, GW_PARENT "FailbackDelay=soon\n",
       "t.conf:3: [Parent] FailbackDelay=: 'soon' is neither a time span (examples: 0, 30s, "
       "5min) nor never"},
      {GW, GW_PARENT "FailbackDelay=-5s\n", "t.conf:3: [Parent] FailbackDelay=: '-5s'"},
      {GW, GW_PARENT "FailbackDelay=never ever\n",
       "t.conf:3: [Parent] FailbackDelay=: 'never ever' is neither a time span"},
      {GW, "[Parent]\nConnect=relay/1@10.0.0.1:1\n",
       "t.conf:2: [Parent] Connect=: 'relay/1@10.0.0.1:1': the label before @ must be 1-63"},
      {GW, "[Parent]\nConnect=@10.0.0.1:1\n",
       "t.conf:2: [Parent] Connect=: '@10.0.0.1:1': the label before @"},
      {GW, "[Parent]\nConnect=r1@10.0.0.1\n", "t.conf:2: [Parent] Connect=: "},
      {GW, "[Parent]\nConnect=r1@10.0.0.1:1 r2@10.0.0.1:1\n",
       "t.conf:2: [Parent] Connect=: 'r2@10.0.0.1:1' is listed twice"},
  };
  g_autoptr(TfstConfig) pinned =
      load(GW, "[Parent]\nConnect=relayA@10.0.0.1:1918, [2001:db8::1]:5 relayB@[2001:db8::2]:6\n");
  g_autoptr(TfstConfig) d = load(GW, GW_PARENT);
  g_autoptr(TfstConfig) two = load(GW, "[Parent]\nConnect=10.0.0.2:1918, 10.0.0.1:1918\n");
  g_autoptr(TfstConfig) three = load(GW, "[Parent]\nConnect=[2001:db8::2]:5;10.0.0.9:7 10.0.0.1:6\n"
                                         "FailbackDelay=never\n");
  g_autoptr(TfstConfig) now = load(GW, GW_PARENT "FailbackDelay=0\n");
  g_autoptr(TfstConfig) caps = load(GW, GW_PARENT "FailbackDelay=Never\n");
  g_autoptr(TfstConfig) listen =
      load(RL, "[Parent]\nListen=127.0.0.1:1\nMaxParents=64\nFailbackDelay=1min 30s\n"
               "[Children]\nListen=127.0.0.1:2\n");
  g_autoptr(TfstConfig) reset = load(GW, GW_PARENT "FailbackDelay=\n");

  /* One parent and 30 s unless configured: today's behaviour. */
  g_assert_cmpuint(d->max_parents, ==, 1);
  g_assert_cmpuint(d->failback_delay_ms, ==, 30000);
  g_assert_cmpuint(reset->failback_delay_ms, ==, 30000);
  /* The order of the list is the order of preference. */
  g_assert_cmpuint(two->parent.addrs->len, ==, 2);
  g_assert_cmpstr(fmt(hop_addr(&two->parent, 0)), ==, "10.0.0.2:1918");
  g_assert_cmpstr(fmt(hop_addr(&two->parent, 1)), ==, "10.0.0.1:1918");
  g_assert_cmpuint(three->parent.addrs->len, ==, 3);
  g_assert_cmpstr(fmt(hop_addr(&three->parent, 0)), ==, "[2001:db8::2]:5");
  g_assert_cmpstr(fmt(hop_addr(&three->parent, 1)), ==, "10.0.0.9:7");
  g_assert_cmpstr(fmt(hop_addr(&three->parent, 2)), ==, "10.0.0.1:6");
  g_assert_cmpuint(three->failback_delay_ms, ==, TFST_FAILBACK_NEVER);
  g_assert_cmpuint(caps->failback_delay_ms, ==, TFST_FAILBACK_NEVER);
  g_assert_cmpuint(now->failback_delay_ms, ==, 0);
  g_assert_cmpuint(listen->max_parents, ==, 64);
  g_assert_cmpuint(listen->failback_delay_ms, ==, 90000);
  /* LABEL@ pins the label per address; the others take any. */
  g_assert_cmpuint(pinned->parent.expect_labels->len, ==, 3);
  g_assert_cmpstr(g_ptr_array_index(pinned->parent.expect_labels, 0), ==, "relayA");
  g_assert_null(g_ptr_array_index(pinned->parent.expect_labels, 1));
  g_assert_cmpstr(g_ptr_array_index(pinned->parent.expect_labels, 2), ==, "relayB");
  g_assert_cmpstr(fmt(hop_addr(&pinned->parent, 2)), ==, "[2001:db8::2]:6");
  assert_errors(cases, G_N_ELEMENTS(cases));
}

/* [Children] what a child may claim */
static void
test_trust(void)
{
  const ErrorCase cases[] = {
      {EP, "[Children]\nAllowLabels=gw1\n",
       "t.conf:2: [Children] AllowLabels=: 'gw1' is not CHILD:"},
      {EP, "[Children]\nAllowLabels=gw1:\n", "[Children] AllowLabels=: 'gw1:' is not CHILD:"},
      {EP, "[Children]\nAllowLabels=g/w:gw1\n", "'g/w:gw1' is not CHILD:"},
      {EP, "[Children]\nAllowForwards=gw1:web,,ssh\n",
       "[Children] AllowForwards=: '' is not a label pattern"},
      {EP, "[Children]\nAllowNetworks=gw1:10.1.0.1/16\n",
       "[Children] AllowNetworks=: '10.1.0.1/16' has host bits set"},
      {EP, "[Children]\nMaxTellEntries=0\n", "[Children] MaxTellEntries=: '0' is not a whole"},
      {GW, GW_PARENT "AllowLabels=*:*\n",
       "t.conf:3: [Parent] AllowLabels=: only applies in [Children]"},
  };
  g_autoptr(TfstConfig) d = load(EP, "");
  g_autoptr(TfstConfig) c =
      load(EP, "[Children]\nAllowLabels=gw1:gw1 gw-*:gw-*,x?\nAllowForwards=\n"
               "AllowNetworks=gw1:10.1.0.0/16,2001:db8::/32\nMaxTellEntries=5000\n");
  const TfstAllowRule *r;

  g_assert_null(d->trust.labels);
  g_assert_cmpuint(d->trust.max_tell_entries, ==, 1024);
  g_assert_cmpuint(c->trust.labels->len, ==, 2);
  r = g_ptr_array_index(c->trust.labels, 1);
  g_assert_cmpstr(r->child, ==, "gw-*");
  g_assert_cmpuint(g_strv_length(r->globs), ==, 2);
  g_assert_cmpstr(r->globs[1], ==, "x?");
  g_assert_null(c->trust.forwards); /* empty: reset to the default */
  r = g_ptr_array_index(c->trust.networks, 0);
  g_assert_cmpuint(r->networks->len, ==, 2);
  g_assert_cmpuint(g_array_index(r->networks, TfstNetworkEntry, 1).prefix, ==, 32);
  g_assert_cmpuint(c->trust.max_tell_entries, ==, 5000);
  assert_errors(cases, G_N_ELEMENTS(cases));
}

static void
test_keepalive_errors(void)
{
  const ErrorCase cases[] = {
      {EP, "[Keepalive]\nIdle=0\n", "t.conf:2: [Keepalive] Idle=: '0' is too short (minimum 1s)"},
      {EP, "[Keepalive]\nIdle=1500ms\n",
       "[Keepalive] Idle=: '1500ms' is not a whole number of "
       "seconds"},
      {EP, "[Keepalive]\nIdle=10h\n", "[Keepalive] Idle=: '10h' is too long (maximum 32767s)"},
      {EP, "[Keepalive]\nInterval=-1\n", "[Keepalive] Interval=: '-1' is not a time span"},
      {EP, "[Keepalive]\nCount=0\n",
       "[Keepalive] Count=: '0' is not a whole number in the range "
       "1-127"},
      {EP, "[Keepalive]\nCount=128\n", "[Keepalive] Count=: '128'"},
      {EP, "[Keepalive]\nUserTimeout=forever\n", "[Keepalive] UserTimeout=: 'forever'"},
      {EP, "[Keepalive]\nUserTimeout=30d\n", "[Keepalive] UserTimeout=: '30d' is too long"},
      {EP, "[Keepalive]\nFirewallTimeout=90500ms\n",
       "[Keepalive] FirewallTimeout=: '90500ms' "
       "is not a whole number of seconds"},
      {EP, "[Keepalive]\nPingInterval=10ms\n", "[Keepalive] PingInterval=: '10ms' is too short"},
      {EP, "[Keepalive]\nPingInterval=45s\n",
       "t.conf:2: [Keepalive] PingInterval=: PingTimeout= (45s) must be longer than "
       "PingInterval= (45s)"},
      {EP, "[Keepalive]\nPingTimeout=10s\n", "[Keepalive] PingTimeout=: PingTimeout= (10s)"},
      {EP, "[Keepalive]\nFirewallTimeout=15\n",
       "[Keepalive] FirewallTimeout=: PingInterval= (15s) must be shorter than "
       "FirewallTimeout= (15s)"},
  };
  g_autoptr(TfstConfig) c = load(EP, "[Keepalive]\nFirewallTimeout=16s\nUserTimeout=1500ms\n"
                                     "PingInterval=500ms\nPingTimeout=501ms\n");

  g_assert_cmpuint(c->keepalive.firewall_timeout_s, ==, 16);
  g_assert_cmpuint(c->keepalive.user_timeout_ms, ==, 1500);
  g_assert_cmpuint(c->keepalive.ping_timeout_ms, ==, 501);
  assert_errors(cases, G_N_ELEMENTS(cases));
}

static void
test_session_errors(void)
{
  const ErrorCase cases[] = {
      {EP, "[Session]\nConnectTimeout=0\n",
       "t.conf:2: [Session] ConnectTimeout=: '0' is too "
       "short (minimum 1ms)"},
      {EP, "[Session]\nCloseTimeout=1y\n", "[Session] CloseTimeout=: '1y' is not a time span"},
      {EP, "[Session]\nIdleTimeout=50d\n", "[Session] IdleTimeout=: '50d' is not a time span"},
      {EP, "[Session]\nInitialWindow=1K\n",
       "[Session] InitialWindow=: '1K' is too small "
       "(minimum 4K)"},
      {EP, "[Session]\nInitialWindow=128M\n", "'128M' is too large (maximum 64M)"},
      {EP, "[Session]\nInitialWindow=lots\n", "'lots' is not a size"},
      {EP, "[Session]\nMaxWindow=512M\n",
       "[Session] MaxWindow=: '512M' is too large (maximum "
       "256M)"},
      {EP, "[Session]\nInitialWindow=32M\n",
       "[Session] InitialWindow=: MaxWindow= (16M) is below InitialWindow= (32M)"},
      {EP, "[Session]\nInitialWindow=1M\nMaxWindow=512K\n",
       "t.conf:3: [Session] MaxWindow=: MaxWindow= (512K)"},
  };
  g_autoptr(TfstConfig) c = load(EP, "[Session]\nInitialWindow=64M\nMaxWindow=256M\n"
                                     "IdleTimeout=0\nConnectTimeout=1ms\n");

  g_assert_cmpuint(c->initial_window, ==, 64u * 1024 * 1024);
  g_assert_cmpuint(c->max_window, ==, 256u * 1024 * 1024);
  g_assert_cmpuint(c->connect_timeout_ms, ==, 1);
  assert_errors(cases, G_N_ELEMENTS(cases));
}

static void
test_ports(void)
{
  const ErrorCase cases[] = {
      {EP, "[Ports]\nBase=0\n",
       "t.conf:2: [Ports] Base=: '0' is not a whole number in the "
       "range 1-65535"},
      {EP, "[Ports]\nBase=65536\n", "[Ports] Base=: '65536'"},
      {EP, "[Ports]\nCount=0\n", "[Ports] Count=: '0'"},
      {EP, "[Ports]\nSkip=16\n",
       "[Ports] Skip=: the port rule Base + (Skip + k) * 4096 gives "
       "67454"},
      {EP, "[Ports]\nBase=62000\nCount=2\n", "[Ports] Count=: the port rule"},
  };
  g_autoptr(TfstConfig) c = load(EP, "[Ports]\nBase=1918\nSkip=15\n");

  g_assert_cmpuint(tfst_config_rule_port(c, 0), ==, 1918 + 15 * 4096);
  g_assert_cmpuint(tfst_config_rule_port(c, 1), ==, 0);
  g_assert_cmpuint(tfst_config_rule_port(c, G_MAXUINT), ==, 0);
  assert_errors(cases, G_N_ELEMENTS(cases));
}

static void
test_forward_errors(void)
{
  const ErrorCase cases[] = {
      {EP, "[Forward web]\nListen=127.0.0.1:1\nTarget=127.0.0.1:2\n",
       "t.conf:3: [Forward web] Target=: Listen= and Target= exclude each other"},
      {EP, "[Forward web]\nRoute=gw1\n", "t.conf:1: [Forward web]: needs Listen=ADDRESS:PORT"},
      {EP, "[Forward]\nListen=127.0.0.1:1\n", "t.conf:1: [Forward]: a forward needs a name"},
      {EP, "[Forward a b]\nListen=127.0.0.1:1\n", "[Forward a b]: 'a b' is not a valid forward"},
      {EP, "[Forward web]\nListen=127.0.0.1:1\n[Forward  web]\nTarget=127.0.0.1:2\n",
       "t.conf:3: [Forward  web]: forward 'web' is defined twice"},
      {EP, "[Forward web]\nListen=127.0.0.1\n", "[Forward web] Listen=: '127.0.0.1': a port"},
      {EP, "[Forward web]\nTarget=original-dst\n", "[Forward web] Target=: 'original-dst'"},
      {EP, "[Forward web]\nTarget=[::1]\n", "[Forward web] Target=: '[::1]': a port is required"},
      {EP, "[Forward web]\nTarget=127.0.0.1:1\nRoute=gw1\n",
       "t.conf:3: [Forward web] Route=: only applies with Listen="},
      {EP, "[Forward web]\nTarget=127.0.0.1:1\nDestination=10.0.0.1:1\n",
       "[Forward web] Destination=: only applies with Listen="},
      {EP, "[Forward web]\nListen=127.0.0.1:1\nRoute=gw 1\n",
       "[Forward web] Route=: 'gw 1' is not a valid label"},
      {EP, "[Forward web]\nListen=127.0.0.1:1\nDestination=10.0.0.1\n",
       "[Forward web] Destination=: '10.0.0.1': a port is required"},
      {GW, GW_PARENT "[Forward web]\nListen=127.0.0.1:1\nRoute=ep\n",
       "[Forward web] Route=: a gwproxy has no children"},
      {EP, "[Forward a]\nListen=127.0.0.1:1\n[Forward b]\nListen=127.0.0.1:1\n",
       "t.conf:4: [Forward b] Listen=: 127.0.0.1:1 is already used by [Forward a] Listen="},
      {EP, "[Children]\nListen=127.0.0.1:7\n[Forward b]\nListen=127.0.0.1:7\n",
       "[Forward b] Listen=: 127.0.0.1:7 is already used by [Children] Listen="},
  };
  g_autoptr(TfstConfig) c = load(GW, GW_PARENT "[Forward up]\nListen=[::1]:80\n"
                                               "Destination=[fd00::1]:443\n"
                                               "[Forward x.y_z-1]\nTarget=[::1]:81\n");

  g_assert_cmpuint(c->forwards->len, ==, 2);
  g_assert_cmpstr(fmt(&forward(c, 0)->destination), ==, "[fd00::1]:443");
  g_assert_cmpstr(forward(c, 1)->name, ==, "x.y_z-1");
  g_assert_cmpint(forward(c, 1)->target_kind, ==, TFST_TARGET_ADDRESS);
  assert_errors(cases, G_N_ELEMENTS(cases));
}

static void
test_unknown(void)
{
  const ErrorCase cases[] = {
      {EP, "[Instance]\nLabel=x\n[Instnace]\nLabel=y\n",
       "t.conf:3: [Instnace]: unknown section (did you mean [Instance]?); the sections are "
       "[Instance], [Parent], [Children], [Keepalive], [SessionKeepalive], [Session], [Ports], "
       "[Diagnostics], [Forward NAME] and [Events NAME]"},
      {EP, "[forward web]\nListen=127.0.0.1:1\n",
       "[forward web]: unknown section (did you mean [Forward NAME]?)"},
      {EP, "[Global]\n", "t.conf:1: [Global]: unknown section; the sections are"},
      {EP, "[Children]\nListen=127.0.0.1:1\nReconectMax=5s\n",
       "t.conf:3: [Children] ReconectMax=: unknown key (did you mean ReconnectMax=?); the keys "
       "of [Children] are Listen=, Connect=, LocalAddress=, SourcePorts=, ReconnectMin=, "
       "ReconnectMax="},
      {EP, "[Instance]\nlabel=x\n", "[Instance] label=: unknown key (did you mean Label=?)"},
      {EP, "[Instance]\nFoo=\n",
       "[Instance] Foo=: unknown key; the keys of [Instance] are "
       "Label=, LogLevel=, MaxSessions=, MaxSessionsPerChild=, OpenRate=, Networks="},
      {EP, "[Forward web]\nListen=127.0.0.1:1\nTraget=1.2.3.4:5\n",
       "t.conf:3: [Forward web] Traget=: unknown key (did you mean Target=?); the keys of "
       "[Forward NAME] are Listen=, Target=, Route=, Destination="},
      {EP, "[Instance]\nLabel[de]=x\n", "[Instance] Label[de]=: unknown key"},
      {EP, "[Ports]\nKeepalive=1\n",
       "[Ports] Keepalive=: unknown key; the keys of [Ports] are "
       "Base=, Skip=, Count="},
  };

  assert_errors(cases, G_N_ELEMENTS(cases));
}

static void
test_syntax_errors(void)
{
  const ErrorCase cases[] = {
      {EP, "Label=x\n[Instance]\n", "t.conf:1: Key=Value before the first [Section]"},
      {EP, "# c\n\n[Instance]\nLabel x\n", "t.conf:4: expected Key=Value, [Section] or a #"},
      {EP, "[Instance\n", "t.conf:1: malformed section header"},
      {EP, "[Instance]\n[Ports]x\n", "t.conf:2: malformed section header"},
      {EP, "[Instance]\nLabel=a#b\n", "t.conf:2: [Instance] Label=: 'a#b' is not a valid"},
      {EP, "[Instance]\n=x\n", "t.conf:2: missing key name before '='"},
      {EP, "[Instance]\n; comment\n", "t.conf:2: expected Key=Value"},
      {EP, "[Instance]\nLabel=\xff\n", "t.conf:2: line is not valid UTF-8"},
      {EP, "[Instance]\nLabel=a\\qb\n",
       "t.conf:2: [Instance] Label=: invalid escape sequence in the value"},
      /* left to GKeyFile: its message gets the file name */
      {EP, "[In[st]\n", "t.conf: "},
  };

  assert_errors(cases, G_N_ELEMENTS(cases));
}

/* The line is that of the key in its section, also when the same key or
 * section name appears elsewhere. */
static void
test_error_line(void)
{
  assert_error(EP,
               "# tfst\n"
               "[Session]\n"
               "CloseTimeout=1s\n"
               "\n"
               "[Keepalive]\n"
               "  # CloseTimeout=bad\n"
               "Count=4\n"
               "[Session]\n"
               "  CloseTimeout = never\n",
               "t.conf:9: [Session] CloseTimeout=: 'never' is not a time span");
  assert_error(EP, "[Session]\nIdleTimeout=x\nIdleTimeout=y\n",
               "t.conf:3: [Session] IdleTimeout=: 'y'");
  assert_error(EP, "[Instance]\r\nLabel=ok\r\nLogLevel=9\r\n",
               "t.conf:3: [Instance] LogLevel=: '9'");
}

static void
test_escapes_and_whitespace(void)
{
  g_autoptr(TfstConfig) c = load(EP, "  [Instance]  \n"
                                     "\tLabel =  ep-1 \n"
                                     "LogLevel=\\s2\\s\n"
                                     "[Session]\n"
                                     "IdleTimeout = 1min  30s\n");

  g_assert_cmpstr(c->label, ==, "ep-1");
  g_assert_cmpint(c->log_priority, ==, LOG_INFO);
  g_assert_cmpuint(c->idle_timeout_ms, ==, 90000);
}

/* ---- [Events NAME] ---- */

static const TfstEventsConf *
events(const TfstConfig *c, guint i)
{
  g_assert_cmpuint(i, <, c->events->len);
  return g_ptr_array_index(c->events, i);
}

static const TfstEventAddr *
event_listen(const TfstEventsConf *e, guint i)
{
  g_assert_cmpuint(i, <, e->listen->len);
  return &g_array_index(e->listen, TfstEventAddr, i);
}

static void
test_events(void)
{
  g_autoptr(TfstConfig) gw = load(GW, GW_PARENT "[Events syslog]\n"
                                                "Listen=udp:0.0.0.0:514, tcp:[::1]:601\t"
                                                "udp:[::]:514;tcp:0.0.0.0:514\n"
                                                "SpoolSize=2G\n"
                                                "SpoolSync=always\n"
                                                "SpoolFull=block\n"
                                                "[Events  traps]\n"
                                                "Listen=udp:127.0.0.1:162\n");
  g_autoptr(TfstConfig) ep = load(EP, "[Events syslog]\nTarget=tcp:10.0.0.5:601\n"
                                      "TargetFraming=newline\n"
                                      "[Events traps]\nTarget=udp:[fd00::7]:162\n");
  const TfstEventsConf *e = events(gw, 0);

  g_assert_cmpuint(gw->events->len, ==, 2);
  g_assert_cmpstr(e->name, ==, "syslog");
  g_assert_false(e->has_target);
  g_assert_cmpuint(e->listen->len, ==, 4);
  g_assert_cmpint(event_listen(e, 0)->transport, ==, TFST_EVENT_UDP);
  g_assert_cmpstr(fmt(&event_listen(e, 0)->addr), ==, "0.0.0.0:514");
  g_assert_cmpint(event_listen(e, 1)->transport, ==, TFST_EVENT_TCP);
  g_assert_cmpstr(fmt(&event_listen(e, 1)->addr), ==, "[::1]:601");
  g_assert_cmpstr(fmt(&event_listen(e, 2)->addr), ==, "[::]:514");
  /* the same address and port on udp and tcp are two sockets */
  g_assert_cmpint(event_listen(e, 3)->transport, ==, TFST_EVENT_TCP);
  g_assert_cmpstr(fmt(&event_listen(e, 3)->addr), ==, "0.0.0.0:514");
  g_assert_cmpuint(e->spool.max_bytes, ==, 2ull * 1024 * 1024 * 1024);
  g_assert_cmpuint(e->spool.sync_ms, ==, TFST_SPOOL_SYNC_ALWAYS);
  g_assert_cmpint(e->spool.full, ==, TFST_SPOOL_FULL_BLOCK);

  /* defaults; the name is found whatever blanks the header has */
  e = tfst_config_events(gw, "traps");
  g_assert_true(e == events(gw, 1));
  g_assert_cmpuint(e->spool.max_bytes, ==, 256ull * 1024 * 1024);
  g_assert_cmpuint(e->spool.sync_ms, ==, 100);
  g_assert_cmpint(e->spool.full, ==, TFST_SPOOL_FULL_DROP_OLDEST);
  g_assert_null(tfst_config_events(gw, "other"));
  g_assert_cmpstr(tfst_config_origin(gw, "Events traps", "Listen"), ==, "t.conf:9");
  g_assert_cmpstr(tfst_config_origin(gw, "Events syslog", "Listen"), ==, "t.conf:4");

  e = tfst_config_events(ep, "syslog");
  g_assert_true(e->has_target);
  g_assert_cmpuint(e->listen->len, ==, 0);
  g_assert_cmpint(e->target.transport, ==, TFST_EVENT_TCP);
  g_assert_cmpstr(fmt(&e->target.addr), ==, "10.0.0.5:601");
  g_assert_cmpint(e->target_framing, ==, TFST_EVENT_FRAMING_NEWLINE);
  e = tfst_config_events(ep, "traps");
  g_assert_cmpint(e->target.transport, ==, TFST_EVENT_UDP);
  g_assert_cmpstr(fmt(&e->target.addr), ==, "[fd00::7]:162");
  g_assert_cmpint(e->target_framing, ==, TFST_EVENT_FRAMING_OCTET);
  g_assert_cmpstr(tfst_config_origin(ep, "Events traps", "Target"), ==, "t.conf:5");
  g_clear_pointer(&ep, tfst_config_free);
  ep = load(EP, "");
  g_assert_cmpuint(ep->events->len, ==, 0);
}

static void
test_events_values(void)
{
  const struct {
    const char *lines;
    guint64 size;
    guint sync_ms;
    TfstSpoolFull full;
  } good[] = {
      {"SpoolSize=1M\n", 1024 * 1024, 100, TFST_SPOOL_FULL_DROP_OLDEST},
      {"SpoolSize=1048576\nSpoolSync=2s\n", 1024 * 1024, 2000, TFST_SPOOL_FULL_DROP_OLDEST},
      {"SpoolSize=16G\nSpoolSync=0\n", 16ull << 30, 0, TFST_SPOOL_FULL_DROP_OLDEST},
      {"SpoolSync=Always\nSpoolFull=drop-newest\n", 256 << 20, 0, TFST_SPOOL_FULL_DROP_NEWEST},
      {"SpoolSync=1min 30s\nSpoolFull=drop-oldest\n", 256 << 20, 90000,
       TFST_SPOOL_FULL_DROP_OLDEST},
      /* an empty value resets the key to its default */
      {"SpoolSize=\nSpoolSync=\nSpoolFull=\n", 256 << 20, 100, TFST_SPOOL_FULL_DROP_OLDEST},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
    g_autofree char *text =
        g_strconcat(GW_PARENT "[Events s]\nListen=udp:127.0.0.1:514\n", good[i].lines, NULL);
    g_autoptr(TfstConfig) c = load(GW, text);

    g_assert_cmpuint(events(c, 0)->spool.max_bytes, ==, good[i].size);
    g_assert_cmpuint(events(c, 0)->spool.sync_ms, ==, good[i].sync_ms);
    g_assert_cmpint(events(c, 0)->spool.full, ==, good[i].full);
  }
}

#define GW_EV GW_PARENT "[Events s]\n"

static void
test_events_errors(void)
{
  const ErrorCase cases[] = {
      {GW, GW_EV "Listen=127.0.0.1:514\n",
       "t.conf:4: [Events s] Listen=: '127.0.0.1:514' does not start with udp: or tcp:"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514 sctp:127.0.0.1:514\n",
       "[Events s] Listen=: 'sctp:127.0.0.1:514' does not start with udp: or tcp:"},
      {GW, GW_EV "Listen=UDP:127.0.0.1:514\n", "'UDP:127.0.0.1:514' does not start with udp:"},
      {GW, GW_EV "Listen=udp:127.0.0.1\n",
       "[Events s] Listen=: 'udp:127.0.0.1': '127.0.0.1': a port is required"},
      {GW, GW_EV "Listen=tcp:[::1]\n", "[Events s] Listen=: 'tcp:[::1]': '[::1]': a port is"},
      {GW, GW_EV "Listen=udp:127.0.0.1:0\n", "'udp:127.0.0.1:0': '127.0.0.1:0': port must be"},
      {GW, GW_EV "Listen=udp:syslog.example:514\n", "not a numeric IPv4 or IPv6 address"},
      {GW, GW_EV "Listen=udp:\n", "[Events s] Listen=: 'udp:': empty address"},
      {GW, GW_EV "Listen=,\n", "t.conf:4: [Events s] Listen=: no address given"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514 udp:127.0.0.1:514\n",
       "t.conf:4: [Events s] Listen=: udp:127.0.0.1:514 is already used by [Events s] Listen="},
      {GW, GW_EV "Listen=tcp:[::1]:601\n[Events t]\nListen=tcp:[0::1]:601\n",
       "t.conf:6: [Events t] Listen=: tcp:[::1]:601 is already used by [Events s] Listen="},
      {GW,
       GW_PARENT "[Forward web]\nListen=127.0.0.1:8080\n[Events s]\n"
                 "Listen=tcp:127.0.0.1:8080\n",
       "[Events s] Listen=: tcp:127.0.0.1:8080 is already used by [Forward web] Listen="},
      {GW, "[Parent]\nListen=127.0.0.1:1918\n[Events s]\nListen=tcp:127.0.0.1:1918\n",
       "[Events s] Listen=: tcp:127.0.0.1:1918 is already used by [Parent] Listen="},
      {EP, "[Events s]\nListen=udp:127.0.0.1:514\n",
       "t.conf:2: [Events s] Listen=: only a gwproxy collects events"},
      {GW, GW_EV "Target=udp:127.0.0.1:514\n",
       "t.conf:4: [Events s] Target=: only an epproxy delivers events"},
      {RL, RL_HOPS "[Events s]\nListen=udp:127.0.0.1:514\n",
       "t.conf:5: [Events s]: a relay needs no [Events] section"},
      {RL, RL_HOPS "[Events s]\n", "[Events s]: a relay needs no [Events] section"},
      {GW, GW_EV "SpoolSize=1G\n", "t.conf:3: [Events s]: needs Listen=udp:|tcp:ADDRESS:PORT"},
      {EP, "[Events s]\nListen=\n", "t.conf:1: [Events s]: needs Listen="},
      {EP, "[Events s]\nTarget=udp:127.0.0.1\n",
       "[Events s] Target=: 'udp:127.0.0.1': '127.0.0.1': a port is required"},
      {EP, "[Events s]\nTarget=127.0.0.1:514\n", "'127.0.0.1:514' does not start with udp:"},
      {EP, "[Events s]\nTarget=udp:127.0.0.1:514 udp:127.0.0.2:514\n",
       "[Events s] Target=: 'udp:127.0.0.1:514 udp:127.0.0.2:514': Target= takes a single"},
      {EP, "[Events s]\nTarget=udp:127.0.0.1:514\nTargetFraming=newline\n",
       "t.conf:3: [Events s] TargetFraming=: only applies with a tcp: Target="},
      {EP, "[Events s]\nTarget=tcp:127.0.0.1:514\nTargetFraming=lf\n",
       "[Events s] TargetFraming=: 'lf' is not octet-counted or newline"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nTargetFraming=newline\n",
       "[Events s] TargetFraming=: only applies with Target="},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nSpoolSize=1023K\n",
       "t.conf:5: [Events s] SpoolSize=: '1023K' is too small (minimum 1M)"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nSpoolSize=lots\n",
       "[Events s] SpoolSize=: 'lots' is not a size"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nSpoolSize=-1M\n", "'-1M' is not a size"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nSpoolSize=16T\n", "'16T' is not a size"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nSpoolSize=99999999999G\n",
       "'99999999999G' is not a size"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nSpoolSync=often\n",
       "[Events s] SpoolSync=: 'often' is neither a time span (examples: 100ms, 1s) nor always"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nSpoolSync=-1s\n", "'-1s' is neither a time span"},
      {GW, GW_EV "Listen=udp:127.0.0.1:514\nSpoolFull=drop\n",
       "[Events s] SpoolFull=: 'drop' is not drop-oldest, drop-newest or block"},
      {EP, "[Events s]\nTarget=udp:127.0.0.1:514\nSpoolSize=1G\n",
       "t.conf:3: [Events s] SpoolSize=: only applies with Listen=: the spool is at the "
       "collecting end"},
      {EP, "[Events s]\nTarget=udp:127.0.0.1:514\nSpoolSync=always\n",
       "[Events s] SpoolSync=: only applies with Listen="},
      {EP, "[Events s]\nTarget=udp:127.0.0.1:514\nSpoolFull=block\n",
       "[Events s] SpoolFull=: only applies with Listen="},
      {EP, "[Events]\nTarget=udp:127.0.0.1:514\n",
       "t.conf:1: [Events]: an event sink needs a name: [Events NAME]"},
      {EP, "[Events a/b]\nTarget=udp:127.0.0.1:514\n",
       "[Events a/b]: 'a/b' is not a valid event sink name"},
      {EP, "[Events s]\nTarget=udp:127.0.0.1:514\n[Events  s]\nTarget=udp:127.0.0.1:515\n",
       "t.conf:3: [Events  s]: event sink 's' is defined twice"},
      {EP, "[Events s]\nTarget=udp:127.0.0.1:514\nSpoolsize=1M\n",
       "t.conf:3: [Events s] Spoolsize=: unknown key (did you mean SpoolSize=?); the keys of "
       "[Events NAME] are Listen=, Target=, TargetFraming=, SpoolSize=, SpoolSync=, SpoolFull="},
      {EP, "[Event s]\nTarget=udp:127.0.0.1:514\n",
       "[Event s]: unknown section (did you mean [Events NAME]?)"},
  };

  assert_errors(cases, G_N_ELEMENTS(cases));
}

/* The spool of a sink is below the first StateDirectory=, one directory
 * per instance and sink. */
static void
test_spool_dir(void)
{
  g_autoptr(TfstConfig) c = load(GW, GW_PARENT "[Events syslog]\nListen=udp:127.0.0.1:514\n");
  g_autofree char *dflt = NULL;
  g_autofree char *set = NULL;
  g_autofree char *old = g_strdup(g_getenv("STATE_DIRECTORY"));

  g_unsetenv("STATE_DIRECTORY");
  dflt = tfst_config_spool_dir(c, "syslog");
  g_setenv("STATE_DIRECTORY", "/run/st/tfst:/run/st/other", TRUE);
  set = tfst_config_spool_dir(c, "syslog");
  if (old != NULL)
    g_setenv("STATE_DIRECTORY", old, TRUE);
  else
    g_unsetenv("STATE_DIRECTORY");
  g_assert_cmpstr(dflt, ==, TFST_STATE_DIR "/gwproxy@test.spool/syslog");
  g_assert_cmpstr(set, ==, "/run/st/tfst/gwproxy@test.spool/syslog");
}

/* ---- files and drop-ins ---- */

typedef struct {
  char *dir;
  char *main;
  char *dropins;
  char *state;
} Fixture;

static void
fixture_write(Fixture *fx, const char *name, const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename(fx->dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname(path);

  g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
  g_file_set_contents(path, text, -1, &error);
  g_assert_no_error(error);
}

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fx->dir = g_dir_make_tmp("tfst-config-XXXXXX", &error);
  g_assert_no_error(error);
  fx->main = g_build_filename(fx->dir, "relay@r1.conf", NULL);
  fx->dropins = g_build_filename(fx->dir, "relay@r1.conf.d", NULL);
  /* where persisted settings are read from: inside the fixture, never the
   * host's /var/lib/tfst */
  fx->state = g_build_filename(fx->dir, "state", NULL);
  g_setenv("STATE_DIRECTORY", fx->state, TRUE);
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
  tfst_test_remove_tree(fx->dir);
  g_free(fx->dir);
  g_free(fx->main);
  g_free(fx->dropins);
  g_free(fx->state);
  g_unsetenv("STATE_DIRECTORY");
}

static void
test_file_load(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = NULL;

  fixture_write(fx, "relay@r1.conf", RL_HOPS "[Instance]\nLabel=r1\n");
  c = tfst_config_load(RL, "r1", fx->main, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(c->path, ==, fx->main);
  g_assert_cmpstr(c->instance, ==, "r1");
  g_assert_cmpstr(c->label, ==, "r1");
}

/* The list tfstctl cat prints and the loader reads: main file (also when
 * missing), drop-ins by name, then the persisted drop-ins; other names and
 * directories are not configuration files. */
static void
test_files_in_order(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) missing = NULL;
  g_autoptr(GPtrArray) files = NULL;
  static const char *const want[] = {
      "relay@r1.conf",
      "relay@r1.conf.d/10-a.conf",
      "relay@r1.conf.d/20-b.conf",
      "state/relay@r1.conf.d/50-keepalive.conf",
  };
  static const TfstConfigFileKind kinds[] = {TFST_CONFIG_FILE_MAIN, TFST_CONFIG_FILE_DROPIN,
                                             TFST_CONFIG_FILE_DROPIN, TFST_CONFIG_FILE_PERSISTED};

  missing = tfst_config_files(RL, "r1", fx->main, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(missing->len, ==, 1);
  g_assert_cmpstr(((TfstConfigFile *)missing->pdata[0])->path, ==, fx->main);

  fixture_write(fx, "relay@r1.conf", RL_HOPS);
  fixture_write(fx, "relay@r1.conf.d/20-b.conf", "");
  fixture_write(fx, "relay@r1.conf.d/10-a.conf", "");
  fixture_write(fx, "relay@r1.conf.d/10-a.conf~", "");
  fixture_write(fx, "relay@r1.conf.d/.hidden.conf", "");
  fixture_write(fx, "relay@r1.conf.d/dir.conf/x.conf", "");
  fixture_write(fx, "state/relay@r1.conf.d/50-keepalive.conf", "");
  files = tfst_config_files(RL, "r1", fx->main, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(files->len, ==, G_N_ELEMENTS(want));
  for (guint i = 0; i < files->len; i++) {
    const TfstConfigFile *f = g_ptr_array_index(files, i);
    g_autofree char *path = g_build_filename(fx->dir, want[i], NULL);

    g_assert_cmpstr(f->path, ==, path);
    g_assert_cmpint(f->kind, ==, kinds[i]);
  }
  g_assert_null(tfst_config_files(RL, "a/b", fx->main, &error));
  g_assert_error(error, TFST_ERROR, TFST_ERROR_CONFIG);
}

/* SetSettings(PERSIST) drop-ins are read after those in /etc, and what
 * tfst_keepalive_dropin() writes loads back to the same values. */
static void
test_persisted_dropins(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = NULL;
  g_autoptr(TfstConfig) again = NULL;
  g_autoptr(GVariant) hops = NULL;
  g_autoptr(GVariant) sessions = NULL;
  g_autofree char *text = NULL;
  g_autofree char *hops_text = NULL;
  g_autofree char *sessions_text = NULL;
  g_autofree char *persisted = tfst_config_persist_dir(RL, "r1");
  g_autofree char *expected = g_build_filename(fx->state, "relay@r1.conf.d", NULL);

  g_assert_cmpstr(persisted, ==, expected);
  fixture_write(fx, "relay@r1.conf", RL_HOPS "[Keepalive]\nIdle=50\nCount=3\n");
  fixture_write(fx, "relay@r1.conf.d/90-site.conf", "[Keepalive]\nIdle=60\n");
  fixture_write(fx, "state/relay@r1.conf.d/50-keepalive.conf",
                "[Keepalive]\nIdle=77\nPingInterval=5s\n");
  fixture_write(fx, "state/relay@r1.conf.d/50-session-keepalive.conf",
                "[SessionKeepalive]\nKeepalive=no\nUserTimeout=1500ms\n");
  c = tfst_config_load(RL, "r1", fx->main, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(c->keepalive.idle_s, ==, 77);
  g_assert_cmpuint(c->keepalive.count, ==, 3);
  g_assert_cmpuint(c->keepalive.ping_interval_ms, ==, 5000);
  g_assert_false(c->session_keepalive.enabled);
  g_assert_cmpuint(c->session_keepalive.idle_s, ==, 77);
  g_assert_cmpuint(c->session_keepalive.user_timeout_ms, ==, 1500);

  hops = g_variant_ref_sink(tfst_keepalive_to_variant(&c->keepalive, TRUE));
  sessions = g_variant_ref_sink(tfst_keepalive_to_variant(&c->session_keepalive, FALSE));
  hops_text = tfst_keepalive_dropin(NULL, hops, TRUE, NULL);
  sessions_text = tfst_keepalive_dropin(NULL, sessions, FALSE, NULL);
  text = g_strconcat(RL_HOPS, hops_text, sessions_text, NULL);
  again = load(RL, text);
  g_assert_cmpmem(&again->keepalive, sizeof(again->keepalive), &c->keepalive, sizeof(c->keepalive));
  g_assert_cmpmem(&again->session_keepalive, sizeof(again->session_keepalive),
                  &c->session_keepalive, sizeof(c->session_keepalive));
}

static void
test_dropin_order(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = NULL;

  fixture_write(fx, "relay@r1.conf",
                RL_HOPS "[Instance]\nLabel=main\nLogLevel=0\nMaxSessions=7\n"
                        "[Session]\nCloseTimeout=1s\n");
  /* written out of order: the name decides, not the creation time */
  fixture_write(fx, "relay@r1.conf.d/20-b.conf", "[Instance]\nLabel=b\n");
  fixture_write(fx, "relay@r1.conf.d/10-a.conf",
                "[Instance]\nLabel=a\nLogLevel=2\n[Keepalive]\nCount=9\n");
  fixture_write(fx, "relay@r1.conf.d/30-c.conf", "[Session]\nCloseTimeout=3s\n");
  /* not drop-ins */
  fixture_write(fx, "relay@r1.conf.d/99-z.conf~", "[Instance]\nLabel=backup\n");
  fixture_write(fx, "relay@r1.conf.d/99-z.conf.off", "[Instance]\nLabel=off\n");
  fixture_write(fx, "relay@r1.conf.d/.99-hidden.conf", "[Instance]\nLabel=hidden\n");
  fixture_write(fx, "relay@r1.conf.d/99-dir.conf/x", "junk");

  c = tfst_config_load(RL, "r1", fx->main, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(c->label, ==, "b");             /* 20-b after 10-a after main */
  g_assert_cmpint(c->log_priority, ==, LOG_INFO); /* only 10-a sets it */
  g_assert_cmpuint(c->max_sessions, ==, 7);       /* only main sets it */
  g_assert_cmpuint(c->keepalive.count, ==, 9);
  g_assert_cmpuint(c->close_timeout_ms, ==, 3000);
}

/* An empty assignment in a drop-in returns a key to its default, which is
 * how a drop-in turns Connect= into Listen=. */
static void
test_dropin_reset(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = NULL;

  fixture_write(fx, "relay@r1.conf", RL_HOPS "[Instance]\nLogLevel=3\n[Parent]\nReconnectMin=5s\n");
  fixture_write(fx, "relay@r1.conf.d/50-reverse.conf",
                "[Instance]\nLogLevel=\n[Parent]\nConnect=\nReconnectMin=\nListen=10.9.9.9:1918\n");
  c = tfst_config_load(RL, "r1", fx->main, &error);
  g_assert_no_error(error);
  g_assert_cmpint(c->log_priority, ==, LOG_NOTICE);
  g_assert_true(c->parent.listen);
  g_assert_cmpstr(fmt(hop_addr(&c->parent, 0)), ==, "10.9.9.9:1918");
}

static void
test_dropin_errors(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  g_autoptr(GError) e4 = NULL;
  g_autoptr(TfstConfig) c = NULL;
  g_autofree char *expect = NULL;
  g_autofree char *dropin = g_build_filename(fx->dropins, "10-x.conf", NULL);

  /* a value from a drop-in is reported at the drop-in's line */
  fixture_write(fx, "relay@r1.conf", RL_HOPS "[Keepalive]\nCount=4\n");
  fixture_write(fx, "relay@r1.conf.d/10-x.conf", "# override\n[Keepalive]\nCount=400\n");
  c = tfst_config_load(RL, "r1", fx->main, &e1);
  g_assert_null(c);
  g_assert_error(e1, TFST_ERROR, TFST_ERROR_CONFIG);
  expect = g_strdup_printf("%s:3: [Keepalive] Count=: '400'", dropin);
  g_assert_true(g_str_has_prefix(e1->message, expect));

  /* Connect= in the main file, Listen= in a drop-in: the drop-in is named */
  fixture_write(fx, "relay@r1.conf.d/10-x.conf", "[Parent]\nListen=10.0.0.1:5\n");
  c = tfst_config_load(RL, "r1", fx->main, &e2);
  g_assert_null(c);
  g_free(expect);
  expect = g_strdup_printf("%s:2: [Parent] Listen=: Listen= and Connect= exclude", dropin);
  g_assert_true(g_str_has_prefix(e2->message, expect));

  /* a syntax error in a drop-in */
  fixture_write(fx, "relay@r1.conf.d/10-x.conf", "[Parent]\nbroken\n");
  c = tfst_config_load(RL, "r1", fx->main, &e3);
  g_assert_null(c);
  g_free(expect);
  expect = g_strdup_printf("%s:2: expected Key=Value", dropin);
  g_assert_true(g_str_has_prefix(e3->message, expect));

  /* a section first opened in the main file: its header there */
  fixture_write(fx, "relay@r1.conf.d/10-x.conf", "[Forward w]\nRoute=gw1\n");
  fixture_write(fx, "relay@r1.conf", RL_HOPS "\n[Forward w]\n");
  c = tfst_config_load(RL, "r1", fx->main, &e4);
  g_assert_null(c);
  g_free(expect);
  expect = g_strdup_printf("%s:6: [Forward w]: needs Listen=", fx->main);
  g_assert_true(g_str_has_prefix(e4->message, expect));
}

static void
test_missing_files(Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  g_autoptr(GError) e4 = NULL;
  g_autoptr(TfstConfig) c = NULL;
  g_autofree char *instance = g_strdup_printf("test-config-missing-%d", (int)getpid());
  g_autofree char *expect = NULL;

  /* an explicit file must exist */
  c = tfst_config_load(RL, "r1", fx->main, &e1);
  g_assert_null(c);
  g_assert_error(e1, TFST_ERROR, TFST_ERROR_CONFIG);
  expect = g_strdup_printf("%s: cannot read the file: %s", fx->main, g_strerror(ENOENT));
  g_assert_cmpstr(e1->message, ==, expect);

  /* a directory is not a configuration file */
  c = tfst_config_load(RL, "r1", fx->dir, &e2);
  g_assert_null(c);
  g_assert_error(e2, TFST_ERROR, TFST_ERROR_CONFIG);

  /* the default file may be missing: an epproxy then runs on defaults */
  c = tfst_config_load(EP, instance, NULL, &e3);
  g_assert_no_error(e3);
  g_assert_nonnull(c);
  g_free(expect);
  expect = g_strdup_printf(SYSCONFDIR "/tfst/epproxy@%s.conf", instance);
  g_assert_cmpstr(c->path, ==, expect);
  g_assert_true(c->children.listen);
  g_clear_pointer(&c, tfst_config_free);

  /* ... but a gwproxy needs a parent, and the message says the file is missing */
  c = tfst_config_load(GW, instance, NULL, &e4);
  g_assert_null(c);
  g_assert_error(e4, TFST_ERROR, TFST_ERROR_CONFIG);
  g_assert_nonnull(strstr(e4->message, "[Parent]: a gwproxy needs a [Parent] section"));
  g_assert_nonnull(strstr(e4->message, "(the file does not exist)"));
}

static void
test_bad_instance(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = tfst_config_load(EP, "../../etc/x", NULL, &error);

  g_assert_null(c);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_CONFIG);
}

/* ---- files that are not configuration files ---- */

static void
assert_file_refused(const char *path, const char *expect)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) c = tfst_config_load(RL, "r1", path, &error);

  g_assert_null(c);
  g_assert_error(error, TFST_ERROR, TFST_ERROR_CONFIG);
  if (strstr(error->message, expect) == NULL)
    g_error("expected '%s' in '%s'", expect, error->message);
}

/* A FIFO would block the load until someone writes (startup hung, a
 * reload hung the control plane so that SIGTERM went unheard), a device
 * would be read without end: both are refused before a byte is read. */
static void
test_special_files(Fixture *fx, gconstpointer data)
{
  g_autofree char *fifo_dropin = g_build_filename(fx->dropins, "fifo.conf", NULL);
  g_autoptr(GString) big = g_string_new("[Instance]\n");

  alarm(20); /* a hang fails the test instead of stalling the suite */
  g_assert_cmpint(mkfifo(fx->main, 0600), ==, 0);
  assert_file_refused(fx->main,
                      "relay@r1.conf: cannot read the file: is a FIFO, not a regular file");
  g_assert_cmpint(g_unlink(fx->main), ==, 0);
  assert_file_refused("/dev/zero", "/dev/zero: cannot read the file: is a character device, not a "
                                   "regular file");
  assert_file_refused(fx->dir, "is a directory");

  /* a drop-in that is a FIFO names itself */
  fixture_write(fx, "relay@r1.conf", RL_HOPS);
  g_assert_cmpint(g_mkdir_with_parents(fx->dropins, 0700), ==, 0);
  g_assert_cmpint(mkfifo(fifo_dropin, 0600), ==, 0);
  assert_file_refused(fx->main, "fifo.conf: cannot read the file: is a FIFO");
  g_assert_cmpint(g_unlink(fifo_dropin), ==, 0);

  /* one byte above the cap */
  while (big->len <= TFST_FILE_MAX)
    g_string_append(big, "# padding padding padding padding padding padding padding\n");
  fixture_write(fx, "relay@r1.conf", big->str);
  assert_file_refused(fx->main, "cannot read the file: is larger than 1048576 bytes");
  alarm(0);
}

/* ---- loading cost ---- */

static char *
many_forwards(guint n)
{
  GString *s = g_string_new("[Instance]\nLabel=gw1\n" GW_PARENT);

  for (guint i = 0; i < n; i++)
    g_string_append_printf(s, "[Forward f%u]\nListen=127.0.%u.1:%u\n", i, 1 + i / 60000,
                           1024 + i % 60000);
  return g_string_free(s, FALSE);
}

/* CPU time of the fastest of three loads: the least disturbed by the
 * other processes of a loaded machine. */
static gint64
load_cpu_us(const char *text, guint n)
{
  gint64 best = G_MAXINT64;

  for (int run = 0; run < 3; run++) {
    struct timespec a, b;
    g_autoptr(TfstConfig) c = NULL;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    c = load(GW, text);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    g_assert_cmpuint(c->forwards->len, ==, n);
    best = MIN(best, (b.tv_sec - a.tv_sec) * G_USEC_PER_SEC + (b.tv_nsec - a.tv_nsec) / 1000);
  }
  return MAX(best, 1);
}

/* 16 times the forwards must cost about 16 times as much, not 256 times
 * as a quadratic loader did (each key re-split the whole text to find its
 * line: 16 000 forwards took over a minute).  The bound of 64 leaves a
 * factor 4 on both sides, for a sanitizer's allocator and a busy machine:
 * this checks the complexity, not a speed. */
static void
test_linear_load(void)
{
  g_autofree char *small = many_forwards(1000);
  g_autofree char *large = many_forwards(16000);
  gint64 t_small, t_large;

#ifdef __SANITIZE_ADDRESS__
  /* Its allocator is what the CPU time measures there (most of it in
   * malloc and free even in the plain build): the plain build checks. */
  g_test_skip("complexity checked in the plain build: AddressSanitizer's allocator dominates");
  return;
#endif
  t_small = load_cpu_us(small, 1000);
  t_large = load_cpu_us(large, 16000);

  g_test_message("1 000 forwards: %" G_GINT64_FORMAT " us, 16 000: %" G_GINT64_FORMAT " us",
                 t_small, t_large);
  g_assert_cmpint(t_large, <, 64 * t_small);
}

/* ---- duplicates ---- */

static void
test_duplicates(void)
{
  g_autoptr(TfstConfig) c = load(RL, "[Instance]\nLabel=a\nLabel=b\n" RL_HOPS "[Instance]\n"
                                     "MaxSessions=5\n");

  g_assert_cmpstr(c->label, ==, "b");
  g_assert_cmpuint(c->max_sessions, ==, 5);
  g_assert_cmpuint(c->warnings->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(c->warnings, 0), ==,
                  "t.conf:3: [Instance] Label= is set again (before at line 2); the last value "
                  "counts");
  g_assert_cmpstr(g_ptr_array_index(c->warnings, 1), ==,
                  "t.conf:8: [Instance] appears again (first at line 1); the sections are merged");
  g_clear_pointer(&c, tfst_config_free);

  /* no warning for a clean file, and a short report for a flood */
  c = load(RL, RL_HOPS);
  g_assert_cmpuint(c->warnings->len, ==, 0);
  g_clear_pointer(&c, tfst_config_free);
  {
    g_autoptr(GString) flood = g_string_new(RL_HOPS "[Instance]\n");

    for (int i = 0; i < 100; i++)
      g_string_append(flood, "MaxSessions=5\n");
    c = load(RL, flood->str);
    g_assert_cmpuint(c->warnings->len, ==, 21);
    g_assert_cmpstr(g_ptr_array_index(c->warnings, 20), ==, "79 more warnings like these");
  }
}

/* The schema on its own (tfst-config-schema.c): section lookup, forward
 * names, did-you-mean. */
static void
test_schema(void)
{
  const TfstConfigSection *parent = tfst_config_schema_section("Parent");
  const TfstConfigSection *fwd = tfst_config_schema_section("Forward  web");

  g_assert_nonnull(parent);
  g_assert_true(g_strv_contains(parent->keys, "Connect"));
  g_assert_true(g_strv_contains(parent->keys, "PSKFile"));
  g_assert_nonnull(fwd);
  g_assert_cmpstr(fwd->name, ==, "Forward NAME");
  g_assert_cmpstr(tfst_config_schema_forward_name("Forward  web"), ==, "web");
  g_assert_null(tfst_config_schema_forward_name("Forwarder"));
  g_assert_null(tfst_config_schema_section("Forwarder"));
  g_assert_cmpstr(tfst_config_schema_section("Events\tsyslog")->name, ==, "Events NAME");
  g_assert_cmpstr(tfst_config_schema_events_name("Events\tsyslog"), ==, "syslog");
  g_assert_null(tfst_config_schema_events_name("EventsX"));
  g_assert_null(tfst_config_schema_section("parent"));
  g_assert_cmpstr(tfst_config_schema_suggest("Conect", parent->keys), ==, "Connect");
  g_assert_null(tfst_config_schema_suggest("Bandwidth", parent->keys));
  g_assert_cmpstr(tfst_config_schema_suggest_section("Parnet"), ==, "Parent");
  g_assert_cmpstr(tfst_config_schema_suggest_section("Froward x"), ==, "Forward");
  g_assert_true(tfst_role_is_valid(TFST_ROLE_RELAY));
  g_assert_false(tfst_role_is_valid(TFST_ROLE_NONE));
}

/* tfst_parse_network (tfst-parse.c): out is written only on success. */
static void
test_parse_network(void)
{
  TfstNetworkEntry e = {{0}};
  g_autofree char *reason = NULL;

  g_assert_true(tfst_parse_network("10.1.0.0/16", &e, &reason));
  g_assert_cmpuint(e.family, ==, AF_INET);
  g_assert_cmpuint(e.prefix, ==, 16);
  g_assert_cmpuint(e.addr[1], ==, 1);
  g_assert_true(tfst_parse_network("fd00::1", &e, &reason));
  g_assert_cmpuint(e.prefix, ==, 128);
  e.prefix = 7;
  g_assert_false(tfst_parse_network("10.1.2.0/16", &e, &reason));
  g_assert_cmpstr(reason, ==, "'10.1.2.0/16' has host bits set (did you mean 10.1.0.0/16?)");
  g_assert_cmpuint(e.prefix, ==, 7);
  g_clear_pointer(&reason, g_free);
  g_assert_false(tfst_parse_network("10.0.0.0/33", &e, &reason));
  g_assert_cmpstr(reason, ==, "'10.0.0.0/33': the prefix length must be 0-32");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);

  g_test_add_func("/tfst/config/role-strings", test_role_strings);
  g_test_add_func("/tfst/config/default-path", test_default_path);
  g_test_add_func("/tfst/config/timespan", test_timespan);
  g_test_add_func("/tfst/config/size", test_size);
  g_test_add_func("/tfst/config/size64", test_size64);
  g_test_add_func("/tfst/config/parse-network", test_parse_network);
  g_test_add_func("/tfst/config/schema", test_schema);
  g_test_add_func("/tfst/config/defaults", test_defaults);
  g_test_add_func("/tfst/config/default-label", test_default_label);
  g_test_add_func("/tfst/config/every-key", test_every_key);
  g_test_add_func("/tfst/config/chain-examples", test_chain_examples);
  g_test_add_func("/tfst/config/reverse-direction", test_reverse_direction);
  g_test_add_func("/tfst/config/role-rules", test_role_rules);
  g_test_add_func("/tfst/config/instance-errors", test_instance_errors);
  g_test_add_func("/tfst/config/hop-errors", test_hop_errors);
  g_test_add_func("/tfst/config/pending-hops", test_pending_hops);
  g_test_add_func("/tfst/config/redundancy", test_redundancy);
  g_test_add_func("/tfst/config/keepalive-errors", test_keepalive_errors);
  g_test_add_func("/tfst/config/session-errors", test_session_errors);
  g_test_add_func("/tfst/config/ports", test_ports);
  g_test_add_func("/tfst/config/forward-errors", test_forward_errors);
  g_test_add_func("/tfst/config/trust", test_trust);
  g_test_add_func("/tfst/config/events", test_events);
  g_test_add_func("/tfst/config/events-values", test_events_values);
  g_test_add_func("/tfst/config/events-errors", test_events_errors);
  g_test_add_func("/tfst/config/spool-dir", test_spool_dir);
  g_test_add_func("/tfst/config/unknown", test_unknown);
  g_test_add_func("/tfst/config/syntax-errors", test_syntax_errors);
  g_test_add_func("/tfst/config/error-line", test_error_line);
  g_test_add_func("/tfst/config/escapes-and-whitespace", test_escapes_and_whitespace);
  g_test_add_func("/tfst/config/bad-instance", test_bad_instance);
  g_test_add("/tfst/config/file-load", Fixture, NULL, fixture_set_up, test_file_load,
             fixture_tear_down);
  g_test_add("/tfst/config/dropin-order", Fixture, NULL, fixture_set_up, test_dropin_order,
             fixture_tear_down);
  g_test_add("/tfst/config/files-in-order", Fixture, NULL, fixture_set_up, test_files_in_order,
             fixture_tear_down);
  g_test_add("/tfst/config/persisted-dropins", Fixture, NULL, fixture_set_up,
             test_persisted_dropins, fixture_tear_down);
  g_test_add("/tfst/config/dropin-reset", Fixture, NULL, fixture_set_up, test_dropin_reset,
             fixture_tear_down);
  g_test_add("/tfst/config/dropin-errors", Fixture, NULL, fixture_set_up, test_dropin_errors,
             fixture_tear_down);
  g_test_add("/tfst/config/missing-files", Fixture, NULL, fixture_set_up, test_missing_files,
             fixture_tear_down);
  g_test_add("/tfst/config/special-files", Fixture, NULL, fixture_set_up, test_special_files,
             fixture_tear_down);
  g_test_add_func("/tfst/config/linear-load", test_linear_load);
  g_test_add_func("/tfst/config/duplicates", test_duplicates);

  return g_test_run();
}
