/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Per-session series (only with --sessions: one series per session is
 * unbounded cardinality), from one ListSessions per instance. */
#pragma once

#include "tfst-metrics-format.h"

void tfst_metrics_sessions_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape);
