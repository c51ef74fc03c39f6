/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-format.h"

/* At most this many labels besides instance, role and label. */
#define MAX_EXTRA 4

/* -- Accept negotiation -- */

static gboolean
accepts_openmetrics(const char *range)
{
  g_auto(GStrv) params = g_strsplit(range, ";", -1);
  g_autofree char *type = NULL;

  /* g_strsplit() gives no element at all for an empty range (",,"). */
  if (params[0] == NULL)
    return FALSE;
  type = g_ascii_strdown(g_strstrip(params[0]), -1);
  if (!g_str_equal(type, "application/openmetrics-text"))
    return FALSE;
  for (guint i = 1; params[i] != NULL; i++) {
    const char *p = g_strstrip(params[i]);
    if (g_ascii_strncasecmp(p, "q=", 2) == 0 && g_ascii_strtod(p + 2, NULL) <= 0.0)
      return FALSE;
  }
  return TRUE;
}

TfstMetricsFormatKind
tfst_metrics_format_negotiate(const char *accept)
{
  g_auto(GStrv) ranges = NULL;

  if (accept == NULL)
    return TFST_METRICS_FORMAT_PROMETHEUS;
  ranges = g_strsplit(accept, ",", 64);
  for (guint i = 0; ranges[i] != NULL; i++)
    if (accepts_openmetrics(ranges[i]))
      return TFST_METRICS_FORMAT_OPENMETRICS;
  return TFST_METRICS_FORMAT_PROMETHEUS;
}

const char *
tfst_metrics_format_content_type(TfstMetricsFormatKind kind)
{
  if (kind == TFST_METRICS_FORMAT_OPENMETRICS)
    return "application/openmetrics-text; version=1.0.0; charset=utf-8";
  return "text/plain; version=0.0.4; charset=utf-8";
}

/* -- Writing -- */

void
tfst_metrics_format_escape(GString *out, const char *value)
{
  for (const char *p = value; *p != '\0'; p++) {
    if (*p == '\\')
      g_string_append(out, "\\\\");
    else if (*p == '"')
      g_string_append(out, "\\\"");
    else if (*p == '\n')
      g_string_append(out, "\\n");
    else
      g_string_append_c(out, *p);
  }
}

/* Prometheus text names a counter family NAME_total and has no info type;
 * OpenMetrics names the family NAME and its samples NAME_total/NAME_info. */
void
tfst_metrics_format_family(TfstMetricsFormatWriter *w, const char *name, TfstMetricsFormatType type,
                           const char *help)
{
  static const char *const suffix[] = {"_total", "", "_info"};
  static const char *const om_type[] = {"counter", "gauge", "info"};
  gboolean om = w->kind == TFST_METRICS_FORMAT_OPENMETRICS;
  const char *type_name = om || type != TFST_METRICS_FORMAT_INFO ? om_type[type] : "gauge";
  const char *family_name;

  g_snprintf(w->sample, sizeof(w->sample), "%s%s", name, suffix[type]);
  family_name = om ? name : w->sample;
  g_string_append_printf(w->out, "# HELP %s %s\n# TYPE %s %s\n", family_name, help, family_name,
                         type_name);
}

void
tfst_metrics_format_end(TfstMetricsFormatWriter *w)
{
  if (w->kind == TFST_METRICS_FORMAT_OPENMETRICS)
    g_string_append(w->out, "# EOF\n");
}

static void
append_label(GString *out, gboolean first, const char *key, const char *value)
{
  g_string_append_printf(out, "%s%s=\"", first ? "" : ",", key);
  tfst_metrics_format_escape(out, value != NULL ? value : "");
  g_string_append_c(out, '"');
}

/* A sample of the current family with the instance's labels first. */
static void
sample(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
       const TfstMetricsFormatLabel *extra, const char *value)
{
  gboolean first = TRUE;

  g_string_append(w->out, w->sample);
  if (inst != NULL || (extra != NULL && extra[0].key != NULL))
    g_string_append_c(w->out, '{');
  if (inst != NULL) {
    append_label(w->out, TRUE, "instance", inst->name);
    append_label(w->out, FALSE, "role", inst->role);
    append_label(w->out, FALSE, "label", inst->label);
    first = FALSE;
  }
  for (guint i = 0; extra != NULL && extra[i].key != NULL; i++, first = FALSE)
    append_label(w->out, first, extra[i].key, extra[i].value);
  if (!first)
    g_string_append_c(w->out, '}');
  g_string_append_printf(w->out, " %s\n", value);
}

void
tfst_metrics_format_sample_u64(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
                               const TfstMetricsFormatLabel *extra, guint64 value)
{
  char buf[32];

  g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, value);
  sample(w, inst, extra, buf);
}

void
tfst_metrics_format_sample_double(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
                                  const TfstMetricsFormatLabel *extra, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  sample(w, inst, extra, g_ascii_dtostr(buf, sizeof(buf), value));
}

GVariant *
tfst_metrics_format_reply_value(GVariant *reply)
{
  return reply != NULL ? g_variant_get_child_value(reply, 0) : NULL;
}
