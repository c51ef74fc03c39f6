/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One TCP socket on a port and the process holding it, as
 * tfst-port-owners.h finds them. */
#pragma once

#include "tfst-addr.h"

#include <sys/types.h>

typedef struct {
  guint16 port;     /* local port */
  guint8 tcp_state; /* kernel TCP state: TCP_LISTEN, TCP_ESTABLISHED, ... */
  TfstSockAddr local;
  TfstSockAddr remote; /* unspecified address, port 0 for listeners */
  guint32 uid;         /* socket owner */
  guint32 inode;
  guint8 timer;       /* inet_diag idiag_timer: 0 none, 1 retransmit, 2 keepalive, ... */
  guint32 expires_ms; /* until that timer fires */
  pid_t pid;          /* 0: no process visible to us holds the socket */
  gboolean hidden;    /* pid 0 and some processes' fds were unreadable (not root) */
  char *comm;         /* /proc/PID/comm, made printable; NULL when pid is 0 */
  char *unit; /* systemd unit (sd_pid_get_user_unit, else sd_pid_get_unit), NULL when none */
} TfstPortOwner;

void tfst_port_owner_free(TfstPortOwner *owner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstPortOwner, tfst_port_owner_free)

/* "pid 1234 (haproxy) of unit haproxy.service", or what is known otherwise. */
char *tfst_port_owner_describe(const TfstPortOwner *owner) G_GNUC_WARN_UNUSED_RESULT;
