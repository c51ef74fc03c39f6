/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Lists of port ranges, sorted and merged: GArray of TfstPortRange. */
#pragma once

#include "tfst-port-range.h"

/* "1918,6014-6020" (ip_local_reserved_ports; empty text is an empty list).
 * Returns sorted, merged TfstPortRange entries. */
GArray *tfst_port_list_parse(const char *text, GError **error) G_GNUC_WARN_UNUSED_RESULT;
gboolean tfst_port_list_contains(const GArray *list, guint16 port);
/* Adds port, keeping the list sorted and merged. */
void tfst_port_list_add(GArray *list, guint16 port);
/* The kernel's own notation: "1918,6014-6020"; "" for an empty list. */
char *tfst_port_list_format(const GArray *list) G_GNUC_WARN_UNUSED_RESULT;
