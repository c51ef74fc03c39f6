/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading the kernel's xfrm state: the SA database over netlink
 * (libnl-xfrm) and /proc/net/xfrm_stat.  All of it sees the network
 * namespace the daemon runs in; tfst-xfrm-monitor.h watches SA events
 * through the same netlink helpers. */
#pragma once

#include "tfst-xfrm.h"

struct nl_sock;
struct xfrmnl_sa;

/* Everything here needs TFST_XFRM_CAPABILITY except the statistics. */

/* The SA database of the current network namespace; blocks for one
 * netlink dump.  A missing capability is an error that names it. */
GArray *tfst_xfrm_kernel_list_sas(GError **error);
/* /proc/net/xfrm_stat of the current network namespace, as a{st}. */
GVariant *tfst_xfrm_kernel_read_stat(GError **error);

/* ---- shared with the monitor */

/* A connected NETLINK_XFRM socket, or NULL with error. */
struct nl_sock *tfst_xfrm_kernel_socket(GError **error);
/* A libnl error of `what` as a GError; a missing capability is named. */
void tfst_xfrm_kernel_set_error(GError **error, int nlerr, const char *what);
/* The fields tfst reports of a libnl SA. */
void tfst_xfrm_kernel_sa_from_nl(struct xfrmnl_sa *nl, TfstXfrmSa *sa);
