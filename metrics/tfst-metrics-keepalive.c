/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-keepalive.h"

static const char *const scopes[] = {"hops", "sessions"};

/* Settings in seconds (u) or milliseconds (ms = TRUE). */
static const struct {
  const char *key;
  const char *name;
  gboolean ms;
  const char *help;
} settings[] = {
    {"Idle", "tfst_keepalive_idle_seconds", FALSE, "TCP keepalive idle time (Idle=)."},
    {"FirewallTimeout", "tfst_keepalive_firewall_timeout_seconds", FALSE,
     "The idle timeout of the firewalls on the path (FirewallTimeout=), 0 if unknown."},
    {"PingInterval", "tfst_keepalive_ping_interval_seconds", TRUE,
     "Interval of the PING/PONG liveness check on hops (PingInterval=)."},
};

static void
render_setting(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape, guint k)
{
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  for (guint s = 0; s < G_N_ELEMENTS(scopes); s++) {
    g_autoptr(GVariant) dict = tfst_metrics_format_reply_value(inst->keepalive[s]);
    TfstMetricsFormatLabel labels[] = {{"scope", scopes[s]}, {NULL, NULL}};
    guint32 value;

    if (dict != NULL && g_variant_lookup(dict, settings[k].key, "u", &value))
      tfst_metrics_format_sample_double(w, inst, labels,
                                        settings[k].ms ? value / 1000.0 : (double)value);
  }
}

static void
render_enabled(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape)
{
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  for (guint s = 0; s < G_N_ELEMENTS(scopes); s++) {
    g_autoptr(GVariant) dict = tfst_metrics_format_reply_value(inst->keepalive[s]);
    TfstMetricsFormatLabel labels[] = {{"scope", scopes[s]}, {NULL, NULL}};
    gboolean on;

    if (dict != NULL && g_variant_lookup(dict, "Keepalive", "b", &on))
      tfst_metrics_format_sample_u64(w, inst, labels, on);
  }
}

void
tfst_metrics_keepalive_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_keepalive_enabled", TFST_METRICS_FORMAT_GAUGE,
                             "1 if TCP keepalive is on for the scope's connections.");
  render_enabled(w, scrape);
  for (guint k = 0; k < G_N_ELEMENTS(settings); k++) {
    tfst_metrics_format_family(w, settings[k].name, TFST_METRICS_FORMAT_GAUGE, settings[k].help);
    render_setting(w, scrape, k);
  }
}
