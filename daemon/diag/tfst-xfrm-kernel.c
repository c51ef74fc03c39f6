/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel side of tfst-xfrm: netlink dumps and events through
 * libnl-xfrm, /proc/net/xfrm_stat. */
#include "tfst-xfrm-kernel.h"
#include "tfst-nl.h"
#include "tfst-error.h"

#include <arpa/inet.h>
#include <glib-unix.h>
#include <linux/xfrm.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/xfrm/sa.h>
#include <stdlib.h>
#include <string.h>

#define TFST_XFRM_STAT_PATH "/proc/net/xfrm_stat"
/* Room for a burst of SA events (an IKE daemon bringing up many tunnels)
 * before the kernel drops some with ENOBUFS. */
#define TFST_XFRM_MONITOR_RCVBUF (1024 * 1024)

static void
address_to_string(struct nl_addr *addr, char out[INET6_ADDRSTRLEN])
{
  out[0] = '\0';
  if (addr == NULL || nl_addr_get_binary_addr(addr) == NULL)
    return;
  if (inet_ntop(nl_addr_get_family(addr), nl_addr_get_binary_addr(addr), out, INET6_ADDRSTRLEN) ==
      NULL)
    out[0] = '\0';
}

static void
sa_from_nl(struct xfrmnl_sa *nl, TfstXfrmSa *sa)
{
  unsigned long long bytes = 0, packets = 0, add_time = 0, use_time = 0;
  unsigned long long replay_window = 0, replay = 0, integrity = 0;
  char mode[32];

  memset(sa, 0, sizeof(*sa));
  sa->spi = (guint32)xfrmnl_sa_get_spi(nl);
  sa->proto = (guint8)xfrmnl_sa_get_proto(nl);
  address_to_string(xfrmnl_sa_get_saddr(nl), sa->source);
  address_to_string(xfrmnl_sa_get_daddr(nl), sa->destination);
  xfrmnl_sa_mode2str(xfrmnl_sa_get_mode(nl), mode, sizeof(mode));
  g_strlcpy(sa->mode, mode, sizeof(sa->mode));
  sa->reqid = (guint32)xfrmnl_sa_get_reqid(nl);
  /* Absent attributes leave the counters at 0, as ip xfrm shows them. */
  if (xfrmnl_sa_get_curlifetime(nl, &bytes, &packets, &add_time, &use_time) == 0) {
    sa->bytes = bytes;
    sa->packets = packets;
  }
  if (xfrmnl_sa_get_stats(nl, &replay_window, &replay, &integrity) == 0) {
    sa->replay_window_failures = (guint32)replay_window;
    sa->replay_failures = (guint32)replay;
    sa->integrity_failures = (guint32)integrity;
  }
}

/* NLE_PERM is the kernel's netlink_net_capable() check, which says
 * nothing about the capability it wants. */
static void
set_nl_error(GError **error, int nlerr, const char *what)
{
  if (abs(nlerr) == NLE_PERM) {
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED,
                "%s needs %s, which tfstd does not have in its network namespace "
                "(set [Diagnostics] IPsec=yes, then systemctl daemon-reload and restart the "
                "instance)",
                what, TFST_XFRM_CAPABILITY);
    return;
  }
  tfst_nl_error(error, nlerr, "%s", what);
}

static TfstNlSock *
xfrm_socket(GError **error)
{
  g_autoptr(TfstNlSock) sock = nl_socket_alloc();
  int err;

  if (sock == NULL) {
    tfst_error_from_errno(error, ENOMEM, "cannot allocate a netlink socket");
    return NULL;
  }
  err = nl_connect(sock, NETLINK_XFRM);
  if (err < 0) {
    set_nl_error(error, err, "opening a NETLINK_XFRM socket");
    return NULL;
  }
  return g_steal_pointer(&sock);
}

GArray *
tfst_xfrm_list_sas(GError **error)
{
  g_autoptr(TfstNlSock) sock = xfrm_socket(error);
  g_autoptr(TfstNlCache) cache = NULL;
  g_autoptr(GArray) sas = NULL;
  int err;

  if (sock == NULL)
    return NULL;
  err = xfrmnl_sa_alloc_cache(sock, &cache);
  if (err < 0) {
    set_nl_error(error, err, "reading the kernel's IPsec SAs");
    return NULL;
  }
  sas = g_array_sized_new(FALSE, FALSE, sizeof(TfstXfrmSa), (guint)nl_cache_nitems(cache));
  for (struct nl_object *obj = nl_cache_get_first(cache); obj != NULL;
       obj = nl_cache_get_next(obj)) {
    TfstXfrmSa sa;

    sa_from_nl((struct xfrmnl_sa *)obj, &sa);
    g_array_append_val(sas, sa);
  }
  return g_steal_pointer(&sas);
}

GVariant *
tfst_xfrm_read_stat(GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;

  if (!g_file_get_contents(TFST_XFRM_STAT_PATH, &text, NULL, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_NOT_SUPPORTED,
                  "the kernel has no %s (built without CONFIG_XFRM_STATISTICS)",
                  TFST_XFRM_STAT_PATH);
      return NULL;
    }
    g_set_error(error, TFST_ERROR, TFST_ERROR_FAILED, "%s", local->message);
    return NULL;
  }
  return tfst_xfrm_parse_stat(text, error);
}

/* ---- monitor ---- */

struct TfstXfrmMonitor {
  TfstNlSock *sock;
  guint watch_id;
  TfstXfrmNewSaFunc func;
  gpointer user_data;
};

static int
on_xfrm_message(struct nl_msg *msg, void *data)
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
  sa_from_nl(nl, &sa);
  monitor->func(&sa, monitor->user_data);
  return NL_OK;
}

static gboolean
on_xfrm_readable(int fd, GIOCondition cond, gpointer data)
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
  monitor->sock = xfrm_socket(error);
  if (monitor->sock == NULL)
    return NULL;
  nl_socket_disable_seq_check(monitor->sock);
  nl_socket_modify_cb(monitor->sock, NL_CB_VALID, NL_CB_CUSTOM, on_xfrm_message, monitor);
  err = nl_socket_add_membership(monitor->sock, XFRMNLGRP_SA);
  if (err < 0) {
    set_nl_error(error, err, "watching the kernel's IPsec SA events");
    return NULL;
  }
  (void)nl_socket_set_buffer_size(monitor->sock, TFST_XFRM_MONITOR_RCVBUF, 0);
  err = nl_socket_set_nonblocking(monitor->sock);
  if (err < 0) {
    set_nl_error(error, err, "making the xfrm monitor socket non-blocking");
    return NULL;
  }
  monitor->watch_id = g_unix_fd_add(nl_socket_get_fd(monitor->sock), G_IO_IN | G_IO_ERR | G_IO_HUP,
                                    on_xfrm_readable, monitor);
  return g_steal_pointer(&monitor);
}

void
tfst_xfrm_monitor_free(TfstXfrmMonitor *monitor)
{
  g_clear_handle_id(&monitor->watch_id, g_source_remove);
  g_clear_pointer(&monitor->sock, nl_socket_free);
  g_free(monitor);
}
