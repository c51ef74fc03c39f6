/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One range of ports as the kernel writes it in
 * net.ipv4.ip_local_port_range and ip_local_reserved_ports.  The parsers
 * take text so they can be tested without a kernel. */
#pragma once

#include <glib.h>

typedef struct {
  guint16 lo;
  guint16 hi;
} TfstPortRange;

/* "32768\t60999" (ip_local_port_range). */
gboolean tfst_port_range_parse(const char *text, TfstPortRange *out_range, GError **error);
/* "6014-6020" or "1918": one item of ip_local_reserved_ports, blanks
 * around it ignored. */
gboolean tfst_port_range_parse_item(const char *text, TfstPortRange *out_range, GError **error);
