/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The syntax of configuration values (and of the same values given to
 * tfstctl): booleans, time spans and sizes as systemd writes them, networks.
 * Pure functions: out parameters are written only on success. */
#pragma once

#include "tfst-addr.h"

#include <glib.h>

/* Parses "30", "30s", "500ms", "5min", "1h" into milliseconds. */
gboolean tfst_parse_timespan_ms(const char *text, guint *out_ms);
/* Parses "yes"/"true"/"on"/"1" and "no"/"false"/"off"/"0". */
gboolean tfst_parse_bool(const char *text, gboolean *out);
/* Parses "65536", "64K", "16M" into bytes. */
gboolean tfst_parse_size(const char *text, guint32 *out);
/* The same for sizes beyond 4G (SpoolSize=). */
gboolean tfst_parse_size64(const char *text, guint64 *out);
/* Parses "10.1.0.0/16", "fd00::/8" or a bare address (one host) into *out
 * (owner empty); on failure *out_reason says why (free it). */
gboolean tfst_parse_network(const char *text, TfstNetworkEntry *out, char **out_reason);
