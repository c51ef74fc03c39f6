/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfst-metrics' text: Accept negotiation, label escaping, family and sample
 * names in both formats, and a whole exposition rendered from replies as
 * the bus would give them. */
#include "tfst-metrics-render.h"

static void
test_negotiate(void)
{
  g_assert_cmpint(tfst_metrics_format_negotiate(NULL), ==, TFST_METRICS_FORMAT_PROMETHEUS);
  g_assert_cmpint(tfst_metrics_format_negotiate("text/plain;version=0.0.4"), ==,
                  TFST_METRICS_FORMAT_PROMETHEUS);
  /* What Prometheus 2.42 sends. */
  g_assert_cmpint(tfst_metrics_format_negotiate(
                      "application/openmetrics-text;version=1.0.0,application/"
                      "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/"
                      "*;q=0.1"),
                  ==, TFST_METRICS_FORMAT_OPENMETRICS);
  g_assert_cmpint(tfst_metrics_format_negotiate(" Application/OpenMetrics-Text ; q=0.3"), ==,
                  TFST_METRICS_FORMAT_OPENMETRICS);
  g_assert_cmpint(tfst_metrics_format_negotiate("application/openmetrics-text;q=0"), ==,
                  TFST_METRICS_FORMAT_PROMETHEUS);
  g_assert_cmpint(tfst_metrics_format_negotiate(",,;;=,"), ==, TFST_METRICS_FORMAT_PROMETHEUS);
}

static void
test_escape(void)
{
  g_autoptr(GString) s = g_string_new(NULL);

  tfst_metrics_format_escape(s, "a\\b\"c\nd");
  g_assert_cmpstr(s->str, ==, "a\\\\b\\\"c\\nd");
}

static void
test_family_names(void)
{
  g_autoptr(GString) p = g_string_new(NULL);
  g_autoptr(GString) o = g_string_new(NULL);
  TfstMetricsFormatWriter wp = {.out = p, .kind = TFST_METRICS_FORMAT_PROMETHEUS};
  TfstMetricsFormatWriter wo = {.out = o, .kind = TFST_METRICS_FORMAT_OPENMETRICS};
  TfstMetricsFormatLabel l[] = {{"x", "1"}, {NULL, NULL}};

  tfst_metrics_format_family(&wp, "t_c", TFST_METRICS_FORMAT_COUNTER, "h");
  tfst_metrics_format_sample_u64(&wp, NULL, l, 5);
  tfst_metrics_format_family(&wp, "t_i", TFST_METRICS_FORMAT_INFO, "h");
  tfst_metrics_format_sample_u64(&wp, NULL, NULL, 1);
  tfst_metrics_format_end(&wp);
  g_assert_cmpstr(p->str, ==,
                  "# HELP t_c_total h\n# TYPE t_c_total counter\nt_c_total{x=\"1\"} 5\n"
                  "# HELP t_i_info h\n# TYPE t_i_info gauge\nt_i_info 1\n");
  tfst_metrics_format_family(&wo, "t_c", TFST_METRICS_FORMAT_COUNTER, "h");
  tfst_metrics_format_sample_double(&wo, NULL, NULL, 0.25);
  tfst_metrics_format_family(&wo, "t_i", TFST_METRICS_FORMAT_INFO, "h");
  tfst_metrics_format_end(&wo);
  g_assert_cmpstr(o->str, ==,
                  "# HELP t_c h\n# TYPE t_c counter\nt_c_total 0.25\n"
                  "# HELP t_i h\n# TYPE t_i info\n# EOF\n");
}

static GVariant *
props_reply(void)
{
  return g_variant_new_parsed(
      "({'Label': <'re\"lay\\n'>, 'Version': <'0.2'>, 'State': <'running'>,"
      " 'SessionCount': <uint32 7>,"
      " 'Hops': <[{'direction': <'parent'>, 'label': <'ep'>, 'state': <'up'>,"
      "   'address': <'127.0.0.2'>, 'port': <uint16 1918>,"
      "   'role': <'active'>, 'rtt': <uint64 1500>, 'reconnects': <uint32 2>},"
      /* The same Label= twice, both up; a child listed again after it
       * reconnected, its old entry down. */
      "  {'direction': <'parent'>, 'label': <'ep'>, 'state': <'up'>,"
      "   'address': <'127.0.0.3'>, 'port': <uint16 1918>, 'role': <'standby'>},"
      "  {'direction': <'child'>, 'label': <'gw'>, 'state': <'up'>,"
      "   'address': <'127.0.0.4'>, 'port': <uint16 40002>},"
      "  {'direction': <'child'>, 'label': <'gw'>, 'state': <'lost'>,"
      "   'address': <'127.0.0.4'>, 'port': <uint16 40001>},"
      "  {'direction': <'child'>, 'label': <''>, 'address': <'127.0.0.9'>,"
      "   'port': <uint16 4000>, 'state': <'refused'>}]>,"
      " 'TlsCertificates': <[('Parent', 'x509', 'relay', 'CN=relay', 'CN=ca', int64 1900000000),"
      "   ('Children', 'psk', 'relay', '', '', int64 0)]>},)");
}

static TfstMetricsScrape *
scrape_new(void)
{
  TfstMetricsScrape *scrape = g_new0(TfstMetricsScrape, 1);
  TfstMetricsInstance *inst = g_new0(TfstMetricsInstance, 1);

  scrape->instances = g_ptr_array_new();
  scrape->started_us = 1000;
  scrape->finished_us = 3000;
  inst->name = (char *)"relay@2";
  inst->role = (char *)"relay";
  inst->label = (char *)"re\"lay\n";
  inst->props = g_variant_ref_sink(props_reply());
  inst->stats = g_variant_ref_sink(g_variant_new_parsed(
      "({'SessionsOpened': <uint64 10>, 'UpcallBytesToTarget': <uint64 123>,"
      " 'SessionsFailedByErrno': <{'ECONNREFUSED': uint64 3}>}, uint64 5000000)"));
  g_ptr_array_add(scrape->instances, inst);
  return scrape;
}

static void
scrape_free(TfstMetricsScrape *scrape)
{
  TfstMetricsInstance *inst = g_ptr_array_index(scrape->instances, 0);

  g_variant_unref(inst->props);
  g_variant_unref(inst->stats);
  g_free(inst);
  g_ptr_array_unref(scrape->instances);
  g_free(scrape);
}

#define L "instance=\"relay@2\",role=\"relay\",label=\"re\\\"lay\\n\""

/* Every sample line names a series once per exposition. */
static void
assert_no_duplicate_series(const char *text)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

  for (guint i = 0; lines[i] != NULL; i++) {
    char *space = strrchr(lines[i], ' ');

    if (lines[i][0] == '#' || space == NULL)
      continue;
    *space = '\0';
    if (!g_hash_table_add(seen, lines[i]))
      g_error("duplicate series: %s", lines[i]);
  }
}

static void
test_render(void)
{
  TfstMetricsScrape *scrape = scrape_new();
  g_autoptr(GString) out = g_string_new(NULL);

  tfst_metrics_render(out, scrape, TFST_METRICS_FORMAT_PROMETHEUS);
  g_assert_nonnull(strstr(out->str, "\ntfst_scrape_duration_seconds 0.002\n"));
  g_assert_nonnull(strstr(out->str, "\ntfst_up{" L "} 1\n"));
  g_assert_nonnull(strstr(out->str, "\ntfst_sessions_open{" L "} 7\n"));
  g_assert_nonnull(strstr(out->str, "\ntfst_sessions_opened_total{" L "} 10\n"));
  g_assert_nonnull(
      strstr(out->str, "\ntfst_sessions_failed_by_errno_total{" L ",errno=\"ECONNREFUSED\"} 3\n"));
  g_assert_nonnull(
      strstr(out->str, "\ntfst_bytes_total{" L ",direction=\"upcall\",toward=\"target\"} 123\n"));
  g_assert_nonnull(strstr(out->str, "\ntfst_statistics_cleared_timestamp_seconds{" L "} 5\n"));
#define EP ",peer=\"ep\",address=\"127.0.0.2:1918\",direction=\"parent\""
  g_assert_nonnull(strstr(out->str, "\ntfst_hop_up{" L EP "} 1\n"));
  g_assert_nonnull(strstr(out->str, "\ntfst_hop_rtt_seconds{" L EP "} 0.0015\n"));
  g_assert_nonnull(strstr(out->str,
                          "\ntfst_hop_active{" L ",peer=\"ep\",address=\"127.0.0.3:1918\","
                          "direction=\"parent\"} 0\n"));
  g_assert_nonnull(strstr(out->str, "\ntfst_hop_up{" L ",peer=\"gw\",address=\"127.0.0.4:40002\","
                                    "direction=\"child\"} 1\n"));
  g_assert_null(strstr(out->str, "40001"));
  assert_no_duplicate_series(out->str);
  g_assert_nonnull(strstr(out->str, "\ntfst_tls_certificate_expiry_timestamp_seconds{" L
                                    ",section=\"Parent\",subject=\"CN=relay\"} 1900000000\n"));
  /* Left out: the refused peer, the PSK section, keys that were not sent,
   * IPsec without a reply, per-session series without --sessions. */
  g_assert_null(strstr(out->str, "127.0.0.9"));
  g_assert_null(strstr(out->str, "section=\"Children\""));
  g_assert_null(strstr(out->str, "tfst_sessions_closed_total{"));
  g_assert_null(strstr(out->str, "tfst_ipsec_spi_conflicts{"));
  g_assert_null(strstr(out->str, "tfst_session_bytes"));
  g_assert_null(strstr(out->str, "# EOF"));
  scrape_free(scrape);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/metrics/negotiate", test_negotiate);
  g_test_add_func("/metrics/escape", test_escape);
  g_test_add_func("/metrics/family-names", test_family_names);
  g_test_add_func("/metrics/render", test_render);
  return g_test_run();
}
