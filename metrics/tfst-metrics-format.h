/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The text of a scrape: Prometheus text format 0.0.4, or OpenMetrics 1.0.0
 * when the scraper asks for it in Accept.  docs/monitoring.md lists every
 * metric; the names, types and labels are an interface users' dashboards
 * and alerts depend on. */
#pragma once

#include "tfst-metrics-scrape.h"

typedef enum {
  TFST_METRICS_FORMAT_PROMETHEUS,
  TFST_METRICS_FORMAT_OPENMETRICS,
} TfstMetricsFormatKind;

/* OpenMetrics when an Accept header value lists
 * application/openmetrics-text with a q above 0; Prometheus text otherwise
 * (also for a missing or malformed header). */
TfstMetricsFormatKind tfst_metrics_format_negotiate(const char *accept);
const char *tfst_metrics_format_content_type(TfstMetricsFormatKind kind);

typedef enum {
  TFST_METRICS_FORMAT_COUNTER,
  TFST_METRICS_FORMAT_GAUGE,
  TFST_METRICS_FORMAT_INFO,
} TfstMetricsFormatType;

/* Writes one exposition into `out`: families, each followed by its
 * samples, then tfst_metrics_format_end(). */
typedef struct {
  GString *out;
  TfstMetricsFormatKind kind;
  char sample[128]; /* the sample name of the current family */
} TfstMetricsFormatWriter;

/* An extra label of a sample; a list of them ends with {NULL, NULL}. */
typedef struct {
  const char *key;
  const char *value; /* NULL is written as "" */
} TfstMetricsFormatLabel;

/* HELP and TYPE of a family.  `name` is the family name without the
 * _total (counter) or _info (info) suffix that its samples carry.
 * Prometheus text has no info type: it gets a gauge NAME_info. */
void tfst_metrics_format_family(TfstMetricsFormatWriter *w, const char *name,
                                TfstMetricsFormatType type, const char *help);
/* A sample of the current family labelled instance, role and label of
 * `inst` (none when NULL), then `extra` (may be NULL). */
void tfst_metrics_format_sample_u64(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
                                    const TfstMetricsFormatLabel *extra, guint64 value);
void tfst_metrics_format_sample_double(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
                                       const TfstMetricsFormatLabel *extra, double value);
/* "# EOF" for OpenMetrics, nothing for Prometheus text. */
void tfst_metrics_format_end(TfstMetricsFormatWriter *w);

/* Appends `value` escaped for a label value (backslash, double quote and
 * newline as \\, \" and \n; both formats agree on these). */
void tfst_metrics_format_escape(GString *out, const char *value);

/* Runs the statement after it once for each instance of a scrape, with
 * `inst` pointing to it (`continue` goes on with the next instance). */
#define TFST_METRICS_FOREACH_INSTANCE(scrape, inst)                                                \
  for (guint i_ = 0; i_ < (scrape)->instances->len; i_++)                                          \
    for (const TfstMetricsInstance *inst = g_ptr_array_index((scrape)->instances, i_);             \
         inst != NULL; inst = NULL)

/* The first value of a reply (the dictionary of GetAll or GetStatistics),
 * NULL for no reply. */
GVariant *tfst_metrics_format_reply_value(GVariant *reply);
