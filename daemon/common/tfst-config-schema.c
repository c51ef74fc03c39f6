/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The schema of a configuration: which sections exist, which keys each
 * accepts, and the value every setting has when no file sets it. */
#include "tfst-config-schema.h"
#include "tfst-log.h"

#include <string.h>

static const char *const instance_keys[] = {
    "Label", "LogLevel", "MaxSessions", "MaxSessionsPerChild", "OpenRate", "Networks", NULL};
static const char *const hop_keys[] = {"Listen",
                                       "Connect",
                                       "LocalAddress",
                                       "SourcePorts",
                                       "ReconnectMin",
                                       "ReconnectMax",
                                       "HandshakeTimeout",
                                       "TLS",
                                       "Certificate",
                                       "Key",
                                       "TrustedCA",
                                       "PeerLabel",
                                       "PSKFile",
                                       "TLSPriority",
                                       "TLSMinVersion",
                                       "MaxPendingHops",
                                       "MaxPendingHopsPerAddress",
                                       "AllowLabels",
                                       "AllowNetworks",
                                       "AllowForwards",
                                       "MaxTellEntries",
                                       "MaxParents",
                                       "FailbackDelay",
                                       NULL};
static const char *const keepalive_keys[] = {"Keepalive",    "Idle",        "Interval",
                                             "Count",        "UserTimeout", "FirewallTimeout",
                                             "PingInterval", "PingTimeout", NULL};
static const char *const session_keepalive_keys[] = {
    "Keepalive", "Idle", "Interval", "Count", "UserTimeout", "FirewallTimeout", NULL};
static const char *const session_keys[] = {
    "ConnectTimeout", "CloseTimeout", "IdleTimeout", "InitialWindow",
    "MaxWindow",      "ZeroCopy",     NULL};
static const char *const ports_keys[] = {"Base", "Skip", "Count", NULL};
static const char *const diagnostics_keys[] = {"PacketTrace", "IPsec", NULL};
static const char *const forward_keys[] = {"Listen", "Target", "Route", "Destination", NULL};
static const char *const events_keys[] = {
    "Listen", "Target", "TargetFraming", "SpoolSize", "SpoolSync", "SpoolFull", NULL};

static const TfstConfigSection sections[] = {
    {"Instance", instance_keys},
    {"Parent", hop_keys},
    {"Children", hop_keys},
    {"Keepalive", keepalive_keys},
    {"SessionKeepalive", session_keepalive_keys},
    {"Session", session_keys},
    {"Ports", ports_keys},
    {"Diagnostics", diagnostics_keys},
};
static const TfstConfigSection forward_section = {"Forward NAME", forward_keys};
static const TfstConfigSection events_section = {"Events NAME", events_keys};

/* The NAME of "[PREFIX NAME]" (after any blanks), or NULL when group is
 * another section. */
static const char *
named_section(const char *group, const char *prefix)
{
  const char *p;

  if (!g_str_has_prefix(group, prefix))
    return NULL;
  p = group + strlen(prefix);
  if (*p != '\0' && *p != ' ' && *p != '\t')
    return NULL;
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

const char *
tfst_config_schema_forward_name(const char *group)
{
  return named_section(group, TFST_CONFIG_FORWARD_PREFIX);
}

const char *
tfst_config_schema_events_name(const char *group)
{
  return named_section(group, TFST_CONFIG_EVENTS_PREFIX);
}

const TfstConfigSection *
tfst_config_schema_section(const char *group)
{
  if (tfst_config_schema_forward_name(group) != NULL)
    return &forward_section;
  if (tfst_config_schema_events_name(group) != NULL)
    return &events_section;
  for (gsize i = 0; i < G_N_ELEMENTS(sections); i++) {
    if (strcmp(group, sections[i].name) == 0)
      return &sections[i];
  }
  return NULL;
}

static guint
edit_distance(const char *a, const char *b)
{
  gsize la = strlen(a), lb = strlen(b);
  g_autofree guint *row = g_new(guint, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++) {
    guint diag = row[0];

    row[0] = i;
    for (gsize j = 1; j <= lb; j++) {
      guint up = row[j];
      guint cost = g_ascii_tolower(a[i - 1]) == g_ascii_tolower(b[j - 1]) ? 0 : 1;

      row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
      diag = up;
    }
  }
  return row[lb];
}

const char *
tfst_config_schema_suggest(const char *word, const char *const *known)
{
  const char *best = NULL;
  guint best_d = 3;

  if (strlen(word) > 64)
    return NULL;
  for (gsize i = 0; known[i] != NULL; i++) {
    guint d = edit_distance(word, known[i]);

    if (d < best_d) {
      best = known[i];
      best_d = d;
    }
  }
  return best;
}

const char *
tfst_config_schema_suggest_section(const char *group)
{
  static const char *const names[] = {"Instance",         "Parent",  "Children", "Keepalive",
                                      "SessionKeepalive", "Session", "Ports",    "Diagnostics",
                                      "Forward",          "Events",  NULL};
  g_auto(GStrv) words = g_strsplit(group, " ", 2);

  return tfst_config_schema_suggest(words[0] != NULL ? words[0] : "", names);
}

/* ---- defaults ---- */

static char *
default_label(TfstRole role, const char *instance)
{
  char *label = g_strdup_printf("%s-%s", tfst_role_to_string(role), instance);

  for (char *p = label; *p != '\0'; p++) {
    if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
      *p = '-';
  }
  if (strlen(label) > TFST_LABEL_MAX)
    label[TFST_LABEL_MAX] = '\0';
  return label;
}

static void
hop_init(TfstHopConf *hop)
{
  hop->addrs = g_array_new(FALSE, TRUE, sizeof(TfstSockAddr));
  hop->expect_labels = g_ptr_array_new_with_free_func(g_free);
  hop->reconnect_min_ms = DEFAULT_RECONNECT_MIN_MS;
  hop->reconnect_max_ms = DEFAULT_RECONNECT_MAX_MS;
  hop->handshake_timeout_ms = DEFAULT_HANDSHAKE_MS;
  hop->max_pending = DEFAULT_MAX_PENDING;
  hop->max_pending_per_addr = DEFAULT_MAX_PENDING_ADDR;
  hop->tls.min_version = 13;
}

/* The ITM rule: instance N listens on Base + N * 4096, so a numeric
 * instance is its own default Skip; other names start at Base. */
static guint16
default_skip(const char *instance)
{
  guint64 n = 0;

  if (instance == NULL || !g_ascii_string_to_unsigned(instance, 10, 0, 15, &n, NULL))
    return 0;
  return (guint16)n;
}

void
tfst_config_schema_set_defaults(TfstConfig *c)
{
  c->label = default_label(c->role, c->instance);
  c->log_priority = tfst_log_level_to_priority(DEFAULT_LOG_LEVEL);
  c->max_sessions = DEFAULT_MAX_SESSIONS;
  c->open_rate = DEFAULT_OPEN_RATE;
  c->networks = g_array_new(FALSE, TRUE, sizeof(TfstNetworkEntry));
  hop_init(&c->parent);
  hop_init(&c->children);
  c->trust.max_tell_entries = TFST_DEFAULT_MAX_TELL_ENTRIES;
  c->max_parents = 1;
  c->failback_delay_ms = TFST_DEFAULT_FAILBACK_DELAY_MS;
  c->keepalive.enabled = TRUE;
  c->keepalive.idle_s = DEFAULT_KEEPIDLE_S;
  c->keepalive.interval_s = DEFAULT_KEEPINTVL_S;
  c->keepalive.count = DEFAULT_KEEPCNT;
  c->keepalive.ping_interval_ms = DEFAULT_PING_INTERVAL_MS;
  c->keepalive.ping_timeout_ms = DEFAULT_PING_TIMEOUT_MS;
  c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  c->close_timeout_ms = DEFAULT_CLOSE_TIMEOUT_MS;
  c->initial_window = DEFAULT_INITIAL_WINDOW;
  c->max_window = DEFAULT_MAX_WINDOW;
  c->zero_copy = TRUE;
  c->port_base = DEFAULT_PORT_BASE;
  c->port_skip = default_skip(c->instance);
  c->port_count = 1;
}
