/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libnl in the diagnostics layer (host addresses, ports, IPsec): its error
 * codes as GError, and g_autoptr() for its objects.  The structs get a Tfst
 * typedef because G_DEFINE_AUTOPTR_CLEANUP_FUNC needs a plain type name,
 * not "struct x". */
#pragma once

#include <glib.h>
#include <netlink/cache.h>
#include <netlink/idiag/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <netlink/xfrm/sa.h>

/* libnl's error codes (negative as returned, or positive NLE_*): the
 * message is "FORMAT: nl_geterror() text". */
void tfst_nl_error(GError **error, int nlerr, const char *format, ...) G_GNUC_PRINTF(3, 4);

typedef struct nl_sock TfstNlSock;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstNlSock, nl_socket_free)

typedef struct nl_cache TfstNlCache;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstNlCache, nl_cache_free)

typedef struct nl_addr TfstNlAddr;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstNlAddr, nl_addr_put)

typedef struct rtnl_addr TfstRtnlAddr;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstRtnlAddr, rtnl_addr_put)

typedef struct rtnl_link TfstRtnlLink;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstRtnlLink, rtnl_link_put)

typedef struct rtnl_route TfstRtnlRoute;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstRtnlRoute, rtnl_route_put)

typedef struct idiagnl_msg TfstIdiagMsg;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstIdiagMsg, idiagnl_msg_put)

typedef struct xfrmnl_sa TfstXfrmnlSa;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstXfrmnlSa, xfrmnl_sa_put)
