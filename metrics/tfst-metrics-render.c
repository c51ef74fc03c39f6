/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-render.h"

#include "tfst-metrics-hops.h"
#include "tfst-metrics-keepalive.h"
#include "tfst-metrics-sessions.h"
#include "tfst-metrics-sinks.h"
#include "tfst-metrics-tls.h"
#include "tfst-version.h"

#define COUNTER TFST_METRICS_FORMAT_COUNTER
#define GAUGE   TFST_METRICS_FORMAT_GAUGE
#define INFO    TFST_METRICS_FORMAT_INFO

typedef TfstMetricsFormatWriter Writer;
typedef TfstMetricsFormatLabel Label;

/* GetStatistics keys exported one to one (docs/dbus-api.md has what each
 * counts). */
static const struct {
  const char *key;
  const char *name;
  const char *help;
} stat_counters[] = {
    {"SessionsOpened", "tfst_sessions_opened", "Sessions opened."},
    {"SessionsClosed", "tfst_sessions_closed", "Sessions that ended normally."},
    {"SessionsFailed", "tfst_sessions_failed", "Sessions that could not be opened."},
    {"SessionsRefusedLimit", "tfst_sessions_refused",
     "Sessions refused because MaxSessions, MaxSessionsPerChild or OpenRate was reached."},
    {"SessionsRefusedChildLimit", "tfst_sessions_refused_child_limit",
     "Of the refused sessions, those refused because the child hop held MaxSessionsPerChild."},
    {"SessionsRefusedOpenRate", "tfst_sessions_refused_open_rate",
     "Of the refused sessions, those refused because the child hop exceeded OpenRate."},
    {"SessionsAbortedClose", "tfst_sessions_aborted_close",
     "Sessions whose close the peer never confirmed."},
    {"SessionsIdleTimeout", "tfst_sessions_idle_timeout",
     "Sessions closed after IdleTimeout without traffic."},
    {"SessionsRetransmitTimeout", "tfst_sessions_retransmit_timeout",
     "Sessions closed because a socket timed out with data unacknowledged."},
    {"SessionsKeepaliveDead", "tfst_sessions_keepalive_dead",
     "Sessions closed because TCP keepalive found the peer dead."},
    {"SessionsReset", "tfst_sessions_reset", "Sessions reset (lost hop, RST, socket error)."},
    {"HopReconnects", "tfst_reconnects", "Hops of the instance that came back after a loss."},
    {"HandshakeFailures", "tfst_handshake_failures", "Hop handshakes that failed."},
};

static const struct {
  const char *key;
  const char *direction;
  const char *toward;
} byte_counters[] = {
    {"UpcallBytesToTarget", "upcall", "target"},
    {"UpcallBytesToClient", "upcall", "client"},
    {"DowncallBytesToTarget", "downcall", "target"},
    {"DowncallBytesToClient", "downcall", "client"},
};

static void
render_meta(Writer *w, const TfstMetricsScrape *scrape)
{
  Label version[] = {{"version", PACKAGE_VERSION}, {"build", TFST_BUILD_LEVEL}, {NULL, NULL}};

  tfst_metrics_format_family(w, "tfst_build", INFO, "The version of tfst-metrics.");
  tfst_metrics_format_sample_u64(w, NULL, version, 1);
  tfst_metrics_format_family(w, "tfst_scrape_duration_seconds", GAUGE,
                             "How long reading every instance over the bus took.");
  tfst_metrics_format_sample_double(
      w, NULL, NULL, (double)(scrape->finished_us - scrape->started_us) / G_USEC_PER_SEC);
  tfst_metrics_format_family(w, "tfst_metrics_scrapes", COUNTER,
                             "Scrapes of the instances over the bus; requests within a second "
                             "of the last one are answered from it.");
  tfst_metrics_format_sample_u64(w, NULL, NULL, scrape->number);
  tfst_metrics_format_family(w, "tfst_instances", GAUGE, "Instances found on the system bus.");
  tfst_metrics_format_sample_u64(w, NULL, NULL, scrape->instances->len);
}

static void
render_up(Writer *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_up", GAUGE,
                             "1 if the instance answered the scrape in time, else 0.");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  tfst_metrics_format_sample_u64(w, inst, NULL, inst->props != NULL && inst->stats != NULL);
  tfst_metrics_format_family(w, "tfst_scrape_errors", GAUGE,
                             "Bus calls to the instance that failed or timed out in this scrape.");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  tfst_metrics_format_sample_u64(w, inst, NULL, inst->errors);
}

static void
render_instance_info(Writer *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_instance", INFO, "Version and state of the instance.");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    g_autoptr(GVariant) props = tfst_metrics_format_reply_value(inst->props);
    const char *version = NULL, *state = NULL;
    Label labels[] = {{"version", NULL}, {"state", NULL}, {NULL, NULL}};

    if (props == NULL)
      continue;
    g_variant_lookup(props, "Version", "&s", &version);
    g_variant_lookup(props, "State", "&s", &state);
    labels[0].value = version;
    labels[1].value = state;
    tfst_metrics_format_sample_u64(w, inst, labels, 1);
  }
}

static void
render_sessions_open(Writer *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_sessions_open", GAUGE, "Sessions the instance carries now.");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    g_autoptr(GVariant) props = tfst_metrics_format_reply_value(inst->props);
    guint32 count;

    if (props != NULL && g_variant_lookup(props, "SessionCount", "u", &count))
      tfst_metrics_format_sample_u64(w, inst, NULL, count);
  }
}

static void
render_stat(Writer *w, const TfstMetricsScrape *scrape, guint k)
{
  tfst_metrics_format_family(w, stat_counters[k].name, COUNTER, stat_counters[k].help);
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    g_autoptr(GVariant) stats = tfst_metrics_format_reply_value(inst->stats);
    guint64 value;

    if (stats != NULL && g_variant_lookup(stats, stat_counters[k].key, "t", &value))
      tfst_metrics_format_sample_u64(w, inst, NULL, value);
  }
}

static void
render_bytes(Writer *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_bytes", COUNTER,
                             "Payload bytes by call direction and by the end they were sent to.");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    g_autoptr(GVariant) stats = tfst_metrics_format_reply_value(inst->stats);

    for (guint k = 0; stats != NULL && k < G_N_ELEMENTS(byte_counters); k++) {
      Label labels[] = {{"direction", byte_counters[k].direction},
                        {"toward", byte_counters[k].toward},
                        {NULL, NULL}};
      guint64 value;

      if (g_variant_lookup(stats, byte_counters[k].key, "t", &value))
        tfst_metrics_format_sample_u64(w, inst, labels, value);
    }
  }
}

static void
render_failed_by_errno(Writer *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_sessions_failed_by_errno", COUNTER,
                             "Sessions that could not be opened, by errno name.");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    g_autoptr(GVariant) stats = tfst_metrics_format_reply_value(inst->stats);
    g_autoptr(GVariant) by_errno = NULL;
    GVariantIter iter;
    const char *name;
    guint64 value;

    if (stats == NULL ||
        (by_errno = g_variant_lookup_value(stats, "SessionsFailedByErrno", NULL)) == NULL ||
        !g_variant_is_of_type(by_errno, G_VARIANT_TYPE("a{st}")))
      continue;
    g_variant_iter_init(&iter, by_errno);
    while (g_variant_iter_next(&iter, "{&st}", &name, &value)) {
      Label labels[] = {{"errno", name}, {NULL, NULL}};
      tfst_metrics_format_sample_u64(w, inst, labels, value);
    }
  }
}

static void
render_cleared(Writer *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_statistics_cleared_timestamp_seconds", GAUGE,
                             "When the counters were last cleared or the instance started.");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    guint64 cleared_us;

    if (inst->stats == NULL)
      continue;
    g_variant_get_child(inst->stats, 1, "t", &cleared_us);
    tfst_metrics_format_sample_double(w, inst, NULL, (double)cleared_us / G_USEC_PER_SEC);
  }
}

static void
render_ipsec(Writer *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_ipsec_spi_conflicts", GAUGE,
                             "Groups of IPsec SAs whose SPIs collide (instances with "
                             "CAP_NET_ADMIN only).");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    g_autoptr(GVariant) groups = tfst_metrics_format_reply_value(inst->conflicts);

    if (groups != NULL)
      tfst_metrics_format_sample_u64(w, inst, NULL, g_variant_n_children(groups));
  }
}

void
tfst_metrics_render(GString *out, const TfstMetricsScrape *scrape, TfstMetricsFormatKind kind)
{
  Writer w = {.out = out, .kind = kind};

  render_meta(&w, scrape);
  render_up(&w, scrape);
  render_instance_info(&w, scrape);
  render_sessions_open(&w, scrape);
  for (guint k = 0; k < G_N_ELEMENTS(stat_counters); k++)
    render_stat(&w, scrape, k);
  render_failed_by_errno(&w, scrape);
  render_bytes(&w, scrape);
  render_cleared(&w, scrape);
  tfst_metrics_hops_render(&w, scrape);
  tfst_metrics_tls_render(&w, scrape);
  render_ipsec(&w, scrape);
  tfst_metrics_keepalive_render(&w, scrape);
  tfst_metrics_sinks_render(&w, scrape);
  if (scrape->sessions)
    tfst_metrics_sessions_render(&w, scrape);
  tfst_metrics_format_end(&w);
}
