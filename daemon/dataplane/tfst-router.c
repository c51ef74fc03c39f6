/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the chain knows: labels above (from the parent's TELL_OK) and below
 * (from each child's TELL), the networks and forwards gateway proxies
 * announce, and endpoint addresses learned from upcalls.  Decides where a
 * downcall goes. */
#include "tfst-engine-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define TFST_LEARNED_MAX 65536
/* TELL up and the "chain known" line go out at most once per interval, so
 * a child that sends TELL after TELL costs one re-announcement, not one
 * per frame. */
#define TFST_ANNOUNCE_INTERVAL_US G_USEC_PER_SEC
/* New children announced at once, per second; beyond, coalesced. */
#define TFST_ANNOUNCE_NOW_BURST 20

/* A label reached by several paths is listed once, at its nearest depth. */
static void
chain_add(GArray *items, GHashTable *seen, int depth, const char *label)
{
  TfstChainItem it = {depth, label};
  gpointer at = g_hash_table_lookup(seen, label);

  if (at != NULL) {
    TfstChainItem *old = &g_array_index(items, TfstChainItem, GPOINTER_TO_UINT(at) - 1);
    if (ABS(depth) < ABS(old->depth))
      old->depth = depth;
    return;
  }
  g_array_append_val(items, it);
  g_hash_table_insert(seen, (gpointer)label, GUINT_TO_POINTER(items->len));
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
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

  chain_add(items, seen, 0, e->config->label);
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    gboolean up = hop->direction == TFST_HOP_TO_PARENT;
    const GArray *chain = up ? hop->above.chain : hop->tell.chain;
    if (!hop->up)
      continue;
    for (guint i = 0; i < chain->len; i++) {
      const TfstChainEntry *c = &g_array_index(chain, TfstChainEntry, i);
      chain_add(items, seen, up ? -(int)c->depth - 1 : c->depth + 1, c->label);
    }
  }
  g_array_sort(items, chain_item_cmp);
  return items;
}

static void
link_add(GArray *links, GHashTable *seen, const char *upper, const char *lower)
{
  TfstLinkEntry l = {0};
  g_autofree char *key = g_strconcat(upper, "/", lower, NULL);

  if (g_hash_table_contains(seen, key))
    return;
  g_strlcpy(l.upper, upper, sizeof(l.upper));
  g_strlcpy(l.lower, lower, sizeof(l.lower));
  g_array_append_val(links, l);
  g_hash_table_add(seen, g_steal_pointer(&key));
}

static void
links_add_all(GArray *links, GHashTable *seen, const GArray *from)
{
  for (guint i = 0; i < from->len; i++) {
    const TfstLinkEntry *l = &g_array_index(from, TfstLinkEntry, i);
    link_add(links, seen, l->upper, l->lower);
  }
}

static gint
link_cmp(gconstpointer a, gconstpointer b)
{
  const TfstLinkEntry *x = a, *y = b;
  int c = strcmp(x->upper, y->upper);

  return c != 0 ? c : strcmp(x->lower, y->lower);
}

/* The graph: our own hops, the links above from every parent's TELL_OK
 * and below from every child's TELL. */
GArray *
tfst_router_links(TfstEngine *e)
{
  GArray *links = g_array_new(FALSE, TRUE, sizeof(TfstLinkEntry));
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  const char *self = e->config->label;

  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    gboolean up = hop->direction == TFST_HOP_TO_PARENT;
    if (!hop->up)
      continue;
    link_add(links, seen, up ? hop->peer_label : self, up ? self : hop->peer_label);
    links_add_all(links, seen, up ? hop->above.links : hop->tell.links);
  }
  g_array_sort(links, link_cmp);
  return links;
}

static void
router_log_chain(TfstEngine *e)
{
  g_autoptr(GString) text = g_string_new(NULL);
  g_autoptr(GArray) items = tfst_router_chain(e);

  e->log_chain_due = FALSE;

  for (guint i = 0; i < items->len; i++) {
    const TfstChainItem *it = &g_array_index(items, TfstChainItem, i);
    g_string_append_printf(text, "%s%s@%d", i ? " " : "", it->label, it->depth);
  }
  if (g_strcmp0(text->str, e->chain_text) == 0)
    return;
  g_free(e->chain_text);
  e->chain_text = g_strdup(text->str);
  tfst_log(e->log, LOG_NOTICE, "routingManager: chain known: %s", text->str);
  tfst_notify_changed(e);
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

/* Our hop to the child, then the links it announced. */
static void
append_child_links(TfstEngine *e, TfstTellMsg *m, const TfstHop *child)
{
  TfstLinkEntry own = {0};

  g_strlcpy(own.upper, e->config->label, sizeof(own.upper));
  g_strlcpy(own.lower, child->peer_label, sizeof(own.lower));
  g_array_append_val(m->links, own);
  g_array_append_vals(m->links, child->tell.links->data, child->tell.links->len);
}

typedef struct {
  TfstHop *hop;
  gsize size;
} ChildSize;

static gint
child_size_cmp(gconstpointer a, gconstpointer b)
{
  const ChildSize *x = a, *y = b;

  return x->size < y->size ? -1 : x->size > y->size;
}

/* The child hops that are up, smallest announcement first. */
static GArray *
children_by_size(TfstEngine *e)
{
  GArray *kids = g_array_new(FALSE, FALSE, sizeof(ChildSize));

  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *child = l->data;
    ChildSize cs = {child, 0};
    if (child->direction != TFST_HOP_TO_CHILD || !child->up)
      continue;
    cs.size = tfst_tell_msg_size(&child->tell) + 3 + 1 + 2 * TFST_LABEL_MAX;
    g_array_append_val(kids, cs);
  }
  g_array_sort(kids, child_size_cmp);
  return kids;
}

static void
log_left_out(TfstEngine *e, const TfstHop *child)
{
  TfstLogFields f = {.message_id = TFST_MSGID_PROTOCOL, .peer_label = child->peer_label};

  tfst_log_limited(e->log, &e->rl_tell_limit, LOG_WARNING, &f,
                   "subtree of child %s (%s, %u entries) left out of the TELL to the parent: "
                   "it does not fit in one frame with the others",
                   child->peer_label, child->peer_desc, tfst_tell_msg_entries(&child->tell));
}

/* Appends the children's subtrees, smallest first, while they fit in
 * `room` payload bytes; the ones that do not are left out whole. */
static void
append_children(TfstEngine *e, TfstTellMsg *m, gsize room)
{
  g_autoptr(GArray) kids = children_by_size(e);

  for (guint i = 0; i < kids->len; i++) {
    const ChildSize *cs = &g_array_index(kids, ChildSize, i);
    const TfstTellMsg *t = &cs->hop->tell;
    if (cs->size > room) {
      log_left_out(e, cs->hop);
      continue;
    }
    room -= cs->size;
    append_one_further(m->chain, t->chain);
    append_child_links(e, m, cs->hop);
    g_array_append_vals(m->networks, t->networks->data, t->networks->len);
    g_array_append_vals(m->forwards, t->forwards->data, t->forwards->len);
  }
}

/* Child → parent: ourselves and everything below us.  When the subtrees
 * together would not fit in one frame, the largest ones are left out, so
 * one child's oversized subtree never hides everyone else's. */
void
tfst_router_send_tell(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstTellMsg m;
  gsize used;

  tell_msg_start(e, &m);
  add_own_announcements(e, &m);
  used = 3 + TFST_LABEL_MAX + tfst_tell_msg_size(&m); /* LABEL and our own entries */
  append_children(e, &m, TFST_FRAME_MAX_PAYLOAD - MIN(TFST_FRAME_MAX_PAYLOAD, used));
  send_tell_msg(hop, TFST_FRAME_TELL, &m);
  tfst_tell_msg_clear(&m);
}

static void
forward_add(GArray *fw, GHashTable *seen, const TfstForwardEntry *f)
{
  if (g_hash_table_contains(seen, f->name))
    return;
  g_hash_table_add(seen, (gpointer)f->name);
  g_array_append_val(fw, *f);
}

/* What every parent hop that is up knows above it: labels once each at
 * their nearest depth (one further from the child), the links, and the
 * forwards their endpoint proxies serve. */
static void
append_above(TfstEngine *e, TfstTellMsg *m)
{
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GHashTable) links = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) fw = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GArray) items = g_array_new(FALSE, TRUE, sizeof(TfstChainItem));

  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction != TFST_HOP_TO_PARENT || !hop->up || hop->closing)
      continue;
    for (guint i = 0; i < hop->above.chain->len; i++) {
      const TfstChainEntry *c = &g_array_index(hop->above.chain, TfstChainEntry, i);
      chain_add(items, seen, c->depth + 1, c->label);
    }
    link_add(m->links, links, hop->peer_label, e->config->label);
    links_add_all(m->links, links, hop->above.links);
    for (guint i = 0; i < hop->above.forwards->len; i++)
      forward_add(m->forwards, fw, &g_array_index(hop->above.forwards, TfstForwardEntry, i));
  }
  for (guint i = 0; i < items->len; i++) {
    const TfstChainItem *it = &g_array_index(items, TfstChainItem, i);
    TfstChainEntry c = {.depth = MIN(it->depth, 255)};
    g_strlcpy(c.label, it->label, sizeof(c.label));
    g_array_append_val(m->chain, c);
  }
}

/* Parent → child: ourselves and everything above us.  An endpoint proxy
 * names the forwards it serves, so a child with several parents sends
 * each session up a path that can take it. */
static void
router_send_tell_ok(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstTellMsg m;

  tell_msg_start(e, &m);
  if (e->config->role == TFST_ROLE_EPPROXY) {
    m.rooted = TRUE;
    add_own_announcements(e, &m);
    g_array_set_size(m.networks, 0);
  } else {
    m.rooted = tfst_parents_rooted(e);
    append_above(e, &m);
  }
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
  e->tell_parent_due = FALSE;
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction == TFST_HOP_TO_PARENT && hop->told && !hop->closing)
      tfst_router_send_tell(hop);
  }
}

/* ---- coalescing: at most one TELL up and one chain line per interval ---- */

static void announce_kick(TfstEngine *e);

static int
announce_timer_cb(sd_event_source *s G_GNUC_UNUSED, guint64 usec G_GNUC_UNUSED, void *userdata)
{
  announce_kick(userdata);
  return 0;
}

static void
announce_arm(TfstEngine *e, gint64 at_us)
{
  if (e->announce_timer == NULL && sd_event_add_time(e->event, &e->announce_timer, CLOCK_MONOTONIC,
                                                     at_us, 0, announce_timer_cb, e) < 0) {
    e->announce_timer = NULL;
    return; /* no timer (ENOMEM): the next change or TELL flushes it */
  }
  (void)sd_event_source_set_time(e->announce_timer, at_us);
  (void)sd_event_source_set_enabled(e->announce_timer, SD_EVENT_ONESHOT);
}

static void recheck_claims(TfstEngine *e);

/* Everything due, with the state of now. */
static void
announce_flush(TfstEngine *e)
{
  e->announced_us = g_get_monotonic_time();
  if (e->recheck_due)
    recheck_claims(e);
  if (e->tell_parent_due)
    tell_parent(e);
  if (e->log_chain_due)
    router_log_chain(e);
}

/* At most one flush per interval; an isolated change still goes out at
 * once. */
static void
announce_kick(TfstEngine *e)
{
  gint64 next = e->announced_us + TFST_ANNOUNCE_INTERVAL_US;

  if (!e->recheck_due && !e->tell_parent_due && !e->log_chain_due)
    return;
  if (g_get_monotonic_time() >= next)
    announce_flush(e);
  else
    announce_arm(e, next);
}

static void
schedule_announce(TfstEngine *e, gboolean tell_up)
{
  e->tell_parent_due |= tell_up;
  e->log_chain_due = TRUE;
  announce_kick(e);
}

void
tfst_router_init(TfstEngine *e)
{
  const TfstRatelimit rl = TFST_RATELIMIT_INIT(TFST_LOG_PEER_INTERVAL_US, TFST_LOG_PEER_BURST);

  e->rl_claim = rl;
  e->rl_tell_limit = rl;
  e->rl_tell_rx = rl;
  e->rl_announce_now = (TfstRatelimit)TFST_RATELIMIT_INIT(G_USEC_PER_SEC, TFST_ANNOUNCE_NOW_BURST);
}

void
tfst_router_free(TfstEngine *e)
{
  e->announce_timer = sd_event_source_disable_unref(e->announce_timer);
}

/* ---- what a child may claim ---- */

/* A rule list of AllowLabels=, AllowNetworks= or AllowForwards=: unset
 * (NULL) allows everything; set, an item passes when a rule naming this
 * child matches it. */
typedef gboolean (*RuleMatch)(const TfstAllowRule *r, gconstpointer item);

static gboolean
rules_allow(const GPtrArray *rules, const char *child, RuleMatch match, gconstpointer item)
{
  if (rules == NULL)
    return TRUE;
  for (guint i = 0; i < rules->len; i++) {
    const TfstAllowRule *r = g_ptr_array_index(rules, i);
    if (g_pattern_match_simple(r->child, child) && match(r, item))
      return TRUE;
  }
  return FALSE;
}

static gboolean
glob_match(const TfstAllowRule *r, gconstpointer item)
{
  for (guint j = 0; r->globs[j] != NULL; j++)
    if (g_pattern_match_simple(r->globs[j], item))
      return TRUE;
  return FALSE;
}

static gboolean
allow_glob(const GPtrArray *rules, const char *child, const char *item)
{
  return rules_allow(rules, child, glob_match, item);
}

static void
network_sockaddr(const TfstNetworkEntry *n, TfstSockAddr *out)
{
  memset(out, 0, sizeof(*out));
  out->sa.sa_family = n->family;
  if (n->family == AF_INET)
    memcpy(&out->in.sin_addr, n->addr, 4);
  else
    memcpy(&out->in6.sin6_addr, n->addr, 16);
}

/* n lies inside (or is) the network `outer`. */
static gboolean
network_inside(const TfstNetworkEntry *n, const TfstNetworkEntry *outer)
{
  TfstSockAddr a;

  network_sockaddr(n, &a);
  return n->prefix >= outer->prefix &&
         tfst_addr_in_network(&a, outer->family, outer->addr, outer->prefix);
}

static gboolean
address_match(const TfstAllowRule *r, gconstpointer item)
{
  for (guint j = 0; j < r->networks->len; j++) {
    const TfstNetworkEntry *n = &g_array_index(r->networks, TfstNetworkEntry, j);
    if (tfst_addr_in_network(item, n->family, n->addr, n->prefix))
      return TRUE;
  }
  return FALSE;
}

static gboolean
allow_address(const GPtrArray *rules, const char *child, const TfstSockAddr *a)
{
  return rules_allow(rules, child, address_match, a);
}

static gboolean
network_match(const TfstAllowRule *r, gconstpointer item)
{
  for (guint j = 0; j < r->networks->len; j++)
    if (network_inside(item, &g_array_index(r->networks, TfstNetworkEntry, j)))
      return TRUE;
  return FALSE;
}

static gboolean
allow_network(const GPtrArray *rules, const char *child, const TfstNetworkEntry *n)
{
  return rules_allow(rules, child, network_match, n);
}

/* Entries of one TELL that were refused: how many, and the first one for
 * the log line. */
typedef struct {
  guint count;
  char first[3 * TFST_LABEL_MAX];
} Refused;

static void
refuse(Refused *r, const char *what, const char *item, const char *why)
{
  if (r->count++ == 0)
    g_snprintf(r->first, sizeof(r->first), "%s %s (%s)", what, item, why);
}

static gboolean
chain_has(const GArray *chain, const char *label)
{
  for (guint i = 0; i < chain->len; i++)
    if (strcmp(g_array_index(chain, TfstChainEntry, i).label, label) == 0)
      return TRUE;
  return FALSE;
}

/* This instance, or a label above it through any parent hop. */
static gboolean
label_is_above(TfstEngine *e, const char *label)
{
  if (strcmp(label, e->config->label) == 0)
    return TRUE;
  for (guint i = 0; i < e->parent_hops->len; i++) {
    TfstHop *hop = g_ptr_array_index(e->parent_hops, i);
    if (chain_has(hop->above.chain, label))
      return TRUE;
  }
  return FALSE;
}

/* The child hop, other than `hop`, whose peer is `label` itself. */
static TfstHop *
direct_child(TfstEngine *e, const TfstHop *hop, const char *label)
{
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *other = l->data;
    if (other != hop && other->direction == TFST_HOP_TO_CHILD && other->up &&
        strcmp(other->peer_label, label) == 0)
      return other;
  }
  return NULL;
}

static gboolean
in_subtree(const TfstHop *hop, const char *label)
{
  return chain_has(hop->tell.chain, label);
}

#define TAKEN_ABOVE "this instance or one above it"
#define TAKEN_CHILD "a direct child of this instance on another hop"
#define TAKEN_TWICE "twice in the same TELL"

/* Labels that may not appear below `hop`, with why: ours and those above
 * us (a loop), and the direct children on other hops (first one wins: a
 * newcomer cannot capture a child that is up).  A label deeper below
 * another child may come through this one too: that is a redundant path,
 * and downcalls keep taking the nearest, oldest one.  Borrowed keys. */
static GHashTable *
labels_taken(TfstEngine *e, const TfstHop *hop)
{
  GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);

  g_hash_table_insert(t, e->config->label, TAKEN_ABOVE);
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *other = l->data;
    if (other == hop || !other->up)
      continue;
    if (other->direction == TFST_HOP_TO_CHILD) {
      g_hash_table_insert(t, other->peer_label, TAKEN_CHILD);
      continue;
    }
    for (guint i = 0; i < other->above.chain->len; i++)
      g_hash_table_insert(t, g_array_index(other->above.chain, TfstChainEntry, i).label,
                          TAKEN_ABOVE);
  }
  return t;
}

/* The same as labels_taken() for one label, without building the set:
 * cheaper for a TELL of a few entries.  Entries accepted so far from this
 * TELL are already in hop->tell. */
static const char *
label_taken(TfstHop *hop, const char *label)
{
  if (label_is_above(hop->engine, label))
    return TAKEN_ABOVE;
  if (in_subtree(hop, label))
    return TAKEN_TWICE;
  return direct_child(hop->engine, hop, label) != NULL ? TAKEN_CHILD : NULL;
}

static const char *
chain_entry_refusal(TfstHop *hop, GHashTable *taken, const TfstChainEntry *c)
{
  const char *why;

  if (c->depth == 0)
    return "depth 0 is the child itself";
  why = taken != NULL ? g_hash_table_lookup(taken, c->label) : label_taken(hop, c->label);
  if (why != NULL)
    return why;
  if (!allow_glob(hop->engine->config->trust.labels, hop->peer_label, c->label))
    return "not in AllowLabels=";
  return NULL;
}

/* Below this many entries a TELL is checked label by label; above, against
 * a set of every taken label built once. */
#define TELL_SMALL 16

static void
accept_chain(TfstHop *hop, const TfstTellMsg *m, Refused *ref)
{
  g_autoptr(GHashTable) taken = NULL;

  if (m->chain->len > TELL_SMALL) {
    taken = labels_taken(hop->engine, hop);
    g_hash_table_insert(taken, hop->peer_label, TAKEN_TWICE);
  }
  for (guint i = 0; i < m->chain->len; i++) {
    const TfstChainEntry *c = &g_array_index(m->chain, TfstChainEntry, i);
    const char *why;
    if (c->depth == 0 && strcmp(c->label, hop->peer_label) == 0)
      continue; /* the child itself, already there */
    if ((why = chain_entry_refusal(hop, taken, c)) != NULL) {
      refuse(ref, "label", c->label, why);
      continue;
    }
    g_array_append_val(hop->tell.chain, *c);
    if (taken != NULL)
      g_hash_table_insert(taken, (gpointer)c->label, TAKEN_TWICE);
  }
}

/* A more specific network than another child's would steal its routes. */
static gboolean
network_taken(TfstEngine *e, const TfstHop *hop, const TfstNetworkEntry *n)
{
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *other = l->data;
    if (other == hop || other->direction != TFST_HOP_TO_CHILD || !other->up)
      continue;
    for (guint i = 0; i < other->tell.networks->len; i++) {
      const TfstNetworkEntry *o = &g_array_index(other->tell.networks, TfstNetworkEntry, i);
      /* The same gateway proxy's network through a second path. */
      if (strcmp(o->owner, n->owner) != 0 && network_inside(n, o))
        return TRUE;
    }
  }
  return FALSE;
}

static const char *
network_refusal(TfstHop *hop, const TfstNetworkEntry *n)
{
  if (!in_subtree(hop, n->owner))
    return "owner not in the child's subtree";
  if (!allow_network(hop->engine->config->trust.networks, hop->peer_label, n))
    return "not in AllowNetworks=";
  if (network_taken(hop->engine, hop, n))
    return "inside a network another child announced";
  return NULL;
}

static void
accept_networks(TfstHop *hop, const TfstTellMsg *m, Refused *ref)
{
  for (guint i = 0; i < m->networks->len; i++) {
    const TfstNetworkEntry *n = &g_array_index(m->networks, TfstNetworkEntry, i);
    const char *why = network_refusal(hop, n);
    char buf[INET6_ADDRSTRLEN + 8];
    if (why == NULL) {
      g_array_append_val(hop->tell.networks, *n);
      continue;
    }
    inet_ntop(n->family, n->addr, buf, INET6_ADDRSTRLEN);
    g_snprintf(buf + strlen(buf), 8, "/%u", n->prefix);
    refuse(ref, "network", buf, why);
  }
}

/* A link must join two labels of the child's accepted subtree. */
static void
accept_links(TfstHop *hop, const TfstTellMsg *m, Refused *ref)
{
  for (guint i = 0; i < m->links->len; i++) {
    const TfstLinkEntry *k = &g_array_index(m->links, TfstLinkEntry, i);
    if (!in_subtree(hop, k->upper) || !in_subtree(hop, k->lower))
      refuse(ref, "link to", k->lower, "not in the child's subtree");
    else
      g_array_append_val(hop->tell.links, *k);
  }
}

static void
accept_forwards(TfstHop *hop, const TfstTellMsg *m, Refused *ref)
{
  const GPtrArray *rules = hop->engine->config->trust.forwards;

  for (guint i = 0; i < m->forwards->len; i++) {
    const TfstForwardEntry *f = &g_array_index(m->forwards, TfstForwardEntry, i);
    if (!in_subtree(hop, f->owner))
      refuse(ref, "forward", f->name, "owner not in the child's subtree");
    else if (!allow_glob(rules, hop->peer_label, f->name))
      refuse(ref, "forward", f->name, "not in AllowForwards=");
    else
      g_array_append_val(hop->tell.forwards, *f);
  }
}

/* What the hop keeps of any TELL: the child itself at depth 0. */
static void
tell_reset(TfstHop *hop)
{
  TfstChainEntry self = {0};

  g_strlcpy(hop->tell.label, hop->peer_label, sizeof(hop->tell.label));
  g_strlcpy(self.label, hop->peer_label, sizeof(self.label));
  g_array_set_size(hop->tell.chain, 0);
  g_array_set_size(hop->tell.links, 0);
  g_array_set_size(hop->tell.networks, 0);
  g_array_set_size(hop->tell.forwards, 0);
  g_array_append_val(hop->tell.chain, self);
}

static void
log_refused(TfstHop *hop, const Refused *ref, guint total)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_PROTOCOL, .peer_label = hop->peer_label};

  tfst_log_limited(e->log, &e->rl_claim, LOG_WARNING, &f,
                   "refused %u of %u entries announced by child %s (%s): first %s", ref->count,
                   total, hop->peer_label, hop->peer_desc, ref->first);
}

static void
log_over_limit(TfstHop *hop, guint total)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_PROTOCOL, .peer_label = hop->peer_label};

  tfst_log_limited(e->log, &e->rl_tell_limit, LOG_WARNING, &f,
                   "TELL from child %s (%s) has %u entries, more than MaxTellEntries=%u: only "
                   "the labels nearest to it are kept",
                   hop->peer_label, hop->peer_desc, total, e->config->trust.max_tell_entries);
}

static gint
depth_cmp(gconstpointer a, gconstpointer b)
{
  const TfstChainEntry *x = a, *y = b;

  return (gint)x->depth - (gint)y->depth;
}

/* label -> how many network and forward entries it owns in m. */
static GHashTable *
owned_entries(const TfstTellMsg *m)
{
  GHashTable *n = g_hash_table_new(g_str_hash, g_str_equal);

  for (guint i = 0; i < m->networks->len; i++) {
    const char *o = g_array_index(m->networks, TfstNetworkEntry, i).owner;
    g_hash_table_insert(n, (gpointer)o,
                        GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(n, o)) + 1));
  }
  for (guint i = 0; i < m->forwards->len; i++) {
    const char *o = g_array_index(m->forwards, TfstForwardEntry, i).owner;
    g_hash_table_insert(n, (gpointer)o,
                        GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(n, o)) + 1));
  }
  return n;
}

/* Keeps the networks (or forwards) whose owner is in `kept`. */
static void
keep_owned(GArray *entries, gsize owner_offset, GHashTable *kept)
{
  guint j = 0;

  for (guint i = 0; i < entries->len; i++) {
    const char *owner =
        (const char *)entries->data + i * g_array_get_element_size(entries) + owner_offset;
    if (!g_hash_table_contains(kept, owner))
      continue;
    if (i != j)
      memcpy(entries->data + j * g_array_get_element_size(entries),
             entries->data + i * g_array_get_element_size(entries),
             g_array_get_element_size(entries));
    j++;
  }
  g_array_set_size(entries, j);
}

/* Links between kept labels, while the budget lasts. */
static void
keep_links(GArray *links, GHashTable *kept, guint room)
{
  guint j = 0;

  for (guint i = 0; i < links->len && j < room; i++) {
    const TfstLinkEntry *k = &g_array_index(links, TfstLinkEntry, i);
    if (g_hash_table_contains(kept, k->upper) && g_hash_table_contains(kept, k->lower))
      g_array_index(links, TfstLinkEntry, j++) = *k;
  }
  g_array_set_size(links, j);
}

/* Cuts m to `max` entries: labels nearest the child first, each with its
 * networks and forwards, so a relay's direct children stay known however
 * large one grandchild's subtree is. */
static void
tell_truncate(TfstTellMsg *m, guint max)
{
  g_autoptr(GArray) chain = g_array_copy(m->chain);
  g_autoptr(GHashTable) owned = owned_entries(m);
  g_autoptr(GHashTable) kept = g_hash_table_new(g_str_hash, g_str_equal);
  guint used = 0;

  g_array_sort(chain, depth_cmp);
  g_array_set_size(m->chain, 0);
  for (guint i = 0; i < chain->len; i++) {
    TfstChainEntry *c = &g_array_index(chain, TfstChainEntry, i);
    guint n = 1 + GPOINTER_TO_UINT(g_hash_table_lookup(owned, c->label));
    if (used + n > max)
      continue;
    used += n;
    g_hash_table_add(kept, c->label);
    g_array_append_val(m->chain, *c);
  }
  keep_owned(m->networks, G_STRUCT_OFFSET(TfstNetworkEntry, owner), kept);
  keep_owned(m->forwards, G_STRUCT_OFFSET(TfstForwardEntry, owner), kept);
  keep_links(m->links, kept, max - used);
}

/* Keeps m in hop->claims when part of it was refused, to check it again
 * once the hop that held a label or network lets go of it. */
static void
keep_claims(TfstHop *hop, TfstTellMsg *m, gboolean refused)
{
  tfst_tell_msg_clear(&hop->claims);
  if (!refused)
    return;
  hop->claims = *m;
  tfst_tell_msg_init(m);
}

/* Takes from m into hop->tell only what the child may claim.  FALSE: the
 * child's own label is not allowed and the hop is closed.  `quiet`: a
 * re-check of claims already logged. */
static gboolean
tell_accept(TfstHop *hop, TfstTellMsg *m, gboolean quiet)
{
  TfstEngine *e = hop->engine;
  guint total = tfst_tell_msg_entries(m);
  Refused ref = {0};

  if (!allow_glob(e->config->trust.labels, hop->peer_label, hop->peer_label)) {
    refuse(&ref, "label", hop->peer_label, "the child's own label is not in AllowLabels=");
    log_refused(hop, &ref, total);
    tfst_hop_close(hop, EACCES, "label not allowed by AllowLabels=");
    return FALSE;
  }
  tell_reset(hop);
  if (total > e->config->trust.max_tell_entries) {
    log_over_limit(hop, total);
    tell_truncate(m, e->config->trust.max_tell_entries);
  }
  accept_chain(hop, m, &ref);
  accept_links(hop, m, &ref);
  accept_networks(hop, m, &ref);
  accept_forwards(hop, m, &ref);
  if (ref.count > 0 && !quiet)
    log_refused(hop, &ref, total);
  keep_claims(hop, m, ref.count > 0);
  return TRUE;
}

/* Children whose claims were refused because another hop held a label or
 * network: they get them once it is released, without a new TELL. */
static void
recheck_claims(TfstEngine *e)
{
  GList *next;

  e->recheck_due = FALSE;
  for (GList *l = e->hops.head; l != NULL; l = next) {
    TfstHop *hop = l->data;
    TfstTellMsg m;
    guint before;
    next = l->next; /* tell_accept() may close the hop */
    if (hop->direction != TFST_HOP_TO_CHILD || !hop->up || hop->claims.chain == NULL)
      continue;
    before = tfst_tell_msg_entries(&hop->tell);
    m = hop->claims;
    memset(&hop->claims, 0, sizeof(hop->claims));
    if (tell_accept(hop, &m, TRUE) && tfst_tell_msg_entries(&hop->tell) != before)
      e->tell_parent_due = e->log_chain_due = TRUE;
    tfst_tell_msg_clear(&m);
  }
}

/* Decodes a TELL into m; FALSE after a protocol error. */
static gboolean
tell_decode(TfstHop *hop, const guint8 *p, guint32 len, TfstTellMsg *m)
{
  int r = tfst_frame_decode_tell(p, len, m);

  if (r < 0)
    tfst_hop_protocol_error(hop, "bad TELL: %s", tfst_frame_strerror(r));
  else if (strcmp(m->label, hop->peer_label) != 0)
    tfst_hop_protocol_error(hop, "TELL from %s on the hop of %s", m->label, hop->peer_label);
  return r == 0 && strcmp(m->label, hop->peer_label) == 0;
}

static void
router_tell_received(TfstHop *hop, const guint8 *p, guint32 len)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_HANDSHAKE, .peer_label = hop->peer_label};
  /* Nothing accepted yet: this TELL completes the handshake. */
  gboolean first = hop->tell.label[0] == '\0';
  TfstTellMsg m;
  gboolean ok;

  tfst_tell_msg_init(&m);
  ok = tell_decode(hop, p, len, &m) && tell_accept(hop, &m, FALSE);
  tfst_tell_msg_clear(&m);
  if (!ok)
    return;
  /* Our subtree changed: the parent must learn it too.  What it no longer
   * claims may now go to a child that was refused it.  A new path to a
   * known label changes no chain line but the graph (ChainLinks). */
  tfst_notify_changed(e);
  e->recheck_due = TRUE;
  e->tell_parent_due = e->log_chain_due = TRUE;
  /* A new child is announced up before it hears TELL_OK, so its first
   * upcalls never overtake the TELL that names it (the parent would refuse
   * their ORIGIN while another path has the label).  Bounded: a burst of
   * new hops falls back to the coalesced announcement. */
  if (first && tfst_ratelimit_pass(&e->rl_announce_now, g_get_monotonic_time(), NULL))
    announce_flush(e);
  else
    announce_kick(e);
  /* Later TELLs change nothing above us: TELL_OK answers only the first,
   * and the children hear of our upward view when it changes. */
  if (first) {
    tfst_log_limited(e->log, &e->rl_tell_rx, LOG_NOTICE, &f,
                     "routingManager: TELL command received [l=%s]", hop->peer_label);
    router_send_tell_ok(hop);
  }
}

static gboolean
chain_equal(GArray *a, GArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++) {
    const TfstChainEntry *x = &g_array_index(a, TfstChainEntry, i);
    const TfstChainEntry *y = &g_array_index(b, TfstChainEntry, i);
    if (x->depth != y->depth || strcmp(x->label, y->label) != 0)
      return FALSE;
  }
  return TRUE;
}

/* Entries of the same size compared byte by byte (labels are NUL padded:
 * the arrays are zero-filled). */
static gboolean
array_equal(GArray *a, GArray *b)
{
  return a->len == b->len &&
         (a->len == 0 ||
          memcmp(a->data, b->data, (gsize)a->len * g_array_get_element_size(a)) == 0);
}

static gboolean
above_equal(const TfstTellMsg *a, const TfstTellMsg *b)
{
  return a->rooted == b->rooted && chain_equal(a->chain, b->chain) &&
         array_equal(a->links, b->links) && array_equal(a->forwards, b->forwards);
}

/* A parent hop whose chain holds this instance's own label would make it
 * its own ancestor. */
static gboolean
tell_ok_loops(TfstHop *hop, const TfstTellMsg *m)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_PROTOCOL, .peer_label = hop->peer_label};

  if (!chain_has(m->chain, e->config->label))
    return FALSE;
  tfst_log_limited(e->log, &e->rl_protocol, LOG_ERR, &f,
                   "parent %s (%s) announces this instance's own label %s above it: a loop "
                   "(a component cannot be its own ancestor); closing that hop, the other "
                   "parents keep working",
                   hop->peer_label, hop->peer_desc, e->config->label);
  tfst_hop_close(hop, ELOOP, "loop: this instance's label is above this parent");
  return TRUE;
}

/* Accepted parent hops (Listen=): up to MaxParents=.  One that comes back
 * under the label of another replaces it (a parent that restarted); with
 * MaxParents=1 a new parent always replaces the old one. */
static gboolean
parent_admit(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstHop *oldest = NULL, *same = NULL;
  guint count = 0;

  for (guint i = 0; i < e->parent_hops->len; i++) {
    TfstHop *o = g_ptr_array_index(e->parent_hops, i);
    if (o == hop || o->connector != NULL || o->closing)
      continue;
    count++;
    oldest = oldest != NULL ? oldest : o;
    if (strcmp(o->peer_label, hop->peer_label) == 0)
      same = o;
  }
  if (same == NULL && e->config->max_parents == 1)
    same = oldest;
  if (same != NULL) {
    hop->preference = same->preference;
    tfst_hop_close(same, ECONNRESET, "replaced by a new parent hop");
    return TRUE;
  }
  if (count < e->config->max_parents) {
    hop->preference = e->accepted_parents++;
    return TRUE;
  }
  tfst_hop_protocol_error(hop, "parent %s would be parent number %u, more than MaxParents=%u",
                          hop->peer_label, count + 1, e->config->max_parents);
  return FALSE;
}

static void
router_tell_ok_received(TfstHop *hop, const guint8 *p, guint32 len)
{
  TfstEngine *e = hop->engine;
  gboolean first = hop->above.label[0] == '\0';
  TfstTellMsg m;
  gboolean same;
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
  g_array_set_size(m.networks, 0);
  if (tell_ok_loops(hop, &m) || (first && hop->connector == NULL && !parent_admit(hop))) {
    tfst_tell_msg_clear(&m);
    return;
  }
  same = !first && above_equal(&hop->above, &m);
  tfst_tell_msg_clear(&hop->above);
  hop->above = m;
  if (first && hop->connector != NULL)
    hop->preference = hop->connector->index;
  /* An unchanged view is not passed down: no fan-out per TELL_OK.  The
   * first one is handled when the hop is up (tfst_router_hop_up). */
  if (same || first)
    return;
  tell_children(e);
  tfst_notify_changed(e);
  tfst_parents_update(e, "the active parent's chain no longer reaches an endpoint proxy");
  schedule_announce(e, FALSE);
}

/* TELL, TELL_OK and WHO (payload NULL: our TELL is due) from a hop: the
 * routing part of its handshake, and its updates after. */
void
tfst_router_tell_cb(TfstHop *hop, guint8 type, const guint8 *payload, guint32 len)
{
  if (type == TFST_FRAME_WHO)
    tfst_router_send_tell(hop);
  else if (type == TFST_FRAME_TELL)
    router_tell_received(hop, payload, len);
  else
    router_tell_ok_received(hop, payload, len);
}

void
tfst_router_hop_up(TfstHop *hop)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_HANDSHAKE, .peer_label = hop->peer_label};

  tfst_log_full(e->log, LOG_NOTICE, &f, "hop to %s %s (%s) is up",
                hop->direction == TFST_HOP_TO_PARENT ? "parent" : "child", hop->peer_label,
                hop->peer_desc);
  if (hop->direction == TFST_HOP_TO_PARENT) {
    g_ptr_array_add(e->parent_hops, hop);
    /* Children learn of the new path and whether the chain is rooted. */
    tell_children(e);
    tfst_parents_update(e, NULL);
    schedule_announce(e, FALSE);
  }
}

void
tfst_router_hop_down(TfstHop *hop)
{
  TfstEngine *e = hop->engine;

  if (hop->direction == TFST_HOP_TO_PARENT) {
    g_ptr_array_remove(e->parent_hops, hop);
    tfst_parents_update(e, hop->close_why);
    tell_children(e);
    schedule_announce(e, FALSE);
  } else {
    e->recheck_due = TRUE;
    schedule_announce(e, TRUE);
  }
}

/* The child hop a downcall for `label` takes: the nearest path (the label
 * itself before a hop that has it deeper), and among equals the oldest,
 * so a redundant path is standby until the first one goes. */
TfstHop *
tfst_router_child_for(TfstEngine *e, const char *label)
{
  return tfst_router_child_except(e, label, NULL);
}

TfstHop *
tfst_router_child_except(TfstEngine *e, const char *label, const TfstHop *except)
{
  TfstHop *best = NULL;
  guint best_depth = G_MAXUINT;

  if (label == NULL || label[0] == '\0')
    return NULL;
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction != TFST_HOP_TO_CHILD || !hop->up || hop->closing || hop == except)
      continue;
    for (guint i = 0; i < hop->tell.chain->len; i++) {
      const TfstChainEntry *c = &g_array_index(hop->tell.chain, TfstChainEntry, i);
      if (c->depth < best_depth && strcmp(c->label, label) == 0) {
        best = hop;
        best_depth = c->depth;
      }
    }
  }
  return best;
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

static const char *route_by_network(TfstEngine *e, const TfstSockAddr *dest);

/* Why CLIENT of an upcall from ORIGIN through `hop` must not become a
 * learned route: it lies in a network another label announced (the
 * network decides), outside the child's AllowNetworks=, or is already
 * learned behind another label that is still live (first one wins). */
static const char *
client_refusal(TfstHop *hop, const TfstSockAddr *client, const char *origin)
{
  TfstEngine *e = hop->engine;
  g_autofree char *key = ip_key(client);
  const char *owner = route_by_network(e, client);
  const char *known = g_hash_table_lookup(e->learned, key);
  TfstHop *known_hop = tfst_router_child_for(e, known);

  if (owner != NULL && strcmp(owner, origin) != 0)
    return "CLIENT is in a network another label announced";
  if (!allow_address(e->config->trust.networks, hop->peer_label, client))
    return "CLIENT is not in AllowNetworks=";
  if (known_hop != NULL && strcmp(known, origin) != 0)
    return "CLIENT is already learned behind another label";
  return NULL;
}

const char *
tfst_router_origin_refusal(TfstHop *hop, const char *origin)
{
  TfstHop *owner = tfst_router_child_for(hop->engine, origin);

  /* A label below several children (redundant paths) is theirs alike. */
  if (owner != NULL && owner != hop && !in_subtree(hop, origin))
    return "ORIGIN is in the subtree of another child";
  if (label_is_above(hop->engine, origin))
    return "ORIGIN is this instance or one above it";
  if (!allow_glob(hop->engine->config->trust.labels, hop->peer_label, origin))
    return "ORIGIN is not in AllowLabels=";
  return NULL;
}

gboolean
tfst_router_event_origin_known(TfstHop *hop, const char *origin)
{
  return in_subtree(hop, origin);
}

static void
log_open_refused(TfstHop *hop, const char *what, const char *why)
{
  TfstEngine *e = hop->engine;
  TfstLogFields f = {.message_id = TFST_MSGID_PROTOCOL, .peer_label = hop->peer_label};

  tfst_log_limited(e->log, &e->rl_claim, LOG_WARNING, &f,
                   "refused claim in OPEN from child %s (%s): %s: %s", hop->peer_label,
                   hop->peer_desc, what, why);
}

/* An ORIGIN nobody announced (yet: a relay's TELL can trail its first
 * upcalls by an announcement interval) passes, but is never learned from. */
gboolean
tfst_router_check_open(TfstHop *hop, const TfstOpenMsg *m)
{
  TfstEngine *e = hop->engine;
  const char *why = tfst_router_origin_refusal(hop, m->origin);
  char buf[TFST_ADDR_STRLEN];

  if (why != NULL) {
    log_open_refused(hop, m->origin, why);
    return FALSE;
  }
  if (e->config->role != TFST_ROLE_EPPROXY || m->client.sa.sa_family == 0 ||
      !in_subtree(hop, m->origin))
    return TRUE;
  if ((why = client_refusal(hop, &m->client, m->origin)) != NULL)
    log_open_refused(hop, tfst_addr_format_ip(&m->client, buf), why);
  else
    tfst_router_learn(e, &m->client, m->origin);
  return TRUE;
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

/* What a child announced and we accepted, as claims to check again. */
static void
claims_from_tell(TfstHop *hop)
{
  TfstTellMsg *c = &hop->claims;

  tfst_tell_msg_init(c);
  g_strlcpy(c->label, hop->tell.label, sizeof(c->label));
  g_array_append_vals(c->chain, hop->tell.chain->data, hop->tell.chain->len);
  g_array_append_vals(c->links, hop->tell.links->data, hop->tell.links->len);
  g_array_append_vals(c->networks, hop->tell.networks->data, hop->tell.networks->len);
  g_array_append_vals(c->forwards, hop->tell.forwards->data, hop->tell.forwards->len);
}

void
tfst_router_reload_trust(TfstEngine *e, TfstConfig *next)
{
  TfstTrustConf t = e->config->trust;

  e->config->trust = next->trust;
  next->trust = t;
  /* Every child's subtree is checked against the new rules: what is
   * refused now goes, what was refused before may come. */
  for (GList *l = e->hops.head; l != NULL; l = l->next) {
    TfstHop *hop = l->data;
    if (hop->direction == TFST_HOP_TO_CHILD && hop->up && hop->claims.chain == NULL)
      claims_from_tell(hop);
  }
  e->recheck_due = TRUE;
}

void
tfst_router_announce(TfstEngine *e)
{
  schedule_announce(e, TRUE);
}
