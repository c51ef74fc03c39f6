/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel side of tfst-xfrm: netlink dumps through libnl-xfrm,
 * /proc/net/xfrm_stat (see tfst-xfrm-kernel.h). */
#include "tfst-xfrm-kernel.h"
#include "tfst-nl.h"
#include "tfst-error.h"

#include <arpa/inet.h>
#include <linux/xfrm.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/xfrm/sa.h>
#include <stdlib.h>
#include <string.h>

#define TFST_XFRM_STAT_PATH "/proc/net/xfrm_stat"

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

void
tfst_xfrm_kernel_sa_from_nl(struct xfrmnl_sa *nl, TfstXfrmSa *sa)
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
void
tfst_xfrm_kernel_set_error(GError **error, int nlerr, const char *what)
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

struct nl_sock *
tfst_xfrm_kernel_socket(GError **error)
{
  g_autoptr(TfstNlSock) sock = nl_socket_alloc();
  int err;

  if (sock == NULL) {
    tfst_error_from_errno(error, ENOMEM, "cannot allocate a netlink socket");
    return NULL;
  }
  err = nl_connect(sock, NETLINK_XFRM);
  if (err < 0) {
    tfst_xfrm_kernel_set_error(error, err, "opening a NETLINK_XFRM socket");
    return NULL;
  }
  return g_steal_pointer(&sock);
}

GArray *
tfst_xfrm_kernel_list_sas(GError **error)
{
  g_autoptr(TfstNlSock) sock = tfst_xfrm_kernel_socket(error);
  g_autoptr(TfstNlCache) cache = NULL;
  g_autoptr(GArray) sas = NULL;
  int err;

  if (sock == NULL)
    return NULL;
  err = xfrmnl_sa_alloc_cache(sock, &cache);
  if (err < 0) {
    tfst_xfrm_kernel_set_error(error, err, "reading the kernel's IPsec SAs");
    return NULL;
  }
  sas = g_array_sized_new(FALSE, FALSE, sizeof(TfstXfrmSa), (guint)nl_cache_nitems(cache));
  for (struct nl_object *obj = nl_cache_get_first(cache); obj != NULL;
       obj = nl_cache_get_next(obj)) {
    TfstXfrmSa sa;

    tfst_xfrm_kernel_sa_from_nl((struct xfrmnl_sa *)obj, &sa);
    g_array_append_val(sas, sa);
  }
  return g_steal_pointer(&sas);
}

GVariant *
tfst_xfrm_kernel_read_stat(GError **error)
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
