/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's own addresses, read from the kernel with libnl-route, and the
 * startup/reload check whether every address tfstd binds to is one of them:
 * [Parent]/[Children] Listen=, LocalAddress= of a Connect= hop and
 * [Forward NAME] Listen=, [Events NAME] Listen=.  A typo or an address that
 * moved to another host then shows in the journal at once, next to the
 * list of what the host has.
 *
 * What counts as "on this host" follows the kernel's bind() rules:
 * - wildcards (0.0.0.0, ::, ::ffff:0.0.0.0) always bind;
 * - IPv4: an address of any interface, up or down, or an address that a
 *   local route covers (127.0.0.0/8 on lo, "ip route add local ..." AnyIP);
 * - IPv6: an address of any interface, up or down, unless duplicate
 *   address detection failed for it;
 * - IPv4-mapped IPv6 (::ffff:a.b.c.d) is checked as the IPv4 address, but
 *   under net.ipv6.ip_nonlocal_bind, as the kernel does for AF_INET6 sockets;
 * - with net.ipv4.ip_nonlocal_bind / net.ipv6.ip_nonlocal_bind = 1 any
 *   address of that family binds, and the check only notes it (debug).
 *
 * An address that is not there is a note in the journal, not an error:
 * it may be assigned later (DHCP, VRRP, a slow interface), and listeners
 * bind it with IP_FREEBIND so that they serve once it is.
 *
 * The netlink requests are synchronous but local and short (a dump of the
 * interfaces and addresses, one route lookup per unmatched IPv4 address):
 * made at startup and on reload, like reading the configuration files. */
#pragma once

#include "tfst-config.h"
#include "tfst-log.h"

typedef enum {
  TFST_HOST_ADDR_DOWN = 1 << 0,      /* its interface is not up (the address still binds) */
  TFST_HOST_ADDR_LOOPBACK = 1 << 1,  /* on a loopback interface: its whole prefix is local */
  TFST_HOST_ADDR_TENTATIVE = 1 << 2, /* IPv6 duplicate address detection still running */
  TFST_HOST_ADDR_DADFAILED = 1 << 3, /* IPv6: another host on the link has it; never binds */
} TfstHostAddrFlags;

typedef enum {
  TFST_BIND_WILDCARD = 0, /* 0.0.0.0, ::, ::ffff:0.0.0.0 */
  TFST_BIND_LOCAL,        /* on this host */
  TFST_BIND_NONLOCAL,     /* not on this host, but ip_nonlocal_bind allows it */
  TFST_BIND_NOT_LOCAL,    /* not on this host: bind() fails with EADDRNOTAVAIL */
  TFST_BIND_DAD_FAILED,   /* IPv6 address whose duplicate address detection failed */
} TfstBindCheck;

typedef struct TfstHostAddrs TfstHostAddrs;

/* An empty set, filled with the functions below (tests build one by hand). */
TfstHostAddrs *tfst_host_addrs_new(void) G_GNUC_WARN_UNUSED_RESULT;
void tfst_host_addrs_free(TfstHostAddrs *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstHostAddrs, tfst_host_addrs_free)
/* addr: AF_INET or AF_INET6 (the port is ignored); ifname: shown in messages. */
void tfst_host_addrs_add(TfstHostAddrs *h, const char *ifname, const TfstSockAddr *addr,
                         guint8 prefix_len, TfstHostAddrFlags flags);
/* An IPv4 network the local routing table makes local (AnyIP). */
void tfst_host_addrs_add_local_route(TfstHostAddrs *h, const TfstSockAddr *net, guint8 prefix_len);
void tfst_host_addrs_set_nonlocal_bind(TfstHostAddrs *h, gboolean ipv4, gboolean ipv6);

/* Reads the interfaces and their addresses over NETLINK_ROUTE, asks the
 * routing table about each IPv4 address of `probe` (TfstSockAddr, may be
 * NULL) that no interface has, and reads ipv4/ip_nonlocal_bind and
 * ipv6/ip_nonlocal_bind below sysctl_dir (NULL: /proc/sys/net; a missing
 * file counts as 0).  NULL and `error` when netlink fails. */
TfstHostAddrs *tfst_host_addrs_load(const GArray *probe, const char *sysctl_dir,
                                    GError **error) G_GNUC_WARN_UNUSED_RESULT;

TfstBindCheck tfst_host_addrs_classify(const TfstHostAddrs *h, const TfstSockAddr *addr);
/* "127.0.0.1 (lo), ::1 (lo), 10.0.0.5 (eth0), 10.1.0.5 (eth1, down)";
 * at most 32 addresses, then "and N more". */
char *tfst_host_addrs_describe(const TfstHostAddrs *h) G_GNUC_WARN_UNUSED_RESULT;

typedef struct {
  int priority; /* LOG_NOTICE: not on this host (yet); LOG_WARNING: IPv6 DAD failed */
  char *text;
} TfstHostAddrsNote;

/* Checks every non-wildcard address `config` binds to against `h`.  An
 * address that is not on this host is not a configuration error (it may
 * arrive later: DHCP, VRRP, a slow interface; listeners bind it with
 * IP_FREEBIND, connectors retry), so the answer is a note per such
 * address (TfstHostAddrsNote, never NULL, empty when all are local),
 * worded like the loader's errors: "FILE:LINE: [Parent] LocalAddress=:
 * 192.0.2.7 is not an address of this host (yet); ...; this host has:
 * ...".  log (may be NULL) gets the debug notes. */
GArray *tfst_host_addrs_check_config(const TfstHostAddrs *h, const TfstConfig *config,
                                     const TfstLog *log) G_GNUC_WARN_UNUSED_RESULT;

/* tfst_host_addrs_load() + tfst_host_addrs_check_config() for tfstd: the
 * notes go to `log`, once per start or reload.  When netlink itself fails
 * the check is skipped with a warning in `log`.  Sockets systemd bound are
 * checked too: the socket unit binds them with FreeBind=yes. */
void tfst_host_addrs_check(const TfstConfig *config, const TfstLog *log);
