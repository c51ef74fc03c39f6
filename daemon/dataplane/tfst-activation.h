/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Socket activation: listening sockets handed over by systemd.  They are
 * matched to the configuration's listeners by name (children, parent,
 * forward-NAME) or by local address, so one socket unit with several
 * ListenStream= lines works without per-fd names. */
#pragma once

#include "tfst-addr.h"

typedef struct {
  int fd;
  char *name;
  TfstSockAddr addr;
  gboolean claimed;
} TfstActivatedFd;

/* NULL and no error when not socket-activated. */
GPtrArray *tfst_activation_take(GError **error);
/* The fd for a listener called `name` wanting `addr`, or -1. */
int tfst_activation_claim(GPtrArray *fds, const char *name, const TfstSockAddr *addr);
/* Fails naming every handed-over socket that no listener claimed. */
gboolean tfst_activation_check_all_claimed(GPtrArray *fds, const char *config_path, GError **error);
