/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading the kernel's xfrm state: the SA database over netlink
 * (libnl-xfrm), /proc/net/xfrm_stat, and a monitor of SA events.  All of
 * it sees the network namespace the daemon runs in. */
#pragma once

#include "tfst-xfrm.h"

/* Everything here needs TFST_XFRM_CAPABILITY except the statistics. */

/* The SA database of the current network namespace; blocks for one
 * netlink dump.  A missing capability is an error that names it. */
GArray *tfst_xfrm_list_sas(GError **error);
/* /proc/net/xfrm_stat of the current network namespace, as a{st}. */
GVariant *tfst_xfrm_read_stat(GError **error);

/* A netlink socket subscribed to the kernel's SA events. */
typedef struct TfstXfrmMonitor TfstXfrmMonitor;
/* Called for each SA the kernel added or updated. */
typedef void (*TfstXfrmNewSaFunc)(const TfstXfrmSa *sa, gpointer user_data);

/* Watches the socket on the default main context until freed. */
TfstXfrmMonitor *tfst_xfrm_monitor_new(TfstXfrmNewSaFunc func, gpointer user_data, GError **error);
void tfst_xfrm_monitor_free(TfstXfrmMonitor *monitor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstXfrmMonitor, tfst_xfrm_monitor_free)
