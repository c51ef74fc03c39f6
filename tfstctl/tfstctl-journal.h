/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The journal of an instance, as `networkctl status` and `systemctl
 * status` show it: its own entries (the unit's, or tfstd's with
 * TFST_ROLE= and TFST_INSTANCE= when it runs outside a unit) and
 * systemd's about its unit. */
#pragma once

#include <glib.h>

/* The last `n` entries of "ROLE@INSTANCE", oldest first, each as one line
 * in journalctl's short format ("Dec 03 08:16:20 host tfstd[42]: ...").
 * None when the journal cannot be read (no permission: not an error, as
 * with networkctl) or n is 0. */
GPtrArray *tfstctl_journal_lines(const char *instance, guint n) G_GNUC_WARN_UNUSED_RESULT;
/* Every entry of the instance since `since_usec` (CLOCK_REALTIME, 0: all
 * the journal keeps), at most `max` of the newest, as journalctl -o
 * short-iso lines, for tfstctl collect. */
GPtrArray *tfstctl_journal_export(const char *instance, guint64 since_usec,
                                  guint max) G_GNUC_WARN_UNUSED_RESULT;
