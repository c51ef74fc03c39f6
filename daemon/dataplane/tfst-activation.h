/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Socket activation: listening sockets handed over by systemd.  They are
 * matched to the configuration's listeners by name (children, parent,
 * forward-NAME, events-NAME) or by local address, and always by socket
 * type (an [Events] Listen=udp: and a tcp: listener may share an address
 * and port), so one socket unit with several ListenStream= and
 * ListenDatagram= lines works without per-fd names. */
#pragma once

#include "tfst-addr.h"

typedef struct {
  int fd;
  int type; /* SOCK_STREAM (listening) or SOCK_DGRAM */
  char *name;
  TfstSockAddr addr;
  gboolean claimed;
} TfstActivatedFd;

/* NULL and no error when not socket-activated. */
GPtrArray *tfst_activation_take(GError **error);
/* The fd for a TCP listener called `name` wanting `addr`, or -1. */
int tfst_activation_claim(GPtrArray *fds, const char *name, const TfstSockAddr *addr);
/* The same for a socket of `type` (SOCK_STREAM or SOCK_DGRAM). */
int tfst_activation_claim_type(GPtrArray *fds, const char *name, const TfstSockAddr *addr,
                               int type);
/* Fails naming every handed-over socket that no listener claimed. */
gboolean tfst_activation_check_all_claimed(GPtrArray *fds, const char *config_path, GError **error);
