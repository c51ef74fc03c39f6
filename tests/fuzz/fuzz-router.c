/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the routing table a relay or endpoint proxy builds from
 * what its children TELL and its parent TELL_OKs, and the decisions taken
 * on it (chain order, which child holds a label, where a downcall goes,
 * learned endpoint addresses).
 *
 * The router's message handlers send frames and so need a running engine;
 * this drives its pure parts on an engine that has only the state they
 * read: the configuration's label, the hops, the chain above and the
 * learned table.  Input: byte 0 picks 1-4 children; then one chunk per
 * child (its TELL payload) and one for the parent's TELL_OK, each behind a
 * big-endian u16 length; then 6-byte queries (op, IPv4 address, index). */
#include "tfst-engine-private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CHILDREN 4

typedef struct {
  const guint8 *p;
  size_t left;
} Input;

typedef struct {
  TfstEngine *e;
  TfstConfig config;
  TfstHop hops[MAX_CHILDREN];
  guint n_hops;
  TfstHop parent; /* up when the parent's TELL_OK decoded */
} FakeEngine;

static gboolean
take_chunk(Input *in, const guint8 **out, guint32 *out_len)
{
  guint32 n;

  if (in->left < 2)
    return FALSE;
  n = (guint32)in->p[0] << 8 | in->p[1];
  if (n > in->left - 2)
    return FALSE;
  *out = in->p + 2;
  *out_len = n;
  in->p += 2 + n;
  in->left -= 2 + n;
  return TRUE;
}

static void
fake_init(FakeEngine *f)
{
  memset(f, 0, sizeof(*f));
  f->config.label = (char *)"ep";
  f->e = tfst_engine_new_state(&f->config, NULL);
}

static void
fake_clear(FakeEngine *f)
{
  for (guint i = 0; i < f->n_hops; i++)
    tfst_tell_msg_clear(&f->hops[i].tell);
  tfst_tell_msg_clear(&f->parent.above);
  tfst_engine_free(f->e);
}

/* A child hop as tfst_router_tell_cb() leaves it: up with its TELL stored
 * when the TELL decoded, closed (not up) when it was a protocol error. */
static void
add_child(FakeEngine *f, const guint8 *p, guint32 len)
{
  TfstHop *hop = &f->hops[f->n_hops++];

  hop->engine = f->e;
  hop->direction = TFST_HOP_TO_CHILD;
  tfst_tell_msg_init(&hop->tell);
  hop->up = tfst_frame_decode_tell(p, len, &hop->tell) == TFST_FRAME_OK;
  g_strlcpy(hop->peer_label, hop->tell.label, sizeof(hop->peer_label));
  hop->link.data = hop;
  g_queue_push_tail_link(&f->e->hops, &hop->link);
}

/* The parent hop as the router leaves it after a TELL_OK: up, with what
 * it said of the chain above, in the list of parent hops. */
static void
set_above(FakeEngine *f, const guint8 *p, guint32 len)
{
  TfstHop *hop = &f->parent;

  hop->engine = f->e;
  hop->direction = TFST_HOP_TO_PARENT;
  tfst_tell_msg_init(&hop->above);
  if (tfst_frame_decode_tell(p, len, &hop->above) != TFST_FRAME_OK)
    return;
  hop->up = TRUE;
  g_strlcpy(hop->peer_label, hop->above.label, sizeof(hop->peer_label));
  hop->link.data = hop;
  g_queue_push_tail_link(&f->e->hops, &hop->link);
  g_ptr_array_add(f->e->parent_hops, hop);
}

static void
labels_add(GHashTable *t, const GArray *chain)
{
  for (guint i = 0; i < chain->len; i++)
    g_hash_table_add(t, (gpointer)g_array_index(chain, TfstChainEntry, i).label);
}

/* Sorted by depth then label, and one item per label known (a label
 * reached by several paths once). */
static GArray *
checked_chain(FakeEngine *f)
{
  GArray *items = tfst_router_chain(f->e);
  g_autoptr(GHashTable) labels = g_hash_table_new(g_str_hash, g_str_equal);

  g_hash_table_add(labels, f->config.label);
  if (f->parent.up)
    labels_add(labels, f->parent.above.chain);
  for (guint i = 0; i < f->n_hops; i++)
    if (f->hops[i].up)
      labels_add(labels, f->hops[i].tell.chain);
  if (items->len != g_hash_table_size(labels))
    abort();
  for (guint i = 1; i < items->len; i++) {
    const TfstChainItem *a = &g_array_index(items, TfstChainItem, i - 1);
    const TfstChainItem *b = &g_array_index(items, TfstChainItem, i);
    if (a->depth > b->depth || (a->depth == b->depth && strcmp(a->label, b->label) > 0))
      abort();
  }
  return items;
}

static const char *
pick_label(GArray *items, guint8 index)
{
  return g_array_index(items, TfstChainItem, index % items->len).label;
}

/* A forward name some child announced, or one nobody did. */
static const char *
pick_forward(FakeEngine *f, guint8 index)
{
  for (guint i = 0; i < f->n_hops; i++) {
    GArray *fw = f->hops[i].tell.forwards;
    if (fw->len > 0)
      return g_array_index(fw, TfstForwardEntry, index % fw->len).name;
  }
  return "web";
}

static void
check_child_for(FakeEngine *f, const char *label)
{
  TfstHop *hop = tfst_router_child_for(f->e, label);

  if (hop != NULL && (!hop->up || hop->direction != TFST_HOP_TO_CHILD))
    abort();
}

static void
check_downcall(FakeEngine *f, const char *name, const TfstSockAddr *dest)
{
  TfstForwardConf fc = {.name = (char *)name};
  const char *label = tfst_router_downcall_route(f->e, &fc, dest);

  if (label != NULL && !tfst_label_is_valid(label))
    abort();
}

static void
run_query(FakeEngine *f, GArray *items, const guint8 *q)
{
  TfstSockAddr a = {0};

  a.in.sin_family = AF_INET;
  memcpy(&a.in.sin_addr, q + 1, 4);
  switch (q[0] % 3) {
    case 0:
      tfst_router_learn(f->e, &a, pick_label(items, q[5]));
      break;
    case 1:
      check_downcall(f, pick_forward(f, q[5]), &a);
      break;
    default:
      check_child_for(f, pick_label(items, q[5]));
      break;
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  Input in = {data + 1, size > 0 ? size - 1 : 0};
  g_autoptr(GArray) items = NULL;
  FakeEngine f;
  const guint8 *p;
  guint32 len;

  if (size < 1)
    return 0;
  fake_init(&f);
  for (guint i = 0; i <= (guint)data[0] % MAX_CHILDREN && take_chunk(&in, &p, &len); i++)
    add_child(&f, p, len);
  if (take_chunk(&in, &p, &len))
    set_above(&f, p, len);
  items = checked_chain(&f);
  for (; in.left >= 6; in.p += 6, in.left -= 6)
    run_query(&f, items, in.p);
  fake_clear(&f);
  return 0;
}
