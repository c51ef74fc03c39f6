/* SPDX-License-Identifier: GPL-2.0-or-later */
/* g_autoptr() for foreign types, declared once here (STYLE: no private
 * copies in the .c files).  GnuTLS handles are pointer typedefs already,
 * so they take G_DEFINE_AUTO_CLEANUP_FREE_FUNC and g_auto().  libnl structs get a Tfst typedef
 * because G_DEFINE_AUTOPTR_CLEANUP_FUNC needs a plain type name, not "struct x". */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netlink/cache.h>
#include <netlink/idiag/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <netlink/xfrm/sa.h>

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

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_session_t, gnutls_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_certificate_credentials_t,
                                gnutls_certificate_free_credentials, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_priority_t, gnutls_priority_deinit, NULL)
