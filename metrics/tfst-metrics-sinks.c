/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-sinks.h"

typedef void (*SinkFn)(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
                       const TfstMetricsFormatLabel *labels, GVariant *sink, gconstpointer data);

/* GetSinks counters exported one to one, and the spool gauges. */
static const struct {
  const char *key;
  const char *name;
  const char *help;
} counters[] =
    {
        {"Received", "tfst_events_received", "Events taken from senders or from the chain."},
        {"Spooled", "tfst_events_spooled", "Events written to the spool."},
        {"Forwarded", "tfst_events_forwarded", "Events sent up the chain for the first time."},
        {"Resent", "tfst_events_resent", "Events sent again after a loss, timeout or failover."},
        {"Acknowledged", "tfst_events_acknowledged", "Events the delivering end acknowledged."},
        {"Delivered", "tfst_events_delivered", "Events written to the target."},
        {"Duplicates", "tfst_events_duplicates", "Events received again and not delivered again."},
},
  gauges[] = {
      {"SpoolBytes", "tfst_events_spool_bytes", "Bytes of unacknowledged events in the spool."},
      {"SpoolEvents", "tfst_events_spool_events", "Unacknowledged events in the spool."},
      {"SpoolCapacity", "tfst_events_spool_capacity_bytes", "The spool size (SpoolSize=)."},
      {"Connections", "tfst_events_sender_connections", "Open TCP connections of senders."},
};

static void
each_sink(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape, SinkFn fn,
          gconstpointer data)
{
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    g_autoptr(GVariant) sinks = tfst_metrics_format_reply_value(inst->sinks);
    GVariantIter iter;
    GVariant *sink;

    if (sinks == NULL)
      continue;
    g_variant_iter_init(&iter, sinks);
    while ((sink = g_variant_iter_next_value(&iter)) != NULL) {
      g_autoptr(GVariant) owned = sink;
      TfstMetricsFormatLabel labels[] = {
          {"sink", ""}, {"sink_role", ""}, {"origin", ""}, {NULL, NULL}, {NULL, NULL}};

      g_variant_lookup(sink, "Name", "&s", &labels[0].value);
      g_variant_lookup(sink, "Role", "&s", &labels[1].value);
      g_variant_lookup(sink, "Origin", "&s", &labels[2].value);
      fn(w, inst, labels, sink, data);
    }
  }
}

static void
sink_u64(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
         const TfstMetricsFormatLabel *labels, GVariant *sink, gconstpointer key)
{
  guint64 value;
  guint32 value32;

  if (g_variant_lookup(sink, key, "t", &value))
    tfst_metrics_format_sample_u64(w, inst, labels, value);
  else if (g_variant_lookup(sink, key, "u", &value32))
    tfst_metrics_format_sample_u64(w, inst, labels, value32);
}

/* Dropped and Malformed: a{st} by reason, only the reasons that occurred. */
static void
sink_reasons(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
             const TfstMetricsFormatLabel *labels, GVariant *sink, gconstpointer key)
{
  g_autoptr(GVariant) reasons = g_variant_lookup_value(sink, key, G_VARIANT_TYPE("a{st}"));
  TfstMetricsFormatLabel with_reason[5];
  GVariantIter iter;
  guint64 value;

  if (reasons == NULL)
    return;
  memcpy(with_reason, labels, 3 * sizeof(*labels));
  with_reason[4] = (TfstMetricsFormatLabel){NULL, NULL};
  with_reason[3].key = "reason";
  g_variant_iter_init(&iter, reasons);
  while (g_variant_iter_next(&iter, "{&st}", &with_reason[3].value, &value))
    tfst_metrics_format_sample_u64(w, inst, with_reason, value);
}

static void
sink_age(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
         const TfstMetricsFormatLabel *labels, GVariant *sink, gconstpointer data)
{
  guint64 age_us;

  if (g_variant_lookup(sink, "OldestUnackedAge", "t", &age_us))
    tfst_metrics_format_sample_double(w, inst, labels, (double)age_us / G_USEC_PER_SEC);
}

static void
sink_target_up(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
               const TfstMetricsFormatLabel *labels, GVariant *sink, gconstpointer data)
{
  const char *state;

  if (g_variant_lookup(sink, "TargetState", "&s", &state))
    tfst_metrics_format_sample_u64(w, inst, labels, g_str_equal(state, "up"));
}

void
tfst_metrics_sinks_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape)
{
  for (guint k = 0; k < G_N_ELEMENTS(counters); k++) {
    tfst_metrics_format_family(w, counters[k].name, TFST_METRICS_FORMAT_COUNTER, counters[k].help);
    each_sink(w, scrape, sink_u64, counters[k].key);
  }
  tfst_metrics_format_family(w, "tfst_events_dropped", TFST_METRICS_FORMAT_COUNTER,
                             "Events lost, by reason.");
  each_sink(w, scrape, sink_reasons, "Dropped");
  tfst_metrics_format_family(w, "tfst_events_malformed", TFST_METRICS_FORMAT_COUNTER,
                             "Input that was not an event, by reason.");
  each_sink(w, scrape, sink_reasons, "Malformed");
  for (guint k = 0; k < G_N_ELEMENTS(gauges); k++) {
    tfst_metrics_format_family(w, gauges[k].name, TFST_METRICS_FORMAT_GAUGE, gauges[k].help);
    each_sink(w, scrape, sink_u64, gauges[k].key);
  }
  tfst_metrics_format_family(w, "tfst_events_oldest_unacked_age_seconds", TFST_METRICS_FORMAT_GAUGE,
                             "Age of the oldest unacknowledged event in the spool, 0 for none.");
  each_sink(w, scrape, sink_age, NULL);
  tfst_metrics_format_family(w, "tfst_events_target_up", TFST_METRICS_FORMAT_GAUGE,
                             "Delivering end: 1 while the connection to the target is up.");
  each_sink(w, scrape, sink_target_up, NULL);
}
