/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A monitor of the kernel's SA events: a netlink socket subscribed to the
 * xfrm SA group, watched on the main context.  Needs TFST_XFRM_CAPABILITY. */
#pragma once

#include "tfst-xfrm.h"

typedef struct TfstXfrmMonitor TfstXfrmMonitor;
/* Called for each SA the kernel added or updated. */
typedef void (*TfstXfrmNewSaFunc)(const TfstXfrmSa *sa, gpointer user_data);

/* Watches the socket on the default main context until freed. */
TfstXfrmMonitor *tfst_xfrm_monitor_new(TfstXfrmNewSaFunc func, gpointer user_data, GError **error);
void tfst_xfrm_monitor_free(TfstXfrmMonitor *monitor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TfstXfrmMonitor, tfst_xfrm_monitor_free)
