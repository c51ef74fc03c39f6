/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-sessions.h"

/* ListSessions: (id, forward, direction, client, target, state,
 * bytes_to_target, bytes_to_client, age, idle). */
#define SESSION_TYPE "(t&s&s&s&s&stttt)"

typedef struct {
  guint64 id;
  const char *forward, *direction, *client, *target, *state;
  guint64 to_target, to_client, age_us, idle_us;
} Session;

typedef void (*SessionFn)(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
                          TfstMetricsFormatLabel *labels, const Session *s);

static void
each_session(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape, SessionFn fn)
{
  TFST_METRICS_FOREACH_INSTANCE(scrape, inst)
  {
    g_autoptr(GVariant) list = tfst_metrics_format_reply_value(inst->sessions);
    GVariantIter iter;
    Session s;

    if (list == NULL)
      continue;
    g_variant_iter_init(&iter, list);
    while (g_variant_iter_next(&iter, SESSION_TYPE, &s.id, &s.forward, &s.direction, &s.client,
                               &s.target, &s.state, &s.to_target, &s.to_client, &s.age_us,
                               &s.idle_us)) {
      char id[32];
      TfstMetricsFormatLabel labels[] = {{"session", id},
                                         {"forward", s.forward},
                                         {"client", s.client},
                                         {NULL, NULL},
                                         {NULL, NULL}};

      g_snprintf(id, sizeof(id), "%" G_GUINT64_FORMAT, s.id);
      fn(w, inst, labels, &s);
    }
  }
}

static void
session_bytes(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
              TfstMetricsFormatLabel *labels, const Session *s)
{
  labels[3] = (TfstMetricsFormatLabel){"toward", "target"};
  tfst_metrics_format_sample_u64(w, inst, labels, s->to_target);
  labels[3].value = "client";
  tfst_metrics_format_sample_u64(w, inst, labels, s->to_client);
}

static void
session_age(TfstMetricsFormatWriter *w, const TfstMetricsInstance *inst,
            TfstMetricsFormatLabel *labels, const Session *s)
{
  tfst_metrics_format_sample_double(w, inst, labels, (double)s->age_us / G_USEC_PER_SEC);
}

void
tfst_metrics_sessions_render(TfstMetricsFormatWriter *w, const TfstMetricsScrape *scrape)
{
  tfst_metrics_format_family(w, "tfst_session_bytes", TFST_METRICS_FORMAT_COUNTER,
                             "Payload bytes of one open session, by the end they were sent to.");
  each_session(w, scrape, session_bytes);
  tfst_metrics_format_family(w, "tfst_session_age_seconds", TFST_METRICS_FORMAT_GAUGE,
                             "How long the session has been open.");
  each_session(w, scrape, session_age);
}
