/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a scrape exposes: every metric family of docs/monitoring.md, from
 * the replies of one scrape. */
#pragma once

#include "tfst-metrics-format.h"

/* Appends the whole exposition of `scrape` (ending with # EOF for
 * OpenMetrics). */
void tfst_metrics_render(GString *out, const TfstMetricsScrape *scrape, TfstMetricsFormatKind kind);
