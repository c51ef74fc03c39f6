/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfst-generator: a systemd generator (systemd.generator(7)) that turns the
 * configuration into the socket units' ListenStream= and ListenDatagram=,
 * so that socket activation and the configuration cannot disagree.
 *
 * For every SYSCONFDIR/tfst/<role>@<instance>.conf it loads the file with its
 * drop-ins, exactly as tfstd does, and writes
 *   <normal-dir>/tfst-<role>@<instance>.socket.d/50-tfst-listen.conf
 * with one ListenStream= per listener: the children hop, the parent hop,
 * each forward with Listen= and each tcp: address of an [Events] Listen=;
 * a udp: address of [Events] Listen= gets a ListenDatagram=.  A Listen=
 * without a port gets the first port of the [Ports] rule.
 *
 * [Diagnostics] PacketTrace=yes or IPsec=yes also gets the service
 *   <normal-dir>/tfst-<role>@<instance>.service.d/50-tfst-capabilities.conf
 * granting that one instance CAP_NET_RAW and AF_PACKET (packet traces) or
 * CAP_NET_ADMIN (reading the kernel's IPsec SAs); every other instance
 * keeps the template's empty capability set.
 *
 * Every instance's service also gets
 *   <normal-dir>/tfst-<role>@<instance>.service.d/50-tfst-busname.conf
 * with BusName=org.tfst.Tfst1.<role>_<escaped instance>, the name the
 * instance owns: `systemctl service-log-level` and `service-log-target`
 * find org.freedesktop.LogControl1 there.  A specifier in the template
 * cannot escape an instance name into a bus name; this is written for an
 * invalid configuration too, as the name depends on the file name only.
 *
 * No FileDescriptorName= is written: it names every socket of a unit alike,
 * so tfstd matches the sockets it is handed to its listeners by local address
 * and socket type.
 *
 * An invalid configuration gets no drop-in (its socket unit then has no
 * ListenStream= and refuses to start, and tfstd itself exits with 78 naming
 * file, line and key); the reason is logged and the other instances are still
 * handled.  TFST_CONFIG_DIR replaces the configuration directory for tests. */
#include "tfst-addr.h"
#include "tfst-bus-name.h"
#include "tfst-config.h"
#include "tfst-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#define DROPIN_NAME      "50-tfst-listen.conf"
#define CAPS_DROPIN_NAME "50-tfst-capabilities.conf"
#define BUS_DROPIN_NAME  "50-tfst-busname.conf"
/* systemd's UNIT_NAME_MAX without the terminating NUL. */
#define UNIT_NAME_MAX 255
/* The longer of the suffixes of one instance's units. */
#define LONGEST_SUFFIX ".service"

/* systemd 252 runs generators with stderr on /dev/null. At boot the kernel
 * log is the place (journald imports it); a container has no /dev/kmsg, but
 * its journald is running when "systemctl daemon-reload" runs generators. */
typedef enum {
  TFST_GEN_LOG_STDERR,
  TFST_GEN_LOG_KMSG,
  TFST_GEN_LOG_JOURNAL,
} TfstGenLogTarget;

typedef struct {
  const char *config_dir;
  const char *out_dir;
  TfstGenLogTarget log_target;
  int log_fd;      /* stderr or /dev/kmsg */
  gboolean failed; /* something could not be written */
} TfstGenerator;

typedef struct {
  char *what;        /* the configuration key, for comments and errors */
  gboolean datagram; /* UDP ([Events] Listen=udp:) */
  TfstSockAddr addr;
} TfstGenListener;

static void tfst_gen_log(const TfstGenerator *g, int priority, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static void
tfst_gen_log(const TfstGenerator *g, int priority, const char *format, ...)
{
  g_autofree char *msg = NULL;
  g_autofree char *line = NULL;
  ssize_t r;
  va_list ap;

  va_start(ap, format);
  msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  switch (g->log_target) {
    case TFST_GEN_LOG_JOURNAL:
      (void)sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority,
                            "SYSLOG_IDENTIFIER=tfst-generator", NULL);
      return;
    case TFST_GEN_LOG_KMSG:
      line = g_strdup_printf("<%d>tfst-generator: %s\n", LOG_DAEMON | priority, msg);
      break;
    case TFST_GEN_LOG_STDERR:
      line = g_strdup_printf("tfst-generator: %s\n", msg);
      break;
  }
  /* One write per message: /dev/kmsg takes each write as one record. */
  r = write(g->log_fd, line, strlen(line));
  (void)r;
}

static void
tfst_gen_log_open(TfstGenerator *g)
{
  struct stat st;
  int fd;

  g->log_target = TFST_GEN_LOG_STDERR;
  g->log_fd = STDERR_FILENO;
  if (fstat(STDERR_FILENO, &st) == 0 &&
      !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) /* /dev/null */))
    return;
  fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) {
    g->log_target = TFST_GEN_LOG_KMSG;
    g->log_fd = fd;
    return;
  }
  g->log_target = TFST_GEN_LOG_JOURNAL;
}

static void
listener_clear(TfstGenListener *l)
{
  g_free(l->what);
}

/* Characters that stand for themselves in a unit name: with them, %i in the
 * units is the instance name of the configuration file, unchanged. */
static gboolean
instance_is_valid(const char *role, const char *instance, char **out_reason)
{
  gsize unit_len = strlen("tfst-") + strlen(role) + 1 + strlen(instance) + strlen(LONGEST_SUFFIX);

  if (*instance == '\0') {
    *out_reason = g_strdup("the instance name is empty");
    return FALSE;
  }
  for (const char *p = instance; *p != '\0'; p++) {
    if (!g_ascii_isalnum(*p) && strchr(":_.-", *p) == NULL) {
      *out_reason = g_strdup_printf("'%s' cannot be a unit instance name: use only A-Z a-z 0-9 "
                                    "and : _ . -",
                                    instance);
      return FALSE;
    }
  }
  if (unit_len > UNIT_NAME_MAX) {
    *out_reason = g_strdup_printf("the instance name is too long for a unit name (%" G_GSIZE_FORMAT
                                  " characters, at most %d)",
                                  unit_len, UNIT_NAME_MAX);
    return FALSE;
  }
  return TRUE;
}

/* A TCP and a UDP socket may share an address and port. */
static gboolean
add_socket(GArray *listeners, char *what, gboolean datagram, const TfstSockAddr *addr,
           GError **error)
{
  g_autofree char *owned = what;
  TfstGenListener l = {NULL, datagram, *addr};
  char buf[TFST_ADDR_STRLEN];

  for (guint i = 0; i < listeners->len; i++) {
    const TfstGenListener *other = &g_array_index(listeners, TfstGenListener, i);

    if (other->datagram == datagram && tfst_addr_equal(&other->addr, addr, TRUE)) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                  "%s and %s both listen on %s%s; give one of them another address or port",
                  other->what, owned, datagram ? "udp:" : "", tfst_addr_format(addr, buf));
      return FALSE;
    }
  }
  l.what = g_steal_pointer(&owned);
  g_array_append_val(listeners, l);
  return TRUE;
}

static gboolean
add_listener(GArray *listeners, char *what, const TfstSockAddr *addr, GError **error)
{
  return add_socket(listeners, what, FALSE, addr, error);
}

static gboolean
add_events_listeners(const TfstEventsConf *ev, GArray *listeners, GError **error)
{
  for (guint i = 0; i < ev->listen->len; i++) {
    const TfstEventAddr *a = &g_array_index(ev->listen, TfstEventAddr, i);
    gboolean udp = a->transport == TFST_EVENT_UDP;

    if (!add_socket(listeners,
                    g_strdup_printf("[Events %s] Listen=%s", ev->name, udp ? "udp:" : "tcp:"), udp,
                    &a->addr, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
add_hop_listener(const TfstConfig *c, const TfstHopConf *hop, const char *section,
                 GArray *listeners, GError **error)
{
  TfstSockAddr addr;

  if (!hop->configured || !hop->listen || hop->addrs->len == 0)
    return TRUE;
  addr = g_array_index(hop->addrs, TfstSockAddr, 0);
  if (hop->port_from_rule) {
    guint16 port = tfst_config_rule_port(c, 0);

    if (port == 0) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                  "[%s] Listen= has no port and the [Ports] rule gives none below 65536", section);
      return FALSE;
    }
    tfst_addr_set_port(&addr, port);
    return add_listener(listeners,
                        g_strdup_printf("[%s] Listen= (port from the [Ports] rule)", section),
                        &addr, error);
  }
  return add_listener(listeners, g_strdup_printf("[%s] Listen=", section), &addr, error);
}

/* Every listener of the instance, in the order tfstd sets them up. */
static GArray *
collect_listeners(const TfstConfig *c, GError **error)
{
  g_autoptr(GArray) listeners = g_array_new(FALSE, TRUE, sizeof(TfstGenListener));

  g_array_set_clear_func(listeners, (GDestroyNotify)listener_clear);
  if (!add_hop_listener(c, &c->children, "Children", listeners, error) ||
      !add_hop_listener(c, &c->parent, "Parent", listeners, error))
    return NULL;
  for (guint i = 0; i < c->forwards->len; i++) {
    const TfstForwardConf *fw = g_ptr_array_index(c->forwards, i);

    if (fw->has_listen &&
        !add_listener(listeners, g_strdup_printf("[Forward %s] Listen=", fw->name), &fw->listen,
                      error))
      return NULL;
  }
  for (guint i = 0; c->events != NULL && i < c->events->len; i++) {
    const TfstEventsConf *ev = g_ptr_array_index(c->events, i);

    if (ev->listen != NULL && !add_events_listeners(ev, listeners, error))
      return NULL;
  }
  return g_steal_pointer(&listeners);
}

static gboolean
uses_port_rule(const TfstConfig *c)
{
  return (c->children.listen && c->children.port_from_rule) ||
         (c->parent.listen && c->parent.port_from_rule);
}

static char *
render_dropin(const TfstConfig *c, const char *unit, GArray *listeners)
{
  g_autoptr(GString) s = g_string_new(NULL);
  char buf[TFST_ADDR_STRLEN];

  g_string_append_printf(s,
                         "# Generated by tfst-generator from %s and its drop-ins:\n"
                         "# the listeners of %s.  Do not edit; change the configuration\n"
                         "# and run \"systemctl daemon-reload\".\n",
                         c->path, unit);
  if (uses_port_rule(c) && c->port_count > 1)
    g_string_append_printf(s,
                           "# [Ports] Count=%u: systemd binds only the first port of the rule\n"
                           "# (%u); trying the next ones works only when tfstd binds itself.\n",
                           c->port_count, tfst_config_rule_port(c, 0));
  g_string_append(s, "[Socket]\n");
  for (guint i = 0; i < listeners->len; i++) {
    const TfstGenListener *l = &g_array_index(listeners, TfstGenListener, i);

    g_string_append_printf(s, "# %s\n%s=%s\n", l->what,
                           l->datagram ? "ListenDatagram" : "ListenStream",
                           tfst_addr_format(&l->addr, buf));
  }
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* NULL when the instance needs no capability. */
static char *
render_caps_dropin(const TfstConfig *c)
{
  g_autoptr(GString) s = NULL;

  if (!c->packet_trace && !c->ipsec)
    return NULL;
  s = g_string_new(NULL);
  g_string_append_printf(s,
                         "# Generated by tfst-generator from %s and its drop-ins\n"
                         "# ([Diagnostics]).  Do not edit; change the configuration and run\n"
                         "# \"systemctl daemon-reload\".\n"
                         "[Service]\n",
                         c->path);
  /* Each assignment adds to the template's empty sets. */
  if (c->packet_trace)
    g_string_append(s, "# PacketTrace=yes: capturing one peer's packets (org.tfst.Tfst1.Trace)\n"
                       "CapabilityBoundingSet=CAP_NET_RAW\n"
                       "AmbientCapabilities=CAP_NET_RAW\n"
                       "RestrictAddressFamilies=AF_PACKET\n");
  if (c->ipsec)
    g_string_append(s, "# IPsec=yes: reading the kernel's SAs over netlink (org.tfst.Tfst1.Ipsec)\n"
                       "CapabilityBoundingSet=CAP_NET_ADMIN\n"
                       "AmbientCapabilities=CAP_NET_ADMIN\n");
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static gboolean
write_dropin(const TfstGenerator *g, const char *unit, const char *name, const char *text,
             GError **error)
{
  g_autofree char *dir = g_strdup_printf("%s/%s.d", g->out_dir, unit);
  g_autofree char *path = g_build_filename(dir, name, NULL);

  if (g_mkdir_with_parents(dir, 0755) < 0) {
    int err = errno;

    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "cannot create %s: %s", dir,
                g_strerror(err));
    return FALSE;
  }
  return g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

static char *
render_bus_dropin(const char *name)
{
  return g_strdup_printf("# Generated by tfst-generator: the bus name this instance owns,\n"
                         "# where systemctl service-log-level finds org.freedesktop.LogControl1.\n"
                         "[Service]\n"
                         "BusName=%s\n",
                         name);
}

static void
generate_bus_name(TfstGenerator *g, const char *service_unit, const char *role,
                  const char *instance)
{
  g_autofree char *name = tfst_bus_name_for(role, instance);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  /* Escaping triples a character: a long name may not fit in 255. */
  if (!g_dbus_is_name(name)) {
    tfst_gen_log(g, LOG_WARNING, "%s: '%s' is not a valid bus name; no BusName=", service_unit,
                 name);
    return;
  }
  text = render_bus_dropin(name);
  if (!write_dropin(g, service_unit, BUS_DROPIN_NAME, text, &error)) {
    tfst_gen_log(g, LOG_ERR, "%s: %s", service_unit, error->message);
    g->failed = TRUE;
  }
}

static void
generate_instance(TfstGenerator *g, const char *file, TfstRole role, const char *instance)
{
  const char *role_str = tfst_role_to_string(role);
  g_autofree char *path = g_build_filename(g->config_dir, file, NULL);
  g_autofree char *socket_unit = g_strdup_printf("tfst-%s@%s.socket", role_str, instance);
  g_autofree char *service_unit = g_strdup_printf("tfst-%s@%s.service", role_str, instance);
  g_autofree char *reason = NULL;
  g_autofree char *text = NULL;
  g_autofree char *caps = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TfstConfig) config = NULL;
  g_autoptr(GArray) listeners = NULL;

  if (!instance_is_valid(role_str, instance, &reason)) {
    tfst_gen_log(g, LOG_ERR, "%s: %s; no socket unit for this file", path, reason);
    return;
  }
  generate_bus_name(g, service_unit, role_str, instance);
  config = tfst_config_load(role, instance, path, &error);
  if (config == NULL) {
    tfst_gen_log(g, LOG_ERR, "%s: invalid configuration, no ListenStream= for %s: %s", path,
                 socket_unit, error->message);
    return;
  }
  caps = render_caps_dropin(config);
  if (caps != NULL && !write_dropin(g, service_unit, CAPS_DROPIN_NAME, caps, &error)) {
    tfst_gen_log(g, LOG_ERR, "%s: %s", service_unit, error->message);
    g->failed = TRUE;
    g_clear_error(&error);
  }
  listeners = collect_listeners(config, &error);
  if (listeners == NULL) {
    tfst_gen_log(g, LOG_ERR, "%s: no ListenStream= for %s: %s", path, socket_unit, error->message);
    return;
  }
  /* Nothing to listen on (only Connect= and Target=): the service alone
   * runs this instance, and an enabled socket unit says it has no Listen. */
  if (listeners->len == 0)
    return;
  text = render_dropin(config, service_unit, listeners);
  if (!write_dropin(g, socket_unit, DROPIN_NAME, text, &error)) {
    tfst_gen_log(g, LOG_ERR, "%s: %s", socket_unit, error->message);
    g->failed = TRUE;
  }
}

/* "<role>@<instance>.conf": other names are not configurations and are
 * skipped quietly, as are hidden files and the "<name>.conf.d" directories. */
static void
generate_file(TfstGenerator *g, const char *file)
{
  const char *at = strchr(file, '@');
  g_autofree char *role_str = NULL;
  g_autofree char *instance = NULL;
  g_autofree char *path = NULL;
  TfstRole role;

  if (file[0] == '.' || at == NULL || !g_str_has_suffix(file, ".conf"))
    return;
  path = g_build_filename(g->config_dir, file, NULL);
  if (g_file_test(path, G_FILE_TEST_IS_DIR))
    return;
  role_str = g_strndup(file, (gsize)(at - file));
  role = tfst_role_from_string(role_str);
  if (role == TFST_ROLE_NONE) {
    tfst_gen_log(g, LOG_WARNING, "%s: '%s' is not a role (epproxy, gwproxy or relay); file skipped",
                 path, role_str);
    return;
  }
  instance = g_strndup(at + 1, strlen(at + 1) - strlen(".conf"));
  generate_instance(g, file, role, instance);
}

static gint
compare_names_cb(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
main(int argc, char **argv)
{
  TfstGenerator g = {0};
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
  const char *name;

  tfst_gen_log_open(&g);
  /* systemd passes the normal, early and late output directories; only the
   * first is used.  One argument is accepted for manual runs. */
  if (argc != 2 && argc != 4) {
    tfst_gen_log(&g, LOG_ERR, "usage: %s NORMAL-DIR [EARLY-DIR LATE-DIR]", argv[0]);
    return EXIT_FAILURE;
  }
  g.out_dir = argv[1];
  g.config_dir = g_getenv("TFST_CONFIG_DIR");
  if (g.config_dir == NULL)
    g.config_dir = SYSCONFDIR "/tfst";

  dir = g_dir_open(g.config_dir, 0, &error);
  if (dir == NULL) {
    /* No configuration directory: no instances, nothing to say. */
    if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return EXIT_SUCCESS;
    tfst_gen_log(&g, LOG_ERR, "%s", error->message);
    return EXIT_FAILURE;
  }
  while ((name = g_dir_read_name(dir)) != NULL)
    g_ptr_array_add(files, g_strdup(name));
  /* Sorted, so that messages come in the same order on every boot. */
  g_ptr_array_sort(files, compare_names_cb);
  for (guint i = 0; i < files->len; i++)
    generate_file(&g, g_ptr_array_index(files, i));
  return g.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
