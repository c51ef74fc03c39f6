/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the control plane may know about the data plane: the answers to
 * its queries (snapshot, sessions, counters, data flow), built here on the data-plane thread as
 * GVariants so nothing the loop owns is ever read from another thread. */
#include "tfst-engine-private.h"
#include "tfst-error.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>

/* ---- snapshot for the properties ---- */

static const char *
engine_state(TfstEngine *e)
{
  gboolean any_up = FALSE;
  gboolean missing = e->config->role != TFST_ROLE_EPPROXY && e->active_parent == NULL;

  for (GList *l = e->hops.head; l != NULL; l = l->next)
    any_up |= ((TfstHop *)l->data)->up;
  for (guint i = 0; i < e->connectors->len; i++) {
    const TfstConnector *c = g_ptr_array_index(e->connectors, i);
    if (c->hop == NULL || !c->hop->up)
      missing = TRUE;
  }
  if (!any_up)
    return "connecting";
  return missing ? "degraded" : "running";
}

/* ChainLinks: (upper, lower) for every edge of the chain graph. */
static GVariant *
chain_links(TfstEngine *e)
{
  g_autoptr(GArray) links = tfst_router_links(e);
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a(ss)"));
  for (guint i = 0; i < links->len; i++) {
    const TfstLinkEntry *l = &g_array_index(links, TfstLinkEntry, i);
    g_variant_builder_add(&b, "(ss)", l->upper, l->lower);
  }
  return g_variant_builder_end(&b);
}

/* TlsCertificates: what each hop section with TLS=yes presents. */
static GVariant *
tls_certificates(TfstEngine *e)
{
  const TfstHopConf *hops[] = {&e->config->parent, &e->config->children};
  const char *const names[] = {"Parent", "Children"};
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a(sssssx)"));
  for (gsize i = 0; i < G_N_ELEMENTS(hops); i++) {
    const char *labels, *subject, *issuer;
    gint64 expires;

    if (!hops[i]->tls.enabled || hops[i]->tls.creds == NULL)
      continue;
    tfst_tls_creds_info(hops[i]->tls.creds, &labels, &subject, &issuer, &expires);
    g_variant_builder_add(&b, "(sssssx)", names[i], hops[i]->tls.psk_file != NULL ? "psk" : "x509",
                          labels, subject, issuer, expires);
  }
  return g_variant_builder_end(&b);
}

/* TlsHops: every hop whose TLS handshake completed. */
static GVariant *
tls_hops(TfstEngine *e)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a(ssssssxb)"));
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    const TfstHop *hop = l->data;
    const char *cipher, *subject, *issuer;
    gint64 expires;

    if (hop->tls == NULL || !hop->tls_up || hop->closing)
      continue;
    tfst_tls_peer_info(hop->tls, &cipher, &subject, &issuer, &expires);
    g_variant_builder_add(&b, "(ssssssxb)",
                          hop->direction == TFST_HOP_TO_PARENT ? "parent" : "child",
                          strcmp(hop->peer_label, "?") != 0 ? hop->peer_label : "", hop->peer_desc,
                          cipher, subject, issuer, expires, tfst_tls_ktls(hop->tls));
  }
  return g_variant_builder_end(&b);
}

static GVariant *
hop_tuples(TfstEngine *e, TfstHopDirection dir, TfstRole without)
{
  if (e->config->role == without)
    return g_variant_new_array(G_VARIANT_TYPE("(ssqbtuu)"), NULL, 0);
  return tfst_inspect_hops_tuples(e, dir);
}

GVariant *
tfst_inspect_snapshot(TfstEngine *e, gpointer data, GError **error)
{
  g_autoptr(GArray) chain = tfst_router_chain(e);
  GVariantBuilder listeners, labels;

  g_variant_builder_init(&listeners, G_VARIANT_TYPE("a(sq)"));
  for (guint i = 0; i < e->listeners->len; i++) {
    const TfstListener *l = g_ptr_array_index(e->listeners, i);
    char ip[INET6_ADDRSTRLEN];
    g_variant_builder_add(&listeners, "(sq)", tfst_addr_format_ip(&l->addr, ip),
                          tfst_addr_port(&l->addr));
  }
  g_variant_builder_init(&labels, G_VARIANT_TYPE("a(si)"));
  for (guint i = 0; i < chain->len; i++) {
    const TfstChainItem *it = &g_array_index(chain, TfstChainItem, i);
    g_variant_builder_add(&labels, "(si)", it->label, it->depth);
  }
  return g_variant_new("(sa(sq)@a(ssqbtuu)@a(ssqbtuu)a(si)utt@a(sssssx)@a(ssssssxb)@aa{sv}@a(ss))",
                       engine_state(e), &listeners,
                       hop_tuples(e, TFST_HOP_TO_PARENT, TFST_ROLE_EPPROXY),
                       hop_tuples(e, TFST_HOP_TO_CHILD, TFST_ROLE_GWPROXY), &labels,
                       e->sessions.length, e->total_opened, e->total_ended, tls_certificates(e),
                       tls_hops(e), tfst_inspect_hops_dicts(e), chain_links(e));
}

/* ---- sessions ---- */

typedef struct {
  const char *remote;
  const char *forward;
  const char *direction;
  const char *state;
  TfstSockAddr remote_addr;
} TfstSessionFilter;

static gboolean
filter_parse(GVariant *dict, TfstSessionFilter *f, GError **error)
{
  GVariantIter it;
  const char *key;
  GVariant *value;

  g_variant_iter_init(&it, dict);
  while (g_variant_iter_loop(&it, "{&sv}", &key, &value)) {
    const char **slot = g_str_equal(key, "remote")      ? &f->remote
                        : g_str_equal(key, "forward")   ? &f->forward
                        : g_str_equal(key, "direction") ? &f->direction
                        : g_str_equal(key, "state")     ? &f->state
                                                        : NULL;
    g_autofree char *shown = tfst_error_quote_arg(key);

    if (slot == NULL) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                  "unknown filter key '%s' (known: remote, forward, direction, state)", shown);
      return FALSE;
    }
    if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
      g_autofree char *type = tfst_error_quote_arg(g_variant_get_type_string(value));

      g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                  "filter key '%s' needs a string, not type '%s'", shown, type);
      return FALSE;
    }
    /* The dictionary outlives the filter: the strings stay valid. */
    *slot = g_variant_get_string(value, NULL);
  }
  if (f->remote != NULL && !tfst_addr_parse_ip(f->remote, &f->remote_addr)) {
    g_autofree char *shown = tfst_error_quote_arg(f->remote);

    g_set_error(error, TFST_ERROR, TFST_ERROR_INVALID_ARGS,
                "filter 'remote': '%s' is not a numeric IP address", shown);
    return FALSE;
  }
  return TRUE;
}

static const char *
session_state(const TfstSession *s)
{
  gboolean client_done = s->end[0].in_eof, target_done = s->end[1].in_eof;

  if (s->state == TFST_SESSION_OPENING)
    return "opening";
  if (client_done && target_done)
    return "closing";
  if (client_done)
    return "half-closed-client";
  if (target_done)
    return "half-closed-target";
  return "open";
}

static gboolean
filter_match(const TfstSessionFilter *f, const TfstSession *s)
{
  if (f->forward != NULL && g_strcmp0(f->forward, s->forward) != 0)
    return FALSE;
  if (f->direction != NULL && !g_str_equal(f->direction, s->upcall ? "upcall" : "downcall"))
    return FALSE;
  if (f->state != NULL && !g_str_equal(f->state, session_state(s)))
    return FALSE;
  if (f->remote != NULL && !tfst_addr_equal(&f->remote_addr, &s->client, FALSE) &&
      !tfst_addr_equal(&f->remote_addr, &s->dest, FALSE))
    return FALSE;
  return TRUE;
}

/* A side this instance does not see is named by the label of the one that
 * does: the chain's end in that direction, "<root>" or "<leaf>". */
typedef struct {
  char root[TFST_LABEL_MAX + 3];
  char leaf[TFST_LABEL_MAX + 3];
} TfstChainEnds;

static void
chain_ends(TfstEngine *e, TfstChainEnds *ends)
{
  g_autoptr(GArray) chain = tfst_router_chain(e);

  g_snprintf(ends->root, sizeof(ends->root), "<%s>", g_array_index(chain, TfstChainItem, 0).label);
  g_snprintf(ends->leaf, sizeof(ends->leaf), "<%s>",
             g_array_index(chain, TfstChainItem, chain->len - 1).label);
}

static const char *
side_text(const TfstSockAddr *a, const char *unseen, char buf[TFST_ADDR_STRLEN])
{
  if (a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6)
    return tfst_addr_format(a, buf);
  return unseen;
}

/* Adds one session to a ListSessions reply; returns about how many bytes
 * it takes there. */
static gsize
add_session_row(GVariantBuilder *b, const TfstSession *s, const TfstChainEnds *ends, gint64 now)
{
  char client_buf[TFST_ADDR_STRLEN], target_buf[TFST_ADDR_STRLEN];
  /* Upcall: the client is at the leaf, the target toward the root. */
  const char *client = side_text(&s->client, s->upcall ? ends->leaf : ends->root, client_buf);
  const char *target = side_text(&s->dest, s->upcall ? ends->root : ends->leaf, target_buf);
  const char *forward = s->forward ? s->forward : "";
  const char *state = session_state(s);

  g_variant_builder_add(b, "(tssssstttt)", s->id, forward, s->upcall ? "upcall" : "downcall",
                        client, target, state, s->end[0].bytes_in, s->end[1].bytes_in,
                        (guint64)MAX(now - s->started_us, 0),
                        (guint64)MAX(now - s->last_activity_us, 0));
  /* five uint64, five strings with their length and NUL, alignment */
  return 5 * 8 + 5 * 5 + 8 + strlen(forward) + strlen("downcall") + strlen(client) +
         strlen(target) + strlen(state);
}

/* A reply the bus would refuse disconnects nobody but leaves the caller
 * waiting: refuse it ourselves, and say how to get a smaller one. */
static GVariant *
sessions_too_many(GList *from, const TfstSessionFilter *f, guint listed, GError **error)
{
  guint n = listed;

  for (GList *l = from; l != NULL; l = l->next)
    n += filter_match(f, l->data) ? 1 : 0;
  g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED,
              "%u sessions match, too many for one D-Bus reply (%d MiB): narrow the filter", n,
              TFST_DBUS_REPLY_MAX / (1024 * 1024));
  return NULL;
}

GVariant *
tfst_inspect_list_sessions(TfstEngine *e, gpointer data, GError **error)
{
  TfstSessionFilter f = {0};
  TfstChainEnds ends;
  GVariantBuilder b;
  gint64 now = 0;
  gsize size = 0;
  guint listed = 0;

  if (!filter_parse(data, &f, error))
    return NULL;
  chain_ends(e, &ends);
  sd_event_now(e->event, CLOCK_MONOTONIC, (guint64 *)&now);
  g_variant_builder_init(&b, G_VARIANT_TYPE("a(tssssstttt)"));
  for (GList *l = e->sessions.head; l != NULL; l = l->next) {
    if (!filter_match(&f, l->data))
      continue;
    size += add_session_row(&b, l->data, &ends, now);
    if (size > TFST_DBUS_REPLY_MAX) {
      g_variant_builder_clear(&b);
      return sessions_too_many(l->next, &f, listed + 1, error);
    }
    listed++;
  }
  return g_variant_new("(a(tssssstttt))", &b);
}

GVariant *
tfst_inspect_close_session(TfstEngine *e, gpointer data, GError **error)
{
  guint64 id = *(const guint64 *)data;

  for (GList *l = e->sessions.head; l != NULL; l = l->next) {
    TfstSession *s = l->data;
    if (s->id == id) {
      tfst_log_full(e->log, LOG_NOTICE, &(TfstLogFields){.session = id},
                    "session rs=%" G_GUINT64_FORMAT " closed on request (CloseSession)", id);
      tfst_session_abort(s, ECONNRESET, NULL);
      return g_variant_new("()");
    }
  }
  g_set_error(error, TFST_ERROR, TFST_ERROR_NOT_FOUND, "no session %" G_GUINT64_FORMAT, id);
  return NULL;
}

/* ---- counters ---- */

static void
add_counter(GVariantBuilder *b, const char *name, guint64 v)
{
  g_variant_builder_add(b, "{sv}", name, g_variant_new_uint64(v));
}

/* At most TFST_ERRNO_SLOTS entries: the named values, and "other". */
static GVariant *
failed_by_errno(const TfstCounters *c)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a{st}"));
  for (int i = 0; i < TFST_ERRNO_SLOTS; i++) {
    if (c->failed_by_errno[i] != 0)
      g_variant_builder_add(&b, "{st}", i == 0 ? "other" : strerrorname_np(i),
                            c->failed_by_errno[i]);
  }
  return g_variant_builder_end(&b);
}

GVariant *
tfst_inspect_get_statistics(TfstEngine *e, gpointer data, GError **error)
{
  const TfstCounters *c = &e->stats;
  guint64 bytes[2][2];
  GVariantBuilder b;

  tfst_counters_byte_totals(e, bytes);
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  add_counter(&b, "SessionsOpened", c->opened);
  add_counter(&b, "SessionsClosed", c->closed);
  add_counter(&b, "SessionsFailed", c->failed);
  g_variant_builder_add(&b, "{sv}", "SessionsFailedByErrno", failed_by_errno(c));
  add_counter(&b, "SessionsRefusedLimit", c->refused_limit);
  add_counter(&b, "SessionsRefusedChildLimit", c->refused_child_limit);
  add_counter(&b, "SessionsRefusedOpenRate", c->refused_open_rate);
  add_counter(&b, "SessionsAbortedClose", c->aborted_close);
  add_counter(&b, "SessionsIdleTimeout", c->idle_timeout);
  add_counter(&b, "SessionsRetransmitTimeout", c->retransmit_timeout);
  add_counter(&b, "SessionsKeepaliveDead", c->keepalive_dead);
  add_counter(&b, "SessionsReset", c->reset);
  add_counter(&b, "HopReconnects", c->hop_reconnects);
  add_counter(&b, "HandshakeFailures", c->handshake_failures);
  add_counter(&b, "UpcallBytesToTarget", bytes[1][0] - c->bytes_base[1][0]);
  add_counter(&b, "UpcallBytesToClient", bytes[1][1] - c->bytes_base[1][1]);
  add_counter(&b, "DowncallBytesToTarget", bytes[0][0] - c->bytes_base[0][0]);
  add_counter(&b, "DowncallBytesToClient", bytes[0][1] - c->bytes_base[0][1]);
  return g_variant_new("(a{sv}t)", &b, (guint64)c->cleared_rt);
}

/* The counters as they were and the clear, in one go on the data-plane
 * thread: nothing counted between the two is lost to the caller. */
GVariant *
tfst_inspect_clear_statistics(TfstEngine *e, gpointer data, GError **error)
{
  g_autoptr(GVariant) before = g_variant_ref_sink(tfst_inspect_get_statistics(e, NULL, error));
  g_autoptr(GVariant) counters = g_variant_get_child_value(before, 0);
  g_autoptr(GVariant) since = g_variant_get_child_value(before, 1);

  tfst_counters_clear(e);
  tfst_log(e->log, LOG_NOTICE, "statistics cleared on request (ClearStatistics)");
  return g_variant_new("(@a{sv}@tt)", counters, since, (guint64)e->stats.cleared_rt);
}

/* ---- data flow: the control plane takes two samples ---- */

static TfstHop *
hop_by_label(TfstEngine *e, const char *label)
{
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->up && g_str_equal(hop->peer_label, label))
      return hop;
  }
  return NULL;
}

GVariant *
tfst_inspect_flow_sample(TfstEngine *e, gpointer data, GError **error)
{
  const char *target = data;
  guint64 id;
  char *end = NULL;
  TfstHop *hop;

  if (target[0] == '\0') {
    guint64 b[2][2];
    tfst_counters_byte_totals(e, b);
    return g_variant_new("(ttt)", b[0][0] + b[1][0], b[0][1] + b[1][1], (guint64)0);
  }
  /* The token tells the two samples apart from a hop that reconnected. */
  if ((hop = hop_by_label(e, target)) != NULL)
    return g_variant_new("(ttt)", hop->bytes_written, hop->bytes_read,
                         (guint64)(guintptr)hop ^ (guint64)hop->up_since_us);
  id = g_ascii_strtoull(target, &end, 10);
  if (end != NULL && end != target && *end == '\0') {
    for (GList *l = e->sessions.head; l != NULL; l = l->next) {
      const TfstSession *s = l->data;
      if (s->id == id)
        return g_variant_new("(ttt)", s->end[0].bytes_in, s->end[1].bytes_in, id);
    }
  }
  {
    g_autofree char *shown = tfst_error_quote_arg(target);

    g_set_error(error, TFST_ERROR, TFST_ERROR_NOT_FOUND,
                "no session or hop '%s' (a session id, a hop peer's label, or \"\" for the "
                "instance)",
                shown);
  }
  return NULL;
}
