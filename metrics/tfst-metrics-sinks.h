/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event sink families, one series set per sink (GetSinks). */
#pragma once

#include "tfst-metrics-format.h"

void tfst_metrics_sinks_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape);
