/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TCP sockets of the network namespace from inet_diag (see
 * tfst-tcp-sockets.h). */
#include "tfst-tcp-sockets.h"
#include "tfst-nl.h"
#include "tfst-error.h"

#include <linux/inet_diag.h>
#include <netlink/addr.h>
#include <netlink/idiag/idiagnl.h>
#include <netlink/idiag/msg.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <string.h>

typedef struct {
  const guint16 *ports;
  guint n_ports;
  guint8 family;      /* the family being dumped */
  GPtrArray *sockets; /* TfstPortOwner, no process yet */
  int nlerr;          /* first parse error, 0 if none */
} DumpCtx;

static gboolean
port_wanted(const DumpCtx *ctx, guint16 port)
{
  if (ctx->ports == NULL)
    return TRUE;
  for (guint i = 0; i < ctx->n_ports; i++)
    if (ctx->ports[i] == port)
      return TRUE;
  return FALSE;
}

/* inet_diag carries addresses in 16-byte fields whatever the family. */
static void
addr_from_nl(struct nl_addr *a, guint8 family, guint16 port_be, TfstSockAddr *out)
{
  const void *bin = a != NULL ? nl_addr_get_binary_addr(a) : NULL;
  guint len = a != NULL ? nl_addr_get_len(a) : 0;

  memset(out, 0, sizeof(*out));
  if (family == AF_INET && len >= sizeof(struct in_addr)) {
    out->in.sin_family = AF_INET;
    memcpy(&out->in.sin_addr, bin, sizeof(struct in_addr));
    out->in.sin_port = port_be;
  } else if (family == AF_INET6 && len >= sizeof(struct in6_addr)) {
    out->in6.sin6_family = AF_INET6;
    memcpy(&out->in6.sin6_addr, bin, sizeof(struct in6_addr));
    out->in6.sin6_port = port_be;
  }
}

static int
dump_cb(struct nl_msg *msg, void *arg)
{
  DumpCtx *ctx = arg;
  g_autoptr(TfstIdiagMsg) m = NULL;
  TfstPortOwner *o;
  guint16 sport;
  int r;

  r = idiagnl_msg_parse(nlmsg_hdr(msg), &m);
  if (r < 0) {
    ctx->nlerr = r;
    return NL_STOP;
  }
  sport = ntohs(idiagnl_msg_get_sport(m));
  if (idiagnl_msg_get_family(m) != ctx->family || !port_wanted(ctx, sport))
    return NL_OK;
  o = g_new0(TfstPortOwner, 1);
  o->port = sport;
  o->tcp_state = idiagnl_msg_get_state(m);
  o->uid = idiagnl_msg_get_uid(m);
  o->inode = idiagnl_msg_get_inode(m);
  o->timer = idiagnl_msg_get_timer(m);
  o->expires_ms = idiagnl_msg_get_expires(m);
  addr_from_nl(idiagnl_msg_get_src(m), idiagnl_msg_get_family(m), idiagnl_msg_get_sport(m),
               &o->local);
  addr_from_nl(idiagnl_msg_get_dst(m), idiagnl_msg_get_family(m), idiagnl_msg_get_dport(m),
               &o->remote);
  g_ptr_array_add(ctx->sockets, o);
  return NL_OK;
}

/* idiagnl_send_simple() speaks the old TCPDIAG_GETSOCK request, for which
 * the kernel ignores the family and dumps IPv4 and IPv6 alike; filtering on
 * the family per request keeps each socket once whichever way a kernel
 * answers. */
static gboolean
dump_family(struct nl_sock *sk, guint8 family, guint32 states, DumpCtx *ctx, GError **error)
{
  int r;

  ctx->family = family;
  r = idiagnl_send_simple(sk, NLM_F_DUMP, family, (guint16)states, 0);
  if (r < 0) {
    tfst_nl_error(error, r, "inet_diag dump request");
    return FALSE;
  }
  r = nl_recvmsgs_default(sk);
  if (r < 0 || ctx->nlerr < 0) {
    tfst_nl_error(error, r < 0 ? r : ctx->nlerr, "inet_diag dump");
    return FALSE;
  }
  return TRUE;
}

GPtrArray *
tfst_tcp_sockets_dump(const guint16 *ports, guint n_ports, guint32 states, GError **error)
{
  g_autoptr(TfstNlSock) sk = nl_socket_alloc();
  g_autoptr(GPtrArray) sockets =
      g_ptr_array_new_with_free_func((GDestroyNotify)tfst_port_owner_free);
  DumpCtx ctx = {.ports = ports, .n_ports = n_ports, .sockets = sockets};
  const guint8 families[] = {AF_INET, AF_INET6};
  int r;

  if (sk == NULL) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "cannot allocate a netlink socket");
    return NULL;
  }
  r = idiagnl_connect(sk);
  if (r < 0) {
    tfst_nl_error(error, r, "inet_diag netlink socket");
    return NULL;
  }
  nl_socket_enable_msg_peek(sk);
  nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, dump_cb, &ctx);
  for (guint i = 0; i < G_N_ELEMENTS(families); i++)
    if (!dump_family(sk, families[i], states, &ctx, error))
      return NULL;
  return g_steal_pointer(&sockets);
}
