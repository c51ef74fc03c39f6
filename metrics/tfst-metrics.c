/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfst-metrics: the Prometheus/OpenMetrics endpoint for every tfst instance
 * on the host, read over the system bus (docs/monitoring.md,
 * tfst-metrics(8)).  argv, locale, signals and the loop only. */
#include "tfst-metrics-http.h"
#include "tfst-version.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <systemd/sd-daemon.h>

/* 1918 + 8000: in the range Prometheus exporters use, and off the port
 * rule's grid (1918 + N * 4096), so no instance's default port. */
#define DEFAULT_LISTEN "127.0.0.1:9918"

typedef struct {
  char *listen;
  gboolean sessions;
  int timeout_ms;
  int max_connections;
  gboolean version;
} Options;

static gboolean
quit_cb(gpointer user_data)
{
  g_main_loop_quit(user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_options(Options *opts, int *argc, char ***argv, GError **error)
{
  const GOptionEntry entries[] = {
      {"listen", 'l', 0, G_OPTION_ARG_STRING, &opts->listen,
       N_("Address and port to listen on when not socket-activated (default 127.0.0.1:9918)"),
       N_("ADDRESS:PORT")},
      {"sessions", 0, 0, G_OPTION_ARG_NONE, &opts->sessions,
       N_("Also export one series per session (many series on busy hosts)"), NULL},
      {"timeout", 't', 0, G_OPTION_ARG_INT, &opts->timeout_ms,
       N_("Milliseconds a scrape waits for the instances (default 2000)"), N_("MS")},
      {"max-connections", 0, 0, G_OPTION_ARG_INT, &opts->max_connections,
       N_("Concurrent HTTP connections (default 16)"), N_("N")},
      {"version", 0, 0, G_OPTION_ARG_NONE, &opts->version, N_("Print the version and exit"), NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);

  g_option_context_set_summary(ctx, _("Export the metrics of every tfst instance on this host "
                                      "for Prometheus."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse(ctx, argc, argv, error))
    return FALSE;
  if (opts->timeout_ms < 1 || opts->timeout_ms > 60000 || opts->max_connections < 1 ||
      opts->max_connections > 1024) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("--timeout must be 1-60000 and --max-connections 1-1024"));
    return FALSE;
  }
  return TRUE;
}

/* The socket from tfst-metrics.socket, or -1 to bind --listen. */
static int
activation_fd(GError **error)
{
  int n = sd_listen_fds(TRUE);

  if (n < 0) {
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-n), _("Socket activation failed: %s"),
                g_strerror(-n));
    return -2;
  }
  if (n > 1) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                _("Socket activation passed %d sockets, tfst-metrics takes one"), n);
    return -2;
  }
  return n == 1 ? SD_LISTEN_FDS_START : -1;
}

static gboolean
make_config(const Options *opts, TfstMetricsHttpConfig *config, GError **error)
{
  g_autoptr(GSocketConnectable) addr = NULL;

  config->max_connections = (guint)opts->max_connections;
  config->timeout_s = 5;
  config->memory_limit = 16 * 1024;
  config->listen_fd = activation_fd(error);
  if (config->listen_fd == -2)
    return FALSE;
  if (config->listen_fd >= 0)
    return TRUE;
  addr = g_network_address_parse(opts->listen ? opts->listen : DEFAULT_LISTEN, 0, error);
  if (addr == NULL)
    return FALSE;
  config->address =
      g_inet_socket_address_new_from_string(g_network_address_get_hostname(G_NETWORK_ADDRESS(addr)),
                                            g_network_address_get_port(G_NETWORK_ADDRESS(addr)));
  if (config->address == NULL || g_network_address_get_port(G_NETWORK_ADDRESS(addr)) == 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                _("--listen needs a numeric address and a port: %s"), opts->listen);
    return FALSE;
  }
  return TRUE;
}

static int
run(const Options *opts)
{
  g_autoptr(GError) error = NULL;
  TfstMetricsHttpConfig config = {0};
  g_autoptr(TfstMetricsScraper) scraper = NULL;
  g_autoptr(TfstMetricsHttp) http = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  gboolean ok = make_config(opts, &config, &error);

  scraper = tfst_metrics_scrape_scraper_new(opts->sessions, (guint)opts->timeout_ms);
  if (ok)
    http = tfst_metrics_http_new(&config, scraper, &error);
  g_clear_object(&config.address);
  if (http == NULL) {
    g_printerr("tfst-metrics: %s\n", error->message);
    return 1;
  }
  g_unix_signal_add(SIGTERM, quit_cb, loop);
  g_unix_signal_add(SIGINT, quit_cb, loop);
  sd_notify(0, "READY=1");
  g_main_loop_run(loop);
  return 0;
}

int
main(int argc, char **argv)
{
  Options opts = {.timeout_ms = 2000, .max_connections = 16};
  g_autoptr(GError) error = NULL;
  int ret;

  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);
  if (!parse_options(&opts, &argc, &argv, &error)) {
    g_printerr("tfst-metrics: %s\n", error->message);
    return 2;
  }
  if (opts.version) {
    g_print("tfst-metrics %s (build level %s)\n", PACKAGE_VERSION, TFST_BUILD_LEVEL);
    return 0;
  }
  ret = run(&opts);
  g_free(opts.listen);
  return ret;
}
