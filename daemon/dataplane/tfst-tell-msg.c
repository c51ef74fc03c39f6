/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TfstTellMsg, the decoded TELL / TELL_OK (declared in tfst-frame.h): its
 * life cycle and what it takes on the wire. */
#include "tfst-frame.h"

#include <string.h>
#include <sys/socket.h>

void
tfst_tell_msg_init(TfstTellMsg *m)
{
  memset(m, 0, sizeof(*m));
  m->chain = g_array_new(FALSE, TRUE, sizeof(TfstChainEntry));
  m->links = g_array_new(FALSE, TRUE, sizeof(TfstLinkEntry));
  m->networks = g_array_new(FALSE, TRUE, sizeof(TfstNetworkEntry));
  m->forwards = g_array_new(FALSE, TRUE, sizeof(TfstForwardEntry));
}

void
tfst_tell_msg_clear(TfstTellMsg *m)
{
  g_clear_pointer(&m->chain, g_array_unref);
  g_clear_pointer(&m->links, g_array_unref);
  g_clear_pointer(&m->networks, g_array_unref);
  g_clear_pointer(&m->forwards, g_array_unref);
}

guint
tfst_tell_msg_entries(const TfstTellMsg *m)
{
  return m->chain->len + m->links->len + m->networks->len + m->forwards->len;
}

/* Each entry is a TLV: 3 bytes of tag and length, then its value. */
gsize
tfst_tell_msg_size(const TfstTellMsg *m)
{
  gsize n = 0;

  for (guint i = 0; i < m->chain->len; i++)
    n += 3 + 1 + strlen(g_array_index(m->chain, TfstChainEntry, i).label);
  for (guint i = 0; i < m->links->len; i++) {
    const TfstLinkEntry *e = &g_array_index(m->links, TfstLinkEntry, i);
    n += 3 + 1 + strlen(e->upper) + strlen(e->lower);
  }
  for (guint i = 0; i < m->networks->len; i++) {
    const TfstNetworkEntry *e = &g_array_index(m->networks, TfstNetworkEntry, i);
    n += 3 + 1 + strlen(e->owner) + 2 + (e->family == AF_INET6 ? 16 : 4);
  }
  for (guint i = 0; i < m->forwards->len; i++) {
    const TfstForwardEntry *e = &g_array_index(m->forwards, TfstForwardEntry, i);
    n += 3 + 1 + strlen(e->owner) + strlen(e->name);
  }
  return n;
}
