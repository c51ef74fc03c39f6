/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hops as the snapshot shows them (Parent, Children and Hops): every
 * connector, up or not, and every peer that connected to us, live or
 * remembered.  Both properties come from one list so they cannot
 * disagree. */
#include "tfst-engine-private.h"

#include <string.h>
#include <sys/epoll.h>

/* One hop as the tools see it; the strings belong to the engine. */
typedef struct {
  gboolean connect; /* a connector: we open it */
  const TfstHop *hop;
  const TfstConnector *connector;
  const TfstPeerRecord *record; /* an accepted peer */
  const TfstRefusal *refusal;   /* an accepted peer that never came up */
  const char *label;
  const TfstSockAddr *addr;
  const char *state;
  gint64 since_rt;
  guint reconnects;
  guint preference;
} TfstHopView;

static gint64
hop_since_rt(const TfstHop *hop)
{
  return g_get_real_time() - (g_get_monotonic_time() - hop->up_since_us);
}

/* A connector's hop while it is not up: the TCP connect is still in
 * progress as long as the hop does not read (see hop_io_cb). */
static const char *
connector_state(const TfstConnector *c)
{
  if (c->hop != NULL && c->hop->up)
    return "up";
  if (c->hop != NULL)
    return (c->hop->io_mask & EPOLLIN) ? "handshake" : "connecting";
  return c->next_attempt_rt != 0 ? "waiting" : "down";
}

static void
add_connector(GArray *views, const TfstConnector *c)
{
  gboolean up = c->hop != NULL && c->hop->up;
  TfstHopView v = {
      .connect = TRUE,
      .hop = c->hop,
      .connector = c,
      .label = up                         ? c->hop->peer_label
               : c->last_label[0] != '\0' ? c->last_label
               : c->expect_label != NULL  ? c->expect_label
                                          : "",
      .addr = up ? &c->hop->peer_addr : &c->addr,
      .state = connector_state(c),
      .since_rt = up ? hop_since_rt(c->hop) : c->changed_rt,
      .reconnects = c->reconnects,
      .preference = c->index,
  };

  g_array_append_val(views, v);
}

/* The accepted hops that are up in `dir`, by label: one walk over the
 * hops per snapshot, not one per remembered peer (an endpoint proxy may
 * have thousands of both). */
static GHashTable *
accepted_hops(TfstEngine *e, TfstHopDirection dir)
{
  GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);

  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->connector == NULL && hop->up && hop->direction == dir)
      g_hash_table_insert(t, hop->peer_label, hop);
  }
  return t;
}

static void
add_record(GHashTable *live_hops, GArray *views, const char *label, const TfstPeerRecord *r)
{
  const TfstHop *live = r->up ? g_hash_table_lookup(live_hops, label) : NULL;
  TfstHopView v = {
      .hop = live,
      .record = r,
      .label = label,
      .addr = live != NULL ? &live->peer_addr : &r->addr,
      .state = live != NULL ? "up" : "down",
      .since_rt = live != NULL ? hop_since_rt(live) : r->changed_rt,
      .reconnects = r->reconnects,
      .preference = live != NULL ? live->preference : r->preference,
  };

  g_array_append_val(views, v);
}

/* After the peers that came up, as "refused": the label its HELLO
 * claimed, if it got that far. */
static void
add_refusals(TfstEngine *e, GArray *views, TfstHopDirection dir)
{
  for (GList *l = e->refusals.head; l != NULL; l = l->next) {
    const TfstRefusal *r = l->data;
    TfstHopView v = {
        .refusal = r,
        .label = r->label,
        .addr = &r->addr,
        .state = "refused",
        .since_rt = r->changed_rt,
        .preference = G_MAXUINT,
    };

    if (r->direction == dir)
      g_array_append_val(views, v);
  }
}

/* Connectors first, in the order of Connect= (their preference), then
 * accepted peers: parents by the preference they had, children (all 0)
 * by label. */
static gint
view_cmp(gconstpointer a, gconstpointer b)
{
  const TfstHopView *x = a, *y = b;

  if (x->connect != y->connect)
    return x->connect ? -1 : 1;
  if (x->preference != y->preference)
    return x->preference < y->preference ? -1 : 1;
  return strcmp(x->label, y->label);
}

/* Every hop in `dir`, sorted (view_cmp), then the refused peers when
 * with_refusals (Hops only: Parent and Children list peers that came up). */
static GArray *
collect(TfstEngine *e, TfstHopDirection dir, gboolean with_refusals)
{
  GArray *views = g_array_new(FALSE, TRUE, sizeof(TfstHopView));
  g_autoptr(GHashTable) live = accepted_hops(e, dir);
  GHashTableIter it;
  gpointer key, value;

  for (guint i = 0; i < e->connectors->len; i++) {
    const TfstConnector *c = g_ptr_array_index(e->connectors, i);
    if (c->direction == dir)
      add_connector(views, c);
  }
  g_hash_table_iter_init(&it, e->peers);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    const TfstPeerRecord *r = value;
    if (r->direction == dir)
      add_record(live, views, key, r);
  }
  g_array_sort(views, view_cmp);
  if (with_refusals)
    add_refusals(e, views, dir);
  return views;
}

static guint64
view_rtt(const TfstHopView *v)
{
  return v->hop != NULL && v->hop->up ? (guint64)MAX(v->hop->srtt_us, 0) : 0;
}

GVariant *
tfst_inspect_hops_tuples(TfstEngine *e, TfstHopDirection dir)
{
  g_autoptr(GArray) views = collect(e, dir, FALSE);
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("a(ssqbtuu)"));
  for (guint i = 0; i < views->len; i++) {
    const TfstHopView *v = &g_array_index(views, TfstHopView, i);
    char ip[INET6_ADDRSTRLEN];

    g_variant_builder_add(&b, "(ssqbtuu)", v->label, tfst_addr_format_ip(v->addr, ip),
                          tfst_addr_port(v->addr), g_str_equal(v->state, "up"),
                          (guint64)MAX(v->since_rt, 0), (guint32)MIN(view_rtt(v), G_MAXUINT32),
                          v->reconnects);
  }
  return g_variant_builder_end(&b);
}

/* Attempts that failed since the last success: the connector counts the
 * one scheduled or running too. */
static guint
view_failed_attempts(const TfstHopView *v)
{
  const TfstConnector *c = v->connector;

  if (v->refusal != NULL)
    return v->refusal->attempts;
  if (c == NULL || c->attempts == 0 || g_str_equal(v->state, "up"))
    return 0;
  return c->attempts - 1;
}

static const char *
view_last_error(const TfstHopView *v)
{
  if (v->connector != NULL)
    return v->connector->last_error;
  if (v->refusal != NULL)
    return v->refusal->last_error;
  return v->record != NULL ? v->record->last_error : "";
}

static GVariant *
view_dict(TfstEngine *e, const TfstHopView *v, TfstHopDirection dir)
{
  gboolean parent = dir == TFST_HOP_TO_PARENT;
  char ip[INET6_ADDRSTRLEN];
  GVariantDict d;

  g_variant_dict_init(&d, NULL);
  g_variant_dict_insert(&d, "direction", "s", parent ? "parent" : "child");
  g_variant_dict_insert(&d, "label", "s", v->label);
  g_variant_dict_insert(&d, "address", "s", tfst_addr_format_ip(v->addr, ip));
  g_variant_dict_insert(&d, "port", "q", tfst_addr_port(v->addr));
  g_variant_dict_insert(&d, "role", "s", parent ? tfst_parents_role(e, v->hop) : "");
  g_variant_dict_insert(&d, "state", "s", v->state);
  g_variant_dict_insert(&d, "since", "t", (guint64)MAX(v->since_rt, 0));
  g_variant_dict_insert(&d, "rtt", "t", view_rtt(v));
  g_variant_dict_insert(&d, "reconnects", "u", v->reconnects);
  g_variant_dict_insert(&d, "attempts", "u", view_failed_attempts(v));
  g_variant_dict_insert(&d, "last-error", "s", view_last_error(v));
  g_variant_dict_insert(&d, "next-attempt", "t",
                        v->connector != NULL ? (guint64)MAX(v->connector->next_attempt_rt, 0) : 0);
  if (parent)
    g_variant_dict_insert(&d, "preference", "u", v->preference);
  g_variant_dict_insert(&d, "connect", "b", v->connect);
  return g_variant_dict_end(&d);
}

static void
add_dicts(TfstEngine *e, GVariantBuilder *b, TfstHopDirection dir)
{
  g_autoptr(GArray) views = collect(e, dir, TRUE);

  for (guint i = 0; i < views->len; i++)
    g_variant_builder_add_value(b, view_dict(e, &g_array_index(views, TfstHopView, i), dir));
}

GVariant *
tfst_inspect_hops_dicts(TfstEngine *e)
{
  GVariantBuilder b;

  g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
  if (e->config->role != TFST_ROLE_EPPROXY)
    add_dicts(e, &b, TFST_HOP_TO_PARENT);
  if (e->config->role != TFST_ROLE_GWPROXY)
    add_dicts(e, &b, TFST_HOP_TO_CHILD);
  return g_variant_builder_end(&b);
}
