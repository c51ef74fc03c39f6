/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One scrape: every tfst instance on the system bus read with a fixed
 * number of calls each (the Instance properties in one GetAll, the
 * statistics, the event sinks, the IPsec conflicts, the keepalive settings
 * of hops and sessions, and ListSessions only
 * when per-session series are asked for), all in parallel, bounded by one
 * overall timeout.  What did not answer in time is counted, not waited for. */
#pragma once

#include <gio/gio.h>

typedef struct {
  char *bus_name;
  char *name; /* "ROLE@INSTANCE" */
  char *role;
  char *label; /* the Label property, "" when the properties did not come */
  /* Replies, NULL where the call failed or did not answer in time. */
  GVariant *props;        /* a{sv}: org.tfst.Tfst1.Instance */
  GVariant *stats;        /* (a{sv}t): Instance.GetStatistics */
  GVariant *sinks;        /* (aa{sv}): Events.GetSinks */
  GVariant *conflicts;    /* (a(usa(sss))): Ipsec.FindConflicts */
  GVariant *sessions;     /* (a(tssssstttt)): Instance.ListSessions */
  GVariant *keepalive[2]; /* (a{sv}): Keepalive.GetSettings "hops", "sessions" */
  /* Calls that failed or timed out.  FindConflicts refused because the
   * instance lacks CAP_NET_ADMIN (the default unit) is not counted: that
   * instance simply has no IPsec view. */
  guint errors;
} TfstMetricsInstance;

typedef struct {
  GPtrArray *instances; /* of TfstMetricsInstance, sorted by name */
  gint64 started_us;    /* CLOCK_MONOTONIC */
  gint64 finished_us;
  gboolean sessions; /* ListSessions was asked */
  guint64 number;    /* scrapes started since tfst-metrics started, this one included */
  /* The first call that failed, "ROLE@INSTANCE Method: message", for the
   * journal (the metrics only count failures); NULL when none did. */
  char *first_error;
} TfstMetricsScrape;

void tfst_metrics_scrape_free(TfstMetricsScrape *scrape);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstMetricsScrape, tfst_metrics_scrape_free)

typedef struct _TfstMetricsScraper TfstMetricsScraper;

/* Keeps one connection to the system bus (DBUS_SYSTEM_BUS_ADDRESS is
 * honoured), opened on the first scrape and again after it was lost. */
TfstMetricsScraper *tfst_metrics_scrape_scraper_new(gboolean sessions, guint timeout_ms);
void tfst_metrics_scrape_scraper_free(TfstMetricsScraper *scraper);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstMetricsScraper, tfst_metrics_scrape_scraper_free)

/* Reads every instance.  Fails (G_IO_ERROR_*) only when the bus itself
 * cannot be reached or does not list its names in time. */
void tfst_metrics_scrape_run(TfstMetricsScraper *scraper, GAsyncReadyCallback callback,
                             gpointer user_data);
TfstMetricsScrape *tfst_metrics_scrape_run_finish(GAsyncResult *result, GError **error);
