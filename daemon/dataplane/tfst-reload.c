/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Configuration reload (SIGHUP / systemctl reload), applied in the data-plane
 * thread.  What can change without dropping a session changes at once;
 * what would (listeners, hop endpoints, the label) is kept and named in
 * the journal so the administrator knows a restart is needed. */
#include "tfst-engine-private.h"

#include <string.h>

static gboolean
addrs_equal(GArray *a, GArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    if (!tfst_addr_equal(&g_array_index(a, TfstSockAddr, i), &g_array_index(b, TfstSockAddr, i),
                         TRUE))
      return FALSE;
  return TRUE;
}

static gboolean
labels_equal(GPtrArray *a, GPtrArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    if (g_strcmp0(g_ptr_array_index(a, i), g_ptr_array_index(b, i)) != 0)
      return FALSE;
  return TRUE;
}

static gboolean
hop_endpoints_equal(const TfstHopConf *a, const TfstHopConf *b)
{
  return a->configured == b->configured && a->listen == b->listen &&
         a->port_from_rule == b->port_from_rule && addrs_equal(a->addrs, b->addrs) &&
         labels_equal(a->expect_labels, b->expect_labels) && a->have_local == b->have_local &&
         (!a->have_local || tfst_addr_equal(&a->local, &b->local, FALSE)) &&
         a->sport_lo == b->sport_lo && a->sport_hi == b->sport_hi;
}

static TfstForwardConf *
find_forward(TfstConfig *c, const char *name)
{
  for (guint i = 0; i < c->forwards->len; i++) {
    TfstForwardConf *f = g_ptr_array_index(c->forwards, i);
    if (g_strcmp0(f->name, name) == 0)
      return f;
  }
  return NULL;
}

static void
reload_forwards(TfstConfig *cur, TfstConfig *next, GPtrArray *restart)
{
  for (guint i = 0; i < next->forwards->len; i++) {
    TfstForwardConf *n = g_ptr_array_index(next->forwards, i);
    TfstForwardConf *c = find_forward(cur, n->name);

    if (c == NULL) {
      g_ptr_array_add(restart, g_strdup_printf("[Forward %s] (new)", n->name));
    } else if (c->has_listen != n->has_listen ||
               (c->has_listen && !tfst_addr_equal(&c->listen, &n->listen, TRUE))) {
      g_ptr_array_add(restart, g_strdup_printf("[Forward %s] Listen=", n->name));
    } else {
      /* Listeners hold pointers to these structs: update in place. */
      c->target_kind = n->target_kind;
      c->target = n->target;
      c->has_destination = n->has_destination;
      c->destination = n->destination;
      g_free(c->route);
      c->route = g_steal_pointer(&n->route);
    }
  }
  for (guint i = 0; i < cur->forwards->len; i++) {
    TfstForwardConf *c = g_ptr_array_index(cur->forwards, i);
    if (find_forward(next, c->name) == NULL)
      g_ptr_array_add(restart, g_strdup_printf("[Forward %s] (removed)", c->name));
  }
}

/* New hops use the new credentials; established ones keep a reference to
 * those they were made with, so they stay up. */
static void
reload_tls(TfstEngine *e, const char *section, TfstHopConf *cur, TfstHopConf *next)
{
  gboolean was = cur->tls.enabled;

  cur->handshake_timeout_ms = next->handshake_timeout_ms;
  cur->max_pending = next->max_pending;
  cur->max_pending_per_addr = next->max_pending_per_addr;
  tfst_tls_conf_clear(&cur->tls);
  cur->tls = next->tls;
  memset(&next->tls, 0, sizeof(next->tls));
  if (cur->tls.enabled)
    tfst_log(e->log, LOG_NOTICE, "[%s] TLS credentials loaded for new hops: %s", section,
             tfst_tls_creds_describe(cur->tls.creds));
  else if (was)
    tfst_log(e->log, LOG_WARNING, "[%s] TLS switched off: new hops are plaintext", section);
}

void
tfst_reload_apply(TfstEngine *e, TfstConfig *next)
{
  TfstConfig *cur = e->config;
  g_autoptr(GPtrArray) restart = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *list = NULL;

  if (g_strcmp0(cur->label, next->label) != 0)
    g_ptr_array_add(restart, g_strdup("[Instance] Label="));
  if (!hop_endpoints_equal(&cur->parent, &next->parent))
    g_ptr_array_add(restart, g_strdup("[Parent]"));
  if (!hop_endpoints_equal(&cur->children, &next->children))
    g_ptr_array_add(restart, g_strdup("[Children]"));
  if (cur->port_base != next->port_base || cur->port_skip != next->port_skip ||
      cur->port_count != next->port_count)
    g_ptr_array_add(restart, g_strdup("[Ports]"));
  reload_forwards(cur, next, restart);
  tfst_events_reload(e, next, restart);

  tfst_log_set_max_priority(e->log, next->log_priority);
  cur->log_priority = next->log_priority;
  cur->max_sessions = next->max_sessions;
  cur->max_sessions_per_child = next->max_sessions_per_child;
  cur->open_rate = next->open_rate;
  cur->keepalive = next->keepalive;
  cur->session_keepalive = next->session_keepalive;
  cur->connect_timeout_ms = next->connect_timeout_ms;
  cur->close_timeout_ms = next->close_timeout_ms;
  cur->idle_timeout_ms = next->idle_timeout_ms;
  cur->initial_window = next->initial_window;
  cur->max_window = next->max_window;
  cur->zero_copy = next->zero_copy;
  cur->parent.reconnect_min_ms = next->parent.reconnect_min_ms;
  cur->parent.reconnect_max_ms = next->parent.reconnect_max_ms;
  cur->children.reconnect_min_ms = next->children.reconnect_min_ms;
  cur->children.reconnect_max_ms = next->children.reconnect_max_ms;
  cur->failback_delay_ms = next->failback_delay_ms;
  cur->max_parents = next->max_parents;
  reload_tls(e, "Parent", &cur->parent, &next->parent);
  reload_tls(e, "Children", &cur->children, &next->children);
  g_array_set_size(cur->networks, 0);
  g_array_append_vals(cur->networks, next->networks->data, next->networks->len);
  /* Also undoes what SetSettings changed without PERSIST. */
  tfst_sockets_retune(e);
  tfst_router_reload_trust(e, next);
  /* Networks and forward targets are part of what we announce upward. */
  tfst_router_announce(e);

  g_ptr_array_add(restart, NULL);
  list = g_strjoinv(", ", (char **)restart->pdata);
  if (restart->len > 1)
    tfst_log(e->log, LOG_WARNING,
             "configuration reloaded; these changes need a restart and are not applied yet: %s",
             list);
  else
    tfst_log(e->log, LOG_NOTICE, "configuration reloaded; every change applied");
}
