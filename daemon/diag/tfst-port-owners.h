/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who holds a TCP port: the sockets from inet_diag, the processes from
 * /proc, their units from sd-login.  Synchronous: call it at startup, from
 * tfstctl or from a GTask thread, never from a main-context callback. */
#pragma once

#include "tfst-port-owner.h"

typedef enum {
  TFST_PORT_OWNERS_LISTENING = 0, /* LISTEN sockets only */
  /* Also connections whose local port it is, for ports nothing listens on:
   * an outgoing connection that took the port blocks a bind just as well,
   * while the accepted connections of a listener would only repeat it. */
  TFST_PORT_OWNERS_CONNECTIONS = 1 << 0,
} TfstPortOwnersFlags;

/* TCP sockets (IPv4 and IPv6) bound to any of ports, with the processes
 * holding them: one entry per (socket, process), one entry with pid 0 for a
 * socket no visible process holds.  Sorted by port, listeners first, then
 * pid.  Unprivileged callers see the processes of their own user; root sees
 * all.  Returns a GPtrArray of TfstPortOwner, or NULL with error set. */
GPtrArray *tfst_port_owners_lookup(const guint16 *ports, guint n_ports, TfstPortOwnersFlags flags,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;
GPtrArray *tfst_port_owners(guint16 port, TfstPortOwnersFlags flags,
                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
