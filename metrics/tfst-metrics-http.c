/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-metrics-http.h"

#include "tfst-metrics-render.h"
#include "tfst-ratelimit.h"

#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <microhttpd.h>
#include <string.h>
#include <sys/socket.h>

#define INDEX_BODY                                                                                 \
  "<html><head><title>tfst metrics</title></head><body>\n"                                         \
  "<h1>tfst metrics</h1>\n<p><a href=\"/metrics\">/metrics</a>: every tfst instance on this "      \
  "host, in the Prometheus and OpenMetrics text formats (docs/monitoring.md).</p>\n"               \
  "</body></html>\n"

struct _TfstMetricsHttp {
  struct MHD_Daemon *daemon;
  TfstMetricsScraper *scraper;
  guint fd_source;
  guint timer_source;
  gboolean scraping;
  GPtrArray *waiting;      /* Requests suspended until the scrape in progress ends */
  TfstMetricsScrape *last; /* the last scrape that succeeded, for REUSE_US */
  GPtrArray *conns;        /* of Conn, every open connection */
  guint deadline_source;
  TfstRatelimit bus_log;
  TfstRatelimit call_log;
};

/* Requests this soon after the last scrape ended are answered from it: a
 * client looping GET /metrics would otherwise keep every instance busy
 * with back-to-back bus calls. */
#define REUSE_US G_USEC_PER_SEC

/* The idle timeout alone lets a client that sends a byte every few seconds
 * hold a connection for ever: its request headers must be complete this
 * long after the connection opened or the previous request ended. */
#define HEADER_DEADLINE_US (10 * G_USEC_PER_SEC)

typedef struct {
  struct MHD_Connection *conn;
  gint64 since_us; /* when the current request began */
  gboolean headers_done;
} Conn;

/* A request for /metrics, suspended while the scrape runs. */
typedef struct {
  struct MHD_Connection *conn;
  TfstMetricsFormatKind kind;
  struct MHD_Response *response; /* set when the scrape ended */
  guint status;
} Request;

static void
request_free(Request *req)
{
  g_clear_pointer(&req->response, MHD_destroy_response);
  g_free(req);
}

static struct MHD_Response *
text_response(const char *body, const char *content_type)
{
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);

  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  return r;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, guint status, struct MHD_Response *r)
{
  enum MHD_Result ret = MHD_queue_response(conn, status, r);

  MHD_destroy_response(r);
  return ret;
}

static struct MHD_Response *
metrics_response(const TfstMetricsScrape *scrape, TfstMetricsFormatKind kind)
{
  g_autoptr(GString) body = g_string_sized_new(16384);
  gsize len;
  char *data;

  tfst_metrics_render(body, scrape, kind);
  len = body->len;
  data = g_string_free(g_steal_pointer(&body), FALSE);
  struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, data, g_free);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, tfst_metrics_format_content_type(kind));
  return r;
}

/* The body says what failed, for whoever looks at the target in the
 * Prometheus UI; the journal gets one line per minute at most. */
static struct MHD_Response *
unavailable_response(TfstMetricsHttp *http, const GError *error)
{
  g_autofree char *body = g_strdup_printf(
      "tfst-metrics: cannot read the tfst instances: the system bus is not available (%s)\n",
      error->message);
  guint suppressed = 0;

  if (!tfst_ratelimit_pass(&http->bus_log, g_get_monotonic_time(), &suppressed))
    return text_response(body, "text/plain; charset=utf-8");
  if (suppressed > 0)
    g_warning("Cannot read the tfst instances, the system bus is not available: %s "
              "(%u similar messages suppressed)",
              error->message, suppressed);
  else
    g_warning("Cannot read the tfst instances, the system bus is not available: %s",
              error->message);
  return text_response(body, "text/plain; charset=utf-8");
}

static void schedule(TfstMetricsHttp *http);

/* Why an instance is missing from the metrics (no permission to observe,
 * a hung instance): one journal line a minute at most. */
static void
log_call_error(TfstMetricsHttp *http, const TfstMetricsScrape *scrape)
{
  guint suppressed = 0;

  if (scrape == NULL || scrape->first_error == NULL ||
      !tfst_ratelimit_pass(&http->call_log, g_get_monotonic_time(), &suppressed))
    return;
  g_warning("A bus call of the scrape failed: %s (%u similar messages suppressed)",
            scrape->first_error, suppressed);
}

static void
scrape_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
  TfstMetricsHttp *http = user_data;
  g_autoptr(GError) error = NULL;
  TfstMetricsScrape *scrape = tfst_metrics_scrape_run_finish(result, &error);
  g_autoptr(GPtrArray) waiting = g_steal_pointer(&http->waiting);

  http->waiting = g_ptr_array_new();
  http->scraping = FALSE;
  log_call_error(http, scrape);
  for (guint i = 0; i < waiting->len; i++) {
    Request *req = g_ptr_array_index(waiting, i);

    req->status = scrape != NULL ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    req->response =
        scrape != NULL ? metrics_response(scrape, req->kind) : unavailable_response(http, error);
    MHD_resume_connection(req->conn);
  }
  if (scrape != NULL) {
    g_clear_pointer(&http->last, tfst_metrics_scrape_free);
    http->last = scrape;
  }
  schedule(http);
}

static gboolean
last_is_fresh(TfstMetricsHttp *http)
{
  return http->last != NULL && g_get_monotonic_time() - http->last->finished_us < REUSE_US;
}

static enum MHD_Result
start_metrics(TfstMetricsHttp *http, struct MHD_Connection *conn, void **req_cls)
{
  TfstMetricsFormatKind kind = tfst_metrics_format_negotiate(
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
  Request *req;

  if (last_is_fresh(http))
    return reply(conn, MHD_HTTP_OK, metrics_response(http->last, kind));
  req = g_new0(Request, 1);
  req->conn = conn;
  req->kind = kind;
  *req_cls = req;
  g_ptr_array_add(http->waiting, req);
  MHD_suspend_connection(conn);
  if (!http->scraping) {
    http->scraping = TRUE;
    tfst_metrics_scrape_run(http->scraper, scrape_cb, http);
  }
  return MHD_YES;
}

static enum MHD_Result
not_allowed(struct MHD_Connection *conn)
{
  struct MHD_Response *r = text_response("Only GET and HEAD are allowed.\n", "text/plain");

  MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
}

/* GET and HEAD carry no body; one announced is refused before it is read,
 * so a client cannot hold a connection by trickling a body in. */
static gboolean
has_body(struct MHD_Connection *conn)
{
  const char *length =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

  return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
             NULL ||
         (length != NULL && !g_str_equal(length, "0"));
}

static enum MHD_Result
refuse_body(struct MHD_Connection *conn)
{
  struct MHD_Response *r = text_response("Requests must not have a body.\n", "text/plain");

  MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, r);
}

static Conn *
conn_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

  return info != NULL ? info->socket_context : NULL;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
  TfstMetricsHttp *http = cls;
  Request *req = *req_cls;
  Conn *c = conn_of(conn);

  if (c != NULL)
    c->headers_done = TRUE;

  if (*upload_data_size != 0)
    return MHD_NO; /* has_body() let it through: close */
  if (req != NULL) {
    enum MHD_Result ret = MHD_queue_response(conn, req->status, req->response);
    g_clear_pointer(&req->response, MHD_destroy_response);
    return ret;
  }
  if (!g_str_equal(method, MHD_HTTP_METHOD_GET) && !g_str_equal(method, MHD_HTTP_METHOD_HEAD))
    return not_allowed(conn);
  if (has_body(conn))
    return refuse_body(conn);
  if (g_str_equal(url, "/metrics"))
    return start_metrics(http, conn, req_cls);
  if (g_str_equal(url, "/"))
    return reply(conn, MHD_HTTP_OK, text_response(INDEX_BODY, "text/html; charset=utf-8"));
  return reply(conn, MHD_HTTP_NOT_FOUND, text_response("Not found: try /metrics\n", "text/plain"));
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
  Conn *c = conn_of(conn);

  g_clear_pointer((Request **)req_cls, request_free);
  if (c != NULL) {
    c->since_us = g_get_monotonic_time();
    c->headers_done = FALSE;
  }
}

/* Closes the connections whose request headers are overdue; libmicrohttpd
 * sees the shutdown as the client going away. */
static gboolean
deadline_cb(gpointer user_data)
{
  TfstMetricsHttp *http = user_data;
  gint64 now = g_get_monotonic_time();

  for (guint i = 0; i < http->conns->len; i++) {
    Conn *c = g_ptr_array_index(http->conns, i);
    const union MHD_ConnectionInfo *info;

    if (c->headers_done || now - c->since_us < HEADER_DEADLINE_US)
      continue;
    info = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info != NULL)
      shutdown(info->connect_fd, SHUT_RDWR);
  }
  schedule(http);
  return G_SOURCE_CONTINUE;
}

static void
notify_connection_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
  TfstMetricsHttp *http = cls;

  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    Conn *c = g_new0(Conn, 1);

    c->conn = conn;
    c->since_us = g_get_monotonic_time();
    g_ptr_array_add(http->conns, c);
    *socket_context = c;
    if (http->deadline_source == 0)
      http->deadline_source = g_timeout_add_seconds(1, deadline_cb, http);
    return;
  }
  g_ptr_array_remove_fast(http->conns, *socket_context); /* frees it */
  *socket_context = NULL;
  if (http->conns->len == 0)
    g_clear_handle_id(&http->deadline_source, g_source_remove);
}

/* -- Driving libmicrohttpd from the main context -- */

static gboolean
timer_cb(gpointer user_data)
{
  TfstMetricsHttp *http = user_data;

  http->timer_source = 0;
  schedule(http);
  return G_SOURCE_REMOVE;
}

/* Runs what is due and arms the timer for libmicrohttpd's next timeout
 * (the idle timeout of connections). */
static void
schedule(TfstMetricsHttp *http)
{
  MHD_UNSIGNED_LONG_LONG timeout_ms;

  MHD_run(http->daemon);
  g_clear_handle_id(&http->timer_source, g_source_remove);
  if (MHD_get_timeout(http->daemon, &timeout_ms) == MHD_YES)
    http->timer_source = g_timeout_add((guint)MIN(timeout_ms, G_MAXUINT), timer_cb, http);
}

static gboolean
fd_cb(int fd, GIOCondition condition, gpointer user_data)
{
  schedule(user_data);
  return G_SOURCE_CONTINUE;
}

static struct MHD_Daemon *
start_daemon(TfstMetricsHttp *http, const TfstMetricsHttpConfig *config, GError **error)
{
  unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  /* No MHD_USE_ERROR_LOG: its lines are client-triggered and not rate
   * limited; the replies (431, timeouts) say enough. */
  gssize len = config->address ? g_socket_address_get_native_size(config->address) : 0;
  g_autofree struct sockaddr *sa = g_malloc0(MAX(len, (gssize)sizeof(struct sockaddr)));

  if (config->listen_fd < 0 && !g_socket_address_to_native(config->address, sa, (gsize)len, error))
    return NULL;
  if (config->listen_fd < 0 && sa->sa_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  return MHD_start_daemon(flags, 0, NULL, NULL, access_cb, http, MHD_OPTION_CONNECTION_LIMIT,
                          (unsigned int)config->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                          (unsigned int)config->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                          (size_t)config->memory_limit, MHD_OPTION_NOTIFY_COMPLETED, completed_cb,
                          http, MHD_OPTION_NOTIFY_CONNECTION, notify_connection_cb, http,
                          config->listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
                          config->listen_fd >= 0 ? (void *)(gintptr)config->listen_fd : (void *)sa,
                          MHD_OPTION_END);
}

TfstMetricsHttp *
tfst_metrics_http_new(const TfstMetricsHttpConfig *config, TfstMetricsScraper *scraper,
                      GError **error)
{
  g_autoptr(TfstMetricsHttp) http = g_new0(TfstMetricsHttp, 1);
  const union MHD_DaemonInfo *info;

  http->scraper = scraper;
  http->waiting = g_ptr_array_new();
  http->conns = g_ptr_array_new_with_free_func(g_free);
  http->bus_log = (TfstRatelimit)TFST_RATELIMIT_INIT(60 * G_USEC_PER_SEC, 1);
  http->call_log = (TfstRatelimit)TFST_RATELIMIT_INIT(60 * G_USEC_PER_SEC, 1);
  http->daemon = start_daemon(http, config, error);
  if (http->daemon == NULL) {
    if (error != NULL && *error == NULL)
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start the HTTP server: %s",
                  g_strerror(errno));
    return NULL;
  }
  info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_EPOLL_FD);
  http->fd_source = g_unix_fd_add(info->epoll_fd, G_IO_IN, fd_cb, http);
  schedule(http);
  return g_steal_pointer(&http);
}

void
tfst_metrics_http_free(TfstMetricsHttp *http)
{
  g_clear_handle_id(&http->fd_source, g_source_remove);
  g_clear_handle_id(&http->timer_source, g_source_remove);
  g_clear_handle_id(&http->deadline_source, g_source_remove);
  /* libmicrohttpd must not be stopped with connections suspended. */
  for (guint i = 0; http->daemon != NULL && i < http->waiting->len; i++)
    MHD_resume_connection(((Request *)g_ptr_array_index(http->waiting, i))->conn);
  g_clear_pointer(&http->daemon, MHD_stop_daemon);
  g_clear_pointer(&http->waiting, g_ptr_array_unref);
  g_clear_pointer(&http->conns, g_ptr_array_unref);
  g_clear_pointer(&http->last, tfst_metrics_scrape_free);
  g_free(http);
}
