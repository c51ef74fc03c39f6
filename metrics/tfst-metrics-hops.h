/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hop families: state, RTT and reconnects per hop, from the Hops
 * property (refused peers are left out: their addresses would make series
 * come and go). */
#pragma once

#include "tfst-metrics-format.h"

void tfst_metrics_hops_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape);
