/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Watching the kernel's SA events (see tfst-xfrm-monitor.h). */
#include "tfst-xfrm-monitor.h"
#include "tfst-nl.h"
#include "tfst-xfrm-kernel.h"

#include <glib-unix.h>
#include <linux/xfrm.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/xfrm/sa.h>

/* Room for a burst of SA events (an IKE daemon bringing up many tunnels)
 * before the kernel drops some with ENOBUFS. */
#define TFST_XFRM_MONITOR_RCVBUF (1024 * 1024)

struct TfstXfrmMonitor {
  TfstNlSock *sock;
  guint watch_id;
  TfstXfrmNewSaFunc func;
  gpointer user_data;
};

static int
xfrm_message_cb(struct nl_msg *msg, void *data)
{
  TfstXfrmMonitor *monitor = data;
  struct nlmsghdr *hdr = nlmsg_hdr(msg);
  g_autoptr(TfstXfrmnlSa) nl = NULL;
  TfstXfrmSa sa;

  /* Only the kernel's word counts: a privileged process could multicast
   * a made-up SA to the group. */
  if (nlmsg_get_src(msg)->nl_pid != 0)
    return NL_SKIP;
  if (hdr->nlmsg_type != XFRM_MSG_NEWSA && hdr->nlmsg_type != XFRM_MSG_UPDSA)
    return NL_SKIP;
  if (xfrmnl_sa_parse(hdr, &nl) < 0 || nl == NULL)
    return NL_SKIP;
  tfst_xfrm_kernel_sa_from_nl(nl, &sa);
  monitor->func(&sa, monitor->user_data);
  return NL_OK;
}

static gboolean
xfrm_readable_cb(int fd, GIOCondition cond, gpointer data)
{
  TfstXfrmMonitor *monitor = data;
  int err = nl_recvmsgs_default(monitor->sock);

  /* ENOBUFS (NLE_NOMEM) means events were lost, not that the socket is
   * broken: later events still arrive. */
  if (err < 0 && err != -NLE_AGAIN && err != -NLE_NOMEM)
    g_debug("xfrm monitor: %s", nl_geterror(err));
  if ((cond & (G_IO_ERR | G_IO_HUP | G_IO_NVAL)) != 0) {
    monitor->watch_id = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

TfstXfrmMonitor *
tfst_xfrm_monitor_new(TfstXfrmNewSaFunc func, gpointer user_data, GError **error)
{
  g_autoptr(TfstXfrmMonitor) monitor = g_new0(TfstXfrmMonitor, 1);
  int err;

  monitor->func = func;
  monitor->user_data = user_data;
  monitor->sock = tfst_xfrm_kernel_socket(error);
  if (monitor->sock == NULL)
    return NULL;
  nl_socket_disable_seq_check(monitor->sock);
  nl_socket_modify_cb(monitor->sock, NL_CB_VALID, NL_CB_CUSTOM, xfrm_message_cb, monitor);
  err = nl_socket_add_membership(monitor->sock, XFRMNLGRP_SA);
  if (err < 0) {
    tfst_xfrm_kernel_set_error(error, err, "watching the kernel's IPsec SA events");
    return NULL;
  }
  (void)nl_socket_set_buffer_size(monitor->sock, TFST_XFRM_MONITOR_RCVBUF, 0);
  err = nl_socket_set_nonblocking(monitor->sock);
  if (err < 0) {
    tfst_xfrm_kernel_set_error(error, err, "making the xfrm monitor socket non-blocking");
    return NULL;
  }
  monitor->watch_id = g_unix_fd_add(nl_socket_get_fd(monitor->sock), G_IO_IN | G_IO_ERR | G_IO_HUP,
                                    xfrm_readable_cb, monitor);
  return g_steal_pointer(&monitor);
}

void
tfst_xfrm_monitor_free(TfstXfrmMonitor *monitor)
{
  g_clear_handle_id(&monitor->watch_id, g_source_remove);
  g_clear_pointer(&monitor->sock, nl_socket_free);
  g_free(monitor);
}
