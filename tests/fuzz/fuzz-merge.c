/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the router's TELL handling on a relay, for real:
 * children TELL their subtrees (tfst_router_tell_cb), the parent TELL_OKs
 * the chain above (tfst_router_tell_cb), children go away
 * (tfst_hop_close), and after each step the frames the relay queued are
 * decoded and checked against what it was told.
 *
 * The engine holds a loaded relay configuration and the state these paths
 * touch; hops have no socket and no event sources, so frames stay in their
 * output buffers, where this reads them.  Input: byte 0 picks 1-4 children
 * (bits 0-1) and whether the parent is rooted (bit 2); then steps, each a
 * selector byte (child index, or the parent when it equals the number of
 * children; bit 7 on a child: close it) and a big-endian u16-prefixed
 * payload. */
#include "tfst-engine-private.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_CHILDREN 4
#define SELF         "relay1"

typedef struct {
  TfstEngine *e;
  TfstLog log;
  TfstHop parent;
  TfstHop children[MAX_CHILDREN];
  guint n_children;
} Relay;

static TfstConfig *relay_config;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;

  g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_FATAL_MASK);
  relay_config = tfst_config_load_from_data(TFST_ROLE_RELAY, "fuzz",
                                            "[Instance]\nLabel=" SELF "\n"
                                            "[Parent]\nConnect=127.0.0.1:1\n"
                                            "[Children]\nListen=127.0.0.1:2\n",
                                            "fuzz.conf", &error);
  g_assert_no_error(error);
  return 0;
}

/* A hop as tfst-hop.c leaves it once up, minus the socket: its close is
 * finished by us (dispatching), not freed by tfst_hop_close(). */
static void
hop_init(Relay *r, TfstHop *hop, TfstHopDirection dir, const char *label)
{
  hop->engine = r->e;
  hop->direction = dir;
  hop->fd = -1;
  hop->dispatching = TRUE;
  hop->up = dir == TFST_HOP_TO_PARENT;
  hop->told = hop->got_hello = hop->got_iam = TRUE;
  hop->streams = g_hash_table_new(NULL, NULL);
  tfst_tell_msg_init(&hop->tell);
  tfst_tell_msg_init(&hop->above);
  g_strlcpy(hop->peer_label, label, sizeof(hop->peer_label));
  hop->link.data = hop;
  g_queue_push_tail_link(&r->e->hops, &hop->link);
}

static void
relay_init(Relay *r, guint8 mode)
{
  memset(r, 0, sizeof(*r));
  tfst_log_init(&r->log, "relay", "fuzz", SELF, 0);
  r->e = tfst_engine_new_state(relay_config, &r->log);
  hop_init(r, &r->parent, TFST_HOP_TO_PARENT, "ep");
  r->parent.above.rooted = (mode & 4) != 0;
  g_ptr_array_add(r->e->parent_hops, &r->parent);
  r->e->active_parent = r->parent.above.rooted ? &r->parent : NULL;
  r->n_children = 1 + (mode & 3);
  for (guint i = 0; i < r->n_children; i++)
    hop_init(r, &r->children[i], TFST_HOP_TO_CHILD, "");
}

static void
hop_clear(TfstHop *hop)
{
  tfst_tell_msg_clear(&hop->tell);
  tfst_tell_msg_clear(&hop->above);
  g_hash_table_unref(hop->streams);
  tfst_buf_clear(&hop->out);
}

static void
relay_clear(Relay *r)
{
  hop_clear(&r->parent);
  for (guint i = 0; i < r->n_children; i++)
    hop_clear(&r->children[i]);
  tfst_engine_free(r->e);
}

static char *
chain_key(int depth, const char *label)
{
  return g_strdup_printf("%d %s", depth, label);
}

static void
allow_chain(GHashTable *allowed, const GArray *chain)
{
  for (guint i = 0; i < chain->len; i++) {
    const TfstChainEntry *c = &g_array_index(chain, TfstChainEntry, i);
    g_hash_table_add(allowed, chain_key(MIN(c->depth + 1, 255), c->label));
  }
}

static void
check_chain(const GArray *chain, GHashTable *allowed)
{
  gboolean self = FALSE;

  for (guint i = 0; i < chain->len; i++) {
    const TfstChainEntry *c = &g_array_index(chain, TfstChainEntry, i);
    g_autofree char *key = chain_key(c->depth, c->label);
    if (c->depth == 0 && strcmp(c->label, SELF) == 0)
      self = TRUE;
    else if (!g_hash_table_contains(allowed, key))
      abort(); /* announced something nobody told us */
  }
  if (!self)
    abort();
}

static gboolean
array_has(const GArray *a, const void *entry, gsize elt)
{
  for (guint i = 0; i < a->len; i++)
    if (memcmp(a->data + (gsize)i * elt, entry, elt) == 0)
      return TRUE;
  return FALSE;
}

/* Every network and forward sent up came from a child that is up (a relay
 * announces none of its own). */
static void
check_entries_told(Relay *r, const GArray *entries, gsize elt, gsize offset)
{
  for (guint i = 0; i < entries->len; i++) {
    const void *entry = entries->data + (gsize)i * elt;
    gboolean found = FALSE;
    for (guint c = 0; c < r->n_children && !found; c++) {
      const TfstHop *hop = &r->children[c];
      found = hop->up && array_has(G_STRUCT_MEMBER(GArray *, &hop->tell, offset), entry, elt);
    }
    if (!found)
      abort();
  }
}

static void
check_tell_up(Relay *r, const TfstTellMsg *m)
{
  g_autoptr(GHashTable) allowed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  for (guint c = 0; c < r->n_children; c++)
    if (r->children[c].up)
      allow_chain(allowed, r->children[c].tell.chain);
  check_chain(m->chain, allowed);
  check_entries_told(r, m->networks, sizeof(TfstNetworkEntry),
                     G_STRUCT_OFFSET(TfstTellMsg, networks));
  check_entries_told(r, m->forwards, sizeof(TfstForwardEntry),
                     G_STRUCT_OFFSET(TfstTellMsg, forwards));
}

static void
check_tell_down(Relay *r, const TfstTellMsg *m)
{
  g_autoptr(GHashTable) allowed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

  allow_chain(allowed, r->parent.above.chain);
  check_chain(m->chain, allowed);
  if (m->rooted != (r->parent.up && r->parent.above.rooted))
    abort();
}

/* Decodes and checks every frame the relay queued on `hop`, then drops them
 * as if the socket had taken them. */
static void
drain(Relay *r, TfstHop *hop)
{
  guint8 want = hop->direction == TFST_HOP_TO_PARENT ? TFST_FRAME_TELL : TFST_FRAME_TELL_OK;
  gsize left = tfst_buf_len(&hop->out);
  const guint8 *p;
  TfstFrameHeader h;
  TfstTellMsg m;

  /* An empty buffer may have no storage to peek at. */
  if (left == 0)
    return;
  p = tfst_buf_peek(&hop->out);
  tfst_tell_msg_init(&m);
  while (left > 0) {
    if (tfst_frame_header_decode(p, left, &h) != TFST_FRAME_OK || h.type != want ||
        left - TFST_FRAME_HEADER_SIZE < h.length ||
        tfst_frame_decode_tell(p + TFST_FRAME_HEADER_SIZE, h.length, &m) != TFST_FRAME_OK ||
        strcmp(m.label, SELF) != 0)
      abort();
    if (want == TFST_FRAME_TELL)
      check_tell_up(r, &m);
    else
      check_tell_down(r, &m);
    p += TFST_FRAME_HEADER_SIZE + h.length;
    left -= TFST_FRAME_HEADER_SIZE + h.length;
  }
  tfst_tell_msg_clear(&m);
  tfst_buf_consume(&hop->out, tfst_buf_len(&hop->out));
}

static void
drain_all(Relay *r)
{
  drain(r, &r->parent);
  for (guint i = 0; i < r->n_children; i++)
    drain(r, &r->children[i]);
}

/* In the daemon the label comes from the child's IAM; the fuzzer's child
 * claims the one in its first TELL, so that TELLs get past the label check
 * and into the merge. */
static void
child_tell(TfstHop *hop, const guint8 *p, guint32 len)
{
  if (hop->peer_label[0] == '\0') {
    TfstTellMsg m;
    tfst_tell_msg_init(&m);
    if (tfst_frame_decode_tell(p, len, &m) == TFST_FRAME_OK)
      g_strlcpy(hop->peer_label, m.label, sizeof(hop->peer_label));
    else
      g_strlcpy(hop->peer_label, "gw", sizeof(hop->peer_label));
    tfst_tell_msg_clear(&m);
  }
  hop->up = TRUE;
  tfst_router_tell_cb(hop, TFST_FRAME_TELL, p, len);
}

static void
step(Relay *r, guint8 sel, const guint8 *p, guint32 len)
{
  guint target = (sel & 0x7f) % (r->n_children + 1);
  TfstHop *hop = target < r->n_children ? &r->children[target] : &r->parent;

  if (hop->closing)
    return;
  if (hop == &r->parent)
    tfst_router_tell_cb(hop, TFST_FRAME_TELL_OK, p, len);
  else if (sel & 0x80)
    tfst_hop_close(hop, ECONNRESET, "closed by the fuzzer");
  else
    child_tell(hop, p, len);
  drain_all(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  Relay r;
  guint32 len;

  if (size < 1)
    return 0;
  relay_init(&r, data[0]);
  data++, size--;
  while (size >= 3 && (len = (guint32)data[1] << 8 | data[2]) <= size - 3) {
    step(&r, data[0], data + 3, len);
    data += 3 + len;
    size -= 3 + len;
  }
  relay_clear(&r);
  return 0;
}
