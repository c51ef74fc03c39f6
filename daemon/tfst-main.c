/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstd: argv, locale, signals and the main loop; everything else lives in
 * the daemon library. */
#include "tfst-authz.h"
#include "tfst-bus.h"
#include "tfst-bus-name.h"
#include "tfst-config.h"
#include "tfst-engine.h"
#include "tfst-error.h"
#include "tfst-host-addrs.h"
#include "tfst-log.h"
#include "tfst-service.h"
#include "tfst-tls.h"
#include "tfst-version.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

typedef struct {
  GMainLoop *loop;
  TfstLog *log;
  TfstEngine *engine;
  TfstService *service;
  TfstRole role;
  gboolean ready_sent;
  guint ready_timeout_id;
  const char *instance;
  const char *config_path;
  /* References for the expiry check: the data plane owns the config. */
  TfstTlsCreds *tls_creds[2]; /* [Parent], [Children] */
} TfstDaemon;

static const char *const tls_sections[] = {"Parent", "Children"};

static gboolean
tls_expiry_check_cb(gpointer data)
{
  TfstDaemon *d = data;

  for (gsize i = 0; i < G_N_ELEMENTS(d->tls_creds); i++)
    tfst_tls_creds_check_expiry(d->tls_creds[i], tls_sections[i], d->log);
  return G_SOURCE_CONTINUE;
}

/* At start and reload, then daily (tls_expiry_check_cb).  The reload
 * itself names the new credentials (tfst-reload.c); a start names them
 * here. */
static void
tls_expiry_track(TfstDaemon *d, const TfstConfig *c, gboolean starting)
{
  const TfstHopConf *hops[] = {&c->parent, &c->children};

  for (gsize i = 0; i < G_N_ELEMENTS(d->tls_creds); i++) {
    g_clear_pointer(&d->tls_creds[i], tfst_tls_creds_unref);
    if (hops[i]->tls.creds == NULL)
      continue;
    d->tls_creds[i] = tfst_tls_creds_ref(hops[i]->tls.creds);
    if (starting)
      tfst_log(d->log, LOG_NOTICE, "[%s] TLS credentials loaded: %s", tls_sections[i],
               tfst_tls_creds_describe(d->tls_creds[i]));
  }
  (void)tls_expiry_check_cb(d);
}

static gboolean
stop_signal_cb(gpointer data)
{
  TfstDaemon *d = data;

  tfst_log(d->log, LOG_NOTICE, "stopping on signal");
  g_main_loop_quit(d->loop);
  return G_SOURCE_CONTINUE;
}

/* SIGUSR1 raises the log level, SIGUSR2 lowers it, one step of the 0-3
 * scale.  The bus's properties follow at the next refresh. */
static void
log_level_step(TfstDaemon *d, int step)
{
  guint level = tfst_log_get_level(d->log);

  tfst_log_set_level(d->log, step > 0 ? MIN(level + 1, 3u) : (level > 0 ? level - 1 : 0));
  /* At error priority when lowering, so the line is seen at any level. */
  tfst_log(d->log, step > 0 ? LOG_NOTICE : LOG_ERR, "log level now %s (%u)",
           tfst_log_priority_to_string(tfst_log_get_max_priority(d->log)),
           tfst_log_get_level(d->log));
}

static gboolean
usr1_cb(gpointer data)
{
  log_level_step(data, +1);
  return G_SOURCE_CONTINUE;
}

static gboolean
usr2_cb(gpointer data)
{
  log_level_step(data, -1);
  return G_SOURCE_CONTINUE;
}

/* Duplicate keys and sections: the load went on, the administrator should
 * still hear of it. */
static void
log_config_warnings(TfstLog *log, const TfstConfig *config)
{
  for (guint i = 0; config->warnings != NULL && i < config->warnings->len; i++)
    tfst_log(log, LOG_WARNING, "configuration: %s",
             (const char *)g_ptr_array_index(config->warnings, i));
}

/* The configuration and the TLS credentials it names: the loader reads no
 * key file (tfst-generator uses it too), the data plane's TLS code does,
 * here on the control plane before the engine sees the result. */
static TfstConfig *
config_load(TfstRole role, const char *instance, const char *path, GError **error)
{
  g_autoptr(TfstConfig) config = tfst_config_load(role, instance, path, error);

  if (config == NULL || !tfst_tls_creds_load(config, error))
    return NULL;
  return g_steal_pointer(&config);
}

/* systemctl reload and Reload(): parse the files again here, on the
 * control plane, and hand the result to the data plane only when it is
 * valid. */
static gboolean
daemon_reload_cb(gpointer data, GError **error)
{
  TfstDaemon *d = data;
  TfstConfig *next;

  (void)sd_notify(0, "RELOADING=1");
  tfst_service_set_state(d->service, "reloading");
  next = config_load(d->role, d->instance, d->config_path, error);
  if (next != NULL)
    tfst_host_addrs_check(next, d->log);
  if (next == NULL)
    tfst_log(d->log, LOG_ERR, "reload refused, keeping the running configuration: %s",
             (*error)->message);
  else {
    log_config_warnings(d->log, next);
    tls_expiry_track(d, next, FALSE);
    tfst_engine_reload(d->engine, next);
  }
  tfst_service_set_state(d->service, NULL);
  (void)sd_notify(0, "READY=1");
  return next != NULL;
}

static gboolean
reload_cb(gpointer data)
{
  g_autoptr(GError) error = NULL;

  (void)daemon_reload_cb(data, &error);
  return G_SOURCE_CONTINUE;
}

/* READY=1 once the bus name is ours, so `systemctl start` followed by
 * tfstctl finds the instance; but never later than a few seconds, and not
 * at all waiting for a bus that is not there. */
static gboolean
send_ready_cb(gpointer data)
{
  TfstDaemon *d = data;

  if (d->ready_timeout_id != 0)
    g_source_remove(d->ready_timeout_id);
  d->ready_timeout_id = 0;
  if (!d->ready_sent)
    (void)sd_notify(0, "READY=1");
  d->ready_sent = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
ready_timeout_cb(gpointer data)
{
  TfstDaemon *d = data;

  d->ready_timeout_id = 0;
  return send_ready_cb(d);
}

static gboolean
block_test_hook_cb(gpointer data)
{
  TfstDaemon *d = data;

  tfst_engine_block_for_test(d->engine);
  return G_SOURCE_REMOVE;
}

static void
warn_keepalive_scope(const TfstKeepaliveConf *ka, const char *section, TfstLog *log)
{
  TfstLogFields f = {.message_id = TFST_MSGID_KEEPALIVE};

  if (ka->firewall_timeout_s == 0)
    return;
  if (!ka->enabled)
    tfst_log_full(log, LOG_WARNING, &f,
                  "[%s] Keepalive=no with a firewall state timeout of %u s: idle connections "
                  "will be dropped by the firewall",
                  section, ka->firewall_timeout_s);
  else if (ka->idle_s >= ka->firewall_timeout_s)
    tfst_log_full(log, LOG_WARNING, &f,
                  "keepalive idle %u s is not below the firewall state timeout %u s: idle "
                  "connections will be dropped by the firewall; set [%s] Idle= lower",
                  ka->idle_s, ka->firewall_timeout_s, section);
}

/* Hops also have PINGs (the loader refuses a PingInterval that is too
 * long), so only keepalive is worth a warning there. */
static void
warn_keepalive(const TfstConfig *c, TfstLog *log)
{
  if (c->keepalive.enabled)
    warn_keepalive_scope(&c->keepalive, "Keepalive", log);
  warn_keepalive_scope(&c->session_keepalive, "SessionKeepalive", log);
}

static int
run(TfstDaemon *d, TfstConfig *config, guint block_after_s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstEngine) engine = NULL;
  g_autoptr(TfstAuthz) authz = tfst_authz_new();
  g_autoptr(TfstService) service = NULL;
  g_autoptr(TfstBus) bus = NULL;
  g_autofree char *bus_name = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  TfstLog *log = d->log;
  int status;

  d->loop = loop;
  warn_keepalive(config, log);
  tls_expiry_track(d, config, TRUE);
  engine = tfst_engine_new(config, log, &error);
  if (engine == NULL || !tfst_engine_start(engine, &error)) {
    TfstLogFields f = {.message_id = TFST_MSGID_BIND_FAILED};
    gboolean config_error = g_error_matches(error, TFST_ERROR, TFST_ERROR_CONFIG);
    tfst_log_full(log, LOG_ERR, config_error ? NULL : &f, "%s", error->message);
    (void)sd_notifyf(0, "STATUS=failed: %s", error->message);
    return config_error ? TFST_EXIT_CONFIG : EXIT_FAILURE;
  }
  d->engine = engine;
  service = tfst_service_new(engine, config, log, authz, daemon_reload_cb, d);
  d->service = service;
  tfst_log_full(log, LOG_NOTICE, &(TfstLogFields){.message_id = TFST_MSGID_STARTED},
                "tfstd %s started as %s@%s, label %s", PACKAGE_VERSION,
                tfst_role_to_string(config->role), config->instance, config->label);
  bus_name = tfst_bus_name_for(tfst_role_to_string(config->role), config->instance);
  bus = tfst_bus_new(bus_name, log, authz);
  tfst_service_attach(service, bus);
  d->ready_timeout_id = g_timeout_add_seconds(3, ready_timeout_cb, d);
  tfst_bus_start(bus, send_ready_cb, d);

  g_unix_signal_add(SIGTERM, stop_signal_cb, d);
  g_unix_signal_add(SIGINT, stop_signal_cb, d);
  g_unix_signal_add(SIGHUP, reload_cb, d);
  g_unix_signal_add(SIGUSR1, usr1_cb, d);
  g_unix_signal_add(SIGUSR2, usr2_cb, d);
  if (block_after_s > 0)
    g_timeout_add_seconds(block_after_s, block_test_hook_cb, d);
  g_timeout_add_seconds(24 * 3600, tls_expiry_check_cb, d);
  g_main_loop_run(loop);

  (void)sd_notify(0, "STOPPING=1");
  tfst_service_set_state(service, "stopping");
  g_clear_pointer(&bus, tfst_bus_free);
  if (d->ready_timeout_id != 0)
    g_source_remove(d->ready_timeout_id);
  status = tfst_engine_stop(engine);
  for (gsize i = 0; i < G_N_ELEMENTS(d->tls_creds); i++)
    g_clear_pointer(&d->tls_creds[i], tfst_tls_creds_unref);
  tfst_log(log, LOG_NOTICE, "stopped");
  return status;
}

/* tfstd --check-config: what a start would refuse, without starting and
 * without the bus: the same files (tfst_config_files), TLS credentials and
 * address notes, with the messages a start logs, always on stderr. */
static int
check_config(TfstRole role, const char *instance, const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) config = NULL;
  const char *role_name = tfst_role_to_string(role);
  TfstLog log;

  tfst_log_init(&log, role_name, instance, "-", 1);
  log.journal = FALSE;
  config = config_load(role, instance, path, &error);
  if (config == NULL) {
    tfst_log(&log, LOG_ERR, "invalid configuration: %s", error->message);
    return TFST_EXIT_CONFIG;
  }
  log_config_warnings(&log, config);
  if (!g_file_test(config->path, G_FILE_TEST_EXISTS))
    tfst_log(&log, LOG_NOTICE, "%s does not exist: the defaults apply", config->path);
  tfst_host_addrs_check(config, &log);
  g_print(_("%s@%s: the configuration is valid\n"), role_name, instance);
  return EXIT_SUCCESS;
}

/* What the command line says. */
typedef struct {
  char *role;
  char *instance;
  char *config_path;
  gboolean version;
  gboolean check_only;
  gint block_after_s;
} TfstArgs;

static void
args_clear(TfstArgs *a)
{
  g_clear_pointer(&a->role, g_free);
  g_clear_pointer(&a->instance, g_free);
  g_clear_pointer(&a->config_path, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TfstArgs, args_clear)

static GOptionContext *
option_context_new(TfstArgs *a)
{
  g_autofree char *config_help = NULL;
  GOptionContext *ctx = g_option_context_new(NULL);
  const GOptionEntry entries[] = {
      {"role", 0, 0, G_OPTION_ARG_STRING, &a->role, N_("Component role: epproxy, gwproxy or relay"),
       N_("ROLE")},
      {"instance", 0, 0, G_OPTION_ARG_STRING, &a->instance, N_("Instance name (the unit's %i)"),
       N_("NAME")},
      {"config", 0, 0, G_OPTION_ARG_FILENAME, &a->config_path,
       N_("Configuration file instead of the default (below)"), N_("FILE")},
      {"check-config", 0, 0, G_OPTION_ARG_NONE, &a->check_only,
       N_("Check the configuration (main file, drop-ins, settings persisted at run time) and the "
          "files it names without starting; exit status 0 when valid, 78 when not"),
       NULL},
      {"version", 0, 0, G_OPTION_ARG_NONE, &a->version, N_("Print version and build level"), NULL},
      /* Test hook for the watchdog test; not for administrators. */
      {"test-block-data-plane-after", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &a->block_after_s,
       NULL, NULL},
      {NULL},
  };

  g_option_context_set_summary(ctx,
                               _("tfst component daemon: endpoint proxy, gateway proxy or relay"));
  /* Copied into the context: the entries need not outlive this call. */
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  /* The directory this build reads, not a fixed /etc: a /usr/local build
   * reads /usr/local/etc/tfst unless configured with --sysconfdir=/etc. */
  config_help = g_strdup_printf(_("Configuration: %s/tfst/ROLE@INSTANCE.conf, then the drop-ins "
                                  "in ROLE@INSTANCE.conf.d/.\nSee tfstd(8) and tfst.conf(5)."),
                                SYSCONFDIR);
  g_option_context_set_description(ctx, config_help);
  return ctx;
}

static gboolean
parse_args(TfstArgs *a, int *argc, char ***argv)
{
  g_autoptr(GOptionContext) ctx = option_context_new(a);
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse(ctx, argc, argv, &error)) {
    g_printerr("tfstd: %s\n", error->message);
    return FALSE;
  }
  return TRUE;
}

/* Loads the configuration and runs the instance until it stops. */
static int
start(TfstRole role, const char *instance, const char *config_path, guint block_after_s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) config = config_load(role, instance, config_path, &error);
  TfstDaemon d = {0};
  TfstLog log;

  if (config == NULL) {
    /* At error priority with the TFST_* fields, so `journalctl -p err`
     * shows why the instance did not start. */
    tfst_log_init(&log, tfst_role_to_string(role), instance, "-", 0);
    tfst_log(&log, LOG_ERR, "invalid configuration: %s", error->message);
    (void)sd_notifyf(0, "STATUS=invalid configuration: %s", error->message);
    return TFST_EXIT_CONFIG;
  }
  tfst_log_init(&log, tfst_role_to_string(role), instance, config->label, 0);
  tfst_log_set_max_priority(&log, config->log_priority);
  log_config_warnings(&log, config);
  /* Before the engine binds: an address that is not on this host (yet)
   * is said once here, not on every bind or reconnect. */
  tfst_host_addrs_check(config, &log);
  d.log = &log;
  d.role = role;
  d.instance = instance;
  d.config_path = config_path;
  return run(&d, config, block_after_s);
}

int
main(int argc, char **argv)
{
  g_auto(TfstArgs) a = {0};
  TfstRole role;

  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);
  /* Writes to a vanished peer return EPIPE; MSG_NOSIGNAL covers send(),
   * this covers everything else. */
  signal(SIGPIPE, SIG_IGN);

  if (!parse_args(&a, &argc, &argv))
    return EXIT_FAILURE;
  if (a.version) {
    g_print("tfstd %s (build level %s)\n", PACKAGE_VERSION, TFST_BUILD_LEVEL);
    return EXIT_SUCCESS;
  }
  role = tfst_role_from_string(a.role);
  if (role == TFST_ROLE_NONE || a.instance == NULL || *a.instance == '\0') {
    g_printerr(_("tfstd: --role=epproxy|gwproxy|relay and --instance=NAME are required\n"));
    return EXIT_FAILURE;
  }
  if (a.check_only)
    return check_config(role, a.instance, a.config_path);
  return start(role, a.instance, a.config_path, a.block_after_s > 0 ? (guint)a.block_after_s : 0);
}
