/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The HTTP side: libmicrohttpd driven from the GLib main context (its epoll
 * fd and timeout), so requests and bus calls run on one thread.  GET and
 * HEAD of /metrics answer with a scrape; concurrent requests share one
 * scrape in progress, so the instances see at most one set of calls at a
 * time however often they are scraped. */
#pragma once

#include "tfst-metrics-scrape.h"

typedef struct {
  int listen_fd;           /* from socket activation, or -1 */
  GSocketAddress *address; /* bound when listen_fd is -1 */
  guint max_connections;
  guint timeout_s;    /* a connection idle this long is closed */
  gsize memory_limit; /* per connection; larger request headers get 431 */
} TfstMetricsHttpConfig;

typedef struct _TfstMetricsHttp TfstMetricsHttp;

TfstMetricsHttp *tfst_metrics_http_new(const TfstMetricsHttpConfig *config,
                                       TfstMetricsScraper *scraper, GError **error);
void tfst_metrics_http_free(TfstMetricsHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstMetricsHttp, tfst_metrics_http_free)
