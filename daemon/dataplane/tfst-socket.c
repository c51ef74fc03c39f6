/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Socket setup for hops and sessions.  Returns 0 or -errno (data plane). */
#include "tfst-engine-private.h"

#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

static int
set_int(int fd, int level, int opt, int v)
{
  return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* Keepalive keeps firewall state entries alive and finds dead peers;
 * TCP_USER_TIMEOUT bounds how long unacknowledged data may sit.  Every
 * option is set, also to its off value, so that retuning a live socket
 * (org.tfst.Tfst1.Keepalive, reload) undoes what was set before; a `fresh`
 * socket has the off values already and skips them. */
static int
tune(int fd, const TfstKeepaliveConf *ka, gboolean fresh)
{
  int r = 0;

  r = r ?: set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  if (ka->enabled || !fresh)
    r = r ?: set_int(fd, SOL_SOCKET, SO_KEEPALIVE, ka->enabled);
  if (ka->enabled) {
    r = r ?: set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)MAX(ka->idle_s, 1u));
    r = r ?: set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)MAX(ka->interval_s, 1u));
    r = r ?: set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)MAX(ka->count, 1u));
  }
  if (ka->user_timeout_ms != 0 || !fresh)
    r = r ?: set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ka->user_timeout_ms);
  return r;
}

/* A hop socket: see TFST_HOP_NOTSENT_LOWAT. */
int
tfst_socket_limit_unsent(int fd, guint bytes)
{
  return set_int(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, (int)bytes);
}

int
tfst_socket_tune(int fd, const TfstKeepaliveConf *ka)
{
  return tune(fd, ka, FALSE);
}

int
tfst_socket_tune_new(int fd, const TfstKeepaliveConf *ka)
{
  return tune(fd, ka, TRUE);
}

static gboolean
keepalive_same(const TfstKeepaliveConf *a, const TfstKeepaliveConf *b)
{
  return a->enabled == b->enabled && a->idle_s == b->idle_s && a->interval_s == b->interval_s &&
         a->count == b->count && a->user_timeout_ms == b->user_timeout_ms;
}

/* Linux copies a listening socket's options (TCP_NODELAY, keepalive,
 * TCP_USER_TIMEOUT) to each connection when its handshake completes, so a
 * listener tuned like its sessions saves every session six setsockopt
 * calls.  The settings change by reload or over D-Bus: the first accept
 * after that retunes the listener, and every socket that was queued before
 * is tuned on its own until accept has run dry (see listener_io_cb). */
void
tfst_socket_tune_accepted(TfstListener *l, int fd, const TfstKeepaliveConf *ka)
{
  if (l->tuned && l->stale_drains == 0 && keepalive_same(&l->tuned_ka, ka))
    return;
  (void)tfst_socket_tune(fd, ka);
  if (l->tuned && keepalive_same(&l->tuned_ka, ka))
    return;
  l->tuned = tfst_socket_tune(l->fd, ka) == 0;
  l->tuned_ka = *ka;
  /* Twice: a handshake completing on another CPU right now may still copy
   * the old options and be queued just after this wake-up's last accept. */
  l->stale_drains = 2;
}

/* IP_FREEBIND lets a listener bind an address the host does not have yet
 * (DHCP, VRRP, an interface that comes up late): it accepts connections as
 * soon as the address is assigned, as systemd's FreeBind=yes does for
 * socket-activated listeners.  IPv6 sockets take IPV6_FREEBIND (Linux
 * 4.15), older kernels honour IP_FREEBIND on them too. */
static int
set_freebind(int fd, int family)
{
  if (family == AF_INET6 && set_int(fd, IPPROTO_IPV6, IPV6_FREEBIND, 1) == 0)
    return 0;
  return set_int(fd, IPPROTO_IP, IP_FREEBIND, 1);
}

int
tfst_socket_bind(int fd, const TfstSockAddr *addr)
{
  int r;

  if (bind(fd, &addr->sa, tfst_addr_len(addr)) == 0)
    return 0;
  /* Only an address that is missing gets IP_FREEBIND: every other error
   * (a port in use, a privileged port) stays what it is. */
  if (errno != EADDRNOTAVAIL)
    return -errno;
  r = set_freebind(fd, addr->sa.sa_family);
  if (r < 0)
    return r;
  return bind(fd, &addr->sa, tfst_addr_len(addr)) < 0 ? -errno : 0;
}

int
tfst_socket_listen(const TfstSockAddr *addr)
{
  int fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  int r;

  if (fd < 0)
    return -errno;
  /* IPv6 listeners take IPv6 only, so that [::] and 0.0.0.0 can both be
   * configured; an IPv4-mapped address (::ffff:a.b.c.d) is IPv4 traffic and
   * binding it on a V6ONLY socket fails with EINVAL. */
  r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (r == 0 && addr->sa.sa_family == AF_INET6)
    r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, !IN6_IS_ADDR_V4MAPPED(&addr->in6.sin6_addr));
  r = r ?: tfst_socket_bind(fd, addr);
  if (r == 0 && listen(fd, 4096) < 0)
    r = -errno;
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}

/* Binds the configured local address and, when a source-port range is set,
 * walks it (firewall rules often name one) until a port is free. */
static int
bind_local(int fd, const TfstSockAddr *dst, const TfstHopConf *local, guint16 *next_sport)
{
  TfstSockAddr src = {0};
  guint span;

  if (local == NULL || (!local->have_local && local->sport_lo == 0))
    return 0;
  if (local->have_local)
    src = local->local;
  else
    src.sa.sa_family = dst->sa.sa_family;
  if (local->sport_lo == 0)
    return bind(fd, &src.sa, tfst_addr_len(&src)) < 0 ? -errno : 0;

  if (set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
    return -errno;
  span = (guint)local->sport_hi - local->sport_lo + 1;
  for (guint i = 0; i < span; i++) {
    guint16 port = *next_sport;

    if (port < local->sport_lo || port > local->sport_hi)
      port = local->sport_lo;
    *next_sport = port == local->sport_hi ? local->sport_lo : port + 1;
    tfst_addr_set_port(&src, port);
    if (bind(fd, &src.sa, tfst_addr_len(&src)) == 0)
      return 0;
    if (errno != EADDRINUSE)
      return -errno;
  }
  return -EADDRINUSE;
}

int
tfst_socket_connect(const TfstSockAddr *addr, const TfstHopConf *local, guint16 *next_sport)
{
  int fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  int r;

  if (fd < 0)
    return -errno;
  r = bind_local(fd, addr, local, next_sport);
  if (r == 0 && connect(fd, &addr->sa, tfst_addr_len(addr)) < 0 && errno != EINPROGRESS)
    r = -errno;
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}

int
tfst_socket_error(int fd)
{
  int err = 0;
  socklen_t len = sizeof(err);

  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return errno;
  return err;
}

/* Close so the peer sees a reset, not an orderly FIN: a session that failed
 * must not look like one that ended. */
void
tfst_socket_reset_close(int fd)
{
  struct linger lg = {.l_onoff = 1, .l_linger = 0};

  if (fd < 0)
    return;
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd);
}

/* The address the client really dialled when a firewall REDIRECT/DNAT sent
 * it to our listener; FALSE when the connection was not redirected.
 * `family` is the socket's (the peer address accept() gave).  Asked first,
 * the firewall answers most connections (not redirected) with an error,
 * which spares them the getsockname() the comparison needs. */
gboolean
tfst_socket_original_dst(int fd, int family, TfstSockAddr *out)
{
  TfstSockAddr local = {0}, orig = {0};
  socklen_t len = sizeof(orig);
  int r;

  if (family == AF_INET)
    r = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &orig, &len);
  else
    r = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &orig, &len);
  if (r < 0)
    return FALSE;
  len = sizeof(local);
  if (getsockname(fd, &local.sa, &len) < 0 || tfst_addr_equal(&orig, &local, TRUE))
    return FALSE;
  *out = orig;
  return TRUE;
}
