/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tfst-activation.h"
#include "tfst-error.h"

#include <fcntl.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static void
activated_fd_free(TfstActivatedFd *a)
{
  if (!a->claimed && a->fd >= 0)
    close(a->fd);
  g_free(a->name);
  g_free(a);
}

/* SOCK_STREAM for a listening socket (ListenStream=), SOCK_DGRAM for a
 * datagram socket (ListenDatagram=, [Events] Listen=udp:), else -1. */
static int
socket_type(int fd)
{
  if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0)
    return SOCK_STREAM;
  if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0)
    return SOCK_DGRAM;
  return -1;
}

GPtrArray *
tfst_activation_take(GError **error)
{
  g_autoptr(GPtrArray) fds = NULL;
  char **names = NULL;
  int n = sd_listen_fds_with_names(TRUE, &names);

  if (n < 0) {
    tfst_error_from_errno(error, -n, "socket activation");
    return NULL;
  }
  if (n == 0)
    return NULL;
  fds = g_ptr_array_new_with_free_func((GDestroyNotify)activated_fd_free);
  for (int i = 0; i < n; i++) {
    TfstActivatedFd *a = g_new0(TfstActivatedFd, 1);
    socklen_t len = sizeof(a->addr);

    a->fd = SD_LISTEN_FDS_START + i;
    a->name = g_strdup(names != NULL && names[i] != NULL ? names[i] : "unknown");
    g_ptr_array_add(fds, a);
    a->type = socket_type(a->fd);
    if (a->type < 0 || getsockname(a->fd, &a->addr.sa, &len) < 0 ||
        (a->addr.sa.sa_family != AF_INET && a->addr.sa.sa_family != AF_INET6)) {
      g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
                  "socket-activated fd %d (%s) is neither a listening TCP socket nor a UDP socket",
                  a->fd, a->name);
      g_strfreev(names);
      return NULL;
    }
    (void)fcntl(a->fd, F_SETFD, FD_CLOEXEC);
    (void)fcntl(a->fd, F_SETFL, fcntl(a->fd, F_GETFL) | O_NONBLOCK);
  }
  g_strfreev(names);
  return g_steal_pointer(&fds);
}

int
tfst_activation_claim(GPtrArray *fds, const char *name, const TfstSockAddr *addr)
{
  return tfst_activation_claim_type(fds, name, addr, SOCK_STREAM);
}

int
tfst_activation_claim_type(GPtrArray *fds, const char *name, const TfstSockAddr *addr, int type)
{
  if (fds == NULL)
    return -1;
  for (guint i = 0; i < fds->len; i++) {
    TfstActivatedFd *a = g_ptr_array_index(fds, i);
    if (!a->claimed && a->type == type && g_strcmp0(a->name, name) == 0) {
      a->claimed = TRUE;
      return a->fd;
    }
  }
  for (guint i = 0; i < fds->len; i++) {
    TfstActivatedFd *a = g_ptr_array_index(fds, i);
    if (!a->claimed && a->type == type && tfst_addr_equal(&a->addr, addr, TRUE)) {
      a->claimed = TRUE;
      return a->fd;
    }
  }
  return -1;
}

gboolean
tfst_activation_check_all_claimed(GPtrArray *fds, const char *config_path, GError **error)
{
  g_autoptr(GString) bad = g_string_new(NULL);

  if (fds == NULL)
    return TRUE;
  for (guint i = 0; i < fds->len; i++) {
    TfstActivatedFd *a = g_ptr_array_index(fds, i);
    char buf[TFST_ADDR_STRLEN];
    if (!a->claimed)
      g_string_append_printf(bad, "%s%s%s (fd %d, name %s)", bad->len ? ", " : "",
                             a->type == SOCK_DGRAM ? "udp:" : "", tfst_addr_format(&a->addr, buf),
                             a->fd, a->name);
  }
  if (bad->len == 0)
    return TRUE;
  g_set_error(error, TFST_ERROR, TFST_ERROR_CONFIG,
              "the socket unit passed %s, which no listener in %s uses: the socket unit and the "
              "configuration disagree; run 'systemctl daemon-reload' so the generator rewrites "
              "ListenStream= and ListenDatagram=, then restart the socket unit",
              bad->str, config_path != NULL ? config_path : "the configuration");
  return FALSE;
}
