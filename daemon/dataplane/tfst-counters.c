/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The counters the data path bumps (sessions ended and freed, hops up and
 * down, failures by errno) and the peers remembered by label.  A leaf:
 * it calls nothing above tfst-notify.c, so hop and session may use it. */
#include "tfst-engine-private.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>

void
tfst_counters_init(TfstEngine *e)
{
  e->stats.cleared_rt = g_get_real_time();
}

void
tfst_counters_free(TfstEngine *e)
{
  g_queue_clear_full(&e->refusals, g_free);
}

/* A value Linux gives a name to.  Anything else a peer sends is a number
 * we have no use for, and each distinct one would cost a table slot here,
 * an interned g_strerror() text and a statistics entry. */
gboolean
tfst_counters_errno_is_known(guint32 err)
{
  return err > 0 && err < TFST_ERRNO_SLOTS && strerrorname_np((int)err) != NULL;
}

static void
count_errno(TfstCounters *c, int err)
{
  c->failed_by_errno[tfst_counters_errno_is_known((guint32)err) ? err : 0]++;
}

/* ETIMEDOUT on a socket means TCP gave up: on unacknowledged data after
 * TCP_USER_TIMEOUT, or on keepalive probes nobody answered.  tcpi_probes
 * (unanswered keepalive probes) is what tells them apart; recent kernels
 * have already cleared tcpi_unacked when the error is seen, so that test
 * only matters on older ones. */
static gboolean
died_of_keepalive(int fd)
{
  struct tcp_info ti = {0};
  socklen_t len = sizeof(ti);

  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
    return FALSE;
  return ti.tcpi_unacked == 0 && ti.tcpi_probes > 0;
}

/* Called before the session's sockets are closed. */
void
tfst_counters_session_ended(TfstSession *s, int err, TfstEnd *origin)
{
  TfstCounters *c = &s->engine->stats;

  if (s->counted)
    return;
  s->counted = TRUE;
  if (s->state == TFST_SESSION_OPENING) {
    c->failed++;
    count_errno(c, err);
  } else if (err == ETIMEDOUT && origin != NULL && origin->kind == TFST_END_SOCKET) {
    if (died_of_keepalive(origin->fd))
      c->keepalive_dead++;
    else
      c->retransmit_timeout++;
  } else {
    c->reset++;
  }
}

static guint64 *
gone_slot(TfstEngine *e, gboolean upcall, gboolean to_client)
{
  return &e->bytes_gone[upcall ? 1 : 0][to_client ? 1 : 0];
}

void
tfst_counters_session_freed(TfstSession *s)
{
  TfstEngine *e = s->engine;

  *gone_slot(e, s->upcall, FALSE) += s->end[0].bytes_in;
  *gone_slot(e, s->upcall, TRUE) += s->end[1].bytes_in;
  if (s->state == TFST_SESSION_OPEN)
    e->total_ended++;
  tfst_notify_changed(e);
}

/* Bytes carried since the instance started, [upcall][to_client]. */
void
tfst_counters_byte_totals(TfstEngine *e, guint64 out[2][2])
{
  memcpy(out, e->bytes_gone, sizeof(e->bytes_gone));
  for (GList *l = e->sessions.head; l != NULL; l = l->next) {
    const TfstSession *s = l->data;
    out[s->upcall ? 1 : 0][0] += s->end[0].bytes_in;
    out[s->upcall ? 1 : 0][1] += s->end[1].bytes_in;
  }
}

void
tfst_counters_clear(TfstEngine *e)
{
  memset(&e->stats, 0, sizeof(e->stats));
  tfst_counters_byte_totals(e, e->stats.bytes_base);
  e->stats.cleared_rt = g_get_real_time();
}

/* Peers that connect to us are remembered by label, within reason: a
 * hostile peer inventing labels must not grow the table without bound. */
#define TFST_PEER_RECORDS_MAX 1024

static TfstPeerRecord *
peer_record(TfstEngine *e, const TfstHop *hop, gboolean create)
{
  TfstPeerRecord *r = g_hash_table_lookup(e->peers, hop->peer_label);

  if (r == NULL && create && g_hash_table_size(e->peers) < TFST_PEER_RECORDS_MAX) {
    r = g_new0(TfstPeerRecord, 1);
    r->direction = hop->direction;
    g_hash_table_insert(e->peers, g_strdup(hop->peer_label), r);
  }
  return r;
}

static GList *
refusal_link(TfstEngine *e, const TfstHop *hop)
{
  for (GList *l = e->refusals.head; l != NULL; l = l->next) {
    const TfstRefusal *x = l->data;
    if (x->direction == hop->direction && tfst_addr_equal(&x->addr, &hop->peer_addr, FALSE))
      return l;
  }
  return NULL;
}

/* The refusal from hop's address in its direction, moved to the front, or
 * a new one there (the oldest goes when there are TFST_REFUSALS_MAX). */
static TfstRefusal *
refusal_for(TfstEngine *e, const TfstHop *hop)
{
  GList *l = refusal_link(e, hop);
  TfstRefusal *r;

  if (l != NULL) {
    r = l->data;
    g_queue_delete_link(&e->refusals, l);
  } else if (e->refusals.length >= TFST_REFUSALS_MAX) {
    r = g_queue_pop_tail(&e->refusals);
    memset(r, 0, sizeof(*r));
  } else {
    r = g_new0(TfstRefusal, 1);
  }
  g_queue_push_head(&e->refusals, r);
  return r;
}

/* A peer that got through is no longer refused. */
static void
refusal_forget(TfstEngine *e, const TfstHop *hop)
{
  GList *l = refusal_link(e, hop);

  if (l == NULL)
    return;
  g_free(l->data);
  g_queue_delete_link(&e->refusals, l);
}

void
tfst_counters_hop_up(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstConnector *c = hop->connector;
  TfstPeerRecord *r;

  if (c != NULL) {
    if (c->was_up) {
      c->reconnects++;
      e->stats.hop_reconnects++;
    }
    c->was_up = TRUE;
    c->changed_rt = g_get_real_time();
    g_strlcpy(c->last_label, hop->peer_label, sizeof(c->last_label));
  } else {
    refusal_forget(e, hop);
  }
  if (c == NULL && (r = peer_record(e, hop, TRUE)) != NULL) {
    if (r->changed_rt != 0) {
      r->reconnects++;
      e->stats.hop_reconnects++;
    }
    r->up = TRUE;
    r->addr = hop->peer_addr;
    r->direction = hop->direction;
    r->preference = hop->preference;
    r->changed_rt = g_get_real_time();
  }
  tfst_notify_changed(e);
}

void
tfst_counters_hop_down(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstPeerRecord *r;

  if (hop->connector != NULL)
    hop->connector->changed_rt = g_get_real_time();
  else if ((r = peer_record(e, hop, FALSE)) != NULL) {
    r->up = FALSE;
    r->changed_rt = g_get_real_time();
    g_strlcpy(r->last_error, hop->close_why, sizeof(r->last_error));
  }
  tfst_notify_changed(e);
}

/* The peer's label was checked against its certificate or PSK identity:
 * hop_recv_hello() takes a label over TLS only once it has. */
static gboolean
label_authenticated(const TfstHop *hop)
{
  return hop->tls != NULL && hop->tls_up;
}

void
tfst_counters_hop_refused(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstRefusal *r = refusal_for(e, hop);
  TfstPeerRecord *known;

  r->direction = hop->direction;
  r->addr = hop->peer_addr;
  r->attempts++;
  r->changed_rt = g_get_real_time();
  g_strlcpy(r->label, strcmp(hop->peer_label, "?") != 0 ? hop->peer_label : "", sizeof(r->label));
  g_strlcpy(r->last_error, hop->close_why, sizeof(r->last_error));
  /* A child tools already know (it was up before) says why it is not
   * back; an unknown label claims no record, and neither does a label
   * nobody vouched for: without TLS anyone who reaches the listener could
   * rewrite what Hops and STATUS= say about a known child. */
  known = r->label[0] != '\0' && label_authenticated(hop) ? peer_record(e, hop, FALSE) : NULL;
  if (known != NULL && !known->up && known->direction == hop->direction)
    g_strlcpy(known->last_error, hop->close_why, sizeof(known->last_error));
  tfst_notify_changed(e);
}
