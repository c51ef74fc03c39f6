/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The instance's TCP sockets seen as a whole, on the data-plane thread:
 * retuned when the keepalive settings change, and named (kind, peer,
 * session, kernel numbers) for the audit. */
#include "tfst-engine-private.h"
#include "tfst-error.h"
#include "tfst-keepalive.h"

#include <errno.h>
#include <linux/tcp.h>
#include <sys/stat.h>

typedef enum {
  KIND_LISTENER,
  KIND_PARENT,
  KIND_CHILD,
  KIND_CLIENT,
  KIND_TARGET,
} SocketKind;

/* As Audit() names them. */
static const char *const kind_names[] = {"listener", "parent", "child", "client", "target"};

typedef void (*SocketFunc)(int fd, SocketKind kind, const char *peer, guint64 session,
                           gpointer data);

/* Every TCP socket the loop owns, the listeners first. */
static void
foreach_socket(TfstEngine *e, gboolean listeners, SocketFunc func, gpointer data)
{
  if (listeners)
    for (guint i = 0; i < e->listeners->len; i++) {
      TfstListener *l = g_ptr_array_index(e->listeners, i);

      if (l->fd >= 0)
        func(l->fd, KIND_LISTENER, "", 0, data);
    }
  for (GList *h = e->hops.head; h != NULL; h = h->next) {
    TfstHop *hop = h->data;

    if (hop->fd >= 0)
      func(hop->fd, hop->direction == TFST_HOP_TO_PARENT ? KIND_PARENT : KIND_CHILD,
           hop->peer_label, 0, data);
  }
  for (GList *l = e->sessions.head; l != NULL; l = l->next) {
    TfstSession *s = l->data;

    /* end[0] faces where the session came from: a client socket there;
     * end[1] faces the target. */
    for (guint i = 0; i < 2; i++)
      if (s->end[i].kind == TFST_END_SOCKET && s->end[i].fd >= 0)
        func(s->end[i].fd, i == 0 ? KIND_CLIENT : KIND_TARGET, "", s->id, data);
  }
}

/* ---- retuning ---- */

typedef struct {
  TfstEngine *engine;
  gboolean hops;     /* retune hop sockets */
  gboolean sessions; /* retune client and target sockets */
  guint tuned;
  guint failed;
  int first_error;
} Retune;

static void
retune_one(int fd, SocketKind kind, const char *peer, guint64 session, gpointer data)
{
  Retune *r = data;
  gboolean hop = kind == KIND_PARENT || kind == KIND_CHILD;
  const TfstKeepaliveConf *ka =
      hop ? &r->engine->config->keepalive : &r->engine->config->session_keepalive;
  int err;

  if (hop ? !r->hops : !r->sessions)
    return;
  /* A socket whose peer just went away refuses options; it is about to be
   * closed anyway, so it only counts. */
  err = tfst_socket_tune(fd, ka);
  if (err < 0) {
    r->failed++;
    if (r->first_error == 0)
      r->first_error = -err;
  } else {
    r->tuned++;
  }
}

/* Applies the settings in force to the open sockets of the scopes in `r`;
 * for hops a shorter PingInterval also takes effect now, not after the old
 * one ran out. */
static void
retune(TfstEngine *e, Retune *r)
{
  foreach_socket(e, FALSE, retune_one, r);
  if (!r->hops)
    return;
  for (GList *h = e->hops.head; h != NULL; h = h->next) {
    TfstHop *hop = h->data;

    if (hop->up && hop->timer != NULL)
      tfst_hop_arm_ping(hop);
  }
}

void
tfst_sockets_retune(TfstEngine *e)
{
  Retune r = {.engine = e, .hops = TRUE, .sessions = TRUE};

  retune(e, &r);
  if (r.failed > 0)
    tfst_log(e->log, LOG_INFO, "keepalive settings applied to %u connections, %u refused (%s)",
             r.tuned, r.failed, g_strerror(r.first_error));
}

GVariant *
tfst_sockets_get_keepalive(TfstEngine *e, gpointer data, GError **error)
{
  const TfstKeepaliveUpdate *u = data;
  const TfstKeepaliveConf *ka = u->hops ? &e->config->keepalive : &e->config->session_keepalive;

  return g_variant_new("(@a{sv})", tfst_keepalive_to_variant(ka, u->hops));
}

/* Merging here, where the settings live, makes concurrent changes
 * serialize: each one starts from what the previous one left. */
GVariant *
tfst_sockets_set_keepalive(TfstEngine *e, gpointer data, GError **error)
{
  const TfstKeepaliveUpdate *u = data;
  TfstKeepaliveConf *ka = u->hops ? &e->config->keepalive : &e->config->session_keepalive;
  TfstKeepaliveConf next = *ka;
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  Retune r = {.engine = e, .hops = u->hops, .sessions = !u->hops};

  if (!tfst_keepalive_merge(&next, u->hops, u->changes, u->flags, warnings, error))
    return NULL;
  *ka = next;
  retune(e, &r);
  tfst_log(e->log, LOG_NOTICE,
           "%s keepalive changed over D-Bus and applied to %u open connections: %s",
           u->hops ? "hop" : "session", r.tuned, u->summary);
  g_ptr_array_add(warnings, NULL);
  return g_variant_new("(@a{sv}^as)", tfst_keepalive_to_variant(ka, u->hops),
                       (char **)warnings->pdata);
}

/* ---- the audit's half from the data plane ---- */

static guint64
socket_inode(int fd)
{
  struct stat st;

  return fstat(fd, &st) == 0 ? (guint64)st.st_ino : 0;
}

static void
describe_one(int fd, SocketKind kind, const char *peer, guint64 session, gpointer data)
{
  GVariantBuilder *b = data;
  struct tcp_info ti = {0};
  socklen_t len = sizeof(ti);

  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
    return;
  g_variant_builder_add(b, "(tsstuuuuutt)", socket_inode(fd), kind_names[kind], peer, session,
                        (guint32)ti.tcpi_state, (guint32)ti.tcpi_probes,
                        (guint32)ti.tcpi_retransmits, ti.tcpi_rtt, ti.tcpi_rttvar,
                        (guint64)ti.tcpi_bytes_acked, (guint64)ti.tcpi_bytes_received);
}

GVariant *
tfst_sockets_describe(TfstEngine *e, gpointer data, GError **error)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a(tsstuuuuutt)"));
  foreach_socket(e, TRUE, describe_one, &b);
  return g_variant_new("(a(tsstuuuuutt))", &b);
}
