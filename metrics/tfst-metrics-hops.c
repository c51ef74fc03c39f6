/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-hops.h"

typedef void (*HopFn)(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
                      const TfstMetricsFormatLabel *labels, GVariant *hop);

/* ADDRESS:PORT of a hop: with it in the labels two hops never give the
 * same series, also when they share a label (a child that reconnected, the
 * same Label= configured twice). */
static char *
hop_address(GVariant *hop)
{
  const char *address = "";
  guint16 port = 0;

  g_variant_lookup(hop, "address", "&s", &address);
  g_variant_lookup(hop, "port", "q", &port);
  return g_strdup_printf("%s:%u", address, port);
}

/* The peer label of a hop: its label, or ADDRESS:PORT until a handshake
 * has told it. */
static const char *
hop_peer(GVariant *hop, const char *address)
{
  const char *label = "";

  g_variant_lookup(hop, "label", "&s", &label);
  return *label != '\0' ? label : address;
}

static gboolean
hop_is(GVariant *hop, const char *state)
{
  const char *s = "";

  g_variant_lookup(hop, "state", "&s", &s);
  return g_str_equal(s, state);
}

/* A hop that is not up while another one with its peer and direction is:
 * the entry of a child before it reconnected, which would keep TfstHopDown
 * firing for a peer that is connected. */
static gboolean
superseded(GVariant *hops, GVariant *hop, const char *peer, const char *direction)
{
  GVariantIter iter;
  GVariant *other;

  if (hop_is(hop, "up"))
    return FALSE;
  g_variant_iter_init(&iter, hops);
  while ((other = g_variant_iter_next_value(&iter)) != NULL) {
    g_autoptr(GVariant) owned = other;
    g_autofree char *address = hop_address(other);
    const char *dir = "";

    g_variant_lookup(other, "direction", "&s", &dir);
    if (hop_is(other, "up") && g_str_equal(dir, direction) &&
        g_str_equal(hop_peer(other, address), peer))
      return TRUE;
  }
  return FALSE;
}

static void
each_hop(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst, HopFn fn)
{
  g_autoptr(GVariant) props = tfst_metrics_format_reply_value(inst->props);
  g_autoptr(GVariant) hops = props ? g_variant_lookup_value(props, "Hops", NULL) : NULL;
  GVariantIter iter;
  GVariant *hop;

  if (hops == NULL || !g_variant_is_of_type(hops, G_VARIANT_TYPE("aa{sv}")))
    return;
  g_variant_iter_init(&iter, hops);
  while ((hop = g_variant_iter_next_value(&iter)) != NULL) {
    g_autoptr(GVariant) owned = hop;
    g_autofree char *address = hop_address(hop);
    TfstMetricsFormatLabel labels[] = {
        {"peer", hop_peer(hop, address)}, {"address", address}, {"direction", ""}, {NULL, NULL}};

    g_variant_lookup(hop, "direction", "&s", &labels[2].value);
    if (!hop_is(hop, "refused") && !superseded(hops, hop, labels[0].value, labels[2].value))
      fn(w, inst, labels, hop);
  }
}

static void
each_instance(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape, HopFn fn)
{
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  each_hop(w, inst, fn);
}

static void
hop_up(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
       const TfstMetricsFormatLabel *labels, GVariant *hop)
{
  const char *state = "";

  g_variant_lookup(hop, "state", "&s", &state);
  tfst_metrics_format_sample_u64(w, inst, labels, g_str_equal(state, "up"));
}

static void
hop_active(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
           const TfstMetricsFormatLabel *labels, GVariant *hop)
{
  const char *role = "";

  g_variant_lookup(hop, "role", "&s", &role);
  if (g_str_equal(labels[2].value, "parent"))
    tfst_metrics_format_sample_u64(w, inst, labels, g_str_equal(role, "active"));
}

static void
hop_rtt(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
        const TfstMetricsFormatLabel *labels, GVariant *hop)
{
  guint64 rtt_us = 0;

  /* 0 means not measured yet: no sample rather than a false 0 s. */
  if (g_variant_lookup(hop, "rtt", "t", &rtt_us) && rtt_us > 0)
    tfst_metrics_format_sample_double(w, inst, labels, (double)rtt_us / G_USEC_PER_SEC);
}

static void
hop_reconnects(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
               const TfstMetricsFormatLabel *labels, GVariant *hop)
{
  guint32 n = 0;

  if (g_variant_lookup(hop, "reconnects", "u", &n))
    tfst_metrics_format_sample_u64(w, inst, labels, n);
}

static void
hop_attempts(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
             const TfstMetricsFormatLabel *labels, GVariant *hop)
{
  guint32 n = 0;

  if (g_variant_lookup(hop, "attempts", "u", &n))
    tfst_metrics_format_sample_u64(w, inst, labels, n);
}

void
tfst_metrics_hops_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_hop_up", TFST_METRICS_FORMAT_GAUGE,
                             "1 while the hop is connected and its handshake completed, else 0.");
  each_instance(w, scrape, hop_up);
  tfst_metrics_format_family(w, "tfst_hop_active", TFST_METRICS_FORMAT_GAUGE,
                             "1 for the parent hop new upcall sessions go to, else 0.");
  each_instance(w, scrape, hop_active);
  tfst_metrics_format_family(w, "tfst_hop_rtt_seconds", TFST_METRICS_FORMAT_GAUGE,
                             "Round trip time of the last PING/PONG on the hop.");
  each_instance(w, scrape, hop_rtt);
  tfst_metrics_format_family(w, "tfst_hop_reconnects", TFST_METRICS_FORMAT_COUNTER,
                             "How often the hop was lost and established again.");
  each_instance(w, scrape, hop_reconnects);
  tfst_metrics_format_family(w, "tfst_hop_failed_attempts", TFST_METRICS_FORMAT_GAUGE,
                             "Connection attempts that failed since the hop was last up.");
  each_instance(w, scrape, hop_attempts);
}
