/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-tls.h"

static GVariant *
property(const TfstMetricsInstance *inst, const char *name, const char *type)
{
  g_autoptr(GVariant) props = tfst_metrics_format_reply_value(inst->props);

  return props != NULL ? g_variant_lookup_value(props, name, G_VARIANT_TYPE(type)) : NULL;
}

/* TlsCertificates: (section, mode, labels, subject, issuer, expires);
 * PSK sections (expires 0) have no certificate. */
static void
own_certificates(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst)
{
  g_autoptr(GVariant) certs = property(inst, "TlsCertificates", "a(sssssx)");
  const char *section, *subject;
  gint64 expires;
  GVariantIter iter;

  if (certs == NULL)
    return;
  g_variant_iter_init(&iter, certs);
  while (
      g_variant_iter_next(&iter, "(&s&s&s&s&sx)", &section, NULL, NULL, &subject, NULL, &expires)) {
    TfstMetricsFormatLabel labels[] = {{"section", section}, {"subject", subject}, {NULL, NULL}};

    if (expires > 0)
      tfst_metrics_format_sample_u64(w, inst, labels, (guint64)expires);
  }
}

/* TlsHops: (side, label, peer, cipher, subject, issuer, expires, ktls). */
static void
peer_certificates(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst)
{
  g_autoptr(GVariant) hops = property(inst, "TlsHops", "a(ssssssxb)");
  const char *side, *label, *peer, *subject;
  gint64 expires;
  GVariantIter iter;

  if (hops == NULL)
    return;
  g_variant_iter_init(&iter, hops);
  while (g_variant_iter_next(&iter, "(&s&s&s&s&s&sxb)", &side, &label, &peer, NULL, &subject, NULL,
                             &expires, NULL)) {
    TfstMetricsFormatLabel labels[] = {{"peer", *label ? label : peer},
                                       {"address", peer},
                                       {"direction", side},
                                       {"subject", subject},
                                       {NULL, NULL}};

    if (expires > 0)
      tfst_metrics_format_sample_u64(w, inst, labels, (guint64)expires);
  }
}

void
tfst_metrics_tls_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_tls_certificate_expiry_timestamp_seconds",
                             TFST_METRICS_FORMAT_GAUGE,
                             "When the certificate the instance presents expires (Unix time).");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  own_certificates(w, inst);
  tfst_metrics_format_family(w, "tfst_tls_peer_certificate_expiry_timestamp_seconds",
                             TFST_METRICS_FORMAT_GAUGE,
                             "When the certificate a hop's peer presented expires (Unix time).");
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  peer_certificates(w, inst);
}
