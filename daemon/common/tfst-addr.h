/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Socket address parsing and formatting shared by config, data plane and
 * logs.  Numeric addresses only: a proxy between firewalls must not depend on
 * DNS being reachable from every zone. */
#pragma once

#include "tfst-label.h"

#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef union {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} TfstSockAddr;

/* A network a component serves ([Instance] Networks=, AllowNetworks=, and
 * TELL on the wire); owner is empty in the configuration. */
typedef struct {
  char owner[TFST_LABEL_MAX + 1];
  guint8 family; /* AF_INET or AF_INET6 */
  guint8 prefix;
  guint8 addr[16];
} TfstNetworkEntry;

#define TFST_ADDR_STRLEN (INET6_ADDRSTRLEN + 8)

gboolean tfst_addr_parse(const char *text, gboolean port_required, TfstSockAddr *out,
                         GError **error);
gboolean tfst_addr_parse_ip(const char *text, TfstSockAddr *out);
const char *tfst_addr_format(const TfstSockAddr *a, char buf[TFST_ADDR_STRLEN]);
/* The address alone, no port or brackets; "" for a family other than
 * AF_INET and AF_INET6. */
const char *tfst_addr_format_ip(const TfstSockAddr *a, char buf[INET6_ADDRSTRLEN]);
socklen_t tfst_addr_len(const TfstSockAddr *a);
guint16 tfst_addr_port(const TfstSockAddr *a);
void tfst_addr_set_port(TfstSockAddr *a, guint16 port);
gboolean tfst_addr_equal(const TfstSockAddr *a, const TfstSockAddr *b, gboolean with_port);
gboolean tfst_addr_in_network(const TfstSockAddr *a, guint8 family, const guint8 *net,
                              guint8 prefix);
