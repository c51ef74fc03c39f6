/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TLS certificate expiry: the certificates the instance presents
 * (TlsCertificates) and those its peers presented (TlsHops). */
#pragma once

#include "tfst-metrics-format.h"

void tfst_metrics_tls_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape);
