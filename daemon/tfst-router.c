/* What the chain knows: labels above (from the parent's TELL_OK) and below
 * (from each child's TELL), the networks and forwards gateway proxies
 * announce, and endpoint addresses learned from upcalls.  Decides where a
 * downcall goes. */
#include "tfst-engine-private.h"

#include <string.h>

#define TFST_LEARNED_MAX 65536

static void
chain_add(GArray *items, int depth, const char *label)
{
  TfstChainItem it = {depth, label};

  g_array_append_val(items, it);
}

static gint
chain_item_cmp(gconstpointer a, gconstpointer b)
{
  const TfstChainItem *x = a, *y = b;

  if (x->depth != y->depth)
    return x->depth < y->depth ? -1 : 1;
  return strcmp(x->label, y->label);
}

/* Every label known through WHO/TELL with its depth relative to us (the
 * parents negative), sorted by depth then label.  The labels point into
 * engine state: use the array before the loop runs again. */
GArray *
tfst_router_chain(TfstEngine *e)
{
  GArray *items = g_array_new(FALSE, TRUE, sizeof(TfstChainItem));

  for (guint i = 0; i < e->above->len; i++) {
    const TfstChainEntry *c = &g_array_index(e->above, TfstChainEntry, i);
    chain_add(items, -(int)c->depth - 1, c->label);
  }
  chain_add(items, 0, e->config->label);
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction != TFST_HOP_TO_CHILD || !hop->up)
      continue;
    for (guint i = 0; i < hop->tell.chain->len; i++) {
      const TfstChainEntry *c = &g_array_index(hop->tell.chain, TfstChainEntry, i);
      chain_add(items, c->depth + 1, c->label);
    }
  }
  g_array_sort(items, chain_item_cmp);
  return items;
}

static void
router_log_chain(TfstEngine *e)
{
  g_autoptr(GString) text = g_string_new(NULL);
  g_autoptr(GArray) items = tfst_router_chain(e);

  for (guint i = 0; i < items->len; i++) {
    const TfstChainItem *it = &g_array_index(items, TfstChainItem, i);
    g_string_append_printf(text, "%s%s@%d", i ? " " : "", it->label, it->depth);
  }
  if (g_strcmp0(text->str, e->chain_text) == 0)
    return;
  g_free(e->chain_text);
  e->chain_text = g_strdup(text->str);
  tfst_log(e->log, LOG_NOTICE, "routingManager: chain known: %s", text->str);
  tfst_engine_notify_changed(e);
}

/* Sessions can be carried up only when the chain above reaches an endpoint
 * proxy: a parent hop that is up is not enough when the parent's own parent
 * is still missing. */
static void
router_update_accepting(TfstEngine *e)
{
  tfst_engine_forwards_accepting(e, e->parent != NULL && e->parent_rooted);
}

static void
add_own_announcements(TfstEngine *e, TfstTellMsg *m)
{
  const TfstConfig *c = e->config;

  for (guint i = 0; i < c->networks->len; i++) {
    TfstNetworkEntry n = g_array_index(c->networks, TfstNetworkEntry, i);
    g_strlcpy(n.owner, c->label, sizeof(n.owner));
    g_array_append_val(m->networks, n);
  }
  for (guint i = 0; i < c->forwards->len; i++) {
    const TfstForwardConf *f = g_ptr_array_index(c->forwards, i);
    TfstForwardEntry fe = {0};
    if (f->target_kind == TFST_TARGET_NONE)
      continue;
    g_strlcpy(fe.owner, c->label, sizeof(fe.owner));
    g_strlcpy(fe.name, f->name, sizeof(fe.name));
    g_array_append_val(m->forwards, fe);
  }
}

static void
send_tell_msg(TfstHop *hop, guint8 type, const TfstTellMsg *m)
{
  g_autoptr(GByteArray) frame = tfst_frame_encode_tell(type, m);

  if (frame == NULL) {
    tfst_log(hop->engine->log, LOG_ERR, "chain description too large for one %s frame",
             tfst_frame_type_name(type));
    return;
  }
  tfst_hop_send(hop, frame->data, frame->len);
}

/* Starts a TELL/TELL_OK describing ourselves at depth 0. */
static void
tell_msg_start(TfstEngine *e, TfstTellMsg *m)
{
  TfstChainEntry self = {0};

  tfst_tell_msg_init(m);
  g_strlcpy(m->label, e->config->label, sizeof(m->label));
  g_strlcpy(self.label, e->config->label, sizeof(self.label));
  g_array_append_val(m->chain, self);
}

/* Entries one hop further away from the receiver than from us. */
static void
append_one_further(GArray *dst, GArray *src)
{
  for (guint i = 0; i < src->len; i++) {
    TfstChainEntry c = g_array_index(src, TfstChainEntry, i);
    c.depth = MIN(c.depth + 1, 255);
    g_array_append_val(dst, c);
  }
}

/* Child → parent: ourselves and everything below us. */
void
tfst_router_send_tell(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstTellMsg m;

  tell_msg_start(e, &m);
  add_own_announcements(e, &m);
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *child = l->data;
    if (child->direction != TFST_HOP_TO_CHILD || !child->up)
      continue;
    append_one_further(m.chain, child->tell.chain);
    g_array_append_vals(m.networks, child->tell.networks->data, child->tell.networks->len);
    g_array_append_vals(m.forwards, child->tell.forwards->data, child->tell.forwards->len);
  }
  send_tell_msg(hop, TFST_FRAME_TELL, &m);
  tfst_tell_msg_clear(&m);
}

/* Parent → child: ourselves and everything above us. */
static void
router_send_tell_ok(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstTellMsg m;

  tell_msg_start(e, &m);
  m.rooted = e->config->role == TFST_ROLE_EPPROXY || (e->parent != NULL && e->parent_rooted);
  append_one_further(m.chain, e->above);
  send_tell_msg(hop, TFST_FRAME_TELL_OK, &m);
  tfst_tell_msg_clear(&m);
}

static void
tell_children(TfstEngine *e)
{
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction == TFST_HOP_TO_CHILD && hop->up)
      router_send_tell_ok(hop);
  }
}

/* Every parent hop we already described ourselves on hears of the change,
 * including one still waiting for TELL_OK: its first TELL is out of date. */
static void
tell_parent(TfstEngine *e)
{
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction == TFST_HOP_TO_PARENT && hop->told && !hop->closing)
      tfst_router_send_tell(hop);
  }
}

void
tfst_router_on_tell(TfstHop *hop, const guint8 *p, guint32 len)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_HANDSHAKE, .peer_label = hop->peer_label};
  int r = tfst_frame_decode_tell(p, len, &hop->tell);

  if (r < 0) {
    tfst_hop_protocol_error(hop, "bad TELL: %s", tfst_frame_strerror(r));
    return;
  }
  if (strcmp(hop->tell.label, hop->peer_label) != 0) {
    tfst_hop_protocol_error(hop, "TELL from %s on the hop of %s", hop->tell.label, hop->peer_label);
    return;
  }
  tfst_log_full(e->log, LOG_NOTICE, &f, "routingManager: TELL command received [l=%s]",
                hop->peer_label);
  router_send_tell_ok(hop);
  /* Our subtree changed: the parent must learn it too. */
  tell_parent(e);
  router_log_chain(e);
}

void
tfst_router_on_tell_ok(TfstHop *hop, const guint8 *p, guint32 len)
{
  TfstEngine *e = hop->engine;
  TfstTellMsg m;
  int r;

  tfst_tell_msg_init(&m);
  r = tfst_frame_decode_tell(p, len, &m);
  if (r < 0 || strcmp(m.label, hop->peer_label) != 0) {
    tfst_tell_msg_clear(&m);
    if (r < 0)
      tfst_hop_protocol_error(hop, "bad TELL_OK: %s", tfst_frame_strerror(r));
    else
      tfst_hop_protocol_error(hop, "TELL_OK from %s on the hop of %s", m.label, hop->peer_label);
    return;
  }
  g_array_set_size(e->above, 0);
  g_array_append_vals(e->above, m.chain->data, m.chain->len);
  e->parent_rooted = m.rooted;
  tfst_tell_msg_clear(&m);
  tell_children(e);
  router_update_accepting(e);
  router_log_chain(e);
}

/* A child that connects again while we still hold its old hop (one a
 * firewall forgot without telling us) replaces it, or downcalls would keep
 * being routed into the dead connection. */
static TfstHop *
stale_child_hop(TfstEngine *e, const TfstHop *hop)
{
  if (hop->connector != NULL)
    return NULL;
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *other = l->data;
    if (other != hop && other->connector == NULL && other->direction == TFST_HOP_TO_CHILD &&
        other->up && strcmp(other->peer_label, hop->peer_label) == 0)
      return other;
  }
  return NULL;
}

void
tfst_router_hop_up(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_HANDSHAKE, .peer_label = hop->peer_label};

  if (hop->direction == TFST_HOP_TO_PARENT) {
    TfstHop *old = e->parent;

    /* A parent hop that replaced another one (Listen= side) wins.  It is
     * the parent before the old one goes, or the old hop's teardown would
     * forget the chain and rootedness the new one has just told us. */
    e->parent = hop;
    if (old != NULL && old != hop)
      tfst_hop_close(old, ECONNRESET, "replaced by a new parent hop");
    router_update_accepting(e);
    /* Children learn whether the chain is now rooted. */
    tell_children(e);
  } else {
    TfstHop *old;
    while ((old = stale_child_hop(e, hop)) != NULL)
      tfst_hop_close(old, ECONNRESET, "replaced by a new hop from the same child");
  }
  tfst_log_full(e->log, LOG_NOTICE, &f, "hop to %s %s (%s) is up",
                hop->direction == TFST_HOP_TO_PARENT ? "parent" : "child", hop->peer_label,
                hop->peer_desc);
}

void
tfst_router_hop_down(TfstHop *hop)
{
  TfstEngine *e = hop->engine;

  if (hop->direction == TFST_HOP_TO_PARENT) {
    if (e->parent == hop) {
      e->parent = NULL;
      g_array_set_size(e->above, 0);
      e->parent_rooted = FALSE;
      tell_children(e);
      router_update_accepting(e);
    }
  } else {
    tell_parent(e);
  }
  router_log_chain(e);
}

TfstHop *
tfst_router_child_for(TfstEngine *e, const char *label)
{
  if (label == NULL || label[0] == '\0')
    return NULL;
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction != TFST_HOP_TO_CHILD || !hop->up)
      continue;
    for (guint i = 0; i < hop->tell.chain->len; i++)
      if (strcmp(g_array_index(hop->tell.chain, TfstChainEntry, i).label, label) == 0)
        return hop;
  }
  return NULL;
}

static char *
ip_key(const TfstSockAddr *a)
{
  char buf[INET6_ADDRSTRLEN];

  return g_strdup(tfst_addr_format_ip(a, buf));
}

void
tfst_router_learn(TfstEngine *e, const TfstSockAddr *client, const char *label)
{
  g_autofree char *key = NULL;

  if (client->sa.sa_family == 0 || label[0] == '\0')
    return;
  /* Bounded: a flood of upcalls from random sources must not grow us. */
  if (g_hash_table_size(e->learned) >= TFST_LEARNED_MAX)
    g_hash_table_remove_all(e->learned);
  key = ip_key(client);
  g_hash_table_replace(e->learned, g_steal_pointer(&key), g_strdup(label));
}

static const char *
route_by_network(TfstEngine *e, const TfstSockAddr *dest)
{
  const char *best = NULL;
  int best_prefix = -1;

  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction != TFST_HOP_TO_CHILD || !hop->up)
      continue;
    for (guint i = 0; i < hop->tell.networks->len; i++) {
      const TfstNetworkEntry *n = &g_array_index(hop->tell.networks, TfstNetworkEntry, i);
      if (n->prefix > best_prefix && tfst_addr_in_network(dest, n->family, n->addr, n->prefix)) {
        best = n->owner;
        best_prefix = n->prefix;
      }
    }
  }
  return best;
}

static const char *
route_by_forward_owner(TfstEngine *e, const char *name)
{
  const char *owner = NULL;

  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction != TFST_HOP_TO_CHILD || !hop->up)
      continue;
    for (guint i = 0; i < hop->tell.forwards->len; i++) {
      const TfstForwardEntry *f = &g_array_index(hop->tell.forwards, TfstForwardEntry, i);
      if (strcmp(f->name, name) != 0)
        continue;
      if (owner != NULL && strcmp(owner, f->owner) != 0)
        return NULL; /* served by several: ambiguous without more to go on */
      owner = f->owner;
    }
  }
  return owner;
}

/* Which gateway proxy a downcall goes to: Route=, then the one gateway proxy
 * serving the forward, then the endpoint address as learned from upcalls,
 * then announced networks. */
const char *
tfst_router_downcall_route(TfstEngine *e, const TfstForwardConf *f, const TfstSockAddr *dest)
{
  const char *label;

  if (f->route != NULL)
    return f->route;
  if ((label = route_by_forward_owner(e, f->name)) != NULL)
    return label;
  if (dest->sa.sa_family != 0) {
    g_autofree char *key = ip_key(dest);
    if ((label = g_hash_table_lookup(e->learned, key)) != NULL)
      return label;
    if ((label = route_by_network(e, dest)) != NULL)
      return label;
  }
  return NULL;
}

void
tfst_router_announce(TfstEngine *e)
{
  tell_parent(e);
}
