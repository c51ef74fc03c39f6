/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The TCP sockets of this network namespace, dumped over
 * NETLINK_INET_DIAG synchronously: call it at startup, from tfstctl or from
 * a GTask thread, never from a main-context callback. */
#pragma once

#include "tfst-port-owner.h"

/* Every TCP socket of this network namespace in a state of `states` (a
 * mask of 1 << TCP_*) from inet_diag, with no process looked up; ports
 * NULL means any local port.  Returns a GPtrArray of TfstPortOwner. */
GPtrArray *tfst_tcp_sockets_dump(const guint16 *ports, guint n_ports, guint32 states,
                                 GError **error);
