/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The keepalive settings in force (Keepalive.GetSettings), per scope
 * "hops" and "sessions": an alert can compare Idle= with the firewall
 * timeout the administrator declared. */
#pragma once

#include "tfst-metrics-format.h"

void tfst_metrics_keepalive_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape);
